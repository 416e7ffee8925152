//! OpenSSH's known_hosts format (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"): which host
//! keys are expected for a host, and the verdict on the key a server presented.
//!
//! A line is `[marker] hosts keytype base64 [comment]`. `hosts` is a comma-separated
//! list of patterns (`name`, `[name]:port` for a port other than 22, `*` and `?`
//! wildcards, `!pattern` to exclude) or one hashed entry `|1|base64(salt)|base64(hash)`
//! (HMAC-SHA1 of the host string keyed by the salt). The marker `@revoked` marks a key
//! that must never be accepted; `@cert-authority` lines (host certificates) are ignored:
//! this client does not accept certificates.
//!
//! The verdict follows OpenSSH: a host listed with the presented key is a match; listed
//! with another key of the same type, a mismatch; listed only with keys of other types
//! (or not at all), unknown ([`KnownHosts::known_key_types`] tells the caller which
//! types, to say so).

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::keys::{KeyError, PublicKey, decode_base64};

/// Lines longer than this are ignored (OpenSSH's own limit is 8 KiB per key line).
pub const MAX_LINE: usize = 16 * 1024;
/// Entries kept from one file; the rest are ignored.
pub const MAX_ENTRIES: usize = 100_000;

/// The verdict on a server's host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The host is listed with this key.
    Match,
    /// The host is listed with other keys of the same type, not this one: possibly a
    /// man in the middle. The fingerprints are the listed keys'.
    Mismatch { expected_fingerprints: Vec<String> },
    /// The host is not listed with a key of this type.
    Unknown,
    /// This key is marked `@revoked`.
    Revoked,
}

#[derive(Debug, Clone)]
enum Hosts {
    /// Comma-separated patterns, each maybe negated, lowercased.
    Patterns(Vec<(bool, String)>),
    /// `|1|salt|hash`.
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
    /// A pinned key: any host.
    Any,
}

#[derive(Debug, Clone)]
struct Entry {
    revoked: bool,
    hosts: Hosts,
    key: PublicKey,
}

/// A parsed known_hosts file (or a pinned set of keys).
#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

impl KnownHosts {
    /// Parses a known_hosts file's text. Lines that are not understood (comments, other
    /// key types, certificate authorities, overlong lines) are skipped, as OpenSSH does.
    pub fn parse(text: &str) -> KnownHosts {
        let mut entries = Vec::new();
        for line in text.lines() {
            if entries.len() >= MAX_ENTRIES {
                break;
            }
            if line.len() > MAX_LINE {
                continue;
            }
            if let Some(e) = parse_line(line) {
                entries.push(e);
            }
        }
        KnownHosts { entries }
    }

    /// A pinned set from credential `hostKeys` entries (`keytype base64 [comment]`):
    /// the keys are expected whatever the host's name.
    pub fn pinned(lines: &[String]) -> Result<KnownHosts, KeyError> {
        let mut entries = Vec::with_capacity(lines.len());
        for l in lines {
            let key = PublicKey::from_openssh_line(l)?;
            entries.push(Entry {
                revoked: false,
                hosts: Hosts::Any,
                key,
            });
        }
        Ok(KnownHosts { entries })
    }

    /// How many entries were kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The verdict on `key` presented by `host` (a name or address as the user gave it)
    /// on `port`.
    pub fn check(&self, host: &str, port: u16, key: &PublicKey) -> Verdict {
        let name = host_string(host, port);
        let mut matched = false;
        let mut others = Vec::new();
        for e in self.entries.iter().filter(|e| e.hosts.matches(&name)) {
            if e.key == *key {
                if e.revoked {
                    return Verdict::Revoked;
                }
                matched = true;
            } else if !e.revoked && e.key.key_type() == key.key_type() {
                let fp = e.key.fingerprint();
                if !others.contains(&fp) {
                    others.push(fp);
                }
            }
        }
        // A revoked key is refused even when listed for another host (OpenSSH checks
        // revocation without the host name).
        if self.entries.iter().any(|e| e.revoked && e.key == *key) {
            return Verdict::Revoked;
        }
        if matched {
            Verdict::Match
        } else if !others.is_empty() {
            Verdict::Mismatch {
                expected_fingerprints: others,
            }
        } else {
            Verdict::Unknown
        }
    }

