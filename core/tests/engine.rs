//! The discovery engine on a simulated network and a fake clock: loss, reordering,
//! duplicate and forged replies, a silent network, routed targets, the rate limit.
use core::net::Ipv4Addr;
use core::time::Duration;
use etherparse::{
    ArpEthIpv4Packet, ArpOperation, EtherType, Ethernet2Header, IcmpEchoHeader, Icmpv4Header,
    Icmpv4Type, IpNumber, Ipv4Header, TcpHeader, UdpHeader,
};
use ksocket_core::addr::{AddrSet, Range};
use ksocket_core::engine::*;
use ksocket_core::wire::{self, Link, Mac, Packet};
use std::collections::{BTreeMap, HashMap, HashSet};

const US: Mac = [2, 0x4b, 0x53, 0, 0, 1];
const GW_MAC: Mac = [2, 0x4b, 0x53, 0, 0, 0xfe];
const US_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

#[derive(Clone, Default)]
struct Host {
    arp: bool,
    icmp: bool,
    /// Ports answering SYN-ACK; other ports answer RST when `rst`.
    open: Vec<u16>,
    rst: bool,
    snmp: bool,
}

fn mac_of(ip: Ipv4Addr) -> Mac {
    let o = ip.octets();
    [2, 0x4b, 0x53, o[1], o[2], o[3]]
}

/// A network: hosts, a one-way delay per host, loss and duplication rules, and the
/// frames in flight towards the scanner.
struct Net {
    hosts: HashMap<Ipv4Addr, Host>,
    delay: Box<dyn Fn(Ipv4Addr, u64) -> Duration>,
    /// Drop the n-th frame sent to a host (0-based) when this says so.
    drop: Box<dyn Fn(Ipv4Addr, u32) -> bool>,
    dup: bool,
    inbox: BTreeMap<(u64, u64), Vec<u8>>,
    seq: u64,
    sent_to: HashMap<Ipv4Addr, u32>,
    log: Vec<Vec<u8>>,
    link: Link,
}

impl Net {
    fn new(hosts: HashMap<Ipv4Addr, Host>) -> Net {
        Net {
            hosts,
            delay: Box::new(|_, _| Duration::from_micros(300)),
            drop: Box::new(|_, _| false),
            dup: false,
            inbox: BTreeMap::new(),
            seq: 0,
            sent_to: HashMap::new(),
            log: Vec::new(),
            link: Link::Ethernet,
        }
    }

    fn deliver(&mut self, at: Instant, frame: Vec<u8>) {
        self.seq += 1;
        if self.dup {
            self.inbox
                .insert((at.as_nanos() + 1000, self.seq), frame.clone());
            self.seq += 1;
        }
        self.inbox.insert((at.as_nanos(), self.seq), frame);
    }

    fn on_tx(&mut self, now: Instant, frame: &[u8]) {
        self.log.push(frame.to_vec());
        let f = wire::parse(self.link, frame).expect("engine emits valid frames");
        let target = match f.packet {
            Packet::Arp { target_ip, .. } => target_ip,
            Packet::EchoReply { .. } => panic!("engine sent an echo reply"),
            Packet::Tcp { dst, .. } | Packet::Udp { dst, .. } => dst,
            Packet::Other => {
                // ICMP echo requests classify as Other: read the destination directly.
                let off = if self.link == Link::Ethernet { 14 } else { 0 };
                Ipv4Addr::new(
                    frame[off + 16],
                    frame[off + 17],
                    frame[off + 18],
                    frame[off + 19],
                )
            }
            Packet::Unreachable { .. } => panic!("engine sent an unreachable"),
        };
        let n = self.sent_to.entry(target).or_default();
        let k = *n;
        *n += 1;
        if (self.drop)(target, k) {
            return;
        }
        let Some(h) = self.hosts.get(&target).cloned() else {
            return;
        };
        let at = now + (self.delay)(target, now.as_nanos()) * 2;
        if let Some(reply) = reply(self.link, &h, target, frame) {
            self.deliver(at, reply);
        }
    }

