//! The SSH transport on hostile bytes: after the server's identification line (and,
//! when the first byte is odd, a valid cleartext KEXINIT so the key exchange reply
//! parser is reached), any bytes, split anywhere, never panic; what is buffered stays
//! bounded; after an error the transport refuses input.
#![no_main]
use ksocket_ssh::transport::{Transport, TransportConfig};
use ksocket_ssh::wire::Write;

fn packet(payload: &[u8]) -> Vec<u8> {
    let mut pad = 8 - (5 + payload.len()) % 8;
    if pad < 4 {
        pad += 8;
    }
    let mut p = Vec::new();
    p.put_u32((1 + payload.len() + pad) as u32);
    p.put_u8(pad as u8);
    p.extend_from_slice(payload);
    p.resize(p.len() + pad, 0);
    p
}

fn kexinit(kex: &str, legacy: bool) -> Vec<u8> {
    let mut p = vec![20u8];
    p.extend_from_slice(&[0; 16]);
    let hk = if legacy { "ssh-rsa" } else { "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512" };
    for l in [kex, hk, "aes128-ctr", "aes128-ctr", "hmac-sha2-256", "hmac-sha2-256", "none", "none", "", ""] {
        p.put_string(l.as_bytes());
    }
    p.put_bool(false);
    p.put_u32(0);
    p
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let legacy = ctl & 2 != 0;
    let cfg = TransportConfig { legacy, max_packet: 4096 << (ctl >> 6), ..TransportConfig::default() };
    let mut t = Transport::new(cfg, [ctl; 32]);
    if ctl & 4 == 0 {
        let _ = t.input(b"SSH-2.0-fuzz\r\n");
    }
    if ctl & 1 != 0 {
        let kex = ["curve25519-sha256", "ecdh-sha2-nistp256", "diffie-hellman-group14-sha256", "diffie-hellman-group14-sha1"]
            [usize::from(ctl >> 3) & 3];
        let _ = t.input(&packet(&kexinit(kex, legacy)));
    }
    // Split the rest at points chosen by its own bytes.
    let mut r = rest;
    let mut failed = false;
    while !r.is_empty() {
        let n = (usize::from(r[0]) % 64 + 1).min(r.len());
        let (chunk, tail) = r.split_at(n);
        r = tail;
        if failed {
            assert!(t.input(chunk).is_err());
            continue;
        }
        if t.input(chunk).is_err() {
            failed = true;
        }
        while t.poll().is_some() {}
        let out = t.output().len();
        t.consume_output(out);
    }
    let _ = t.send(&[50, 0, 0, 0, 0]);
    let _ = t.negotiated();
    let _ = t.legacy_used();
});
