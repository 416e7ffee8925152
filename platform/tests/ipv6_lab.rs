//! IPv6 discovery in network-namespace labs (root only; skipped otherwise). Addresses
//! only from 2001:2::/48 and link-local (plus 198.18.0.0/15 for the dual-stack hosts);
//! the scanner always runs inside the lab.
use ksocket_lab::require_root;
use ksocket_lab::v6::ipv6_segment;
use ksocket_lab::{Lab, Ns};
use ksocket_proto::records::Host;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

const KSOCKET: &str = env!("CARGO_BIN_EXE_ksocket");

fn scan(lab: &Lab, ns: &Ns, args: &[&str]) -> (Vec<Host>, String) {
    let mut argv = vec![KSOCKET, "scan", "--format", "jsonl"];
    argv.extend_from_slice(args);
    let o = lab.exec(ns, &argv, Duration::from_secs(60)).unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "ksocket scan failed: {stderr}");
    let hosts = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (hosts, stderr)
}

fn via(h: &Host) -> Vec<String> {
    h.via.iter().map(ToString::to_string).collect()
}

/// The link-local addresses that answer `ping -6 ff02::1%eth0` in `ns` (the reference).
fn ping_all_nodes(lab: &Lab, ns: &Ns) -> BTreeSet<Ipv6Addr> {
    let o = lab
        .exec(
            ns,
            &[
                "ping",
                "-6",
                "-n",
                "-c",
                "2",
                "-i",
                "0.3",
                "-w",
                "2",
                "ff02::1%eth0",
            ],
            Duration::from_secs(10),
        )
        .unwrap();
    // "64 bytes from fe80::...%eth0: icmp_seq=1 ttl=64 time=0.05 ms"; our own answer
    // (the multicast loops back) is left out.
    let own = lab
        .exec(
            ns,
            &["ip", "-6", "-o", "addr", "show", "dev", "eth0"],
            Duration::from_secs(5),
        )
        .unwrap();
    let own = String::from_utf8_lossy(&own.stdout).to_string();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split(" from ").nth(1)?.split('%').next()?.parse().ok())
        .filter(|a: &Ipv6Addr| !own.contains(&format!(" {a}/")))
        .collect()
}

#[test]
fn dual_stack_and_ipv6_only_hosts_of_a_link_are_found_and_merged_per_mac() {
    require_root!();
    let mut lab = Lab::new("v6").unwrap();
    let sc = ipv6_segment(&mut lab, 8, 6, 0).unwrap();
    let (hosts, err) = scan(&lab, &sc.scanner, &[]);
    // One record per node of the link (the router included), no more.
    assert_eq!(hosts.len(), sc.link_nodes.len(), "{err}\n{hosts:#?}");
    for (v4, v6) in &sc.link_nodes {
        let h = match v4 {
            Some(a) => hosts.iter().find(|h| h.ip == IpAddr::V4(*a)),
            None => hosts.iter().find(|h| h.ip == IpAddr::V6(v6[0])),
        }
        .unwrap_or_else(|| panic!("{v4:?} {v6:?} not found: {hosts:#?}"));
        for a in v6 {
            assert!(h.addresses.contains(&IpAddr::V6(*a)), "{a} in {h:?}");
        }
        // Its link-local address joined it (same MAC), with what proved it.
        assert!(
            h.addresses
                .iter()
                .any(|a| matches!(a, IpAddr::V6(x) if x.is_unicast_link_local())),
            "{h:?}"
        );
        assert!(h.mac.is_some(), "{h:?}");
        let v = via(h);
        assert!(
            v.iter().any(|p| p == "icmp6" || p == "mld" || p == "ndp"),
            "{v:?}"
        );
        if v4.is_some() {
            assert!(v.contains(&"arp".to_string()), "{v:?}");
        }
        if v6.is_empty() {
            // Ignores ICMPv6 echo: MLD answered for it.
            assert!(v.contains(&"mld".to_string()), "{v:?}");
        }
    }
    // Every node that answers `ping -6 ff02::1` was found.
    let reference = ping_all_nodes(&lab, &sc.scanner);
    assert!(reference.len() >= 10, "{reference:?}");
    let found: BTreeSet<IpAddr> = hosts.iter().flat_map(|h| h.addresses.clone()).collect();
    for a in &reference {
        assert!(
            found.contains(&IpAddr::V6(*a)),
            "{a} answered ping, not found"
        );
    }
    lab.teardown().unwrap();
}