    fn next(&self) -> Option<Instant> {
        self.inbox
            .keys()
            .next()
            .map(|(t, _)| Instant::from_nanos(*t))
    }
}

fn ipv4_frame(link: Link, src: Ipv4Addr, dst: Ipv4Addr, proto: IpNumber, l4: &[u8]) -> Vec<u8> {
    let mut ip = Ipv4Header::new(l4.len() as u16, 64, proto, src.octets(), dst.octets()).unwrap();
    ip.header_checksum = ip.calc_header_checksum();
    let mut v = Vec::new();
    if link == Link::Ethernet {
        v.extend_from_slice(
            &Ethernet2Header {
                source: mac_of(src),
                destination: US,
                ether_type: EtherType::IPV4,
            }
            .to_bytes(),
        );
    }
    v.extend_from_slice(&ip.to_bytes());
    v.extend_from_slice(l4);
    v
}

fn snmp_response(rid: [u8; 4]) -> Vec<u8> {
    let mut m = vec![
        0x30, 27, 0x02, 1, 1, 0x04, 6, b'p', b'u', b'b', b'l', b'i', b'c', 0xa2, 14, 0x02, 4,
    ];
    m.extend_from_slice(&rid);
    m.extend_from_slice(&[0x02, 1, 0, 0x02, 1, 0, 0x30, 0]);
    m
}

/// What a host of kind `h` answers to `frame`.
fn reply(link: Link, h: &Host, me: Ipv4Addr, frame: &[u8]) -> Option<Vec<u8>> {
    let off = if link == Link::Ethernet { 14 } else { 0 };
    if link == Link::Ethernet && frame[12..14] == [0x08, 0x06] {
        if !h.arp {
            return None;
        }
        let arp = ArpEthIpv4Packet {
            operation: ArpOperation::REPLY,
            sender_mac: mac_of(me),
            sender_ipv4: me.octets(),
            target_mac: frame[22..28].try_into().unwrap(),
            target_ipv4: frame[28..32].try_into().unwrap(),
        };
        let mut v = Ethernet2Header {
            source: mac_of(me),
            destination: US,
            ether_type: EtherType::ARP,
        }
        .to_bytes()
        .to_vec();
        v.extend_from_slice(&arp.to_bytes());
        return Some(v);
    }
    let ip = &frame[off..];
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let l4 = &ip[20..];
    match ip[9] {
        1 if h.icmp => {
            let id = u16::from_be_bytes([l4[4], l4[5]]);
            let seq = u16::from_be_bytes([l4[6], l4[7]]);
            let icmp =
                Icmpv4Header::with_checksum(Icmpv4Type::EchoReply(IcmpEchoHeader { id, seq }), &[]);
            Some(ipv4_frame(link, me, src, IpNumber::ICMP, &icmp.to_bytes()))
        }
        6 => {
            let sport = u16::from_be_bytes([l4[0], l4[1]]);
            let dport = u16::from_be_bytes([l4[2], l4[3]]);
            let seq = u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]);
            let mut t = TcpHeader::new(dport, sport, 777, 1000);
            t.ack = true;
            t.acknowledgment_number = seq.wrapping_add(1);
            if h.open.contains(&dport) {
                t.syn = true;
            } else if h.rst {
                t.rst = true;
            } else {
                return None;
            }
            t.checksum = t
                .calc_checksum_ipv4_raw(me.octets(), src.octets(), &[])
                .unwrap();
            Some(ipv4_frame(link, me, src, IpNumber::TCP, &t.to_bytes()))
        }
        17 if h.snmp => {
            let sport = u16::from_be_bytes([l4[0], l4[1]]);
            let payload = &l4[8..];
            let rid: [u8; 4] = payload[17..21].try_into().unwrap();
            let body = snmp_response(rid);
            let mut u = UdpHeader {
                source_port: 161,
                destination_port: sport,
                length: 8 + body.len() as u16,
                checksum: 0,
            };
            u.checksum = u
                .calc_checksum_ipv4_raw(me.octets(), src.octets(), &body)
                .unwrap();
            let mut l = u.to_bytes().to_vec();
            l.extend_from_slice(&body);
            Some(ipv4_frame(link, me, src, IpNumber::UDP, &l))
        }
        _ => None,
    }
}

