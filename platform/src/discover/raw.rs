//! Discovery with raw packet access: the sans-IO engine of `ksocket-core` driven over
//! AF_PACKET sockets on smol (one socket per interface of the plan).

use super::plan::{Plan, SET_RANGES};
use crate::pipeline::interface::Progress;
use crate::sys::packet::PacketSocket;
use ksocket_core::engine::{Config, Engine, Event, Iface, Instant, Method};
use ksocket_core::wire::{Link, Mac};
use ksocket_proto::records::{Host, Provenance};
use smol::Async;
use std::collections::BTreeMap;
use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

/// Targets in flight per class: at the default 10k packets/s and the initial 250 ms
/// timeout, about 2500 on-link targets wait for an answer at once.
const WINDOW: usize = 4096;

/// The engine's counters at the end.
pub struct Stats {
    pub probed: u64,
    pub sent: u64,
    pub retries: u64,
    pub retried: u64,
    pub no_route: u64,
}

/// Opens one packet socket per interface of the plan. `Ok(None)`: no permission (the
/// unprivileged fallback applies).
pub fn open_sockets(plan: &Plan) -> io::Result<Option<Vec<PacketSocket>>> {
    let mut socks = Vec::new();
    for (i, ifc) in plan.ifaces.iter().enumerate() {
        match PacketSocket::open(plan.if_index[i], ifc.link == Link::Ethernet, ifc.ip) {
            Ok(s) => socks.push(s),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Ok(None),
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot open a packet socket on {}: {e}", plan.if_names[i]),
                ));
            }
        }
    }
    Ok(Some(socks))
}

