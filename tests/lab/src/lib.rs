//! Throwaway network labs of Linux network namespaces, for ksocket's tests and benchmarks.
//!
//! Safety rules, enforced here and not left to each test:
//! - every address given to the lab (interface addresses, routes, next hops) must lie in
//!   the benchmarking range 198.18.0.0/15 (IPv6: 2001:2::/48, see [`v6`]), or the call
//!   fails;
//! - nothing of the lab touches the root namespace: switches are bridges inside their
//!   own namespace, and veth pairs are created from inside the switch namespace
//!   directly into the host namespace;
//! - every namespace is named `kst-<tag>-<pid>-<name>`; a reaper process (in its own
//!   session, so it survives Ctrl-C and SIGKILL of the test) removes every namespace of
//!   the lab's prefix, and kills what runs in them, as soon as the lab is dropped *or*
//!   its creating process dies;
//! - every wait is bounded.
//!
//! Commands run through iproute2 (`ip`), batched (`ip -batch`) where many objects are
//! made at once, so a lab of 200 hosts comes up in a couple of seconds.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub mod corpus;
pub mod names;
pub mod scenario;
pub mod snmpsim;
pub mod sshd;
mod tun;
pub mod v6;

/// Every namespace of every lab starts with this.
pub const PREFIX: &str = "kst-";

/// What every lab namespace reads as `/etc/resolv.conf` (under `ip netns exec`, from
/// `/etc/netns/NS/resolv.conf`): no nameserver, so that nothing run in the lab (the
/// scanner's reverse DNS above all) sends a query to the machine's own resolver. A
/// test that wants names points its namespace at a lab DNS server
/// ([`names::ResolvConf`]).
pub const NO_RESOLVER: &str = "# ksocket lab: no nameserver, so that no DNS query leaves the lab\n";

/// Gives each namespace of `names` the lab's resolv.conf ([`NO_RESOLVER`]).
fn no_resolver(names: &[String]) -> io::Result<()> {
    for n in names {
        let dir = std::path::Path::new("/etc/netns").join(n);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("resolv.conf"), NO_RESOLVER)?;
    }
    Ok(())
}

/// The only addresses a lab may use: 198.18.0.0/15 (RFC 2544 benchmarking).
pub fn in_lab_range(a: Ipv4Addr) -> bool {
    let o = a.octets();
    o[0] == 198 && (o[1] == 18 || o[1] == 19)
}

/// True when running as root (lab tests need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// At the top of a lab test: skip it, with a clear message, when not root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::is_root() {
            eprintln!(
                "SKIP {}: needs root to create network namespaces (CI runs it as root)",
                module_path!()
            );
            return;
        }
    };
}

fn err(msg: String) -> io::Error {
    io::Error::other(msg)
}

/// Parses `a.b.c.d/n` and refuses anything outside the lab range.
pub fn lab_cidr(s: &str) -> io::Result<(Ipv4Addr, u8)> {
    let (a, p) = s
        .split_once('/')
        .ok_or_else(|| err(format!("lab: `{s}` is not a.b.c.d/n")))?;
    let addr: Ipv4Addr = a
        .parse()
        .map_err(|_| err(format!("lab: `{s}`: bad address")))?;
    let prefix: u8 = p
        .parse()
        .map_err(|_| err(format!("lab: `{s}`: bad prefix")))?;
    if !(15..=32).contains(&prefix) {
        return Err(err(format!(
            "lab: `{s}`: prefix must be /15 to /32 to stay in 198.18.0.0/15"
        )));
    }
    lab_addr(&addr.to_string())?;
    Ok((addr, prefix))
}

/// Parses an address and refuses anything outside the lab range.
pub fn lab_addr(s: &str) -> io::Result<Ipv4Addr> {
    let a: Ipv4Addr = s
        .parse()
        .map_err(|_| err(format!("lab: `{s}` is not an IPv4 address")))?;
    if !in_lab_range(a) {
        return Err(err(format!(
            "lab: refusing {a}: lab addresses must be in 198.18.0.0/15"
        )));
    }
    Ok(a)
}