struct Outcome {
    replies: Vec<(Ipv4Addr, Method, Option<Mac>)>,
    done: Vec<(Ipv4Addr, bool, u8)>,
    no_route: Vec<Ipv4Addr>,
    stats: Stats,
    end: Instant,
    max_inflight_events: usize,
}

impl Outcome {
    fn up(&self) -> HashSet<Ipv4Addr> {
        self.replies.iter().map(|r| r.0).collect()
    }
}

fn run<const T: usize, const W: usize>(
    eng: &mut Engine<T, W>,
    net: &mut Net,
    extra: &mut dyn FnMut(Instant, &mut Engine<T, W>),
) -> Outcome {
    let mut now = Instant::from_millis(1);
    let mut buf = [0u8; 1600];
    let mut out = Outcome {
        replies: vec![],
        done: vec![],
        no_route: vec![],
        stats: Stats::default(),
        end: now,
        max_inflight_events: 0,
    };
    let drain = |eng: &mut Engine<T, W>, out: &mut Outcome| {
        let mut n = 0;
        while let Some(e) = eng.poll_event() {
            n += 1;
            match e {
                Event::Reply {
                    ip, method, mac, ..
                } => out.replies.push((ip, method, mac)),
                Event::Done {
                    ip,
                    answered,
                    rounds,
                } => out.done.push((ip, answered, rounds)),
                Event::NoRoute { ip } => out.no_route.push(ip),
            }
        }
        out.max_inflight_events = out.max_inflight_events.max(n);
    };
    for _ in 0..5_000_000 {
        while let Some(t) = eng.poll_transmit(now, &mut buf) {
            net.on_tx(now, &buf[..t.len]);
        }
        drain(eng, &mut out);
        extra(now, eng);
        drain(eng, &mut out);
        if eng.is_finished() {
            // Let stragglers in flight arrive too (late replies still count).
            while let Some(t) = net.next() {
                let ((_, _), f) = net.inbox.pop_first().unwrap();
                eng.handle_rx(t, 0, &f);
                drain(eng, &mut out);
            }
            out.stats = *eng.stats();
            out.end = now;
            return out;
        }
        let next = [eng.poll_timeout(), net.next()]
            .into_iter()
            .flatten()
            .min()
            .expect("engine not finished but idle");
        now = now.max(next);
        while net.next().is_some_and(|t| t <= now) {
            let (_, f) = net.inbox.pop_first().unwrap();
            eng.handle_rx(now, 0, &f);
            drain(eng, &mut out);
        }
    }
    panic!(
        "simulation did not finish: now={now:?} stats={:?} timeout={:?}",
        eng.stats(),
        eng.poll_timeout()
    );
}

fn lan(n_live: u8) -> (HashMap<Ipv4Addr, Host>, AddrSet<4>) {
    let mut hosts = HashMap::new();
    for i in 0..n_live {
        hosts.insert(
            Ipv4Addr::new(198, 18, 0, 10 + i),
            Host {
                arp: true,
                icmp: true,
                rst: true,
                ..Host::default()
            },
        );
    }
    let mut set = AddrSet::new();
    set.insert("198.18.0.0/24".parse().unwrap()).unwrap();
    set.remove("198.18.0.1".parse().unwrap()).unwrap(); // ourselves
    (hosts, set)
}

fn eth_iface() -> Iface {
    Iface {
        link: Link::Ethernet,
        mac: US,
        ip: US_IP,
    }
}

