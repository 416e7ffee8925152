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

use crate::sys::net;
use ksocket_core::dns::{self, Message, NameBuf, QName, QueryFlags};
use ksocket_core::netbios::{self, NodeStatus};

use crate::sys::netlink::Snapshot;
use ksocket_proto::records::{Host, HostName, NameSource};
use std::collections::BTreeMap;

use std::collections::{HashMap, VecDeque};
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

/// The resolver configuration that matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolv {
    pub servers: Vec<SocketAddr>,
    /// Per try (`options timeout:N`, default 5 s).
    pub timeout: Duration,
    /// Tries of each server (`options attempts:N`, default 2).
    pub attempts: u32,
}

impl Resolv {
    /// Reads `nameserver` lines and the `timeout`/`attempts` options as glibc does (the
    /// last option wins; without any nameserver, the local one). Anything it does not
    /// know is skipped.
    pub fn parse(text: &str) -> Resolv {
        let mut r = Resolv {
            servers: Vec::new(),
            timeout: Duration::from_secs(5),
            attempts: 2,
        };
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut w = line.split_whitespace();
            match w.next() {
                Some("nameserver") => {
                    let Some(a) = w.next() else { continue };
                    // A zone index (fe80::1%eth0) is not followed: such a server is
                    // skipped (it would need the interface's index).
                    if let Ok(ip) = a.parse::<IpAddr>()
                        && r.servers.len() < MAX_SERVERS
                    {
                        r.servers.push(SocketAddr::new(ip, 53));
                    }
                }
                Some("options") => {
                    for o in w {
                        if let Some(v) = o.strip_prefix("timeout:")
                            && let Ok(n) = v.parse::<u64>()
                        {
                            r.timeout = Duration::from_secs(n.clamp(1, 30));
                        } else if let Some(v) = o.strip_prefix("attempts:")
                            && let Ok(n) = v.parse::<u32>()
                        {
                            r.attempts = n.clamp(1, 5);
                        }
                    }
                }
                _ => {}
            }
        }
        if r.servers.is_empty() {
            r.servers.push(SocketAddr::from((Ipv4Addr::LOCALHOST, 53)));
        }
        r
    }

    /// [`Resolv::parse`] of `path` (at most 64 KiB); a missing or unreadable file is
    /// an empty one (glibc's default: the local nameserver).
    pub fn read(path: &Path) -> Resolv {
        match crate::sys::files::read_bounded(path, 64 * 1024) {
            Ok(b) => Resolv::parse(&String::from_utf8_lossy(&b)),
            Err(e) => {
                log::debug!("names: {} not read: {e}", path.display());
                Resolv::parse("")
            }
        }
    }
}

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

/// The queries of a lookup and what is known of them, kept so that every step costs
/// O(1) (or O(queries) once per nameserver that refuses).
struct Book {
    qs: Vec<Query>,
    /// Per kind: not settled, and never sent.
    unsettled: [usize; 4],
    unsent: [usize; 4],
    /// The next first try.
    cursor: usize,
    /// DNS queries by the time of their last try, oldest first (one retry interval).
    tried: VecDeque<(Instant, usize)>,
    /// DNS queries to try again at once (their server refused).
    at_once: VecDeque<usize>,
    /// Nameservers that answered with an ICMP error.
    dead: Vec<SocketAddr>,
    /// Node status and mDNS queries by destination (one each per host).
    by_dst: HashMap<(Kind, SocketAddr), usize>,
}

impl Book {
    fn new(qs: Vec<Query>) -> Book {
        let mut b = Book {
            qs: Vec::with_capacity(qs.len()),
            unsettled: [0; 4],
            unsent: [0; 4],
            cursor: 0,
            tried: VecDeque::new(),
            at_once: VecDeque::new(),
            dead: Vec::new(),
            by_dst: HashMap::new(),
        };
        for q in qs {
            b.push(q);
        }
        b
    }

    fn push(&mut self, q: Query) {
        let k = q.kind as usize;
        self.unsettled[k] += 1;
        self.unsent[k] += 1;
        if matches!(q.kind, Kind::NbStat | Kind::Mdns) {
            self.by_dst.insert((q.kind, q.to), self.qs.len());
        }
        self.qs.push(q);
    }

    fn settle(&mut self, i: usize) {
        let q = &mut self.qs[i];
        if !q.settled {
            q.settled = true;
            self.unsettled[q.kind as usize] -= 1;
            if q.tries == 0 {
                self.unsent[q.kind as usize] -= 1;
            }
        }
    }

