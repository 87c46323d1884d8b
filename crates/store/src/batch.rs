//! Group commit, shared by every sink.
//!
//! A sink implements [`BatchWriter`] (begin / insert / commit / rollback) and
//! [`spawn_writer_thread`] runs [`run_batch_loop`] on a dedicated thread that owns it:
//!
//! 1. block (`blocking_recv`) for the first batch of events;
//! 2. begin a transaction and keep inserting whatever is already waiting (`try_recv`) until
//!    (a) the channel is empty — commit right away, so latency stays low at low load —
//!    (b) [`BatchConfig::max_rows`] rows are in the transaction, or (c) [`BatchConfig::max_ms`]
//!    has passed since the transaction began;
//! 3. commit, record the receive → commit latency of every committed row, update
//!    [`WriterStats`] and the metrics;
//! 4. when the channel is closed, commit the rest and return a [`WriterReport`].
//!
//! Errors (see [`ErrorClass`]): a *transient* error rolls the transaction back, logs a warning and
//! retries the very same rows after an exponential back-off (100 ms doubling to 5 s), for as long
//! as it takes — natural keys make the retry idempotent, so no row is lost and none duplicated.
//! A *fatal* error is logged, stops the loop and is returned by [`WriterHandle::join`]; the rows of
//! the failed transaction are then not in the sink (the journal upstream still holds them).
//! *Poison* rows are handled inside [`BatchWriter::insert`] (stored as rejects); a poison error
//! escaping `insert` is treated as fatal.
//!
//! Metrics: histogram `db_insert_ms{sink}` (begin → commit of each transaction, retries included),
//! counters `tickrec_rows_committed_total{sink,table}`, `tickrec_rows_duplicate_total{sink}` and
//! `collector_db_insert_errors_total{sink}` (failed attempts and poison rows).

use std::ops::AddAssign;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tickrec_model::{now_us, Event};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::Receiver;

use crate::error::{ErrorClass, StoreError};
use crate::latency::{LatencyRecorder, LatencySummary};
use tickrec_model::hist::LatencyHistogram;

/// First back-off after a transient error.
const BACKOFF_START: Duration = Duration::from_millis(100);
/// Longest back-off between retries.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// `[batch]` section of the config: how large a transaction may grow.
#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Commit once a transaction holds this many rows (default 5000; 0 is treated as 1).
    pub max_rows: usize,
    /// Commit once a transaction has been open this long, in milliseconds, even if more events
    /// are waiting (default 500).
    pub max_ms: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_rows: 5000,
            max_ms: 500,
        }
    }
}

/// Rows written by one transaction (or, summed, by a writer's lifetime), per table.
///
/// Every event is counted exactly once: in its table, in `duplicates` when the natural key
/// already held it, or in `rejects` (and `poisoned`) when the sink refused the row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Rows inserted into `trades`.
    pub trades: u64,
    /// Rows inserted into `agg_trades`.
    pub agg_trades: u64,
    /// Rows inserted into `quotes`.
    pub quotes: u64,
    /// Rows inserted or updated in `candles`.
    pub candles: u64,
    /// Rows inserted into `book_deltas`.
    pub books: u64,
    /// Rows inserted into `book_snapshots`.
    pub book_snapshots: u64,
    /// Rows inserted into `rejects` (reject events plus poisoned rows).
    pub rejects: u64,
    /// Rows inserted into `data_quality`.
    pub quality: u64,
    /// Rows ignored because the natural key already held them (and stale candle updates).
    pub duplicates: u64,
    /// Rows that failed a constraint and were stored in `rejects` (reason `store_constraint`)
    /// instead; also counted in `rejects`.
    pub poisoned: u64,
}

impl WriteStats {
    /// Rows that reached a table (everything but duplicates).
    pub fn rows(&self) -> u64 {
        self.trades
            + self.agg_trades
            + self.quotes
            + self.candles
            + self.books
            + self.book_snapshots
            + self.rejects
            + self.quality
    }

    /// Events accounted for (rows plus duplicates).
    pub fn events(&self) -> u64 {
        self.rows() + self.duplicates
    }

