//! `kst-lab`: bring a throwaway lab up from the shell.
//!
//! - `kst-lab demo KSOCKET [CONTROLLER]`: a small lab (a /24 of 30 hosts, some ignoring
//!   ICMP or answering ARP only, and a routed /24 of 10 hosts behind a router
//!   namespace); runs `KSOCKET scan` in the scanner namespace on both; with the
//!   controller's binary, then the service mode: a controller (wss, its self-made
//!   certificate pinned by the agent) and `KSOCKET connect` in the scanner namespace,
//!   a scan ordered through the controller, its hosts in the controller's inventory;
//!   then removes the lab.
//! - `kst-lab compare REF RUNNER BIN`: runs the same scans (an L2 /24 of 60 hosts, the
//!   routed segment), an SNMP walk of the system group and an SNMP sweep with `REF` and
//!   with `RUNNER BIN` (say `qemu-arm-static target/armv7-.../ksocket`: the static ARM
//!   binary under emulation) in lab namespaces, and fails unless both find the same
//!   hosts and print the same walk lines (volatile values masked).
//! - `kst-lab rss KSOCKET MAX_KIB`: the memory budget of a scan. `KSOCKET scan` (default
//!   settings) of the services lab (a /24 of 200 hosts with open ports, SSH and HTTP
//!   banners: [`ksocket_lab::scenario::services_segment`]) and of a /16 with 4 live
//!   hosts, three runs each; prints the median peak RSS (GNU time's %M) and fails when
//!   either is over MAX_KIB or a scan finds fewer hosts than are live.
//! - `kst-lab hold-services SECONDS`: the services lab of `rss` (and of
//!   bench/nmap.sh); prints the scanner's namespace and the target, then sleeps at
//!   most SECONDS.
//! - `kst-lab hold-names SECONDS`: the names benchmark's /24
//!   ([`ksocket_lab::names::names_segment`], 200 hosts with a DNS server, nmbd and
//!   avahi); prints the scanner's namespace once every daemon answers, then sleeps at
//!   most SECONDS.
//! - `kst-lab hold TAG HOSTS SECONDS`: a switch with HOSTS hosts on 198.18.0.0/24
//!   (198.18.0.10 upward), prints the lab's prefix, then sleeps at most SECONDS.
//!   The lab is removed when it ends, or when it is killed (the lab tests kill it).
use ksocket_lab::{HostSpec, Lab, Role};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["hold", tag, hosts, secs] => hold(tag, hosts, secs),
        ["hold-names", secs] => hold_names(secs),
        ["hold-services", secs] => match hold_services(secs) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("kst-lab: {e}");
                1
            }
        },
        ["rss", ksocket, max] => match rss(ksocket, max) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("kst-lab: {e}");
                1
            }
        },
        ["compare", reference, runner, bin] => match compare(reference, runner, bin) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("kst-lab: {e}");
                1
            }
        },
        ["demo", ksocket] => match demo(ksocket, None) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("kst-lab: {e}");
                1
            }
        },
        ["demo", ksocket, controller] => match demo(ksocket, Some(controller)) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("kst-lab: {e}");
                1
            }
        },
        _ => {
            eprintln!(
                "usage: kst-lab demo KSOCKET | kst-lab compare REF RUNNER BIN | kst-lab rss KSOCKET MAX_KIB | kst-lab hold TAG HOSTS SECONDS"
            );
            2
        }
    };
    std::process::exit(code);
}

/// Median peak RSS (KiB) of three `KSOCKET scan --format jsonl TARGET` in `ns`, and the
/// fewest hosts a run found.
fn scan_rss(
    lab: &Lab,
    ns: &ksocket_lab::Ns,
    ksocket: &str,
    target: &str,
) -> std::io::Result<(u64, usize)> {
    let mut rss = Vec::new();
    let mut fewest = usize::MAX;
    for _ in 0..3 {
        let argv = [ksocket, "scan", "--format", "jsonl", target];
        let (o, kib) = lab.exec_timed(ns, &argv, Duration::from_secs(120))?;
        let err = String::from_utf8_lossy(&o.stderr);
        let kib =
            kib.ok_or_else(|| std::io::Error::other(format!("no peak RSS from GNU time: {err}")))?;
        if !o.status.success() {
            return Err(std::io::Error::other(format!(
                "{ksocket} scan {target} failed: {err}"
            )));
        }
        let hosts = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains("\"ip\""))
            .count();
        rss.push(kib);
        fewest = fewest.min(hosts);
    }
    rss.sort_unstable();
    Ok((rss[1], fewest))
}

