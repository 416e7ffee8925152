//! `/healthz` and the operator API under `/api/v1` (Bearer operator token).

use crate::db::CancelOutcome;
use crate::state::App;
use crate::util::{bearer, sha256_hex};
use crate::views;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ksocket_proto::messages::Operation;
use ksocket_proto::records::{CollectError, ErrorKind};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub async fn healthz(State(app): State<Arc<App>>) -> Response {
    if app.db.ping().await {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the database does not answer\n",
        )
            .into_response()
    }
}

fn err(code: StatusCode, why: &str) -> Response {
    (code, Json(json!({ "error": why }))).into_response()
}

fn db_fail(e: crate::db::DbError) -> Response {
    eprintln!("api: {e}");
    err(StatusCode::SERVICE_UNAVAILABLE, "database error")
}

/// The operator behind the request, or the refusal: 401 without a known live token,
/// 403 for an agent token.
async fn operator(app: &App, headers: &HeaderMap) -> Result<String, Response> {
    let Some(t) = bearer(headers) else {
        return Err(err(
            StatusCode::UNAUTHORIZED,
            "a Bearer operator token is needed",
        ));
    };
    match app.db.token_by_hash(&sha256_hex(t.as_bytes())).await {
        Ok(Some(t)) if t.revoked.is_none() && t.operator => Ok(t.name),
        Ok(Some(t)) if t.revoked.is_none() => Err(err(
            StatusCode::FORBIDDEN,
            "an agent token cannot use the API",
        )),
        Ok(_) => Err(err(StatusCode::UNAUTHORIZED, "unknown or revoked token")),
        Err(e) => Err(db_fail(e)),
    }
}

pub async fn hosts(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(r) = operator(&app, &headers).await {
        return r;
    }
    match app.db.hosts().await {
        Ok(h) => Json(views::hosts_json(&h)).into_response(),
        Err(e) => db_fail(e),
    }
}

pub async fn agents(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(r) = operator(&app, &headers).await {
        return r;
    }
    match app.db.agents().await {
        Ok(a) => Json(a).into_response(),
        Err(e) => db_fail(e),
    }
}

#[derive(Deserialize)]
pub struct Limit {
    limit: Option<i64>,
}

pub async fn operations(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<Limit>,
) -> Response {
    if let Err(r) = operator(&app, &headers).await {
        return r;
    }
    let limit = q.limit.unwrap_or(1000).clamp(1, 100_000);
    match app.db.operations(limit).await {
        Ok(o) => Json(o).into_response(),
        Err(e) => db_fail(e),
    }
}

pub async fn operation(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = operator(&app, &headers).await {
        return r;
    }
    match app.db.operation(&id).await {
        Ok(Some(o)) => Json(o).into_response(),
        Ok(None) => err(StatusCode::NOT_FOUND, "no such operation"),
        Err(e) => db_fail(e),
    }
}

