//! The database schema as numbered steps, valid on SQLite and PostgreSQL alike: TEXT
//! and BIGINT only, our own text ids, timestamps in unix milliseconds. A step is never
//! edited once released; a change is a new step. `schema_version` holds one row per
//! step applied.

/// Each step: its number and its statements (run in one transaction, in order).
pub const STEPS: &[(i64, &[&str])] = &[
    (
        1,
        &[
            // Tokens: only the SHA-256 of each token is kept. `operator` is 0 or 1.
            "CREATE TABLE tokens (
            name TEXT PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            operator BIGINT NOT NULL,
            created_ms BIGINT NOT NULL,
            revoked_ms BIGINT
        )",
            // What an agent said of itself in its last hello, by token name.
            "CREATE TABLE agents (
            name TEXT PRIMARY KEY,
            instance TEXT NOT NULL,
            version TEXT NOT NULL,
            target TEXT NOT NULL,
            capabilities TEXT NOT NULL,
            connected_ms BIGINT NOT NULL,
            last_seen_ms BIGINT NOT NULL
        )",
            // The slot of each agent token: who holds it, on which connection of which
            // controller, until when (renewed by heartbeats).
            "CREATE TABLE leases (
            token TEXT PRIMARY KEY,
            instance TEXT NOT NULL,
            conn_id TEXT NOT NULL,
            controller_id TEXT NOT NULL,
            lease_until_ms BIGINT NOT NULL,
            renewed_ms BIGINT NOT NULL
        )",
            // Operations. `body` is the JSON of ksocket_proto::messages::Operation.
            // `contiguous`: every chunk 1..=contiguous is stored; `final_seq`: the seq of
            // the done/failed chunk once it came (complete when contiguous >= final_seq).
            "CREATE TABLE operations (
            id TEXT PRIMARY KEY,
            agent TEXT NOT NULL,
            kind TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL,
            created_ms BIGINT NOT NULL,
            sent_ms BIGINT,
            finished_ms BIGINT,
            schedule_id TEXT,
            contiguous BIGINT NOT NULL DEFAULT 0,
            final_seq BIGINT,
            chunks BIGINT NOT NULL DEFAULT 0,
            records BIGINT NOT NULL DEFAULT 0,
            probed BIGINT,
            total BIGINT,
            up BIGINT,
            summary TEXT,
            error TEXT
        )",
            "CREATE INDEX operations_agent_state ON operations (agent, state)",
            "CREATE INDEX operations_state ON operations (state)",
            "CREATE INDEX operations_created ON operations (created_ms)",
            // One row per chunk stored: the key of exactly-once storage.
            "CREATE TABLE chunks (
            op TEXT NOT NULL,
            seq BIGINT NOT NULL,
            kind TEXT NOT NULL,
            hosts BIGINT NOT NULL,
            received_ms BIGINT NOT NULL,
            PRIMARY KEY (op, seq)
        )",
            // One row per host record of a chunk, its JSON as the agent sent it.
            "CREATE TABLE results (
            op TEXT NOT NULL,
            seq BIGINT NOT NULL,
            idx BIGINT NOT NULL,
            ip TEXT NOT NULL,
            rschema BIGINT NOT NULL,
            host TEXT NOT NULL,
            PRIMARY KEY (op, seq, idx)
        )",
            "CREATE INDEX results_ip ON results (ip)",
            // The inventory: the last record of each address, who saw it first and last.
            "CREATE TABLE hosts (
            ip TEXT PRIMARY KEY,
            rschema BIGINT NOT NULL,
            host TEXT NOT NULL,
            mac TEXT,
            first_seen_ms BIGINT NOT NULL,
            last_seen_ms BIGINT NOT NULL,
            agent TEXT NOT NULL,
            op TEXT NOT NULL
        )",
            // Recurring scans: `body` is the operation to queue every `every_s` seconds.
            "CREATE TABLE schedules (
            id TEXT PRIMARY KEY,
            agent TEXT NOT NULL,
            every_s BIGINT NOT NULL,
            body TEXT NOT NULL,
            next_ms BIGINT NOT NULL,
            created_ms BIGINT NOT NULL
        )",
        ],
    ),
    (
        2,
        &[
            // `cancel {op}`: when an operator last asked to cancel the operation (unix
            // ms), NULL if never. The connection holding the agent sends `cancel` while
            // the operation is sent, accepted or running.
            "ALTER TABLE operations ADD COLUMN cancel_requested BIGINT",
            "CREATE INDEX operations_cancel ON operations (cancel_requested)",
        ],
    ),
];

/// The newest step this controller knows.
pub fn latest() -> i64 {
    STEPS.last().map(|s| s.0).unwrap_or(0)
}
