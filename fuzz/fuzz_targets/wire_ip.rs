//! `wire::parse` on bare IPv4 packets (raw-IP links), ICMP quotes included: never panics.
#![no_main]
use ksocket_core::wire::{Link, Packet, parse};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(f) = parse(Link::RawIp, data) {
        assert!(f.src_mac.is_none() && f.dst_mac.is_none());
        if let Packet::Udp { payload, .. } = f.packet {
            assert!(payload.len() <= data.len());
        }
    }
});
