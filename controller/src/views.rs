//! What the CLI and the API print: JSON shapes shared by both, tables and CSV.
//!
//! Stored records are read by field name from their JSON (whatever `schema` they
//! carry), never through the typed record of this build: a controller reads every
//! version it stored.

use crate::db::{AgentView, HostRow, OpView, ScheduleView, TokenInfo};
use crate::util::iso;
use serde_json::{Map, Value};

/// One inventory entry: the stored record's fields, and `firstSeen`, `lastSeen` (unix
/// ms), `agent` (which saw it last), `op` (the operation that saw it last).
pub fn host_json(h: &HostRow) -> Value {
    let mut m = match serde_json::from_str::<Value>(&h.host) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    m.insert("ip".into(), Value::String(h.ip.clone()));
    m.insert("firstSeen".into(), h.first_seen.into());
    m.insert("lastSeen".into(), h.last_seen.into());
    m.insert("agent".into(), Value::String(h.agent.clone()));
    m.insert("op".into(), Value::String(h.op.clone()));
    Value::Object(m)
}

pub fn hosts_json(rows: &[HostRow]) -> Value {
    Value::Array(rows.iter().map(host_json).collect())
}

/// The results of an operation: `[{"seq": N, "host": {...record...}}, ...]`.
pub fn results_json(rows: &[(i64, String)]) -> Value {
    Value::Array(
        rows.iter()
            .map(|(seq, h)| {
                let host = serde_json::from_str::<Value>(h).unwrap_or(Value::Null);
                serde_json::json!({ "seq": seq, "host": host })
            })
            .collect(),
    )
}

fn s(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

fn via(h: &Value) -> String {
    match h.get("via") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().unwrap_or("?").to_string())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn sys_name(h: &Value) -> String {
    s(h.get("snmp").and_then(|d| d.get("sysName")))
}

/// Columns padded to their widest cell.
pub fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let pad = w[i].saturating_sub(c.chars().count());
                l.push_str(c);
                l.push_str(&" ".repeat(pad + 2));
            }
        }
        l.trim_end().to_string()
    };
    let mut out = line(head.iter().map(|h| h.to_string()).collect());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.clone()));
        out.push('\n');
    }
    out
}

fn csv_cell(c: &str) -> String {
    if c.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c.to_string()
    }
}

pub fn hosts_table(rows: &[HostRow]) -> String {
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|h| {
            let v = host_json(h);
            vec![
                h.ip.clone(),
                s(v.get("mac")),
                via(&v),
                sys_name(&v),
                h.agent.clone(),
                iso(h.first_seen),
                iso(h.last_seen),
            ]
        })
        .collect();
    table(
        &[
            "IP",
            "MAC",
            "VIA",
            "SYSNAME",
            "AGENT",
            "FIRST SEEN",
            "LAST SEEN",
        ],
        &body,
    )
}

pub fn hosts_csv(rows: &[HostRow]) -> String {
    let mut out = String::from("ip,mac,via,sysName,agent,firstSeen,lastSeen\n");
    for h in rows {
        let v = host_json(h);
        let cells = [
            h.ip.clone(),
            s(v.get("mac")),
            via(&v),
            sys_name(&v),
            h.agent.clone(),
            iso(h.first_seen),
            iso(h.last_seen),
        ];
        out.push_str(
            &cells
                .iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

pub fn results_table(rows: &[(i64, String)]) -> String {
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|(seq, h)| {
            let v = serde_json::from_str::<Value>(h).unwrap_or(Value::Null);
            vec![
                seq.to_string(),
                s(v.get("ip")),
                s(v.get("mac")),
                via(&v),
                sys_name(&v),
            ]
        })
        .collect();
    table(&["SEQ", "IP", "MAC", "VIA", "SYSNAME"], &body)
}

fn opt_time(t: Option<i64>) -> String {
    t.map(iso).unwrap_or_else(|| "-".into())
}

pub fn operations_table(ops: &[OpView]) -> String {
    let body: Vec<Vec<String>> = ops
        .iter()
        .map(|o| {
            vec![
                o.id.clone(),
                o.agent.clone(),
                o.kind.clone(),
                o.state.clone(),
                o.chunks.to_string(),
                o.records.to_string(),
                iso(o.created),
                opt_time(o.finished),
            ]
        })
        .collect();
    table(
        &[
            "ID", "AGENT", "KIND", "STATE", "CHUNKS", "RECORDS", "CREATED", "FINISHED",
        ],
        &body,
    )
}

pub fn agents_table(agents: &[AgentView]) -> String {
    let body: Vec<Vec<String>> = agents
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                if a.revoked {
                    "revoked".into()
                } else if a.connected {
                    "connected".into()
                } else {
                    "-".into()
                },
                a.instance.clone().unwrap_or_else(|| "-".into()),
                a.version.clone().unwrap_or_else(|| "-".into()),
                a.target.clone().unwrap_or_else(|| "-".into()),
                opt_time(a.last_seen),
            ]
        })
        .collect();
    table(
        &[
            "NAME",
            "STATE",
            "INSTANCE",
            "VERSION",
            "TARGET",
            "LAST SEEN",
        ],
        &body,
    )
}

pub fn tokens_table(tokens: &[TokenInfo]) -> String {
    let body: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                if t.operator { "operator" } else { "agent" }.into(),
                iso(t.created),
                opt_time(t.revoked),
            ]
        })
        .collect();
    table(&["NAME", "KIND", "CREATED", "REVOKED"], &body)
}

pub fn schedules_table(s: &[ScheduleView]) -> String {
    let body: Vec<Vec<String>> = s
        .iter()
        .map(|x| {
            let targets = match x.operation.get("targets") {
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| v.as_str().unwrap_or("?"))
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            };
            vec![
                x.id.clone(),
                x.agent.clone(),
                format!("{}s", x.every_seconds),
                iso(x.next),
                targets,
            ]
        })
        .collect();
    table(&["ID", "AGENT", "EVERY", "NEXT", "TARGETS"], &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_json_reads_any_schema_by_name() {
        let row = HostRow {
            ip: "198.18.0.7".into(),
            // A later schema with a field this build does not know.
            host: r#"{"schema":2,"ip":"198.18.0.7","via":["arp"],"ssh":{"banner":"x"}}"#.into(),
            first_seen: 1,
            last_seen: 2,
            agent: "edge".into(),
            op: "op-1".into(),
        };
        let v = host_json(&row);
        assert_eq!(v["schema"], 2);
        assert_eq!(v["ssh"]["banner"], "x");
        assert_eq!(v["firstSeen"], 1);
        assert_eq!(v["agent"], "edge");
        assert!(hosts_csv(&[row]).contains("198.18.0.7,,arp,,edge,"));
    }

    #[test]
    fn csv_quotes() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_cell("plain"), "plain");
    }
}
