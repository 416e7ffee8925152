//! `ksocket.toml` (spec §3): every key and default, loading with errors that name the
//! file, line, column and key, and `ksocket config [NAME [VALUE]]`, which edits the file
//! in place keeping its comments and order (toml_edit).

use crate::credentials::secret::{Secret, redact_toml_error};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use toml_edit::DocumentMut;

/// Where the agent lives: `$KSOCKET_HOME`, else `/opt/ksocket`.
pub fn home() -> PathBuf {
    std::env::var_os("KSOCKET_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/ksocket"))
}

/// Refuses `KSOCKET_HOME` and `KSOCKET_CONFIG` values that are set but empty or
/// relative: an empty home would put the agent's files (and a community for every
/// address) under the real /etc, a relative one under wherever the command ran.
pub fn check_environment() -> Result<(), String> {
    for var in ["KSOCKET_HOME", "KSOCKET_CONFIG"] {
        let Some(v) = std::env::var_os(var) else {
            continue;
        };
        if v.is_empty() {
            return Err(format!(
                "{var} is set but empty; unset it (the default is /opt/ksocket) or give an absolute path"
            ));
        }
        if !Path::new(&v).is_absolute() {
            return Err(format!(
                "{var}={} is a relative path; give an absolute one",
                Path::new(&v).display()
            ));
        }
    }
    Ok(())
}

/// The configuration file: `$KSOCKET_CONFIG`, else `$KSOCKET_HOME/etc/ksocket/ksocket.toml`.
pub fn path() -> PathBuf {
    std::env::var_os("KSOCKET_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join("etc/ksocket/ksocket.toml"))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    pub logfile: String,
    pub loglevel: String,
    pub logformat: String,
    pub logfilters: String,
    pub connect: Connect,
    pub operations: Operations,
    pub directories: Directories,
    pub limits: Limits,
}

/// `[limits]`: the bounds of a scan's work (see `crate::limits`; the command line's
/// flags override them).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Limits {
    pub host_timeout: f64,
    pub table_rows: u64,
    pub table_bytes: u64,
    pub details_timeout: f64,
    pub max_addresses: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        let d = crate::limits::Limits::default();
        Limits {
            host_timeout: d.host_timeout.as_secs_f64(),
            table_rows: d.table_rows as u64,
            table_bytes: d.table_bytes as u64,
            details_timeout: d.details_timeout.as_secs_f64(),
            max_addresses: d.max_addresses,
        }
    }
}

