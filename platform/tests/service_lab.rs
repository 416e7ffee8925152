//! The service mode end to end (issue 12): the real `ksocket connect` against the real
//! `ksocket-controller`, both inside a lab namespace (root only; skipped otherwise),
//! the agent scanning the lab's hosts. Faults are real: a TCP relay that cuts the
//! connection at random points, `kill -9` of the agent, a torn spool record, a
//! controller restart, wrong/revoked/taken tokens, TLS refusals, an HTTP proxy.
//! After each, every record of every operation is in the controller exactly once.
//!
//! The controller runs on SQLite, and on PostgreSQL too when KSOCKET_TEST_POSTGRES
//! names a throwaway cluster (scripts/pg-cluster.sh; the cluster listens on the root
//! namespace's loopback, so those runs reach it through a relay thread).

use ksocket_lab::{Lab, Ns, require_root};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KSOCKET: &str = env!("CARGO_BIN_EXE_ksocket");

/// The controller binary of this workspace (built by `cargo test --workspace`; built
/// here when a lone `cargo test -p ksocket` has not).
fn controller_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let bin = dir.join("ksocket-controller");
    if !bin.exists() {
        let st = Command::new(env!("CARGO"))
            .args(["build", "-p", "ksocket-controller"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .status()
            .unwrap();
        assert!(st.success(), "cannot build ksocket-controller");
    }
    bin
}

/// Enters `ns` on this thread (network namespaces are per thread); `""`: the
/// namespace the test started in (`ORIGIN`, opened before any thread moved).
fn enter(ns: &str) {
    if ns.is_empty() {
        let f = ORIGIN.get().expect("the origin namespace was not kept");
        // SAFETY: setns on a valid namespace fd; it changes this thread only.
        let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns back to the origin namespace");
        return;
    }
    let f = std::fs::File::open(format!("/var/run/netns/{ns}")).unwrap();
    // SAFETY: setns on a valid namespace fd; it changes this thread only.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(r, 0, "setns {ns}");
}

/// The network namespace of the test's main threads.
static ORIGIN: std::sync::OnceLock<std::fs::File> = std::sync::OnceLock::new();

/// A TCP relay on 127.0.0.1 inside `ns` (to `to`, reached from `to_ns`, or from the
/// root namespace when None) whose connections can be cut at will.
struct Relay {
    port: u16,
    /// Where new connections go (changed by [`Relay::retarget`]).
    target: Arc<Mutex<(String, u16)>>,
    stop: Arc<AtomicBool>,
    /// While set, connections are accepted and closed at once (a dead controller).
    paused: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    cuts: Arc<AtomicU64>,
}

impl Relay {
    fn start(ns: &str, to: (String, u16), to_ns: Option<String>) -> Relay {
        ORIGIN.get_or_init(|| std::fs::File::open("/proc/thread-self/ns/net").unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (ptx, prx) = std::sync::mpsc::channel();
        let target = Arc::new(Mutex::new(to));
        let paused = Arc::new(AtomicBool::new(false));
        let (s, c, ns, t) = (stop.clone(), conns.clone(), ns.to_string(), target.clone());
        let pz = paused.clone();
        std::thread::spawn(move || {
            enter(&ns);
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.set_nonblocking(true).unwrap();
            ptx.send(l.local_addr().unwrap().port()).unwrap();
            // Bounded: the test's own time limit stops it at the latest.
            let t0 = Instant::now();
            while !s.load(Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(1800) {
                match l.accept() {
                    Ok((a, _)) if pz.load(Ordering::Relaxed) => drop(a),
                    Ok((a, _)) => {
                        a.set_nonblocking(false).unwrap();
                        let to = t.lock().unwrap().clone();
                        let to_ns = to_ns.clone();
                        let ns = ns.clone();
                        // The upstream socket is made in its own namespace.
                        let b = std::thread::spawn(move || {
                            enter(to_ns.as_deref().unwrap_or(&ns));
                            TcpStream::connect((to.0.as_str(), to.1))
                        })
                        .join()
                        .unwrap();
                        let Ok(b) = b else { continue };
                        c.lock().unwrap().push(a.try_clone().unwrap());
                        c.lock().unwrap().push(b.try_clone().unwrap());
                        for (mut x, mut y) in
                            [(a.try_clone().unwrap(), b.try_clone().unwrap()), (b, a)]
                        {
                            std::thread::spawn(move || {
                                let mut buf = [0u8; 16384];
                                loop {
                                    match x.read(&mut buf) {
                                        Ok(0) | Err(_) => break,
                                        Ok(n) => {
                                            if y.write_all(&buf[..n]).is_err() {
                                                break;
                                            }
                                        }
                                    }
                                }
                                let _ = y.shutdown(Shutdown::Both);
                                let _ = x.shutdown(Shutdown::Both);
                            });
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        let port = prx.recv_timeout(Duration::from_secs(10)).unwrap();
        Relay {
            port,
            target,
            stop,
            paused,
            conns,
            cuts: Arc::default(),
        }
    }

    /// The controller is unreachable (every connection cut, new ones closed) until
    /// [`Relay::resume`].
    fn pause(&self) {
        self.paused.store(true, Ordering::Relaxed);
        self.cut();
    }

    fn resume(&self) {
        self.paused.store(false, Ordering::Relaxed);
    }

    /// Sends new connections to `port` on 127.0.0.1 from now on.
    fn retarget(&self, port: u16) {
        *self.target.lock().unwrap() = ("127.0.0.1".into(), port);
    }

    /// Cuts every connection through the relay now (both ways, like a dead link).
    fn cut(&self) {
        let mut c = self.conns.lock().unwrap();
        for s in c.drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        self.cuts.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.cut();
    }
}

/// A controller in the lab's scanner namespace.
struct Controller {
    bin: PathBuf,
    data: PathBuf,
    database: Option<String>,
    ns: String,
    port: u16,
    child: Option<Child>,
    extra: Vec<String>,
}

impl Controller {
    fn args(&self) -> Vec<String> {
        let mut a = vec!["--data".to_string(), self.data.display().to_string()];
        if let Some(d) = &self.database {
            a.push("--database".into());
            a.push(d.clone());
        }
        a
    }

    /// Runs a CLI command of the controller; its stdout.
    fn cli(&self, args: &[&str]) -> String {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns])
            .arg(&self.bin)
            .args(args);
        c.args(self.args());
        let child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let o = ksocket_lab::wait_output(child, Duration::from_secs(60)).unwrap();
        assert!(
            o.status.success(),
            "ksocket-controller {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    }

    fn start(&mut self) {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns]).arg(&self.bin);
        c.args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)]);
        c.args(&self.extra);
        c.args(self.args());
        let log = std::fs::File::create(self.data.join("serve.log")).unwrap();
        let child = c
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        // Ready when /healthz answers.
        let t0 = Instant::now();
        let ns = self.ns.clone();
        let port = self.port;
        let tls = !self.extra.iter().any(|a| a == "--plain-ws");
        let ok = std::thread::spawn(move || {
            enter(&ns);
            while t0.elapsed() < Duration::from_secs(30) {
                if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                    if tls {
                        return true;
                    }
                    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                    let _ = s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n");
                    let mut v = String::new();
                    let _ = s.read_to_string(&mut v);
                    if v.starts_with("HTTP/1.0 200") || v.starts_with("HTTP/1.1 200") {
                        return true;
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            false
        })
        .join()
        .unwrap();
        assert!(ok, "controller did not start: {}", self.log());
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("serve.log")).unwrap_or_default()
    }

    fn token(&self, name: &str) -> String {
        let out = self.cli(&["token", "create", name]);
        out.lines().last().unwrap().trim().to_string()
    }

    fn scan(&self, agent: &str, targets: &[&str]) -> String {
        let mut a = vec!["scan", "--agent", agent];
        a.extend_from_slice(targets);
        let out = self.cli(&a);
        out.lines().last().unwrap().trim().to_string()
    }

    fn operations(&self) -> Vec<serde_json::Value> {
        let out = self.cli(&["operations", "--format", "json"]);
        serde_json::from_str::<Vec<serde_json::Value>>(&out).unwrap()
    }

    /// The stored records of `op`: (seq, ip) pairs.
    fn results(&self, op: &str) -> Vec<(u64, Ipv4Addr)> {
        let out = self.cli(&["results", op, "--format", "json"]);
        let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        v.iter()
            .map(|r| {
                (
                    r["seq"].as_u64().unwrap(),
                    r["host"]["ip"].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `ksocket connect` in the lab, with its own KSOCKET_HOME.
struct Agent {
    home: PathBuf,
    ns: String,
    child: Option<Child>,
    env: Vec<(String, String)>,
}

impl Agent {
    fn new(home: PathBuf, ns: &str, token: &str, port: u16, extra: &str) -> Agent {
        std::fs::create_dir_all(home.join("etc/ksocket")).unwrap();
        let cfg = format!(
            "logfile = \"{}/agent.log\"\nloglevel = \"INFO\"\n[connect]\ntoken = \"{token}\"\n\
             name = \"lab-agent\"\nprotocol = \"ws\"\nhost = \"127.0.0.1\"\nport = {port}\n\
             heartbeatInterval = 1.0\nheartbeatTimeout = 3.0\nresumePlateau = 2\n\
             resumeRetries = 100000\nrequestTimeout = 5.0\n{extra}",
            home.display()
        );
        std::fs::write(home.join("etc/ksocket/ksocket.toml"), cfg).unwrap();
        Agent {
            home,
            ns: ns.to_string(),
            child: None,
            env: Vec::new(),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, KSOCKET, "connect"]);
        c.env("KSOCKET_HOME", &self.home);
        c.env_remove("KSOCKET_CONFIG");
        c.env_remove("KSOCKET_INSECURE");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn start(&mut self) {
        let c = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        self.child = Some(c);
    }

    /// Runs it to its end (bounded); exit code and stderr.
    fn run_to_end(&self, limit: Duration) -> (Option<i32>, String) {
        let c = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let o = ksocket_lab::wait_output(c, limit).expect("the agent did not stop in time");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("agent.log")).unwrap_or_default()
    }

    /// Appends half a record to the newest spool segment: a write torn by a crash.
    fn tear_spool(&self) {
        let dir = self.home.join("var/spool/ksocket");
        let Some(seg) = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .max()
        else {
            return;
        };
        let mut f = std::fs::OpenOptions::new().append(true).open(seg).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 1, b'{', b'"'])
            .unwrap();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kst-svc-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A free port on 127.0.0.1 in `ns`.
fn free_port(ns: &str) -> u16 {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter(&ns);
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    })
    .join()
    .unwrap()
}

/// Waits until every operation in `ops` is complete at the controller; returns the
/// operations' JSON by id.
fn wait_complete(
    ctl: &Controller,
    ops: &[String],
    limit: Duration,
    agent_log: &dyn Fn() -> String,
) -> BTreeMap<String, serde_json::Value> {
    let t0 = Instant::now();
    loop {
        let all: BTreeMap<String, serde_json::Value> = ctl
            .operations()
            .into_iter()
            .map(|o| (o["id"].as_str().unwrap().to_string(), o))
            .collect();
        let done = ops.iter().all(|id| {
            all.get(id).is_some_and(|o| {
                matches!(o["state"].as_str(), Some("done" | "failed" | "refused"))
                    && o["complete"].as_bool() == Some(true)
            })
        });
        if done {
            return all;
        }
        assert!(
            t0.elapsed() < limit,
            "operations not complete after {limit:?}: {:?}\n--- agent log tail:\n{}\n",
            ops.iter()
                .map(|id| (id, all.get(id).map(|o| o["state"].clone())))
                .collect::<Vec<_>>(),
            tail(&agent_log(), 40)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn tail(s: &str, n: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(n)..].join("\n")
}

/// Checks one operation's stored records: no address twice, contiguous chunks, and
/// (for a finished scan) exactly `want`.
fn check_exactly_once(ctl: &Controller, op: &str, state: &str, want: &BTreeSet<Ipv4Addr>) -> usize {
    let r = ctl.results(op);
    let mut seen = BTreeSet::new();
    for (_, ip) in &r {
        assert!(seen.insert(*ip), "operation {op}: {ip} stored twice");
    }
    if state == "done" {
        assert_eq!(&seen, want, "operation {op}: records lost or foreign");
    } else {
        assert!(seen.is_subset(want), "operation {op}: foreign records");
    }
    r.len()
}

struct Setup {
    lab: Lab,
    scanner: Ns,
    live: BTreeSet<Ipv4Addr>,
    dir: PathBuf,
    _pg_relay: Option<Relay>,
}

/// A lab of `n` hosts, and the database URL for the backend (`None`: SQLite).
fn setup(tag: &str, n: u8, pg: bool) -> Option<(Setup, Option<String>)> {
    let mut lab = Lab::new(tag).unwrap();
    let sc = ksocket_lab::scenario::l2_segment(&mut lab, n).unwrap();
    let dir = scratch(tag);
    let mut relay = None;
    let database = if pg {
        let Ok(url) = std::env::var("KSOCKET_TEST_POSTGRES") else {
            eprintln!("SKIP {tag}: KSOCKET_TEST_POSTGRES is not set (scripts/pg-cluster.sh)");
            return None;
        };
        // postgres://user@127.0.0.1:PORT/db in the root namespace: relayed into the lab.
        let (head, rest) = url.split_once("@").unwrap();
        let (hostport, db) = rest.split_once('/').unwrap();
        let (_, port) = hostport.rsplit_once(':').unwrap();
        let r = Relay::start(
            &sc.scanner.name,
            ("127.0.0.1".into(), port.parse().unwrap()),
            Some(String::new()),
        );
        // A fresh database per run.
        let name = format!("kst_{}_{}", tag.replace('-', "_"), std::process::id());
        let admin = Command::new("psql")
            .args([&url, "-qc", &format!("DROP DATABASE IF EXISTS {name}")])
            .status();
        let _ = admin;
        let st = Command::new("psql")
            .args([&url, "-qc", &format!("CREATE DATABASE {name}")])
            .status()
            .unwrap();
        assert!(st.success());
        let _ = db;
        let u = format!("{head}@127.0.0.1:{}/{name}", r.port);
        relay = Some(r);
        Some(u)
    } else {
        None
    };
    Some((
        Setup {
            live: sc.live.clone(),
            scanner: sc.scanner,
            lab,
            dir,
            _pg_relay: relay,
        },
        database,
    ))
}

fn controller(s: &Setup, database: Option<String>, extra: &[&str]) -> Controller {
    let data = s.dir.join("controller");
    std::fs::create_dir_all(&data).unwrap();
    let mut c = Controller {
        bin: controller_bin(),
        data,
        database,
        ns: s.scanner.name.clone(),
        port: free_port(&s.scanner.name),
        child: None,
        extra: extra.iter().map(|s| s.to_string()).collect(),
    };
    c.start();
    c
}

/// Root: lab + relay-in-the-middle; `cuts` random cuts and `kills` kill -9 restarts
/// (every other with a torn spool record), then every record exactly once.
fn faults(pg: bool, cuts: usize, kills: usize) {
    let tag = if pg { "svc-pg" } else { "svc-lite" };
    let Some((s, database)) = setup(tag, 12, pg) else {
        return;
    };
    let ctl = controller(&s, database, &["--plain-ws"]);
    let token = ctl.token("lab-agent");
    let relay = Relay::start(&s.scanner.name, ("127.0.0.1".into(), ctl.port), None);
    let mut agent = Agent::new(s.dir.join("agent"), &s.scanner.name, &token, relay.port, "");
    agent.start();
    let target = "198.18.0.0/26";
    let mut ops = Vec::new();
    // A first scan without faults: the records the lab gives.
    let first = ctl.scan("lab-agent", &[target]);
    let all = wait_complete(
        &ctl,
        std::slice::from_ref(&first),
        Duration::from_secs(60),
        &|| agent.log(),
    );
    assert_eq!(all[&first]["state"], "done", "{}", agent.log());
    let got: BTreeSet<Ipv4Addr> = ctl.results(&first).into_iter().map(|r| r.1).collect();
    assert!(
        s.live.is_subset(&got),
        "first scan: {got:?} lacks some of {:?}",
        s.live
    );
    let want = got;
    ops.push(first);
    // Cuts at random points: while operations are queued, sent, running, or their
    // results travel.
    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ std::process::id() as u64;
    let mut rand = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    for i in 0..cuts {
        if i % 3 == 0 {
            ops.push(ctl.scan("lab-agent", &[target]));
        }
        std::thread::sleep(Duration::from_millis(50 + rand(400)));
        relay.cut();
    }
    for i in 0..kills {
        ops.push(ctl.scan("lab-agent", &[target]));
        std::thread::sleep(Duration::from_millis(20 + rand(250)));
        agent.kill9();
        if i % 2 == 1 {
            agent.tear_spool();
        }
        agent.start();
    }
    let all = wait_complete(&ctl, &ops, Duration::from_secs(240), &|| agent.log());
    let mut records = 0;
    let mut states = BTreeMap::new();
    for op in &ops {
        let st = all[op]["state"].as_str().unwrap().to_string();
        records += check_exactly_once(&ctl, op, &st, &want);
        *states.entry(st).or_insert(0) += 1;
    }
    let log = agent.log();
    assert!(!log.contains("panicked"), "{log}");
    eprintln!(
        "{tag}: {} operations ({states:?}), {records} records stored once each, {} cuts, {kills} kill -9",
        ops.len(),
        relay.cuts.load(Ordering::Relaxed)
    );
    assert!(
        states.get("done").copied().unwrap_or(0) >= ops.len() / 2,
        "{states:?}"
    );
    drop(agent);
    drop(ctl);
    s.lab.teardown().unwrap();
}

fn cuts() -> usize {
    std::env::var("KSOCKET_TEST_CUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

#[test]
fn cuts_and_kills_lose_and_duplicate_nothing_sqlite() {
    require_root!();
    faults(false, cuts(), 10);
}

#[test]
fn cuts_and_kills_lose_and_duplicate_nothing_postgres() {
    require_root!();
    faults(true, cuts(), 10);
}

/// Tokens: unknown, revoked, and a slot held by another instance are permanent
/// refusals (exit 3); a restarted controller is found again within 5 s.
#[test]
fn refusals_and_controller_restart() {
    require_root!();
    let Some((s, _)) = setup("svc-tok", 2, false) else {
        return;
    };
    let mut ctl = controller(&s, None, &["--plain-ws"]);
    let token = ctl.token("a1");
    // Unknown token.
    let bad = Agent::new(
        s.dir.join("bad"),
        &s.scanner.name,
        "kst_not_a_token",
        ctl.port,
        "",
    );
    let (code, err) = bad.run_to_end(Duration::from_secs(30));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("4100"), "{err}");
    assert!(
        !bad.log().contains("kst_not_a_token"),
        "the token reached the log"
    );
    // The slot: a second instance with the same token is refused while the first
    // holds it.
    let mut a = Agent::new(s.dir.join("a"), &s.scanner.name, &token, ctl.port, "");
    a.start();
    let t0 = Instant::now();
    while !a.log().contains("connected") && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(a.log().contains("connected"), "{}", a.log());
    let b = Agent::new(s.dir.join("b"), &s.scanner.name, &token, ctl.port, "");
    let (code, err) = b.run_to_end(Duration::from_secs(30));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("4102"), "{err}");
    // diagnostics authenticate says so too, and does not take the slot.
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            &s.scanner.name,
            KSOCKET,
            "diagnostics",
            "authenticate",
        ])
        .env("KSOCKET_HOME", &a.home)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Establish websocket") && out.contains("NG"),
        "{out}"
    );
    assert!(out.contains("4102"), "{out}");
    // A controller restart: the agent is back within 5 s of it accepting again.
    ctl.stop();
    std::thread::sleep(Duration::from_secs(3));
    let before = a.log().matches("connected (protocol").count();
    ctl.start();
    let t1 = Instant::now();
    while a.log().matches("connected (protocol").count() == before
        && t1.elapsed() < Duration::from_secs(15)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let back = t1.elapsed();
    eprintln!(
        "reconnected {:.2} s after the controller came back",
        back.as_secs_f64()
    );
    assert!(back < Duration::from_secs(5), "{}", a.log());
    // A scan after the restart works.
    let op = ctl.scan("a1", &["198.18.0.0/27"]);
    let all = wait_complete(
        &ctl,
        std::slice::from_ref(&op),
        Duration::from_secs(60),
        &|| a.log(),
    );
    assert_eq!(all[&op]["state"], "done");
    // A diagnosis over the connection: the checks of `ksocket diagnostics system config`.
    let out = ctl.cli(&["diagnose", "--agent", "a1", "--wait", "--timeout", "60"]);
    assert!(
        out.contains("Raw packet access (CAP_NET_RAW)") && out.contains("OK"),
        "{out}"
    );
    assert!(out.contains("Parse it as TOML"), "{out}");
    // A collect of a range, with no credential: the records, without SNMP.
    let op = ctl.cli(&[
        "collect",
        "--agent",
        "a1",
        "--wait",
        "198.18.0.10-198.18.0.19",
    ]);
    assert!(op.contains("done: 2 chunks, 10 records"), "{op}");
    // Revoked: the connected agent is cut off and stops for good.
    ctl.cli(&["token", "revoke", "a1"]);
    let mut child = a.child.take().unwrap();
    let t2 = Instant::now();
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if t2.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("a revoked agent still runs: {}", a.log());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Revoked while connected: either closed 4101 at once, or refused on reconnect.
    assert_eq!(code, Some(3), "{}", a.log());
    drop(ctl);
    s.lab.teardown().unwrap();
}

/// TLS: a self-made certificate is refused, unless pinned or KSOCKET_INSECURE.
#[test]
fn tls_self_signed_pinned_and_insecure() {
    require_root!();
    let Some((s, _)) = setup("svc-tls", 2, false) else {
        return;
    };
    let ctl = controller(&s, None, &[]);
    let token = ctl.token("t1");
    let fp = ctl
        .log()
        .lines()
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.len() >= 64 && w.chars().all(|c| c.is_ascii_hexdigit() || c == ':'))
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("no fingerprint in the controller's log: {}", ctl.log()));
    let tls = "protocol = \"wss\"\n";
    let mk = |name: &str, extra: &str| {
        let a = Agent::new(s.dir.join(name), &s.scanner.name, &token, ctl.port, extra);
        let p = a.home.join("etc/ksocket/ksocket.toml");
        let t = std::fs::read_to_string(&p)
            .unwrap()
            .replace("protocol = \"ws\"\n", tls)
            .replace("resumeRetries = 100000", "resumeRetries = 2");
        std::fs::write(&p, t).unwrap();
        a
    };
    // Refused: the system roots do not know it.
    let a = mk("plain", "");
    let (code, _) = a.run_to_end(Duration::from_secs(60));
    assert_eq!(code, Some(1));
    assert!(a.log().contains("TLS"), "{}", a.log());
    // Pinned: accepted (check with diagnostics authenticate, which says hello).
    let diag = |a: &Agent, insecure: bool| {
        let mut c = Command::new("ip");
        c.args([
            "netns",
            "exec",
            &s.scanner.name,
            KSOCKET,
            "diagnostics",
            "authenticate",
        ]);
        c.env("KSOCKET_HOME", &a.home);
        if insecure {
            c.env("KSOCKET_INSECURE", "1");
        } else {
            c.env_remove("KSOCKET_INSECURE");
        }
        let o = c.output().unwrap();
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let p = mk("pinned", &format!("pinnedSha256 = \"{fp}\"\n"));
    let out = diag(&p, false);
    assert!(
        out.contains("Complete authentication") && !out.contains("NG"),
        "{out}"
    );
    let wrong = mk(
        "wrongpin",
        &format!("pinnedSha256 = \"{}\"\n", "00".repeat(32)),
    );
    let out = diag(&wrong, false);
    assert!(out.contains("not the pinned one"), "{out}");
    // KSOCKET_INSECURE: accepted, and said loudly.
    let i = mk("insecure", "");
    let out = diag(&i, true);
    assert!(out.contains("KSOCKET_INSECURE: True"), "{out}");
    assert!(!out.contains("NG"), "{out}");
    drop(ctl);
    s.lab.teardown().unwrap();
}

/// Through a real HTTP CONNECT proxy (tinyproxy, with basic auth), configured with
/// connect.proxy.
#[test]
fn through_tinyproxy() {
    require_root!();
    if Command::new("tinyproxy").arg("-v").output().is_err() {
        panic!("tinyproxy is not installed (apt-get install tinyproxy)");
    }
    let Some((s, _)) = setup("svc-proxy", 3, false) else {
        return;
    };
    let ctl = controller(&s, None, &["--plain-ws"]);
    let token = ctl.token("p1");
    let pport = free_port(&s.scanner.name);
    let conf = s.dir.join("tinyproxy.conf");
    std::fs::write(
        &conf,
        format!(
            "Port {pport}\nListen 127.0.0.1\nTimeout 60\nAllow 127.0.0.1\n\
             BasicAuth kst pr0xy-pass\nConnectPort {}\nMaxClients 10\nLogLevel Info\n\
             LogFile \"{}\"\nPidFile \"{}\"\n",
            ctl.port,
            s.dir.join("tinyproxy.log").display(),
            s.dir.join("tinyproxy.pid").display()
        ),
    )
    .unwrap();
    let mut tp = Command::new("ip")
        .args(["netns", "exec", &s.scanner.name, "tinyproxy", "-d", "-c"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut a = Agent::new(
        s.dir.join("agent"),
        &s.scanner.name,
        &token,
        ctl.port,
        &format!("proxy = \"http://kst:pr0xy-pass@127.0.0.1:{pport}\"\n"),
    );
    a.start();
    let op = ctl.scan("p1", &["198.18.0.0/27"]);
    let all = wait_complete(
        &ctl,
        std::slice::from_ref(&op),
        Duration::from_secs(60),
        &|| a.log(),
    );
    assert_eq!(all[&op]["state"], "done", "{}", a.log());
    let tlog = std::fs::read_to_string(s.dir.join("tinyproxy.log")).unwrap_or_default();
    assert!(tlog.contains("CONNECT"), "tinyproxy saw no CONNECT: {tlog}");
    assert!(
        !a.log().contains("pr0xy-pass"),
        "the proxy password reached the log"
    );
    a.kill9();
    let _ = tp.kill();
    let _ = tp.wait();
    drop(ctl);
    s.lab.teardown().unwrap();
}

/// A fleet: two controllers on one PostgreSQL database. The agent is connected to B;
/// a scan is ordered through A and reaches it (through the database); its connection
/// is cut and resumes on A; every record is stored once.
#[test]
fn fleet_two_controllers_one_postgres() {
    require_root!();
    let Some((s, database)) = setup("svc-fleet", 6, true) else {
        return;
    };
    let data_b = s.dir.join("controller-b");
    std::fs::create_dir_all(&data_b).unwrap();
    let a = controller(&s, database.clone(), &["--plain-ws"]);
    let mut b = Controller {
        bin: controller_bin(),
        data: data_b,
        database,
        ns: s.scanner.name.clone(),
        port: free_port(&s.scanner.name),
        child: None,
        extra: vec!["--plain-ws".into()],
    };
    b.start();
    let token = a.token("fleet-agent");
    let relay = Relay::start(&s.scanner.name, ("127.0.0.1".into(), b.port), None);
    let mut agent = Agent::new(s.dir.join("agent"), &s.scanner.name, &token, relay.port, "");
    agent.start();
    let mut ops = vec![a.scan("fleet-agent", &["198.18.0.0/27"])];
    let all = wait_complete(&a, &ops, Duration::from_secs(60), &|| agent.log());
    assert_eq!(all[&ops[0]]["state"], "done", "{}", agent.log());
    let want: BTreeSet<Ipv4Addr> = a.results(&ops[0]).into_iter().map(|r| r.1).collect();
    assert!(s.live.is_subset(&want));
    // Cut in the middle of the next scans and resume on A.
    ops.push(a.scan("fleet-agent", &["198.18.0.0/27"]));
    ops.push(b.scan("fleet-agent", &["198.18.0.0/27"]));
    std::thread::sleep(Duration::from_millis(150));
    relay.retarget(a.port);
    relay.cut();
    ops.push(b.scan("fleet-agent", &["198.18.0.0/27"]));
    let all = wait_complete(&b, &ops, Duration::from_secs(90), &|| agent.log());
    for op in &ops {
        let st = all[op]["state"].as_str().unwrap();
        assert_eq!(st, "done", "{op}: {}", agent.log());
        check_exactly_once(&a, op, st, &want);
    }
    let agents = a.cli(&["agents", "--format", "json"]);
    assert!(agents.contains("fleet-agent"), "{agents}");
    drop(agent);
    drop(a);
    drop(b);
    s.lab.teardown().unwrap();
}

/// A full spool: the controller is unreachable while two collects of 65536 addresses
/// each (no credential: nothing is sent to them) produce about 5 MB of records into a
/// 4 MiB spool; the operation waits (and says so) instead of losing or failing, and when
/// the controller is back every record arrives once.
#[test]
fn a_full_spool_holds_the_operation_back_until_the_controller_is_back() {
    require_root!();
    let Some((s, _)) = setup("svc-full", 1, false) else {
        return;
    };
    let ctl = controller(&s, None, &["--plain-ws"]);
    let token = ctl.token("f1");
    let relay = Relay::start(&s.scanner.name, ("127.0.0.1".into(), ctl.port), None);
    // Two collections of a /16 each (about 2.6 MB of records each, more than the
    // spool's 4 MiB together), queued before the agent connects so that it takes both
    // at once; the controller becomes unreachable as soon as it has.
    let ops: Vec<String> = ["198.18.0.0/16", "198.19.0.0/16"]
        .iter()
        .map(|t| {
            let o = ctl.cli(&["collect", "--agent", "f1", t]);
            o.lines().last().unwrap().trim().to_string()
        })
        .collect();
    let mut a = Agent::new(
        s.dir.join("agent"),
        &s.scanner.name,
        &token,
        relay.port,
        "spoolSize = 4\n",
    );
    a.start();
    let t1 = Instant::now();
    while !ops
        .iter()
        .all(|op| a.log().contains(&format!("operation {op} accepted")))
        && t1.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(2));
    }
    relay.pause();
    let t2 = Instant::now();
    while !a.log().contains("spool full") && t2.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(a.log().contains("spool full"), "{}", a.log());
    let spool: u64 = std::fs::read_dir(a.home.join("var/spool/ksocket"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(spool <= 4 << 20, "the spool grew to {spool} bytes");
    relay.resume();
    let all = wait_complete(&ctl, &ops, Duration::from_secs(120), &|| a.log());
    for op in &ops {
        assert_eq!(all[op]["state"], "done", "{}", a.log());
        let r = ctl.results(op);
        let ips: BTreeSet<Ipv4Addr> = r.iter().map(|x| x.1).collect();
        assert_eq!((r.len(), ips.len()), (65536, 65536), "{op}");
    }
    a.kill9();
    drop(ctl);
    s.lab.teardown().unwrap();
}

/// `ksocket-controller cancel OP` stops a running scan: it ends `failed`, kind
/// `cancelled`, complete at the controller; a queued one never runs.
#[test]
fn cancel_stops_operations() {
    require_root!();
    let Some((s, _)) = setup("svc-cancel", 4, false) else {
        return;
    };
    // The scanner on a /16 too: 65536 addresses on the link to ask with ARP.
    s.lab
        .add_addr(&s.scanner, "eth0", "198.18.200.2/16")
        .unwrap();
    let ctl = controller(&s, None, &["--plain-ws"]);
    let token = ctl.token("c1");
    let mut a = Agent::new(
        s.dir.join("agent"),
        &s.scanner.name,
        &token,
        ctl.port,
        "maxRunningOperations = 1\n",
    );
    a.start();
    // A /16 with 4 live hosts: discovery takes a while over 65536 addresses.
    let running = ctl.scan("c1", &["198.18.0.0/16"]);
    let queued = ctl.scan("c1", &["198.18.0.0/16"]);
    let t0 = Instant::now();
    while !a
        .log()
        .contains(&format!("operation {queued} accepted (queued)"))
        && t0.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    ctl.cli(&["cancel", &queued]);
    ctl.cli(&["cancel", &running]);
    let ops = [running.clone(), queued.clone()];
    let all = wait_complete(&ctl, &ops, Duration::from_secs(90), &|| a.log());
    for op in &ops {
        assert_eq!(all[op]["state"], "failed", "{op}: {}", a.log());
        assert_eq!(all[op]["error"]["kind"], "cancelled", "{op}: {:?}", all[op]);
    }
    assert!(
        !a.log().contains(&format!("operation {queued}: done")),
        "{}",
        a.log()
    );
    a.kill9();
    drop(ctl);
    s.lab.teardown().unwrap();
}

/// A private CA (openssl): the controller serves a certificate it signed; the agent
/// trusts it with connect.caFile, and refuses it without.
#[test]
fn a_private_ca_with_ca_file() {
    require_root!();
    let Some((s, _)) = setup("svc-ca", 1, false) else {
        return;
    };
    let d = s.dir.join("pki");
    std::fs::create_dir_all(&d).unwrap();
    let ossl = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(&d)
            .output()
            .expect("openssl (apt-get install openssl)");
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    ossl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=kst lab CA",
    ]);
    ossl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(d.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    ossl(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    let cert = d.join("srv.pem").display().to_string();
    let key = d.join("srv.key").display().to_string();
    let ctl = controller(&s, None, &["--tls-cert", &cert, "--tls-key", &key]);
    let token = ctl.token("ca1");
    let diag = |extra: &str, name: &str| {
        let a = Agent::new(s.dir.join(name), &s.scanner.name, &token, ctl.port, extra);
        let p = a.home.join("etc/ksocket/ksocket.toml");
        let t = std::fs::read_to_string(&p)
            .unwrap()
            .replace("protocol = \"ws\"\n", "protocol = \"wss\"\n");
        std::fs::write(&p, t).unwrap();
        let o = Command::new("ip")
            .args([
                "netns",
                "exec",
                &s.scanner.name,
                KSOCKET,
                "diagnostics",
                "authenticate",
            ])
            .env("KSOCKET_HOME", &a.home)
            .env_remove("KSOCKET_INSECURE")
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let out = diag(&format!("caFile = \"{}/ca.pem\"\n", d.display()), "with");
    assert!(
        out.contains("Complete authentication") && !out.contains("NG"),
        "{out}"
    );
    let out = diag("", "without");
    assert!(
        out.contains("NG") && !out.contains("Complete authentication"),
        "{out}"
    );
    drop(ctl);
    s.lab.teardown().unwrap();
}
