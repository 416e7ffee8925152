//! The port sweep on a simulated network and a fake clock: open, closed and filtered
//! ports, UDP 161 answered or refused, loss, forged answers, known ports skipped, the
//! window and the rate.
use core::net::Ipv4Addr;
use core::time::Duration;
use etherparse::{
    EtherType, Ethernet2Header, Icmpv4Header, Icmpv4Type, IpNumber, Ipv4Header, TcpHeader,
    UdpHeader, icmpv4::DestUnreachableHeader,
};
use ksocket_core::engine::sweep::{Sweep, SweepEvent, Target};
use ksocket_core::engine::{Config, DEFAULT_PORTS, Iface, Instant, TOP100};
use ksocket_core::wire::{self, Link, Mac, Packet};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const US: Mac = [2, 0x4b, 0x53, 0, 0, 1];
const US_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const GW_MAC: Mac = [2, 0x4b, 0x53, 0, 0, 0xfe];

#[derive(Clone, Default)]
struct Host {
    open: Vec<u16>,
    /// Closed ports answer RST (else they are silent: filtered).
    rst: bool,
    /// UDP 161: Some(true) an SNMP answer, Some(false) ICMP port unreachable.
    snmp: Option<bool>,
}

fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, n)
}

fn iface() -> Iface {
    Iface {
        link: Link::Ethernet,
        mac: US,
        ip: US_IP,
    }
}

fn cfg() -> Config {
    Config {
        key: 7,
        sport: 40_000,
        ..Config::default()
    }
}

fn ipv4(src: Ipv4Addr, proto: IpNumber, l4: &[u8]) -> Vec<u8> {
    let mut h = Ipv4Header::new(l4.len() as u16, 64, proto, src.octets(), US_IP.octets()).unwrap();
    h.header_checksum = h.calc_header_checksum();
    let mut v = Ethernet2Header {
        source: [2, 0, 0, 0, 0, 9],
        destination: US,
        ether_type: EtherType::IPV4,
    }
    .to_bytes()
    .to_vec();
    v.extend_from_slice(&h.to_bytes());
    v.extend_from_slice(l4);
    v
}

fn tcp_answer(src: Ipv4Addr, port: u16, dport: u16, ack: u32, syn: bool) -> Vec<u8> {
    let mut t = TcpHeader::new(port, dport, 777, 1000);
    t.ack = true;
    t.acknowledgment_number = ack;
    t.syn = syn;
    t.rst = !syn;
    t.checksum = t
        .calc_checksum_ipv4_raw(src.octets(), US_IP.octets(), &[])
        .unwrap();
    ipv4(src, IpNumber::TCP, &t.to_bytes())
}

/// What host `h` at `me` answers to a probe frame.
fn answer(h: &Host, me: Ipv4Addr, frame: &[u8]) -> Option<Vec<u8>> {
    let ip = &frame[14..];
    let l4 = &ip[20..];
    match ip[9] {
        6 => {
            let sport = u16::from_be_bytes([l4[0], l4[1]]);
            let dport = u16::from_be_bytes([l4[2], l4[3]]);
            let seq = u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]);
            let open = h.open.contains(&dport);
            (open || h.rst).then(|| tcp_answer(me, dport, sport, seq.wrapping_add(1), open))
        }
        17 => match h.snmp? {
            true => {
                let sport = u16::from_be_bytes([l4[0], l4[1]]);
                let rid: [u8; 4] = l4[8 + 17..8 + 21].try_into().unwrap();
                let mut body = vec![
                    0x30, 27, 0x02, 1, 1, 0x04, 6, b'p', b'u', b'b', b'l', b'i', b'c', 0xa2, 14,
                    0x02, 4,
                ];
                body.extend_from_slice(&rid);
                body.extend_from_slice(&[0x02, 1, 0, 0x02, 1, 0, 0x30, 0]);
                let u = UdpHeader {
                    source_port: 161,
                    destination_port: sport,
                    length: 8 + body.len() as u16,
                    checksum: 0,
                };
                let mut l = u.to_bytes().to_vec();
                l.extend_from_slice(&body);
                Some(ipv4(me, IpNumber::UDP, &l))
            }
            false => Some(unreachable(me, &ip[..28])),
        },
        _ => None,
    }
}

fn unreachable(me: Ipv4Addr, quote: &[u8]) -> Vec<u8> {
    let icmp = Icmpv4Header::with_checksum(
        Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::Port),
        quote,
    );
    let mut l = icmp.to_bytes().to_vec();
    l.extend_from_slice(quote);
    ipv4(me, IpNumber::ICMP, &l)
}

