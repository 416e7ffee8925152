//! The SSH session driver (platform/src/inventory/ssh/session.rs) against real OpenSSH
//! sshd on 127.0.0.1 only: key authentication (ed25519, ECDSA, RSA) as root with an
//! authorized_keys file in a temp dir, password and keyboard-interactive as a throwaway
//! account `kst-sshtest` (useradd, removed with userdel when the test ends), exec with
//! stdout/stderr/status/signal, 5 MB of output through the windows, a stop midway,
//! the output cap, and chains of direct-tcpip tunnels (A → B, A → B → A) over one
//! socket. Root only, and skipped with a message when sshd or ssh-keygen is missing.
//! Every sshd is killed when its guard drops; every wait is bounded.

// The driver is a module of the binary: compiled into this test from its source.
#[allow(dead_code)]
#[path = "../src/sys/random.rs"]
mod random;
mod sys {
    pub(crate) use super::random;
}
#[path = "../src/inventory/ssh/session.rs"]
mod session;

use ksocket_lab::sshd::{LoopbackSshd, keygen, sshd_available};
use ksocket_ssh::keys::PrivateKey;
use session::{AuthResult, ErrorKind, Options, Session, SshError};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::ops::ControlFlow;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const USER: &str = "kst-sshtest";
/// Only used for the throwaway account, which exists only during the test.
const PASSWORD: &str = "kst-Test-pw-4711";

/// useradd/userdel lock /etc/passwd; sshd processes are counted.
static ACCOUNT: Mutex<()> = Mutex::new(());

fn opts() -> Options {
    Options {
        timeout: Duration::from_secs(10),
        legacy: false,
        max_output: 64 << 20,
        until: None,
    }
}

/// A throwaway sshd on 127.0.0.1 (the shared fixture) with an ed25519 host key and the
/// client keys (ed25519, ecdsa, rsa) authorized for root; killed, its directory
/// removed, on drop.
struct Sshd(LoopbackSshd);

impl std::ops::Deref for Sshd {
    type Target = LoopbackSshd;
    fn deref(&self) -> &LoopbackSshd {
        &self.0
    }
}

impl Sshd {
    fn start(tag: &str, extra: &[&str]) -> Sshd {
        Sshd(LoopbackSshd::start(tag, &["ed25519"], |dir| {
            let mut auth = String::new();
            for t in ["ed25519", "ecdsa", "rsa"] {
                let k = dir.join(format!("id_{t}"));
                keygen(&k, t);
                auth.push_str(&std::fs::read_to_string(k.with_extension("pub")).expect("pub"));
            }
            std::fs::write(dir.join("authorized_keys"), auth).expect("authorized_keys");
            std::fs::write(dir.join("banner"), "kst banner\n").expect("banner");
            let mut conf = format!(
                "LogLevel VERBOSE\n\
                 AuthorizedKeysFile {ak}\nPermitRootLogin prohibit-password\n\
                 AllowTcpForwarding yes\nMaxAuthTries 20\nLoginGraceTime 60\nBanner {banner}\n",
                ak = dir.join("authorized_keys").display(),
                banner = dir.join("banner").display(),
            );
            for l in extra {
                conf.push_str(l);
                conf.push('\n');
            }
            conf
        }))
    }

    fn key(&self, t: &str) -> PrivateKey {
        let text = std::fs::read(self.dir().join(format!("id_{t}"))).expect("key file");
        PrivateKey::from_text(&text, None).unwrap_or_else(|e| panic!("{t} key: {e}"))
    }

    /// The host key blob, from hk_ed25519.pub.
    fn host_blob(&self) -> Vec<u8> {
        let line =
            std::fs::read_to_string(self.dir().join("hk_ed25519.pub")).expect("hk_ed25519.pub");
        let b64 = line.split_whitespace().nth(1).expect("blob");
        data_encoding::BASE64
            .decode(b64.as_bytes())
            .expect("base64")
    }
}

/// The throwaway account, removed on drop.
struct Account;

