//! `ksocket snmp get|walk|device TARGET [OID...]` with net-snmp's option names, and
//! `ksocket snmp sweep` (its own options, in cli/sweep.rs). Values print as
//! `snmpbulkwalk -On` prints them without MIBs (cli/snmp_value.rs), so the two can be
//! diffed.

use super::{Failure, Out};
use crate::credentials::secret::Secret;
use crate::inventory::snmp::{
    Client, Error, Target, V3Auth, WalkEnd, WalkLimits, block_on, device, names,
};
use ksocket_core::snmp::{OidBuf, Value, Version};
use ksocket_core::usm::{AuthProto, PrivProto};
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get,
    Walk,
    Device,
}

/// `-l`: the SNMPv3 security level (named as the RFC names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[allow(clippy::enum_variant_names)]
enum Level {
    NoAuthNoPriv,
    AuthNoPriv,
    AuthPriv,
}

/// The parsed command line of `ksocket snmp get|walk|device`.
#[derive(Debug)]
pub struct Args {
    op: Op,
    host: String,
    oids: Vec<OidBuf>,
    version: Version,
    v3: bool,
    community: Secret,
    timeout: Duration,
    retries: u32,
    max_rep: u32,
    user: Option<String>,
    level: Option<Level>,
    auth_proto: Option<AuthProto>,
    auth_pass: Option<Secret>,
    priv_proto: Option<PrivProto>,
    priv_pass: Option<Secret>,
    context: String,
    credential: Option<PathBuf>,
    /// `snmp device`: limits given as flags, over ksocket.toml's.
    limits: crate::limits::Flags,
}

/// What follows `ksocket snmp`.
pub enum Command {
    Query(Box<Args>),
    Sweep(super::sweep::Args),
}

fn value(p: &mut lexopt::Parser) -> Result<String, Failure> {
    p.value()?
        .into_string()
        .map_err(|_| Failure::usage("argument is not UTF-8"))
}

/// Parses what follows `ksocket snmp`; `Ok(None)` for `-h`. (Long: one arm per
/// net-snmp option, which reads best as one table.)
pub fn parse(parser: &mut lexopt::Parser) -> Result<Option<Command>, Failure> {
    use lexopt::prelude::*;
    let mut a = Args {
        op: Op::Get,
        host: String::new(),
        oids: Vec::new(),
        version: Version::V2c,
        v3: false,
        community: Secret::new("public"),
        timeout: Duration::from_secs(1),
        retries: 5,
        max_rep: 10,
        user: None,
        level: None,
        auth_proto: None,
        auth_pass: None,
        priv_proto: None,
        priv_pass: None,
        context: String::new(),
        credential: None,
        limits: crate::limits::Flags::default(),
    };
    let (mut op, mut host) = (None, None);
    let mut seen_options = false;
    let bad = |m: String| Failure::usage(format!("snmp: {m}"));
    while let Some(arg) = parser.next()? {
        seen_options |= !matches!(arg, Value(_));
        match arg {
            Short('v') => match value(parser)?.as_str() {
                "1" => a.version = Version::V1,
                "2c" => a.version = Version::V2c,
                "3" => a.v3 = true,
                x => return Err(bad(format!("-v {x}: use 1, 2c or 3"))),
            },
            Short('c') => a.community = Secret::new(value(parser)?),
            Short('t') => {
                let x = value(parser)?;
                let s: f64 = x
                    .parse()
                    .map_err(|_| bad(format!("-t {x}: not a number of seconds")))?;
                if !(0.01..=600.0).contains(&s) {
                    return Err(bad(format!("-t {x}: out of range (0.01 to 600 s)")));
                }
                a.timeout = Duration::from_secs_f64(s);
            }
            Short('r') => {
                let x = value(parser)?;
                a.retries = x
                    .parse()
                    .ok()
                    .filter(|r| *r <= 20)
                    .ok_or_else(|| bad(format!("-r {x}: 0 to 20")))?;
            }
            Short('C') => {
                let x = value(parser)?;
                let n = x
                    .strip_prefix('r')
                    .ok_or_else(|| bad(format!("-C{x}: only -Cr<N> (max-repetitions) is known")))?;
                a.max_rep = n
                    .parse()
                    .ok()
                    .filter(|r| (1..=200).contains(r))
                    .ok_or_else(|| bad(format!("-Cr{n}: 1 to 200")))?;
            }
            Short('u') => a.user = Some(value(parser)?),
            Short('n') => a.context = value(parser)?,
            Short('l') => {
                a.level = Some(match value(parser)?.as_str() {
                    "noAuthNoPriv" | "noauth" => Level::NoAuthNoPriv,
                    "authNoPriv" | "auth" => Level::AuthNoPriv,
                    "authPriv" | "priv" => Level::AuthPriv,
                    x => {
                        return Err(bad(format!(
                            "-l {x}: use noAuthNoPriv, authNoPriv or authPriv"
                        )));
                    }
                })
            }
            Short('a') => {
                let x = value(parser)?;
                a.auth_proto = Some(
                    names::auth_by_cli_name(&x)
                        .ok_or_else(|| bad(format!("-a {x}: use {}", names::AUTH_CLI)))?,
                );
            }
            Short('A') => a.auth_pass = Some(Secret::new(value(parser)?)),
            Short('x') => {
                let x = value(parser)?;
                a.priv_proto = Some(
                    names::priv_by_cli_name(&x)
                        .ok_or_else(|| bad(format!("-x {x}: use {}", names::PRIV_CLI)))?,
                );
            }
            Short('X') => a.priv_pass = Some(Secret::new(value(parser)?)),
            Long("credential") => a.credential = Some(PathBuf::from(value(parser)?)),
            Long(name @ ("host-timeout" | "table-rows" | "table-bytes")) => {
                let name = name.to_string();
                let v = value(parser)?;
                a.limits.take(&name, &|| Ok(v.clone())).map_err(bad)?;
            }
            Short('O') => {
                let x = value(parser)?;
                if x != "n" {
                    return Err(bad(format!(
                        "-O{x}: only -On (numeric OIDs, the default) is known"
                    )));
                }
            }
            Value(x) => {
                let x = x
                    .into_string()
                    .map_err(|_| Failure::usage("argument is not UTF-8"))?;
                if op.is_none() {
                    op = Some(match x.as_str() {
                        "sweep" if seen_options => {
                            return Err(bad("put the options after `sweep`".into()));
                        }
                        "sweep" => {
                            return Ok(super::sweep::parse(parser)?.map(Command::Sweep));
                        }
                        "get" => Op::Get,
                        "walk" => Op::Walk,
                        "device" => Op::Device,
                        _ => {
                            return Err(bad(format!(
                                "`{x}`: use `ksocket snmp get|walk|device TARGET [OID...]`"
                            )));
                        }
                    });
                } else if host.is_none() {
                    host = Some(x);
                } else {
                    a.oids.push(x.parse().map_err(|_| {
                        bad(format!("`{x}` is not a numeric OID (like 1.3.6.1.2.1.1)"))
                    })?);
                }
            }
            Short('h') | Long("help") => return Ok(None),
            other => return Err(bad(other.unexpected().to_string())),
        }
    }
    a.op = op.ok_or_else(|| bad("usage: ksocket snmp get|walk|device TARGET [OID...]".into()))?;
    a.host = host.ok_or_else(|| bad("a TARGET is needed".into()))?;
    if a.op == Op::Get && a.oids.is_empty() {
        return Err(Failure::usage("snmp get: name at least one OID"));
    }
    Ok(Some(Command::Query(Box::new(a))))
}

