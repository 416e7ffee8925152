//! The labs that tests and benchmarks share, so both measure the same networks.
use crate::{HostSpec, Lab, Ns, Role};
use std::collections::BTreeSet;
use std::io;
use std::net::Ipv4Addr;

/// A built scenario: where the scanner runs and which addresses are really up.
pub struct Scenario {
    pub scanner: Ns,
    pub scanner_ip: Ipv4Addr,
    /// Addresses that answer something above ARP, or ARP on the scanner's segment.
    pub live: BTreeSet<Ipv4Addr>,
    /// The target to scan.
    pub target: String,
}

/// One switch, 198.18.0.0/24: the scanner at .2 and `n` hosts from .20 up; every 5th
/// host answers ARP only (drops all IPv4), every 7th of the others ignores ICMP echo.
pub fn l2_segment(lab: &mut Lab, n: u8) -> io::Result<Scenario> {
    let sw = lab.switch("sw")?;
    let mut specs = vec![HostSpec {
        name: "scanner".into(),
        cidr: "198.18.0.2/24".into(),
        gateway: None,
        role: Role::Full,
    }];
    let mut live = BTreeSet::new();
    for i in 0..n.min(230) {
        let ip = Ipv4Addr::new(198, 18, 0, 20 + i);
        let role = if i % 5 == 0 {
            Role::ArpOnly
        } else if i % 7 == 0 {
            Role::NoIcmp
        } else {
            Role::Full
        };
        specs.push(HostSpec {
            name: format!("h{i}"),
            cidr: format!("{ip}/24"),
            gateway: None,
            role,
        });
        live.insert(ip);
    }
    let scanner = lab.hosts(&sw, &specs)?.remove(0);
    Ok(Scenario {
        scanner,
        scanner_ip: Ipv4Addr::new(198, 18, 0, 2),
        live,
        target: "198.18.0.0/24".into(),
    })
}

/// A mostly empty /16 on one switch: the scanner at 198.18.0.1/16 and four hosts spread
/// over 198.18.0.0/16 (.0.5, .77.7, .200.9, .255.254): a scan probes 65,535 addresses
/// for four answers (its memory must not grow with the range).
pub fn sparse_slash16(lab: &mut Lab) -> io::Result<Scenario> {
    let sw = lab.switch("sw")?;
    let ips = [
        "198.18.0.1",
        "198.18.0.5",
        "198.18.77.7",
        "198.18.200.9",
        "198.18.255.254",
    ];
    let specs: Vec<HostSpec> = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| HostSpec {
            name: format!("h{i}"),
            cidr: format!("{ip}/16"),
            gateway: None,
            role: Role::Full,
        })
        .collect();
    let scanner = lab.hosts(&sw, &specs)?.remove(0);
    Ok(Scenario {
        scanner,
        scanner_ip: Ipv4Addr::new(198, 18, 0, 1),
        live: ips[1..].iter().filter_map(|s| s.parse().ok()).collect(),
        target: "198.18.0.0/16".into(),
    })
}

/// The scanner at 198.18.1.2 behind router 198.18.1.1; 198.19.2.0/24 on the far side
/// with the router at .1 and hosts .10 to .30: even ones plain, odd ones ignore ICMP
/// echo (TCP still answers), and .30 drops every IPv4 packet (not live from afar).
pub fn routed_segment(lab: &mut Lab) -> io::Result<Scenario> {
    let sw1 = lab.switch("sw1")?;
    let sw2 = lab.switch("sw2")?;
    let router = lab.ns("router")?;
    lab.attach(&sw1, "r", &router, "eth0", "198.18.1.1/24")?;
    lab.attach(&sw2, "r", &router, "eth1", "198.19.2.1/24")?;
    lab.sysctl(&router, "net.ipv4.ip_forward", "1")?;
    let scanner = lab
        .hosts(
            &sw1,
            &[HostSpec {
                name: "scanner".into(),
                cidr: "198.18.1.2/24".into(),
                gateway: Some("198.18.1.1".into()),
                role: Role::Full,
            }],
        )?
        .remove(0);
    let mut specs = Vec::new();
    let mut live: BTreeSet<Ipv4Addr> = [Ipv4Addr::new(198, 19, 2, 1)].into_iter().collect();
    for i in 10..=30u8 {
        let role = if i == 30 {
            Role::ArpOnly
        } else if i % 2 == 1 {
            Role::NoIcmp
        } else {
            Role::Full
        };
        specs.push(HostSpec {
            name: format!("h{i}"),
            cidr: format!("198.19.2.{i}/24"),
            gateway: Some("198.19.2.1".into()),
            role,
        });
        if i != 30 {
            live.insert(Ipv4Addr::new(198, 19, 2, i));
        }
    }
    lab.hosts(&sw2, &specs)?;
    Ok(Scenario {
        scanner,
        scanner_ip: Ipv4Addr::new(198, 18, 1, 2),
        live,
        target: "198.19.2.0/24".into(),
    })
}

