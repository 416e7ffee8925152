//! `serve`: the HTTP server (the agents' WebSocket endpoint, /healthz, the operator
//! API), and the background work of one controller: dispatching queued operations,
//! noticing stale connections, schedules, retention.

use crate::api;
use crate::conn;
use crate::state::App;
use crate::util::now_ms;
use axum::Router;
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

/// How often the database is polled for queued operations (PostgreSQL wakes at once
/// with NOTIFY; the poll is its backstop).
pub const DISPATCH_POLL: Duration = Duration::from_secs(1);
/// How often the leases of this controller's connections are checked.
pub const LEASE_TICK: Duration = Duration::from_secs(2);
/// How often schedules are checked.
pub const SCHEDULE_TICK: Duration = Duration::from_secs(2);
/// How far back each poll looks for cancels asked for (from before the previous poll
/// began): room for a slow commit and for the clocks of the CLI's machine and this
/// one. A cancel is sent once per connection whatever the number of wakes.
pub const CANCEL_LOOKBACK_MS: i64 = 30_000;

/// Options of `serve`.
pub struct ServeOptions {
    pub listen: String,
    pub tls: Option<crate::tls::Tls>,
    pub keep_days: Option<u64>,
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/ksocket/connect", get(conn::upgrade))
        .route("/healthz", get(api::healthz))
        .route("/api/v1/hosts", get(api::hosts))
        .route("/api/v1/agents", get(api::agents))
        .route("/api/v1/operations", get(api::operations))
        .route("/api/v1/operations/{id}", get(api::operation))
        .route("/api/v1/operations/{id}/results", get(api::results))
        .route("/api/v1/operations/{id}/cancel", post(api::cancel))
        .route("/api/v1/scan", post(api::scan))
        .layer(axum::extract::DefaultBodyLimit::max(1 << 20))
        .with_state(app)
}

pub async fn serve(app: Arc<App>, opts: ServeOptions) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&opts.listen).await?;
    let addr = listener.local_addr()?;
    let scheme = if opts.tls.is_some() { "wss" } else { "ws" };
    if let Some(t) = &opts.tls {
        println!(
            "tls certificate {} sha256 {}",
            t.cert_file.display(),
            t.fingerprint
        );
    }
    println!(
        "controller {} database {}",
        app.controller_id,
        match app.db.kind {
            crate::db::Kind::Sqlite => "sqlite",
            crate::db::Kind::Postgres => "postgresql",
        }
    );
    println!("listening on {scheme}://{addr}/api/ksocket/connect");
    background(app.clone(), opts.keep_days);
    let router = router(app.clone());
    let acceptor = opts.tls.map(|t| tokio_rustls::TlsAcceptor::from(t.config));
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, go on.
                    eprintln!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        match &acceptor {
            None => {
                tokio::spawn(serve_http(stream, router, peer));
            }
            Some(acc) => {
                let acc = acc.clone();
                tokio::spawn(async move {
                    let tls = tokio::time::timeout(Duration::from_secs(10), acc.accept(stream));
                    if let Ok(Ok(tls)) = tls.await {
                        serve_http(tls, router, peer).await;
                    }
                });
            }
        }
    }
    println!("stopping");
    Ok(())
}

async fn serve_http<I>(io: I, router: Router, _peer: SocketAddr)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = TowerToHyperService::new(router);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    let _ = conn.await;
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn background(app: Arc<App>, keep_days: Option<u64>) {
    // Queued operations and fresh cancels: wake the connections they are for. A
    // cancel asked for before the look-back reaches the agent at its next welcome (or
    // at any other wake of its connection).
    let a = app.clone();
    tokio::spawn(async move {
        let mut t = tokio::time::interval(DISPATCH_POLL);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut since = now_ms().saturating_sub(CANCEL_LOOKBACK_MS);
        loop {
            t.tick().await;
            if a.connections() == 0 {
                continue;
            }
            let started = now_ms();
            match a.db.agents_with_queued(since).await {
                Ok(agents) => {
                    agents.iter().for_each(|g| a.wake(g));
                    since = started.saturating_sub(CANCEL_LOOKBACK_MS);
                }
                Err(e) => eprintln!("dispatch poll: {e}"),
            }
        }
    });
    // Stale connections: the lease row names another connection.
    let a = app.clone();
    tokio::spawn(async move {
        let mut t = tokio::time::interval(LEASE_TICK);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = t.tick() => {}
                _ = a.lease_check.notified() => {}
            }
            if a.connections() > 0 {
                a.check_leases().await;
            }
        }
    });
    // Schedules.
    let a = app.clone();
    tokio::spawn(async move {
        let mut t = tokio::time::interval(SCHEDULE_TICK);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            t.tick().await;
            match a.db.schedules_run_due().await {
                Ok(agents) => {
                    for g in agents {
                        println!("schedule: queued a scan for {g}");
                        a.wake(&g);
                        let _ = a.db.notify(&format!("op:{g}")).await;
                    }
                }
                Err(e) => eprintln!("schedules: {e}"),
            }
        }
    });
    // Retention.
    if let Some(days) = keep_days {
        let a = app.clone();
        tokio::spawn(async move {
            let mut t = tokio::time::interval(Duration::from_secs(3600));
            loop {
                t.tick().await;
                let keep = i64::try_from(days.saturating_mul(86_400_000)).unwrap_or(i64::MAX);
                match a.db.retention(now_ms().saturating_sub(keep)).await {
                    Ok(0) => {}
                    Ok(n) => println!("retention: deleted {n} operations older than {days} days"),
                    Err(e) => eprintln!("retention: {e}"),
                }
            }
        });
    }
    // PostgreSQL: LISTEN, to wake at once when another controller or a command
    // queues an operation or moves a slot.
    if let Some(url) = app.db.pg_url().map(str::to_string) {
        let a = app.clone();
        tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                match listen(&a, &url).await {
                    Ok(()) => failures = 0,
                    Err(e) => {
                        failures = failures.saturating_add(1);
                        if failures <= 3 || failures.is_multiple_of(60) {
                            eprintln!("listen: {e} (the poll goes on)");
                        }
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

async fn listen(app: &App, url: &str) -> Result<(), sqlx::Error> {
    let mut l = sqlx::postgres::PgListener::connect(url).await?;
    l.listen("ksocket").await?;
    loop {
        let n = l.recv().await?;
        let p = n.payload();
        if let Some(agent) = p.strip_prefix("op:") {
            app.wake(agent);
        } else if p.starts_with("lease:") {
            app.lease_check.notify_one();
        }
    }
}
