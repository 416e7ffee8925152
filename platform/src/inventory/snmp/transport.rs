//! The UDP socket every SNMP client of a thread shares, and how answers find the
//! request that waits for them.

use smol::Async;
use smol::channel::Sender;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;
use std::time::Instant;

use super::{Error, Target};
use ksocket_core::snmp::{Message, V3Message};

/// Who waits for the answer from (address, request-id or msgID).
type Waiting = HashMap<(SocketAddr, i64), Sender<Vec<u8>>>;

/// One UDP socket shared by every [`Client`] made from it, on one thread (smol): each
/// datagram goes to the request waiting for its source address and request-id
/// (v1/v2c) or msgID (v3); datagrams nobody waits for are dropped. There is no
/// receiver task: whichever request is waiting reads what arrived and hands each
/// datagram on. Each client has one request in flight, so the number of clients bounds
/// what is in flight.
pub struct Transport {
    sock: Async<UdpSocket>,
    waiting: RefCell<Waiting>,
    next_id: Cell<i32>,
}

impl Transport {
    pub fn new() -> io::Result<Rc<Transport>> {
        Ok(Rc::new(Transport {
            sock: Async::<UdpSocket>::bind(([0, 0, 0, 0], 0))?,
            waiting: RefCell::new(HashMap::new()),
            next_id: Cell::new((crate::sys::random::u64() & 0x3fff_ffff) as i32 + 1),
        }))
    }

    pub(super) fn next_id(&self) -> i32 {
        let n = self.next_id.get().wrapping_add(1) & 0x7fff_ffff;
        self.next_id.set(n);
        n
    }

    /// Reads every datagram queued on the socket and hands each to its waiter.
    fn route(&self, buf: &mut [u8]) {
        while let Ok((n, from)) = self.sock.get_ref().recv_from(buf) {
            let d = &buf[..n];
            let id = match Message::decode(d) {
                Ok(m) => Some(i64::from(m.pdu.request_id)),
                Err(_) => V3Message::decode(d).ok().map(|m| m.msg_id),
            };
            let waiting = self.waiting.borrow();
            match id {
                Some(id) => {
                    if let Some(tx) = waiting.get(&(from, id)) {
                        let _ = tx.try_send(d.to_vec());
                    }
                }
                // Not SNMP: every request waiting on that agent hears of it (an empty
                // datagram), so that a timeout can say the agent is there.
                None => {
                    for (_, tx) in waiting.iter().filter(|((a, _), _)| *a == from) {
                        let _ = tx.try_send(Vec::new());
                    }
                }
            }
        }
    }

    /// Sends `msg` (whose answer carries `id`) and waits for a datagram from the
    /// target that `accept` takes. On a timeout it goes on listening `retry_interval`
    /// (a late answer still counts), then sends again, `retries` times.
    pub(super) async fn exchange(
        &self,
        t: &Target,
        msg: &[u8],
        id: i64,
        accept: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<u8>, Error> {
        let (tx, rx) = smol::channel::unbounded();
        let key = (t.addr, id);
        self.waiting.borrow_mut().insert(key, tx);
        let mut buf = vec![0u8; 65535];
        // Datagrams from the agent that were not the answer.
        let mut other = 0usize;
        let r = async {
            for attempt in 0..=t.retries {
                self.sock.send_to(msg, t.addr).await.map_err(Error::Io)?;
                let wait = if attempt < t.retries {
                    t.timeout + t.retry_interval
                } else {
                    t.timeout
                };
                let deadline = Instant::now() + wait;
                loop {
                    if let Ok(d) = rx.try_recv() {
                        if accept(&d) {
                            return Ok(d);
                        }
                        other += 1;
                        continue;
                    }
                    if Instant::now() >= deadline {
                        break;
                    }
                    // An answer handed on by another request, one to read ourselves, or
                    // the end of this try.
                    let got = smol::future::or(
                        async { rx.recv().await.ok() },
                        smol::future::or(
                            async {
                                let _ = self.sock.readable().await;
                                self.route(&mut buf);
                                None
                            },
                            async {
                                smol::Timer::at(deadline).await;
                                None
                            },
                        ),
                    )
                    .await;
                    match got {
                        Some(d) if accept(&d) => return Ok(d),
                        Some(_) => other += 1,
                        None => {}
                    }
                }
            }
            Err(if other > 0 {
                Error::NotSnmp(other)
            } else {
                Error::Timeout
            })
        }
        .await;
        self.waiting.borrow_mut().remove(&key);
        r
    }
}
