use super::*;
use crate::channel;
use crate::wire::{Reader, Write};

fn msg(code: u8, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = vec![code];
    f(&mut b);
    b
}

fn out_codes(c: &mut Connection) -> Vec<u8> {
    c.take_outgoing().iter().map(|p| p[0]).collect()
}

fn service_accept() -> Vec<u8> {
    msg(6, |b| b.put_string(b"ssh-userauth"))
}

fn failure(methods: &[&str], partial: bool) -> Vec<u8> {
    msg(51, |b| {
        b.put_name_list(methods.iter().copied());
        b.put_bool(partial);
    })
}

fn authenticated() -> Connection {
    let mut c = Connection::new();
    c.accept_host_key();
    c.auth_none("u").unwrap();
    c.handle(&service_accept()).unwrap();
    c.handle(&[52]).unwrap();
    c.take_outgoing();
    while c.poll().is_some() {}
    c
}

fn open(c: &mut Connection) -> ChannelId {
    let id = c.open_session().unwrap();
    c.take_outgoing();
    c.handle(&msg(91, |b| {
        b.put_u32(id.0);
        b.put_u32(100 + id.0);
        b.put_u32(1000);
        b.put_u32(300);
    }))
    .unwrap();
    assert!(matches!(c.poll(), Some(Event::ChannelOpened(x)) if x == id));
    id
}

#[test]
fn nothing_leaves_before_the_host_key_is_accepted() {
    let mut c = Connection::new();
    assert!(matches!(
        c.auth_password("u", b"pw"),
        Err(ClientError::HostKeyNotAccepted)
    ));
    assert!(matches!(
        c.auth_none("u"),
        Err(ClientError::HostKeyNotAccepted)
    ));
    assert!(c.take_outgoing().is_empty());
    c.accept_host_key();
    c.auth_password("u", b"pw").unwrap();
    // The service request goes first; the password waits for SERVICE_ACCEPT.
    assert_eq!(out_codes(&mut c), [5]);
    c.handle(&service_accept()).unwrap();
    let out = c.take_outgoing();
    assert_eq!(out.len(), 1);
    assert!(out[0].ends_with(b"\0\0\0\x02pw"));
    c.handle(&failure(&["publickey", "password"], false))
        .unwrap();
    match c.poll() {
        Some(Event::Auth(AuthOutcome::Failure {
            methods,
            partial: false,
        })) => {
            assert_eq!(methods, ["publickey", "password"])
        }
        e => panic!("{e:?}"),
    }
    // A method the server does not offer is refused without sending.
    assert!(matches!(
        c.auth_keyboard_interactive("u", b"pw"),
        Err(ClientError::AuthRefused { .. })
    ));
    c.auth_password("u", b"pw2").unwrap();
    assert_eq!(out_codes(&mut c), [50]);
    c.handle(&[52]).unwrap();
    assert!(matches!(c.poll(), Some(Event::Auth(AuthOutcome::Success))));
    assert!(c.is_authenticated());
    assert!(c.auth_none("u").is_err());
    // Debug never shows a password.
    c.auth_methods();
    assert!(!format!("{c:?}").contains("pw"));
}

#[test]
fn keyboard_interactive_rounds() {
    let mut c = Connection::new();
    c.accept_host_key();
    c.auth_keyboard_interactive("u", b"hunter2").unwrap();
    c.handle(&service_accept()).unwrap();
    assert_eq!(out_codes(&mut c), [5, 50]);
    let info = |prompts: &[&str]| {
        msg(60, |b| {
            b.put_string(b"");
            b.put_string(b"");
            b.put_string(b"");
            b.put_u32(prompts.len() as u32);
            for p in prompts {
                b.put_string(p.as_bytes());
                b.put_bool(false);
            }
        })
    };
    c.handle(&info(&["Password: "])).unwrap();
    let out = c.take_outgoing();
    assert!(out[0].ends_with(b"\0\0\0\x01\0\0\0\x07hunter2"));
    c.handle(&info(&[])).unwrap();
    assert_eq!(&c.take_outgoing()[0][..], b"\x3d\0\0\0\0");
    c.handle(&info(&[])).unwrap();
    c.handle(&info(&[])).unwrap();
    assert_eq!(c.take_outgoing().len(), 2);
    // A fifth round: given up.
    c.handle(&info(&[])).unwrap();
    assert!(c.take_outgoing().is_empty());
    assert!(matches!(
        c.poll(),
        Some(Event::Auth(AuthOutcome::Failure { .. }))
    ));
    // Stray rounds afterwards are ignored.
    c.handle(&info(&["Password:"])).unwrap();
    assert!(c.take_outgoing().is_empty());
}

