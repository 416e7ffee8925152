//! `ksocket ssh TARGET... [--credential FILE] [--format table|json|jsonl] [--parallel N]
//! [--timeout SECONDS] [--max-auth-failures N]`: the SSH inventory of named hosts
//! (OS and packages), with the credential files that match them (or one file), through
//! the scan pipeline's details phase: the same collector, the same records.

use super::output::Format;
use super::{EXIT_FAILED, Failure, Out};
use crate::config;
use crate::credentials::{Protocol, Store};
use crate::inventory::ssh::collector::{MAX_AUTH_FAILURES, SshCollector};
use crate::limits::Limits;
use crate::pipeline::{self, Collector, Note, Sink};
use ksocket_core::addr::Range;
use ksocket_proto::records::Host;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

pub struct Args {
    targets: Vec<Range>,
    credential: Option<PathBuf>,
    format: Format,
    parallel: usize,
    timeout: Option<Duration>,
    max_auth_failures: u32,
}

/// Most addresses one command takes.
const MAX_ADDRESSES: u64 = 65_536;

pub fn parse(parser: &mut lexopt::Parser) -> Result<Option<Args>, Failure> {
    use lexopt::prelude::*;
    let bad = |m: String| Failure::usage(format!("ssh: {m}"));
    let v = |p: &mut lexopt::Parser| -> Result<String, Failure> {
        p.value()?
            .into_string()
            .map_err(|_| Failure::usage("argument is not UTF-8"))
    };
    let mut a = Args {
        targets: Vec::new(),
        credential: None,
        format: Format::default_for_stdout(Format::Jsonl),
        parallel: pipeline::WORKERS,
        timeout: None,
        max_auth_failures: MAX_AUTH_FAILURES,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Long("credential") => a.credential = Some(PathBuf::from(v(parser)?)),
            Long("format") => {
                a.format = Format::parse(&v(parser)?, &[Format::Table, Format::Json, Format::Jsonl])
                    .map_err(bad)?
            }
            Long("parallel") => {
                let x = v(parser)?;
                a.parallel = x
                    .parse()
                    .ok()
                    .filter(|n| (1..=256).contains(n))
                    .ok_or_else(|| bad(format!("--parallel {x}: 1 to 256")))?;
            }
            Long("timeout") => {
                let x = v(parser)?;
                let s: f64 = x
                    .parse()
                    .ok()
                    .filter(|s| (0.1..=3600.0).contains(s))
                    .ok_or_else(|| bad(format!("--timeout {x}: 0.1 to 3600 seconds")))?;
                a.timeout = Some(Duration::from_secs_f64(s));
            }
            Long("max-auth-failures") => {
                let x = v(parser)?;
                a.max_auth_failures = x
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| bad(format!("--max-auth-failures {x}: 1 to 100")))?;
            }
            Value(x) => {
                let x = x
                    .into_string()
                    .map_err(|_| Failure::usage("argument is not UTF-8"))?;
                a.targets
                    .push(x.parse().map_err(|e| bad(format!("target `{x}`: {e}")))?);
            }
            Short('h') | Long("help") => return Ok(None),
            other => return Err(bad(other.unexpected().to_string())),
        }
    }
    if a.targets.is_empty() {
        return Err(bad(
            "usage: ksocket ssh TARGET... [--credential FILE] [--format table|json|jsonl]".into(),
        ));
    }
    let count: u64 = a.targets.iter().map(|r| r.len()).sum();
    if count > MAX_ADDRESSES {
        return Err(bad(format!(
            "{count} addresses; at most {MAX_ADDRESSES} at once"
        )));
    }
    Ok(Some(a))
}

/// Prints hosts as they complete (jsonl) or at the end (table, json).
struct Printer {
    out: Out,
    format: Format,
    held: Vec<Host>,
    failed: usize,
}

