//! The transport against a real OpenSSH sshd on loopback (127.0.0.1 only): every key
//! exchange, cipher, MAC and host key family we offer, restricted one at a time on the
//! server; client- and server-initiated re-exchange. Root only (it logs in as root), and
//! skipped with a message when /usr/sbin/sshd or ssh-keygen is missing. Each sshd (the
//! shared fixture `ksocket_lab::sshd::LoopbackSshd`) is killed when its guard drops.

use ksocket_lab::sshd::{LoopbackSshd, sshd_available};
use ksocket_ssh::transport::{Transport, TransportConfig, TransportEvent};
use ksocket_ssh::wire::{Reader, Write as _};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

/// Starts a loopback sshd with host keys of `key_types` (ed25519, ecdsa, rsa) and
/// extra configuration lines; the test key may log in as root (for the re-exchange
/// tests).
fn start_sshd(tag: &str, key_types: &[&str], extra: &[&str]) -> LoopbackSshd {
    LoopbackSshd::start(tag, key_types, |dir| {
        let mut conf = String::from(
            "LogLevel DEBUG1\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nMaxAuthTries 100\n\
             MaxStartups 50\nLoginGraceTime 60\n",
        );
        let ak = dir.join("authorized_keys");
        std::fs::write(&ak, client_key().2).expect("authorized_keys");
        conf.push_str(&format!(
            "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\nAuthorizedKeysFile {}\n",
            ak.display()
        ));
        for l in extra {
            conf.push_str(l);
            conf.push('\n');
        }
        conf
    })
}

