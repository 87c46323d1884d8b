//! The side HTTP server: Prometheus `/metrics`, `/health`, `/ready`, the status page `/` and its
//! JSON feed `/api/v1/status`. Everything here reads live atomics; nothing blocks a reader or a
//! writer.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::{json, Value};
use tickrec_feed::{ConnState, StreamRegistry};
use tickrec_model::hist::{render_prometheus, BUCKETS_MS};
use tickrec_model::now_us;
use tokio::sync::watch;

use crate::app::SinkStats;
use crate::pipeline::JournalStats;

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The status page: plain HTML/CSS/JS, no external resources (works offline).
const DASHBOARD: &str = include_str!("dashboard.html");

/// Every connection down for this long makes the recorder `unhealthy` (before: `degraded`).
const ALL_DOWN_UNHEALTHY: Duration = Duration::from_secs(30);

/// The journal this full (fraction of `max_bytes`) makes the recorder `degraded`.
const JOURNAL_DEGRADED_FILL: f64 = 0.8;

/// Installs the Prometheus recorder once per process; histograms get explicit buckets so they
/// render as histograms, not summaries.
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS.get_or_init(install_prometheus).as_ref()
}

fn install_prometheus() -> Option<PrometheusHandle> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_ms".into()), &BUCKETS_MS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Suffix("_seconds".into()),
                &BUCKETS_MS.map(|m| m / 1000.0),
            )
        })
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("collector_sequence_gap_size".into()),
                &[1.0, 2.0, 5.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0],
            )
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
    streams: Arc<StreamRegistry>,
    sinks: Arc<SinkStats>,
    journal: Arc<JournalStats>,
    backpressure: Arc<AtomicBool>,
    started: Instant,
    stale_after: Duration,
    api: Option<crate::api::ApiState>,
    instruments: Arc<crate::instruments::InstrumentSet>,
}

impl HttpState {
    /// State over the recorder's live counters.
    pub fn new(
        streams: Arc<StreamRegistry>,
        sinks: SinkStats,
        journal: Arc<JournalStats>,
        backpressure: Arc<AtomicBool>,
        started: Instant,
        stale_after: Duration,
    ) -> Self {
        HttpState {
            streams,
            sinks: Arc::new(sinks),
            journal,
            backpressure,
            started,
            stale_after,
            api: None,
            instruments: Arc::default(),
        }
    }

    /// Also serves the start-up instrument metadata at `/api/v1/instruments`.
    pub fn with_instruments(mut self, set: Arc<crate::instruments::InstrumentSet>) -> Self {
        self.instruments = set;
        self
    }

    /// Also serves the query API (`/api/v1/...`, see [`crate::api`]).
    pub fn with_api(mut self, api: crate::api::ApiState) -> Self {
        self.api = Some(api);
        self
    }
}

/// The routes (also used by tests without a socket).
pub fn router(state: HttpState) -> Router {
    let api = state
        .api
        .clone()
        .map(crate::api::routes)
        .unwrap_or_default();
    Router::new()
        .merge(api)
        .route("/", get(dashboard))
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/api/v1/status", get(status))
        .route("/api/v1/instruments", get(instruments))
        .with_state(state)
}

/// Serves until `stop` becomes true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: HttpState,
    mut stop: watch::Receiver<bool>,
) {
    // The exporter keeps histogram samples until they are folded in; do it regularly so memory
    // stays flat whether or not anybody scrapes.
    let upkeep = tokio::spawn(async {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            if let Some(h) = prometheus() {
                h.run_upkeep();
            }
        }
    });
    let shutdown = async move {
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                break;
            }
        }
    };
    if let Err(e) = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "http server failed");
    }
    upkeep.abort();
}

async fn dashboard() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], Html(DASHBOARD))
}

