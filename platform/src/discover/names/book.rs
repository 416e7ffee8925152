//! The queries of a lookup: their plan, and the book that follows each one to its end.

use super::{
    Kind, KindState, MAX_QUERIES, MAX_TYPES, MAX_V6, MDNS_GROUP, MDNS_PORT, Query, Sock, Target,
    What,
};
use ksocket_core::netbios;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The queries of a lookup and what is known of them, kept so that every step costs
/// O(1) (or O(queries) once per nameserver that refuses).
pub(super) struct Book {
    pub(super) qs: Vec<Query>,
    /// Per kind: not settled, and never sent.
    unsettled: [usize; 4],
    pub(super) unsent: [usize; 4],
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
    pub(super) fn new(qs: Vec<Query>) -> Book {
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

    pub(super) fn push(&mut self, q: Query) {
        let k = q.kind as usize;
        self.unsettled[k] += 1;
        self.unsent[k] += 1;
        if matches!(q.kind, Kind::NbStat | Kind::Mdns) {
            self.by_dst.insert((q.kind, q.to), self.qs.len());
        }
        self.qs.push(q);
    }

    pub(super) fn settle(&mut self, i: usize) {
        let q = &mut self.qs[i];
        if !q.settled {
            q.settled = true;
            self.unsettled[q.kind as usize] -= 1;
            if q.tries == 0 {
                self.unsent[q.kind as usize] -= 1;
            }
        }
    }

    pub(super) fn next(&mut self, now: Instant, retry: Duration, tries_max: u32) -> Option<usize> {
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
    pub(super) fn server_for(&self, i: usize, servers: &[SocketAddr]) -> Option<SocketAddr> {
        let n = servers.len();
        let t = self.qs[i].tries as usize;
        (0..n)
            .map(|j| servers[(t + j) % n])
            .find(|s| !self.dead.contains(s))
    }

    pub(super) fn sent(&mut self, i: usize, now: Instant) {
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
    pub(super) fn again(&mut self, i: usize) {
        if self.qs[i].tries == 0 {
            self.cursor = self.cursor.min(i);
        } else {
            self.at_once.push_front(i);
        }
    }

    /// The send failed (no route, say): a DNS query tries its next server, if any.
    pub(super) fn failed(&mut self, i: usize, tries_max: u32) {
        if self.qs[i].kind == Kind::Ptr && self.qs[i].tries < tries_max {
            self.at_once.push_back(i);
        } else {
            self.settle(i);
        }
    }

    /// An ICMP error for datagrams of socket `which` to `dst`; returns how many
    /// queries it settled or sent on.
    pub(super) fn refused(
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
    pub(super) fn kind_done(&self, k: Kind, st: &[KindState; 4], now: Instant) -> bool {
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

/// Every query, first tries in the order they go out: DNS-SD first (responders on the
/// links answer while the rest is sent), then per host its PTR, node status and mDNS
/// queries, then the IPv6 PTRs.
pub(super) fn plan(
    targets: &[Target],
    links: &[Ipv4Addr],
    dns_to: Option<SocketAddr>,
) -> Vec<Query> {
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