fn onlink_route() -> Route {
    Route {
        dst: "198.18.0.0/24".parse().unwrap(),
        prefix: 24,
        iface: 0,
        via: Via::OnLink,
    }
}

fn routed() -> Route {
    Route {
        dst: "198.19.0.0/16".parse().unwrap(),
        prefix: 16,
        iface: 0,
        via: Via::Gateway {
            ip: Ipv4Addr::new(198, 18, 0, 254),
            mac: GW_MAC,
        },
    }
}

#[test]
fn finds_every_host_of_a_lan_with_arp_once_each() {
    let (hosts, set) = lan(200);
    let mut net = Net::new(hosts.clone());
    let mut eng: Engine<4, 1024> =
        Engine::new(Config::default(), &[eth_iface()], &[onlink_route()], set).unwrap();
    let o = run(&mut eng, &mut net, &mut |_, _| {});
    let want: HashSet<_> = hosts.keys().copied().collect();
    assert_eq!(o.up(), want);
    assert!(
        o.replies
            .iter()
            .all(|r| r.1 == Method::Arp && r.2 == Some(mac_of(r.0)))
    );
    // 255 targets, 55 silent ones retried once: 310 frames, all ARP.
    assert_eq!(o.stats.sent, 255 + 55);
    assert_eq!(o.stats.sent_arp, o.stats.sent);
    assert_eq!(o.stats.retried, 55);
    assert_eq!(o.done.len(), 255);
    assert_eq!(o.done.iter().filter(|d| d.1).count(), 200);
    assert!(
        o.done.iter().filter(|d| !d.1).all(|d| d.2 == 2),
        "silent targets get exactly 2 rounds"
    );
    // 310 frames at 10k pps, then two floor timeouts (50 ms): well under half a second.
    assert!(o.end < Instant::from_millis(200), "took {:?}", o.end);
    assert_eq!(o.stats.events_lost, 0);
}

#[test]
fn lost_probes_are_retried_and_found() {
    let (hosts, set) = lan(200);
    let mut net = Net::new(hosts.clone());
    // The first ARP request to every third host is lost.
    net.drop = Box::new(|ip, k| k == 0 && ip.octets()[3] % 3 == 0);
    let mut eng: Engine<4, 1024> =
        Engine::new(Config::default(), &[eth_iface()], &[onlink_route()], set).unwrap();
    let o = run(&mut eng, &mut net, &mut |_, _| {});
    assert_eq!(o.up(), hosts.keys().copied().collect());
    let lost = hosts.keys().filter(|ip| ip.octets()[3] % 3 == 0).count() as u64;
    assert_eq!(o.stats.retried, 55 + lost);
}

#[test]
fn two_losses_with_one_retry_miss_the_host_and_say_so() {
    let (hosts, set) = lan(10);
    let mut net = Net::new(hosts);
    let victim = Ipv4Addr::new(198, 18, 0, 12);
    net.drop = Box::new(move |ip, _| ip == victim);
    let mut eng: Engine<4, 1024> =
        Engine::new(Config::default(), &[eth_iface()], &[onlink_route()], set).unwrap();
    let o = run(&mut eng, &mut net, &mut |_, _| {});
    assert!(!o.up().contains(&victim));
    assert_eq!(o.up().len(), 9);
    assert!(o.done.contains(&(victim, false, 2)));
}

