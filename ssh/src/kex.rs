//! Key exchange (RFC 4253 §7-8, RFC 5656, RFC 8731, RFC 8268): the KEXINIT message,
//! negotiation, the client's side of each method (ephemeral key, INIT message, reply,
//! shared secret, exchange hash) and key derivation (RFC 4253 §7.2).

use crate::cipher::{self, CipherSpec, MacSpec};
use crate::wire::{Malformed, NameList, Reader, Write};
use chacha20::ChaCha20Rng;
use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, U2048};
use p256::elliptic_curve::sec1::ToSec1Point;
use rand_core::Rng;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub const MSG_KEXINIT: u8 = 20;
pub const MSG_NEWKEYS: u8 = 21;
/// SSH_MSG_KEXDH_INIT and SSH_MSG_KEX_ECDH_INIT.
pub const MSG_KEX_INIT: u8 = 30;
/// SSH_MSG_KEXDH_REPLY and SSH_MSG_KEX_ECDH_REPLY.
pub const MSG_KEX_REPLY: u8 = 31;

/// Key exchange methods, best first; the last one only when legacy algorithms are allowed.
pub const KEX: &[&str] = &[
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "diffie-hellman-group14-sha256",
];
pub const KEX_LEGACY: &str = "diffie-hellman-group14-sha1";
/// Pseudo-algorithms a client adds to its first kex list.
pub const STRICT_CLIENT: &str = "kex-strict-c-v00@openssh.com";
pub const STRICT_SERVER: &str = "kex-strict-s-v00@openssh.com";
pub const EXT_INFO_CLIENT: &str = "ext-info-c";

/// Host key (signature) algorithms, best first; ssh-rsa (SHA-1) only when legacy.
pub const HOST_KEY: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "rsa-sha2-512",
    "rsa-sha2-256",
];
pub const HOST_KEY_LEGACY: &str = "ssh-rsa";

/// What both sides agreed on for one key exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub kex: &'static str,
    pub host_key_algorithm: &'static str,
    pub cipher_client_to_server: &'static str,
    pub cipher_server_to_client: &'static str,
    /// None with an AEAD cipher (it authenticates itself).
    pub mac_client_to_server: Option<&'static str>,
    pub mac_server_to_client: Option<&'static str>,
    /// The server offered kex-strict-s-v00@openssh.com (in its first KEXINIT).
    pub strict_kex: bool,
}

/// The name lists of a KEXINIT we send.
pub fn kex_names(legacy: bool, first: bool) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = KEX.to_vec();
    if legacy {
        v.push(KEX_LEGACY);
    }
    if first {
        v.push(EXT_INFO_CLIENT);
        v.push(STRICT_CLIENT);
    }
    v
}

pub fn host_key_names(legacy: bool) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = HOST_KEY.to_vec();
    if legacy {
        v.push(HOST_KEY_LEGACY);
    }
    v
}

/// Our KEXINIT payload (message number included).
pub fn build_kexinit(cookie: [u8; 16], legacy: bool, first: bool) -> Vec<u8> {
    let mut p = Vec::with_capacity(512);
    p.put_u8(MSG_KEXINIT);
    p.extend_from_slice(&cookie);
    p.put_name_list(kex_names(legacy, first));
    p.put_name_list(host_key_names(legacy));
    for _ in 0..2 {
        p.put_name_list(cipher::CIPHERS.iter().map(|c| c.name));
    }
    for _ in 0..2 {
        p.put_name_list(cipher::MACS.iter().map(|m| m.name));
    }
    for _ in 0..2 {
        p.put_name_list(["none"]);
    }
    for _ in 0..2 {
        p.put_name_list([]);
    }
    p.put_bool(false);
    p.put_u32(0);
    p
}

/// A received KEXINIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KexInit<'a> {
    pub kex: NameList<'a>,
    pub host_key: NameList<'a>,
    pub cipher_c2s: NameList<'a>,
    pub cipher_s2c: NameList<'a>,
    pub mac_c2s: NameList<'a>,
    pub mac_s2c: NameList<'a>,
    pub comp_c2s: NameList<'a>,
    pub comp_s2c: NameList<'a>,
    pub first_kex_packet_follows: bool,
}

