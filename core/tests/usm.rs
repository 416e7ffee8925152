//! USM authentication: RFC 3414 A.3 test vectors, and a real net-snmp message verified.
use ksocket_core::usm::*;

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const ENGINE: &str = "000000000000000000000002";

#[test]
fn rfc3414_a3_md5() {
    let ku = password_to_key(AuthProto::Md5, b"maplesyrup").unwrap();
    assert_eq!(
        ku.as_bytes(),
        &unhex("9f af 32 83 88 4e 92 83 4e bc 98 47 d8 ed d9 63")[..]
    );
    let kul = localize(AuthProto::Md5, &ku, &unhex(ENGINE));
    assert_eq!(
        kul.as_bytes(),
        &unhex("52 6f 5e ed 9f cc e2 6f 89 64 c2 93 07 87 d8 2b")[..]
    );
}

#[test]
fn rfc3414_a3_sha1() {
    let ku = password_to_key(AuthProto::Sha1, b"maplesyrup").unwrap();
    assert_eq!(
        ku.as_bytes(),
        &unhex("9f b5 cc 03 81 49 7b 37 93 52 89 39 ff 78 8d 5d 79 14 52 11")[..]
    );
    let kul = localize(AuthProto::Sha1, &ku, &unhex(ENGINE));
    assert_eq!(
        kul.as_bytes(),
        &unhex("66 95 fe bc 92 88 e3 62 82 23 5f c7 15 1f 12 84 97 b3 8f 3f")[..]
    );
}

#[test]
fn key_lengths_and_mac_lengths() {
    for (p, k, m) in [
        (AuthProto::Md5, 16, 12),
        (AuthProto::Sha1, 20, 12),
        (AuthProto::Sha224, 28, 16),
        (AuthProto::Sha256, 32, 24),
        (AuthProto::Sha384, 48, 32),
        (AuthProto::Sha512, 64, 48),
    ] {
        let ku = password_to_key(p, b"authpass123").unwrap();
        assert_eq!((ku.as_bytes().len(), p.key_len(), p.mac_len()), (k, k, m));
        let kul = localize(p, &ku, b"\x80\x00\x1f\x88\x80abc");
        let mut msg = vec![0u8; 100];
        msg[0] = 0x30;
        sign(p, &kul, &mut msg, 40).unwrap();
        assert!(msg[40..40 + m].iter().any(|&b| b != 0));
        let mut scratch = [0u8; 128];
        assert!(verify(p, &kul, &msg, 40, m, &mut scratch).unwrap());
        msg[99] ^= 1;
        assert!(!verify(p, &kul, &msg, 40, m, &mut scratch).unwrap());
        assert_eq!(format!("{kul:?}"), "Key(***)");
    }
    assert_eq!(
        password_to_key(AuthProto::Sha1, b"").unwrap_err(),
        Error::EmptyPassword
    );
}

/// net-snmp 5.9.3, captured on loopback: snmpget -v3 -l authNoPriv -a SHA-256
/// -A authpass123 -u kstuser, its authenticated GET and snmpd's Response.
const REQ: &str = "30818d020103301102042a04a3f9020300ffe30401050201030440303e041180001f88809fe78a03b0bc046b0000000002010102010104076b7374757365720418d96d150800d6c3bc740f8ec713249c23ec72450c0488abeb04003033041180001f88809fe78a03b0bc046b000000000400a01c02041cf2b14d020100020100300e300c06082b060102010105000500";
const RSP: &str = "30818f020103301102042a04a3f9020300ffe30401010201030440303e041180001f88809fe78a03b0bc046b0000000002010102010104076b7374757365720418c02241d2159c00aa5fcefe01d381cb05b96ffc73655ff1e804003035041180001f88809fe78a03b0bc046b000000000400a21e02041cf2b14d0201000201003010300e06082b060102010105000402766d";

#[test]
fn net_snmp_sha256_messages_verify_and_we_sign_them_the_same() {
    use ksocket_core::snmp::{ScopedData, V3Message, Value};
    let ku = password_to_key(AuthProto::Sha256, b"authpass123").unwrap();
    let mut scratch = [0u8; 512];
    for hexmsg in [REQ, RSP] {
        let msg = unhex(hexmsg);
        let m = V3Message::decode(&msg).unwrap();
        assert_eq!(m.usm.user, b"kstuser");
        let kul = localize(AuthProto::Sha256, &ku, m.usm.engine_id);
        let (off, len) = (m.auth_params_offset, m.usm.auth_params.len());
        assert!(
            verify(AuthProto::Sha256, &kul, &msg, off, len, &mut scratch).unwrap(),
            "net-snmp's MAC verifies"
        );
        // Zero the MAC and sign: the same bytes come back.
        let mut again = msg.clone();
        again[off..off + len].fill(0);
        sign(AuthProto::Sha256, &kul, &mut again, off).unwrap();
        assert_eq!(again, msg);
        let wrong = localize(
            AuthProto::Sha256,
            &password_to_key(AuthProto::Sha256, b"authpass124").unwrap(),
            m.usm.engine_id,
        );
        assert!(!verify(AuthProto::Sha256, &wrong, &msg, off, len, &mut scratch).unwrap());
    }
    let rsp = unhex(RSP);
    let m = V3Message::decode(&rsp).unwrap();
    let ScopedData::Plain(sp) = m.data else {
        panic!()
    };
    assert_eq!(
        sp.pdu.varbinds.clone().next().unwrap().1,
        Value::OctetString(b"vm")
    );
}

