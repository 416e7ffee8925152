//! Keys: public host keys (parse the SSH blob, verify a signature, SHA-256 fingerprint)
//! and private client keys (OpenSSH and PEM formats, encrypted with a passphrase or
//! not; sign for publickey authentication).
//!
//! By concern: `public` (KeyError, PublicKey: the blob, verify, fingerprint),
//! `private` (PrivateKey: the key types, sign), `openssh` (the openssh-key-v1 file
//! format, bcrypt KDF), `pem` (PEM: PKCS#1 and SEC1 with OpenSSL's DEK-Info, PKCS#8
//! plain and PBES2-encrypted). This file reads a key file: the PEM label picks the
//! format.

mod openssh;
mod pem;
mod private;
mod public;

use openssh::openssh_private;
use pem::{Pem, legacy_pem_decrypt, pkcs1_rsa, pkcs8_decrypt, pkcs8_private, sec1_p256};

pub use openssh::MAX_BCRYPT_ROUNDS;
pub use pem::MAX_PBKDF2_ITERATIONS;
pub use private::PrivateKey;
pub use public::{KeyError, PublicKey};
pub(crate) use public::{decode_base64, shown_name};

/// Key files larger than this are not key files (an 8192-bit RSA key in PEM is ~6 KiB).
const MAX_KEY_TEXT: usize = 256 * 1024;

impl PrivateKey {
    /// Reads a key file's text: OpenSSH ("-----BEGIN OPENSSH PRIVATE KEY-----", bcrypt
    /// KDF with aes256-ctr/aes256-cbc/aes256-gcm/chacha20-poly1305 when encrypted), PEM
    /// PKCS#1 RSA and SEC1 EC (with OpenSSL's "Proc-Type: 4,ENCRYPTED" / DEK-Info when
    /// encrypted), PKCS#8 ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY" with PBES2: PBKDF2 with
    /// HMAC-SHA1 or HMAC-SHA256 and AES-128/192/256-CBC; scrypt, PBES1 and other PRFs
    /// are refused by name).
    pub fn from_text(text: &[u8], passphrase: Option<&[u8]>) -> Result<PrivateKey, KeyError> {
        if text.len() > MAX_KEY_TEXT {
            return Err(KeyError::Format(format!(
                "larger than {MAX_KEY_TEXT} bytes"
            )));
        }
        let Ok(text) = core::str::from_utf8(text) else {
            return Err(KeyError::Format("not text".into()));
        };
        if text.trim_start().starts_with("PuTTY-User-Key-File") {
            return Err(KeyError::Unsupported(
                "PuTTY key files (convert with `puttygen key.ppk -O private-openssh`)".into(),
            ));
        }
        let pem = Pem::parse(text)?;
        match pem.label {
            "OPENSSH PRIVATE KEY" => openssh_private(&pem.data, passphrase),
            "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {
                let (der, encrypted) = legacy_pem_decrypt(&pem, passphrase)?;
                let key = if pem.label == "RSA PRIVATE KEY" {
                    pkcs1_rsa(&der)
                } else {
                    sec1_p256(&der)
                };
                wrong_passphrase_if(encrypted, key)
            }
            "PRIVATE KEY" => pkcs8_private(&pem.data),
            "ENCRYPTED PRIVATE KEY" => {
                let Some(pass) = passphrase else {
                    return Err(KeyError::NeedPassphrase);
                };
                let der = pkcs8_decrypt(&pem.data, pass)?;
                wrong_passphrase_if(true, pkcs8_private(&der))
            }
            "DSA PRIVATE KEY" => Err(KeyError::Unsupported("DSA keys".into())),
            other => Err(KeyError::Format(format!(
                "a PEM block labelled {}",
                shown_name(other.as_bytes())
            ))),
        }
    }
}

/// After decrypting with a passphrase, a key that does not parse means the passphrase
/// was wrong (the padding happened to check out, the DER did not).
fn wrong_passphrase_if(
    encrypted: bool,
    key: Result<PrivateKey, KeyError>,
) -> Result<PrivateKey, KeyError> {
    match key {
        Err(KeyError::Format(_) | KeyError::Malformed(_)) if encrypted => {
            Err(KeyError::WrongPassphrase)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests;
