//! Discovery without raw packet access (no root, no CAP_NET_RAW).
//!
//! ICMP echo goes through an unprivileged ICMP datagram socket (allowed when the
//! user's group is in `net.ipv4.ping_group_range`), and TCP probes are plain
//! non-blocking `connect()` calls: a refused connection (RST) or an accepted one both
//! prove the host is up. The kernel picks the route and resolves on-link neighbours
//! itself, so the neighbour table read afterwards still shows on-link hosts that
//! answered ARP but nothing else. What is lost: ARP as a probe of its own (hosts
//! that answer nothing above ARP are only seen if the kernel happened to resolve
//! them), SNMP, and precise RTTs.

use crate::sys::ping::PingSocket;
use ksocket_core::addr::AddrSet;
use ksocket_core::engine::Config;
use ksocket_core::timing::Pacer;
use ksocket_proto::records::Provenance;
use smol::Async;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Targets probed at once; each holds up to one socket per port, so this bounds the
/// file descriptors in use (well under the usual 1024).
const CONCURRENT_TARGETS: usize = 48;

/// What one target answered.
pub struct Found {
    pub via: Vec<Provenance>,
    pub rtt: Option<Duration>,
}

/// Shared state of one fallback scan.
struct Shared {
    found: RefCell<BTreeMap<Ipv4Addr, Found>>,
    sent_at: RefCell<BTreeMap<Ipv4Addr, Instant>>,
    pacer: RefCell<Pacer>,
    start: Instant,
    probes: RefCell<u64>,
}

impl Shared {
    /// Waits for a rate token.
    async fn token(&self) {
        let now = self.start.elapsed().as_nanos() as u64;
        let at = self.pacer.borrow_mut().reserve(now);
        if at > now {
            smol::Timer::at(self.start + Duration::from_nanos(at)).await;
        }
        *self.probes.borrow_mut() += 1;
    }

    fn up(&self, ip: Ipv4Addr, via: Provenance) {
        let rtt = self.sent_at.borrow().get(&ip).map(|t| t.elapsed());
        let mut f = self.found.borrow_mut();
        let e = f.entry(ip).or_insert(Found {
            via: Vec::new(),
            rtt,
        });
        if !e.via.contains(&via) {
            e.via.push(via);
        }
    }

    fn is_up(&self, ip: Ipv4Addr) -> bool {
        self.found.borrow().contains_key(&ip)
    }
}

/// Statistics of a fallback scan.
pub struct Summary {
    pub probed: u64,
    pub probes: u64,
    pub retried: u64,
    /// What the operator should know (no ICMP either, say).
    pub warnings: Vec<String>,
}

/// Scans `targets` without raw sockets.
pub fn scan<const N: usize>(
    cfg: &Config,
    targets: &AddrSet<N>,
    key: u64,
) -> (BTreeMap<Ipv4Addr, Found>, Summary) {
    let mut warnings = Vec::new();
    let ping = match PingSocket::open().and_then(Async::new) {
        Ok(p) => Some(p),
        Err(e) => {
            warnings.push(format!(
                "no ICMP either ({e}): allow it with \
                 sysctl net.ipv4.ping_group_range=\"0 2147483647\"; probing with TCP connect() only"
            ));
            None
        }
    };
    let shared = Rc::new(Shared {
        found: RefCell::new(BTreeMap::new()),
        sent_at: RefCell::new(BTreeMap::new()),
        pacer: RefCell::new(Pacer::new(cfg.rate, 1)),
        start: Instant::now(),
        probes: RefCell::new(0),
    });
    let ex = smol::LocalExecutor::new();
    let retried = Rc::new(RefCell::new(0u64));
    let ping = Rc::new(ping);
    smol::block_on(ex.run(async {
        // Echo replies, for as long as the scan runs.
        let rx = {
            let (ping, shared) = (ping.clone(), shared.clone());
            ex.spawn(async move {
                let Some(p) = ping.as_ref() else { return };
                loop {
                    if p.readable().await.is_err() {
                        return;
                    }
                    while let Ok((ip, _seq)) = p.get_ref().recv() {
                        shared.up(ip, Provenance::Icmp);
                    }
                }
            })
        };
        let queue = Rc::new(RefCell::new(targets.scatter(key)));
        let mut workers = Vec::new();
        for _ in 0..CONCURRENT_TARGETS {
            let (queue, shared, ping, retried) =
                (queue.clone(), shared.clone(), ping.clone(), retried.clone());
            let cfg = cfg.clone();
            workers.push(ex.spawn(async move {
                loop {
                    let next = queue.borrow_mut().next();
                    let Some(ip) = next else { return };
                    for round in 0..=cfg.retries {
                        if round == 1 {
                            *retried.borrow_mut() += 1;
                        }
                        probe(&cfg, ip, &shared, ping.as_ref().as_ref(), round).await;
                        if shared.is_up(ip) {
                            break;
                        }
                    }
                }
            }));
        }
        for w in workers {
            w.await;
        }
        drop(rx);
    }));
    let found = std::mem::take(&mut *shared.found.borrow_mut());
    let summary = Summary {
        probed: targets.len(),
        probes: *shared.probes.borrow(),
        retried: *retried.borrow(),
        warnings,
    };
    (found, summary)
}

/// One round of probes to `ip`: ICMP echo and a connect() to each port, then wait
/// for the timeout or the first sign of life.
async fn probe(
    cfg: &Config,
    ip: Ipv4Addr,
    shared: &Rc<Shared>,
    ping: Option<&Async<PingSocket>>,
    round: u8,
) {
    shared.sent_at.borrow_mut().insert(ip, Instant::now());
    if let Some(p) = ping.filter(|_| cfg.methods.icmp) {
        shared.token().await;
        let _ = p.get_ref().send(ip, u16::from(round));
    }
    let deadline = Instant::now() + cfg.timeout.max(Duration::from_millis(200));
    let ex = smol::LocalExecutor::new();
    let mut tasks = Vec::new();
    if cfg.methods.tcp {
        for &port in cfg.ports.iter() {
            shared.token().await;
            let shared = shared.clone();
            tasks.push(ex.spawn(async move {
                let addr = SocketAddrV4::new(ip, port);
                let r = smol::future::or(
                    async { Some(Async::<TcpStream>::connect(addr).await) },
                    async {
                        smol::Timer::at(deadline).await;
                        None
                    },
                )
                .await;
                match r {
                    Some(Ok(_)) => shared.up(ip, Provenance::Tcp(port)),
                    Some(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        shared.up(ip, Provenance::Tcp(port))
                    }
                    _ => {}
                }
            }));
        }
    }
    ex.run(async {
        while Instant::now() < deadline && !shared.is_up(ip) {
            smol::Timer::after(Duration::from_millis(5)).await;
        }
    })
    .await;
    drop(tasks);
}
