//! The port sweep fed arbitrary frames between transmissions: never panics, never
//! reports a host it was not given, never more than its window in flight, and always
//! finishes.
#![no_main]
use core::net::Ipv4Addr;
use ksocket_core::engine::sweep::{Sweep, SweepEvent, Target};
use ksocket_core::engine::{Config, Iface, Instant, TOP100};
use ksocket_core::wire::Link;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let ifaces = [
        Iface { link: Link::Ethernet, mac: [2, 0, 0, 0, 0, 1], ip: Ipv4Addr::new(198, 18, 0, 1) },
        Iface { link: Link::RawIp, mac: [0; 6], ip: Ipv4Addr::new(198, 19, 9, 1) },
    ];
    let cfg = Config { key: 1, sport: 40000, ..Config::default() };
    let ports: &[u16] = if data.first().is_some_and(|b| b & 1 == 1) { &TOP100 } else { &[22, 80, 443] };
    let Ok(mut sw) = Sweep::<4>::new(&cfg, ports, true, &ifaces) else { return };
    let hosts: Vec<Target> = (2..12u8)
        .map(|n| Target { ip: Ipv4Addr::new(198, 18, 0, n), iface: n & 1, mac: [2, 0, 0, 0, 0, n] })
        .collect();
    let mut queue = hosts.iter().copied();
    let mut pending: Option<Target> = None;
    let mut buf = [0u8; 256];
    let mut now = Instant::from_millis(1);
    let mut chunks = data.split(|&b| b == 0xfe);
    for _ in 0..100_000 {
        while let Some(t) = pending.take().or_else(|| queue.next()) {
            if let Err(t) = sw.push(now, t, &[80], false) {
                pending = Some(t);
                break;
            }
        }
        while sw.poll_transmit(now, &mut buf).is_some() {}
        if let Some(frame) = chunks.next() {
            let iface = frame.first().copied().unwrap_or(0) & 1;
            sw.handle_rx(now, iface, frame);
        }
        while let Some(e) = sw.poll_event() {
            match e {
                SweepEvent::Tcp { ip, .. } | SweepEvent::Udp161 { ip, .. } | SweepEvent::Done { ip, .. } => {
                    assert!(hosts.iter().any(|h| h.ip == ip), "unknown host {ip}")
                }
            }
        }
        if sw.is_finished() && pending.is_none() && queue.len() == 0 {
            return;
        }
        now = sw.poll_timeout().map_or(now, |t| t.max(now));
    }
    panic!("sweep did not finish");
});
