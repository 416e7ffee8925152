use super::*;
use crate::cipher;
use crate::kex::HashAlg;
use crate::kex::{MSG_KEX_INIT, MSG_KEX_REPLY, MSG_KEXINIT, MSG_NEWKEYS};
use ed25519_dalek::Signer;

/// A cleartext packet (before the first NEWKEYS).
fn clear_packet(payload: &[u8]) -> Vec<u8> {
    let mut d = Direction::clear();
    frame(&mut d, 0, payload)
}

fn frame(d: &mut Direction, seq: u32, payload: &[u8]) -> Vec<u8> {
    let bs = d.block();
    let fixed = if d.length_apart() { 1 } else { 5 };
    let mut pad = bs - (fixed + payload.len()) % bs;
    if pad < 4 {
        pad += bs;
    }
    let mut p = Vec::new();
    p.put_u32((1 + payload.len() + pad) as u32);
    p.put_u8(pad as u8);
    p.extend_from_slice(payload);
    p.resize(p.len() + pad, 0);
    d.seal(seq, &mut p);
    p
}

fn server_kexinit(kex: &str, cipher: &str) -> Vec<u8> {
    let mut p = vec![MSG_KEXINIT];
    p.extend_from_slice(&[1; 16]);
    for l in [
        kex,
        "ssh-ed25519",
        cipher,
        cipher,
        "hmac-sha2-256-etm@openssh.com",
        "hmac-sha2-256-etm@openssh.com",
        "none",
        "none",
        "",
        "",
    ] {
        p.put_string(l.as_bytes());
    }
    p.put_bool(false);
    p.put_u32(0);
    p
}

/// A minimal SSH server: curve25519-sha256, an Ed25519 host key, the cipher given;
/// answers SERVICE_REQUEST and global requests.
struct Server {
    strict: bool,
    kex: String,
    cipher: String,
    host: ed25519_dalek::SigningKey,
    tx: Direction,
    rx: Direction,
    tx_seq: u32,
    rx_seq: u32,
    next_rx: Option<Direction>,
    buf: Vec<u8>,
    out: Vec<u8>,
    v_c: Option<Vec<u8>>,
    i_c: Vec<u8>,
    i_s: Vec<u8>,
    session_id: Option<Vec<u8>>,
    /// Sent its KEXINIT for the exchange in progress.
    in_kex: bool,
    kexes: u32,
    got: Vec<u8>,
    /// Sign the exchange hash with another key than the one presented.
    forge: bool,
}

impl Server {
    fn new(strict: bool, cipher: &str) -> Server {
        let kex = if strict {
            "curve25519-sha256,kex-strict-s-v00@openssh.com"
        } else {
            "curve25519-sha256"
        };
        let mut s = Server {
            strict,
            kex: kex.into(),
            cipher: cipher.into(),
            host: ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
            tx: Direction::clear(),
            rx: Direction::clear(),
            tx_seq: 0,
            rx_seq: 0,
            next_rx: None,
            buf: Vec::new(),
            out: b"SSH-2.0-Fake_1.0\r\n".to_vec(),
            v_c: None,
            i_c: Vec::new(),
            i_s: Vec::new(),
            session_id: None,
            in_kex: false,
            kexes: 0,
            got: Vec::new(),
            forge: false,
        };
        s.send_kexinit();
        s
    }

    fn send_kexinit(&mut self) {
        self.i_s = server_kexinit(&self.kex, &self.cipher);
        let p = self.i_s.clone();
        self.send(&p);
        self.in_kex = true;
    }

    /// A KEXINIT whose first kex is not the one negotiated, with
    /// first_kex_packet_follows set, then the (wrong) guessed packet.
    fn send_kexinit_with_wrong_guess(&mut self) {
        let mut p = server_kexinit("ecdh-sha2-nistp256,curve25519-sha256", &self.cipher);
        let n = p.len();
        p[n - 5] = 1;
        self.i_s = p.clone();
        self.send(&p);
        self.in_kex = true;
        let mut guess = vec![MSG_KEX_INIT];
        guess.put_string(&[4; 65]);
        self.send(&guess);
    }

    fn send(&mut self, payload: &[u8]) {
        let p = frame(&mut self.tx, self.tx_seq, payload);
        self.tx_seq = self.tx_seq.wrapping_add(1);
        self.out.extend_from_slice(&p);
    }

    fn host_blob(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.put_string(b"ssh-ed25519");
        b.put_string(self.host.verifying_key().as_bytes());
        b
    }

