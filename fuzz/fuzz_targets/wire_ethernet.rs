//! `wire::parse` and `wire6::parse` on Ethernet frames: never panic; what they classify
//! re-parses the same.
#![no_main]
use ksocket_core::wire::{Link, parse};
use ksocket_core::wire6;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(f) = parse(Link::Ethernet, data) {
        assert_eq!(parse(Link::Ethernet, data), Ok(f));
    }
    if let Ok(f) = wire6::parse(Link::Ethernet, data) {
        assert_eq!(wire6::parse(Link::Ethernet, data), Ok(f));
        assert!(f.src_mac.is_some());
    }
});