/// Parses a KEXINIT payload (message number included).
pub fn parse_kexinit(payload: &[u8]) -> Result<KexInit<'_>, Malformed> {
    let mut r = Reader::new(payload);
    if r.u8("KEXINIT")? != MSG_KEXINIT {
        return Err(Malformed("KEXINIT"));
    }
    r.bytes(16, "KEXINIT cookie")?;
    let kex = r.name_list("KEXINIT kex algorithms")?;
    let host_key = r.name_list("KEXINIT host key algorithms")?;
    let cipher_c2s = r.name_list("KEXINIT ciphers")?;
    let cipher_s2c = r.name_list("KEXINIT ciphers")?;
    let mac_c2s = r.name_list("KEXINIT MACs")?;
    let mac_s2c = r.name_list("KEXINIT MACs")?;
    let comp_c2s = r.name_list("KEXINIT compression")?;
    let comp_s2c = r.name_list("KEXINIT compression")?;
    r.name_list("KEXINIT languages")?;
    r.name_list("KEXINIT languages")?;
    let first_kex_packet_follows = r.bool("KEXINIT first_kex_packet_follows")?;
    r.u32("KEXINIT reserved")?;
    Ok(KexInit {
        kex,
        host_key,
        cipher_c2s,
        cipher_s2c,
        mac_c2s,
        mac_s2c,
        comp_c2s,
        comp_s2c,
        first_kex_packet_follows,
    })
}

/// No algorithm both sides support for `what`; `server_offers` is the server's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoCommon {
    pub what: &'static str,
    pub server_offers: String,
}

fn first_common(
    ours: &[&'static str],
    theirs: NameList<'_>,
    what: &'static str,
) -> Result<&'static str, NoCommon> {
    ours.iter()
        .copied()
        .find(|o| theirs.contains(o))
        .ok_or_else(|| NoCommon {
            what,
            server_offers: theirs.0.chars().take(512).collect(),
        })
}

/// RFC 4253 §7.1: for each list, the first of the client's that the server also has.
/// `first` says whether this is the first exchange (strict KEX is decided there).
pub fn negotiate(theirs: &KexInit<'_>, legacy: bool) -> Result<Negotiated, NoCommon> {
    let kex = first_common(&kex_names(legacy, false), theirs.kex, "key exchange")?;
    let host_key_algorithm = first_common(&host_key_names(legacy), theirs.host_key, "host key")?;
    let ciphers: Vec<&'static str> = cipher::CIPHERS.iter().map(|c| c.name).collect();
    let macs: Vec<&'static str> = cipher::MACS.iter().map(|m| m.name).collect();
    let c2s = first_common(&ciphers, theirs.cipher_c2s, "cipher (client to server)")?;
    let s2c = first_common(&ciphers, theirs.cipher_s2c, "cipher (server to client)")?;
    let mac_for = |c: &str, list: NameList<'_>, what| -> Result<Option<&'static str>, NoCommon> {
        if cipher::cipher_spec(c).is_some_and(|s| s.aead) {
            Ok(None)
        } else {
            first_common(&macs, list, what).map(Some)
        }
    };
    let mac_client_to_server = mac_for(c2s, theirs.mac_c2s, "MAC (client to server)")?;
    let mac_server_to_client = mac_for(s2c, theirs.mac_s2c, "MAC (server to client)")?;
    first_common(&["none"], theirs.comp_c2s, "compression (client to server)")?;
    first_common(&["none"], theirs.comp_s2c, "compression (server to client)")?;
    Ok(Negotiated {
        kex,
        host_key_algorithm,
        cipher_client_to_server: c2s,
        cipher_server_to_client: s2c,
        mac_client_to_server,
        mac_server_to_client,
        strict_kex: theirs.kex.contains(STRICT_SERVER),
    })
}

