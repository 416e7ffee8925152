use super::pem::{Pem, Prf, evp_bytes_to_key_md5, parse_pbes2, pkcs8_decrypt};
use super::*;
use crate::wire::Write;

fn hex(s: &str) -> Vec<u8> {
    data_encoding::HEXLOWER.decode(s.as_bytes()).unwrap()
}

fn ssh_sig(alg: &str, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.put_string(alg.as_bytes());
    v.put_string(body);
    v
}

// Made by ssh-keygen 9.2 (`ssh-keygen -lf` gave the fingerprints).
const ED25519_PUB: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPKuTe5za897wtdSUqqqPNn8p0KyJctb3oln6bHtfmrj t";
const P256_PUB: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDfx618dExpYm0cC1qQnV3GOv/EaJY8bLCQxUXC3piSrZ6KAKiweIdRrj+5tZFhHq0QBy7Yxs96NEF1Z0NnkxBU= t";
const RSA_PUB: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDehirjYWZlaCfaVizKmM91/O2016LS1lT9lmxS1OvlY57P00u8G2CXo+bfVUw50yh7yLwHmav1YIWTfJYDwsxJbgaQEFq6tZT7xzv+qWiACMh1qzPvNeBKeTVVNjbkB8s0v7RIDEvPvrdp2ivZK4nbodROjUo4Gk30WAyssQiOO0hL17VOcDjfk4Svo+NgEXB7BraoxjpL78zjhGAbBtVUOGXbXmhHAoT24AICtIH0gRA5sh3DYB5U7feZXRsFrezhV1K39VSW7ziYw5hPICvEliKiwfXtgiXhzhjcGQs3uZCPIm2Sgj23v4gp2PlgrGX11b4KWtYw7LW6WQqCXMor t";

#[test]
fn fingerprints_match_ssh_keygen() {
    for (line, ty, fp) in [
        (
            ED25519_PUB,
            "ssh-ed25519",
            "SHA256:JD4y+1JNCmAplFTJJtnSW/BMn2q6UFTFyhdEkM3dIBM",
        ),
        (
            P256_PUB,
            "ecdsa-sha2-nistp256",
            "SHA256:AI0jZxx1cfo504uGZYK/6QF5+8EmFG+0wGEhdkl6img",
        ),
        (
            RSA_PUB,
            "ssh-rsa",
            "SHA256:grevHOfEJEcB31NFQfazjWR8qCtporlx+/ZnadPdpPs",
        ),
    ] {
        let k = PublicKey::from_openssh_line(line).unwrap();
        assert_eq!(k.key_type(), ty);
        assert_eq!(k.fingerprint(), fp);
        assert_eq!(PublicKey::from_blob(k.blob()).unwrap(), k);
        assert!(line.starts_with(&k.to_openssh_line()));
    }
}

#[test]
fn ed25519_known_answer() {
    // RFC 8032 §7.1, test 1 (empty message).
    let pk = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    let sig = hex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
         5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
    let mut blob = Vec::new();
    blob.put_string(b"ssh-ed25519");
    blob.put_string(&pk);
    let k = PublicKey::from_blob(&blob).unwrap();
    let s = ssh_sig("ssh-ed25519", &sig);
    assert_eq!(k.verify("ssh-ed25519", b"", &s), Ok(()));
    assert_eq!(
        k.verify("ssh-ed25519", b"x", &s),
        Err(KeyError::BadSignature)
    );
    // The algorithm inside must be the one negotiated.
    assert_eq!(k.verify("ssh-rsa", b"", &s), Err(KeyError::BadSignature));
    let mut bad = sig.clone();
    bad[10] ^= 1;
    assert_eq!(
        k.verify("ssh-ed25519", b"", &ssh_sig("ssh-ed25519", &bad)),
        Err(KeyError::BadSignature)
    );
    assert!(k.verify("ssh-ed25519", b"", &sig).is_err());
}