    /// Takes the client's bytes, answers into `out`.
    fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        if self.v_c.is_none() {
            let Some(i) = self.buf.iter().position(|&b| b == b'\n') else {
                return;
            };
            let line = self.buf[..i - 1].to_vec();
            self.buf.drain(..=i);
            self.v_c = Some(line);
        }
        loop {
            let head = self.rx.head_len();
            if self.buf.len() < head {
                return;
            }
            let mut probe = self.buf[..head].to_vec();
            // read_length may decrypt (CTR); work on a copy of the whole packet.
            let mut rx_probe_len = [0u8; 4];
            rx_probe_len.copy_from_slice(&probe[..4]);
            let len = if self.rx.name() == "none"
                || self.rx.length_apart() && self.rx.name() != "chacha20-poly1305@openssh.com"
            {
                u32::from_be_bytes(rx_probe_len) as usize
            } else {
                self.rx.read_length(self.rx_seq, &mut probe) as usize
            };
            let total = 4 + len + self.rx.tag_len();
            if self.buf.len() < total {
                return;
            }
            let mut pkt: Vec<u8> = self.buf.drain(..total).collect();
            self.rx
                .open(self.rx_seq, &mut pkt)
                .expect("client packet authentic");
            self.rx_seq = self.rx_seq.wrapping_add(1);
            let pad = pkt[4] as usize;
            let payload = pkt[5..4 + len - pad].to_vec();
            self.handle(payload);
        }
    }

    fn handle(&mut self, p: Vec<u8>) {
        self.got.push(p[0]);
        match p[0] {
            MSG_KEXINIT => {
                self.i_c = p;
                if !self.in_kex {
                    self.send_kexinit();
                }
            }
            MSG_KEX_INIT => {
                let mut r = Reader::new(&p[1..]);
                let q_c: [u8; 32] = r.string("q").unwrap().try_into().unwrap();
                let eph = x25519_dalek::StaticSecret::from([9u8; 32]);
                let q_s = x25519_dalek::PublicKey::from(&eph);
                let shared = eph.diffie_hellman(&x25519_dalek::PublicKey::from(q_c));
                let mut k = Vec::new();
                k.put_mpint(shared.as_bytes());
                let (mut qc_enc, mut qs_enc) = (Vec::new(), Vec::new());
                qc_enc.put_string(&q_c);
                qs_enc.put_string(q_s.as_bytes());
                let blob = self.host_blob();
                let v_c = self.v_c.clone().unwrap();
                let h = kex::exchange_hash_encoded(
                    HashAlg::Sha256,
                    &v_c,
                    b"SSH-2.0-Fake_1.0",
                    &self.i_c,
                    &self.i_s,
                    &blob,
                    &qc_enc,
                    &qs_enc,
                    &k,
                );
                let sid = self.session_id.get_or_insert_with(|| h.clone()).clone();
                let mut sig = Vec::new();
                sig.put_string(b"ssh-ed25519");
                let signer = if self.forge {
                    ed25519_dalek::SigningKey::from_bytes(&[8; 32])
                } else {
                    self.host.clone()
                };
                sig.put_string(&signer.sign(&h).to_bytes());
                let mut reply = vec![MSG_KEX_REPLY];
                reply.put_string(&blob);
                reply.put_string(q_s.as_bytes());
                reply.put_string(&sig);
                self.send(&reply);
                self.send(&[MSG_NEWKEYS]);
                let c = cipher::cipher_spec(&self.cipher).unwrap();
                let m = if c.aead {
                    None
                } else {
                    cipher::mac_spec("hmac-sha2-256-etm@openssh.com")
                };
                let d = kex::derive_all(HashAlg::Sha256, &k, &h, &sid, c, c, m, m);
                self.tx = Direction::new(c, m, &d.key_s2c, &d.iv_s2c, &d.mac_s2c).unwrap();
                self.next_rx =
                    Some(Direction::new(c, m, &d.key_c2s, &d.iv_c2s, &d.mac_c2s).unwrap());
                if self.strict {
                    self.tx_seq = 0;
                }
            }
            MSG_NEWKEYS => {
                self.rx = self.next_rx.take().expect("NEWKEYS after reply");
                if self.strict {
                    self.rx_seq = 0;
                }
                self.in_kex = false;
                self.kexes += 1;
            }
            MSG_SERVICE_REQUEST => {
                let mut a = vec![MSG_SERVICE_ACCEPT];
                a.put_string(b"ssh-userauth");
                self.send(&a);
            }
            80 => self.send(&[82]),
            _ => {}
        }
    }
}

