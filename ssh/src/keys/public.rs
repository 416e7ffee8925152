//! Public keys as the SSH wire carries them, and what every key file reader shares:
//! [`KeyError`], names shown in errors, base64.

use crate::wire::{Malformed, Reader};
use zeroize::Zeroizing;

/// Why a key could not be read or used (never holds key material or a passphrase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Not a key format we read (the message names what was seen).
    Format(String),
    /// Encrypted, and no passphrase was given.
    NeedPassphrase,
    /// Encrypted, and the passphrase does not decrypt it.
    WrongPassphrase,
    /// A key type or cipher we do not support (named).
    Unsupported(String),
    /// A signature that does not verify, or one of the wrong algorithm.
    BadSignature,
    Malformed(Malformed),
}

impl core::fmt::Display for KeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            KeyError::Format(s) => write!(f, "not a private key we read: {s}"),
            KeyError::NeedPassphrase => write!(f, "the key is encrypted and no passphrase is set"),
            KeyError::WrongPassphrase => write!(f, "the passphrase does not decrypt the key"),
            KeyError::Unsupported(s) => write!(f, "unsupported: {s}"),
            KeyError::BadSignature => write!(f, "signature does not verify"),
            KeyError::Malformed(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for KeyError {}

impl From<Malformed> for KeyError {
    fn from(m: Malformed) -> Self {
        KeyError::Malformed(m)
    }
}

/// A public key as the SSH wire carries it (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa).
///
/// Two keys are equal when their blobs are.
#[derive(Clone)]
pub struct PublicKey {
    blob: Vec<u8>,
    kind: PublicKind,
}

#[derive(Clone)]
enum PublicKind {
    Ed25519(Box<ed25519_dalek::VerifyingKey>),
    P256(Box<p256::ecdsa::VerifyingKey>),
    Rsa(Box<rsa::PublicKey>),
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.blob == other.blob
    }
}

impl Eq for PublicKey {}

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PublicKey({} {})", self.key_type(), self.fingerprint())
    }
}

/// RSA moduli we accept, in bits: under 1024 is refused as weak, over 8192 as a
/// denial of service (the rsa crate's own bound).
const RSA_MIN_BITS: usize = 1024;
const RSA_MAX_BITS: usize = 8192;

/// A name seen in the input, for an error message: printable ASCII, bounded, or not
/// shown at all.
pub(crate) fn shown_name(name: &[u8]) -> String {
    if !name.is_empty() && name.len() <= 64 && name.iter().all(|c| c.is_ascii_graphic()) {
        String::from_utf8_lossy(name).into_owned()
    } else {
        "an unnamed or unprintable type".to_string()
    }
}

impl PublicKey {
    /// Parses a public key blob (RFC 4253 §6.6: string type, then the type's fields).
    pub fn from_blob(blob: &[u8]) -> Result<PublicKey, KeyError> {
        let mut r = Reader::new(blob);
        let kind = read_public_fields(&mut r)?;
        if !r.is_empty() {
            return Err(Malformed("public key blob (trailing bytes)").into());
        }
        Ok(PublicKey {
            blob: blob.to_vec(),
            kind,
        })
    }

    /// Parses a line of an OpenSSH public key file or a `hostKeys` entry: `type base64
    /// [comment]` (the type must be the one inside the blob).
    pub fn from_openssh_line(line: &str) -> Result<PublicKey, KeyError> {
        let mut fields = line.split_ascii_whitespace();
        let (Some(name), Some(b64)) = (fields.next(), fields.next()) else {
            return Err(KeyError::Format(
                "not \"key-type base64 [comment]\"".to_string(),
            ));
        };
        let blob = decode_base64(b64.as_bytes())
            .ok_or_else(|| KeyError::Format("public key base64".to_string()))?;
        let key = PublicKey::from_blob(&blob)?;
        if key.key_type() != name {
            return Err(KeyError::Format(format!(
                "the line names {} but holds an {} key",
                shown_name(name.as_bytes()),
                key.key_type()
            )));
        }
        Ok(key)
    }

    /// The key as OpenSSH writes it in a .pub file or known_hosts: `type base64`.
    pub fn to_openssh_line(&self) -> String {
        format!(
            "{} {}",
            self.key_type(),
            data_encoding::BASE64.encode(&self.blob)
        )
    }