#[derive(Default)]
struct Outcome {
    tcp: BTreeMap<(Ipv4Addr, u16), bool>,
    udp: BTreeMap<Ipv4Addr, bool>,
    done: BTreeMap<Ipv4Addr, (u16, u8)>,
    /// Probes sent per (host, port; 161 for UDP as port 0).
    probes: HashMap<(Ipv4Addr, u16), u32>,
    macs: BTreeSet<Mac>,
    send_times: Vec<u64>,
    max_in_flight: usize,
    end: u64,
}

/// Runs a sweep of `targets` (with known ports) over `hosts`; `drop(ip, port, n)`
/// loses the n-th probe to that port; `forge` adds frames before every answer.
fn run<const W: usize>(
    sw: &mut Sweep<W>,
    hosts: &HashMap<Ipv4Addr, Host>,
    targets: Vec<(Target, Vec<u16>)>,
    drop: &dyn Fn(Ipv4Addr, u16, u32) -> bool,
    forge: &dyn Fn(Ipv4Addr) -> Vec<Vec<u8>>,
) -> Outcome {
    let mut out = Outcome::default();
    let mut now = Instant::from_millis(1);
    let mut queue = targets.into_iter();
    let mut pending = None;
    let mut inbox: BTreeMap<(u64, u64), Vec<u8>> = BTreeMap::new();
    let mut seq = 0;
    let mut in_flight = BTreeSet::new();
    let mut buf = [0u8; 1600];
    let delay = Duration::from_micros(400);
    for _ in 0..2_000_000 {
        drain(sw, &mut out, &mut in_flight);
        while let Some((t, known)) = pending.take().or_else(|| queue.next()) {
            match sw.push(now, t, &known, false) {
                Ok(()) => {
                    in_flight.insert(t.ip);
                }
                Err(t) => {
                    pending = Some((t, known));
                    break;
                }
            }
        }
        out.max_in_flight = out.max_in_flight.max(in_flight.len());
        while let Some(tx) = sw.poll_transmit(now, &mut buf) {
            let frame = &buf[..tx.len];
            out.send_times.push(now.as_nanos());
            out.macs.insert(frame[..6].try_into().unwrap());
            let f = wire::parse(Link::Ethernet, frame).expect("valid frame");
            let (dst, port) = match f.packet {
                Packet::Tcp { dst, dport, .. } => (dst, dport),
                Packet::Udp {
                    dst, dport: 161, ..
                } => (dst, 0),
                p => panic!("unexpected probe {p:?}"),
            };
            assert_eq!(dst, tx.target);
            let n = out.probes.entry((dst, port)).or_default();
            *n += 1;
            if drop(dst, port, *n - 1) {
                continue;
            }
            for x in forge(dst) {
                seq += 1;
                inbox.insert((now.as_nanos(), seq), x);
            }
            if let Some(a) = hosts.get(&dst).and_then(|h| answer(h, dst, frame)) {
                seq += 1;
                inbox.insert(((now + delay * 2).as_nanos(), seq), a);
            }
        }
        drain(sw, &mut out, &mut in_flight);
        if sw.is_finished() && pending.is_none() && queue.len() == 0 {
            out.end = now.as_nanos();
            return out;
        }
        let next = [
            sw.poll_timeout(),
            inbox.keys().next().map(|k| Instant::from_nanos(k.0)),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("sweep idle but not finished");
        now = now.max(next);
        while inbox.keys().next().is_some_and(|k| k.0 <= now.as_nanos()) {
            let (_, f) = inbox.pop_first().unwrap();
            sw.handle_rx(now, 0, &f);
        }
    }
    panic!("sweep did not finish: {:?}", sw.stats());
}

fn drain<const W: usize>(sw: &mut Sweep<W>, out: &mut Outcome, in_flight: &mut BTreeSet<Ipv4Addr>) {
    while let Some(e) = sw.poll_event() {
        match e {
            SweepEvent::Tcp { ip, port, open } => {
                assert!(
                    out.tcp.insert((ip, port), open).is_none(),
                    "twice: {ip}:{port}"
                );
            }
            SweepEvent::Udp161 { ip, open } => {
                out.udp.insert(ip, open);
            }
            SweepEvent::Done { ip, silent, rounds } => {
                in_flight.remove(&ip);
                assert!(out.done.insert(ip, (silent, rounds)).is_none());
            }
        }
    }
}

fn target(n: u8) -> Target {
    Target {
        ip: ip(n),
        iface: 0,
        mac: [2, 0, 0, 0, 0, n],
    }
}

fn no_drop(_: Ipv4Addr, _: u16, _: u32) -> bool {
    false
}

fn no_forge(_: Ipv4Addr) -> Vec<Vec<u8>> {
    vec![]
}

#[test]
fn open_closed_and_udp_161_are_reported_exactly_and_each_port_probed_once() {
    let mut hosts = HashMap::new();
    for n in 2..60u8 {
        let open = match n % 4 {
            0 => vec![22, 80],
            1 => vec![443],
            2 => vec![445, 139, 135, 5985],
            _ => vec![],
        };
        let snmp = match n % 3 {
            0 => Some(true),
            1 => Some(false),
            _ => None,
        };
        hosts.insert(
            ip(n),
            Host {
                open,
                rst: true,
                snmp,
            },
        );
    }
    let mut sw: Sweep<16> = Sweep::new(&cfg(), &DEFAULT_PORTS, true, &[iface()]).unwrap();
    let targets = (2..60).map(|n| (target(n), vec![])).collect();
    let out = run(&mut sw, &hosts, targets, &no_drop, &no_forge);
    for (a, h) in &hosts {
        for p in DEFAULT_PORTS {
            assert_eq!(out.tcp.get(&(*a, p)), Some(&h.open.contains(&p)), "{a}:{p}");
            assert_eq!(out.probes[&(*a, p)], 1, "{a}:{p} probed once");
        }
        assert_eq!(out.udp.get(a).copied(), h.snmp, "{a} udp");
        let expected_rounds = if h.snmp.is_none() { 2 } else { 1 };
        assert_eq!(out.done[a], (0, expected_rounds), "{a}");
        // Only the silent UDP probe is retried.
        assert_eq!(
            out.probes[&(*a, 0)],
            u32::from(expected_rounds),
            "{a} udp probes"
        );
    }
    assert!(out.max_in_flight <= 16);
    let st = sw.stats();
    let open: usize = hosts.values().map(|h| h.open.len()).sum();
    assert_eq!(st.open, open as u64);
    assert_eq!(st.closed, (58 * DEFAULT_PORTS.len() - open) as u64);
    assert_eq!(st.filtered, 0);
    assert_eq!(out.macs.len(), 58, "each host's own MAC");
}

#[test]
fn silent_ports_are_retried_then_reported_filtered_in_bounded_time() {
    let mut hosts = HashMap::new();
    hosts.insert(
        ip(2),
        Host {
            open: vec![22],
            rst: false,
            snmp: None,
        },
    );
    let c = Config {
        retries: 2,
        ..cfg()
    };
    let mut sw: Sweep<4> = Sweep::new(&c, &TOP100, true, &[iface()]).unwrap();
    let out = run(
        &mut sw,
        &hosts,
        vec![(target(2), vec![])],
        &no_drop,
        &no_forge,
    );
    assert_eq!(out.tcp.len(), 1);
    assert!(out.tcp[&(ip(2), 22)]);
    assert_eq!(out.done[&ip(2)], (99, 3));
    assert_eq!(
        out.probes[&(ip(2), 22)],
        1,
        "an answered port is not re-probed"
    );
    assert_eq!(out.probes[&(ip(2), 80)], 3);
    // Three rounds, each followed by at most the ceiling timeout.
    assert!(out.end < Duration::from_secs(10).as_nanos() as u64);
}

#[test]
fn a_lost_probe_is_found_by_the_retry() {
    let mut hosts = HashMap::new();
    hosts.insert(
        ip(3),
        Host {
            open: vec![80, 443],
            rst: true,
            snmp: Some(true),
        },
    );
    let mut sw: Sweep<4> = Sweep::new(&cfg(), &DEFAULT_PORTS, true, &[iface()]).unwrap();
    let lose = |_: Ipv4Addr, port: u16, n: u32| n == 0 && (port == 443 || port == 0);
    let out = run(&mut sw, &hosts, vec![(target(3), vec![])], &lose, &no_forge);
    assert!(out.tcp[&(ip(3), 443)]);
    assert!(out.udp[&ip(3)]);
    assert_eq!(out.done[&ip(3)], (0, 2));
    assert_eq!(out.probes[&(ip(3), 443)], 2);
    assert_eq!(out.probes[&(ip(3), 80)], 1);
}

#[test]
fn known_ports_are_not_probed_nor_reported() {
    let mut hosts = HashMap::new();
    hosts.insert(
        ip(4),
        Host {
            open: vec![22, 80],
            rst: true,
            snmp: Some(true),
        },
    );
    let mut sw: Sweep<4> = Sweep::new(&cfg(), &DEFAULT_PORTS, false, &[iface()]).unwrap();
    let out = run(
        &mut sw,
        &hosts,
        vec![(target(4), vec![22, 23])],
        &no_drop,
        &no_forge,
    );
    assert!(!out.probes.contains_key(&(ip(4), 22)));
    assert!(!out.probes.contains_key(&(ip(4), 23)));
    assert!(!out.probes.contains_key(&(ip(4), 0)), "udp161 off");
    assert_eq!(out.tcp.len(), DEFAULT_PORTS.len() - 2);
    assert!(out.tcp[&(ip(4), 80)]);
    // A host with everything known is done at once, without a probe.
    let mut sw: Sweep<4> = Sweep::new(&cfg(), &[22, 80], false, &[iface()]).unwrap();
    let out = run(
        &mut sw,
        &hosts,
        vec![(target(4), vec![22, 80])],
        &no_drop,
        &no_forge,
    );
    assert!(out.probes.is_empty());
    assert_eq!(out.done[&ip(4)], (0, 1));
}

#[test]
fn forged_answers_are_ignored() {
    let mut hosts = HashMap::new();
    hosts.insert(
        ip(5),
        Host {
            open: vec![],
            rst: false,
            snmp: None,
        },
    );
    let forge = |dst: Ipv4Addr| {
        vec![
            // A SYN-ACK with a wrong acknowledgment number.
            tcp_answer(dst, 22, 40_000, 12345, true),
            // The right shape to another port of ours.
            tcp_answer(dst, 80, 40_001, 1, true),
            // An unreachable quoting a probe we never sent (another port).
            unreachable(
                dst,
                &[
                    0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 5, 0x9c,
                    0x40, 0, 162, 0, 8, 0, 0,
                ],
            ),
            vec![0xff; 30],
            vec![],
        ]
    };
    let mut sw: Sweep<4> = Sweep::new(&cfg(), &[22, 80], true, &[iface()]).unwrap();
    let out = run(&mut sw, &hosts, vec![(target(5), vec![])], &no_drop, &forge);
    assert!(out.tcp.is_empty() && out.udp.is_empty());
    assert_eq!(out.done[&ip(5)], (2, 2));
    assert!(sw.stats().ignored > 0);
}

#[test]
fn routed_hosts_go_to_the_gateway_mac_and_the_rate_holds() {
    let mut hosts = HashMap::new();
    for n in 10..30u8 {
        hosts.insert(
            Ipv4Addr::new(198, 19, 1, n),
            Host {
                open: vec![80],
                rst: true,
                snmp: None,
            },
        );
    }
    let c = Config {
        rate: 1000,
        burst: 4,
        ..cfg()
    };
    let mut sw: Sweep<8> = Sweep::new(&c, &DEFAULT_PORTS, false, &[iface()]).unwrap();
    let targets = (10..30)
        .map(|n| {
            let t = Target {
                ip: Ipv4Addr::new(198, 19, 1, n),
                iface: 0,
                mac: GW_MAC,
            };
            (t, vec![])
        })
        .collect();
    let out = run(&mut sw, &hosts, targets, &no_drop, &no_forge);
    assert_eq!(out.macs.into_iter().collect::<Vec<_>>(), vec![GW_MAC]);
    assert_eq!(out.tcp.values().filter(|o| **o).count(), 20);
    // 1000/s with a burst of 4: no window of 100 ms holds more than 100 + 4 frames.
    let t = &out.send_times;
    assert_eq!(t.len(), 20 * DEFAULT_PORTS.len());
    for i in 0..t.len() {
        let within = t[i..]
            .iter()
            .take_while(|x| **x < t[i] + 100_000_000)
            .count();
        assert!(within <= 104, "{within} frames in 100 ms");
    }
}

#[test]
fn a_list_too_long_or_a_bad_interface_is_refused() {
    let many: Vec<u16> = (1..=300).collect();
    assert!(Sweep::<4>::new(&cfg(), &many, true, &[iface()]).is_err());
    let mut sw: Sweep<1> = Sweep::new(&cfg(), &[22], true, &[iface()]).unwrap();
    let bad = Target {
        iface: 3,
        ..target(2)
    };
    assert!(sw.push(Instant::from_millis(0), bad, &[], false).is_err());
    sw.push(Instant::from_millis(0), target(2), &[], false)
        .unwrap();
    assert!(!sw.has_room());
    assert!(
        sw.push(Instant::from_millis(0), target(3), &[], false)
            .is_err()
    );
}
