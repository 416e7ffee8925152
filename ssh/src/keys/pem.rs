//! PEM key files: PKCS#1 RSA and SEC1 EC (encrypted the OpenSSL way, with
//! "Proc-Type: 4,ENCRYPTED" and DEK-Info), PKCS#8 and its PBES2 encryption.

use super::private::{PrivateKey, ed25519_private, p256_private, rsa_private};
use super::public::{KeyError, decode_base64, shown_name};
use rsa::pkcs8::ObjectIdentifier;
use zeroize::Zeroizing;

/// PBKDF2 iterations we run for an encrypted PKCS#8 file (OpenSSL's default is 2048).
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;

// ---- PEM (RFC 7468, plus OpenSSL's RFC 1421 headers) ----

pub(super) struct Pem<'a> {
    pub(super) label: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    pub(super) data: Zeroizing<Vec<u8>>,
}

impl<'a> Pem<'a> {
    pub(super) fn parse(text: &'a str) -> Result<Pem<'a>, KeyError> {
        let mut lines = text.lines().map(str::trim);
        let label = loop {
            let Some(line) = lines.next() else {
                return Err(KeyError::Format("no \"-----BEGIN ...-----\" line".into()));
            };
            if let Some(l) = line
                .strip_prefix("-----BEGIN ")
                .and_then(|l| l.strip_suffix("-----"))
            {
                break l;
            }
        };
        let mut headers = Vec::new();
        let mut body = Zeroizing::new(String::new());
        let mut ended = false;
        let mut in_headers = true;
        for line in lines.by_ref() {
            if let Some(l) = line
                .strip_prefix("-----END ")
                .and_then(|l| l.strip_suffix("-----"))
            {
                if l != label {
                    return Err(KeyError::Format("PEM END line does not match BEGIN".into()));
                }
                ended = true;
                break;
            }
            if in_headers {
                if let Some((k, v)) = line.split_once(':') {
                    headers.push((k.trim(), v.trim()));
                    continue;
                }
                in_headers = false;
                if line.is_empty() {
                    continue;
                }
            }
            body.push_str(line);
        }
        if !ended {
            return Err(KeyError::Format("no PEM END line".into()));
        }
        let data =
            decode_base64(body.as_bytes()).ok_or_else(|| KeyError::Format("PEM base64".into()))?;
        Ok(Pem {
            label,
            headers,
            data: Zeroizing::new(data),
        })
    }

    fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// OpenSSL's traditional encryption ("Proc-Type: 4,ENCRYPTED", "DEK-Info: ALG,IV"):
/// key = EVP_BytesToKey(MD5, passphrase, salt = IV[..8], 1 round), CBC with PKCS#7
/// padding. Returns the DER and whether it was encrypted.
pub(super) fn legacy_pem_decrypt(
    pem: &Pem<'_>,
    passphrase: Option<&[u8]>,
) -> Result<(Zeroizing<Vec<u8>>, bool), KeyError> {
    let Some(proc_type) = pem.header("Proc-Type") else {
        return Ok((pem.data.clone(), false));
    };
    if proc_type.replace(' ', "") != "4,ENCRYPTED" {
        return Err(KeyError::Format("PEM Proc-Type is not 4,ENCRYPTED".into()));
    }
    let dek = pem
        .header("DEK-Info")
        .ok_or_else(|| KeyError::Format("PEM without DEK-Info".into()))?;
    let (alg, iv_hex) = dek
        .split_once(',')
        .ok_or_else(|| KeyError::Format("PEM DEK-Info".into()))?;
    let key_len = match alg.trim().to_ascii_uppercase().as_str() {
        "AES-128-CBC" => 16,
        "AES-192-CBC" => 24,
        "AES-256-CBC" => 32,
        _ => {
            return Err(KeyError::Unsupported(format!(
                "PEM encryption {} (AES-128/192/256-CBC are read)",
                shown_name(alg.trim().as_bytes())
            )));
        }
    };
    let iv: [u8; 16] = data_encoding::HEXUPPER_PERMISSIVE
        .decode(iv_hex.trim().as_bytes())
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| KeyError::Format("PEM DEK-Info IV".into()))?;
    let Some(pass) = passphrase else {
        return Err(KeyError::NeedPassphrase);
    };
    let key = evp_bytes_to_key_md5(pass, &iv[..8], key_len);
    let mut buf = pem.data.clone();
    let n = match key_len {
        16 => cbc_decrypt_pkcs7::<aes::Aes128>(&key, &iv, &mut buf),
        24 => cbc_decrypt_pkcs7::<aes::Aes192>(&key, &iv, &mut buf),
        _ => cbc_decrypt_pkcs7::<aes::Aes256>(&key, &iv, &mut buf),
    }
    .ok_or(KeyError::WrongPassphrase)?;
    buf.truncate(n);
    Ok((buf, true))
}

/// OpenSSL's EVP_BytesToKey with MD5 and one iteration: D_1 = MD5(pass || salt),
/// D_i = MD5(D_{i-1} || pass || salt), concatenated.
pub(super) fn evp_bytes_to_key_md5(pass: &[u8], salt: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    use md5::Digest;
    let mut out = Zeroizing::new(Vec::with_capacity(len + 16));
    let mut prev: Option<Zeroizing<[u8; 16]>> = None;
    while out.len() < len {
        let mut h = md5::Md5::new();
        if let Some(p) = &prev {
            h.update(p.as_slice());
        }
        h.update(pass);
        h.update(salt);
        let d: [u8; 16] = h.finalize().into();
        out.extend_from_slice(&d);
        prev = Some(Zeroizing::new(d));
    }
    out.truncate(len);
    out
}

/// CBC-decrypts `buf` in place and removes PKCS#7 padding; the plaintext's length, or
/// None when the padding is wrong (a wrong key, almost always).
fn cbc_decrypt_pkcs7<C>(key: &[u8], iv: &[u8], buf: &mut [u8]) -> Option<usize>
where
    C: aes::cipher::BlockCipherDecrypt + aes::cipher::KeyInit,
{
    use aes::cipher::{BlockModeDecrypt, KeyIvInit};
    let d = cbc::Decryptor::<C>::new_from_slices(key, iv).ok()?;
    d.decrypt_padded::<aes::cipher::block_padding::Pkcs7>(buf)
        .ok()
        .map(<[u8]>::len)
}

// ---- PKCS#1, SEC1, PKCS#8 ----

pub(super) fn pkcs1_rsa(der: &[u8]) -> Result<PrivateKey, KeyError> {
    let k = rsa::pkcs1::RsaPrivateKeyRef::try_from(der)
        .map_err(|_| KeyError::Format("PKCS#1 RSA private key DER".into()))?;
    if k.other_prime_infos.is_some() {
        return Err(KeyError::Unsupported("multi-prime RSA keys".into()));
    }
    rsa_private(
        k.modulus.as_bytes(),
        k.public_exponent.as_bytes(),
        k.private_exponent.as_bytes(),
        k.prime1.as_bytes(),
        k.prime2.as_bytes(),
    )
}

pub(super) fn sec1_p256(der: &[u8]) -> Result<PrivateKey, KeyError> {
    let k = p256::SecretKey::from_sec1_der(der)
        .map_err(|_| KeyError::Format("SEC1 EC private key DER (P-256 only)".into()))?;
    p256_private(p256::ecdsa::SigningKey::from(k))
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_ED25519: &str = "1.3.101.112";

pub(super) fn pkcs8_private(der: &[u8]) -> Result<PrivateKey, KeyError> {
    use rsa::pkcs8::DecodePrivateKey;
    let info = rsa::pkcs8::PrivateKeyInfoRef::try_from(der)
        .map_err(|_| KeyError::Format("PKCS#8 private key DER".into()))?;
    let oid = info.algorithm.oid.to_string();
    match oid.as_str() {
        OID_RSA => pkcs1_rsa(info.private_key.as_bytes()),
        OID_EC => {
            let curve = info.algorithm.parameters_oid().ok().map(|o| o.to_string());
            if curve.as_deref() != Some(OID_P256) {
                return Err(KeyError::Unsupported(format!(
                    "EC keys on curve {} (P-256 is read)",
                    curve.as_deref().unwrap_or("(unnamed)")
                )));
            }
            let k = p256::SecretKey::from_pkcs8_der(der)
                .map_err(|_| KeyError::Format("PKCS#8 EC private key".into()))?;
            p256_private(p256::ecdsa::SigningKey::from(k))
        }
        OID_ED25519 => {
            let k = ed25519_dalek::SigningKey::from_pkcs8_der(der)
                .map_err(|_| KeyError::Format("PKCS#8 Ed25519 private key".into()))?;
            ed25519_private(k)
        }
        _ => Err(KeyError::Unsupported(format!("PKCS#8 key algorithm {oid}"))),
    }
}

// PKCS#8 EncryptedPrivateKeyInfo (RFC 5958) with PBES2 (RFC 8018), decoded here rather
// than through the pkcs5 crate: its generic scheme decoding (and scrypt) cost ~30 KB.
const OID_PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
const OID_PBKDF2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.12");
const OID_SCRYPT: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11591.4.11");
const OID_HMAC_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.7");
const OID_HMAC_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.9");
const OID_AES128_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.2");
const OID_AES192_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.22");
const OID_AES256_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");

/// PBKDF2's pseudo-random function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Prf {
    Sha1,
    Sha256,
}

/// What an "ENCRYPTED PRIVATE KEY" asks for: PBKDF2 parameters, an AES-CBC key length
/// and IV, and the ciphertext.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Pbes2<'a> {
    pub(super) salt: &'a [u8],
    pub(super) iterations: u32,
    pub(super) prf: Prf,
    pub(super) key_len: usize,
    pub(super) iv: [u8; 16],
    pub(super) data: &'a [u8],
}

