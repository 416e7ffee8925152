//! Host names, looked up after discovery for every live host at once (issue 15):
//!
//! - `ptr`: reverse DNS, PTR queries to the nameservers of `/etc/resolv.conf` (its
//!   `timeout` and `attempts` options honoured inside our own deadline; `ip netns
//!   exec` bind-mounts `/etc/netns/NS/resolv.conf` over it), for each host's IPv4
//!   address and its global IPv6 addresses;
//! - `netbios`: a NetBIOS node status request to UDP 137 of each IPv4 host (Windows,
//!   Samba): its unique workstation name;
//! - `mdns`: a reverse query to UDP 5353 of each host on a scanned link, sent from an
//!   ephemeral port. Such a "legacy unicast" query is answered at once, by unicast to
//!   the asking port (RFC 6762 §6.7), by that host only: no 20-120 ms multicast delay,
//!   no need for port 5353 (an avahi of this box may hold it), and the answer comes
//!   from the address asked, so it is matched by id and source. The QU bit is set too
//!   (harmless for a legacy query). Then, on each scanned link, `_services._dns-sd.
//!   _udp.local` to 224.0.0.251 (also from the ephemeral port: every responder answers
//!   by unicast, at once) and a query for each service type it names: the `A` records
//!   of those answers name the hosts that answer nothing to reverse queries (printers,
//!   NAS, media players). A name is taken only from the host whose address it gives.
//!
//! One nonblocking UDP socket per kind (two for DNS with IPv4 and IPv6 nameservers),
//! all queries sent paced at the scan's rate, answers matched by transaction id,
//! source and question, ICMP errors read back (`IP_RECVERR`) so a host without the
//! service is settled at once. Everything ends at one deadline ([`budget`]); before
//! it, each kind ends when all its queries are settled, or when it has been quiet for
//! a few of its own round trips.

mod answers;
mod book;
mod resolv;
#[cfg(test)]
mod tests;

use answers::Ctx;
use book::{Book, plan};
pub use resolv::Resolv;

use crate::sys::net;
use ksocket_core::dns::{self, QName, QueryFlags};
use ksocket_core::netbios;

use crate::sys::netlink::Snapshot;
use ksocket_proto::records::{Host, HostName, NameSource};
use std::collections::BTreeMap;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

/// Where the resolver configuration is read.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";
/// mDNS: the IPv4 group and the port.
const MDNS_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
const MDNS_PORT: u16 = 5353;
/// glibc's limits: at most 3 nameservers (MAXNS), `timeout` at most 30 s, `attempts`
/// at most 5.
const MAX_SERVERS: usize = 3;
/// Service types followed per scan (each one multicast query per link).
const MAX_TYPES: usize = 32;
/// IPv6 addresses asked about per host.
const MAX_V6: usize = 4;
/// Queries per lookup (transaction ids are 16 bits).
const MAX_QUERIES: usize = 60_000;
/// Names kept per host.
const MAX_NAMES: usize = 16;

/// A live host to name.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its key in the scan's host map (the name goes there).
    pub key: IpAddr,
    pub v4: Option<Ipv4Addr>,
    /// Its IPv6 addresses (only global ones are asked about).
    pub v6: Vec<Ipv6Addr>,
    /// On a scanned link (mDNS is link-local: its responders ignore other sources).
    pub on_link: bool,
}

/// A name found, for the host of `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub key: IpAddr,
    pub name: String,
    pub source: NameSource,
}

/// What a lookup did.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub queries: usize,
    pub sent: usize,
    pub answers: usize,
    /// Queries answered by an ICMP error (no such service, no route).
    pub refused: usize,
    pub names: usize,
    pub elapsed: Duration,
}

/// The deadline of the lookup for `n` hosts: 250 ms up to a /24, 1 ms more per host
/// past 256, at most 5 s. Most lookups end far sooner (every query settled, or quiet).
pub fn budget(n: usize) -> Duration {
    (Duration::from_millis(250) + Duration::from_millis(n.saturating_sub(256) as u64))
        .min(Duration::from_secs(5))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Ptr,
    NbStat,
    Mdns,
    /// Multicast DNS-SD on a link (settled only by quiet).
    Sd,
}