/// An SNMP segment, 198.18.20.0/24 on one switch: the scanner at .2; `agents`
/// addresses from .10 up served by one snmpd (community `public`, and an SNMPv3 user);
/// 20 addresses from .200 up that are live but run no SNMP (ICMP port unreachable);
/// the rest empty. `live` holds the SNMP agents.
pub fn snmp_segment(lab: &mut Lab, agents: u8) -> io::Result<Scenario> {
    let sw = lab.switch("sw")?;
    let specs = [
        ("scanner", "198.18.20.2/24"),
        ("agents", "198.18.20.10/24"),
        ("quiet", "198.18.20.200/24"),
    ]
    .map(|(name, cidr)| HostSpec {
        name: name.into(),
        cidr: cidr.into(),
        gateway: None,
        role: Role::Full,
    });
    let ns = lab.hosts(&sw, &specs)?;
    let agents = agents.clamp(1, 180);
    let mut live = BTreeSet::new();
    let mut ips = Vec::new();
    for i in 0..agents {
        let ip = Ipv4Addr::new(198, 18, 20, 10 + i);
        if i > 0 {
            lab.add_addr(&ns[1], "eth0", &format!("{ip}/24"))?;
        }
        live.insert(ip);
        ips.push(ip.to_string());
    }
    for i in 1..20u8 {
        lab.add_addr(&ns[2], "eth0", &format!("198.18.20.{}/24", 200 + i))?;
    }
    let ips: Vec<&str> = ips.iter().map(String::as_str).collect();
    lab.snmpd_on(
        &ns[1],
        &ips,
        "rocommunity public 198.18.0.0/15\ncreateUser sweepuser SHA \"auth-pass-1\"\nrouser sweepuser auth\n",
    )?;
    Ok(Scenario {
        scanner: ns[0].clone(),
        scanner_ip: Ipv4Addr::new(198, 18, 20, 2),
        live,
        target: "198.18.20.0/24".into(),
    })
}

/// The listener of [`services_segment`]: `kind:port` arguments, `http` (Python's
/// http.server: `Server: SimpleHTTP/...`), `ssh` (an SSH identification line, then
/// close) or `plain` (accept and close).
const LISTENER: &str = r#"
import socket, sys, threading, http.server, os
os.chdir(sys.argv[1])
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
class S(http.server.ThreadingHTTPServer):
    # One process serves a whole kind of hosts: a backlog for all of them.
    request_queue_size = 256
def serve(kind, port):
    if kind == "http":
        S(("0.0.0.0", port), H).serve_forever()
        return
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(256)
    while True:
        c, _ = s.accept()
        try:
            if kind == "ssh":
                c.sendall(b"SSH-2.0-kstlab_1.0\r\n")
        except OSError:
            pass
        c.close()
for a in sys.argv[2:]:
    k, p = a.split(":")
    threading.Thread(target=serve, args=(k, int(p)), daemon=True).start()
threading.Event().wait()
"#;

/// A services lab: what [`services_segment`] built, and the daemons it started
/// (killed, by their process ids, on drop).
pub struct Services {
    pub scenario: Scenario,
    /// The open TCP ports of every live host (UDP 161 is closed everywhere).
    pub open: std::collections::BTreeMap<Ipv4Addr, BTreeSet<u16>>,
    /// The routed host, if any (198.19.30.10, behind a router at 198.18.30.1).
    pub routed: Option<Ipv4Addr>,
    procs: Vec<std::process::Child>,
}

