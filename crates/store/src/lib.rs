//! Sinks: where normalized events become durable rows.
//!
//! SQLite (embedded, the default) and PostgreSQL/TimescaleDB (cargo feature `postgres`) are
//! sinks; the Parquet archive (cargo feature `parquet`) reads the SQLite store. NATS would follow
//! the same layout and reuse the same group-commit loop.
//!
//! # Layout
//! - [`error`]: [`StoreError`] and its [`ErrorClass`] (transient → retry, poison → reject row,
//!   fatal → stop).
//! - [`batch`]: [`BatchConfig`] (`[batch]` config section), the [`BatchWriter`] trait every sink
//!   implements, and the group-commit loop ([`run_batch_loop`]) run on a dedicated thread
//!   ([`WriterHandle`], live [`WriterStats`], final [`WriterReport`]).
//! - [`latency`]: receive → commit latency in an HDR histogram (µs).
//! - [`sqlite`]: the SQLite sink — `config.rs`, `schema.rs` (DDL, views, migrations),
//!   `writer.rs` (the connection owner), `tests.rs`.
//! - `parquet` (feature `parquet`): the archive — hourly Parquet files of the SQLite store,
//!   uploaded to S3 / S3-compatible storage / a directory, verified by read-back before retention
//!   may prune local rows; `tickrec export`'s Parquet writer.
//! - `postgres` (feature `postgres`): the PostgreSQL/TimescaleDB sink, same files — binary
//!   `COPY` into staging tables, `INSERT … ON CONFLICT DO NOTHING`, SQLSTATE-classified errors.
//!
//! # Usage
//! ```no_run
//! # fn main() -> Result<(), tickrec_store::StoreError> {
//! use tickrec_store::{spawn_sqlite_writer, BatchConfig, SqliteConfig};
//! let (tx, rx) = tokio::sync::mpsc::channel(1024);
//! let writer = spawn_sqlite_writer(SqliteConfig::default(), BatchConfig::default(), rx)?;
//! // … tx.send(events).await from the pipeline …
//! drop(tx);
//! let report = writer.join()?; // everything sent is committed
//! println!("{} rows, p99 {} µs", report.totals.rows(), report.latency.p99_us);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod batch;
pub mod error;
pub mod latency;
#[cfg(feature = "parquet")]
pub mod parquet;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;
pub mod table;

pub use batch::{
    run_batch_loop, spawn_writer_thread, BatchConfig, BatchWriter, WriteStats, WriterHandle,
    WriterReport, WriterStats,
};
#[cfg(feature = "postgres")]
pub use error::{classify_postgres, pg_error_text};
pub use error::{classify_sqlstate, ErrorClass, StoreError};
pub use latency::{LatencyRecorder, LatencySummary};
#[cfg(feature = "postgres")]
pub use postgres::{
    spawn_postgres_writer, PostgresConfig, PostgresWriter,
    SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION,
};
pub use sqlite::{
    book_coverage, coverage, last_trades, open_read_only, quality_summary, read_book_at,
    read_book_deltas, spawn_sqlite_writer, BookCoverage, IdHole, LastTrade, MarketCoverage,
    QualitySummary, SqliteConfig, SqliteWriter, Synchronous, SCHEMA_VERSION,
};
