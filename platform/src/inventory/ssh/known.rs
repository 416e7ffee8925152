//! Host keys: trust on first use in `$KSOCKET_HOME/var/known_hosts` (OpenSSH's format,
//! so `ssh-keygen -F`/`-R` work on it), or the pins of a credential file (`hostKeys`,
//! `knownHosts`), which refuse unknown keys too. A key is checked before anything is
//! authenticated: a host whose key does not match is sent no password and no signature.

use ksocket_proto::records::{CollectError, ErrorKind};
use ksocket_ssh::keys::PublicKey;
use ksocket_ssh::known_hosts::{KnownHosts, Verdict};
use std::cell::RefCell;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The largest known_hosts file read (a bigger one is refused, said once).
const FILE_LIMIT: u64 = 16 << 20;

/// The keys a credential file pins.
pub struct Pins {
    /// Where the pins come from, for messages (`hostKeys of ssh/10.toml`).
    pub source: String,
    /// The `hostKeys` (any host), then the `knownHosts` file.
    pub keys: Vec<KnownHosts>,
}

/// One verdict of several files: a revocation anywhere wins, then a match, then a
/// mismatch (with every expected key), else unknown.
fn check_all(files: &[&KnownHosts], host: &str, port: u16, key: &PublicKey) -> Verdict {
    let mut expected = Vec::new();
    let mut matched = false;
    for f in files {
        match f.check(host, port, key) {
            Verdict::Revoked => return Verdict::Revoked,
            Verdict::Match => matched = true,
            Verdict::Mismatch {
                expected_fingerprints,
            } => expected.extend(expected_fingerprints),
            Verdict::Unknown => {}
        }
    }
    if matched {
        Verdict::Match
    } else if !expected.is_empty() {
        Verdict::Mismatch {
            expected_fingerprints: expected,
        }
    } else {
        Verdict::Unknown
    }
}

/// `$KSOCKET_HOME/var/known_hosts`, read once per scan, appended to as hosts are met.
pub struct Store {
    path: PathBuf,
    keys: Result<KnownHosts, String>,
    /// Keys first met during this scan (also appended to the file).
    added: RefCell<Vec<KnownHosts>>,
}

