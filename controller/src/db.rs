//! The database: one code path for SQLite and PostgreSQL through sqlx's `Any` driver,
//! runtime queries only (no macros), `$N` placeholders (both drivers take them).
//!
//! Exactly-once storage lives here ([`Db::store_chunk`]): a chunk row keyed by
//! (op, seq) is inserted with `ON CONFLICT DO NOTHING`, and only when that inserted a
//! row do its results, the inventory and the operation's counters change, in the same
//! transaction.

use crate::schema;
use crate::util::now_ms;
use serde::Serialize;
use serde_json::Value;
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::{AnyPoolOptions, AnyRow};
use std::path::Path;
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, DbError>;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

pub struct Db {
    pool: AnyPool,
    pub kind: Kind,
    url: String,
    /// SQLite has one writer at a time: writers of this process take turns here
    /// instead of spinning in SQLite's busy handler. Unused on PostgreSQL.
    wlock: Mutex<()>,
}

/// A token, never its secret.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    pub name: String,
    pub operator: bool,
    pub created: i64,
    pub revoked: Option<i64>,
}

/// An agent token with what its agent last said and whether it holds its slot.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentView {
    pub name: String,
    pub connected: bool,
    pub revoked: bool,
    pub instance: Option<String>,
    pub version: Option<String>,
    pub target: Option<String>,
    pub capabilities: Vec<String>,
    pub last_seen: Option<i64>,
    pub controller: Option<String>,
}

/// One operation as the CLI and the API show it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpView {
    pub id: String,
    pub agent: String,
    pub kind: String,
    pub state: String,
    /// Chunks stored (records chunks and the done/failed one).
    pub chunks: i64,
    /// Host records stored.
    pub records: i64,
    /// Every chunk 1..=storedSeq is stored.
    pub stored_seq: i64,
    /// The seq of the done/failed chunk, once it came.
    pub final_seq: Option<i64>,
    /// done or failed, and every chunk up to finalSeq stored.
    pub complete: bool,
    pub created: i64,
    pub sent: Option<i64>,
    pub finished: Option<i64>,
    pub progress: Option<Progress>,
    pub summary: Option<Value>,
    pub error: Option<Value>,
    pub operation: Value,
    pub schedule: Option<String>,
    /// When a cancel was last asked for (unix ms), or null.
    pub cancel_requested: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub probed: i64,
    pub total: i64,
    pub up: i64,
}

/// One inventory row.
#[derive(Debug, Clone)]
pub struct HostRow {
    pub ip: String,
    pub host: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub agent: String,
    pub op: String,
}

/// A host record of a chunk, ready to store.
#[derive(Debug, Clone)]
pub struct NewHost {
    pub ip: String,
    pub rschema: i64,
    /// The record's JSON as the agent sent it (fields of later versions kept).
    pub json: String,
    pub mac: Option<String>,
}

/// What a chunk carries.
#[derive(Debug, Clone)]
pub enum Chunk {
    Records(Vec<NewHost>),
    /// The summary's JSON.
    Done(String),
    /// The error's JSON.
    Failed(String),
}

/// What storing a chunk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// The operation exists and is this agent's.
    pub known: bool,
    /// This call stored the chunk (false: it was stored before, or unknown).
    pub new: bool,
    /// Every chunk 1..=contiguous of the operation is stored.
    pub contiguous: u64,
}

/// What asking to cancel an operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// No operation with that id.
    Unknown,
    /// It was over already (done, failed or refused): nothing changed.
    Over(String),
    /// It was still queued (never sent): now failed with kind `cancelled`, by the
    /// controller alone.
    Cancelled { agent: String },
    /// It is with the agent (sent, accepted or running): the request is recorded, and
    /// the connection holding the agent sends `cancel {op}`.
    Requested { agent: String, state: String },
}

/// A schedule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    pub id: String,
    pub agent: String,
    pub every_seconds: i64,
    pub operation: Value,
    pub next: i64,
    pub created: i64,
}

fn parse_json(s: Option<String>) -> Option<Value> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

