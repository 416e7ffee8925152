//! SSH details of scanned hosts (spec §6: OS name and version, the deb/RPM package
//! list), as a pipeline collector, and for `ksocket ssh`.
//!
//! For each host, the ssh credential files that match it are tried in spec §7 order
//! until one logs in. Each try: connect (through the file's `sshTunnels`, each hop
//! logged into with the credentials that match the hop), check the host key (pins of
//! the file, else trust on first use in `var/known_hosts`) before anything is
//! authenticated, log in (client keys first, then the password), run two commands
//! (OS, packages) and read their output as it streams. Every failure is kept in the
//! record; at most `max_auth_failures` password logins are refused per host, so that
//! several password files never lock an account.

use super::commands::{self, PackageReader};
use super::known::{self, Pins};
use super::session::{AuthResult, Options, Session, SshError};
use crate::credentials::secret::Secret;
use crate::credentials::{Credential, Protocol, Scope, Store};
use crate::pipeline::interface::{Collector, LocalFuture};
use ksocket_proto::records::ssh::{Attempt, Inventory};
use ksocket_proto::records::{CollectError, ErrorKind, Section};
use ksocket_ssh::keys::PrivateKey;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::ControlFlow;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Password logins refused per host before the next files are left untried.
pub const MAX_AUTH_FAILURES: u32 = 3;

/// One ssh credential file, read once per scan (its keys decrypted once).
pub struct SshCred {
    /// The file, never a secret.
    pub label: String,
    pub port: u16,
    pub timeout: Duration,
    pub tunnels: Vec<Ipv4Addr>,
    pub legacy: bool,
    pub user: String,
    password: Option<Secret>,
    /// Each client key, or why it cannot be used (said in the result).
    keys: Vec<Result<Rc<PrivateKey>, String>>,
    pins: Result<Option<Pins>, String>,
    scope: Scope,
}

impl SshCred {
    pub fn file(path: &Path, s: &crate::credentials::Ssh, scope: &Scope) -> SshCred {
        let label = path.display().to_string();
        let dir = path.parent().unwrap_or(Path::new("."));
        let keys = s
            .account
            .client_keys
            .iter()
            .map(|k| {
                let p = dir.join(&k.filename);
                let text = crate::sys::files::read_bounded(&p, 1 << 20)
                    .map_err(|e| format!("client key {}: {e}", p.display()))?;
                let pass = k.passphrase.as_ref().map(|p| p.expose().as_bytes());
                PrivateKey::from_text(&text, pass)
                    .map(Rc::new)
                    .map_err(|e| format!("client key {}: {e}", p.display()))
            })
            .collect();
        SshCred {
            pins: known::pins(&label, dir, &s.host_keys, s.known_hosts.as_deref()),
            label,
            port: s.port,
            timeout: Duration::from_secs_f64(s.timeout.clamp(0.01, 3600.0)),
            tunnels: s
                .ssh_tunnels
                .iter()
                .filter_map(|h| h.parse().ok())
                .collect(),
            legacy: s.legacy_algorithms,
            user: s.account.username.clone(),
            password: s.account.password.clone(),
            keys,
            scope: scope.clone(),
        }
    }

    pub fn applies(&self, ip: Ipv4Addr) -> bool {
        self.scope.applies(ip)
    }
}

/// The SSH collector of a scan (or of `ksocket ssh`).
pub struct SshCollector {
    creds: Vec<SshCred>,
    known: known::Store,
    max_auth_failures: u32,
    /// In scans: only hosts whose SSH port accepts a connection are collected.
    probe: bool,
    /// The scan's port sweep: the TCP ports swept, and each host's open ones. A
    /// credential's port among those swept is not probed again: open or not, the sweep
    /// said.
    swept: Option<(Vec<u16>, OpenPorts)>,
}

/// Each host's open TCP ports, from the scan's port sweep.
pub type OpenPorts = std::collections::HashMap<Ipv4Addr, Vec<u16>>;

/// Connection probes in flight at once (`prepare` in scans).
const PROBES_AT_ONCE: usize = 64;

/// How one try ended.
struct Failure {
    error: CollectError,
    /// Password logins the host refused during the try.
    refused: u32,
    /// Whether the next file may be tried (not after a host key mismatch).
    go_on: bool,
}

