//! `kst-bench`: discovery benchmark, ksocket against the peer tools, side by side in
//! the same throwaway lab and the same run (root only).
//!
//!   kst-bench [--ksocket PATH] [--runs N] [--markdown]
//!
//! `--only corpus` runs the SNMP recordings corpus instead (see `fn corpus`).
//!
//! Scenarios: an L2 /24 with 200 live hosts (every 5th answers ARP only, every 7th
//! ignores ICMP), a routed /24 behind a router namespace (20 hosts, odd ones ignore
//! ICMP, one answers nothing), and a /16 that is mostly empty (ksocket only: memory
//! must not grow with the target set). Per tool: median wall time of N runs, recall,
//! false positives, packets sent (the scanner interface's tx counter), peak RSS, and
//! the wall-time ratio to ksocket.
use ksocket_lab::{HostSpec, Lab, Ns, Role};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

struct Tool {
    name: &'static str,
    argv: Vec<String>,
    parse: fn(&str) -> BTreeSet<Ipv4Addr>,
}

struct Row {
    tool: &'static str,
    wall: f64,
    recall: f64,
    fp: usize,
    packets: u64,
    rss_kib: u64,
}

/// The `ip` of every record of `ksocket scan --format jsonl`.
fn ips_json(out: &str) -> BTreeSet<Ipv4Addr> {
    records(out)
        .filter_map(|r| r["ip"].as_str()?.parse().ok())
        .collect()
}

fn records(out: &str) -> impl Iterator<Item = serde_json::Value> + '_ {
    out.lines().filter_map(|l| serde_json::from_str(l).ok())
}

