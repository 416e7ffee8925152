//! `ksocket snmp sweep TARGET... [-c COMMUNITY]... [-v 1|2c] [--v3] [--rate PPS]
//! [-t SECONDS] [-r N] [--port N] [--format table|jsonl]`: who answers SNMP, as
//! onesixtyone does: one line for each community an address answers (communities
//! printed by their number, `[c1]`, never by their text).

use super::output::Format;
use super::{Failure, Out};
use crate::credentials::secret::Secret;
use crate::inventory::snmp::sweep::{self, Cred, Hit, Opts};
use ksocket_core::addr::Range;
use ksocket_core::snmp::Version;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

pub struct Args {
    targets: Vec<Range>,
    creds: Vec<Cred>,
    opts: Opts,
    format: Format,
}

/// Most addresses one sweep takes.
const MAX_ADDRESSES: u64 = 1 << 20;

/// Parses what follows `ksocket snmp sweep`; `Ok(None)` for `-h`. (Long: one arm per
/// option, which reads best as one table.)
pub fn parse(parser: &mut lexopt::Parser) -> Result<Option<Args>, Failure> {
    use lexopt::prelude::*;
    let mut ranges: Vec<Range> = Vec::new();
    let mut communities: Vec<Secret> = Vec::new();
    let mut version = Version::V2c;
    let mut v3 = false;
    let mut format = Format::Table;
    // Every community an address answers is listed, not only the first.
    let mut o = Opts {
        every: true,
        ..Opts::default()
    };
    let bad = |m: String| Failure::usage(format!("snmp sweep: {m}"));
    let v = |p: &mut lexopt::Parser| -> Result<String, Failure> {
        p.value()?
            .into_string()
            .map_err(|_| Failure::usage("argument is not UTF-8"))
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Short('c') => communities.push(Secret::new(v(parser)?)),
            Short('v') => {
                version = match v(parser)?.as_str() {
                    "1" => Version::V1,
                    "2c" => Version::V2c,
                    x => {
                        return Err(bad(format!(
                            "-v {x}: use 1 or 2c (and --v3 for SNMPv3 agents)"
                        )));
                    }
                }
            }
            Long("v3") => v3 = true,
            // The old spelling of --format jsonl.
            Long("json") => format = Format::Jsonl,
            Long("format") => {
                format = Format::parse(&v(parser)?, &[Format::Table, Format::Jsonl]).map_err(bad)?
            }
            Short('t') => {
                let x = v(parser)?;
                let s: f64 = x
                    .parse()
                    .map_err(|_| bad(format!("-t {x}: not a number")))?;
                if !(0.01..=60.0).contains(&s) {
                    return Err(bad(format!("-t {x}: out of range (0.01 to 60 s)")));
                }
                o.timeout = Duration::from_secs_f64(s);
            }
            Short('r') => {
                let x = v(parser)?;
                o.retries = x
                    .parse()
                    .ok()
                    .filter(|r| *r <= 10)
                    .ok_or_else(|| bad(format!("-r {x}: 0 to 10")))?;
            }
            Long("rate") => {
                let x = v(parser)?;
                o.rate = x
                    .parse()
                    .ok()
                    .filter(|r| (1..=1_000_000).contains(r))
                    .ok_or_else(|| bad(format!("--rate {x}: 1 to 1000000 per second")))?;
            }
            Long("port") => {
                let x = v(parser)?;
                o.port = x
                    .parse()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| bad(format!("--port {x}: 1 to 65535")))?;
            }
            Value(x) => {
                let x = x
                    .into_string()
                    .map_err(|_| Failure::usage("argument is not UTF-8"))?;
                ranges.push(x.parse().map_err(|e| bad(format!("target `{x}`: {e}")))?);
            }
            Short('h') | Long("help") => return Ok(None),
            other => return Err(bad(other.unexpected().to_string())),
        }
    }
    if ranges.is_empty() {
        return Err(bad(
            "usage: ksocket snmp sweep TARGET... [-c COMMUNITY]...".into()
        ));
    }
    let count: u64 = ranges.iter().map(|r| r.len()).sum();
    if count > MAX_ADDRESSES {
        return Err(bad(format!(
            "{count} addresses; at most {MAX_ADDRESSES} at once"
        )));
    }
    if communities.is_empty() && !v3 {
        communities.push(Secret::new("public"));
    }
    let mut creds: Vec<Cred> = communities
        .into_iter()
        .map(|c| Cred::Community(version, c))
        .collect();
    if v3 {
        creds.push(Cred::V3Discovery);
    }
    Ok(Some(Args {
        targets: ranges,
        creds,
        opts: o,
        format,
    }))
}