impl Failure {
    fn stop(error: CollectError) -> Failure {
        Failure {
            error,
            refused: 0,
            go_on: false,
        }
    }
    fn next(error: CollectError) -> Failure {
        Failure {
            error,
            refused: 0,
            go_on: true,
        }
    }
}

fn err(kind: ErrorKind, message: String) -> CollectError {
    CollectError { kind, message }
}

fn ssh_err(e: &SshError) -> CollectError {
    use super::session::ErrorKind as K;
    let kind = match e.kind() {
        K::Refused => ErrorKind::Refused,
        K::Timeout => ErrorKind::Timeout,
        K::Auth => ErrorKind::Auth,
        K::HostKey => ErrorKind::HostKey,
        K::Protocol | K::Closed => ErrorKind::Protocol,
        K::Limit => ErrorKind::Incomplete,
    };
    err(kind, e.to_string())
}

/// The most output one command may give (the package list of a big host is a few MB).
const MAX_OUTPUT: usize = 32 << 20;

impl SshCollector {
    /// Every ssh credential file of the store (or only `only`, when given), and the
    /// known_hosts file of `$KSOCKET_HOME/var`.
    pub fn new(store: &Store, max_auth_failures: u32) -> SshCollector {
        let creds = store
            .of(Protocol::Ssh)
            .filter_map(|e| match &e.cred {
                Credential::Ssh(s) => Some(SshCred::file(&e.path, s, &e.scope)),
                _ => None,
            })
            .collect();
        Self::with(creds, max_auth_failures)
    }

    pub fn with(creds: Vec<SshCred>, max_auth_failures: u32) -> SshCollector {
        SshCollector {
            creds,
            known: known::Store::open(crate::config::home().join("var/known_hosts")),
            max_auth_failures,
            probe: false,
            swept: None,
        }
    }

    /// Collects only hosts whose port answers (a scan: a host without SSH gets no ssh
    /// section rather than a "connection refused").
    pub fn probing_ports(mut self) -> SshCollector {
        self.probe = true;
        self
    }

    /// What the scan's port sweep found: `ports` were swept on every host, and
    /// `open` has each host's open ones. A credential whose port was swept then
    /// applies only where it is open, without a probe of its own.
    pub fn swept(mut self, ports: Vec<u16>, open: OpenPorts) -> SshCollector {
        self.swept = Some((ports, open));
        self
    }

    /// Whether the sweep decided `port` of `ip`: `Some(open)`.
    fn swept_open(&self, ip: Ipv4Addr, port: u16) -> Option<bool> {
        let (ports, open) = self.swept.as_ref()?;
        ports
            .contains(&port)
            .then(|| open.get(&ip).is_some_and(|o| o.contains(&port)))
    }

    /// The hosts worth a login: those reached through a jump host (their port cannot
    /// be probed from here), and those whose port of a matching file is open in the
    /// port sweep or, when not swept, accepts a TCP connection within that file's
    /// timeout (at most 3 s).
    async fn reachable(&self, hosts: &[Ipv4Addr]) -> Vec<Ipv4Addr> {
        if !self.probe {
            return hosts.to_vec();
        }
        let mut out = Vec::new();
        for batch in hosts.chunks(PROBES_AT_ONCE) {
            let ex = smol::LocalExecutor::new();
            let tasks: Vec<_> = batch
                .iter()
                .map(|&ip| {
                    let direct = || self.matching(ip).filter(|c| c.tunnels.is_empty());
                    let open = direct().any(|c| self.swept_open(ip, c.port) == Some(true));
                    let probes: Vec<(u16, Duration)> = direct()
                        .filter(|c| self.swept_open(ip, c.port).is_none())
                        .map(|c| (c.port, c.timeout.min(Duration::from_secs(3))))
                        .collect();
                    let tunnelled = self.matching(ip).any(|c| !c.tunnels.is_empty());
                    ex.spawn(async move {
                        if tunnelled || open {
                            return Some(ip);
                        }
                        let mut tried = Vec::new();
                        for (port, t) in probes {
                            if tried.contains(&port) {
                                continue;
                            }
                            tried.push(port);
                            let addr = SocketAddr::from((ip, port));
                            let connect = async {
                                smol::Async::<std::net::TcpStream>::connect(addr)
                                    .await
                                    .is_ok()
                            };
                            let timeout = async {
                                smol::Timer::after(t).await;
                                false
                            };
                            if smol::future::or(connect, timeout).await {
                                return Some(ip);
                            }
                        }
                        log::info!("host {ip}: no SSH port answers; not collected over SSH");
                        None
                    })
                })
                .collect();
            ex.run(async {
                for t in tasks {
                    if let Some(ip) = t.await {
                        out.push(ip);
                    }
                }
            })
            .await;
        }
        out
    }

