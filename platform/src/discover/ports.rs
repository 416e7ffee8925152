//! The services of the live hosts, after discovery: the port sweep of `ksocket-core`
//! ([`ksocket_core::engine::sweep`]) driven over AF_PACKET sockets (every port of the
//! scan's list, and UDP 161), then the banners of the open ports ([`banners`]): the
//! SSH identification line, the HTTP `Server` header.
//!
//! Each host leaves by the interface and next hop of its route in the plan: an
//! on-link host to its own MAC (from its ARP reply or the neighbour table; a host
//! whose MAC is unknown is not swept), a routed one to its gateway's.

use super::plan::Plan;
use super::raw::send;
use crate::sys::packet::PacketSocket;
use ksocket_core::engine::sweep::{Sweep, SweepEvent, SweepStats, Target};
use ksocket_core::engine::{Config, Instant, Via};
use ksocket_core::wire::Link;
use ksocket_proto::records::{Host, OpenPort, PortProto, Provenance};
use smol::Async;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

/// Hosts in flight at once: each holds a bitmap of its ports (a few dozen bytes).
const WINDOW: usize = 256;

/// What the sweep learned beyond the open ports it wrote into the hosts.
#[derive(Debug, Default)]
pub struct Swept {
    /// Hosts whose UDP 161 is closed (ICMP port unreachable from the host itself):
    /// no SNMP agent there. A silent UDP 161 proves nothing (an agent with another
    /// community than the probe's `public` stays silent).
    pub snmp_refused: BTreeSet<Ipv4Addr>,
    /// On-link hosts not swept: their MAC is unknown.
    pub no_mac: u64,
    pub stats: SweepStats,
}

/// Sweeps `ports` (and UDP 161 when `udp161`) on every host of `hosts`, writing each
/// open port into its host; `cancelled` stops it (as `Interrupted`).
pub fn sweep(
    cfg: &Config,
    plan: &Plan,
    socks: Vec<PacketSocket>,
    ports: &[u16],
    udp161: bool,
    hosts: &mut BTreeMap<Ipv4Addr, Host>,
    cancelled: &dyn Fn() -> bool,
) -> io::Result<Swept> {
    let mut sw: Sweep<WINDOW> = Sweep::new(cfg, ports, udp161, &plan.ifaces)
        .map_err(|e| io::Error::other(format!("port sweep setup: {e}")))?;
    let mut out = Swept::default();
    let mut targets = Vec::new();
    for (ip, h) in hosts.iter_mut() {
        let Some(t) = target(plan, *ip, h) else {
            out.no_mac += 1;
            continue;
        };
        // Discovery's SNMP answer already proved UDP 161 open.
        let snmp = h.via.contains(&Provenance::Snmp);
        if snmp {
            add_port(h, PortProto::Udp, 161);
        }
        targets.push((t, snmp));
    }
    smol::block_on(drive(&mut sw, socks, targets, hosts, &mut out, cancelled))?;
    out.stats = *sw.stats();
    for h in hosts.values_mut() {
        h.ports.sort_by_key(|p| (p.proto, p.port));
    }
    Ok(out)
}

/// How `h` at `ip` is reached: its route's interface, and its own MAC on-link or the
/// gateway's. `None`: no route, or an on-link Ethernet host without a known MAC.
fn target(plan: &Plan, ip: Ipv4Addr, h: &Host) -> Option<Target> {
    let r = plan
        .routes
        .iter()
        .filter(|r| r.dst.contains(ip))
        .max_by_key(|r| r.prefix)?;
    let ifc = plan.ifaces.get(usize::from(r.iface))?;
    let mac = match (ifc.link, r.via) {
        (Link::RawIp, _) => [0; 6],
        (Link::Ethernet, Via::Gateway { mac, .. }) => mac,
        (Link::Ethernet, Via::OnLink) => h.mac?.0,
    };
    Some(Target {
        ip,
        iface: r.iface,
        mac,
    })
}

fn add_port(h: &mut Host, proto: PortProto, port: u16) {
    if !h.ports.iter().any(|p| p.proto == proto && p.port == port) {
        h.ports.push(OpenPort {
            proto,
            port,
            banner: None,
            server: None,
        });
    }
}

