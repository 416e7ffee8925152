//! The IPv6 engine driven like the agent drives it, through its public API.
use core::net::Ipv6Addr;
use ksocket_core::engine::Instant;
use ksocket_core::engine6::{Config6, Engine6, Iface6, Range6, Route6, Via6};
use ksocket_core::wire::Link;

fn ip(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// More on-link targets than the ring holds, then routed ones, nobody answering:
/// whenever the engine asks to be polled at a time that has come and then sends
/// nothing, that is a busy loop in the agent. The engine once did so for ever when
/// the next target's ring was full while the other ring had room.
#[test]
fn silent_targets_on_both_rings_finish_without_spinning() {
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
        Route6 {
            dst: ip("2001:2::"),
            prefix: 64,
            iface: 0,
            via: Via6::OnLink,
        },
        Route6 {
            dst: ip("2001:2:0:8::"),
            prefix: 63,
            iface: 1,
            via: Via6::OnLink,
        },
    ];
    let ranges = [
        Range6::cidr(ip("2001:2::"), 124).unwrap(),
        Range6::cidr(ip("2001:2:0:8::"), 125).unwrap(),
    ];
    let cands = [(ip("fe80::77"), 0u8)];
    let cfg = Config6 {
        key: 1,
        sport: 40000,
        ..Config6::default()
    };
    let mut eng = Engine6::<16>::new(cfg, &[eth, tun], &routes, &ranges, &cands).unwrap();
    let mut buf = [0u8; 256];
    let mut now = Instant::from_millis(1);
    let mut idle_polls = 0;
    let mut done = 0;
    for _ in 0..10_000 {
        let mut sent = 0;
        while eng.poll_transmit(now, &mut buf).is_some() {
            sent += 1;
        }
        while let Some(e) = eng.poll_event() {
            if matches!(e, ksocket_core::engine6::Event6::Done { .. }) {
                done += 1;
            }
        }
        if eng.is_finished() {
            assert_eq!(done, 16 + 8 + 1, "every target and candidate is done once");
            return;
        }
        let next = eng
            .poll_timeout()
            .expect("an unfinished engine has a deadline");
        if sent == 0 && next <= now {
            idle_polls += 1;
            assert!(
                idle_polls < 3,
                "asked to poll at {next:?} (now {now:?}) and sent nothing"
            );
        } else {
            idle_polls = 0;
        }
        now = next.max(now);
    }
    panic!("the engine did not finish in 10,000 polls");
}
