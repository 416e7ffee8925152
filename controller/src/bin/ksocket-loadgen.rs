//! `ksocket-loadgen`: many fake agents against one controller, for the benchmark
//! (bench/controller-agents.sh). Each connection says hello with its own token and
//! instance, then sends a heartbeat every `--interval` seconds until `--duration` is
//! over, and refuses any operation it is sent. Loopback use only: it connects to the
//! URL it is given, nothing else, and stops by itself.

use futures_util::{SinkExt, StreamExt};
use ksocket_proto::messages::{
    AgentInfo, AgentMessage, ControllerMessage, PROTOCOL, decode, encode,
};
use ksocket_proto::records::{CollectError, ErrorKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Default)]
struct Stats {
    connected: AtomicU64,
    welcomed: AtomicU64,
    heartbeats_sent: AtomicU64,
    heartbeats_answered: AtomicU64,
    failed: AtomicU64,
    closed_by_controller: AtomicU64,
}

struct Args {
    url: String,
    tokens: Vec<String>,
    interval: u64,
    duration: u64,
    ramp: u64,
}

fn usage() -> ! {
    eprintln!(
        "usage: ksocket-loadgen --url ws://127.0.0.1:PORT/api/ksocket/connect --tokens FILE \
         [--agents N] [--interval SECS] [--duration SECS] [--ramp CONNECTIONS_PER_SEC]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let mut url = None;
    let mut file = None;
    let mut agents = None;
    let mut interval = 5;
    let mut duration = 60;
    let mut ramp = 200;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        let num = |v: String| v.parse::<u64>().unwrap_or_else(|_| usage());
        match a.as_str() {
            "--url" => url = Some(val()),
            "--tokens" => file = Some(val()),
            "--agents" => agents = Some(num(val())),
            "--interval" => interval = num(val()),
            "--duration" => duration = num(val()),
            "--ramp" => ramp = num(val()),
            _ => usage(),
        }
    }
    let (Some(url), Some(file)) = (url, file) else {
        usage()
    };
    if !url.starts_with("ws://127.") && !url.starts_with("ws://localhost") {
        eprintln!("ksocket-loadgen: only a plain ws:// URL on the loopback is accepted");
        std::process::exit(2);
    }
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        eprintln!("ksocket-loadgen: {file}: {e}");
        std::process::exit(2)
    });
    let mut tokens: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(n) = agents {
        tokens.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    }
    Args {
        url,
        tokens,
        interval: interval.clamp(1, 3600),
        duration: duration.clamp(1, 24 * 3600),
        ramp: ramp.clamp(1, 100_000),
    }
}

async fn agent(
    i: usize,
    url: String,
    token: String,
    interval: Duration,
    until: tokio::time::Instant,
    stats: Arc<Stats>,
) -> Result<(), String> {
    let mut req = url
        .as_str()
        .into_client_request()
        .map_err(|e| e.to_string())?;
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {token}").parse().map_err(|_| "header")?,
    );
    drop(token);
    let hostport = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .ok_or("url")?
        .to_string();
    let tcp = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(hostport))
        .await
        .map_err(|_| "connect timeout")?
        .map_err(|e| e.to_string())?;
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::client_async(req, tcp),
    )
    .await
    .map_err(|_| "handshake timeout")?
    .map_err(|e| e.to_string())?;
    stats.connected.fetch_add(1, Ordering::Relaxed);
    let send =
        |m: &AgentMessage| Message::Text(String::from_utf8(encode(m)).unwrap_or_default().into());
    ws.send(send(&AgentMessage::Hello {
        protocol: PROTOCOL,
        agent: AgentInfo {
            name: format!("load-{i}"),
            version: "loadgen".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            instance: format!("loadgen-{i}"),
        },
        capabilities: vec!["scan".into()],
        unacknowledged: vec![],
    }))
    .await
    .map_err(|e| e.to_string())?;
    // Heartbeats spread over the interval.
    let offset = interval.mul_f64((i % 97) as f64 / 97.0);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, interval);
    let mut seq = 0u64;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => break,
            _ = tick.tick() => {
                seq += 1;
                ws.send(send(&AgentMessage::Heartbeat { seq })).await.map_err(|e| e.to_string())?;
                stats.heartbeats_sent.fetch_add(1, Ordering::Relaxed);
            }
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => match decode::<ControllerMessage>(t.as_bytes()) {
                    Ok(ControllerMessage::Welcome { .. }) => {
                        stats.welcomed.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(ControllerMessage::Heartbeat { .. }) => {
                        stats.heartbeats_answered.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(ControllerMessage::Operation { id, .. }) => {
                        ws.send(send(&AgentMessage::Refused {
                            op: id,
                            error: CollectError { kind: ErrorKind::Refused, message: "a load generator".into() },
                        })).await.map_err(|e| e.to_string())?;
                    }
                    Ok(_) => {}
                    Err(e) => return Err(format!("bad message: {e}")),
                },
                Some(Ok(Message::Close(f))) => {
                    stats.closed_by_controller.fetch_add(1, Ordering::Relaxed);
                    return Err(format!("closed by the controller: {f:?}"));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("connection ended".into()),
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), ws.close(None)).await;
    Ok(())
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let stats = Arc::new(Stats::default());
        let start = tokio::time::Instant::now();
        let n = a.tokens.len();
        let ramp_time = Duration::from_secs_f64(n as f64 / a.ramp as f64);
        let until = start + ramp_time + Duration::from_secs(a.duration);
        println!(
            "loadgen: {n} agents, heartbeat every {} s, {} s after a ramp of {:.1} s",
            a.interval,
            a.duration,
            ramp_time.as_secs_f64()
        );
        let slack = Duration::from_secs(a.duration + n as u64 / a.ramp + 35);
        let mut tasks = Vec::with_capacity(n);
        let gap = Duration::from_secs_f64(1.0 / a.ramp as f64);
        for (i, t) in a.tokens.into_iter().enumerate() {
            let s = stats.clone();
            let url = a.url.clone();
            let iv = Duration::from_secs(a.interval);
            tasks.push(tokio::spawn(async move {
                if let Err(e) = agent(i, url, t, iv, until, s.clone()).await {
                    s.failed.fetch_add(1, Ordering::Relaxed);
                    if s.failed.load(Ordering::Relaxed) <= 5 {
                        eprintln!("loadgen: agent {i}: {e}");
                    }
                }
            }));
            tokio::time::sleep(gap).await;
        }
        let s2 = stats.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ramp_time + Duration::from_secs(2)).await;
            println!(
                "loadgen: ramp done: {} connected, {} welcomed",
                s2.connected.load(Ordering::Relaxed),
                s2.welcomed.load(Ordering::Relaxed)
            );
        });
        for t in tasks {
            let _ = tokio::time::timeout(slack, t).await;
        }
        println!(
            "loadgen: connected {} welcomed {} heartbeats sent {} answered {} failed {} closed-by-controller {}",
            stats.connected.load(Ordering::Relaxed),
            stats.welcomed.load(Ordering::Relaxed),
            stats.heartbeats_sent.load(Ordering::Relaxed),
            stats.heartbeats_answered.load(Ordering::Relaxed),
            stats.failed.load(Ordering::Relaxed),
            stats.closed_by_controller.load(Ordering::Relaxed),
        );
    });
}
