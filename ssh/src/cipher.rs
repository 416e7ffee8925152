//! Packet protection of the binary packet protocol (RFC 4253 §6): the ciphers and MACs
//! we offer, and one direction's state once keys are in use. Composition only: every
//! primitive comes from a RustCrypto crate.
//!
//! A packet here is `uint32 packet_length | byte padding_length | payload | padding`,
//! followed by the tag (AEAD) or MAC. The caller (the transport) frames packets; this
//! module encrypts a framed packet in place and, for reading, tells how many bytes it
//! needs to learn the length, then checks and decrypts a whole packet.

use aes::{Aes128, Aes256};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use chacha20::ChaCha20Legacy;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use ctr::Ctr128BE;
use hmac::{Hmac, Mac};
use poly1305::Poly1305;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A cipher as negotiated: name, key and IV lengths, block size for padding, and whether
/// it authenticates itself (an AEAD: the MAC negotiated beside it is not used).
#[derive(Debug, PartialEq, Eq)]
pub struct CipherSpec {
    pub name: &'static str,
    pub key_len: usize,
    pub iv_len: usize,
    pub block: usize,
    pub aead: bool,
}

/// A MAC as negotiated: name, key and output lengths, encrypt-then-MAC or not.
#[derive(Debug, PartialEq, Eq)]
pub struct MacSpec {
    pub name: &'static str,
    pub key_len: usize,
    pub out_len: usize,
    pub etm: bool,
}

/// The ciphers we offer, best first.
pub const CIPHERS: &[CipherSpec] = &[
    CipherSpec {
        name: "chacha20-poly1305@openssh.com",
        key_len: 64,
        iv_len: 0,
        block: 8,
        aead: true,
    },
    CipherSpec {
        name: "aes256-gcm@openssh.com",
        key_len: 32,
        iv_len: 12,
        block: 16,
        aead: true,
    },
    CipherSpec {
        name: "aes128-gcm@openssh.com",
        key_len: 16,
        iv_len: 12,
        block: 16,
        aead: true,
    },
    CipherSpec {
        name: "aes128-ctr",
        key_len: 16,
        iv_len: 16,
        block: 16,
        aead: false,
    },
    CipherSpec {
        name: "aes256-ctr",
        key_len: 32,
        iv_len: 16,
        block: 16,
        aead: false,
    },
];

/// The MACs we offer (used with the CTR ciphers), best first.
pub const MACS: &[MacSpec] = &[
    MacSpec {
        name: "hmac-sha2-256-etm@openssh.com",
        key_len: 32,
        out_len: 32,
        etm: true,
    },
    MacSpec {
        name: "hmac-sha2-512-etm@openssh.com",
        key_len: 64,
        out_len: 64,
        etm: true,
    },
    MacSpec {
        name: "hmac-sha2-256",
        key_len: 32,
        out_len: 32,
        etm: false,
    },
    MacSpec {
        name: "hmac-sha2-512",
        key_len: 64,
        out_len: 64,
        etm: false,
    },
];

pub fn cipher_spec(name: &str) -> Option<&'static CipherSpec> {
    CIPHERS.iter().find(|c| c.name == name)
}

pub fn mac_spec(name: &str) -> Option<&'static MacSpec> {
    MACS.iter().find(|m| m.name == name)
}

/// The MAC (or tag) did not verify, or a key had the wrong length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unauthentic;

enum Ctr {
    Aes128(Box<Ctr128BE<Aes128>>),
    Aes256(Box<Ctr128BE<Aes256>>),
}

impl Ctr {
    fn apply(&mut self, buf: &mut [u8]) {
        match self {
            Ctr::Aes128(c) => c.apply_keystream(buf),
            Ctr::Aes256(c) => c.apply_keystream(buf),
        }
    }
}

struct HmacKey {
    spec: &'static MacSpec,
    key: Zeroizing<Vec<u8>>,
}

