//! known_hosts against OpenSSH: a file written by hand, then hashed by `ssh-keygen -H`;
//! for each host we ask, our verdict must agree with `ssh-keygen -F` (is the host
//! listed?) and match the key it is listed with. Skipped (with a message) when
//! ssh-keygen is not installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ksocket_ssh::keys::PublicKey;
use ksocket_ssh::known_hosts::{KnownHosts, Verdict};

fn have_ssh_keygen() -> bool {
    let ok = Command::new("ssh-keygen")
        .arg("-?")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        eprintln!("SKIPPED: ssh-keygen is not installed (apt-get install openssh-client)");
    }
    ok
}

fn temp_dir() -> PathBuf {
    let p = std::env::temp_dir().join(format!("ksocket-ssh-known-hosts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn keygen(dir: &Path, name: &str, args: &[&str]) -> PublicKey {
    let path = dir.join(name);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .args(args)
        .status()
        .unwrap();
    assert!(st.success());
    let line = std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
    PublicKey::from_openssh_line(&line).unwrap()
}

/// `ssh-keygen -F name -f file`: is `name` listed?
fn openssh_finds(file: &Path, name: &str) -> bool {
    let out = Command::new("ssh-keygen")
        .arg("-F")
        .arg(name)
        .arg("-f")
        .arg(file)
        .output()
        .unwrap();
    out.status.success() && !out.stdout.is_empty()
}

#[test]
fn agrees_with_ssh_keygen_plain_and_hashed() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = temp_dir();
    let ed = keygen(&dir, "ed", &["-t", "ed25519"]);
    let ed_other = keygen(&dir, "ed_other", &["-t", "ed25519"]);
    let ec = keygen(&dir, "ec", &["-t", "ecdsa", "-b", "256"]);
    let rsa = keygen(&dir, "rsa", &["-t", "rsa", "-b", "2048"]);

    let text = format!(
        "# written by hand\n\
         alpha,10.1.2.3 {ed}\n\
         {beta}\n\
         gamma {rsa}\n\
         Gamma {ec} mixed-case name\n\
         *.wild.test,!no.wild.test {ed}\n",
        ed = ed.to_openssh_line(),
        beta = KnownHosts::line("beta", 2222, &ec),
        rsa = rsa.to_openssh_line(),
        ec = ec.to_openssh_line(),
    );
    let plain = dir.join("known_hosts");
    std::fs::write(&plain, &text).unwrap();
    let hashed = dir.join("known_hosts_hashed");
    std::fs::write(&hashed, &text).unwrap();
    let st = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&hashed)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let hashed_text = std::fs::read_to_string(&hashed).unwrap();
    assert!(
        hashed_text.contains("|1|"),
        "ssh-keygen -H hashed nothing:\n{hashed_text}"
    );

    // (host, port, the key it is listed with, if any)
    let cases: &[(&str, u16, Option<&PublicKey>)] = &[
        ("alpha", 22, Some(&ed)),
        ("10.1.2.3", 22, Some(&ed)),
        ("alpha", 2222, None),
        ("beta", 2222, Some(&ec)),
        ("beta", 22, None),
        ("gamma", 22, Some(&rsa)),
        ("a.wild.test", 22, Some(&ed)),
        ("no.wild.test", 22, None),
        ("delta", 22, None),
    ];
    for file in [&plain, &hashed] {
        let kh = KnownHosts::parse(&std::fs::read_to_string(file).unwrap());
        for (host, port, listed) in cases {
            let name = if *port == 22 {
                host.to_string()
            } else {
                format!("[{host}]:{port}")
            };
            let found = openssh_finds(file, &name);
            assert_eq!(
                found,
                !kh.known_key_types(host, *port).is_empty(),
                "{file:?} {name}: ssh-keygen -F says {found}"
            );
            assert_eq!(found, listed.is_some(), "{file:?} {name}");
            if let Some(k) = listed {
                assert_eq!(kh.check(host, *port, k), Verdict::Match, "{file:?} {name}");
            }
            let v = kh.check(host, *port, &ed_other);
            if listed.is_some_and(|k| k.key_type() == "ssh-ed25519") {
                assert_eq!(
                    v,
                    Verdict::Mismatch {
                        expected_fingerprints: vec![ed.fingerprint()]
                    },
                    "{file:?} {name}"
                );
            } else {
                assert_eq!(v, Verdict::Unknown, "{file:?} {name}");
            }
        }
        // gamma is listed with RSA and (through "Gamma") ECDSA.
        let mut types = kh.known_key_types("gamma", 22);
        types.sort();
        assert_eq!(types, ["ecdsa-sha2-nistp256", "ssh-rsa"]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