impl Args {
    /// The target: the options, or the credential file's keys where one is named.
    fn target(self) -> Result<Target, String> {
        let mut addr = resolve(&self.host).map_err(|e| format!("{}: {e}", self.host))?;
        let (mut timeout, mut retries, mut retry_interval) =
            (self.timeout, self.retries, Duration::ZERO);
        let mut community = self.community;
        let mut v3 = None;
        if let Some(f) = &self.credential {
            let c = read_credential(f)?;
            match c
                .auth_data
                .v3()
                .map_err(|e| format!("{}: {e}", f.display()))?
            {
                Some(a) => v3 = Some(a),
                None => {
                    community = c.auth_data.community.clone().ok_or_else(|| {
                        format!("{}: neither a community nor a username", f.display())
                    })?;
                }
            }
            timeout = Duration::from_secs_f64(c.timeout.clamp(0.01, 600.0));
            retries = c.retries.min(20);
            retry_interval = Duration::from_secs_f64(c.retry_interval.clamp(0.0, 600.0));
            if !self.host.contains(':') {
                addr.set_port(c.port);
            }
        } else if self.v3 {
            v3 = Some(v3_auth(
                self.user,
                self.level,
                (self.auth_proto, self.auth_pass),
                (self.priv_proto, self.priv_pass),
                self.context,
            )?);
        }
        Ok(Target {
            addr,
            version: self.version,
            community,
            timeout,
            retries,
            retry_interval,
            max_repetitions: self.max_rep,
            v3,
        })
    }
}

/// An snmp credential file (plain or sealed): community or v3 user, port, timeout,
/// retries.
fn read_credential(f: &std::path::Path) -> Result<crate::credentials::Snmp, String> {
    use crate::credentials::{Credential, Protocol};
    let text = crate::credentials::seal::read_credential(f)
        .map_err(|e| format!("{}: {}", f.display(), e.detail()))?;
    match crate::credentials::parse(Protocol::Snmp, f, &text).map_err(|p| p.to_string())? {
        Credential::Snmp(c) => Ok(c),
        _ => Err(format!("{}: not an snmp credential", f.display())),
    }
}

