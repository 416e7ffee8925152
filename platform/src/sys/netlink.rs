//! What the kernel knows of this box's networks, read over rtnetlink (synchronous
//! dumps with `netlink-sys` and `netlink-packet-route`): interfaces, IPv4 addresses,
//! the main routing table and the neighbour (ARP) table; and the same for IPv6
//! ([`Net6::read`]).

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkLayerType, LinkMessage};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A network interface.
#[derive(Clone, Debug)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// ARPHRD_ETHER with a 6-byte address.
    pub ethernet: bool,
    pub mac: Option<[u8; 6]>,
    pub up: bool,
    pub loopback: bool,
    pub pointopoint: bool,
    pub noarp: bool,
}

/// An IPv4 address of an interface.
#[derive(Clone, Copy, Debug)]
pub struct Addr {
    pub index: u32,
    pub local: Ipv4Addr,
    pub prefix: u8,
}

/// A unicast IPv4 route of the main table.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    pub dst: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv4Addr>,
    pub oif: u32,
    pub prefsrc: Option<Ipv4Addr>,
    pub metric: u32,
}

/// A neighbour table entry.
#[derive(Clone, Copy, Debug)]
pub struct Neigh {
    pub index: u32,
    pub ip: Ipv4Addr,
    pub mac: Option<[u8; 6]>,
    /// REACHABLE, DELAY or PROBE: confirmed recently.
    pub confirmed: bool,
    /// Any usable entry (also STALE, PERMANENT).
    pub usable: bool,
}

/// Interfaces, addresses and routes at once. (The neighbour table is read on its own,
/// [`neighbours`]: it only adds provenance, and some kernels and emulators, qemu-user
/// among them, refuse its dump with EOPNOTSUPP: that must not stop a scan.)
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub links: Vec<Link>,
    pub addrs: Vec<Addr>,
    pub routes: Vec<Route>,
}

impl Snapshot {
    pub fn read() -> io::Result<Snapshot> {
        let mut nl = Netlink::open()?;
        let mut s = Snapshot::default();
        for m in nl.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))? {
            if let RouteNetlinkMessage::NewLink(l) = m {
                s.links.push(link(&l));
            }
        }
        let mut am = AddressMessage::default();
        am.header.family = AddressFamily::Inet;
        for m in nl.dump(RouteNetlinkMessage::GetAddress(am))? {
            if let RouteNetlinkMessage::NewAddress(a) = m
                && let Some(a) = addr(&a)
            {
                s.addrs.push(a);
            }
        }
        let mut rm = RouteMessage::default();
        rm.header.address_family = AddressFamily::Inet;
        for m in nl.dump(RouteNetlinkMessage::GetRoute(rm))? {
            if let RouteNetlinkMessage::NewRoute(r) = m
                && let Some(r) = route(&r)
            {
                s.routes.push(r);
            }
        }
        Ok(s)
    }

    pub fn link(&self, index: u32) -> Option<&Link> {
        self.links.iter().find(|l| l.index == index)
    }

    pub fn link_by_name(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    /// The first IPv4 address of an interface.
    pub fn addr_of(&self, index: u32) -> Option<&Addr> {
        self.addrs.iter().find(|a| a.index == index)
    }
}

/// Only the neighbour table (re-read after a scan).
pub fn neighbours() -> io::Result<Vec<Neigh>> {
    read_neighs(&mut Netlink::open()?)
}

fn read_neighs(nl: &mut Netlink) -> io::Result<Vec<Neigh>> {
    let mut nm = NeighbourMessage::default();
    nm.header.family = AddressFamily::Inet;
    let mut out = Vec::new();
    for m in nl.dump(RouteNetlinkMessage::GetNeighbour(nm))? {
        if let RouteNetlinkMessage::NewNeighbour(n) = m
            && let Some(n) = neigh(&n)
        {
            out.push(n);
        }
    }
    Ok(out)
}

fn mac6(v: &[u8]) -> Option<[u8; 6]> {
    v.try_into().ok()
}

fn link(l: &LinkMessage) -> Link {
    let mut name = String::new();
    let mut mac = None;
    for a in &l.attributes {
        match a {
            LinkAttribute::IfName(n) => name = n.clone(),
            LinkAttribute::Address(v) => mac = mac6(v),
            _ => {}
        }
    }
    let f = l.header.flags;
    let ethernet = l.header.link_layer_type == LinkLayerType::Ether && mac.is_some();
    Link {
        index: l.header.index,
        name,
        ethernet,
        mac: if ethernet { mac } else { None },
        up: f.contains(LinkFlags::Up),
        loopback: f.contains(LinkFlags::Loopback),
        pointopoint: f.contains(LinkFlags::Pointopoint),
        noarp: f.contains(LinkFlags::Noarp),
    }
}

