//! SNMP BER: requests encode to the exact bytes other tools send, responses decode,
//! malformed input is refused with a position, and snmp-parser agrees with us.
use ksocket_core::snmp::*;
use ksocket_core::wire::snmp_probe;

fn oid(s: &str) -> OidBuf {
    s.parse().unwrap()
}

#[test]
fn get_request_matches_the_hand_written_probe() {
    let mut buf = [0u8; 128];
    let m = encode_request(
        &mut buf,
        Version::V2c,
        b"public",
        tag::GET,
        0x1234_5678,
        0,
        0,
        &[oid("1.3.6.1.2.1.1.1.0")],
    )
    .unwrap();
    assert_eq!(m, &snmp_probe(0x1234_5678)[..]);
}

#[test]
fn requests_round_trip() {
    let mut buf = [0u8; 512];
    let oids = [
        oid(".1.3.6.1.2.1.2.2.1.2"),
        oid("1.3.6.1.4.1.2636.3.1.2.0"),
        oid("2.999.4294967295.0.127.128.16384"),
    ];
    let m = encode_request(
        &mut buf,
        Version::V2c,
        b"s3cr3t",
        tag::GET_BULK,
        -7,
        0,
        25,
        &oids,
    )
    .unwrap();
    let d = Message::decode(m).unwrap();
    assert_eq!(d.version, Version::V2c);
    assert_eq!(d.community, b"s3cr3t");
    assert_eq!(d.pdu.kind, tag::GET_BULK);
    assert_eq!(d.pdu.request_id, -7);
    assert_eq!((d.pdu.error_status, d.pdu.error_index), (0, 25));
    let got: Vec<String> = d
        .pdu
        .varbinds
        .map(|(o, v)| {
            assert_eq!(v, Value::Null);
            o.to_string()
        })
        .collect();
    assert_eq!(
        got,
        [
            ".1.3.6.1.2.1.2.2.1.2",
            ".1.3.6.1.4.1.2636.3.1.2.0",
            ".2.999.4294967295.0.127.128.16384"
        ]
    );
}

#[test]
fn integers_are_minimal() {
    for (x, want) in [
        (0i64, &[0x02, 1, 0][..]),
        (127, &[2, 1, 127]),
        (128, &[2, 2, 0, 128]),
        (-1, &[2, 1, 0xff]),
        (-129, &[2, 2, 0xff, 0x7f]),
        (i64::from(i32::MAX), &[2, 4, 0x7f, 0xff, 0xff, 0xff]),
    ] {
        let mut buf = [0u8; 16];
        let mut w = Writer::new(&mut buf);
        w.integer(x).unwrap();
        assert_eq!(w.finish(), want, "{x}");
    }
}

