//! `ksocket ssh` against OpenSSH's sshd in lab namespaces, compared with OpenSSH's own
//! client on the same hosts (root only; skipped otherwise).
//!
//! Every sshd runs inside a lab namespace, listens on a 198.18.0.0/15 address only, with
//! its own configuration, host keys, log and authorized keys in the lab's scratch
//! directory; the machine's own sshd configuration and keys are never read or touched.
//! Logins are made with throwaway accounts `kst-ssh-<pid>-<n>` (useradd, removed with
//! userdel when the test ends, fails or panics; a later run removes those of a process
//! that died). The only thing left on the machine is `/run/sshd`, the empty directory
//! every sshd needs for privilege separation (its path is built into sshd).
use ksocket_lab::{HostSpec, Lab, Ns, Role, require_root};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const KSOCKET: &str = env!("CARGO_BIN_EXE_ksocket");
const SSHD: &str = "/usr/sbin/sshd";

/// The collector's commands (the contract), run over OpenSSH for the reference.
const DPKG: &str =
    r"dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n'";
const RPM: &str =
    r"rpm -qa --qf '%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\n'";

/// useradd/userdel take a lock on /etc/passwd: one at a time in this process.
static ACCOUNTS: Mutex<()> = Mutex::new(());
static NEXT_USER: AtomicUsize = AtomicUsize::new(0);
const USER_PREFIX: &str = "kst-ssh-";

/// A python3 TCP listener that misbehaves: `silent` accepts and never speaks, `garbage`
/// sends 4 KiB of binary without a line end (no identification ever), `chatter` sends
/// text lines without an identification until the peer goes away, `stall` sends an
/// identification and then nothing, `drip` sends an endless identification line a
/// byte every 0.2 s, `badpacket` sends a valid identification then a packet whose
/// length is 0xffffffff, `flood` sends an identification then random bytes until the
/// peer goes away. Each
/// connection is held until the peer closes or `life` seconds have passed; the
/// listener itself exits after `life` seconds.
const LISTENER: &str = r#"
import os, socket, sys, threading, time
mode, ip, port, life = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
end = time.time() + life
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port))
s.listen(16)
s.settimeout(0.5)
def hold(c):
    while time.time() < end:
        try:
            if not c.recv(4096):
                return
        except socket.timeout:
            pass
def serve(c):
    c.settimeout(0.5)
    try:
        if mode == "garbage":
            c.sendall(bytes(b if b != 10 else 11 for b in os.urandom(4096)))
        elif mode == "badpacket":
            c.sendall(b"SSH-2.0-kst_lab\r\n" + b"\xff\xff\xff\xff" + os.urandom(64))
        elif mode == "chatter":
            while time.time() < end:
                try:
                    c.sendall(b"kst lab: no identification yet\r\n")
                except socket.timeout:
                    pass
            return
        elif mode == "stall":
            c.sendall(b"SSH-2.0-kst_stall\r\n")
        elif mode == "drip":
            for b in b"SSH-2.0-" + b"x" * 100000:
                if time.time() >= end:
                    break
                c.sendall(bytes([b]))
                time.sleep(0.2)
            return
        elif mode == "flood":
            c.sendall(b"SSH-2.0-x\r\n")
            buf = os.urandom(65536)
            while time.time() < end:
                try:
                    c.sendall(buf)
                except socket.timeout:
                    pass
            return
        hold(c)
    except OSError:
        pass
    finally:
        c.close()
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// An sshd of the fixture.
struct Sshd {
    ip: String,
    port: u16,
    /// Its directory: configuration, log, authorized keys.
    dir: PathBuf,
    log: PathBuf,
    daemon: usize,
}

