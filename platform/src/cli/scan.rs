//! `ksocket scan`: the command-line front end of the scan pipeline. Options become a
//! [`ScanRequest`]; records are printed as they come (jsonl, csv) or at the end
//! (table, sorted by address; json, one document); notes and the summary go to stderr.

use super::output::{Format, csv_field, is_closed_pipe};
use crate::discover::ScanRequest;
use crate::discover::request::number;
use crate::pipeline::interface::Progress;
use crate::pipeline::{self, Note, Sink};
use ksocket_proto::records::{Host, Summary};
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

const FORMATS: [Format; 4] = [Format::Table, Format::Jsonl, Format::Json, Format::Csv];

/// The parsed command line of `ksocket scan`.
pub struct Args {
    pub request: ScanRequest,
    pub format: Option<Format>,
    /// Say on stderr what is only logged otherwise (INFO notes).
    pub verbose: bool,
    /// Limits given as flags, over ksocket.toml's.
    pub limits: crate::limits::Flags,
}

pub fn parse(parser: &mut lexopt::Parser) -> Result<Option<Args>, String> {
    use lexopt::prelude::*;
    let mut r = ScanRequest::default();
    let mut format = None;
    let mut verbose = false;
    let mut limits = crate::limits::Flags::default();
    let val = |p: &mut lexopt::Parser| -> Result<String, String> {
        p.value()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|v| format!("argument {v:?} is not UTF-8"))
    };
    let e = |x: crate::discover::request::OptionError| x.to_string();
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("format") => format = Some(Format::parse(&val(parser)?, &FORMATS)?),
            Long("rate") => {
                r.engine.rate = number("rate", &val(parser)?, 1, 10_000_000).map_err(e)? as u32;
                r.sweep_rate = r.engine.rate;
            }
            Long("timeout") => r.set_timeout_ms(&val(parser)?).map_err(e)?,
            Long("retries") => {
                r.engine.retries = number("retries", &val(parser)?, 0, 10).map_err(e)? as u8
            }
            Long("ports") => r.set_ports(&val(parser)?).map_err(e)?,
            Long("methods") => r.set_methods(&val(parser)?).map_err(e)?,
            Long("interface") | Short('i') => r.interface = Some(val(parser)?),
            Long("exclude") => r.add_excludes(&val(parser)?).map_err(e)?,
            Long("max-prefix") => {
                r.max_prefix = number("max-prefix", &val(parser)?, 8, 32).map_err(e)? as u8
            }
            Long("community") => {
                r.community = Some(crate::credentials::secret::Secret::new(val(parser)?))
            }
            Long("no-details") => r.details = false,
            Long("no-names") => r.names = false,
            Long("no-ports") => r.sweep = false,
            Long(
                name @ ("host-timeout" | "table-rows" | "table-bytes" | "details-timeout"
                | "max-addresses"),
            ) => {
                let name = name.to_string();
                let v = val(parser)?;
                limits.take(&name, &|| Ok(v.clone()))?;
            }
            Long("gateway-arp") => r.gateway_arp = true,
            Long("verbose") | Short('v') => verbose = true,
            Value(v) => {
                let t = v
                    .into_string()
                    .map_err(|v| format!("target {v:?} is not UTF-8"))?;
                r.add_target(&t)?;
            }
            Short('h') | Long("help") => return Ok(None),
            other => return Err(other.unexpected().to_string()),
        }
    }
    Ok(Some(Args {
        request: r,
        format,
        verbose,
        limits,
    }))
}

