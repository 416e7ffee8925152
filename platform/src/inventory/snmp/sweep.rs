//! SNMP sweep: which addresses answer SNMP, and with which credential, over one UDP
//! socket (no privileges needed).
//!
//! Every (address, credential) pair is one probe: a GET of sysDescr.0 and sysObjectID.0
//! with a community (v1 or v2c), or an SNMPv3 engine-discovery request (any v3 agent
//! answers it with a Report carrying its engine ID, whatever its users). The probe's
//! index, XORed with a per-sweep random key, is its request-id (msgID for v3), so an
//! answer names its probe; it counts only from the probed address and port, and (v1/v2c)
//! with the probed community. Probes go out paced at `rate` per second, at most
//! `window` waiting at once, credential after credential; an address that has answered
//! is not probed with the next credentials, unless `every` asks for each credential an
//! address answers (as onesixtyone lists them). An unanswered probe is sent again,
//! `retries` times: after an adaptive RTO (from the answers seen so far, at least
//! 250 ms) while it has tries left, and its last try waits the whole `timeout`. The
//! whole sweep is bounded in time.

use crate::credentials::secret::Secret;
use ksocket_core::snmp::{
    Message, OidBuf, Request, ScopedData, V3Message, V3Request, Value, Version, tag,
};
use ksocket_core::timing::{Pacer, Rtt};
use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

/// How to ask.
#[derive(Clone, Debug)]
pub enum Cred {
    /// A GET with this community (v1 or v2c).
    Community(Version, Secret),
    /// SNMPv3 engine discovery (no user needed).
    V3Discovery,
}

#[derive(Clone, Debug)]
pub struct Opts {
    pub port: u16,
    /// Probes per second.
    pub rate: u32,
    /// Most probes waiting for an answer at once.
    pub window: usize,
    pub timeout: Duration,
    pub retries: u32,
    /// Probe every address with every credential and report each answer, rather
    /// than stopping at the first credential an address answers.
    pub every: bool,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            port: 161,
            rate: 10_000,
            window: 4096,
            timeout: Duration::from_secs(1),
            retries: 1,
            every: false,
        }
    }
}

/// An address that answered.
#[derive(Clone, Debug)]
pub struct Hit {
    pub ip: Ipv4Addr,
    /// Index into the credentials.
    pub cred: usize,
    pub sys_descr: Option<String>,
    pub sys_object_id: Option<String>,
    /// SNMPv3: the agent's engine ID, boots and time.
    pub engine: Option<(Vec<u8>, i64, i64)>,
    pub rtt: Duration,
}

#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub sent: u64,
    pub received: u64,
    /// Datagrams that matched no probe (other sources, stale or forged ids).
    pub ignored: u64,
}

