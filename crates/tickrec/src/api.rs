//! The query API on the recorder's HTTP server: `GET /api/v1/{trades,candles,volume-profile,
//! vacuums,features}` over the configured SQLite store, documented in `docs/openapi.yaml`.
//! Parameters are the query string, parsed by the same [`Request`] as the CLI and MCP server;
//! a bad request is a 4xx with `{"error": code, "message": text}`, never a panic.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tickrec_query::{Kind, QueryError, Request, Tape};
use tokio::sync::Semaphore;

/// Queries running at once; more wait their turn, so a burst of 24 h profiles cannot take the
/// recorder's cores away from recording.
pub const MAX_CONCURRENT_QUERIES: usize = 2;

/// What the API handlers need: where the store is, and the query slots.
#[derive(Clone, Debug)]
pub struct ApiState {
    db: Arc<PathBuf>,
    slots: Arc<Semaphore>,
}

impl ApiState {
    /// Queries the SQLite store at `db` (opened read-only per request).
    pub fn new(db: PathBuf) -> Self {
        ApiState {
            db: Arc::new(db),
            slots: Arc::new(Semaphore::new(MAX_CONCURRENT_QUERIES)),
        }
    }
}

/// The `/api/v1` routes, ready to merge into any router.
pub fn routes<S: Clone + Send + Sync + 'static>(api: ApiState) -> Router<S> {
    Router::new()
        .route("/api/v1/trades", get(trades))
        .route("/api/v1/candles", get(candles))
        .route("/api/v1/volume-profile", get(volume_profile))
        .route("/api/v1/vacuums", get(vacuums))
        .route("/api/v1/features", get(features))
        .with_state(api)
}

type Params = Result<Query<Vec<(String, String)>>, QueryRejection>;

async fn trades(State(s): State<ApiState>, q: Params) -> Response {
    answer(s, Kind::Trades, q).await
}
async fn candles(State(s): State<ApiState>, q: Params) -> Response {
    answer(s, Kind::Candles, q).await
}
async fn volume_profile(State(s): State<ApiState>, q: Params) -> Response {
    answer(s, Kind::VolumeProfile, q).await
}
async fn vacuums(State(s): State<ApiState>, q: Params) -> Response {
    answer(s, Kind::Vacuums, q).await
}
async fn features(State(s): State<ApiState>, q: Params) -> Response {
    answer(s, Kind::Features, q).await
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

/// The HTTP status of a query error.
pub fn status_of(e: &QueryError) -> StatusCode {
    match e {
        QueryError::UnknownMarket { .. } => StatusCode::NOT_FOUND,
        QueryError::InsufficientTrades { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        e if e.is_client_error() => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn answer(s: ApiState, kind: Kind, q: Params) -> Response {
    let Query(params) = match q {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()),
    };
    let Ok(_slot) = s.slots.clone().acquire_owned().await else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "internal",
            "shutting down".into(),
        );
    };
    // SQLite is blocking; each request reads on the blocking pool with its own connection.
    let result = tokio::task::spawn_blocking(move || {
        let request = Request::new(kind, params)?;
        let tape = Tape::open(s.db.as_path())?;
        request.run(&tape)
    })
    .await;
    match result {
        Ok(Ok(a)) => (StatusCode::OK, Json(a)).into_response(),
        Ok(Err(e)) => {
            let status = status_of(&e);
            if status.is_server_error() {
                tracing::error!(error = %e, "query failed");
            }
            error(status, e.code(), e.to_string())
        }
        Err(e) => {
            tracing::error!(error = %e, "query task failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "query task failed".into(),
            )
        }
    }
}