const KINDS: [Kind; 4] = [Kind::Ptr, Kind::NbStat, Kind::Mdns, Kind::Sd];

#[derive(Debug, Clone)]
enum What {
    Reverse(IpAddr),
    Status,
    /// `_services._dns-sd._udp.local` (None) or a service type, on the link of the
    /// local address.
    Browse(Ipv4Addr, Option<String>),
}

#[derive(Debug)]
struct Query {
    kind: Kind,
    /// Index of the target, for Ptr, NbStat and Mdns.
    target: usize,
    what: What,
    to: SocketAddr,
    tries: u32,
    sent_at: Option<Instant>,
    settled: bool,
}

#[derive(Default, Clone, Copy)]
struct KindState {
    last_activity: Option<Instant>,
    answered: usize,
    max_rtt: Duration,
}

/// The sockets of a lookup.
struct Socks {
    dns4: Option<UdpSocket>,
    dns6: Option<UdpSocket>,
    nb: UdpSocket,
    mdns: UdpSocket,
}

fn udp(v6: bool) -> io::Result<UdpSocket> {
    let s = if v6 {
        UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0))?
    } else {
        UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?
    };
    s.set_nonblocking(true)?;
    if let Err(e) = net::set_recverr(&s, v6) {
        log::debug!("names: IP_RECVERR refused ({e}): silent hosts wait for the deadline");
    }
    Ok(s)
}