fn rss(ksocket: &str, max: &str) -> std::io::Result<i32> {
    let max: u64 = max
        .parse()
        .map_err(|_| std::io::Error::other("MAX_KIB is a number"))?;
    let ksocket = std::fs::canonicalize(ksocket)?;
    let ksocket = ksocket.to_string_lossy();
    let mut failed = false;
    {
        let mut lab = Lab::new("rss24")?;
        let svc = ksocket_lab::scenario::services_segment(&mut lab, 200, false)?;
        let live = svc.scenario.live.len();
        let (kib, hosts) = scan_rss(&lab, &svc.scenario.scanner, &ksocket, &svc.scenario.target)?;
        println!(
            "kst-lab rss: /24 with {live} live hosts and their services: peak RSS {kib} KiB (median of 3; budget {max}), {hosts} hosts found"
        );
        failed |= kib > max || hosts < live;
    }
    {
        let mut lab = Lab::new("rss16")?;
        let sc = ksocket_lab::scenario::sparse_slash16(&mut lab)?;
        let (kib, hosts) = scan_rss(&lab, &sc.scanner, &ksocket, &sc.target)?;
        println!(
            "kst-lab rss: /16 with 4 live hosts (65535 addresses): peak RSS {kib} KiB (median of 3; budget {max}), {hosts} hosts found"
        );
        failed |= kib > max || hosts < sc.live.len();
    }
    Ok(i32::from(failed))
}

fn hold_services(secs: &str) -> std::io::Result<i32> {
    let secs: u64 = secs
        .parse()
        .map_err(|_| std::io::Error::other("SECONDS is a number"))?;
    let mut lab = Lab::new("bsvc")?;
    let svc = ksocket_lab::scenario::services_segment(&mut lab, 200, false)?;
    println!("{} {}", svc.scenario.scanner.name, svc.scenario.target);
    std::thread::sleep(Duration::from_secs(secs.min(3600)));
    Ok(0)
}

fn hold_names(secs: &str) -> i32 {
    let Ok(secs) = secs.parse::<u64>() else {
        eprintln!("kst-lab: SECONDS is a number");
        return 2;
    };
    let run = || -> std::io::Result<(Lab, ksocket_lab::names::ResolvConf, String)> {
        let mut lab = Lab::new("bnames")?;
        let (sc, resolv) = ksocket_lab::names::names_segment(&mut lab, 200)?;
        // Ready when each daemon answers (at most 20 s).
        let t0 = std::time::Instant::now();
        let checks: [&[&str]; 3] = [
            &["dig", "+short", "+time=1", "-x", "198.18.0.21"],
            &["nmblookup", "-A", "198.18.0.21"],
            &[
                "dig",
                "+short",
                "+time=1",
                "-p",
                "5353",
                "@198.18.0.22",
                "-x",
                "198.18.0.22",
            ],
        ];
        for c in checks {
            loop {
                let o = lab.exec(&sc.scanner, c, Duration::from_secs(10))?;
                let out = String::from_utf8_lossy(&o.stdout);
                if out.contains("host-") || out.contains("HOST-21") {
                    break;
                }
                if t0.elapsed() > Duration::from_secs(20) {
                    return Err(std::io::Error::other(format!("{c:?} never answered")));
                }
                std::thread::sleep(Duration::from_millis(150));
            }
        }
        let name = sc.scanner.name.clone();
        Ok((lab, resolv, name))
    };
    match run() {
        Ok((_lab, _resolv, scanner)) => {
            println!("{scanner}");
            std::thread::sleep(Duration::from_secs(secs.min(3600)));
            0
        }
        Err(e) => {
            eprintln!("kst-lab: {e}");
            1
        }
    }
}

fn hold(tag: &str, hosts: &str, secs: &str) -> i32 {
    let (Ok(n), Ok(secs)) = (hosts.parse::<u32>(), secs.parse::<u64>()) else {
        eprintln!("kst-lab: HOSTS and SECONDS are numbers");
        return 2;
    };
    if n > 240 || secs > 3600 {
        eprintln!("kst-lab: at most 240 hosts and 3600 seconds");
        return 2;
    }
    let run = || -> std::io::Result<Lab> {
        let mut lab = Lab::new(tag)?;
        let sw = lab.switch("sw")?;
        let specs: Vec<HostSpec> = (0..n)
            .map(|i| HostSpec {
                name: format!("h{i}"),
                cidr: format!("198.18.0.{}/24", 10 + i),
                gateway: None,
                role: Role::Full,
            })
            .collect();
        lab.hosts(&sw, &specs)?;
        Ok(lab)
    };
    match run() {
        Ok(lab) => {
            println!("{}", lab.prefix());
            std::thread::sleep(Duration::from_secs(secs));
            0
        }
        Err(e) => {
            eprintln!("kst-lab: {e}");
            1
        }
    }
}

