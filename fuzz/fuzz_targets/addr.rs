//! Address parsing and set algebra: never panics; counts, membership and the
//! scattered walk agree with each other.
#![no_main]
use ksocket_core::addr::{AddrSet, Range};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(s) = core::str::from_utf8(data) else { return };
    let mut set: AddrSet<16> = AddrSet::new();
    for (i, part) in s.split(' ').enumerate() {
        let Ok(r) = part.parse::<Range>() else { continue };
        let _ = if i % 3 == 2 { set.remove(r) } else { set.insert(r) };
    }
    if set.len() <= 4096 {
        let mut n = 0u64;
        for a in set.scatter(u64::from(data.len() as u32)) {
            assert!(set.contains(a));
            n += 1;
        }
        assert_eq!(n, set.len());
    }
});
