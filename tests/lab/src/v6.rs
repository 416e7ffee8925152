//! IPv6 in labs: addresses only from 2001:2::/48 (RFC 5180, the IPv6 benchmarking
//! range) plus the link-local ones the kernel makes, duplicate address detection off
//! (every address usable at once), and the scenario the IPv6 tests and the benchmark
//! share.
use crate::{Lab, Ns, batch};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

/// 2001:2::/48, or link-local.
pub fn in_lab_range6(a: Ipv6Addr) -> bool {
    let s = a.segments();
    (s[0] == 0x2001 && s[1] == 2 && s[2] == 0) || a.is_unicast_link_local()
}

/// Parses `addr/n` (or `addr`, a /128) and refuses anything outside 2001:2::/48.
pub fn lab_cidr6(s: &str) -> io::Result<(Ipv6Addr, u8)> {
    let (a, p) = s.split_once('/').unwrap_or((s, "128"));
    let addr: Ipv6Addr = a
        .parse()
        .map_err(|_| io::Error::other(format!("lab: `{s}` is not an IPv6 address")))?;
    let prefix: u8 = p
        .parse()
        .ok()
        .filter(|p| (48..=128).contains(p))
        .ok_or_else(|| io::Error::other(format!("lab: `{s}`: prefix must be /48 to /128")))?;
    if !in_lab_range6(addr) || addr.is_unicast_link_local() {
        return Err(io::Error::other(format!(
            "lab: refusing {addr}: lab IPv6 addresses must be in 2001:2::/48"
        )));
    }
    Ok((addr, prefix))
}

/// One host of [`Lab::hosts6`].
#[derive(Clone, Debug, Default)]
pub struct Host6 {
    pub name: String,
    /// `a.b.c.d/n` in 198.18.0.0/15, if the host has IPv4.
    pub cidr4: Option<String>,
    /// Global IPv6 addresses (`addr/n` in 2001:2::/48).
    pub cidr6: Vec<String>,
    /// IPv6 default gateway.
    pub gateway6: Option<String>,
    /// Ignores ICMPv6 echo (net.ipv6.icmp.echo_ignore_all=1).
    pub no_echo6: bool,
}

const NO_DAD: &str = "net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0";

impl Lab {
    /// A switch for IPv6 labs: as [`Lab::switch`], with MLD snooping on (said
    /// explicitly: it is the bridge's default). Multicast then reaches only the ports
    /// that listen, as on a managed switch; flooded instead, the 50 Neighbor
    /// Solicitations that 50 hosts send at once when they answer a multicast echo
    /// become 2,500 frames on the veths of a 2-core machine, and some are dropped
    /// (measured: 7 of 45 global addresses then answered only after the hosts' 1 s
    /// retransmission), an artefact of the lab, not of the link.
    pub fn switch6(&mut self, name: &str) -> io::Result<Ns> {
        let sw = self.switch(name)?;
        self.ip(
            &sw,
            &[
                "link",
                "set",
                "br0",
                "type",
                "bridge",
                "mcast_snooping",
                "1",
            ],
        )?;
        Ok(sw)
    }

    /// Makes the IPv6 addresses of `ns` usable at once (no duplicate address detection)
    /// for interfaces made from now on.
    pub fn no_dad(&self, ns: &Ns) -> io::Result<()> {
        let mut argv = vec!["sysctl", "-q", "-w"];
        argv.extend(NO_DAD.split(' '));
        let o = self.exec(ns, &argv, std::time::Duration::from_secs(10))?;
        crate::check(o, "sysctl accept_dad")
    }

    /// Adds IPv6 address `cidr` (2001:2::/48) to `dev` in `ns`, without DAD.
    pub fn add_addr6(&self, ns: &Ns, dev: &str, cidr: &str) -> io::Result<()> {
        lab_cidr6(cidr)?;
        self.ip(ns, &["-6", "addr", "add", cidr, "dev", dev, "nodad"])
    }

    /// Adds an IPv6 route in `ns`: `dest` (CIDR in 2001:2::/48, or `default`) via `gw`.
    pub fn route6(&self, ns: &Ns, dest: &str, gw: &str) -> io::Result<()> {
        if dest != "default" {
            lab_cidr6(dest)?;
        }
        let g: Ipv6Addr = gw
            .parse()
            .map_err(|_| io::Error::other(format!("lab: bad gateway {gw}")))?;
        if !in_lab_range6(g) {
            return Err(io::Error::other(format!("lab: refusing gateway {gw}")));
        }
        self.ip(ns, &["-6", "route", "add", dest, "via", gw])
    }

    /// Creates hosts on switch `sw`, each with `eth0`: IPv4 if given, the IPv6
    /// addresses given, and its link-local address, all usable at once.
    pub fn hosts6(&mut self, sw: &Ns, specs: &[Host6]) -> io::Result<Vec<Ns>> {
        for s in specs {
            if let Some(c) = &s.cidr4 {
                crate::lab_cidr(c)?;
            }
            for c in &s.cidr6 {
                lab_cidr6(c)?;
            }
        }
        let mut out = Vec::new();
        for s in specs {
            let ns = self.ns(&s.name)?;
            self.no_dad(&ns)?;
            if s.no_echo6 {
                self.sysctl(&ns, "net.ipv6.icmp.echo_ignore_all", "1")?;
            }
            out.push(ns);
        }
        let base = self.namespaces().len();
        let mut links = String::new();
        for (i, ns) in out.iter().enumerate() {
            writeln!(
                links,
                "link add q{}x{i} type veth peer name eth0 netns {}",
                base, ns.name
            )
            .ok();
            writeln!(links, "link set q{base}x{i} master br0 up").ok();
        }
        batch(Some(sw), &links)?;
        for (s, ns) in specs.iter().zip(&out) {
            let mut cmds = String::from("link set eth0 up\n");
            if let Some(c) = &s.cidr4 {
                writeln!(cmds, "addr add {c} dev eth0").ok();
            }
            for c in &s.cidr6 {
                writeln!(cmds, "addr add {c} dev eth0 nodad").ok();
            }
            if let Some(g) = &s.gateway6 {
                writeln!(cmds, "route add ::/0 via {g}").ok();
            }
            batch(Some(ns), &cmds)?;
        }
        Ok(out)
    }
}

