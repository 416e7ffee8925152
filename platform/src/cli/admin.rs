//! The operator's commands around the agent: `init`, `config`, `diagnostics`,
//! `encrypt` and `decrypt`.

use super::{EXIT_FAILED, Failure, Out};
use crate::config;
use crate::diagnostics::{self, Outcome, Part};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// No argument; `Ok(None)` for `-h`.
pub fn no_args(parser: &mut lexopt::Parser) -> Result<Option<()>, Failure> {
    Ok(values(parser, 0)?.map(drop))
}

/// Up to `max` plain values; `Ok(None)` for `-h`.
pub fn values(parser: &mut lexopt::Parser, max: usize) -> Result<Option<Vec<String>>, Failure> {
    use lexopt::prelude::*;
    let mut v = Vec::new();
    while let Some(a) = parser.next()? {
        match a {
            Short('h') | Long("help") => return Ok(None),
            Value(x) if v.len() < max => v.push(
                x.into_string()
                    .map_err(|_| Failure::usage("argument is not UTF-8"))?,
            ),
            other => return Err(Failure::Usage(other.unexpected().to_string())),
        }
    }
    Ok(Some(v))
}

/// One FILE.
pub fn file_arg(parser: &mut lexopt::Parser, cmd: &str) -> Result<Option<PathBuf>, Failure> {
    let Some(mut v) = values(parser, 1)? else {
        return Ok(None);
    };
    let f = v
        .pop()
        .ok_or_else(|| Failure::usage(format!("{cmd}: usage: ksocket {cmd} FILE")))?;
    Ok(Some(PathBuf::from(f)))
}

/// `[system|config|connect|authenticate]`; `Some(None)`: the default parts.
pub fn diagnostics_args(parser: &mut lexopt::Parser) -> Result<Option<Option<Part>>, Failure> {
    let Some(v) = values(parser, 1)? else {
        return Ok(None);
    };
    match v.first() {
        None => Ok(Some(None)),
        Some(w) => Part::parse(w).map(|p| Some(Some(p))).ok_or_else(|| {
            Failure::usage(format!(
                "diagnostics: `{w}` is not system, config, connect or authenticate"
            ))
        }),
    }
}

