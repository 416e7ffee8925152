//! The OpenSSH private key format (PROTOCOL.key: "openssh-key-v1"), encrypted with
//! the bcrypt KDF and one of OpenSSH's ciphers, or not.

use super::private::{PrivateKey, ed25519_private, p256_private, rsa_private};
use super::public::{KeyError, shown_name};
use crate::wire::{Malformed, Reader};
use zeroize::Zeroizing;

/// bcrypt_pbkdf rounds we run: OpenSSH's default is 16 and `ssh-keygen -a` is rarely
/// above a few hundred; a file asking for more is refused rather than run for minutes.
pub const MAX_BCRYPT_ROUNDS: u32 = 1024;

struct KeyCipher {
    name: &'static str,
    key_len: usize,
    iv_len: usize,
    block: usize,
    tag_len: usize,
}

const KEY_CIPHERS: &[KeyCipher] = &[
    KeyCipher {
        name: "none",
        key_len: 0,
        iv_len: 0,
        block: 8,
        tag_len: 0,
    },
    KeyCipher {
        name: "aes256-ctr",
        key_len: 32,
        iv_len: 16,
        block: 16,
        tag_len: 0,
    },
    KeyCipher {
        name: "aes192-ctr",
        key_len: 24,
        iv_len: 16,
        block: 16,
        tag_len: 0,
    },
    KeyCipher {
        name: "aes128-ctr",
        key_len: 16,
        iv_len: 16,
        block: 16,
        tag_len: 0,
    },
    KeyCipher {
        name: "aes256-cbc",
        key_len: 32,
        iv_len: 16,
        block: 16,
        tag_len: 0,
    },
    KeyCipher {
        name: "aes192-cbc",
        key_len: 24,
        iv_len: 16,
        block: 16,
        tag_len: 0,
    },
    KeyCipher {
        name: "aes128-cbc",
        key_len: 16,
        iv_len: 16,
        block: 16,
        tag_len: 0,
    },
    KeyCipher {
        name: "aes256-gcm@openssh.com",
        key_len: 32,
        iv_len: 12,
        block: 16,
        tag_len: 16,
    },
    KeyCipher {
        name: "aes128-gcm@openssh.com",
        key_len: 16,
        iv_len: 12,
        block: 16,
        tag_len: 16,
    },
    KeyCipher {
        name: "chacha20-poly1305@openssh.com",
        key_len: 64,
        iv_len: 0,
        block: 8,
        tag_len: 16,
    },
];

