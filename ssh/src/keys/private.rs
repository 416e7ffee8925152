//! A client's private key, decrypted: its types, and signing for publickey
//! authentication. The file formats (`openssh`, `pem`) build one through the
//! constructors here, each deriving the public half and checking it.

use super::public::{
    ECDSA_P256, ED25519, KeyError, PublicKey, RSA_SHA2_256, RSA_SHA2_512, SSH_RSA, shown_name,
};
use crate::wire::Write;

/// A client's private key, decrypted.
///
/// The secret halves are the crates' own key types, which wipe themselves on drop;
/// every intermediate buffer holding key material (decoded file, decrypted section,
/// derived cipher keys) is a `Zeroizing` buffer. `Debug` shows the type and the
/// fingerprint only.
pub struct PrivateKey {
    pub(super) public: PublicKey,
    kind: PrivateKind,
}

enum PrivateKind {
    Ed25519(Box<ed25519_dalek::SigningKey>),
    P256(Box<p256::ecdsa::SigningKey>),
    Rsa(Box<rsa::PrivateKey>),
}

impl core::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "PrivateKey({} {})",
            self.public.key_type(),
            self.public.fingerprint()
        )
    }
}

impl PrivateKey {
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// Signature algorithms this key can sign with, best first: Ed25519
    /// ["ssh-ed25519"], ECDSA P-256 ["ecdsa-sha2-nistp256"], RSA ["rsa-sha2-512",
    /// "rsa-sha2-256", "ssh-rsa"].
    pub fn algorithms(&self) -> &'static [&'static str] {
        match self.kind {
            PrivateKind::Ed25519(_) => &[ED25519],
            PrivateKind::P256(_) => &[ECDSA_P256],
            PrivateKind::Rsa(_) => &[RSA_SHA2_512, RSA_SHA2_256, SSH_RSA],
        }
    }

    /// Signs `data` with `algorithm` (one of [`Self::algorithms`]); returns the SSH
    /// signature encoding (string algorithm, string signature).
    ///
    /// Deterministic: Ed25519 by construction, ECDSA with RFC 6979 nonces, RSA PKCS#1
    /// v1.5 (without blinding: no randomness is taken, and the rsa crate's modular
    /// exponentiation is constant-time).
    pub fn sign(&self, algorithm: &str, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        let body = match (&self.kind, algorithm) {
            (PrivateKind::Ed25519(k), ED25519) => {
                use ed25519_dalek::Signer;
                k.sign(data).to_bytes().to_vec()
            }
            (PrivateKind::P256(k), ECDSA_P256) => {
                use p256::ecdsa::signature::Signer;
                let s: p256::ecdsa::Signature = k.sign(data);
                let (r, s) = s.split_bytes();
                let mut b = Vec::with_capacity(74);
                b.put_mpint(&r);
                b.put_mpint(&s);
                b
            }
            (PrivateKind::Rsa(k), RSA_SHA2_512 | RSA_SHA2_256 | SSH_RSA) => {
                let s = match algorithm {
                    RSA_SHA2_512 => k.pkcs1v15_sign::<sha2::Sha512>(data),
                    RSA_SHA2_256 => k.pkcs1v15_sign::<sha2::Sha256>(data),
                    _ => k.pkcs1v15_sign::<sha1::Sha1>(data),
                };
                s.map_err(|_| KeyError::Unsupported("RSA signing failed".into()))?
            }
            _ => {
                return Err(KeyError::Unsupported(format!(
                    "signing with {} by an {} key",
                    shown_name(algorithm.as_bytes()),
                    self.public.key_type()
                )));
            }
        };
        let mut out = Vec::with_capacity(body.len() + algorithm.len() + 8);
        out.put_string(algorithm.as_bytes());
        out.put_string(&body);
        Ok(out)
    }
}

pub(super) fn ed25519_private(k: ed25519_dalek::SigningKey) -> Result<PrivateKey, KeyError> {
    let mut blob = Vec::with_capacity(51);
    blob.put_string(ED25519.as_bytes());
    blob.put_string(k.verifying_key().as_bytes());
    Ok(PrivateKey {
        public: PublicKey::from_blob(&blob)?,
        kind: PrivateKind::Ed25519(Box::new(k)),
    })
}

pub(super) fn p256_private(k: p256::ecdsa::SigningKey) -> Result<PrivateKey, KeyError> {
    let mut blob = Vec::with_capacity(104);
    blob.put_string(ECDSA_P256.as_bytes());
    blob.put_string(b"nistp256");
    blob.put_string(k.verifying_key().to_sec1_point(false).as_bytes());
    Ok(PrivateKey {
        public: PublicKey::from_blob(&blob)?,
        kind: PrivateKind::P256(Box::new(k)),
    })
}

fn strip_zeros(mut b: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = b {
        b = rest;
    }
    b
}

/// An RSA private key from n, e, d, p, q (big-endian magnitudes): the public half is
/// checked first (size bounds), then the rsa crate validates the whole.
pub(super) fn rsa_private(
    n: &[u8],
    e: &[u8],
    d: &[u8],
    p: &[u8],
    q: &[u8],
) -> Result<PrivateKey, KeyError> {
    let (n, e, d, p, q) = (
        strip_zeros(n),
        strip_zeros(e),
        strip_zeros(d),
        strip_zeros(p),
        strip_zeros(q),
    );
    let mut blob = Vec::with_capacity(n.len() + e.len() + 24);
    blob.put_string(SSH_RSA.as_bytes());
    blob.put_mpint(e);
    blob.put_mpint(n);
    let public = PublicKey::from_blob(&blob)?;
    // Secrets at the modulus's width (public), not at their own length.
    let bits = (n.len() * 8) as u32;
    let secret = |v: &[u8]| {
        rsa::BoxedUint::from_be_slice(v, bits)
            .map_err(|_| KeyError::Format("rsa private component wider than the modulus".into()))
    };
    let k = rsa::PrivateKey::from_components(
        rsa::BoxedUint::from_be_slice_vartime(n),
        rsa::BoxedUint::from_be_slice_vartime(e),
        secret(d)?,
        vec![secret(p)?, secret(q)?],
    )
    .map_err(|_| KeyError::Format("rsa private key does not validate".into()))?;
    Ok(PrivateKey {
        public,
        kind: PrivateKind::Rsa(Box::new(k)),
    })
}