/// Looks up the names of `targets`; `links`: the local IPv4 address of each scanned
/// link with live hosts (DNS-SD is asked there); `rate`: packets per second.
pub fn lookup(
    targets: &[Target],
    links: &[Ipv4Addr],
    resolv: &Resolv,
    rate: u32,
    budget: Duration,
) -> io::Result<(Vec<Found>, Stats)> {
    let t0 = Instant::now();
    let deadline = t0 + budget;
    let servers = &resolv.servers;
    let socks = Socks {
        dns4: if servers.iter().any(SocketAddr::is_ipv4) {
            Some(udp(false)?)
        } else {
            None
        },
        dns6: match servers.iter().any(SocketAddr::is_ipv6) {
            true => udp(true).ok(),
            false => None,
        },
        nb: udp(false)?,
        mdns: udp(false)?,
    };
    let mut book = Book::new(plan(targets, links, servers.first().copied()));
    let mut by_v4: HashMap<Ipv4Addr, usize> = HashMap::new();
    for (i, t) in targets.iter().enumerate() {
        if let Some(a) = t.v4 {
            by_v4.entry(a).or_insert(i);
        }
    }
    let base = crate::sys::random::u64() as u16;
    let mut st = [KindState::default(); 4];
    let mut names: Vec<Vec<(String, NameSource)>> = vec![Vec::new(); targets.len()];
    let mut stats = Stats::default();
    let mut types_seen: Vec<String> = Vec::new();
    // DNS retries: every server `attempts` times, the next after resolv.conf's
    // timeout, shortened so that every try fits the deadline.
    let tries_max = resolv.attempts.saturating_mul(servers.len().max(1) as u32);
    let retry = resolv
        .timeout
        .min(budget / (tries_max.max(1) + 1))
        .max(Duration::from_millis(20));
    let gap = Duration::from_secs(1) / rate.clamp(100, 1_000_000);
    let mut next_send = t0;
    let mut buf = [0u8; 4096];
    let mut out = [0u8; 512];
    let mut list: Vec<(&UdpSocket, Sock)> = Vec::with_capacity(4);
    if let Some(s) = &socks.dns4 {
        list.push((s, Sock::Dns));
    }
    if let Some(s) = &socks.dns6 {
        list.push((s, Sock::Dns));
    }
    list.push((&socks.nb, Sock::Nb));
    list.push((&socks.mdns, Sock::Mdns));
    let refs: Vec<&UdpSocket> = list.iter().map(|x| x.0).collect();
    loop {
        let now = Instant::now();
        // Sends: first tries in order, paced; then DNS retries as they fall due.
        while now >= next_send {
            let Some(i) = book.next(now, retry, tries_max) else {
                break;
            };
            if book.qs[i].kind == Kind::Ptr {
                let Some(to) = book.server_for(i, servers) else {
                    book.settle(i);
                    continue;
                };
                book.qs[i].to = to;
            }
            let id = base.wrapping_add(i as u16);
            let mut r = send(&socks, &book.qs[i], id, &mut out);
            // With IP_RECVERR, an ICMP error that came back for an earlier datagram
            // fails the next send (which did not go): read the error queue, then send
            // again (a second failure is this send's own).
            if r.as_ref().is_err_and(is_async_error)
                && let Some((s, which)) = socket_of(&socks, &book.qs[i])
            {
                for dst in net::errors(s, 256) {
                    stats.refused += book.refused(which, dst, tries_max, servers);
                }
                if book.qs[i].settled {
                    continue;
                }
                r = send(&socks, &book.qs[i], id, &mut out);
            }
            match r {
                Ok(()) => {
                    stats.sent += 1;
                    book.sent(i, now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The socket's buffer is full: again in a millisecond.
                    book.again(i);
                    next_send = now + Duration::from_millis(1);
                    break;
                }
                Err(e) => {
                    log::debug!(
                        "names: {:?} to {} not sent: {e}",
                        book.qs[i].kind,
                        book.qs[i].to
                    );
                    book.sent(i, now);
                    book.failed(i, tries_max);
                }
            }
            st[book.qs[i].kind as usize].last_activity = Some(now);
            // Paced, with a burst of up to 32 to catch up after a wait (a poll sleeps
            // a whole millisecond at least).
            next_send = (next_send + gap).max(now.checked_sub(gap * 32).unwrap_or(now));
        }
        let now = Instant::now();
        if now >= deadline || KINDS.iter().all(|&k| book.kind_done(k, &st, now)) {
            break;
        }
        let wake = if book.unsent.iter().any(|&n| n > 0) {
            next_send.max(now)
        } else {
            now + Duration::from_millis(5)
        };
        let ready = net::wait_readable(&refs, wake.min(deadline).saturating_duration_since(now))?;
        for ((s, which), r) in list.iter().zip(ready) {
            if !r {
                continue;
            }
            // At most a bounded batch per wake: a flood cannot hold the loop.
            for _ in 0..256 {
                match s.recv_from(&mut buf) {
                    Ok((n, src)) => {
                        let mut ctx = Ctx {
                            book: &mut book,
                            base,
                            servers,
                            by_v4: &by_v4,
                            names: &mut names,
                            st: &mut st,
                            now: Instant::now(),
                            types_seen: &mut types_seen,
                        };
                        if ctx.answer(*which, src, &buf[..n]) {
                            stats.answers += 1;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        // An ICMP error: which destinations drew it.
                        for dst in net::errors(s, 256) {
                            stats.refused += book.refused(*which, dst, tries_max, servers);
                        }
                    }
                }
            }
        }
    }
    stats.queries = book.qs.len();
    let mut found = Vec::new();
    for (t, ns) in targets.iter().zip(names) {
        for (name, source) in ns {
            found.push(Found {
                key: t.key,
                name,
                source,
            });
        }
    }
    stats.names = found.len();
    stats.elapsed = t0.elapsed();
    Ok((found, stats))
}

/// An error a send reports for an earlier datagram (an ICMP error queued by
/// `IP_RECVERR`).
fn is_async_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNREFUSED | libc::EHOSTUNREACH | libc::ENETUNREACH | libc::EHOSTDOWN)
    )
}

