//! Credential files (spec §7): typed schemas for ssh, snmp, winrm and vsphere, and the
//! rules that pick the files that apply to a target address.
//!
//! Order: the entries of `credentials/<protocol>/` sorted by name (byte order); a name
//! starting with `_` is skipped, file or directory; a directory is searched the same
//! way where it stands in that order (the spec's example tree: `./00_common.toml`,
//! `./01_specific/00_common.toml`, `./01_specific/02_final.toml`, `./02_final.toml`).
//! The spec's text calls this breadth-first, but its example is this order, and the
//! example wins. Candidates end in `.toml` (or legacy `.yml`/`.yaml`, refused with a
//! hint) or `.toml.kscrypt` (sealed, see the encrypt command). A file matches when the
//! address is in `includes` and not in `excludes`. A broken file is reported by name,
//! line and key, and skipped; it never stops the other files from being used.

pub mod seal;
pub mod secret;
mod store;

pub use store::{Scope, Store};

use ksocket_core::addr::Range;
use secret::Secret;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Ssh,
    Snmp,
    Winrm,
    Vsphere,
}

impl Protocol {
    pub fn dir(self) -> &'static str {
        match self {
            Protocol::Ssh => "ssh",
            Protocol::Snmp => "snmp",
            Protocol::Winrm => "winrm",
            Protocol::Vsphere => "vsphere",
        }
    }
}

// The schemas are complete (spec §7); the SSH, WinRM and vSphere collectors that read
// every field come with later issues. Until then only includes/excludes and the SNMP
// community are read outside of tests.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct Account {
    pub username: String,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub client_keys: Vec<ClientKey>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct ClientKey {
    pub filename: String,
    #[serde(default)]
    pub passphrase: Option<Secret>,
}