impl Account {
    fn create() -> Option<Account> {
        if Command::new("useradd")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            eprintln!("SKIPPED (password tests): useradd is missing");
            return None;
        }
        let _ = Command::new("userdel")
            .arg(USER)
            .stderr(Stdio::null())
            .status();
        let st = Command::new("useradd")
            .args(["-M", "-s", "/bin/sh", USER])
            .status()
            .expect("useradd");
        assert!(st.success(), "useradd {USER}");
        let account = Account;
        let mut p = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("chpasswd");
        {
            use std::io::Write;
            let mut stdin = p.stdin.take().expect("stdin");
            writeln!(stdin, "{USER}:{PASSWORD}").expect("write chpasswd");
        }
        assert!(p.wait().expect("chpasswd").success(), "chpasswd");
        Some(account)
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(USER).status();
    }
}

/// Runs `cmd`, collecting stdout.
async fn run(s: &mut Session, cmd: &str) -> Result<(Vec<u8>, session::Exit), SshError> {
    let mut out = Vec::new();
    let exit = s
        .exec(cmd, &mut |d| {
            out.extend_from_slice(d);
            ControlFlow::Continue(())
        })
        .await?;
    Ok((out, exit))
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    smol::block_on(f)
}

#[test]
fn keys_exec_and_windows() {
    if !sshd_available() {
        return;
    }
    // Re-keys every MiB (server-initiated, during the large outputs); a keepalive every
    // second, answered (REQUEST_FAILURE) or the server hangs up after two.
    let d = Sshd::start(
        "keys",
        &[
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "RekeyLimit 1M",
            "ClientAliveInterval 1",
            "ClientAliveCountMax 2",
        ],
    );
    block_on(async {
        for t in ["ed25519", "ecdsa", "rsa"] {
            let mut s = Session::connect(d.addr(), &opts()).await.expect("connect");
            assert_eq!(s.host_key().blob(), d.host_blob());
            assert!(
                s.server_version().starts_with("SSH-2.0-OpenSSH"),
                "{}",
                s.server_version()
            );
            let r = s
                .auth_key("root", &d.key(t))
                .await
                .unwrap_or_else(|e| panic!("{t}: {e}\n{}", d.log()));
            assert_eq!(r, AuthResult::Success, "{t}\n{}", d.log());
            assert!(s.legacy_used().is_empty(), "{:?}", s.legacy_used());
            let (out, exit) = run(&mut s, "echo hi; echo err >&2; exit 3")
                .await
                .expect("exec");
            assert_eq!(out, b"hi\n");
            assert_eq!(exit.stderr, b"err\n");
            assert_eq!(exit.status, Some(3));
            assert_eq!(exit.signal, None);
            s.close().await;
        }

        let mut s = Session::connect(d.addr(), &opts()).await.expect("connect");
        // A key not authorized: refused, with the methods.
        let other = d.dir().join("other");
        keygen(&other, "ed25519");
        let k = PrivateKey::from_text(&std::fs::read(&other).unwrap(), None).unwrap();
        assert_eq!(
            s.auth_key("root", &k).await.unwrap(),
            AuthResult::Refused {
                methods: vec!["publickey".into()]
            }
        );
        assert_eq!(s.auth_methods().unwrap(), ["publickey"]);
        // No password method: refused at once.
        assert!(matches!(
            s.auth_password("root", "x").await.unwrap(),
            AuthResult::Refused { .. }
        ));
        assert_eq!(
            s.auth_key("root", &d.key("ed25519")).await.unwrap(),
            AuthResult::Success
        );

        assert_eq!(s.banner(), Some("kst banner\n"));
        // Keepalives while a command is silent for 4 s.
        let (out, _) = run(&mut s, "sleep 4; echo awake")
            .await
            .expect("exec across keepalives");
        assert_eq!(out, b"awake\n");

        // Killed by a signal.
        let (_, exit) = run(&mut s, "kill -TERM $$").await.expect("exec");
        assert_eq!((exit.status, exit.signal.as_deref()), (None, Some("TERM")));

        // 5 MB through the 2 MiB window, streamed in chunks, on the same session.
        let t0 = Instant::now();
        let (mut total, mut chunks, mut biggest) = (0usize, 0usize, 0usize);
        let exit = s
            .exec("head -c 5000000 /dev/zero", &mut |d| {
                total += d.len();
                chunks += 1;
                biggest = biggest.max(d.len());
                ControlFlow::Continue(())
            })
            .await
            .expect("large exec");
        assert_eq!((total, exit.status), (5_000_000, Some(0)));
        assert!(
            chunks > 3 && biggest <= 2 << 20,
            "{chunks} chunks, biggest {biggest}"
        );
        eprintln!(
            "5 MB in {chunks} chunks (biggest {biggest}) in {:?}",
            t0.elapsed()
        );

        // The caller stops midway: the channel is closed, the session stays usable.
        let mut seen = 0usize;
        let exit = s
            .exec("head -c 50000000 /dev/zero", &mut |d| {
                seen += d.len();
                ControlFlow::Break(())
            })
            .await
            .expect("stopped exec");
        assert!(seen > 0 && seen < 50_000_000 && exit.status.is_none());
        let (out, _) = run(&mut s, "echo again").await.expect("exec after a stop");
        assert_eq!(out, b"again\n");

        // Many commands on one session (channels are released and reused).
        for i in 0..12 {
            let (out, exit) = run(&mut s, &format!("echo {i}")).await.expect("exec");
            assert_eq!((out, exit.status), (format!("{i}\n").into_bytes(), Some(0)));
        }
        s.close().await;

        // The output cap.
        let small = Options {
            max_output: 100_000,
            ..opts()
        };
        let mut s = Session::connect(d.addr(), &small).await.expect("connect");
        assert_eq!(
            s.auth_key("root", &d.key("ed25519")).await.unwrap(),
            AuthResult::Success
        );
        let e = run(&mut s, "head -c 1000000 /dev/zero").await.unwrap_err();
        assert!(matches!(e, SshError::OutputTooLarge(100_000)), "{e}");
        assert_eq!(e.kind(), ErrorKind::Limit);
        let (out, _) = run(&mut s, "echo still").await.expect("exec after the cap");
        assert_eq!(out, b"still\n");

        // A command's read times out; the step is named.
        let quick = Options {
            timeout: Duration::from_millis(500),
            ..opts()
        };
        let mut s = Session::connect(d.addr(), &quick).await.expect("connect");
        assert_eq!(
            s.auth_key("root", &d.key("ecdsa")).await.unwrap(),
            AuthResult::Success
        );
        let e = run(&mut s, "sleep 5").await.unwrap_err();
        assert!(matches!(e, SshError::Timeout(_)), "{e}");
        assert_eq!(e.kind(), ErrorKind::Timeout);
    });
}