impl HmacKey {
    /// The MAC of `seq || parts...`, written into `out` (out_len bytes).
    fn compute(&self, seq: u32, parts: &[&[u8]], out: &mut Vec<u8>) -> Result<(), Unauthentic> {
        let seq = seq.to_be_bytes();
        if self.spec.out_len == 64 {
            let mut m =
                <Hmac<Sha512> as KeyInit>::new_from_slice(&self.key).map_err(|_| Unauthentic)?;
            m.update(&seq);
            for p in parts {
                m.update(p);
            }
            out.extend_from_slice(&m.finalize().into_bytes());
        } else {
            let mut m =
                <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).map_err(|_| Unauthentic)?;
            m.update(&seq);
            for p in parts {
                m.update(p);
            }
            out.extend_from_slice(&m.finalize().into_bytes());
        }
        Ok(())
    }

    fn check(&self, seq: u32, parts: &[&[u8]], tag: &[u8]) -> Result<(), Unauthentic> {
        let mut mine = Zeroizing::new(Vec::with_capacity(64));
        self.compute(seq, parts, &mut mine)?;
        if mine.len() == tag.len() && bool::from(mine.as_slice().ct_eq(tag)) {
            Ok(())
        } else {
            Err(Unauthentic)
        }
    }
}

enum State {
    Clear,
    ChaCha {
        main: Zeroizing<[u8; 32]>,
        header: Zeroizing<[u8; 32]>,
    },
    Gcm128 {
        aead: Box<Aes128Gcm>,
        iv: [u8; 12],
    },
    Gcm256 {
        aead: Box<Aes256Gcm>,
        iv: [u8; 12],
    },
    Ctr {
        ctr: Ctr,
        mac: HmacKey,
    },
}

/// One direction's protection: none before the first NEWKEYS, then the negotiated
/// cipher and MAC with their keys. Never printed (the Debug form names the cipher only).
pub struct Direction {
    state: State,
    name: &'static str,
}

impl core::fmt::Debug for Direction {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Direction({})", self.name)
    }
}

fn chacha(key: &[u8; 32], seq: u32) -> ChaCha20Legacy {
    let nonce = u64::from(seq).to_be_bytes();
    ChaCha20Legacy::new(key.into(), &nonce.into())
}

fn gcm_step(iv: &mut [u8; 12]) {
    // RFC 5647 §7.1: the invocation counter is the low 64 bits, incremented per packet.
    let mut c = [0u8; 8];
    c.copy_from_slice(&iv[4..]);
    let c = u64::from_be_bytes(c).wrapping_add(1);
    iv[4..].copy_from_slice(&c.to_be_bytes());
}

impl Direction {
    /// No protection (before the first NEWKEYS).
    pub fn clear() -> Direction {
        Direction {
            state: State::Clear,
            name: "none",
        }
    }

