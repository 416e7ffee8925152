//! Answers: each datagram matched to its query, and the names it gives taken.

use super::book::Book;
use super::{
    Kind, KindState, MAX_NAMES, MAX_QUERIES, MAX_TYPES, MDNS_GROUP, MDNS_PORT, Query, Sock, What,
};
use ksocket_core::dns::{self, Message, NameBuf};
use ksocket_core::netbios::NodeStatus;
use ksocket_proto::records::NameSource;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

pub(super) struct Ctx<'a> {
    pub(super) book: &'a mut Book,
    pub(super) base: u16,
    pub(super) servers: &'a [SocketAddr],
    pub(super) by_v4: &'a HashMap<Ipv4Addr, usize>,
    pub(super) names: &'a mut Vec<Vec<(String, NameSource)>>,
    pub(super) st: &'a mut [KindState; 4],
    pub(super) now: Instant,
    pub(super) types_seen: &'a mut Vec<String>,
}

impl Ctx<'_> {
    /// Handles one datagram; true when it answered one of our queries.
    pub(super) fn answer(&mut self, on: Sock, src: SocketAddr, data: &[u8]) -> bool {
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