#[test]
fn routed_ipv6_targets_are_found_through_the_router_and_wide_ranges_refused() {
    require_root!();
    let mut lab = Lab::new("v6r").unwrap();
    let sc = ipv6_segment(&mut lab, 0, 0, 12).unwrap();
    let (hosts, err) = scan(&lab, &sc.scanner, &[&sc.routed_target]);
    let ips: BTreeSet<IpAddr> = hosts.iter().map(|h| h.ip).collect();
    let want: BTreeSet<IpAddr> = sc.routed.iter().map(|a| IpAddr::V6(*a)).collect();
    assert_eq!(ips, want, "{err}");
    for h in &hosts {
        // Seen through the router: no MAC is theirs, no link-layer provenance.
        assert_eq!(h.mac, None, "{h:?}");
        let v = via(h);
        assert!(
            v.iter().all(|p| p == "icmp6" || p.starts_with("tcp/")),
            "{v:?}"
        );
    }
    // Odd hosts ignore echo: TCP found them.
    assert!(hosts.iter().any(|h| !via(h).contains(&"icmp6".to_string())));
    // No IPv4 scan ran: only IPv6 was named.
    assert!(ips.iter().all(IpAddr::is_ipv6));
    // --exclude takes IPv6 addresses and networks: those are not reported.
    let r: Vec<Ipv6Addr> = sc.routed.iter().copied().collect();
    let (gone, kept) = (r[0], r[1]);
    let ex = format!("{gone},{}/128", r[2]);
    let (hosts, err) = scan(&lab, &sc.scanner, &["--exclude", &ex, &sc.routed_target]);
    let ips: BTreeSet<IpAddr> = hosts.iter().map(|h| h.ip).collect();
    assert!(ips.contains(&IpAddr::V6(kept)), "{err}");
    assert!(
        !ips.contains(&IpAddr::V6(gone)),
        "{gone} was excluded: {ips:?}"
    );
    assert!(!ips.contains(&IpAddr::V6(r[2])), "{ips:?}");
    assert_eq!(ips.len(), want.len() - 2, "{err}");
    // Everything excluded: nothing to scan, said so.
    let o = lab
        .exec(
            &sc.scanner,
            &[
                KSOCKET,
                "scan",
                "--exclude",
                "2001:2::/32",
                &sc.routed_target,
            ],
            Duration::from_secs(20),
        )
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("nothing to scan"), "{e}");
    let o = lab
        .exec(
            &sc.scanner,
            &[KSOCKET, "scan", "2001:2::/64"],
            Duration::from_secs(20),
        )
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("/112"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    lab.teardown().unwrap();
}

#[test]
fn the_gateways_ipv6_neighbours_over_snmp_add_hosts_behind_it() {
    require_root!();
    use ksocket_lab::v6::Host6;
    let mut lab = Lab::new("v6nd").unwrap();
    let sw = lab.switch6("sw").unwrap();
    let sw2 = lab.switch6("sw2").unwrap();
    let router = lab.ns("router").unwrap();
    lab.no_dad(&router).unwrap();
    lab.attach(&sw, "r", &router, "eth0", "198.18.31.1/24")
        .unwrap();
    lab.add_addr6(&router, "eth0", "2001:2::1/64").unwrap();
    lab.ip(
        &sw2,
        &[
            "link",
            "add",
            "r",
            "type",
            "veth",
            "peer",
            "name",
            "eth1",
            "netns",
            &router.name,
        ],
    )
    .unwrap();
    lab.ip(&sw2, &["link", "set", "r", "master", "br0", "up"])
        .unwrap();
    lab.ip(&router, &["link", "set", "eth1", "up"]).unwrap();
    lab.add_addr6(&router, "eth1", "2001:2:0:1::1/64").unwrap();
    lab.sysctl(&router, "net.ipv6.conf.all.forwarding", "1")
        .unwrap();
    let scanner = lab
        .hosts6(
            &sw,
            &[Host6 {
                name: "scanner".into(),
                cidr4: Some("198.18.31.2/24".into()),
                cidr6: vec!["2001:2::2/64".into()],
                ..Host6::default()
            }],
        )
        .unwrap()
        .remove(0);
    lab.route(&scanner, "default", "198.18.31.1").unwrap();
    // Behind the router, IPv6 only: only its neighbour cache knows them.
    let far: Vec<Ipv6Addr> = (0..3)
        .map(|i| format!("2001:2:0:1::{:x}", 0x10 + i).parse().unwrap())
        .collect();
    let specs: Vec<Host6> = far
        .iter()
        .enumerate()
        .map(|(i, a)| Host6 {
            name: format!("f{i}"),
            cidr6: vec![format!("{a}/64")],
            gateway6: Some("2001:2:0:1::1".into()),
            ..Host6::default()
        })
        .collect();
    lab.hosts6(&sw2, &specs).unwrap();
    for a in &far {
        let _ = lab.exec(
            &router,
            &["ping", "-6", "-c", "1", "-W", "1", &a.to_string()],
            Duration::from_secs(5),
        );
    }
    lab.snmpd(
        &router,
        "198.18.31.1",
        "rocommunity nd-c0mmunity 198.18.0.0/15",
    )
    .unwrap();
    let (hosts, err) = scan(
        &lab,
        &scanner,
        &["--verbose", "--no-details", "--community", "nd-c0mmunity"],
    );
    assert!(err.contains("IPv6 neighbours"), "{err}");
    for a in &far {
        let h = hosts
            .iter()
            .find(|h| h.addresses.contains(&IpAddr::V6(*a)))
            .unwrap_or_else(|| panic!("{a} not found: {err}\n{hosts:#?}"));
        assert!(via(h).contains(&"snmp-nd".to_string()), "{h:?}");
    }
    // The router: its IPv4 host (ARP) holds its IPv6 addresses too, by MAC.
    let r = hosts
        .iter()
        .find(|h| h.ip == IpAddr::V4("198.18.31.1".parse().unwrap()))
        .unwrap();
    assert!(r.addresses.contains(&"2001:2::1".parse().unwrap()), "{r:?}");
    // Never ourselves.
    assert!(
        !hosts
            .iter()
            .any(|h| h.addresses.contains(&"2001:2::2".parse().unwrap())),
        "{hosts:#?}"
    );
    lab.teardown().unwrap();
}