pub(super) fn openssh_private(
    data: &[u8],
    passphrase: Option<&[u8]>,
) -> Result<PrivateKey, KeyError> {
    let Some(rest) = data.strip_prefix(b"openssh-key-v1\0") else {
        return Err(KeyError::Format(
            "OPENSSH PRIVATE KEY without the openssh-key-v1 magic".into(),
        ));
    };
    let mut r = Reader::new(rest);
    let cipher_name = r.string("cipher name")?;
    let kdf_name = r.string("kdf name")?;
    let kdf_options = r.string("kdf options")?;
    let count = r.u32("key count")?;
    if count != 1 {
        return Err(KeyError::Unsupported(format!(
            "a key file holding {count} keys"
        )));
    }
    let public_blob = r.string("public key")?;
    let sealed = r.string("private section")?;
    let Some(spec) = KEY_CIPHERS
        .iter()
        .find(|c| c.name.as_bytes() == cipher_name)
    else {
        return Err(KeyError::Unsupported(format!(
            "key file cipher {}",
            shown_name(cipher_name)
        )));
    };
    let tag = r.bytes(spec.tag_len, "private section tag")?;
    if !r.is_empty() {
        return Err(Malformed("key file (trailing bytes)").into());
    }
    if sealed.len() % spec.block != 0 {
        return Err(Malformed("private section length").into());
    }
    let encrypted = spec.name != "none";
    let plain = if !encrypted {
        if kdf_name != b"none" || !kdf_options.is_empty() {
            return Err(KeyError::Format("unencrypted key file with a kdf".into()));
        }
        Zeroizing::new(sealed.to_vec())
    } else {
        if kdf_name != b"bcrypt" {
            return Err(KeyError::Unsupported(format!(
                "key file kdf {}",
                shown_name(kdf_name)
            )));
        }
        let mut o = Reader::new(kdf_options);
        let salt = o.string("bcrypt salt")?;
        let rounds = o.u32("bcrypt rounds")?;
        if !o.is_empty() || salt.is_empty() || rounds == 0 {
            return Err(Malformed("bcrypt kdf options").into());
        }
        if rounds > MAX_BCRYPT_ROUNDS {
            return Err(KeyError::Unsupported(format!(
                "bcrypt kdf with {rounds} rounds (at most {MAX_BCRYPT_ROUNDS})"
            )));
        }
        let Some(pass) = passphrase else {
            return Err(KeyError::NeedPassphrase);
        };
        if pass.is_empty() {
            return Err(KeyError::WrongPassphrase);
        }
        let mut kiv = Zeroizing::new(vec![0u8; spec.key_len + spec.iv_len]);
        bcrypt_pbkdf::bcrypt_pbkdf(pass, salt, rounds, &mut kiv)
            .map_err(|_| KeyError::Format("bcrypt kdf parameters".into()))?;
        let (key, iv) = kiv.split_at(spec.key_len);
        let mut buf = Zeroizing::new(sealed.to_vec());
        decrypt_section(spec.name, key, iv, &mut buf, tag)?;
        buf
    };
    let mut r = Reader::new(&plain);
    let check1 = r.u32("checkint")?;
    let check2 = r.u32("checkint")?;
    if check1 != check2 {
        return Err(if encrypted {
            KeyError::WrongPassphrase
        } else {
            KeyError::Format("checkints differ in an unencrypted key".into())
        });
    }
    let key = read_openssh_private(&mut r)?;
    let _comment = r.string("comment")?;
    // Padding: 1, 2, 3, ... up to the block size.
    let pad = r.rest();
    if pad.len() >= spec.block || pad.iter().enumerate().any(|(i, b)| *b as usize != i + 1) {
        return Err(Malformed("private section padding").into());
    }
    if key.public.blob() != public_blob {
        return Err(KeyError::Format(
            "the public key does not match the private key".into(),
        ));
    }
    Ok(key)
}

/// Decrypts the private section of an OpenSSH key file in place (the tag, for the AEAD
/// ciphers, follows the section). An AEAD tag that does not check means a wrong
/// passphrase.
fn decrypt_section(
    name: &str,
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
    tag: &[u8],
) -> Result<(), KeyError> {
    use aes::cipher::{KeyIvInit, StreamCipher};
    let bad = || KeyError::Format("key file cipher parameters".into());
    match name {
        "aes256-ctr" => ctr::Ctr128BE::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(|_| bad())?
            .apply_keystream(buf),
        "aes192-ctr" => ctr::Ctr128BE::<aes::Aes192>::new_from_slices(key, iv)
            .map_err(|_| bad())?
            .apply_keystream(buf),
        "aes128-ctr" => ctr::Ctr128BE::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(|_| bad())?
            .apply_keystream(buf),
        "aes256-cbc" | "aes192-cbc" | "aes128-cbc" => {
            use aes::cipher::BlockModeDecrypt;
            use aes::cipher::block_padding::NoPadding;
            let r = match key.len() {
                32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
                    .map_err(|_| bad())?
                    .decrypt_padded::<NoPadding>(buf)
                    .map(|_| ()),
                24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
                    .map_err(|_| bad())?
                    .decrypt_padded::<NoPadding>(buf)
                    .map(|_| ()),
                _ => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
                    .map_err(|_| bad())?
                    .decrypt_padded::<NoPadding>(buf)
                    .map(|_| ()),
            };
            r.map_err(|_| KeyError::from(Malformed("private section length")))?;
        }
        "aes256-gcm@openssh.com" | "aes128-gcm@openssh.com" => {
            use aes_gcm::KeyInit;
            use aes_gcm::aead::AeadInOut;
            let nonce =
                aes_gcm::Nonce::<aes_gcm::aead::consts::U12>::try_from(iv).map_err(|_| bad())?;
            let tag = aes_gcm::Tag::try_from(tag).map_err(|_| bad())?;
            let r = if key.len() == 32 {
                aes_gcm::Aes256Gcm::new_from_slice(key)
                    .map_err(|_| bad())?
                    .decrypt_inout_detached(&nonce, b"", buf.into(), &tag)
            } else {
                aes_gcm::Aes128Gcm::new_from_slice(key)
                    .map_err(|_| bad())?
                    .decrypt_inout_detached(&nonce, b"", buf.into(), &tag)
            };
            r.map_err(|_| KeyError::WrongPassphrase)?;
        }
        "chacha20-poly1305@openssh.com" => {
            // OpenSSH's construction with sequence number 0 and no length field: the
            // Poly1305 key is the first 32 bytes of ChaCha20(main key, nonce 0, block 0);
            // the tag covers the ciphertext; the text is encrypted from block 1.
            use aes::cipher::StreamCipherSeek;
            use poly1305::universal_hash::KeyInit;
            use subtle::ConstantTimeEq;
            let main = key.get(..32).ok_or_else(bad)?;
            let mut c =
                chacha20::ChaCha20Legacy::new_from_slices(main, &[0u8; 8]).map_err(|_| bad())?;
            let mut poly_key = Zeroizing::new([0u8; 32]);
            c.apply_keystream(poly_key.as_mut_slice());
            let mac = poly1305::Poly1305::new_from_slice(poly_key.as_slice()).map_err(|_| bad())?;
            let expected = mac.compute_unpadded(buf);
            if !bool::from(expected.as_slice().ct_eq(tag)) {
                return Err(KeyError::WrongPassphrase);
            }
            c.seek(64u64);
            c.apply_keystream(buf);
        }
        _ => return Err(KeyError::Unsupported("key file cipher".into())),
    }
    Ok(())
}

