//! `ksocket scan` in real network-namespace labs (root only; skipped otherwise).
//! Every address is in 198.18.0.0/15 and the scanner always runs inside the lab.
use ksocket_lab::{HostSpec, Lab, Ns, Role, require_root};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::Duration;

const KSOCKET: &str = env!("CARGO_BIN_EXE_ksocket");

struct Rec {
    ip: Ipv4Addr,
    via: Vec<String>,
    mac: Option<String>,
    mac_vendor: Option<String>,
}

/// The host records of `--format jsonl` output (read with serde: the record type is
/// ksocket_proto's, and any valid JSON spelling must do).
fn parse(out: &str) -> Vec<Rec> {
    out.lines()
        .map(|l| {
            let h: ksocket_proto::records::Host =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            Rec {
                ip: match h.ip {
                    std::net::IpAddr::V4(v) => v,
                    std::net::IpAddr::V6(v) => panic!("an IPv6 host in an IPv4 lab: {v}"),
                },
                via: h.via.iter().map(ToString::to_string).collect(),
                mac: h.mac.map(|m| m.to_string()),
                mac_vendor: h.mac_vendor,
            }
        })
        .collect()
}

fn scan(lab: &Lab, ns: &Ns, args: &[&str]) -> (Vec<Rec>, String) {
    let mut argv = vec![KSOCKET, "scan", "--format", "jsonl"];
    argv.extend_from_slice(args);
    let o = lab.exec(ns, &argv, Duration::from_secs(120)).unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "ksocket scan failed: {stderr}");
    (parse(&String::from_utf8_lossy(&o.stdout)), stderr)
}

fn ips(r: &[Rec]) -> BTreeSet<Ipv4Addr> {
    r.iter().map(|r| r.ip).collect()
}

#[test]
fn l2_segment_of_200_hosts_all_found_by_arp() {
    require_root!();
    let mut lab = Lab::new("l2").unwrap();
    let sc = ksocket_lab::scenario::l2_segment(&mut lab, 200).unwrap();
    let (scanner, want) = (&sc.scanner, sc.live.clone());
    let (recs, err) = scan(&lab, scanner, &["198.18.0.0/24"]);
    assert_eq!(ips(&recs), want, "{err}");
    assert!(
        recs.iter()
            .all(|r| r.via.contains(&"arp".to_string()) && r.mac.is_some())
    );
    assert!(err.contains("200 hosts up, 255 addresses probed"), "{err}");
    // No target: the attached /24 is scanned by default.
    let (recs, err) = scan(&lab, scanner, &[]);
    assert_eq!(ips(&recs), want, "{err}");
    // A reader that went away (`| head`): a normal end, exit 0, never a panic (issue
    // 10, class 5), in every output format.
    for format in ["jsonl", "json", "table", "csv"] {
        let (r, w) = std::io::pipe().unwrap();
        drop(r);
        let o = lab
            .command(
                scanner,
                &[KSOCKET, "scan", "--format", format, "198.18.0.0/24"],
            )
            .stdout(w)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{format}: {err}");
        assert_eq!(o.status.code(), Some(0), "{format}: {err}");
    }
    lab.teardown().unwrap();
}