#[test]
fn publickey_tries_the_next_algorithm() {
    let mut c = Connection::new();
    c.accept_host_key();
    c.auth_none("u").unwrap();
    c.handle(&service_accept()).unwrap();
    c.handle(&failure(&["publickey"], false)).unwrap();
    c.take_outgoing();
    while c.poll().is_some() {}
    c.auth_publickey_signed(vec![
        ("rsa-sha2-512", vec![50, 1]),
        ("ssh-rsa", vec![50, 2]),
    ])
    .unwrap();
    assert_eq!(&c.take_outgoing()[0][..], [50, 1]);
    c.handle(&failure(&["publickey"], false)).unwrap();
    assert!(c.poll().is_none());
    assert_eq!(&c.take_outgoing()[0][..], [50, 2]);
    c.handle(&[52]).unwrap();
    assert!(matches!(c.poll(), Some(Event::Auth(AuthOutcome::Success))));
    assert_eq!(c.legacy_used(), ["ssh-rsa (user key signature, SHA-1)"]);
}

#[test]
fn ext_info_banner_and_unexpected_auth_messages() {
    let mut c = Connection::new();
    let mut b = vec![7];
    b.put_u32(1);
    b.put_string(b"server-sig-algs");
    b.put_string(b"rsa-sha2-256");
    c.handle(&b).unwrap();
    assert_eq!(c.server_sig_algs().unwrap(), ["rsa-sha2-256"]);
    c.handle(&msg(53, |b| {
        b.put_string(b"Welcome");
        b.put_string(b"");
    }))
    .unwrap();
    assert!(matches!(c.poll(), Some(Event::Banner(s)) if s == "Welcome"));
    assert!(c.handle(&[52]).is_err());
    assert!(c.handle(&failure(&[], false)).is_err());
    assert!(c.handle(&service_accept()).is_err());
    assert!(c.handle(&[]).is_err());
    // Channel messages before authentication.
    assert!(c.handle(&msg(96, |b| b.put_u32(0))).is_err());
}

#[test]
fn channel_life() {
    let mut c = authenticated();
    let id = open(&mut c);
    c.exec(id, "echo hi").unwrap();
    let out = c.take_outgoing();
    let mut r = Reader::new(&out[0]);
    assert_eq!(r.u8("").unwrap(), 98);
    assert_eq!(r.u32("").unwrap(), 100);
    c.handle(&msg(99, |b| b.put_u32(id.0))).unwrap();
    assert!(matches!(c.poll(), Some(Event::RequestSuccess(_))));
    for _ in 0..2 {
        c.handle(&msg(94, |b| {
            b.put_u32(id.0);
            b.put_string(b"hi\n");
        }))
        .unwrap();
    }
    c.handle(&msg(95, |b| {
        b.put_u32(id.0);
        b.put_u32(1);
        b.put_string(b"err");
    }))
    .unwrap();
    // Data events coalesce.
    assert!(matches!(c.poll(), Some(Event::Data(_))));
    assert!(c.poll().is_none());
    assert_eq!(c.data(id), b"hi\nhi\n");
    assert_eq!(c.ext_data(id), b"err");
    c.consume(id, 3);
    assert_eq!(c.data(id), b"hi\n");
    c.handle(&msg(98, |b| {
        b.put_u32(id.0);
        b.put_string(b"keepalive@openssh.com");
        b.put_bool(true);
    }))
    .unwrap();
    assert_eq!(&c.take_outgoing()[0][..], b"\x64\0\0\0\x64");
    c.handle(&msg(98, |b| {
        b.put_u32(id.0);
        b.put_string(b"exit-status");
        b.put_bool(false);
        b.put_u32(3);
    }))
    .unwrap();
    assert!(matches!(
        c.poll(),
        Some(Event::ExitStatus { status: 3, .. })
    ));
    c.handle(&msg(96, |b| b.put_u32(id.0))).unwrap();
    c.handle(&msg(97, |b| b.put_u32(id.0))).unwrap();
    assert!(matches!(c.poll(), Some(Event::Eof(_))));
    assert!(matches!(c.poll(), Some(Event::Closed(_))));
    assert_eq!(&c.take_outgoing()[0][..], b"\x61\0\0\0\x64");
    // Buffered data stays readable until released; then the slot is free.
    assert_eq!(c.data(id), b"hi\n");
    assert_eq!(c.exit(id).0, Some(3));
    c.close(id);
    assert!(c.take_outgoing().is_empty());
    assert!(matches!(c.data(id), []));
    assert!(c.handle(&msg(96, |b| b.put_u32(id.0))).is_err());
}