fn addr(a: &AddressMessage) -> Option<Addr> {
    let mut local = None;
    let mut address = None;
    for at in &a.attributes {
        match at {
            AddressAttribute::Local(IpAddr::V4(v)) => local = Some(*v),
            AddressAttribute::Address(IpAddr::V4(v)) => address = Some(*v),
            _ => {}
        }
    }
    Some(Addr {
        index: a.header.index,
        local: local.or(address)?,
        prefix: a.header.prefix_len,
    })
}

fn route(r: &RouteMessage) -> Option<Route> {
    if r.header.address_family != AddressFamily::Inet || r.header.kind != RouteType::Unicast {
        return None;
    }
    let mut table = u32::from(r.header.table);
    let (mut dst, mut gateway, mut oif, mut prefsrc, mut metric) =
        (Ipv4Addr::UNSPECIFIED, None, None, None, 0);
    for a in &r.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet(v)) => dst = *v,
            RouteAttribute::Gateway(RouteAddress::Inet(v)) => gateway = Some(*v),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::PrefSource(RouteAddress::Inet(v)) => prefsrc = Some(*v),
            RouteAttribute::Priority(p) => metric = *p,
            RouteAttribute::Table(t) => table = *t,
            _ => {}
        }
    }
    if table != 254 {
        return None; // main table only
    }
    Some(Route {
        dst,
        prefix: r.header.destination_prefix_length,
        gateway,
        oif: oif?,
        prefsrc,
        metric,
    })
}

fn neigh(n: &NeighbourMessage) -> Option<Neigh> {
    let mut ip = None;
    let mut mac = None;
    for a in &n.attributes {
        match a {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(v)) => ip = Some(*v),
            NeighbourAttribute::LinkLayerAddress(v) => mac = mac6(v),
            _ => {}
        }
    }
    let st = n.header.state;
    let confirmed = matches!(
        st,
        NeighbourState::Reachable | NeighbourState::Delay | NeighbourState::Probe
    );
    let usable = confirmed || matches!(st, NeighbourState::Stale | NeighbourState::Permanent);
    Some(Neigh {
        index: n.header.ifindex,
        ip: ip?,
        mac,
        confirmed,
        usable: usable && mac.is_some(),
    })
}

/// An IPv6 address of an interface.
#[derive(Clone, Copy, Debug)]
pub struct Addr6 {
    pub index: u32,
    pub local: Ipv6Addr,
}

/// A unicast IPv6 route of the main table (one next hop).
#[derive(Clone, Copy, Debug)]
pub struct Route6 {
    pub dst: Ipv6Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv6Addr>,
    pub oif: u32,
    pub metric: u32,
}

/// An IPv6 neighbour table entry.
#[derive(Clone, Copy, Debug)]
pub struct Neigh6 {
    pub index: u32,
    pub ip: Ipv6Addr,
    pub mac: Option<[u8; 6]>,
    /// Any usable entry (REACHABLE, DELAY, PROBE, STALE, PERMANENT) with a MAC.
    pub usable: bool,
}

/// What the kernel knows of IPv6 here: addresses, main-table routes, neighbours.
#[derive(Clone, Debug, Default)]
pub struct Net6 {
    pub addrs: Vec<Addr6>,
    pub routes: Vec<Route6>,
    /// Empty when the kernel refuses the neighbour dump (see [`Snapshot`]).
    pub neighs: Vec<Neigh6>,
}

impl Net6 {
    pub fn read() -> io::Result<Net6> {
        let mut nl = Netlink::open()?;
        let mut n = Net6::default();
        let mut am = AddressMessage::default();
        am.header.family = AddressFamily::Inet6;
        for m in nl.dump(RouteNetlinkMessage::GetAddress(am))? {
            if let RouteNetlinkMessage::NewAddress(a) = m
                && let Some(a) = addr6(&a)
            {
                n.addrs.push(a);
            }
        }
        let mut rm = RouteMessage::default();
        rm.header.address_family = AddressFamily::Inet6;
        for m in nl.dump(RouteNetlinkMessage::GetRoute(rm))? {
            if let RouteNetlinkMessage::NewRoute(r) = m
                && let Some(r) = route6(&r)
            {
                n.routes.push(r);
            }
        }
        let mut nm = NeighbourMessage::default();
        nm.header.family = AddressFamily::Inet6;
        match nl.dump(RouteNetlinkMessage::GetNeighbour(nm)) {
            Ok(ms) => {
                for m in ms {
                    if let RouteNetlinkMessage::NewNeighbour(x) = m
                        && let Some(x) = neigh6(&x)
                    {
                        n.neighs.push(x);
                    }
                }
            }
            Err(e) => log::warn!("IPv6 neighbour table not read: {e}"),
        }
        Ok(n)
    }

