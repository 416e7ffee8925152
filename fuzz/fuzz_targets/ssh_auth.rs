//! The SSH connection layer on hostile payloads: the authentication and channel
//! parsers never panic on any bytes; a `Connection` fed any sequence of payloads (each
//! preceded by one control byte and a 16-bit length, that picks what the caller does next: start an
//! authentication, open a channel, send, consume, close) never panics, never buffers
//! more than its windows allow, and never sends a data packet larger than allowed.
#![no_main]
use ksocket_ssh::channel::{self, ChannelId};
use ksocket_ssh::client::Connection;
use ksocket_ssh::{auth, wire::Reader};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = auth::parse_service_accept(data);
    let _ = auth::parse_failure(data);
    let _ = auth::parse_banner(data);
    let _ = auth::parse_info_request(data);
    let _ = auth::parse_ext_info(data);
    let _ = channel::parse(data);

    let mut c = Connection::new();
    c.accept_host_key();
    let mut r = Reader::new(data);
    while let (Ok(ctl), Ok(len)) = (r.u8("ctl"), r.bytes(2, "len")) {
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let Ok(p) = r.bytes(len.min(r.rest().len()), "payload") else {
            break;
        };
        let id = ChannelId(u32::from(ctl >> 5));
        match ctl & 7 {
            0 => drop(c.auth_none("u")),
            1 => drop(c.auth_password("u", b"pw")),
            2 => drop(c.auth_keyboard_interactive("u", b"pw")),
            3 => drop(
                c.auth_publickey_signed(vec![("rsa-sha2-512", vec![50]), ("ssh-rsa", vec![50])]),
            ),
            4 => drop(c.open_session().map(|id| c.exec(id, "true"))),
            5 => drop(c.send_data(id, &[0; 40_000])),
            6 => {
                let n = c.data(id).len() / 2 + 1;
                c.consume(id, n);
                c.consume_ext(id, n);
            }
            _ => c.close(id),
        }
        if c.handle(p).is_err() {
            break;
        }
        for m in c.take_outgoing() {
            if m[0] == channel::MSG_CHANNEL_DATA {
                assert!(m.len() <= 9 + channel::MAX_PACKET as usize);
            }
        }
        while c.poll().is_some() {}
        for i in 0..channel::MAX_CHANNELS as u32 {
            let id = ChannelId(i);
            assert!(c.data(id).len() + c.ext_data(id).len() <= channel::WINDOW as usize);
        }
    }
});