    /// The blob as it appears on the wire (and, base64, in known_hosts).
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }

    /// The key type name in the blob: "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa".
    pub fn key_type(&self) -> &'static str {
        match self.kind {
            PublicKind::Ed25519(_) => ED25519,
            PublicKind::P256(_) => ECDSA_P256,
            PublicKind::Rsa(_) => SSH_RSA,
        }
    }

    /// Verifies `sig` (the SSH signature encoding: string algorithm, string signature)
    /// over `data`. `algorithm` is the host key algorithm negotiated ("ssh-ed25519",
    /// "ecdsa-sha2-nistp256", "rsa-sha2-256", "rsa-sha2-512", "ssh-rsa"): a signature of
    /// any other algorithm is refused.
    pub fn verify(&self, algorithm: &str, data: &[u8], sig: &[u8]) -> Result<(), KeyError> {
        let mut r = Reader::new(sig);
        let name = r.string("signature algorithm")?;
        let body = r.string("signature")?;
        if !r.is_empty() {
            return Err(Malformed("signature (trailing bytes)").into());
        }
        if name != algorithm.as_bytes() {
            return Err(KeyError::BadSignature);
        }
        match (&self.kind, algorithm) {
            (PublicKind::Ed25519(k), ED25519) => {
                let bytes: &[u8; 64] = body.try_into().map_err(|_| KeyError::BadSignature)?;
                let s = ed25519_dalek::Signature::from_bytes(bytes);
                k.verify_strict(data, &s)
                    .map_err(|_| KeyError::BadSignature)
            }
            (PublicKind::P256(k), ECDSA_P256) => {
                use p256::ecdsa::signature::Verifier;
                let s = ecdsa_p256_from_ssh(body)?;
                k.verify(data, &s).map_err(|_| KeyError::BadSignature)
            }
            (PublicKind::Rsa(k), RSA_SHA2_512 | RSA_SHA2_256 | SSH_RSA) => {
                use rsa::traits::PublicKeyParts;
                // The signature is the modulus's length; OpenSSH accepts a shorter one
                // (leading zeros dropped by some signers), so pad it back.
                let size = k.size();
                if body.len() > size {
                    return Err(KeyError::BadSignature);
                }
                let mut padded = vec![0u8; size - body.len()];
                padded.extend_from_slice(body);
                let ok = match algorithm {
                    RSA_SHA2_512 => k.pkcs1v15_verify::<sha2::Sha512>(data, &padded),
                    RSA_SHA2_256 => k.pkcs1v15_verify::<sha2::Sha256>(data, &padded),
                    _ => k.pkcs1v15_verify::<sha1::Sha1>(data, &padded),
                };
                ok.map_err(|_| KeyError::BadSignature)
            }
            _ => Err(KeyError::BadSignature),
        }
    }

    /// OpenSSH's fingerprint: "SHA256:" + unpadded base64 of SHA-256(blob).
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let h = sha2::Sha256::digest(&self.blob);
        format!("SHA256:{}", data_encoding::BASE64_NOPAD.encode(&h))
    }
}

pub(super) const ED25519: &str = "ssh-ed25519";
pub(super) const ECDSA_P256: &str = "ecdsa-sha2-nistp256";
pub(super) const SSH_RSA: &str = "ssh-rsa";
pub(super) const RSA_SHA2_256: &str = "rsa-sha2-256";
pub(super) const RSA_SHA2_512: &str = "rsa-sha2-512";

/// Reads a key type name and the public fields after it (a blob's content, and the
/// start of each key in an OpenSSH private key file).
fn read_public_fields(r: &mut Reader<'_>) -> Result<PublicKind, KeyError> {
    let name = r.string("key type")?;
    match name {
        b"ssh-ed25519" => {
            let pk = r.string("ed25519 public key")?;
            ed25519_public(pk)
        }
        b"ecdsa-sha2-nistp256" => {
            let curve = r.string("ecdsa curve")?;
            if curve != b"nistp256" {
                return Err(KeyError::Format(
                    "ecdsa-sha2-nistp256 key on another curve".into(),
                ));
            }
            let q = r.string("ecdsa public point")?;
            p256_public(q)
        }
        b"ssh-rsa" => {
            let e = r.mpint_positive("rsa e")?;
            let n = r.mpint_positive("rsa n")?;
            rsa_public(n, e)
        }
        other => Err(KeyError::Unsupported(format!(
            "key type {}",
            shown_name(other)
        ))),
    }
}

