//! SNMPv3 User-based Security Model, authentication part (RFC 3414, RFC 7860): keys
//! from passwords, localised to an engine, and the truncated HMACs of every protocol
//! the credential files name. RustCrypto's no_std digests; nothing allocates.

use hmac::{KeyInit, Mac, SimpleHmac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

/// Authentication protocols (usmHMAC...AuthProtocol).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthProto {
    /// usmHMACMD5AuthProtocol (RFC 3414), 12-byte MAC.
    Md5,
    /// usmHMACSHAAuthProtocol (RFC 3414), 12-byte MAC.
    Sha1,
    /// usmHMAC128SHA224AuthProtocol (RFC 7860), 16-byte MAC.
    Sha224,
    /// usmHMAC192SHA256AuthProtocol, 24-byte MAC.
    Sha256,
    /// usmHMAC256SHA384AuthProtocol, 32-byte MAC.
    Sha384,
    /// usmHMAC384SHA512AuthProtocol, 48-byte MAC.
    Sha512,
}

/// Longest digest (SHA-512).
pub const MAX_KEY: usize = 64;

impl AuthProto {
    /// Length of msgAuthenticationParameters.
    pub fn mac_len(self) -> usize {
        match self {
            AuthProto::Md5 | AuthProto::Sha1 => 12,
            AuthProto::Sha224 => 16,
            AuthProto::Sha256 => 24,
            AuthProto::Sha384 => 32,
            AuthProto::Sha512 => 48,
        }
    }

    /// Length of the digest, and of keys derived with it.
    pub fn key_len(self) -> usize {
        match self {
            AuthProto::Md5 => 16,
            AuthProto::Sha1 => 20,
            AuthProto::Sha224 => 28,
            AuthProto::Sha256 => 32,
            AuthProto::Sha384 => 48,
            AuthProto::Sha512 => 64,
        }
    }
}

/// A key of up to [`MAX_KEY`] bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Key {
    bytes: [u8; MAX_KEY],
    len: usize,
}

impl Key {
    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Key(***)")
    }
}

fn digest_into<D: Digest>(parts: &[&[u8]], out: &mut [u8; MAX_KEY]) -> usize {
    let mut d = D::new();
    for p in parts {
        d.update(p);
    }
    let r = d.finalize();
    out[..r.len()].copy_from_slice(&r);
    r.len()
}

fn hash(proto: AuthProto, parts: &[&[u8]]) -> Key {
    let mut bytes = [0u8; MAX_KEY];
    let len = match proto {
        AuthProto::Md5 => digest_into::<Md5>(parts, &mut bytes),
        AuthProto::Sha1 => digest_into::<Sha1>(parts, &mut bytes),
        AuthProto::Sha224 => digest_into::<Sha224>(parts, &mut bytes),
        AuthProto::Sha256 => digest_into::<Sha256>(parts, &mut bytes),
        AuthProto::Sha384 => digest_into::<Sha384>(parts, &mut bytes),
        AuthProto::Sha512 => digest_into::<Sha512>(parts, &mut bytes),
    };
    Key { bytes, len }
}

fn expand_password<D: Digest>(password: &[u8], out: &mut [u8; MAX_KEY]) -> usize {
    // RFC 3414 A.2.1: hash 1 MiB of the password repeated.
    let mut d = D::new();
    let mut chunk = [0u8; 64];
    let mut idx = 0usize;
    for _ in 0..(1_048_576 / 64) {
        for c in chunk.iter_mut() {
            *c = password[idx % password.len()];
            idx += 1;
        }
        d.update(chunk);
    }
    let r = d.finalize();
    out[..r.len()].copy_from_slice(&r);
    r.len()
}

/// Errors of the USM functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// An empty password (net-snmp also refuses fewer than 8 characters).
    EmptyPassword,
    /// The MAC in a message has the wrong length or is out of its bounds.
    BadAuthParams,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::EmptyPassword => "empty password",
            Error::BadAuthParams => "authentication parameters of the wrong length",
        })
    }
}

impl core::error::Error for Error {}

/// The user's key Ku from a password (RFC 3414 A.2).
pub fn password_to_key(proto: AuthProto, password: &[u8]) -> Result<Key, Error> {
    if password.is_empty() {
        return Err(Error::EmptyPassword);
    }
    let mut bytes = [0u8; MAX_KEY];
    let len = match proto {
        AuthProto::Md5 => expand_password::<Md5>(password, &mut bytes),
        AuthProto::Sha1 => expand_password::<Sha1>(password, &mut bytes),
        AuthProto::Sha224 => expand_password::<Sha224>(password, &mut bytes),
        AuthProto::Sha256 => expand_password::<Sha256>(password, &mut bytes),
        AuthProto::Sha384 => expand_password::<Sha384>(password, &mut bytes),
        AuthProto::Sha512 => expand_password::<Sha512>(password, &mut bytes),
    };
    Ok(Key { bytes, len })
}