/// Decodes EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING }
/// for PBES2 with PBKDF2 and AES-CBC; other schemes are refused by name.
pub(super) fn parse_pbes2(der: &[u8]) -> Result<Pbes2<'_>, KeyError> {
    use rsa::pkcs8::AlgorithmIdentifierRef;
    use rsa::pkcs8::der::asn1::{AnyRef, OctetStringRef, UintRef};
    use rsa::pkcs8::der::{Decode, Reader as _, SliceReader, Tag, Tagged as _};
    type DerResult<T> = Result<T, rsa::pkcs8::der::Error>;
    fn bad<E>(_: E) -> KeyError {
        KeyError::Format("encrypted PKCS#8 DER".into())
    }
    fn params(a: AlgorithmIdentifierRef<'_>) -> Result<AnyRef<'_>, KeyError> {
        a.parameters.ok_or_else(|| bad(()))
    }

    let mut r = SliceReader::new(der).map_err(bad)?;
    let (alg, data) = r
        .sequence(|r| -> DerResult<_> {
            Ok((
                AlgorithmIdentifierRef::decode(r)?,
                <&OctetStringRef>::decode(r)?,
            ))
        })
        .map_err(bad)?;
    r.finish().map_err(bad)?;
    if alg.oid != OID_PBES2 {
        return Err(refused(format_args!("scheme {}", alg.oid)));
    }
    let (kdf, enc) = params(alg)?
        .sequence(|r| -> DerResult<_> {
            Ok((
                AlgorithmIdentifierRef::decode(r)?,
                AlgorithmIdentifierRef::decode(r)?,
            ))
        })
        .map_err(bad)?;
    match kdf.oid {
        OID_PBKDF2 => {}
        OID_SCRYPT => return Err(refused(format_args!("scrypt"))),
        other => return Err(refused(format_args!("key derivation {other}"))),
    }
    let key_len = match enc.oid {
        OID_AES128_CBC => 16,
        OID_AES192_CBC => 24,
        OID_AES256_CBC => 32,
        other => return Err(refused(format_args!("cipher {other}"))),
    };
    let iv = params(enc)?;
    let iv: [u8; 16] = match (iv.tag(), iv.value().try_into()) {
        (Tag::OctetString, Ok(iv)) => iv,
        _ => return Err(bad(())),
    };
    // PBKDF2-params ::= SEQUENCE { salt OCTET STRING (the otherSource choice is not
    // used), iterationCount INTEGER, keyLength INTEGER OPTIONAL, prf AlgorithmIdentifier
    // DEFAULT hmacWithSHA1 }
    let (salt, iterations, key_length, prf) = params(kdf)?
        .sequence(|r| -> DerResult<_> {
            Ok((
                <&OctetStringRef>::decode(r)?.as_bytes(),
                UintRef::decode(r)?.as_bytes(),
                Option::<UintRef<'_>>::decode(r)?,
                Option::<AlgorithmIdentifierRef<'_>>::decode(r)?,
            ))
        })
        .map_err(bad)?;
    // A UintRef holds no leading zero bytes: more than 4 bytes is more than u32::MAX.
    let iterations = match iterations {
        b if b.len() <= 4 => b.iter().fold(0u32, |n, &x| (n << 8) | u32::from(x)),
        _ => u32::MAX,
    };
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
        return Err(refused(format_args!(
            "PBKDF2 with {iterations} iterations (1 to {MAX_PBKDF2_ITERATIONS})"
        )));
    }
    if key_length.is_some_and(|k| k.as_bytes() != [key_len as u8]) {
        return Err(bad(()));
    }
    let prf = match prf {
        None => Prf::Sha1,
        Some(p) if p.parameters.is_some_and(|a: AnyRef<'_>| !a.is_null()) => return Err(bad(())),
        Some(p) if p.oid == OID_HMAC_SHA1 => Prf::Sha1,
        Some(p) if p.oid == OID_HMAC_SHA256 => Prf::Sha256,
        Some(p) => return Err(refused(format_args!("PBKDF2 PRF {}", p.oid))),
    };
    Ok(Pbes2 {
        salt,
        iterations,
        prf,
        key_len,
        iv,
        data: data.as_bytes(),
    })
}