impl Limits {
    /// As the scan takes them (validated: in range).
    pub fn get(&self) -> crate::limits::Limits {
        crate::limits::Limits {
            host_timeout: std::time::Duration::from_secs_f64(self.host_timeout),
            table_rows: self.table_rows as usize,
            table_bytes: self.table_bytes as usize,
            details_timeout: std::time::Duration::from_secs_f64(self.details_timeout),
            max_addresses: self.max_addresses,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Connect {
    pub token: Secret,
    pub name: String,
    pub protocol: String,
    pub host: String,
    pub port: u16,
    pub endpoint: String,
    pub heartbeat_timeout: f64,
    pub heartbeat_interval: f64,
    pub resume_timeout: f64,
    pub resume_retries: u32,
    pub resume_plateau: u32,
    pub resume_threshold: f64,
    pub request_timeout: f64,
    pub request_retries: u32,
    pub max_operations: u32,
    pub max_running_operations: u32,
    /// An HTTP CONNECT proxy (`http://[user:password@]host:port`) for the service,
    /// which does not see a login shell's HTTPS_PROXY; empty: none (the command line
    /// still honours HTTPS_PROXY/NO_PROXY).
    pub proxy: Secret,
    /// A PEM file of CA certificates trusted beside the system's (a private CA).
    pub ca_file: String,
    /// The SHA-256 of the controller's certificate (hex, colons allowed): when set, the
    /// certificate must be this one, whoever signed it.
    pub pinned_sha256: String,
    /// The largest size of the result spool under $KSOCKET_HOME/var, in MiB.
    pub spool_size: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Operations {
    pub networks_scan_mode: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Directories {
    pub credentials: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            logfile: "$KSOCKET_HOME/var/log/ksocket/ksocket.log".into(),
            loglevel: "INFO".into(),
            logformat: "%(asctime)s %(levelname)s %(name)s:%(funcName)s:%(lineno)d %(message)s"
                .into(),
            logfilters: "ksocket".into(),
            connect: Connect::default(),
            operations: Operations::default(),
            directories: Directories::default(),
            limits: Limits::default(),
        }
    }
}

impl Default for Connect {
    fn default() -> Self {
        Connect {
            token: Secret::new("YourKsocketToken"),
            name: "ksocket".into(),
            protocol: "wss".into(),
            host: "fixpoint.cloud.kompira.jp".into(),
            port: 443,
            endpoint: "%(protocol)s://%(host)s:%(port)d/api/ksocket/connect".into(),
            heartbeat_timeout: 30.0,
            heartbeat_interval: 60.0,
            resume_timeout: 60.0,
            resume_retries: 120,
            resume_plateau: 10,
            resume_threshold: 120.0,
            request_timeout: 60.0,
            request_retries: 10,
            max_operations: 100,
            max_running_operations: 5,
            proxy: Secret::new(""),
            ca_file: String::new(),
            pinned_sha256: String::new(),
            spool_size: 64,
        }
    }
}

impl Default for Operations {
    fn default() -> Self {
        Operations {
            networks_scan_mode: "intranet".into(),
        }
    }
}

impl Default for Directories {
    fn default() -> Self {
        Directories {
            credentials: "$KSOCKET_HOME/etc/ksocket/credentials".into(),
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// Every setting as `name=value`, in the order of spec §3 (secrets masked).
pub fn settings(c: &Config) -> Vec<(&'static str, String)> {
    let k = &c.connect;
    vec![
        ("logfile", c.logfile.clone()),
        ("loglevel", c.loglevel.clone()),
        ("logformat", c.logformat.clone()),
        ("logfilters", c.logfilters.clone()),
        ("connect.token", k.token.to_string()),
        ("connect.name", k.name.clone()),
        ("connect.protocol", k.protocol.clone()),
        ("connect.host", k.host.clone()),
        ("connect.port", k.port.to_string()),
        ("connect.endpoint", k.endpoint.clone()),
        ("connect.heartbeatTimeout", fmt_f(k.heartbeat_timeout)),
        ("connect.heartbeatInterval", fmt_f(k.heartbeat_interval)),
        ("connect.resumeTimeout", fmt_f(k.resume_timeout)),
        ("connect.resumeRetries", k.resume_retries.to_string()),
        ("connect.resumePlateau", k.resume_plateau.to_string()),
        ("connect.resumeThreshold", fmt_f(k.resume_threshold)),
        ("connect.requestTimeout", fmt_f(k.request_timeout)),
        ("connect.requestRetries", k.request_retries.to_string()),
        ("connect.maxOperations", k.max_operations.to_string()),
        (
            "connect.maxRunningOperations",
            k.max_running_operations.to_string(),
        ),
        ("connect.proxy", connect::redact_proxy(k.proxy.expose())),
        ("connect.caFile", k.ca_file.clone()),
        ("connect.pinnedSha256", k.pinned_sha256.clone()),
        ("connect.spoolSize", k.spool_size.to_string()),
        (
            "operations.networksScanMode",
            c.operations.networks_scan_mode.clone(),
        ),
        ("directories.credentials", c.directories.credentials.clone()),
        ("limits.hostTimeout", fmt_f(c.limits.host_timeout)),
        ("limits.tableRows", c.limits.table_rows.to_string()),
        ("limits.tableBytes", c.limits.table_bytes.to_string()),
        ("limits.detailsTimeout", fmt_f(c.limits.details_timeout)),
        ("limits.maxAddresses", c.limits.max_addresses.to_string()),
    ]
}

fn fmt_f(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// The kind of value a key takes, for `config NAME VALUE`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Float,
}

fn kind_of(name: &str) -> Option<Kind> {
    const INTS: [&str; 10] = [
        "port",
        "spoolSize",
        "resumeRetries",
        "resumePlateau",
        "requestRetries",
        "maxOperations",
        "maxRunningOperations",
        "tableRows",
        "tableBytes",
        "maxAddresses",
    ];
    const FLOATS: [&str; 7] = [
        "heartbeatTimeout",
        "heartbeatInterval",
        "resumeTimeout",
        "resumeThreshold",
        "requestTimeout",
        "hostTimeout",
        "detailsTimeout",
    ];
    settings(&Config::default())
        .iter()
        .find(|(n, _)| *n == name)?;
    let last = name.rsplit('.').next().unwrap_or(name);
    Some(if INTS.contains(&last) {
        Kind::Int
    } else if FLOATS.contains(&last) {
        Kind::Float
    } else {
        Kind::Str
    })
}

/// A configuration error: file, line, column (1-based), key, what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub key: Option<String>,
    pub msg: String,
}

impl Error {
    fn new(file: &Path, line: usize, col: usize, key: Option<String>, msg: String) -> Error {
        Error {
            file: file.to_path_buf(),
            line,
            col,
            key,
            msg,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.col)?;
        if let Some(k) = &self.key {
            write!(f, "{k}: ")?;
        }
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The dotted key whose value (or name) covers `offset`: the `[table]` header above
/// it and the `key =` on its line.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line
        .split('=')
        .next()
        .map(str::trim)
        .filter(|k| !k.is_empty() && !k.starts_with('['))?;
    let table = before[..line_start].lines().rev().find_map(|l| {
        l.trim()
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .map(|t| t.trim().to_string())
    });
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_string(),
    })
}

/// A loaded configuration and the document it came from (for editing).
pub struct Loaded {
    pub config: Config,
    pub doc: DocumentMut,
}

/// Loads and validates `file`: bytes, UTF-8, TOML, then a valid configuration.
pub fn load(file: &Path) -> Result<Loaded, Error> {
    let at = |line, col, key, msg| Error::new(file, line, col, key, msg);
    let bytes = crate::sys::files::read_bounded(file, crate::sys::files::MAX_FILE)
        .map_err(|e| at(0, 0, None, format!("cannot read: {e}")))?;
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or("");
            let (l, c) = line_col(good, good.len());
            return Err(at(
                l,
                c,
                None,
                "invalid UTF-8 (the file must be UTF-8)".into(),
            ));
        }
    };
    parse(file, text)
}

/// As [`load`], from text already read.
pub fn parse(file: &Path, text: &str) -> Result<Loaded, Error> {
    let at = |line, col, key, msg| Error::new(file, line, col, key, msg);
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    let yamlish = ext == "yml"
        || ext == "yaml"
        || (!text.contains('=')
            && text.lines().any(|l| {
                let t = l.trim_start();
                !t.starts_with('#') && t.contains(": ")
            }));
    if yamlish {
        return Err(at(
            1,
            1,
            None,
            "this looks like a v1 YAML configuration; write it as TOML (`key = value`, \
             tables like [connect]); `ksocket init` writes a commented ksocket.toml to start from"
                .into(),
        ));
    }
    // Messages of both kinds pass through redact_toml_error: a broken token line
    // must not print the token.
    let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        let off = e.span().map_or(0, |s| s.start);
        let (l, c) = line_col(text, off);
        let msg = redact_toml_error(text, off, e.message().trim());
        at(l, c, key_at(text, off), format!("TOML syntax: {msg}"))
    })?;
    let config: Config = toml_edit::de::from_str(text).map_err(|e| {
        let off = e.span().map_or(0, |s| s.start);
        let (l, c) = line_col(text, off);
        let msg = redact_toml_error(text, off, e.message().trim());
        at(l, c, key_at(text, off), msg)
    })?;
    validate(&config).map_err(|(key, msg)| {
        let (l, c) = span_of(&doc, text, key).unwrap_or((1, 1));
        at(l, c, Some(key.to_string()), msg)
    })?;
    Ok(Loaded { config, doc })
}

