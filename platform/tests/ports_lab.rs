//! The port sweep of `ksocket scan` in a lab (root only; skipped otherwise): the open
//! ports it reports are exactly those listening (a filtered one excepted), and exactly
//! what `nmap -sS` finds in the same namespace on the same hosts; SSH banners and HTTP
//! Server headers are read; `--no-ports` reports none; `--ports top100` matches
//! `nmap --top-ports 100`. Every address is in 198.18.0.0/15.
use ksocket_lab::{Lab, require_root};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

const KSOCKET: &str = env!("CARGO_BIN_EXE_ksocket");
const SPEC: &str = "22,23,25,53,80,135,139,443,445,587,5985,5986";

type Ports = BTreeMap<Ipv4Addr, BTreeSet<u16>>;

fn scan(lab: &Lab, ns: &ksocket_lab::Ns, args: &[&str]) -> Vec<ksocket_proto::records::Host> {
    let mut argv = vec![KSOCKET, "scan", "--format", "jsonl", "--no-details"];
    argv.extend_from_slice(args);
    let o = lab.exec(ns, &argv, Duration::from_secs(120)).unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "ksocket scan failed: {err}");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn tcp_ports(hosts: &[ksocket_proto::records::Host]) -> Ports {
    hosts
        .iter()
        .filter_map(|h| {
            let IpAddr::V4(ip) = h.ip else { return None };
            let p: BTreeSet<u16> = h
                .ports
                .iter()
                .filter(|p| p.proto == ksocket_proto::records::PortProto::Tcp)
                .map(|p| p.port)
                .collect();
            (!p.is_empty()).then_some((ip, p))
        })
        .collect()
}

/// `nmap -sS -n -Pn` of `hosts` with `ports` (`-p LIST` or `--top-ports N`): the open
/// ports per host, from its grepable output.
fn nmap(lab: &Lab, ns: &ksocket_lab::Ns, ports: &[&str], hosts: &[Ipv4Addr]) -> Ports {
    let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
    let mut argv = vec!["nmap", "-sS", "-n", "-Pn", "-T4", "-oG", "-"];
    argv.extend_from_slice(ports);
    argv.extend(hosts.iter().map(String::as_str));
    let o = lab.exec(ns, &argv, Duration::from_secs(120)).unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut out = Ports::new();
    for l in String::from_utf8_lossy(&o.stdout).lines() {
        let Some(rest) = l.strip_prefix("Host: ") else {
            continue;
        };
        let Some((ip, ports)) = rest.split_once("Ports: ") else {
            continue;
        };
        let ip: Ipv4Addr = ip.split_whitespace().next().unwrap().parse().unwrap();
        let open: BTreeSet<u16> = ports
            .split(", ")
            .filter(|p| p.contains("/open/tcp"))
            .map(|p| p.split('/').next().unwrap().trim().parse().unwrap())
            .collect();
        if !open.is_empty() {
            out.insert(ip, open);
        }
    }
    out
}

#[test]
fn open_ports_match_the_lab_and_nmap_banners_are_read_and_no_ports_means_none() {
    require_root!();
    if !ksocket_lab::sshd::sshd_available() {
        return;
    }
    let mut lab = Lab::new("ports").unwrap();
    let svc = ksocket_lab::scenario::services_segment(&mut lab, 24, true).unwrap();
    let scanner = &svc.scenario.scanner;
    let far = svc.routed.unwrap();
    let far_s = far.to_string();
    let spec: BTreeSet<u16> = SPEC.split(',').map(|p| p.parse().unwrap()).collect();
    let want: Ports = svc
        .open
        .iter()
        .map(|(ip, p)| (*ip, p.intersection(&spec).copied().collect::<BTreeSet<_>>()))
        .filter(|(_, p)| !p.is_empty())
        .collect();

    // Default ports: exactly what listens, as nmap sees it too.
    let hosts = scan(&lab, scanner, &["198.18.30.0/24", &far_s]);
    let got = tcp_ports(&hosts);
    assert_eq!(got, want, "ksocket vs the lab");
    let ips: Vec<Ipv4Addr> = svc.open.keys().copied().collect();
    let by_nmap = nmap(&lab, scanner, &["-p", SPEC], &ips);
    assert_eq!(got, by_nmap, "ksocket vs nmap -sS -p {SPEC}");
    // Banners: OpenSSH on kind 0 (.10), the fake SSH on kind 5 (.15) and the routed
    // host; http.server's Server header on 80 and 5985.
    let port = |ip: Ipv4Addr, p: u16| {
        hosts
            .iter()
            .find(|h| h.ip == IpAddr::V4(ip))
            .and_then(|h| h.ports.iter().find(|x| x.port == p).cloned())
            .unwrap_or_else(|| panic!("{ip}:{p} not reported"))
    };
    let ssh = port(Ipv4Addr::new(198, 18, 30, 10), 22).banner.unwrap();
    assert!(ssh.starts_with("SSH-2.0-OpenSSH"), "{ssh}");
    assert_eq!(
        port(Ipv4Addr::new(198, 18, 30, 15), 22).banner.as_deref(),
        Some("SSH-2.0-kstlab_1.0")
    );
    assert_eq!(port(far, 22).banner.as_deref(), Some("SSH-2.0-kstlab_1.0"));
    for (ip, p) in [
        (Ipv4Addr::new(198, 18, 30, 10), 80),
        (Ipv4Addr::new(198, 18, 30, 11), 5985),
        (far, 80),
    ] {
        let s = port(ip, p).server.unwrap_or_default();
        assert!(s.starts_with("SimpleHTTP/"), "{ip}:{p}: {s:?}");
    }
    // UDP 161 is closed everywhere: never reported open.
    assert!(hosts.iter().all(|h| h.ports.iter().all(|p| p.port != 161)));

    // --no-ports: the same hosts, no ports.
    let none = scan(&lab, scanner, &["--no-ports", "198.18.30.0/24", &far_s]);
    assert_eq!(none.len(), hosts.len());
    assert!(none.iter().all(|h| h.ports.is_empty()));

    // --ports top100: as nmap --top-ports 100 on the same hosts.
    let top = tcp_ports(&scan(
        &lab,
        scanner,
        &["--ports", "top100", "198.18.30.0/24", &far_s],
    ));
    let by_nmap = nmap(&lab, scanner, &["--top-ports", "100"], &ips);
    assert_eq!(
        top, by_nmap,
        "ksocket --ports top100 vs nmap --top-ports 100"
    );
    assert!(top[&Ipv4Addr::new(198, 18, 30, 14)].contains(&8080));
    drop(svc);
    lab.teardown().unwrap();
}
