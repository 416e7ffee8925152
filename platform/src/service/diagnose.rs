//! `ksocket diagnostics connect` and `authenticate`: the service's own steps of
//! connecting (endpoint, proxy, DNS, TCP or TLS, WebSocket, hello), each checked in
//! turn and reported as a line of the diagnosis.

use super::session::{End, Sender, closed, send};
use super::spool::Spool;
use super::{dial, hello, instance_id, secs};
use crate::config::Config;
use crate::config::connect::{Endpoint, Proxy};
use crate::diagnostics::local::Check;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use ksocket_proto::messages::{self, ControllerMessage};
use smol::stream::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// `diagnostics connect` and `authenticate`: the steps of connecting, each with its
/// outcome; `authenticate` also says hello (as a distinct instance, so that a running
/// agent keeps its slot and the check fails while it holds it, as spec §4 says).
pub fn diagnose(config: &Config, authenticate: bool) -> Vec<Check> {
    use crate::diagnostics::local::Outcome;
    let k = &config.connect;
    let mut out = Vec::new();
    let mut push = |what: &str, o: Outcome| {
        out.push(Check {
            what: what.into(),
            outcome: o,
        })
    };
    let ep = match Endpoint::of(k) {
        Ok(e) => e,
        Err(e) => {
            push("Endpoint", Outcome::Ng(e));
            return out;
        }
    };
    let limit = secs(k.request_timeout.min(30.0));
    let proxy = match Proxy::for_endpoint(k, &ep) {
        Ok(p) => p,
        Err(e) => {
            push("Proxy", Outcome::Ng(e));
            return out;
        }
    };
    let timed = |f| {
        smol::block_on(smol::future::or(f, async {
            smol::Timer::after(limit).await;
            Err(dial::DialError::Timeout(limit))
        }))
    };
    let (host, port) = match &proxy {
        Some(p) => (p.host.clone(), p.port),
        None => (ep.host.clone(), ep.port),
    };
    match timed(Box::pin(async { dial::resolve(&host, port).await })) {
        Ok(v) => push(
            &format!("Resolve DNS forward lookup ({host})"),
            Outcome::Ok(
                v.iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ),
        Err(e) => {
            push(
                &format!("Resolve DNS forward lookup ({host})"),
                Outcome::Ng(e.to_string()),
            );
            return out;
        }
    }
    let tls = if ep.tls {
        match dial::tls_config(k) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                push("TLS configuration", Outcome::Ng(e));
                return out;
            }
        }
    } else {
        None
    };
    let via = proxy
        .as_ref()
        .map_or(String::new(), |p| format!(" via {}:{}", p.host, p.port));
    let conn = smol::block_on(smol::future::or(
        async { dial::stream(&ep, proxy.as_ref(), tls).await.map(Some) },
        async {
            smol::Timer::after(limit).await;
            Err(dial::DialError::Timeout(limit))
        },
    ));
    let conn = match conn {
        Ok(Some(c)) => {
            push(
                &format!(
                    "Establish {} connection ({}:{}{via})",
                    if ep.tls { "TLS" } else { "TCP" },
                    ep.host,
                    ep.port
                ),
                Outcome::Ok(String::new()),
            );
            c
        }
        Ok(None) => return out,
        Err(e) => {
            push(
                &format!("Establish connection ({}:{}{via})", ep.host, ep.port),
                Outcome::Ng(e.to_string()),
            );
            return out;
        }
    };
    let token = k.token.expose().to_string();
    let ws = smol::block_on(smol::future::or(
        async { dial::websocket(&ep, conn, &token).await.map(Some) },
        async {
            smol::Timer::after(limit).await;
            Err(dial::DialError::Timeout(limit))
        },
    ));
    let ws = match ws {
        Ok(Some(w)) => {
            push("Establish websocket", Outcome::Ok(ep.url()));
            w
        }
        Ok(None) => return out,
        Err(e) => {
            push("Establish websocket", Outcome::Ng(e.to_string()));
            return out;
        }
    };
    let (mut tx, mut rx) = ws.split();
    if !authenticate {
        smol::block_on(close_normal(&mut tx));
        return out;
    }
    let instance = match instance_id() {
        Ok(i) => format!("{i}-diagnostics"),
        Err(e) => {
            push(
                "Complete authentication",
                Outcome::Ng(format!("instance id: {e}")),
            );
            return out;
        }
    };
    let spool = Spool::memory(1 << 20);
    let h = hello(config, &instance, &spool);
    let r: Result<String, String> = smol::block_on(smol::future::or(
        async {
            send(&mut tx, &h).await.map_err(|e| format!("{e:?}"))?;
            loop {
                match rx.next().await {
                    None => return Err("the controller closed the connection".into()),
                    Some(Err(e)) => return Err(e.to_string()),
                    Some(Ok(Message::Close(f))) => {
                        return Err(match closed(f) {
                            End::Closed(c, why) => format!("refused ({c}): {why}"),
                            End::Lost(w) => w,
                        });
                    }
                    Some(Ok(Message::Text(t))) => {
                        if let Ok(ControllerMessage::Welcome { protocol, .. }) =
                            messages::decode::<ControllerMessage>(t.as_bytes())
                        {
                            return Ok(format!("protocol {protocol}"));
                        }
                    }
                    Some(Ok(_)) => {}
                }
            }
        },
        async {
            smol::Timer::after(limit).await;
            Err(format!("no answer within {} s", limit.as_secs()))
        },
    ));
    match r {
        Ok(d) => {
            smol::block_on(close_normal(&mut tx));
            push("Complete authentication", Outcome::Ok(d));
        }
        Err(e) => push("Complete authentication", Outcome::Ng(e)),
    }
    out
}

async fn close_normal(tx: &mut Sender) {
    let f = CloseFrame {
        code: CloseCode::Normal,
        reason: "diagnostics done".into(),
    };
    let _ = smol::future::or(async { tx.close(Some(f)).await.map(|_| ()) }, async {
        smol::Timer::after(Duration::from_secs(2)).await;
        Ok(())
    })
    .await;
}