#[test]
fn reordered_and_duplicated_replies_count_once() {
    let (hosts, set) = lan(200);
    let mut net = Net::new(hosts.clone());
    net.dup = true;
    // Delays from 0.1 to 20 ms, scrambled: replies arrive out of order.
    net.delay = Box::new(|ip, t| {
        Duration::from_micros(100 + (u64::from(u32::from(ip)) * 7919 + t / 1000) % 10_000)
    });
    let mut eng: Engine<4, 1024> =
        Engine::new(Config::default(), &[eth_iface()], &[onlink_route()], set).unwrap();
    let o = run(&mut eng, &mut net, &mut |_, _| {});
    assert_eq!(o.up(), hosts.keys().copied().collect());
    assert_eq!(
        o.stats.answered, 200,
        "each host answered once as far as the engine is concerned"
    );
    assert!(
        o.replies.len() >= 400,
        "duplicates are still reported as replies: {}",
        o.replies.len()
    );
    assert_eq!(o.done.iter().filter(|d| d.1).count(), 200);
    assert_eq!(o.done.len(), 255, "every target retired exactly once");
    let uniq: HashSet<_> = o.done.iter().map(|d| d.0).collect();
    assert_eq!(uniq.len(), 255);
}

#[test]
fn forged_replies_are_ignored() {
    let (hosts, set) = lan(5);
    let mut net = Net::new(hosts);
    let mut eng: Engine<4, 1024> = Engine::new(
        Config::default(),
        &[eth_iface()],
        &[onlink_route(), routed()],
        set,
    )
    .unwrap();
    let mut injected = false;
    let o = run(&mut eng, &mut net, &mut |now, eng| {
        if injected {
            return;
        }
        injected = true;
        let ghost = Ipv4Addr::new(198, 18, 0, 200); // a target with no host
        // ARP reply for a target, but addressed to another IP than ours.
        let arp = ArpEthIpv4Packet {
            operation: ArpOperation::REPLY,
            sender_mac: mac_of(ghost),
            sender_ipv4: ghost.octets(),
            target_mac: US,
            target_ipv4: [198, 18, 0, 99],
        };
        let mut f = Ethernet2Header {
            source: mac_of(ghost),
            destination: US,
            ether_type: EtherType::ARP,
        }
        .to_bytes()
        .to_vec();
        f.extend_from_slice(&arp.to_bytes());
        eng.handle_rx(now, 0, &f);
        // ARP reply from outside the target set.
        let outsider = Ipv4Addr::new(198, 18, 1, 7);
        let arp2 = ArpEthIpv4Packet {
            sender_ipv4: outsider.octets(),
            target_ipv4: US_IP.octets(),
            ..arp
        };
        let mut f = Ethernet2Header {
            source: mac_of(outsider),
            destination: US,
            ether_type: EtherType::ARP,
        }
        .to_bytes()
        .to_vec();
        f.extend_from_slice(&arp2.to_bytes());
        eng.handle_rx(now, 0, &f);
        // Echo reply with a wrong cookie.
        let icmp = Icmpv4Header::with_checksum(
            Icmpv4Type::EchoReply(IcmpEchoHeader { id: 1, seq: 1 }),
            &[],
        );
        eng.handle_rx(
            now,
            0,
            &ipv4_frame(
                Link::Ethernet,
                ghost,
                US_IP,
                IpNumber::ICMP,
                &icmp.to_bytes(),
            ),
        );
        // SYN-ACK with a wrong ack number, to our port.
        let mut t = TcpHeader::new(80, Config::default().sport, 5, 100);
        t.syn = true;
        t.ack = true;
        t.acknowledgment_number = 12345;
        eng.handle_rx(
            now,
            0,
            &ipv4_frame(Link::Ethernet, ghost, US_IP, IpNumber::TCP, &t.to_bytes()),
        );
        // SNMP response with a wrong request-id.
        let body = snmp_response([0, 0, 0, 9]);
        let u = UdpHeader {
            source_port: 161,
            destination_port: Config::default().sport,
            length: 8 + body.len() as u16,
            checksum: 0,
        };
        let mut l = u.to_bytes().to_vec();
        l.extend_from_slice(&body);
        eng.handle_rx(
            now,
            0,
            &ipv4_frame(Link::Ethernet, ghost, US_IP, IpNumber::UDP, &l),
        );
        // Garbage of every length.
        for n in 0..80 {
            eng.handle_rx(now, 0, &vec![0xa5; n]);
        }
    });
    assert_eq!(o.up().len(), 5);
    assert!(!o.up().contains(&Ipv4Addr::new(198, 18, 0, 200)));
    assert!(o.stats.ignored >= 85);
}