async fn metrics(State(s): State<HttpState>) -> impl IntoResponse {
    let mut out = prometheus()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    s.streams.render_prometheus(&mut out);
    let _ = writeln!(
        out,
        "# HELP tickrec_receive_to_commit_ms Local receive time to durable commit, per row, ms.\n\
         # TYPE tickrec_receive_to_commit_ms histogram"
    );
    for (name, w) in s.sinks.iter() {
        render_prometheus(
            &mut out,
            "tickrec_receive_to_commit_ms",
            &format!("sink=\"{name}\""),
            &w.commit_latency.snapshot(),
        );
    }
    let _ = writeln!(
        out,
        "# HELP tickrec_sink_up 1 while the sink commits, 0 while it retries or after it failed.\n\
         # TYPE tickrec_sink_up gauge"
    );
    for (name, w) in s.sinks.iter() {
        let up = !(w.failed.load(Ordering::Relaxed) || w.retrying.load(Ordering::Relaxed));
        let _ = writeln!(out, "tickrec_sink_up{{sink=\"{name}\"}} {}", u8::from(up));
    }
    let _ = writeln!(
        out,
        "# HELP tickrec_sink_last_commit_age_seconds Seconds since the sink's last commit (-1: none).\n\
         # TYPE tickrec_sink_last_commit_age_seconds gauge"
    );
    for (name, w) in s.sinks.iter() {
        let last = w.last_commit_us.load(Ordering::Relaxed);
        let age = if last > 0 {
            (now_us() - last) as f64 / 1e6
        } else {
            -1.0
        };
        let _ = writeln!(
            out,
            "tickrec_sink_last_commit_age_seconds{{sink=\"{name}\"}} {age}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP tickrec_uptime_seconds Seconds since start.\n# TYPE tickrec_uptime_seconds gauge\n\
         tickrec_uptime_seconds {}",
        s.started.elapsed().as_secs_f64()
    );
    if let Some(rss) = rss_bytes() {
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_bytes Resident memory.\n\
             # TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}"
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

/// Resident memory of this process (Linux `/proc`), bytes.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The recorder's state as the status page, `/health` and `/ready` see it.
fn assess(s: &HttpState, detailed: bool) -> (&'static str, Value, Vec<String>) {
    let conns = s.streams.snapshot();
    let stale_s = s.stale_after.as_secs_f64();
    let mut problems: Vec<String> = Vec::new();
    let mut fatal: Vec<String> = Vec::new();
    let up = conns.iter().filter(|c| c.state != ConnState::Down).count();
    let mut streams = Vec::new();
    for c in &conns {
        if c.state != ConnState::Subscribed {
            problems.push(format!("{} is {:?}", c.name, c.state).to_lowercase());
        }
        for st in &c.streams {
            let state = match (c.state, st.last_msg_age_s) {
                (ConnState::Down, _) => "down",
                (ConnState::Connected, _) => "subscribing",
                (ConnState::Subscribed, Some(age)) if age > stale_s => "stale",
                (ConnState::Subscribed, None) if c.state_age_s > stale_s => "stale",
                (ConnState::Subscribed, None) => "waiting",
                (ConnState::Subscribed, Some(_)) => "ok",
            };
            if state == "stale" {
                problems.push(format!(
                    "{} {} {} silent for over {stale_s} s",
                    c.venue, st.symbol, st.channel
                ));
            }
            let mut row = json!({
                "connection": c.name,
                "venue": c.venue,
                "symbol": st.symbol,
                "channel": st.channel,
                "state": state,
                "seconds_since_last_message": st.last_msg_age_s,
                "messages": st.msgs,
                "gaps": st.gaps,
                "out_of_order": st.out_of_order,
                "reconnects": c.reconnects,
            });
            if let Some(b) = &st.book {
                // Book streams: whether the book is verified now and for how much of the time.
                row["book"] = json!(b);
            }
            if detailed {
                row["lag_buckets"] = json!(st.lag.buckets);
                row["lag_negative"] = json!(st.lag.negative);
            }
            streams.push(row);
        }
    }
    if !conns.is_empty() && up == 0 {
        let longest = conns
            .iter()
            .map(|c| c.state_age_s)
            .fold(f64::INFINITY, f64::min);
        if longest >= ALL_DOWN_UNHEALTHY.as_secs_f64() {
            fatal.push(format!("every connection down for {longest:.0} s"));
        }
    }
    let mut sinks = serde_json::Map::new();
    for (name, w) in s.sinks.iter() {
        let failed = w.failed.load(Ordering::Relaxed);
        let retrying = w.retrying.load(Ordering::Relaxed);
        if failed {
            fatal.push(format!("sink {name} stopped on a fatal error"));
        } else if retrying {
            problems.push(format!("sink {name} is retrying"));
        }
        let last = w.last_commit_us.load(Ordering::Relaxed);
        let rows = w.snapshot();
        let mut v = json!({
            "connected": !failed && !retrying,
            "retrying": retrying,
            "failed": failed,
            "commits": w.commits.load(Ordering::Relaxed),
            "seconds_since_last_commit": (last > 0).then(|| (now_us() - last) as f64 / 1e6),
            "rows": {
                "trades": rows.trades, "agg_trades": rows.agg_trades, "quotes": rows.quotes,
                "candles": rows.candles, "books": rows.books, "rejects": rows.rejects,
                "data_quality": rows.quality, "duplicates": rows.duplicates,
            },
        });
        if detailed {
            v["commit_latency_buckets"] = json!(w.commit_latency.snapshot().buckets);
        }
        sinks.insert((*name).to_string(), v);
    }
    let backlog = s.journal.depth_records.load(Ordering::Relaxed);
    let bytes = s.journal.bytes.load(Ordering::Relaxed);
    let max = s.journal.max_bytes.load(Ordering::Relaxed);
    let bp = s.backpressure.load(Ordering::Relaxed);
    if bp {
        problems.push("journal full: readers reconnect (back-pressure)".into());
    } else if max > 0 && bytes as f64 > JOURNAL_DEGRADED_FILL * max as f64 {
        problems.push(format!("journal {bytes} of {max} bytes"));
    }
    let status = if !fatal.is_empty() {
        "unhealthy"
    } else if !problems.is_empty() {
        "degraded"
    } else {
        "healthy"
    };
    let dropped: u64 = conns.iter().map(|c| c.dropped).sum();
    fatal.extend(problems);
    let body = json!({
        "status": status,
        "reasons": fatal,
        "uptime_s": s.started.elapsed().as_secs(),
        "now_us": now_us(),
        "memory": { "rss_bytes": rss_bytes() },
        "connections": {
            "up": up,
            "total": conns.len(),
            "list": conns.iter().map(|c| json!({
                "name": c.name, "venue": c.venue, "state": c.state,
                "state_age_s": c.state_age_s, "connects": c.connects, "reconnects": c.reconnects,
                "messages_dropped": c.dropped,
            })).collect::<Vec<_>>(),
        },
        "streams": streams,
        "messages_dropped": dropped,
        "journal": {
            "backlog_records": backlog, "bytes": bytes, "max_bytes": max, "back_pressure": bp,
        },
        "sinks": sinks,
        "lag_bucket_bounds_ms": if detailed { json!(BUCKETS_MS) } else { Value::Null },
    });
    let waiting: Vec<String> = conns
        .iter()
        .filter(|c| !c.ever_subscribed)
        .map(|c| format!("{} not subscribed yet", c.name))
        .chain(
            s.sinks
                .iter()
                .filter(|(_, w)| w.failed.load(Ordering::Relaxed))
                .map(|(n, _)| format!("sink {n} failed")),
        )
        .collect();
    (status, body, waiting)
}

async fn health(State(s): State<HttpState>) -> impl IntoResponse {
    let (status, body, _) = assess(&s, false);
    let code = if status == "unhealthy" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(body))
}

async fn status(State(s): State<HttpState>) -> impl IntoResponse {
    let (_, body, _) = assess(&s, true);
    ([(header::CACHE_CONTROL, "no-store")], Json(body))
}

/// The instruments checked at start-up and where each venue's list came from.
async fn instruments(State(s): State<HttpState>) -> impl IntoResponse {
    Json(json!(*s.instruments))
}

async fn ready(State(s): State<HttpState>) -> impl IntoResponse {
    let (_, _, waiting) = assess(&s, false);
    if waiting.is_empty() {
        (StatusCode::OK, Json(json!({ "ready": true })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "waiting_for": waiting })),
        )
    }
}
