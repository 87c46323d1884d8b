//! Sinks: where normalized events become durable rows.
//!
//! SQLite (embedded, the default) is implemented; PostgreSQL/TimescaleDB, Parquet and NATS come
//! later and will follow the same layout and reuse the same group-commit loop.
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
pub mod sqlite;

pub use batch::{
    run_batch_loop, spawn_writer_thread, BatchConfig, BatchWriter, WriteStats, WriterHandle,
    WriterReport, WriterStats,
};
pub use error::{ErrorClass, StoreError};
pub use latency::{LatencyRecorder, LatencySummary};
pub use sqlite::{
    open_read_only, spawn_sqlite_writer, SqliteConfig, SqliteWriter, Synchronous, SCHEMA_VERSION,
};