#[test]
fn other_curves_and_small_rsa_are_unsupported() {
    let mut blob = Vec::new();
    blob.put_string(b"ecdsa-sha2-nistp384");
    blob.put_string(b"nistp384");
    blob.put_string(&[4; 97]);
    assert!(matches!(
        PublicKey::from_blob(&blob),
        Err(KeyError::Unsupported(_))
    ));
    let mut blob = Vec::new();
    blob.put_string(b"ssh-rsa");
    blob.put_mpint(&[1, 0, 1]);
    blob.put_mpint(&[0xc5; 64]);
    assert!(matches!(
        PublicKey::from_blob(&blob),
        Err(KeyError::Unsupported(_))
    ));
    assert!(PublicKey::from_blob(b"").is_err());
    assert!(PublicKey::from_blob(&[0, 0, 0, 11]).is_err());
}

#[test]
fn trailing_bytes_are_refused() {
    let k = PublicKey::from_openssh_line(ED25519_PUB).unwrap();
    let mut blob = k.blob().to_vec();
    blob.push(0);
    assert!(PublicKey::from_blob(&blob).is_err());
}

// A throwaway test key (ssh-keygen -t ed25519 -N ''): its public half is ED25519_PUB.
const ED25519_PRIVATE: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACDyrk3uc2vPe8LXUlKqqjzZ/KdCsiXLW96JZ+mx7X5q4wAAAIitgjRJrYI0
SQAAAAtzc2gtZWQyNTUxOQAAACDyrk3uc2vPe8LXUlKqqjzZ/KdCsiXLW96JZ+mx7X5q4w
AAAEAiqIQLpP7j5hXK6KV0b+wajb0yGQHHgtx7KV7jy89PkvKuTe5za897wtdSUqqqPNn8
p0KyJctb3oln6bHtfmrjAAAAAXQBAgME
-----END OPENSSH PRIVATE KEY-----
";

#[test]
fn openssh_ed25519_loads_signs_and_debug_shows_no_secret() {
    let k = PrivateKey::from_text(ED25519_PRIVATE.as_bytes(), None).unwrap();
    let public = PublicKey::from_openssh_line(ED25519_PUB).unwrap();
    assert_eq!(k.public(), &public);
    assert_eq!(k.algorithms(), &["ssh-ed25519"]);
    let sig = k.sign("ssh-ed25519", b"data").unwrap();
    assert_eq!(public.verify("ssh-ed25519", b"data", &sig), Ok(()));
    assert!(k.sign("rsa-sha2-256", b"data").is_err());
    assert_eq!(
        format!("{k:?}"),
        "PrivateKey(ssh-ed25519 SHA256:JD4y+1JNCmAplFTJJtnSW/BMn2q6UFTFyhdEkM3dIBM)"
    );
    // CRLF line ends and surrounding text are fine.
    let crlf = format!("junk\r\n{}", ED25519_PRIVATE.replace('\n', "\r\n"));
    assert!(PrivateKey::from_text(crlf.as_bytes(), None).is_ok());
}

#[test]
fn not_keys() {
    for text in [
        &b""[..],
        b"hello",
        b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n",
        b"-----BEGIN OPENSSH PRIVATE KEY-----\n!!!!\n-----END OPENSSH PRIVATE KEY-----\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"PuTTY-User-Key-File-3: ssh-ed25519\n",
        b"\xff\xfe",
    ] {
        assert!(PrivateKey::from_text(text, Some(b"pw")).is_err());
    }
    let dsa = b"-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----\n";
    assert!(matches!(
        PrivateKey::from_text(dsa, None),
        Err(KeyError::Unsupported(_))
    ));
}

#[test]
fn evp_bytes_to_key_matches_openssl() {
    // `openssl enc -aes-256-cbc -P -md md5 -pass pass:pw -S 0001020304050607`
    let k = evp_bytes_to_key_md5(b"pw", &[0, 1, 2, 3, 4, 5, 6, 7], 32);
    assert_eq!(k.len(), 32);
    assert_eq!(
        data_encoding::HEXUPPER.encode(&k),
        "A55F79AA00E8DD0E7D3CE26ED40D7CD3A029A787189B34D30D90860969005FCB"
    );
}