    /// `(table, rows)` pairs, for metrics and logs.
    pub fn per_table(&self) -> [(&'static str, u64); 8] {
        [
            ("trades", self.trades),
            ("agg_trades", self.agg_trades),
            ("quotes", self.quotes),
            ("candles", self.candles),
            ("book_deltas", self.books),
            ("book_snapshots", self.book_snapshots),
            ("rejects", self.rejects),
            ("data_quality_events", self.quality),
        ]
    }
}

impl AddAssign for WriteStats {
    fn add_assign(&mut self, o: WriteStats) {
        self.trades += o.trades;
        self.agg_trades += o.agg_trades;
        self.quotes += o.quotes;
        self.candles += o.candles;
        self.books += o.books;
        self.book_snapshots += o.book_snapshots;
        self.rejects += o.rejects;
        self.quality += o.quality;
        self.duplicates += o.duplicates;
        self.poisoned += o.poisoned;
    }
}

/// Live counters of a running writer, shared with the HTTP side (`/metrics`, `/health`).
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Rows committed into `trades`.
    pub trades: AtomicU64,
    /// Rows committed into `agg_trades`.
    pub agg_trades: AtomicU64,
    /// Rows committed (inserted or updated) into `candles`.
    pub candles: AtomicU64,
    /// Rows committed into `quotes`.
    pub quotes: AtomicU64,
    /// Rows committed into `book_deltas`.
    pub books: AtomicU64,
    /// Rows committed into `book_snapshots`.
    pub book_snapshots: AtomicU64,
    /// Rows committed into `rejects`.
    pub rejects: AtomicU64,
    /// Rows committed into `data_quality`.
    pub quality: AtomicU64,
    /// Rows ignored by the natural key.
    pub duplicates: AtomicU64,
    /// Rows stored as `store_constraint` rejects.
    pub poisoned: AtomicU64,
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Channel batches (one per received `Vec<Event>`) fully committed, in receive order. The
    /// journal maps this count back to its sequence numbers to acknowledge what is durable here.
    pub batches_committed: AtomicU64,
    /// Failed attempts (transient or fatal errors) plus poisoned rows.
    pub errors: AtomicU64,
    /// Wall-clock time of the last successful commit, µs since the epoch (0 = none yet).
    pub last_commit_us: AtomicI64,
    /// True while the writer is backing off after a transient error.
    pub retrying: AtomicBool,
    /// Receive → commit latency of every committed row (lock-free buckets; rendered as
    /// `tickrec_receive_to_commit_ms{sink}`).
    pub commit_latency: LatencyHistogram,
    /// Set when the writer stopped on a fatal error (the journal keeps its data).
    pub failed: AtomicBool,
}

impl WriterStats {
    /// A consistent-enough copy of the row counters.
    pub fn snapshot(&self) -> WriteStats {
        WriteStats {
            trades: self.trades.load(Ordering::Relaxed),
            agg_trades: self.agg_trades.load(Ordering::Relaxed),
            quotes: self.quotes.load(Ordering::Relaxed),
            candles: self.candles.load(Ordering::Relaxed),
            books: self.books.load(Ordering::Relaxed),
            book_snapshots: self.book_snapshots.load(Ordering::Relaxed),
            rejects: self.rejects.load(Ordering::Relaxed),
            quality: self.quality.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            poisoned: self.poisoned.load(Ordering::Relaxed),
        }
    }

    fn add(&self, s: &WriteStats) {
        self.trades.fetch_add(s.trades, Ordering::Relaxed);
        self.agg_trades.fetch_add(s.agg_trades, Ordering::Relaxed);
        self.quotes.fetch_add(s.quotes, Ordering::Relaxed);
        self.candles.fetch_add(s.candles, Ordering::Relaxed);
        self.books.fetch_add(s.books, Ordering::Relaxed);
        self.book_snapshots
            .fetch_add(s.book_snapshots, Ordering::Relaxed);
        self.rejects.fetch_add(s.rejects, Ordering::Relaxed);
        self.quality.fetch_add(s.quality, Ordering::Relaxed);
        self.duplicates.fetch_add(s.duplicates, Ordering::Relaxed);
        self.poisoned.fetch_add(s.poisoned, Ordering::Relaxed);
    }
}