/// Sweeps `targets` with `creds`, calling `hit` for each address on its first answer
/// (with `o.every`: for each credential an address answers).
/// (Long: the one loop of a sweep, send, read, sleep, kept whole so its bounds read at
/// once; the bookkeeping is [`Probes`].)
pub async fn sweep(
    targets: &[Ipv4Addr],
    creds: &[Cred],
    o: &Opts,
    hit: &mut dyn FnMut(&Hit),
) -> io::Result<Stats> {
    let total = targets
        .len()
        .checked_mul(creds.len())
        .filter(|t| *t < 0x4000_0000)
        .ok_or_else(|| io::Error::other("sweep: too many probes (targets x credentials)"))?;
    let sock = smol::Async::<UdpSocket>::bind(([0, 0, 0, 0], 0))?;
    // Room for a burst of answers, and for probes the kernel holds while it resolves
    // on-link neighbours (they count against the send buffer: an empty on-link range
    // would otherwise stall sending for the 3 s ARP gives up after).
    crate::sys::net::set_buffers(sock.get_ref(), 8 << 20);
    let key = (crate::sys::random::u64() as u32) & 0x3fff_ffff;
    let mut pacer = Pacer::new(o.rate, BURST);
    let window = o.window.max(1);
    let mut probes = Probes::new(targets.len(), total, o);
    let mut stats = Stats::default();
    let start = Instant::now();
    let ns = |t: Instant| t.duration_since(start).as_nanos() as u64;
    // Bound: every probe sent at most retries+1 times at the rate, plus the waits
    // (3.2 s a round: what the kernel may hold probes to unresolved neighbours for).
    let per_round = Duration::from_secs_f64(total as f64 / f64::from(o.rate.max(1)));
    let limit = (per_round + o.timeout + Duration::from_millis(3200)) * (o.retries + 1)
        + Duration::from_secs(5);
    let mut buf = vec![0u8; 1500];
    let mut rbuf = vec![0u8; 65535];
    loop {
        let now = Instant::now();
        if now.duration_since(start) > limit {
            log::warn!("sweep: stopped at its time bound ({limit:?})");
            break;
        }
        probes.expire(now);
        // Send what the rate and the window allow.
        while pacer.allows(ns(now)) && probes.in_flight() < window {
            let Some(i) = probes.next() else { break };
            let id = (i as u32 ^ key) as i32;
            let msg = encode(&mut buf, &creds[i / targets.len()], id)?;
            let to = SocketAddrV4::new(targets[i % targets.len()], o.port);
            match sock.get_ref().send_to(msg, to) {
                Ok(_) => {}
                // The socket's buffer is full: this probe goes first next time.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    probes.again.push_front(i);
                    break;
                }
                // Unreachable or refused right now (an ICMP error queued on the
                // socket): counts as a try.
                Err(e) => log::debug!("sweep: send to {to}: {e}"),
            }
            let t = Instant::now();
            pacer.take(ns(t));
            probes.sent(i, t);
            stats.sent += 1;
        }
        // Read everything queued.
        loop {
            match sock.get_ref().recv_from(&mut rbuf) {
                Ok((len, from)) => {
                    stats.received += 1;
                    match classify(&rbuf[..len], from, targets, creds, key, o.port) {
                        Some((i, mut h)) => {
                            if let Some(rtt) = probes.answer(i) {
                                h.rtt = rtt;
                                hit(&h);
                            }
                        }
                        None => stats.ignored += 1,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // ICMP errors of earlier sends surface here; they carry nothing to use.
                Err(_) => {}
            }
        }
        probes.forget_answered();
        if probes.done_sending() && probes.in_flight() == 0 {
            break;
        }
        // Sleep until an answer comes, the next probe is due, or the oldest expires.
        let now = Instant::now();
        let mut wake = probes
            .next_expiry(now)
            .unwrap_or(Duration::from_millis(100));
        if !probes.done_sending() && probes.in_flight() < window {
            let due = start + Duration::from_nanos(pacer.ready_at());
            wake = wake.min(due.saturating_duration_since(now));
        }
        smol::future::or(
            async {
                let _ = sock.readable().await;
            },
            async {
                smol::Timer::after(wake.min(Duration::from_secs(1))).await;
            },
        )
        .await;
    }
    Ok(stats)
}

/// A probe's message (its id is the probe's): a GET of sysDescr.0 and sysObjectID.0
/// with a community, or an SNMPv3 engine discovery.
fn encode<'b>(buf: &'b mut [u8], c: &Cred, id: i32) -> io::Result<&'b [u8]> {
    let e = |e: ksocket_core::snmp::Error| io::Error::other(e.to_string());
    Ok(match c {
        Cred::Community(version, community) => {
            let oids: [OidBuf; 2] = [
                OidBuf::from_arcs(&[1, 3, 6, 1, 2, 1, 1, 1, 0]).expect("9 arcs fit"),
                OidBuf::from_arcs(&[1, 3, 6, 1, 2, 1, 1, 2, 0]).expect("9 arcs fit"),
            ];
            Request {
                version: *version,
                community: community.expose().as_bytes(),
                kind: tag::GET,
                request_id: id,
                a: 0,
                b: 0,
            }
            .encode(buf, &oids)
            .map_err(e)?
        }
        Cred::V3Discovery => &*V3Request::discovery(id, id).encode(buf).map_err(e)?.0,
    })
}