fn pump(c: &mut Transport, s: &mut Server) -> Vec<TransportEvent> {
    let mut events = Vec::new();
    for _ in 0..20 {
        let out = c.output().to_vec();
        c.consume_output(out.len());
        s.feed(&out);
        let back = std::mem::take(&mut s.out);
        if out.is_empty() && back.is_empty() {
            break;
        }
        c.input(&back).expect("client accepts the server's bytes");
        while let Some(e) = c.poll() {
            events.push(e);
        }
    }
    events
}

fn names(events: &[TransportEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            TransportEvent::HostKey { algorithm, .. } => format!("hostkey {algorithm}"),
            TransportEvent::Ready => "ready".into(),
            TransportEvent::Payload(p) => format!("payload {}", p[0]),
            TransportEvent::Disconnected { reason, .. } => format!("disconnected {reason}"),
        })
        .collect()
}

#[test]
fn full_exchange_with_every_cipher_strict_or_not_and_rekeys() {
    for cipher in [
        "chacha20-poly1305@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-gcm@openssh.com",
        "aes128-ctr",
        "aes256-ctr",
    ] {
        for strict in [true, false] {
            let mut c = Transport::new(
                TransportConfig {
                    rekey_packets: 5,
                    ..TransportConfig::default()
                },
                [5; 32],
            );
            let mut s = Server::new(strict, cipher);
            // Queued before the exchange, sent after NEWKEYS.
            let mut req = vec![MSG_SERVICE_REQUEST];
            req.put_string(b"ssh-userauth");
            c.send(&req).unwrap();
            let ev = pump(&mut c, &mut s);
            assert_eq!(
                names(&ev),
                ["hostkey ssh-ed25519", "ready", "payload 6"],
                "{cipher} strict={strict}"
            );
            assert!(c.is_ready());
            let n = c.negotiated().unwrap();
            assert_eq!((n.cipher_client_to_server, n.strict_kex), (cipher, strict));
            // Global requests: the 5-packet limit forces client-initiated re-exchanges.
            for _ in 0..12 {
                let mut g = vec![80u8];
                g.put_string(b"keepalive@openssh.com");
                g.put_bool(true);
                c.send(&g).unwrap();
                let ev = pump(&mut c, &mut s);
                assert_eq!(names(&ev), ["payload 82"], "{cipher} strict={strict}");
            }
            assert!(
                c.key_exchanges() >= 3,
                "{cipher}: {} exchanges",
                c.key_exchanges()
            );
            assert_eq!(c.key_exchanges(), u64::from(s.kexes));
            // Caller-initiated.
            let before = c.key_exchanges();
            c.rekey();
            assert!(c.in_key_exchange());
            pump(&mut c, &mut s);
            assert_eq!(c.key_exchanges(), before + 1);
            // Server-initiated.
            let before = c.key_exchanges();
            s.send_kexinit();
            pump(&mut c, &mut s);
            assert_eq!(c.key_exchanges(), before + 1);
            assert!(c.legacy_used().is_empty());
        }
    }
}

#[test]
fn a_wrong_guess_of_the_server_is_skipped() {
    let mut c = Transport::new(TransportConfig::default(), [4; 32]);
    let mut s = Server::new(false, "aes256-gcm@openssh.com");
    s.out.truncate(b"SSH-2.0-Fake_1.0\r\n".len());
    s.tx_seq = 0;
    s.send_kexinit_with_wrong_guess();
    let ev = pump(&mut c, &mut s);
    assert_eq!(names(&ev), ["hostkey ssh-ed25519", "ready"]);
    assert_eq!(c.negotiated().map(|n| n.kex), Some("curve25519-sha256"));
}

#[test]
fn a_bad_host_signature_or_a_changed_host_key_is_refused() {
    let mut c = Transport::new(TransportConfig::default(), [1; 32]);
    let mut s = Server::new(true, "aes128-ctr");
    s.forge = true;
    let out = c.output().to_vec();
    c.consume_output(out.len());
    s.feed(&out);
    let back = std::mem::take(&mut s.out);
    c.input(&back).unwrap();
    let out = c.output().to_vec();
    c.consume_output(out.len());
    s.feed(&out);
    let back = std::mem::take(&mut s.out);
    assert!(matches!(
        c.input(&back),
        Err(TransportError::HostKeySignature(_))
    ));
    assert!(c.poll().is_none(), "no HostKey event for an unverified key");
    assert!(!c.is_ready());

    let mut c = Transport::new(TransportConfig::default(), [1; 32]);
    let mut s = Server::new(true, "aes128-ctr");
    pump(&mut c, &mut s);
    assert!(c.is_ready());
    // Re-exchange with another host key.
    s.host = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    s.send_kexinit();
    let out = c.output().to_vec();
    s.feed(&out);
    let back = std::mem::take(&mut s.out);
    c.input(&back).unwrap();
    let out = c.output().to_vec();
    c.consume_output(out.len());
    s.feed(&out);
    let back = std::mem::take(&mut s.out);
    assert_eq!(c.input(&back), Err(TransportError::HostKeyChanged));
    assert_eq!(c.input(b"x"), Err(TransportError::Closed));
    assert!(c.send(&[50]).is_err());
}