/// Whether the server's guessed first kex packet (if it sent one) is to be ignored:
/// its guess is right only when its first kex and host key algorithms are the agreed ones.
pub fn guess_was_wrong(theirs: &KexInit<'_>, n: &Negotiated) -> bool {
    theirs.first_kex_packet_follows
        && (theirs.kex.iter().next() != Some(n.kex)
            || theirs.host_key.iter().next() != Some(n.host_key_algorithm))
}

/// The hash of a method (SHA-256, or SHA-1 for group14-sha1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha1,
    Sha256,
}

impl HashAlg {
    pub fn of(kex: &str) -> HashAlg {
        if kex == KEX_LEGACY {
            HashAlg::Sha1
        } else {
            HashAlg::Sha256
        }
    }

    pub fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        match self {
            HashAlg::Sha1 => {
                let mut h = Sha1::new();
                for p in parts {
                    h.update(p);
                }
                h.finalize().to_vec()
            }
            HashAlg::Sha256 => {
                let mut h = Sha256::new();
                for p in parts {
                    h.update(p);
                }
                h.finalize().to_vec()
            }
        }
    }
}

/// RFC 3526 group 14 (2048-bit MODP), generator 2.
const GROUP14_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1\
29024E088A67CC74020BBEA63B139B22514A08798E3404DD\
EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245\
E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED\
EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D\
C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F\
83655D23DCA3AD961C62F356208552BB9ED529077096966D\
670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B\
E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9\
DE2BCBF6955817183995497CEA956AE515D2261898FA0510\
15728E5A8AACAA68FFFFFFFFFFFFFFFF";

fn group14() -> U2048 {
    U2048::from_be_hex(GROUP14_HEX)
}

/// Bits of the DH private exponent (twice the group's ~112-bit strength, rounded up as
/// OpenSSH does for its own).
const DH_EXPONENT_BITS: u32 = 512;

/// Our half of a key exchange in progress. Secrets are zeroized on drop.
pub enum Ephemeral {
    X25519(x25519_dalek::StaticSecret),
    P256(p256::ecdh::EphemeralSecret),
    Dh { x: Box<U2048>, e: Vec<u8> },
}

impl core::fmt::Debug for Ephemeral {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Ephemeral::X25519(_) => "Ephemeral(x25519)",
            Ephemeral::P256(_) => "Ephemeral(p256)",
            Ephemeral::Dh { .. } => "Ephemeral(dh group14)",
        })
    }
}

impl Drop for Ephemeral {
    fn drop(&mut self) {
        if let Ephemeral::Dh { x, .. } = self {
            **x = U2048::ZERO;
        }
    }
}

/// Why a server's reply is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KexFailure {
    Malformed(Malformed),
    /// The server's public value is invalid (not on the curve, out of range, or a
    /// low-order point giving an all-zero secret).
    BadPublic(&'static str),
}

impl From<Malformed> for KexFailure {
    fn from(m: Malformed) -> Self {
        KexFailure::Malformed(m)
    }
}

/// A parsed KEX(ECDH/DH)_REPLY: host key blob, server public value (a string for the
/// curves, an mpint magnitude for DH), and the signature over the exchange hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply<'a> {
    pub host_key: &'a [u8],
    pub server_public: &'a [u8],
    pub signature: &'a [u8],
}

/// Parses the reply of method `kex` (message number included). Nothing is allocated.
pub fn parse_reply<'a>(kex: &str, payload: &'a [u8]) -> Result<Reply<'a>, Malformed> {
    let mut r = Reader::new(payload);
    if r.u8("KEX reply")? != MSG_KEX_REPLY {
        return Err(Malformed("KEX reply"));
    }
    let host_key = r.string("KEX reply host key")?;
    let server_public = if kex.starts_with("diffie-hellman") {
        r.mpint_positive("KEX reply f")?
    } else {
        r.string("KEX reply server public key")?
    };
    let signature = r.string("KEX reply signature")?;
    if !r.is_empty() {
        return Err(Malformed("KEX reply (trailing bytes)"));
    }
    Ok(Reply {
        host_key,
        server_public,
        signature,
    })
}