/// The probes of one sweep, one per (credential, address), numbered credential-major:
/// which wait for an answer, which go out again, which addresses (with `every`: which
/// probes) answered.
struct Probes {
    n: usize,
    every: bool,
    total: usize,
    retries: u32,
    timeout: Duration,
    answered: Vec<bool>,
    tries: Vec<u8>,
    sent_at: Vec<Option<Instant>>,
    /// The next probe never sent.
    next_fresh: usize,
    /// Probes to send again, first.
    again: VecDeque<usize>,
    /// Probes waiting, in send order: those with tries left wait the adaptive RTO (as
    /// it is when they are checked: the first answers shorten the wait of probes sent
    /// before them), last tries the whole timeout. Each queue is in deadline order.
    waiting: [VecDeque<(usize, Instant)>; 2],
    rtt: Rtt,
}

impl Probes {
    fn new(n: usize, total: usize, o: &Opts) -> Probes {
        Probes {
            n,
            every: o.every,
            total,
            retries: o.retries,
            timeout: o.timeout,
            answered: vec![false; if o.every { total } else { n }],
            tries: vec![0; total],
            sent_at: vec![None; total],
            next_fresh: 0,
            again: VecDeque::new(),
            waiting: [VecDeque::new(), VecDeque::new()],
            rtt: Rtt::default(),
        }
    }

    /// Where probe `i`'s answer is kept: per address, or per probe with `every`.
    fn slot(&self, i: usize) -> usize {
        if self.every { i } else { i % self.n }
    }

    /// How long each queue waits.
    fn waits(&self) -> [Duration; 2] {
        [
            self.rtt.rto(self.timeout, RTO_FLOOR, self.timeout),
            self.timeout,
        ]
    }

    /// Moves probes that waited too long to the retry queue (while they have tries).
    fn expire(&mut self, now: Instant) {
        let waits = self.waits();
        for (q, wait) in self.waiting.iter_mut().zip(waits) {
            while let Some(&(i, t)) = q.front() {
                if now < t + wait {
                    break;
                }
                q.pop_front();
                if !self.answered[if self.every { i } else { i % self.n }]
                    && self.sent_at[i] == Some(t)
                    && u32::from(self.tries[i]) <= self.retries
                {
                    self.again.push_back(i);
                }
            }
        }
    }

    /// The next probe to send: a retry, else the next fresh one to an address that has
    /// not answered.
    fn next(&mut self) -> Option<usize> {
        while let Some(i) = self.again.pop_front() {
            if !self.answered[self.slot(i)] {
                return Some(i);
            }
        }
        while self.next_fresh < self.total && self.answered[self.slot(self.next_fresh)] {
            self.next_fresh += 1;
        }
        (self.next_fresh < self.total).then(|| {
            self.next_fresh += 1;
            self.next_fresh - 1
        })
    }

    fn sent(&mut self, i: usize, t: Instant) {
        self.tries[i] = self.tries[i].saturating_add(1);
        self.sent_at[i] = Some(t);
        let last = u32::from(self.tries[i]) > self.retries;
        self.waiting[usize::from(last)].push_back((i, t));
    }

    /// An answer to probe `i`: its round-trip time, the first time its address (with
    /// `every`: the probe) is answered.
    fn answer(&mut self, i: usize) -> Option<Duration> {
        let slot = self.slot(i);
        if std::mem::replace(&mut self.answered[slot], true) {
            return None;
        }
        let rtt = self.sent_at[i].map_or(Duration::ZERO, |t| t.elapsed());
        // Karn: only probes sent once say how long an answer takes.
        if self.tries[i] == 1 {
            self.rtt.sample(rtt);
        }
        Some(rtt)
    }

    fn forget_answered(&mut self) {
        let (answered, n, every) = (&self.answered, self.n, self.every);
        for q in &mut self.waiting {
            q.retain(|(i, ..)| !answered[if every { *i } else { i % n }]);
        }
    }