    /// The key types `host` is listed with (not revoked), for telling the user that a
    /// host with an [`Verdict::Unknown`] key is known with another type.
    pub fn known_key_types(&self, host: &str, port: u16) -> Vec<&'static str> {
        let name = host_string(host, port);
        let mut types = Vec::new();
        for e in self
            .entries
            .iter()
            .filter(|e| !e.revoked && e.hosts.matches(&name))
        {
            if !types.contains(&e.key.key_type()) {
                types.push(e.key.key_type());
            }
        }
        types
    }

    /// The line to append to a known_hosts file for `host` on `port` (unhashed; the
    /// `[host]:port` form for a port other than 22), without a newline.
    pub fn line(host: &str, port: u16, key: &PublicKey) -> String {
        format!("{} {}", host_string(host, port), key.to_openssh_line())
    }
}

/// The host as known_hosts names it: lowercased, `[host]:port` unless the port is 22.
fn host_string(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 || port == 0 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

fn parse_line(line: &str) -> Option<Entry> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_ascii_whitespace();
    let mut first = fields.next()?;
    let mut revoked = false;
    if first.starts_with('@') {
        match first {
            "@revoked" => revoked = true,
            // "@cert-authority" and unknown markers.
            _ => return None,
        }
        first = fields.next()?;
    }
    let hosts = parse_hosts(first)?;
    let key_type = fields.next()?;
    let b64 = fields.next()?;
    let blob = decode_base64(b64.as_bytes())?;
    // Other key types (ssh-dss, other curves, security keys) cannot be the key we check.
    let key = PublicKey::from_blob(&blob).ok()?;
    if key.key_type() != key_type {
        return None;
    }
    Some(Entry {
        revoked,
        hosts,
        key,
    })
}

fn parse_hosts(field: &str) -> Option<Hosts> {
    if let Some(rest) = field.strip_prefix("|1|") {
        let (salt, hash) = rest.split_once('|')?;
        let salt = decode_base64(salt.as_bytes())?;
        let hash = decode_base64(hash.as_bytes())?;
        if salt.is_empty() || hash.len() != 20 {
            return None;
        }
        return Some(Hosts::Hashed { salt, hash });
    }
    if field.starts_with('|') {
        return None;
    }
    let patterns = field
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.strip_prefix('!') {
            Some(p) => (true, p.to_ascii_lowercase()),
            None => (false, p.to_ascii_lowercase()),
        })
        .collect::<Vec<_>>();
    if patterns.is_empty() {
        return None;
    }
    Some(Hosts::Patterns(patterns))
}

impl Hosts {
    /// Does this entry name `host` (already in known_hosts form)? As OpenSSH's
    /// match_hostname: a matching negated pattern excludes the host whatever else
    /// matches.
    fn matches(&self, host: &str) -> bool {
        match self {
            Hosts::Any => true,
            Hosts::Hashed { salt, hash } => {
                let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(salt) else {
                    return false;
                };
                mac.update(host.as_bytes());
                mac.verify_slice(hash).is_ok()
            }
            Hosts::Patterns(patterns) => {
                let mut positive = false;
                for (negated, p) in patterns {
                    if wildcard_match(p.as_bytes(), host.as_bytes()) {
                        if *negated {
                            return false;
                        }
                        positive = true;
                    }
                }
                positive
            }
        }
    }
}