#[test]
fn connect_failures() {
    if !sshd_available() {
        return;
    }
    block_on(async {
        // Nothing listens.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = Session::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), &opts())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Refused, "{e}");
        // A listener that never speaks: the key exchange times out.
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let quick = Options {
            timeout: Duration::from_millis(300),
            ..opts()
        };
        let e = Session::connect(l.local_addr().unwrap(), &quick)
            .await
            .unwrap_err();
        assert!(matches!(e, SshError::Timeout("key exchange")), "{e}");
    });
}

#[test]
fn password_and_keyboard_interactive() {
    if !sshd_available() {
        return;
    }
    let _lock = ACCOUNT.lock().unwrap_or_else(|p| p.into_inner());
    let Some(_account) = Account::create() else {
        return;
    };
    let d = Sshd::start(
        "pw",
        &[
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no",
        ],
    );
    block_on(async {
        let mut s = Session::connect(d.addr(), &opts()).await.expect("connect");
        let r = s.auth_password(USER, "wrong").await.expect("auth");
        match r {
            AuthResult::Refused { methods } => assert!(methods.contains(&"password".to_string())),
            r => panic!("{r:?}"),
        }
        let r = s.auth_password(USER, PASSWORD).await.expect("auth");
        assert_eq!(r, AuthResult::Success, "{}", d.log());
        let (out, exit) = run(&mut s, "id -un").await.expect("exec");
        assert_eq!(
            (out, exit.status),
            (format!("{USER}\n").into_bytes(), Some(0))
        );
        s.close().await;
    });
    drop(d);

    // keyboard-interactive only. OpenSSH on Linux answers it only through PAM (without
    // PAM it has no keyboard-interactive device), so this sshd runs with UsePAM yes.
    let d = Sshd::start(
        "kbd",
        &[
            "UsePAM yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication yes",
        ],
    );
    block_on(async {
        let mut s = Session::connect(d.addr(), &opts()).await.expect("connect");
        let r = s.auth_password(USER, "wrong").await.expect("auth");
        assert!(matches!(r, AuthResult::Refused { .. }), "{r:?}");
        let methods = s.auth_methods().unwrap_or_default().to_vec();
        assert!(
            methods.contains(&"keyboard-interactive".to_string()),
            "{methods:?}\n{}",
            d.log()
        );
        let r = s.auth_password(USER, PASSWORD).await.expect("auth");
        assert_eq!(r, AuthResult::Success, "{}", d.log());
        let (out, _) = run(&mut s, "echo kbd").await.expect("exec");
        assert_eq!(out, b"kbd\n");
        s.close().await;
    });
}