impl Ephemeral {
    /// A fresh ephemeral key for `kex`, and the INIT message to send.
    pub fn new(kex: &str, rng: &mut ChaCha20Rng) -> (Ephemeral, Vec<u8>) {
        let mut msg = Vec::with_capacity(300);
        msg.put_u8(MSG_KEX_INIT);
        let eph = match kex {
            "curve25519-sha256" | "curve25519-sha256@libssh.org" => {
                let mut seed = Zeroizing::new([0u8; 32]);
                rng.fill_bytes(seed.as_mut_slice());
                let s = x25519_dalek::StaticSecret::from(*seed);
                msg.put_string(x25519_dalek::PublicKey::from(&s).as_bytes());
                Ephemeral::X25519(s)
            }
            "ecdh-sha2-nistp256" => {
                let s = <p256::ecdh::EphemeralSecret as p256::elliptic_curve::Generate>::generate_from_rng(rng);
                msg.put_string(s.public_key().to_sec1_point(false).as_bytes());
                Ephemeral::P256(s)
            }
            _ => {
                // diffie-hellman-group14-*: x random in [2^(bits-1), 2^bits), e = g^x mod p.
                let mut xb = Zeroizing::new([0u8; 256]);
                let start = 256 - (DH_EXPONENT_BITS as usize / 8);
                rng.fill_bytes(&mut xb[start..]);
                xb[start] |= 0x80;
                let x = Box::new(U2048::from_be_slice(xb.as_slice()));
                let e = dh_pow(&U2048::from_u8(2), &x);
                let e = e.to_be_bytes().to_vec();
                msg.put_mpint(&e);
                Ephemeral::Dh { x, e }
            }
        };
        (eph, msg)
    }

    /// [`Self::new`] with a generator seeded from `seed` (tests and fuzzing).
    pub fn with_seed(kex: &str, seed: [u8; 32]) -> (Ephemeral, Vec<u8>) {
        use rand_core::SeedableRng;
        Ephemeral::new(kex, &mut ChaCha20Rng::from_seed(seed))
    }

    /// Our public value as it goes into the exchange hash (string Q_C, or mpint e).
    fn put_ours(&self, h: &mut Vec<u8>) {
        match self {
            Ephemeral::X25519(s) => h.put_string(x25519_dalek::PublicKey::from(s).as_bytes()),
            Ephemeral::P256(s) => h.put_string(s.public_key().to_sec1_point(false).as_bytes()),
            Ephemeral::Dh { e, .. } => h.put_mpint(e),
        }
    }

    /// The shared secret K, encoded as an mpint (length included), as it goes into the
    /// exchange hash and the key derivation.
    pub fn shared(&self, server_public: &[u8]) -> Result<Zeroizing<Vec<u8>>, KexFailure> {
        let mut k = Zeroizing::new(Vec::with_capacity(260));
        match self {
            Ephemeral::X25519(s) => {
                let q: [u8; 32] = server_public
                    .try_into()
                    .map_err(|_| KexFailure::BadPublic("curve25519 key is not 32 bytes"))?;
                let shared = s.diffie_hellman(&x25519_dalek::PublicKey::from(q));
                if !shared.was_contributory() {
                    return Err(KexFailure::BadPublic("curve25519 shared secret is zero"));
                }
                k.put_mpint(shared.as_bytes());
            }
            Ephemeral::P256(s) => {
                if server_public.len() != 65 || server_public.first() != Some(&4) {
                    return Err(KexFailure::BadPublic("nistp256 point is not uncompressed"));
                }
                let q = p256::PublicKey::from_sec1_bytes(server_public)
                    .map_err(|_| KexFailure::BadPublic("nistp256 point is not on the curve"))?;
                let shared = s.diffie_hellman(&q);
                k.put_mpint(shared.raw_secret_bytes().as_slice());
            }
            Ephemeral::Dh { x, .. } => {
                // RFC 4253 §8: 1 < f < p-1.
                if server_public.len() > 256 {
                    return Err(KexFailure::BadPublic("DH f is larger than the group"));
                }
                let mut fb = [0u8; 256];
                fb[256 - server_public.len()..].copy_from_slice(server_public);
                let f = U2048::from_be_slice(&fb);
                let p_minus_1 = group14().wrapping_sub(&U2048::ONE);
                if f <= U2048::ONE || f >= p_minus_1 {
                    return Err(KexFailure::BadPublic("DH f is out of range"));
                }
                let shared = Zeroizing::new(dh_pow(&f, x).to_be_bytes().to_vec());
                k.put_mpint(&shared);
            }
        }
        Ok(k)
    }
}