fn span_of(doc: &DocumentMut, text: &str, key: &str) -> Option<(usize, usize)> {
    // toml_edit keeps no spans after edits; find `name =` under its table in the text.
    let (table, name) = key.rsplit_once('.').map_or(("", key), |(t, n)| (t, n));
    let _ = doc;
    let mut in_table = table.is_empty();
    let mut off = 0;
    for l in text.split_inclusive('\n') {
        let t = l.trim();
        if let Some(h) = t.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
            in_table = h.trim() == table;
        } else if in_table && t.split('=').next().map(str::trim) == Some(name) {
            let col = l.find('=').map_or(0, |i| {
                i + 1 + l[i + 1..].len() - l[i + 1..].trim_start().len()
            });
            return Some(line_col(text, off + col));
        }
        off += l.len();
    }
    None
}

fn validate(c: &Config) -> Result<(), (&'static str, String)> {
    let k = &c.connect;
    if !["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"].contains(&c.loglevel.as_str()) {
        return Err((
            "loglevel",
            format!(
                "`{}` is not DEBUG, INFO, WARNING, ERROR or CRITICAL",
                c.loglevel
            ),
        ));
    }
    if k.protocol != "wss" && k.protocol != "ws" {
        return Err((
            "connect.protocol",
            format!("`{}` is not wss or ws", k.protocol),
        ));
    }
    if k.port == 0 {
        return Err(("connect.port", "must be 1 to 65535".into()));
    }
    if k.host.trim().is_empty() {
        return Err(("connect.host", "must not be empty".into()));
    }
    for (name, v) in [
        ("connect.heartbeatTimeout", k.heartbeat_timeout),
        ("connect.heartbeatInterval", k.heartbeat_interval),
        ("connect.resumeTimeout", k.resume_timeout),
        ("connect.resumeThreshold", k.resume_threshold),
        ("connect.requestTimeout", k.request_timeout),
    ] {
        if !(v > 0.0 && v <= 86_400.0) {
            return Err((
                name,
                format!("{v} is out of range (more than 0, at most 86400 seconds)"),
            ));
        }
    }
    if k.max_operations == 0 {
        return Err(("connect.maxOperations", "must be at least 1".into()));
    }
    if k.max_running_operations == 0 || k.max_running_operations > k.max_operations {
        return Err((
            "connect.maxRunningOperations",
            format!(
                "{} must be 1 to connect.maxOperations ({})",
                k.max_running_operations, k.max_operations
            ),
        ));
    }
    if !(4..=65_536).contains(&k.spool_size) {
        return Err((
            "connect.spoolSize",
            format!("{} is out of range (4 to 65536 MiB)", k.spool_size),
        ));
    }
    if !k.pinned_sha256.is_empty() && connect::parse_pin(&k.pinned_sha256).is_none() {
        return Err((
            "connect.pinnedSha256",
            "is not a SHA-256 in hex (64 hex digits, colons allowed)".into(),
        ));
    }
    if !k.proxy.expose().is_empty()
        && let Err(e) = connect::Proxy::parse(k.proxy.expose())
    {
        return Err(("connect.proxy", e));
    }
    let l = &c.limits;
    for (name, v, hi) in [
        ("limits.hostTimeout", l.host_timeout, 86_400.0),
        ("limits.detailsTimeout", l.details_timeout, 86_400.0),
    ] {
        if !(v >= 1.0 && v <= hi) {
            return Err((name, format!("{v} is out of range (1 to {hi} seconds)")));
        }
    }
    for (name, v, lo, hi) in [
        ("limits.tableRows", l.table_rows, 1, 10_000_000),
        ("limits.tableBytes", l.table_bytes, 1 << 16, 1 << 30),
        ("limits.maxAddresses", l.max_addresses, 1, 1 << 32),
    ] {
        if !(lo..=hi).contains(&v) {
            return Err((name, format!("{v} is out of range ({lo} to {hi})")));
        }
    }
    if !["intranet", "azure", "aws", "googlecloud"]
        .contains(&c.operations.networks_scan_mode.as_str())
    {
        return Err((
            "operations.networksScanMode",
            format!(
                "`{}` is not intranet, azure, aws or googlecloud",
                c.operations.networks_scan_mode
            ),
        ));
    }
    Ok(())
}

