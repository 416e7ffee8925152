//! The DNS/mDNS reader: never panics; every record's data lies inside the message,
//! every name read as text is at most 255 bytes, and a reverse name read back is the
//! one the writer makes for that address.
#![no_main]
use ksocket_core::dns::{MAX_NAME, Message, QName, QueryFlags, TYPE_PTR, write_query};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::parse(data) else { return };
    let mut t = [0u8; MAX_NAME];
    if let Some(q) = m.question() {
        let _ = q.name.text(&mut t);
    }
    for r in m.records() {
        let Ok(r) = r else { break };
        assert!(r.rdata.len() <= data.len());
        if let Ok(s) = r.name.text(&mut t) {
            assert!(s.len() <= MAX_NAME);
        }
        if let Some(ip) = r.name.reverse_addr() {
            let mut b = [0u8; 300];
            let n = write_query(&mut b, 0, QName::Reverse(ip), TYPE_PTR, QueryFlags::default())
                .unwrap();
            let back = Message::parse(&b[..n]).unwrap().question().unwrap();
            assert_eq!(back.name.reverse_addr(), Some(ip));
        }
        for n in [r.ptr(), r.srv_target()].into_iter().flatten().flatten() {
            if let Ok(s) = n.text(&mut t) {
                assert!(s.len() <= MAX_NAME);
                let _ = n.is(s);
            }
        }
        let _ = r.addr();
    }
});
