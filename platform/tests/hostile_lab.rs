//! Hostile devices (issue 10): a scripted SNMP agent (tests/data/hostile_agent.py, in a
//! lab namespace) that walks forever, sends huge values, drips one answer a second,
//! repeats OIDs or sends ARP rows with bad index arcs. Each test asserts the limits:
//! time (a bound twice the limit), peak RSS (GNU time), a clear message, and the rest
//! of the scan unharmed. Root only; skipped otherwise.
use ksocket_lab::{HostSpec, Lab, Ns, Role, require_root};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const KSOCKET: &str = env!("CARGO_BIN_EXE_ksocket");
const AGENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hostile_agent.py");
/// A scan's peak RSS, whatever a device sends (issue 10).
const MAX_RSS_KIB: u64 = 64 * 1024;

/// A lab: the scanner at 198.18.70.2 and the agent at 198.18.70.1 (the scanner's
/// default gateway), the agent running in `mode` for at most 120 s.
fn lab(tag: &str, mode: &str) -> (Lab, Ns, std::process::Child) {
    let mut lab = Lab::new(tag).unwrap();
    let sw = lab.switch("sw").unwrap();
    let ns = lab
        .hosts(
            &sw,
            &[
                HostSpec {
                    name: "scanner".into(),
                    cidr: "198.18.70.2/24".into(),
                    gateway: Some("198.18.70.1".into()),
                    role: Role::Full,
                },
                HostSpec {
                    name: "agent".into(),
                    cidr: "198.18.70.1/24".into(),
                    gateway: None,
                    role: Role::Full,
                },
            ],
        )
        .unwrap();
    let agent = start_agent(&lab, &ns[1], "198.18.70.1", mode);
    (lab, ns[0].clone(), agent)
}