    /// The link-local address of an interface.
    pub fn link_local(&self, index: u32) -> Option<Ipv6Addr> {
        self.addrs
            .iter()
            .find(|a| a.index == index && a.local.is_unicast_link_local())
            .map(|a| a.local)
    }

    /// The global (not link-local) addresses of an interface.
    pub fn globals(&self, index: u32) -> impl Iterator<Item = &Addr6> {
        self.addrs
            .iter()
            .filter(move |a| a.index == index && !a.local.is_unicast_link_local())
    }
}

fn addr6(a: &AddressMessage) -> Option<Addr6> {
    let mut local = None;
    let mut address = None;
    for at in &a.attributes {
        match at {
            AddressAttribute::Local(IpAddr::V6(v)) => local = Some(*v),
            AddressAttribute::Address(IpAddr::V6(v)) => address = Some(*v),
            _ => {}
        }
    }
    let local = local.or(address)?;
    if local.is_loopback() || local.is_multicast() || local.is_unspecified() {
        return None;
    }
    Some(Addr6 {
        index: a.header.index,
        local,
    })
}

fn route6(r: &RouteMessage) -> Option<Route6> {
    if r.header.address_family != AddressFamily::Inet6 || r.header.kind != RouteType::Unicast {
        return None;
    }
    let mut table = u32::from(r.header.table);
    let (mut dst, mut gateway, mut oif, mut metric) = (Ipv6Addr::UNSPECIFIED, None, None, 0);
    for a in &r.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet6(v)) => dst = *v,
            RouteAttribute::Gateway(RouteAddress::Inet6(v)) => gateway = Some(*v),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Priority(p) => metric = *p,
            RouteAttribute::Table(t) => table = *t,
            _ => {}
        }
    }
    if table != 254 {
        return None;
    }
    Some(Route6 {
        dst,
        prefix: r.header.destination_prefix_length,
        gateway,
        oif: oif?,
        metric,
    })
}

fn neigh6(n: &NeighbourMessage) -> Option<Neigh6> {
    let mut ip = None;
    let mut mac = None;
    for a in &n.attributes {
        match a {
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v)) => ip = Some(*v),
            NeighbourAttribute::LinkLayerAddress(v) => mac = mac6(v),
            _ => {}
        }
    }
    let ip = ip?;
    if ip.is_multicast() || ip.is_unspecified() {
        return None;
    }
    let usable = matches!(
        n.header.state,
        NeighbourState::Reachable
            | NeighbourState::Delay
            | NeighbourState::Probe
            | NeighbourState::Stale
            | NeighbourState::Permanent
    );
    Some(Neigh6 {
        index: n.header.ifindex,
        ip,
        mac,
        usable: usable && mac.is_some(),
    })
}

struct Netlink {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Netlink {
    fn open() -> io::Result<Netlink> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        Ok(Netlink {
            sock,
            seq: 0,
            buf: vec![0; 1 << 16],
        })
    }

    fn dump(&mut self, req: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq += 1;
        let mut hdr = NetlinkHeader::default();
        hdr.flags = NLM_F_REQUEST | NLM_F_DUMP;
        hdr.sequence_number = self.seq;
        let mut msg = NetlinkMessage::new(hdr, NetlinkPayload::from(req));
        msg.finalize();
        let mut out = vec![0; msg.buffer_len()];
        msg.serialize(&mut out);
        self.sock.send(&out, 0)?;
        let mut result = Vec::new();
        // Bounded: a dump of a sane box is far below this many datagrams.
        for _ in 0..100_000 {
            let n = self.sock.recv(&mut &mut self.buf[..], 0)?;
            let mut off = 0;
            while off < n {
                let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[off..n])
                    .map_err(|e| {
                        io::Error::new(io::ErrorKind::InvalidData, format!("netlink: {e}"))
                    })?;
                let len = m.header.length as usize;
                if m.header.sequence_number == self.seq {
                    match m.payload {
                        NetlinkPayload::Done(_) => return Ok(result),
                        NetlinkPayload::Error(e) => {
                            return Err(io::Error::other(format!("netlink: {e}")));
                        }
                        NetlinkPayload::InnerMessage(inner) => result.push(inner),
                        _ => {}
                    }
                }
                if len == 0 {
                    break;
                }
                off += (len + 3) & !3;
            }
        }
        Err(io::Error::other("netlink: dump did not end"))
    }
}
