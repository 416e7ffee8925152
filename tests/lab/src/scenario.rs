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
