//! Tests of the DNS message writer and reader.

use super::*;

fn query(q: QName<'_>, qtype: u16, flags: QueryFlags) -> ([u8; 300], usize) {
    let mut b = [0u8; 300];
    let n = write_query(&mut b, 0x1234, q, qtype, flags).unwrap();
    (b, n)
}

#[test]
fn reverse_queries_are_written_as_dig_writes_them() {
    let (b, n) = query(
        QName::Reverse(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 20))),
        TYPE_PTR,
        QueryFlags {
            recursion: true,
            unicast_response: false,
        },
    );
    let want: &[u8] = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\
        \x0220\x010\x0218\x03198\x07in-addr\x04arpa\x00\x00\x0c\x00\x01";
    assert_eq!(&b[..n], want);
    let m = Message::parse(&b[..n]).unwrap();
    let q = m.question().unwrap();
    assert_eq!(
        q.name.reverse_addr(),
        Some(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 20)))
    );
    assert!(q.name.is("20.0.18.198.in-addr.arpa."));
    assert!(!q.name.is("20.0.18.198.in-addr"));
    let mut t = [0u8; MAX_NAME];
    assert_eq!(q.name.text(&mut t).unwrap(), "20.0.18.198.in-addr.arpa");

    let v6: Ipv6Addr = "2001:2::1:abcd".parse().unwrap();
    let (b, n) = query(
        QName::Reverse(IpAddr::V6(v6)),
        TYPE_PTR,
        QueryFlags {
            recursion: false,
            unicast_response: true,
        },
    );
    let m = Message::parse(&b[..n]).unwrap();
    let q = m.question().unwrap();
    assert_eq!(q.class, CLASS_IN | QU);
    assert_eq!(m.header.flags, 0);
    assert_eq!(
        q.name.text(&mut t).unwrap(),
        "d.c.b.a.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.2.ip6.arpa"
    );
    assert_eq!(q.name.reverse_addr(), Some(IpAddr::V6(v6)));

    let (b, n) = query(QName::Services, TYPE_PTR, QueryFlags::default());
    let m = Message::parse(&b[..n]).unwrap();
    assert!(
        m.question()
            .unwrap()
            .name
            .is("_services._dns-sd._udp.local")
    );
    assert_eq!(m.question().unwrap().name.reverse_addr(), None);
    let (b2, n2) = query(
        QName::Text("_services._dns-sd._udp.local."),
        TYPE_PTR,
        QueryFlags::default(),
    );
    assert_eq!(&b[..n], &b2[..n2]);
}

#[test]
fn bad_query_names_and_small_buffers_are_refused() {
    let mut b = [0u8; 600];
    let long = [b'a'; 64];
    let long = core::str::from_utf8(&long).unwrap();
    assert_eq!(
        write_query(
            &mut b,
            1,
            QName::Text(long),
            TYPE_PTR,
            QueryFlags::default()
        ),
        Err(Error::NameTooLong)
    );
    assert_eq!(
        write_query(
            &mut b,
            1,
            QName::Text("a..b"),
            TYPE_PTR,
            QueryFlags::default()
        ),
        Err(Error::Malformed)
    );
    // 5 labels of 63: 320 bytes of name.
    let l63 = [b'x'; 63];
    let l63 = core::str::from_utf8(&l63).unwrap();
    let mut s = [0u8; 5 * 64];
    let mut at = 0;
    for i in 0..5 {
        s[at..at + 63].copy_from_slice(l63.as_bytes());
        at += 63;
        if i < 4 {
            s[at] = b'.';
            at += 1;
        }
    }
    let s = core::str::from_utf8(&s[..at]).unwrap();
    assert_eq!(
        write_query(&mut b, 1, QName::Text(s), TYPE_PTR, QueryFlags::default()),
        Err(Error::NameTooLong)
    );
    let mut small = [0u8; 20];
    assert_eq!(
        write_query(
            &mut small,
            1,
            QName::Services,
            TYPE_PTR,
            QueryFlags::default()
        ),
        Err(Error::BufferTooSmall)
    );
}

/// Hex text to bytes, for the captured answers below.
pub(crate) fn unhex<'b>(s: &str, out: &'b mut [u8]) -> &'b [u8] {
    let b = s.as_bytes();
    let d = |c: u8| (c as char).to_digit(16).unwrap() as u8;
    for i in 0..b.len() / 2 {
        out[i] = d(b[2 * i]) << 4 | d(b[2 * i + 1]);
    }
    &out[..b.len() / 2]
}

