//! `wire::parse` on Ethernet frames: never panics; what it classifies re-parses the same.
#![no_main]
use ksocket_core::wire::{Link, parse};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(f) = parse(Link::Ethernet, data) {
        assert_eq!(parse(Link::Ethernet, data), Ok(f));
    }
});
