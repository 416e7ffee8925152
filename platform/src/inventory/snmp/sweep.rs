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
//! is not probed with the next credentials. An unanswered probe is sent again,
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
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            port: 161,
            rate: 10_000,
            window: 4096,
            timeout: Duration::from_secs(1),
            retries: 1,
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

/// Sweeps `targets` with `creds`, calling `hit` for each address on its first answer.
pub async fn sweep(
    targets: &[Ipv4Addr],
    creds: &[Cred],
    o: &Opts,
    hit: &mut dyn FnMut(&Hit),
) -> io::Result<Stats> {
    let n = targets.len();
    let total = n
        .checked_mul(creds.len())
        .filter(|t| *t < 0x4000_0000)
        .ok_or_else(|| io::Error::other("sweep: too many probes (targets x credentials)"))?;
    let sock = smol::Async::<UdpSocket>::bind(([0, 0, 0, 0], 0))?;
    // Room for a burst of answers, and for probes the kernel holds while it resolves
    // on-link neighbours (they count against the send buffer: an empty on-link range
    // would otherwise stall sending for the 3 s ARP gives up after).
    crate::sys::net::set_buffers(sock.get_ref(), 8 << 20);
    let key = (crate::sys::random::u64() as u32) & 0x3fff_ffff;
    let rate = f64::from(o.rate.max(1));
    let mut pacer = Pacer::new(o.rate, BURST);
    let window = o.window.max(1);

    // Each probe's message, encoded when it is sent (its id is the probe's).
    let oids: [OidBuf; 2] = [
        "1.3.6.1.2.1.1.1.0".parse().expect("valid"),
        "1.3.6.1.2.1.1.2.0".parse().expect("valid"),
    ];
    let mut buf = vec![0u8; 1500];
    let mut encode = |c: &Cred, id: i32| -> io::Result<Vec<u8>> {
        let e = |e: ksocket_core::snmp::Error| io::Error::other(e.to_string());
        Ok(match c {
            Cred::Community(version, community) => Request {
                version: *version,
                community: community.expose().as_bytes(),
                kind: tag::GET,
                request_id: id,
                a: 0,
                b: 0,
            }
            .encode(&mut buf, &oids)
            .map_err(e)?
            .to_vec(),
            Cred::V3Discovery => V3Request::discovery(id, id)
                .encode(&mut buf)
                .map_err(e)?
                .0
                .to_vec(),
        })
    };

    let mut answered = vec![false; n];
    let mut tries = vec![0u8; total];
    let mut sent_at = vec![None::<Instant>; total];
    let mut next_fresh = 0usize; // probes in order: credential-major
    let mut again: VecDeque<usize> = VecDeque::new();
    // Probes waiting, in send order: those with tries left wait the adaptive RTO (as
    // it is when they are checked: the first answers shorten the wait of probes sent
    // before them), last tries the whole timeout. Each queue is in deadline order.
    let mut waiting: [VecDeque<(usize, Instant)>; 2] = [VecDeque::new(), VecDeque::new()];
    let mut rtt = Rtt::default();
    let rto = |r: &Rtt| r.rto(o.timeout, RTO_FLOOR, o.timeout);
    let mut stats = Stats::default();
    let start = Instant::now();
    // Bound: every probe sent at most retries+1 times at the rate, plus the waits.
    let per_round = Duration::from_secs_f64(total as f64 / rate);
    // (3.2 s a round: what the kernel may hold probes to unresolved neighbours for.)
    let limit = (per_round + o.timeout + Duration::from_millis(3200)) * (o.retries + 1)
        + Duration::from_secs(5);
    let mut rbuf = vec![0u8; 65535];

    loop {
        let now = Instant::now();
        if now.duration_since(start) > limit {
            log::warn!("sweep: stopped at its time bound ({limit:?})");
            break;
        }
        // Expire what waited too long.
        let waits = [rto(&rtt), o.timeout];
        for (q, wait) in waiting.iter_mut().zip(waits) {
            while let Some(&(i, t)) = q.front() {
                if now < t + wait {
                    break;
                }
                q.pop_front();
                if !answered[i % n] && sent_at[i] == Some(t) && u32::from(tries[i]) <= o.retries {
                    again.push_back(i);
                }
            }
        }
        // Send what the rate and the window allow.
        let ns = |t: Instant| t.duration_since(start).as_nanos() as u64;
        while pacer.allows(ns(now)) && waiting[0].len() + waiting[1].len() < window {
            let i = if let Some(i) = again.pop_front() {
                i
            } else {
                // Skip addresses that already answered.
                while next_fresh < total && answered[next_fresh % n] {
                    next_fresh += 1;
                }
                if next_fresh == total {
                    break;
                }
                next_fresh += 1;
                next_fresh - 1
            };
            if answered[i % n] {
                continue;
            }
            let id = (i as u32 ^ key) as i32;
            let msg = encode(&creds[i / n], id)?;
            let to = SocketAddrV4::new(targets[i % n], o.port);
            match sock.get_ref().send_to(&msg, to) {
                Ok(_) => {}
                // Unreachable or refused right now (an ICMP error queued on the socket):
                // counts as a try.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    again.push_front(i);
                    break;
                }
                Err(e) => log::debug!("sweep: send to {to}: {e}"),
            }
            let t = Instant::now();
            pacer.take(ns(t));
            tries[i] = tries[i].saturating_add(1);
            sent_at[i] = Some(t);
            waiting[usize::from(u32::from(tries[i]) > o.retries)].push_back((i, t));
            stats.sent += 1;
        }
        // Read everything queued.
        loop {
            match sock.get_ref().recv_from(&mut rbuf) {
                Ok((len, from)) => {
                    stats.received += 1;
                    match classify(&rbuf[..len], from, targets, creds, key, o.port) {
                        Some((i, mut h)) if !answered[i % n] => {
                            answered[i % n] = true;
                            h.rtt = sent_at[i].map_or(Duration::ZERO, |t| t.elapsed());
                            // Karn: only probes sent once say how long an answer takes.
                            if tries[i] == 1 {
                                rtt.sample(h.rtt);
                            }
                            hit(&h);
                        }
                        Some(_) => {}
                        None => stats.ignored += 1,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // ICMP errors of earlier sends surface here; they carry nothing to use.
                Err(_) => {}
            }
        }
        let done_sending = next_fresh == total && again.is_empty();
        for q in &mut waiting {
            q.retain(|(i, ..)| !answered[i % n]);
        }
        let in_flight = waiting[0].len() + waiting[1].len();
        if done_sending && in_flight == 0 {
            break;
        }
        // Sleep until an answer comes, the next probe is due, or the oldest expires.
        let now = Instant::now();
        let waits = [rto(&rtt), o.timeout];
        let mut wake = waiting
            .iter()
            .zip(waits)
            .filter_map(|(q, w)| {
                q.front()
                    .map(|&(_, t)| (t + w).saturating_duration_since(now))
            })
            .min()
            .unwrap_or(Duration::from_millis(100));
        if !done_sending && in_flight < window {
            let due = Duration::from_nanos(pacer.ready_at());
            wake = wake.min((start + due).saturating_duration_since(now));
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
}