/// dnsmasq 2.90 in a lab namespace (`--ptr-record=2.50.18.198.in-addr.arpa,
/// Scanner.Lab.Example`), answering a PTR query for 198.18.50.2 with id 0x4242.
const DNSMASQ_PTR: &str = "42428580000100010000000001320235300231380331393807696e2d61646472046172706100000c0001c00c000c0001000000000015077363616e6e6572036c6162076578616d706c6500";
/// The same dnsmasq for 2001:2::1 (`--host-record=web-1.lab.example,...,2001:2::1`).
const DNSMASQ_PTR6: &str = "4242858000010001000000000131013001300130013001300130013001300130013001300130013001300130013001300130013001300130013001300132013001300130013101300130013203697036046172706100000c0001c00c000c0001000000000013057765622d31036c6162076578616d706c6500";
/// The same dnsmasq for an address it has no name for: REFUSED (rcode 5).
const DNSMASQ_REFUSED: &str =
    "42428185000100000000000001390235300231380331393807696e2d61646472046172706100000c0001";
/// avahi-daemon 0.8 (host-name printer-3) answering a legacy unicast reverse
/// query (QU set, from a port other than 5353) for its 198.18.50.1.
const AVAHI_PTR: &str = "42438400000100010000000001310235300231380331393807696e2d61646472046172706100000c8001c00c000c00010000000a0011097072696e7465722d33056c6f63616c00";
/// The same avahi answering `_services._dns-sd._udp.local` sent to 224.0.0.251.
const AVAHI_SERVICES: &str = "424384000001000200000000095f7365727669636573075f646e732d7364045f756470056c6f63616c00000c8001c00c000c00010000000a000d055f68747470045f746370c023c00c000c00010000000a0007045f697070c040";
/// The same avahi answering `_ipp._tcp.local`: PTR, TXT, SRV, AAAA, A.
const AVAHI_IPP: &str = "424384000001000500000000045f697070045f746370056c6f63616c00000c8001c00c000c00010000000a000e0b4c6162205072696e746572c00cc02d001000010000000a000100c02d002100010000000a0012000000000277097072696e7465722d33c016c05a001c00010000000a0010fe80000000000000fc949afffe7295adc05a000100010000000a0004c6123201";

fn ptrs(hex: &str, id: u16, owner: IpAddr, target: &str) {
    let mut b = [0u8; 512];
    let m = Message::parse(unhex(hex, &mut b)).unwrap();
    assert!(m.header.is_response());
    assert_eq!((m.header.id, m.header.rcode()), (id, 0));
    let mut n = 0;
    for r in m.records() {
        let r = r.unwrap();
        assert!(r.answer);
        assert_eq!(r.name.reverse_addr(), Some(owner));
        let mut t = [0u8; MAX_NAME];
        assert_eq!(r.ptr().unwrap().unwrap().text(&mut t), Ok(target));
        n += 1;
    }
    assert_eq!(n, 1);
}

#[test]
fn captured_reverse_answers() {
    ptrs(
        DNSMASQ_PTR,
        0x4242,
        IpAddr::V4(Ipv4Addr::new(198, 18, 50, 2)),
        "scanner.lab.example",
    );
    ptrs(
        DNSMASQ_PTR6,
        0x4242,
        IpAddr::V6("2001:2::1".parse().unwrap()),
        "web-1.lab.example",
    );
    ptrs(
        AVAHI_PTR,
        0x4243,
        IpAddr::V4(Ipv4Addr::new(198, 18, 50, 1)),
        "printer-3.local",
    );
    let mut b = [0u8; 512];
    let m = Message::parse(unhex(DNSMASQ_REFUSED, &mut b)).unwrap();
    assert_eq!(m.header.rcode(), 5);
    assert_eq!(m.records().count(), 0);
}