/// `*` (any run) and `?` (any one byte) glob matching, in O(pattern × text).
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPKuTe5za897wtdSUqqqPNn8p0KyJctb3oln6bHtfmrj";
    const P256: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDfx618dExpYm0cC1qQnV3GOv/EaJY8bLCQxUXC3piSrZ6KAKiweIdRrj+5tZFhHq0QBy7Yxs96NEF1Z0NnkxBU=";
    // RFC 8032 test 1's public key.
    const ED2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea";

    fn key(line: &str) -> PublicKey {
        PublicKey::from_openssh_line(line).unwrap()
    }

    #[test]
    fn plain_entries_ports_and_types() {
        let kh = KnownHosts::parse(&format!(
            "# comment\n\nhost1,10.0.0.1 {ED} c\n[host2]:2222 {ED}\nhost3 {P256}\n"
        ));
        assert_eq!(kh.len(), 3);
        let ed = key(ED);
        let ed2 = key(ED2);
        assert_eq!(kh.check("host1", 22, &ed), Verdict::Match);
        assert_eq!(kh.check("HOST1", 22, &ed), Verdict::Match);
        assert_eq!(kh.check("10.0.0.1", 22, &ed), Verdict::Match);
        assert_eq!(kh.check("host1", 2222, &ed), Verdict::Unknown);
        assert_eq!(kh.check("host2", 2222, &ed), Verdict::Match);
        assert_eq!(kh.check("host2", 22, &ed), Verdict::Unknown);
        assert_eq!(
            kh.check("host1", 22, &ed2),
            Verdict::Mismatch {
                expected_fingerprints: vec![ed.fingerprint()]
            }
        );
        // Known only with another type: unknown, and the caller can say so.
        assert_eq!(kh.check("host3", 22, &ed), Verdict::Unknown);
        assert_eq!(kh.known_key_types("host3", 22), vec!["ecdsa-sha2-nistp256"]);
        assert_eq!(
            KnownHosts::line("Host2", 2222, &ed),
            format!("[host2]:2222 {ED}")
        );
        assert_eq!(KnownHosts::line("host1", 22, &ed), format!("host1 {ED}"));
    }

    #[test]
    fn wildcards_and_negation() {
        let kh = KnownHosts::parse(&format!("*.example.com,!bad.example.com,h?st {ED}\n"));
        let ed = key(ED);
        assert_eq!(kh.check("a.example.com", 22, &ed), Verdict::Match);
        assert_eq!(kh.check("bad.example.com", 22, &ed), Verdict::Unknown);
        assert_eq!(kh.check("host", 22, &ed), Verdict::Match);
        assert_eq!(kh.check("hoost", 22, &ed), Verdict::Unknown);
        assert!(wildcard_match(b"*", b""));
        assert!(wildcard_match(b"a*b*c", b"aXXbYYc"));
        assert!(!wildcard_match(b"a*b*c", b"aXXbYY"));
        assert!(wildcard_match(b"[h]:*", b"[h]:2222"));
    }

    #[test]
    fn revoked_and_markers() {
        let kh = KnownHosts::parse(&format!(
            "@revoked * {ED2}\n@cert-authority *.example.com {ED}\nhost {ED2}\n@bogus host {ED}\n"
        ));
        assert_eq!(kh.check("host", 22, &key(ED2)), Verdict::Revoked);
        assert_eq!(kh.check("other", 22, &key(ED2)), Verdict::Revoked);
        assert_eq!(kh.check("x.example.com", 22, &key(ED)), Verdict::Unknown);
        // "host" is listed with ED2 (revoked, but listed): another ed25519 key.
        assert!(matches!(
            kh.check("host", 22, &key(ED)),
            Verdict::Mismatch { .. }
        ));
        assert_eq!(kh.check("other", 22, &key(ED)), Verdict::Unknown);
    }

    #[test]
    fn hashed_entry() {
        // `ssh-keygen -H` of "host1 <ED>" (salt and HMAC-SHA1 of "host1").
        let salt = [7u8; 20];
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(&salt).unwrap();
        mac.update(b"[host1]:2200");
        let hash = mac.finalize().into_bytes();
        let b64 = data_encoding::BASE64;
        let kh = KnownHosts::parse(&format!(
            "|1|{}|{} {ED}\n",
            b64.encode(&salt),
            b64.encode(&hash)
        ));
        assert_eq!(kh.check("host1", 2200, &key(ED)), Verdict::Match);
        assert_eq!(kh.check("host1", 22, &key(ED)), Verdict::Unknown);
    }

    #[test]
    fn pinned_matches_any_host() {
        let kh = KnownHosts::pinned(&[format!("{ED} a comment"), P256.to_string()]).unwrap();
        assert_eq!(kh.check("anything", 2222, &key(ED)), Verdict::Match);
        assert!(matches!(
            kh.check("anything", 22, &key(ED2)),
            Verdict::Mismatch { .. }
        ));
        assert!(KnownHosts::pinned(&["ssh-ed25519 !!!".to_string()]).is_err());
    }

    #[test]
    fn garbage_is_skipped() {
        let long = "a".repeat(MAX_LINE + 1);
        let kh = KnownHosts::parse(&format!(
            "{long} {ED}\n|1|x|y {ED}\n|2|a|b {ED}\nhost ssh-ed25519\nhost ssh-rsa {}\nhost ssh-dss AAAA\n@revoked\n",
            &ED[12..]
        ));
        assert!(kh.is_empty());
    }
}