/// What a writer did over its lifetime, returned by [`WriterHandle::join`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterReport {
    /// Rows per table, duplicates and poisoned rows.
    pub totals: WriteStats,
    /// Transactions committed.
    pub commits: u64,
    /// Receive → commit latency, measured per committed row of every kind (duplicates included).
    pub latency: LatencySummary,
}

/// A sink that writes events in transactions. Implemented by each sink's writer; driven by
/// [`run_batch_loop`].
pub trait BatchWriter {
    /// Sink name for logs and metric labels (`sqlite`, `postgres`, …).
    fn sink(&self) -> &'static str;

    /// Begins a transaction.
    ///
    /// # Errors
    /// Any error of the sink; [`StoreError::class`] decides what happens next.
    fn begin(&mut self) -> Result<(), StoreError>;

    /// Inserts `events` in the open transaction, adding what happened to `stats`. Rows that fail a
    /// constraint must be stored as rejects (reason `store_constraint`), not returned as errors.
    ///
    /// # Errors
    /// Transient or fatal errors; the loop rolls back and retries or stops.
    fn insert(&mut self, events: &[Event], stats: &mut WriteStats) -> Result<(), StoreError>;

    /// Commits the open transaction.
    ///
    /// # Errors
    /// As [`BatchWriter::begin`]; the transaction is then rolled back and retried or abandoned.
    fn commit(&mut self) -> Result<(), StoreError>;

    /// Rolls back the open transaction, if any. Never fails (errors are logged).
    fn rollback(&mut self);
}