impl Sshd {
    /// Lets `user` log in with these public keys (and only these) on this sshd.
    fn authorize(&self, user: &str, pubkeys: &[&Path]) {
        let mut text = String::new();
        for k in pubkeys {
            text.push_str(&std::fs::read_to_string(k).unwrap());
        }
        let f = self.dir.join(format!("{user}.keys"));
        std::fs::write(&f, text).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    /// What it has logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// One run of `ksocket`.
struct Run {
    code: Option<i32>,
    out: String,
    err: String,
    took: Duration,
}

impl Run {
    /// The records of `--format json`, by address.
    fn hosts(&self) -> BTreeMap<String, Value> {
        let doc: Value = serde_json::from_str(self.out.trim())
            .unwrap_or_else(|e| panic!("not one JSON document ({e}): {}\n{}", self.out, self.err));
        doc["hosts"]
            .as_array()
            .unwrap_or_else(|| panic!("no hosts array: {}", self.out))
            .iter()
            .map(|h| (h["ip"].as_str().unwrap().to_string(), h.clone()))
            .collect()
    }

    fn host(&self, ip: &str) -> Value {
        self.hosts()
            .remove(ip)
            .unwrap_or_else(|| panic!("no record of {ip}: {}\n{}", self.out, self.err))
    }
}

/// A lab with sshd hosts, test accounts and a KSOCKET_HOME; everything goes when it is
/// dropped (daemons, then the lab's namespaces and scratch files, then the accounts).
struct Fx {
    lab: Option<Lab>,
    daemons: Vec<Child>,
    users: Vec<String>,
    /// Keys, configurations, logs, homes.
    dir: PathBuf,
    /// KSOCKET_HOME.
    home: PathBuf,
    sshds: usize,
}

impl Fx {
    fn new(tag: &str) -> Fx {
        sweep_orphan_users();
        let mut lab = Lab::new(tag).unwrap();
        let dir = lab.scratch_dir("ssh").unwrap();
        let home = lab.scratch_dir("home").unwrap();
        std::fs::create_dir_all(home.join("etc/ksocket/credentials/ssh/_keys")).unwrap();
        for d in [&dir, &home] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        // sshd's privilege separation directory (compiled in): it must exist.
        if !Path::new("/run/sshd").is_dir() {
            let _ = std::fs::create_dir("/run/sshd");
            let _ = std::fs::set_permissions("/run/sshd", std::fs::Permissions::from_mode(0o755));
        }
        Fx {
            lab: Some(lab),
            daemons: Vec::new(),
            users: Vec::new(),
            dir,
            home,
            sshds: 0,
        }
    }

    fn lab(&self) -> &Lab {
        self.lab.as_ref().unwrap()
    }

    fn lab_mut(&mut self) -> &mut Lab {
        self.lab.as_mut().unwrap()
    }

    /// A switch with a scanner at `198.18.<net>.2` and one host per name at
    /// `198.18.<net>.10`, `.11`, ... (all /24). Returns the scanner and the hosts.
    fn segment(&mut self, net: u8, names: &[&str]) -> (Ns, Vec<(Ns, String)>) {
        let lab = self.lab_mut();
        let sw = lab.switch("sw").unwrap();
        let mut specs = vec![HostSpec {
            name: "scanner".into(),
            cidr: format!("198.18.{net}.2/24"),
            gateway: None,
            role: Role::Full,
        }];
        for (i, n) in names.iter().enumerate() {
            specs.push(HostSpec {
                name: (*n).into(),
                cidr: format!("198.18.{net}.{}/24", 10 + i),
                gateway: None,
                role: Role::Full,
            });
        }
        let ns = lab.hosts(&sw, &specs).unwrap();
        let hosts = ns[1..]
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), format!("198.18.{net}.{}", 10 + i)))
            .collect();
        (ns[0].clone(), hosts)
    }

    /// A key pair made by ssh-keygen in the fixture's directory; returns the private
    /// key's path (the public key is beside it, `.pub`).
    fn keygen(&self, name: &str, passphrase: &str, args: &[&str]) -> PathBuf {
        let f = self.dir.join(name);
        let mut argv = vec!["-q", "-C", "", "-N", passphrase, "-f", f.to_str().unwrap()];
        argv.extend_from_slice(args);
        let o = Command::new("ssh-keygen")
            .args(&argv)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(o.status.success(), "ssh-keygen {args:?}: {o:?}");
        f
    }

    /// A throwaway account with this password (never an existing account's).
    fn user(&mut self, password: &str) -> String {
        self.user_with_shell(password, Path::new("/bin/sh"))
    }

    /// As [`Fx::user`], with this login shell (sshd runs every command through it).
    fn user_with_shell(&mut self, password: &str, shell: &Path) -> String {
        let name = format!(
            "{USER_PREFIX}{}-{}",
            std::process::id(),
            NEXT_USER.fetch_add(1, Ordering::Relaxed)
        );
        let home = self.dir.join(format!("home-{name}"));
        std::fs::create_dir_all(&home).unwrap();
        {
            let _g = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
            assert!(
                getent_passwd(&name).is_none(),
                "account {name} exists already"
            );
            let mut tries = 0;
            loop {
                let o = Command::new("useradd")
                    .args(["--system", "--no-create-home", "--user-group", "--shell"])
                    .arg(shell)
                    .arg("--home-dir")
                    .arg(&home)
                    .arg(&name)
                    .output()
                    .unwrap();
                if o.status.success() {
                    break;
                }
                tries += 1;
                // Exit 10: the password file is locked (another process); retry.
                assert!(
                    o.status.code() == Some(10) && tries < 20,
                    "useradd {name}: {o:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            self.users.push(name.clone());
            let mut c = Command::new("chpasswd")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            writeln!(c.stdin.take().unwrap(), "{name}:{password}").unwrap();
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "chpasswd {name}: {o:?}");
        }
        let o = Command::new("chown")
            .arg(format!("{name}:{name}"))
            .arg(&home)
            .output()
            .unwrap();
        assert!(o.status.success(), "chown: {o:?}");
        name
    }

    fn user_home(&self, name: &str) -> PathBuf {
        self.dir.join(format!("home-{name}"))
    }

    /// Starts sshd in `ns` on `ip:port` with these host keys; `extra` comes first in
    /// its configuration (sshd keeps the first value of a keyword). Waits until it
    /// listens (10 s at most).
    fn sshd(&mut self, ns: &Ns, ip: &str, port: u16, host_keys: &[&Path], extra: &str) -> Sshd {
        self.sshds += 1;
        let dir = self.dir.join(format!("sshd-{}", self.sshds));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut conf = format!("{extra}\nListenAddress {ip}:{port}\n");
        for k in host_keys {
            conf.push_str(&format!("HostKey {}\n", k.display()));
        }
        conf.push_str(&format!(
            "PidFile none\nUsePAM no\nStrictModes no\nUseDNS no\nLogLevel DEBUG1\n\
             AuthorizedKeysFile {}/%u.keys\nMaxStartups 200:30:400\nLoginGraceTime 30\n\
             PrintMotd no\nSubsystem sftp internal-sftp\n",
            dir.display()
        ));
        let cf = dir.join("sshd_config");
        std::fs::write(&cf, conf).unwrap();
        let o = Command::new(SSHD)
            .arg("-t")
            .arg("-f")
            .arg(&cf)
            .output()
            .unwrap();
        assert!(o.status.success(), "sshd -t: {o:?}");
        let log = dir.join("sshd.log");
        let port_s = port.to_string();
        let daemon = self.spawn(
            ns,
            &[
                SSHD,
                "-D",
                "-f",
                cf.to_str().unwrap(),
                "-E",
                log.to_str().unwrap(),
            ],
            ip,
            &port_s,
        );
        Sshd {
            ip: ip.into(),
            port,
            dir,
            log,
            daemon,
        }
    }

    /// Starts a misbehaving listener (see `LISTENER`) on `ip:port` for at most `life`.
    fn listener(&mut self, ns: &Ns, mode: &str, ip: &str, port: u16, life: u32) -> usize {
        let script = self.dir.join("listener.py");
        std::fs::write(&script, LISTENER).unwrap();
        let (p, l) = (port.to_string(), life.to_string());
        self.spawn(
            ns,
            &["python3", script.to_str().unwrap(), mode, ip, &p, &l],
            ip,
            &p,
        )
    }

    /// Spawns a daemon in `ns` and waits (10 s at most) until it listens on ip:port.
    fn spawn(&mut self, ns: &Ns, argv: &[&str], ip: &str, port: &str) -> usize {
        let err = self.dir.join(format!("daemon-{}.err", self.daemons.len()));
        let child = self
            .lab()
            .command(ns, argv)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        self.daemons.push(child);
        let i = self.daemons.len() - 1;
        let want = format!("{ip}:{port} ");
        let t0 = Instant::now();
        loop {
            let o = self
                .lab()
                .exec(ns, &["ss", "-Hltn"], Duration::from_secs(5))
                .unwrap();
            if String::from_utf8_lossy(&o.stdout).contains(&want) {
                return i;
            }
            if let Some(st) = self.daemons[i].try_wait().unwrap() {
                panic!(
                    "{argv:?} exited ({st}): {}",
                    std::fs::read_to_string(&err).unwrap_or_default()
                );
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "{argv:?} does not listen on {ip}:{port}"
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Stops one daemon (and waits for it).
    fn stop(&mut self, i: usize) {
        let c = &mut self.daemons[i];
        let _ = c.kill();
        let _ = c.wait();
    }

    /// Writes credential file `ssh/<name>` under KSOCKET_HOME; returns its path.
    fn cred(&self, name: &str, text: &str) -> PathBuf {
        let f = self.home.join("etc/ksocket/credentials/ssh").join(name);
        std::fs::write(&f, text).unwrap();
        f
    }

    /// Writes a credential file outside the credentials directory (for --credential).
    fn cred_file(&self, name: &str, text: &str) -> PathBuf {
        let d = self.dir.join("creds");
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join(name);
        std::fs::write(&f, text).unwrap();
        f
    }

    /// Copies a private key next to the credential files (`_keys/`, never read as a
    /// credential: names starting with `_` are skipped); returns the name to write
    /// as `filename`, relative to the credential file's directory.
    fn client_key(&self, key: &Path) -> String {
        let name = key.file_name().unwrap().to_str().unwrap();
        let to = self
            .home
            .join("etc/ksocket/credentials/ssh/_keys")
            .join(name);
        std::fs::copy(key, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
        format!("_keys/{name}")
    }

    /// Runs `ksocket ARGS` inside `ns` with this fixture's KSOCKET_HOME.
    fn ksocket(&self, ns: &Ns, args: &[&str], limit: Duration) -> Run {
        self.ksocket_under(ns, &[], args, limit)
    }

    /// As [`Fx::ksocket`], under GNU time: also its peak RSS in KiB.
    fn ksocket_rss(&self, ns: &Ns, args: &[&str], limit: Duration) -> (Run, u64) {
        let f = self.dir.join("time.out");
        let fs = f.to_str().unwrap();
        let r = self.ksocket_under(ns, &["/usr/bin/time", "-f", "%M", "-o", fs], args, limit);
        let kib = std::fs::read_to_string(&f)
            .unwrap_or_default()
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("no figure from GNU time in {fs}"));
        (r, kib)
    }

    fn ksocket_under(&self, ns: &Ns, wrapper: &[&str], args: &[&str], limit: Duration) -> Run {
        let mut argv = wrapper.to_vec();
        argv.push(KSOCKET);
        argv.extend_from_slice(args);
        let mut c = self.lab().command(ns, &argv);
        c.env("KSOCKET_HOME", &self.home)
            .env_remove("KSOCKET_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let t0 = Instant::now();
        let o = ksocket_lab::wait_output(c.spawn().unwrap(), limit)
            .unwrap_or_else(|e| panic!("ksocket {args:?}: {e}"));
        let run = Run {
            code: o.status.code(),
            out: String::from_utf8_lossy(&o.stdout).into_owned(),
            err: String::from_utf8_lossy(&o.stderr).into_owned(),
            took: t0.elapsed(),
        };
        assert!(
            !run.err.contains("panicked"),
            "ksocket {args:?} panicked: {}",
            run.err
        );
        run
    }

    /// Runs `cmd` on `user@ip` with OpenSSH's client inside `ns` (key auth, batch
    /// mode, its own known_hosts); returns stdout, panicking when it fails.
    fn openssh(&self, ns: &Ns, s: &Sshd, user: &str, key: &Path, cmd: &str) -> String {
        let kh = self.dir.join("openssh_known_hosts");
        let port = s.port.to_string();
        let argv = [
            "ssh",
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            &format!("UserKnownHostsFile={}", kh.display()),
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            "ConnectTimeout=5",
            "-i",
            key.to_str().unwrap(),
            "-p",
            &port,
            "-l",
            user,
            &s.ip,
            cmd,
        ];
        let o = self.lab().exec(ns, &argv, Duration::from_secs(30)).unwrap();
        assert!(
            o.status.success(),
            "OpenSSH {cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Stops everything; the lab's own teardown result is returned last, after the
    /// accounts are gone.
    fn finish(mut self) {
        let r = self.cleanup();
        r.unwrap();
    }

    fn cleanup(&mut self) -> std::io::Result<()> {
        for c in &mut self.daemons {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.daemons.clear();
        // The namespaces go first: what still runs as a test account dies with them.
        let r = match self.lab.take() {
            Some(lab) => lab.teardown(),
            None => Ok(()),
        };
        let _g = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        for u in self.users.drain(..) {
            userdel(&u);
        }
        r
    }
}

impl Drop for Fx {
    fn drop(&mut self) {
        if let Err(e) = self.cleanup() {
            eprintln!("{e}");
        }
    }
}

fn getent_passwd(name: &str) -> Option<String> {
    let o = Command::new("getent")
        .args(["passwd", name])
        .output()
        .ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Removes a test account (only ever one named `kst-ssh-...`), retrying a little while
/// one of its processes is still exiting.
fn userdel(name: &str) {
    assert!(name.starts_with(USER_PREFIX));
    for _ in 0..50 {
        let o = Command::new("userdel").arg(name).output();
        match o {
            Ok(o) if o.status.success() || o.status.code() == Some(6) => return,
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    let _ = Command::new("userdel").args(["-f", name]).output();
}

/// Removes `kst-ssh-<pid>-<n>` accounts of processes that no longer exist (a test
/// killed before its cleanup ran).
fn sweep_orphan_users() {
    let Ok(passwd) = std::fs::read_to_string("/etc/passwd") else {
        return;
    };
    let _g = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
    for l in passwd.lines() {
        let name = l.split(':').next().unwrap_or("");
        let Some(rest) = name.strip_prefix(USER_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            userdel(name);
        }
    }
}

/// `ssh-keygen -lf` of a key: its `SHA256:...` fingerprint.
fn fingerprint(key: &Path) -> String {
    let pubkey = if key.extension().is_some_and(|e| e == "pub") {
        key.to_path_buf()
    } else {
        PathBuf::from(format!("{}.pub", key.display()))
    };
    let o = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&pubkey)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

fn pubkey_line(key: &Path) -> String {
    let text = std::fs::read_to_string(format!("{}.pub", key.display())).unwrap();
    let mut it = text.split_whitespace();
    format!("{} {}", it.next().unwrap(), it.next().unwrap())
}

fn s<'a>(v: &'a Value, path: &str) -> &'a str {
    v.pointer(path)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{path} missing in {v}"))
}

/// The checks every successful record gets: the host key is the one sshd serves, the
/// server is OpenSSH, the OS was read.
fn check_ok(h: &Value, host_key: &Path, key_type: &str, what: &str) {
    assert!(
        h.get("ssh").is_some() && h.get("sshError").is_none(),
        "{what}: not inventoried: {h}"
    );
    assert_eq!(s(h, "/ssh/hostKey"), fingerprint(host_key), "{what}: {h}");
    assert_eq!(s(h, "/ssh/hostKeyType"), key_type, "{what}: {h}");
    assert!(
        s(h, "/ssh/server").starts_with("SSH-2.0-OpenSSH_"),
        "{what}: {h}"
    );
    assert_eq!(s(h, "/ssh/os/source"), "os-release", "{what}: {h}");
    assert!(!s(h, "/ssh/os/id").is_empty(), "{what}: {h}");
}

/// The error checks: kind, and the run took no longer than `timeout` + 3 s.
fn check_err(r: &Run, ip: &str, kind: &str, timeout: f64, what: &str) -> Value {
    try_err(r, ip, kind, timeout, what).unwrap_or_else(|e| panic!("{e}"))
}

/// As [`check_err`], the first failed check as an error.
fn try_err(r: &Run, ip: &str, kind: &str, timeout: f64, what: &str) -> Result<Value, String> {
    let h = r
        .hosts()
        .remove(ip)
        .ok_or_else(|| format!("{what}: no record of {ip}: {}\n{}", r.out, r.err))?;
    let fail = |m: String| Err(format!("{what}: {m}\n record: {h}\n stderr: {}", r.err));
    if h.get("sshErrorKind").and_then(Value::as_str) != Some(kind) {
        return fail(format!("sshErrorKind is not {kind}"));
    }
    if h.get("ssh").is_some()
        || h.get("sshError")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        return fail("an ssh section, or no sshError".into());
    }
    if r.code != Some(1) {
        return fail(format!("exit status {:?}, not 1", r.code));
    }
    if !r.err.contains(ip) {
        return fail("the error is not on stderr".into());
    }
    if r.took >= Duration::from_secs_f64(timeout + 3.0) {
        return fail(format!(
            "took {:?}, over the timeout {timeout} s + 3 s",
            r.took
        ));
    }
    Ok(h)
}

/// A credential as the record names it, from the credentials directory on
/// (`ssh/10-key.toml`): the contract's form; a full path is cut there.
fn cred_name(v: &Value, path: &str) -> String {
    let c = s(v, path);
    c.rsplit_once("/credentials/")
        .map_or(c, |(_, rest)| rest)
        .to_string()
}

/// How many lines of `log` contain `needle`.
fn count(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

/// Password, the three key types, encrypted keys in OpenSSH and PEM format, PKCS#8
/// keys (encrypted RSA, plain ECDSA), keyboard-interactive: each on an sshd that allows only that method (and, for keys,
/// only that key), so success proves the method; sshd's log names the method and key.
/// Also: the credential files' order and skipping rules, an earlier credential that
/// fails is reported in sshAttempts, and --credential FILE ignores the file's includes.
#[test]
fn authenticates_with_passwords_keys_and_keyboard_interactive() {
    require_root!();
    let mut fx = Fx::new("sshauth");
    let names = [
        "pw", "ed", "rsa", "ecdsa", "encossh", "encpem", "encpemec", "kbd", "p8rsa", "p8ec",
    ];
    let (scanner, hosts) = fx.segment(30, &names);
    let hk = fx.keygen("hk_ed25519", "", &["-t", "ed25519"]);
    let password = "kst-Lab pw:1";
    let user = fx.user(password);
    let keys = [
        ("ed", fx.keygen("id_ed25519", "", &["-t", "ed25519"]), ""),
        (
            "rsa",
            fx.keygen("id_rsa", "", &["-t", "rsa", "-b", "3072"]),
            "",
        ),
        (
            "ecdsa",
            fx.keygen("id_ecdsa", "", &["-t", "ecdsa", "-b", "256"]),
            "",
        ),
        (
            "encossh",
            fx.keygen("id_enc", "open sesame 1", &["-t", "ed25519"]),
            "open sesame 1",
        ),
        (
            "encpem",
            fx.keygen(
                "id_pem",
                "pem-pass-2",
                &["-t", "rsa", "-b", "2048", "-m", "PEM"],
            ),
            "pem-pass-2",
        ),
        (
            "encpemec",
            fx.keygen(
                "id_pemec",
                "pem-ec-pass-3",
                &["-t", "ecdsa", "-b", "256", "-m", "PEM"],
            ),
            "pem-ec-pass-3",
        ),
        (
            "p8rsa",
            fx.keygen(
                "id_p8rsa",
                "pkcs8 pass 4",
                &["-t", "rsa", "-b", "2048", "-m", "PKCS8"],
            ),
            "pkcs8 pass 4",
        ),
        (
            "p8ec",
            fx.keygen("id_p8ec", "", &["-t", "ecdsa", "-b", "256", "-m", "PKCS8"]),
            "",
        ),
    ];
    // The formats are what they claim to be.
    let head = |k: &Path| std::fs::read_to_string(k).unwrap();
    assert!(head(&keys[3].1).contains("BEGIN OPENSSH PRIVATE KEY"));
    assert!(
        head(&keys[4].1).contains("BEGIN RSA PRIVATE KEY")
            && head(&keys[4].1).contains("ENCRYPTED")
    );
    assert!(
        head(&keys[5].1).contains("BEGIN EC PRIVATE KEY") && head(&keys[5].1).contains("ENCRYPTED")
    );
    assert!(head(&keys[6].1).contains("BEGIN ENCRYPTED PRIVATE KEY"));
    assert!(head(&keys[7].1).contains("BEGIN PRIVATE KEY"));
    let mut sshds = BTreeMap::new();
    for (i, name) in names.iter().enumerate() {
        let (ns, ip) = (hosts[i].0.clone(), hosts[i].1.clone());
        let extra = match *name {
            "pw" => {
                "PasswordAuthentication yes\nKbdInteractiveAuthentication no\nPubkeyAuthentication no\nAuthenticationMethods password\n"
            }
            "kbd" => {
                "UsePAM yes\nPasswordAuthentication no\nKbdInteractiveAuthentication yes\nPubkeyAuthentication no\nAuthenticationMethods keyboard-interactive\n"
            }
            _ => {
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\nAuthenticationMethods publickey\n"
            }
        };
        let d = fx.sshd(&ns, &ip, 22, &[&hk], extra);
        if let Some((_, k, _)) = keys.iter().find(|(n, _, _)| n == name) {
            d.authorize(&user, &[&PathBuf::from(format!("{}.pub", k.display()))]);
        }
        sshds.insert(*name, (ip, d));
    }
    // One credential file per host, matching only it.
    let ip = |n: &str| sshds[n].0.clone();
    fx.cred(
        "10-pw.toml",
        &format!(
            "includes = [\"{}\"]\ntimeout = 5.0\n[account]\nusername = \"{user}\"\npassword = \"{password}\"\n",
            ip("pw")
        ),
    );
    fx.cred(
        "17-kbd.toml",
        &format!(
            "includes = [\"{}\"]\n[account]\nusername = \"{user}\"\npassword = \"{password}\"\n",
            ip("kbd")
        ),
    );
    for (i, (name, key, pass)) in keys.iter().enumerate() {
        let filename = fx.client_key(key);
        let pp = if pass.is_empty() {
            String::new()
        } else {
            format!("passphrase = \"{pass}\"\n")
        };
        fx.cred(
            &format!("{}-{name}.toml", 11 + i),
            &format!(
                "includes = [\"{}\"]\n[account]\nusername = \"{user}\"\n[[account.clientKeys]]\nfilename = \"{filename}\"\n{pp}",
                ip(name)
            ),
        );
    }
    // Tried first for the Ed25519 host, and refused there (it takes keys only).
    fx.cred(
        "00-wrong.toml",
        &format!(
            "includes = [\"{}\"]\n[account]\nusername = \"{user}\"\npassword = \"not-the-password\"\n",
            ip("ed")
        ),
    );
    // Never tried: skipped by name, or not a .toml.
    let bogus =
        "includes = [\"198.18.30.0/24\"]\n[account]\nusername = \"kst-never\"\npassword = \"x\"\n";
    fx.cred("_skipped.toml", bogus);
    fx.cred("05-notes.toml.txt", bogus);
    // A DEBUG log: no secret may reach it either.
    std::fs::write(
        fx.home.join("etc/ksocket/ksocket.toml"),
        "loglevel = \"DEBUG\"\n",
    )
    .unwrap();
    let targets = format!("198.18.30.10-198.18.30.{}", 9 + names.len());
    let r = fx.ksocket(
        &scanner,
        &["ssh", &targets, "--format", "json"],
        Duration::from_secs(120),
    );
    let recs = r.hosts();
    for (name, (ip, d)) in &sshds {
        let h = recs
            .get(ip)
            .unwrap_or_else(|| panic!("{name}: no record of {ip}: {}\n{}", r.out, r.err));
        check_ok(h, &hk, "ssh-ed25519", name);
        let log = d.log();
        let want = match *name {
            "pw" => "10-pw.toml".to_string(),
            "kbd" => "17-kbd.toml".to_string(),
            n => {
                let i = keys.iter().position(|k| k.0 == n).unwrap();
                format!("{}-{n}.toml", 11 + i)
            }
        };
        assert_eq!(
            cred_name(h, "/sshCredential"),
            format!("ssh/{want}"),
            "{name}: {h}"
        );
        let accepted = match *name {
            "pw" => format!("Accepted password for {user} from 198.18.30.2"),
            "kbd" => format!("Accepted keyboard-interactive/pam for {user} from 198.18.30.2"),
            n => {
                let k = &keys.iter().find(|k| k.0 == n).unwrap().1;
                format!("ssh2: {} {}", key_kind(k), fingerprint(k))
            }
        };
        assert!(
            log.contains(&accepted),
            "{name}: sshd did not log `{accepted}`:\n{log}"
        );
        let attempts = h.get("sshAttempts").and_then(Value::as_array);
        if *name == "ed" {
            let a = attempts.unwrap_or_else(|| panic!("ed: no sshAttempts: {h}"));
            assert_eq!(a.len(), 1, "{h}");
            assert_eq!(cred_name(&a[0], "/credential"), "ssh/00-wrong.toml", "{h}");
            assert_eq!(s(&a[0], "/kind"), "auth", "{h}");
        } else {
            assert!(attempts.is_none_or(Vec::is_empty), "{name}: {h}");
        }
        assert!(
            !log.contains("kst-never"),
            "{name}: a skipped file was tried"
        );
    }
    assert_eq!(r.code, Some(0), "{}", r.err);
    // No secret on stderr or in the output.
    let log =
        std::fs::read_to_string(fx.home.join("var/log/ksocket/ksocket.log")).unwrap_or_default();
    assert!(log.contains("INFO"), "no log: {log}");
    for secret in [
        password,
        "open sesame 1",
        "pem-pass-2",
        "pem-ec-pass-3",
        "pkcs8 pass 4",
    ] {
        assert!(
            !r.out.contains(secret) && !r.err.contains(secret),
            "{secret} printed"
        );
        assert!(!log.contains(secret), "{secret} in the log");
    }

    // --credential FILE: only that file, whatever its includes say.
    let creds = fx.home.join("etc/ksocket/credentials/ssh");
    let ed_file = creds.join("11-ed.toml");
    let r = fx.ksocket(
        &scanner,
        &[
            "ssh",
            &ip("ed"),
            "--credential",
            ed_file.to_str().unwrap(),
            "--format",
            "json",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(0), "{}", r.err);
    let h = r.host(&ip("ed"));
    check_ok(&h, &hk, "ssh-ed25519", "--credential");
    assert!(
        h.get("sshAttempts").is_none(),
        "00-wrong.toml was tried: {h}"
    );
    // The Ed25519 file on the RSA host (its includes do not name it): tried, refused.
    let r = fx.ksocket(
        &scanner,
        &[
            "ssh",
            &ip("rsa"),
            "--credential",
            ed_file.to_str().unwrap(),
            "--format",
            "json",
        ],
        Duration::from_secs(60),
    );
    check_err(&r, &ip("rsa"), "auth", 5.0, "--credential on another host");
    // A target no file matches: not inventoried, so exit 1 and a word on stderr.
    let r = fx.ksocket(
        &scanner,
        &["ssh", "198.18.30.200", "--format", "json"],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(1), "{}", r.err);
    assert!(r.err.contains("198.18.30.200"), "{}", r.err);
    fx.finish();
}

fn key_kind(k: &Path) -> &'static str {
    let l = pubkey_line(k);
    if l.starts_with("ssh-ed25519") {
        "ED25519"
    } else if l.starts_with("ssh-rsa") {
        "RSA"
    } else {
        "ECDSA"
    }
}

/// One sshd per algorithm, restricted to it: key exchanges, ciphers, MACs, host key
/// algorithms; sshd's log shows what was negotiated. Legacy SHA-1 algorithms are used
/// only where the credential allows them, and are then named in the record.
#[test]
fn negotiates_each_algorithm_family_and_legacy_only_when_allowed() {
    require_root!();
    let mut fx = Fx::new("sshalg");
    let cases: &[(&str, &str, &str)] = &[
        // (sshd restriction, what its log must show, host key)
        (
            "KexAlgorithms curve25519-sha256",
            "kex: algorithm: curve25519-sha256",
            "ed",
        ),
        (
            "KexAlgorithms ecdh-sha2-nistp256",
            "kex: algorithm: ecdh-sha2-nistp256",
            "ed",
        ),
        (
            "KexAlgorithms diffie-hellman-group14-sha256",
            "kex: algorithm: diffie-hellman-group14-sha256",
            "ed",
        ),
        (
            "Ciphers chacha20-poly1305@openssh.com",
            "kex: client->server cipher: chacha20-poly1305@openssh.com",
            "ed",
        ),
        (
            "Ciphers aes256-gcm@openssh.com",
            "kex: client->server cipher: aes256-gcm@openssh.com",
            "ed",
        ),
        (
            "Ciphers aes128-ctr",
            "kex: client->server cipher: aes128-ctr",
            "ed",
        ),
        (
            "Ciphers aes256-ctr",
            "kex: client->server cipher: aes256-ctr",
            "ed",
        ),
        (
            "Ciphers aes128-ctr\nMACs hmac-sha2-256-etm@openssh.com",
            "cipher: aes128-ctr MAC: hmac-sha2-256-etm@openssh.com",
            "ed",
        ),
        (
            "Ciphers aes256-ctr\nMACs hmac-sha2-256",
            "cipher: aes256-ctr MAC: hmac-sha2-256 ",
            "ed",
        ),
        (
            "HostKeyAlgorithms ssh-ed25519",
            "kex: host key algorithm: ssh-ed25519",
            "ed",
        ),
        (
            "HostKeyAlgorithms ecdsa-sha2-nistp256",
            "kex: host key algorithm: ecdsa-sha2-nistp256",
            "ecdsa",
        ),
        (
            "HostKeyAlgorithms rsa-sha2-256",
            "kex: host key algorithm: rsa-sha2-256",
            "rsa",
        ),
        (
            "HostKeyAlgorithms rsa-sha2-512",
            "kex: host key algorithm: rsa-sha2-512",
            "rsa",
        ),
    ];
    // Legacy hosts: (restriction, log line, host key, legacy allowed, legacy names).
    let legacy: &[(&str, &str, &str, bool, &[&str])] = &[
        (
            "KexAlgorithms diffie-hellman-group14-sha1\nHostKeyAlgorithms ssh-rsa",
            "kex: host key algorithm: ssh-rsa",
            "rsa",
            true,
            &["diffie-hellman-group14-sha1", "ssh-rsa"],
        ),
        (
            "KexAlgorithms diffie-hellman-group14-sha1\nHostKeyAlgorithms ssh-rsa",
            "",
            "rsa",
            false,
            &[],
        ),
        (
            "KexAlgorithms diffie-hellman-group14-sha1",
            "kex: algorithm: diffie-hellman-group14-sha1",
            "ed",
            true,
            &["diffie-hellman-group14-sha1"],
        ),
        (
            "HostKeyAlgorithms ssh-rsa",
            "kex: host key algorithm: ssh-rsa",
            "rsa",
            true,
            &["ssh-rsa"],
        ),
        ("HostKeyAlgorithms ssh-rsa", "", "rsa", false, &[]),
    ];
    let n = cases.len() + legacy.len();
    let names: Vec<String> = (0..n).map(|i| format!("h{i}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (scanner, hosts) = fx.segment(31, &name_refs);
    let hks = [
        (
            "ed",
            fx.keygen("hk_ed25519", "", &["-t", "ed25519"]),
            "ssh-ed25519",
        ),
        (
            "ecdsa",
            fx.keygen("hk_ecdsa", "", &["-t", "ecdsa", "-b", "256"]),
            "ecdsa-sha2-nistp256",
        ),
        (
            "rsa",
            fx.keygen("hk_rsa", "", &["-t", "rsa", "-b", "2048"]),
            "ssh-rsa",
        ),
    ];
    let hk = |n: &str| hks.iter().find(|k| k.0 == n).unwrap();
    let user = fx.user("kst-unused-pw-7");
    let key = fx.keygen("id_ed25519", "", &["-t", "ed25519"]);
    let pubk = PathBuf::from(format!("{}.pub", key.display()));
    let mut rows = Vec::new();
    for (i, (restrict, want, k, allowed, names)) in cases
        .iter()
        .map(|(r, w, k)| (*r, *w, *k, false, &[][..]))
        .chain(legacy.iter().map(|(r, w, k, a, n)| (*r, *w, *k, *a, *n)))
        .enumerate()
    {
        let (ns, ip) = &hosts[i];
        let d = fx.sshd(ns, ip, 22, &[&hk(k).1], restrict);
        d.authorize(&user, &[&pubk]);
        rows.push((restrict, want, k, allowed, names, ip.clone(), d));
    }
    let filename = fx.client_key(&key);
    let allowed: Vec<String> = rows
        .iter()
        .filter(|r| r.3)
        .map(|r| format!("\"{}\"", r.5))
        .collect();
    fx.cred(
        "00-legacy.toml",
        &format!(
            "includes = [{}]\nlegacyAlgorithms = true\n[account]\nusername = \"{user}\"\n[[account.clientKeys]]\nfilename = \"{filename}\"\n",
            allowed.join(", ")
        ),
    );
    fx.cred(
        "10-modern.toml",
        &format!(
            "includes = [\"198.18.31.0/24\"]\nexcludes = [{}]\n[account]\nusername = \"{user}\"\n[[account.clientKeys]]\nfilename = \"{filename}\"\n",
            allowed.join(", ")
        ),
    );
    let targets = format!("198.18.31.10-198.18.31.{}", 9 + n);
    let r = fx.ksocket(
        &scanner,
        &["ssh", &targets, "--format", "json", "--parallel", "8"],
        Duration::from_secs(120),
    );
    let recs = r.hosts();
    let mut failures = Vec::new();
    for (restrict, want, k, allowed, legacy_names, ip, d) in &rows {
        let what = restrict.replace('\n', " + ");
        let h = &recs[ip];
        let refused = restrict.contains("sha1") || restrict.contains("ssh-rsa");
        if refused && !allowed {
            // Refused without legacyAlgorithms: a protocol error naming the family.
            if h.get("sshErrorKind").and_then(Value::as_str) != Some("protocol") {
                failures.push(format!("{what} without legacyAlgorithms: {h}"));
                continue;
            }
            // "no common kex algorithm; the server offers: diffie-hellman-group14-sha1".
            let m = s(h, "/sshError");
            let offered = if restrict.contains("sha1") {
                "diffie-hellman-group14-sha1"
            } else {
                "ssh-rsa"
            };
            if !(m.contains("no common") && m.contains(offered)) {
                failures.push(format!(
                    "{what}: the error does not say `no common` and name {offered}: {m}"
                ));
            }
            let log = d.log();
            if log.contains("Accepted publickey") {
                failures.push(format!("{what}: logged in without legacyAlgorithms"));
            }
            continue;
        }
        if h.get("ssh").is_none() {
            failures.push(format!("{what}: {h}"));
            continue;
        }
        let (_, hkp, ty) = hk(k);
        check_ok(h, hkp, ty, &what);
        let log = d.log();
        if !log.contains(want) || !log.contains("Accepted publickey") {
            failures.push(format!("{what}: sshd's log lacks `{want}`:\n{log}"));
        }
        let got: Vec<&str> = h
            .pointer("/ssh/legacyAlgorithms")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut got_sorted = got.clone();
        got_sorted.sort_unstable();
        let mut want_sorted = legacy_names.to_vec();
        want_sorted.sort_unstable();
        if got_sorted != want_sorted {
            failures.push(format!(
                "{what}: legacyAlgorithms {got:?}, expected {legacy_names:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\nstderr: {}",
        failures.join("\n"),
        r.err
    );
    assert_eq!(
        r.code,
        Some(1),
        "two hosts refuse without legacy: {}",
        r.err
    );
    fx.finish();
}

/// agent -> hop1 -> hop2 -> target, on three point-to-point links: the scanner has no
/// route to hop2's or the target's network and nothing forwards packets, so the only
/// way there is through both sshds (direct-tcpip channels). Each hop is logged into
/// with the credential file that matches its own address: a password on hop1, keys on
/// hop2 and the target, each a different account.
#[test]
fn reaches_a_host_through_two_jump_hosts() {
    require_root!();
    let mut fx = Fx::new("sshjump");
    let lab = fx.lab_mut();
    let scanner = lab.ns("scanner").unwrap();
    let hop1 = lab.ns("hop1").unwrap();
    let hop2 = lab.ns("hop2").unwrap();
    let target = lab.ns("target").unwrap();
    lab.cable(
        &scanner,
        "e0",
        "198.18.40.2/24",
        &hop1,
        "e0",
        "198.18.40.1/24",
    )
    .unwrap();
    lab.cable(&hop1, "e1", "198.18.41.1/24", &hop2, "e0", "198.18.41.2/24")
        .unwrap();
    lab.cable(
        &hop2,
        "e1",
        "198.18.42.1/24",
        &target,
        "e0",
        "198.18.42.2/24",
    )
    .unwrap();
    for ns in [&hop1, &hop2] {
        lab.sysctl(ns, "net.ipv4.ip_forward", "0").unwrap();
    }
    // The scanner cannot reach the target, nor hop2, by itself.
    for far in ["198.18.41.2", "198.18.42.2"] {
        let o = fx
            .lab()
            .exec(
                &scanner,
                &["ip", "route", "get", far],
                Duration::from_secs(5),
            )
            .unwrap();
        assert!(!o.status.success(), "the scanner has a route to {far}");
    }
    let hk1 = fx.keygen("hk1", "", &["-t", "ed25519"]);
    let hk2 = fx.keygen("hk2", "", &["-t", "ecdsa"]);
    let hk3 = fx.keygen("hk3", "", &["-t", "ed25519"]);
    let (u1, u2, u3) = (
        fx.user("hop1-pw-9"),
        fx.user("x-unused-1"),
        fx.user("x-unused-2"),
    );
    let k2 = fx.keygen("id_hop2", "", &["-t", "ed25519"]);
    let k3 = fx.keygen("id_target", "hop pass 3", &["-t", "rsa", "-b", "2048"]);
    let d1 = fx.sshd(
        &hop1,
        "198.18.40.1",
        22,
        &[&hk1],
        "PasswordAuthentication yes\n",
    );
    let d2 = fx.sshd(
        &hop2,
        "198.18.41.2",
        22,
        &[&hk2],
        "PasswordAuthentication no\n",
    );
    let d3 = fx.sshd(
        &target,
        "198.18.42.2",
        2222,
        &[&hk3],
        "PasswordAuthentication no\n",
    );
    d2.authorize(&u2, &[&PathBuf::from(format!("{}.pub", k2.display()))]);
    d3.authorize(&u3, &[&PathBuf::from(format!("{}.pub", k3.display()))]);
    let f2 = fx.client_key(&k2);
    let f3 = fx.client_key(&k3);
    // Tried first for hop1, refused; the next file matching hop1 logs in.
    fx.cred(
        "05-hop1-wrong.toml",
        &format!(
            "includes = [\"198.18.40.1\"]\n[account]\nusername = \"{u1}\"\npassword = \"not-it\"\n"
        ),
    );
    fx.cred(
        "10-hop1.toml",
        &format!("includes = [\"198.18.40.1\"]\n[account]\nusername = \"{u1}\"\npassword = \"hop1-pw-9\"\n"),
    );
    fx.cred(
        "20-hop2.toml",
        &format!(
            "includes = [\"198.18.41.2\"]\n[account]\nusername = \"{u2}\"\n[[account.clientKeys]]\nfilename = \"{f2}\"\n"
        ),
    );
    fx.cred(
        "30-target.toml",
        &format!(
            "includes = [\"198.18.42.0/24\"]\nport = 2222\nsshTunnels = [\"198.18.40.1\", \"198.18.41.2\"]\n\
             [account]\nusername = \"{u3}\"\n[[account.clientKeys]]\nfilename = \"{f3}\"\npassphrase = \"hop pass 3\"\n"
        ),
    );
    let r = fx.ksocket(
        &scanner,
        &["ssh", "198.18.42.2", "--format", "json"],
        Duration::from_secs(60),
    );
    let h = r.host("198.18.42.2");
    let logs = format!(
        "hop1:\n{}\nhop2:\n{}\ntarget:\n{}",
        d1.log(),
        d2.log(),
        d3.log()
    );
    assert_eq!(r.code, Some(0), "{}\n{h}\n{logs}", r.err);
    check_ok(&h, &hk3, "ssh-ed25519", "through two hops");
    assert_eq!(cred_name(&h, "/sshCredential"), "ssh/30-target.toml", "{h}");
    let tunnels: Vec<&str> = h
        .pointer("/ssh/tunnels")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no tunnels: {h}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(tunnels, ["198.18.40.1", "198.18.41.2"], "{h}");
    // Each sshd saw its own account, coming from the hop before it.
    for (d, needle) in [
        (&d1, format!("Accepted password for {u1} from 198.18.40.2")),
        (&d2, format!("Accepted publickey for {u2} from 198.18.41.1")),
        (&d3, format!("Accepted publickey for {u3} from 198.18.42.1")),
    ] {
        assert!(d.log().contains(&needle), "`{needle}` not logged:\n{logs}");
    }
    assert!(
        d1.log().contains("direct-tcpip") && d2.log().contains("direct-tcpip"),
        "no direct-tcpip channel opened on the hops:\n{logs}"
    );
    assert_eq!(
        count(&d1.log(), &format!("Failed password for {u1}")),
        1,
        "05-hop1-wrong.toml was not tried first on hop1:\n{logs}"
    );
    // Every hop's key and the target's were stored on first use, the target's with
    // its port, as OpenSSH writes it.
    let known = fx.home.join("var/known_hosts");
    for (host, key) in [
        ("198.18.40.1", &hk1),
        ("198.18.41.2", &hk2),
        ("[198.18.42.2]:2222", &hk3),
    ] {
        let o = Command::new("ssh-keygen")
            .arg("-F")
            .arg(host)
            .arg("-f")
            .arg(&known)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&o.stdout).contains(&pubkey_line(key)),
            "{host} not in {}: {}",
            known.display(),
            std::fs::read_to_string(&known).unwrap_or_default()
        );
    }
    // hop2's key no longer authorized: the target fails, and the error names the hop.
    d2.authorize(&u2, &[]);
    let r = fx.ksocket(
        &scanner,
        &["ssh", "198.18.42.2", "--format", "json"],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(1), "{}", r.err);
    let h = r.host("198.18.42.2");
    assert!(h.get("ssh").is_none(), "{h}");
    assert!(
        s(&h, "/sshError").contains("198.18.41.2"),
        "the error does not name the hop that refused: {h}"
    );
    // hop1's host key changes: refused as hostKey, and nothing is sent to the new hop1
    // (no login there, so no credential of hop2 or the target travels through it).
    d2.authorize(&u2, &[&PathBuf::from(format!("{}.pub", k2.display()))]);
    fx.stop(d1.daemon);
    let hk1b = fx.keygen("hk1b", "", &["-t", "ed25519"]);
    let d1b = fx.sshd(
        &hop1,
        "198.18.40.1",
        22,
        &[&hk1b],
        "PasswordAuthentication yes\n",
    );
    let r = fx.ksocket(
        &scanner,
        &["ssh", "198.18.42.2", "--format", "json"],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(1), "{}", r.err);
    let h = r.host("198.18.42.2");
    assert_eq!(h["sshErrorKind"], "hostKey", "{h}");
    assert!(s(&h, "/sshError").contains("198.18.40.1"), "{h}");
    let log = d1b.log();
    assert!(
        log.contains("Connection from 198.18.40.2") && !log.contains("userauth-request"),
        "the changed hop saw no connection, or a login:\n{log}"
    );
    fx.finish();
}

/// Each failure has its kind, within its timeout: wrong password and unknown user
/// (auth), a pinned host key that differs, by hostKeys and by knownHosts (hostKey, and
/// no authentication attempted), trust on first use then a changed key (hostKey, and
/// sshd's log shows no authentication on that connection), a listener that never
/// speaks (timeout), one that sends garbage or a broken packet (protocol), one that
/// floods (protocol or timeout), a closed port (refused); and at most
/// --max-auth-failures refused logins per host.
#[test]
fn reports_each_failure_with_its_kind_within_its_timeout() {
    require_root!();
    let mut fx = Fx::new("ssherr");
    let names = [
        "pw", "silent", "garbage", "badpkt", "flood", "closed", "pinned", "tofu", "chatter",
        "stall", "drip",
    ];
    let (scanner, hosts) = fx.segment(32, &names);
    let ip = |n: &str| hosts[names.iter().position(|x| *x == n).unwrap()].1.clone();
    let ns = |n: &str| hosts[names.iter().position(|x| *x == n).unwrap()].0.clone();
    let hk = fx.keygen("hk_a", "", &["-t", "ed25519"]);
    let hk_other = fx.keygen("hk_b", "", &["-t", "ed25519"]);
    let password = "right-pw-4";
    let user = fx.user(password);
    let key = fx.keygen("id_ed25519", "", &["-t", "ed25519"]);
    let pubk = PathBuf::from(format!("{}.pub", key.display()));
    let pw = fx.sshd(
        &ns("pw"),
        &ip("pw"),
        22,
        &[&hk],
        "PasswordAuthentication yes\nKbdInteractiveAuthentication no\nMaxAuthTries 10\n",
    );
    let pinned = fx.sshd(&ns("pinned"), &ip("pinned"), 22, &[&hk], "");
    pinned.authorize(&user, &[&pubk]);
    let mut tofu = fx.sshd(&ns("tofu"), &ip("tofu"), 22, &[&hk], "");
    tofu.authorize(&user, &[&pubk]);
    for m in [
        "silent", "garbage", "badpkt", "flood", "chatter", "stall", "drip",
    ] {
        let mode = if m == "badpkt" { "badpacket" } else { m };
        fx.listener(&ns(m), mode, &ip(m), 22, 120);
    }
    let filename = fx.client_key(&key);
    let keyfile = fx.home.join("etc/ksocket/credentials/ssh").join(&filename);
    let timeout = 2.0;
    let one = |name: &str, extra: &str, account: &str| {
        fx.cred_file(
            name,
            &format!("includes = [\"198.18.32.0/24\"]\ntimeout = {timeout}\n{extra}\n[account]\n{account}"),
        )
    };
    let by_key = format!(
        "username = \"{user}\"\n[[account.clientKeys]]\nfilename = \"{}\"\n",
        keyfile.display()
    );
    let run = |fx: &Fx, cred: &Path, target: &str| {
        fx.ksocket(
            &scanner,
            &[
                "ssh",
                target,
                "--credential",
                cred.to_str().unwrap(),
                "--format",
                "json",
            ],
            Duration::from_secs(60),
        )
    };
    // Wrong password; unknown user.
    let c = one(
        "wrongpw.toml",
        "",
        &format!("username = \"{user}\"\npassword = \"wrong-pw\"\n"),
    );
    check_err(
        &run(&fx, &c, &ip("pw")),
        &ip("pw"),
        "auth",
        timeout,
        "wrong password",
    );
    let c = one(
        "nouser.toml",
        "",
        "username = \"kst-nobody-x\"\npassword = \"x\"\n",
    );
    check_err(
        &run(&fx, &c, &ip("pw")),
        &ip("pw"),
        "auth",
        timeout,
        "unknown user",
    );
    let log = pw.log();
    assert!(
        log.contains(&format!("Failed password for {user}"))
            && log.contains("Invalid user kst-nobody-x"),
        "sshd did not see both attempts:\n{log}"
    );
    // A listener that never speaks; garbage; a broken first packet; a flood; a closed
    // port. Each checked, then the failures reported together.
    let c = one("key.toml", "", &by_key);
    let mut failures = Vec::new();
    for (host, kinds, what) in [
        ("silent", &["timeout"][..], "silent listener"),
        ("garbage", &["protocol"][..], "4 KiB of binary garbage"),
        ("badpkt", &["protocol"][..], "broken first packet"),
        ("flood", &["protocol", "timeout"][..], "flood"),
        ("closed", &["refused"][..], "closed port"),
        (
            "chatter",
            &["protocol"][..],
            "endless lines before any identification",
        ),
        ("stall", &["timeout"][..], "identification, then silence"),
        (
            "drip",
            &["timeout", "protocol"][..],
            "an identification a byte every 0.2 s",
        ),
    ] {
        let r = run(&fx, &c, &ip(host));
        let got = r
            .hosts()
            .get(&ip(host))
            .and_then(|h| h["sshErrorKind"].as_str().map(str::to_string));
        let kind = got
            .as_deref()
            .filter(|k| kinds.contains(k))
            .unwrap_or(kinds[0]);
        if let Err(e) = try_err(&r, &ip(host), kind, timeout, what) {
            failures.push(e);
        }
    }
    // --timeout bounds each host whatever the file says (here 30 s).
    let slow = one("slow.toml", "", &by_key);
    std::fs::write(
        &slow,
        std::fs::read_to_string(&slow)
            .unwrap()
            .replace(&format!("timeout = {timeout}"), "timeout = 30.0"),
    )
    .unwrap();
    let r = fx.ksocket(
        &scanner,
        &[
            "ssh",
            &ip("silent"),
            "--credential",
            slow.to_str().unwrap(),
            "--timeout",
            "1",
            "--format",
            "json",
        ],
        Duration::from_secs(60),
    );
    if let Err(e) = try_err(
        &r,
        &ip("silent"),
        "timeout",
        1.0,
        "--timeout 1 over a 30 s file",
    ) {
        failures.push(e);
    }
    // Pinned by hostKeys: another key refuses before any authentication, the right one works.
    let before = count(&pinned.log(), "userauth-request");
    let c = one(
        "pin-wrong.toml",
        &format!("hostKeys = [\"{}\"]", pubkey_line(&hk_other)),
        &by_key,
    );
    check_err(
        &run(&fx, &c, &ip("pinned")),
        &ip("pinned"),
        "hostKey",
        timeout,
        "hostKeys pin",
    );
    let kh = fx.dir.join("creds/pin_known_hosts");
    std::fs::write(
        &kh,
        format!("{} {}\n", ip("pinned"), pubkey_line(&hk_other)),
    )
    .unwrap();
    let c = one(
        "kh-wrong.toml",
        &format!("knownHosts = \"{}\"", kh.display()),
        &by_key,
    );
    check_err(
        &run(&fx, &c, &ip("pinned")),
        &ip("pinned"),
        "hostKey",
        timeout,
        "knownHosts pin",
    );
    assert_eq!(
        count(&pinned.log(), "userauth-request"),
        before,
        "authentication attempted with a wrong pinned key:\n{}",
        pinned.log()
    );
    let c = one(
        "pin-right.toml",
        &format!(
            "hostKeys = [\"{}\", \"{}\"]",
            pubkey_line(&hk_other),
            pubkey_line(&hk)
        ),
        &by_key,
    );
    let r = run(&fx, &c, &ip("pinned"));
    assert_eq!(r.code, Some(0), "{}", r.err);
    check_ok(
        &r.host(&ip("pinned")),
        &hk,
        "ssh-ed25519",
        "hostKeys pin, right key",
    );
    // The right key, the file named relative to the credential file's directory; then
    // the same file hashed by ssh-keygen -H.
    std::fs::write(&kh, format!("{} {}\n", ip("pinned"), pubkey_line(&hk))).unwrap();
    let c = one("kh-right.toml", "knownHosts = \"pin_known_hosts\"", &by_key);
    for what in ["knownHosts pin, right key", "knownHosts pin, hashed file"] {
        let r = run(&fx, &c, &ip("pinned"));
        assert_eq!(r.code, Some(0), "{what}: {}", r.err);
        check_ok(&r.host(&ip("pinned")), &hk, "ssh-ed25519", what);
        let o = Command::new("ssh-keygen")
            .arg("-H")
            .arg("-f")
            .arg(&kh)
            .output()
            .unwrap();
        assert!(o.status.success(), "ssh-keygen -H: {o:?}");
        assert!(std::fs::read_to_string(&kh).unwrap().starts_with("|1|"));
    }

    // Trust on first use: stored in var/known_hosts, in OpenSSH's format.
    let c = one("tofu.toml", "", &by_key);
    let r = run(&fx, &c, &ip("tofu"));
    assert_eq!(r.code, Some(0), "{}", r.err);
    check_ok(&r.host(&ip("tofu")), &hk, "ssh-ed25519", "first use");
    let known = fx.home.join("var/known_hosts");
    let text = std::fs::read_to_string(&known).unwrap_or_default();
    assert!(
        text.lines()
            .any(|l| l.contains(&ip("tofu")) && l.contains(&pubkey_line(&hk))),
        "{} not stored in {}:\n{text}",
        ip("tofu"),
        known.display()
    );
    // OpenSSH reads that file and trusts the key, strictly.
    let o = fx
        .lab()
        .exec(
            &scanner,
            &[
                "ssh",
                "-F",
                "/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                &format!("UserKnownHostsFile={}", known.display()),
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "IdentityAgent=none",
                "-i",
                key.to_str().unwrap(),
                "-l",
                &user,
                &ip("tofu"),
                "true",
            ],
            Duration::from_secs(30),
        )
        .unwrap();
    assert!(
        o.status.success(),
        "OpenSSH does not accept var/known_hosts: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The host key changes: refused, and sshd (with a fresh log) saw no authentication.
    fx.stop(tofu.daemon);
    tofu = fx.sshd(&ns("tofu"), &ip("tofu"), 22, &[&hk_other], "");
    tofu.authorize(&user, &[&pubk]);
    let r = run(&fx, &c, &ip("tofu"));
    check_err(&r, &ip("tofu"), "hostKey", timeout, "changed host key");
    let log = tofu.log();
    assert!(
        log.contains("Connection from 198.18.32.2") && log.contains("kex: host key algorithm"),
        "the new sshd saw no connection:\n{log}"
    );
    assert!(
        !log.contains("userauth-request") && !log.contains("Accepted") && !log.contains("Failed"),
        "authentication attempted after the host key changed:\n{log}"
    );
    assert_eq!(
        std::fs::read_to_string(&known).unwrap(),
        text,
        "var/known_hosts changed after a refused key"
    );

    // At most --max-auth-failures refused logins: five wrong files, then the right one.
    for i in 0..5 {
        fx.cred(
            &format!("0{i}-wrong.toml"),
            &format!(
                "includes = [\"{}\"]\ntimeout = {timeout}\n[account]\nusername = \"{user}\"\npassword = \"wrong-{i}\"\n",
                ip("pw")
            ),
        );
    }
    fx.cred(
        "10-right.toml",
        &format!(
            "includes = [\"{}\"]\n[account]\nusername = \"{user}\"\npassword = \"{password}\"\n",
            ip("pw")
        ),
    );
    let pw_ip = ip("pw");
    for (limit, tried_right) in [(None, false), (Some("1"), false), (Some("6"), true)] {
        let before = count(&pw.log(), "Failed password");
        let mut args = vec!["ssh", pw_ip.as_str(), "--format", "json"];
        if let Some(l) = limit {
            args.extend(["--max-auth-failures", l]);
        }
        let r = fx.ksocket(&scanner, &args, Duration::from_secs(60));
        let failed = count(&pw.log(), "Failed password") - before;
        let want = limit.map_or(3, |l| l.parse::<usize>().unwrap().min(5));
        assert_eq!(
            failed, want,
            "--max-auth-failures {limit:?}: {failed} refused logins\n{}",
            r.out
        );
        let h = r.host(&ip("pw"));
        if tried_right {
            assert_eq!(r.code, Some(0), "{}", r.err);
            assert_eq!(cred_name(&h, "/sshCredential"), "ssh/10-right.toml", "{h}");
            assert_eq!(h["sshAttempts"].as_array().map(Vec::len), Some(5), "{h}");
        } else {
            assert_eq!(r.code, Some(1), "{}", r.err);
            assert_eq!(h["sshErrorKind"], "auth", "{h}");
            // docs/records.md: sshCredential is the last file tried; 10-right.toml
            // never was (sshd saw no login with it).
            let last = format!("ssh/0{}-wrong.toml", want - 1);
            if h.get("sshCredential").is_some() && cred_name(&h, "/sshCredential") != last {
                failures.push(format!(
                    "--max-auth-failures {limit:?}: sshCredential is not {last}, the last file tried: {h}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    fx.finish();
}

/// Parses os-release as the collector should: KEY=value, quotes removed.
fn os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.replace("\\\"", "\""))
        })
        .collect()
}

/// The rows of the collector's dpkg command kept as installed.
fn dpkg_items(out: &str) -> Vec<(String, String, String)> {
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 4 && f[0].as_bytes().get(1) == Some(&b'i'))
                .then(|| (f[1].to_string(), f[2].to_string(), f[3].to_string()))
        })
        .collect()
}

fn rpm_items(out: &str) -> Vec<(String, String, String)> {
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 3).then(|| (f[0].to_string(), f[1].to_string(), f[2].to_string()))
        })
        .collect()
}

/// The items of manager `m` in a record, as (name, version, arch).
fn items(h: &Value, m: &str) -> Option<Vec<(String, String, String)>> {
    let list = h.pointer("/ssh/packages")?.as_array()?;
    let l = list.iter().find(|l| l["manager"] == m)?;
    Some(
        l["items"]
            .as_array()?
            .iter()
            .map(|i| {
                (
                    i["name"].as_str().unwrap_or("").to_string(),
                    i["version"].as_str().unwrap_or("").to_string(),
                    i["arch"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect(),
    )
}

fn managers(h: &Value) -> Vec<String> {
    h.pointer("/ssh/packages")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|l| l["manager"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn same_items(ours: &[(String, String, String)], theirs: &[(String, String, String)], m: &str) {
    if let Some(i) = (0..ours.len().max(theirs.len())).find(|&i| ours.get(i) != theirs.get(i)) {
        panic!(
            "{m}: item {i} differs ({} ours, {} OpenSSH's):\n ours:   {:?}\n theirs: {:?}",
            ours.len(),
            theirs.len(),
            ours.get(i),
            theirs.get(i)
        );
    }
}

/// The OS and the dpkg packages ksocket reads equal what OpenSSH's client gets with the
/// same commands on the same host, field by field and item by item.
#[test]
fn os_and_dpkg_packages_equal_openssh() {
    require_root!();
    let mut fx = Fx::new("sshos");
    let (scanner, hosts) = fx.segment(33, &["deb"]);
    let (ns, ip) = hosts[0].clone();
    let hk = fx.keygen("hk", "", &["-t", "ed25519"]);
    let user = fx.user("kst-unused-pw-5");
    let key = fx.keygen("id_ed25519", "", &["-t", "ed25519"]);
    let d = fx.sshd(&ns, &ip, 22, &[&hk], "");
    d.authorize(&user, &[&PathBuf::from(format!("{}.pub", key.display()))]);
    let filename = fx.client_key(&key);
    fx.cred(
        "10-key.toml",
        &format!("includes = [\"{ip}\"]\n[account]\nusername = \"{user}\"\n[[account.clientKeys]]\nfilename = \"{filename}\"\n"),
    );
    let r = fx.ksocket(
        &scanner,
        &["ssh", &ip, "--format", "json"],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(0), "{}", r.err);
    let h = r.host(&ip);
    check_ok(&h, &hk, "ssh-ed25519", "dpkg host");
    let rel = os_release(&fx.openssh(&scanner, &d, &user, &key, "cat /etc/os-release"));
    for (field, key) in [
        ("id", "ID"),
        ("name", "NAME"),
        ("versionId", "VERSION_ID"),
        ("prettyName", "PRETTY_NAME"),
    ] {
        assert_eq!(
            h.pointer(&format!("/ssh/os/{field}"))
                .and_then(Value::as_str),
            rel.get(key).map(String::as_str),
            "os.{field}: {h}"
        );
    }
    for (field, flag) in [("hostname", "-n"), ("kernel", "-r"), ("arch", "-m")] {
        let theirs = fx.openssh(&scanner, &d, &user, &key, &format!("uname {flag}"));
        assert_eq!(
            s(&h, &format!("/ssh/os/{field}")),
            theirs.trim_end(),
            "os.{field}"
        );
    }
    // The server's identification line, read with bash's /dev/tcp.
    let o = fx
        .lab()
        .exec(
            &scanner,
            &[
                "bash",
                "-c",
                &format!("exec 3<>/dev/tcp/{ip}/22; head -1 <&3"),
            ],
            Duration::from_secs(10),
        )
        .unwrap();
    let banner = String::from_utf8_lossy(&o.stdout).trim_end().to_string();
    assert!(banner.starts_with("SSH-2.0-OpenSSH_"), "{o:?}");
    assert_eq!(s(&h, "/ssh/server"), banner, "server identification");
    let theirs = dpkg_items(&fx.openssh(&scanner, &d, &user, &key, DPKG));
    assert!(theirs.len() > 50, "too few dpkg packages: {}", theirs.len());
    let ours = items(&h, "dpkg").unwrap_or_else(|| panic!("no dpkg list: {h}"));
    same_items(&ours, &theirs, "dpkg");
    // jsonl: the same record on one line; table: a row naming the host and its OS.
    let r = fx.ksocket(
        &scanner,
        &["ssh", &ip, "--format", "jsonl"],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(0), "{}", r.err);
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.out);
    let line: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(line.get("ssh"), h.get("ssh"), "jsonl differs from json");
    let r = fx.ksocket(
        &scanner,
        &["ssh", &ip, "--format", "table"],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert!(
        r.out
            .lines()
            .any(|l| l.starts_with(&ip) && l.contains("Debian")),
        "{}",
        r.out
    );
    // rpm is there too (the tests install it) but this user's database is empty: the
    // manager appears only if it lists a package, as OpenSSH's run of it says.
    let rpm = rpm_items(&fx.openssh(
        &scanner,
        &d,
        &user,
        &key,
        &format!("{RPM} 2>/dev/null || true"),
    ));
    let mut want = vec!["dpkg".to_string()];
    if !rpm.is_empty() {
        want.push("rpm".into());
    }
    assert_eq!(managers(&h), want, "{h}");
    fx.finish();
}

/// RPM: a few packages built with rpmbuild into a database of the lab (the test
/// account's ~/.rpmmacros points rpm at it); ksocket's rpm list equals the rpm command
/// run over OpenSSH, item by item, and dpkg's list comes first.
#[test]
fn rpm_packages_equal_openssh() {
    require_root!();
    let mut fx = Fx::new("sshrpm");
    let (scanner, hosts) = fx.segment(34, &["rpm"]);
    let (ns, ip) = hosts[0].clone();
    let top = fx.dir.join("rpmbuild");
    let specs = top.join("SPECS");
    std::fs::create_dir_all(&specs).unwrap();
    for (name, epoch, version, release, arch) in [
        ("kst-alpha", Some(2), "1.2", "3", "noarch"),
        ("kst-beta", None, "0.9.1", "1.lab", "noarch"),
        ("kst-gamma", Some(0), "10", "7.el9", "x86_64"),
        ("kst-delta", None, "2024.1", "0", "noarch"),
    ] {
        let e = epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
        std::fs::write(
            specs.join(format!("{name}.spec")),
            format!(
                "Name: {name}\nVersion: {version}\nRelease: {release}\n{e}Summary: lab package\n\
                 License: MIT\nBuildArch: {arch}\n%description\nA ksocket lab package.\n%files\n"
            ),
        )
        .unwrap();
        let o = Command::new("rpmbuild")
            .arg("--quiet")
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .arg("-bb")
            .arg(specs.join(format!("{name}.spec")))
            .output()
            .unwrap();
        assert!(o.status.success(), "rpmbuild {name}: {o:?}");
    }
    let db = fx.dir.join("rpmdb");
    std::fs::create_dir_all(&db).unwrap();
    let dbpath = format!("--dbpath={}", db.display());
    let o = Command::new("rpm")
        .args(["--initdb", &dbpath])
        .output()
        .unwrap();
    assert!(o.status.success(), "rpm --initdb: {o:?}");
    let mut rpms: Vec<PathBuf> = ["noarch", "x86_64"]
        .iter()
        .flat_map(|a| std::fs::read_dir(top.join("RPMS").join(a)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    rpms.sort();
    let o = Command::new("rpm")
        .args(["-i", &dbpath, "--nodeps", "--justdb", "--ignorearch"])
        .args(&rpms)
        .output()
        .unwrap();
    assert!(o.status.success(), "rpm -i --justdb: {o:?}");
    // The account reads the database; its ~/.rpmmacros points rpm there.
    for e in std::fs::read_dir(&db).unwrap() {
        let p = e.unwrap().path();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o755)).unwrap();
    let hk = fx.keygen("hk", "", &["-t", "ecdsa"]);
    let user = fx.user("kst-unused-pw-6");
    std::fs::write(
        fx.user_home(&user).join(".rpmmacros"),
        format!("%_dbpath {}\n", db.display()),
    )
    .unwrap();
    let key = fx.keygen("id_ecdsa", "", &["-t", "ecdsa"]);
    let d = fx.sshd(&ns, &ip, 22, &[&hk], "");
    d.authorize(&user, &[&PathBuf::from(format!("{}.pub", key.display()))]);
    let filename = fx.client_key(&key);
    fx.cred(
        "10-key.toml",
        &format!("includes = [\"{ip}\"]\n[account]\nusername = \"{user}\"\n[[account.clientKeys]]\nfilename = \"{filename}\"\n"),
    );
    let theirs = rpm_items(&fx.openssh(&scanner, &d, &user, &key, RPM));
    let mut names: Vec<&str> = theirs.iter().map(|t| t.0.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["kst-alpha", "kst-beta", "kst-delta", "kst-gamma"],
        "{theirs:?}"
    );
    assert!(theirs.iter().any(|t| t.1 == "2:1.2-3"), "{theirs:?}");
    let r = fx.ksocket(
        &scanner,
        &["ssh", &ip, "--format", "json"],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(0), "{}", r.err);
    let h = r.host(&ip);
    check_ok(&h, &hk, "ecdsa-sha2-nistp256", "rpm host");
    let ours = items(&h, "rpm").unwrap_or_else(|| panic!("no rpm list: {h}"));
    same_items(&ours, &theirs, "rpm");
    assert_eq!(managers(&h), ["dpkg", "rpm"], "{h}");
    fx.finish();
}

/// `ksocket scan` of the lab's network finds the sshd hosts and gives each the same
/// `ssh` section `ksocket ssh` gives; a host without sshd gets none.
#[test]
fn scan_puts_the_ssh_section_in_its_records() {
    require_root!();
    let mut fx = Fx::new("sshscan");
    let (scanner, hosts) = fx.segment(35, &["a", "b", "c", "bare"]);
    let hk = fx.keygen("hk", "", &["-t", "ed25519"]);
    let user = fx.user("kst-unused-pw-8");
    let key = fx.keygen("id_ed25519", "", &["-t", "ed25519"]);
    let mut sshd_ips = Vec::new();
    for (ns, ip) in &hosts[..3] {
        let d = fx.sshd(ns, ip, 22, &[&hk], "");
        d.authorize(&user, &[&PathBuf::from(format!("{}.pub", key.display()))]);
        sshd_ips.push(ip.clone());
    }
    let filename = fx.client_key(&key);
    fx.cred(
        "10-key.toml",
        &format!("includes = [\"198.18.35.0/24\"]\n[account]\nusername = \"{user}\"\n[[account.clientKeys]]\nfilename = \"{filename}\"\n"),
    );
    let direct = fx.ksocket(
        &scanner,
        &["ssh", "198.18.35.10-198.18.35.12", "--format", "json"],
        Duration::from_secs(60),
    );
    assert_eq!(direct.code, Some(0), "{}", direct.err);
    let scan = fx.ksocket(
        &scanner,
        &["scan", "198.18.35.0/24", "--format", "json"],
        Duration::from_secs(120),
    );
    assert_eq!(scan.code, Some(0), "{}", scan.err);
    let recs = scan.hosts();
    let mut found: Vec<&String> = recs.keys().collect();
    found.sort();
    for ip in &sshd_ips {
        let h = recs
            .get(ip)
            .unwrap_or_else(|| panic!("scan did not find {ip}: {found:?}"));
        let theirs = direct.host(ip);
        assert_eq!(
            h.get("ssh"),
            theirs.get("ssh"),
            "{ip}: scan's ssh section differs from ksocket ssh's"
        );
        assert_eq!(cred_name(h, "/sshCredential"), "ssh/10-key.toml", "{h}");
    }
    let bare = &hosts[3].1;
    let h = recs
        .get(bare)
        .unwrap_or_else(|| panic!("scan did not find {bare}: {found:?}"));
    // Its credential matched but nothing listens: a scan leaves it without ssh fields.
    for f in ["ssh", "sshError", "sshErrorKind", "sshCredential"] {
        assert!(h.get(f).is_none(), "{f}: {h}");
    }
    fx.finish();
}

/// Hosts that misbehave after the login, through the account's login shell (sshd runs
/// every command with it): one floods its output without end, one never answers, one
/// prints an endless line. Each ends within its timeout with ksocket's memory bounded
/// (GNU time's peak RSS), and sshd's session is gone afterwards.
#[test]
fn hostile_hosts_after_login_stay_bounded() {
    require_root!();
    let mut fx = Fx::new("sshhostile");
    let (scanner, hosts) = fx.segment(36, &["flood", "mute", "longline"]);
    let hk = fx.keygen("hk", "", &["-t", "ed25519"]);
    let key = fx.keygen("id_ed25519", "", &["-t", "ed25519"]);
    let pubk = PathBuf::from(format!("{}.pub", key.display()));
    let filename = fx.client_key(&key);
    let timeout = 4.0;
    let mut cases = Vec::new();
    for ((ns, ip), body) in hosts.iter().zip([
        // Every bound is also the shell's own: 60 s at most.
        "exec timeout 60 yes 'ii \tkst-flood\t1.0\tall'",
        "exec sleep 60",
        "exec timeout 60 sh -c 'while :; do printf kstkstkstkstkstkstkstkstkstkstkstkst; done'",
    ]) {
        let shell = fx.dir.join(format!("shell-{ip}"));
        std::fs::write(&shell, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&shell, std::fs::Permissions::from_mode(0o755)).unwrap();
        let user = fx.user_with_shell("kst-unused-pw-9", &shell);
        let d = fx.sshd(ns, ip, 22, &[&hk], "");
        d.authorize(&user, &[&pubk]);
        fx.cred(
            &format!("{ip}.toml"),
            &format!(
                "includes = [\"{ip}\"]\ntimeout = {timeout}\n[account]\nusername = \"{user}\"\n\
                 [[account.clientKeys]]\nfilename = \"{filename}\"\n"
            ),
        );
        cases.push((ip.clone(), d));
    }
    // --timeout bounds the whole host (the file's timeout bounds each step, and every
    // read of the flood is quick).
    let mut failures: Vec<String> = Vec::new();
    for ((ip, _), kinds) in cases.iter().zip([
        &["incomplete", "timeout"][..],
        &["timeout"][..],
        &["incomplete", "timeout"][..],
    ]) {
        let (r, kib) = fx.ksocket_rss(
            &scanner,
            &[
                "ssh",
                ip,
                "--timeout",
                &timeout.to_string(),
                "--format",
                "json",
            ],
            Duration::from_secs(60),
        );
        let got = r
            .hosts()
            .get(ip)
            .and_then(|h| h["sshErrorKind"].as_str().map(str::to_string));
        let kind = got
            .as_deref()
            .filter(|k| kinds.contains(k))
            .unwrap_or(kinds[0]);
        if let Err(e) = try_err(&r, ip, kind, timeout, ip) {
            failures.push(e);
        }
        // The output is read as it streams in: memory stays far below what was sent.
        if kib > 48 * 1024 {
            failures.push(format!("{ip}: peak RSS {kib} KiB"));
        }
        eprintln!("{ip}: {kind} in {:?}, peak RSS {kib} KiB", r.took);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    fx.finish();
}
