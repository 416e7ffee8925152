//! The engine fed arbitrary frames between transmissions: never panics, never reports
//! a host outside its target set, and always finishes.
#![no_main]
use ksocket_core::addr::AddrSet;
use ksocket_core::engine::{Config, Engine, Event, Iface, Instant, Route, Via};
use ksocket_core::wire::Link;
use core::net::Ipv4Addr;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut set: AddrSet<4> = AddrSet::new();
    set.insert("198.18.0.0/28".parse().unwrap()).unwrap();
    set.insert("198.19.0.0/29".parse().unwrap()).unwrap();
    let targets = set.clone();
    let ifaces = [
        Iface { link: Link::Ethernet, mac: [2, 0, 0, 0, 0, 1], ip: Ipv4Addr::new(198, 18, 0, 1) },
        Iface { link: Link::RawIp, mac: [0; 6], ip: Ipv4Addr::new(198, 19, 9, 1) },
    ];
    let routes = [
        Route { dst: "198.18.0.0/24".parse().unwrap(), prefix: 24, iface: 0, via: Via::OnLink },
        Route { dst: "198.19.0.0/16".parse().unwrap(), prefix: 16, iface: 1, via: Via::OnLink },
    ];
    let cfg = Config { key: 1, sport: 40000, ..Config::default() };
    let Ok(mut eng) = Engine::<4, 16>::new(cfg, &ifaces, &routes, set) else { return };
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
            if let Event::Reply { ip, .. } = e {
                assert!(targets.contains(ip));
            }
        }
        if eng.is_finished() {
            return;
        }
        now = eng.poll_timeout().map_or(now, |t| t.max(now));
    }
    panic!("engine did not finish");
});