    pub fn matching(&self, ip: Ipv4Addr) -> impl Iterator<Item = &SshCred> {
        self.creds.iter().filter(move |c| c.applies(ip))
    }

    /// Tries the files that match `ip` in order until one reads the host.
    pub async fn collect_host(&self, ip: Ipv4Addr, deadline: Instant) -> Section {
        let mut attempts = Vec::new();
        // Files left untried once maxAuthFailures logins were refused.
        let mut skipped = Vec::new();
        let mut refused = 0;
        let mut last: Option<(String, CollectError)> = None;
        // Connections that failed before any login (port, tunnels, legacy algorithms
        // or not): not tried again with the next file.
        let mut dead: Vec<(u16, Vec<Ipv4Addr>, bool)> = Vec::new();
        for c in self.matching(ip) {
            if Instant::now() >= deadline {
                last = Some((
                    c.label.clone(),
                    err(
                        ErrorKind::Timeout,
                        "the host's time limit was reached".into(),
                    ),
                ));
                break;
            }
            if refused >= self.max_auth_failures {
                let e = err(
                    ErrorKind::Auth,
                    format!(
                        "not tried: {refused} logins already refused on this host \
                         (maxAuthFailures {})",
                        self.max_auth_failures
                    ),
                );
                skipped.push(Attempt {
                    credential: c.label.clone(),
                    kind: e.kind,
                    message: e.message,
                });
                continue;
            }
            let route = (c.port, c.tunnels.clone(), c.legacy);
            if dead.contains(&route) {
                continue;
            }
            let budget = deadline.saturating_duration_since(Instant::now());
            let tried = smol::future::or(self.try_cred(c, ip, refused, deadline), async {
                smol::Timer::after(budget).await;
                Err(Failure::next(err(
                    ErrorKind::Timeout,
                    format!("the host's time limit ({} s) was reached", budget.as_secs()),
                )))
            })
            .await;
            match tried {
                Ok(inv) => {
                    log::info!("host {ip}: SSH inventory read with {}", c.label);
                    return Section::Ssh {
                        credential: Some(c.label.clone()),
                        attempts,
                        result: Ok(inv),
                    };
                }
                Err(f) => {
                    log::warn!("host {ip}: SSH with {}: {}", c.label, f.error.message);
                    refused += f.refused;
                    if matches!(
                        f.error.kind,
                        ErrorKind::Refused | ErrorKind::Timeout | ErrorKind::Protocol
                    ) {
                        dead.push(route);
                    }
                    attempts.push(Attempt {
                        credential: c.label.clone(),
                        kind: f.error.kind,
                        message: f.error.message.clone(),
                    });
                    last = Some((c.label.clone(), f.error));
                    if !f.go_on {
                        break;
                    }
                }
            }
        }
        // The last failure is the record's error; the ones before it are attempts,
        // then the files the limit left untried.
        attempts.pop();
        let (credential, mut e) = last.unwrap_or_else(|| {
            (
                String::new(),
                err(ErrorKind::Failed, "no ssh credential applies".into()),
            )
        });
        if !skipped.is_empty() {
            e.message = format!(
                "{}; {} more file(s) not tried: {refused} logins refused on this host \
                 (maxAuthFailures {})",
                e.message,
                skipped.len(),
                self.max_auth_failures
            );
            attempts.extend(skipped);
        }
        Section::Ssh {
            credential: (!credential.is_empty()).then_some(credential),
            attempts,
            result: Err(e),
        }
    }

