//! The lab library: it builds working segments, refuses addresses outside
//! 198.18.0.0/15, and leaves nothing behind, even when its process is killed.
use ksocket_lab::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn refuses_addresses_outside_the_lab_range() {
    for bad in [
        "10.0.0.1/24",
        "192.168.1.1/24",
        "8.8.8.8/32",
        "198.20.0.1/24",
        "198.17.255.1/24",
        "198.18.0.1/8",
        "198.18.0.1",
    ] {
        assert!(lab_cidr(bad).is_err(), "{bad} accepted");
    }
    for bad in ["10.0.0.1", "127.0.0.1", "198.20.0.0", "x"] {
        assert!(lab_addr(bad).is_err(), "{bad} accepted");
    }
    assert!(lab_cidr("198.18.0.1/24").is_ok());
    assert!(lab_cidr("198.19.255.254/16").is_ok());
    assert!(lab_addr("198.19.0.1").is_ok());
}

#[test]
fn refuses_outside_addresses_in_a_real_lab() {
    require_root!();
    let mut lab = Lab::new("refuse").unwrap();
    let sw = lab.switch("sw").unwrap();
    let h = lab.ns("h").unwrap();
    let e = lab
        .attach(&sw, "p0", &h, "eth0", "10.1.2.3/24")
        .unwrap_err();
    assert!(e.to_string().contains("198.18.0.0/15"), "{e}");
    lab.attach(&sw, "p0", &h, "eth0", "198.18.7.2/24").unwrap();
    assert!(lab.route(&h, "default", "192.168.0.1").is_err());
    assert!(lab.route(&h, "203.0.113.0/24", "198.18.7.1").is_err());
    let spec = HostSpec {
        name: "x".into(),
        cidr: "198.18.7.3/24".into(),
        gateway: Some("172.16.0.1".into()),
        role: Role::Full,
    };
    assert!(lab.hosts(&sw, &[spec]).is_err());
    lab.teardown().unwrap();
}

#[test]
fn a_segment_works_and_roles_hold() {
    require_root!();
    let mut lab = Lab::new("seg").unwrap();
    let sw = lab.switch("sw").unwrap();
    let specs = [
        ("a", Role::Full),
        ("b", Role::NoIcmp),
        ("c", Role::ArpOnly),
        ("d", Role::Full),
    ]
    .iter()
    .enumerate()
    .map(|(i, (n, r))| HostSpec {
        name: n.to_string(),
        cidr: format!("198.18.1.{}/24", 10 + i),
        gateway: None,
        role: *r,
    })
    .collect::<Vec<_>>();
    let hs = lab.hosts(&sw, &specs).unwrap();
    let ping = |to: &str| {
        let o = lab
            .exec(
                &hs[0],
                &["ping", "-c", "1", "-W", "1", to],
                Duration::from_secs(5),
            )
            .unwrap();
        o.status.success()
    };
    assert!(ping("198.18.1.13"), "full host answers ping");
    assert!(!ping("198.18.1.11"), "no-icmp host ignores ping");
    assert!(!ping("198.18.1.12"), "arp-only host ignores ping");
    // The arp-only and no-icmp hosts did answer ARP: their MACs are in a's neighbour table.
    let o = lab
        .exec(&hs[0], &["ip", "neigh", "show"], Duration::from_secs(5))
        .unwrap();
    let neigh = String::from_utf8_lossy(&o.stdout);
    for ip in ["198.18.1.11", "198.18.1.12"] {
        let line = neigh
            .lines()
            .find(|l| l.starts_with(&format!("{ip} ")))
            .unwrap_or_else(|| panic!("{ip} not in {neigh}"));
        assert!(line.contains("lladdr"), "{line}");
    }
    let prefix = lab.prefix().to_string();
    lab.teardown().unwrap();
    assert!(
        list_namespaces()
            .unwrap()
            .iter()
            .all(|n| !n.starts_with(&prefix))
    );
}

#[test]
fn nothing_is_left_when_the_lab_process_is_killed() {
    require_root!();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kst-lab"))
        .args(["hold", "killed", "5", "120"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let prefix = line.trim().to_string();
    assert!(prefix.starts_with("kst-killed-"), "{prefix:?}");
    let count = || {
        list_namespaces()
            .unwrap()
            .iter()
            .filter(|n| n.starts_with(&prefix))
            .count()
    };
    assert_eq!(count(), 6, "switch + 5 hosts while the lab runs");
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while count() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(count(), 0, "namespaces of {prefix} remain after SIGKILL");
}

#[test]
fn dropping_a_lab_removes_it() {
    require_root!();
    let prefix;
    {
        let mut lab = Lab::new("drop").unwrap();
        lab.switch("sw").unwrap();
        lab.ns("x").unwrap();
        prefix = lab.prefix().to_string();
        assert_eq!(
            list_namespaces()
                .unwrap()
                .iter()
                .filter(|n| n.starts_with(&prefix))
                .count(),
            2
        );
    }
    assert_eq!(
        list_namespaces()
            .unwrap()
            .iter()
            .filter(|n| n.starts_with(&prefix))
            .count(),
        0
    );
}

/// Issue 10, class 12: the suite stops only what it started. An `snmpd` and an
/// `lldpd` already running in the root namespace (stand-ins: copies of `sleep` under
/// those names) outlive `scripts/setup.sh` and a lab whose own snmpd is stopped by PID.
#[test]
fn daemons_the_tests_did_not_start_are_left_alone() {
    require_root!();
    let dir = std::env::temp_dir().join(format!("kst-bystander-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut bystanders = Vec::new();
    for name in ["snmpd", "lldpd"] {
        let exe = dir.join(name);
        std::fs::copy("/bin/sleep", &exe).unwrap();
        // A thread of this test process that forks while the copy is open for writing
        // hands the write descriptor to its child until that child execs: exec of the
        // copy then fails with ETXTBSY for a moment. Retry, bounded.
        let mut tries = 0;
        let child = loop {
            match Command::new(&exe).arg("300").spawn() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                r => break r.unwrap(),
            }
        };
        bystanders.push(child);
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let setup = Command::new("bash")
        .arg(format!("{root}/scripts/setup.sh"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(setup.success(), "scripts/setup.sh failed");
    let mut lab = Lab::new("bystand").unwrap();
    let sw = lab.switch("sw").unwrap();
    let h = lab.ns("h").unwrap();
    lab.attach(&sw, "p0", &h, "eth0", "198.18.77.2/24").unwrap();
    let scratch = lab.snmpd(&h, "198.18.77.2", "rocommunity public").unwrap();
    let pid: u32 = std::fs::read_to_string(scratch.join("snmpd.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    lab.teardown().unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z")),
        "the lab's own snmpd outlived its lab"
    );
    for mut b in bystanders {
        assert!(
            b.try_wait().unwrap().is_none(),
            "a daemon the tests did not start was stopped"
        );
        b.kill().unwrap();
        b.wait().unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