impl Drop for Services {
    fn drop(&mut self) {
        for c in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The open ports of each kind of host of [`services_segment`] (kind = host index % 6),
/// as `kind:port` listener arguments; kind 0 also runs OpenSSH on 22.
const KINDS: [&[&str]; 6] = [
    &["http:80"],
    &["plain:443", "http:5985", "plain:3389"],
    &[],
    &["plain:139", "plain:445", "plain:23"],
    &["plain:8080", "plain:25", "plain:53"],
    &["ssh:22", "plain:587", "plain:5986"],
];

/// One switch, 198.18.30.0/24: the scanner at .2 and `n` hosts (at most 200) from .10
/// up, of six kinds (index % 6, see `KINDS`): each kind one namespace holding its
/// addresses, with one listener process (and OpenSSH on 22 for kind 0). Kind 3 drops
/// TCP to port 23 (filtered, though listening), kind 5 ignores ICMP echo. With `routed`,
/// a router at .1 and one host 198.19.30.10 behind it (ports 22 ssh and 80 http).
pub fn services_segment(lab: &mut Lab, n: u8, routed: bool) -> io::Result<Services> {
    let sw = lab.switch("sw")?;
    let mut specs = vec![HostSpec {
        name: "scanner".into(),
        cidr: "198.18.30.2/24".into(),
        gateway: routed.then(|| "198.18.30.1".into()),
        role: Role::Full,
    }];
    let n = n.clamp(6, 200);
    for k in 0..6u8 {
        specs.push(HostSpec {
            name: format!("kind{k}"),
            cidr: format!("198.18.30.{}/24", 10 + k),
            gateway: None,
            role: if k == 5 { Role::NoIcmp } else { Role::Full },
        });
    }
    let ns = lab.hosts(&sw, &specs)?;
    let mut open = std::collections::BTreeMap::new();
    let port_of = |a: &&str| -> u16 {
        a.split(':')
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    };
    for i in 0..n {
        let k = usize::from(i % 6);
        let ip = Ipv4Addr::new(198, 18, 30, 10 + i);
        if i >= 6 {
            lab.add_addr(&ns[1 + k], "eth0", &format!("{ip}/24"))?;
        }
        let mut ports: BTreeSet<u16> = KINDS[k].iter().map(port_of).collect();
        if k == 0 {
            ports.insert(22);
        }
        if k == 3 {
            ports.remove(&23);
        }
        open.insert(ip, ports);
    }
    lab.nft(
        &ns[4],
        "table ip kst { chain in { type filter hook input priority 0; tcp dport 23 drop; }; }",
    )?;
    let dir = lab.scratch_dir("www")?;
    std::fs::write(dir.join("listener.py"), LISTENER)?;
    let mut s = Services {
        scenario: Scenario {
            scanner: ns[0].clone(),
            scanner_ip: Ipv4Addr::new(198, 18, 30, 2),
            live: open.keys().copied().collect(),
            target: "198.18.30.0/24".into(),
        },
        open,
        routed: None,
        procs: Vec::new(),
    };
    let script = dir.join("listener.py").to_string_lossy().to_string();
    let www = dir.to_string_lossy().to_string();
    let mut listen = |lab: &Lab, host: &crate::Ns, args: &[&str]| -> io::Result<()> {
        let mut argv = vec!["python3", script.as_str(), www.as_str()];
        argv.extend_from_slice(args);
        let c = lab
            .command(host, &argv)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        s.procs.push(c);
        Ok(())
    };
    for k in 0..6 {
        if !KINDS[k].is_empty() {
            listen(lab, &ns[1 + k], KINDS[k])?;
        }
    }
    if routed {
        let sw2 = lab.switch("sw2")?;
        let router = lab.ns("router")?;
        lab.attach(&sw, "r", &router, "eth0", "198.18.30.1/24")?;
        lab.attach(&sw2, "r", &router, "eth1", "198.19.30.1/24")?;
        lab.sysctl(&router, "net.ipv4.ip_forward", "1")?;
        let far = lab
            .hosts(
                &sw2,
                &[HostSpec {
                    name: "far".into(),
                    cidr: "198.19.30.10/24".into(),
                    gateway: Some("198.19.30.1".into()),
                    role: Role::Full,
                }],
            )?
            .remove(0);
        listen(lab, &far, &["ssh:22", "http:80"])?;
        let ip = Ipv4Addr::new(198, 19, 30, 10);
        s.open.insert(ip, [22, 80].into_iter().collect());
        s.routed = Some(ip);
    }
    // OpenSSH on kind 0, on every address of the namespace.
    let _ = std::fs::create_dir_all("/run/sshd");
    let hk = dir.join("hk_ed25519");
    crate::sshd::keygen(&hk, "ed25519");
    let conf = dir.join("sshd_config");
    // One sshd serves a whole kind of hosts: as many connections at once as they
    // would take together.
    std::fs::write(
        &conf,
        "PidFile none\nStrictModes no\nUsePAM no\nMaxStartups 300\n",
    )?;
    let conf = conf.to_string_lossy().to_string();
    let hk = hk.to_string_lossy().to_string();
    let c = lab
        .command(
            &ns[1],
            &[
                crate::sshd::SSHD,
                "-D",
                "-e",
                "-f",
                &conf,
                "-h",
                &hk,
                "-p",
                "22",
            ],
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    s.procs.push(c);
    // Every listener up (bounded): each kind's first address accepts on its ports.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    for (ip, ports) in &s.open {
        if u32::from(*ip) > u32::from(Ipv4Addr::new(198, 18, 30, 15)) && Some(*ip) != s.routed {
            continue;
        }
        for p in ports {
            let host = if Some(*ip) == s.routed {
                None
            } else {
                Some(usize::from(ip.octets()[3] - 10))
            };
            let check =
                format!("import socket; socket.create_connection(('{ip}', {p}), 1).close()");
            loop {
                let ok = match host {
                    Some(k) => lab.exec(
                        &ns[1 + k],
                        &["python3", "-c", &check],
                        std::time::Duration::from_secs(5),
                    ),
                    None => lab.exec(
                        &ns[0],
                        &["python3", "-c", &check],
                        std::time::Duration::from_secs(5),
                    ),
                }
                .is_ok_and(|o| o.status.success());
                if ok {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    return Err(io::Error::other(format!("lab: {ip}:{p} did not come up")));
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
    Ok(s)
}