    fn next(&mut self, now: Instant, retry: Duration, tries_max: u32) -> Option<usize> {
        while self.cursor < self.qs.len() {
            let i = self.cursor;
            self.cursor += 1;
            if !self.qs[i].settled && self.qs[i].tries == 0 {
                return Some(i);
            }
        }
        let usable = |q: &Query| !q.settled && q.tries < tries_max;
        while let Some(i) = self.at_once.pop_front() {
            if usable(&self.qs[i]) {
                return Some(i);
            }
        }
        while let Some(&(t, i)) = self.tried.front() {
            if now.saturating_duration_since(t) < retry {
                break;
            }
            self.tried.pop_front();
            // Only its latest try counts (an earlier entry of a query tried again
            // at once is stale).
            if usable(&self.qs[i]) && self.qs[i].sent_at == Some(t) {
                return Some(i);
            }
        }
        None
    }

    /// The nameserver of query `i`'s next try: the servers in turn, skipping those
    /// that refused; none when all did.
    fn server_for(&self, i: usize, servers: &[SocketAddr]) -> Option<SocketAddr> {
        let n = servers.len();
        let t = self.qs[i].tries as usize;
        (0..n)
            .map(|j| servers[(t + j) % n])
            .find(|s| !self.dead.contains(s))
    }

    fn sent(&mut self, i: usize, now: Instant) {
        let q = &mut self.qs[i];
        if q.tries == 0 {
            self.unsent[q.kind as usize] -= 1;
        }
        q.tries += 1;
        q.sent_at = Some(now);
        if q.kind == Kind::Ptr {
            self.tried.push_back((now, i));
        }
    }

    /// Not sent for now (a full socket buffer): the same query next.
    fn again(&mut self, i: usize) {
        if self.qs[i].tries == 0 {
            self.cursor = self.cursor.min(i);
        } else {
            self.at_once.push_front(i);
        }
    }

    /// The send failed (no route, say): a DNS query tries its next server, if any.
    fn failed(&mut self, i: usize, tries_max: u32) {
        if self.qs[i].kind == Kind::Ptr && self.qs[i].tries < tries_max {
            self.at_once.push_back(i);
        } else {
            self.settle(i);
        }
    }

    /// An ICMP error for datagrams of socket `which` to `dst`; returns how many
    /// queries it settled or sent on.
    fn refused(
        &mut self,
        which: Sock,
        dst: SocketAddr,
        tries_max: u32,
        servers: &[SocketAddr],
    ) -> usize {
        match which {
            Sock::Nb | Sock::Mdns => {
                let kind = if which == Sock::Nb {
                    Kind::NbStat
                } else {
                    Kind::Mdns
                };
                match self.by_dst.get(&(kind, dst)) {
                    Some(&i) if !self.qs[i].settled => {
                        self.settle(i);
                        1
                    }
                    _ => 0,
                }
            }
            Sock::Dns => {
                if self.dead.contains(&dst) || !servers.contains(&dst) {
                    return 0;
                }
                self.dead.push(dst);
                let waiting: Vec<usize> = (0..self.qs.len())
                    .filter(|&i| {
                        let q = &self.qs[i];
                        q.kind == Kind::Ptr && !q.settled && q.tries > 0 && q.to == dst
                    })
                    .collect();
                for &i in &waiting {
                    self.failed(i, tries_max);
                }
                waiting.len()
            }
        }
    }

