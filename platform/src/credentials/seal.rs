//! `ksocket encrypt FILE` / `ksocket decrypt FILE.kscrypt`: credential files sealed with
//! this agent's key (spec §4), read transparently wherever a `.toml` would be.
//!
//! The agent key is an X25519 key pair kept in `$KSOCKET_HOME/etc/ksocket/agent.key`
//! (32 secret bytes, mode 0600, refused when anyone else may read it), created on first
//! use. Each file is sealed with a fresh ephemeral key: X25519 with the agent's public
//! key, HKDF-SHA256 to a one-file ChaCha20-Poly1305 key, the header as associated data.
//! The original used RSA; X25519 is smaller, faster on ARM and has no padding oracle.
//!
//! Format, version 1:
//! `b"KSCRYPT\x01"` | recipient key fingerprint (8 bytes, SHA-256 of the public key) |
//! ephemeral public key (32) | nonce (12) | ciphertext + tag (16).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use x25519_dalek::{PublicKey, StaticSecret};

const MAGIC: &[u8; 8] = b"KSCRYPT\x01";
const HEADER: usize = 8 + 8 + 32 + 12;

/// Why a file could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: readable by others (mode {mode:03o}); the agent key must be 0600: chmod 600 {}",
        path.display(),
        path.display()
    )]
    KeyMode { path: PathBuf, mode: u32 },
    #[error("{}: not an agent key (32 bytes expected)", .0.display())]
    NotAKey(PathBuf),
    #[error("the kernel's random source failed: {0}")]
    Random(std::io::Error),
    #[error("key derivation failed")]
    Kdf,
    #[error("encryption failed")]
    Encrypt,
    #[error("not a .kscrypt file (bad magic)")]
    Magic,
    #[error("kscrypt version {0} is not known to this build (1 is)")]
    Version(u8),
    #[error("truncated .kscrypt file")]
    Truncated,
    #[error(
        "sealed for another agent's key ({theirs}; this agent's is {ours}): decrypt it where it was encrypted"
    )]
    Foreign { theirs: String, ours: String },
    #[error("altered or corrupt .kscrypt file (authentication failed)")]
    Altered,
    #[error("not UTF-8")]
    NotUtf8,
    #[error("the name must end in .kscrypt")]
    Name,
}

impl SealError {
    /// The message, for a report that names the file already.
    pub fn detail(&self) -> String {
        match self {
            SealError::Io { source, .. } => format!("cannot read: {source}"),
            e => e.to_string(),
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SealError + '_ {
    move |source| SealError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub fn key_path() -> PathBuf {
    crate::config::home().join("etc/ksocket/agent.key")
}

fn random<const N: usize>() -> Result<[u8; N], SealError> {
    crate::sys::random::bytes().map_err(SealError::Random)
}

fn fingerprint(p: &PublicKey) -> [u8; 8] {
    let h = Sha256::digest(p.as_bytes());
    let mut f = [0u8; 8];
    f.copy_from_slice(&h[..8]);
    f
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Loads the agent key, creating it (0600) when `create` and it does not exist.
pub fn agent_key(path: &Path, create: bool) -> Result<StaticSecret, SealError> {
    match std::fs::metadata(path) {
        Ok(m) => {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(SealError::KeyMode {
                    path: path.to_path_buf(),
                    mode,
                });
            }
            let b = crate::sys::files::read_bounded(path, 64).map_err(io(path))?;
            let k: [u8; 32] = b
                .try_into()
                .map_err(|_| SealError::NotAKey(path.to_path_buf()))?;
            Ok(StaticSecret::from(k))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            if let Some(d) = path.parent() {
                crate::sys::files::create_dirs(d, crate::sys::files::PRIVATE_DIR_MODE)
                    .map_err(io(d))?;
            }
            let k: [u8; 32] = random()?;
            write_new(path, &k)?;
            Ok(StaticSecret::from(k))
        }
        Err(e) => Err(io(path)(e)),
    }
}

fn cipher(
    shared: &[u8; 32],
    eph: &PublicKey,
    recipient: &PublicKey,
) -> Result<ChaCha20Poly1305, SealError> {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(eph.as_bytes());
    salt[32..].copy_from_slice(recipient.as_bytes());
    let hk = Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut key = [0u8; 32];
    hk.expand(b"ksocket kscrypt v1", &mut key)
        .map_err(|_| SealError::Kdf)?;
    Ok(ChaCha20Poly1305::new(&Key::from(key)))
}

/// Seals `plain` for the holder of `recipient`.
pub fn seal(plain: &[u8], recipient: &PublicKey) -> Result<Vec<u8>, SealError> {
    let eph = StaticSecret::from(random::<32>()?);
    let eph_pub = PublicKey::from(&eph);
    let shared = eph.diffie_hellman(recipient);
    let nonce: [u8; 12] = random()?;
    let mut out = Vec::with_capacity(HEADER + plain.len() + 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&fingerprint(recipient));
    out.extend_from_slice(eph_pub.as_bytes());
    out.extend_from_slice(&nonce);
    let ct = cipher(shared.as_bytes(), &eph_pub, recipient)?
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plain,
                aad: &out[..HEADER],
            },
        )
        .map_err(|_| SealError::Encrypt)?;
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a sealed file's bytes with the agent key; every failure says which.
pub fn open(sealed: &[u8], key: &StaticSecret) -> Result<Vec<u8>, SealError> {
    if sealed.len() < 8 || &sealed[..7] != b"KSCRYPT" {
        return Err(SealError::Magic);
    }
    if sealed[7] != 1 {
        return Err(SealError::Version(sealed[7]));
    }
    if sealed.len() < HEADER + 16 {
        return Err(SealError::Truncated);
    }
    let me = PublicKey::from(key);
    let fp = &sealed[8..16];
    if fp != fingerprint(&me) {
        return Err(SealError::Foreign {
            theirs: hex(fp),
            ours: hex(&fingerprint(&me)),
        });
    }
    let eph: [u8; 32] = sealed[16..48].try_into().expect("length checked");
    let eph = PublicKey::from(eph);
    let nonce: [u8; 12] = sealed[48..60].try_into().expect("length checked");
    let shared = key.diffie_hellman(&eph);
    cipher(shared.as_bytes(), &eph, &me)?
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &sealed[HEADER..],
                aad: &sealed[..HEADER],
            },
        )
        .map_err(|_| SealError::Altered)
}

