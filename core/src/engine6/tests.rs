//! Unit tests of the IPv6 engine (they reach its private state).
use super::*;
use crate::wire::ETH_LEN;
use crate::wire6::{ETHERTYPE_IPV6, IPV6_LEN, icmpv6_checksum};

const ME: Mac = [2, 0, 0, 0, 0, 1];
const GW: Mac = [2, 0, 0, 0, 0, 0xfe];

fn ip(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn iface(discover: bool) -> Iface6 {
    Iface6 {
        link: Link::Ethernet,
        mac: ME,
        link_local: Some(ip("fe80::1")),
        globals: heapless::Vec::from_slice(&[ip("2001:2::1")]).unwrap(),
        discover,
    }
}

fn routes() -> [Route6; 2] {
    [
        Route6 {
            dst: ip("2001:2::"),
            prefix: 64,
            iface: 0,
            via: Via6::OnLink,
        },
        Route6 {
            dst: ip("2001:2:9::"),
            prefix: 48,
            iface: 0,
            via: Via6::Gateway {
                ip: ip("fe80::fe"),
                mac: GW,
            },
        },
    ]
}

/// A frame carrying ICMPv6 message `m` (checksum filled in) or TCP segment `m`.
fn frame(from: Mac, src: Ipv6Addr, dst: Ipv6Addr, nh: u8, hl: u8, m: &[u8]) -> [u8; 128] {
    let mut b = [0u8; 128];
    b[..6].copy_from_slice(&ME);
    b[6..12].copy_from_slice(&from);
    b[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
    let p = &mut b[ETH_LEN..ETH_LEN + IPV6_LEN + m.len()];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(m.len() as u16).to_be_bytes());
    p[6] = nh;
    p[7] = hl;
    p[8..24].copy_from_slice(&src.octets());
    p[24..40].copy_from_slice(&dst.octets());
    p[40..].copy_from_slice(m);
    if nh == 58 {
        let c = icmpv6_checksum(src, dst, &p[40..]);
        p[42..44].copy_from_slice(&c.to_be_bytes());
    }
    b
}

fn echo_reply(id_seq: u32) -> [u8; 8] {
    let mut m = [129, 0, 0, 0, 0, 0, 0, 0];
    m[4..8].copy_from_slice(&id_seq.to_be_bytes());
    m
}

fn na(target: Ipv6Addr, mac: Mac) -> [u8; 32] {
    let mut m = [0u8; 32];
    m[0] = 136;
    m[4] = 0x60;
    m[8..24].copy_from_slice(&target.octets());
    m[24] = 2;
    m[25] = 1;
    m[26..32].copy_from_slice(&mac);
    m
}

/// Sends everything due, returns (destination address, first ICMPv6 byte or TCP
/// destination port) of each frame.
fn drain_tx<const W: usize>(
    e: &mut Engine6<W>,
    now: Instant,
) -> heapless::Vec<(Ipv6Addr, u16), 64> {
    let mut out = heapless::Vec::new();
    let mut buf = [0u8; 256];
    while let Some(t) = e.poll_transmit(now, &mut buf) {
        let f = &buf[ETH_LEN..t.len];
        let dst = {
            let mut o = [0u8; 16];
            o.copy_from_slice(&f[24..40]);
            Ipv6Addr::from(o)
        };
        let kind = match f[6] {
            58 => u16::from(f[40]),
            0 => u16::from(f[48]),
            _ => u16::from_be_bytes([f[42], f[43]]),
        };
        out.push((dst, kind)).unwrap();
    }
    out
}

fn events<const W: usize>(e: &mut Engine6<W>) -> heapless::Vec<Event6, 64> {
    let mut v = heapless::Vec::new();
    while let Some(x) = e.poll_event() {
        v.push(x).unwrap();
    }
    v
}

#[test]
fn link_discovery_sends_the_multicast_probes_then_solicits_candidates() {
    let cfg = Config6 {
        key: 7,
        ..Config6::default()
    };
    let cand = [(ip("2001:2::77"), 0u8)];
    let mut e: Engine6<16> = Engine6::new(cfg, &[iface(true)], &routes(), &[], &cand).unwrap();
    let t0 = Instant::from_millis(1);
    let tx = drain_tx(&mut e, t0);
    // Echo to ff02::1 (from fe80::1, then from 2001:2::1), to ff02::2, the MLD query,
    // and the NS to the candidate's solicited-node group.
    assert_eq!(
        tx.as_slice(),
        &[
            (ALL_NODES, 128),
            (ALL_NODES, 128),
            (ALL_ROUTERS, 128),
            (ALL_NODES, 130),
            (wire6::solicited_node(ip("2001:2::77")), 135)
        ]
    );
    // A node answers the multicast echo: its address and MAC are reported.
    let c = e.cookie(Ipv6Addr::UNSPECIFIED, MCAST);
    let node: Mac = [2, 0, 0, 0, 0, 5];
    let f = frame(node, ip("fe80::5"), ip("fe80::1"), 58, 64, &echo_reply(c));
    e.handle_rx(t0, 0, &f[..ETH_LEN + IPV6_LEN + 8]);
    // A wrong cookie is nobody.
    let f2 = frame(
        node,
        ip("fe80::6"),
        ip("fe80::1"),
        58,
        64,
        &echo_reply(c ^ 1),
    );
    e.handle_rx(t0, 0, &f2[..ETH_LEN + IPV6_LEN + 8]);
    // The candidate answers the NS.
    let cm: Mac = [2, 0, 0, 0, 0, 0x77];
    let f3 = frame(
        cm,
        ip("2001:2::77"),
        ip("2001:2::1"),
        58,
        255,
        &na(ip("2001:2::77"), cm),
    );
    e.handle_rx(
        t0 + Duration::from_millis(2),
        0,
        &f3[..ETH_LEN + IPV6_LEN + 32],
    );
    let ev = events(&mut e);
    assert_eq!(
        ev[0],
        Event6::Seen {
            ip: ip("fe80::5"),
            mac: Some(node),
            how: How::Echo,
            rtt: None,
            iface: 0
        }
    );
    assert!(matches!(
        ev[1],
        Event6::Seen { ip: a, mac: Some(m), how: How::Ndp, rtt: Some(_), .. } if a == ip("2001:2::77") && m == cm
    ));
    assert!(matches!(ev[2], Event6::Done { answered: true, .. }));
    assert_eq!(ev.len(), 3);
    assert_eq!(e.stats().ignored, 1);
    // The multicast echoes are repeated once (not the query), settle / 2 later, and
    // the run ends `settle` after them.
    assert!(!e.is_finished());
    let t1 = e.poll_timeout().unwrap();
    assert_eq!(t1, t0 + Duration::from_millis(200));
    assert_eq!(drain_tx(&mut e, t1).len(), 3);
    let t2 = e.poll_timeout().unwrap();
    assert_eq!(t2, t1 + Duration::from_millis(400));
    e.handle_timeout(t2);
    assert!(e.is_finished());
}

#[test]
fn passive_neighbor_discovery_and_mld_name_nodes_of_discovered_links_only() {
    let mut e: Engine6<4> = Engine6::new(
        Config6::default(),
        &[iface(true), iface(false)],
        &routes(),
        &[],
        &[],
    )
    .unwrap();
    let t = Instant::from_millis(1);
    let node: Mac = [2, 0, 0, 0, 0, 9];
    // An MLDv2 report (to ff02::16, hop limit 1) and a router advertisement.
    let rep = frame(
        node,
        ip("fe80::9"),
        ip("ff02::16"),
        58,
        1,
        &[143, 0, 0, 0, 0, 0, 0, 0],
    );
    let mut ra = [0u8; 24];
    ra[0] = 134;
    ra[16..24].copy_from_slice(&[1, 1, 2, 0, 0, 0, 0, 0xfe]);
    let raf = frame(GW, ip("fe80::fe"), ALL_NODES, 58, 255, &ra);
    for i in [0u8, 1] {
        e.handle_rx(t, i, &rep[..ETH_LEN + IPV6_LEN + 8]);
        e.handle_rx(t, i, &raf[..ETH_LEN + IPV6_LEN + 24]);
    }
    let ev = events(&mut e);
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert!(
        matches!(ev[0], Event6::Seen { how: How::Mld, mac: Some(m), iface: 0, .. } if m == node)
    );
    assert!(matches!(ev[1], Event6::Seen { how: How::Router, mac: Some(m), .. } if m == GW));
    // An unsolicited NA for our own address is not a neighbour.
    let own = frame(
        node,
        ip("2001:2::1"),
        ALL_NODES,
        58,
        255,
        &na(ip("2001:2::1"), node),
    );
    e.handle_rx(t, 0, &own[..ETH_LEN + IPV6_LEN + 32]);
    assert!(events(&mut e).is_empty());
}

#[test]
fn routed_targets_get_echo_and_syn_to_the_gateway_and_are_checked_by_cookie() {
    let mut cfg = Config6 {
        key: 99,
        sport: 40_000,
        retries: 0,
        ..Config6::default()
    };
    cfg.ports = heapless::Vec::from_slice(&[22, 443]).unwrap();
    let ranges = [
        Range6::cidr(ip("2001:2:9::"), 126).unwrap(),
        Range6::cidr(ip("2001:2:77::1"), 128).unwrap(),
    ];
    let mut e: Engine6<8> = Engine6::new(cfg, &[iface(false)], &routes(), &ranges, &[]).unwrap();
    let t0 = Instant::from_millis(1);
    let mut buf = [0u8; 256];
    let mut n = 0;
    while let Some(tx) = e.poll_transmit(t0, &mut buf) {
        // Every routed probe goes to the gateway's MAC.
        assert_eq!(&buf[..6], &GW);
        assert_eq!(tx.iface, 0);
        n += 1;
    }
    assert_eq!(n, 4 * 3, "echo + 2 SYNs to each of 4 addresses");
    let ev = events(&mut e);
    assert_eq!(
        ev.iter()
            .filter(|x| matches!(x, Event6::NoRoute { .. }))
            .count(),
        1
    );
    // A SYN-ACK from 2001:2:9::2 port 443 with the cookie: seen, without a MAC
    // (the frame comes from the router).
    let target = ip("2001:2:9::2");
    let mut seg = [0u8; 20];
    seg[0..2].copy_from_slice(&443u16.to_be_bytes());
    seg[2..4].copy_from_slice(&40_000u16.to_be_bytes());
    seg[8..12].copy_from_slice(&e.cookie(target, 443).wrapping_add(1).to_be_bytes());
    seg[12] = 5 << 4;
    seg[13] = tcp_flags::SYN | tcp_flags::ACK;
    let f = frame(GW, target, ip("2001:2::1"), 6, 60, &seg);
    e.handle_rx(t0, 0, &f[..ETH_LEN + IPV6_LEN + 20]);
    // The same with a wrong acknowledgment is ignored.
    seg[11] ^= 1;
    let f = frame(GW, target, ip("2001:2::1"), 6, 60, &seg);
    e.handle_rx(t0, 0, &f[..ETH_LEN + IPV6_LEN + 20]);
    let ev = events(&mut e);
    assert!(matches!(
        ev[0],
        Event6::Seen { ip: a, mac: None, how: How::Tcp(443), .. } if a == target
    ));
    assert_eq!(e.stats().ignored, 1);
    // Everything times out and the run ends, bounded.
    let mut now = t0;
    for _ in 0..100 {
        if e.is_finished() {
            break;
        }
        now = e.poll_timeout().unwrap_or(now).max(now);
        let _ = drain_tx(&mut e, now);
        let _ = events(&mut e);
    }
    assert!(e.is_finished());
    assert_eq!(e.stats().done, 4);
}

#[test]
fn limits_are_refused_at_construction() {
    let huge = [Range6::cidr(ip("2001:2::"), 100).unwrap()];
    assert_eq!(
        Engine6::<4>::new(Config6::default(), &[iface(true)], &routes(), &huge, &[]).err(),
        Some(ConfigError6::Capacity)
    );
    assert_eq!(
        Engine6::<4>::new(
            Config6::default(),
            &[iface(true)],
            &routes(),
            &[],
            &[(ip("fe80::2"), 3)]
        )
        .err(),
        Some(ConfigError6::Iface)
    );
    let r = Range6::cidr(ip("2001:2::1234"), 112).unwrap();
    assert_eq!(r.len(), 65_536);
    assert_eq!(r.first, ip("2001:2::"));
    assert!(r.contains(ip("2001:2::ffff")) && !r.contains(ip("2001:2::1:0")));
}