fn d_timeout() -> f64 {
    5.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct Ssh {
    pub includes: Vec<String>,
    #[serde(default)]
    pub excludes: Vec<String>,
    #[serde(default = "d_ssh_port")]
    pub port: u16,
    #[serde(default = "d_timeout")]
    pub timeout: f64,
    #[serde(default)]
    pub ssh_tunnels: Vec<String>,
    /// Allow SHA-1 key exchange (diffie-hellman-group14-sha1) and ssh-rsa signatures,
    /// for OpenSSH before 7.2 and old appliances; said in the result when used.
    #[serde(default)]
    pub legacy_algorithms: bool,
    /// Pinned host keys (`ssh-ed25519 AAAA...`, as in a .pub file): only these are
    /// accepted for the hosts this file applies to.
    #[serde(default)]
    pub host_keys: Vec<String>,
    /// A known_hosts file (OpenSSH's format; relative to this file's directory) that
    /// pins the keys of the hosts this file applies to: unknown keys are refused too.
    #[serde(default)]
    pub known_hosts: Option<String>,
    pub account: Account,
}

fn d_ssh_port() -> u16 {
    22
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct Snmp {
    pub includes: Vec<String>,
    #[serde(default)]
    pub excludes: Vec<String>,
    #[serde(default = "d_snmp_port")]
    pub port: u16,
    #[serde(default = "d_timeout")]
    pub timeout: f64,
    #[serde(default)]
    pub retries: u32,
    #[serde(default = "d_retry_interval")]
    pub retry_interval: f64,
    pub auth_data: SnmpAuth,
}

fn d_snmp_port() -> u16 {
    161
}

fn d_retry_interval() -> f64 {
    1.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct SnmpAuth {
    #[serde(default)]
    pub community: Option<Secret>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub auth_protocol: Option<String>,
    #[serde(default)]
    pub auth_key: Option<Secret>,
    #[serde(default)]
    pub priv_protocol: Option<String>,
    #[serde(default)]
    pub priv_key: Option<Secret>,
    /// How AES-192/256 keys are extended: `blumenthal` (default, net-snmp's AES192 /
    /// AES256) or `reeder` (Cisco's; net-snmp's AES192C / AES256C).
    #[serde(default)]
    pub priv_key_extension: Option<String>,
    /// SNMPv3 contextName (empty: the agent's default context).
    #[serde(default)]
    pub context_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct Winrm {
    pub includes: Vec<String>,
    #[serde(default)]
    pub excludes: Vec<String>,
    #[serde(default = "d_winrm_port")]
    pub port: u16,
    #[serde(default = "d_timeout")]
    pub timeout: f64,
    #[serde(default = "d_basic")]
    pub auth_method: String,
    #[serde(default = "d_auto")]
    pub auth_message_encryption: String,
    #[serde(default, rename = "authCredSSPDisableTLSv1.2")]
    pub auth_credssp_disable_tls12: bool,
    #[serde(default)]
    pub ssh_tunnels: Vec<String>,
    pub account: Account,
}

fn d_winrm_port() -> u16 {
    5985
}
fn d_basic() -> String {
    "basic".into()
}
fn d_auto() -> String {
    "auto".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct Vsphere {
    pub includes: Vec<String>,
    #[serde(default)]
    pub excludes: Vec<String>,
    #[serde(default = "d_https")]
    pub port: u16,
    #[serde(default = "d_timeout")]
    pub timeout: f64,
    #[serde(default = "d_true")]
    pub disable_ssl_cert_validation: bool,
    pub account: Account,
}

fn d_https() -> u16 {
    443
}
fn d_true() -> bool {
    true
}

/// A parsed credential file of any protocol.
#[derive(Debug, Clone)]
pub enum Credential {
    Ssh(Ssh),
    Snmp(Snmp),
    Winrm(Winrm),
    Vsphere(Vsphere),
}

impl Credential {
    fn lists(&self) -> (&[String], &[String]) {
        match self {
            Credential::Ssh(c) => (&c.includes, &c.excludes),
            Credential::Snmp(c) => (&c.includes, &c.excludes),
            Credential::Winrm(c) => (&c.includes, &c.excludes),
            Credential::Vsphere(c) => (&c.includes, &c.excludes),
        }
    }

    /// Durations in seconds, with the range each must be in.
    fn seconds(&self) -> Vec<(&'static str, f64, f64, f64)> {
        match self {
            Credential::Ssh(c) => vec![("timeout", c.timeout, 0.01, 3600.0)],
            Credential::Snmp(c) => vec![
                ("timeout", c.timeout, 0.01, 600.0),
                ("retryInterval", c.retry_interval, 0.0, 600.0),
            ],
            Credential::Winrm(c) => vec![("timeout", c.timeout, 0.01, 3600.0)],
            Credential::Vsphere(c) => vec![("timeout", c.timeout, 0.01, 3600.0)],
        }
    }
}

/// A credential file that could not be used: which, where, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub msg: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.msg)
    }
}

/// The candidate files under `dir`, in the order they are tried.
pub fn candidates(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, &mut out, 0);
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 16 {
        return; // bounded: a symlink loop cannot hang the agent
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            walk(&p, out, depth + 1);
        } else if [".toml", ".yml", ".yaml", ".toml.kscrypt"]
            .iter()
            .any(|s| name.ends_with(s))
        {
            out.push(p);
        }
    }
}

/// The ssh keys whose values have a syntax: jump hosts are addresses, pinned host keys
/// are public keys, the account names a user.
fn check_ssh(file: &Path, text: &str, ssh: &Ssh) -> Result<(), Problem> {
    let at = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .map_or(1, |i| i + 1)
    };
    let problem = |line, msg| Problem {
        file: file.into(),
        line,
        msg,
    };
    for hop in &ssh.ssh_tunnels {
        if hop.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(problem(
                at(hop),
                format!("sshTunnels: `{hop}` is not an IPv4 address"),
            ));
        }
    }
    for (i, k) in ssh.host_keys.iter().enumerate() {
        if let Err(e) = ksocket_ssh::keys::PublicKey::from_openssh_line(k) {
            let head: String = k.chars().take(24).collect();
            return Err(problem(
                at(&head),
                format!("hostKeys[{i}]: not a public key line (`type base64`): {e}"),
            ));
        }
    }
    if ssh.account.username.is_empty() {
        return Err(problem(at("username"), "account.username is empty".into()));
    }
    Ok(())
}

