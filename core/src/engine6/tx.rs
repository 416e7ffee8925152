//! Sending: the multicast probes of link discovery, which target goes next, and the
//! probe frame written into the caller's buffer.

use super::*;

impl<const W: usize> Engine6<W> {
    /// The next frame to send now, written into `buf`, if the rate allows one.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit6> {
        self.handle_timeout(now);
        if !self.pacer.allows(now.0) {
            return None;
        }
        if self.mc_ready_at().is_some_and(|t| t <= now)
            && let Some(t) = self.send_multicast(now, buf)
        {
            return Some(t);
        }
        for class in [ONLINK, ROUTED] {
            if self.tail_sending(class) {
                return self.send(now, class, buf);
            }
        }
        while self.next_work < self.work_count() {
            if self.events.len() >= EVENT_QUEUE - 1 {
                return None;
            }
            let Some((ip, placed)) = self.place(self.next_work) else {
                // Past the ranges' end (cannot happen: work_count counts them).
                self.next_work += 1;
                continue;
            };
            let Some((iface, class, gw)) = placed else {
                self.next_work += 1;
                self.stats.no_route += 1;
                self.push_event(Event6::NoRoute { ip });
                continue;
            };
            if self.rings[class].is_full() {
                return None;
            }
            self.next_work += 1;
            self.stats.started += 1;
            let _ = self.rings[class].push_back(Slot {
                ip,
                iface,
                gw,
                sent: now,
                first: now,
                rounds: 1,
                next: 0,
                answered: false,
            });
            return self.send(now, class, buf);
        }
        None
    }

    fn send_multicast(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit6> {
        let round = self.mc_round;
        let mut k = self.mc_next;
        let mut found = None;
        for i in 0..self.ifaces.len() {
            let n = self.mc_count(i, round);
            if k < n {
                found = Some((i, k));
                break;
            }
            k -= n;
        }
        self.mc_next += 1;
        if self.mc_next >= self.mc_round_len(round) {
            self.mc_round += 1;
            self.mc_next = 0;
        }
        let (i, k) = found?;
        let f = &self.ifaces[i];
        let ll = f.link_local?;
        let c = self.cookie(Ipv6Addr::UNSPECIFIED, MCAST);
        let echo = Probe6::Echo {
            id: (c >> 16) as u16,
            seq: c as u16,
        };
        let g = f.globals.len();
        let (src, dst, probe) = if k == 0 {
            (ll, ALL_NODES, echo)
        } else if k <= g {
            (f.globals[k - 1], ALL_NODES, echo)
        } else if k == g + 1 {
            (ll, ALL_ROUTERS, echo)
        } else {
            let ms = (self.cfg.settle / 2).as_millis().clamp(1, 32_767) as u16;
            (ll, ALL_NODES, Probe6::MldQuery { max_resp_ms: ms })
        };
        let link = Some((f.mac, wire6::multicast_mac(dst)));
        let len = wire6::emit_ipv6(buf, link, src, dst, 255, probe).ok()?;
        self.stats.sent += 1;
        self.stats.sent_multicast += 1;
        self.pacer.take(now.0);
        self.mc_last = Some(now);
        Some(Transmit6 {
            iface: i as u8,
            len,
        })
    }

    fn send(&mut self, now: Instant, class: usize, buf: &mut [u8]) -> Option<Transmit6> {
        let s = *self.rings[class].back()?;
        let f = self.ifaces.get(usize::from(s.iface))?;
        let src = self.source(s.iface, s.ip, class == ONLINK)?;
        let len = if class == ONLINK {
            let group = wire6::solicited_node(s.ip);
            let link = Some((f.mac, wire6::multicast_mac(group)));
            let p = Probe6::Solicit {
                target: s.ip,
                mac: f.mac,
            };
            self.stats.sent_ns += 1;
            wire6::emit_ipv6(buf, link, src, group, 255, p).ok()?
        } else {
            let link = match f.link {
                Link::Ethernet => Some((f.mac, s.gw)),
                Link::RawIp => None,
            };
            let mut k = s.next;
            let probe = if self.cfg.icmp && k == 0 {
                let c = self.cookie(s.ip, 0);
                self.stats.sent_icmp += 1;
                Probe6::Echo {
                    id: (c >> 16) as u16,
                    seq: c as u16,
                }
            } else {
                k -= u8::from(self.cfg.icmp);
                let dport = *self.cfg.ports.get(usize::from(k))?;
                self.stats.sent_tcp += 1;
                Probe6::Syn {
                    sport: self.cfg.sport,
                    dport,
                    seq: self.cookie(s.ip, dport),
                }
            };
            wire6::emit_ipv6(buf, link, src, s.ip, 64, probe).ok()?
        };
        if let Some(b) = self.rings[class].back_mut() {
            b.next += 1;
            b.sent = now;
            if b.rounds > 1 {
                self.stats.sent_retry += 1;
            }
        }
        self.stats.sent += 1;
        self.pacer.take(now.0);
        Some(Transmit6 {
            iface: s.iface,
            len,
        })
    }
}