/// One key of an OpenSSH private section: type, public fields, private fields.
fn read_openssh_private(r: &mut Reader<'_>) -> Result<PrivateKey, KeyError> {
    let name = r.string("key type")?;
    match name {
        b"ssh-ed25519" => {
            let pk = r.string("ed25519 public key")?;
            let sk = r.string("ed25519 private key")?;
            if sk.len() != 64 || pk.len() != 32 || sk[32..] != *pk {
                return Err(KeyError::Format("ed25519 private key".into()));
            }
            let mut seed = Zeroizing::new([0u8; 32]);
            seed.copy_from_slice(&sk[..32]);
            let k = ed25519_dalek::SigningKey::from_bytes(&seed);
            if k.verifying_key().as_bytes() != pk {
                return Err(KeyError::Format(
                    "ed25519 private key does not match its public key".into(),
                ));
            }
            ed25519_private(k)
        }
        b"ecdsa-sha2-nistp256" => {
            let curve = r.string("ecdsa curve")?;
            let q = r.string("ecdsa public point")?;
            let d = r.mpint_positive("ecdsa private scalar")?;
            if curve != b"nistp256" || d.len() > 32 {
                return Err(KeyError::Format("ecdsa P-256 private key".into()));
            }
            let mut d32 = Zeroizing::new([0u8; 32]);
            d32[32 - d.len()..].copy_from_slice(d);
            let k = p256::ecdsa::SigningKey::from_slice(d32.as_slice())
                .map_err(|_| KeyError::Format("ecdsa P-256 private scalar".into()))?;
            if k.verifying_key().to_sec1_point(false).as_bytes() != q {
                return Err(KeyError::Format(
                    "ecdsa private key does not match its public key".into(),
                ));
            }
            p256_private(k)
        }
        b"ssh-rsa" => {
            let n = r.mpint_positive("rsa n")?;
            let e = r.mpint_positive("rsa e")?;
            let d = r.mpint_positive("rsa d")?;
            let _iqmp = r.mpint_positive("rsa iqmp")?;
            let p = r.mpint_positive("rsa p")?;
            let q = r.mpint_positive("rsa q")?;
            rsa_private(n, e, d, p, q)
        }
        other => Err(KeyError::Unsupported(format!(
            "key type {}",
            shown_name(other)
        ))),
    }
}