#[test]
fn a_silent_network_ends_in_bounded_time() {
    let mut set: AddrSet<4> = AddrSet::new();
    set.insert("198.18.0.0/22".parse().unwrap()).unwrap();
    let mut net = Net::new(HashMap::new());
    let route = Route {
        dst: "198.18.0.0/22".parse().unwrap(),
        prefix: 22,
        iface: 0,
        via: Via::OnLink,
    };
    let mut eng: Engine<4, 1024> =
        Engine::new(Config::default(), &[eth_iface()], &[route], set).unwrap();
    let o = run(&mut eng, &mut net, &mut |_, _| {});
    assert!(o.replies.is_empty());
    assert_eq!(o.done.len(), 1024);
    assert_eq!(o.stats.sent, 2048);
    // 2048 frames at 10k pps plus the initial timeout (250 ms) twice.
    assert!(o.end < Instant::from_millis(900), "took {:?}", o.end);
}

#[test]
fn routed_targets_are_never_arped_and_go_through_the_gateway() {
    let mut hosts = HashMap::new();
    // 198.19.0.10: ICMP only; .11: TCP 22 open only (no RST elsewhere); .12: RST only;
    // .13: SNMP only; .14: nothing.
    hosts.insert(
        Ipv4Addr::new(198, 19, 0, 10),
        Host {
            icmp: true,
            ..Host::default()
        },
    );
    hosts.insert(
        Ipv4Addr::new(198, 19, 0, 11),
        Host {
            open: vec![22],
            ..Host::default()
        },
    );
    hosts.insert(
        Ipv4Addr::new(198, 19, 0, 12),
        Host {
            rst: true,
            ..Host::default()
        },
    );
    hosts.insert(
        Ipv4Addr::new(198, 19, 0, 13),
        Host {
            snmp: true,
            ..Host::default()
        },
    );
    hosts.insert(Ipv4Addr::new(198, 19, 0, 14), Host::default());
    let mut net = Net::new(hosts);
    let mut set: AddrSet<4> = AddrSet::new();
    set.insert("198.19.0.0/24".parse().unwrap()).unwrap();
    let mut eng: Engine<4, 256> = Engine::new(
        Config::default(),
        &[eth_iface()],
        &[onlink_route(), routed()],
        set,
    )
    .unwrap();
    let o = run(&mut eng, &mut net, &mut |_, _| {});
    let up = o.up();
    let want: HashSet<_> = (10..=13).map(|i| Ipv4Addr::new(198, 19, 0, i)).collect();
    assert_eq!(up, want);
    assert!(
        o.replies
            .contains(&(Ipv4Addr::new(198, 19, 0, 11), Method::Tcp(22), None))
    );
    assert!(
        o.replies
            .contains(&(Ipv4Addr::new(198, 19, 0, 13), Method::Snmp, None))
    );
    assert_eq!(o.stats.sent_arp, 0);
    for f in &net.log {
        assert_eq!(&f[0..6], &GW_MAC, "routed frame not sent to the gateway");
        assert_eq!(&f[12..14], &[0x08, 0x00]);
    }
    // A silent host gets every probe (icmp + 12 tcp + snmp), then a retry round of
    // icmp, 4 tcp ports and snmp; a host that answered stops getting probes.
    let per_round: u32 = 1 + DEFAULT_PORTS.len() as u32 + 1;
    assert_eq!(
        net.sent_to[&Ipv4Addr::new(198, 19, 0, 14)],
        per_round + 1 + RETRY_PORTS as u32 + 1
    );
    assert!(net.sent_to[&Ipv4Addr::new(198, 19, 0, 10)] <= per_round);
}

