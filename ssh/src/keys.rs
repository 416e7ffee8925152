//! Keys: public host keys (parse the SSH blob, verify a signature, SHA-256 fingerprint)
//! and private client keys (OpenSSH and PEM formats, encrypted with a passphrase or
//! not; sign for publickey authentication).
//!
//! CONTRACT (the engine codes against these signatures; bodies are being written):

use crate::wire::{Malformed, Reader, Write};
use rsa::pkcs8::ObjectIdentifier;
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

/// A client's private key, decrypted.
///
/// The secret halves are the crates' own key types, which wipe themselves on drop;
/// every intermediate buffer holding key material (decoded file, decrypted section,
/// derived cipher keys) is a `Zeroizing` buffer. `Debug` shows the type and the
/// fingerprint only.
pub struct PrivateKey {
    public: PublicKey,
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

/// Key files larger than this are not key files (an 8192-bit RSA key in PEM is ~6 KiB).
const MAX_KEY_TEXT: usize = 256 * 1024;
/// bcrypt_pbkdf rounds we run: OpenSSH's default is 16 and `ssh-keygen -a` is rarely
/// above a few hundred; a file asking for more is refused rather than run for minutes.
pub const MAX_BCRYPT_ROUNDS: u32 = 1024;
/// PBKDF2 iterations we run for an encrypted PKCS#8 file (OpenSSL's default is 2048).
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;

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

// ---- PEM (RFC 7468, plus OpenSSL's RFC 1421 headers) ----

struct Pem<'a> {
    label: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    data: Zeroizing<Vec<u8>>,
}