/// A response as net-snmp's snmpd sends it: v2c, sysDescr.0 = "Linux", sysUpTime.0,
/// ifPhysAddress.1 (hex), a Counter64, an IpAddress and an endOfMibView.
fn response() -> Vec<u8> {
    let mut vbs = Vec::new();
    let mut push = |o: &[u8], v: &[u8]| {
        let mut vb = vec![0x06, o.len() as u8];
        vb.extend_from_slice(o);
        vb.extend_from_slice(v);
        vbs.push(0x30);
        vbs.push(vb.len() as u8);
        vbs.extend(vb);
    };
    push(
        &[0x2b, 6, 1, 2, 1, 1, 1, 0],
        &[0x04, 5, b'L', b'i', b'n', b'u', b'x'],
    );
    push(&[0x2b, 6, 1, 2, 1, 1, 3, 0], &[0x43, 3, 0x01, 0xe2, 0x40]);
    push(
        &[0x2b, 6, 1, 2, 1, 2, 2, 1, 6, 1],
        &[0x04, 6, 0, 0x11, 0x22, 0x33, 0x44, 0x55],
    );
    push(
        &[0x2b, 6, 1, 2, 1, 31, 1, 1, 1, 6, 1],
        &[0x46, 9, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    );
    push(
        &[0x2b, 6, 1, 2, 1, 4, 20, 1, 1, 0x81, 0x46, 18, 0, 1],
        &[0x40, 4, 198, 18, 0, 1],
    );
    push(&[0x2b, 6, 1, 2, 1, 99], &[0x82, 0]);
    let mut pdu = vec![
        0x02,
        2,
        0x30,
        0x39,
        0x02,
        1,
        0,
        0x02,
        1,
        0,
        0x30,
        0x81,
        vbs.len() as u8,
    ];
    pdu.extend(vbs);
    let mut msg = vec![0x02, 1, 1, 0x04, 6];
    msg.extend_from_slice(b"public");
    msg.push(0xa2);
    msg.push(0x81);
    msg.push(pdu.len() as u8);
    msg.extend(pdu);
    let mut out = vec![0x30, 0x81, msg.len() as u8];
    out.extend(msg);
    out
}

#[test]
fn decodes_a_response_of_every_type() {
    let r = response();
    let m = Message::decode(&r).unwrap();
    assert_eq!(m.pdu.kind, tag::RESPONSE);
    assert_eq!(m.pdu.request_id, 12345);
    let v: Vec<_> = m.pdu.varbinds.collect();
    assert_eq!(v.len(), 6);
    assert_eq!(v[0].1, Value::OctetString(b"Linux"));
    assert_eq!(v[1].1, Value::TimeTicks(123456));
    assert_eq!(
        v[2].1,
        Value::OctetString(&[0, 0x11, 0x22, 0x33, 0x44, 0x55])
    );
    assert_eq!(v[3].1, Value::Counter64(u64::MAX));
    assert_eq!(v[4].1, Value::IpAddress([198, 18, 0, 1]));
    assert_eq!(v[4].0.to_string(), ".1.3.6.1.2.1.4.20.1.1.198.18.0.1");
    assert!(v[4].0.starts_with(&[1, 3, 6, 1, 2, 1, 4, 20]));
    assert_eq!(v[5].1, Value::EndOfMibView);
}

#[test]
fn malformed_input_is_refused_with_a_position() {
    let r = response();
    for cut in 0..r.len() {
        assert!(Message::decode(&r[..cut]).is_err(), "cut at {cut}");
    }
    let mut t = r.clone();
    t.push(0);
    assert_eq!(
        Message::decode(&t).unwrap_err().kind,
        ErrorKind::TrailingData
    );
    let mut ind = r.clone();
    ind[1] = 0x80; // indefinite length
    assert_eq!(
        Message::decode(&ind).unwrap_err(),
        Error {
            kind: ErrorKind::BadLength,
            offset: 1
        }
    );
    let mut v3 = r.clone();
    v3[5] = 3; // version 3 is not v1/v2c
    assert_eq!(
        Message::decode(&v3).unwrap_err().kind,
        ErrorKind::UnexpectedTag
    );
    // Non-minimal long-form length is accepted (agents send them).
    let mut long = vec![0x30, 0x82, 0x00, r[2]];
    long.extend_from_slice(&r[3..]);
    assert!(Message::decode(&long).is_ok());
    assert_eq!(OidBuf::from_str_checked("1.40.1"), Err(ErrorKind::BadOid));
}

trait Checked {
    fn from_str_checked(s: &str) -> Result<OidBuf, ErrorKind>;
}
impl Checked for OidBuf {
    fn from_str_checked(s: &str) -> Result<OidBuf, ErrorKind> {
        s.parse()
    }
}

#[test]
fn snmp_parser_agrees() {
    // The rusticata parser as an oracle for the messages both understand (it refuses
    // negative request-ids, which SNMP allows, so those are not in the sample).
    let mut buf = [0u8; 512];
    let samples: Vec<Vec<u8>> = vec![
        response(),
        encode_request(
            &mut buf,
            Version::V1,
            b"public",
            tag::GET_NEXT,
            99,
            0,
            0,
            &[oid("1.3.6.1.2.1.1")],
        )
        .unwrap()
        .to_vec(),
        encode_request(
            &mut buf,
            Version::V2c,
            b"x",
            tag::GET,
            i32::MAX,
            0,
            0,
            &[oid("1.3.6.1.2.1.1.5.0"), oid("1.3.6.1.2.1.1.6.0")],
        )
        .unwrap()
        .to_vec(),
    ];
    for s in &samples {
        let ours = Message::decode(s).unwrap();
        let parsed = match ours.version {
            Version::V1 => snmp_parser::parse_snmp_v1(s),
            Version::V2c => snmp_parser::parse_snmp_v2c(s),
        };
        let (rest, theirs) = parsed.unwrap();
        assert!(rest.is_empty());
        assert_eq!(ours.community, theirs.community.as_bytes());
        let names: Vec<String> = theirs
            .vars_iter()
            .map(|v| format!(".{}", v.oid.to_id_string()))
            .collect();
        let ours_names: Vec<String> = ours.pdu.varbinds.map(|(o, _)| o.to_string()).collect();
        assert_eq!(names, ours_names);
    }
}

#[allow(clippy::too_many_arguments)]
fn encode_request<'b>(
    buf: &'b mut [u8],
    version: Version,
    community: &[u8],
    kind: u8,
    request_id: i32,
    a: i64,
    b: i64,
    oids: &[OidBuf],
) -> Result<&'b [u8], Error> {
    Request {
        version,
        community,
        kind,
        request_id,
        a,
        b,
    }
    .encode(buf, oids)
}

