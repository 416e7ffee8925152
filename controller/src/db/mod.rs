//! The database: one code path for SQLite and PostgreSQL through sqlx's `Any` driver,
//! runtime queries only (no macros), `$N` placeholders (both drivers take them).
//!
//! This file opens and migrates the database (its schema is `schema.rs`) and keeps
//! it (retention, backup, notifications); the tables are read and written by
//! concern: [`agents`] (tokens, leases, hellos), [`operations`], [`results`] (chunks,
//! results, the inventory), [`schedules`].
//!
//! Exactly-once storage lives in results ([`Db::store_chunk`]): a chunk row keyed by
//! (op, seq) is inserted with `ON CONFLICT DO NOTHING`, and only when that inserted a
//! row do its results, the inventory and the operation's counters change, in the same
//! transaction.

mod agents;
mod operations;
mod results;
mod schedules;

pub use agents::{AgentView, TokenInfo};
pub use operations::{CancelOutcome, OpView};
pub use results::{Chunk, HostRow, NewHost};
pub use schedules::ScheduleView;

use crate::schema;
use crate::util::now_ms;
use serde_json::Value;
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::AnyPoolOptions;
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