    fn in_flight(&self) -> usize {
        self.waiting[0].len() + self.waiting[1].len()
    }

    fn done_sending(&self) -> bool {
        self.next_fresh == self.total && self.again.is_empty()
    }

    /// When the first waiting probe expires.
    fn next_expiry(&self, now: Instant) -> Option<Duration> {
        self.waiting
            .iter()
            .zip(self.waits())
            .filter_map(|(q, w)| {
                q.front()
                    .map(|&(_, t)| (t + w).saturating_duration_since(now))
            })
            .min()
    }
}

/// Probes with tries left wait the adaptive timeout (RFC 6298, [`ksocket_core::timing`]),
/// at least this long; last tries always wait the whole timeout, so an agent slower
/// than the others is still heard (a late answer to an earlier try counts too).
const RTO_FLOOR: Duration = Duration::from_millis(250);

/// Probes that may leave back to back before the rate applies.
const BURST: u32 = 32;

/// The probe a datagram answers, and what it says.
fn classify(
    d: &[u8],
    from: SocketAddr,
    targets: &[Ipv4Addr],
    creds: &[Cred],
    key: u32,
    port: u16,
) -> Option<(usize, Hit)> {
    let n = targets.len();
    let SocketAddr::V4(from) = from else {
        return None;
    };
    let probe = |id: i64| -> Option<usize> {
        let i = (u32::try_from(id).ok()? ^ key) as usize;
        (i < n * creds.len() && targets[i % n] == *from.ip() && from.port() == port).then_some(i)
    };
    if let Ok(m) = Message::decode(d) {
        let i = probe(i64::from(m.pdu.request_id))?;
        let Cred::Community(version, community) = &creds[i / n] else {
            return None;
        };
        if m.pdu.kind != tag::RESPONSE
            || m.version != *version
            || m.community != community.expose().as_bytes()
        {
            return None;
        }
        let mut h = Hit {
            ip: *from.ip(),
            cred: i / n,
            sys_descr: None,
            sys_object_id: None,
            engine: None,
            rtt: Duration::ZERO,
        };
        for (o, v) in m.pdu.varbinds {
            let o = o.to_string();
            match (o.as_str(), v) {
                (".1.3.6.1.2.1.1.1.0", Value::OctetString(s)) => {
                    h.sys_descr = Some(String::from_utf8_lossy(s).trim().to_string())
                }
                (".1.3.6.1.2.1.1.2.0", Value::Oid(x)) => h.sys_object_id = Some(x.to_string()),
                _ => {}
            }
        }
        return Some((i, h));
    }
    let m = V3Message::decode(d).ok()?;
    let i = probe(m.msg_id)?;
    if !matches!(creds[i / n], Cred::V3Discovery) || m.usm.engine_id.is_empty() {
        return None;
    }
    if let ScopedData::Plain(sp) = &m.data
        && sp.pdu.kind != tag::REPORT
    {
        return None;
    }
    Some((
        i,
        Hit {
            ip: *from.ip(),
            cred: i / n,
            sys_descr: None,
            sys_object_id: None,
            engine: Some((m.usm.engine_id.to_vec(), m.usm.boots, m.usm.time)),
            rtt: Duration::ZERO,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(version: Version, community: &[u8], id: i32) -> Vec<u8> {
        let oids: [OidBuf; 1] = ["1.3.6.1.2.1.1.1.0".parse().unwrap()];
        let mut buf = vec![0u8; 512];
        Request {
            version,
            community,
            kind: tag::RESPONSE,
            request_id: id,
            a: 0,
            b: 0,
        }
        .encode(&mut buf, &oids)
        .unwrap()
        .to_vec()
    }

    #[test]
    fn an_answer_counts_only_from_its_probe_address_port_version_and_community() {
        let targets = [Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2)];
        let creds = [
            Cred::Community(Version::V2c, Secret::new("c-one")),
            Cred::Community(Version::V1, Secret::new("c-two")),
        ];
        let key = 0x1234_5678;
        let from = |a: Ipv4Addr, p: u16| SocketAddr::from((a, p));
        // Probe 3 = credential 1 (v1, c-two) to target 1.
        let id = (3u32 ^ key) as i32;
        let ok = response(Version::V1, b"c-two", id);
        let (i, h) = classify(&ok, from(targets[1], 161), &targets, &creds, key, 161).unwrap();
        assert_eq!((i, h.ip, h.cred), (3, targets[1], 1));
        for (what, d, src) in [
            ("other source", ok.clone(), from(targets[0], 161)),
            ("other port", ok.clone(), from(targets[1], 1161)),
            (
                "other community",
                response(Version::V1, b"c-one", id),
                from(targets[1], 161),
            ),
            (
                "other version",
                response(Version::V2c, b"c-two", id),
                from(targets[1], 161),
            ),
            (
                "id of no probe",
                response(Version::V1, b"c-two", (9u32 ^ key) as i32),
                from(targets[1], 161),
            ),
            (
                "garbage",
                b"\x30\x03\x02\x01".to_vec(),
                from(targets[1], 161),
            ),
        ] {
            assert!(
                classify(&d, src, &targets, &creds, key, 161).is_none(),
                "{what} must not count"
            );
        }
    }

    #[test]
    fn probes_are_retried_until_answered_or_out_of_tries() {
        let o = Opts {
            timeout: Duration::from_millis(500),
            retries: 1,
            ..Opts::default()
        };
        let mut p = Probes::new(2, 2, &o);
        let t0 = Instant::now();
        assert_eq!((p.next(), p.next(), p.next()), (Some(0), Some(1), None));
        p.sent(0, t0);
        p.sent(1, t0);
        // Before any answer the adaptive wait is the whole timeout.
        p.expire(t0 + Duration::from_millis(499));
        assert_eq!(p.in_flight(), 2);
        p.expire(t0 + Duration::from_millis(500));
        assert_eq!(p.again.len(), 2);
        // Address 1 answers (late: its first probe still counts), once.
        assert!(p.answer(1).is_some());
        assert!(p.answer(1).is_none());
        // The retry of 0 only; 1 answered.
        assert_eq!((p.next(), p.next()), (Some(0), None));
        let t1 = t0 + Duration::from_millis(500);
        p.sent(0, t1);
        p.forget_answered();
        assert!(p.done_sending());
        // Its last try waits the whole timeout, then is given up.
        p.expire(t1 + Duration::from_millis(500));
        assert_eq!((p.in_flight(), p.again.len()), (0, 0));
    }

    /// With `every`, an address that answered one credential is still probed with the
    /// next, and each answer counts once.
    #[test]
    fn every_credential_is_probed_at_addresses_that_answered() {
        let o = Opts {
            every: true,
            ..Opts::default()
        };
        // 2 addresses x 2 credentials: probes 0, 1 (first credential), 2, 3.
        let mut p = Probes::new(2, 4, &o);
        let t0 = Instant::now();
        assert_eq!((p.next(), p.next()), (Some(0), Some(1)));
        p.sent(0, t0);
        p.sent(1, t0);
        assert!(p.answer(1).is_some());
        assert!(p.answer(1).is_none(), "a duplicate answer counts once");
        p.forget_answered();
        assert_eq!(p.in_flight(), 1);
        // Address 1 answered credential 1 and is still asked with credential 2.
        assert_eq!((p.next(), p.next(), p.next()), (Some(2), Some(3), None));
        p.sent(3, t0);
        assert!(
            p.answer(3).is_some(),
            "its second credential's answer is a hit"
        );
        // Without `every`, address 1's second probe is not sent.
        let mut p = Probes::new(2, 4, &Opts::default());
        assert_eq!((p.next(), p.next()), (Some(0), Some(1)));
        p.sent(1, t0);
        assert!(p.answer(1).is_some());
        assert_eq!((p.next(), p.next()), (Some(2), None));
        assert!(p.answer(3).is_none());
    }
}