/// Captured from net-snmp 5.9.3 on loopback: snmpget -v3 -l authPriv's engine-ID
/// discovery probe, and snmpd's Report answering it (usmStatsUnknownEngineIDs).
const NETSNMP_DISCOVERY: &str = "303e02010330110204581715c1020300ffe30401040201030410300e0400020100020100040004000400301404000400a00e02045d3fb2eb0201000201003000";
const NETSNMP_REPORT: &str = "307102010330110204581715c1020300ffe30401000201030421301f041180001f88806cb70e6c34bc046b000000000201010201010400040004003036041180001f88806cb70e6c34bc046b000000000400a81f02045d3fb2eb0201000201003011300f060a2b060106030f01010400410101";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn v3_discovery_and_report_from_net_snmp_decode() {
    let d = unhex(NETSNMP_DISCOVERY);
    assert_eq!(version_of(&d), Some(3));
    let m = V3Message::decode(&d).unwrap();
    assert_eq!(m.flags, flags::REPORTABLE);
    assert_eq!(m.security_model, 3);
    assert!(m.usm.engine_id.is_empty() && m.usm.user.is_empty());
    let ScopedData::Plain(sp) = m.data else {
        panic!("plaintext expected")
    };
    assert_eq!(sp.pdu.kind, tag::GET);
    assert_eq!(sp.pdu.varbinds.count(), 0);

    let r = unhex(NETSNMP_REPORT);
    let m = V3Message::decode(&r).unwrap();
    assert_eq!(m.msg_id, 0x5817_15c1);
    assert_eq!(
        m.usm.engine_id,
        &unhex("80001f88806cb70e6c34bc046b00000000")[..]
    );
    assert_eq!((m.usm.boots, m.usm.time), (1, 1));
    let ScopedData::Plain(sp) = m.data else {
        panic!()
    };
    assert_eq!(sp.pdu.kind, tag::REPORT);
    let (oid, v) = sp.pdu.varbinds.clone().next().unwrap();
    assert_eq!(
        oid.to_string(),
        ".1.3.6.1.6.3.15.1.1.4.0",
        "usmStatsUnknownEngineIDs"
    );
    assert_eq!(v, Value::Counter32(1));
    assert!(Message::decode(&r).is_err(), "not a v1/v2c message");
}

#[test]
fn v3_requests_encode_like_net_snmp_and_round_trip() {
    // Our discovery probe is byte for byte net-snmp's (same msgID and request-id).
    let mut buf = [0u8; 256];
    let req = V3Request::discovery(0x5817_15c1, 0x5d3f_b2eb);
    let (m, _) = req.encode(&mut buf).unwrap();
    assert_eq!(&m[..], &unhex(NETSNMP_DISCOVERY)[..]);

    // An authenticated request: the auth parameters are 12 zero bytes at the offset given.
    let oids = [oid("1.3.6.1.2.1.1.5.0")];
    let req = V3Request {
        msg_id: 7,
        max_size: 65507,
        flags: flags::AUTH | flags::REPORTABLE,
        usm: Usm {
            engine_id: b"\x80\x00\x1f\x88\x80abc",
            boots: 3,
            time: 1234,
            user: b"kstuser",
            auth_params: b"",
            priv_params: b"",
        },
        auth_len: 12,
        data: V3Data::Plain {
            context_engine_id: b"\x80\x00\x1f\x88\x80abc",
            context_name: b"",
            pdu: PduSpec {
                kind: tag::GET_BULK,
                request_id: 42,
                a: 0,
                b: 10,
                oids: &oids,
            },
        },
    };
    let (m, off) = req.encode(&mut buf).unwrap();
    assert_eq!(&m[off..off + 12], &[0u8; 12]);
    m[off] = 0xaa; // the caller writes the HMAC there
    let d = V3Message::decode(m).unwrap();
    assert_eq!(d.auth_params_offset, off);
    assert_eq!(d.usm.auth_params[0], 0xaa);
    assert_eq!(
        (d.usm.user, d.usm.boots, d.usm.time),
        (&b"kstuser"[..], 3, 1234)
    );
    let ScopedData::Plain(sp) = d.data else {
        panic!()
    };
    assert_eq!(
        (sp.pdu.kind, sp.pdu.request_id, sp.pdu.error_index),
        (tag::GET_BULK, 42, 10)
    );

    // An encrypted one carries an OCTET STRING; its scoped PDU decodes after "decryption".
    let mut inner = [0u8; 128];
    let spdu = encode_scoped_pdu(
        &mut inner,
        b"e",
        b"",
        PduSpec {
            kind: tag::GET,
            request_id: 5,
            a: 0,
            b: 0,
            oids: &oids,
        },
    )
    .unwrap()
    .to_vec();
    let mut padded = spdu.clone();
    padded.extend_from_slice(&[0, 0, 0]); // block-cipher padding is ignored
    let sp = ScopedPdu::decode(&padded).unwrap();
    assert_eq!(sp.pdu.request_id, 5);
    let req = V3Request {
        flags: flags::AUTH | flags::PRIV,
        data: V3Data::Encrypted(&spdu),
        ..req
    };
    let (m, _) = req.encode(&mut buf).unwrap();
    let d = V3Message::decode(m).unwrap();
    assert!(matches!(d.data, ScopedData::Encrypted(b) if b == &spdu[..]));
}