    /// Keys in use: `key` and `iv` of the cipher's lengths, `mac_key` of the MAC's
    /// (ignored for an AEAD).
    pub fn new(
        cipher: &'static CipherSpec,
        mac: Option<&'static MacSpec>,
        key: &[u8],
        iv: &[u8],
        mac_key: &[u8],
    ) -> Result<Direction, Unauthentic> {
        let fixed12 =
            |iv: &[u8]| -> Result<[u8; 12], Unauthentic> { iv.try_into().map_err(|_| Unauthentic) };
        let state = match cipher.name {
            "chacha20-poly1305@openssh.com" => {
                if key.len() != 64 {
                    return Err(Unauthentic);
                }
                let mut main = Zeroizing::new([0u8; 32]);
                let mut header = Zeroizing::new([0u8; 32]);
                main.copy_from_slice(&key[..32]);
                header.copy_from_slice(&key[32..]);
                State::ChaCha { main, header }
            }
            "aes256-gcm@openssh.com" => State::Gcm256 {
                aead: Box::new(Aes256Gcm::new_from_slice(key).map_err(|_| Unauthentic)?),
                iv: fixed12(iv)?,
            },
            "aes128-gcm@openssh.com" => State::Gcm128 {
                aead: Box::new(Aes128Gcm::new_from_slice(key).map_err(|_| Unauthentic)?),
                iv: fixed12(iv)?,
            },
            "aes128-ctr" | "aes256-ctr" => {
                let ctr = if cipher.name == "aes128-ctr" {
                    Ctr::Aes128(Box::new(
                        Ctr128BE::<Aes128>::new_from_slices(key, iv).map_err(|_| Unauthentic)?,
                    ))
                } else {
                    Ctr::Aes256(Box::new(
                        Ctr128BE::<Aes256>::new_from_slices(key, iv).map_err(|_| Unauthentic)?,
                    ))
                };
                let spec = mac.ok_or(Unauthentic)?;
                if mac_key.len() != spec.key_len {
                    return Err(Unauthentic);
                }
                State::Ctr {
                    ctr,
                    mac: HmacKey {
                        spec,
                        key: Zeroizing::new(mac_key.to_vec()),
                    },
                }
            }
            _ => return Err(Unauthentic),
        };
        Ok(Direction {
            state,
            name: cipher.name,
        })
    }

    /// The cipher's name ("none" before keys).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The padding block: the packet (or, when the length is not encrypted with the
    /// rest, the packet after the length) is a multiple of it.
    pub fn block(&self) -> usize {
        match &self.state {
            State::Clear | State::ChaCha { .. } => 8,
            _ => 16,
        }
    }

    /// Whether padding is computed without the 4-byte length (AEAD and EtM).
    pub fn length_apart(&self) -> bool {
        match &self.state {
            State::Clear => false,
            State::ChaCha { .. } | State::Gcm128 { .. } | State::Gcm256 { .. } => true,
            State::Ctr { mac, .. } => mac.spec.etm,
        }
    }

    /// Bytes of tag or MAC after the packet.
    pub fn tag_len(&self) -> usize {
        match &self.state {
            State::Clear => 0,
            State::ChaCha { .. } | State::Gcm128 { .. } | State::Gcm256 { .. } => 16,
            State::Ctr { mac, .. } => mac.spec.out_len,
        }
    }

    /// Bytes needed at the start of a packet to learn its length.
    pub fn head_len(&self) -> usize {
        match &self.state {
            State::Ctr { mac, .. } if !mac.spec.etm => 16,
            _ => 4,
        }
    }

    /// The packet length from the first [`Self::head_len`] bytes. For CTR without EtM
    /// the head is decrypted in place (the cipher's state moves on; [`Self::open`] then
    /// continues after it); for the others it is left as received.
    pub fn read_length(&mut self, seq: u32, head: &mut [u8]) -> u32 {
        let mut len = [0u8; 4];
        match &mut self.state {
            State::ChaCha { header, .. } => {
                len.copy_from_slice(&head[..4]);
                chacha(header, seq).apply_keystream(&mut len);
            }
            State::Ctr { ctr, mac } if !mac.spec.etm => {
                ctr.apply(head);
                len.copy_from_slice(&head[..4]);
            }
            _ => len.copy_from_slice(&head[..4]),
        }
        u32::from_be_bytes(len)
    }

