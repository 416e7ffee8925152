//! `ksocket scan`: standalone discovery.
//!
//! 1. Read interfaces, addresses, routes and neighbours from the kernel (netlink).
//! 2. Build the target set (the arguments, or every attached network up to
//!    `--max-prefix` plus the default gateways) and the engine's routing table from the
//!    kernel's main table, so that every target leaves by the interface and next hop
//!    the kernel would use: on-link targets get ARP, routed ones go to the gateway's MAC.
//! 3. Drive the sans-IO engine of `ksocket-core` over AF_PACKET sockets on smol.
//! 4. Merge the replies with the kernel's neighbour table and print one record per host.

mod unpriv;

use crate::sys::netlink::{self, Snapshot};
use crate::sys::packet::PacketSocket;
use ksocket_core::addr::{AddrSet, Range};
use ksocket_core::engine::{self, Config, Engine, Event, Iface, Instant, Method, Methods, Via};
use ksocket_core::wire::{Link, Mac};
use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

/// Ranges in a target set (after exclusions split it).
const SET_RANGES: usize = 256;
/// Targets in flight per class: at the default 10k packets/s and the initial 250 ms
/// timeout, about 2500 on-link targets wait for an answer at once.
const WINDOW: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Jsonl,
    Table,
}

#[derive(Debug)]
struct Opts {
    format: Option<Format>,
    cfg: Config,
    interface: Option<String>,
    targets: Vec<Range>,
    excludes: Vec<Range>,
    max_prefix: u8,
    /// SNMP v2c community for the gateway's ARP table (until credential files exist).
    community: Option<crate::credentials::secret::Secret>,
    /// Do not ask found hosts for their SNMP details.
    no_details: bool,
}

fn parse_opts(parser: &mut lexopt::Parser) -> Result<Opts, String> {
    use lexopt::prelude::*;
    let mut o = Opts {
        format: None,
        cfg: Config::default(),
        interface: None,
        targets: Vec::new(),
        excludes: Vec::new(),
        max_prefix: 22,
        community: None,
        no_details: false,
    };
    let num = |name: &str, v: String, lo: u64, hi: u64| -> Result<u64, String> {
        let n: u64 = v
            .parse()
            .map_err(|_| format!("--{name}: `{v}` is not a number"))?;
        if n < lo || n > hi {
            return Err(format!("--{name}: {n} is out of range ({lo} to {hi})"));
        }
        Ok(n)
    };
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("format") => {
                o.format = Some(match val(parser)?.as_str() {
                    "jsonl" | "json" => Format::Jsonl,
                    "table" => Format::Table,
                    v => return Err(format!("--format: `{v}` is not jsonl or table")),
                })
            }
            Long("rate") => o.cfg.rate = num("rate", val(parser)?, 1, 10_000_000)? as u32,
            Long("timeout") => {
                let ms = num("timeout", val(parser)?, 1, 60_000)?;
                o.cfg.timeout = Duration::from_millis(ms);
                o.cfg.min_timeout = o.cfg.min_timeout.min(o.cfg.timeout);
                o.cfg.max_timeout = o.cfg.max_timeout.max(o.cfg.timeout);
            }
            Long("retries") => o.cfg.retries = num("retries", val(parser)?, 0, 10)? as u8,
            Long("ports") => {
                let v = val(parser)?;
                o.cfg.ports.clear();
                for p in v.split(',').filter(|p| !p.is_empty()) {
                    let n = num("ports", p.trim().to_string(), 1, 65535)? as u16;
                    if !o.cfg.ports.contains(&n) {
                        o.cfg
                            .ports
                            .push(n)
                            .map_err(|_| format!("--ports: at most {} ports", engine::MAX_PORTS))?;
                    }
                }
            }
            Long("methods") => {
                let v = val(parser)?;
                let mut m = Methods {
                    arp: false,
                    icmp: false,
                    tcp: false,
                    snmp: false,
                };
                for x in v.split(',').map(str::trim).filter(|x| !x.is_empty()) {
                    match x {
                        "arp" => m.arp = true,
                        "icmp" => m.icmp = true,
                        "tcp" => m.tcp = true,
                        "snmp" => m.snmp = true,
                        _ => {
                            return Err(format!(
                                "--methods: `{x}` is not one of arp, icmp, tcp, snmp"
                            ));
                        }
                    }
                }
                o.cfg.methods = m;
            }
            Long("interface") | Short('i') => o.interface = Some(val(parser)?),
            Long("exclude") => {
                let v = val(parser)?;
                for t in v.split(',').filter(|t| !t.is_empty()) {
                    o.excludes
                        .push(t.parse().map_err(|e| format!("--exclude: `{t}`: {e}"))?);
                }
            }
            Long("max-prefix") => o.max_prefix = num("max-prefix", val(parser)?, 8, 32)? as u8,
            Long("community") => {
                o.community = Some(crate::credentials::secret::Secret::new(val(parser)?))
            }
            Long("no-details") => o.no_details = true,
            Value(v) => {
                let t = v
                    .into_string()
                    .map_err(|v| format!("target {v:?} is not UTF-8"))?;
                o.targets
                    .push(t.parse().map_err(|e| format!("target `{t}`: {e}"))?);
            }
            Short('h') | Long("help") => return Err("help".into()),
            other => return Err(other.unexpected().to_string()),
        }
    }
    Ok(o)
}

