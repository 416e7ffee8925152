//! The command line as an operator meets it: version, help, init, config, diagnostics,
//! with a throwaway KSOCKET_HOME. No root needed.
use std::path::PathBuf;
use std::process::{Command, Output};

const KSOCKET: &str = env!("CARGO_BIN_EXE_ksocket");

struct Home(PathBuf);

impl Home {
    fn new(tag: &str) -> Home {
        let d = std::env::temp_dir().join(format!("kst-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        Home(d)
    }
    fn run(&self, args: &[&str]) -> Output {
        Command::new(KSOCKET)
            .args(args)
            .env("KSOCKET_HOME", &self.0)
            .env_remove("KSOCKET_CONFIG")
            .output()
            .unwrap()
    }
    fn config(&self) -> PathBuf {
        self.0.join("etc/ksocket/ksocket.toml")
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn version_and_help_list_every_command() {
    let h = Home::new("v");
    let (out, _) = text(&h.run(&["version"]));
    assert!(
        out.starts_with(&format!("ksocket {} (", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    // The second line: the dates of the compiled-in registries.
    assert!(out.contains("\ndata: IEEE OUI registry 20"), "{out}");
    let (out, _) = text(&h.run(&["--help"]));
    for c in [
        "version",
        "scan",
        "snmp",
        "init",
        "config",
        "diagnostics",
        "service",
        "encrypt",
        "decrypt",
        "connect",
    ] {
        assert!(out.contains(&format!("  {c} ")), "{c} missing from --help");
        let o = h.run(&["help", c]);
        assert!(o.status.success(), "help {c}");
    }
    let o = h.run(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn init_then_config_edits_keep_comments() {
    let h = Home::new("c");
    assert!(h.run(&["init"]).status.success());
    for f in ["ssh", "snmp", "winrm", "vsphere"] {
        assert!(
            h.0.join(format!(
                "etc/ksocket/credentials/{f}/999-example.toml.skeleton"
            ))
            .exists()
        );
    }
    assert!(
        h.0.join("etc/ksocket/credentials/snmp/999-default.toml")
            .exists()
    );
    let o = h.run(&["config", "connect.host", "controller.lab.example"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let t = std::fs::read_to_string(h.config()).unwrap();
    assert!(t.contains("host = \"controller.lab.example\""), "{t}");
    assert!(t.contains("# the server's FQDN"), "comment lost:\n{t}");
    assert!(t.starts_with("# ksocket.toml"), "header comment lost");
    let (out, _) = text(&h.run(&["config", "connect.host"]));
    assert_eq!(out.trim(), "controller.lab.example");
    // Invalid values are refused and the file is left alone.
    let o = h.run(&["config", "connect.maxRunningOperations", "1000"]);
    assert!(!o.status.success());
    assert!(
        text(&o).1.contains("connect.maxRunningOperations"),
        "{:?}",
        text(&o)
    );
    assert_eq!(std::fs::read_to_string(h.config()).unwrap(), t);
    // init never overwrites.
    assert!(h.run(&["init"]).status.success());
    assert_eq!(std::fs::read_to_string(h.config()).unwrap(), t);
}

#[test]
fn a_broken_config_stops_commands_with_file_line_key_but_not_diagnostics() {
    let h = Home::new("b");
    assert!(h.run(&["init"]).status.success());
    let mut t = std::fs::read_to_string(h.config()).unwrap();
    t = t.replace("port = 443", "port = \"https\"");
    std::fs::write(h.config(), &t).unwrap();
    let line = t.lines().position(|l| l.starts_with("port =")).unwrap() + 1;
    let (_, err) = text(&h.run(&["config"]));
    assert!(
        err.contains(&format!("ksocket.toml:{line}:")) && err.contains("connect.port"),
        "{err}"
    );
    let o = h.run(&["diagnostics", "config"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out.contains("Check it is a valid configuration") && out.contains("NG ["),
        "{out}"
    );
    assert!(!err.contains("panicked"));
    // With no file at all, diagnostics says what is missing.
    std::fs::remove_file(h.config()).unwrap();
    let (out, _) = text(&h.run(&["diagnostics", "config"]));
    assert!(out.contains("ksocket init"), "{out}");
}

#[test]
fn encrypt_decrypt_round_trip_and_refusals() {
    use std::os::unix::fs::PermissionsExt;
    let h = Home::new("e");
    let other = Home::new("e2");
    std::fs::create_dir_all(&h.0).unwrap();
    let f = h.0.join("cred.toml");
    let body = "includes = [\"198.18.0.0/24\"]\n[authData]\ncommunity = \"s3cr3t-c\"\n";
    std::fs::write(&f, body).unwrap();
    let o = h.run(&["encrypt", f.to_str().unwrap()]);
    assert!(o.status.success(), "{:?}", text(&o));
    let sealed = h.0.join("cred.toml.kscrypt");
    let bytes = std::fs::read(&sealed).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("s3cr3t-c"));
    let key = h.0.join("etc/ksocket/agent.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // decrypt never overwrites the plain file.
    let o = h.run(&["decrypt", sealed.to_str().unwrap()]);
    assert!(
        !o.status.success() && text(&o).1.contains("exists"),
        "{:?}",
        text(&o)
    );
    std::fs::remove_file(&f).unwrap();
    assert!(
        h.run(&["decrypt", sealed.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap(), body);
    std::fs::remove_file(&f).unwrap();
    // Another agent cannot open it.
    std::fs::create_dir_all(&other.0).unwrap();
    let dummy = other.0.join("x.toml");
    std::fs::write(&dummy, "x = 1\n").unwrap();
    assert!(
        other
            .run(&["encrypt", dummy.to_str().unwrap()])
            .status
            .success(),
        "other agent's key"
    );
    let o = other.run(&["decrypt", sealed.to_str().unwrap()]);
    assert!(text(&o).1.contains("another agent"), "{:?}", text(&o));
    // Altered and truncated files are refused.
    let mut t = bytes.clone();
    let n = t.len();
    t[n - 3] ^= 0x40;
    std::fs::write(&sealed, &t).unwrap();
    assert!(
        text(&h.run(&["decrypt", sealed.to_str().unwrap()]))
            .1
            .contains("altered")
    );
    std::fs::write(&sealed, &bytes[..40]).unwrap();
    assert!(
        text(&h.run(&["decrypt", sealed.to_str().unwrap()]))
            .1
            .contains("truncated")
    );
    assert!(!f.exists(), "nothing written on failure");
    // A key readable by others is refused.
    std::fs::write(&sealed, &bytes).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(
        text(&h.run(&["decrypt", sealed.to_str().unwrap()]))
            .1
            .contains("chmod 600")
    );
}

/// Runs `ksocket ARGS` with `env`, killed after `limit`: (exit code, stdout, stderr).
fn run_bounded(
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
    limit: u64,
) -> (i32, String, String) {
    use std::io::Read;
    let mut c = Command::new(KSOCKET);
    c.args(args)
        .env_remove("KSOCKET_CONFIG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > std::time::Duration::from_secs(limit) {
            let _ = child.kill();
            panic!("ksocket {args:?} ran over {limit} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code().unwrap_or(-1), out, err)
}

/// Issue 10, class 3: a secret typed wrong (integer, float, array, unterminated
/// string) never reaches stdout, stderr or the log, in ksocket.toml or in any
/// credential file.
#[test]
fn mistyped_secrets_never_reach_messages_or_logs() {
    let forms: [(&str, &str); 4] = [
        ("86753091", "86753091"),
        ("3.14159265", "3.14159265"),
        ("[\"arr-s3cret\"]", "arr-s3cret"),
        ("\"unterm-s3cret", "unterm-s3cret"),
    ];
    let h = Home::new("s");
    assert!(h.run(&["init"]).status.success());
    let good = std::fs::read_to_string(h.config()).unwrap();
    let creds = h.0.join("etc/ksocket/credentials");
    let log = h.0.join("debug.log");
    let cases: [(&str, &str, &str); 6] = [
        ("ksocket.toml", "token", ""),
        (
            "ssh/10-a.toml",
            "password",
            "includes = [\"198.18.0.0/24\"]\n[account]\nusername = \"u\"\n",
        ),
        (
            "ssh/11-b.toml",
            "passphrase",
            "includes = [\"198.18.0.0/24\"]\n[account]\nusername = \"u\"\n[[account.clientKeys]]\nfilename = \"k\"\n",
        ),
        (
            "snmp/10-c.toml",
            "community",
            "includes = [\"198.18.0.0/24\"]\n[authData]\n",
        ),
        (
            "snmp/11-d.toml",
            "authKey",
            "includes = [\"198.18.0.0/24\"]\n[authData]\nusername = \"u\"\nauthProtocol = \"usmHMACSHAAuthProtocol\"\n",
        ),
        (
            "snmp/12-e.toml",
            "privKey",
            "includes = [\"198.18.0.0/24\"]\n[authData]\nusername = \"u\"\nauthProtocol = \"usmHMACSHAAuthProtocol\"\nauthKey = \"authpass1\"\nprivProtocol = \"usmAesCfb128Protocol\"\n",
        ),
    ];
    for (file, key, head) in cases {
        for (value, secret) in forms {
            let path = if file == "ksocket.toml" {
                let t = good.replace("token = \"YourKsocketToken\"", &format!("token = {value}"));
                assert_ne!(t, good, "the example has a token line");
                std::fs::write(h.config(), t).unwrap();
                h.config()
            } else {
                std::fs::write(h.config(), &good).unwrap();
                let p = creds.join(file);
                std::fs::write(&p, format!("{head}{key} = {value}\n")).unwrap();
                p
            };
            let _ = std::fs::remove_file(&log);
            let mut seen = String::new();
            for args in [
                vec![
                    "--logfile",
                    log.to_str().unwrap(),
                    "--loglevel",
                    "DEBUG",
                    "diagnostics",
                    "config",
                ],
                vec![
                    "--logfile",
                    log.to_str().unwrap(),
                    "--loglevel",
                    "DEBUG",
                    "config",
                ],
                vec!["config", "connect.name"],
            ] {
                let (_, out, err) = run_bounded(&args, &[("KSOCKET_HOME", h.0.as_os_str())], 20);
                seen.push_str(&out);
                seen.push_str(&err);
            }
            seen.push_str(&std::fs::read_to_string(&log).unwrap_or_default());
            assert!(!seen.contains(secret), "{key} = {value} leaked:\n{seen}");
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                seen.contains(&name),
                "{key} = {value}: the file is not named:\n{seen}"
            );
            if file != "ksocket.toml" {
                std::fs::remove_file(&path).unwrap();
            }
        }
    }
}

/// Issue 10, class 4: init creates secrets 0600 and directories 0700; `config NAME
/// VALUE` keeps the file's mode, owner and symlink; logs are 0640.
#[test]
fn files_keep_owner_mode_and_symlinks() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().mode() & 0o7777;
    let h = Home::new("m");
    assert!(h.run(&["init"]).status.success());
    let etc = h.0.join("etc/ksocket");
    assert_eq!(mode(&h.config()), 0o600, "ksocket.toml holds the token");
    assert_eq!(mode(&etc), 0o700);
    for p in ["ssh", "snmp", "winrm", "vsphere"] {
        assert_eq!(mode(&etc.join("credentials").join(p)), 0o700, "{p}");
    }
    assert_eq!(mode(&etc.join("credentials/snmp/999-default.toml")), 0o600);
    assert_eq!(
        mode(&etc.join("credentials/ssh/999-example.toml.skeleton")),
        0o600
    );
    // An edit keeps a mode the operator chose, and the symlink.
    let real = h.0.join("etc/ksocket/real.toml");
    std::fs::rename(h.config(), &real).unwrap();
    std::os::unix::fs::symlink("real.toml", h.config()).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        // nobody:nogroup (65534) must still own it after an edit by root.
        std::os::unix::fs::lchown(&real, Some(65534), Some(65534)).unwrap();
    }
    let o = h.run(&["config", "connect.name", "edge-1"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let link = std::fs::symlink_metadata(h.config()).unwrap();
    assert!(link.file_type().is_symlink(), "the symlink was replaced");
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .contains("name = \"edge-1\"")
    );
    assert_eq!(mode(&real), 0o640);
    if root {
        let m = std::fs::metadata(&real).unwrap();
        assert_eq!((m.uid(), m.gid()), (65534, 65534), "owner lost on edit");
    }
    let left: Vec<_> = std::fs::read_dir(&etc)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    // A log file is created 0640.
    let log = h.0.join("var/log/ksocket/x.log");
    let o = h.run(&["--logfile", log.to_str().unwrap(), "diagnostics", "config"]);
    assert!(!text(&o).1.contains("panicked"));
    assert_eq!(mode(&log), 0o640);
}

/// Issue 10, class 7: /dev/zero, a FIFO, a directory and a huge file as the
/// configuration or as a credential file: a clear error naming it, at once.
#[test]
fn file_reads_are_bounded() {
    let h = Home::new("z");
    assert!(h.run(&["init"]).status.success());
    let fifo = h.0.join("fifo.toml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let big = h.0.join("big.toml");
    std::fs::write(&big, vec![b'#'; 2 << 20]).unwrap();
    let dir = h.0.join("etc");
    for (cfg, what) in [
        ("/dev/zero", "character device"),
        (fifo.to_str().unwrap(), "FIFO"),
        (big.to_str().unwrap(), "1 MiB"),
        (dir.to_str().unwrap(), "directory"),
    ] {
        let env = [
            ("KSOCKET_HOME", h.0.as_os_str()),
            ("KSOCKET_CONFIG", std::ffi::OsStr::new(cfg)),
        ];
        let (code, _, err) = run_bounded(&["config"], &env, 10);
        assert!(
            code != 0 && err.contains(cfg) && err.contains(what),
            "config {cfg}: {err}"
        );
        let (code, out, _) = run_bounded(&["diagnostics", "config"], &env, 10);
        assert!(code == 1 && out.contains(what), "diagnostics {cfg}: {out}");
    }
    // A credential file that is a link to /dev/zero, or a FIFO, is reported and skipped.
    let creds = h.0.join("etc/ksocket/credentials/snmp");
    std::os::unix::fs::symlink("/dev/zero", creds.join("00-zero.toml")).unwrap();
    std::os::unix::fs::symlink(&fifo, creds.join("01-fifo.toml")).unwrap();
    let (code, out, _) = run_bounded(
        &["diagnostics", "config"],
        &[("KSOCKET_HOME", h.0.as_os_str())],
        10,
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("00-zero.toml") && out.contains("character device"),
        "{out}"
    );
    assert!(
        out.contains("01-fifo.toml") && out.contains("FIFO"),
        "{out}"
    );
}

/// Issue 10, class 5: a reader that went away (`| head`) ends a command quietly with
/// exit 0, never a panic (exit 134).
#[test]
fn a_closed_pipe_is_a_normal_end() {
    let h = Home::new("p");
    assert!(h.run(&["init"]).status.success());
    for args in [
        &["--help"][..],
        &["help", "scan"],
        &["scan", "-h"],
        &["version"],
        &["config"],
        &["config", "connect.port"],
        &["diagnostics"],
        &["diagnostics", "system"],
    ] {
        let (r, w) = std::io::pipe().unwrap();
        drop(r);
        let o = Command::new(KSOCKET)
            .args(args)
            .env("KSOCKET_HOME", &h.0)
            .env_remove("KSOCKET_CONFIG")
            .stdout(w)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
    }
}

/// Issue 10, class 6: an empty or relative KSOCKET_HOME (or KSOCKET_CONFIG) is
/// refused before anything is written; read-only commands create no file or directory.
#[test]
fn environment_paths_are_checked_and_listings_write_nothing() {
    let cwd = std::env::temp_dir().join(format!("kst-cli-rel-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cwd);
    std::fs::create_dir_all(&cwd).unwrap();
    for (var, value) in [
        ("KSOCKET_HOME", ""),
        ("KSOCKET_HOME", "relative/home"),
        ("KSOCKET_CONFIG", ""),
        ("KSOCKET_CONFIG", "ksocket.toml"),
    ] {
        for args in [&["init"][..], &["config"], &["diagnostics"]] {
            let o = Command::new(KSOCKET)
                .args(args)
                .current_dir(&cwd)
                .env_remove("KSOCKET_HOME")
                .env_remove("KSOCKET_CONFIG")
                .env(var, value)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{var}={value:?} {args:?}: {err}");
            assert!(err.contains(var), "{var}={value:?}: {err}");
        }
    }
    assert_eq!(
        std::fs::read_dir(&cwd).unwrap().count(),
        0,
        "nothing written"
    );
    std::fs::remove_dir_all(&cwd).unwrap();
    // A listing creates no log file or directory, even where the configuration names
    // one under a missing directory.
    let h = Home::new("ro");
    assert!(h.run(&["init"]).status.success());
    let t = std::fs::read_to_string(h.config()).unwrap();
    let t = t.replace(
        "logfile = \"$KSOCKET_HOME/var/log/ksocket/ksocket.log\"",
        "logfile = \"$KSOCKET_HOME/var/newlog/ksocket.log\"",
    );
    assert!(t.contains("var/newlog"), "the example names the logfile");
    std::fs::write(h.config(), t).unwrap();
    for args in [
        &["config"][..],
        &["config", "connect.host"],
        &["diagnostics", "config"],
    ] {
        h.run(args);
        assert!(
            !h.0.join("var/newlog").exists(),
            "{args:?} created the log directory"
        );
    }
    // A change is not read-only: it logs.
    assert!(h.run(&["config", "connect.name", "x"]).status.success());
    assert!(h.0.join("var/newlog/ksocket.log").exists());
}

/// Issue 10, class 9: targets are bounded: loopback, multicast and the like are
/// refused, a scan over 65,536 addresses needs --max-addresses, and what looks like an
/// address is never looked up in DNS.
#[test]
fn targets_are_bounded() {
    let h = Home::new("t");
    for t in ["127.0.0.1", "224.0.0.1", "255.255.255.255", "0.0.0.0/8"] {
        let o = h.run(&["scan", "--no-details", t]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{t}: {err}");
        assert!(err.contains("never scanned"), "{t}: {err}");
    }
    for t in ["0.0.0.0/0", "198.18.0.0/15"] {
        let o = h.run(&["scan", "--no-details", t]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{t}: {err}");
        assert!(err.contains("--max-addresses"), "{t}: {err}");
    }
    let o = h.run(&["scan", "300.1.1.1"]);
    assert_eq!(o.status.code(), Some(2));
    let o = h.run(&["snmp", "get", "300.1.1.1", "1.3.6.1.2.1.1.1.0", "-t", "0.1"]);
    let (_, err) = text(&o);
    assert!(err.contains("not an IPv4 address"), "{err}");
}

/// Issue 10, class 10: an SNMPv3 password under 8 characters is refused where it is
/// given (the command line, a credential file), never sent to be reported as a wrong
/// digest.
#[test]
fn short_snmpv3_passwords_are_refused_at_once() {
    let h = Home::new("pw");
    let o = h.run(&[
        "snmp",
        "get",
        "-v",
        "3",
        "-u",
        "mon",
        "-l",
        "authNoPriv",
        "-A",
        "sh0rt",
        "198.18.0.1",
        "1.3.6.1.2.1.1.1.0",
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("-A: 5 characters") && !err.contains("sh0rt"),
        "{err}"
    );
    std::fs::create_dir_all(&h.0).unwrap();
    let f = h.0.join("v3.toml");
    std::fs::write(
        &f,
        "includes = [\"198.18.0.0/24\"]\n[authData]\nusername = \"mon\"\n\
         authProtocol = \"usmHMACSHAAuthProtocol\"\nauthKey = \"sh0rt\"\n",
    )
    .unwrap();
    let o = h.run(&[
        "snmp",
        "get",
        "--credential",
        f.to_str().unwrap(),
        "198.18.0.1",
        "1.3.6.1.2.1.1.1.0",
    ]);
    let (_, err) = text(&o);
    assert!(err.contains("v3.toml:5: authKey: 5 characters"), "{err}");
}