async fn drive(
    sw: &mut Sweep<WINDOW>,
    socks: Vec<PacketSocket>,
    targets: Vec<(Target, bool)>,
    hosts: &mut BTreeMap<Ipv4Addr, Host>,
    out: &mut Swept,
    cancelled: &dyn Fn() -> bool,
) -> io::Result<()> {
    let socks: Vec<Async<PacketSocket>> = socks
        .into_iter()
        .map(Async::new)
        .collect::<io::Result<_>>()?;
    let started = std::time::Instant::now();
    let now = || Instant::from_nanos(started.elapsed().as_nanos() as u64);
    let mut queue = targets.into_iter().peekable();
    let mut buf = vec![0u8; 2048];
    let mut rbuf = vec![0u8; 65536];
    let mut last_check = std::time::Instant::now();
    loop {
        let t = now();
        while sw.has_room()
            && let Some((target, snmp)) = queue.next()
        {
            // Room was checked and the interface comes from the plan: never refused.
            let _ = sw.push(t, target, &[], snmp);
        }
        while let Some(tx) = sw.poll_transmit(t, &mut buf) {
            send(&socks[usize::from(tx.iface)], &buf[..tx.len]).await?;
        }
        drain(sw, hosts, out);
        if sw.is_finished() && queue.peek().is_none() {
            return Ok(());
        }
        if last_check.elapsed() > Duration::from_millis(200) {
            last_check = std::time::Instant::now();
            if cancelled() {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
            }
        }
        let timer = match sw.poll_timeout() {
            Some(d) => smol::Timer::at(started + Duration::from_nanos(d.as_nanos())),
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
                        sw.handle_rx(now(), i as u8, &rbuf[..n]);
                        drain(sw, hosts, out);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

fn drain(sw: &mut Sweep<WINDOW>, hosts: &mut BTreeMap<Ipv4Addr, Host>, out: &mut Swept) {
    while let Some(e) = sw.poll_event() {
        match e {
            SweepEvent::Tcp {
                ip,
                port,
                open: true,
            } => {
                if let Some(h) = hosts.get_mut(&ip) {
                    add_port(h, PortProto::Tcp, port);
                }
            }
            SweepEvent::Udp161 { ip, open: true } => {
                if let Some(h) = hosts.get_mut(&ip) {
                    add_port(h, PortProto::Udp, 161);
                }
            }
            SweepEvent::Udp161 { ip, open: false } => {
                out.snmp_refused.insert(ip);
            }
            SweepEvent::Tcp { .. } => {}
            SweepEvent::Done { ip, silent, rounds } => {
                log::debug!("host {ip}: ports swept in {rounds} rounds, {silent} filtered");
            }
        }
    }
}

pub mod banners {
    //! The banners of open ports, over the kernel's TCP: the SSH identification line
    //! (RFC 4253 §4.2) of port 22, the `Server` header of an HTTP `HEAD /` on 80 and
    //! 5985. Each read is bounded in bytes and time; what is kept is printable ASCII
    //! only (a hostile banner cannot reach a terminal or a log as control bytes).
    //! TLS ports (443, 5986) are not read.

    use ksocket_proto::records::{Host, PortProto};
    use smol::io::{AsyncReadExt, AsyncWriteExt};
    use std::collections::BTreeMap;
    use std::net::{Ipv4Addr, SocketAddr, TcpStream};
    use std::time::{Duration, Instant};

    /// Connections open at once.
    const AT_ONCE: usize = 128;
    /// Most bytes read from one port.
    const MAX_READ: usize = 4096;
    /// Longest banner kept.
    const MAX_BANNER: usize = 255;

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Kind {
        Ssh,
        Http,
    }

    fn kind(port: u16) -> Option<Kind> {
        match port {
            22 => Some(Kind::Ssh),
            80 | 5985 => Some(Kind::Http),
            _ => None,
        }
    }

    /// Reads the banners of the open ports of `hosts`, each within `per_port`, all
    /// within `total`. Returns how many were read.
    pub fn read(
        hosts: &mut BTreeMap<Ipv4Addr, Host>,
        per_port: Duration,
        total: Duration,
    ) -> usize {
        let jobs: Vec<(Ipv4Addr, u16, Kind)> = hosts
            .iter()
            .flat_map(|(ip, h)| {
                h.ports
                    .iter()
                    .filter(|p| p.proto == PortProto::Tcp)
                    .filter_map(|p| Some((*ip, p.port, kind(p.port)?)))
            })
            .collect();
        if jobs.is_empty() {
            return 0;
        }
        let end = Instant::now() + total;
        let mut found = Vec::new();
        for batch in jobs.chunks(AT_ONCE) {
            let ex = smol::LocalExecutor::new();
            let tasks: Vec<_> = batch
                .iter()
                .map(|&(ip, port, k)| {
                    let deadline = (Instant::now() + per_port).min(end);
                    ex.spawn(async move {
                        let get = fetch(SocketAddr::from((ip, port)), k);
                        let timeout = async {
                            smol::Timer::at(deadline).await;
                            None
                        };
                        (ip, port, k, smol::future::or(get, timeout).await)
                    })
                })
                .collect();
            smol::block_on(ex.run(async {
                for t in tasks {
                    found.push(t.await);
                }
            }));
            if Instant::now() >= end {
                break;
            }
        }
        let mut n = 0;
        for (ip, port, k, text) in found {
            let (Some(text), Some(h)) = (text, hosts.get_mut(&ip)) else {
                continue;
            };
            if let Some(p) = h
                .ports
                .iter_mut()
                .find(|p| p.proto == PortProto::Tcp && p.port == port)
            {
                n += 1;
                match k {
                    Kind::Ssh => p.banner = Some(text),
                    Kind::Http => p.server = Some(text),
                }
            }
        }
        n
    }

    async fn fetch(addr: SocketAddr, k: Kind) -> Option<String> {
        let mut s = smol::Async::<TcpStream>::connect(addr).await.ok()?;
        if k == Kind::Http {
            let req = format!(
                "HEAD / HTTP/1.0\r\nHost: {}\r\nUser-Agent: ksocket\r\nConnection: close\r\n\r\n",
                if addr.port() == 80 {
                    addr.ip().to_string()
                } else {
                    addr.to_string()
                }
            );
            s.write_all(req.as_bytes()).await.ok()?;
        }
        // What the server sent, grown as it comes (a banner or a response head is
        // usually a few hundred bytes; 128 connections at once with a 4 KiB buffer
        // each were a fifth of a scan's peak memory).
        let mut got = Vec::new();
        let mut chunk = [0u8; 512];
        loop {
            let want = chunk.len().min(MAX_READ - got.len());
            let n = s.read(&mut chunk[..want]).await.ok()?;
            got.extend_from_slice(&chunk[..n]);
            let done = match k {
                Kind::Ssh => ssh_banner(&got),
                Kind::Http => http_server(&got),
            };
            if done.is_some() || n == 0 || got.len() == MAX_READ {
                return done;
            }
        }
    }

    /// The SSH identification line among the first complete lines of `data` (a
    /// server may send other lines before it).
    pub fn ssh_banner(data: &[u8]) -> Option<String> {
        // Complete lines only: up to the last newline.
        let end = data.iter().rposition(|b| *b == b'\n')?;
        data[..end]
            .split(|b| *b == b'\n')
            .find(|l| l.starts_with(b"SSH-"))
            .map(clean)
    }

    /// The value of the `Server` header of a complete HTTP response head in `data`.
    pub fn http_server(data: &[u8]) -> Option<String> {
        let end = data
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .or_else(|| data.windows(2).position(|w| w == b"\n\n"))?;
        let head = &data[..end];
        if !head.starts_with(b"HTTP/") {
            return None;
        }
        head.split(|b| *b == b'\n').skip(1).find_map(|l| {
            let colon = l.iter().position(|b| *b == b':')?;
            l[..colon]
                .eq_ignore_ascii_case(b"server")
                .then(|| clean(&l[colon + 1..]))
        })
    }

    /// Printable ASCII only, trimmed, at most [`MAX_BANNER`] characters.
    fn clean(b: &[u8]) -> String {
        let s: String = b
            .iter()
            .filter(|c| (0x20..0x7f).contains(*c))
            .map(|c| char::from(*c))
            .take(MAX_BANNER)
            .collect();
        s.trim().to_string()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn ssh_lines_are_found_complete_and_cleaned() {
            assert_eq!(
                ssh_banner(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n").as_deref(),
                Some("SSH-2.0-OpenSSH_9.2p1 Debian-2")
            );
            assert_eq!(ssh_banner(b"SSH-2.0-partial"), None);
            assert_eq!(
                ssh_banner(b"hello\r\nSSH-2.0-x\x1b[2J\x07y\r\n").as_deref(),
                Some("SSH-2.0-x[2Jy")
            );
            let long = [b"SSH-2.0-".as_slice(), &[b'a'; 1000], b"\n"].concat();
            assert_eq!(ssh_banner(&long).unwrap().len(), MAX_BANNER);
        }

        #[test]
        fn the_server_header_is_read_from_a_complete_head_only() {
            let r = b"HTTP/1.0 200 OK\r\nserver: SimpleHTTP/0.6 Python/3.11.2\r\nDate: x\r\n\r\n";
            assert_eq!(
                http_server(r).as_deref(),
                Some("SimpleHTTP/0.6 Python/3.11.2")
            );
            assert_eq!(http_server(b"HTTP/1.0 200 OK\r\nServer: a"), None);
            assert_eq!(http_server(b"HTTP/1.1 200 OK\r\nX: y\r\n\r\n"), None);
            assert_eq!(http_server(b"SSH-2.0-x\r\n\r\n"), None);
            assert_eq!(
                http_server(b"HTTP/1.1 404 x\nServer: \x00evil\x1b\n\n").as_deref(),
                Some("evil")
            );
        }
    }
}
