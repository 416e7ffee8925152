//! Schedules: an operation queued for an agent every so many seconds.

use super::{Db, Result, parse_json};
use crate::util::now_ms;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

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

impl Db {
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
}