/// Parses one credential file's text.
pub fn parse(proto: Protocol, file: &Path, text: &str) -> Result<Credential, Problem> {
    let name = file.to_string_lossy();
    if name.ends_with(".yml") || name.ends_with(".yaml") {
        return Err(Problem {
            file: file.into(),
            line: 1,
            msg: "legacy YAML credential: write it as TOML (same keys)".into(),
        });
    }
    let problem = |e: toml_edit::de::Error| {
        let off = e.span().map_or(0, |s| s.start.min(text.len()));
        Problem {
            file: file.into(),
            line: text[..off].matches('\n').count() + 1,
            // A community, password or key typed as a number must not print.
            msg: crate::credentials::secret::redact_toml_error(text, off, e.message().trim()),
        }
    };
    let c = match proto {
        Protocol::Ssh => Credential::Ssh(toml_edit::de::from_str(text).map_err(problem)?),
        Protocol::Snmp => Credential::Snmp(toml_edit::de::from_str(text).map_err(problem)?),
        Protocol::Winrm => Credential::Winrm(toml_edit::de::from_str(text).map_err(problem)?),
        Protocol::Vsphere => Credential::Vsphere(toml_edit::de::from_str(text).map_err(problem)?),
    };
    let (inc, exc) = c.lists();
    for (key, list) in [("includes", inc), ("excludes", exc)] {
        for a in list {
            if a.parse::<Range>().is_err() {
                let line = text
                    .lines()
                    .position(|l| l.contains(a.as_str()))
                    .map_or(1, |i| i + 1);
                return Err(Problem {
                    file: file.into(),
                    line,
                    msg: format!("{key}: `{a}` is not an address, CIDR or range"),
                });
            }
        }
    }
    if let Credential::Ssh(ssh) = &c {
        check_ssh(file, text, ssh)?;
    }
    for (key, v, lo, hi) in c.seconds() {
        // NaN fails this too.
        if !(lo..=hi).contains(&v) {
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with(key))
                .map_or(1, |i| i + 1);
            return Err(Problem {
                file: file.into(),
                line,
                msg: format!("{key}: {v} is out of range ({lo} to {hi} seconds)"),
            });
        }
    }
    // SNMPv3 protocol names and their keys: checked here so the problem has a line.
    if let Credential::Snmp(s) = &c
        && let Err(msg) = s.auth_data.v3()
    {
        let key = msg.split([':', ' ']).next().unwrap_or("").to_string();
        let line = text
            .lines()
            .position(|l| !key.is_empty() && l.trim_start().starts_with(key.as_str()))
            .or_else(|| text.lines().position(|l| l.trim() == "[authData]"))
            .map_or(1, |i| i + 1);
        return Err(Problem {
            file: file.into(),
            line,
            msg,
        });
    }
    if let Credential::Snmp(s) = &c
        && s.retries > 20
    {
        let line = text
            .lines()
            .position(|l| l.trim_start().starts_with("retries"))
            .map_or(1, |i| i + 1);
        return Err(Problem {
            file: file.into(),
            line,
            msg: format!("retries: {} is out of range (0 to 20)", s.retries),
        });
    }
    Ok(c)
}