fn start_agent(lab: &Lab, ns: &Ns, ip: &str, mode: &str) -> std::process::Child {
    let mut child = lab
        .command(ns, &["python3", AGENT, ip, "161", mode, "120"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Bound it listens: a GET answered.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        let o = lab
            .exec(ns, &["ss", "-Hlun"], Duration::from_secs(5))
            .unwrap();
        if String::from_utf8_lossy(&o.stdout).contains(&format!("{ip}:161")) {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the hostile agent did not start");
}

/// Runs ksocket in `ns` under GNU time: (exit code, stdout, stderr, peak RSS KiB,
/// wall time).
fn run(lab: &Lab, ns: &Ns, args: &[&str], limit: Duration) -> (i32, String, String, u64, Duration) {
    let mut argv = vec!["/usr/bin/time", "-f", "KST-RSS %M", KSOCKET];
    argv.extend_from_slice(args);
    let t0 = Instant::now();
    let o = lab.exec(ns, &argv, limit).expect("ran within its bound");
    let took = t0.elapsed();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let rss = err
        .lines()
        .find_map(|l| l.strip_prefix("KST-RSS "))
        .and_then(|v| v.trim().parse().ok())
        .expect("GNU time's figure");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string(),
        err,
        rss,
        took,
    )
}

fn stop(lab: Lab, mut agent: std::process::Child) {
    let _ = agent.kill();
    let _ = agent.wait();
    lab.teardown().unwrap();
}

/// An agent whose tables never end, with small and with huge values: the record stops
/// at its row and byte limits, says so, and memory stays bounded.
#[test]
fn endless_tables_and_huge_values_end_at_the_limits() {
    require_root!();
    for mode in ["endless", "huge"] {
        let (lab, scanner, agent) = lab(&format!("hostile-{mode}"), mode);
        let (code, out, err, rss, took) = run(
            &lab,
            &scanner,
            &["snmp", "device", "-Cr25", "198.18.70.1"],
            Duration::from_secs(120),
        );
        assert_eq!(code, 0, "{mode}: {err}");
        let d: serde_json::Value = serde_json::from_str(&out).expect("a device record");
        let incomplete = d["incomplete"].to_string();
        assert!(
            incomplete.contains("stopped at the limit of"),
            "{mode}: {incomplete}"
        );
        assert!(rss < MAX_RSS_KIB, "{mode}: peak RSS {rss} KiB");
        assert!(took < Duration::from_secs(60), "{mode}: took {took:?}");
        eprintln!("{mode}: {took:?}, {rss} KiB, incomplete {incomplete}");
        stop(lab, agent);
    }
}

/// An agent that answers every request after 0.9 s: the record ends at the host's
/// time limit (here 4 s) with what was read, and says which tables were not read.
#[test]
fn a_slow_drip_ends_at_the_host_time_limit() {
    require_root!();
    let (lab, scanner, agent) = lab("hostile-drip", "drip");
    let (code, out, err, _, took) = run(
        &lab,
        &scanner,
        &[
            "snmp",
            "device",
            "-t",
            "2",
            "-r",
            "0",
            "--host-timeout",
            "4",
            "198.18.70.1",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{err}");
    let d: serde_json::Value = serde_json::from_str(&out).expect("a device record");
    let incomplete = d["incomplete"].to_string();
    assert!(incomplete.contains("time limit was up"), "{incomplete}");
    // Twice the limit.
    assert!(took < Duration::from_secs(8), "took {took:?}");
    stop(lab, agent);
}

/// Non-increasing OIDs end each walk at once, said as such.
#[test]
fn repeated_oids_end_each_walk() {
    require_root!();
    let (lab, scanner, agent) = lab("hostile-same", "same");
    let (code, out, err, _, took) = run(
        &lab,
        &scanner,
        &["snmp", "device", "198.18.70.1"],
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OID not increasing"), "{out}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    stop(lab, agent);
}

/// The gateway's ARP table with an entry indexed 198.18.70.300: refused and counted,
/// never truncated into 198.18.70.44; the good entry is probed.
#[test]
fn bad_arp_index_arcs_are_refused() {
    require_root!();
    let (lab, scanner, agent) = lab("hostile-arp", "arp");
    let (code, out, err, _, _) = run(
        &lab,
        &scanner,
        &[
            "scan",
            "-v",
            "--community",
            "public",
            "--no-details",
            "--format",
            "jsonl",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("1 ARP entries with a malformed index"),
        "{err}"
    );
    let hosts: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ip = |h: &serde_json::Value| h["ip"].as_str().unwrap_or("").to_string();
    assert!(!hosts.iter().any(|h| ip(h) == "198.18.70.44"), "{out}");
    let good = hosts.iter().find(|h| ip(h) == "198.18.70.45");
    assert!(
        good.is_some_and(|h| h["via"] == serde_json::json!(["snmp-arp"])),
        "{out}"
    );
    stop(lab, agent);
}

/// A /24 scan with one hostile agent among normal ones: every normal host gets its
/// record, the hostile one a partial record that says why, and the scan's memory does
/// not depend on what the hostile one sends.
#[test]
fn one_hostile_agent_does_not_harm_a_scan() {
    require_root!();
    let mut lab = Lab::new("hostile-scan").unwrap();
    let sc = ksocket_lab::scenario::snmp_segment(&mut lab, 10).unwrap();
    let sw = Ns {
        name: format!("{}sw", lab.prefix()),
    };
    let bad = lab.ns("bad").unwrap();
    lab.attach(&sw, "pbad", &bad, "eth0", "198.18.20.100/24")
        .unwrap();
    let agent = start_agent(&lab, &bad, "198.18.20.100", "huge");
    let (code, out, err, rss, took) = run(
        &lab,
        &sc.scanner,
        &[
            "scan",
            "--community",
            "public",
            "--format",
            "jsonl",
            &sc.target,
        ],
        Duration::from_secs(120),
    );
    assert_eq!(code, 0, "{err}");
    let hosts: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for ip in &sc.live {
        let h = hosts
            .iter()
            .find(|h| h["ip"] == ip.to_string())
            .unwrap_or_else(|| panic!("{ip} missing: {err}"));
        assert!(h["snmp"]["sysDescr"].is_string(), "{ip}: {h}");
    }
    let h = hosts
        .iter()
        .find(|h| h["ip"] == Ipv4Addr::new(198, 18, 20, 100).to_string())
        .expect("the hostile host");
    assert!(h["snmp"]["incomplete"].to_string().contains("limit"), "{h}");
    assert!(rss < MAX_RSS_KIB, "peak RSS {rss} KiB");
    assert!(took < Duration::from_secs(90), "took {took:?}");
    eprintln!("scan with a hostile agent: {took:?}, {rss} KiB");
    stop(lab, agent);
}