pub fn run(a: Args) -> Result<ExitCode, Failure> {
    let mut targets: Vec<Ipv4Addr> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in &a.targets {
        for ip in r.first..=r.last {
            if seen.insert(ip) {
                targets.push(Ipv4Addr::from(ip));
            }
        }
    }
    let t0 = Instant::now();
    let mut found = 0usize;
    let mut hosts = std::collections::HashSet::new();
    let mut out = Out::stdout();
    let mut write_error = None;
    let mut each = |h: &Hit| {
        found += 1;
        hosts.insert(h.ip);
        let line = match a.format {
            Format::Jsonl => serde_json::to_string(&record(h, &a.creds)).unwrap_or_default(),
            _ => text(h, &a.creds),
        };
        if write_error.is_none()
            && let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush())
        {
            write_error = Some(e);
        }
    };
    let stats =
        crate::inventory::snmp::block_on(sweep::sweep(&targets, &a.creds, &a.opts, &mut each))
            .map_err(|e| Failure::failed(format!("snmp sweep: {e}")))?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    eprintln!(
        "sweep: {} addresses, {} credential(s): {} answered ({found} answers); {} probes sent, {} datagrams received ({} ignored) in {:.2} s",
        targets.len(),
        a.creds.len(),
        hosts.len(),
        stats.sent,
        stats.received,
        stats.ignored,
        t0.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// `[c2]` for the second community, `v3` for engine discovery.
fn cred_name(h: &Hit, creds: &[Cred]) -> String {
    match &creds[h.cred] {
        Cred::Community(..) => format!("c{}", h.cred + 1),
        Cred::V3Discovery => "v3".into(),
    }
}

fn engine_hex(h: &Hit) -> Option<(String, i64, i64)> {
    h.engine.as_ref().map(|(id, boots, time)| {
        (
            id.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            *boots,
            *time,
        )
    })
}

/// One line of `--format jsonl`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    ip: Ipv4Addr,
    credential: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sys_descr: Option<String>,
    #[serde(rename = "sysObjectID", skip_serializing_if = "Option::is_none")]
    sys_object_id: Option<String>,
    #[serde(rename = "engineID", skip_serializing_if = "Option::is_none")]
    engine_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    engine_boots: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    engine_time: Option<i64>,
    rtt_ms: f64,
}

fn record(h: &Hit, creds: &[Cred]) -> Record {
    let engine = engine_hex(h);
    Record {
        ip: h.ip,
        credential: cred_name(h, creds),
        sys_descr: h.sys_descr.clone(),
        sys_object_id: h.sys_object_id.clone(),
        engine_id: engine.as_ref().map(|e| e.0.clone()),
        engine_boots: engine.as_ref().map(|e| e.1),
        engine_time: engine.as_ref().map(|e| e.2),
        rtt_ms: (h.rtt.as_secs_f64() * 1e4).round() / 10.0,
    }
}

fn text(h: &Hit, creds: &[Cred]) -> String {
    let what = match (&h.sys_descr, engine_hex(h)) {
        (Some(d), _) => d.replace(['\r', '\n'], " "),
        (None, Some((id, ..))) => format!("engine {id}"),
        (None, None) => String::new(),
    };
    format!("{} [{}] {what}", h.ip, cred_name(h, creds))
}