fn ips_first_field(out: &str) -> BTreeSet<Ipv4Addr> {
    out.lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

fn ips_nmap(out: &str) -> BTreeSet<Ipv4Addr> {
    out.lines()
        .filter(|l| l.contains("Status: Up"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

fn ips_masscan(out: &str) -> BTreeSet<Ipv4Addr> {
    out.lines()
        .filter_map(|l| l.split(" on ").nth(1)?.trim().parse().ok())
        .collect()
}

fn tx_packets(lab: &Lab, ns: &Ns, ifname: &str) -> u64 {
    let path = format!("/sys/class/net/{ifname}/statistics/tx_packets");
    let o = lab
        .exec(ns, &["cat", &path], Duration::from_secs(5))
        .expect("read tx counter");
    String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// `me` is the scanner's own address: some tools list it, which is neither a hit nor
/// a false positive.
fn run_tool(
    lab: &Lab,
    ns: &Ns,
    ifname: &str,
    t: &Tool,
    live: &BTreeSet<Ipv4Addr>,
    me: Ipv4Addr,
    runs: usize,
) -> Row {
    let mut walls = Vec::new();
    let mut rss = 0;
    let mut packets = 0;
    let mut found = BTreeSet::new();
    for _ in 0..runs {
        // Settle: no neighbour cache from the previous tool.
        let _ = lab.exec(ns, &["ip", "neigh", "flush", "all"], Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(200));
        let before = tx_packets(lab, ns, ifname);
        let argv: Vec<&str> = t.argv.iter().map(String::as_str).collect();
        let t0 = Instant::now();
        let (o, kib) = lab
            .exec_timed(ns, &argv, Duration::from_secs(300))
            .expect("tool ran");
        walls.push(t0.elapsed().as_secs_f64());
        packets = tx_packets(lab, ns, ifname) - before;
        rss = rss.max(kib.unwrap_or(0));
        let err = String::from_utf8_lossy(&o.stderr);
        found = (t.parse)(&String::from_utf8_lossy(&o.stdout));
        found.remove(&me);
        if found.is_empty() {
            eprintln!(
                "kst-bench: {} found nothing; stderr: {}",
                t.name,
                err.lines().take(3).collect::<Vec<_>>().join(" | ")
            );
        }
    }
    walls.sort_by(f64::total_cmp);
    let hit = found.intersection(live).count();
    Row {
        tool: t.name,
        wall: walls[walls.len() / 2],
        recall: hit as f64 / live.len().max(1) as f64,
        fp: found.difference(live).count(),
        packets,
        rss_kib: rss,
    }
}

fn print(title: &str, cmd_note: &str, rows: &[Row]) {
    // The first row is ksocket's default.
    let base = rows.first().map_or(1.0, |r| r.wall);
    println!("\n### {title}\n\n{cmd_note}\n");
    println!(
        "| tool | median wall (s) | x ksocket | recall | false pos. | packets sent | peak RSS (KiB) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {:.3} | {:.2} | {:.1}% | {} | {} | {} |",
            r.tool,
            r.wall,
            r.wall / base,
            r.recall * 100.0,
            r.fp,
            r.packets,
            if r.rss_kib == 0 {
                "n/a".to_string()
            } else {
                r.rss_kib.to_string()
            }
        );
    }
}

/// The peers that probe over IP, the same in every scenario; `masscan_route` tells
/// masscan where frames go (it does not read the routing table).
fn ip_peers(net: &str, masscan_route: &[&str]) -> Vec<Tool> {
    let mut masscan = vec![
        "masscan", "--ping", "--rate", "10000", "--wait", "1", "-e", "eth0",
    ];
    masscan.extend_from_slice(masscan_route);
    masscan.push(net);
    vec![
        tool(
            "nmap -sn",
            &["nmap", "-n", "-sn", "-oG", "-", net],
            ips_nmap,
        ),
        tool(
            "nmap -sn -T5 --min-rate 5000",
            &[
                "nmap",
                "-n",
                "-sn",
                "-T5",
                "--min-rate",
                "5000",
                "-oG",
                "-",
                net,
            ],
            ips_nmap,
        ),
        tool(
            "fping -a -g",
            &["fping", "-a", "-q", "-g", net],
            ips_first_field,
        ),
        tool("masscan --ping", &masscan, ips_masscan),
    ]
}

fn tool(name: &'static str, argv: &[&str], parse: fn(&str) -> BTreeSet<Ipv4Addr>) -> Tool {
    Tool {
        name,
        argv: argv.iter().map(|s| s.to_string()).collect(),
        parse,
    }
}

fn main() {
    let mut ksocket = String::from("target/release/ksocket");
    let mut runs = 3usize;
    let mut only: Option<String> = None;
    let mut expected: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--ksocket" => ksocket = args.next().expect("--ksocket PATH"),
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).expect("--runs N"),
            "--only" => only = args.next(),
            "--expected" => expected = args.next(),
            _ => {
                eprintln!(
                    "usage: kst-bench [--ksocket PATH] [--runs N] [--only l2|routed|snmp|sweep|corpus] [--expected DIR]"
                );
                std::process::exit(2);
            }
        }
    }
    if !ksocket_lab::is_root() {
        eprintln!("kst-bench: needs root (network namespaces)");
        std::process::exit(2);
    }
    let ksocket = std::fs::canonicalize(&ksocket)
        .expect("ksocket binary")
        .to_string_lossy()
        .to_string();
    println!("kst-bench: ksocket = {ksocket}, {runs} runs per tool, median shown");

    let want = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if want("l2") {
        l2(&ksocket, runs);
    }
    if want("routed") {
        routed(&ksocket, runs);
    }
    if want("snmp") {
        snmp_walk(&ksocket, runs);
    }
    if want("sweep") {
        snmp_sweep(&ksocket, runs);
    }
    // Not in the default run: it needs the recordings corpus and takes minutes.
    if only.as_deref() == Some("corpus") {
        corpus(&ksocket, expected.as_deref());
    }
}

/// The whole recordings corpus (every recording of the expected-values files not
/// excluded), served by snmpsimd in batches: per device the table of the corpus
/// test, then the share right per field, the wrong values and the time per record.
/// Exits 1 when a target is missed (see `ksocket_lab::corpus::failures`). The
/// expected values are platform/tests/data/corpus/expected*.toml, or those of
/// `--expected DIR`.
fn corpus(ksocket: &str, expected_dir: Option<&str>) {
    use ksocket_lab::corpus::{self, SimLab};
    let Some(data) = corpus::data_dir() else {
        eprintln!(
            "kst-bench corpus: no recordings in {} (run scripts/fetch-corpus.sh, or set KSOCKET_CORPUS)",
            corpus::cache_dir().display()
        );
        std::process::exit(2);
    };
    let dir = expected_dir
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../platform/tests/data/corpus")
        });
    let expected = corpus::load_expected(&dir).unwrap_or_else(|e| {
        eprintln!("kst-bench corpus: {e}");
        std::process::exit(2);
    });
    let mut todo: Vec<&corpus::Expected> = expected
        .iter()
        .filter(|e| e.exclude.is_none() && data.join(&e.file).is_file())
        .collect();
    let absent: Vec<&str> = expected
        .iter()
        .filter(|e| e.exclude.is_none() && !data.join(&e.file).is_file())
        .map(|e| e.file.as_str())
        .collect();
    // snmpsimd indexes every recording before it answers: small ones together, each
    // big one (over 2 MB on disk, compressed or not) on its own.
    let size = |e: &corpus::Expected| {
        std::fs::metadata(data.join(&e.file))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    todo.sort_by_key(|e| size(e));
    let mut batches: Vec<Vec<&corpus::Expected>> = Vec::new();
    for e in todo {
        let big = size(e) > 2 << 20;
        match batches.last_mut() {
            Some(b) if !big && b.len() < 40 => b.push(e),
            _ => batches.push(vec![e]),
        }
    }
    println!(
        "\n### The recordings corpus: {} recordings in {} batches ({} excluded, {} not in the corpus)\n",
        batches.iter().map(Vec::len).sum::<usize>(),
        batches.len(),
        expected.iter().filter(|e| e.exclude.is_some()).count(),
        absent.len()
    );
    let t0 = Instant::now();
    let mut sim = SimLab::new("bcorpus").expect("lab");
    let mut outcomes = Vec::new();
    for batch in &batches {
        let tb = Instant::now();
        match sim.serve(&data, batch, Duration::from_secs(900)) {
            Err(err) => {
                for e in batch {
                    outcomes.push(corpus::Outcome {
                        file: e.file.clone(),
                        error: Some(format!("snmpsimd: {err}")),
                        checks: Vec::new(),
                        seconds: 0.0,
                    });
                }
            }
            Ok(mut agent) => {
                let served = tb.elapsed().as_secs_f64();
                for e in batch {
                    outcomes.push(sim.check(ksocket, e, Duration::from_secs(600)));
                }
                let _ = agent.kill();
                let _ = agent.wait();
                eprintln!(
                    "kst-bench corpus: batch of {} served in {served:.1} s, done in {:.1} s",
                    batch.len(),
                    tb.elapsed().as_secs_f64()
                );
            }
        }
    }
    let all: Vec<corpus::Expected> = expected
        .iter()
        .filter(|e| e.exclude.is_none())
        .cloned()
        .collect();
    println!("{}", corpus::report(&outcomes, &all));
    let fails = corpus::failures(&outcomes, &all);
    println!(
        "\nwall time {:.1} s; {} failure(s)",
        t0.elapsed().as_secs_f64(),
        fails.len()
    );
    for f in &fails {
        println!("  {f}");
    }
    sim.lab.teardown().expect("teardown");
    if !fails.is_empty() {
        std::process::exit(1);
    }
}

