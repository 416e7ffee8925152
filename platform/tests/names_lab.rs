//! Host names in a lab (issue 15; root only, skipped otherwise): a DNS server
//! (dnsmasq) with PTR records, a Samba nmbd, an avahi-daemon and a device that
//! answers DNS-SD only (`mdns_sd.py`), each in its own lab namespace; the scanner's `/etc/resolv.conf` is the lab's (`/etc/netns/NS/`), so no
//! query leaves the lab. `ksocket scan` must find each name with its source, and the
//! same names the reference tools find in the same lab: `dig -x` (through the same
//! resolv.conf), `nmblookup -A`, `dig -p 5353 @HOST -x` (the legacy unicast mDNS
//! query avahi answers) and `dig -p 5353 @HOST TYPE PTR` (the DNS-SD device's A
//! record). `--no-names` finds none.
use ksocket_lab::{HostSpec, Lab, Ns, Role, names, require_root};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

const KSOCKET: &str = env!("CARGO_BIN_EXE_ksocket");

/// (name, source) of each host, from `--format jsonl`.
type Names = BTreeMap<IpAddr, BTreeSet<(String, String)>>;

fn scan(lab: &Lab, ns: &Ns, args: &[&str]) -> (Names, String) {
    let mut argv = vec![KSOCKET, "scan", "--format", "jsonl", "--no-details"];
    argv.extend_from_slice(args);
    let o = lab.exec(ns, &argv, Duration::from_secs(60)).unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "ksocket scan failed: {err}");
    let mut names = Names::new();
    for l in String::from_utf8_lossy(&o.stdout).lines() {
        let h: ksocket_proto::records::Host =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        let v = names.entry(h.ip).or_default();
        for n in &h.names {
            let src = serde_json::to_value(n.source).unwrap();
            v.insert((n.name.clone(), src.as_str().unwrap().to_string()));
        }
    }
    (names, err)
}

