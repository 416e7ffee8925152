//! Tests of the name lookup: `resolv.conf`, and lookups against a nameserver on loopback.

use super::*;

#[test]
fn resolv_conf_as_glibc_reads_it() {
    let r = Resolv::parse(
        "# generated\nsearch lab.example\nnameserver 198.18.0.53\nnameserver  2001:2::53 # v6\n\
         nameserver fe80::1%eth0\nnameserver 198.18.0.54\nnameserver 198.18.0.55\n\
         options ndots:2 timeout:1 attempts:9\noptions rotate\n",
    );
    assert_eq!(
        r.servers,
        vec![
            "198.18.0.53:53".parse().unwrap(),
            "[2001:2::53]:53".parse().unwrap(),
            "198.18.0.54:53".parse().unwrap(),
        ]
    );
    assert_eq!((r.timeout, r.attempts), (Duration::from_secs(1), 5));
    let d = Resolv::parse("options timeout:0\n");
    assert_eq!(d.servers, vec!["127.0.0.1:53".parse().unwrap()]);
    assert_eq!((d.timeout, d.attempts), (Duration::from_secs(1), 2));
    assert_eq!(
        Resolv::read(Path::new("/nonexistent/resolv.conf")).servers,
        d.servers
    );
}

/// A nameserver on loopback that answers every PTR query with `name` (the answer
/// built as dnsmasq builds it: the question echoed, a pointer to its name).
fn nameserver(name: &'static str) -> (SocketAddr, std::thread::JoinHandle<usize>) {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let at = s.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let mut n = 0;
        let mut b = [0u8; 512];
        while let Ok((len, from)) = s.recv_from(&mut b) {
            let mut a = b[..len].to_vec();
            a[2] = 0x85;
            a[3] = 0x80;
            a[7] = 1;
            a.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 60]);
            let mut rd = Vec::new();
            for l in name.split('.') {
                rd.push(l.len() as u8);
                rd.extend_from_slice(l.as_bytes());
            }
            rd.push(0);
            a.extend_from_slice(&(rd.len() as u16).to_be_bytes());
            a.extend_from_slice(&rd);
            s.send_to(&a, from).unwrap();
            n += 1;
        }
        n
    });
    (at, h)
}

#[test]
fn ptr_answers_matched_and_refusals_settle_at_once() {
    let (server, h) = nameserver("Host-A.Example");
    let resolv = Resolv {
        servers: vec![server],
        timeout: Duration::from_secs(5),
        attempts: 2,
    };
    // Loopback addresses: no NetBIOS there, so the kernel's port unreachable
    // settles the node status queries (IP_RECVERR), the deadline is not awaited.
    let targets: Vec<Target> = (2..5u8)
        .map(|i| Target {
            key: IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)),
            v4: Some(Ipv4Addr::new(127, 0, 0, i)),
            v6: vec!["fe80::1".parse().unwrap(), "2001:2::9".parse().unwrap()],
            on_link: false,
        })
        .collect();
    let (found, stats) = lookup(&targets, &[], &resolv, 10_000, Duration::from_secs(10)).unwrap();
    // 3 IPv4 PTRs, 3 node status requests, 3 IPv6 PTRs (the global address
    // only), to the IPv4 server; the same name for both addresses, kept once.
    assert_eq!(stats.queries, 9, "{stats:?}");
    assert_eq!(stats.refused, 3, "{stats:?}");
    assert_eq!(stats.answers, 6, "{stats:?}");
    assert!(stats.elapsed < Duration::from_secs(10), "{stats:?}");
    for t in &targets {
        assert_eq!(
            found.iter().filter(|f| f.key == t.key).collect::<Vec<_>>(),
            vec![&Found {
                key: t.key,
                name: "host-a.example".into(),
                source: NameSource::Ptr
            }]
        );
    }
    assert_eq!(h.join().unwrap(), 6);
}

#[test]
fn a_refusing_nameserver_is_skipped_for_the_next() {
    let closed = {
        let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        s.local_addr().unwrap()
    };
    let (server, h) = nameserver("b.example");
    let resolv = Resolv {
        servers: vec![closed, server],
        timeout: Duration::from_secs(5),
        attempts: 1,
    };
    let targets = vec![Target {
        key: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)),
        v4: Some(Ipv4Addr::new(127, 0, 0, 9)),
        v6: vec![],
        on_link: false,
    }];
    let (found, stats) = lookup(&targets, &[], &resolv, 10_000, Duration::from_secs(10)).unwrap();
    assert_eq!(found.len(), 1, "{stats:?}");
    assert_eq!(found[0].name, "b.example");
    // The PTR refused by the first server, the node status by the host.
    assert_eq!(
        (stats.refused, stats.sent, stats.answers),
        (2, 3, 1),
        "{stats:?}"
    );
    assert_eq!(h.join().unwrap(), 1);
}

#[test]
fn budget_is_a_quarter_second_up_to_a_slash_24() {
    assert_eq!(budget(254), Duration::from_millis(250));
    assert_eq!(budget(1256), Duration::from_millis(1250));
    assert_eq!(budget(1 << 20), Duration::from_secs(5));
}
