//! `ksocket diagnostics [system|config|connect|authenticate]` (spec §4): a header, then
//! one dotted line per check ending in `OK`, `NG` or `Skip`, with `[detail]`. Runs with
//! no configuration at all, and never crashes on a broken one.

use crate::config;
use crate::credentials::{self, Protocol};
use std::path::Path;
use std::process::ExitCode;

const WIDTH: usize = 44;

struct Report {
    failed: bool,
}

impl Report {
    fn line(&mut self, what: &str, result: Result<String, String>) {
        let dots = ".".repeat(WIDTH.saturating_sub(what.chars().count() + 1).max(3));
        match result {
            Ok(d) if d.is_empty() => println!("{what} {dots} OK"),
            Ok(d) => println!("{what} {dots} OK [{d}]"),
            Err(d) => {
                self.failed = true;
                println!("{what} {dots} NG [{d}]");
            }
        }
    }

    fn skip(&mut self, what: &str, why: &str) {
        let dots = ".".repeat(WIDTH.saturating_sub(what.chars().count() + 1).max(3));
        println!("{what} {dots} Skip [{why}]");
    }
}

pub fn run(parser: &mut lexopt::Parser) -> Result<ExitCode, String> {
    use lexopt::prelude::*;
    let mut which: Option<String> = None;
    while let Some(a) = parser.next().map_err(|e| e.to_string())? {
        match a {
            Value(v) if which.is_none() => {
                which = Some(v.into_string().map_err(|_| "diagnostics: not UTF-8")?)
            }
            other => return Err(format!("diagnostics: {}", other.unexpected())),
        }
    }
    let parts: Vec<&str> = match which.as_deref() {
        None => vec!["system", "config", "connect"],
        Some(w @ ("system" | "config" | "connect" | "authenticate")) => vec![w],
        Some(w) => {
            return Err(format!(
                "diagnostics: `{w}` is not system, config, connect or authenticate"
            ));
        }
    };
    println!("{}", crate::cli::version_line());
    println!("KSOCKET_HOME: {}", config::home().display());
    println!("KSOCKET_CONFIG: {}", config::path().display());
    let insecure = std::env::var("KSOCKET_INSECURE")
        .map(|v| !v.is_empty() && v != "0" && v.to_lowercase() != "false");
    println!(
        "KSOCKET_INSECURE: {}",
        if insecure.unwrap_or(false) {
            "True"
        } else {
            "False"
        }
    );
    let mut r = Report { failed: false };
    for p in parts {
        println!();
        match p {
            "system" => system(&mut r),
            "config" => config_checks(&mut r),
            _ => r.skip(
                &format!(
                    "{} to the controller",
                    if p == "connect" {
                        "Connect"
                    } else {
                        "Authenticate"
                    }
                ),
                "the service mode is not in this build yet",
            ),
        }
    }
    Ok(if r.failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn system(r: &mut Report) {
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
    // SAFETY: socket() with constant arguments; the descriptor is closed at once.
    let raw = unsafe {
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0);
        if fd >= 0 {
            libc::close(fd);
            Ok(String::new())
        } else {
            Err(format!(
                "{}; scans fall back to ICMP sockets and TCP connect()",
                std::io::Error::last_os_error()
            ))
        }
    };
    r.line("Raw packet access (CAP_NET_RAW)", raw);
    // SAFETY: as above.
    let ping = unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::IPPROTO_ICMP,
        );
        if fd >= 0 {
            libc::close(fd);
            Ok(String::new())
        } else {
            Err(format!(
                "{} (net.ipv4.ping_group_range)",
                std::io::Error::last_os_error()
            ))
        }
    };
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
    let c = std::ffi::CString::new(at.to_string_lossy().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: statvfs writes into the zeroed struct; the path is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    let free = st.f_bavail as u64 * st.f_frsize as u64;
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
                Err(e) => bad.push(format!("{}: {e}", f.display())),
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
