//! The side HTTP server: Prometheus `/metrics`, `/health` and `/ready`. (The full status page
//! and query API build on this.)

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use tickrec_model::now_us;
use tickrec_store::WriterStats;
use tokio::sync::watch;

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder once per process; histograms get explicit buckets so they
/// render as histograms, not summaries.
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS.get_or_init(install_prometheus).as_ref()
}

fn install_prometheus() -> Option<PrometheusHandle> {
    let ms = [
        0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 5000.0,
    ];
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_ms".into()), &ms)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &ms.map(|m| m / 1000.0))
        })
        .ok()?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).ok()?;
    Some(handle)
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct HttpState {
    writer: Arc<WriterStats>,
    connections: Arc<Vec<String>>,
    started: Instant,
    api: Option<crate::api::ApiState>,
}

impl HttpState {
    /// State over the writer's live counters.
    pub fn new(writer: Arc<WriterStats>, connections: Vec<String>, started: Instant) -> Self {
        HttpState {
            writer,
            connections: Arc::new(connections),
            started,
            api: None,
        }
    }

    /// Also serves the query API (`/api/v1/...`, see [`crate::api`]).
    pub fn with_api(mut self, api: crate::api::ApiState) -> Self {
        self.api = Some(api);
        self
    }
}

/// Serves until `stop` becomes true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: HttpState,
    mut stop: watch::Receiver<bool>,
) {
    let api = state
        .api
        .clone()
        .map(crate::api::routes)
        .unwrap_or_default();
    let app = Router::new()
        .merge(api)
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(state);
    let shutdown = async move {
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                break;
            }
        }
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "http server failed");
    }
}

async fn metrics() -> impl IntoResponse {
    match prometheus() {
        Some(h) => (StatusCode::OK, h.render()),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder not installed\n".to_string(),
        ),
    }
}

async fn health(State(s): State<HttpState>) -> impl IntoResponse {
    let w = s.writer.snapshot();
    let last_commit = s.writer.last_commit_us.load(Ordering::Relaxed);
    let retrying = s.writer.retrying.load(Ordering::Relaxed);
    let status = if retrying { "degraded" } else { "healthy" };
    let body = json!({
        "status": status,
        "uptime_s": s.started.elapsed().as_secs(),
        "connections": *s.connections,
        "sinks": {
            "sqlite": {
                "retrying": retrying,
                "commits": s.writer.commits.load(Ordering::Relaxed),
                "seconds_since_last_commit": if last_commit > 0 { Some((now_us() - last_commit) / 1_000_000) } else { None },
                "rows": { "trades": w.trades, "agg_trades": w.agg_trades, "quotes": w.quotes,
                          "candles": w.candles, "books": w.books, "rejects": w.rejects,
                          "duplicates": w.duplicates },
            }
        }
    });
    (StatusCode::OK, Json(body))
}

async fn ready(State(s): State<HttpState>) -> impl IntoResponse {
    if s.writer.retrying.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "sink retrying\n")
    } else {
        (StatusCode::OK, "ready\n")
    }
}
