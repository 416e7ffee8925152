//! Sending: the rate, which target and which probe goes next, the probe frame
//! written into the caller's buffer.

use super::*;

impl<const T: usize, const W: usize> Engine<T, W> {
    /// The next frame to send now, written into `buf`, if the rate allows one.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.handle_timeout(now);
        // Rate: GCRA.
        if !self.pacer.allows(now.0) {
            return None;
        }
        // Finish the round in progress, on-link first (ARP is one frame per target).
        for class in [ONLINK, ROUTED] {
            if let Some(s) = self.rings[class].back().copied()
                && self.is_sending(class, &s)
            {
                return self.send(now, class, buf);
            }
        }
        // Admit a new target.
        while self.next_target < self.targets.len() {
            if self.events.len() >= EVENT_QUEUE - 1 {
                return None;
            }
            let i = self.order.apply(self.next_target);
            let ip = u32::from(self.targets.nth(i)?);
            let Some(route) = self.lookup(ip) else {
                self.next_target += 1;
                self.stats.no_route += 1;
                self.push_event(Event::NoRoute {
                    ip: Ipv4Addr::from(ip),
                });
                continue;
            };
            let class = self.class_of(route);
            if self.rings[class].is_full() {
                return None;
            }
            if class == ROUTED && self.probes(ROUTED, 1) == 0 {
                // Every routed method is off: nothing to send, finished at once.
                self.next_target += 1;
                self.stats.started += 1;
                self.stats.done += 1;
                self.push_event(Event::Done {
                    ip: Ipv4Addr::from(ip),
                    answered: false,
                    rounds: 0,
                });
                continue;
            }
            self.next_target += 1;
            self.stats.started += 1;
            let slot = Slot {
                ip,
                sent: now,
                first: now,
                rounds: 1,
                next: 0,
                route,
                answered: false,
            };
            let _ = self.rings[class].push_back(slot);
            return self.send(now, class, buf);
        }
        None
    }

    /// Sends the next probe of the tail slot of `class`.
    fn send(&mut self, now: Instant, class: usize, buf: &mut [u8]) -> Option<Transmit> {
        let s = *self.rings[class].back()?;
        let route = self.routes[usize::from(s.route)];
        let iface = self.ifaces[usize::from(route.iface)];
        let dst = Ipv4Addr::from(s.ip);
        let len = if class == ONLINK {
            self.stats.sent_arp += 1;
            wire::emit_arp_request(buf, iface.mac, iface.ip, dst).ok()?
        } else {
            let link = match (iface.link, route.via) {
                (Link::RawIp, _) => None,
                (Link::Ethernet, Via::Gateway { mac, .. }) => Some((iface.mac, mac)),
                (Link::Ethernet, Via::OnLink) => return None, // on-link Ethernet is ONLINK
            };
            let m = self.cfg.methods;
            let mut k = s.next;
            let probe = if m.icmp && k == 0 {
                let c = self.cookie(s.ip, 0);
                self.stats.sent_icmp += 1;
                Probe::Echo {
                    id: (c >> 16) as u16,
                    seq: c as u16,
                }
            } else {
                k -= u8::from(m.icmp);
                let ports = self.ports(s.rounds);
                let nports = if m.tcp { ports.len() as u8 } else { 0 };
                if k < nports {
                    let dport = ports[usize::from(k)];
                    self.stats.sent_tcp += 1;
                    Probe::Syn {
                        sport: self.cfg.sport,
                        dport,
                        seq: self.cookie(s.ip, dport),
                    }
                } else {
                    self.stats.sent_udp += 1;
                    let payload = wire::snmp_probe(self.cookie(s.ip, 161));
                    let id = self.next_ip_id();
                    let p = Probe::Udp {
                        sport: self.cfg.sport,
                        dport: 161,
                        payload: &payload,
                    };
                    let len = wire::emit_ipv4(buf, link, iface.ip, dst, id, p).ok()?;
                    return Some(self.sent(now, class, route.iface, dst, len));
                }
            };
            let id = self.next_ip_id();
            wire::emit_ipv4(buf, link, iface.ip, dst, id, probe).ok()?
        };
        Some(self.sent(now, class, route.iface, dst, len))
    }

    fn sent(
        &mut self,
        now: Instant,
        class: usize,
        iface: u8,
        dst: Ipv4Addr,
        len: usize,
    ) -> Transmit {
        if let Some(s) = self.rings[class].back_mut() {
            s.next += 1;
            s.sent = now;
            if s.rounds > 1 {
                self.stats.sent_retry += 1;
            }
        }
        self.stats.sent += 1;
        self.pacer.take(now.0);
        Transmit {
            iface,
            len,
            target: dst,
        }
    }

    fn next_ip_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }
}