fn ed25519_public(pk: &[u8]) -> Result<PublicKind, KeyError> {
    let bytes: &[u8; 32] = pk
        .try_into()
        .map_err(|_| KeyError::Format("ed25519 public key length".into()))?;
    let k = ed25519_dalek::VerifyingKey::from_bytes(bytes)
        .map_err(|_| KeyError::Format("ed25519 public key is not a curve point".into()))?;
    Ok(PublicKind::Ed25519(Box::new(k)))
}

fn p256_public(q: &[u8]) -> Result<PublicKind, KeyError> {
    // OpenSSH writes (and requires) the uncompressed form.
    if q.len() != 65 || q[0] != 4 {
        return Err(KeyError::Format(
            "ecdsa public point is not uncompressed P-256".into(),
        ));
    }
    let k = p256::ecdsa::VerifyingKey::from_sec1_bytes(q)
        .map_err(|_| KeyError::Format("ecdsa public point is not on P-256".into()))?;
    Ok(PublicKind::P256(Box::new(k)))
}

fn rsa_public(n: &[u8], e: &[u8]) -> Result<PublicKind, KeyError> {
    if n.is_empty() || e.is_empty() {
        return Err(KeyError::Format(
            "rsa key with a zero modulus or exponent".into(),
        ));
    }
    let bits = n.len() * 8 - n[0].leading_zeros() as usize;
    if bits < RSA_MIN_BITS {
        return Err(KeyError::Unsupported(format!(
            "RSA key of {bits} bits (under {RSA_MIN_BITS})"
        )));
    }
    if bits > RSA_MAX_BITS {
        return Err(KeyError::Unsupported(format!(
            "RSA key of {bits} bits (over {RSA_MAX_BITS})"
        )));
    }
    if e.len() > 8 {
        return Err(KeyError::Unsupported(
            "RSA public exponent over 64 bits".into(),
        ));
    }
    let n = rsa::BoxedUint::from_be_slice_vartime(n);
    let e = rsa::BoxedUint::from_be_slice_vartime(e);
    let k =
        rsa::PublicKey::new_with_size_limits(n, e, RSA_MIN_BITS..=RSA_MAX_BITS).map_err(|_| {
            KeyError::Format("rsa public key refused (even modulus or bad exponent)".into())
        })?;
    Ok(PublicKind::Rsa(Box::new(k)))
}

/// An ECDSA signature as SSH carries it (RFC 5656 §3.1.2): mpint r, mpint s.
fn ecdsa_p256_from_ssh(body: &[u8]) -> Result<p256::ecdsa::Signature, KeyError> {
    let mut r = Reader::new(body);
    let sr = r
        .mpint_positive("ecdsa r")
        .map_err(|_| KeyError::BadSignature)?;
    let ss = r
        .mpint_positive("ecdsa s")
        .map_err(|_| KeyError::BadSignature)?;
    if !r.is_empty() || sr.len() > 32 || ss.len() > 32 {
        return Err(KeyError::BadSignature);
    }
    let mut rb = [0u8; 32];
    let mut sb = [0u8; 32];
    rb[32 - sr.len()..].copy_from_slice(sr);
    sb[32 - ss.len()..].copy_from_slice(ss);
    p256::ecdsa::Signature::from_scalars(rb, sb).map_err(|_| KeyError::BadSignature)
}

/// Base64 as key files hold it: standard alphabet, padded or not, whitespace ignored.
pub(crate) fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    // The text may be an unencrypted private key: wipe the copy.
    let mut clean: Zeroizing<Vec<u8>> = Zeroizing::new(
        text.iter()
            .copied()
            .filter(|c| !c.is_ascii_whitespace())
            .collect(),
    );
    while clean.last() == Some(&b'=') {
        clean.pop();
    }
    data_encoding::BASE64_NOPAD.decode(&clean).ok()
}