fn demo(ksocket: &str, controller: Option<&str>) -> std::io::Result<i32> {
    let ksocket = std::fs::canonicalize(ksocket)?;
    let ksocket = ksocket.to_string_lossy();
    let mut lab = Lab::new("demo")?;
    let sw1 = lab.switch("sw1")?;
    let sw2 = lab.switch("sw2")?;
    let router = lab.ns("router")?;
    lab.attach(&sw1, "r", &router, "eth0", "198.18.0.1/24")?;
    lab.attach(&sw2, "r", &router, "eth1", "198.19.2.1/24")?;
    lab.sysctl(&router, "net.ipv4.ip_forward", "1")?;
    let mut specs = vec![HostSpec {
        name: "scanner".into(),
        cidr: "198.18.0.2/24".into(),
        gateway: Some("198.18.0.1".into()),
        role: Role::Full,
    }];
    for i in 0..30u8 {
        let role = match i % 6 {
            0 => Role::ArpOnly,
            1 => Role::NoIcmp,
            _ => Role::Full,
        };
        specs.push(HostSpec {
            name: format!("a{i}"),
            cidr: format!("198.18.0.{}/24", 10 + i),
            gateway: None,
            role,
        });
    }
    let near = lab.hosts(&sw1, &specs)?;
    let scanner = near[0].clone();
    let far: Vec<HostSpec> = (0..10u8)
        .map(|i| HostSpec {
            name: format!("b{i}"),
            cidr: format!("198.19.2.{}/24", 10 + i),
            gateway: Some("198.19.2.1".into()),
            role: if i % 2 == 1 { Role::NoIcmp } else { Role::Full },
        })
        .collect();
    let far_ns = lab.hosts(&sw2, &far)?;
    // SNMP agents: the router and one host on each side.
    lab.snmpd(
        &router,
        "198.18.0.1",
        "rocommunity public 198.18.0.0/15\nsysname demo-router\nsyslocation lab rack 1",
    )?;
    for (ns, ip, name) in [
        (near[3].clone(), "198.18.0.12", "demo-a2"),
        (far_ns[4].clone(), "198.19.2.14", "demo-b4"),
    ] {
        lab.snmpd(
            &ns,
            ip,
            &format!("rocommunity public 198.18.0.0/15\nsysname {name}"),
        )?;
    }
    println!(
        "Lab {}*: scanner 198.18.0.2 on 198.18.0.0/24 with 30 hosts (every 6th answers ARP only,",
        lab.prefix()
    );
    println!(
        "the next ignores ICMP) and router 198.18.0.1; 198.19.2.0/24 behind it has 10 hosts (odd ones ignore ICMP)."
    );
    println!("snmpd (community public) runs on the router, 198.18.0.12 and 198.19.2.14.\n");
    let mut code = 0;
    for (title, extra) in [
        (
            "ksocket scan -v --community public   (no target: the attached network and the default gateway;\n  the gateway's ARP table over SNMP first, then SNMP details of every host that answers)",
            &["-v", "--community", "public"][..],
        ),
        (
            "ksocket scan --community public 198.19.2.0/24   (routed: ICMP, TCP and SNMP through the gateway)",
            &["--community", "public", "198.19.2.0/24"][..],
        ),
        (
            "ksocket snmp sweep 198.18.0.0/24 198.19.2.0/24   (who answers SNMP, as onesixtyone does)",
            &[][..],
        ),
    ] {
        println!("$ {title}");
        let mut c = if extra.is_empty() {
            lab.command(
                &scanner,
                &[&ksocket, "snmp", "sweep", "198.18.0.0/24", "198.19.2.0/24"],
            )
        } else {
            lab.command(&scanner, &[&ksocket, "scan", "--format", "table"])
        };
        c.args(extra);
        let st = c.status()?;
        println!();
        if !st.success() {
            code = 1;
        }
    }
    if let Some(c) = controller
        && let Err(e) = service_demo(&mut lab, &scanner, &ksocket, c)
    {
        eprintln!("kst-lab: service mode: {e}");
        code = 1;
    }
    lab.teardown()?;
    Ok(code)
}

