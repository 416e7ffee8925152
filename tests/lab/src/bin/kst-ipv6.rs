//! `kst-ipv6 KSOCKET [RUNS]`: IPv6 link discovery benchmark (root only). One link of 50
//! hosts and a router (2001:2::/64; 25 dual-stack hosts, every 4th ignoring ICMPv6
//! echo, and 25 IPv6-only), the scanner without IPv4 so that the scan is IPv6 alone;
//! `KSOCKET scan` (no target: link discovery) run RUNS times (default 5). Prints the
//! median and worst wall time, the nodes found (by MAC: one host per node) and their
//! addresses, next to `ping -6 ff02::1` (1 s deadline) as the reference.
use ksocket_lab::Lab;
use ksocket_lab::v6::ipv6_segment;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(bin) = args.first() else {
        eprintln!("usage: kst-ipv6 KSOCKET [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(5).max(1);
    if let Err(e) = bench(bin, runs) {
        eprintln!("kst-ipv6: {e}");
        std::process::exit(1);
    }
}

fn bench(bin: &str, runs: usize) -> std::io::Result<()> {
    let mut lab = Lab::new("b6")?;
    let sc = ipv6_segment(&mut lab, 25, 25, 0)?;
    let nodes = sc.link_nodes.len();
    lab.ip(
        &sc.scanner,
        &["addr", "del", "198.18.30.2/24", "dev", "eth0"],
    )?;
    let mut walls = Vec::new();
    let mut found = BTreeSet::new();
    let mut hosts = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let o = lab.exec(
            &sc.scanner,
            &[bin, "scan", "--format", "jsonl", "--no-details"],
            Duration::from_secs(60),
        )?;
        walls.push(t.elapsed().as_secs_f64());
        if !o.status.success() {
            return Err(std::io::Error::other(format!(
                "scan failed: {}",
                String::from_utf8_lossy(&o.stderr)
            )));
        }
        let out = String::from_utf8_lossy(&o.stdout);
        hosts = out.lines().count();
        found = out
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .flat_map(|v| {
                v["addresses"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|a| a.as_str().map(str::to_string))
            })
            .collect();
    }
    walls.sort_by(f64::total_cmp);
    let t = Instant::now();
    let o = lab.exec(
        &sc.scanner,
        &["ping", "-6", "-n", "-w", "1", "ff02::1%eth0"],
        Duration::from_secs(10),
    )?;
    let ping_wall = t.elapsed().as_secs_f64();
    // Its own answer (the multicast loops back) left out.
    let own = lab.exec(
        &sc.scanner,
        &["ip", "-6", "-o", "addr", "show", "dev", "eth0"],
        Duration::from_secs(5),
    )?;
    let own = String::from_utf8_lossy(&own.stdout).to_string();
    let ping: BTreeSet<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| Some(l.split(" from ").nth(1)?.split('%').next()?.to_string()))
        .filter(|a| !own.contains(&format!(" {a}/")))
        .collect();
    let missed = ping.iter().filter(|a| !found.contains(*a)).count();
    let globals: BTreeSet<String> = sc
        .link_nodes
        .iter()
        .flat_map(|n| n.1.iter().map(|a| a.to_string()))
        .collect();
    let lost: Vec<&String> = globals.iter().filter(|a| !found.contains(*a)).collect();
    if !lost.is_empty() {
        eprintln!("global addresses not found: {lost:?}");
    }
    println!("| tool | wall (median / worst, s) | nodes found / {nodes} | addresses |");
    println!("|---|---|---|---|");
    println!(
        "| ksocket scan (IPv6 link discovery, {runs} runs) | {:.3} / {:.3} | {hosts} | {} (of ping's {} link-local answers, {missed} missed) |",
        walls[walls.len() / 2],
        walls[walls.len() - 1],
        found.len(),
        ping.len()
    );
    println!(
        "| ping -6 -w 1 ff02::1 | {ping_wall:.3} | {} answers (echo only) | - |",
        ping.len()
    );
    lab.teardown()
}