    /// Checks and decrypts a whole packet (`4 + len` bytes, then [`Self::tag_len`]),
    /// whose head went through [`Self::read_length`]. On success `pkt[4..4 + len]` is
    /// the plaintext `padding_length | payload | padding`.
    pub fn open(&mut self, seq: u32, pkt: &mut [u8]) -> Result<(), Unauthentic> {
        let tag_len = self.tag_len();
        let body_end = pkt.len().checked_sub(tag_len).ok_or(Unauthentic)?;
        if body_end < 4 {
            return Err(Unauthentic);
        }
        let (body, tag) = pkt.split_at_mut(body_end);
        match &mut self.state {
            State::Clear => Ok(()),
            State::ChaCha { main, .. } => {
                let mut c = chacha(main, seq);
                let mut poly_key = Zeroizing::new([0u8; 32]);
                c.apply_keystream(poly_key.as_mut_slice());
                let mac = Poly1305::new_from_slice(poly_key.as_slice()).map_err(|_| Unauthentic)?;
                let mine = mac.compute_unpadded(body);
                if !bool::from(mine.as_slice().ct_eq(tag)) {
                    return Err(Unauthentic);
                }
                c.seek(64u64);
                c.apply_keystream(&mut body[4..]);
                Ok(())
            }
            State::Gcm128 { aead, iv } => {
                let (aad, rest) = body.split_at_mut(4);
                let t = (&*tag).try_into().map_err(|_| Unauthentic)?;
                aead.decrypt_inout_detached(&(*iv).into(), aad, rest.into(), t)
                    .map_err(|_| Unauthentic)?;
                gcm_step(iv);
                Ok(())
            }
            State::Gcm256 { aead, iv } => {
                let (aad, rest) = body.split_at_mut(4);
                let t = (&*tag).try_into().map_err(|_| Unauthentic)?;
                aead.decrypt_inout_detached(&(*iv).into(), aad, rest.into(), t)
                    .map_err(|_| Unauthentic)?;
                gcm_step(iv);
                Ok(())
            }
            State::Ctr { ctr, mac } => {
                if mac.spec.etm {
                    mac.check(seq, &[body], tag)?;
                    ctr.apply(&mut body[4..]);
                    Ok(())
                } else {
                    if body.len() < 16 {
                        return Err(Unauthentic);
                    }
                    ctr.apply(&mut body[16..]);
                    mac.check(seq, &[body], tag)
                }
            }
        }
    }