#[test]
fn tunnels() {
    if !sshd_available() {
        return;
    }
    let a = Sshd::start("hopA", &["PasswordAuthentication no"]);
    let b = Sshd::start("hopB", &["PasswordAuthentication no"]);
    block_on(async {
        let mut s = Session::connect(a.addr(), &opts())
            .await
            .expect("connect A");
        assert_eq!(s.host_key().blob(), a.host_blob());
        // A tunnel needs an authenticated hop.
        assert!(s.tunnel("127.0.0.1", b.port()).await.is_err());
        assert_eq!(
            s.auth_key("root", &a.key("ed25519")).await.unwrap(),
            AuthResult::Success
        );

        // A tunnel to a closed port: refused by A; the session stays on A.
        let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = s.tunnel("127.0.0.1", closed).await.unwrap_err();
        assert!(matches!(e, SshError::ChannelOpen { reason: 2, .. }), "{e}");
        assert_eq!(e.kind(), ErrorKind::Refused);
        assert_eq!(s.hops(), 1);

        s.tunnel("127.0.0.1", b.port())
            .await
            .unwrap_or_else(|e| panic!("tunnel: {e}\n{}", a.log()));
        assert_eq!(s.hops(), 2);
        assert_eq!(s.host_key().blob(), b.host_blob());
        assert_eq!(
            s.auth_key("root", &b.key("rsa")).await.unwrap(),
            AuthResult::Success,
            "{}",
            b.log()
        );
        let (out, exit) = run(&mut s, "echo hop2; echo e >&2; exit 4")
            .await
            .expect("exec on B");
        assert_eq!(
            (out, exit.stderr, exit.status),
            (b"hop2\n".to_vec(), b"e\n".to_vec(), Some(4))
        );
        // Windows at both levels: 3 MB from B through A.
        let mut total = 0usize;
        let exit = s
            .exec("head -c 3000000 /dev/zero", &mut |d| {
                total += d.len();
                ControlFlow::Continue(())
            })
            .await
            .expect("large exec on B");
        assert_eq!((total, exit.status), (3_000_000, Some(0)));

        // A third hop, back to A, in the same socket.
        s.tunnel("127.0.0.1", a.port()).await.expect("tunnel B → A");
        assert_eq!(s.host_key().blob(), a.host_blob());
        assert_eq!(
            s.auth_key("root", &a.key("ecdsa")).await.unwrap(),
            AuthResult::Success
        );
        let (out, _) = run(&mut s, "echo hop3")
            .await
            .expect("exec on the third hop");
        assert_eq!(out, b"hop3\n");
        s.close().await;
    });
}

#[test]
fn rsa_sha1_only_with_legacy() {
    if !sshd_available() {
        return;
    }
    // A server that takes only ssh-rsa (SHA-1) signatures from users.
    let d = Sshd::start(
        "sha1",
        &[
            "PasswordAuthentication no",
            "PubkeyAcceptedAlgorithms ssh-rsa",
        ],
    );
    block_on(async {
        let mut s = Session::connect(d.addr(), &opts()).await.expect("connect");
        // OpenSSH's server-sig-algs names every algorithm it knows, whatever it accepts:
        // rsa-sha2-512 is tried, refused, and without legacy nothing else is.
        let r = s.auth_key("root", &d.key("rsa")).await.expect("auth");
        assert!(matches!(r, AuthResult::Refused { .. }), "{r:?}");
        assert!(s.legacy_used().is_empty());
        let legacy = Options {
            legacy: true,
            ..opts()
        };
        let mut s = Session::connect(d.addr(), &legacy).await.expect("connect");
        let r = s.auth_key("root", &d.key("rsa")).await.expect("auth");
        assert_eq!(r, AuthResult::Success, "{}", d.log());
        assert!(
            s.legacy_used().iter().any(|l| l.starts_with("ssh-rsa")),
            "{:?}",
            s.legacy_used()
        );
        let (out, _) = run(&mut s, "echo sha1").await.expect("exec");
        assert_eq!(out, b"sha1\n");
    });
}