#[test]
fn captured_service_enumeration() {
    let mut b = [0u8; 512];
    let m = Message::parse(unhex(AVAHI_SERVICES, &mut b)).unwrap();
    assert!(
        m.question()
            .unwrap()
            .name
            .is("_services._dns-sd._udp.local")
    );
    let mut got = [[0u8; MAX_NAME]; 2];
    let mut lens = [0usize; 2];
    for (i, r) in m.records().enumerate() {
        let r = r.unwrap();
        assert!(r.name.is("_services._dns-sd._udp.local"));
        let mut t = [0u8; MAX_NAME];
        let s = r.ptr().unwrap().unwrap().text(&mut t).unwrap();
        got[i][..s.len()].copy_from_slice(s.as_bytes());
        lens[i] = s.len();
    }
    assert_eq!(&got[0][..lens[0]], b"_http._tcp.local");
    assert_eq!(&got[1][..lens[1]], b"_ipp._tcp.local");

    let m = Message::parse(unhex(AVAHI_IPP, &mut b)).unwrap();
    let mut t = [0u8; MAX_NAME];
    let mut seen = 0;
    for r in m.records() {
        let r = r.unwrap();
        match r.rtype {
            TYPE_PTR => {
                // An instance name holds a space: readable as labels, not as text.
                let n = r.ptr().unwrap().unwrap();
                assert_eq!(n.labels().next().unwrap().unwrap(), b"Lab Printer");
                assert_eq!(n.text(&mut t), Err(Error::Unprintable));
                seen |= 1;
            }
            TYPE_SRV => {
                let n = r.srv_target().unwrap().unwrap();
                assert_eq!(n.text(&mut t), Ok("printer-3.local"));
                seen |= 2;
            }
            TYPE_A => {
                assert_eq!(r.name.text(&mut t), Ok("printer-3.local"));
                assert_eq!(r.addr(), Some(IpAddr::V4(Ipv4Addr::new(198, 18, 50, 1))));
                assert_eq!(r.ttl, 10);
                seen |= 4;
            }
            TYPE_AAAA => {
                assert!(matches!(r.addr(), Some(IpAddr::V6(a)) if a.segments()[0] == 0xfe80));
                seen |= 8;
            }
            _ => assert!(r.ptr().is_none() && r.addr().is_none()),
        }
    }
    assert_eq!(seen, 15);
}

#[test]
fn every_truncation_of_a_captured_answer_is_an_error_not_a_panic() {
    for hex in [
        DNSMASQ_PTR,
        DNSMASQ_PTR6,
        AVAHI_PTR,
        AVAHI_SERVICES,
        AVAHI_IPP,
    ] {
        let mut b = [0u8; 512];
        let full = unhex(hex, &mut b);
        for cut in 0..full.len() {
            let Ok(m) = Message::parse(&full[..cut]) else {
                continue;
            };
            let mut t = [0u8; MAX_NAME];
            let mut failed = false;
            for r in m.records() {
                match r {
                    Ok(r) => {
                        if let Some(Ok(n)) = r.ptr() {
                            let _ = n.text(&mut t);
                        }
                    }
                    Err(_) => failed = true,
                }
            }
            assert!(failed, "{hex} cut at {cut} read whole");
        }
    }
}

#[test]
fn reverse_names_must_be_exact() {
    let mut b = [0u8; 300];
    for (text, want) in [
        ("1.2.3.4.in-addr.arpa", true),
        ("01.2.3.4.in-addr.arpa", false),
        ("256.2.3.4.in-addr.arpa", false),
        ("2.3.4.in-addr.arpa", false),
        ("0.1.2.3.4.in-addr.arpa", false),
        ("1.2.3.4.in-addr.arpa.example", false),
        ("a.2.3.4.in-addr.arpa", false),
        ("1.2.3.4.ip6.arpa", false),
    ] {
        let n = write_query(
            &mut b,
            0,
            QName::Text(text),
            TYPE_PTR,
            QueryFlags::default(),
        )
        .unwrap();
        let m = Message::parse(&b[..n]).unwrap();
        assert_eq!(
            m.question().unwrap().name.reverse_addr().is_some(),
            want,
            "{text}"
        );
    }
}

#[test]
fn hostile_names_are_refused_not_followed() {
    // A pointer to itself.
    let mut m = [0u8; 64];
    m[..12].copy_from_slice(b"\x00\x01\x81\x80\x00\x00\x00\x01\x00\x00\x00\x00");
    m[12..14].copy_from_slice(&[0xc0, 12]);
    let msg = Message::parse(&m[..24]).unwrap();
    assert!(matches!(msg.records().next(), Some(Err(Error::BadPointer))));
    // A forward pointer.
    m[12..14].copy_from_slice(&[0xc0, 20]);
    let msg = Message::parse(&m[..30]).unwrap();
    assert!(matches!(msg.records().next(), Some(Err(Error::BadPointer))));
    // Reserved label types.
    m[12] = 0x40;
    assert!(matches!(
        Message::parse(&m[..30]).unwrap().records().next(),
        Some(Err(Error::Malformed))
    ));
    // Counts that promise more than there is.
    m[..12].copy_from_slice(b"\x00\x01\x81\x80\xff\xff\xff\xff\xff\xff\xff\xff");
    assert_eq!(Message::parse(&m[..12]).unwrap_err(), Error::Truncated);
    assert_eq!(Message::parse(&m[..5]).unwrap_err(), Error::Truncated);
}