    /// Encrypts a framed packet in place and appends its tag or MAC.
    pub fn seal(&mut self, seq: u32, pkt: &mut Vec<u8>) {
        let n = pkt.len();
        if n < 4 {
            return;
        }
        match &mut self.state {
            State::Clear => {}
            State::ChaCha { main, header } => {
                chacha(header, seq).apply_keystream(&mut pkt[..4]);
                let mut c = chacha(main, seq);
                let mut poly_key = Zeroizing::new([0u8; 32]);
                c.apply_keystream(poly_key.as_mut_slice());
                c.seek(64u64);
                c.apply_keystream(&mut pkt[4..]);
                if let Ok(mac) = Poly1305::new_from_slice(poly_key.as_slice()) {
                    let tag = mac.compute_unpadded(pkt);
                    pkt.extend_from_slice(&tag);
                }
            }
            State::Gcm128 { aead, iv } => {
                let (aad, rest) = pkt.split_at_mut(4);
                if let Ok(tag) = aead.encrypt_inout_detached(&(*iv).into(), aad, rest.into()) {
                    pkt.extend_from_slice(&tag);
                }
                gcm_step(iv);
            }
            State::Gcm256 { aead, iv } => {
                let (aad, rest) = pkt.split_at_mut(4);
                if let Ok(tag) = aead.encrypt_inout_detached(&(*iv).into(), aad, rest.into()) {
                    pkt.extend_from_slice(&tag);
                }
                gcm_step(iv);
            }
            State::Ctr { ctr, mac } => {
                let mut tag = Vec::with_capacity(64);
                if mac.spec.etm {
                    ctr.apply(&mut pkt[4..]);
                    let _ = mac.compute(seq, &[pkt], &mut tag);
                } else {
                    let _ = mac.compute(seq, &[pkt], &mut tag);
                    ctr.apply(pkt);
                }
                pkt.extend_from_slice(&tag);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8], d: &Direction) -> Vec<u8> {
        let bs = d.block();
        let fixed = if d.length_apart() { 1 } else { 5 };
        let mut pad = bs - (fixed + payload.len()) % bs;
        if pad < 4 {
            pad += bs;
        }
        let mut p = Vec::new();
        p.extend_from_slice(&((1 + payload.len() + pad) as u32).to_be_bytes());
        p.push(pad as u8);
        p.extend_from_slice(payload);
        p.resize(p.len() + pad, 0x5a);
        p
    }

    fn pair(c: &str, m: Option<&str>) -> (Direction, Direction) {
        let spec = cipher_spec(c).unwrap();
        let mac = m.map(|m| mac_spec(m).unwrap());
        let key: Vec<u8> = (0..spec.key_len as u8).collect();
        let iv: Vec<u8> = (100..100 + spec.iv_len as u8).collect();
        let mk: Vec<u8> = (0..mac.map_or(0, |m| m.key_len) as u8)
            .map(|x| x ^ 0x33)
            .collect();
        (
            Direction::new(spec, mac, &key, &iv, &mk).unwrap(),
            Direction::new(spec, mac, &key, &iv, &mk).unwrap(),
        )
    }

    #[test]
    fn every_cipher_round_trips_and_refuses_a_flipped_bit() {
        let combos: Vec<(&str, Option<&str>)> = vec![
            ("chacha20-poly1305@openssh.com", None),
            ("aes256-gcm@openssh.com", None),
            ("aes128-gcm@openssh.com", None),
            ("aes128-ctr", Some("hmac-sha2-256-etm@openssh.com")),
            ("aes256-ctr", Some("hmac-sha2-512-etm@openssh.com")),
            ("aes128-ctr", Some("hmac-sha2-256")),
            ("aes256-ctr", Some("hmac-sha2-512")),
        ];
        for (c, m) in combos {
            let (mut tx, mut rx) = pair(c, m);
            for seq in [0u32, 1, u32::MAX] {
                let payload = b"\x05\x00\x00\x00\x0cssh-userauth";
                let mut p = frame(payload, &tx);
                let plain = p.clone();
                tx.seal(seq, &mut p);
                assert_eq!(p.len(), plain.len() + tx.tag_len(), "{c}");
                assert_ne!(&p[4..plain.len()], &plain[4..], "{c}");
                let mut bad = p.clone();
                let mut good = p.clone();
                let head = rx.head_len();
                let len = rx.read_length(seq, &mut good[..head]);
                assert_eq!(len as usize, plain.len() - 4, "{c}");
                rx.open(seq, &mut good).unwrap();
                assert_eq!(&good[4..plain.len()], &plain[4..], "{c}");
                // A flipped bit in the last byte (tag/MAC) is refused, with a fresh pair
                // (CTR state moved on above).
                let (_, mut rx2) = pair(c, m);
                if seq == 0 {
                    let last = bad.len() - 1;
                    bad[last] ^= 1;
                    let len = rx2.read_length(seq, &mut bad[..head]);
                    assert_eq!(len as usize, plain.len() - 4);
                    assert_eq!(rx2.open(seq, &mut bad), Err(Unauthentic), "{c}");
                }
                if seq == 0 {
                    // keep tx/rx in step for CTR and GCM
                }
            }
        }
    }

    #[test]
    fn chacha_matches_openssh_layout() {
        // Length is encrypted with the header key, payload from block 1 of the main key.
        let (mut tx, _) = pair("chacha20-poly1305@openssh.com", None);
        let mut p = frame(b"\x02\x00\x00\x00\x00", &tx);
        let plain = p.clone();
        tx.seal(7, &mut p);
        let key: Vec<u8> = (0..64u8).collect();
        let mut k2 = [0u8; 32];
        k2.copy_from_slice(&key[32..]);
        let mut len = [0u8; 4];
        len.copy_from_slice(&p[..4]);
        chacha(&k2, 7).apply_keystream(&mut len);
        assert_eq!(len, plain[..4]);
    }
}