/// An encrypted PKCS#8 file we do not read, with the way to one we do.
fn refused(what: core::fmt::Arguments<'_>) -> KeyError {
    KeyError::Unsupported(format!(
        "PKCS#8 encrypted with {what} (PBES2 with PBKDF2-HMAC-SHA1/SHA256 and AES-CBC is \
         read): convert with `ssh-keygen -p -f KEY`"
    ))
}

/// Decrypts an "ENCRYPTED PRIVATE KEY" (PKCS#8 EncryptedPrivateKeyInfo, PBES2 with
/// PBKDF2 and AES-CBC), after bounding the KDF's cost. Wrong padding is a wrong
/// passphrase.
pub(super) fn pkcs8_decrypt(der: &[u8], pass: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let p = parse_pbes2(der)?;
    let mut key = Zeroizing::new([0u8; 32]);
    let key = &mut key[..p.key_len];
    match p.prf {
        Prf::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(pass, p.salt, p.iterations, key),
        Prf::Sha256 => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pass, p.salt, p.iterations, key),
    }
    let mut buf = Zeroizing::new(p.data.to_vec());
    let n = match p.key_len {
        16 => cbc_decrypt_pkcs7::<aes::Aes128>(key, &p.iv, &mut buf),
        24 => cbc_decrypt_pkcs7::<aes::Aes192>(key, &p.iv, &mut buf),
        _ => cbc_decrypt_pkcs7::<aes::Aes256>(key, &p.iv, &mut buf),
    }
    .ok_or(KeyError::WrongPassphrase)?;
    buf.truncate(n);
    Ok(buf)
}