/// The service mode in the demo lab: controller and agent in the scanner namespace
/// (on its own loopback), a scan ordered through the controller.
fn service_demo(
    lab: &mut Lab,
    scanner: &ksocket_lab::Ns,
    ksocket: &str,
    controller: &str,
) -> std::io::Result<()> {
    use std::process::Stdio;
    let controller = std::fs::canonicalize(controller)?;
    let controller = controller.to_string_lossy().to_string();
    let dir = lab.scratch_dir("service")?;
    let data = dir.join("controller");
    let home = dir.join("agent");
    let d = data.to_string_lossy().to_string();
    let ctl = |args: &[&str]| -> std::io::Result<String> {
        let mut argv = vec![controller.as_str()];
        argv.extend_from_slice(args);
        argv.extend_from_slice(&["--data", &d]);
        ksocket_in(lab, scanner, &[], &argv)
    };
    println!(
        "$ ksocket-controller serve --listen 127.0.0.1:8443   (wss with a self-made certificate)"
    );
    let log = dir.join("controller.log");
    let mut serve = lab
        .command(
            scanner,
            &[
                &controller,
                "serve",
                "--listen",
                "127.0.0.1:8443",
                "--data",
                &d,
            ],
        )
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log)?)
        .stderr(std::fs::File::create(dir.join("controller.err"))?)
        .spawn()?;
    let t0 = std::time::Instant::now();
    let mut pin = None;
    while pin.is_none() && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
        let text = std::fs::read_to_string(&log).unwrap_or_default()
            + &std::fs::read_to_string(dir.join("controller.err")).unwrap_or_default();
        if text.contains("listening on") {
            print!("{text}");
            pin = text.lines().find_map(|l| {
                l.split_whitespace()
                    .find(|w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()))
                    .map(str::to_string)
            });
        }
    }
    let Some(pin) = pin else {
        let _ = serve.kill();
        return Err(std::io::Error::other("the controller did not start"));
    };
    println!("\n$ ksocket-controller token create demo-agent");
    let token = ctl(&["token", "create", "demo-agent"])?;
    let token = token.lines().last().unwrap_or("").trim().to_string();
    println!("(a token, printed once; stored hashed)\n");
    std::fs::create_dir_all(home.join("etc/ksocket/credentials/snmp"))?;
    std::fs::write(
        home.join("etc/ksocket/ksocket.toml"),
        format!(
            "logfile = \"{}/ksocket.log\"\n[connect]\ntoken = \"{token}\"\nname = \"demo-agent\"\n\
             protocol = \"wss\"\nhost = \"127.0.0.1\"\nport = 8443\npinnedSha256 = \"{pin}\"\n\
             heartbeatInterval = 5.0\n",
            home.display()
        ),
    )?;
    std::fs::write(
        home.join("etc/ksocket/credentials/snmp/10-lab.toml"),
        "includes = [\"198.18.0.0/15\"]\n\n[authData]\ncommunity = \"public\"\n",
    )?;
    println!(
        "$ ksocket connect   (KSOCKET_HOME={}; connect.pinnedSha256 = the certificate's SHA-256)",
        home.display()
    );
    let mut agent = lab
        .command(scanner, &[ksocket, "connect"])
        .env("KSOCKET_HOME", &home)
        .env_remove("KSOCKET_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let t1 = std::time::Instant::now();
    let agent_log = || std::fs::read_to_string(home.join("ksocket.log")).unwrap_or_default();
    while !agent_log().contains("connected (protocol") && t1.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    for l in agent_log().lines().take(4) {
        println!("  {l}");
    }
    let result = (|| -> std::io::Result<()> {
        println!("\n$ ksocket-controller agents");
        print!("{}", ctl(&["agents"])?);
        println!("\n$ ksocket-controller scan --agent demo-agent --details --wait 198.18.0.0/24");
        print!(
            "{}",
            ctl(&[
                "scan",
                "--agent",
                "demo-agent",
                "--details",
                "--wait",
                "--timeout",
                "120",
                "198.18.0.0/24"
            ])?
        );
        println!("\n$ ksocket-controller hosts --format table   (the inventory)");
        print!("{}", ctl(&["hosts", "--format", "table"])?);
        Ok(())
    })();
    let _ = agent.kill();
    let _ = agent.wait();
    let _ = serve.kill();
    let _ = serve.wait();
    result
}

