//! Receiving: a frame classified, its cookie, addresses and ports checked against
//! the probes sent, and a host reported up.

use super::*;

impl<const T: usize, const W: usize> Engine<T, W> {
    /// Takes one frame received on interface `iface`.
    pub fn handle_rx(&mut self, now: Instant, iface: u8, frame: &[u8]) {
        let found = self
            .ifaces
            .get(usize::from(iface))
            .and_then(|&ifc| self.classify(ifc, iface, frame));
        match found {
            Some((ip, mac, method)) if self.targets.contains(ip) => {
                self.reply(now, ip, mac, method, iface)
            }
            _ => self.stats.ignored += 1,
        }
    }

    /// The target a frame answers, if it is an answer to one of our probes (cookie,
    /// addresses and ports checked): its address, MAC (ARP) and how it answered.
    fn classify(
        &self,
        ifc: Iface,
        iface: u8,
        frame: &[u8],
    ) -> Option<(Ipv4Addr, Option<Mac>, Method)> {
        let f = wire::parse(ifc.link, frame).ok()?;
        match f.packet {
            Packet::Arp {
                op: 2,
                sender_mac,
                sender_ip,
                target_mac,
                target_ip,
            } if target_ip == ifc.ip
                && target_mac == ifc.mac
                && self.is_onlink(sender_ip, iface) =>
            {
                Some((sender_ip, Some(sender_mac), Method::Arp))
            }
            Packet::EchoReply { src, dst, id, seq } if dst == ifc.ip => {
                let c = self.cookie(u32::from(src), 0);
                (id == (c >> 16) as u16 && seq == c as u16).then_some((src, None, Method::Icmp))
            }
            Packet::Tcp {
                src,
                dst,
                sport,
                dport,
                ack,
                flags,
                ..
            } if dst == ifc.ip
                && dport == self.cfg.sport
                && (flags & (wire::tcp_flags::SYN | wire::tcp_flags::ACK)
                    == wire::tcp_flags::SYN | wire::tcp_flags::ACK
                    || flags & wire::tcp_flags::RST != 0) =>
            {
                let c = self.cookie(u32::from(src), sport);
                (ack == c.wrapping_add(1)).then_some((src, None, Method::Tcp(sport)))
            }
            Packet::Udp {
                src,
                dst,
                sport: 161,
                dport,
                payload,
            } if dst == ifc.ip && dport == self.cfg.sport => {
                let c = self.cookie(u32::from(src), 161) & 0x7fff_ffff;
                (wire::snmp_request_id(payload) == Some(c)).then_some((src, None, Method::Snmp))
            }
            Packet::Unreachable {
                src,
                dst,
                code: 2 | 3,
                quote,
            } if dst == ifc.ip && quote.src == ifc.ip && quote.dst == src => {
                let ok = match quote.protocol {
                    17 => quote.a == self.cfg.sport && quote.b == 161,
                    6 => quote.a == self.cfg.sport,
                    _ => false,
                };
                ok.then_some((src, None, Method::Unreachable))
            }
            _ => None,
        }
    }

    /// An answer from target `ip`: its slot is answered (the RTT sampled), an event
    /// says so, and answered slots at the head of the ring leave.
    fn reply(&mut self, now: Instant, ip: Ipv4Addr, mac: Option<Mac>, method: Method, iface: u8) {
        self.stats.replies += 1;
        let class = if method == Method::Arp {
            ONLINK
        } else {
            ROUTED
        };
        let mut rtt = None;
        if let Some(s) = self.rings[class].iter_mut().find(|s| s.ip == u32::from(ip))
            && !s.answered
        {
            s.answered = true;
            self.stats.answered += 1;
            if s.rounds == 1 {
                let r = now.since(s.sent);
                rtt = Some(r);
                self.rtt[class].sample(r);
            } else {
                // Which round this answers is unknown (ARP has no cookie). Unlike
                // Karn's rule, sample the upper bound `now - first`: a slow network
                // then raises the timeout instead of being retried forever, and a
                // fast lossy one only nudges it up from the floor.
                let r = now.since(s.first).min(self.cfg.max_timeout);
                self.rtt[class].sample(r);
            }
        }
        self.push_event(Event::Reply {
            ip,
            mac,
            method,
            rtt,
            iface,
        });
        // Answered slots at the head leave at once, freeing the window.
        while self.rings[class].front().is_some_and(|s| s.answered) {
            if let Some(s) = self.rings[class].pop_front() {
                self.stats.done += 1;
                self.push_event(Event::Done {
                    ip: Ipv4Addr::from(s.ip),
                    answered: true,
                    rounds: s.rounds,
                });
            }
        }
    }

    fn is_onlink(&self, ip: Ipv4Addr, iface: u8) -> bool {
        self.lookup(u32::from(ip)).is_some_and(|r| {
            let r = &self.routes[usize::from(r)];
            r.iface == iface && r.via == Via::OnLink
        })
    }
}