/// The socket a query goes out on.
fn socket_of<'s>(socks: &'s Socks, q: &Query) -> Option<(&'s UdpSocket, Sock)> {
    match q.kind {
        Kind::Ptr if q.to.is_ipv4() => socks.dns4.as_ref().map(|s| (s, Sock::Dns)),
        Kind::Ptr => socks.dns6.as_ref().map(|s| (s, Sock::Dns)),
        Kind::NbStat => Some((&socks.nb, Sock::Nb)),
        Kind::Mdns | Kind::Sd => Some((&socks.mdns, Sock::Mdns)),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sock {
    Dns,
    Nb,
    Mdns,
}

fn send(socks: &Socks, q: &Query, id: u16, out: &mut [u8]) -> io::Result<()> {
    let bad = |e: dns::Error| io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
    let (sock, n) = match (&q.kind, &q.what) {
        (Kind::Ptr, What::Reverse(a)) => {
            let f = QueryFlags {
                recursion: true,
                unicast_response: false,
            };
            let n = dns::write_query(out, id, QName::Reverse(*a), dns::TYPE_PTR, f).map_err(bad)?;
            let s = if q.to.is_ipv4() {
                socks.dns4.as_ref()
            } else {
                socks.dns6.as_ref()
            };
            (
                s.ok_or_else(|| io::Error::other("no socket of the family"))?,
                n,
            )
        }
        (Kind::NbStat, _) => (&socks.nb, netbios::write_request(out, id).map_err(bad)?),
        (Kind::Mdns, What::Reverse(a)) => {
            let f = QueryFlags {
                recursion: false,
                unicast_response: true,
            };
            let n = dns::write_query(out, id, QName::Reverse(*a), dns::TYPE_PTR, f).map_err(bad)?;
            (&socks.mdns, n)
        }
        (Kind::Sd, What::Browse(local, ty)) => {
            net::set_multicast_v4(&socks.mdns, *local)?;
            let name = ty.as_deref().map_or(QName::Services, QName::Text);
            let f = QueryFlags {
                recursion: false,
                unicast_response: true,
            };
            (
                &socks.mdns,
                dns::write_query(out, id, name, dns::TYPE_PTR, f).map_err(bad)?,
            )
        }
        _ => return Err(io::Error::other("query of no kind")),
    };
    sock.send_to(&out[..n], q.to).map(drop)
}

/// Names the live `hosts` of a scan (see the module's documentation), with the
/// resolver configuration of [`RESOLV_CONF`] and the scan's packet rate. The names go
/// to each host's `names`, deduplicated, with their source.
pub fn name_hosts(
    hosts: &mut BTreeMap<IpAddr, Host>,
    snap: &Snapshot,
    rate: u32,
) -> io::Result<Stats> {
    let mut links: Vec<Ipv4Addr> = Vec::new();
    let targets: Vec<Target> = hosts
        .iter()
        .map(|(key, h)| {
            let v4 = h.addresses.iter().chain([&h.ip]).find_map(|a| match a {
                IpAddr::V4(a) => Some(*a),
                IpAddr::V6(_) => None,
            });
            let mut v6: Vec<Ipv6Addr> = h
                .addresses
                .iter()
                .chain([&h.ip])
                .filter_map(|a| match a {
                    IpAddr::V6(a) => Some(*a),
                    IpAddr::V4(_) => None,
                })
                .collect();
            v6.sort();
            v6.dedup();
            // A host with a MAC was seen on a scanned link; its interface's IPv4
            // address is where DNS-SD is asked.
            let local = h
                .iface
                .as_deref()
                .and_then(|n| snap.link_by_name(n))
                .and_then(|l| snap.addr_of(l.index))
                .map(|a| a.local);
            let on_link = h.mac.is_some() && local.is_some();
            if let Some(l) = local.filter(|_| on_link)
                && !links.contains(&l)
            {
                links.push(l);
            }
            Target {
                key: *key,
                v4,
                v6,
                on_link,
            }
        })
        .collect();
    if targets.is_empty() {
        return Ok(Stats::default());
    }
    let resolv = Resolv::read(Path::new(RESOLV_CONF));
    let (found, stats) = lookup(&targets, &links, &resolv, rate, budget(targets.len()))?;
    for f in found {
        if let Some(h) = hosts.get_mut(&f.key)
            && !h
                .names
                .iter()
                .any(|n| n.name == f.name && n.source == f.source)
        {
            h.names.push(HostName {
                name: f.name,
                source: f.source,
            });
        }
    }
    log::info!(
        "names: {} names for {} hosts; {} queries, {} sent, {} answers, {} refused, {:.3} s",
        stats.names,
        targets.len(),
        stats.queries,
        stats.sent,
        stats.answers,
        stats.refused,
        stats.elapsed.as_secs_f64()
    );
    Ok(stats)
}