fn ips_nmap_open(out: &str) -> BTreeSet<Ipv4Addr> {
    out.lines()
        .filter(|l| l.contains("161/open/udp"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

/// SNMP sweep of a /24: 120 agents (one snmpd on 120 addresses), 20 live addresses
/// without SNMP, the rest empty; community `public`.
fn snmp_sweep(ksocket: &str, runs: usize) {
    let mut lab = Lab::new("bsweep").expect("lab");
    let sc = ksocket_lab::scenario::snmp_segment(&mut lab, 120).expect("lab");
    let net = sc.target.as_str();
    let tools = [
        tool(
            "ksocket snmp sweep",
            &[ksocket, "snmp", "sweep", net, "-c", "public"],
            ips_first_field,
        ),
        tool(
            "ksocket snmp sweep -r 0",
            &[ksocket, "snmp", "sweep", "-r", "0", net, "-c", "public"],
            ips_first_field,
        ),
        tool(
            "onesixtyone",
            &["onesixtyone", net, "public"],
            ips_first_field,
        ),
        tool(
            "onesixtyone -w 0",
            &["onesixtyone", "-w", "0", net, "public"],
            ips_first_field,
        ),
        tool(
            "nmap -sU -p161",
            &["nmap", "-n", "-sU", "-p161", "--open", "-oG", "-", net],
            ips_nmap_open,
        ),
        tool(
            "nmap -sU -p161 -T5",
            &[
                "nmap", "-n", "-sU", "-p161", "-T5", "--open", "-oG", "-", net,
            ],
            ips_nmap_open,
        ),
    ];
    let rows: Vec<Row> = tools
        .iter()
        .map(|t| run_tool(&lab, &sc.scanner, "eth0", t, &sc.live, sc.scanner_ip, runs))
        .collect();
    print(
        "SNMP sweep of a /24: 120 agents, 20 live addresses without SNMP, 115 empty",
        "Scanner on the same bridge; community public; neighbour cache flushed before each run.",
        &rows,
    );
    // The whole job on the same segment: discovery, then the device record of every
    // agent (no peer tool does both; the figure is ours alone).
    let mut walls = Vec::new();
    let mut records = 0;
    let mut rss = 0u64;
    for _ in 0..runs {
        let _ = lab.exec(
            &sc.scanner,
            &["ip", "neigh", "flush", "all"],
            Duration::from_secs(5),
        );
        let t0 = Instant::now();
        let (o, kib) = lab
            .exec_timed(
                &sc.scanner,
                &[
                    ksocket,
                    "scan",
                    "--format",
                    "jsonl",
                    "--community",
                    "public",
                    net,
                ],
                Duration::from_secs(300),
            )
            .expect("scan ran");
        walls.push(t0.elapsed().as_secs_f64());
        let out = String::from_utf8_lossy(&o.stdout);
        records = self::records(&out)
            .filter(|r| r["snmp"].is_object())
            .count();
        rss = rss.max(kib.unwrap_or(0));
    }
    walls.sort_by(f64::total_cmp);
    println!(
        "\n`ksocket scan --community public {net}` on the same segment (discovery, then the \
         device record of every agent): median {:.3} s, {records} device records of {} agents, \
         peak RSS {rss} KiB.",
        walls[walls.len() / 2],
        sc.live.len()
    );
    lab.teardown().expect("teardown");
}

fn l2(ksocket: &str, runs: usize) {
    // --- L2 /24 ------------------------------------------------------------------
    let mut lab = Lab::new("bench").expect("lab");
    let sc = ksocket_lab::scenario::l2_segment(&mut lab, 200).expect("lab");
    let (scanner, live) = (sc.scanner.clone(), sc.live.clone());
    let net = "198.18.0.0/24";
    let mut tools = vec![
        tool(
            "ksocket scan",
            &[ksocket, "scan", "--format", "jsonl", net],
            ips_json,
        ),
        tool(
            "arp-scan",
            &["arp-scan", "-q", "-x", "-I", "eth0", net],
            ips_first_field,
        ),
        tool(
            "arp-scan -r 1 -t 100",
            &[
                "arp-scan", "-q", "-x", "-r", "1", "-t", "100", "-I", "eth0", net,
            ],
            ips_first_field,
        ),
    ];
    // On a segment without a router, masscan must be told to send to every MAC.
    tools.extend(ip_peers(net, &["--router-mac", "ff-ff-ff-ff-ff-ff"]));
    let rows: Vec<Row> = tools
        .iter()
        .map(|t| {
            run_tool(
                &lab,
                &scanner,
                "eth0",
                t,
                &live,
                Ipv4Addr::new(198, 18, 0, 2),
                runs,
            )
        })
        .collect();
    print(
        "L2 /24, 200 live hosts (40 answer ARP only, 23 more ignore ICMP)",
        "Scanner on the same bridge; 255 addresses to probe.",
        &rows,
    );
    // --- /16, mostly empty (ksocket's memory must not grow) -----------------------------
    let r16 = {
        let mut lab16 = Lab::new("bench16").expect("lab");
        let sc = ksocket_lab::scenario::sparse_slash16(&mut lab16).expect("lab");
        let live = sc.live.clone();
        let t = tool(
            "ksocket scan",
            &[ksocket, "scan", "--format", "jsonl", "198.18.0.0/16"],
            ips_json,
        );
        let r = run_tool(&lab16, &sc.scanner, "eth0", &t, &live, sc.scanner_ip, 1);
        lab16.teardown().unwrap();
        r
    };
    println!(
        "\nksocket on a /16 with 4 live hosts (65535 addresses): {:.2} s, recall {:.0}%, {} false positives, {} packets, peak RSS {} KiB (the /24 above: {} KiB)",
        r16.wall,
        r16.recall * 100.0,
        r16.fp,
        r16.packets,
        r16.rss_kib,
        rows[0].rss_kib
    );
    lab.teardown().unwrap();
}

fn routed(ksocket: &str, runs: usize) {
    // --- routed /24 ------------------------------------------------------------------
    let mut lab = Lab::new("benchr").expect("lab");
    let sc = ksocket_lab::scenario::routed_segment(&mut lab).expect("lab");
    let (scanner, live) = (sc.scanner.clone(), sc.live.clone());
    let net = "198.19.2.0/24";
    let mut tools = vec![tool(
        "ksocket scan",
        &[ksocket, "scan", "--format", "jsonl", net],
        ips_json,
    )];
    tools.extend(ip_peers(net, &["--router-ip", "198.18.1.1"]));
    let rows: Vec<Row> = tools
        .iter()
        .map(|t| {
            run_tool(
                &lab,
                &scanner,
                "eth0",
                t,
                &live,
                Ipv4Addr::new(198, 18, 1, 2),
                runs,
            )
        })
        .collect();
    print(
        "Routed /24 behind a router namespace, 21 live (the router's address and 20 hosts; 10 ignore ICMP, one more answers nothing)",
        "Scanner one hop away; 256 addresses to probe.",
        &rows,
    );
    lab.teardown().unwrap();
}

fn snmp_walk(ksocket: &str, runs: usize) {
    // --- SNMP: walking snmpd's whole tree -------------------------------------------------
    let mut lab = Lab::new("benchs").expect("lab");
    let sw = lab.switch("sw").unwrap();
    let specs = [
        HostSpec {
            name: "client".into(),
            cidr: "198.18.7.2/24".into(),
            gateway: None,
            role: Role::Full,
        },
        HostSpec {
            name: "agent".into(),
            cidr: "198.18.7.3/24".into(),
            gateway: None,
            role: Role::Full,
        },
    ];
    let ns = lab.hosts(&sw, &specs).unwrap();
    lab.snmpd(&ns[1], "198.18.7.3", "rocommunity public 198.18.0.0/15")
        .unwrap();
    println!("\n### SNMP v2c walk of snmpd's whole tree (.1.3.6.1), max-repetitions 25 for both\n");
    println!("| tool | median wall (s) | x ksocket | rows | peak RSS (KiB) |");
    println!("|---|---|---|---|---|");
    let tools = [
        (
            "ksocket snmp walk",
            vec![ksocket, "snmp", "walk", "-Cr25", "198.18.7.3", ".1.3.6.1"],
        ),
        (
            "snmpbulkwalk -On",
            vec![
                "snmpbulkwalk",
                "-v2c",
                "-c",
                "public",
                "-Cr25",
                "-On",
                "198.18.7.3",
                ".1.3.6.1",
            ],
        ),
    ];
    // One unmeasured walk each (the agent's caches), then the tools alternate run by
    // run, so neither gets the agent's warm-up or a quieter minute.
    let mut walls = vec![Vec::new(); tools.len()];
    let mut rows = vec![0usize; tools.len()];
    let mut rss = vec![0u64; tools.len()];
    for round in 0..=runs.max(5) {
        for (k, (_, argv)) in tools.iter().enumerate() {
            let t0 = Instant::now();
            let (o, kib) = lab
                .exec_timed(&ns[0], argv, Duration::from_secs(120))
                .expect("walk ran");
            if round == 0 {
                continue;
            }
            walls[k].push(t0.elapsed().as_secs_f64());
            rows[k] = String::from_utf8_lossy(&o.stdout).lines().count();
            rss[k] = rss[k].max(kib.unwrap_or(0));
        }
    }
    let mut base = 0.0;
    for (k, (name, _)) in tools.iter().enumerate() {
        walls[k].sort_by(f64::total_cmp);
        let med = walls[k][walls[k].len() / 2];
        if base == 0.0 {
            base = med;
        }
        println!(
            "| {name} | {med:.3} | {:.2} | {} | {} |",
            med / base,
            rows[k],
            rss[k]
        );
    }
    lab.teardown().unwrap();
}