/// Counts what the scanner namespace sent during `f`, from a tcpdump capture.
fn capture(lab: &Lab, ns: &Ns, ifname: &str, f: impl FnOnce()) -> Vec<String> {
    let file = format!("/tmp/{}cap.txt", ns.name);
    let c = lab
        .command(
            ns,
            &["tcpdump", "-n", "-l", "-i", ifname, "-Q", "out", "-e"],
        )
        .stdout(std::fs::File::create(&file).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    f();
    std::thread::sleep(Duration::from_millis(500));
    // SIGINT lets tcpdump flush.
    let _ = Command::new("kill")
        .args(["-INT", &c.id().to_string()])
        .status();
    let _ = ksocket_lab::wait_output(c, Duration::from_secs(10));
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    text.lines().map(str::to_string).collect()
}

#[test]
fn routed_segment_found_through_the_gateway_never_arped() {
    require_root!();
    let mut lab = Lab::new("routed").unwrap();
    let sc = ksocket_lab::scenario::routed_segment(&mut lab).unwrap();
    let (scanner, want) = (&sc.scanner, sc.live.clone());
    let mut result = None;
    let sent = capture(&lab, scanner, "eth0", || {
        // Without name lookups: their reverse DNS would go to this machine's resolver
        // (the lab's scanner has no resolv.conf of its own), not to a target.
        result = Some(scan(&lab, scanner, &["--no-names", "198.19.2.0/24"]))
    });
    let (recs, err) = result.unwrap();
    assert_eq!(ips(&recs), want, "{err}");
    for r in &recs {
        assert!(r.mac.is_none(), "routed host {} reported with a MAC", r.ip);
        if r.ip.octets()[3] % 2 == 1 && r.ip.octets()[3] >= 10 {
            // It ignores echo; TCP answers, and its kernel may also send a (rate
            // limited) port unreachable for the SNMP probe.
            assert!(
                r.via.iter().any(|v| v.starts_with("tcp/")) && !r.via.contains(&"icmp".to_string()),
                "{} ignores ICMP echo: {:?}",
                r.ip,
                r.via
            );
        }
    }
    // Routing respected: no ARP for routed targets; every IPv4 packet goes to a target.
    assert!(!sent.is_empty(), "capture saw nothing");
    for l in &sent {
        if l.contains("ARP") {
            assert!(
                !l.contains("who-has 198.19."),
                "routed target ARPed for: {l}"
            );
        } else if let Some(i) = l.find(": ") {
            let rest = &l[i..];
            if l.contains("IPv4") && rest.contains(" > ") {
                let dst = rest.split(" > ").nth(1).unwrap().split(':').next().unwrap();
                let dst_ip: String = dst.split('.').take(4).collect::<Vec<_>>().join(".");
                assert!(
                    dst_ip.starts_with("198.19.2."),
                    "packet outside the targets: {l}"
                );
            }
        }
    }
    lab.teardown().unwrap();
}

#[test]
fn mac_vendors_from_the_ieee_registry() {
    // Three hosts: one given a Cisco MA-L address, one an MA-S address of the 70:B3:D5
    // block (TELEPLATFORMS, 70B3D5F2F), one keeping the kernel's random veth address
    // (locally administered).
    require_root!();
    let mut lab = Lab::new("oui").unwrap();
    let sw = lab.switch("sw").unwrap();
    let spec = |name: &str, cidr: &str| HostSpec {
        name: name.into(),
        cidr: cidr.into(),
        gateway: None,
        role: Role::Full,
    };
    let ns = lab
        .hosts(
            &sw,
            &[
                spec("scanner", "198.18.0.2/24"),
                spec("cisco", "198.18.0.20/24"),
                spec("mas", "198.18.0.21/24"),
                spec("random", "198.18.0.22/24"),
            ],
        )
        .unwrap();
    lab.ip(
        &ns[1],
        &["link", "set", "eth0", "address", "00:00:0c:12:34:56"],
    )
    .unwrap();
    lab.ip(
        &ns[2],
        &["link", "set", "eth0", "address", "70:b3:d5:f2:f0:01"],
    )
    .unwrap();
    let (recs, err) = scan(&lab, &ns[0], &["198.18.0.16/28"]);
    let vendor = |last: u8| {
        let r = recs
            .iter()
            .find(|r| r.ip == Ipv4Addr::new(198, 18, 0, last))
            .unwrap_or_else(|| panic!("198.18.0.{last} not found: {err}"));
        (r.mac.clone(), r.mac_vendor.clone())
    };
    assert_eq!(
        vendor(20),
        (Some("00:00:0c:12:34:56".into()), Some("Cisco".into()))
    );
    assert_eq!(
        vendor(21),
        (
            Some("70:b3:d5:f2:f0:01".into()),
            Some("TELEPLATFORMS".into())
        )
    );
    let (mac, v) = vendor(22);
    assert!(mac.is_some());
    assert_eq!(v.as_deref(), Some("locally administered"), "{mac:?}");
    lab.teardown().unwrap();
}

#[test]
fn point_to_point_link_without_link_layer() {
    require_root!();
    let mut lab = Lab::new("p2p").unwrap();
    let a = lab.ns("a").unwrap();
    let b = lab.ns("b").unwrap();
    lab.tun_link(&a, "tun0", "198.19.9.1", &b, "tun0", "198.19.9.2")
        .unwrap();
    let (recs, err) = scan(&lab, &a, &["198.19.9.0/30"]);
    assert_eq!(
        ips(&recs),
        [Ipv4Addr::new(198, 19, 9, 2)].into_iter().collect(),
        "{err}"
    );
    assert!(
        recs[0].via.contains(&"icmp".to_string()),
        "{:?}",
        recs[0].via
    );
    assert!(recs[0].mac.is_none());
    assert!(err.contains("without a route"), "{err}");
    lab.teardown().unwrap();
}

#[test]
fn a_mostly_empty_slash16() {
    require_root!();
    let mut lab = Lab::new("s16").unwrap();
    let sc = ksocket_lab::scenario::sparse_slash16(&mut lab).unwrap();
    let (recs, err) = scan(&lab, &sc.scanner, &[&sc.target, "--rate", "20000"]);
    assert_eq!(ips(&recs), sc.live, "{err}");
    assert!(err.contains("65535 addresses probed"), "{err}");
    lab.teardown().unwrap();
}

#[test]
fn clear_errors_never_panics() {
    require_root!();
    let mut lab = Lab::new("err").unwrap();
    let sw = lab.switch("sw").unwrap();
    let ns = lab
        .hosts(
            &sw,
            &[HostSpec {
                name: "s".into(),
                cidr: "198.18.3.2/24".into(),
                gateway: None,
                role: Role::Full,
            }],
        )
        .unwrap();
    for (args, code, msg) in [
        (&["--interface", "nope"][..], 1, "no such interface `nope`"),
        (&["198.18.3.999"][..], 2, "not an IPv4 address"),
        (&["--rate", "0"][..], 2, "--rate: 0 is out of range"),
        (&["--methods", "carrier-pigeon"][..], 2, "is not one of arp"),
        (&["198.19.250.0/24"][..], 1, "no route reaches any target"),
    ] {
        let mut argv = vec![KSOCKET, "scan"];
        argv.extend_from_slice(args);
        let o = lab.exec(&ns[0], &argv, Duration::from_secs(30)).unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {e}");
        assert!(e.contains(msg), "{args:?}: {e}");
        assert!(!e.contains("panicked"), "{e}");
        assert_eq!(e.trim().lines().count(), 1, "one line: {e}");
    }
    lab.teardown().unwrap();
}

#[test]
fn unprivileged_fallback_finds_icmp_and_tcp_hosts_and_warns() {
    require_root!();
    let mut lab = Lab::new("unpriv").unwrap();
    let sw = lab.switch("sw").unwrap();
    let mut specs = vec![HostSpec {
        name: "scanner".into(),
        cidr: "198.18.4.2/24".into(),
        gateway: None,
        role: Role::Full,
    }];
    let mut want = BTreeSet::new();
    for i in 0..12u8 {
        let role = if i % 3 == 1 { Role::NoIcmp } else { Role::Full };
        specs.push(HostSpec {
            name: format!("h{i}"),
            cidr: format!("198.18.4.{}/24", 10 + i),
            gateway: None,
            role,
        });
        want.insert(Ipv4Addr::new(198, 18, 4, 10 + i));
    }
    let ns = lab.hosts(&sw, &specs).unwrap();
    lab.sysctl(&ns[0], "net.ipv4.ping_group_range", "0 2147483647")
        .unwrap();
    // Run as nobody: no CAP_NET_RAW.
    let o = lab
        .exec(
            &ns[0],
            &[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                KSOCKET,
                "scan",
                "--format",
                "jsonl",
                "198.18.4.0/24",
            ],
            Duration::from_secs(120),
        )
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("no raw packet access") && err.contains("results may be incomplete"),
        "{err}"
    );
    let recs = parse(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(ips(&recs), want, "{err}");
    for r in &recs {
        if (r.ip.octets()[3] - 10) % 3 == 1 {
            assert!(
                r.via.iter().any(|v| v.starts_with("tcp/")),
                "{}: {:?}",
                r.ip,
                r.via
            );
        }
    }
    lab.teardown().unwrap();
}

#[test]
fn gateway_arp_table_over_snmp_adds_hosts() {
    require_root!();
    let mut lab = Lab::new("gwarp").unwrap();
    let sw1 = lab.switch("sw1").unwrap();
    let sw2 = lab.switch("sw2").unwrap();
    let router = lab.ns("router").unwrap();
    lab.attach(&sw1, "r", &router, "eth0", "198.18.6.1/24")
        .unwrap();
    lab.attach(&sw2, "r", &router, "eth1", "198.19.6.1/24")
        .unwrap();
    lab.sysctl(&router, "net.ipv4.ip_forward", "1").unwrap();
    let scanner = lab
        .hosts(
            &sw1,
            &[HostSpec {
                name: "scanner".into(),
                cidr: "198.18.6.2/24".into(),
                gateway: Some("198.18.6.1".into()),
                role: Role::Full,
            }],
        )
        .unwrap()
        .remove(0);
    // Behind the router: .10 a plain host, .11 answers ARP only (invisible to routed
    // probes; only the router's ARP table knows it).
    let far = [
        ("p", "198.19.6.10", Role::Full),
        ("q", "198.19.6.11", Role::ArpOnly),
    ];
    let specs: Vec<HostSpec> = far
        .iter()
        .map(|(n, ip, r)| HostSpec {
            name: n.to_string(),
            cidr: format!("{ip}/24"),
            gateway: Some("198.19.6.1".into()),
            role: *r,
        })
        .collect();
    lab.hosts(&sw2, &specs).unwrap();
    // The router talks to both, so its ARP table has them.
    for (_, ip, _) in far {
        let _ = lab.exec(
            &router,
            &["ping", "-c", "1", "-W", "1", ip],
            Duration::from_secs(5),
        );
    }
    lab.snmpd(
        &router,
        "198.18.6.1",
        "rocommunity gw-c0mmunity 198.18.0.0/15",
    )
    .unwrap();
    let (recs, err) = scan(
        &lab,
        &scanner,
        &["--verbose", "--community", "gw-c0mmunity"],
    );
    assert!(!err.contains("gw-c0mmunity"), "community leaked: {err}");
    assert!(err.contains("entries in its ARP tables"), "{err}");
    let get = |ip: &str| {
        recs.iter()
            .find(|r| r.ip.to_string() == ip)
            .unwrap_or_else(|| panic!("{ip} not found: {err}"))
    };
    let q = get("198.19.6.11");
    assert_eq!(q.via, ["snmp-arp"], "ARP-only host behind the router");
    assert!(q.mac.is_some());
    let p = get("198.19.6.10");
    assert!(
        p.via.contains(&"snmp-arp".to_string()) && p.via.contains(&"icmp".to_string()),
        "{:?}",
        p.via
    );
    // Issue 10, class 11: a scan of named targets leaves the gateway alone unless
    // asked (--gateway-arp); INFO notes are in the log, on stderr only with --verbose.
    let (recs, err) = scan(
        &lab,
        &scanner,
        &[
            "--community",
            "gw-c0mmunity",
            "--no-details",
            "198.19.6.8/29",
        ],
    );
    assert!(!err.contains("ARP tables"), "{err}");
    assert!(
        recs.iter()
            .all(|r| !r.via.contains(&"snmp-arp".to_string())),
        "{err}"
    );
    let (recs, err) = scan(
        &lab,
        &scanner,
        &[
            "--gateway-arp",
            "--community",
            "gw-c0mmunity",
            "198.19.6.8/29",
        ],
    );
    assert!(!err.contains("ARP tables"), "an INFO note on stderr: {err}");
    assert!(
        recs.iter()
            .any(|r| r.ip == Ipv4Addr::new(198, 19, 6, 11) && r.via == ["snmp-arp"]),
        "{err}"
    );
    // Secrets never reach a log: a DEBUG log of a scan that used a community from
    // --community, and one that used a credential file, hold neither.
    let home = lab.scratch_dir("home").unwrap();
    let creds = home.join("etc/ksocket/credentials/snmp");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(
        home.join("etc/ksocket/ksocket.toml"),
        "loglevel = \"DEBUG\"\n",
    )
    .unwrap();
    std::fs::write(
        creds.join("00-wrong.toml"),
        "includes = [\"198.18.6.1\"]\ntimeout = 0.3\n[authData]\ncommunity = \"wr0ng-c0mmunity\"\n",
    )
    .unwrap();
    std::fs::write(
        creds.join("10-gw.toml"),
        "includes = [\"198.18.6.0/24\"]\n[authData]\ncommunity = \"gw-c0mmunity\"\n",
    )
    .unwrap();
    let log = home.join("ksocket.log");
    for args in [&["--community", "gw-c0mmunity"][..], &[][..]] {
        let mut c = lab.command(
            &scanner,
            &[
                KSOCKET,
                "--logfile",
                log.to_str().unwrap(),
                "--loglevel",
                "DEBUG",
                "scan",
                "--format",
                "jsonl",
            ],
        );
        c.args(args)
            .env("KSOCKET_HOME", &home)
            .env_remove("KSOCKET_CONFIG");
        let o = ksocket_lab::wait_output(
            c.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
            Duration::from_secs(60),
        )
        .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            parse(&out)
                .iter()
                .any(|r| r.ip == Ipv4Addr::new(198, 19, 6, 11) && r.mac.is_some()),
            "the community worked ({args:?}): {out} {err}"
        );
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains("DEBUG") && text.contains("gateway 198.18.6.1"),
            "log too thin:\n{text}"
        );
        for secret in ["gw-c0mmunity", "wr0ng-c0mmunity"] {
            assert!(!text.contains(secret), "{secret} in the log:\n{text}");
            assert!(!err.contains(secret), "{secret} on stderr: {err}");
        }
    }
    // The same credential sealed with the agent key is read transparently.
    let plain = creds.join("10-gw.toml");
    let o = Command::new(KSOCKET)
        .args(["encrypt", plain.to_str().unwrap()])
        .env("KSOCKET_HOME", &home)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", o);
    std::fs::remove_file(&plain).unwrap();
    let mut c = lab.command(&scanner, &[KSOCKET, "scan", "--format", "jsonl"]);
    c.env("KSOCKET_HOME", &home).env_remove("KSOCKET_CONFIG");
    let o = ksocket_lab::wait_output(
        c.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    )
    .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        parse(&out)
            .iter()
            .any(|r| r.ip == Ipv4Addr::new(198, 19, 6, 11) && r.mac.is_some()),
        "sealed credential not used: {out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Without the community the ARP-only host stays invisible.
    let (recs, _) = scan(&lab, &scanner, &["198.19.6.0/24"]);
    assert!(recs.iter().all(|r| r.ip.to_string() != "198.19.6.11"));
    lab.teardown().unwrap();
}