fn val(parser: &mut lexopt::Parser) -> Result<String, String> {
    parser
        .value()
        .map_err(|e| e.to_string())?
        .into_string()
        .map_err(|v| format!("argument {v:?} is not UTF-8"))
}

/// One live host, merged from every source that saw it.
#[derive(Debug, Default)]
struct Host {
    mac: Option<Mac>,
    via: Vec<String>,
    rtt: Option<Duration>,
    iface: u8,
    /// The credential that read its SNMP device record, and the record (JSON), or
    /// why it could not be read.
    snmp: Option<(String, Result<String, String>)>,
}

fn method_name(m: Method) -> String {
    match m {
        Method::Arp => "arp".into(),
        Method::Icmp => "icmp".into(),
        Method::Tcp(p) => format!("tcp/{p}"),
        Method::Snmp => "snmp".into(),
        Method::Unreachable => "icmp-unreach".into(),
    }
}

struct Summary {
    probed: u64,
    sent: u64,
    retries: Option<u64>,
    retried: u64,
    no_route: u64,
}

struct Plan {
    targets: AddrSet<SET_RANGES>,
    ifaces: Vec<Iface>,
    if_index: Vec<u32>,
    if_names: Vec<String>,
    routes: Vec<engine::Route>,
}

pub fn run(parser: &mut lexopt::Parser) -> Result<ExitCode, String> {
    let o = match parse_opts(parser) {
        Ok(o) => o,
        Err(e) if e == "help" => {
            let c = crate::cli::find("scan").expect("scan is in the table");
            println!("{}", c.usage);
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e),
    };
    match scan(o) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("ksocket scan: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn scan(o: Opts) -> Result<(), String> {
    log::info!(
        "scan starting: {} targets named, options {:?}",
        o.targets.len(),
        o
    );
    let snap = Snapshot::read()
        .map_err(|e| format!("cannot read interfaces and routes from the kernel (netlink): {e}"))?;
    // The default gateway's ARP table over SNMP (spec §6): its hosts become targets.
    // Credentials: --community, else the snmp credential files (spec §7) that match
    // the gateway, tried in order until one answers.
    let cred_dir = credential_dir()?;
    let snmp_arp = gateway_arp(&o, &snap, &|gw| {
        snmp_credentials(&o, cred_dir.as_deref(), gw, true)
    });
    let plan = plan(&o, &snap, &snmp_arp)?;
    let format = o.format.unwrap_or(if io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Jsonl
    });
    let (_udp, _tcp, sport) =
        reserve_port().map_err(|e| format!("cannot reserve a source port: {e}"))?;
    let mut cfg = o.cfg.clone();
    cfg.sport = sport;
    cfg.key = crate::sys::random::u64();
    let mut socks = Vec::new();
    let mut unprivileged = false;
    for (i, ifc) in plan.ifaces.iter().enumerate() {
        match PacketSocket::open(plan.if_index[i], ifc.link == Link::Ethernet, ifc.ip) {
            Ok(s) => socks.push(s),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                unprivileged = true;
                break;
            }
            Err(e) => {
                return Err(format!(
                    "cannot open a packet socket on {}: {e}",
                    plan.if_names[i]
                ));
            }
        }
    }
    let started = std::time::Instant::now();
    let mut hosts: BTreeMap<Ipv4Addr, Host> = BTreeMap::new();
    let summary = if unprivileged {
        eprintln!(
            "ksocket scan: warning: no raw packet access (run as root, or setcap cap_net_raw+ep on the binary); \
             falling back to ICMP datagram sockets and TCP connect(): results may be incomplete \
             (no ARP probes: on-link hosts that answer nothing above ARP can be missed)"
        );
        drop(socks);
        // Only the targets some route reaches.
        let mut reachable: AddrSet<SET_RANGES> = AddrSet::new();
        for t in plan.targets.ranges() {
            for r in &plan.routes {
                let (first, last) = (t.first.max(r.dst.first), t.last.min(r.dst.last));
                if first <= last {
                    reachable
                        .insert(Range { first, last })
                        .map_err(|e| format!("target set: {e}"))?;
                }
            }
        }
        let no_route = plan.targets.len() - reachable.len();
        let (found, s) = crate::discover::unpriv::scan(&cfg, &reachable, cfg.key);
        for (ip, f) in found {
            let i = plan
                .routes
                .iter()
                .filter(|r| r.dst.contains(ip))
                .max_by_key(|r| r.prefix)
                .map_or(0, |r| r.iface);
            hosts.insert(
                ip,
                Host {
                    mac: None,
                    via: f.via,
                    rtt: f.rtt,
                    iface: i,
                    snmp: None,
                },
            );
        }
        Summary {
            probed: s.probed,
            sent: s.probes,
            retries: None,
            retried: s.retried,
            no_route,
        }
    } else {
        let total = plan.targets.len();
        let mut eng: Engine<SET_RANGES, WINDOW> =
            Engine::new(cfg, &plan.ifaces, &plan.routes, plan.targets.clone())
                .map_err(|e| format!("scan setup: {e}"))?;
        let progress = io::stderr().is_terminal();
        smol::block_on(drive(&mut eng, socks, started, &mut hosts, progress, total))
            .map_err(|e| format!("scan failed: {e}"))?;
        let st = *eng.stats();
        Summary {
            probed: st.started,
            sent: st.sent,
            retries: Some(st.sent_retry),
            retried: st.retried,
            no_route: st.no_route,
        }
    };
    let elapsed = started.elapsed();
    // The kernel's own neighbour table: hosts it confirmed recently on a scanned link.
    if let Ok(neighs) = netlink::neighbours() {
        for n in neighs {
            let Some(i) = plan.if_index.iter().position(|&x| x == n.index) else {
                continue;
            };
            if !plan.targets.contains(n.ip) || !n.usable {
                continue;
            }
            let known = hosts.contains_key(&n.ip);
            if n.confirmed || known {
                let h = hosts.entry(n.ip).or_default();
                h.iface = i as u8;
                if h.mac.is_none() {
                    h.mac = n.mac;
                }
                if !h.via.iter().any(|v| v == "neigh") {
                    h.via.push("neigh".into());
                }
            }
        }
    }
    for (ip, mac) in &snmp_arp {
        if !plan.targets.contains(*ip) {
            continue;
        }
        let h = hosts.entry(*ip).or_default();
        if h.mac.is_none() && h.via.is_empty() {
            // Seen only by the gateway: its interface is the gateway's.
            h.iface = plan
                .routes
                .iter()
                .filter(|r| r.dst.contains(*ip))
                .max_by_key(|r| r.prefix)
                .map_or(0, |r| r.iface);
        }
        if h.mac.is_none() {
            h.mac = *mac;
        }
        h.via.push("snmp-arp".into());
    }
    // Device details over SNMP of every host some credential matches (spec §6).
    let mut detailed = 0usize;
    let mut details_note = String::new();
    if !o.no_details {
        let t0 = std::time::Instant::now();
        let wanted: BTreeMap<Ipv4Addr, Vec<SnmpCred>> = hosts
            .keys()
            .map(|ip| (*ip, snmp_credentials(&o, cred_dir.as_deref(), *ip, false)))
            .filter(|(_, c)| !c.is_empty())
            .collect();
        if !wanted.is_empty() {
            for (ip, c) in crate::inventory::snmp::details::collect(&wanted) {
                if let Some(h) = hosts.get_mut(&ip) {
                    let rec = c
                        .device
                        .and_then(|d| serde_json::to_string(&d).map_err(|e| e.to_string()));
                    detailed += usize::from(rec.is_ok());
                    h.snmp = Some((c.credential, rec));
                }
            }
            details_note = format!(
                "; SNMP details of {detailed} of the {} hosts a credential matches, {:.2} s",
                wanted.len(),
                t0.elapsed().as_secs_f64()
            );
            log::info!("snmp{details_note}");
        }
    }
    for (ip, h) in &hosts {
        log::debug!(
            "host {ip} up: via {:?}, mac {:?}, rtt {:?}",
            h.via,
            h.mac.map(mac_str),
            h.rtt
        );
    }
    log::info!(
        "scan done: {} hosts up, {} addresses probed, {} sent, {:.2} s",
        hosts.len(),
        summary.probed,
        summary.sent,
        elapsed.as_secs_f64()
    );
    let mut out = io::BufWriter::new(io::stdout().lock());
    match format {
        Format::Jsonl => {
            for (ip, h) in &hosts {
                writeln!(out, "{}", json(ip, h, &plan.if_names)).map_err(|e| e.to_string())?;
            }
        }
        Format::Table => {
            writeln!(
                out,
                "{:<16} {:<18} {:>9}  {:<8} {:<24} SNMP",
                "IP", "MAC", "RTT(ms)", "IFACE", "VIA"
            )
            .map_err(|e| e.to_string())?;
            for (ip, h) in &hosts {
                // What SNMP said: the device's name and model, or why it could not.
                let snmp = match &h.snmp {
                    Some((_, Ok(j))) => serde_json::from_str::<serde_json::Value>(j)
                        .ok()
                        .map(|d| {
                            let name = d["sysName"].as_str().unwrap_or("-").to_string();
                            match d["chassis"]["model"].as_str() {
                                Some(m) => format!("{name} ({m})"),
                                None => name,
                            }
                        })
                        .unwrap_or_default(),
                    Some((_, Err(e))) => format!("error: {e}"),
                    None => String::new(),
                };
                writeln!(
                    out,
                    "{:<16} {:<18} {:>9}  {:<8} {:<24} {}",
                    ip.to_string(),
                    h.mac.map(mac_str).unwrap_or_else(|| "-".into()),
                    h.rtt
                        .map(|r| format!("{:.2}", r.as_secs_f64() * 1000.0))
                        .unwrap_or_else(|| "-".into()),
                    plan.if_names
                        .get(usize::from(h.iface))
                        .map(String::as_str)
                        .unwrap_or("-"),
                    h.via.join(","),
                    snmp
                )
                .map_err(|e| e.to_string())?;
            }
        }
    }
    out.flush().map_err(|e| e.to_string())?;
    eprintln!(
        "ksocket scan: {} hosts up, {} addresses probed, {} {} ({}{} silent addresses{}), {:.2} s",
        hosts.len(),
        summary.probed,
        summary.sent,
        if summary.retries.is_some() {
            "packets sent"
        } else {
            "probes sent (unprivileged)"
        },
        summary
            .retries
            .map(|r| format!("{r} retries to "))
            .unwrap_or_else(|| "retried ".into()),
        summary.retried,
        if summary.no_route > 0 {
            format!("; {} without a route", summary.no_route)
        } else {
            String::new()
        },
        elapsed.as_secs_f64(),
    );
    if !details_note.is_empty() {
        eprintln!("ksocket scan: {}", &details_note[2..]);
    }
    Ok(())
}