pub mod connect;
pub mod init;

/// `$KSOCKET_HOME` expanded in a path value.
pub fn expand(v: &str) -> String {
    v.replace("$KSOCKET_HOME", &home().to_string_lossy())
}

/// The commented default file `ksocket init` writes.
pub const DEFAULT_TOML: &str = include_str!("../../../etc/ksocket.toml.example");

/// Why `ksocket config NAME VALUE` did not write.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("unknown setting `{0}` (`ksocket config` lists them)")]
    Unknown(String),
    #[error("{name}: `{value}` is not {what}")]
    Type {
        name: String,
        value: String,
        what: &'static str,
    },
    #[error("no file at {0} to change; run `ksocket init` first")]
    NoFile(PathBuf),
    #[error(transparent)]
    Load(#[from] Error),
    #[error("not written: {0}")]
    Invalid(Error),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

/// Sets `name` (a dotted key of [`settings`]) to `value` in `file`, keeping the file's
/// comments and order; the whole new file is validated before it is written, and the
/// write keeps the file's owner, mode and symlink.
pub fn set(file: &Path, name: &str, value: &str) -> Result<(), EditError> {
    let kind = kind_of(name).ok_or_else(|| EditError::Unknown(name.to_string()))?;
    if !file.exists() {
        return Err(EditError::NoFile(file.to_path_buf()));
    }
    let mut doc = load(file)?.doc;
    let bad = |what| EditError::Type {
        name: name.to_string(),
        value: value.to_string(),
        what,
    };
    let item = match kind {
        Kind::Str => toml_edit::value(value),
        Kind::Int => toml_edit::value(value.parse::<i64>().map_err(|_| bad("a whole number"))?),
        Kind::Float => toml_edit::value(value.parse::<f64>().map_err(|_| bad("a number"))?),
    };
    let (table, key) = name
        .rsplit_once('.')
        .map_or((None, name), |(t, k)| (Some(t), k));
    let slot = match table {
        Some(t) => {
            if doc.get(t).is_none() {
                doc[t] = toml_edit::table();
            }
            &mut doc[t]
        }
        None => doc.as_item_mut(),
    };
    // Keep the value's trailing comment.
    let old = slot
        .get(key)
        .and_then(|i| i.as_value())
        .map(|v| v.decor().clone());
    slot[key] = item;
    if let (Some(d), Some(v)) = (old, slot[key].as_value_mut()) {
        *v.decor_mut() = d;
    }
    let new_text = doc.to_string();
    parse(file, &new_text).map_err(EditError::Invalid)?;
    // A new file would hold the token: 0600.
    crate::sys::files::write_atomic(file, new_text.as_bytes(), crate::sys::files::SECRET_MODE)
        .map_err(|e| EditError::Write(file.to_path_buf(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> Error {
        match parse(Path::new("/etc/k/ksocket.toml"), text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e,
        }
    }

    #[test]
    fn the_example_file_is_valid_and_complete() {
        let l = parse(Path::new("x.toml"), DEFAULT_TOML).unwrap();
        assert_eq!(l.config.connect.port, 443);
        assert_eq!(settings(&l.config).len(), 31);
        // Every key of the spec appears in the example file.
        for (n, _) in settings(&Config::default()) {
            let k = n.rsplit('.').next().unwrap();
            assert!(
                DEFAULT_TOML.contains(&format!("{k} =")),
                "{n} missing from the example"
            );
        }
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let l = parse(Path::new("x.toml"), "").unwrap();
        assert_eq!(l.config.connect.max_running_operations, 5);
        assert_eq!(settings(&l.config)[4], ("connect.token", "***".to_string()));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = err("loglevel = \"INFO\"\n[connect]\nport = 443\nhots = \"x\"\n");
        assert_eq!((e.line, e.key.as_deref()), (4, Some("connect.hots")));
        assert!(e.msg.contains("unknown field `hots`"), "{e}");
        assert!(e.to_string().starts_with("/etc/k/ksocket.toml:4:"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let e = err("[connect]\nname = \"a\"\nport = \"443\"\n");
        assert_eq!((e.line, e.key.as_deref()), (3, Some("connect.port")));
        assert!(e.msg.contains("invalid type"), "{e}");
    }

    #[test]
    fn out_of_range_names_the_key() {
        let e = err("[connect]\nport = 70000\n");
        assert_eq!((e.line, e.key.as_deref()), (2, Some("connect.port")));
        let e = err("# c\n[connect]\nmaxOperations = 3\nmaxRunningOperations = 9\n");
        assert_eq!(
            (e.line, e.col, e.key.as_deref()),
            (4, 24, Some("connect.maxRunningOperations"))
        );
        let e = err("loglevel = \"LOUD\"\n");
        assert_eq!((e.line, e.key.as_deref()), (1, Some("loglevel")));
        let e = err("[operations]\nnetworksScanMode = \"mars\"\n");
        assert_eq!(
            (e.line, e.key.as_deref()),
            (2, Some("operations.networksScanMode"))
        );
        let e = err("[connect]\nheartbeatTimeout = -1.0\n");
        assert_eq!(e.key.as_deref(), Some("connect.heartbeatTimeout"));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = err("[connect]\nport = = 1\n");
        assert_eq!(e.line, 2);
        assert!(e.msg.starts_with("TOML syntax"), "{e}");
    }

    #[test]
    fn yaml_from_v1_gets_a_hint() {
        let e = err("connect:\n  token: abc\n  heartbeat_timeout: 30\n");
        assert!(e.msg.contains("v1 YAML"), "{e}");
        let e = parse(Path::new("/x/ksocket.yml"), "a = 1")
            .err()
            .expect("refused");
        assert!(e.msg.contains("YAML"));
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let dir = std::env::temp_dir().join(format!("kst-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("ksocket.toml");
        std::fs::write(&f, b"loglevel = \"INFO\"\nlogfile = \"\xff\xfe\"\n").unwrap();
        let e = load(&f).err().expect("refused");
        assert_eq!((e.line, e.col), (2, 12));
        assert!(e.msg.contains("UTF-8"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_mistyped_secret_is_not_quoted() {
        let e = err("[connect]\ntoken = 918273645\n");
        assert_eq!(e.key.as_deref(), Some("connect.token"));
        assert!(!e.to_string().contains("918273645"), "{e}");
    }

    #[test]
    fn the_token_never_prints_in_errors_or_listings() {
        let e = err("[connect]\ntoken = \"tok-SECRET-123\"\nport = 0\n");
        assert!(!e.to_string().contains("tok-SECRET-123"));
        let l = parse(
            Path::new("x.toml"),
            "[connect]\ntoken = \"tok-SECRET-123\"\n",
        )
        .unwrap();
        assert!(!format!("{:?}", l.config).contains("tok-SECRET-123"));
        assert!(
            settings(&l.config)
                .iter()
                .all(|(_, v)| !v.contains("tok-SECRET-123"))
        );
    }
}
