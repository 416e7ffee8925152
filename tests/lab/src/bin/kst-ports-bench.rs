//! `kst-ports-bench`: the services benchmark, `ksocket scan` against nmap in the same
//! throwaway lab and the same run (root only).
//!
//!   kst-ports-bench KSOCKET [RUNS]
//!
//! The lab: [`services_segment`], a /24 (198.18.30.0/24) with 200 live hosts of six
//! kinds, each kind with its own open ports (OpenSSH, http.server, plain listeners;
//! one kind drops TCP 23: filtered). Pairs: `ksocket scan` (default ports) against
//! `nmap -sS -R -p <the same list>`; `ksocket scan --ports top100` against
//! `nmap -sS -R --top-ports 100` (and again with ksocket at `--rate 20000`: the top-100
//! sweep is bound by the rate); `ksocket scan --no-ports` against `nmap -sn -R`.
//! Per tool: min / median / max wall time of RUNS runs (default 5), recall of hosts
//! and of open ports (against the lab's truth, the ports probed), names found, peak
//! RSS (`/usr/bin/time`), and the wall-time ratio to ksocket. The lab has no DNS: the
//! names column counts what each tool reported, not a recall.
//!
//! [`services_segment`]: ksocket_lab::scenario::services_segment
use ksocket_lab::Lab;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const SPEC: &str = "22,23,25,53,80,135,139,443,445,587,5985,5986";

type Ports = BTreeMap<Ipv4Addr, BTreeSet<u16>>;

#[derive(Default)]
struct Found {
    hosts: BTreeSet<Ipv4Addr>,
    ports: Ports,
    names: usize,
}