/// `loaded`: the configuration file as `main` read it (`None`: no file, defaults).
pub fn run(
    args: Args,
    loaded: Option<Result<crate::config::Loaded, crate::config::Error>>,
) -> Result<ExitCode, super::Failure> {
    // A broken configuration stops the scan (spec §3).
    let config = match loaded {
        None => crate::config::Config::default(),
        Some(Ok(l)) => l.config,
        Some(Err(e)) => {
            eprintln!("ksocket scan: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let ctx = crate::context::Context::new(&config);
    let mut args = args;
    args.request.limits = args.limits.over(config.limits.get());
    let format = args
        .format
        .unwrap_or(Format::default_for_stdout(Format::Jsonl));
    let mut sink = Printer::new(format, args.verbose);
    let result = pipeline::scan(&ctx, &args.request, &mut sink);
    sink.clear_progress();
    let summary = match result {
        Ok(s) => s,
        Err(pipeline::ScanError::Sink(e)) if is_closed_pipe(&e) => return Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("ksocket scan: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    match sink.finish(&summary) {
        Ok(()) => {}
        Err(e) if is_closed_pipe(&e) => return Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("ksocket scan: writing results: {e}");
            return Ok(ExitCode::from(1));
        }
    }
    eprintln!("ksocket scan: {}", summary_line(&summary));
    for d in &summary.details {
        eprintln!(
            "ksocket scan: {} details of {} of the {} hosts a credential matches, {:.2} s",
            d.collector.to_uppercase(),
            d.read,
            d.matched,
            d.seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn summary_line(s: &Summary) -> String {
    format!(
        "{} hosts up, {} addresses probed, {} {} ({}{} silent addresses{}), {:.2} s",
        s.hosts,
        s.probed,
        s.sent,
        if s.unprivileged {
            "probes sent (unprivileged)"
        } else {
            "packets sent"
        },
        s.retries
            .map(|r| format!("{r} retries to "))
            .unwrap_or_else(|| "retried ".into()),
        s.retried,
        if s.no_route > 0 {
            format!("; {} without a route", s.no_route)
        } else {
            String::new()
        },
        s.discovery_seconds,
    )
}

/// Prints records to stdout in one format, notes and progress to stderr.
struct Printer {
    format: Format,
    out: io::BufWriter<io::Stdout>,
    /// Table and json: held until the end (the table sorted by address).
    held: Vec<Host>,
    progress_shown: bool,
    terminal: bool,
    csv_header: bool,
    verbose: bool,
}

impl Printer {
    fn new(format: Format, verbose: bool) -> Printer {
        Printer {
            format,
            out: io::BufWriter::new(io::stdout()),
            held: Vec::new(),
            progress_shown: false,
            terminal: io::stderr().is_terminal(),
            csv_header: false,
            verbose,
        }
    }

    /// The CSV header, once, before the first row (or alone when no host is up).
    fn csv_header(&mut self) -> io::Result<()> {
        if !std::mem::replace(&mut self.csv_header, true) {
            writeln!(self.out, "{CSV_HEADER}")?;
        }
        Ok(())
    }

    fn clear_progress(&mut self) {
        if self.progress_shown {
            eprint!("\r\x1b[K");
            self.progress_shown = false;
        }
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        let mut held = std::mem::take(&mut self.held);
        held.sort_by_key(|h| h.ip);
        match self.format {
            Format::Table => {
                writeln!(
                    self.out,
                    "{:<16} {:<24} {:<18} {:<20} {:>9}  {:<8} {:<24} {:<20} DETAILS (SNMP; SSH)",
                    "IP", "NAME", "MAC", "VENDOR", "RTT(ms)", "IFACE", "VIA", "PORTS"
                )?;
                for h in &held {
                    writeln!(self.out, "{}", table_row(h))?;
                }
            }
            Format::Json => {
                /// The one document of `--format json`.
                #[derive(serde::Serialize)]
                struct Doc<'a> {
                    hosts: &'a [Host],
                    summary: &'a Summary,
                }
                let doc = Doc {
                    hosts: &held,
                    summary,
                };
                serde_json::to_writer(&mut self.out, &doc)?;
                writeln!(self.out)?;
            }
            Format::Csv => self.csv_header()?,
            Format::Jsonl => {}
        }
        self.out.flush()
    }
}

impl Sink for Printer {
    fn host(&mut self, h: Host) -> io::Result<()> {
        match self.format {
            Format::Jsonl => {
                self.clear_progress();
                serde_json::to_writer(&mut self.out, &h)?;
                writeln!(self.out)?;
                self.out.flush()
            }
            Format::Csv => {
                self.clear_progress();
                self.csv_header()?;
                csv_row(&mut self.out, &h)?;
                self.out.flush()
            }
            Format::Table | Format::Json => {
                self.held.push(h);
                Ok(())
            }
        }
    }

    /// Warnings on stderr; INFO notes in the log, and on stderr with `--verbose`.
    fn note(&mut self, n: Note) {
        log::log!(n.level, "{}", n.text);
        if n.level <= log::Level::Warn {
            self.clear_progress();
            eprintln!("ksocket scan: warning: {}", n.text);
        } else if self.verbose {
            self.clear_progress();
            eprintln!("ksocket scan: {}", n.text);
        }
    }

    fn progress(&mut self, p: Progress) {
        if self.terminal {
            eprint!(
                "\r\x1b[K{}/{} addresses probed, {} up, {} packets",
                p.probed, p.total, p.up, p.sent
            );
            self.progress_shown = true;
        }
    }
}

/// What SNMP said of a host, for the table: its name and model, or why not.
fn snmp_cell(h: &Host) -> String {
    match h.snmp_result() {
        Some(Ok(d)) => {
            let name = d.sys_name.as_deref().unwrap_or("-");
            match d.chassis.as_ref().and_then(|c| c.model.as_deref()) {
                Some(m) => format!("{name} ({m})"),
                None => name.to_string(),
            }
        }
        Some(Err(e)) => format!("error: {e}"),
        None => String::new(),
    }
}

/// `Debian GNU/Linux 12 (bookworm), 612 packages`, or the SSH error.
fn ssh_cell(h: &Host) -> String {
    match (&h.ssh, &h.ssh_error) {
        (Some(s), _) => {
            let os =
                s.os.pretty_name
                    .as_deref()
                    .or(s.os.name.as_deref())
                    .unwrap_or("-");
            let n: usize = s.packages.iter().map(|l| l.items.len()).sum();
            format!("{os}, {n} packages")
        }
        (None, Some(e)) => format!("ssh error: {e}"),
        (None, None) => String::new(),
    }
}

/// `s` cut to `width` characters (the last one an ellipsis when cut), `-` when empty.
fn cell(s: &str, width: usize) -> String {
    if s.is_empty() {
        "-".into()
    } else if s.chars().count() > width {
        let mut c: String = s.chars().take(width.saturating_sub(1)).collect();
        c.push('…');
        c
    } else {
        s.to_string()
    }
}

/// `22,80,udp/161`: the open ports, TCP bare, others with their protocol.
fn ports_cell(h: &Host, sep: &str) -> String {
    let ports: Vec<String> = h
        .ports
        .iter()
        .map(|p| match p.proto {
            ksocket_proto::records::PortProto::Tcp => p.port.to_string(),
            ksocket_proto::records::PortProto::Udp => format!("udp/{}", p.port),
        })
        .collect();
    ports.join(sep)
}

fn table_row(h: &Host) -> String {
    let via: Vec<String> = h.via.iter().map(ToString::to_string).collect();
    let details: Vec<String> = [snmp_cell(h), ssh_cell(h)]
        .into_iter()
        .filter(|c| !c.is_empty())
        .collect();
    format!(
        "{:<16} {:<24} {:<18} {:<20} {:>9}  {:<8} {:<24} {:<20} {}",
        h.ip.to_string(),
        cell(h.names.first().map_or("", |n| n.name.as_str()), 24),
        h.mac.map_or_else(|| "-".into(), |m| m.to_string()),
        cell(h.mac_vendor.as_deref().unwrap_or(""), 20),
        h.rtt_ms.map_or_else(|| "-".into(), |r| format!("{r:.2}")),
        h.iface.as_deref().unwrap_or("-"),
        via.join(","),
        cell(&ports_cell(h, ","), 20),
        details.join("; ")
    )
}

const CSV_HEADER: &str = "ip,mac,rttMs,iface,via,snmpCredential,sysName,model,snmpError,sshCredential,os,osVersion,packages,sshError,names,macVendor,ports,addresses";

fn csv_row(out: &mut impl Write, h: &Host) -> io::Result<()> {
    let via: Vec<String> = h.via.iter().map(ToString::to_string).collect();
    let d = h.snmp.as_ref();
    let s = h.ssh.as_ref();
    let cells = [
        h.ip.to_string(),
        h.mac.map(|m| m.to_string()).unwrap_or_default(),
        h.rtt_ms.map(|r| format!("{r:.3}")).unwrap_or_default(),
        h.iface.clone().unwrap_or_default(),
        via.join(" "),
        h.snmp_credential.clone().unwrap_or_default(),
        d.and_then(|d| d.sys_name.clone()).unwrap_or_default(),
        d.and_then(|d| d.chassis.as_ref())
            .and_then(|c| c.model.clone())
            .unwrap_or_default(),
        h.snmp_error.clone().unwrap_or_default(),
        h.ssh_credential.clone().unwrap_or_default(),
        s.and_then(|s| s.os.name.clone()).unwrap_or_default(),
        s.and_then(|s| s.os.version_id.clone()).unwrap_or_default(),
        s.map(|s| {
            s.packages
                .iter()
                .map(|l| l.items.len())
                .sum::<usize>()
                .to_string()
        })
        .unwrap_or_default(),
        h.ssh_error.clone().unwrap_or_default(),
        h.names
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        h.mac_vendor.clone().unwrap_or_default(),
        ports_cell(h, " "),
        h.addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" "),
    ];
    let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
    writeln!(out, "{}", line.join(","))
}
