//! The checks that need nothing but this box (`ksocket diagnostics system` and
//! `config`, also the `diagnose` operation's), and the types of every check: each says
//! what it checked and `OK` or `NG`, with a detail. They run with no configuration at
//! all, and never crash on a broken one.

use crate::config;
use crate::credentials::{self, Protocol};
use std::path::Path;

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok(String),
    Ng(String),
}

/// One dotted line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub what: String,
    pub outcome: Outcome,
}

#[derive(Default)]
struct Report {
    checks: Vec<Check>,
}

impl Report {
    fn line(&mut self, what: &str, result: Result<String, String>) {
        self.checks.push(Check {
            what: what.to_string(),
            outcome: match result {
                Ok(d) => Outcome::Ok(d),
                Err(d) => Outcome::Ng(d),
            },
        });
    }
}

/// The checks of `diagnostics system`: what this box and its kernel allow.
pub fn system() -> Vec<Check> {
    let mut r = Report::default();
    system_checks(&mut r);
    r.checks
}

/// The checks of `diagnostics config`: the config file, step by step, and the
/// credential files it points to.
pub fn config() -> Vec<Check> {
    let mut r = Report::default();
    config_checks(&mut r);
    r.checks
}

/// The configuration the agent would run with (defaults when there is no file).
pub fn loaded_config() -> Result<config::Config, String> {
    let file = config::path();
    if !file.exists() {
        return Ok(config::Config::default());
    }
    config::load(&file)
        .map(|l| l.config)
        .map_err(|e| e.to_string())
}

fn system_checks(r: &mut Report) {
    r.line(
        "Read interfaces and routes (netlink)",
        match crate::sys::netlink::Snapshot::read() {
            Ok(s) => Ok(format!(
                "{} interfaces, {} routes",
                s.links.len(),
                s.routes.len()
            )),
            Err(e) => Err(e.to_string()),
        },
    );
    use crate::sys::probe;
    let raw = probe::can_open(probe::Socket::Packet)
        .map(|()| String::new())
        .map_err(|e| format!("{e}; scans fall back to ICMP sockets and TCP connect()"));
    r.line("Raw packet access (CAP_NET_RAW)", raw);
    let ping = probe::can_open(probe::Socket::Ping)
        .map(|()| String::new())
        .map_err(|e| format!("{e} (net.ipv4.ping_group_range)"));
    r.line("Unprivileged ICMP sockets", ping);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    r.line(
        "Clock is sane",
        if now > 1_704_067_200 {
            Ok(format!("{now} s since 1970"))
        } else {
            Err(format!("{now} s since 1970: before 2024"))
        },
    );
    let home = config::home();
    r.line("Free disk space under KSOCKET_HOME", free_space(&home));
    let c = loaded_config().unwrap_or_default();
    r.line(
        "TLS roots",
        crate::service::dial::roots(&c.connect).map(|(_, roots)| roots.source),
    );
    r.line(
        "SNMP client (UDP socket)",
        std::net::UdpSocket::bind("0.0.0.0:0")
            .map(|_| String::new())
            .map_err(|e| e.to_string()),
    );
}

fn free_space(p: &Path) -> Result<String, String> {
    let mut at = p.to_path_buf();
    while !at.exists() {
        if !at.pop() {
            return Err("no existing directory".into());
        }
    }
    let free = crate::sys::probe::free_bytes(&at).map_err(|e| e.to_string())?;
    let mib = free >> 20;
    if mib < 100 {
        Err(format!("{mib} MiB free in {}: under 100 MiB", at.display()))
    } else {
        Ok(format!("{mib} MiB free"))
    }
}

fn config_checks(r: &mut Report) {
    let file = config::path();
    let bytes = match crate::sys::files::read_bounded(&file, crate::sys::files::MAX_FILE) {
        Ok(b) => {
            r.line(
                "Read the config file as bytes",
                Ok(format!("{} bytes", b.len())),
            );
            b
        }
        Err(e) => {
            r.line(
                "Read the config file as bytes",
                Err(if e.kind() == std::io::ErrorKind::NotFound {
                    format!("{}: {e}; `ksocket init` creates it", file.display())
                } else {
                    format!("{}: {e}", file.display())
                }),
            );
            return;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => {
            r.line("Decode it as UTF-8", Ok(String::new()));
            t
        }
        Err(_) => {
            // load() finds the line and column.
            r.line(
                "Decode it as UTF-8",
                Err(config::load(&file)
                    .err()
                    .map_or_else(String::new, |e| e.to_string())),
            );
            return;
        }
    };
    if text.parse::<toml_edit::DocumentMut>().is_err() {
        // config::parse says where, with secrets redacted (the parser's own Display
        // would quote the line).
        let detail = config::parse(&file, &text)
            .err()
            .map_or_else(|| "TOML syntax error".to_string(), |e| e.to_string());
        r.line("Parse it as TOML", Err(detail));
        return;
    }
    r.line("Parse it as TOML", Ok(String::new()));
    let cfg = match config::parse(&file, &text) {
        Ok(l) => {
            r.line("Check it is a valid configuration", Ok(String::new()));
            l.config
        }
        Err(e) => {
            r.line("Check it is a valid configuration", Err(e.to_string()));
            return;
        }
    };
    let dir = std::path::PathBuf::from(config::expand(&cfg.directories.credentials));
    for proto in [
        Protocol::Ssh,
        Protocol::Snmp,
        Protocol::Winrm,
        Protocol::Vsphere,
    ] {
        let d = dir.join(proto.dir());
        let files = credentials::candidates(&d);
        let mut bad = Vec::new();
        for f in &files {
            match crate::credentials::seal::read_credential(f) {
                Ok(t) => {
                    if let Err(p) = credentials::parse(proto, f, &t) {
                        bad.push(p.to_string());
                    }
                }
                Err(e) => bad.push(format!("{}: {}", f.display(), e.detail())),
            }
        }
        let what = format!("Credential files ({})", proto.dir());
        if bad.is_empty() {
            r.line(
                &what,
                Ok(format!("{} usable in {}", files.len(), d.display())),
            );
        } else {
            r.line(&what, Err(bad.join("; ")));
        }
    }
}
