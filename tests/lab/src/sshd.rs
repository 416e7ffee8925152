//! A throwaway OpenSSH sshd on loopback (127.0.0.1 only), for the SSH tests.
//!
//! The daemon runs in the foreground (`sshd -D -e`) from a scratch directory holding
//! its host keys, its configuration and its logs; it is killed and the directory
//! removed when the guard drops. Every wait is bounded.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The sshd binary the tests run.
pub const SSHD: &str = "/usr/sbin/sshd";

/// How many ports are tried before giving up (a port may be taken between picking
/// it and sshd binding it).
const ATTEMPTS: usize = 5;

/// True when the sshd tests can run: root, `/usr/sbin/sshd` and `ssh-keygen`.
/// Otherwise prints why the test is SKIPPED and returns false. Also makes sshd's
/// privilege separation directory (`/run/sshd`) if it is missing.
pub fn sshd_available() -> bool {
    if !crate::is_root() {
        eprintln!("SKIPPED: the sshd tests need root (sshd, login as root, useradd)");
        return false;
    }
    if !Path::new(SSHD).exists() {
        eprintln!("SKIPPED: {SSHD} is missing (install openssh-server to run the sshd tests)");
        return false;
    }
    if Command::new("ssh-keygen")
        .arg("-?")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("SKIPPED: ssh-keygen is missing");
        return false;
    }
    // sshd's privilege separation directory (built into sshd).
    let _ = std::fs::create_dir_all("/run/sshd");
    true
}

/// Makes an unencrypted key pair of type `t` (ed25519, ecdsa, rsa: 2048 bits) at
/// `path` and `path.pub`, with comment `kst`. Panics if ssh-keygen fails.
pub fn keygen(path: &Path, t: &str) {
    let mut c = Command::new("ssh-keygen");
    c.args(["-q", "-N", "", "-C", "kst", "-t", t, "-f"])
        .arg(path);
    if t == "rsa" {
        c.args(["-b", "2048"]);
    }
    let st = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("ssh-keygen");
    assert!(st.success(), "ssh-keygen -t {t}");
}

/// A throwaway sshd listening on 127.0.0.1 only; killed, and its directory removed,
/// on drop.
pub struct LoopbackSshd {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl LoopbackSshd {
    /// Starts sshd in a fresh scratch directory named after `tag` (unique among the
    /// daemons of one test process), with one host key of each type of `host_keys`
    /// (files `hk_<type>` and `hk_<type>.pub` in [`LoopbackSshd::dir`]).
    ///
    /// `config` is called with the scratch directory once the host keys are made: it
    /// may write files there (authorized_keys, a banner) and returns the sshd_config
    /// lines of the test. The fixture adds `PidFile none`, `StrictModes no` and, unless
    /// the test sets `UsePAM`, `UsePAM no`, ahead of them; it listens on 127.0.0.1 on a
    /// free port, so `ListenAddress` and `Port` lines are refused. Tries up to five
    /// ports (printing the log of each failed start), then panics.
    pub fn start(
        tag: &str,
        host_keys: &[&str],
        config: impl FnOnce(&Path) -> String,
    ) -> LoopbackSshd {
        let dir = std::env::temp_dir().join(format!("ksocket-sshd-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("sshd temp dir");
        let mut hk_args = Vec::new();
        for t in host_keys {
            let path = dir.join(format!("hk_{t}"));
            keygen(&path, t);
            hk_args.push(path);
        }
        let lines = config(&dir);
        for l in lines.lines() {
            let key = l.split_whitespace().next().unwrap_or("");
            assert!(
                !key.eq_ignore_ascii_case("ListenAddress") && !key.eq_ignore_ascii_case("Port"),
                "LoopbackSshd listens on 127.0.0.1 only, on a port of its choice: `{l}`"
            );
        }
        let mut conf = String::from("PidFile none\nStrictModes no\n");
        let sets_pam = lines.lines().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("UsePAM"))
        });
        if !sets_pam {
            conf.push_str("UsePAM no\n");
        }
        conf.push_str(&lines);
        if !conf.ends_with('\n') {
            conf.push('\n');
        }
        let cf = dir.join("sshd_config");
        std::fs::write(&cf, conf).expect("write sshd_config");
        for attempt in 0..ATTEMPTS {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .expect("free port on 127.0.0.1")
                .port();
            let mut cmd = Command::new(SSHD);
            cmd.args(["-D", "-e", "-f"]).arg(&cf).args([
                "-p",
                &port.to_string(),
                "-o",
                "ListenAddress=127.0.0.1",
            ]);
            for h in &hk_args {
                cmd.arg("-h").arg(h);
            }
            let log = std::fs::File::create(Self::log_path(&dir, attempt)).expect("sshd log file");
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn sshd");
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return LoopbackSshd { child, dir, port };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // Port taken or sshd refused its config: show the log, try another port.
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(Self::log_path(&dir, attempt)).unwrap_or_default();
            eprintln!("sshd did not come up on port {port}:\n{log}");
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("sshd did not start");
    }

    fn log_path(dir: &Path, attempt: usize) -> PathBuf {
        dir.join(format!("sshd-{attempt}.log"))
    }

    /// 127.0.0.1 and the port sshd listens on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The port sshd listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The scratch directory: host keys, sshd_config, logs and the test's own files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What sshd has logged so far (every start attempt, in order).
    pub fn log(&self) -> String {
        (0..ATTEMPTS)
            .filter_map(|i| std::fs::read_to_string(Self::log_path(&self.dir, i)).ok())
            .collect()
    }
}

impl Drop for LoopbackSshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