#[test]
fn raw_ip_links_carry_bare_ip_probes() {
    let mut hosts = HashMap::new();
    hosts.insert(
        Ipv4Addr::new(198, 19, 9, 2),
        Host {
            icmp: true,
            ..Host::default()
        },
    );
    let mut net = Net::new(hosts);
    net.link = Link::RawIp;
    let mut set: AddrSet<4> = AddrSet::new();
    set.insert("198.19.9.0/29".parse().unwrap()).unwrap();
    let iface = Iface {
        link: Link::RawIp,
        mac: [0; 6],
        ip: Ipv4Addr::new(198, 19, 9, 1),
    };
    let route = Route {
        dst: "198.19.9.0/29".parse().unwrap(),
        prefix: 29,
        iface: 0,
        via: Via::OnLink,
    };
    let mut eng: Engine<4, 64> = Engine::new(Config::default(), &[iface], &[route], set).unwrap();
    let o = run(&mut eng, &mut net, &mut |_, _| {});
    assert_eq!(o.up(), [Ipv4Addr::new(198, 19, 9, 2)].into_iter().collect());
    assert!(
        net.log.iter().all(|f| f[0] >> 4 == 4),
        "every frame is a bare IPv4 packet"
    );
}

#[test]
fn targets_without_a_route_are_reported_not_probed() {
    let mut set: AddrSet<4> = AddrSet::new();
    set.insert("198.18.0.0/30".parse().unwrap()).unwrap();
    set.insert("198.19.200.0/30".parse().unwrap()).unwrap();
    let mut net = Net::new(HashMap::new());
    let mut eng: Engine<4, 64> =
        Engine::new(Config::default(), &[eth_iface()], &[onlink_route()], set).unwrap();
    let o = run(&mut eng, &mut net, &mut |_, _| {});
    assert_eq!(o.no_route.len(), 4);
    assert_eq!(o.stats.sent, 8);
}

#[test]
fn the_rate_limit_holds() {
    let (hosts, set) = lan(0);
    let mut net = Net::new(hosts);
    let cfg = Config {
        rate: 1000,
        burst: 1,
        retries: 0,
        ..Config::default()
    };
    let mut eng: Engine<4, 1024> =
        Engine::new(cfg, &[eth_iface()], &[onlink_route()], set).unwrap();
    let mut times = Vec::new();
    let _ = run(&mut eng, &mut net, &mut |_, _| {});
    // Re-run, recording send times.
    let (hosts, set) = lan(0);
    let mut net2 = Net::new(hosts);
    let mut eng: Engine<4, 1024> = Engine::new(
        Config {
            rate: 1000,
            burst: 1,
            retries: 0,
            ..Config::default()
        },
        &[eth_iface()],
        &[onlink_route()],
        set,
    )
    .unwrap();
    let mut now = Instant::from_millis(0);
    let mut buf = [0u8; 128];
    for _ in 0..100_000 {
        while let Some(t) = eng.poll_transmit(now, &mut buf) {
            times.push(now);
            net2.on_tx(now, &buf[..t.len]);
        }
        while eng.poll_event().is_some() {}
        if eng.is_finished() {
            break;
        }
        now = eng.poll_timeout().unwrap().max(now);
    }
    assert_eq!(times.len(), 255);
    for w in times.windows(2) {
        assert!(
            w[1].since(w[0]) >= Duration::from_micros(999),
            "{:?} then {:?}",
            w[0],
            w[1]
        );
    }
}

