//! The NetBIOS node status reader: never panics, and the names it picks are entries of
//! the table, printable.
#![no_main]
use ksocket_core::netbios::NodeStatus;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(st) = NodeStatus::parse(data) else { return };
    assert!(st.entries().count() <= 255);
    for e in [st.workstation(), st.group()].into_iter().flatten() {
        let t = e.text().unwrap();
        assert!(!t.is_empty() && t.len() <= 15);
    }
});