impl SnmpAuth {
    /// The SNMPv3 user of this credential, when it names one (`username`), with the
    /// protocols named as in spec §7. `Ok(None)`: a community credential.
    pub fn v3(&self) -> Result<Option<crate::inventory::snmp::V3Auth>, String> {
        use ksocket_core::usm::KeyExtension;
        let Some(user) = &self.username else {
            return Ok(None);
        };
        use crate::inventory::snmp::names;
        let auth_name = self.auth_protocol.as_deref().unwrap_or("usmNoAuthProtocol");
        let auth_proto = names::auth_by_mib_name(auth_name).ok_or_else(|| {
            format!("authProtocol: `{auth_name}` is not a known authentication protocol")
        })?;
        // AES-192/256 keys are extended as net-snmp does (Blumenthal) unless the file
        // names Cisco's way (Reeder).
        let ext = match self.priv_key_extension.as_deref() {
            None | Some("blumenthal") => KeyExtension::Blumenthal,
            Some("reeder") => KeyExtension::Reeder,
            Some(other) => {
                return Err(format!(
                    "privKeyExtension: `{other}` is neither `blumenthal` (net-snmp's AES192/AES256) nor `reeder` (Cisco's, net-snmp's AES192C/AES256C)"
                ));
            }
        };
        let priv_name = self.priv_protocol.as_deref().unwrap_or("usmNoPrivProtocol");
        let priv_proto = names::priv_by_mib_name(priv_name, ext).ok_or_else(|| {
            format!("privProtocol: `{priv_name}` is not a known privacy protocol")
        })?;
        let auth = match auth_proto {
            None => None,
            Some(p) => Some((
                p,
                self.auth_key
                    .clone()
                    .ok_or("authKey is missing for the authProtocol")?,
            )),
        };
        let privacy = match (priv_proto, &auth) {
            (None, _) => None,
            (Some(_), None) => return Err("privProtocol needs an authProtocol".into()),
            (Some(p), Some(_)) => Some((
                p,
                self.priv_key
                    .clone()
                    .ok_or("privKey is missing for the privProtocol")?,
            )),
        };
        for (key, v) in [
            ("authKey", auth.as_ref().map(|a| &a.1)),
            ("privKey", privacy.as_ref().map(|p| &p.1)),
        ] {
            if let Some(v) = v {
                crate::inventory::snmp::names::check_password(key, v)?;
            }
        }
        Ok(Some(crate::inventory::snmp::V3Auth {
            user: user.clone(),
            auth,
            privacy,
            context: self.context_name.clone().unwrap_or_default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "kst-cred-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn put(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    const SSH: &str =
        "includes = [\"198.18.0.0/16\"]\n[account]\nusername = \"u\"\npassword = \"pw\"\n";

    #[test]
    fn the_spec_example_tree_is_tried_in_its_order() {
        let root = tree();
        for f in [
            "00_common.toml",
            "01_specific/00_common.toml",
            "01_specific/02_final.toml",
            "01_specific/_special.toml",
            "02_final.toml",
            "99-example.toml.skeleton",
            "_projectA/00.toml",
            "_projectB/00.toml",
        ] {
            put(&root, f, SSH);
        }
        let got: Vec<String> = candidates(&root)
            .iter()
            .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        assert_eq!(
            got,
            [
                "00_common.toml",
                "01_specific/00_common.toml",
                "01_specific/02_final.toml",
                "02_final.toml"
            ]
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn excludes_win_and_broken_files_are_skipped_not_fatal() {
        let root = tree();
        put(
            &root,
            "00_all.toml",
            "includes = [\"198.18.0.0/15\"]\nexcludes = [\"198.18.0.7\"]\n[account]\nusername = \"a\"\n",
        );
        put(
            &root,
            "01_broken.toml",
            "includes = [\"198.18.0.0/15\"]\nport = \"twenty-two\"\n[account]\nusername = \"b\"\n",
        );
        put(
            &root,
            "02_badaddr.toml",
            "includes = [\"198.18.0.0/33\"]\n[account]\nusername = \"c\"\n",
        );
        put(
            &root,
            "03_other.toml",
            "includes = [\"198.19.0.0/16\"]\n[account]\nusername = \"d\"\n",
        );
        put(&root, "04_last.toml", SSH);
        put(&root, "05_old.yml", "includes: [198.18.0.0/16]\n");
        let mut read = |p: &Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
        // The store walks <dir>/ssh: put the tree there.
        let dir = root.with_extension("store");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::rename(&root, dir.join("ssh")).unwrap();
        let store = Store::load_with(&dir, &mut read);
        let problems = &store.problems;
        let matching = |ip: &str| {
            let ip = ip.parse().unwrap();
            store.of(Protocol::Ssh).filter(move |e| e.scope.applies(ip))
        };
        let names: Vec<_> = matching("198.18.0.7")
            .map(|e| e.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["04_last.toml"],
            "excluded by 00_all, not in 03_other"
        );
        assert_eq!(matching("198.18.0.8").count(), 2);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0]
                .to_string()
                .contains("01_broken.toml:2: invalid type"),
            "{}",
            problems[0]
        );
        assert!(
            problems[1]
                .to_string()
                .contains("02_badaddr.toml:1: includes"),
            "{}",
            problems[1]
        );
        assert!(problems[2].msg.contains("YAML"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_protocol_schema_parses_its_template_keys() {
        let p = Path::new("x.toml");
        let snmp = "includes = [\"198.18.0.0/24\"]\nretries = 2\nretryInterval = 0.5\n[authData]\nusername = \"mon\"\n\
                    authProtocol = \"usmHMACSHAAuthProtocol\"\nauthKey = \"authpass1\"\nprivProtocol = \"usmAesCfb128Protocol\"\nprivKey = \"privpass1\"\n";
        let Credential::Snmp(s) = parse(Protocol::Snmp, p, snmp).unwrap() else {
            panic!()
        };
        assert_eq!((s.port, s.retries, s.timeout), (161, 2, 5.0));
        for (bad, want) in [
            ("timeout = nan\n", "timeout: NaN is out of range"),
            ("timeout = -1.0\n", "timeout: -1 is out of range"),
            (
                "retryInterval = 1e9\n",
                "retryInterval: 1000000000 is out of range",
            ),
            ("retries = 99\n", "retries: 99 is out of range"),
        ] {
            let text = format!(
                "{bad}{}",
                snmp.replace("retries = 2\nretryInterval = 0.5\n", "")
            );
            let e = parse(Protocol::Snmp, p, &text).unwrap_err();
            assert!(e.msg.starts_with(want) && e.line == 1, "{bad}: {e:?}");
        }
        // Every privacy protocol of spec 7, AES-192/256 keys extended net-snmp's way
        // unless the file says `reeder` (Cisco's).
        use ksocket_core::usm::{KeyExtension, PrivProto};
        for (proto, ext, want) in [
            ("usmDESPrivProtocol", "", Ok(PrivProto::Des)),
            ("usm3DESEDEPrivProtocol", "", Ok(PrivProto::TripleDes)),
            (
                "usmAesCfb192Protocol",
                "",
                Ok(PrivProto::Aes192(KeyExtension::Blumenthal)),
            ),
            (
                "usmAesCfb256Protocol",
                "blumenthal",
                Ok(PrivProto::Aes256(KeyExtension::Blumenthal)),
            ),
            (
                "usmAesCfb256Protocol",
                "reeder",
                Ok(PrivProto::Aes256(KeyExtension::Reeder)),
            ),
            (
                "usmAesCfb192Protocol",
                "cisco",
                Err("privKeyExtension: `cisco`"),
            ),
            ("usmAes", "", Err("privProtocol: `usmAes` is not a known")),
        ] {
            let mut text = snmp.replace("usmAesCfb128Protocol", proto);
            if !ext.is_empty() {
                text.push_str(&format!("privKeyExtension = \"{ext}\"\n"));
            }
            match (parse(Protocol::Snmp, p, &text), want) {
                (Ok(Credential::Snmp(s)), Ok(w)) => {
                    assert_eq!(s.auth_data.v3().unwrap().unwrap().privacy.unwrap().0, w)
                }
                (Err(e), Err(w)) => {
                    assert!(e.msg.starts_with(w), "{e:?}");
                    // The line of the key at fault.
                    let key = w.split(':').next().unwrap();
                    let line = text.lines().nth(e.line - 1).unwrap();
                    assert!(line.starts_with(key), "{e:?}: {line}");
                }
                (got, w) => panic!("{proto}/{ext}: {:?} vs {w:?}", got.map(|_| ())),
            }
        }
        assert!(
            !format!("{s:?}").contains("authpass1"),
            "secrets must not print"
        );
        let winrm = "includes = [\"198.18.0.1\"]\nauthMethod = \"ntlm\"\n\"authCredSSPDisableTLSv1.2\" = true\n[account]\nusername = \"DOM\\\\u\"\npassword = \"x\"\n";
        let Credential::Winrm(w) = parse(Protocol::Winrm, p, winrm).unwrap() else {
            panic!()
        };
        assert!(w.auth_credssp_disable_tls12 && w.port == 5985);
        let vs = "includes = [\"198.18.0.1\"]\n[account]\nusername = \"a\"\n";
        let Credential::Vsphere(v) = parse(Protocol::Vsphere, p, vs).unwrap() else {
            panic!()
        };
        assert!(v.disable_ssl_cert_validation && v.port == 443);
        let ssh = "includes = [\"198.18.0.1\"]\nsshTunnels = [\"198.18.0.2\"]\n[account]\nusername = \"a\"\n[[account.clientKeys]]\nfilename = \"k\"\npassphrase = \"pp\"\n";
        let Credential::Ssh(s) = parse(Protocol::Ssh, p, ssh).unwrap() else {
            panic!()
        };
        assert_eq!(s.account.client_keys.len(), 1);
        assert!(
            parse(
                Protocol::Ssh,
                p,
                "includes = []\n[account]\nusername = \"a\"\nshoe = 1\n"
            )
            .is_err()
        );
    }
}