/// A built IPv6 scenario.
pub struct Scenario6 {
    pub scanner: Ns,
    /// The scanner's interface.
    pub ifname: String,
    /// Per node of the scanner's link (router included): its IPv4 address if any and
    /// its global IPv6 addresses.
    pub link_nodes: Vec<(Option<Ipv4Addr>, Vec<Ipv6Addr>)>,
    /// Live addresses of the routed IPv6 segment.
    pub routed: BTreeSet<Ipv6Addr>,
    /// The routed segment to name as a target.
    pub routed_target: String,
}

/// One link, 198.18.30.0/24 and 2001:2::/64: the scanner at .2 / 2001:2::2; `dual`
/// dual-stack hosts (198.18.30.10+i, 2001:2::a:i; every 4th ignores ICMPv6 echo and
/// ARP and MLD find it); `v6only` IPv6-only hosts (2001:2::b:i); a router at
/// 2001:2::1 (IPv6 only) to 2001:2:0:1::/64, where `far` hosts live (2001:2:0:1::10+i; odd
/// ones ignore ICMPv6 echo, TCP still answers).
pub fn ipv6_segment(lab: &mut Lab, dual: u16, v6only: u16, far: u16) -> io::Result<Scenario6> {
    let sw = lab.switch6("sw6")?;
    let sw2 = lab.switch6("sw7")?;
    let router = lab.ns("router")?;
    lab.no_dad(&router)?;
    lab.ip(
        &sw,
        &[
            "link",
            "add",
            "r",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &router.name,
        ],
    )?;
    lab.ip(&sw, &["link", "set", "r", "master", "br0", "up"])?;
    lab.ip(
        &sw2,
        &[
            "link",
            "add",
            "r",
            "type",
            "veth",
            "peer",
            "name",
            "eth1",
            "netns",
            &router.name,
        ],
    )?;
    lab.ip(&sw2, &["link", "set", "r", "master", "br0", "up"])?;
    for (dev, a) in [("eth0", "2001:2::1/64"), ("eth1", "2001:2:0:1::1/64")] {
        lab.ip(&router, &["link", "set", dev, "up"])?;
        lab.add_addr6(&router, dev, a)?;
    }
    lab.sysctl(&router, "net.ipv6.conf.all.forwarding", "1")?;
    let mut specs = vec![Host6 {
        name: "scanner".into(),
        cidr4: Some("198.18.30.2/24".into()),
        cidr6: vec!["2001:2::2/64".into()],
        ..Host6::default()
    }];
    let mut link_nodes = vec![(None, vec!["2001:2::1".parse().expect("literal")])];
    for i in 0..dual.min(200) {
        let v4 = Ipv4Addr::new(198, 18, 30, 10 + i as u8);
        let v6: Ipv6Addr = format!("2001:2::a:{i:x}").parse().expect("formatted");
        specs.push(Host6 {
            name: format!("d{i}"),
            cidr4: Some(format!("{v4}/24")),
            cidr6: vec![format!("{v6}/64")],
            gateway6: Some("2001:2::1".into()),
            no_echo6: i % 4 == 3,
        });
        // A node that ignores echo is found by MLD with its link-local address only.
        link_nodes.push((Some(v4), if i % 4 == 3 { vec![] } else { vec![v6] }));
    }
    for i in 0..v6only.min(1000) {
        let v6: Ipv6Addr = format!("2001:2::b:{i:x}").parse().expect("formatted");
        specs.push(Host6 {
            name: format!("v{i}"),
            cidr6: vec![format!("{v6}/64")],
            gateway6: Some("2001:2::1".into()),
            ..Host6::default()
        });
        link_nodes.push((None, vec![v6]));
    }
    let scanner = lab.hosts6(&sw, &specs)?.remove(0);
    lab.route6(&scanner, "2001:2:0:1::/64", "2001:2::1")?;
    let mut far_specs = Vec::new();
    let mut routed = BTreeSet::new();
    for i in 0..far.min(200) {
        let v6: Ipv6Addr = format!("2001:2:0:1::{:x}", 0x10 + i)
            .parse()
            .expect("formatted");
        far_specs.push(Host6 {
            name: format!("f{i}"),
            cidr6: vec![format!("{v6}/64")],
            gateway6: Some("2001:2:0:1::1".into()),
            no_echo6: i % 2 == 1,
            ..Host6::default()
        });
        routed.insert(v6);
    }
    routed.insert("2001:2:0:1::1".parse().expect("literal"));
    lab.hosts6(&sw2, &far_specs)?;
    Ok(Scenario6 {
        scanner,
        ifname: "eth0".into(),
        link_nodes,
        routed,
        routed_target: "2001:2:0:1::/120".into(),
    })
}