pub fn init() -> Result<ExitCode, Failure> {
    let made = config::init::init().map_err(Failure::Usage)?;
    let mut out = Out::stdout();
    for m in &made {
        writeln!(out, "created {}", m.display())?;
    }
    writeln!(out, "KSOCKET_HOME={} ready", config::home().display())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `ksocket config [NAME [VALUE]]`.
pub fn config(args: &[String]) -> Result<ExitCode, Failure> {
    let file = config::path();
    let usage = |e: &dyn std::fmt::Display| Failure::usage(format!("config: {e}"));
    let cfg = if file.exists() {
        Some(
            config::load(&file)
                .map_err(|e| Failure::Usage(e.to_string()))?
                .config,
        )
    } else {
        None
    };
    let mut out = Out::stdout();
    match args {
        [] => {
            if cfg.is_none() {
                eprintln!(
                    "ksocket config: no file at {} (defaults shown; `ksocket init` creates it)",
                    file.display()
                );
            }
            for (n, v) in config::settings(&cfg.unwrap_or_default()) {
                writeln!(out, "{n}={v}")?;
            }
        }
        [name] => {
            let c = cfg.unwrap_or_default();
            let (_, v) = config::settings(&c)
                .into_iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| usage(&config::EditError::Unknown(name.clone())))?;
            // Asked for by name, the token is shown: the operator wants to check it.
            if name == "connect.token" {
                writeln!(out, "{}", c.connect.token.expose())?;
            } else {
                writeln!(out, "{v}")?;
            }
        }
        [name, value] => {
            // `-`: the value is the first line of standard input, so that a token
            // never stands on a command line (visible to every user in /proc).
            let from_stdin;
            let value = if value == "-" {
                from_stdin = stdin_line().map_err(|e| usage(&e))?;
                &from_stdin
            } else {
                value
            };
            config::set(&file, name, value).map_err(|e| usage(&e))?;
            let shown = match name.as_str() {
                "connect.token" => "***".to_string(),
                "connect.proxy" => config::connect::redact_proxy(value),
                _ => value.to_string(),
            };
            writeln!(out, "{name}={shown}")?;
            eprintln!(
                "ksocket config: written to {}; restart ksocket to apply it",
                file.display()
            );
        }
        _ => {
            return Err(Failure::usage(
                "config: usage: ksocket config [NAME [VALUE]]",
            ));
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The first line of standard input (at most 64 KiB), without its line end.
fn stdin_line() -> Result<String, String> {
    use std::io::Read;
    let mut b = Vec::new();
    std::io::stdin()
        .lock()
        .take(64 * 1024 + 1)
        .read_to_end(&mut b)
        .map_err(|e| format!("reading the value from standard input: {e}"))?;
    if b.len() > 64 * 1024 {
        return Err("the value on standard input is over 64 KiB".into());
    }
    let t = String::from_utf8(b).map_err(|_| "the value on standard input is not UTF-8")?;
    let line = t.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err("no value on standard input (`-` reads the first line)".into());
    }
    Ok(line.to_string())
}

/// Width of the dotted part of a diagnostics line.
const WIDTH: usize = 44;

/// `ksocket diagnostics [PART]`: a header, then one dotted line per check ending in
/// `OK` or `NG`, with `[detail]`; exit 1 when any check is NG.
pub fn diagnostics(part: Option<Part>) -> Result<ExitCode, Failure> {
    let parts = match part {
        Some(p) => vec![p],
        None => vec![Part::System, Part::Config, Part::Connect],
    };
    let mut out = Out::stdout();
    writeln!(out, "{}", super::help::version_line())?;
    writeln!(out, "KSOCKET_HOME: {}", config::home().display())?;
    writeln!(out, "KSOCKET_CONFIG: {}", config::path().display())?;
    let insecure = std::env::var("KSOCKET_INSECURE")
        .is_ok_and(|v| !v.is_empty() && v != "0" && v.to_lowercase() != "false");
    writeln!(
        out,
        "KSOCKET_INSECURE: {}",
        if insecure { "True" } else { "False" }
    )?;
    let mut failed = false;
    for p in parts {
        writeln!(out)?;
        if matches!(p, Part::Connect | Part::Authenticate)
            && let Ok(c) = diagnostics::loaded_config()
        {
            let k = &c.connect;
            writeln!(out, "Host: {}", k.host)?;
            writeln!(out, "Port: {}", k.port)?;
            writeln!(out, "Protocol: {}", k.protocol)?;
            if let Ok(ep) = crate::config::connect::Endpoint::of(k) {
                writeln!(out, "Endpoint: {}", ep.url())?;
            }
        }
        for c in diagnostics::checks(p) {
            let dots = ".".repeat(WIDTH.saturating_sub(c.what.chars().count() + 1).max(3));
            let (word, detail) = match &c.outcome {
                Outcome::Ok(d) => ("OK", d),
                Outcome::Ng(d) => {
                    failed = true;
                    ("NG", d)
                }
            };
            if detail.is_empty() {
                writeln!(out, "{} {dots} {word}", c.what)?;
            } else {
                writeln!(out, "{} {dots} {word} [{detail}]", c.what)?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::from(if failed { EXIT_FAILED } else { 0 }))
}

/// `ksocket encrypt FILE` / `ksocket decrypt FILE.kscrypt`.
pub fn seal(file: &Path, decrypt: bool) -> Result<ExitCode, Failure> {
    use crate::credentials::seal;
    let cmd = if decrypt { "decrypt" } else { "encrypt" };
    let made = if decrypt {
        seal::decrypt_file(file)
    } else {
        seal::encrypt_file(file)
    }
    .map_err(|e| Failure::failed(format!("{cmd}: {}: {}", file.display(), e.detail())))?;
    let mut out = Out::stdout();
    writeln!(out, "{}", made.display())?;
    out.flush()?;
    if !decrypt {
        eprintln!(
            "ksocket encrypt: sealed; remove the plain file {} once checked",
            file.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `ksocket connect`: the agent, until a permanent refusal or resumeRetries.
pub fn connect(loaded: Option<Result<config::Loaded, config::Error>>) -> Result<ExitCode, Failure> {
    use crate::service::Exit;
    // A broken configuration stops the agent (spec §3); no file: defaults, which
    // name no controller of yours, so say so.
    let config = match loaded {
        Some(Ok(l)) => l.config,
        Some(Err(e)) => return Err(Failure::failed(format!("connect: {e}"))),
        None => {
            return Err(Failure::failed(format!(
                "connect: no configuration at {} (`ksocket init`, then set connect.host \
                 and connect.token)",
                config::path().display()
            )));
        }
    };
    match crate::service::run(&config) {
        Exit::Permanent(m) => {
            log::error!("{m}; stopping for good (exit {})", super::EXIT_REFUSED);
            eprintln!("ksocket connect: {m}");
            Ok(ExitCode::from(super::EXIT_REFUSED))
        }
        Exit::GaveUp(m) | Exit::Failed(m) => {
            log::error!("{m}; stopping");
            Err(Failure::failed(format!("connect: {m}")))
        }
    }
}