    /// Done: every query of the kind settled, or all sent and quiet for a while: a
    /// few of the kind's round trips once it has answers, a fixed wait before.
    fn kind_done(&self, k: Kind, st: &[KindState; 4], now: Instant) -> bool {
        if self.unsettled[k as usize] == 0 {
            return true;
        }
        if self.unsent[k as usize] > 0 || (k == Kind::Ptr && !self.at_once.is_empty()) {
            return false;
        }
        let s = st[k as usize];
        let (first, floor, ceil) = match k {
            Kind::Ptr => (150, 20, 150),
            Kind::NbStat | Kind::Mdns => (50, 10, 100),
            Kind::Sd => (60, 20, 120),
        };
        let quiet = if s.answered > 0 {
            (s.max_rtt * 4).clamp(Duration::from_millis(floor), Duration::from_millis(ceil))
        } else {
            Duration::from_millis(first)
        };
        s.last_activity
            .is_none_or(|t| now.saturating_duration_since(t) >= quiet)
    }
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

/// Every query, first tries in the order they go out: DNS-SD first (responders on the
/// links answer while the rest is sent), then per host its PTR, node status and mDNS
/// queries, then the IPv6 PTRs.
fn plan(targets: &[Target], links: &[Ipv4Addr], dns_to: Option<SocketAddr>) -> Vec<Query> {
    let mut qs = Vec::new();
    let mdns_to = SocketAddr::from((MDNS_GROUP, MDNS_PORT));
    for &l in links {
        qs.push(Query {
            kind: Kind::Sd,
            target: usize::MAX,
            what: What::Browse(l, None),
            to: mdns_to,
            tries: 0,
            sent_at: None,
            settled: false,
        });
    }
    let q = |kind, target, what, to| Query {
        kind,
        target,
        what,
        to,
        tries: 0,
        sent_at: None,
        settled: false,
    };
    for (i, t) in targets.iter().enumerate() {
        let Some(a) = t.v4 else { continue };
        if let Some(to) = dns_to {
            qs.push(q(Kind::Ptr, i, What::Reverse(IpAddr::V4(a)), to));
        }
        qs.push(q(
            Kind::NbStat,
            i,
            What::Status,
            SocketAddr::from((a, netbios::PORT)),
        ));
        if t.on_link {
            qs.push(q(
                Kind::Mdns,
                i,
                What::Reverse(IpAddr::V4(a)),
                SocketAddr::from((a, MDNS_PORT)),
            ));
        }
    }
    for (i, t) in targets.iter().enumerate() {
        let Some(to) = dns_to else { break };
        for a in t.v6.iter().filter(|a| is_global6(a)).take(MAX_V6) {
            qs.push(q(Kind::Ptr, i, What::Reverse(IpAddr::V6(*a)), to));
        }
    }
    qs.truncate(MAX_QUERIES - MAX_TYPES * links.len().min(64));
    qs
}

fn is_global6(a: &Ipv6Addr) -> bool {
    !(a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || a.is_unicast_link_local()
        || a.to_ipv4_mapped().is_some())
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

struct Ctx<'a> {
    book: &'a mut Book,
    base: u16,
    servers: &'a [SocketAddr],
    by_v4: &'a HashMap<Ipv4Addr, usize>,
    names: &'a mut Vec<Vec<(String, NameSource)>>,
    st: &'a mut [KindState; 4],
    now: Instant,
    types_seen: &'a mut Vec<String>,
}

impl Ctx<'_> {
    /// Handles one datagram; true when it answered one of our queries.
    fn answer(&mut self, on: Sock, src: SocketAddr, data: &[u8]) -> bool {
        let Some(id) = data.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
            return false;
        };
        let i = usize::from(id.wrapping_sub(self.base));
        let Some(q) = self.book.qs.get(i) else {
            return false;
        };
        let ok = match (on, q.kind) {
            (Sock::Dns, Kind::Ptr) => self.ptr(i, src, data),
            (Sock::Nb, Kind::NbStat) => self.status(i, src, data),
            (Sock::Mdns, Kind::Mdns) => self.mdns(i, src, data),
            (Sock::Mdns, Kind::Sd) => self.browse(i, src, data),
            _ => false,
        };
        if ok {
            let q = &self.book.qs[i];
            let s = &mut self.st[q.kind as usize];
            s.answered += 1;
            s.last_activity = Some(self.now);
            if let Some(t) = q.sent_at {
                s.max_rtt = s.max_rtt.max(self.now.saturating_duration_since(t));
            }
        }
        ok
    }

    fn add(&mut self, target: usize, name: String, source: NameSource) {
        let v = &mut self.names[target];
        if v.len() < MAX_NAMES && !v.iter().any(|(n, s)| *n == name && *s == source) {
            v.push((name, source));
        }
    }

    fn ptr(&mut self, i: usize, src: SocketAddr, data: &[u8]) -> bool {
        let q = &self.book.qs[i];
        let What::Reverse(ask) = q.what else {
            return false;
        };
        // From a server we asked (any of them: a late answer to an earlier try is good).
        if q.settled || q.tries == 0 || !self.servers.contains(&src) {
            return false;
        }
        let Ok(m) = Message::parse(data) else {
            return false;
        };
        if !m.header.is_response() || m.question().and_then(|x| x.name.reverse_addr()) != Some(ask)
        {
            return false;
        }
        let target = q.target;
        self.book.settle(i);
        if m.header.rcode() == 0 {
            for name in reverse_answers(&m, ask) {
                self.add(target, name, NameSource::Ptr);
            }
        }
        true
    }

    fn status(&mut self, i: usize, src: SocketAddr, data: &[u8]) -> bool {
        let q = &self.book.qs[i];
        if q.settled || src.ip() != q.to.ip() {
            return false;
        }
        let target = q.target;
        let Ok(st) = NodeStatus::parse(data) else {
            return false;
        };
        self.book.settle(i);
        if let Some(w) = st.workstation()
            && let Ok(t) = w.text()
        {
            self.add(target, t.to_string(), NameSource::Netbios);
        }
        true
    }

    fn mdns(&mut self, i: usize, src: SocketAddr, data: &[u8]) -> bool {
        let q = &self.book.qs[i];
        let What::Reverse(ask) = q.what else {
            return false;
        };
        if q.settled || src.ip() != q.to.ip() {
            return false;
        }
        let Ok(m) = Message::parse(data) else {
            return false;
        };
        if !m.header.is_response() {
            return false;
        }
        let target = q.target;
        self.book.settle(i);
        for name in reverse_answers(&m, ask) {
            self.add(target, name, NameSource::Mdns);
        }
        true
    }

    /// An answer to a DNS-SD query: service types to ask about next, and the `A`
    /// records of the responder for its own address.
    fn browse(&mut self, i: usize, src: SocketAddr, data: &[u8]) -> bool {
        let What::Browse(local, ty) = &self.book.qs[i].what else {
            return false;
        };
        let (local, enumerating) = (*local, ty.is_none());
        let IpAddr::V4(from) = src.ip() else {
            return false;
        };
        let Ok(m) = Message::parse(data) else {
            return false;
        };
        if !m.header.is_response() {
            return false;
        }
        let mut t: NameBuf = [0; dns::MAX_NAME];
        let mut new_types = Vec::new();
        let mut own = Vec::new();
        for r in m.records() {
            let Ok(r) = r else { break };
            if enumerating
                && r.name.is("_services._dns-sd._udp.local")
                && let Some(Ok(n)) = r.ptr()
                && let Ok(s) = n.text(&mut t)
                && s.ends_with(".local")
                && s.starts_with('_')
            {
                new_types.push(s.to_string());
            }
            if r.addr() == Some(IpAddr::V4(from))
                && let Ok(s) = r.name.text(&mut t)
                && !s.is_empty()
            {
                own.push(s.to_string());
            }
        }
        if let Some(&target) = self.by_v4.get(&from) {
            for n in own {
                self.add(target, n, NameSource::Mdns);
            }
        }
        for ty in new_types {
            if self.types_seen.len() < MAX_TYPES && !self.types_seen.contains(&ty) {
                self.types_seen.push(ty.clone());
                if self.book.qs.len() < MAX_QUERIES {
                    self.book.push(Query {
                        kind: Kind::Sd,
                        target: usize::MAX,
                        what: What::Browse(local, Some(ty)),
                        to: SocketAddr::from((MDNS_GROUP, MDNS_PORT)),
                        tries: 0,
                        sent_at: None,
                        settled: false,
                    });
                }
            }
        }
        true
    }
}