/// The v3 user of `-u -l -a -A -x -X -n` (net-snmp's defaults: MD5, DES; the level
/// from the passwords given).
fn v3_auth(
    user: Option<String>,
    level: Option<Level>,
    auth: (Option<AuthProto>, Option<Secret>),
    privacy: (Option<PrivProto>, Option<Secret>),
    context: String,
) -> Result<V3Auth, String> {
    let user = user.ok_or("-v 3 needs -u USER")?;
    let level = level.unwrap_or(if privacy.1.is_some() {
        Level::AuthPriv
    } else if auth.1.is_some() {
        Level::AuthNoPriv
    } else {
        Level::NoAuthNoPriv
    });
    let auth = if level >= Level::AuthNoPriv {
        let pass = auth.1.ok_or("-l authNoPriv/authPriv needs -A PASSWORD")?;
        names::check_password("-A", &pass)?;
        Some((auth.0.unwrap_or(AuthProto::Md5), pass))
    } else {
        None
    };
    let privacy = if level == Level::AuthPriv {
        let pass = privacy.1.ok_or("-l authPriv needs -X PASSWORD")?;
        names::check_password("-X", &pass)?;
        Some((privacy.0.unwrap_or(PrivProto::Des), pass))
    } else {
        None
    };
    Ok(V3Auth {
        user,
        auth,
        privacy,
        context,
    })
}

/// `config`: ksocket.toml (its `[limits]` are the defaults of `snmp device`).
pub fn run(a: Args, config: &crate::config::Config) -> Result<ExitCode, Failure> {
    let (op, oids) = (a.op, a.oids.clone());
    let a_limits = a.limits.over(config.limits.get());
    let t = a
        .target()
        .map_err(|e| Failure::usage(format!("snmp: {e}")))?;
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("ksocket snmp: {}: {e}", t.addr);
        Ok(ExitCode::from(super::EXIT_FAILED))
    };
    let mut client = match Client::new() {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let mut out = Out::stdout();
    if op == Op::Device {
        let limits = device::Limits {
            deadline: Some(std::time::Instant::now() + a_limits.host_timeout),
            table_rows: a_limits.table_rows,
            table_bytes: a_limits.table_bytes,
            record_bytes: a_limits.table_bytes,
        };
        return match block_on(device::collect(&mut client, &t, limits)) {
            Ok(d) => {
                serde_json::to_writer_pretty(&mut out, &d).map_err(std::io::Error::from)?;
                writeln!(out)?;
                out.flush()?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => fail(&e),
        };
    }
    // A closed pipe ends the printing; the walk then stops at its next row.
    let mut write_error = None;
    let mut print = |o: &OidBuf, v: &Value<'_>| {
        if write_error.is_none()
            && let Err(e) = writeln!(out, "{o} = {}", super::snmp_value::format(v))
        {
            write_error = Some(e);
        }
    };
    let result = if op == Op::Get {
        block_on(client.get(&t, &oids, &mut print)).map(|_| WalkEnd::Complete)
    } else {
        let root = oids
            .first()
            .cloned()
            .unwrap_or_else(|| "1.3.6.1.2.1".parse().expect("valid"));
        let mut printed = 0usize;
        let r = block_on(client.walk(&t, &root, &WalkLimits::PRINTING, &mut |o, v| {
            printed += 1;
            print(o, v)
        }));
        // As snmpwalk does: an empty subtree may be a leaf; ask for it and print the
        // answer, exceptions included.
        if matches!(r, Ok(WalkEnd::Complete)) && printed == 0 {
            let _ = block_on(client.get(&t, std::slice::from_ref(&root), &mut print));
        }
        r
    };
    if let Some(e) = write_error {
        return Err(e.into());
    }
    match result {
        Ok(WalkEnd::Complete) => {}
        // As snmpwalk prints it.
        Ok(WalkEnd::EndOfMib) => writeln!(out, "End of MIB")?,
        Ok(WalkEnd::Incomplete(why)) => {
            out.flush()?;
            eprintln!("ksocket snmp: walk of {} incomplete: {why}", t.addr);
            return Ok(ExitCode::from(super::EXIT_FAILED));
        }
        Err(e @ Error::Timeout) => {
            out.flush()?;
            return fail(&e);
        }
        Err(e) => {
            out.flush()?;
            return fail(&e);
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `HOST[:PORT]` (161 by default). What looks like an IPv4 address must be one: a
/// typo such as `300.1.1.1` is an error, never a name sent to DNS.
fn resolve(host: &str) -> std::io::Result<SocketAddr> {
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    if name.chars().all(|c| c.is_ascii_digit() || c == '.')
        && name.parse::<std::net::Ipv4Addr>().is_err()
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not an IPv4 address",
        ));
    }
    let with_port = if host.parse::<std::net::Ipv4Addr>().is_ok() || !host.contains(':') {
        format!("{host}:161")
    } else {
        host.to_string()
    };
    with_port
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))
}
