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