    /// One credential file: connect (through its tunnels), check keys, log in, read.
    async fn try_cred(
        &self,
        c: &SshCred,
        ip: Ipv4Addr,
        refused_before: u32,
        deadline: Instant,
    ) -> Result<Inventory, Failure> {
        let pins = c
            .pins
            .as_ref()
            .map_err(|e| Failure::next(err(ErrorKind::Failed, format!("pinned host keys: {e}"))))?;
        let opts = Options {
            timeout: c.timeout,
            legacy: c.legacy,
            max_output: MAX_OUTPUT,
            until: Some(deadline),
        };
        let mut refused = 0;
        // The hops, then the target: each with its address and port.
        let mut path: Vec<(Ipv4Addr, u16)> = Vec::new();
        for hop in &c.tunnels {
            let port = self.matching(*hop).next().map_or(22, |h| h.port);
            path.push((*hop, port));
        }
        path.push((ip, c.port));
        let (first, first_port) = path[0];
        let mut session = Session::connect(SocketAddr::from((first, first_port)), &opts)
            .await
            .map_err(|e| Failure::next(in_hop(&ssh_err(&e), first, ip)))?;
        for (i, &(hop, port)) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            if i > 0 {
                session
                    .tunnel(&hop.to_string(), port)
                    .await
                    .map_err(|e| Failure::next(in_hop(&ssh_err(&e), path[i - 1].0, ip)))?;
            }
            let hop_pins = if last {
                pins.as_ref()
            } else {
                // A hop is checked against the pins of the first file that matches it.
                self.matching(hop)
                    .next()
                    .and_then(|h| h.pins.as_ref().ok())
                    .and_then(|p| p.as_ref())
            };
            self.known
                .check(hop, port, session.host_key(), hop_pins)
                .map_err(|e| Failure::stop(in_hop(&e, hop, ip)))?;
            if last {
                refused += self.login(&mut session, c).await.map_err(|mut f| {
                    f.refused += refused;
                    f
                })?;
            } else {
                let mut done = false;
                let mut why = None;
                for h in self.matching(hop) {
                    if refused_before + refused >= self.max_auth_failures {
                        break;
                    }
                    match self.login(&mut session, h).await {
                        Ok(n) => {
                            refused += n;
                            done = true;
                            break;
                        }
                        Err(f) if f.error.kind == ErrorKind::Auth => {
                            refused += f.refused;
                            why = Some(format!("{}: {}", h.label, f.error.message));
                        }
                        Err(f) => return Err(Failure::next(in_hop(&f.error, hop, ip))),
                    }
                }
                if !done {
                    return Err(Failure {
                        error: err(
                            ErrorKind::Auth,
                            format!(
                                "jump host {hop}: no ssh credential logs in ({})",
                                why.unwrap_or_else(|| "none applies".into())
                            ),
                        ),
                        refused,
                        go_on: true,
                    });
                }
            }
        }
        let mut inv = self.read(&mut session, c).await.map_err(|e| Failure {
            error: e,
            refused,
            go_on: true,
        })?;
        inv.tunnels = c.tunnels.iter().map(|h| h.to_string()).collect();
        inv.legacy_algorithms = session
            .legacy_used()
            .into_iter()
            .map(String::from)
            .collect();
        session.close().await;
        Ok(inv)
    }

    /// Logs into the innermost hop with `c`'s account: each client key, then the
    /// password. Returns the password logins refused on the way.
    async fn login(&self, session: &mut Session, c: &SshCred) -> Result<u32, Failure> {
        let mut methods: Vec<String> = Vec::new();
        let mut problems: Vec<String> = Vec::new();
        for k in &c.keys {
            match k {
                Ok(key) => match session.auth_key(&c.user, key).await {
                    Ok(AuthResult::Success) => return Ok(0),
                    Ok(AuthResult::Refused { methods: m }) => {
                        problems.push(format!("key {} refused", key.public().fingerprint()));
                        methods = m;
                    }
                    Err(e) => return Err(Failure::next(ssh_err(&e))),
                },
                Err(why) => problems.push(why.clone()),
            }
        }
        let mut refused = 0;
        if let Some(pw) = &c.password {
            match session.auth_password(&c.user, pw.expose()).await {
                Ok(AuthResult::Success) => return Ok(0),
                Ok(AuthResult::Refused { methods: m }) => {
                    refused = 1;
                    problems.push("password refused".into());
                    methods = m;
                }
                Err(e) => {
                    return Err(Failure {
                        error: ssh_err(&e),
                        refused: 0,
                        go_on: true,
                    });
                }
            }
        }
        if c.keys.is_empty() && c.password.is_none() {
            problems.push("the file has neither a password nor a client key".into());
        }
        let offered = if methods.is_empty() {
            String::new()
        } else {
            format!("; the server accepts {}", methods.join(", "))
        };
        Err(Failure {
            error: err(
                ErrorKind::Auth,
                format!(
                    "login as {} refused ({}){offered}",
                    c.user,
                    problems.join("; ")
                ),
            ),
            refused,
            go_on: true,
        })
    }

    /// Runs the OS and package commands; the package list is parsed as it streams.
    async fn read(&self, session: &mut Session, _c: &SshCred) -> Result<Inventory, CollectError> {
        let mut os_out = Vec::new();
        let mut over = false;
        let exit = session
            .exec(commands::OS_COMMAND, &mut |chunk| {
                let room = commands::OS_LIMIT.saturating_sub(os_out.len());
                os_out.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() > room {
                    over = true;
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .await
            .map_err(|e| ssh_err(&e))?;
        if exit.status.is_none() && !over {
            return Err(err(
                ErrorKind::Protocol,
                format!(
                    "the OS command ended without an exit status{}",
                    exit.signal
                        .map(|s| format!(" (signal {s})"))
                        .unwrap_or_default()
                ),
            ));
        }
        let os = commands::parse_os(&os_out);
        let mut reader = PackageReader::default();
        let exit = session
            .exec(commands::PACKAGES_COMMAND, &mut |chunk| {
                reader.feed(chunk);
                ControlFlow::Continue(())
            })
            .await
            .map_err(|e| ssh_err(&e))?;
        let (packages, mut note) = reader.finish();
        if exit.status != Some(0) {
            let stderr = String::from_utf8_lossy(&exit.stderr);
            let first = stderr.lines().next().unwrap_or("").trim();
            let why = format!(
                "the package command ended with {}{}",
                exit.status
                    .map(|s| format!("status {s}"))
                    .or(exit.signal.map(|s| format!("signal {s}")))
                    .unwrap_or_else(|| "no status".into()),
                if first.is_empty() {
                    String::new()
                } else {
                    format!(": {first}")
                }
            );
            note = Some(match note {
                Some(n) => format!("{n}; {why}"),
                None => why,
            });
        }
        Ok(Inventory {
            host_key: session.host_key().fingerprint(),
            host_key_type: session.host_key().key_type().to_string(),
            server: session.server_version().to_string(),
            os,
            packages,
            packages_note: note,
            ..Inventory::default()
        })
    }
}

/// An error met at a jump host says which.
fn in_hop(e: &CollectError, hop: Ipv4Addr, target: Ipv4Addr) -> CollectError {
    if hop == target {
        e.clone()
    } else {
        err(e.kind, format!("jump host {hop}: {}", e.message))
    }
}

impl Collector for SshCollector {
    fn name(&self) -> &'static str {
        "ssh"
    }

    fn applies(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v) => self.matching(v).next().is_some(),
            IpAddr::V6(_) => false,
        }
    }

    fn prepare<'a>(&'a self, hosts: &'a [IpAddr]) -> LocalFuture<'a, Vec<IpAddr>> {
        Box::pin(async move {
            let v4 = crate::pipeline::interface::ipv4_only(hosts);
            self.reachable(&v4)
                .await
                .into_iter()
                .map(IpAddr::V4)
                .collect()
        })
    }

    fn collect(&self, ip: IpAddr, deadline: Instant) -> LocalFuture<'_, Section> {
        match ip {
            IpAddr::V4(v) => Box::pin(self.collect_host(v, deadline)),
            IpAddr::V6(_) => {
                let s = self.timed_out("IPv6 hosts are not collected".into());
                Box::pin(async move { s })
            }
        }
    }

    fn timed_out(&self, why: String) -> Section {
        Section::Ssh {
            credential: None,
            attempts: Vec::new(),
            result: Err(err(ErrorKind::Timeout, why)),
        }
    }
}
