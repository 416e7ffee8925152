//! The lenient SNMP request-id reader: never panics; agrees with the probe it wrote.
#![no_main]
use ksocket_core::wire::{snmp_probe, snmp_request_id};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = snmp_request_id(data);
    if data.len() >= 4 {
        let id = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        assert_eq!(snmp_request_id(&snmp_probe(id)), Some(id & 0x7fff_ffff));
    }
});