/// A namespace of a lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ns {
    /// The full namespace name (`ip netns` name).
    pub name: String,
}

/// One host to attach to a switch in bulk (see [`Lab::hosts`]).
#[derive(Clone, Debug)]
pub struct HostSpec {
    /// Short name, unique in the lab.
    pub name: String,
    /// `a.b.c.d/n` in 198.18.0.0/15.
    pub cidr: String,
    /// Default gateway, if any.
    pub gateway: Option<String>,
    /// What the host answers.
    pub role: Role,
}

/// What a lab host answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A plain Linux host: ARP, ICMP echo, TCP RST/SYN-ACK.
    Full,
    /// Ignores ICMP echo (net.ipv4.icmp_echo_ignore_all=1); still ARP and TCP.
    NoIcmp,
    /// Answers ARP only: every IPv4 packet is dropped on input (nftables).
    ArpOnly,
}

/// A lab: namespaces under one prefix, removed when dropped or when the process dies.
pub struct Lab {
    prefix: String,
    reaper: Option<Child>,
    made: Vec<String>,
    relays: Vec<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
    scratch: Vec<std::path::PathBuf>,
    /// PID files of the daemons this lab started: stopped by PID at teardown.
    pidfiles: Vec<std::path::PathBuf>,
}

impl Lab {
    /// A new, empty lab. `tag` (letters, digits, `-`) names it in `ip netns list`.
    pub fn new(tag: &str) -> io::Result<Lab> {
        if !is_root() {
            return Err(err("lab: needs root".into()));
        }
        if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(err(format!("lab: bad tag `{tag}`")));
        }
        sweep_orphans();
        names::sweep_resolv_confs(std::path::Path::new("/etc/netns"));
        let prefix = format!("{PREFIX}{tag}-{}-", std::process::id());
        // The reaper waits for EOF on its stdin: the write end lives only in this
        // process (Rust pipes are close-on-exec), so EOF comes when the lab is dropped
        // or when this process dies, however it dies.
        let script = format!(
            "cat >/dev/null; for n in $(ip netns list | awk '{{print $1}}' | grep '^{p}'); do \
               for pid in $(ip netns pids \"$n\" 2>/dev/null); do kill -9 \"$pid\" 2>/dev/null; done; \
               ip netns del \"$n\" 2>/dev/null; \
               rm -f \"/etc/netns/$n/resolv.conf\"; rmdir \"/etc/netns/$n\" 2>/dev/null; done",
            p = prefix.replace('.', "\\.")
        );
        let reaper = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        Ok(Lab {
            prefix,
            reaper: Some(reaper),
            made: Vec::new(),
            relays: Vec::new(),
            scratch: Vec::new(),
            pidfiles: Vec::new(),
        })
    }

    /// The prefix of every namespace of this lab.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Creates namespace `<prefix><name>` with loopback up.
    pub fn ns(&mut self, name: &str) -> io::Result<Ns> {
        let full = self.full(name)?;
        run(Command::new("ip").args(["netns", "add", &full]))?;
        self.made.push(full.clone());
        no_resolver(std::slice::from_ref(&full))?;
        let ns = Ns { name: full };
        self.ip(&ns, &["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Creates a switch: a namespace holding bridge `br0`, up.
    pub fn switch(&mut self, name: &str) -> io::Result<Ns> {
        let ns = self.ns(name)?;
        // A switch is no host: without this its bridge would have an IPv6 link-local
        // address and answer on every link it carries.
        self.sysctl(&ns, "net.ipv6.conf.all.disable_ipv6", "1")?;
        self.sysctl(&ns, "net.ipv6.conf.default.disable_ipv6", "1")?;
        self.ip(&ns, &["link", "add", "br0", "type", "bridge"])?;
        // No STP delay, no multicast snooping surprises; forward at once.
        self.ip(
            &ns,
            &[
                "link",
                "set",
                "br0",
                "type",
                "bridge",
                "forward_delay",
                "0",
                "stp_state",
                "0",
            ],
        )?;
        self.ip(&ns, &["link", "set", "br0", "up"])?;
        Ok(ns)
    }

    /// Connects `host` to switch `sw` with a veth pair: `port` on the bridge side,
    /// `ifname` in the host, which gets address `cidr` (in 198.18.0.0/15).
    pub fn attach(
        &self,
        sw: &Ns,
        port: &str,
        host: &Ns,
        ifname: &str,
        cidr: &str,
    ) -> io::Result<()> {
        lab_cidr(cidr)?;
        self.own(host)?;
        self.own(sw)?;
        self.ip(
            sw,
            &[
                "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", &host.name,
            ],
        )?;
        self.ip(sw, &["link", "set", port, "master", "br0", "up"])?;
        self.ip(host, &["addr", "add", cidr, "dev", ifname])?;
        self.ip(host, &["link", "set", ifname, "up"])?;
        Ok(())
    }

    /// Connects two namespaces directly with a veth pair (a point-to-point cable).
    pub fn cable(
        &self,
        a: &Ns,
        a_if: &str,
        a_cidr: &str,
        b: &Ns,
        b_if: &str,
        b_cidr: &str,
    ) -> io::Result<()> {
        lab_cidr(a_cidr)?;
        lab_cidr(b_cidr)?;
        self.own(a)?;
        self.own(b)?;
        self.ip(
            a,
            &[
                "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name,
            ],
        )?;
        self.ip(a, &["addr", "add", a_cidr, "dev", a_if])?;
        self.ip(a, &["link", "set", a_if, "up"])?;
        self.ip(b, &["addr", "add", b_cidr, "dev", b_if])?;
        self.ip(b, &["link", "set", b_if, "up"])?;
        Ok(())
    }

    /// A point-to-point link with no link layer between `a` and `b`: a TUN device in
    /// each (`IFF_POINTOPOINT`, `ARPHRD_NONE`, like ppp or a VPN tunnel), with a relay
    /// thread of this process copying packets between them. Addresses are /32 with the
    /// other end as peer.
    pub fn tun_link(
        &mut self,
        a: &Ns,
        a_if: &str,
        a_ip: &str,
        b: &Ns,
        b_if: &str,
        b_ip: &str,
    ) -> io::Result<()> {
        lab_addr(a_ip)?;
        lab_addr(b_ip)?;
        self.own(a)?;
        self.own(b)?;
        let (fa, fb) = tun::open_pair(&a.name, a_if, &b.name, b_if)?;
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let h = std::thread::spawn(move || tun::relay(fa, fb, &st));
        self.relays.push((stop, h));
        for (ns, ifn, me, peer) in [(a, a_if, a_ip, b_ip), (b, b_if, b_ip, a_ip)] {
            self.ip(ns, &["addr", "add", me, "peer", peer, "dev", ifn])?;
            self.ip(ns, &["link", "set", ifn, "up"])?;
        }
        Ok(())
    }

    /// Starts net-snmp's `snmpd` in `ns`, listening on `ip`:161, with `extra` appended
    /// to its configuration (`rocommunity ...` lines and the like). Its scratch files
    /// live in a directory removed with the lab; the daemon dies with the namespace.
    /// Waits (up to 10 s) until it answers. Returns its scratch directory (for an
    /// AgentX socket, say); `{dir}` in `extra` is replaced by it.
    pub fn snmpd(&mut self, ns: &Ns, ip: &str, extra: &str) -> io::Result<std::path::PathBuf> {
        self.snmpd_on(ns, &[ip], extra)
    }

    /// As [`Lab::snmpd`], one daemon listening on each of `ips` (port 161).
    pub fn snmpd_on(
        &mut self,
        ns: &Ns,
        ips: &[&str],
        extra: &str,
    ) -> io::Result<std::path::PathBuf> {
        for ip in ips {
            lab_addr(ip)?;
        }
        let ip = *ips
            .first()
            .ok_or_else(|| err("lab: snmpd needs an address".into()))?;
        self.own(ns)?;
        let dir = self.scratch_dir("snmpd")?;
        let conf = dir.join("snmpd.conf");
        let extra = extra.replace("{dir}", &dir.display().to_string());
        let listen: Vec<String> = ips.iter().map(|a| format!("udp:{a}:161")).collect();
        std::fs::write(
            &conf,
            format!("agentaddress {}\n{extra}\n", listen.join(",")),
        )?;
        let state = format!("--persistentDir={}", dir.display());
        let pid = dir.join("snmpd.pid");
        let argv = [
            "snmpd",
            "-Ln",
            "-C",
            "-c",
            &conf.display().to_string(),
            "-p",
            &pid.display().to_string(),
            &state,
            "-I",
            "-smux",
        ];
        let o = self.exec(ns, &argv, Duration::from_secs(10))?;
        check(o, "snmpd")?;
        self.pidfiles.push(pid);
        // Ready when it has bound its port: look for it in the namespace's UDP table.
        let t0 = Instant::now();
        let want = format!("{ip}:161");
        while t0.elapsed() < Duration::from_secs(10) {
            let o = self.exec(ns, &["ss", "-Hlun"], Duration::from_secs(5))?;
            if String::from_utf8_lossy(&o.stdout).contains(&want) {
                return Ok(dir);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(err(format!("lab: snmpd on {ip} did not start listening")))
    }

    /// A scratch directory under the system's temporary directory, removed with the
    /// lab (also when a test fails half-way).
    pub fn scratch_dir(&mut self, name: &str) -> io::Result<std::path::PathBuf> {
        let dir =
            std::env::temp_dir().join(format!("{}{}-{name}", self.prefix, self.scratch.len()));
        std::fs::create_dir_all(&dir)?;
        self.scratch.push(dir.clone());
        Ok(dir)
    }

    /// Creates many hosts on switch `sw` at once, each with interface `eth0`.
    pub fn hosts(&mut self, sw: &Ns, specs: &[HostSpec]) -> io::Result<Vec<Ns>> {
        self.own(sw)?;
        let mut add = String::new();
        let mut names = Vec::with_capacity(specs.len());
        for s in specs {
            lab_cidr(&s.cidr)?;
            if let Some(g) = &s.gateway {
                lab_addr(g)?;
            }
            let full = self.full(&s.name)?;
            writeln!(add, "netns add {full}").ok();
            names.push(full);
        }
        batch(None, &add)?;
        self.made.extend(names.iter().cloned());
        no_resolver(&names)?;
        let mut links = String::new();
        for (i, full) in names.iter().enumerate() {
            writeln!(links, "link add p{i} type veth peer name eth0 netns {full}").ok();
            writeln!(links, "link set p{i} master br0 up").ok();
        }
        batch(Some(sw), &links)?;
        let mut out = Vec::with_capacity(specs.len());
        for (s, full) in specs.iter().zip(names) {
            let ns = Ns { name: full };
            let mut cmds = format!(
                "link set lo up\naddr add {} dev eth0\nlink set eth0 up\n",
                s.cidr
            );
            if let Some(g) = &s.gateway {
                writeln!(cmds, "route add default via {g}").ok();
            }
            batch(Some(&ns), &cmds)?;
            self.set_role(&ns, s.role)?;
            out.push(ns);
        }
        Ok(out)
    }

    /// Makes `ns` answer as `role` says.
    pub fn set_role(&self, ns: &Ns, role: Role) -> io::Result<()> {
        match role {
            Role::Full => Ok(()),
            Role::NoIcmp => self.sysctl(ns, "net.ipv4.icmp_echo_ignore_all", "1"),
            Role::ArpOnly => self.nft(
                ns,
                "table ip kst { chain in { type filter hook input priority 0; policy drop; }; }",
            ),
        }
    }

    /// Adds a route in `ns`: `dest` (CIDR or `default`) via `gw`.
    pub fn route(&self, ns: &Ns, dest: &str, gw: &str) -> io::Result<()> {
        if dest != "default" {
            lab_cidr(dest)?;
        }
        lab_addr(gw)?;
        self.ip(ns, &["route", "add", dest, "via", gw])
    }

    /// Sets a sysctl inside `ns` (only `net.*` keys, which are per namespace).
    pub fn sysctl(&self, ns: &Ns, key: &str, value: &str) -> io::Result<()> {
        if !key.starts_with("net.") || key.contains("..") || key.contains('/') {
            return Err(err(format!(
                "lab: sysctl `{key}` is not a per-namespace net.* key"
            )));
        }
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        run(Command::new("ip").args([
            "netns",
            "exec",
            &ns.name,
            "sh",
            "-c",
            &format!("echo {value} > {path}"),
        ]))
        .map(drop)
    }

    /// Loads an nftables ruleset inside `ns` (needs the `nft` tool).
    pub fn nft(&self, ns: &Ns, ruleset: &str) -> io::Result<()> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.name, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                err(format!(
                    "lab: cannot run nft (apt-get install nftables): {e}"
                ))
            })?;
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(ruleset.as_bytes())?;
        check(child.wait_with_output()?, "nft -f -")
    }

    /// Adds another lab address to `dev` in `ns`.
    pub fn add_addr(&self, ns: &Ns, dev: &str, cidr: &str) -> io::Result<()> {
        lab_cidr(cidr)?;
        self.ip(ns, &["addr", "add", cidr, "dev", dev])
    }

    /// Runs `ip ARGS` inside `ns`.
    pub fn ip(&self, ns: &Ns, args: &[&str]) -> io::Result<()> {
        run(Command::new("ip").arg("-n").arg(&ns.name).args(args)).map(drop)
    }

    /// Runs a command inside `ns` and waits for it, at most `limit`.
    pub fn exec(&self, ns: &Ns, argv: &[&str], limit: Duration) -> io::Result<Output> {
        self.own(ns)?;
        let child = self
            .command(ns, argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        wait_output(child, limit)
    }

    /// [`Lab::exec`] under GNU time: the output, and the command's peak RSS in KiB
    /// (`%M`; `None` if time did not say).
    pub fn exec_timed(
        &self,
        ns: &Ns,
        argv: &[&str],
        limit: Duration,
    ) -> io::Result<(Output, Option<u64>)> {
        let mut timed = vec!["/usr/bin/time", "-f", "KST-RSS %M"];
        timed.extend_from_slice(argv);
        let o = self.exec(ns, &timed, limit)?;
        let rss = String::from_utf8_lossy(&o.stderr)
            .lines()
            .find_map(|l| l.strip_prefix("KST-RSS "))
            .and_then(|v| v.trim().parse().ok());
        Ok((o, rss))
    }

    /// A `Command` that runs `argv` inside `ns` (spawn it yourself).
    pub fn command(&self, ns: &Ns, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &ns.name]).args(argv);
        c
    }

    /// The namespaces this lab has made.
    pub fn namespaces(&self) -> &[String] {
        &self.made
    }

    /// Removes every namespace of the lab now, and waits (bounded) until it is done.
    pub fn teardown(mut self) -> io::Result<()> {
        self.reap()
    }

    fn reap(&mut self) -> io::Result<()> {
        let r = self.reap_namespaces();
        for n in &self.made {
            let dir = std::path::Path::new("/etc/netns").join(n);
            let _ = std::fs::remove_file(dir.join("resolv.conf"));
            let _ = std::fs::remove_dir(dir);
        }
        // After the processes of the lab are gone, so none writes there any more.
        for d in self.scratch.drain(..) {
            let _ = std::fs::remove_dir_all(d);
        }
        r
    }

    fn reap_namespaces(&mut self) -> io::Result<()> {
        for (stop, h) in self.relays.drain(..) {
            stop.store(true, Ordering::Relaxed);
            let _ = h.join();
        }
        self.stop_daemons();
        let Some(mut r) = self.reaper.take() else {
            return Ok(());
        };
        drop(r.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if r.try_wait()?.is_some() {
                break;
            }
            if Instant::now() > deadline {
                let _ = r.kill();
                return Err(err(format!(
                    "lab: teardown of {} took over 30 s",
                    self.prefix
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let left = list_namespaces()?
            .into_iter()
            .filter(|n| n.starts_with(&self.prefix))
            .count();
        if left > 0 {
            return Err(err(format!(
                "lab: {left} namespaces of {} remain after teardown",
                self.prefix
            )));
        }
        Ok(())
    }

    /// Stops the daemons this lab started, by the PIDs they wrote, and only those
    /// still inside one of this lab's namespaces (a PID may have been reused). A
    /// daemon of the same name elsewhere on the machine is never touched.
    fn stop_daemons(&mut self) {
        let ours = |pid: u32| {
            let Ok(ns) = std::fs::metadata(format!("/proc/{pid}/ns/net")) else {
                return false;
            };
            self.made.iter().any(|n| {
                std::fs::metadata(format!("/run/netns/{n}"))
                    .is_ok_and(|m| (m.dev(), m.ino()) == (ns.dev(), ns.ino()))
            })
        };
        let pids: Vec<u32> = self
            .pidfiles
            .drain(..)
            .filter_map(|f| std::fs::read_to_string(f).ok()?.trim().parse().ok())
            .filter(|&p| p > 1 && ours(p))
            .collect();
        // Gone, or a zombie waiting for its parent.
        let alive = |p: u32| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|st| {
                st.rsplit_once(") ")
                    .is_some_and(|(_, rest)| !rest.starts_with('Z'))
            })
        };
        for sig in [libc::SIGTERM, libc::SIGKILL] {
            let live: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
            for &p in &live {
                // SAFETY: kill has no memory preconditions; p is a daemon of this lab.
                unsafe { libc::kill(p as libc::pid_t, sig) };
            }
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(2) && live.iter().any(|&p| alive(p)) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    fn full(&self, name: &str) -> io::Result<String> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(err(format!("lab: bad namespace name `{name}`")));
        }
        Ok(format!("{}{name}", self.prefix))
    }

    fn own(&self, ns: &Ns) -> io::Result<()> {
        if ns.name.starts_with(&self.prefix) {
            Ok(())
        } else {
            Err(err(format!(
                "lab: {} is not a namespace of this lab",
                ns.name
            )))
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Err(e) = self.reap() {
            eprintln!("{e}");
        }
    }
}

/// The names of all network namespaces (`ip netns list`).
pub fn list_namespaces() -> io::Result<Vec<String>> {
    let out = run(Command::new("ip").args(["netns", "list"]))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect())
}

/// Removes `kst-*` namespaces left by labs whose process no longer exists (a lab
/// whose reaper was itself killed, say). Namespaces of live processes are left alone.
pub fn sweep_orphans() {
    let Ok(all) = list_namespaces() else { return };
    for n in all {
        let Some(rest) = n.strip_prefix(PREFIX) else {
            continue;
        };
        // kst-<tag>-<pid>-<name>: find a numeric field whose process is gone.
        let pid = rest.split('-').find_map(|f| f.parse::<u32>().ok());
        if let Some(pid) = pid
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = Command::new("ip").args(["netns", "del", &n]).output();
        }
    }
}

fn batch(ns: Option<&Ns>, cmds: &str) -> io::Result<()> {
    let mut c = Command::new("ip");
    if let Some(ns) = ns {
        c.arg("-n").arg(&ns.name);
    }
    let mut child = c
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(cmds.as_bytes())?;
    check(wait_output(child, Duration::from_secs(60))?, "ip -batch")
}

fn run(c: &mut Command) -> io::Result<Output> {
    let what = format!("{c:?}");
    let child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = wait_output(child, Duration::from_secs(30))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(err(format!(
            "lab: {what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

fn check(out: Output, what: &str) -> io::Result<()> {
    if out.status.success() {
        Ok(())
    } else {
        Err(err(format!(
            "lab: {what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Waits for `child`, killing it after `limit`; collects its output.
pub fn wait_output(mut child: Child, limit: Duration) -> io::Result<Output> {
    use std::io::Read;
    // Read pipes on threads so a chatty child cannot block on a full pipe.
    let mut so = child.stdout.take();
    let mut se = child.stderr.take();
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = so.as_mut() {
            let _ = s.read_to_end(&mut v);
        }
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = se.as_mut() {
            let _ = s.read_to_end(&mut v);
        }
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("lab: command ran over {limit:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(Output {
        status,
        stdout: t1.join().unwrap_or_default(),
        stderr: t2.join().unwrap_or_default(),
    })
}

use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
