//! Tokens (their hashes, never their secrets), the slot lease each agent token
//! holds while connected, and what each agent last said in its hello.

use super::{Db, Result};
use crate::util::now_ms;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

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

impl Db {
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
}
