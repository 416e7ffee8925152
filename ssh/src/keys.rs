//! Keys: public host keys (parse the SSH blob, verify a signature, SHA-256 fingerprint)
//! and private client keys (OpenSSH and PEM formats, encrypted with a passphrase or
//! not; sign for publickey authentication).
//!
//! CONTRACT (the engine codes against these signatures; bodies are being written):

use crate::wire::{Malformed, Reader};

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
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    Rsa(rsa::PublicKey),
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

const ED25519: &str = "ssh-ed25519";
const ECDSA_P256: &str = "ecdsa-sha2-nistp256";
const SSH_RSA: &str = "ssh-rsa";
const RSA_SHA2_256: &str = "rsa-sha2-256";
const RSA_SHA2_512: &str = "rsa-sha2-512";

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
    Ok(PublicKind::Ed25519(k))
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
    Ok(PublicKind::P256(k))
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
    Ok(PublicKind::Rsa(k))
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
    let mut clean: Vec<u8> = text
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    while clean.last() == Some(&b'=') {
        clean.pop();
    }
    data_encoding::BASE64_NOPAD.decode(&clean).ok()
}

/// A client's private key, decrypted.
pub struct PrivateKey {
    // filled by the implementation; zeroized on drop
}

impl PrivateKey {
    /// Reads a key file's text: OpenSSH ("-----BEGIN OPENSSH PRIVATE KEY-----", bcrypt
    /// KDF with aes256-ctr/aes256-cbc/aes256-gcm/chacha20-poly1305 when encrypted), PEM
    /// PKCS#1 RSA and SEC1 EC (with OpenSSL's "Proc-Type: 4,ENCRYPTED" / DEK-Info when
    /// encrypted), PKCS#8 ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY" with PBES2).
    pub fn from_text(_text: &[u8], _passphrase: Option<&[u8]>) -> Result<PrivateKey, KeyError> {
        todo!()
    }
    pub fn public(&self) -> &PublicKey {
        todo!()
    }
    /// Signature algorithms this key can sign with, best first: Ed25519
    /// ["ssh-ed25519"], ECDSA P-256 ["ecdsa-sha2-nistp256"], RSA ["rsa-sha2-512",
    /// "rsa-sha2-256", "ssh-rsa"].
    pub fn algorithms(&self) -> &'static [&'static str] {
        todo!()
    }
    /// Signs `data` with `algorithm` (one of [`Self::algorithms`]); returns the SSH
    /// signature encoding (string algorithm, string signature).
    pub fn sign(&self, _algorithm: &str, _data: &[u8]) -> Result<Vec<u8>, KeyError> {
        todo!()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Write;

    fn hex(s: &str) -> Vec<u8> {
        data_encoding::HEXLOWER.decode(s.as_bytes()).unwrap()
    }

    fn ssh_sig(alg: &str, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.put_string(alg.as_bytes());
        v.put_string(body);
        v
    }

    // Made by ssh-keygen 9.2 (`ssh-keygen -lf` gave the fingerprints).
    const ED25519_PUB: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPKuTe5za897wtdSUqqqPNn8p0KyJctb3oln6bHtfmrj t";
    const P256_PUB: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDfx618dExpYm0cC1qQnV3GOv/EaJY8bLCQxUXC3piSrZ6KAKiweIdRrj+5tZFhHq0QBy7Yxs96NEF1Z0NnkxBU= t";
    const RSA_PUB: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDehirjYWZlaCfaVizKmM91/O2016LS1lT9lmxS1OvlY57P00u8G2CXo+bfVUw50yh7yLwHmav1YIWTfJYDwsxJbgaQEFq6tZT7xzv+qWiACMh1qzPvNeBKeTVVNjbkB8s0v7RIDEvPvrdp2ivZK4nbodROjUo4Gk30WAyssQiOO0hL17VOcDjfk4Svo+NgEXB7BraoxjpL78zjhGAbBtVUOGXbXmhHAoT24AICtIH0gRA5sh3DYB5U7feZXRsFrezhV1K39VSW7ziYw5hPICvEliKiwfXtgiXhzhjcGQs3uZCPIm2Sgj23v4gp2PlgrGX11b4KWtYw7LW6WQqCXMor t";

    #[test]
    fn fingerprints_match_ssh_keygen() {
        for (line, ty, fp) in [
            (
                ED25519_PUB,
                "ssh-ed25519",
                "SHA256:JD4y+1JNCmAplFTJJtnSW/BMn2q6UFTFyhdEkM3dIBM",
            ),
            (
                P256_PUB,
                "ecdsa-sha2-nistp256",
                "SHA256:AI0jZxx1cfo504uGZYK/6QF5+8EmFG+0wGEhdkl6img",
            ),
            (
                RSA_PUB,
                "ssh-rsa",
                "SHA256:grevHOfEJEcB31NFQfazjWR8qCtporlx+/ZnadPdpPs",
            ),
        ] {
            let k = PublicKey::from_openssh_line(line).unwrap();
            assert_eq!(k.key_type(), ty);
            assert_eq!(k.fingerprint(), fp);
            assert_eq!(PublicKey::from_blob(k.blob()).unwrap(), k);
            assert!(line.starts_with(&k.to_openssh_line()));
        }
    }

    #[test]
    fn ed25519_known_answer() {
        // RFC 8032 §7.1, test 1 (empty message).
        let pk = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        let sig = hex(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        );
        let mut blob = Vec::new();
        blob.put_string(b"ssh-ed25519");
        blob.put_string(&pk);
        let k = PublicKey::from_blob(&blob).unwrap();
        let s = ssh_sig("ssh-ed25519", &sig);
        assert_eq!(k.verify("ssh-ed25519", b"", &s), Ok(()));
        assert_eq!(
            k.verify("ssh-ed25519", b"x", &s),
            Err(KeyError::BadSignature)
        );
        // The algorithm inside must be the one negotiated.
        assert_eq!(k.verify("ssh-rsa", b"", &s), Err(KeyError::BadSignature));
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert_eq!(
            k.verify("ssh-ed25519", b"", &ssh_sig("ssh-ed25519", &bad)),
            Err(KeyError::BadSignature)
        );
        assert!(k.verify("ssh-ed25519", b"", &sig).is_err());
    }

    #[test]
    fn other_curves_and_small_rsa_are_unsupported() {
        let mut blob = Vec::new();
        blob.put_string(b"ecdsa-sha2-nistp384");
        blob.put_string(b"nistp384");
        blob.put_string(&[4; 97]);
        assert!(matches!(
            PublicKey::from_blob(&blob),
            Err(KeyError::Unsupported(_))
        ));
        let mut blob = Vec::new();
        blob.put_string(b"ssh-rsa");
        blob.put_mpint(&[1, 0, 1]);
        blob.put_mpint(&[0xc5; 64]);
        assert!(matches!(
            PublicKey::from_blob(&blob),
            Err(KeyError::Unsupported(_))
        ));
        assert!(PublicKey::from_blob(b"").is_err());
        assert!(PublicKey::from_blob(&[0, 0, 0, 11]).is_err());
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let k = PublicKey::from_openssh_line(ED25519_PUB).unwrap();
        let mut blob = k.blob().to_vec();
        blob.push(0);
        assert!(PublicKey::from_blob(&blob).is_err());
    }
}