pub async fn results(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = operator(&app, &headers).await {
        return r;
    }
    match app.db.operation(&id).await {
        Ok(Some(_)) => {}
        Ok(None) => return err(StatusCode::NOT_FOUND, "no such operation"),
        Err(e) => return db_fail(e),
    }
    match app.db.results(&id).await {
        Ok(r) => Json(views::results_json(&r)).into_response(),
        Err(e) => db_fail(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    agent: String,
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    excludes: Vec<String>,
    #[serde(default)]
    details: Option<bool>,
    #[serde(default)]
    ports: Option<Vec<u16>>,
    #[serde(default)]
    rate: Option<u32>,
    #[serde(default)]
    names: Option<bool>,
    #[serde(default)]
    sweep: Option<bool>,
}

pub async fn scan(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Json<ScanRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(r) = operator(&app, &headers).await {
        return r;
    }
    let Ok(Json(req)) = body else {
        return err(
            StatusCode::BAD_REQUEST,
            "the body must be {agent, targets, excludes, details, ports, rate, names, sweep}",
        );
    };
    let op = Operation::Scan {
        targets: req.targets,
        excludes: req.excludes,
        details: req.details,
        ports: req.ports,
        rate: req.rate,
        names: req.names,
        sweep: req.sweep,
    };
    match queue(&app.db, &req.agent, &op, None).await {
        Ok(id) => {
            app.wake(&req.agent);
            (StatusCode::CREATED, Json(json!({ "id": id }))).into_response()
        }
        Err(QueueError::Invalid(why)) => err(StatusCode::BAD_REQUEST, &why),
        Err(QueueError::Db(e)) => db_fail(e),
    }
}

/// `POST /api/v1/operations/{id}/cancel`: 200 when the operation was still queued
/// (it is failed now, kind `cancelled`), 202 when the agent is told (`cancel {op}`),
/// 404 for an unknown operation, 409 for one that is over.
pub async fn cancel(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = operator(&app, &headers).await {
        return r;
    }
    match request_cancel(&app.db, &id).await {
        Ok(CancelOutcome::Cancelled { .. }) => (
            StatusCode::OK,
            Json(json!({ "id": id, "state": "failed", "cancelled": true })),
        )
            .into_response(),
        Ok(CancelOutcome::Requested { agent, state }) => {
            app.wake(&agent);
            (
                StatusCode::ACCEPTED,
                Json(json!({ "id": id, "state": state, "cancelled": false })),
            )
                .into_response()
        }
        Ok(CancelOutcome::Unknown) => err(StatusCode::NOT_FOUND, "no such operation"),
        Ok(CancelOutcome::Over(state)) => err(
            StatusCode::CONFLICT,
            &format!("the operation is already {state}: nothing to cancel"),
        ),
        Err(e) => db_fail(e),
    }
}

/// Asks to cancel operation `id` (docs/controller.md): a queued one is failed here
/// with kind `cancelled`; for one with its agent the request is recorded and the
/// fleet woken, so that the controller holding the agent sends `cancel {op}`.
pub async fn request_cancel(
    db: &crate::db::Db,
    id: &str,
) -> Result<CancelOutcome, crate::db::DbError> {
    if id.is_empty() || id.len() > 256 {
        return Ok(CancelOutcome::Unknown);
    }
    let error = serde_json::to_string(&CollectError {
        kind: ErrorKind::Cancelled,
        message: "cancelled by the controller before it was sent".into(),
    })
    .unwrap_or_default();
    let outcome = db.op_cancel(id, &error).await?;
    if let CancelOutcome::Requested { agent, .. } = &outcome
        && let Err(e) = db.notify(&format!("op:{agent}")).await
    {
        eprintln!("notify: {e} (the poll will find the cancel)");
    }
    Ok(outcome)
}

pub enum QueueError {
    Invalid(String),
    Db(crate::db::DbError),
}

impl std::fmt::Display for QueueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueueError::Invalid(s) => f.write_str(s),
            QueueError::Db(e) => write!(f, "{e}"),
        }
    }
}

/// Checks an operation's limits (the agent checks its meaning).
pub fn check_operation(op: &Operation) -> Result<(), String> {
    if let Operation::Scan {
        targets, excludes, ..
    } = op
    {
        if targets.len() > 4096 || excludes.len() > 4096 {
            return Err("at most 4096 targets and 4096 excludes".into());
        }
        if targets
            .iter()
            .chain(excludes)
            .any(|t| t.is_empty() || t.len() > 256 || t.chars().any(char::is_control))
        {
            return Err("a target or exclude is empty, too long, or has control characters".into());
        }
    }
    if let Operation::Collect { hosts, protocols } = op {
        if hosts.is_empty() || hosts.len() > 65_536 || protocols.len() > 16 {
            return Err("collect takes 1 to 65536 hosts and at most 16 protocols".into());
        }
        if hosts
            .iter()
            .chain(protocols)
            .any(|t| t.is_empty() || t.len() > 256 || t.chars().any(char::is_control))
        {
            return Err("a host or protocol is empty, too long, or has control characters".into());
        }
    }
    Ok(())
}

/// Queues `op` for the agent of token `agent` and wakes the fleet; its id.
pub async fn queue(
    db: &crate::db::Db,
    agent: &str,
    op: &Operation,
    schedule: Option<&str>,
) -> Result<String, QueueError> {
    check_operation(op).map_err(QueueError::Invalid)?;
    match db.token_by_name(agent).await.map_err(QueueError::Db)? {
        Some(t) if !t.operator && t.revoked.is_none() => {}
        _ => {
            return Err(QueueError::Invalid(format!(
                "no live agent token named `{agent}`"
            )));
        }
    }
    let body = serde_json::to_string(op).unwrap_or_default();
    let kind = match serde_json::to_value(op)
        .ok()
        .as_ref()
        .and_then(|v| v.get("kind"))
    {
        Some(Value::String(k)) => k.clone(),
        _ => "scan".into(),
    };
    let id = crate::util::new_id("op");
    db.op_insert(&id, agent, &kind, &body, schedule)
        .await
        .map_err(QueueError::Db)?;
    if let Err(e) = db.notify(&format!("op:{agent}")).await {
        eprintln!("notify: {e} (the poll will find the operation)");
    }
    Ok(id)
}
