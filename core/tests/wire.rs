//! Wire formats: emitted probes parse back, checksums verify, odd and short input is
//! classified or refused without panicking.
use core::net::Ipv4Addr;
use ksocket_core::wire::*;

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const MA: Mac = [2, 0, 0, 0, 0, 1];
const MB: Mac = [2, 0, 0, 0, 0, 2];

/// RFC 1071 ones' complement sum, folded.
fn csum(data: &[u8], init: u32) -> u16 {
    let mut s = init;
    for c in data.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

fn pseudo(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: usize) -> u32 {
    let (s, d) = (src.octets(), dst.octets());
    u32::from(u16::from_be_bytes([s[0], s[1]]))
        + u32::from(u16::from_be_bytes([s[2], s[3]]))
        + u32::from(u16::from_be_bytes([d[0], d[1]]))
        + u32::from(u16::from_be_bytes([d[2], d[3]]))
        + u32::from(proto)
        + len as u32
}

#[test]
fn arp_request_bytes() {
    let mut buf = [0u8; 64];
    let n = emit_arp_request(&mut buf, MA, A, B).unwrap();
    assert_eq!(n, 60);
    assert_eq!(
        &buf[..14],
        &[
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06
        ]
    );
    assert_eq!(&buf[14..22], &[0, 1, 0x08, 0, 6, 4, 0, 1]);
    assert_eq!(&buf[22..28], &MA);
    assert_eq!(&buf[28..32], &A.octets());
    assert_eq!(&buf[32..38], &[0; 6]);
    assert_eq!(&buf[38..42], &B.octets());
    assert!(buf[42..60].iter().all(|&b| b == 0));
    let f = parse(Link::Ethernet, &buf[..n]).unwrap();
    assert_eq!(
        f.packet,
        Packet::Arp {
            op: 1,
            sender_mac: MA,
            sender_ip: A,
            target_mac: [0; 6],
            target_ip: B
        }
    );
    assert_eq!(
        emit_arp_request(&mut buf[..59], MA, A, B),
        Err(Error::BufferTooSmall)
    );
}

#[test]
fn syn_probe_checksums_verify() {
    let mut buf = [0u8; 128];
    let n = emit_ipv4(
        &mut buf,
        Some((MA, MB)),
        A,
        B,
        7,
        Probe::Syn {
            sport: 40000,
            dport: 22,
            seq: 0xdeadbeef,
        },
    )
    .unwrap();
    assert_eq!(n, 60, "14 + 20 + 24 = 58, padded to the Ethernet minimum");
    let ip = &buf[14..14 + 44];
    assert_eq!(&buf[58..60], &[0, 0]);
    assert_eq!(ip[0], 0x45);
    assert_eq!(csum(&ip[..20], 0), 0xffff, "IPv4 header checksum");
    let tcp = &ip[20..];
    assert_eq!(
        csum(tcp, pseudo(A, B, 6, tcp.len())),
        0xffff,
        "TCP checksum"
    );
    assert_eq!(tcp[13], 0x02, "SYN only");
    assert_eq!(&tcp[20..24], &[2, 4, 0x05, 0xb4], "MSS 1460");
    let f = parse(Link::Ethernet, &buf[..n]).unwrap();
    assert_eq!(f.dst_mac, Some(MB));
    assert!(matches!(
        f.packet,
        Packet::Tcp {
            sport: 40000,
            dport: 22,
            seq: 0xdeadbeef,
            flags: 2,
            ..
        }
    ));
}

#[test]
fn echo_and_udp_probes_on_raw_ip() {
    let mut buf = [0u8; 128];
    let n = emit_ipv4(
        &mut buf,
        None,
        A,
        B,
        9,
        Probe::Echo {
            id: 0x1234,
            seq: 0x5678,
        },
    )
    .unwrap();
    assert_eq!(n, 28, "no padding without a link layer");
    assert_eq!(&buf[20..22], &[8, 0]);
    assert_eq!(csum(&buf[20..28], 0), 0xffff);
    let p = snmp_probe(0x8000_0042);
    let n = emit_ipv4(
        &mut buf,
        None,
        A,
        B,
        9,
        Probe::Udp {
            sport: 40000,
            dport: 161,
            payload: &p,
        },
    )
    .unwrap();
    assert_eq!(n, 20 + 8 + SNMP_PROBE_LEN);
    let udp = &buf[20..n];
    assert_eq!(
        csum(udp, pseudo(A, B, 17, udp.len())),
        0xffff,
        "UDP checksum"
    );
    match parse(Link::RawIp, &buf[..n]).unwrap().packet {
        Packet::Udp {
            dport: 161,
            payload,
            ..
        } => assert_eq!(snmp_request_id(payload), Some(0x42)),
        p => panic!("{p:?}"),
    }
}

#[test]
fn unreachable_quotes_the_probe() {
    // A port unreachable from B, quoting our UDP probe A:40000 -> B:161.
    let mut probe = [0u8; 128];
    let p = snmp_probe(1);
    let n = emit_ipv4(
        &mut probe,
        None,
        A,
        B,
        3,
        Probe::Udp {
            sport: 40000,
            dport: 161,
            payload: &p,
        },
    )
    .unwrap();
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&probe[..28]); // IP header + 8 bytes, as RFC 792 asks
    let c = !csum(&icmp, 0);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut pkt = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0];
    pkt.extend_from_slice(&B.octets());
    pkt.extend_from_slice(&A.octets());
    let total = (20 + icmp.len()) as u16;
    pkt[2..4].copy_from_slice(&total.to_be_bytes());
    let hc = !csum(&pkt, 0);
    pkt[10..12].copy_from_slice(&hc.to_be_bytes());
    pkt.extend_from_slice(&icmp);
    let _ = n;
    match parse(Link::RawIp, &pkt).unwrap().packet {
        Packet::Unreachable {
            src,
            code: 3,
            quote,
            ..
        } => {
            assert_eq!(src, B);
            assert_eq!(
                quote,
                Quote {
                    src: A,
                    dst: B,
                    protocol: 17,
                    a: 40000,
                    b: 161
                }
            );
        }
        p => panic!("{p:?}"),
    }
}

#[test]
fn short_and_odd_input_never_panics() {
    let mut buf = [0u8; 128];
    let n = emit_ipv4(
        &mut buf,
        Some((MA, MB)),
        A,
        B,
        7,
        Probe::Syn {
            sport: 1,
            dport: 2,
            seq: 3,
        },
    )
    .unwrap();
    for cut in 0..n {
        let _ = parse(Link::Ethernet, &buf[..cut]);
        let _ = parse(Link::RawIp, &buf[14..14 + cut.min(44)]);
    }
    // SYN+FIN is reported as seen.
    buf[14 + 20 + 13] = 0x03;
    assert!(matches!(
        parse(Link::Ethernet, &buf[..n]).unwrap().packet,
        Packet::Tcp { flags: 3, .. }
    ));
    assert_eq!(parse(Link::Ethernet, &[]), Err(Error::Truncated));
    for bad in [
        &[][..],
        &[0x30][..],
        &[0x30, 0x80][..],
        &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff][..],
        &[0x30, 2, 2, 0][..],
    ] {
        assert_eq!(snmp_request_id(bad), None);
    }
}