/// Reads a credential file: plain text, or sealed (`.kscrypt`) with the agent key.
pub fn read_credential(path: &Path) -> Result<String, SealError> {
    read_credential_with(path, &mut None)
}

/// As [`read_credential`]; the agent key is loaded into `key` on first need and
/// reused (a broken key is said once per file, not read again).
pub fn read_credential_with(
    path: &Path,
    key: &mut Option<Result<StaticSecret, String>>,
) -> Result<String, SealError> {
    let bytes =
        crate::sys::files::read_bounded(path, crate::sys::files::MAX_FILE).map_err(io(path))?;
    let plain = if path.extension().is_some_and(|e| e == "kscrypt") {
        // The key is loaded once; a broken one is said for every file it fails.
        let key =
            key.get_or_insert_with(|| agent_key(&key_path(), false).map_err(|e| e.to_string()));
        let key = key.as_ref().map_err(|e| SealError::Io {
            path: key_path(),
            source: std::io::Error::other(e.clone()),
        })?;
        open(&bytes, key)?
    } else {
        bytes
    };
    String::from_utf8(plain).map_err(|_| SealError::NotUtf8)
}

/// Writes `data` to a new file (0600), refusing to overwrite.
fn write_new(path: &Path, data: &[u8]) -> Result<(), SealError> {
    crate::sys::files::create_new(path, data, crate::sys::files::SECRET_MODE).map_err(io(path))
}

/// Seals `file` with this agent's key (made on first use) into `FILE.kscrypt`, which
/// must not exist yet. Returns the sealed file's path.
pub fn encrypt_file(file: &Path) -> Result<PathBuf, SealError> {
    let input =
        crate::sys::files::read_bounded(file, crate::sys::files::MAX_FILE).map_err(io(file))?;
    let key = agent_key(&key_path(), true)?;
    let sealed = seal(&input, &PublicKey::from(&key))?;
    let out = PathBuf::from(format!("{}.kscrypt", file.display()));
    write_new(&out, &sealed)?;
    Ok(out)
}

/// Opens `FILE.kscrypt` with this agent's key into `FILE` (0600), which must not
/// exist yet. Returns the plain file's path.
pub fn decrypt_file(file: &Path) -> Result<PathBuf, SealError> {
    let out = file
        .to_str()
        .and_then(|s| s.strip_suffix(".kscrypt"))
        .map(PathBuf::from)
        .ok_or(SealError::Name)?;
    let input =
        crate::sys::files::read_bounded(file, crate::sys::files::MAX_FILE).map_err(io(file))?;
    let key = agent_key(&key_path(), false)?;
    let plain = open(&input, &key)?;
    write_new(&out, &plain)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> StaticSecret {
        StaticSecret::from(random::<32>().unwrap())
    }

    #[test]
    fn round_trip() {
        let k = key();
        let s = seal(
            b"[authData]\ncommunity = \"s3cret\"\n",
            &PublicKey::from(&k),
        )
        .unwrap();
        assert!(!s.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(
            open(&s, &k).unwrap(),
            b"[authData]\ncommunity = \"s3cret\"\n"
        );
        // Two seals of the same text differ (fresh key and nonce).
        assert_ne!(
            s,
            seal(
                b"[authData]\ncommunity = \"s3cret\"\n",
                &PublicKey::from(&k)
            )
            .unwrap()
        );
    }

    #[test]
    fn refuses_foreign_tampered_truncated_and_unknown() {
        let (k, other) = (key(), key());
        let s = seal(b"secret text", &PublicKey::from(&k)).unwrap();
        let e = open(&s, &other).unwrap_err();
        assert!(matches!(e, SealError::Foreign { .. }), "{e}");
        assert!(e.to_string().contains("another agent"), "{e}");
        for i in [HEADER - 1, HEADER + 3, s.len() - 1] {
            let mut t = s.clone();
            t[i] ^= 1;
            assert!(matches!(open(&t, &k), Err(SealError::Altered)), "byte {i}");
        }
        assert!(matches!(
            open(&s[..HEADER + 5], &k),
            Err(SealError::Truncated)
        ));
        let mut v = s.clone();
        v[7] = 2;
        assert!(open(&v, &k).unwrap_err().to_string().contains("version 2"));
        assert!(matches!(open(b"[authData]", &k), Err(SealError::Magic)));
    }

    #[test]
    fn the_key_file_must_be_private() {
        let d = std::env::temp_dir().join(format!("kst-seal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let p = d.join("agent.key");
        let k = agent_key(&p, true).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            PublicKey::from(&agent_key(&p, false).unwrap()),
            PublicKey::from(&k)
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            agent_key(&p, false)
                .err()
                .expect("refused")
                .to_string()
                .contains("chmod 600")
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