/// The localised key Kul = H(Ku | engineID | Ku) (RFC 3414 A.2).
pub fn localize(proto: AuthProto, ku: &Key, engine_id: &[u8]) -> Key {
    hash(proto, &[ku.as_bytes(), engine_id, ku.as_bytes()])
}

fn mac_into<M: Mac + KeyInit>(key: &[u8], msg: &[u8], out: &mut [u8]) {
    let Ok(mut m) = <M as KeyInit>::new_from_slice(key) else {
        return;
    };
    m.update(msg);
    let r = m.finalize().into_bytes();
    let n = out.len().min(r.len());
    out[..n].copy_from_slice(&r[..n]);
}

fn mac(proto: AuthProto, key: &[u8], msg: &[u8], out: &mut [u8]) {
    match proto {
        AuthProto::Md5 => mac_into::<SimpleHmac<Md5>>(key, msg, out),
        AuthProto::Sha1 => mac_into::<SimpleHmac<Sha1>>(key, msg, out),
        AuthProto::Sha224 => mac_into::<SimpleHmac<Sha224>>(key, msg, out),
        AuthProto::Sha256 => mac_into::<SimpleHmac<Sha256>>(key, msg, out),
        AuthProto::Sha384 => mac_into::<SimpleHmac<Sha384>>(key, msg, out),
        AuthProto::Sha512 => mac_into::<SimpleHmac<Sha512>>(key, msg, out),
    }
}

/// Signs an outgoing message in place: `msg[offset..offset + mac_len]` must be zero
/// (as [`crate::snmp::V3Request::encode`] leaves it) and receives the MAC.
pub fn sign(proto: AuthProto, kul: &Key, msg: &mut [u8], offset: usize) -> Result<(), Error> {
    let n = proto.mac_len();
    if offset + n > msg.len() {
        return Err(Error::BadAuthParams);
    }
    let mut out = [0u8; MAX_KEY];
    mac(proto, kul.as_bytes(), msg, &mut out[..n]);
    msg[offset..offset + n].copy_from_slice(&out[..n]);
    Ok(())
}

/// Checks the MAC of a received message (`offset`/`len`: its authentication
/// parameters), comparing in constant time. `scratch` must hold the message.
pub fn verify(
    proto: AuthProto,
    kul: &Key,
    msg: &[u8],
    offset: usize,
    len: usize,
    scratch: &mut [u8],
) -> Result<bool, Error> {
    let n = proto.mac_len();
    if len != n || offset + n > msg.len() || scratch.len() < msg.len() {
        return Err(Error::BadAuthParams);
    }
    let s = &mut scratch[..msg.len()];
    s.copy_from_slice(msg);
    s[offset..offset + n].fill(0);
    let mut out = [0u8; MAX_KEY];
    mac(proto, kul.as_bytes(), s, &mut out[..n]);
    let diff = out[..n]
        .iter()
        .zip(&msg[offset..offset + n])
        .fold(0u8, |d, (a, b)| d | (a ^ b));
    Ok(diff == 0)
}

/// How a localised key shorter than an AES-192/256 key is extended. Both are in the
/// field: net-snmp's `AES192`/`AES256` follow the Blumenthal draft, Cisco's (and
/// net-snmp's `AES192C`/`AES256C`) the Reeder draft.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyExtension {
    /// draft-blumenthal-aes-usm-04 3.1.2.1: Kul' = Kul | H(Kul).
    Blumenthal,
    /// draft-reeder-snmpv3-usm-3desede-00 2.1: Kul' = Kul | localize(P2K(Kul)), the
    /// password-to-key algorithm run again with the key as the password.
    Reeder,
}

/// Privacy protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivProto {
    /// usmDESPrivProtocol (RFC 3414 8.1): CBC-DES, key and pre-IV from the localised key.
    Des,
    /// usm3DESEDEPrivProtocol (draft-reeder-snmpv3-usm-3desede-00): CBC-DES-EDE3, 24
    /// bytes of key and 8 of pre-IV, the key extended as that draft says.
    TripleDes,
    /// usmAesCfb128Protocol (RFC 3826): AES-128 in 128-bit CFB.
    Aes128,
    /// AES-192 in 128-bit CFB (draft-blumenthal-aes-usm-04), IV as RFC 3826.
    Aes192(KeyExtension),
    /// AES-256 in 128-bit CFB (draft-blumenthal-aes-usm-04), IV as RFC 3826.
    Aes256(KeyExtension),
}