fn after_version(server_packets: &[Vec<u8>]) -> (Transport, Result<(), TransportError>) {
    let mut c = Transport::new(TransportConfig::default(), [2; 32]);
    let mut data = b"SSH-2.0-Test\r\n".to_vec();
    for p in server_packets {
        data.extend_from_slice(p);
    }
    let r = c.input(&data);
    (c, r)
}

#[test]
fn identification_rules() {
    let ok = |s: &[u8]| {
        let mut c = Transport::new(TransportConfig::default(), [0; 32]);
        // Byte by byte: any split works.
        for b in s {
            c.input(&[*b])?;
        }
        Ok::<_, TransportError>(c.server_version().map(str::to_string))
    };
    assert_eq!(
        ok(b"hello\r\nworld\nSSH-2.0-OpenSSH_9.2 Debian\r\n")
            .unwrap()
            .as_deref(),
        Some("SSH-2.0-OpenSSH_9.2 Debian")
    );
    assert_eq!(
        ok(b"SSH-1.99-Old\n").unwrap().as_deref(),
        Some("SSH-1.99-Old")
    );
    assert!(matches!(
        ok(b"SSH-1.5-Old\r\n"),
        Err(TransportError::Version(_))
    ));
    let many = "banner\r\n".repeat(MAX_PRE_VERSION_LINES + 1) + "SSH-2.0-x\r\n";
    assert!(matches!(
        ok(many.as_bytes()),
        Err(TransportError::Version(_))
    ));
    let long = vec![b'a'; MAX_PRE_VERSION_BYTES + 1];
    assert!(matches!(ok(&long), Err(TransportError::Version(_))));
    let mut longv = b"SSH-2.0-".to_vec();
    longv.resize(300, b'x');
    assert!(matches!(ok(&longv), Err(TransportError::Version(_))));
    assert!(matches!(
        ok(b"SSH-2.0-\x01bad\r\n"),
        Err(TransportError::Version(_))
    ));
    // Binary before any identification: refused at the first control byte, without
    // waiting for a newline (a timeout) or the byte limit.
    let mut c = Transport::new(TransportConfig::default(), [0; 32]);
    match c.input(b"\x16\x03\x01\x02\x00") {
        Err(TransportError::Version(m)) => assert!(m.contains("invalid characters"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        ok(b"caf\xc3\xa9\tbanner\r\nSSH-2.0-x\r\n")
            .unwrap()
            .as_deref(),
        Some("SSH-2.0-x")
    );
    let e = TransportError::Version("server sent no SSH-2.0 identification".into());
    assert_eq!(
        e.to_string(),
        "SSH identification: server sent no SSH-2.0 identification"
    );
}

#[test]
fn we_open_with_our_version_and_kexinit() {
    let c = Transport::new(
        TransportConfig {
            client_version: "SSH-2.0-ksocket_test".into(),
            ..TransportConfig::default()
        },
        [0; 32],
    );
    let out = c.output();
    assert!(out.starts_with(b"SSH-2.0-ksocket_test\r\n"));
    let pkt = &out[22..];
    let len = u32::from_be_bytes([pkt[0], pkt[1], pkt[2], pkt[3]]) as usize;
    assert_eq!(pkt.len(), 4 + len);
    let pad = pkt[4] as usize;
    let k = kex::parse_kexinit(&pkt[5..4 + len - pad]).unwrap();
    assert!(k.kex.contains("kex-strict-c-v00@openssh.com") && k.kex.contains("ext-info-c"));
}

#[test]
fn hostile_lengths_and_paddings_are_errors() {
    let (_, r) = after_version(&[vec![0xff, 0xff, 0xff, 0xff]]);
    assert_eq!(r, Err(TransportError::PacketTooLarge(0xffff_ffff)));
    let (_, r) = after_version(&[vec![0, 0, 0, 1, 0]]);
    assert!(matches!(r, Err(TransportError::Protocol(_))));
    // Not a multiple of 8 with the length.
    let (_, r) = after_version(&[vec![0, 0, 0, 9, 4, 1, 2, 3, 4, 5, 6, 7, 8]]);
    assert!(matches!(r, Err(TransportError::Protocol(_))));
    // Padding length 3 (< 4), and padding swallowing the payload.
    let (_, r) = after_version(&[vec![0, 0, 0, 12, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]);
    assert!(matches!(r, Err(TransportError::Protocol(_))));
    let (_, r) = after_version(&[vec![0, 0, 0, 12, 11, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]);
    assert!(matches!(r, Err(TransportError::Protocol(_))));
    // A big length within the limit is not allocated before it arrives.
    let (c, r) = after_version(&[vec![0, 3, 0xff, 0xfc]]);
    assert!(r.is_ok());
    assert!(c.inbuf.capacity() <= 4 + 0x3fffc + 64);
    let (_, r) = after_version(&[clear_packet(&[50, 1, 2])]);
    assert!(matches!(r, Err(TransportError::Protocol(s)) if s.contains("before the key exchange")));
    let (_, r) = after_version(&[clear_packet(&server_kexinit(
        "diffie-hellman-group1-sha1",
        "aes128-ctr",
    ))]);
    assert!(matches!(
        r,
        Err(TransportError::NoCommonAlgorithm {
            what: "key exchange",
            ..
        })
    ));
    let mut garbage = server_kexinit("curve25519-sha256", "aes128-ctr");
    garbage.truncate(40);
    let (_, r) = after_version(&[clear_packet(&garbage)]);
    assert!(matches!(r, Err(TransportError::Protocol(_))));
}

#[test]
fn strict_kex_refuses_anything_before_or_inside_the_first_exchange() {
    let ignore = clear_packet(&[MSG_IGNORE, 0, 0, 0, 0]);
    let strict = clear_packet(&server_kexinit(
        "curve25519-sha256,kex-strict-s-v00@openssh.com",
        "aes128-ctr",
    ));
    let loose = clear_packet(&server_kexinit("curve25519-sha256", "aes128-ctr"));
    let (_, r) = after_version(&[ignore.clone(), strict.clone()]);
    assert!(matches!(r, Err(TransportError::Protocol(s)) if s.contains("strict")));
    let (_, r) = after_version(&[strict.clone(), ignore.clone()]);
    assert!(matches!(r, Err(TransportError::Protocol(s)) if s.contains("strict")));
    // Without strict KEX an IGNORE is fine, and our KEX_ECDH_INIT goes out.
    let (c, r) = after_version(&[ignore, loose]);
    assert!(r.is_ok());
    assert!(c.kex.as_ref().is_some_and(|k| k.eph.is_some()));
    // A DISCONNECT is reported.
    let mut d = vec![MSG_DISCONNECT];
    d.put_u32(2);
    d.put_string(b"go away");
    d.put_string(b"");
    let (mut c, r) = after_version(&[clear_packet(&d)]);
    assert!(r.is_ok());
    assert!(
        matches!(c.poll(), Some(TransportEvent::Disconnected { reason: 2, description }) if description == "go away")
    );
}

#[test]
fn a_flipped_bit_after_keys_is_a_mac_error() {
    let mut c = Transport::new(TransportConfig::default(), [3; 32]);
    let mut s = Server::new(true, "chacha20-poly1305@openssh.com");
    pump(&mut c, &mut s);
    assert!(c.is_ready());
    s.send(&[80, 0, 0, 0, 0]);
    let mut back = std::mem::take(&mut s.out);
    let n = back.len();
    back[n - 20] ^= 4;
    assert_eq!(c.input(&back), Err(TransportError::Mac));
    // A DISCONNECT (MAC error) is queued for the server.
    assert!(!c.output().is_empty());
}

#[test]
fn send_refuses_transport_messages() {
    let mut c = Transport::new(TransportConfig::default(), [3; 32]);
    assert!(c.send(&[]).is_err());
    assert!(c.send(&[MSG_KEXINIT]).is_err());
    assert!(c.send(&[MSG_NEWKEYS]).is_err());
    let before = c.output().len();
    c.send(&[50]).unwrap();
    assert_eq!(
        c.output().len(),
        before,
        "queued until the exchange is done"
    );
    let big = vec![94u8; MAX_BACKLOG / 4];
    let mut r = Ok(());
    for _ in 0..5 {
        r = r.and(c.send(&big[..200_000]));
    }
    assert!(r.is_ok());
    let mut r = Ok(());
    for _ in 0..30 {
        r = r.and(c.send(&big[..200_000]));
    }
    assert_eq!(
        r,
        Err(TransportError::Backlog(
            "messages queued during the key exchange"
        ))
    );
}
