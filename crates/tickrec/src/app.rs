//! Wiring for `tickrec record`: one supervisor task per market connection → bounded channel →
//! the SQLite writer thread; HTTP on the side; SIGINT/SIGTERM stops reading, flushes, exits 0.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tickrec_feed::{
    run_connection, ConnectionConfig, ConnectionReport, ConnectionState, StreamRegistry,
};
use tickrec_model::{Channel, Event};
use tickrec_store::{spawn_sqlite_writer, WriterReport};
use tickrec_venues::{adapter_for, MarketSub, VenueAdapter, VenueError};
use tokio::sync::{mpsc, watch};
use tracing::{error, info};

use crate::config::{Config, MarketConfig};
use crate::http::{self, HttpState};
use crate::pipeline::SinkPort;

/// Frames in flight between the readers and the journal (each entry is one frame's events).
/// Bounded; the journal drains it at disk speed, whatever the sinks do.
pub const EVENT_CHANNEL_CAPACITY: usize = 16_384;
/// Journal records (≤ 4096 events each) in flight to one sink; memory stays bounded because a
/// slow sink reads the rest from the journal on disk later.
pub const SINK_CHANNEL_CAPACITY: usize = 32;

/// Builds the venue adapter of one configured market.
///
/// # Errors
/// [`VenueError`] for symbols or channels the venue cannot serve.
pub fn adapter_for_market(m: &MarketConfig) -> Result<Box<dyn VenueAdapter>, VenueError> {
    let subs: Vec<MarketSub> = m
        .symbols
        .iter()
        .map(|s| MarketSub {
            symbol: Arc::from(s.trim()),
            channels: m.channels.clone(),
        })
        .collect();
    adapter_for(m.venue, &subs)
}

/// The outcome of a recording run.
#[derive(Debug)]
pub struct RecordSummary {
    /// Per connection.
    pub connections: Vec<ConnectionReport>,
    /// The writer's totals and latency.
    pub writer: WriterReport,
}

