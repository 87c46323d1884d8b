//! The embedded SQLite sink (the default store).
//!
//! - [`config`](SqliteConfig): the `[sqlite]` config section.
//! - `schema`: DDL of the tables and human views, migrations via `PRAGMA user_version`
//!   (see [`SCHEMA_VERSION`]).
//! - `report`: [`coverage`], per-market id ranges and holes of the stored tape (`tickrec gaps`).
//! - `resume`: [`last_trades`], the last stored trade id per market (restart → backfill).
//! - `writer`: [`SqliteWriter`], which owns the connection, and [`spawn_sqlite_writer`], which
//!   runs it on a dedicated thread with group commit.
//!
//! # Tables (schema version 1)
//! - `trades` / `agg_trades`: key `(venue, symbol, trade_id | agg_id)`; re-inserts are ignored and
//!   counted as duplicates. Two distinct trades with the same time, price and side are two rows.
//! - `quotes`: key `(venue, symbol, seq)`, `seq` = update id, else exchange time, else receive time.
//! - `candles`: key `(venue, symbol, interval_s, open_time_us)`, upserted; `closed` never goes
//!   back from 1 to 0.
//! - `book_deltas`: one row per venue snapshot/delta, levels as JSON arrays of exact strings,
//!   `verified` set by the feed's book tracker; key `(venue, symbol, ts_recv_us, msg_hash)`.
//! - `book_snapshots`: the top of the recorder's book every `book_snapshot_ms`, key `(venue,
//!   symbol, ts_recv_us)`.
//! - `rejects`: everything that did not become a row, with its raw payload (≤ 4 KiB); rows
//!   refused by a constraint here get reason `store_constraint`.
//! - Views `trades_view`, `agg_trades_view`, `quotes_view`, `candles_view`: exact decimal text,
//!   `REAL` columns and ISO-8601 timestamps.
//!
//! Prices and quantities are stored as an `INTEGER` mantissa plus an `INTEGER` scale, timestamps
//! as `INTEGER` µs since the epoch (UTC).

mod books;
mod config;
mod report;
mod resume;
mod schema;
mod writer;

#[cfg(test)]
mod tests;

pub use books::{parse_levels, read_book_at, read_book_deltas};
pub use config::{SqliteConfig, Synchronous};
pub use report::{
    book_coverage, coverage, quality_summary, BookCoverage, IdHole, MarketCoverage, QualitySummary,
};
pub use resume::{last_trades, LastTrade};
pub use schema::SCHEMA_VERSION;
pub use writer::{open_read_only, spawn_sqlite_writer, SqliteWriter, STORE_CONSTRAINT_REASON};
