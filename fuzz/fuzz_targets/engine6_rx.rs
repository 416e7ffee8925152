//! The IPv6 engine fed arbitrary frames between transmissions, on a discovered link
//! and a raw-IP link with routed targets: never panics, never reports a multicast,
//! unspecified or own address, and always finishes.
#![no_main]
use core::net::Ipv6Addr;
use ksocket_core::engine::Instant;
use ksocket_core::engine6::{Config6, Engine6, Event6, Iface6, Range6, Route6, Via6};
use ksocket_core::wire::Link;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let ip = |s: &str| -> Ipv6Addr { s.parse().unwrap() };
    let mut eth = Iface6 {
        link: Link::Ethernet,
        mac: [2, 0, 0, 0, 0, 1],
        link_local: Some(ip("fe80::1")),
        globals: Default::default(),
        discover: true,
    };
    eth.globals.push(ip("2001:2::1")).unwrap();
    let mut tun = Iface6 {
        link: Link::RawIp,
        mac: [0; 6],
        link_local: None,
        globals: Default::default(),
        discover: false,
    };
    tun.globals.push(ip("2001:2:0:9::1")).unwrap();
    let routes = [
        Route6 { dst: ip("2001:2::"), prefix: 64, iface: 0, via: Via6::OnLink },
        Route6 { dst: ip("2001:2:0:8::"), prefix: 63, iface: 1, via: Via6::OnLink },
    ];
    let ranges = [
        Range6::cidr(ip("2001:2::"), 124).unwrap(),
        Range6::cidr(ip("2001:2:0:8::"), 125).unwrap(),
    ];
    let cands = [(ip("fe80::77"), 0u8)];
    let cfg = Config6 { key: 1, sport: 40000, ..Config6::default() };
    let Ok(mut eng) = Engine6::<16>::new(cfg, &[eth, tun], &routes, &ranges, &cands) else {
        return;
    };
    let ours = [ip("fe80::1"), ip("2001:2::1"), ip("2001:2:0:9::1")];
    let mut buf = [0u8; 256];
    let mut now = Instant::from_millis(1);
    let mut chunks = data.split(|&b| b == 0xfe);
    for _ in 0..100_000 {
        while eng.poll_transmit(now, &mut buf).is_some() {}
        if let Some(frame) = chunks.next() {
            let iface = frame.first().copied().unwrap_or(0) & 1;
            eng.handle_rx(now, iface, frame);
        }
        while let Some(e) = eng.poll_event() {
            if let Event6::Seen { ip, .. } = e {
                assert!(!ip.is_multicast() && !ip.is_unspecified() && !ours.contains(&ip));
            }
        }
        if eng.is_finished() {
            return;
        }
        now = eng.poll_timeout().map_or(now, |t| t.max(now));
    }
    panic!("engine did not finish");
});
