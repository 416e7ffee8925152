//! One connection to the controller, from hello to its end: the welcome and its
//! cursors, operations in, spooled results out (resent until acknowledged),
//! cancels, heartbeats. `run` (mod.rs) calls it again after each reconnection.

use super::operations::Event;
use super::{State, dial, hello, secs};
use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use ksocket_proto::messages::{self, AgentMessage, Close, ControllerMessage, DecodeError};
use smol::stream::StreamExt;
use std::time::{Duration, Instant};

/// How a connection ended.
#[derive(Debug)]
pub(super) enum End {
    /// The controller closed it, with this code and reason.
    Closed(u16, String),
    /// It broke, or a timeout said it is dead.
    Lost(String),
}

enum Ev {
    Frame(Option<Result<Message, async_tungstenite::tungstenite::Error>>),
    Op(Event),
    Tick,
}

pub(super) type Sender = async_tungstenite::WebSocketSender<dial::Conn>;

/// How long one frame may take to leave (a peer that stops reading, or a link that
/// died without a reset, must not hold the connection's loop forever).
const SEND_LIMIT: Duration = Duration::from_secs(30);

pub(super) async fn send(tx: &mut Sender, m: &AgentMessage) -> Result<(), End> {
    send_text(
        tx,
        String::from_utf8(messages::encode(m)).unwrap_or_default(),
    )
    .await
}

async fn send_text(tx: &mut Sender, text: String) -> Result<(), End> {
    smol::future::or(
        async {
            tx.send(Message::text(text))
                .await
                .map_err(|e| End::Lost(format!("sending: {e}")))
        },
        async {
            smol::Timer::after(SEND_LIMIT).await;
            Err(End::Lost(format!(
                "sending: no progress in {} s (the controller stopped reading)",
                SEND_LIMIT.as_secs()
            )))
        },
    )
    .await
}

async fn close(tx: &mut Sender, c: Close, why: &str) {
    let f = CloseFrame {
        code: CloseCode::from(c.code()),
        reason: why.to_string().into(),
    };
    let _ = smol::future::or(async { tx.close(Some(f)).await.map(|_| ()) }, async {
        smol::Timer::after(Duration::from_secs(2)).await;
        Ok(())
    })
    .await;
}

pub(super) fn closed(f: Option<CloseFrame>) -> End {
    match f {
        Some(f) => End::Closed(u16::from(f.code), f.reason.to_string()),
        None => End::Closed(1005, "no reason given".into()),
    }
}

