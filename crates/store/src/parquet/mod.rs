//! The Parquet archive (cargo feature `parquet`): completed intervals of the SQLite store become
//! Parquet files, uploaded to S3 / an S3-compatible server / a local directory, verified by
//! read-back, recorded in the store; only then may retention prune the local rows.
//!
//! - [`config`](ArchiveConfig): the `[archive]` and `[retention]` config sections.
//! - `schema`: which tables are archived and their columns (exact `Decimal128` prices).
//! - `writer`: atomic Parquet files (temp → fsync → rename → fsync dir), zstd, statistics.
//! - `upload`: [`Destination`], upload with retries and read-back verification.
//! - `archiver`: [`Archiver`], the interval walk and the bookkeeping tables.
//! - `retention`: [`prune`], age and size limits, dry run, `retention_events`.
//! - `export`: [`export_parquet`] / [`ExportQuery`], ad-hoc exports of a time range.

mod archiver;
mod config;
mod error;
mod export;
mod retention;
mod schema;
mod upload;
mod writer;

#[cfg(any(test, feature = "test-harness"))]
pub mod harness;
#[cfg(test)]
mod tests;

pub use archiver::{file_metadata, object_key, symbol_segment, ArchiveReport, Archiver};
pub use config::{ArchiveConfig, DestinationConfig, RetentionConfig};
pub use error::ArchiveError;
pub use export::{export_parquet, ExportQuery, ExportStats};
pub use retention::{prune, used_bytes, Pruned, Reason, RetentionReport};
pub use schema::{
    spec, Columns, DecimalScales, TableSpec, ARCHIVED, DECIMAL_PRECISION, SMALL_PRECISION,
};
pub use upload::Destination;
pub use writer::{
    checksum_file, remove_stale_temp_files, write_file, AtomicParquet, FileOptions, WrittenFile,
};