/// Runs a reference tool in `ns` until `ready` accepts its output (at most 20 s: the
/// daemons start meanwhile); returns that output.
fn reference(lab: &Lab, ns: &Ns, argv: &[&str], ready: impl Fn(&str) -> bool) -> String {
    let t0 = Instant::now();
    loop {
        let o = lab.exec(ns, argv, Duration::from_secs(10)).unwrap();
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        if ready(&out) {
            return out;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{argv:?} never answered: {out} {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::thread::sleep(Duration::from_millis(150));
    }
}

/// The answer `dig +short` printed, without its trailing dot.
fn answer(out: &str) -> String {
    out.lines()
        .filter(|l| !l.starts_with(";;") && !l.trim().is_empty())
        .map(|l| l.trim().trim_end_matches('.').to_string())
        .next_back()
        .unwrap_or_default()
}

fn set(v: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn names_from_ptr_netbios_and_mdns_each_with_its_source() {
    require_root!();
    let mut lab = Lab::new("names").unwrap();
    let sw = lab.switch("sw").unwrap();
    let spec = |name: &str, ip: &str| HostSpec {
        name: name.into(),
        cidr: format!("{ip}/24"),
        gateway: None,
        role: Role::Full,
    };
    let ns = lab
        .hosts(
            &sw,
            &[
                spec("scanner", "198.18.60.2"),
                spec("dns", "198.18.60.53"),
                spec("smb", "198.18.60.10"),
                spec("printer", "198.18.60.11"),
                spec("plain", "198.18.60.12"),
                spec("tv", "198.18.60.13"),
            ],
        )
        .unwrap();
    let ip = |d: u8| Ipv4Addr::new(198, 18, 60, d);
    names::dnsmasq(
        &mut lab,
        &ns[1],
        "198.18.60.53",
        &[
            (ip(10), "FileSrv.Lab.Example"),
            (ip(11), "printer.lab.example"),
            (ip(12), "plain-12.lab.example"),
        ],
    )
    .unwrap();
    names::nmbd(&mut lab, &ns[2], "eth0", "FILESRV-7", "LABGROUP").unwrap();
    names::avahi(&mut lab, &ns[3], "eth0", "printer-3", &[("_ipp._tcp", 631)]).unwrap();
    // A device that answers DNS-SD only (no reverse lookup, no PTR in the DNS).
    names::mdns_sd(
        &mut lab,
        &ns[5],
        "198.18.60.13",
        "tv-5.local",
        "_googlecast._tcp.local",
        "Living Room TV",
    )
    .unwrap();
    let _resolv =
        names::ResolvConf::new(&lab, &ns[0], &["198.18.60.53"], "timeout:1 attempts:2").unwrap();
    let scanner = &ns[0];

    // The references (which also wait, bounded, for each daemon to answer).
    let mut want = Names::new();
    for d in [10, 11, 12] {
        let a = ip(d).to_string();
        let out = reference(
            &lab,
            scanner,
            &["dig", "+short", "+time=1", "-x", &a],
            |o| !answer(o).is_empty(),
        );
        let name = answer(&out).to_lowercase();
        want.entry(IpAddr::V4(ip(d)))
            .or_default()
            .insert((name, "ptr".into()));
    }
    let out = reference(&lab, scanner, &["nmblookup", "-A", "198.18.60.10"], |o| {
        o.contains("<00> -  ")
    });
    // The unique <00> name (not the <GROUP> one).
    let nb = out
        .lines()
        .find(|l| l.contains("<00>") && !l.contains("<GROUP>"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    assert_eq!(nb, "FILESRV-7");
    want.entry(IpAddr::V4(ip(10)))
        .or_default()
        .insert((nb, "netbios".into()));
    let out = reference(
        &lab,
        scanner,
        &[
            "dig",
            "+short",
            "+time=1",
            "-p",
            "5353",
            "@198.18.60.11",
            "-x",
            "198.18.60.11",
        ],
        |o| !answer(o).is_empty(),
    );
    // (dig says ";; communications error ..." on stdout when a try went unanswered.)
    let md = answer(&out);
    assert_eq!(md, "printer-3.local");
    want.entry(IpAddr::V4(ip(11)))
        .or_default()
        .insert((md, "mdns".into()));
    // The DNS-SD device: the A record of its service's answer, asked unicast.
    let out = reference(
        &lab,
        scanner,
        &[
            "dig",
            "+noall",
            "+answer",
            "+time=1",
            "-p",
            "5353",
            "@198.18.60.13",
            "_googlecast._tcp.local",
            "PTR",
        ],
        |o| o.contains("198.18.60.13"),
    );
    let tv = out
        .lines()
        .find(|l| l.split_whitespace().last() == Some("198.18.60.13"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .trim_end_matches('.')
        .to_string();
    assert_eq!(tv, "tv-5.local");
    want.entry(IpAddr::V4(ip(13)))
        .or_default()
        .insert((tv, "mdns".into()));
    assert_eq!(
        want[&IpAddr::V4(ip(10))],
        set(&[("filesrv.lab.example", "ptr"), ("FILESRV-7", "netbios")])
    );

    let (got, err) = scan(&lab, scanner, &["198.18.60.0/24"]);
    for d in [10, 11, 12, 13] {
        let k = IpAddr::V4(ip(d));
        assert_eq!(got.get(&k), want.get(&k), "{k}: {err}");
    }
    // The DNS server has no record of itself (dnsmasq refuses): no name, no error.
    assert_eq!(
        got.get(&IpAddr::V4(ip(53))),
        Some(&BTreeSet::new()),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let (got, err) = scan(&lab, scanner, &["--no-names", "198.18.60.0/24"]);
    assert_eq!(got.len(), 5, "{err}");
    assert!(got.values().all(BTreeSet::is_empty), "{got:?}");
    drop(_resolv);
    lab.teardown().unwrap();
}