#[test]
fn windows_and_packets_on_send() {
    let mut c = authenticated();
    let id = open(&mut c);
    // Window 1000, packets of at most 300.
    assert_eq!(c.send_data(id, &[7; 2000]).unwrap(), 1000);
    let out = c.take_outgoing();
    assert_eq!(out.len(), 4);
    assert_eq!(out[0].len(), 9 + 300);
    assert_eq!(out[3].len(), 9 + 100);
    assert_eq!(c.send_data(id, &[7; 10]).unwrap(), 0);
    c.handle(&msg(93, |b| {
        b.put_u32(id.0);
        b.put_u32(u32::MAX);
    }))
    .unwrap();
    c.handle(&msg(93, |b| {
        b.put_u32(id.0);
        b.put_u32(u32::MAX);
    }))
    .unwrap();
    assert_eq!(c.send_window(id), u32::MAX as usize);
    c.send_eof(id).unwrap();
    assert!(c.send_data(id, b"x").is_err());
}

#[test]
fn window_given_back_as_consumed_and_floods_refused() {
    let mut c = authenticated();
    let id = open(&mut c);
    let chunk = vec![0u8; channel::MAX_PACKET as usize];
    let data = msg(94, |b| {
        b.put_u32(id.0);
        b.put_string(&chunk);
    });
    let n = (channel::WINDOW / channel::MAX_PACKET) as usize;
    for _ in 0..n {
        c.handle(&data).unwrap();
    }
    assert_eq!(c.data(id).len(), channel::WINDOW as usize);
    // The window is full: one more byte is the peer's error.
    let more = msg(94, |b| {
        b.put_u32(id.0);
        b.put_string(b"x");
    });
    let mut c2 = authenticated();
    let id2 = open(&mut c2);
    assert_eq!(id2, id);
    for _ in 0..n {
        c2.handle(&data).unwrap();
    }
    assert!(matches!(c2.handle(&more), Err(ClientError::Protocol(_))));
    // Consuming half gives it back.
    c.consume(id, channel::WINDOW as usize / 2);
    let out = c.take_outgoing();
    assert_eq!(
        &out[0][..],
        channel::window_adjust(100, channel::WINDOW / 2)
    );
    c.handle(&more).unwrap();
}

#[test]
fn global_requests_and_server_opens_refused_and_channel_cap() {
    let mut c = authenticated();
    c.handle(&msg(80, |b| {
        b.put_string(b"keepalive@openssh.com");
        b.put_bool(true);
    }))
    .unwrap();
    c.handle(&msg(80, |b| {
        b.put_string(b"hostkeys-00@openssh.com");
        b.put_bool(false);
        b.put_string(b"blob");
    }))
    .unwrap();
    assert_eq!(out_codes(&mut c), [82]);
    c.handle(&msg(90, |b| {
        b.put_string(b"x11");
        b.put_u32(5);
        b.put_u32(0);
        b.put_u32(0);
    }))
    .unwrap();
    let out = c.take_outgoing();
    let mut r = Reader::new(&out[0]);
    assert_eq!(r.u8("").unwrap(), 92);
    assert_eq!(r.u32("").unwrap(), 5);
    assert_eq!(r.u32("").unwrap(), 1);
    for _ in 0..channel::MAX_CHANNELS {
        c.open_direct_tcpip("127.0.0.1", 22).unwrap();
    }
    assert!(matches!(
        c.open_session(),
        Err(ClientError::TooManyChannels)
    ));
    // An open refused: the event, then the slot is reused after release.
    c.handle(&msg(92, |b| {
        b.put_u32(2);
        b.put_u32(2);
        b.put_string(b"Connection refused");
        b.put_string(b"");
    }))
    .unwrap();
    assert!(matches!(
        c.poll(),
        Some(Event::ChannelOpenFailed {
            channel: ChannelId(2),
            reason: 2,
            ..
        })
    ));
    c.close(ChannelId(2));
    assert_eq!(c.open_session().unwrap(), ChannelId(2));
    // Confirmation for a channel not opening, or unknown.
    assert!(
        c.handle(&msg(91, |b| {
            b.put_u32(200);
            b.put_u32(0);
            b.put_u32(0);
            b.put_u32(0);
        }))
        .is_err()
    );
}