/// net-snmp 5.9.3 snmpd's encrypted Responses to snmpget -v3 -l authPriv for sysName.0
/// (captured on loopback): SHA + AES-128, and MD5 + DES; passwords authpass123/privpass123.
const AES_RSP: &str = "30818d0201033011020463462139020300ffe3040103020103043c303a041180001f88803c3c8977f0bc046b00000000020101020101040761657375736572040cf6005a516882cc396904fff20408b6cf57b48b2399d4043721adbe55044664e6db06a5ef038516f26f5b444c6b7f107abacee4be0cc4f50d78fb8d1710ea254145491b8ef9d381ef5f1290196d8965";
const DES_RSP: &str = "30818e020103301102044bec0262020300ffe3040103020103043c303a041180001f88803c3c8977f0bc046b00000000020101020101040764657375736572040cee864115dfd9428306be00e7040800000001f540bfc904387f9a019d038e5ae810f8cb5a64fdc8fd381b677ccbea423ec449a73c53a838df35343cf41a8d75fe141be8dda30ee04c47830921866256d7";

#[test]
fn net_snmp_encrypted_responses_decrypt_and_round_trip() {
    use ksocket_core::snmp::{ScopedData, ScopedPdu, V3Message, Value};
    for (hexmsg, auth, privp) in [
        (AES_RSP, AuthProto::Sha1, PrivProto::Aes128),
        (DES_RSP, AuthProto::Md5, PrivProto::Des),
    ] {
        let msg = unhex(hexmsg);
        let m = V3Message::decode(&msg).unwrap();
        let kau = localize(
            auth,
            &password_to_key(auth, b"authpass123").unwrap(),
            m.usm.engine_id,
        );
        let mut scratch = [0u8; 512];
        assert!(
            verify(
                auth,
                &kau,
                &msg,
                m.auth_params_offset,
                m.usm.auth_params.len(),
                &mut scratch
            )
            .unwrap()
        );
        let kpriv = localize(
            auth,
            &password_to_key(auth, b"privpass123").unwrap(),
            m.usm.engine_id,
        );
        let ScopedData::Encrypted(ct) = m.data else {
            panic!("encrypted expected")
        };
        let mut data = ct.to_vec();
        let pt = decrypt(
            privp,
            &kpriv,
            m.usm.boots,
            m.usm.time,
            m.usm.priv_params,
            &mut data,
        )
        .unwrap()
        .to_vec();
        let sp = ScopedPdu::decode(&pt).unwrap();
        assert_eq!(
            sp.pdu.varbinds.clone().next().unwrap().1,
            Value::OctetString(b"vm"),
            "{privp:?}"
        );
        // Our encryption of the same plaintext with the same salt gives net-snmp's bytes.
        let counter = match privp {
            PrivProto::Des => u64::from(u32::from_be_bytes(
                m.usm.priv_params[4..8].try_into().unwrap(),
            )),
            _ => u64::from_be_bytes(m.usm.priv_params.try_into().unwrap()),
        };
        let mut buf = [0u8; 256];
        buf[..pt.len()].copy_from_slice(&pt);
        let (n, salt) = encrypt(
            privp,
            &kpriv,
            m.usm.boots,
            m.usm.time,
            counter,
            &mut buf,
            pt.len(),
        )
        .unwrap();
        assert_eq!(&salt[..], m.usm.priv_params);
        assert_eq!(&buf[..n], ct, "{privp:?}");
        // A wrong privacy password does not decode.
        let wrong = localize(
            auth,
            &password_to_key(auth, b"privpass124").unwrap(),
            m.usm.engine_id,
        );
        let mut data = ct.to_vec();
        let pt = decrypt(
            privp,
            &wrong,
            m.usm.boots,
            m.usm.time,
            m.usm.priv_params,
            &mut data,
        )
        .unwrap();
        assert!(ScopedPdu::decode(pt).is_err());
    }
}