/// The targets of the PTR records for `ask`'s reverse name, in text form.
fn reverse_answers(m: &Message<'_>, ask: IpAddr) -> Vec<String> {
    let mut t: NameBuf = [0; dns::MAX_NAME];
    let mut v = Vec::new();
    for r in m.records() {
        let Ok(r) = r else { break };
        if r.name.reverse_addr() != Some(ask) {
            continue;
        }
        if let Some(Ok(n)) = r.ptr()
            && let Ok(s) = n.text(&mut t)
            && !s.is_empty()
            && !v.iter().any(|x: &String| x == s)
        {
            v.push(s.to_string());
        }
    }
    v
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_as_glibc_reads_it() {
        let r = Resolv::parse(
            "# generated\nsearch lab.example\nnameserver 198.18.0.53\nnameserver  2001:2::53 # v6\n\
             nameserver fe80::1%eth0\nnameserver 198.18.0.54\nnameserver 198.18.0.55\n\
             options ndots:2 timeout:1 attempts:9\noptions rotate\n",
        );
        assert_eq!(
            r.servers,
            vec![
                "198.18.0.53:53".parse().unwrap(),
                "[2001:2::53]:53".parse().unwrap(),
                "198.18.0.54:53".parse().unwrap(),
            ]
        );
        assert_eq!((r.timeout, r.attempts), (Duration::from_secs(1), 5));
        let d = Resolv::parse("options timeout:0\n");
        assert_eq!(d.servers, vec!["127.0.0.1:53".parse().unwrap()]);
        assert_eq!((d.timeout, d.attempts), (Duration::from_secs(1), 2));
        assert_eq!(
            Resolv::read(Path::new("/nonexistent/resolv.conf")).servers,
            d.servers
        );
    }

    /// A nameserver on loopback that answers every PTR query with `name` (the answer
    /// built as dnsmasq builds it: the question echoed, a pointer to its name).
    fn nameserver(name: &'static str) -> (SocketAddr, std::thread::JoinHandle<usize>) {
        let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let at = s.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let mut n = 0;
            let mut b = [0u8; 512];
            while let Ok((len, from)) = s.recv_from(&mut b) {
                let mut a = b[..len].to_vec();
                a[2] = 0x85;
                a[3] = 0x80;
                a[7] = 1;
                a.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 60]);
                let mut rd = Vec::new();
                for l in name.split('.') {
                    rd.push(l.len() as u8);
                    rd.extend_from_slice(l.as_bytes());
                }
                rd.push(0);
                a.extend_from_slice(&(rd.len() as u16).to_be_bytes());
                a.extend_from_slice(&rd);
                s.send_to(&a, from).unwrap();
                n += 1;
            }
            n
        });
        (at, h)
    }

    #[test]
    fn ptr_answers_matched_and_refusals_settle_at_once() {
        let (server, h) = nameserver("Host-A.Example");
        let resolv = Resolv {
            servers: vec![server],
            timeout: Duration::from_secs(5),
            attempts: 2,
        };
        // Loopback addresses: no NetBIOS there, so the kernel's port unreachable
        // settles the node status queries (IP_RECVERR), the deadline is not awaited.
        let targets: Vec<Target> = (2..5u8)
            .map(|i| Target {
                key: IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)),
                v4: Some(Ipv4Addr::new(127, 0, 0, i)),
                v6: vec!["fe80::1".parse().unwrap(), "2001:2::9".parse().unwrap()],
                on_link: false,
            })
            .collect();
        let (found, stats) =
            lookup(&targets, &[], &resolv, 10_000, Duration::from_secs(10)).unwrap();
        // 3 IPv4 PTRs, 3 node status requests, 3 IPv6 PTRs (the global address
        // only), to the IPv4 server; the same name for both addresses, kept once.
        assert_eq!(stats.queries, 9, "{stats:?}");
        assert_eq!(stats.refused, 3, "{stats:?}");
        assert_eq!(stats.answers, 6, "{stats:?}");
        assert!(stats.elapsed < Duration::from_secs(10), "{stats:?}");
        for t in &targets {
            assert_eq!(
                found.iter().filter(|f| f.key == t.key).collect::<Vec<_>>(),
                vec![&Found {
                    key: t.key,
                    name: "host-a.example".into(),
                    source: NameSource::Ptr
                }]
            );
        }
        assert_eq!(h.join().unwrap(), 6);
    }

    #[test]
    fn a_refusing_nameserver_is_skipped_for_the_next() {
        let closed = {
            let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            s.local_addr().unwrap()
        };
        let (server, h) = nameserver("b.example");
        let resolv = Resolv {
            servers: vec![closed, server],
            timeout: Duration::from_secs(5),
            attempts: 1,
        };
        let targets = vec![Target {
            key: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)),
            v4: Some(Ipv4Addr::new(127, 0, 0, 9)),
            v6: vec![],
            on_link: false,
        }];
        let (found, stats) =
            lookup(&targets, &[], &resolv, 10_000, Duration::from_secs(10)).unwrap();
        assert_eq!(found.len(), 1, "{stats:?}");
        assert_eq!(found[0].name, "b.example");
        // The PTR refused by the first server, the node status by the host.
        assert_eq!(
            (stats.refused, stats.sent, stats.answers),
            (2, 3, 1),
            "{stats:?}"
        );
        assert_eq!(h.join().unwrap(), 1);
    }

    #[test]
    fn budget_is_a_quarter_second_up_to_a_slash_24() {
        assert_eq!(budget(254), Duration::from_millis(250));
        assert_eq!(budget(1256), Duration::from_millis(1250));
        assert_eq!(budget(1 << 20), Duration::from_secs(5));
    }
}