/// A transport over a TCP stream, every wait bounded.
struct Client {
    t: Transport,
    s: TcpStream,
    host_key: Option<(String, &'static str)>,
    /// Message numbers of the payloads seen.
    seen: Vec<u8>,
}

fn entropy() -> [u8; 32] {
    // Tests only: varied per run (the transport itself never reads the clock).
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(1);
    let mut e = [0u8; 32];
    for (i, b) in e.iter_mut().enumerate() {
        *b = (n >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(37);
    }
    e
}

impl Client {
    fn connect(sshd: &LoopbackSshd, cfg: TransportConfig) -> Client {
        let s = TcpStream::connect_timeout(&sshd.addr(), Duration::from_secs(5)).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        s.set_nodelay(true).ok();
        Client {
            t: Transport::new(cfg, entropy()),
            s,
            host_key: None,
            seen: Vec::new(),
        }
    }

    fn flush(&mut self) -> Result<(), String> {
        while !self.t.output().is_empty() {
            let n = self
                .s
                .write(self.t.output())
                .map_err(|e| format!("write: {e}"))?;
            self.t.consume_output(n);
        }
        Ok(())
    }

    /// Runs until `want` returns true for an event, or fails after `secs`.
    fn until(
        &mut self,
        secs: u64,
        mut want: impl FnMut(&TransportEvent) -> bool,
    ) -> Result<TransportEvent, String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut buf = [0u8; 4096];
        loop {
            self.flush()?;
            while let Some(e) = self.t.poll() {
                if let TransportEvent::HostKey { key, algorithm } = &e {
                    self.host_key = Some((key.fingerprint(), algorithm));
                }
                if let TransportEvent::Payload(p) = &e {
                    self.seen.push(p.first().copied().unwrap_or(0));
                }
                if let TransportEvent::Disconnected {
                    reason,
                    description,
                } = &e
                {
                    return Err(format!("server disconnected: {reason} {description}"));
                }
                if want(&e) {
                    self.flush()?;
                    return Ok(e);
                }
            }
            if Instant::now() > deadline {
                return Err("timed out".into());
            }
            match self.s.read(&mut buf) {
                Ok(0) => return Err("server closed the connection".into()),
                Ok(n) => self
                    .t
                    .input(&buf[..n])
                    .map_err(|e| format!("transport: {e}"))?,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    fn ready(&mut self) -> Result<(), String> {
        self.until(30, |e| matches!(e, TransportEvent::Ready))?;
        if !self.t.is_ready() || self.host_key.is_none() {
            return Err("Ready without a verified host key".into());
        }
        Ok(())
    }

    fn service_userauth(&mut self) -> Result<(), String> {
        let mut p = vec![5u8];
        p.put_string(b"ssh-userauth");
        self.t.send(&p).map_err(|e| e.to_string())?;
        // EXT_INFO (7) may come first.
        let e = self.until(
            20,
            |e| matches!(e, TransportEvent::Payload(p) if p.first() == Some(&6)),
        )?;
        if let TransportEvent::Payload(p) = e {
            let mut r = Reader::new(&p[1..]);
            if r.string("service").map_err(|e| e.to_string())? != b"ssh-userauth" {
                return Err("SERVICE_ACCEPT for another service".into());
            }
        }
        Ok(())
    }

    /// USERAUTH_REQUEST "none" and its USERAUTH_FAILURE: a round trip through the
    /// server after the service is accepted.
    fn ping(&mut self, pad: usize) -> Result<(), String> {
        let mut p = vec![50u8];
        p.put_string(b"nobody-ksocket-test");
        p.put_string(b"ssh-connection");
        p.put_string(b"none");
        if pad > 0 {
            let mut ig = vec![2u8];
            ig.put_string(&vec![0x41; pad]);
            self.t.send(&ig).map_err(|e| e.to_string())?;
        }
        self.t.send(&p).map_err(|e| e.to_string())?;
        self.until(
            20,
            |e| matches!(e, TransportEvent::Payload(p) if p.first() == Some(&51)),
        )?;
        Ok(())
    }
}

/// The test's client key (Ed25519 from a fixed seed) and its authorized_keys line.
fn client_key() -> (ed25519_dalek::SigningKey, Vec<u8>, String) {
    let sk = ed25519_dalek::SigningKey::from_bytes(&[0x42; 32]);
    let mut blob = Vec::new();
    blob.put_string(b"ssh-ed25519");
    blob.put_string(sk.verifying_key().as_bytes());
    let line = format!(
        "ssh-ed25519 {} ksocket-test\n",
        data_encoding::BASE64.encode(&blob)
    );
    (sk, blob, line)
}

impl Client {
    /// publickey authentication as root with the test key, then USERAUTH_SUCCESS.
    fn auth(&mut self) -> Result<(), String> {
        use ed25519_dalek::Signer;
        let (sk, blob, _) = client_key();
        let sid = self.t.session_id().ok_or("no session id")?.to_vec();
        let mut body = vec![50u8];
        body.put_string(b"root");
        body.put_string(b"ssh-connection");
        body.put_string(b"publickey");
        body.put_bool(true);
        body.put_string(b"ssh-ed25519");
        body.put_string(&blob);
        let mut signed = Vec::new();
        signed.put_string(&sid);
        signed.extend_from_slice(&body);
        let sig = sk.sign(&signed).to_bytes();
        let mut sigblob = Vec::new();
        sigblob.put_string(b"ssh-ed25519");
        sigblob.put_string(&sig);
        body.put_string(&sigblob);
        self.t.send(&body).map_err(|e| e.to_string())?;
        match self.until(
            20,
            |e| matches!(e, TransportEvent::Payload(p) if matches!(p.first(), Some(51 | 52))),
        )? {
            TransportEvent::Payload(p) if p.first() == Some(&52) => Ok(()),
            _ => Err("publickey authentication failed".into()),
        }
    }

    /// After authentication: a global request with want-reply, answered by
    /// REQUEST_FAILURE (or SUCCESS), preceded by `pad` bytes of IGNORE.
    fn global_ping(&mut self, pad: usize) -> Result<(), String> {
        if pad > 0 {
            let mut ig = vec![2u8];
            ig.put_string(&vec![0x41; pad]);
            self.t.send(&ig).map_err(|e| e.to_string())?;
        }
        let mut p = vec![80u8];
        p.put_string(b"keepalive@openssh.com");
        p.put_bool(true);
        self.t.send(&p).map_err(|e| e.to_string())?;
        self.until(
            20,
            |e| matches!(e, TransportEvent::Payload(p) if matches!(p.first(), Some(81 | 82))),
        )?;
        Ok(())
    }
}

fn cfg(legacy: bool) -> TransportConfig {
    TransportConfig {
        legacy,
        ..TransportConfig::default()
    }
}

/// Connects with sshd restricted by `extra`, checks the negotiated algorithms with
/// `check`, and runs SERVICE_REQUEST ssh-userauth and one ping.
fn session(
    sshd: &LoopbackSshd,
    legacy: bool,
    check: impl Fn(&ksocket_ssh::transport::Negotiated) -> bool,
) -> Result<Client, String> {
    let mut c = Client::connect(sshd, cfg(legacy));
    c.ready()?;
    let n = c.t.negotiated().ok_or("no negotiated algorithms")?.clone();
    if !check(&n) {
        return Err(format!("unexpected negotiation: {n:?}"));
    }
    c.service_userauth()?;
    c.ping(0)?;
    Ok(c)
}

fn report(failures: Vec<String>, sshd: Option<&LoopbackSshd>) {
    if !failures.is_empty() {
        if let Some(s) = sshd {
            eprintln!("--- sshd log ---\n{}", s.log());
        }
        panic!("{} failure(s):\n{}", failures.len(), failures.join("\n"));
    }
}

#[test]
fn every_kex_method() {
    if !sshd_available() {
        return;
    }
    let mut failures = Vec::new();
    for kex in [
        "curve25519-sha256",
        "curve25519-sha256@libssh.org",
        "ecdh-sha2-nistp256",
        "diffie-hellman-group14-sha256",
    ] {
        let sshd = start_sshd(
            &format!("kex-{kex}"),
            &["ed25519"],
            &[&format!("KexAlgorithms {kex}")],
        );
        match session(&sshd, false, |n| n.kex == kex && n.strict_kex) {
            Ok(c) if !c.seen.contains(&7) => {
                failures.push(format!("{kex}: no EXT_INFO passed up (seen {:?})", c.seen))
            }
            Ok(c) => eprintln!("ok: {kex} ({:?})", c.host_key),
            Err(e) => {
                eprintln!("--- sshd log ---\n{}", sshd.log());
                failures.push(format!("{kex}: {e}"));
            }
        }
    }
    report(failures, None);
}

#[test]
fn every_cipher_and_mac() {
    if !sshd_available() {
        return;
    }
    let sshd_all = |tag: &str, lines: &[&str]| start_sshd(tag, &["ed25519"], lines);
    let mut failures = Vec::new();
    let mut cases: Vec<(String, Option<String>)> = Vec::new();
    for c in [
        "chacha20-poly1305@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-gcm@openssh.com",
    ] {
        cases.push((c.to_string(), None));
    }
    for c in ["aes128-ctr", "aes256-ctr"] {
        for m in [
            "hmac-sha2-256-etm@openssh.com",
            "hmac-sha2-512-etm@openssh.com",
            "hmac-sha2-256",
            "hmac-sha2-512",
        ] {
            cases.push((c.to_string(), Some(m.to_string())));
        }
    }
    for (i, (c, m)) in cases.iter().enumerate() {
        let mut lines = vec![format!("Ciphers {c}")];
        if let Some(m) = m {
            lines.push(format!("MACs {m}"));
        }
        let refs: Vec<&str> = lines.iter().map(|s| s.as_str()).collect();
        let sshd = sshd_all(&format!("cipher-{i}"), &refs);
        let r = session(&sshd, false, |n| {
            n.cipher_client_to_server == c
                && n.cipher_server_to_client == c
                && n.mac_client_to_server.map(str::to_string) == *m
                && n.mac_server_to_client.map(str::to_string) == *m
        });
        match r {
            Ok(_) => eprintln!("ok: {c} {m:?}"),
            Err(e) => {
                eprintln!("--- sshd log ---\n{}", sshd.log());
                failures.push(format!("{c} {m:?}: {e}"));
            }
        }
    }
    report(failures, None);
}

#[test]
fn every_host_key_algorithm() {
    if !sshd_available() {
        return;
    }
    let mut failures = Vec::new();
    for (alg, kt) in [
        ("ssh-ed25519", "ed25519"),
        ("ecdsa-sha2-nistp256", "ecdsa"),
        ("rsa-sha2-512", "rsa"),
        ("rsa-sha2-256", "rsa"),
    ] {
        let sshd = start_sshd(
            &format!("hk-{alg}"),
            &[kt],
            &[&format!("HostKeyAlgorithms {alg}")],
        );
        match session(&sshd, false, |n| n.host_key_algorithm == alg) {
            Ok(c) => {
                if c.host_key.as_ref().map(|h| h.1) != Some(alg) {
                    failures.push(format!("{alg}: HostKey event named {:?}", c.host_key));
                }
                // The fingerprint is the one ssh-keygen prints.
                let out = Command::new("ssh-keygen")
                    .arg("-lf")
                    .arg(sshd.dir().join(format!("hk_{kt}.pub")))
                    .output()
                    .expect("ssh-keygen -l");
                let fp = c.host_key.as_ref().map(|h| h.0.clone()).unwrap_or_default();
                if !String::from_utf8_lossy(&out.stdout).contains(&fp) {
                    failures.push(format!(
                        "{alg}: fingerprint {fp} not in {}",
                        String::from_utf8_lossy(&out.stdout)
                    ));
                }
                eprintln!("ok: {alg} {fp}");
            }
            Err(e) => {
                eprintln!("--- sshd log ---\n{}", sshd.log());
                failures.push(format!("{alg}: {e}"));
            }
        }
    }
    report(failures, None);
}

#[test]
fn legacy_group14_sha1_and_ssh_rsa() {
    if !sshd_available() {
        return;
    }
    let sshd = start_sshd(
        "legacy",
        &["rsa"],
        &[
            "KexAlgorithms diffie-hellman-group14-sha1",
            "HostKeyAlgorithms ssh-rsa",
            "PubkeyAcceptedAlgorithms +ssh-rsa",
        ],
    );
    // Without legacy: refused, naming what the server offers.
    let mut c = Client::connect(&sshd, cfg(false));
    let e = c
        .ready()
        .expect_err("legacy kex must be refused without legacy");
    assert!(
        e.contains("no common key exchange") && e.contains("diffie-hellman-group14-sha1"),
        "{e}"
    );
    // With legacy: works, and is reported.
    let c = session(&sshd, true, |n| {
        n.kex == "diffie-hellman-group14-sha1" && n.host_key_algorithm == "ssh-rsa"
    });
    match c {
        Ok(c) => assert_eq!(
            c.t.legacy_used(),
            vec!["diffie-hellman-group14-sha1", "ssh-rsa"]
        ),
        Err(e) => report(vec![e], Some(&sshd)),
    }
}

#[test]
fn client_initiated_rekey() {
    if !sshd_available() {
        return;
    }
    // OpenSSH refuses KEXINIT before authentication, so re-exchange is tested after it.
    let sshd = start_sshd("rekey-client", &["ed25519"], &[]);
    let mut c = Client::connect(
        &sshd,
        TransportConfig {
            rekey_bytes: 4096,
            ..cfg(false)
        },
    );
    let r = (|| -> Result<(), String> {
        c.ready()?;
        c.service_userauth()?;
        c.auth()?;
        for _ in 0..6 {
            c.global_ping(3000)?;
        }
        Ok(())
    })();
    if let Err(e) = r {
        report(vec![e], Some(&sshd));
    }
    assert!(
        c.t.key_exchanges() >= 4,
        "only {} key exchanges",
        c.t.key_exchanges()
    );
    eprintln!("ok: {} key exchanges", c.t.key_exchanges());
}

#[test]
fn server_initiated_rekey() {
    if !sshd_available() {
        return;
    }
    for cipher in [
        "chacha20-poly1305@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-ctr",
    ] {
        let sshd = start_sshd(
            &format!("rekey-server-{cipher}"),
            &["ed25519"],
            &["RekeyLimit 1K", &format!("Ciphers {cipher}")],
        );
        let mut c = Client::connect(&sshd, cfg(false));
        let r = (|| -> Result<(), String> {
            c.ready()?;
            c.service_userauth()?;
            c.auth()?;
            for _ in 0..8 {
                c.global_ping(600)?;
            }
            Ok(())
        })();
        if let Err(e) = r {
            report(vec![format!("{cipher}: {e}")], Some(&sshd));
        }
        assert!(
            c.t.key_exchanges() >= 3,
            "{cipher}: only {} key exchanges",
            c.t.key_exchanges()
        );
        eprintln!("ok: {cipher}: {} key exchanges", c.t.key_exchanges());
    }
}

#[test]
fn server_version_and_disconnect() {
    if !sshd_available() {
        return;
    }
    let sshd = start_sshd("disconnect", &["ed25519"], &[]);
    let mut c = Client::connect(&sshd, cfg(false));
    if let Err(e) = c.ready() {
        report(vec![e], Some(&sshd));
    }
    assert!(
        c.t.server_version()
            .unwrap_or("")
            .starts_with("SSH-2.0-OpenSSH_")
    );
    assert_eq!(c.t.session_id().map(|s| s.len()), Some(32));
    c.t.disconnect(11, "bye");
    c.flush().expect("flush");
    // sshd closes the connection after our DISCONNECT.
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match c.s.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        assert!(
            Instant::now() < deadline,
            "sshd kept the connection open after DISCONNECT"
        );
    }
    assert!(c.t.send(&[50]).is_err());
}