impl<'a> Pem<'a> {
    fn parse(text: &'a str) -> Result<Pem<'a>, KeyError> {
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
fn legacy_pem_decrypt(
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
fn evp_bytes_to_key_md5(pass: &[u8], salt: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
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

fn pkcs1_rsa(der: &[u8]) -> Result<PrivateKey, KeyError> {
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

fn sec1_p256(der: &[u8]) -> Result<PrivateKey, KeyError> {
    let k = p256::SecretKey::from_sec1_der(der)
        .map_err(|_| KeyError::Format("SEC1 EC private key DER (P-256 only)".into()))?;
    p256_private(p256::ecdsa::SigningKey::from(k))
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_ED25519: &str = "1.3.101.112";

fn pkcs8_private(der: &[u8]) -> Result<PrivateKey, KeyError> {
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
enum Prf {
    Sha1,
    Sha256,
}

/// What an "ENCRYPTED PRIVATE KEY" asks for: PBKDF2 parameters, an AES-CBC key length
/// and IV, and the ciphertext.
#[derive(Debug, PartialEq, Eq)]
struct Pbes2<'a> {
    salt: &'a [u8],
    iterations: u32,
    prf: Prf,
    key_len: usize,
    iv: [u8; 16],
    data: &'a [u8],
}

/// Decodes EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING }
/// for PBES2 with PBKDF2 and AES-CBC; other schemes are refused by name.
fn parse_pbes2(der: &[u8]) -> Result<Pbes2<'_>, KeyError> {
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
fn pkcs8_decrypt(der: &[u8], pass: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
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

// ---- the OpenSSH format (PROTOCOL.key) ----

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

fn openssh_private(data: &[u8], passphrase: Option<&[u8]>) -> Result<PrivateKey, KeyError> {
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

fn ed25519_private(k: ed25519_dalek::SigningKey) -> Result<PrivateKey, KeyError> {
    let mut blob = Vec::with_capacity(51);
    blob.put_string(ED25519.as_bytes());
    blob.put_string(k.verifying_key().as_bytes());
    Ok(PrivateKey {
        public: PublicKey::from_blob(&blob)?,
        kind: PrivateKind::Ed25519(Box::new(k)),
    })
}

fn p256_private(k: p256::ecdsa::SigningKey) -> Result<PrivateKey, KeyError> {
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
fn rsa_private(n: &[u8], e: &[u8], d: &[u8], p: &[u8], q: &[u8]) -> Result<PrivateKey, KeyError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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

    // A throwaway test key (ssh-keygen -t ed25519 -N ''): its public half is ED25519_PUB.
    const ED25519_PRIVATE: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACDyrk3uc2vPe8LXUlKqqjzZ/KdCsiXLW96JZ+mx7X5q4wAAAIitgjRJrYI0
SQAAAAtzc2gtZWQyNTUxOQAAACDyrk3uc2vPe8LXUlKqqjzZ/KdCsiXLW96JZ+mx7X5q4w
AAAEAiqIQLpP7j5hXK6KV0b+wajb0yGQHHgtx7KV7jy89PkvKuTe5za897wtdSUqqqPNn8
p0KyJctb3oln6bHtfmrjAAAAAXQBAgME
-----END OPENSSH PRIVATE KEY-----
";

    #[test]
    fn openssh_ed25519_loads_signs_and_debug_shows_no_secret() {
        let k = PrivateKey::from_text(ED25519_PRIVATE.as_bytes(), None).unwrap();
        let public = PublicKey::from_openssh_line(ED25519_PUB).unwrap();
        assert_eq!(k.public(), &public);
        assert_eq!(k.algorithms(), &["ssh-ed25519"]);
        let sig = k.sign("ssh-ed25519", b"data").unwrap();
        assert_eq!(public.verify("ssh-ed25519", b"data", &sig), Ok(()));
        assert!(k.sign("rsa-sha2-256", b"data").is_err());
        assert_eq!(
            format!("{k:?}"),
            "PrivateKey(ssh-ed25519 SHA256:JD4y+1JNCmAplFTJJtnSW/BMn2q6UFTFyhdEkM3dIBM)"
        );
        // CRLF line ends and surrounding text are fine.
        let crlf = format!("junk\r\n{}", ED25519_PRIVATE.replace('\n', "\r\n"));
        assert!(PrivateKey::from_text(crlf.as_bytes(), None).is_ok());
    }

    #[test]
    fn not_keys() {
        for text in [
            &b""[..],
            b"hello",
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n",
            b"-----BEGIN OPENSSH PRIVATE KEY-----\n!!!!\n-----END OPENSSH PRIVATE KEY-----\n",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            b"PuTTY-User-Key-File-3: ssh-ed25519\n",
            b"\xff\xfe",
        ] {
            assert!(PrivateKey::from_text(text, Some(b"pw")).is_err());
        }
        let dsa = b"-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----\n";
        assert!(matches!(
            PrivateKey::from_text(dsa, None),
            Err(KeyError::Unsupported(_))
        ));
    }

    #[test]
    fn evp_bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -P -md md5 -pass pass:pw -S 0001020304050607`
        let k = evp_bytes_to_key_md5(b"pw", &[0, 1, 2, 3, 4, 5, 6, 7], 32);
        assert_eq!(k.len(), 32);
        assert_eq!(
            data_encoding::HEXUPPER.encode(&k),
            "A55F79AA00E8DD0E7D3CE26ED40D7CD3A029A787189B34D30D90860969005FCB"
        );
    }

    // `openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -iter 2048 -passout
    // pass:kat` (OpenSSL 3.0.19) of an Ed25519 key whose public key is ED_KAT_PUB.
    const ED_KAT_ENC: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAjM3xv/xNpQSAICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEMKr+0ciVONfWkNgUYVrvyIEQHHS
loTvg1uRpcbkFoCcJHI/Ltx4sYiIMpZFZLWnR3zHx++OMU4XQc/2CB9+zk7AJryI
CWKIjakqAAbMN6mM9XY=
-----END ENCRYPTED PRIVATE KEY-----
";
    const ED_KAT_PUB: &str = "cb0c3d6193a197d82271804375c3c7fcffb74e48017ec1d778bd34a3b1e5370a";

    #[test]
    fn pbes2_known_answer() {
        let key = PrivateKey::from_text(ED_KAT_ENC.as_bytes(), Some(b"kat")).unwrap();
        assert!(key.public().blob().ends_with(&hex(ED_KAT_PUB)));
        assert_eq!(
            PrivateKey::from_text(ED_KAT_ENC.as_bytes(), Some(b"ka")).err(),
            Some(KeyError::WrongPassphrase)
        );
        let der = Pem::parse(ED_KAT_ENC).unwrap().data;
        let p = parse_pbes2(&der).unwrap();
        assert_eq!(
            (p.salt, p.iterations, p.prf, p.key_len, p.iv, p.data.len()),
            (
                &hex("ccdf1bffc4da5048")[..],
                2048,
                Prf::Sha256,
                32,
                <[u8; 16]>::try_from(hex("c2abfb472254e35f5a436051856bbf22")).unwrap(),
                64
            )
        );
        // Every truncation is an error, none a panic.
        for cut in 0..der.len() {
            assert!(pkcs8_decrypt(&der[..cut], b"kat").is_err(), "{cut}");
        }
        // Another PRF (SHA-1 for SHA-256) derives another key: a wrong passphrase;
        // hmacWithSHA512 is refused by name.
        let mut other = der.to_vec();
        assert_eq!(other[49..59], hex("06082a864886f70d0209"));
        other[58] = 0x07;
        assert_eq!(parse_pbes2(&other).unwrap().prf, Prf::Sha1);
        assert!(pkcs8_decrypt(&other, b"kat").is_err());
        other[58] = 0x0b;
        assert!(matches!(
            parse_pbes2(&other),
            Err(KeyError::Unsupported(m)) if m.contains("PRF 1.2.840.113549.2.11")
        ));
        // The prf absent is hmacWithSHA1 (the SEQUENCEs shortened by its 14 bytes).
        let mut sha1 = der[..47].to_vec();
        sha1.extend_from_slice(&der[61..]);
        sha1[2] -= 14;
        sha1[4] -= 14;
        sha1[17] -= 14;
        sha1[19] -= 14;
        sha1[32] -= 14;
        assert_eq!(parse_pbes2(&sha1).unwrap().prf, Prf::Sha1);
        // A keyLength that is not the cipher's is refused; the cipher's is read.
        for (len, ok) in [(32u8, true), (16, false)] {
            let mut kl = der[..47].to_vec();
            kl.extend_from_slice(&[2, 1, len]);
            kl.extend_from_slice(&der[47..]);
            kl[2] += 3;
            kl[4] += 3;
            kl[17] += 3;
            kl[19] += 3;
            kl[32] += 3;
            assert_eq!(parse_pbes2(&kl).is_ok(), ok, "{len}");
        }
        // Too many iterations, or none, is refused before any work.
        for (count, ok) in [
            (&[0x0fu8, 0x42, 0x40][..], true),
            (&[0x0f, 0x42, 0x41], false),
            (&[0], false),
        ] {
            assert_eq!(der[43..47], [2, 2, 8, 0]);
            let mut it = der[..44].to_vec();
            it.push(count.len() as u8);
            it.extend_from_slice(count);
            it.extend_from_slice(&der[47..]);
            let d = (count.len() as u8).wrapping_sub(2);
            for i in [2, 4, 17, 19, 32] {
                it[i] = it[i].wrapping_add(d);
            }
            assert_eq!(parse_pbes2(&it).is_ok(), ok, "{count:?}");
        }
    }
}