fn ksocket_found(out: &str) -> Found {
    let mut f = Found::default();
    for r in out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    {
        let Some(ip) = r["ip"].as_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        f.hosts.insert(ip);
        let open: BTreeSet<u16> = r["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["proto"] == "tcp")
            .filter_map(|p| p["port"].as_u64().map(|n| n as u16))
            .collect();
        if !open.is_empty() {
            f.ports.insert(ip, open);
        }
        f.names += usize::from(r["names"].as_array().is_some_and(|n| !n.is_empty()));
    }
    f
}

/// nmap's grepable output (`-oG -`).
fn nmap_found(out: &str) -> Found {
    let mut f = Found::default();
    for l in out.lines() {
        let Some(rest) = l.strip_prefix("Host: ") else {
            continue;
        };
        let mut w = rest.split_whitespace();
        let Some(ip) = w.next().and_then(|s| s.parse().ok()) else {
            continue;
        };
        f.hosts.insert(ip);
        if w.next().is_some_and(|n| n != "()") && l.contains("Status: Up") {
            f.names += 1;
        }
        if let Some((_, ports)) = rest.split_once("Ports: ") {
            let open: BTreeSet<u16> = ports
                .split(", ")
                .filter(|p| p.contains("/open/tcp"))
                .filter_map(|p| p.split('/').next()?.trim().parse().ok())
                .collect();
            if !open.is_empty() {
                f.ports.entry(ip).or_default().extend(open);
            }
        }
    }
    f
}

struct Tool {
    name: String,
    argv: Vec<String>,
    ksocket: bool,
    /// The ports it probes (empty: hosts only).
    ports: Vec<u16>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(ksocket) = args.first() else {
        eprintln!("usage: kst-ports-bench KSOCKET [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(5).max(1);
    if !ksocket_lab::is_root() {
        eprintln!("kst-ports-bench: run as root (network namespaces)");
        std::process::exit(1);
    }
    let mut lab = Lab::new("pbench").expect("lab");
    let svc = ksocket_lab::scenario::services_segment(&mut lab, 200, false).expect("services lab");
    let ns = svc.scenario.scanner.clone();
    // Names: a DNS server in the lab (198.18.30.3, in the scanner's namespace) answering
    // PTR queries for the lab's addresses, and the scanner's resolv.conf pointing at it
    // (`ip netns exec` mounts /etc/netns/NAME/resolv.conf): both tools ask the same.
    lab.add_addr(&ns, "eth0", "198.18.30.3/24")
        .expect("dns address");
    let etc = std::path::PathBuf::from(format!("/etc/netns/{}", ns.name));
    std::fs::create_dir_all(&etc).expect("/etc/netns");
    std::fs::write(
        etc.join("resolv.conf"),
        "nameserver 198.18.30.3\noptions timeout:1 attempts:1\n",
    )
    .expect("resolv.conf");
    let mut dns = lab
        .command(&ns, &["python3", "-c", DNS])
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("dns responder");
    std::thread::sleep(Duration::from_millis(500));
    let target = svc.scenario.target.clone();
    let spec: Vec<u16> = SPEC.split(',').filter_map(|p| p.parse().ok()).collect();
    let top100 = top100();
    let s = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    let k = |extra: &[&str]| {
        let mut v = s(&[ksocket, "scan", "--format", "jsonl"]);
        v.extend(s(extra));
        v.push(target.clone());
        v
    };
    let n = |extra: &[&str]| {
        let mut v = s(&["nmap", "-oG", "-"]);
        v.extend(s(extra));
        v.push(target.clone());
        v
    };
    let pairs = [
        (
            "default ports (the spec's 12)",
            Tool {
                name: "ksocket scan".into(),
                argv: k(&[]),
                ksocket: true,
                ports: spec.clone(),
            },
            Tool {
                name: format!("nmap -sS -R -p {SPEC}"),
                argv: n(&["-sS", "-R", "-p", SPEC]),
                ksocket: false,
                ports: spec.clone(),
            },
        ),
        (
            "top 100 ports",
            Tool {
                name: "ksocket scan --ports top100".into(),
                argv: k(&["--ports", "top100"]),
                ksocket: true,
                ports: top100.clone(),
            },
            Tool {
                name: "nmap -sS -R --top-ports 100".into(),
                argv: n(&["-sS", "-R", "--top-ports", "100"]),
                ksocket: false,
                ports: top100.clone(),
            },
        ),
        (
            "top 100 ports, ksocket at 20000 pps",
            Tool {
                name: "ksocket scan --ports top100 --rate 20000".into(),
                argv: k(&["--ports", "top100", "--rate", "20000"]),
                ksocket: true,
                ports: top100.clone(),
            },
            Tool {
                name: "nmap -sS -R --top-ports 100".into(),
                argv: n(&["-sS", "-R", "--top-ports", "100"]),
                ksocket: false,
                ports: top100.clone(),
            },
        ),
        (
            "hosts only",
            Tool {
                name: "ksocket scan --no-ports".into(),
                argv: k(&["--no-ports"]),
                ksocket: true,
                ports: vec![],
            },
            Tool {
                name: "nmap -sn -R".into(),
                argv: n(&["-sn", "-R"]),
                ksocket: false,
                ports: vec![],
            },
        ),
    ];
    println!(
        "lab: {} live hosts on {target}, {} open TCP ports in all (spec list: {})",
        svc.open.len(),
        svc.open.values().map(BTreeSet::len).sum::<usize>(),
        svc.open
            .values()
            .map(|p| p.iter().filter(|x| spec.contains(x)).count())
            .sum::<usize>()
    );
    println!(
        "\n| scan | tool | wall min / median / max (s) | x ksocket | hosts | open ports | names | peak RSS (KiB) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut ksocket_default_ms = 0.0;
    for (title, a, b) in &pairs {
        let mut base = 0.0;
        for t in [a, b] {
            let (walls, rss, found) = run(&lab, &ns, t, runs);
            let med = walls[walls.len() / 2];
            if t.ksocket {
                base = med;
                if title.starts_with("default") {
                    ksocket_default_ms = med * 1000.0;
                }
            }
            let truth: Ports = svc
                .open
                .iter()
                .map(|(ip, p)| {
                    let p: BTreeSet<u16> =
                        p.iter().filter(|x| t.ports.contains(x)).copied().collect();
                    (*ip, p)
                })
                .filter(|(_, p)| !p.is_empty())
                .collect();
            let want: usize = truth.values().map(BTreeSet::len).sum();
            let hit: usize = truth
                .iter()
                .map(|(ip, p)| found.ports.get(ip).map_or(0, |f| f.intersection(p).count()))
                .sum();
            let extra: usize = found
                .ports
                .iter()
                .map(|(ip, f)| {
                    f.difference(truth.get(ip).unwrap_or(&BTreeSet::new()))
                        .count()
                })
                .sum();
            let hosts = found.hosts.intersection(&svc.scenario.live).count();
            println!(
                "| {title} | {} | {:.2} / {:.2} / {:.2} | {} | {hosts}/{} | {} | {} | {rss} |",
                t.name,
                walls[0],
                med,
                walls[walls.len() - 1],
                if t.ksocket {
                    "1".to_string()
                } else {
                    format!("{:.1}", med / base.max(1e-9))
                },
                svc.scenario.live.len(),
                if t.ports.is_empty() {
                    "-".to_string()
                } else {
                    format!(
                        "{hit}/{want}{}",
                        if extra > 0 {
                            format!(" (+{extra} not in the lab)")
                        } else {
                            String::new()
                        }
                    )
                },
                found.names,
            );
        }
    }
    println!("\nksocket default scan median: {ksocket_default_ms:.0} ms");
    let _ = dns.kill();
    let _ = dns.wait();
    let _ = std::fs::remove_dir_all(&etc);
    drop(svc);
    let _ = lab.teardown();
}

/// A DNS server on 198.18.30.3:53 (UDP) answering PTR queries for 198.18.30.0/24 with
/// `hN.kst.lab.` (N the last octet), NXDOMAIN otherwise.
const DNS: &str = r#"
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.30.3", 53))
while True:
    q, a = s.recvfrom(512)
    try:
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode()); i += 1 + q[i]
        qend = i + 5
        name = ".".join(labels).lower()
        parts = name.split(".")
        ok = len(parts) == 6 and parts[1:] == ["30", "18", "198", "in-addr", "arpa"] and struct.unpack(">H", q[i + 1:i + 3])[0] == 12
        flags = 0x8180 if ok else 0x8183
        head = q[:2] + struct.pack(">HHHHH", flags, 1, 1 if ok else 0, 0, 0)
        ans = b""
        if ok:
            host = b"h" + parts[0].encode()
            rdata = bytes([len(host)]) + host + b"\x03kst\x03lab\x00"
            ans = b"\xc0\x0c" + struct.pack(">HHIH", 12, 1, 60, len(rdata)) + rdata
        s.sendto(head + q[12:qend] + ans, a)
    except Exception:
        pass
"#;

/// nmap's top 100 TCP ports, as nmap itself lists them (`-oX` scaninfo of a scan of
/// 127.0.0.1, loopback only).
fn top100() -> Vec<u16> {
    let o = std::process::Command::new("nmap")
        .args([
            "-sS",
            "-n",
            "-Pn",
            "--top-ports",
            "100",
            "-oX",
            "-",
            "127.0.0.1",
        ])
        .output()
        .expect("nmap");
    let out = String::from_utf8_lossy(&o.stdout);
    let list = out
        .split(" services=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("");
    let mut v = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                    v.extend(a..=b);
                }
            }
            None => v.extend(part.parse::<u16>().ok()),
        }
    }
    v
}

fn run(lab: &Lab, ns: &ksocket_lab::Ns, t: &Tool, runs: usize) -> (Vec<f64>, u64, Found) {
    let mut walls = Vec::new();
    let mut rss = 0u64;
    let mut found = Found::default();
    for _ in 0..runs {
        let _ = lab.exec(ns, &["ip", "neigh", "flush", "all"], Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(200));
        let argv: Vec<&str> = t.argv.iter().map(String::as_str).collect();
        let t0 = Instant::now();
        let (o, kib) = lab
            .exec_timed(ns, &argv, Duration::from_secs(600))
            .expect("tool ran");
        walls.push(t0.elapsed().as_secs_f64());
        rss = rss.max(kib.unwrap_or(0));
        let err = String::from_utf8_lossy(&o.stderr);
        let out = String::from_utf8_lossy(&o.stdout);
        found = if t.ksocket {
            ksocket_found(&out)
        } else {
            nmap_found(&out)
        };
        if found.hosts.is_empty() {
            eprintln!("kst-ports-bench: {} found nothing: {}", t.name, err.trim());
        }
    }
    walls.sort_by(f64::total_cmp);
    (walls, rss, found)
}