async fn drive(
    eng: &mut Engine<SET_RANGES, WINDOW>,
    socks: Vec<PacketSocket>,
    started: std::time::Instant,
    hosts: &mut BTreeMap<Ipv4Addr, Host>,
    progress: bool,
    total: u64,
) -> io::Result<()> {
    use smol::Async;
    let socks: Vec<Async<PacketSocket>> = socks
        .into_iter()
        .map(Async::new)
        .collect::<io::Result<_>>()?;
    let now = || Instant::from_nanos(started.elapsed().as_nanos() as u64);
    let mut buf = vec![0u8; 2048];
    let mut rbuf = vec![0u8; 65536];
    let mut last_progress = std::time::Instant::now();
    loop {
        let t = now();
        while let Some(tx) = eng.poll_transmit(t, &mut buf) {
            let s = &socks[usize::from(tx.iface)];
            // Bounded: a full device queue is waited out a few times, then it is an error.
            let mut tries = 0;
            loop {
                match s.get_ref().send(&buf[..tx.len]) {
                    Ok(()) => break,
                    Err(e)
                        if tries < 100
                            && (e.kind() == io::ErrorKind::WouldBlock
                                || e.raw_os_error() == Some(libc::ENOBUFS)) =>
                    {
                        tries += 1;
                        smol::Timer::after(Duration::from_millis(1)).await;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        drain(eng, hosts);
        if eng.is_finished() {
            if progress {
                eprint!("\r\x1b[K");
            }
            return Ok(());
        }
        if progress && last_progress.elapsed() > Duration::from_millis(200) {
            last_progress = std::time::Instant::now();
            let st = eng.stats();
            eprint!(
                "\r\x1b[K{}/{} addresses probed, {} up, {} packets",
                st.started,
                total,
                hosts.len(),
                st.sent
            );
        }
        let deadline = eng
            .poll_timeout()
            .map(|d| started + Duration::from_nanos(d.as_nanos()));
        let timer = match deadline {
            Some(d) => smol::Timer::at(d),
            None => smol::Timer::after(Duration::from_millis(100)),
        };
        let readable = smol::future::poll_fn(|cx| {
            for s in &socks {
                if let std::task::Poll::Ready(r) = s.poll_readable(cx) {
                    return std::task::Poll::Ready(r);
                }
            }
            std::task::Poll::Pending
        });
        smol::future::or(readable, async {
            timer.await;
            Ok(())
        })
        .await?;
        for (i, s) in socks.iter().enumerate() {
            // Bounded per wake-up so transmission is never starved.
            for _ in 0..4096 {
                match s.get_ref().recv(&mut rbuf) {
                    Ok(n) => {
                        eng.handle_rx(now(), i as u8, &rbuf[..n]);
                        drain(eng, hosts);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

fn drain(eng: &mut Engine<SET_RANGES, WINDOW>, hosts: &mut BTreeMap<Ipv4Addr, Host>) {
    while let Some(e) = eng.poll_event() {
        match e {
            Event::Reply {
                ip,
                mac,
                method,
                rtt,
                iface,
            } => {
                let h = hosts.entry(ip).or_default();
                h.iface = iface;
                if h.mac.is_none() {
                    h.mac = mac;
                }
                if h.rtt.is_none() {
                    h.rtt = rtt;
                }
                let name = method_name(method);
                if !h.via.contains(&name) {
                    h.via.push(name);
                }
            }
            Event::Done { .. } | Event::NoRoute { .. } => {}
        }
    }
}

/// The credentials directory of the configuration, when a configuration file exists
/// (a broken one stops the scan, as spec §3 asks).
fn credential_dir() -> Result<Option<std::path::PathBuf>, String> {
    let file = crate::config::path();
    if !file.exists() {
        // No configuration: the default layout under $KSOCKET_HOME.
        let d = crate::config::expand(&crate::config::Config::default().directories.credentials);
        return Ok(Some(d.into()));
    }
    let l = crate::config::load(&file).map_err(|e| e.to_string())?;
    Ok(Some(
        crate::config::expand(&l.config.directories.credentials).into(),
    ))
}

/// One way to ask a device over SNMP.
#[derive(Clone, Debug)]
pub struct SnmpCred {
    pub label: String,
    pub v3: Option<crate::inventory::snmp::V3Auth>,
    pub community: crate::credentials::secret::Secret,
    pub port: u16,
    pub timeout: Duration,
    pub retries: u32,
    pub retry_interval: Duration,
}

/// The SNMP credentials for `ip` in the order spec §7 tries them. `gateway`: say on
/// stderr which matched and which did not (there is one gateway; for every scanned host
/// that goes to the log only).
fn snmp_credentials(
    o: &Opts,
    dir: Option<&std::path::Path>,
    gw: Ipv4Addr,
    gateway: bool,
) -> Vec<SnmpCred> {
    let who = if gateway { "gateway" } else { "host" };
    let say = |level: log::Level, msg: &str| {
        if gateway {
            note(level, msg)
        } else {
            log::log!(
                if level == log::Level::Warn {
                    log::Level::Debug
                } else {
                    level
                },
                "{msg}"
            )
        }
    };
    use crate::credentials::{Credential, Protocol, matching};
    if let Some(c) = &o.community {
        return vec![SnmpCred {
            label: "--community".into(),
            v3: None,
            community: c.clone(),
            port: 161,
            timeout: Duration::from_secs(1),
            retries: 1,
            retry_interval: Duration::ZERO,
        }];
    }
    let Some(dir) = dir else { return Vec::new() };
    let read = crate::credentials::seal::read_credential;
    let (found, problems) = matching(Protocol::Snmp, &dir.join("snmp"), gw, &read);
    for p in problems {
        say(log::Level::Warn, &format!("credential file skipped: {p}"));
    }
    let mut out = Vec::new();
    for (path, c) in found {
        let Credential::Snmp(s) = c else { continue };
        let v3 = match s.auth_data.v3() {
            Ok(v) => v,
            Err(e) => {
                say(
                    log::Level::Warn,
                    &format!("credential file skipped: {}: {e}", path.display()),
                );
                continue;
            }
        };
        let community = s
            .auth_data
            .community
            .clone()
            .unwrap_or_else(|| crate::credentials::secret::Secret::new(""));
        let m = format!("{who} {gw}: credential {} matches", path.display());
        if gateway {
            note(log::Level::Info, &m);
        } else {
            log::debug!("{m}");
        }
        out.push(SnmpCred {
            label: path.display().to_string(),
            v3,
            community,
            port: s.port,
            timeout: Duration::from_secs_f64(s.timeout.clamp(0.05, 600.0)),
            retries: s.retries,
            retry_interval: Duration::from_secs_f64(s.retry_interval.clamp(0.0, 600.0)),
        });
    }
    if out.is_empty() && gateway {
        note(
            log::Level::Warn,
            &format!("gateway {gw}: no snmp credential file matches; its ARP table is not read"),
        );
    }
    out
}

/// The ARP tables (ipNetToMediaTable, ipNetToPhysicalTable) of every default gateway,
/// over SNMP v2c. A gateway that does not answer is reported in one line and skipped.
fn gateway_arp(
    o: &Opts,
    snap: &Snapshot,
    creds: &dyn Fn(Ipv4Addr) -> Vec<SnmpCred>,
) -> BTreeMap<Ipv4Addr, Option<Mac>> {
    use crate::inventory::snmp::{Client, Target};
    use ksocket_core::snmp::{Value, Version};
    let mut found = BTreeMap::new();
    let gws: Vec<Ipv4Addr> = snap
        .routes
        .iter()
        .filter(|r| {
            r.prefix == 0
                && snap
                    .link(r.oif)
                    .is_some_and(|l| o.interface.as_ref().is_none_or(|n| *n == l.name))
        })
        .filter_map(|r| r.gateway)
        .collect();
    if gws.is_empty() {
        return found;
    }
    let Ok(mut client) = Client::new() else {
        return found;
    };
    for gw in gws {
        for cred in creds(gw) {
            let t = Target {
                addr: std::net::SocketAddr::from((gw, cred.port)),
                version: Version::V2c,
                community: cred.community.clone(),
                timeout: cred.timeout,
                retries: cred.retries,
                retry_interval: cred.retry_interval,
                max_repetitions: 25,
                v3: cred.v3.clone(),
            };
            log::debug!(
                "gateway {gw}: reading its ARP table with {t:?} ({})",
                cred.label
            );
            let mut rows = 0usize;
            // ipNetToMediaPhysAddress.ifIndex.a.b.c.d and
            // ipNetToPhysicalPhysAddress.ifIndex.ipv4(1).4.a.b.c.d
            for (root, skip) in [
                ("1.3.6.1.2.1.4.22.1.2", 11usize),
                ("1.3.6.1.2.1.4.35.1.4", 13),
            ] {
                let root = root.parse().expect("valid OID");
                let mut add = |oid: &str, v: &Value<'_>| {
                    let arcs: Vec<u32> = oid
                        .trim_start_matches('.')
                        .split('.')
                        .filter_map(|a| a.parse().ok())
                        .collect();
                    if arcs.len() != skip + 4 || (skip == 13 && arcs[11..13] != [1, 4]) {
                        return;
                    }
                    let ip = Ipv4Addr::new(
                        arcs[skip] as u8,
                        arcs[skip + 1] as u8,
                        arcs[skip + 2] as u8,
                        arcs[skip + 3] as u8,
                    );
                    let mac = match v {
                        Value::OctetString(m) if m.len() == 6 && m.iter().any(|&b| b != 0) => {
                            Some([m[0], m[1], m[2], m[3], m[4], m[5]])
                        }
                        _ => return, // incomplete entry
                    };
                    rows += 1;
                    found.insert(ip, mac);
                };
                if let Err(e) = client.walk(&t, &root, &mut add) {
                    eprintln!("ksocket scan: gateway {gw} ({}): SNMP {e}", cred.label);
                    break;
                }
            }
            if rows > 0 {
                eprintln!("ksocket scan: gateway {gw}: {rows} entries in its ARP tables");
                break;
            }
        }
    }
    found
}

fn plan(
    o: &Opts,
    snap: &Snapshot,
    extra: &BTreeMap<Ipv4Addr, Option<Mac>>,
) -> Result<Plan, String> {
    let usable = |l: &netlink::Link| l.up && !l.loopback && snap.addr_of(l.index).is_some();
    if let Some(name) = &o.interface {
        let l = snap.link_by_name(name).ok_or_else(|| {
            let have: Vec<&str> = snap
                .links
                .iter()
                .filter(|l| !l.loopback)
                .map(|l| l.name.as_str())
                .collect();
            format!(
                "no such interface `{name}` (this box has: {})",
                have.join(", ")
            )
        })?;
        if !usable(l) {
            return Err(format!("interface `{name}` is down or has no IPv4 address"));
        }
    }
    let wanted = |index: u32| -> bool {
        snap.link(index)
            .is_some_and(|l| usable(l) && o.interface.as_ref().is_none_or(|n| *n == l.name))
    };
    let mut targets: AddrSet<SET_RANGES> = AddrSet::new();
    let cap = |e| format!("target set: {e}");
    if o.targets.is_empty() {
        for a in snap.addrs.iter().filter(|a| wanted(a.index)) {
            let name = &snap
                .link(a.index)
                .map(|l| l.name.clone())
                .unwrap_or_default();
            let net = Range::cidr(a.local, a.prefix).ok_or("bad prefix from the kernel")?;
            if a.prefix < o.max_prefix {
                eprintln!(
                    "ksocket scan: {net} on {name} is larger than /{} and is not scanned whole; \
                     name it as a target to scan it, or raise --max-prefix",
                    o.max_prefix
                );
                continue;
            }
            targets.insert(net).map_err(cap)?;
        }
        for r in snap
            .routes
            .iter()
            .filter(|r| r.prefix == 0 && wanted(r.oif))
        {
            if let Some(gw) = r.gateway {
                targets.insert(Range::single(gw)).map_err(cap)?;
            }
        }
    } else {
        for t in &o.targets {
            targets.insert(*t).map_err(cap)?;
        }
    }
    // Hosts from the gateway's ARP table: all of them when no target was named,
    // otherwise those inside the named targets (already in the set).
    if o.targets.is_empty() {
        for ip in extra.keys() {
            if targets.insert(Range::single(*ip)).is_err() {
                eprintln!(
                    "ksocket scan: the gateway's ARP table is too scattered to add whole; the rest is left out"
                );
                break;
            }
        }
    }
    for e in &o.excludes {
        targets.remove(*e).map_err(cap)?;
    }
    for a in &snap.addrs {
        targets.remove(Range::single(a.local)).map_err(cap)?;
    }
    if targets.is_empty() {
        return Err(
            "nothing to scan: no target left after exclusions (and our own addresses)".into(),
        );
    }

    let mut plan = Plan {
        targets,
        ifaces: vec![],
        if_index: vec![],
        if_names: vec![],
        routes: vec![],
    };
    // Most specific routes first, so that the 32 kept are the ones that matter.
    let mut routes: Vec<&netlink::Route> = snap.routes.iter().filter(|r| wanted(r.oif)).collect();
    routes.sort_by(|a, b| b.prefix.cmp(&a.prefix).then(a.metric.cmp(&b.metric)));
    for r in routes {
        let Some(dst) = Range::cidr(r.dst, r.prefix) else {
            continue;
        };
        // Keep only routes that reach some target.
        if !plan
            .targets
            .ranges()
            .iter()
            .any(|t| t.first <= dst.last && dst.first <= t.last)
        {
            continue;
        }
        // Same destination already covered by a better (lower metric) route.
        if plan.routes.iter().any(|x| x.dst == dst) {
            continue;
        }
        let link = snap.link(r.oif).expect("wanted() checked it");
        let i = match plan.if_index.iter().position(|&x| x == r.oif) {
            Some(i) => i,
            None => {
                if plan.ifaces.len() >= engine::MAX_IFACES {
                    eprintln!(
                        "ksocket scan: more than {} interfaces: {} is left out",
                        engine::MAX_IFACES,
                        link.name
                    );
                    continue;
                }
                let ip = r
                    .prefsrc
                    .or(snap.addr_of(r.oif).map(|a| a.local))
                    .ok_or("interface without address")?;
                let eth = link.ethernet && !link.noarp && !link.pointopoint;
                plan.ifaces.push(Iface {
                    link: if eth { Link::Ethernet } else { Link::RawIp },
                    mac: link.mac.unwrap_or([0; 6]),
                    ip,
                });
                plan.if_index.push(r.oif);
                plan.if_names.push(link.name.clone());
                plan.ifaces.len() - 1
            }
        };
        let via = match r.gateway {
            None => Via::OnLink,
            Some(gw) if plan.ifaces[i].link == Link::RawIp => Via::Gateway {
                ip: gw,
                mac: [0; 6],
            },
            Some(gw) => match gateway_mac(r.oif, &plan.ifaces[i], gw) {
                Some(mac) => Via::Gateway { ip: gw, mac },
                None => {
                    eprintln!(
                        "ksocket scan: gateway {gw} on {} does not answer ARP: targets behind it are skipped",
                        link.name
                    );
                    continue;
                }
            },
        };
        if plan.routes.len() >= engine::MAX_ROUTES {
            eprintln!(
                "ksocket scan: more than {} routes reach the targets; {dst} is left out",
                engine::MAX_ROUTES
            );
            continue;
        }
        plan.routes.push(engine::Route {
            dst,
            prefix: r.prefix,
            iface: i as u8,
            via,
        });
    }
    if plan.routes.is_empty() {
        return Err("no route reaches any target (see `ip route`)".into());
    }
    Ok(plan)
}

/// The MAC of a gateway: from the kernel's neighbour table, or else asked with our own
/// ARP request (3 tries, 300 ms each), as the kernel would before its first packet.
fn gateway_mac(oif: u32, ifc: &Iface, gw: Ipv4Addr) -> Option<Mac> {
    let known = netlink::neighbours()
        .ok()?
        .into_iter()
        .find(|n| n.index == oif && n.ip == gw && n.usable)
        .and_then(|n| n.mac);
    if known.is_some() {
        return known;
    }
    let sock = match PacketSocket::open(oif, true, ifc.ip) {
        Ok(s) => s,
        // Unprivileged: the fallback scan lets the kernel route and resolve, and never
        // uses this MAC.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Some([0; 6]),
        Err(_) => return None,
    };
    let mut buf = [0u8; 64];
    let mut rbuf = [0u8; 2048];
    for _ in 0..3 {
        let n = ksocket_core::wire::emit_arp_request(&mut buf, ifc.mac, ifc.ip, gw).ok()?;
        sock.send(&buf[..n]).ok()?;
        let t0 = std::time::Instant::now();
        while t0.elapsed() < Duration::from_millis(300) {
            match sock.recv(&mut rbuf) {
                Ok(n) => {
                    if let Ok(f) = ksocket_core::wire::parse(Link::Ethernet, &rbuf[..n])
                        && let ksocket_core::wire::Packet::Arp {
                            op: 2,
                            sender_ip,
                            sender_mac,
                            target_ip,
                            ..
                        } = f.packet
                        && sender_ip == gw
                        && target_ip == ifc.ip
                    {
                        return Some(sender_mac);
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
    }
    None
}

/// Binds a UDP and a TCP socket to one port, so that replies to our probes find the
/// port taken (the kernel then does not answer them itself with ICMP port unreachable,
/// and no local connection reuses it during the scan).
fn reserve_port() -> io::Result<(std::net::UdpSocket, std::net::TcpListener, u16)> {
    for _ in 0..20 {
        let u = std::net::UdpSocket::bind("0.0.0.0:0")?;
        let port = u.local_addr()?.port();
        if let Ok(t) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            return Ok((u, t, port));
        }
    }
    Err(io::Error::other("no free port for both UDP and TCP"))
}

/// A message for the operator on stderr, and the same in the log.
fn note(level: log::Level, msg: &str) {
    eprintln!(
        "ksocket scan: {}: {msg}",
        if level == log::Level::Warn {
            "WARNING"
        } else {
            "INFO"
        }
    );
    log::log!(level, "{msg}");
}

fn mac_str(m: Mac) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

fn json(ip: &Ipv4Addr, h: &Host, names: &[String]) -> String {
    let mut s = format!("{{\"ip\": \"{ip}\"");
    if let Some(m) = h.mac {
        s.push_str(&format!(", \"mac\": \"{}\"", mac_str(m)));
    }
    let via: Vec<String> = h.via.iter().map(|v| format!("\"{v}\"")).collect();
    s.push_str(&format!(", \"via\": [{}]", via.join(", ")));
    if let Some(r) = h.rtt {
        s.push_str(&format!(", \"rttMs\": {:.3}", r.as_secs_f64() * 1000.0));
    }
    if let Some(n) = names.get(usize::from(h.iface)) {
        s.push_str(&format!(", \"iface\": \"{}\"", escape(n)));
    }
    match &h.snmp {
        Some((cred, Ok(device))) => s.push_str(&format!(
            ", \"snmpCredential\": \"{}\", \"snmp\": {device}",
            escape(cred)
        )),
        Some((cred, Err(e))) => s.push_str(&format!(
            ", \"snmpCredential\": \"{}\", \"snmpError\": \"{}\"",
            escape(cred),
            escape(e)
        )),
        None => {}
    }
    s.push('}');
    s
}

fn escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '"' => "\\\"".chars().collect::<Vec<_>>(),
            '\\' => "\\\\".chars().collect(),
            c if (c as u32) < 0x20 => format!("\\u{:04x}", c as u32).chars().collect(),
            c => vec![c],
        })
        .collect()
}
