//! USM on hostile bytes: decrypting any ciphertext with any privacy protocol and any
//! privacy parameters never panics and keeps the length; what `encrypt` makes,
//! `decrypt` restores; `verify` of any message at any offset never panics.
#![no_main]
use ksocket_core::usm::{
    AuthProto, KeyExtension, PrivProto, decrypt, encrypt, localize, password_to_key, privacy_key,
    verify,
};

const AUTH: [AuthProto; 6] = [
    AuthProto::Md5,
    AuthProto::Sha1,
    AuthProto::Sha224,
    AuthProto::Sha256,
    AuthProto::Sha384,
    AuthProto::Sha512,
];
const PRIV: [PrivProto; 7] = [
    PrivProto::Des,
    PrivProto::TripleDes,
    PrivProto::Aes128,
    PrivProto::Aes192(KeyExtension::Blumenthal),
    PrivProto::Aes192(KeyExtension::Reeder),
    PrivProto::Aes256(KeyExtension::Blumenthal),
    PrivProto::Aes256(KeyExtension::Reeder),
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let auth = AUTH[usize::from(data[0]) % AUTH.len()];
    let privp = PRIV[usize::from(data[1]) % PRIV.len()];
    let salt_len = usize::from(data[2] % 10);
    let (head, body) = data[3..].split_at(salt_len.min(data.len() - 3));
    let engine = &data[3..11];
    // A fixed password, expanded once per protocol (the 1 MiB hash is not what is
    // fuzzed, and would make each run take milliseconds).
    static KU: std::sync::OnceLock<Vec<ksocket_core::usm::Key>> = std::sync::OnceLock::new();
    let kus = KU.get_or_init(|| {
        AUTH.iter()
            .map(|a| password_to_key(*a, b"fuzz-pass").unwrap())
            .collect()
    });
    let ku = kus[usize::from(data[0]) % AUTH.len()];
    let kul = localize(auth, &ku, engine);
    let k = privacy_key(auth, privp, &kul, engine);
    let boots = i64::from(data[0]);
    let time = i64::from(data[1]) << 8;
    let mut buf = body.to_vec();
    if let Ok(pt) = decrypt(privp, &k, boots, time, head, &mut buf) {
        assert_eq!(pt.len(), body.len());
    }
    // Round trip.
    let mut b = body.to_vec();
    b.resize(body.len() + 8, 0);
    let (n, salt) = encrypt(privp, &k, boots, time, 7, &mut b, body.len()).unwrap();
    let pt = decrypt(privp, &k, boots, time, &salt, &mut b[..n]).unwrap();
    assert_eq!(&pt[..body.len()], body);
    // Authentication at any offset and length.
    let off = usize::from(data[3]) * 3;
    let len = usize::from(data[4] % 64);
    let mut scratch = vec![0u8; data.len()];
    let _ = verify(auth, &kul, data, off, len, &mut scratch);
});