impl Db {
    /// Opens (and migrates) the database: `database` is a `postgres://` URL, a
    /// `sqlite:` URL, or none for `DIR/controller.sqlite`.
    pub async fn open(data: &Path, database: Option<&str>) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let (url, kind) = match database {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                (u.to_string(), Kind::Postgres)
            }
            Some(u) if u.starts_with("sqlite:") => (u.to_string(), Kind::Sqlite),
            Some(u) => {
                return Err(DbError::Invalid(format!(
                    "--database must be a postgres:// or sqlite: URL, not `{}`",
                    redact(u)
                )));
            }
            None => {
                std::fs::create_dir_all(data).map_err(|e| {
                    DbError::Invalid(format!("cannot create {}: {e}", data.display()))
                })?;
                let file = data.join("controller.sqlite");
                (
                    format!("sqlite://{}?mode=rwc", file.display()),
                    Kind::Sqlite,
                )
            }
        };
        let opts = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(15))
            .max_connections(if kind == Kind::Sqlite { 4 } else { 8 })
            .min_connections(0);
        let opts = if kind == Kind::Sqlite {
            // A local file does not go stale: no ping before each use (it costs a
            // round trip to the connection's thread on every query).
            opts.test_before_acquire(false).after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("PRAGMA busy_timeout = 15000").await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            })
        } else {
            opts
        };
        let pool = opts.connect(&url).await?;
        let db = Db {
            pool,
            kind,
            url,
            wlock: Mutex::new(()),
        };
        db.migrate().await?;
        Ok(db)
    }

    /// The URL of a PostgreSQL database (for LISTEN), None for SQLite.
    pub fn pg_url(&self) -> Option<&str> {
        (self.kind == Kind::Postgres).then_some(self.url.as_str())
    }

    async fn w(&self) -> Option<MutexGuard<'_, ()>> {
        match self.kind {
            Kind::Sqlite => Some(self.wlock.lock().await),
            Kind::Postgres => None,
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        let q = sqlx::query("SELECT COUNT(*) FROM schema_version").fetch_one(&self.pool);
        matches!(
            tokio::time::timeout(Duration::from_secs(3), q).await,
            Ok(Ok(_))
        )
    }

    async fn version(&self) -> Result<i64> {
        let row = sqlx::query("SELECT MAX(version) FROM schema_version")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
    }

    async fn migrate(&self) -> Result<()> {
        if let Ok(v) = self.version().await {
            if v == schema::latest() {
                return Ok(());
            }
            if v > schema::latest() {
                return Err(DbError::Invalid(format!(
                    "the database's schema is version {v}, newer than this controller's {}",
                    schema::latest()
                )));
            }
        }
        let _g = self.w().await;
        let mut conn = self.pool.acquire().await?;
        use sqlx::Executor;
        // One transaction, locked against other controllers and commands migrating at
        // the same time: an advisory lock on PostgreSQL, BEGIN IMMEDIATE on SQLite.
        match self.kind {
            Kind::Sqlite => {
                conn.execute("BEGIN IMMEDIATE").await?;
            }
            Kind::Postgres => {
                conn.execute("BEGIN").await?;
                conn.execute("SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock(7270133)) AS l")
                    .await?;
            }
        }
        let res: Result<()> = async {
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (
                    version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
            )
            .await?;
            let row = sqlx::query("SELECT MAX(version) FROM schema_version")
                .fetch_one(&mut *conn)
                .await?;
            let v = row.try_get::<Option<i64>, _>(0)?.unwrap_or(0);
            for (n, stmts) in schema::STEPS {
                if *n <= v {
                    continue;
                }
                for s in *stmts {
                    conn.execute(*s).await?;
                }
                sqlx::query(
                    "INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)
                     ON CONFLICT (version) DO NOTHING",
                )
                .bind(*n)
                .bind(now_ms())
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }
        .await;
        match res {
            Ok(()) => {
                conn.execute("COMMIT").await?;
                Ok(())
            }
            Err(e) => {
                let _ = conn.execute("ROLLBACK").await;
                Err(e)
            }
        }
    }

    // ---- tokens ----

    /// Stores a new token's hash; false when the name exists.
    pub async fn token_create(&self, name: &str, hash: &str, operator: bool) -> Result<bool> {
        let _g = self.w().await;
        let r = sqlx::query(
            "INSERT INTO tokens (name, hash, operator, created_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(hash)
        .bind(i64::from(operator))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Revokes a token and frees its slot; false when no such live token.
    pub async fn token_revoke(&self, name: &str) -> Result<bool> {
        let _g = self.w().await;
        let mut tx = self.pool.begin().await?;
        let r =
            sqlx::query("UPDATE tokens SET revoked_ms = $2 WHERE name = $1 AND revoked_ms IS NULL")
                .bind(name)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM leases WHERE token = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    fn token_row(r: &AnyRow) -> Result<TokenInfo> {
        Ok(TokenInfo {
            name: r.try_get(0)?,
            operator: r.try_get::<i64, _>(1)? != 0,
            created: r.try_get(2)?,
            revoked: r.try_get(3)?,
        })
    }

    pub async fn token_list(&self) -> Result<Vec<TokenInfo>> {
        let rows =
            sqlx::query("SELECT name, operator, created_ms, revoked_ms FROM tokens ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(Self::token_row).collect()
    }

    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenInfo>> {
        let row = sqlx::query(
            "SELECT name, operator, created_ms, revoked_ms FROM tokens WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::token_row).transpose()
    }

    pub async fn token_by_name(&self, name: &str) -> Result<Option<TokenInfo>> {
        let row = sqlx::query(
            "SELECT name, operator, created_ms, revoked_ms FROM tokens WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::token_row).transpose()
    }

    // ---- leases and agents ----

    /// Takes the slot of `token` for this connection when it is free, expired, or held
    /// by the same instance; false when another instance holds a live lease. One
    /// statement, so two controllers cannot both win.
    pub async fn lease_acquire(
        &self,
        token: &str,
        instance: &str,
        conn_id: &str,
        controller: &str,
        until: i64,
    ) -> Result<bool> {
        let _g = self.w().await;
        let now = now_ms();
        let r = sqlx::query(
            "INSERT INTO leases (token, instance, conn_id, controller_id, lease_until_ms, renewed_ms)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (token) DO UPDATE SET instance = excluded.instance,
                 conn_id = excluded.conn_id, controller_id = excluded.controller_id,
                 lease_until_ms = excluded.lease_until_ms, renewed_ms = excluded.renewed_ms
             WHERE leases.instance = excluded.instance OR leases.lease_until_ms < $6",
        )
        .bind(token)
        .bind(instance)
        .bind(conn_id)
        .bind(controller)
        .bind(until)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Renews the lease if this connection still holds it; false when replaced.
    pub async fn lease_renew(&self, token: &str, conn_id: &str, until: i64) -> Result<bool> {
        let _g = self.w().await;
        let r = sqlx::query(
            "UPDATE leases SET lease_until_ms = $3, renewed_ms = $4
             WHERE token = $1 AND conn_id = $2",
        )
        .bind(token)
        .bind(conn_id)
        .bind(until)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Whether the lease of `token` names this connection.
    pub async fn lease_held(&self, token: &str, conn_id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM leases WHERE token = $1 AND conn_id = $2")
            .bind(token)
            .bind(conn_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Frees the slot if this connection still holds it, and notes when the agent was
    /// last seen.
    pub async fn lease_release(&self, token: &str, conn_id: &str) -> Result<()> {
        let _g = self.w().await;
        let now = now_ms();
        sqlx::query("DELETE FROM leases WHERE token = $1 AND conn_id = $2")
            .bind(token)
            .bind(conn_id)
            .execute(&self.pool)
            .await?;
        sqlx::query("UPDATE agents SET last_seen_ms = $2 WHERE name = $1")
            .bind(token)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The (token, connection) pairs whose lease names this controller.
    pub async fn leases_of(&self, controller: &str) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT token, conn_id FROM leases WHERE controller_id = $1")
            .bind(controller)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Notes what the agent said in its hello.
    pub async fn agent_hello(
        &self,
        name: &str,
        instance: &str,
        version: &str,
        target: &str,
        capabilities: &[String],
    ) -> Result<()> {
        let _g = self.w().await;
        let now = now_ms();
        let caps = serde_json::to_string(capabilities).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO agents (name, instance, version, target, capabilities, connected_ms, last_seen_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (name) DO UPDATE SET instance = excluded.instance,
                 version = excluded.version, target = excluded.target,
                 capabilities = excluded.capabilities, connected_ms = excluded.connected_ms,
                 last_seen_ms = excluded.last_seen_ms",
        )
        .bind(name)
        .bind(instance)
        .bind(version)
        .bind(target)
        .bind(caps)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every agent token, connected or not.
    pub async fn agents(&self) -> Result<Vec<AgentView>> {
        let now = now_ms();
        let rows = sqlx::query(
            "SELECT t.name, t.revoked_ms, a.instance, a.version, a.target, a.capabilities,
                    a.last_seen_ms, l.lease_until_ms, l.renewed_ms, l.controller_id
             FROM tokens t
             LEFT JOIN agents a ON a.name = t.name
             LEFT JOIN leases l ON l.token = t.name
             WHERE t.operator = 0 ORDER BY t.name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let until: Option<i64> = r.try_get(7)?;
            let renewed: Option<i64> = r.try_get(8)?;
            let seen: Option<i64> = r.try_get(6)?;
            let connected = until.is_some_and(|u| u > now);
            out.push(AgentView {
                name: r.try_get(0)?,
                revoked: r.try_get::<Option<i64>, _>(1)?.is_some(),
                connected,
                instance: r.try_get(2)?,
                version: r.try_get(3)?,
                target: r.try_get(4)?,
                capabilities: r
                    .try_get::<Option<String>, _>(5)?
                    .and_then(|c| serde_json::from_str::<Vec<String>>(&c).ok())
                    .unwrap_or_default(),
                last_seen: match (seen, renewed) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                },
                controller: if connected { r.try_get(9)? } else { None },
            });
        }
        Ok(out)
    }

    // ---- operations ----

    /// Queues an operation.
    pub async fn op_insert(
        &self,
        id: &str,
        agent: &str,
        kind: &str,
        body: &str,
        schedule: Option<&str>,
    ) -> Result<()> {
        let _g = self.w().await;
        sqlx::query(
            "INSERT INTO operations (id, agent, kind, body, state, created_ms, schedule_id)
             VALUES ($1, $2, $3, $4, 'queued', $5, $6)",
        )
        .bind(id)
        .bind(agent)
        .bind(kind)
        .bind(body)
        .bind(now_ms())
        .bind(schedule.map(str::to_string))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The operations of `agent` not yet accepted or refused: (id, body), oldest first.
    pub async fn ops_pending(&self, agent: &str) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT id, body FROM operations WHERE agent = $1 AND state IN ('queued', 'sent')
             ORDER BY created_ms, id LIMIT 1000",
        )
        .bind(agent)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Marks an operation sent (queued becomes sent; sent stays sent) before it goes
    /// out; false when it is no longer queued or sent (cancelled while queued, say),
    /// and then it must not be sent. A compare-and-set, so that a cancel of a queued
    /// operation and its sending cannot both happen.
    pub async fn op_mark_sent(&self, id: &str) -> Result<bool> {
        let _g = self.w().await;
        let r = sqlx::query(
            "UPDATE operations SET state = 'sent',
                 sent_ms = CASE WHEN state = 'queued' THEN $2 ELSE sent_ms END
             WHERE id = $1 AND state IN ('queued', 'sent')",
        )
        .bind(id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Asks to cancel an operation: a queued one ends here and now (failed, kind
    /// `cancelled`, complete with no chunk); one that is with the agent gets
    /// `cancel_requested` set; one that is over, or unknown, is left alone. One
    /// transaction.
    pub async fn op_cancel(&self, id: &str, error: &str) -> Result<CancelOutcome> {
        let now = now_ms();
        let _g = self.w().await;
        let mut tx = self.pool.begin().await?;
        // Writes first (SQLite takes its write lock at once).
        let queued = sqlx::query(
            "UPDATE operations SET state = 'failed', error = $2, final_seq = 0,
                 finished_ms = $3, cancel_requested = $3
             WHERE id = $1 AND state = 'queued'",
        )
        .bind(id)
        .bind(error)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let requested = !queued
            && sqlx::query(
                "UPDATE operations SET cancel_requested = $2
                 WHERE id = $1 AND state IN ('sent', 'accepted', 'running')",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
        let row = sqlx::query("SELECT agent, state FROM operations WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        let Some(row) = row else {
            return Ok(CancelOutcome::Unknown);
        };
        let agent: String = row.try_get(0)?;
        let state: String = row.try_get(1)?;
        Ok(if queued {
            CancelOutcome::Cancelled { agent }
        } else if requested {
            CancelOutcome::Requested { agent, state }
        } else {
            CancelOutcome::Over(state)
        })
    }

    /// The operations of `agent` with the agent (sent, accepted, running) whose cancel
    /// was asked for: their ids.
    pub async fn ops_to_cancel(&self, agent: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id FROM operations
             WHERE agent = $1 AND cancel_requested IS NOT NULL
               AND state IN ('sent', 'accepted', 'running')
             ORDER BY cancel_requested, id LIMIT 1000",
        )
        .bind(agent)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// The agents that have queued operations, or a cancel asked for at `since_ms` or
    /// later of an operation that is with them.
    pub async fn agents_with_queued(&self, since_ms: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT agent FROM operations WHERE state = 'queued'
             UNION
             SELECT agent FROM operations
             WHERE cancel_requested >= $1 AND state IN ('sent', 'accepted', 'running')",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    pub async fn op_accepted(&self, agent: &str, op: &str, running: bool) -> Result<()> {
        let _g = self.w().await;
        let sql = if running {
            "UPDATE operations SET state = 'running'
             WHERE id = $1 AND agent = $2 AND state IN ('queued', 'sent', 'accepted')"
        } else {
            "UPDATE operations SET state = 'accepted'
             WHERE id = $1 AND agent = $2 AND state IN ('queued', 'sent')"
        };
        sqlx::query(sql)
            .bind(op)
            .bind(agent)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn op_refused(&self, agent: &str, op: &str, error: &str) -> Result<()> {
        let _g = self.w().await;
        sqlx::query(
            "UPDATE operations SET state = 'refused', error = $3, finished_ms = $4
             WHERE id = $1 AND agent = $2 AND state IN ('queued', 'sent', 'accepted', 'running')",
        )
        .bind(op)
        .bind(agent)
        .bind(error)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn op_progress(
        &self,
        agent: &str,
        op: &str,
        probed: i64,
        total: i64,
        up: i64,
    ) -> Result<()> {
        let _g = self.w().await;
        sqlx::query(
            "UPDATE operations SET probed = $3, total = $4, up = $5,
                 state = CASE WHEN state IN ('queued', 'sent', 'accepted') THEN 'running' ELSE state END
             WHERE id = $1 AND agent = $2",
        )
        .bind(op)
        .bind(agent)
        .bind(probed)
        .bind(total)
        .bind(up)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores chunk `seq` of `op` once: see the module's doc.
    pub async fn store_chunk(
        &self,
        agent: &str,
        op: &str,
        seq: u64,
        chunk: Chunk,
    ) -> Result<Stored> {
        let seq_i = i64::try_from(seq).map_err(|_| DbError::Invalid("seq out of range".into()))?;
        let now = now_ms();
        let (kind, nhosts) = match &chunk {
            Chunk::Records(h) => ("records", h.len()),
            Chunk::Done(_) => ("done", 0),
            Chunk::Failed(_) => ("failed", 0),
        };
        let nhosts = i64::try_from(nhosts).unwrap_or(i64::MAX);
        let _g = self.w().await;
        let mut tx = self.pool.begin().await?;
        // The write comes first: on SQLite it takes the write lock at once, so the
        // transaction never has to upgrade a read snapshot.
        let r = sqlx::query(
            "INSERT INTO chunks (op, seq, kind, hosts, received_ms)
             SELECT $1, $2, $3, $4, $5
             WHERE EXISTS (SELECT 1 FROM operations WHERE id = $1 AND agent = $6)
             ON CONFLICT (op, seq) DO NOTHING",
        )
        .bind(op)
        .bind(seq_i)
        .bind(kind)
        .bind(nhosts)
        .bind(now)
        .bind(agent)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            let row = sqlx::query("SELECT contiguous FROM operations WHERE id = $1 AND agent = $2")
                .bind(op)
                .bind(agent)
                .fetch_optional(&mut *tx)
                .await?;
            tx.rollback().await?;
            return Ok(match row {
                None => Stored {
                    known: false,
                    new: false,
                    contiguous: 0,
                },
                Some(r) => Stored {
                    known: true,
                    new: false,
                    contiguous: u64::try_from(r.try_get::<i64, _>(0)?).unwrap_or(0),
                },
            });
        }
        match chunk {
            Chunk::Records(hosts) => {
                // Results: every record as sent, in order.
                for (part, batch) in hosts.chunks(100).enumerate() {
                    let mut sql = String::from(
                        "INSERT INTO results (op, seq, idx, ip, rschema, host) VALUES ",
                    );
                    for i in 0..batch.len() {
                        let b = i * 6;
                        if i > 0 {
                            sql.push(',');
                        }
                        sql.push_str(&format!(
                            "(${}, ${}, ${}, ${}, ${}, ${})",
                            b + 1,
                            b + 2,
                            b + 3,
                            b + 4,
                            b + 5,
                            b + 6
                        ));
                    }
                    sql.push_str(" ON CONFLICT (op, seq, idx) DO NOTHING");
                    let mut q = sqlx::query(&sql);
                    for (i, h) in batch.iter().enumerate() {
                        q = q
                            .bind(op)
                            .bind(seq_i)
                            .bind(i64::try_from(part * 100 + i).unwrap_or(i64::MAX))
                            .bind(h.ip.clone())
                            .bind(h.rschema)
                            .bind(h.json.clone());
                    }
                    q.execute(&mut *tx).await?;
                }
                // The inventory: one row per address (the last record of a chunk wins
                // when an agent repeats an address).
                let mut last: std::collections::BTreeMap<&str, &NewHost> = Default::default();
                for h in &hosts {
                    last.insert(h.ip.as_str(), h);
                }
                let uniq: Vec<&NewHost> = last.into_values().collect();
                for batch in uniq.chunks(100) {
                    let mut sql = String::from(
                        "INSERT INTO hosts (ip, rschema, host, mac, first_seen_ms, last_seen_ms, agent, op) VALUES ",
                    );
                    for i in 0..batch.len() {
                        let b = i * 6;
                        if i > 0 {
                            sql.push(',');
                        }
                        sql.push_str(&format!(
                            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                            b + 1,
                            b + 2,
                            b + 3,
                            b + 4,
                            b + 5,
                            b + 5,
                            b + 6,
                            batch.len() * 6 + 1
                        ));
                    }
                    sql.push_str(
                        " ON CONFLICT (ip) DO UPDATE SET rschema = excluded.rschema,
                          host = excluded.host, mac = COALESCE(excluded.mac, hosts.mac),
                          last_seen_ms = excluded.last_seen_ms, agent = excluded.agent,
                          op = excluded.op",
                    );
                    let mut q = sqlx::query(&sql);
                    for h in batch {
                        q = q
                            .bind(h.ip.clone())
                            .bind(h.rschema)
                            .bind(h.json.clone())
                            .bind(h.mac.clone())
                            .bind(now)
                            .bind(agent);
                    }
                    q = q.bind(op);
                    q.execute(&mut *tx).await?;
                }
                sqlx::query(
                    "UPDATE operations SET chunks = chunks + 1, records = records + $2 WHERE id = $1",
                )
                .bind(op)
                .bind(nhosts)
                .execute(&mut *tx)
                .await?;
            }
            Chunk::Done(summary) => {
                sqlx::query(
                    "UPDATE operations SET chunks = chunks + 1, state = 'done', final_seq = $2,
                         summary = $3, finished_ms = $4 WHERE id = $1",
                )
                .bind(op)
                .bind(seq_i)
                .bind(summary)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            Chunk::Failed(error) => {
                sqlx::query(
                    "UPDATE operations SET chunks = chunks + 1, state = 'failed', final_seq = $2,
                         error = $3, finished_ms = $4 WHERE id = $1",
                )
                .bind(op)
                .bind(seq_i)
                .bind(error)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        // The cumulative cursor: walk the stored seqs after the old one.
        let row = sqlx::query("SELECT contiguous FROM operations WHERE id = $1")
            .bind(op)
            .fetch_one(&mut *tx)
            .await?;
        let mut c: i64 = row.try_get(0)?;
        let old = c;
        let rows = sqlx::query(
            "SELECT seq FROM chunks WHERE op = $1 AND seq > $2 ORDER BY seq LIMIT 100000",
        )
        .bind(op)
        .bind(c)
        .fetch_all(&mut *tx)
        .await?;
        for r in rows {
            if r.try_get::<i64, _>(0)? == c + 1 {
                c += 1;
            } else {
                break;
            }
        }
        if c != old {
            sqlx::query("UPDATE operations SET contiguous = $2 WHERE id = $1")
                .bind(op)
                .bind(c)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Stored {
            known: true,
            new: true,
            contiguous: u64::try_from(c).unwrap_or(0),
        })
    }

    /// The stored cursor of `op` for `agent` (0: nothing, or not this agent's).
    pub async fn stored_cursor(&self, agent: &str, op: &str) -> Result<u64> {
        let row = sqlx::query("SELECT contiguous FROM operations WHERE id = $1 AND agent = $2")
            .bind(op)
            .bind(agent)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => u64::try_from(r.try_get::<i64, _>(0)?).unwrap_or(0),
            None => 0,
        })
    }

    const OP_COLUMNS: &'static str =
        "id, agent, kind, state, chunks, records, contiguous, final_seq,
        created_ms, sent_ms, finished_ms, probed, total, up, summary, error, body, schedule_id,
        cancel_requested";

    fn op_row(r: &AnyRow) -> Result<OpView> {
        let state: String = r.try_get(3)?;
        let contiguous: i64 = r.try_get(6)?;
        let final_seq: Option<i64> = r.try_get(7)?;
        let probed: Option<i64> = r.try_get(11)?;
        let total: Option<i64> = r.try_get(12)?;
        let up: Option<i64> = r.try_get(13)?;
        Ok(OpView {
            id: r.try_get(0)?,
            agent: r.try_get(1)?,
            kind: r.try_get(2)?,
            complete: (state == "done" || state == "failed")
                && final_seq.is_some_and(|f| contiguous >= f),
            state,
            chunks: r.try_get(4)?,
            records: r.try_get(5)?,
            stored_seq: contiguous,
            final_seq,
            created: r.try_get(8)?,
            sent: r.try_get(9)?,
            finished: r.try_get(10)?,
            progress: probed.map(|probed| Progress {
                probed,
                total: total.unwrap_or(0),
                up: up.unwrap_or(0),
            }),
            summary: parse_json(r.try_get(14)?),
            error: parse_json(r.try_get(15)?),
            operation: parse_json(Some(r.try_get(16)?)).unwrap_or(Value::Null),
            schedule: r.try_get(17)?,
            cancel_requested: r.try_get(18)?,
        })
    }

    /// Operations, newest first.
    pub async fn operations(&self, limit: i64) -> Result<Vec<OpView>> {
        let sql = format!(
            "SELECT {} FROM operations ORDER BY created_ms DESC, id DESC LIMIT $1",
            Self::OP_COLUMNS
        );
        let rows = sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(Self::op_row).collect()
    }

    pub async fn operation(&self, id: &str) -> Result<Option<OpView>> {
        let sql = format!("SELECT {} FROM operations WHERE id = $1", Self::OP_COLUMNS);
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::op_row).transpose()
    }

    /// The stored records of an operation: (seq, record JSON), in order.
    pub async fn results(&self, op: &str) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query("SELECT seq, host FROM results WHERE op = $1 ORDER BY seq, idx")
            .bind(op)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// The inventory, ordered by address.
    pub async fn hosts(&self) -> Result<Vec<HostRow>> {
        let rows =
            sqlx::query("SELECT ip, host, first_seen_ms, last_seen_ms, agent, op FROM hosts")
                .fetch_all(&self.pool)
                .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(HostRow {
                    ip: r.try_get(0)?,
                    host: r.try_get(1)?,
                    first_seen: r.try_get(2)?,
                    last_seen: r.try_get(3)?,
                    agent: r.try_get(4)?,
                    op: r.try_get(5)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|h| {
            (
                h.ip.parse::<std::net::Ipv4Addr>()
                    .map(u32::from)
                    .unwrap_or(u32::MAX),
                h.ip.clone(),
            )
        });
        Ok(out)
    }

    // ---- schedules ----

    pub async fn schedule_add(
        &self,
        id: &str,
        agent: &str,
        every_s: i64,
        body: &str,
    ) -> Result<()> {
        let _g = self.w().await;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO schedules (id, agent, every_s, body, next_ms, created_ms)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id)
        .bind(agent)
        .bind(every_s)
        .bind(body)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn schedule_list(&self) -> Result<Vec<ScheduleView>> {
        let rows = sqlx::query(
            "SELECT id, agent, every_s, body, next_ms, created_ms FROM schedules ORDER BY created_ms, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ScheduleView {
                    id: r.try_get(0)?,
                    agent: r.try_get(1)?,
                    every_seconds: r.try_get(2)?,
                    operation: parse_json(Some(r.try_get(3)?)).unwrap_or(Value::Null),
                    next: r.try_get(4)?,
                    created: r.try_get(5)?,
                })
            })
            .collect()
    }

    pub async fn schedule_remove(&self, id: &str) -> Result<bool> {
        let _g = self.w().await;
        let r = sqlx::query("DELETE FROM schedules WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Queues an operation for every schedule that is due, once across a fleet: the
    /// schedule's `next_ms` is moved on by a compare-and-set in the operation's
    /// transaction. Returns the agents that got one.
    pub async fn schedules_run_due(&self) -> Result<Vec<String>> {
        let now = now_ms();
        let rows = sqlx::query(
            "SELECT id, agent, every_s, body, next_ms FROM schedules
             WHERE next_ms <= $1
               AND agent IN (SELECT name FROM tokens WHERE revoked_ms IS NULL AND operator = 0)
             LIMIT 1000",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut agents = Vec::new();
        for r in rows {
            let id: String = r.try_get(0)?;
            let agent: String = r.try_get(1)?;
            let every: i64 = r.try_get::<i64, _>(2)?.max(1);
            let body: String = r.try_get(3)?;
            let old: i64 = r.try_get(4)?;
            let mut next = old.saturating_add(every.saturating_mul(1000));
            if next <= now {
                next = now.saturating_add(every.saturating_mul(1000));
            }
            let _g = self.w().await;
            let mut tx = self.pool.begin().await?;
            let c = sqlx::query("UPDATE schedules SET next_ms = $3 WHERE id = $1 AND next_ms = $2")
                .bind(&id)
                .bind(old)
                .bind(next)
                .execute(&mut *tx)
                .await?;
            if c.rows_affected() != 1 {
                tx.rollback().await?;
                continue;
            }
            let kind = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v.get("kind").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| "scan".into());
            sqlx::query(
                "INSERT INTO operations (id, agent, kind, body, state, created_ms, schedule_id)
                 VALUES ($1, $2, $3, $4, 'queued', $5, $6)",
            )
            .bind(crate::util::new_id("op"))
            .bind(&agent)
            .bind(kind)
            .bind(&body)
            .bind(now)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            agents.push(agent);
        }
        Ok(agents)
    }

    // ---- retention, backup, notifications ----

    /// Deletes the operations created before `cutoff_ms`, with their chunks and
    /// results (the inventory is kept). Returns the operations deleted.
    pub async fn retention(&self, cutoff_ms: i64) -> Result<u64> {
        let _g = self.w().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM results WHERE op IN (SELECT id FROM operations WHERE created_ms < $1)",
        )
        .bind(cutoff_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM chunks WHERE op IN (SELECT id FROM operations WHERE created_ms < $1)",
        )
        .bind(cutoff_ms)
        .execute(&mut *tx)
        .await?;
        let r = sqlx::query("DELETE FROM operations WHERE created_ms < $1")
            .bind(cutoff_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }

    /// An online copy of a SQLite database (`VACUUM INTO`).
    pub async fn backup(&self, file: &Path) -> Result<()> {
        if self.kind != Kind::Sqlite {
            return Err(DbError::Invalid(
                "backup is for SQLite; for PostgreSQL use pg_dump (docs/controller.md)".into(),
            ));
        }
        if file.exists() {
            return Err(DbError::Invalid(format!("{} exists", file.display())));
        }
        let name = file
            .to_str()
            .ok_or_else(|| DbError::Invalid("the backup file name is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1")
            .bind(name.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Wakes the controllers of a fleet (PostgreSQL NOTIFY on channel `ksocket`);
    /// nothing on SQLite, where they poll.
    pub async fn notify(&self, payload: &str) -> Result<()> {
        if self.kind == Kind::Postgres {
            sqlx::query("SELECT COUNT(*) FROM (SELECT pg_notify('ksocket', $1)) AS n")
                .bind(payload.to_string())
                .fetch_one(&self.pool)
                .await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database made by a controller of schema 1 is brought to the latest step,
    /// keeping its operations, which can then be cancelled.
    #[tokio::test]
    async fn a_schema_1_database_is_migrated() {
        use sqlx::{Connection, Executor};
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("controller.sqlite");
        let url = format!("sqlite://{}?mode=rwc", file.display());
        {
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            c.execute(
                "CREATE TABLE schema_version (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
            )
            .await
            .unwrap();
            for s in schema::STEPS[0].1 {
                c.execute(*s).await.unwrap();
            }
            c.execute("INSERT INTO schema_version VALUES (1, 0)")
                .await
                .unwrap();
            c.execute(
                "INSERT INTO operations (id, agent, kind, body, state, created_ms)
                 VALUES ('op-q', 'edge', 'scan', '{}', 'queued', 1),
                        ('op-r', 'edge', 'scan', '{}', 'running', 1),
                        ('op-d', 'edge', 'scan', '{}', 'done', 1)",
            )
            .await
            .unwrap();
            c.close().await.unwrap();
        }
        let db = Db::open(dir.path(), None).await.unwrap();
        assert_eq!(db.version().await.unwrap(), schema::latest());
        assert!(
            db.operation("op-q")
                .await
                .unwrap()
                .unwrap()
                .cancel_requested
                .is_none()
        );
        assert_eq!(
            db.op_cancel("op-q", "{}").await.unwrap(),
            CancelOutcome::Cancelled {
                agent: "edge".into()
            }
        );
        let q = db.operation("op-q").await.unwrap().unwrap();
        assert_eq!((q.state.as_str(), q.complete), ("failed", true));
        assert_eq!(
            db.op_cancel("op-r", "{}").await.unwrap(),
            CancelOutcome::Requested {
                agent: "edge".into(),
                state: "running".into()
            }
        );
        assert_eq!(db.ops_to_cancel("edge").await.unwrap(), vec!["op-r"]);
        assert_eq!(db.agents_with_queued(0).await.unwrap(), vec!["edge"]);
        assert!(db.agents_with_queued(i64::MAX).await.unwrap().is_empty());
        assert_eq!(
            db.op_cancel("op-d", "{}").await.unwrap(),
            CancelOutcome::Over("done".into())
        );
        assert_eq!(
            db.op_cancel("op-x", "{}").await.unwrap(),
            CancelOutcome::Unknown
        );
        // A cancelled queued operation is not sent.
        assert!(!db.op_mark_sent("op-q").await.unwrap());
        db.close().await;
    }
}
