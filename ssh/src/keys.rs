//! Keys: public host keys (parse the SSH blob, verify a signature, SHA-256 fingerprint)
//! and private client keys (OpenSSH and PEM formats, encrypted with a passphrase or
//! not; sign for publickey authentication).
//!
//! CONTRACT (the engine codes against these signatures; bodies are being written):

use crate::wire::Malformed;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    // filled by the implementation
}

impl PublicKey {
    /// Parses a public key blob (RFC 4253 §6.6: string type, then the type's fields).
    pub fn from_blob(_blob: &[u8]) -> Result<PublicKey, KeyError> {
        todo!()
    }
    /// The blob as it appears on the wire (and, base64, in known_hosts).
    pub fn blob(&self) -> &[u8] {
        todo!()
    }
    /// The key type name in the blob: "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa".
    pub fn key_type(&self) -> &'static str {
        todo!()
    }
    /// Verifies `sig` (the SSH signature encoding: string algorithm, string signature)
    /// over `data`. `algorithm` is the host key algorithm negotiated ("ssh-ed25519",
    /// "ecdsa-sha2-nistp256", "rsa-sha2-256", "rsa-sha2-512", "ssh-rsa"): a signature of
    /// any other algorithm is refused.
    pub fn verify(&self, _algorithm: &str, _data: &[u8], _sig: &[u8]) -> Result<(), KeyError> {
        todo!()
    }
    /// OpenSSH's fingerprint: "SHA256:" + unpadded base64 of SHA-256(blob).
    pub fn fingerprint(&self) -> String {
        todo!()
    }
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
