//! Issue 16 without a service manager (the systemd runs are the nspawn tests): the
//! installer into a temporary prefix (a fresh install, an upgrade that keeps
//! etc/ksocket, --skip-install, refusals), the uninstaller, `ksocket service` where
//! neither systemd nor Upstart runs, and the agent's readiness: a real `ksocket
//! connect` against a controller on 127.0.0.1 says READY=1, then STOPPING=1 on
//! SIGTERM, to a unix datagram socket named by NOTIFY_SOCKET (a path, then an
//! abstract name). Nothing leaves loopback; no root needed.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const KSOCKET: &str = env!("CARGO_BIN_EXE_ksocket");
const DIST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../packaging");

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kst-install-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// An unpacked release as h6's tarball lays it out: bin/ksocket, ksinstall,
/// ksuninstall.
fn release(dir: &Path) -> PathBuf {
    let r = dir.join("ksocket-test-linux-x86_64");
    std::fs::create_dir_all(r.join("bin")).unwrap();
    std::os::unix::fs::symlink(KSOCKET, r.join("bin/ksocket")).unwrap();
    for s in ["ksinstall", "ksuninstall"] {
        std::fs::copy(Path::new(DIST).join(s), r.join(s)).unwrap();
    }
    r
}

fn run(cmd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(cmd);
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("KSOCKET_HOME")
        .env_remove("KSOCKET_CONFIG");
    for (k, v) in env {
        c.env(k, v);
    }
    ksocket_lab::wait_output(c.spawn().unwrap(), Duration::from_secs(60)).unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn setting(prefix: &Path, name: &str) -> String {
    let o = run(
        &prefix.join("bin/ksocket"),
        &["config", name],
        &[("KSOCKET_HOME", prefix.to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Every regular file under `dir` (bounded walk).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() {
                out.push(p);
            }
            assert!(out.len() < 10_000);
        }
    }
    out
}

#[test]
fn ksinstall_batch_then_an_upgrade_keeps_etc_ksocket() {
    let d = scratch("batch");
    let rel = release(&d);
    let prefix = d.join("opt/ksocket");
    let token = "kst-token-5f1c9a7e0b";
    let token_file = d.join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let p = prefix.to_str().unwrap();
    let o = run(
        &rel.join("ksinstall"),
        &[
            "--batch",
            "--service",
            "no",
            "--prefix",
            p,
            "--host",
            "controller.example",
            "--port",
            "8443",
            "--scan-mode",
            "aws",
            "--token-file",
            token_file.to_str().unwrap(),
            "--proxy",
            "http://alice:pw-9d2e@198.18.0.1:3128",
        ],
        &[],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("Installing ksocket"), "{out}");
    assert!(!out.contains(token) && !out.contains("pw-9d2e"), "{out}");
    assert_eq!(setting(&prefix, "connect.host"), "controller.example");
    assert_eq!(setting(&prefix, "connect.port"), "8443");
    assert_eq!(setting(&prefix, "operations.networksScanMode"), "aws");
    assert_eq!(setting(&prefix, "connect.token"), token);
    assert_eq!(
        setting(&prefix, "connect.proxy"),
        "http://alice:***@198.18.0.1:3128"
    );
    assert!(prefix.join("ksuninstall").is_file());
    assert_eq!(mode(&prefix.join("bin/ksocket")), 0o755);
    assert_eq!(mode(&prefix.join("etc/ksocket")), 0o700);
    let toml = prefix.join("etc/ksocket/ksocket.toml");
    assert_eq!(mode(&toml), 0o600);
    // The token and the proxy's password are in ksocket.toml (0600) and in no file
    // others may read.
    assert!(std::fs::read_to_string(&toml).unwrap().contains(token));
    for f in files(&prefix) {
        if mode(&f) & 0o004 != 0 && f.extension().is_none_or(|e| e != "old") {
            let mut b = Vec::new();
            std::fs::File::open(&f)
                .unwrap()
                .read_to_end(&mut b)
                .unwrap();
            let s = String::from_utf8_lossy(&b);
            assert!(
                !s.contains(token) && !s.contains("pw-9d2e"),
                "{}",
                f.display()
            );
        }
    }

    // The operator changes the configuration and adds a credential file.
    let mut changed = std::fs::read_to_string(&toml).unwrap();
    changed.push_str("\n# the operator's own note\n");
    std::fs::write(&toml, &changed).unwrap();
    let cred = prefix.join("etc/ksocket/credentials/snmp/010-core.toml");
    std::fs::write(
        &cred,
        "includes = [\"198.18.0.0/24\"]\n[authData]\ncommunity = \"c\"\n",
    )
    .unwrap();

    // An upgrade: no option but the prefix; etc/ksocket stays byte for byte.
    let o = run(
        &rel.join("ksinstall"),
        &["--batch", "--service", "no", "--prefix", p],
        &[],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("Upgrading"), "{out}");
    assert!(!out.contains("Create the configuration"), "{out}");
    assert_eq!(std::fs::read_to_string(&toml).unwrap(), changed);
    assert!(cred.is_file());
    assert!(
        !prefix.join("bin/ksocket.old").exists(),
        "the old binary stayed"
    );

    // A release whose binary does not run here changes nothing.
    let bad = d.join("bad");
    std::fs::create_dir_all(bad.join("bin")).unwrap();
    std::fs::copy(Path::new(DIST).join("ksinstall"), bad.join("ksinstall")).unwrap();
    std::fs::write(bad.join("bin/ksocket"), "#!/bin/sh\nexit 1\n").unwrap();
    std::fs::set_permissions(
        bad.join("bin/ksocket"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let o = run(
        &bad.join("ksinstall"),
        &["--batch", "--service", "no", "--prefix", p],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("does not run on this system"),
        "{}",
        text(&o)
    );
    assert_eq!(setting(&prefix, "connect.host"), "controller.example");

    // ksuninstall: refuses without a terminal or -y; removes everything with -y.
    let o = run(&prefix.join("ksuninstall"), &[], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("Back up"), "{}", text(&o));
    assert!(toml.is_file());
    let o = run(&rel.join("ksuninstall"), &["-y"], &[]);
    assert!(!o.status.success(), "the release's own ksuninstall ran");
    assert!(rel.join("bin/ksocket").exists());
    if !Path::new("/run/systemd/system").exists() {
        let o = run(&prefix.join("ksuninstall"), &["-y", "--keep-user"], &[]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(!prefix.exists(), "{}", text(&o));
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn ksinstall_refusals_and_skip_install() {
    let d = scratch("opts");
    let rel = release(&d);
    let ks = rel.join("ksinstall");
    let p = d.join("p");
    let ps = p.to_str().unwrap();
    for (args, code, says) in [
        (vec!["--port", "70000"], 2, "--port 70000"),
        (vec!["--port", "8x"], 2, "--port 8x"),
        (vec!["--service", "runit"], 2, "use no, systemd or upstart"),
        (vec!["--scan-mode", "lan"], 2, "--scan-mode lan"),
        (vec!["--prefix", "relative/dir"], 2, "absolute path"),
        (vec!["--bogus"], 2, "unknown option"),
        (vec!["--host"], 2, "needs a value"),
        (vec!["--service", "systemd"], 1, "--host HOST"),
        (vec!["--service", "systemd", "--host", "h"], 1, "a token"),
    ] {
        let mut a = vec!["--batch", "--prefix", ps];
        a.extend(args.iter().copied());
        let o = run(&ks, &a, &[]);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{args:?}: {}", text(&o));
        assert!(!p.exists(), "{args:?} wrote files");
    }
    let o = run(&ks, &["--version"], &[]);
    assert!(
        o.status.success() && text(&o).starts_with("ksocket "),
        "{}",
        text(&o)
    );
    let o = run(&ks, &["--help"], &[]);
    for opt in [
        "--prefix",
        "--scan-mode",
        "--host",
        "--port",
        "--token",
        "--token-file",
        "--proxy",
        "--service",
        "--yes",
        "--batch",
        "--skip-install",
        "--version",
        "--help",
    ] {
        assert!(text(&o).contains(opt), "--help lacks {opt}");
    }
    // --token works, with a warning, and the token is never echoed.
    let o = run(
        &ks,
        &[
            "--batch",
            "--service",
            "no",
            "--prefix",
            ps,
            "--token",
            "tok-cmdline-77",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("visible in /proc"));
    assert!(!text(&o).contains("tok-cmdline-77"));
    assert_eq!(setting(&p, "connect.token"), "tok-cmdline-77");
    // --skip-install: the files only.
    let q = d.join("q");
    let o = run(
        &ks,
        &["--batch", "--skip-install", "--prefix", q.to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(q.join("bin/ksocket").is_file() && q.join("ksuninstall").is_file());
    assert!(!q.join("etc").exists(), "--skip-install configured");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn ksinstall_asks_on_a_terminal() {
    // script(1) (util-linux) gives ksinstall a terminal; the answers go through it.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIP: no script(1) to give ksinstall a terminal");
        return;
    }
    let d = scratch("tty");
    let rel = release(&d);
    let p = d.join("p");
    let cmd = format!(
        "{} --service no --prefix {}",
        rel.join("ksinstall").display(),
        p.display()
    );
    let mut c = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env_remove("KSOCKET_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Host, port (default), scan mode, token (not echoed), then Proceed (default yes).
    std::io::Write::write_all(
        c.stdin.as_mut().unwrap(),
        b"ctl.lab.example\n\naws\ntty-token-41\n\n",
    )
    .unwrap();
    let o = ksocket_lab::wait_output(c, Duration::from_secs(60)).unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for q in [
        "Controller host name",
        "Controller port [443]",
        "Scan mode",
        "Ksocket token (not shown)",
        "Proceed? [Y/n]",
    ] {
        assert!(out.contains(q), "no question `{q}`: {out}");
    }
    assert_eq!(setting(&p, "connect.host"), "ctl.lab.example");
    assert_eq!(setting(&p, "connect.port"), "443");
    assert_eq!(setting(&p, "operations.networksScanMode"), "aws");
    assert_eq!(setting(&p, "connect.token"), "tty-token-41");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_installer_scripts_pass_shellcheck() {
    let Ok(o) = Command::new("shellcheck")
        .args(["-s", "sh", "ksinstall", "ksuninstall"])
        .current_dir(DIST)
        .output()
    else {
        eprintln!("SKIP: no shellcheck (scripts/setup.sh installs it)");
        return;
    };
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn service_commands_without_a_service_manager_say_so() {
    let upstart = Path::new("/etc/init").is_dir()
        && [
            "/sbin/initctl",
            "/usr/sbin/initctl",
            "/bin/initctl",
            "/usr/bin/initctl",
        ]
        .iter()
        .any(|p| Path::new(p).exists());
    if Path::new("/run/systemd/system").exists() || upstart {
        eprintln!("SKIP: a service manager runs here (the nspawn tests cover it)");
        return;
    }
    for action in ["install", "status", "start", "stop", "restart", "uninstall"] {
        let o = run(Path::new(KSOCKET), &["service", action], &[]);
        assert_eq!(o.status.code(), Some(1), "{action}: {}", text(&o));
        assert!(text(&o).contains("no service manager"), "{}", text(&o));
    }
    let o = run(Path::new(KSOCKET), &["service", "reload"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(
        Path::new(KSOCKET),
        &["service", "start", "--init", "runit"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// The controller binary of this workspace (built when a lone `cargo test -p ksocket`
/// has not).
fn controller_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("ksocket-controller");
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

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn recv(sock: &UnixDatagram, within: Duration) -> Option<String> {
    let t0 = Instant::now();
    let mut buf = [0u8; 4096];
    while t0.elapsed() < within {
        if let Ok(n) = sock.recv(&mut buf) {
            return Some(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    None
}

#[test]
fn connect_tells_notify_socket_ready_then_stopping() {
    let d = scratch("notify");
    let ctl = controller_bin();
    let data = d.join("ctl");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(d.join("ctl.log")).unwrap();
    let _server = Kill(
        Command::new(&ctl)
            .args([
                "serve",
                "--plain-ws",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--data")
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let t0 = Instant::now();
    while !std::fs::read_to_string(d.join("ctl.log"))
        .unwrap_or_default()
        .contains("listening on")
    {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "controller did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let agents = |names: &[&str]| {
        for name in names {
            let o = run(
                &ctl,
                &["token", "create", name, "--data", data.to_str().unwrap()],
                &[],
            );
            assert!(o.status.success(), "{}", text(&o));
            let token = String::from_utf8_lossy(&o.stdout)
                .lines()
                .last()
                .unwrap()
                .trim()
                .to_string();
            let home = d.join(name);
            std::fs::create_dir_all(home.join("etc/ksocket")).unwrap();
            std::fs::write(
                home.join("etc/ksocket/ksocket.toml"),
                format!(
                    "logfile = \"{}/agent.log\"\n[connect]\ntoken = \"{token}\"\nname = \"{name}\"\n\
                     protocol = \"ws\"\nhost = \"127.0.0.1\"\nport = {port}\n",
                    home.display()
                ),
            )
            .unwrap();
        }
    };
    agents(&["notify-path", "notify-abstract"]);

    for (name, abstract_name) in [("notify-path", false), ("notify-abstract", true)] {
        let home = d.join(name);
        let (sock, addr) = if abstract_name {
            use std::os::linux::net::SocketAddrExt;
            let n = format!("kst-notify-{}", std::process::id());
            let a = std::os::unix::net::SocketAddr::from_abstract_name(n.as_bytes()).unwrap();
            (UnixDatagram::bind_addr(&a).unwrap(), format!("@{n}"))
        } else {
            let p = d.join("notify.sock");
            (UnixDatagram::bind(&p).unwrap(), p.display().to_string())
        };
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let agent = Command::new(KSOCKET)
            .arg("connect")
            .env("KSOCKET_HOME", &home)
            .env_remove("KSOCKET_CONFIG")
            .env("NOTIFY_SOCKET", &addr)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = agent.id() as i32;
        let mut agent = Kill(agent);
        let ready = recv(&sock, Duration::from_secs(20));
        assert_eq!(ready.as_deref(), Some("READY=1"), "{name}");
        // Ready means the spool is open: it is there.
        assert!(home.join("var/spool/ksocket").is_dir());
        // It goes on to connect.
        let t0 = Instant::now();
        while !std::fs::read_to_string(home.join("agent.log"))
            .unwrap_or_default()
            .contains("connected (protocol")
        {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "{name} did not connect"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: kill(2) on the agent this test started and still holds.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        assert_eq!(
            recv(&sock, Duration::from_secs(10)).as_deref(),
            Some("STOPPING=1"),
            "{name}"
        );
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = agent.0.try_wait().unwrap() {
                break s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "{name} did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(0), "{name}");
    }
    let _ = std::fs::remove_dir_all(&d);
}