#[test]
fn timeouts_adapt_to_measured_rtt() {
    let (hosts, set) = lan(200);
    let mut net = Net::new(hosts);
    net.delay = Box::new(|_, _| Duration::from_millis(150)); // 300 ms round trip
    let mut eng: Engine<4, 1024> =
        Engine::new(Config::default(), &[eth_iface()], &[onlink_route()], set).unwrap();
    let o = run(&mut eng, &mut net, &mut |_, _| {});
    // With the initial 250 ms timeout the first replies come "late", after a retry
    // went out; later ones are sampled and the timeout grows past the RTT.
    assert_eq!(o.up().len(), 200);
    assert!(
        eng.timeout(0) >= Duration::from_millis(300),
        "{:?}",
        eng.timeout(0)
    );
    assert!(eng.timeout(0) <= Config::default().max_timeout);

    let (hosts, set) = lan(200);
    let mut net = Net::new(hosts);
    net.delay = Box::new(|_, _| Duration::from_micros(50));
    let mut eng: Engine<4, 1024> =
        Engine::new(Config::default(), &[eth_iface()], &[onlink_route()], set).unwrap();
    let _ = run(&mut eng, &mut net, &mut |_, _| {});
    assert_eq!(
        eng.timeout(0),
        Config::default().min_timeout,
        "fast network: the floor holds"
    );
}

#[test]
fn memory_does_not_depend_on_the_target_set() {
    // The engine type is sized by its window, never by the number of targets.
    let size = core::mem::size_of::<Engine<8, 1024>>();
    assert!(size < 64 * 1024, "engine is {size} bytes");
    // A /16, mostly empty, runs to completion within that state.
    let mut hosts = HashMap::new();
    for i in [5u16, 300, 4000, 65000] {
        hosts.insert(
            Ipv4Addr::from(0xC612_0000 + u32::from(i)),
            Host {
                arp: true,
                ..Host::default()
            },
        );
    }
    let mut set: AddrSet<8> = AddrSet::new();
    set.insert("198.18.0.0/16".parse().unwrap()).unwrap();
    let route = Route {
        dst: Range::cidr(Ipv4Addr::new(198, 18, 0, 0), 16).unwrap(),
        prefix: 16,
        iface: 0,
        via: Via::OnLink,
    };
    let mut net = Net::new(hosts.clone());
    let mut eng: Engine<8, 1024> = Engine::new(
        Config {
            rate: 100_000,
            ..Config::default()
        },
        &[eth_iface()],
        &[route],
        set,
    )
    .unwrap();
    let o = run(&mut eng, &mut net, &mut |_, _| {});
    assert_eq!(o.up(), hosts.keys().copied().collect());
    assert_eq!(o.done.len(), 65536);
}

/// A routed host that answers only on 443 and 5985 (no ICMP, no RST) and loses every
/// probe of the first round is found by the retry round, which re-probes 443 (a
/// preferred port) but not 5985 (the retry round is ICMP, 443, 80, 22, 445 and SNMP).
#[test]
fn the_retry_round_reprobes_the_preferred_ports() {
    let mut hosts = HashMap::new();
    for (i, open) in [(20u8, vec![443, 5985]), (21, vec![5985])] {
        hosts.insert(
            Ipv4Addr::new(198, 19, 0, i),
            Host {
                open,
                ..Host::default()
            },
        );
    }
    let mut net = Net::new(hosts);
    // The whole first round (icmp, 12 ports, snmp: 14 probes) is lost.
    net.drop = Box::new(|_, k| k < 14);
    let mut set: AddrSet<4> = AddrSet::new();
    set.insert("198.19.0.20-198.19.0.21".parse().unwrap())
        .unwrap();
    let mut eng: Engine<4, 256> = Engine::new(
        Config::default(),
        &[eth_iface()],
        &[onlink_route(), routed()],
        set,
    )
    .unwrap();
    let o = run(&mut eng, &mut net, &mut |_, _| {});
    assert_eq!(
        o.up(),
        [Ipv4Addr::new(198, 19, 0, 20)].into_iter().collect()
    );
    assert!(
        o.replies
            .contains(&(Ipv4Addr::new(198, 19, 0, 20), Method::Tcp(443), None))
    );
    // 14 + 6 to the silent one.
    assert_eq!(net.sent_to[&Ipv4Addr::new(198, 19, 0, 21)], 14 + 6);
}