impl Sink for Printer {
    fn host(&mut self, h: Host) -> std::io::Result<()> {
        if h.ssh.is_none() {
            self.failed += 1;
            if let Some(e) = &h.ssh_error {
                eprintln!("ksocket ssh: {}: {e}", h.ip);
            }
        }
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, &h)?;
                writeln!(self.out)?;
                self.out.flush()
            }
            _ => {
                self.held.push(h);
                Ok(())
            }
        }
    }

    fn note(&mut self, n: Note) {
        log::log!(n.level, "{}", n.text);
        if n.level <= log::Level::Warn {
            eprintln!("ksocket ssh: warning: {}", n.text);
        }
    }
}

pub fn run(
    a: Args,
    loaded: Option<Result<config::Loaded, config::Error>>,
) -> Result<ExitCode, Failure> {
    let config = match loaded {
        Some(Ok(l)) => l.config,
        Some(Err(e)) => return Err(Failure::failed(format!("ssh: {e}"))),
        None => config::Config::default(),
    };
    let store = match &a.credential {
        Some(f) => Store::file(Protocol::Ssh, f),
        None => Store::load(&PathBuf::from(config::expand(
            &config.directories.credentials,
        ))),
    };
    for p in &store.problems {
        eprintln!("ksocket ssh: warning: credential file skipped: {p}");
    }
    if a.credential.is_some() && !store.problems.is_empty() {
        return Err(Failure::failed(""));
    }
    let collector = SshCollector::new(&store, a.max_auth_failures);
    let mut hosts = BTreeMap::new();
    let mut none = Vec::new();
    for r in &a.targets {
        for ip in r.first..=r.last {
            let ip = std::net::IpAddr::V4(Ipv4Addr::from(ip));
            if collector.applies(ip) {
                hosts.insert(ip, Host::new(ip));
            } else {
                none.push(ip);
            }
        }
    }
    for ip in &none {
        log::warn!("host {ip}: no ssh credential applies");
        eprintln!("ksocket ssh: {ip}: no ssh credential applies");
    }
    let mut limits: Limits = config.limits.get();
    if let Some(t) = a.timeout {
        limits.host_timeout = t;
    }
    let mut p = Printer {
        out: Out::stdout(),
        format: a.format,
        held: Vec::new(),
        failed: none.len(),
    };
    let collectors: [&dyn Collector; 1] = [&collector];
    pipeline::collect(hosts, &collectors, &limits, a.parallel, &mut p)?;
    let mut held = std::mem::take(&mut p.held);
    held.sort_by_key(|h| h.ip);
    match a.format {
        Format::Json => {
            #[derive(serde::Serialize)]
            struct Doc<'a> {
                hosts: &'a [Host],
            }
            serde_json::to_writer(&mut p.out, &Doc { hosts: &held })
                .map_err(std::io::Error::from)?;
            writeln!(p.out)?;
        }
        Format::Table => {
            writeln!(
                p.out,
                "{:<16} {:<32} {:>8}  {:<24} CREDENTIAL / ERROR",
                "IP", "OS", "PACKAGES", "HOST KEY"
            )?;
            for h in &held {
                writeln!(p.out, "{}", table_row(h))?;
            }
        }
        _ => {}
    }
    p.out.flush()?;
    Ok(if p.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

fn table_row(h: &Host) -> String {
    match &h.ssh {
        Some(s) => {
            let os =
                s.os.pretty_name
                    .clone()
                    .or_else(|| s.os.name.clone())
                    .unwrap_or_default();
            let n: usize = s.packages.iter().map(|l| l.items.len()).sum();
            let key: String = s.host_key.chars().take(24).collect();
            format!(
                "{:<16} {:<32} {:>8}  {:<24} {}",
                h.ip.to_string(),
                os.chars().take(32).collect::<String>(),
                n,
                key,
                h.ssh_credential.as_deref().unwrap_or("")
            )
        }
        None => format!(
            "{:<16} {:<32} {:>8}  {:<24} {}",
            h.ip.to_string(),
            "-",
            "-",
            "-",
            h.ssh_error.as_deref().unwrap_or("")
        ),
    }
}