impl PrivProto {
    /// Bytes of localised key material the protocol uses.
    pub fn key_len(self) -> usize {
        match self {
            PrivProto::Des | PrivProto::Aes128 => 16,
            PrivProto::Aes192(_) => 24,
            PrivProto::TripleDes | PrivProto::Aes256(_) => 32,
        }
    }

    fn extension(self) -> KeyExtension {
        match self {
            PrivProto::TripleDes => KeyExtension::Reeder,
            PrivProto::Aes192(e) | PrivProto::Aes256(e) => e,
            // Never extended: their keys are at most 16 bytes, the shortest digest.
            PrivProto::Des | PrivProto::Aes128 => KeyExtension::Blumenthal,
        }
    }
}

/// The privacy key of `proto` from the privacy password's key localised to the engine
/// (`kul`, made with the authentication protocol's hash): extended while shorter than
/// the protocol needs, then cut to [`PrivProto::key_len`].
pub fn privacy_key(auth: AuthProto, proto: PrivProto, kul: &Key, engine_id: &[u8]) -> Key {
    let need = proto.key_len();
    let mut k = *kul;
    while k.len < need && k.len > 0 {
        let more = match proto.extension() {
            KeyExtension::Blumenthal => hash(auth, &[k.as_bytes()]),
            KeyExtension::Reeder => match password_to_key(auth, k.as_bytes()) {
                Ok(ku) => localize(auth, &ku, engine_id),
                Err(_) => break,
            },
        };
        let n = more.len.min(MAX_KEY - k.len);
        k.bytes[k.len..k.len + n].copy_from_slice(&more.as_bytes()[..n]);
        k.len += n;
    }
    k.len = k.len.min(need);
    k
}

/// Why a scoped PDU could not be decrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivError {
    /// The privacy parameters are not 8 bytes.
    BadSalt,
    /// DES data is not a whole number of blocks.
    NotBlocks,
    /// The localised key is too short for the protocol.
    ShortKey,
    /// The buffer cannot hold the padded data.
    BufferTooSmall,
}

impl core::fmt::Display for PrivError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            PrivError::BadSalt => "privacy parameters are not 8 bytes",
            PrivError::NotBlocks => "encrypted data is not a whole number of DES blocks",
            PrivError::ShortKey => "privacy key too short for the protocol",
            PrivError::BufferTooSmall => "buffer too small",
        })
    }
}

impl core::error::Error for PrivError {}

fn cbc<C>(c: &C, iv: [u8; 8], data: &mut [u8], encrypt: bool) -> Result<(), PrivError>
where
    C: des::cipher::BlockCipherEncrypt
        + des::cipher::BlockCipherDecrypt
        + des::cipher::BlockSizeUser<BlockSize = des::cipher::consts::U8>,
{
    use des::cipher::Array;
    if !data.len().is_multiple_of(8) {
        return Err(PrivError::NotBlocks);
    }
    let mut prev = iv;
    for chunk in data.chunks_exact_mut(8) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        if encrypt {
            for (x, p) in b.iter_mut().zip(prev) {
                *x ^= p;
            }
            let mut blk = Array::from(b);
            c.encrypt_block(&mut blk);
            chunk.copy_from_slice(&blk);
            prev.copy_from_slice(&blk);
        } else {
            let mut blk = Array::from(b);
            c.decrypt_block(&mut blk);
            for (i, x) in blk.iter().enumerate() {
                chunk[i] = x ^ prev[i];
            }
            prev = b;
        }
    }
    Ok(())
}

/// CBC with DES (key bytes 0..8, pre-IV 8..16) or DES-EDE3 (key 0..24, pre-IV 24..32),
/// the IV being the pre-IV XOR the salt.
fn des_family(
    proto: PrivProto,
    k: &[u8],
    salt: &[u8; 8],
    data: &mut [u8],
    encrypt: bool,
) -> Result<(), PrivError> {
    use des::cipher::KeyInit as _;
    let klen = if proto == PrivProto::TripleDes { 24 } else { 8 };
    let key = k.get(..klen).ok_or(PrivError::ShortKey)?;
    let pre = k.get(klen..klen + 8).ok_or(PrivError::ShortKey)?;
    let mut iv = [0u8; 8];
    for i in 0..8 {
        iv[i] = pre[i] ^ salt[i];
    }
    if proto == PrivProto::TripleDes {
        let c = des::TdesEde3::new_from_slice(key).map_err(|_| PrivError::ShortKey)?;
        cbc(&c, iv, data, encrypt)
    } else {
        let c = des::Des::new_from_slice(key).map_err(|_| PrivError::ShortKey)?;
        cbc(&c, iv, data, encrypt)
    }
}

