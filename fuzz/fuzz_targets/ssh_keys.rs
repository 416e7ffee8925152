//! SSH keys on hostile bytes: private key files of every format (the bytes as the text,
//! and as the body of a PEM block whose label the first byte picks), with and without a
//! passphrase, never panic; a key that loads signs, and its signature verifies; public
//! key blobs and signatures of any bytes never panic.
#![no_main]
use ksocket_ssh::keys::{PrivateKey, PublicKey};

const LABELS: [&str; 5] = [
    "OPENSSH PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
];
const ALGORITHMS: [&str; 6] = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
    "x",
];

fn load(text: &[u8]) {
    for pass in [None, Some(&b"fuzz"[..])] {
        if let Ok(k) = PrivateKey::from_text(text, pass) {
            let _ = format!("{k:?}");
            for alg in k.algorithms() {
                let sig = k.sign(alg, b"message").expect("a loaded key signs");
                assert!(k.public().verify(alg, b"message", &sig).is_ok());
            }
            assert!(k.sign("x", b"message").is_err());
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    load(data);
    if let Some((&first, body)) = data.split_first() {
        let label = LABELS[first as usize % LABELS.len()];
        // OpenSSL's traditional encryption headers, when the second bit asks.
        let headers = if first & 0x80 != 0 {
            "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n"
        } else {
            ""
        };
        let text = format!(
            "-----BEGIN {label}-----\n{headers}{}\n-----END {label}-----\n",
            data_encoding::BASE64.encode(body)
        );
        load(text.as_bytes());

        // A public key blob and a signature, split where the first byte says.
        let at = (first as usize).min(body.len());
        let (blob, sig) = body.split_at(at);
        if let Ok(pk) = PublicKey::from_blob(blob) {
            assert_eq!(PublicKey::from_blob(pk.blob()).as_ref(), Ok(&pk));
            let _ = pk.fingerprint();
            let _ = PublicKey::from_openssh_line(&pk.to_openssh_line()).expect("round trip");
            for alg in ALGORITHMS {
                let _ = pk.verify(alg, b"message", sig);
            }
        }
    }
});