/// Every sink's name and live counters.
pub type SinkStats = Vec<(&'static str, Arc<tickrec_store::WriterStats>)>;

/// Optional probes into a running recorder (benchmarks and tests).
#[derive(Default)]
pub struct Hooks {
    /// Receives the writer's live counters once the store is open.
    pub writer_stats: Option<tokio::sync::oneshot::Sender<Arc<tickrec_store::WriterStats>>>,
    /// Receives every sink's name and live counters once all sinks are open.
    pub sink_stats: Option<tokio::sync::oneshot::Sender<SinkStats>>,
}

/// Records until `stop` resolves, then flushes everything and returns.
///
/// # Errors
/// Start-up failures (bad market, store cannot open, HTTP port taken) and a fatal store error.
pub async fn record(
    cfg: Config,
    stop: impl std::future::Future<Output = ()>,
    hooks: Hooks,
) -> anyhow::Result<RecordSummary> {
    tickrec_feed::tls::install_crypto_provider();
    let started = Instant::now();
    // Before anything is opened: a symbol the venue does not list is a configuration error.
    let instruments = Arc::new(crate::instruments::load(&cfg).await?);
    let resume = resume_points(&cfg);
    let (tx, rx) = mpsc::channel::<Vec<Event>>(EVENT_CHANNEL_CAPACITY);
    let (sink_tx, sink_rx) = mpsc::channel::<Vec<Event>>(SINK_CHANNEL_CAPACITY);
    let writer = spawn_sqlite_writer(cfg.sqlite.clone(), cfg.batch.clone(), sink_rx)
        .with_context(|| format!("opening SQLite store {}", cfg.sqlite.path.display()))?;
    info!(path = %cfg.sqlite.path.display(), "sqlite store open");
    let backpressure = Arc::new(AtomicBool::new(false));
    let journal_cfg = cfg.journal_config();
    let mut ports = vec![SinkPort {
        name: "sqlite",
        tx: sink_tx,
        stats: writer.stats(),
    }];
    let extra_writers = spawn_extra_sinks(&cfg, &mut ports)?;
    let sink_stats: SinkStats = ports.iter().map(|p| (p.name, p.stats.clone())).collect();
    if let Some(h) = hooks.sink_stats {
        let _ = h.send(sink_stats.clone());
    }
    let pipeline = crate::pipeline::start(journal_cfg, rx, ports, backpressure.clone())?;
    let streams = Arc::new(StreamRegistry::new());
    if let Some(h) = hooks.writer_stats {
        let _ = h.send(writer.stats());
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let archive_task = crate::archive_cli::spawn_in_recorder(&cfg, stop_rx.clone())?;
    let mut tasks = Vec::new();
    for (i, m) in cfg.markets.iter().enumerate() {
        let adapter = adapter_for_market(m).with_context(|| format!("markets[{i}]"))?;
        let adapter = crate::instruments::with_tick_check(adapter, &instruments);
        let base = m
            .ws_url
            .clone()
            .unwrap_or_else(|| adapter.default_ws_url().to_string());
        let name = format!("{}#{i}", m.venue);
        let mut conn = ConnectionConfig::new(name, base);
        conn.rest_url = m.rest_url.clone();
        if let Some(ms) = m.message_timeout_ms {
            let mut rules = adapter.heartbeat();
            rules.idle_timeout = Duration::from_millis(ms);
            conn.heartbeat = Some(rules);
        }
        conn.backpressure = Some(backpressure.clone());
        let book = m.book.unwrap_or_default();
        conn.books.top_levels = book.levels;
        conn.books.top_interval_us = i64::try_from(book.snapshot_ms)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000);
        let stream_keys: Vec<(Arc<str>, Channel)> = m
            .symbols
            .iter()
            .flat_map(|s| m.channels.iter().map(move |c| (Arc::from(s.trim()), *c)))
            .collect();
        // Nobody reads the live state without the HTTP server: skip its per-message cost.
        if cfg.http.enabled {
            conn.state = Some(streams.register(ConnectionState::new(
                conn.name.clone(),
                m.venue,
                &stream_keys,
            )));
        }
        conn.resume_from = resume
            .iter()
            .filter(|r| {
                r.venue == m.venue.as_str() && m.symbols.iter().any(|s| s.trim() == r.symbol)
            })
            .map(|r| {
                (
                    Arc::from(r.symbol.as_str()),
                    r.aggregate,
                    r.trade_id,
                    r.ts_exchange_us,
                )
            })
            .collect();
        tasks.push(tokio::spawn(run_connection(
            adapter,
            conn,
            tx.clone(),
            stop_rx.clone(),
        )));
    }
    drop(tx);
    let http_task = if cfg.http.enabled {
        let state = HttpState::new(
            streams.clone(),
            sink_stats,
            pipeline.stats(),
            backpressure.clone(),
            started,
            Duration::from_secs(cfg.http.stale_after_s),
        )
        .with_api(crate::api::ApiState::new(cfg.sqlite.path.clone()))
        .with_instruments(instruments.clone());
        let listener = tokio::net::TcpListener::bind(cfg.http.listen)
            .await
            .with_context(|| format!("binding HTTP server to {}", cfg.http.listen))?;
        info!(listen = %cfg.http.listen, "http server listening (/ status page, /metrics, /health, /ready, /api/v1)");
        Some(tokio::spawn(http::serve(listener, state, stop_rx.clone())))
    } else {
        None
    };

    stop.await;
    info!("shutdown requested: stopping readers, flushing buffered rows");
    let _ = stop_tx.send(true);
    let mut connections = Vec::new();
    for t in tasks {
        match t.await {
            Ok(r) => connections.push(r),
            Err(e) => error!(error = %e, "connection task failed"),
        }
    }
    if let Some(h) = http_task {
        let _ = h.await;
    }
    if let Some(t) = archive_task {
        let _ = tokio::task::spawn_blocking(move || t.join()).await;
    }
    // Journal → sinks: everything durable is handed over, then the writers commit and finish.
    let (writer, extra) = tokio::task::spawn_blocking(move || {
        let mut pipeline = pipeline;
        pipeline.drain();
        let report = writer.join();
        let extra: Vec<_> = extra_writers
            .into_iter()
            .map(|(name, w)| (name, w.join()))
            .collect();
        pipeline.finish();
        (report, extra)
    })
    .await
    .context("writer thread panicked")?;
    let writer = writer.context("sqlite writer failed")?;
    for (name, r) in extra {
        match r {
            Ok(rep) => info!(
                sink = name,
                trades = rep.totals.trades,
                rows = rep.totals.rows(),
                commits = rep.commits,
                p50_us = rep.latency.p50_us,
                p99_us = rep.latency.p99_us,
                "sink finished"
            ),
            Err(e) => {
                error!(sink = name, error = %e, "sink failed; its rows stay in the journal for the next run")
            }
        }
    }
    let events_received: u64 = connections.iter().map(|c| c.events).sum();
    let gaps: u64 = connections.iter().map(|c| c.gaps).sum();
    let backfilled: u64 = connections.iter().map(|c| c.backfilled).sum();
    let unrepaired: u64 = connections.iter().map(|c| c.unrepaired).sum();
    info!(
        events_received,
        gaps,
        backfilled,
        unrepaired,
        trades = writer.totals.trades,
        rows = writer.totals.rows(),
        rejects = writer.totals.rejects,
        commits = writer.commits,
        p99_us = writer.latency.p99_us,
        "all buffered rows committed; exiting"
    );
    Ok(RecordSummary {
        connections,
        writer,
    })
}

type ExtraWriters = Vec<(&'static str, tickrec_store::WriterHandle)>;

/// Starts the sinks configured besides SQLite and adds their ports.
#[cfg(feature = "postgres")]
fn spawn_extra_sinks(cfg: &Config, ports: &mut Vec<SinkPort>) -> anyhow::Result<ExtraWriters> {
    let mut out = Vec::new();
    if let Some(pg) = &cfg.postgres {
        let (tx, rx) = mpsc::channel::<Vec<Event>>(SINK_CHANNEL_CAPACITY);
        let w = tickrec_store::postgres::spawn_postgres_writer(pg.clone(), cfg.batch.clone(), rx)
            .with_context(|| format!("opening PostgreSQL sink {}", pg.redacted_uri()))?;
        info!(target_db = %pg.redacted_uri(), "postgres sink open");
        ports.push(SinkPort {
            name: "postgres",
            tx,
            stats: w.stats(),
        });
        out.push(("postgres", w));
    }
    Ok(out)
}

/// Without the `postgres` feature there is no other sink (config validation refuses one).
#[cfg(not(feature = "postgres"))]
fn spawn_extra_sinks(_cfg: &Config, _ports: &mut [SinkPort]) -> anyhow::Result<ExtraWriters> {
    Ok(Vec::new())
}

/// The last stored trade per market, read before recording starts (empty for a new database).
fn resume_points(cfg: &Config) -> Vec<tickrec_store::LastTrade> {
    if !cfg.sqlite.path.exists() {
        return Vec::new();
    }
    match tickrec_store::open_read_only(&cfg.sqlite.path)
        .and_then(|c| tickrec_store::last_trades(&c))
    {
        Ok(v) => {
            for r in &v {
                info!(venue = %r.venue, symbol = %r.symbol, aggregate = r.aggregate, trade_id = r.trade_id,
                    "resuming after the last stored trade");
            }
            v
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the last stored trades; the first gap after restart will not be detected");
            Vec::new()
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
