//! Receiving: a frame classified, its cookie and addresses checked, and an address
//! reported seen.

use super::config::prefix_eq;
use super::*;

impl<const W: usize> Engine6<W> {
    /// Takes one frame received on interface `iface`.
    pub fn handle_rx(&mut self, now: Instant, iface: u8, frame: &[u8]) {
        match self.classify(iface, frame) {
            Some((ip, mac, how)) => self.seen(now, ip, mac, how, iface),
            None => self.stats.ignored += 1,
        }
    }

    /// Whether an answer from `ip` on `iface` came from the link itself (its frame's
    /// source MAC is the node's own).
    fn answered_on_link(&self, iface: u8, ip: Ipv6Addr) -> bool {
        wire6::is_link_local(ip)
            || self
                .lookup(ip)
                .is_some_and(|r| r.iface == iface && r.via == Via6::OnLink)
            || self.ifaces[usize::from(iface)]
                .globals
                .iter()
                .any(|g| prefix_eq(*g, ip, 64))
    }

    fn in_flight(&self, class: usize, ip: Ipv6Addr, iface: u8) -> bool {
        self.rings[class]
            .iter()
            .any(|s| s.ip == ip && s.iface == iface)
    }

    fn classify(&self, iface: u8, frame: &[u8]) -> Option<(Ipv6Addr, Option<Mac>, How)> {
        let f = self.ifaces.get(usize::from(iface))?;
        let fr = wire6::parse(f.link, frame).ok()?;
        let discover = f.discover;
        let usable = |ip: Ipv6Addr| {
            !ip.is_unspecified()
                && !ip.is_multicast()
                && !ip.is_loopback()
                && !(0..self.ifaces.len()).any(|i| self.ours(i as u8, ip))
        };
        let (ip, link_mac, how) = match fr.packet {
            Packet6::EchoReply { src, dst, id, seq } if self.ours(iface, dst) && usable(src) => {
                let got = (u32::from(id) << 16) | u32::from(seq);
                if got == self.cookie(Ipv6Addr::UNSPECIFIED, MCAST) && discover {
                    // An answer to a link-scope multicast: from the link.
                    return Some((src, fr.src_mac, How::Echo));
                }
                (got == self.cookie(src, 0)).then_some((src, fr.src_mac, How::Echo))?
            }
            Packet6::Tcp {
                src,
                dst,
                sport,
                dport,
                ack,
                flags,
                ..
            } if self.ours(iface, dst)
                && usable(src)
                && dport == self.cfg.sport
                && (flags & (tcp_flags::SYN | tcp_flags::ACK)
                    == tcp_flags::SYN | tcp_flags::ACK
                    || flags & tcp_flags::RST != 0)
                && ack == self.cookie(src, sport).wrapping_add(1) =>
            {
                (src, fr.src_mac, How::Tcp(sport))
            }
            Packet6::Unreachable {
                src,
                dst,
                code: 4,
                quote,
            } if self.ours(iface, dst)
                && usable(src)
                && quote.src == dst
                && quote.dst == src
                && quote.next_header == 6
                && quote.a == self.cfg.sport =>
            {
                (src, fr.src_mac, How::Unreachable)
            }
            Packet6::NeighborAdvert { target, tll, .. }
                if usable(target) && (discover || self.in_flight(ONLINK, target, iface)) =>
            {
                return Some((target, tll.or(fr.src_mac), How::Ndp));
            }
            Packet6::NeighborSolicit { src, sll, .. } if discover && usable(src) => {
                return Some((src, sll.or(fr.src_mac), How::Ndp));
            }
            Packet6::RouterAdvert { src, sll } if discover && usable(src) => {
                return Some((src, sll.or(fr.src_mac), How::Router));
            }
            Packet6::MldReport { src } | Packet6::MldQuery { src }
                if discover && usable(src) && wire6::is_link_local(src) =>
            {
                return Some((src, fr.src_mac, How::Mld));
            }
            _ => return None,
        };
        let mac = if self.answered_on_link(iface, ip) {
            link_mac
        } else {
            None
        };
        Some((ip, mac, how))
    }

    fn seen(&mut self, now: Instant, ip: Ipv6Addr, mac: Option<Mac>, how: How, iface: u8) {
        self.stats.seen += 1;
        let class = match how {
            How::Ndp => ONLINK,
            _ => ROUTED,
        };
        let mut rtt = None;
        if let Some(s) = self.rings[class]
            .iter_mut()
            .find(|s| s.ip == ip && s.iface == iface)
            && !s.answered
        {
            s.answered = true;
            self.stats.answered += 1;
            let r = if s.rounds == 1 {
                let r = now.since(s.sent);
                rtt = Some(r);
                r
            } else {
                now.since(s.first).min(self.cfg.max_timeout)
            };
            self.rtt[class].sample(r);
        }
        self.push_event(Event6::Seen {
            ip,
            mac,
            how,
            rtt,
            iface,
        });
        while self.rings[class].front().is_some_and(|s| s.answered) {
            if let Some(s) = self.rings[class].pop_front() {
                self.stats.done += 1;
                self.push_event(Event6::Done {
                    ip: s.ip,
                    answered: true,
                    rounds: s.rounds,
                });
            }
        }
    }
}
