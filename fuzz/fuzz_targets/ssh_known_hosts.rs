//! known_hosts on hostile text: parsing any text and checking any host never panics;
//! a key's own line always matches it.
#![no_main]
use ksocket_ssh::keys::PublicKey;
use ksocket_ssh::known_hosts::{KnownHosts, Verdict};

const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPKuTe5za897wtdSUqqqPNn8p0KyJctb3oln6bHtfmrj";

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = PublicKey::from_openssh_line(ED).expect("constant key");
    let kh = KnownHosts::parse(text);
    let first = text.lines().next().unwrap_or("");
    for host in [first, "host", "a.example.com", "10.0.0.1", "::1"] {
        for port in [22, 2222] {
            let _ = kh.check(host, port, &key);
            let _ = kh.known_key_types(host, port);
        }
    }
    let lines: Vec<String> = text.lines().take(8).map(String::from).collect();
    if let Ok(p) = KnownHosts::pinned(&lines) {
        let _ = p.check(first, 22, &key);
    }
    // What we append is found again (unless the host name itself holds pattern or
    // field characters, which OpenSSH would not write either).
    if !first.is_empty()
        && first.len() < 256
        && first
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        for port in [22, 2222] {
            let line = KnownHosts::line(first, port, &key);
            let v = KnownHosts::parse(&line).check(first, port, &key);
            assert_eq!(v, Verdict::Match, "{line}");
        }
    }
});
