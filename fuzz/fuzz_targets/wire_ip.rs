//! `wire::parse` and `wire6::parse` on bare IP packets (raw-IP links), ICMP quotes and
//! IPv6 extension headers included: never panic.
#![no_main]
use ksocket_core::wire::{Link, Packet, parse};
use ksocket_core::wire6;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(f) = parse(Link::RawIp, data) {
        assert!(f.src_mac.is_none() && f.dst_mac.is_none());
        if let Packet::Udp { payload, .. } = f.packet {
            assert!(payload.len() <= data.len());
        }
    }
    if let Ok(f) = wire6::parse(Link::RawIp, data) {
        assert!(f.src_mac.is_none() && f.dst_mac.is_none());
    }
});