/// Runs the engine over `socks` until every target is answered or given up on; each
/// live host goes into `hosts`, `progress` is called at most every 200 ms (and stops
/// the run, as `Interrupted`, when it returns false: a cancelled operation).
pub fn run(
    cfg: Config,
    plan: &Plan,
    socks: Vec<PacketSocket>,
    hosts: &mut BTreeMap<Ipv4Addr, Host>,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> io::Result<Stats> {
    // On the heap: the engine is about 200 KB (its rings), and a value moved into
    // place would go through this frame more than once (Engine::init).
    let mut slot = Box::new_uninit();
    let eng: &mut Engine<SET_RANGES, WINDOW> = Engine::init(
        &mut slot,
        cfg,
        &plan.ifaces,
        &plan.routes,
        plan.targets.clone(),
    )
    .map_err(|e| io::Error::other(format!("scan setup: {e}")))?;
    let total = plan.targets.len();
    smol::block_on(drive(eng, socks, plan, hosts, progress, total))?;
    let st = *eng.stats();
    Ok(Stats {
        probed: st.started,
        sent: st.sent,
        retries: st.sent_retry,
        retried: st.retried,
        no_route: st.no_route,
    })
}

async fn drive(
    eng: &mut Engine<SET_RANGES, WINDOW>,
    socks: Vec<PacketSocket>,
    plan: &Plan,
    hosts: &mut BTreeMap<Ipv4Addr, Host>,
    progress: &mut dyn FnMut(Progress) -> bool,
    total: u64,
) -> io::Result<()> {
    let socks: Vec<Async<PacketSocket>> = socks
        .into_iter()
        .map(Async::new)
        .collect::<io::Result<_>>()?;
    let started = std::time::Instant::now();
    let now = || Instant::from_nanos(started.elapsed().as_nanos() as u64);
    let mut buf = vec![0u8; 2048];
    let mut rbuf = vec![0u8; 65536];
    let mut last_progress = std::time::Instant::now();
    loop {
        let t = now();
        while let Some(tx) = eng.poll_transmit(t, &mut buf) {
            send(&socks[usize::from(tx.iface)], &buf[..tx.len]).await?;
        }
        drain(eng, plan, hosts);
        if eng.is_finished() {
            return Ok(());
        }
        if last_progress.elapsed() > Duration::from_millis(200) {
            last_progress = std::time::Instant::now();
            let st = eng.stats();
            let go_on = progress(Progress {
                probed: st.started,
                total,
                up: hosts.len() as u64,
                sent: st.sent,
            });
            if !go_on {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
            }
        }
        let deadline = eng
            .poll_timeout()
            .map(|d| started + Duration::from_nanos(d.as_nanos()));
        let timer = match deadline {
            Some(d) => smol::Timer::at(d),
            None => smol::Timer::after(Duration::from_millis(100)),
        };
        let readable = smol::future::poll_fn(|cx| {
            for s in &socks {
                if let std::task::Poll::Ready(r) = s.poll_readable(cx) {
                    return std::task::Poll::Ready(r);
                }
            }
            std::task::Poll::Pending
        });
        smol::future::or(readable, async {
            timer.await;
            Ok(())
        })
        .await?;
        for (i, s) in socks.iter().enumerate() {
            // Bounded per wake-up so transmission is never starved.
            for _ in 0..4096 {
                match s.get_ref().recv(&mut rbuf) {
                    Ok(n) => {
                        eng.handle_rx(now(), i as u8, &rbuf[..n]);
                        drain(eng, plan, hosts);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

/// Sends one frame; a full device queue is waited out a few times (bounded), then it
/// is an error.
pub(super) async fn send(s: &Async<PacketSocket>, frame: &[u8]) -> io::Result<()> {
    let mut tries = 0;
    loop {
        match s.get_ref().send(frame) {
            Ok(()) => return Ok(()),
            Err(e)
                if tries < 100
                    && (e.kind() == io::ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(libc::ENOBUFS)) =>
            {
                tries += 1;
                smol::Timer::after(Duration::from_millis(1)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The provenance of an engine reply.
pub fn provenance(m: Method) -> Provenance {
    match m {
        Method::Arp => Provenance::Arp,
        Method::Icmp => Provenance::Icmp,
        Method::Tcp(p) => Provenance::Tcp(p),
        Method::Snmp => Provenance::Snmp,
        Method::Unreachable => Provenance::IcmpUnreach,
    }
}

fn drain(eng: &mut Engine<SET_RANGES, WINDOW>, plan: &Plan, hosts: &mut BTreeMap<Ipv4Addr, Host>) {
    while let Some(e) = eng.poll_event() {
        if let Event::Reply {
            ip,
            mac,
            method,
            rtt,
            iface,
        } = e
        {
            let h = hosts.entry(ip).or_insert_with(|| Host::new(ip));
            h.iface = plan.if_names.get(usize::from(iface)).cloned();
            if h.mac.is_none() {
                h.mac = mac.map(ksocket_proto::records::Mac);
            }
            if let (None, Some(r)) = (h.rtt_ms, rtt) {
                h.set_rtt(r);
            }
            h.seen(provenance(method));
        }
    }
}

/// The MAC of a gateway: from the kernel's neighbour table, or else asked with our own
/// ARP request (3 tries, 300 ms each), as the kernel would before its first packet.
pub fn gateway_mac(oif: u32, ifc: &Iface, gw: Ipv4Addr) -> Option<Mac> {
    let known = crate::sys::netlink::neighbours()
        .ok()
        .and_then(|n| {
            n.into_iter()
                .find(|n| n.index == oif && n.ip == gw && n.usable)
        })
        .and_then(|n| n.mac);
    if known.is_some() {
        return known;
    }
    let sock = match PacketSocket::open(oif, true, ifc.ip) {
        Ok(s) => s,
        // Unprivileged: the fallback scan lets the kernel route and resolve, and never
        // uses this MAC.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Some([0; 6]),
        Err(_) => return None,
    };
    let sock = Async::new(sock).ok()?;
    let mut buf = [0u8; 64];
    let mut rbuf = [0u8; 2048];
    smol::block_on(async {
        for _ in 0..3 {
            let n = ksocket_core::wire::emit_arp_request(&mut buf, ifc.mac, ifc.ip, gw).ok()?;
            send(&sock, &buf[..n]).await.ok()?;
            let deadline = std::time::Instant::now() + Duration::from_millis(300);
            let answer = async {
                loop {
                    let _ = sock.readable().await;
                    while let Ok(n) = sock.get_ref().recv(&mut rbuf) {
                        if let Some(mac) = arp_reply_from(&rbuf[..n], gw, ifc.ip) {
                            return Some(mac);
                        }
                    }
                }
            };
            let timeout = async {
                smol::Timer::at(deadline).await;
                None
            };
            if let Some(mac) = smol::future::or(answer, timeout).await {
                return Some(mac);
            }
        }
        None
    })
}

/// The sender's MAC of an ARP reply from `gw` to `me`.
fn arp_reply_from(frame: &[u8], gw: Ipv4Addr, me: Ipv4Addr) -> Option<Mac> {
    match ksocket_core::wire::parse(Link::Ethernet, frame)
        .ok()?
        .packet
    {
        ksocket_core::wire::Packet::Arp {
            op: 2,
            sender_ip,
            sender_mac,
            target_ip,
            ..
        } if sender_ip == gw && target_ip == me => Some(sender_mac),
        _ => None,
    }
}

/// Binds a UDP and a TCP socket to one port, so that replies to our probes find the
/// port taken (the kernel then does not answer them itself with ICMP port unreachable,
/// and no local connection reuses it during the scan).
pub fn reserve_port() -> io::Result<(std::net::UdpSocket, std::net::TcpListener, u16)> {
    for _ in 0..20 {
        let u = std::net::UdpSocket::bind("0.0.0.0:0")?;
        let port = u.local_addr()?.port();
        if let Ok(t) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            return Ok((u, t, port));
        }
    }
    Err(io::Error::other("no free port for both UDP and TCP"))
}
