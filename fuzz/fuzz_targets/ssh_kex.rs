//! The key exchange parsers on hostile bytes: KEXINIT parsing and negotiation, the
//! reply parser of every method, and the shared secret from any server public value
//! never panic; a KEXINIT that parses negotiates to algorithms we offer.
#![no_main]
use ksocket_ssh::kex::{self, Ephemeral};

const METHODS: [&str; 5] = [
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group14-sha1",
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(k) = kex::parse_kexinit(data) {
        for legacy in [false, true] {
            if let Ok(n) = kex::negotiate(&k, legacy) {
                assert!(kex::kex_names(legacy, false).contains(&n.kex));
                assert!(kex::host_key_names(legacy).contains(&n.host_key_algorithm));
                let _ = kex::guess_was_wrong(&k, &n);
            }
        }
    }
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let method = METHODS[usize::from(ctl) % METHODS.len()];
    if let Ok(r) = kex::parse_reply(method, rest) {
        let (eph, _) = Ephemeral::with_seed(method, [ctl; 32]);
        let _ = eph.shared(r.server_public);
    }
    // The server's public value alone (DH is costly: only when asked for).
    if !method.starts_with("diffie") || ctl & 0x40 != 0 {
        let (eph, _) = Ephemeral::with_seed(method, [ctl; 32]);
        let _ = eph.shared(rest);
    }
});
