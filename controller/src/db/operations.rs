//! Operations: queued for an agent, sent, accepted or refused, their progress,
//! cancels, and how the CLI and the API read them back.

use super::{Db, Result, parse_json};
use crate::util::now_ms;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

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

impl Db {
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

    // ---- reading them back ----

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
}
