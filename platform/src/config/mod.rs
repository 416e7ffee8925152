//! `ksocket.toml` (spec §3): every key and default, loading with errors that name the
//! file, line, column and key, and `ksocket config [NAME [VALUE]]`, which edits the file
//! in place keeping its comments and order (toml_edit).

use crate::credentials::secret::{Secret, redact_toml_error};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use toml_edit::DocumentMut;

/// Where the agent lives: `$KSOCKET_HOME`, else `/opt/ksocket`.
pub fn home() -> PathBuf {
    std::env::var_os("KSOCKET_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/ksocket"))
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
        (
            "operations.networksScanMode",
            c.operations.networks_scan_mode.clone(),
        ),
        ("directories.credentials", c.directories.credentials.clone()),
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
    const INTS: [&str; 6] = [
        "port",
        "resumeRetries",
        "resumePlateau",
        "requestRetries",
        "maxOperations",
        "maxRunningOperations",
    ];
    const FLOATS: [&str; 5] = [
        "heartbeatTimeout",
        "heartbeatInterval",
        "resumeTimeout",
        "resumeThreshold",
        "requestTimeout",
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

/// `$KSOCKET_HOME` expanded in a path value.
pub fn expand(v: &str) -> String {
    v.replace("$KSOCKET_HOME", &home().to_string_lossy())
}

/// The commented default file `ksocket init` writes.
pub const DEFAULT_TOML: &str = include_str!("../../../etc/ksocket.toml.example");

/// `ksocket config [NAME [VALUE]]`.
pub fn run(parser: &mut lexopt::Parser) -> Result<ExitCode, String> {
    use lexopt::prelude::*;
    let mut args = Vec::new();
    while let Some(a) = parser.next().map_err(|e| e.to_string())? {
        match a {
            Value(v) => args.push(
                v.into_string()
                    .map_err(|_| "config: argument is not UTF-8".to_string())?,
            ),
            other => return Err(format!("config: {}", other.unexpected())),
        }
    }
    let file = path();
    let (config, doc) = if file.exists() {
        let l = load(&file).map_err(|e| e.to_string())?;
        (l.config, Some(l.doc))
    } else {
        (Config::default(), None)
    };
    match args.as_slice() {
        [] => {
            if doc.is_none() {
                eprintln!(
                    "ksocket config: no file at {} (defaults shown; `ksocket init` creates it)",
                    file.display()
                );
            }
            for (n, v) in settings(&config) {
                println!("{n}={v}");
            }
            Ok(ExitCode::SUCCESS)
        }
        [name] => {
            let (_, v) = settings(&config)
                .into_iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| {
                    format!("config: unknown setting `{name}` (`ksocket config` lists them)")
                })?;
            // Asked for by name, the token is shown: the operator wants to check it.
            let v = if name == "connect.token" {
                config.connect.token.expose().to_string()
            } else {
                v
            };
            println!("{v}");
            Ok(ExitCode::SUCCESS)
        }
        [name, value] => {
            let kind = kind_of(name).ok_or_else(|| {
                format!("config: unknown setting `{name}` (`ksocket config` lists them)")
            })?;
            let mut doc = match doc {
                Some(d) => d,
                None => {
                    return Err(format!(
                        "config: no file at {} to change; run `ksocket init` first",
                        file.display()
                    ));
                }
            };
            let item = match kind {
                Kind::Str => toml_edit::value(value.as_str()),
                Kind::Int => toml_edit::value(
                    value
                        .parse::<i64>()
                        .map_err(|_| format!("config: {name}: `{value}` is not a whole number"))?,
                ),
                Kind::Float => toml_edit::value(
                    value
                        .parse::<f64>()
                        .map_err(|_| format!("config: {name}: `{value}` is not a number"))?,
                ),
            };
            let (table, key) = name
                .rsplit_once('.')
                .map_or((None, name.as_str()), |(t, k)| (Some(t), k));
            match table {
                Some(t) => {
                    if doc.get(t).is_none() {
                        doc[t] = toml_edit::table();
                    }
                    // Keep the value's trailing comment.
                    let old = doc[t]
                        .get(key)
                        .and_then(|i| i.as_value())
                        .map(|v| v.decor().clone());
                    doc[t][key] = item;
                    if let (Some(d), Some(v)) = (old, doc[t][key].as_value_mut()) {
                        *v.decor_mut() = d;
                    }
                }
                None => {
                    let old = doc
                        .get(key)
                        .and_then(|i| i.as_value())
                        .map(|v| v.decor().clone());
                    doc[key] = item;
                    if let (Some(d), Some(v)) = (old, doc[key].as_value_mut()) {
                        *v.decor_mut() = d;
                    }
                }
            }
            let new_text = doc.to_string();
            // Validate the whole new file before writing it.
            parse(&file, &new_text).map_err(|e| format!("config: not written: {e}"))?;
            // Owner, mode and a symlink are kept; a new file would hold the token: 0600.
            crate::sys::files::write_atomic(
                &file,
                new_text.as_bytes(),
                crate::sys::files::SECRET_MODE,
            )
            .map_err(|e| format!("config: cannot write {}: {e}", file.display()))?;
            let shown = if name == "connect.token" {
                "***".to_string()
            } else {
                value.clone()
            };
            println!("{name}={shown}");
            eprintln!(
                "ksocket config: written to {}; restart ksocket to apply it",
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        _ => Err("config: usage: ksocket config [NAME [VALUE]]".into()),
    }
}

const SKELETONS: [(&str, &str); 4] = [
    (
        "ssh",
        "# Copy to a name ending in .toml and edit. Matched in dictionary order.\n\
         includes = [\"198.18.0.0/24\"]\nexcludes = []\nport = 22\ntimeout = 5.0\n\
         # sshTunnels = [\"198.18.0.1\"]\n\n[account]\nusername = \"admin\"\npassword = \"\"\n\n\
         # [[account.clientKeys]]\n# filename = \"id_ed25519\"\n# passphrase = \"\"\n",
    ),
    (
        "snmp",
        "# Copy to a name ending in .toml and edit. Matched in dictionary order.\n\
         includes = [\"198.18.0.0/24\"]\nexcludes = []\nport = 161\ntimeout = 5.0\nretries = 0\nretryInterval = 1.0\n\n\
         [authData]\ncommunity = \"public\"\n\
         # SNMPv3 instead of a community:\n# username = \"monitor\"\n# authProtocol = \"usmHMACSHAAuthProtocol\"\n\
         # authKey = \"\"\n# privProtocol = \"usmAesCfb128Protocol\"\n# privKey = \"\"\n\
         # AES-192/256 keys: \"blumenthal\" (net-snmp's AES192/AES256, the default) or\n\
         # \"reeder\" (Cisco's; net-snmp's AES192C/AES256C)\n# privKeyExtension = \"blumenthal\"\n\
         # contextName = \"\"\n",
    ),
    (
        "winrm",
        "# Copy to a name ending in .toml and edit. Matched in dictionary order.\n\
         includes = [\"198.18.0.0/24\"]\nexcludes = []\nport = 5985\ntimeout = 5.0\nauthMethod = \"basic\"\n\
         authMessageEncryption = \"auto\"\n\n[account]\nusername = \"Administrator\"\npassword = \"\"\n",
    ),
    (
        "vsphere",
        "# Copy to a name ending in .toml and edit. Matched in dictionary order.\n\
         includes = [\"198.18.0.0/24\"]\nexcludes = []\nport = 443\ntimeout = 5.0\ndisableSslCertValidation = true\n\n\
         [account]\nusername = \"administrator@vsphere.local\"\npassword = \"\"\n",
    ),
];

/// `ksocket init`: creates the `$KSOCKET_HOME` layout (spec §2) where it is missing;
/// never overwrites a file.
pub fn init() -> Result<ExitCode, String> {
    use crate::sys::files::{self, LOG_DIR_MODE, PRIVATE_DIR_MODE, SECRET_MODE};
    let home = home();
    let mk = |p: &Path, mode: u32| {
        files::create_dirs(p, mode).map_err(|e| format!("init: cannot create {}: {e}", p.display()))
    };
    // Every file init writes holds a secret or the place for one: 0600, never replaced.
    let write_new = |p: &Path, text: &str| -> Result<bool, String> {
        match files::create_new(p, text.as_bytes(), SECRET_MODE) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(format!("init: cannot write {}: {e}", p.display())),
        }
    };
    mk(&home.join("bin"), 0o755)?;
    mk(&home.join("var/log/ksocket"), LOG_DIR_MODE)?;
    mk(&home.join("etc/ksocket"), PRIVATE_DIR_MODE)?;
    let cfg = path();
    if let Some(parent) = cfg.parent() {
        mk(parent, PRIVATE_DIR_MODE)?;
    }
    let mut made = Vec::new();
    if write_new(&cfg, DEFAULT_TOML)? {
        made.push(cfg.clone());
    }
    let creds = std::path::PathBuf::from(expand(&Config::default().directories.credentials));
    for (proto, skel) in SKELETONS {
        let d = creds.join(proto);
        mk(&d, PRIVATE_DIR_MODE)?;
        let f = d.join("999-example.toml.skeleton");
        if write_new(&f, skel)? {
            made.push(f);
        }
    }
    let def = creds.join("snmp/999-default.toml");
    if write_new(
        &def,
        "# Applies to every address; community \"public\" (SNMP v2c).\nincludes = [\"0.0.0.0/0\"]\n\n[authData]\ncommunity = \"public\"\n",
    )? {
        made.push(def);
    }
    for m in &made {
        println!("created {}", m.display());
    }
    println!("KSOCKET_HOME={} ready", home.display());
    Ok(ExitCode::SUCCESS)
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
        assert_eq!(settings(&l.config).len(), 22);
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