fn dh_pow(base: &U2048, x: &U2048) -> U2048 {
    let p = Odd::<U2048>::from_be_hex(GROUP14_HEX);
    let params = FixedMontyParams::new(p);
    FixedMontyForm::new(base, &params)
        .pow_bounded_exp(x, DH_EXPONENT_BITS)
        .retrieve()
}

/// The exchange hash H (RFC 4253 §8, RFC 5656 §4, RFC 8731 §3).
#[allow(clippy::too_many_arguments)]
pub fn exchange_hash(
    hash: HashAlg,
    v_c: &[u8],
    v_s: &[u8],
    i_c: &[u8],
    i_s: &[u8],
    k_s: &[u8],
    ours: &Ephemeral,
    server_public: &[u8],
    k: &[u8],
) -> Vec<u8> {
    let mut q_c = Vec::with_capacity(300);
    ours.put_ours(&mut q_c);
    let mut q_s = Vec::with_capacity(300);
    match ours {
        Ephemeral::Dh { .. } => q_s.put_mpint(server_public),
        _ => q_s.put_string(server_public),
    }
    exchange_hash_encoded(hash, v_c, v_s, i_c, i_s, k_s, &q_c, &q_s, k)
}

/// The exchange hash from the public values already encoded (string or mpint, length
/// included): what a server computes too.
#[allow(clippy::too_many_arguments)]
pub fn exchange_hash_encoded(
    hash: HashAlg,
    v_c: &[u8],
    v_s: &[u8],
    i_c: &[u8],
    i_s: &[u8],
    k_s: &[u8],
    client_public: &[u8],
    server_public: &[u8],
    k: &[u8],
) -> Vec<u8> {
    let mut b = Zeroizing::new(Vec::with_capacity(2048 + i_c.len() + i_s.len() + k_s.len()));
    b.put_string(v_c);
    b.put_string(v_s);
    b.put_string(i_c);
    b.put_string(i_s);
    b.put_string(k_s);
    b.extend_from_slice(client_public);
    b.extend_from_slice(server_public);
    b.extend_from_slice(k);
    hash.digest(&[&b])
}

/// RFC 4253 §7.2: HASH(K || H || letter || session_id), extended with
/// HASH(K || H || K1 || ...) until `len` bytes.
pub fn derive(
    hash: HashAlg,
    k: &[u8],
    h: &[u8],
    letter: u8,
    session_id: &[u8],
    len: usize,
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(hash.digest(&[k, h, &[letter], session_id]));
    while out.len() < len {
        let more = Zeroizing::new(hash.digest(&[k, h, &out]));
        out.extend_from_slice(&more);
    }
    out.truncate(len);
    out
}

/// The six derived values of one direction pair.
pub struct Derived {
    pub iv_c2s: Zeroizing<Vec<u8>>,
    pub iv_s2c: Zeroizing<Vec<u8>>,
    pub key_c2s: Zeroizing<Vec<u8>>,
    pub key_s2c: Zeroizing<Vec<u8>>,
    pub mac_c2s: Zeroizing<Vec<u8>>,
    pub mac_s2c: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for Derived {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Derived(..)")
    }
}