/// One connection: hello, welcome, then operations, results and heartbeats until it
/// ends.
pub(super) async fn session(st: &mut State, ws: dial::Ws) -> End {
    let k = st.config.connect.clone();
    let (mut tx, mut rx) = ws.split();
    let hello = hello(&st.config, &st.instance, &st.shared.spool());
    if let Err(e) = send(&mut tx, &hello).await {
        return e;
    }
    // The welcome, within requestTimeout.
    let deadline = Instant::now() + secs(k.request_timeout);
    let welcome = loop {
        let f = smol::future::or(async { Some(rx.next().await) }, async {
            smol::Timer::at(deadline).await;
            None
        })
        .await;
        match f {
            None => return End::Lost("no welcome within connect.requestTimeout".into()),
            Some(None) => return End::Lost("closed before the welcome".into()),
            Some(Some(Err(e))) => return End::Lost(e.to_string()),
            Some(Some(Ok(Message::Close(f)))) => return closed(f),
            Some(Some(Ok(Message::Text(t)))) => {
                match messages::decode::<ControllerMessage>(t.as_bytes()) {
                    Ok(ControllerMessage::Welcome {
                        stored, protocol, ..
                    }) => break (stored, protocol),
                    Ok(_) => {}
                    Err(e) => {
                        close(&mut tx, Close::Protocol, "not a welcome").await;
                        return End::Lost(format!("the controller's answer: {e}"));
                    }
                }
            }
            Some(Some(Ok(_))) => {}
        }
    };
    {
        let mut sp = st.shared.spool();
        for c in &welcome.0 {
            if let Err(e) = sp.ack(&c.op, c.last_seq) {
                log::warn!("spool: {e}");
            }
        }
        sp.unsend_all();
    }
    st.shared.space.notify_all();
    log::info!(
        "connected (protocol {}), {} result messages to send, {} operations queued, {} running",
        welcome.1,
        st.shared.spool().pending(),
        st.ops.load().0,
        st.ops.load().1
    );
    let hb_every = secs(k.heartbeat_interval);
    let hb_timeout = secs(k.heartbeat_timeout);
    let req_timeout = secs(k.request_timeout);
    let mut hb_seq = 0u64;
    let mut hb_next = Instant::now() + hb_every;
    let mut hb_waiting: Option<Instant> = None;
    let mut resends = 0u32;
    loop {
        // Send what the spool holds and this connection has not carried yet.
        loop {
            let next = st.shared.spool().next_unsent();
            match next {
                Ok(Some((_, _, bytes))) => {
                    let text = String::from_utf8(bytes).unwrap_or_default();
                    if let Err(e) = send_text(&mut tx, text).await {
                        return e;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    log::error!("spool: cannot read a message: {e}");
                    break;
                }
            }
        }
        let tick = Instant::now() + Duration::from_millis(500);
        let ev = smol::future::or(
            async { Ev::Frame(rx.next().await) },
            smol::future::or(
                async {
                    match st.events.recv().await {
                        Ok(e) => Ev::Op(e),
                        Err(_) => Ev::Tick,
                    }
                },
                async {
                    smol::Timer::at(tick).await;
                    Ev::Tick
                },
            ),
        )
        .await;
        match ev {
            Ev::Frame(None) => return End::Lost("the controller closed the connection".into()),
            Ev::Frame(Some(Err(e))) => return End::Lost(e.to_string()),
            Ev::Frame(Some(Ok(Message::Close(f)))) => return closed(f),
            Ev::Frame(Some(Ok(Message::Text(t)))) => {
                match messages::decode::<ControllerMessage>(t.as_bytes()) {
                    Ok(m) => {
                        if let Some(reply) = handle(st, m, &mut hb_waiting)
                            && let Err(e) = send(&mut tx, &reply).await
                        {
                            return e;
                        }
                    }
                    Err(e) => {
                        let c = match e {
                            DecodeError::TooBig(_) => Close::TooBig,
                            DecodeError::Invalid(_) => Close::Protocol,
                        };
                        close(&mut tx, c, "a message was not understood").await;
                        return End::Lost(format!("the controller sent {e}"));
                    }
                }
            }
            Ev::Frame(Some(Ok(Message::Binary(_)))) => {
                close(&mut tx, Close::Protocol, "binary frames are not spoken").await;
                return End::Lost("the controller sent a binary frame".into());
            }
            Ev::Frame(Some(Ok(_))) => {}
            Ev::Op(Event::Spooled) => {}
            Ev::Op(Event::Progress(m)) => {
                if let Err(e) = send(&mut tx, &m).await {
                    return e;
                }
            }
            Ev::Op(Event::Finished(id)) => {
                st.ops.finished(&id);
                st.ops.start_next(&st.shared, &st.config);
            }
            Ev::Tick => {}
        }
        let now = Instant::now();
        if let Some(t) = hb_waiting
            && now - t > hb_timeout
        {
            return End::Lost(format!(
                "no heartbeat answer within {:.0} s (connect.heartbeatTimeout)",
                hb_timeout.as_secs_f64()
            ));
        }
        if now >= hb_next {
            hb_seq += 1;
            hb_next = now + hb_every;
            if hb_waiting.is_none() {
                hb_waiting = Some(now);
            }
            if let Err(e) = send(&mut tx, &AgentMessage::Heartbeat { seq: hb_seq }).await {
                return e;
            }
        }
        let oldest = st.shared.spool().oldest_in_flight();
        if oldest.is_some_and(|t| now - t > req_timeout) {
            resends += 1;
            if resends > k.request_retries {
                return End::Lost(format!(
                    "results not acknowledged after {} resends (connect.requestRetries)",
                    k.request_retries
                ));
            }
            log::warn!("results not acknowledged within connect.requestTimeout: sending again");
            st.shared.spool().unsend_all();
        }
    }
}

/// One message of the controller; the answer to send, if any.
fn handle(
    st: &mut State,
    m: ControllerMessage,
    hb_waiting: &mut Option<Instant>,
) -> Option<AgentMessage> {
    match m {
        ControllerMessage::Operation { id, operation } => {
            if id.is_empty() || id.len() > 128 {
                return Some(AgentMessage::Refused {
                    op: id.chars().take(128).collect(),
                    error: ksocket_proto::records::CollectError {
                        kind: ksocket_proto::records::ErrorKind::Failed,
                        message: "an operation id is 1 to 128 characters".into(),
                    },
                });
            }
            st.ops.receive(&id, &operation, &st.shared, &st.config)
        }
        ControllerMessage::Cancel { op } => {
            st.ops.cancel(&op, &st.shared);
            None
        }
        ControllerMessage::Ack { op, seq } => {
            if let Err(e) = st.shared.spool().ack(&op, seq) {
                log::warn!("spool: {e}");
            }
            st.shared.space.notify_all();
            None
        }
        ControllerMessage::Heartbeat { .. } => {
            *hb_waiting = None;
            None
        }
        ControllerMessage::Welcome { .. } => None,
    }
}