impl Store {
    pub fn open(path: PathBuf) -> Store {
        let keys = match crate::sys::files::read_bounded(&path, FILE_LIMIT) {
            Ok(b) => Ok(KnownHosts::parse(&String::from_utf8_lossy(&b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KnownHosts::parse("")),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        };
        Store {
            path,
            keys,
            added: RefCell::new(Vec::new()),
        }
    }

    /// Checks `key` for `ip:port`, against `pins` when the credential has some, else
    /// against the store (a host met for the first time is added to it).
    pub fn check(
        &self,
        ip: Ipv4Addr,
        port: u16,
        key: &PublicKey,
        pins: Option<&Pins>,
    ) -> Result<(), CollectError> {
        let host = ip.to_string();
        let refuse = |message: String| CollectError {
            kind: ErrorKind::HostKey,
            message,
        };
        if let Some(p) = pins {
            let files: Vec<&KnownHosts> = p.keys.iter().collect();
            return match check_all(&files, &host, port, key) {
                Verdict::Match => Ok(()),
                Verdict::Revoked => Err(refuse(format!(
                    "host key {} {} of {ip} is revoked in {}; nothing was sent",
                    key.key_type(),
                    key.fingerprint(),
                    p.source
                ))),
                _ => Err(refuse(format!(
                    "host key {} {} of {ip} is not pinned by {}; nothing was sent",
                    key.key_type(),
                    key.fingerprint(),
                    p.source
                ))),
            };
        }
        let known = match &self.keys {
            Ok(k) => k,
            Err(e) => return Err(refuse(format!("{e}: host keys cannot be checked"))),
        };
        let added = self.added.borrow();
        let files: Vec<&KnownHosts> = std::iter::once(known).chain(added.iter()).collect();
        let verdict = check_all(&files, &host, port, key);
        drop(added);
        match verdict {
            Verdict::Match => Ok(()),
            Verdict::Mismatch {
                expected_fingerprints,
            } => Err(refuse(format!(
                "HOST KEY CHANGED for {ip}: it offers {} {}, {} holds {}; nothing was sent \
                 (if the change is expected: ssh-keygen -R {} -f {})",
                key.key_type(),
                key.fingerprint(),
                self.path.display(),
                expected_fingerprints.join(", "),
                host_pattern(&host, port),
                self.path.display()
            ))),
            Verdict::Revoked => Err(refuse(format!(
                "host key {} of {ip} is revoked in {}; nothing was sent",
                key.fingerprint(),
                self.path.display()
            ))),
            Verdict::Unknown => {
                let line = KnownHosts::line(&host, port, key);
                if let Err(e) = append(&self.path, &line) {
                    // The key is still used for this scan; the next one asks again.
                    log::warn!("cannot add {ip}'s host key to {}: {e}", self.path.display());
                } else {
                    log::info!(
                        "host {ip}: first seen, host key {} {} added to {}",
                        key.key_type(),
                        key.fingerprint(),
                        self.path.display()
                    );
                }
                self.added
                    .borrow_mut()
                    .push(KnownHosts::parse(&format!("{line}\n")));
                Ok(())
            }
        }
    }
}

fn host_pattern(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("'[{host}]:{port}'")
    }
}

/// Appends one line, creating the file 0600 (and its directory 0700) when missing.
fn append(path: &Path, line: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        crate::sys::files::create_dirs(dir, 0o700)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    // One write of the whole line: O_APPEND keeps concurrent agents' lines whole.
    f.write_all(format!("{line}\n").as_bytes())?;
    f.sync_data()
}

/// The pins of a credential file: its `hostKeys`, and its `knownHosts` file (relative
/// to the credential's directory).
pub fn pins(
    label: &str,
    dir: &Path,
    host_keys: &[String],
    known_hosts: Option<&str>,
) -> Result<Option<Pins>, String> {
    if host_keys.is_empty() && known_hosts.is_none() {
        return Ok(None);
    }
    let mut keys =
        vec![KnownHosts::pinned(host_keys).map_err(|e| format!("{label}: hostKeys: {e}"))?];
    let mut source = format!("the hostKeys of {label}");
    if let Some(f) = known_hosts {
        let p = dir.join(f);
        let b = crate::sys::files::read_bounded(&p, FILE_LIMIT)
            .map_err(|e| format!("{label}: knownHosts {}: {e}", p.display()))?;
        keys.push(KnownHosts::parse(&String::from_utf8_lossy(&b)));
        source = format!("{label} (hostKeys, knownHosts {})", p.display());
    }
    Ok(Some(Pins { source, keys }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDjHAeTDfgI2HI+rcT4jya1DYRDcNKN5iltSrDIRMXAl a";
    const B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK6AiJtEyJwmjpYL9eWqeQef3y0NLfpk2INXIl9TK4s9 b";

    fn key(line: &str) -> PublicKey {
        PublicKey::from_openssh_line(line).unwrap()
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kst-known-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn first_use_is_kept_0600_and_a_changed_key_is_refused_then_and_later() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("tofu");
        let path = dir.join("var/known_hosts");
        let ip: Ipv4Addr = "198.18.0.5".parse().unwrap();
        let s = Store::open(path.clone());
        s.check(ip, 22, &key(A), None).unwrap();
        s.check(ip, 22, &key(A), None).unwrap();
        let e = s.check(ip, 22, &key(B), None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::HostKey);
        assert!(e.message.contains("HOST KEY CHANGED"), "{}", e.message);
        assert!(
            e.message
                .contains("SHA256:R9D6xE4KEPazg5lGMY3l7tuOGCqrq8266qBrD6ygAXs")
        );
        // Another port is another entry, written as OpenSSH writes it.
        s.check(ip, 2222, &key(B), None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.starts_with("198.18.0.5 ssh-ed25519 "), "{text}");
        assert!(text.contains("[198.18.0.5]:2222 ssh-ed25519 "), "{text}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // The next scan reads the file: still refused.
        let again = Store::open(path);
        assert!(again.check(ip, 22, &key(B), None).is_err());
        again.check(ip, 22, &key(A), None).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pins_refuse_unknown_keys_and_never_touch_the_store() {
        let dir = scratch("pins");
        let path = dir.join("var/known_hosts");
        let s = Store::open(path.clone());
        let ip: Ipv4Addr = "198.18.0.6".parse().unwrap();
        let p = pins("ssh/10.toml", &dir, &[A.to_string()], None)
            .unwrap()
            .unwrap();
        s.check(ip, 22, &key(A), Some(&p)).unwrap();
        let e = s.check(ip, 22, &key(B), Some(&p)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::HostKey);
        assert!(
            e.message
                .contains("not pinned by the hostKeys of ssh/10.toml")
        );
        assert!(!path.exists());
        // A knownHosts file that lists another host pins nothing for this one.
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("kh"), format!("198.18.0.9 {B}\n")).unwrap();
        let p = pins("ssh/11.toml", &dir, &[], Some("kh")).unwrap().unwrap();
        assert!(s.check(ip, 22, &key(B), Some(&p)).is_err());
        s.check("198.18.0.9".parse().unwrap(), 22, &key(B), Some(&p))
            .unwrap();
        // A missing knownHosts file is a clear error.
        let e = pins("ssh/12.toml", &dir, &[], Some("nope")).err().unwrap();
        assert!(e.contains("ssh/12.toml: knownHosts"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