/// Privacy keys extended past the localised key (3DES, AES-192/256 with either key
/// extension), for password privpass123 and engine 80001f88803c3c8977f0bc046b00000000:
/// the keys pysnmp 4.4.12 (`localizeKey` of Des3, Aes192/256, AesBlumenthal192/256)
/// derives.
#[test]
fn extended_privacy_keys_equal_pysnmp() {
    let eid = unhex("80001f88803c3c8977f0bc046b00000000");
    let b = KeyExtension::Blumenthal;
    let r = KeyExtension::Reeder;
    let cases: &[(PrivProto, AuthProto, &str)] = &[
        (
            PrivProto::TripleDes,
            AuthProto::Md5,
            "77bcbdb146d12d12a61204b40cbd356b6cc4925f4a727dfc6ee2eb848592127b",
        ),
        (
            PrivProto::TripleDes,
            AuthProto::Sha1,
            "2c9cf6b8d0c11b58f35d921c27ca1abaee19525295bf4e9491aa23c97fac637b",
        ),
        (
            PrivProto::Aes192(r),
            AuthProto::Md5,
            "77bcbdb146d12d12a61204b40cbd356b6cc4925f4a727dfc",
        ),
        (
            PrivProto::Aes192(r),
            AuthProto::Sha1,
            "2c9cf6b8d0c11b58f35d921c27ca1abaee19525295bf4e94",
        ),
        (
            PrivProto::Aes256(r),
            AuthProto::Md5,
            "77bcbdb146d12d12a61204b40cbd356b6cc4925f4a727dfc6ee2eb848592127b",
        ),
        (
            PrivProto::Aes256(r),
            AuthProto::Sha1,
            "2c9cf6b8d0c11b58f35d921c27ca1abaee19525295bf4e9491aa23c97fac637b",
        ),
        (
            PrivProto::Aes192(b),
            AuthProto::Md5,
            "77bcbdb146d12d12a61204b40cbd356bcd79b4ce0c85703c",
        ),
        (
            PrivProto::Aes192(b),
            AuthProto::Sha1,
            "2c9cf6b8d0c11b58f35d921c27ca1abaee1952524c03b067",
        ),
        (
            PrivProto::Aes256(b),
            AuthProto::Md5,
            "77bcbdb146d12d12a61204b40cbd356bcd79b4ce0c85703ce0b096362fdb186c",
        ),
        (
            PrivProto::Aes256(b),
            AuthProto::Sha1,
            "2c9cf6b8d0c11b58f35d921c27ca1abaee1952524c03b067efad2ff3fa36310e",
        ),
    ];
    for (privp, auth, want) in cases {
        let kul = localize(
            *auth,
            &password_to_key(*auth, b"privpass123").unwrap(),
            &eid,
        );
        let k = privacy_key(*auth, *privp, &kul, &eid);
        assert_eq!(k.as_bytes(), &unhex(want)[..], "{privp:?} {auth:?}");
    }
    // Keys long enough are only cut: AES-128 with SHA-256 takes the first 16 bytes.
    let kul = localize(
        AuthProto::Sha256,
        &password_to_key(AuthProto::Sha256, b"privpass123").unwrap(),
        &eid,
    );
    let k = privacy_key(AuthProto::Sha256, PrivProto::Aes128, &kul, &eid);
    assert_eq!(k.as_bytes(), &kul.as_bytes()[..16]);
}

/// Every privacy protocol decrypts what it encrypts, and DES-family output is padded
/// to whole blocks; a wrong key gives other bytes.
#[test]
fn every_privacy_protocol_round_trips() {
    let eid = unhex("80001f88803c3c8977f0bc046b00000000");
    let kul = localize(
        AuthProto::Sha1,
        &password_to_key(AuthProto::Sha1, b"privpass123").unwrap(),
        &eid,
    );
    let plain = b"0123456789abcdefghij scoped pdu bytes";
    for privp in [
        PrivProto::Des,
        PrivProto::TripleDes,
        PrivProto::Aes128,
        PrivProto::Aes192(KeyExtension::Blumenthal),
        PrivProto::Aes192(KeyExtension::Reeder),
        PrivProto::Aes256(KeyExtension::Blumenthal),
        PrivProto::Aes256(KeyExtension::Reeder),
    ] {
        let k = privacy_key(AuthProto::Sha1, privp, &kul, &eid);
        let mut buf = [0u8; 64];
        buf[..plain.len()].copy_from_slice(plain);
        let (n, salt) = encrypt(privp, &k, 3, 1000, 77, &mut buf, plain.len()).unwrap();
        assert_ne!(&buf[..plain.len()], &plain[..], "{privp:?}");
        let mut ct = buf[..n].to_vec();
        let pt = decrypt(privp, &k, 3, 1000, &salt, &mut ct).unwrap();
        assert_eq!(&pt[..plain.len()], &plain[..], "{privp:?}");
        let other = privacy_key(
            AuthProto::Sha1,
            privp,
            &localize(
                AuthProto::Sha1,
                &password_to_key(AuthProto::Sha1, b"privpass124").unwrap(),
                &eid,
            ),
            &eid,
        );
        let mut ct = buf[..n].to_vec();
        let pt = decrypt(privp, &other, 3, 1000, &salt, &mut ct).unwrap();
        assert_ne!(&pt[..plain.len()], &plain[..], "{privp:?}");
    }
}
