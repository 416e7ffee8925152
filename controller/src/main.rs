//! `ksocket-controller`: the reference controller of ksocket agents (docs/controller.md,
//! docs/protocol.md).

mod api;
mod conn;
mod db;
mod schema;
mod server;
mod state;
mod tls;
mod util;
mod views;

use clap::{Parser, Subcommand, ValueEnum};
use db::Db;
use ksocket_proto::messages::Operation;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "ksocket-controller",
    version,
    about = "The controller of ksocket agents"
)]
struct Cli {
    /// The data directory (SQLite database, self-made TLS certificate).
    #[arg(long, global = true, default_value = "./ksocket-controller-data")]
    data: PathBuf,
    /// The database: postgres://USER@HOST:PORT/DB, or a sqlite: URL (default: a SQLite
    /// file in the data directory).
    #[arg(long, global = true)]
    database: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve agents (WebSocket), /healthz and the operator API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: String,
        /// A PEM certificate (chain) to serve; with --tls-key.
        #[arg(long)]
        tls_cert: Option<PathBuf>,
        #[arg(long)]
        tls_key: Option<PathBuf>,
        /// Plain ws, no TLS (behind a reverse proxy that does TLS, or local tests).
        #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
        plain_ws: bool,
        /// Delete operations (with their results) older than N days, hourly.
        #[arg(long)]
        keep_days: Option<u64>,
        /// How long a slot's lease lives without a heartbeat.
        #[arg(long, default_value_t = 180, value_parser = clap::value_parser!(u64).range(5..=86_400))]
        lease_seconds: u64,
        /// Threads serving connections (1: one event loop, the cheapest).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
        threads: u64,
    },
    /// Agent and operator tokens.
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
    /// Every agent token: connected or not, instance, version, target, last seen.
    Agents {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Queues a scan on an agent and prints its id.
    Scan {
        #[arg(long)]
        agent: String,
        /// Read details (SNMP) of the hosts found.
        #[arg(long)]
        details: bool,
        /// Addresses or ranges not to scan.
        #[arg(long = "exclude")]
        excludes: Vec<String>,
        /// Wait until the operation's results are complete.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up after this many seconds (exit 3).
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        targets: Vec<String>,
    },
    /// Queues a collection of details (SNMP) of named hosts on an agent and prints its
    /// id: addresses, CIDRs or ranges, at most 65536 addresses in all.
    Collect {
        #[arg(long)]
        agent: String,
        /// The protocols to collect with (the agent reads `snmp`).
        #[arg(long = "protocol", default_value = "snmp")]
        protocols: Vec<String>,
        /// Wait until the operation's results are complete.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up after this many seconds (exit 3).
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[arg(required = true)]
        hosts: Vec<String>,
    },
    /// Asks an agent for its diagnosis (`ksocket diagnostics system config` on the
    /// box) and prints the operation's id; with --wait, the checks.
    Diagnose {
        #[arg(long)]
        agent: String,
        #[arg(long)]
        wait: bool,
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Operations, newest first.
    Operations {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        #[arg(long, default_value_t = 1000)]
        limit: i64,
    },
    /// Cancels an operation: a queued one ends at once (failed, kind `cancelled`); the
    /// agent of a sent, accepted or running one is told, and it stops at its next
    /// host, keeping the records sent before.
    Cancel { op: String },
    /// The stored host records of one operation, each with its chunk's seq.
    Results {
        op: String,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// The inventory: the last record of every host seen.
    Hosts {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Recurring scans.
    Schedule {
        #[command(subcommand)]
        cmd: ScheduleCmd,
    },
    /// An online copy of the SQLite database (VACUUM INTO); PostgreSQL: pg_dump.
    Backup { file: PathBuf },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Makes a token and prints it once, on the last line; only its SHA-256 is kept.
    Create {
        name: String,
        /// A token for the operator API instead of an agent.
        #[arg(long)]
        operator: bool,
    },
    /// Revokes a token (its agent is disconnected with 4101).
    Revoke { name: String },
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

#[derive(Subcommand)]
enum ScheduleCmd {
    /// Queues a scan every period (`6h`, `30m`, `1d`, seconds); the first at once.
    Add {
        #[arg(long)]
        agent: String,
        #[arg(long)]
        every: String,
        #[arg(long)]
        details: bool,
        #[arg(long = "exclude")]
        excludes: Vec<String>,
        #[arg(required = true)]
        targets: Vec<String>,
    },
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    Remove {
        id: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One thread serves (and is cheapest: fewer wake-ups between threads; SQLite
    // runs on its own threads); `serve --threads N` asks for more.
    let threads = match &cli.cmd {
        Cmd::Serve { threads, .. } => *threads,
        _ => 1,
    };
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::try_from(threads).unwrap_or(2))
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ksocket-controller: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ksocket-controller: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let db = Db::open(&cli.data, cli.database.as_deref()).await?;
    let code = command(&cli, db).await?;
    Ok(code)
}

async fn command(cli: &Cli, db: Db) -> anyhow::Result<ExitCode> {
    match &cli.cmd {
        Cmd::Serve {
            listen,
            tls_cert,
            tls_key,
            plain_ws,
            keep_days,
            lease_seconds,
            ..
        } => {
            let tls = if *plain_ws {
                None
            } else {
                let host = listen
                    .rsplit_once(':')
                    .map(|(h, _)| h.trim_matches(['[', ']']).to_string())
                    .unwrap_or_default();
                Some(tls::load_or_make(
                    &cli.data,
                    tls_cert.as_deref(),
                    tls_key.as_deref(),
                    &[host],
                )?)
            };
            let app = Arc::new(state::App::new(db, *lease_seconds));
            server::serve(
                app.clone(),
                server::ServeOptions {
                    listen: listen.clone(),
                    tls,
                    keep_days: *keep_days,
                },
            )
            .await?;
            app.db.close().await;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Token { cmd } => match cmd {
            TokenCmd::Create { name, operator } => {
                if !valid_name(name) {
                    anyhow::bail!("a token name is 1 to 64 of A-Z a-z 0-9 . _ -");
                }
                let token = util::new_token();
                if !db
                    .token_create(name, &util::sha256_hex(token.as_bytes()), *operator)
                    .await?
                {
                    anyhow::bail!("a token named `{name}` exists (names are never reused)");
                }
                let kind = if *operator { "operator" } else { "agent" };
                println!("{kind} token `{name}` created; it is shown once, here:");
                println!("{token}");
            }
            TokenCmd::Revoke { name } => {
                if !db.token_revoke(name).await? {
                    anyhow::bail!("no live token named `{name}`");
                }
                let _ = db.notify(&format!("lease:{name}")).await;
                println!("token `{name}` revoked");
            }
            TokenCmd::List { format } => {
                let t = db.token_list().await?;
                match format {
                    Format::Json => print_json(&t)?,
                    _ => print!("{}", views::tokens_table(&t)),
                }
            }
        },
        Cmd::Agents { format } => {
            let a = db.agents().await?;
            match format {
                Format::Json => print_json(&a)?,
                _ => print!("{}", views::agents_table(&a)),
            }
        }
        Cmd::Scan {
            agent,
            details,
            excludes,
            wait,
            timeout,
            targets,
        } => {
            let op = Operation::Scan {
                targets: targets.clone(),
                excludes: excludes.clone(),
                details: details.then_some(true),
                ports: None,
                rate: None,
                names: None,
                sweep: None,
            };
            if let Some(code) = queue(&db, agent, &op, wait.then_some(*timeout)).await? {
                return Ok(code);
            }
        }
        Cmd::Collect {
            agent,
            protocols,
            wait,
            timeout,
            hosts,
        } => {
            let op = Operation::Collect {
                hosts: hosts.clone(),
                protocols: protocols.clone(),
            };
            if let Some(code) = queue(&db, agent, &op, wait.then_some(*timeout)).await? {
                return Ok(code);
            }
        }
        Cmd::Diagnose {
            agent,
            wait,
            timeout,
        } => {
            let op = Operation::Diagnose;
            if let Some(code) = queue(&db, agent, &op, wait.then_some(*timeout)).await? {
                return Ok(code);
            }
        }
        Cmd::Operations { format, limit } => {
            let o = db.operations((*limit).clamp(1, 1_000_000)).await?;
            match format {
                Format::Json => print_json(&o)?,
                _ => print!("{}", views::operations_table(&o)),
            }
        }
        Cmd::Cancel { op } => match api::request_cancel(&db, op).await? {
            db::CancelOutcome::Cancelled { .. } => {
                println!("{op} cancelled: it was still queued, it is failed (cancelled) now");
            }
            db::CancelOutcome::Requested { agent, state } => {
                println!(
                    "{op} ({state}): cancel requested; agent {agent} is told (now if connected, \
                     else at its next connection) and ends it as failed (cancelled)"
                );
            }
            db::CancelOutcome::Unknown => anyhow::bail!("no operation `{op}`"),
            db::CancelOutcome::Over(state) => {
                anyhow::bail!("operation `{op}` is already {state}: nothing to cancel")
            }
        },
        Cmd::Results { op, format } => {
            if db.operation(op).await?.is_none() {
                anyhow::bail!("no operation `{op}`");
            }
            let r = db.results(op).await?;
            match format {
                Format::Json => print_json(&views::results_json(&r))?,
                _ => print!("{}", views::results_table(&r)),
            }
        }
        Cmd::Hosts { format } => {
            let h = db.hosts().await?;
            match format {
                Format::Json => print_json(&views::hosts_json(&h))?,
                Format::Csv => print!("{}", views::hosts_csv(&h)),
                Format::Table => print!("{}", views::hosts_table(&h)),
            }
        }
        Cmd::Schedule { cmd } => match cmd {
            ScheduleCmd::Add {
                agent,
                every,
                details,
                excludes,
                targets,
            } => {
                let Some(secs) =
                    util::parse_every(every).filter(|s| (10..=366 * 86_400).contains(s))
                else {
                    anyhow::bail!("--every is a period from 10s to 366d, like 6h, 30m, 1d");
                };
                let op = Operation::Scan {
                    targets: targets.clone(),
                    excludes: excludes.clone(),
                    details: details.then_some(true),
                    ports: None,
                    rate: None,
                    names: None,
                    sweep: None,
                };
                api::check_operation(&op).map_err(|e| anyhow::anyhow!(e))?;
                match db.token_by_name(agent).await? {
                    Some(t) if !t.operator && t.revoked.is_none() => {}
                    _ => anyhow::bail!("no live agent token named `{agent}`"),
                }
                let id = util::new_id("sch");
                let body = serde_json::to_string(&op)?;
                db.schedule_add(&id, agent, i64::try_from(secs)?, &body)
                    .await?;
                println!("{id}");
            }
            ScheduleCmd::List { format } => {
                let s = db.schedule_list().await?;
                match format {
                    Format::Json => print_json(&s)?,
                    _ => print!("{}", views::schedules_table(&s)),
                }
            }
            ScheduleCmd::Remove { id } => {
                if !db.schedule_remove(id).await? {
                    anyhow::bail!("no schedule `{id}`");
                }
                println!("schedule {id} removed");
            }
        },
        Cmd::Backup { file } => {
            db.backup(file).await?;
            println!("backup written to {}", file.display());
        }
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `scan`, `collect`, `diagnose`: queues `op` for `agent` and prints its id; with
/// `wait` (seconds), waits for it and says how it ended ([`wait_for`]).
async fn queue(
    db: &Db,
    agent: &str,
    op: &Operation,
    wait: Option<u64>,
) -> anyhow::Result<Option<ExitCode>> {
    let id = api::queue(db, agent, op, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{id}");
    match wait {
        Some(t) => wait_for(db, &id, Duration::from_secs(t)).await.map(Some),
        None => Ok(None),
    }
}

/// `scan --wait`: until the operation is complete (done or failed and every chunk up
/// to that stored), refused, or the time is up. Exit 0 done, 1 failed or refused,
/// 3 timeout.
async fn wait_for(db: &Db, id: &str, timeout: Duration) -> anyhow::Result<ExitCode> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let Some(o) = db.operation(id).await? else {
            anyhow::bail!("operation {id} disappeared");
        };
        if o.complete || o.state == "refused" {
            let detail = o
                .error
                .as_ref()
                .and_then(|e| e.get("message"))
                .and_then(|m| m.as_str())
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            println!(
                "{} {}: {} chunks, {} records{}",
                o.id, o.state, o.chunks, o.records, detail
            );
            if let Some(s) = &o.summary {
                match s.get("checks").and_then(|c| c.as_array()) {
                    // A diagnosis: one dotted line per check, as `ksocket diagnostics`.
                    Some(checks) => {
                        for c in checks {
                            let what = c.get("what").and_then(|w| w.as_str()).unwrap_or("?");
                            let ok = c.get("ok").and_then(|w| w.as_bool()).unwrap_or(false);
                            let detail = c.get("detail").and_then(|w| w.as_str()).unwrap_or("");
                            let dots =
                                ".".repeat(44usize.saturating_sub(what.chars().count() + 1).max(3));
                            let word = if ok { "OK" } else { "NG" };
                            if detail.is_empty() {
                                println!("{what} {dots} {word}");
                            } else {
                                println!("{what} {dots} {word} [{detail}]");
                            }
                        }
                    }
                    None => println!("summary {s}"),
                }
            }
            return Ok(if o.state == "done" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        if tokio::time::Instant::now() >= deadline {
            eprintln!(
                "{id}: still {} after {} s ({} chunks stored)",
                o.state,
                timeout.as_secs(),
                o.chunks
            );
            return Ok(ExitCode::from(3));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
