//! Results: a chunk of an operation stored exactly once ([`Db::store_chunk`]) with
//! its host records and the inventory they update, and both read back.

use super::{Db, DbError, Result};
use crate::util::now_ms;
use sqlx::Row;

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

impl Db {
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
                // IPv4 in numeric order, then IPv6, then anything else.
                h.ip.parse::<std::net::IpAddr>()
                    .map(|a| match a {
                        std::net::IpAddr::V4(v) => u128::from(v.to_ipv6_mapped()),
                        std::net::IpAddr::V6(v) => u128::from(v).max(1 << 48),
                    })
                    .unwrap_or(u128::MAX),
                h.ip.clone(),
            )
        });
        Ok(out)
    }
}