/// Runs group commit until `rx` is closed and drained (see the module docs).
///
/// # Errors
/// The first fatal error; rows of the transaction that failed are not committed.
pub fn run_batch_loop<W: BatchWriter>(
    writer: &mut W,
    cfg: &BatchConfig,
    rx: &mut Receiver<Vec<Event>>,
    stats: &WriterStats,
) -> Result<WriterReport, StoreError> {
    let sink = writer.sink();
    // Registered up front so dashboards and alerts see a 0, not a missing series.
    metrics::counter!("collector_db_insert_errors_total", "sink" => sink).absolute(0);
    metrics::counter!("tickrec_rows_duplicate_total", "sink" => sink).absolute(0);
    let max_rows = cfg.max_rows.max(1);
    let max_wait = Duration::from_millis(cfg.max_ms);
    let mut report = WriterReport::default();
    let mut latency = LatencyRecorder::new();
    let mut pending: Vec<Vec<Event>> = Vec::new();
    let mut closed = false;

    while !closed {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let started = Instant::now();
        let mut tx = WriteStats::default();
        let mut rows = first.len();
        let mut result = writer.begin();
        if result.is_ok() {
            result = writer.insert(&first, &mut tx);
        }
        pending.push(first);
        while result.is_ok() && rows < max_rows && started.elapsed() < max_wait {
            match rx.try_recv() {
                Ok(batch) => {
                    rows += batch.len();
                    result = writer.insert(&batch, &mut tx);
                    pending.push(batch);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        if result.is_ok() {
            result = writer.commit();
        }

        let mut backoff = BACKOFF_START;
        let mut attempt = 1u32;
        while let Err(e) = result {
            writer.rollback();
            stats.errors.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("collector_db_insert_errors_total", "sink" => sink).increment(1);
            match e.class() {
                ErrorClass::Transient => {
                    tracing::warn!(
                        sink,
                        error = %e,
                        rows,
                        attempt,
                        backoff_ms = backoff.as_millis() as u64,
                        "transient store error, rolled back; retrying the same rows"
                    );
                    stats.retrying.store(true, Ordering::Relaxed);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    attempt += 1;
                    tx = WriteStats::default();
                    result = replay(writer, &pending, &mut tx);
                }
                ErrorClass::Poison | ErrorClass::Fatal => {
                    tracing::error!(
                        sink,
                        error = %e,
                        rows,
                        class = e.class().as_str(),
                        "fatal store error, writer stops; the transaction's rows are not stored"
                    );
                    stats.retrying.store(false, Ordering::Relaxed);
                    stats.failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        stats.retrying.store(false, Ordering::Relaxed);

        let now = now_us();
        for batch in &pending {
            for ev in batch {
                latency.record_since(ev.ts_recv_us(), now);
                stats
                    .commit_latency
                    .record_us(now.saturating_sub(ev.ts_recv_us()));
            }
        }
        let committed_batches = pending.len() as u64;
        pending.clear();
        report.totals += tx;
        report.commits += 1;
        stats.add(&tx);
        stats.commits.fetch_add(1, Ordering::Relaxed);
        stats.last_commit_us.store(now, Ordering::Relaxed);
        // Release: a reader that sees the count also sees the commit's effects as done.
        stats
            .batches_committed
            .fetch_add(committed_batches, Ordering::Release);
        if tx.poisoned > 0 {
            stats.errors.fetch_add(tx.poisoned, Ordering::Relaxed);
            metrics::counter!("collector_db_insert_errors_total", "sink" => sink)
                .increment(tx.poisoned);
        }
        let took = started.elapsed().as_secs_f64();
        metrics::histogram!("db_insert_ms", "sink" => sink).record(took * 1e3);
        metrics::histogram!("collector_db_write_seconds", "sink" => sink).record(took);
        for (table, n) in tx.per_table() {
            if n > 0 {
                metrics::counter!("tickrec_rows_committed_total", "sink" => sink, "table" => table)
                    .increment(n);
            }
        }
        if tx.duplicates > 0 {
            metrics::counter!("tickrec_rows_duplicate_total", "sink" => sink)
                .increment(tx.duplicates);
        }
        tracing::trace!(sink, rows, attempts = attempt, "committed");
    }

    report.latency = latency.summary();
    tracing::info!(
        sink,
        commits = report.commits,
        rows = report.totals.rows(),
        duplicates = report.totals.duplicates,
        p99_us = report.latency.p99_us,
        "writer finished: channel closed and everything committed"
    );
    Ok(report)
}

/// One more attempt at the whole transaction.
fn replay<W: BatchWriter>(
    writer: &mut W,
    pending: &[Vec<Event>],
    tx: &mut WriteStats,
) -> Result<(), StoreError> {
    writer.begin()?;
    for batch in pending {
        writer.insert(batch, tx)?;
    }
    writer.commit()
}

/// A running writer thread.
#[derive(Debug)]
pub struct WriterHandle {
    stats: Arc<WriterStats>,
    thread: JoinHandle<Result<WriterReport, StoreError>>,
}

impl WriterHandle {
    /// Live counters (rows per table, commits, duplicates, errors, last commit time).
    pub fn stats(&self) -> Arc<WriterStats> {
        Arc::clone(&self.stats)
    }

    /// True once the thread has stopped (channel closed and drained, or a fatal error).
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Blocks until the channel is closed and everything is committed (drop every sender first).
    ///
    /// # Errors
    /// The fatal error that stopped the writer, or [`StoreError::Thread`] if it panicked.
    pub fn join(self) -> Result<WriterReport, StoreError> {
        match self.thread.join() {
            Ok(r) => r,
            Err(_) => Err(StoreError::Thread("writer thread panicked".into())),
        }
    }
}

/// Spawns a named thread that owns `writer` and runs [`run_batch_loop`] on `rx`.
///
/// # Errors
/// [`StoreError::Thread`] when the OS refuses a new thread.
pub fn spawn_writer_thread<W: BatchWriter + Send + 'static>(
    mut writer: W,
    cfg: BatchConfig,
    mut rx: Receiver<Vec<Event>>,
) -> Result<WriterHandle, StoreError> {
    let stats = Arc::new(WriterStats::default());
    let thread_stats = Arc::clone(&stats);
    let name = format!("{}-writer", writer.sink());
    let thread = std::thread::Builder::new()
        .name(name)
        .spawn(move || run_batch_loop(&mut writer, &cfg, &mut rx, &thread_stats))
        .map_err(|e| StoreError::Thread(format!("cannot spawn writer thread: {e}")))?;
    Ok(WriterHandle { stats, thread })
}