/// AES-128/192/256 in 128-bit CFB with the key's first 16/24/32 bytes.
fn aes_cfb(
    proto: PrivProto,
    k: &[u8],
    iv: [u8; 16],
    data: &mut [u8],
    encrypt: bool,
) -> Result<(), PrivError> {
    fn run<C>(k: &[u8], iv: [u8; 16], data: &mut [u8], encrypt: bool) -> Result<(), PrivError>
    where
        C: cfb_mode::cipher::BlockCipherEncrypt
            + cfb_mode::cipher::KeyInit
            + cfb_mode::cipher::BlockSizeUser<BlockSize = cfb_mode::cipher::consts::U16>,
    {
        use cfb_mode::cipher::KeyIvInit as _;
        let iv = &iv[..];
        if encrypt {
            cfb_mode::Encryptor::<C>::new_from_slices(k, iv)
                .map_err(|_| PrivError::ShortKey)?
                .encrypt(data);
        } else {
            cfb_mode::Decryptor::<C>::new_from_slices(k, iv)
                .map_err(|_| PrivError::ShortKey)?
                .decrypt(data);
        }
        Ok(())
    }
    match proto {
        PrivProto::Aes192(_) => {
            run::<aes::Aes192>(k.get(..24).ok_or(PrivError::ShortKey)?, iv, data, encrypt)
        }
        PrivProto::Aes256(_) => {
            run::<aes::Aes256>(k.get(..32).ok_or(PrivError::ShortKey)?, iv, data, encrypt)
        }
        _ => run::<aes::Aes128>(k.get(..16).ok_or(PrivError::ShortKey)?, iv, data, encrypt),
    }
}

fn aes_iv(boots: i64, time: i64, salt: &[u8; 8]) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..4].copy_from_slice(&(boots as u32).to_be_bytes());
    iv[4..8].copy_from_slice(&(time as u32).to_be_bytes());
    iv[8..].copy_from_slice(salt);
    iv
}

/// Decrypts an encryptedPDU in place with the localised privacy key; `boots`/`time`
/// are the authoritative engine's (from the message); `priv_params` is the salt.
/// Returns the plaintext (DES may leave padding after the scoped PDU).
pub fn decrypt<'d>(
    proto: PrivProto,
    kul: &Key,
    boots: i64,
    time: i64,
    priv_params: &[u8],
    data: &'d mut [u8],
) -> Result<&'d [u8], PrivError> {
    let salt: [u8; 8] = priv_params.try_into().map_err(|_| PrivError::BadSalt)?;
    let k = kul.as_bytes();
    match proto {
        PrivProto::Des | PrivProto::TripleDes => des_family(proto, k, &salt, data, false)?,
        PrivProto::Aes128 | PrivProto::Aes192(_) | PrivProto::Aes256(_) => {
            aes_cfb(proto, k, aes_iv(boots, time, &salt), data, false)?
        }
    }
    Ok(data)
}

/// Encrypts `buf[..len]` in place (DES pads it to whole blocks with zeros) with a salt
/// made from `boots` and `counter` (DES) or `counter` (AES). Returns the encrypted
/// length and the privacy parameters to send.
pub fn encrypt(
    proto: PrivProto,
    kul: &Key,
    boots: i64,
    time: i64,
    counter: u64,
    buf: &mut [u8],
    len: usize,
) -> Result<(usize, [u8; 8]), PrivError> {
    let k = kul.as_bytes();
    if len > buf.len() {
        return Err(PrivError::BufferTooSmall);
    }
    match proto {
        PrivProto::Des | PrivProto::TripleDes => {
            let mut salt = [0u8; 8];
            salt[..4].copy_from_slice(&(boots as u32).to_be_bytes());
            salt[4..].copy_from_slice(&(counter as u32).to_be_bytes());
            let padded = len.div_ceil(8) * 8;
            if padded > buf.len() {
                return Err(PrivError::BufferTooSmall);
            }
            buf[len..padded].fill(0);
            des_family(proto, k, &salt, &mut buf[..padded], true)?;
            Ok((padded, salt))
        }
        PrivProto::Aes128 | PrivProto::Aes192(_) | PrivProto::Aes256(_) => {
            let salt = counter.to_be_bytes();
            aes_cfb(proto, k, aes_iv(boots, time, &salt), &mut buf[..len], true)?;
            Ok((len, salt))
        }
    }
}