#[allow(clippy::too_many_arguments)]
pub fn derive_all(
    hash: HashAlg,
    k: &[u8],
    h: &[u8],
    session_id: &[u8],
    c2s: &CipherSpec,
    s2c: &CipherSpec,
    mac_c2s: Option<&MacSpec>,
    mac_s2c: Option<&MacSpec>,
) -> Derived {
    let d = |letter, len| derive(hash, k, h, letter, session_id, len);
    Derived {
        iv_c2s: d(b'A', c2s.iv_len),
        iv_s2c: d(b'B', s2c.iv_len),
        key_c2s: d(b'C', c2s.key_len),
        key_s2c: d(b'D', s2c.key_len),
        mac_c2s: d(b'E', mac_c2s.map_or(0, |m| m.key_len)),
        mac_s2c: d(b'F', mac_s2c.map_or(0, |m| m.key_len)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    fn server_kexinit(kex: &str, hk: &str, c: &str, m: &str) -> Vec<u8> {
        let mut p = vec![MSG_KEXINIT];
        p.extend_from_slice(&[7; 16]);
        for l in [kex, hk, c, c, m, m, "none,zlib@openssh.com", "none", "", ""] {
            p.put_string(l.as_bytes());
        }
        p.put_bool(false);
        p.put_u32(0);
        p
    }

    #[test]
    fn group14_is_the_rfc_3526_prime() {
        let p = group14();
        assert_eq!(p.bit_width(), 2048);
        // Fermat: 2^(p-1) = 1 mod p (the prime is odd, so Montgomery form applies).
        let params = FixedMontyParams::new(Odd::new(p).unwrap());
        let pm1 = p.wrapping_sub(&U2048::ONE);
        assert_eq!(
            FixedMontyForm::new(&U2048::from_u8(2), &params)
                .pow(&pm1)
                .retrieve(),
            U2048::ONE
        );
    }

    #[test]
    fn negotiation_takes_the_clients_first_common_choice() {
        let p = server_kexinit(
            "ecdh-sha2-nistp256,curve25519-sha256,kex-strict-s-v00@openssh.com",
            "rsa-sha2-256,ssh-ed25519",
            "aes128-ctr,aes256-gcm@openssh.com",
            "hmac-sha2-512,hmac-sha2-256",
        );
        let k = parse_kexinit(&p).unwrap();
        let n = negotiate(&k, false).unwrap();
        assert_eq!(n.kex, "curve25519-sha256");
        assert_eq!(n.host_key_algorithm, "ssh-ed25519");
        assert_eq!(n.cipher_client_to_server, "aes256-gcm@openssh.com");
        assert_eq!(n.mac_client_to_server, None);
        assert!(n.strict_kex);
        assert!(!guess_was_wrong(&k, &n));

        let p = server_kexinit(
            "diffie-hellman-group14-sha1",
            "ssh-rsa",
            "aes256-ctr",
            "hmac-sha2-512",
        );
        let k = parse_kexinit(&p).unwrap();
        let e = negotiate(&k, false).unwrap_err();
        assert_eq!(e.what, "key exchange");
        assert_eq!(e.server_offers, "diffie-hellman-group14-sha1");
        let n = negotiate(&k, true).unwrap();
        assert_eq!(
            (n.kex, n.host_key_algorithm),
            ("diffie-hellman-group14-sha1", "ssh-rsa")
        );
        assert_eq!(n.mac_server_to_client, Some("hmac-sha2-512"));
        assert!(!n.strict_kex);

        // Pseudo-algorithms are never chosen.
        let p = server_kexinit(
            "ext-info-c,kex-strict-c-v00@openssh.com",
            "ssh-ed25519",
            "aes256-ctr",
            "hmac-sha2-512",
        );
        assert!(negotiate(&parse_kexinit(&p).unwrap(), true).is_err());
    }

    #[test]
    fn our_kexinit_parses_and_lists_the_pseudo_algorithms_first_time_only() {
        let p = build_kexinit([1; 16], false, true);
        let k = parse_kexinit(&p).unwrap();
        assert!(k.kex.contains(STRICT_CLIENT) && k.kex.contains(EXT_INFO_CLIENT));
        assert!(!k.kex.contains(KEX_LEGACY) && !k.host_key.contains("ssh-rsa"));
        let p = build_kexinit([1; 16], true, false);
        let k = parse_kexinit(&p).unwrap();
        assert!(
            !k.kex.contains(STRICT_CLIENT)
                && k.kex.contains(KEX_LEGACY)
                && k.host_key.contains("ssh-rsa")
        );
        for cut in 0..p.len() {
            assert!(parse_kexinit(&p[..cut]).is_err());
        }
    }

    #[test]
    fn every_method_agrees_with_a_server_side_computed_here() {
        let mut rng = chacha20::ChaCha20Rng::from_seed([9; 32]);
        for kex in [
            "curve25519-sha256",
            "ecdh-sha2-nistp256",
            "diffie-hellman-group14-sha256",
        ] {
            let (client, init) = Ephemeral::new(kex, &mut rng);
            let (server, sinit) = Ephemeral::new(kex, &mut rng);
            // The server's public value as it would appear in its reply.
            let mut r = Reader::new(&sinit[1..]);
            let spub = if kex.starts_with("diffie") {
                r.mpint_positive("f").unwrap()
            } else {
                r.string("q").unwrap()
            };
            let mut r = Reader::new(&init[1..]);
            let cpub = if kex.starts_with("diffie") {
                r.mpint_positive("e").unwrap()
            } else {
                r.string("q").unwrap()
            };
            let k1 = client.shared(spub).unwrap();
            let k2 = server.shared(cpub).unwrap();
            assert_eq!(*k1, *k2, "{kex}");
        }
    }

    #[test]
    fn bad_server_publics_are_refused() {
        let mut rng = chacha20::ChaCha20Rng::from_seed([3; 32]);
        let (c, _) = Ephemeral::new("curve25519-sha256", &mut rng);
        assert!(c.shared(&[0; 32]).is_err());
        assert!(c.shared(&[1; 31]).is_err());
        let (c, _) = Ephemeral::new("ecdh-sha2-nistp256", &mut rng);
        let mut bad = [0u8; 65];
        bad[0] = 4;
        assert!(c.shared(&bad).is_err());
        assert!(c.shared(&[2; 33]).is_err());
        let (c, _) = Ephemeral::new("diffie-hellman-group14-sha256", &mut rng);
        assert!(c.shared(&[1]).is_err());
        assert!(c.shared(&[]).is_err());
        assert!(c.shared(&[0xff; 257]).is_err());
        assert!(c.shared(&group14().to_be_bytes()).is_err());
        let pm1 = group14().wrapping_sub(&U2048::ONE).to_be_bytes();
        assert!(c.shared(&pm1).is_err());
    }

    #[test]
    fn derivation_extends_keys() {
        let k = [0, 0, 0, 1, 5];
        let a = derive(HashAlg::Sha256, &k, b"h", b'C', b"sid", 64);
        assert_eq!(a.len(), 64);
        assert_eq!(
            &a[..32],
            &HashAlg::Sha256.digest(&[&k, b"h", b"C", b"sid"])[..]
        );
        assert_eq!(&a[32..], &HashAlg::Sha256.digest(&[&k, b"h", &a[..32]])[..]);
        assert_eq!(derive(HashAlg::Sha1, &k, b"h", b'A', b"sid", 12).len(), 12);
    }

    #[test]
    fn replies_are_parsed_without_trailing_bytes() {
        let mut p = vec![MSG_KEX_REPLY];
        p.put_string(b"key");
        p.put_string(&[9; 32]);
        p.put_string(b"sig");
        let r = parse_reply("curve25519-sha256", &p).unwrap();
        assert_eq!((r.host_key, r.signature), (&b"key"[..], &b"sig"[..]));
        p.push(0);
        assert!(parse_reply("curve25519-sha256", &p).is_err());
    }
}
