//! `kst-lab`: bring a throwaway lab up from the shell.
//!
//! - `kst-lab demo KSOCKET`: a small lab (a /24 of 30 hosts, some ignoring ICMP or
//!   answering ARP only, and a routed /24 of 10 hosts behind a router namespace); runs
//!   `KSOCKET scan` in the scanner namespace on both, then removes the lab.
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
        ["demo", ksocket] => match demo(ksocket) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("kst-lab: {e}");
                1
            }
        },
        _ => {
            eprintln!("usage: kst-lab demo KSOCKET | kst-lab hold TAG HOSTS SECONDS");
            2
        }
    };
    std::process::exit(code);
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

fn demo(ksocket: &str) -> std::io::Result<i32> {
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
    lab.teardown()?;
    Ok(code)
}