/// Runs `argv` (a ksocket command line after the binary) with `bin` (and its runner)
/// in `ns`; its stdout, or an error with its stderr.
fn ksocket_in(
    lab: &Lab,
    ns: &ksocket_lab::Ns,
    bin: &[&str],
    argv: &[&str],
) -> std::io::Result<String> {
    let mut full: Vec<&str> = bin.to_vec();
    full.extend_from_slice(argv);
    let o = lab.exec(ns, &full, Duration::from_secs(180))?;
    if !o.status.success() {
        return Err(std::io::Error::other(format!(
            "{full:?} failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The `ip` of every record of a scan, or the first field of every sweep line.
fn hosts_of(out: &str) -> std::collections::BTreeSet<String> {
    out.lines()
        .filter_map(|l| match serde_json::from_str::<serde_json::Value>(l) {
            Ok(v) => v["ip"].as_str().map(str::to_string),
            Err(_) => l.split_whitespace().next().map(str::to_string),
        })
        .collect()
}

/// A walk's lines with the values that change between two walks masked.
fn masked(out: &str) -> Vec<String> {
    out.lines()
        .map(|l| {
            let (oid, val) = l.split_once(" = ").unwrap_or((l, ""));
            let ty = val.split(':').next().unwrap_or("");
            if matches!(ty, "Counter32" | "Counter64" | "Timeticks" | "Gauge32") {
                format!("{oid} = {ty}")
            } else {
                l.to_string()
            }
        })
        .collect()
}

fn compare(reference: &str, runner: &str, bin: &str) -> std::io::Result<i32> {
    use ksocket_lab::scenario;
    let reference = std::fs::canonicalize(reference)?
        .to_string_lossy()
        .into_owned();
    let bin = std::fs::canonicalize(bin)?.to_string_lossy().into_owned();
    let subject = [runner, bin.as_str()];
    let mut failed = 0;
    let mut check = |what: &str, same: bool, detail: String| {
        println!("{} {what}", if same { "same" } else { "DIFFERENT" });
        if !same {
            println!("  {detail}");
            failed += 1;
        }
    };
    for routed in [false, true] {
        let mut lab = Lab::new(if routed { "cmp-routed" } else { "cmp-l2" })?;
        let sc = if routed {
            scenario::routed_segment(&mut lab)?
        } else {
            scenario::l2_segment(&mut lab, 60)?
        };
        let argv = [
            "scan",
            "--format",
            "jsonl",
            "--no-details",
            sc.target.as_str(),
        ];
        let want: std::collections::BTreeSet<String> =
            sc.live.iter().map(ToString::to_string).collect();
        let a = hosts_of(&ksocket_in(&lab, &sc.scanner, &[&reference], &argv)?);
        let b = hosts_of(&ksocket_in(&lab, &sc.scanner, &subject, &argv)?);
        let what = format!("scan of {} ({} hosts up)", sc.target, want.len());
        check(
            &what,
            a == want && b == want,
            format!("reference {a:?}, {bin}: {b:?}"),
        );
        lab.teardown()?;
    }
    let mut lab = Lab::new("cmp-snmp")?;
    let sc = scenario::snmp_segment(&mut lab, 5)?;
    let walk = ["snmp", "walk", "198.18.20.10", "1.3.6.1.2.1.1"];
    let a = masked(&ksocket_in(&lab, &sc.scanner, &[&reference], &walk)?);
    let b = masked(&ksocket_in(&lab, &sc.scanner, &subject, &walk)?);
    check(
        "walk of the system group",
        a == b && !a.is_empty(),
        format!("{a:?} vs {b:?}"),
    );
    let sweep = ["snmp", "sweep", "-t", "0.5", sc.target.as_str()];
    let a = hosts_of(&ksocket_in(&lab, &sc.scanner, &[&reference], &sweep)?);
    let b = hosts_of(&ksocket_in(&lab, &sc.scanner, &subject, &sweep)?);
    let want: std::collections::BTreeSet<String> =
        sc.live.iter().map(ToString::to_string).collect();
    check(
        "sweep of the SNMP segment",
        a == want && b == want,
        format!("{a:?} vs {b:?}"),
    );
    lab.teardown()?;
    Ok(i32::from(failed > 0))
}