// `openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -iter 2048 -passout
// pass:kat` (OpenSSL 3.0.19) of an Ed25519 key whose public key is ED_KAT_PUB.
const ED_KAT_ENC: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAjM3xv/xNpQSAICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEMKr+0ciVONfWkNgUYVrvyIEQHHS
loTvg1uRpcbkFoCcJHI/Ltx4sYiIMpZFZLWnR3zHx++OMU4XQc/2CB9+zk7AJryI
CWKIjakqAAbMN6mM9XY=
-----END ENCRYPTED PRIVATE KEY-----
";
const ED_KAT_PUB: &str = "cb0c3d6193a197d82271804375c3c7fcffb74e48017ec1d778bd34a3b1e5370a";

#[test]
fn pbes2_known_answer() {
    let key = PrivateKey::from_text(ED_KAT_ENC.as_bytes(), Some(b"kat")).unwrap();
    assert!(key.public().blob().ends_with(&hex(ED_KAT_PUB)));
    assert_eq!(
        PrivateKey::from_text(ED_KAT_ENC.as_bytes(), Some(b"ka")).err(),
        Some(KeyError::WrongPassphrase)
    );
    let der = Pem::parse(ED_KAT_ENC).unwrap().data;
    let p = parse_pbes2(&der).unwrap();
    assert_eq!(
        (p.salt, p.iterations, p.prf, p.key_len, p.iv, p.data.len()),
        (
            &hex("ccdf1bffc4da5048")[..],
            2048,
            Prf::Sha256,
            32,
            <[u8; 16]>::try_from(hex("c2abfb472254e35f5a436051856bbf22")).unwrap(),
            64
        )
    );
    // Every truncation is an error, none a panic.
    for cut in 0..der.len() {
        assert!(pkcs8_decrypt(&der[..cut], b"kat").is_err(), "{cut}");
    }
    // Another PRF (SHA-1 for SHA-256) derives another key: a wrong passphrase;
    // hmacWithSHA512 is refused by name.
    let mut other = der.to_vec();
    assert_eq!(other[49..59], hex("06082a864886f70d0209"));
    other[58] = 0x07;
    assert_eq!(parse_pbes2(&other).unwrap().prf, Prf::Sha1);
    assert!(pkcs8_decrypt(&other, b"kat").is_err());
    other[58] = 0x0b;
    assert!(matches!(
        parse_pbes2(&other),
        Err(KeyError::Unsupported(m)) if m.contains("PRF 1.2.840.113549.2.11")
    ));
    // The prf absent is hmacWithSHA1 (the SEQUENCEs shortened by its 14 bytes).
    let mut sha1 = der[..47].to_vec();
    sha1.extend_from_slice(&der[61..]);
    sha1[2] -= 14;
    sha1[4] -= 14;
    sha1[17] -= 14;
    sha1[19] -= 14;
    sha1[32] -= 14;
    assert_eq!(parse_pbes2(&sha1).unwrap().prf, Prf::Sha1);
    // A keyLength that is not the cipher's is refused; the cipher's is read.
    for (len, ok) in [(32u8, true), (16, false)] {
        let mut kl = der[..47].to_vec();
        kl.extend_from_slice(&[2, 1, len]);
        kl.extend_from_slice(&der[47..]);
        kl[2] += 3;
        kl[4] += 3;
        kl[17] += 3;
        kl[19] += 3;
        kl[32] += 3;
        assert_eq!(parse_pbes2(&kl).is_ok(), ok, "{len}");
    }
    // Too many iterations, or none, is refused before any work.
    for (count, ok) in [
        (&[0x0fu8, 0x42, 0x40][..], true),
        (&[0x0f, 0x42, 0x41], false),
        (&[0], false),
    ] {
        assert_eq!(der[43..47], [2, 2, 8, 0]);
        let mut it = der[..44].to_vec();
        it.push(count.len() as u8);
        it.extend_from_slice(count);
        it.extend_from_slice(&der[47..]);
        let d = (count.len() as u8).wrapping_sub(2);
        for i in [2, 4, 17, 19, 32] {
            it[i] = it[i].wrapping_add(d);
        }
        assert_eq!(parse_pbes2(&it).is_ok(), ok, "{count:?}");
    }
}
