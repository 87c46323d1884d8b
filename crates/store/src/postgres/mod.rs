//! The PostgreSQL/TimescaleDB sink (cargo feature `postgres`).
//!
//! - [`config`](PostgresConfig): the `[postgres]` section (URI, pool size, timeouts, TLS flag),
//!   credentials from `PGUSER`/`PGPASSWORD`, [`redact_uri`] (a password never reaches a log line
//!   or an error message).
//! - `schema`: DDL of the tables and human views, TimescaleDB hypertables when the extension is
//!   available, migrations versioned in `tickrec_schema_version` ([`migrate`],
//!   [`SCHEMA_VERSION`]).
//! - `writer`: [`PostgresWriter`] — binary `COPY`, straight into the tables for rows above their
//!   market's high-water marks (`direct`: which rows cannot be duplicates), else into
//!   per-connection temporary staging tables, then `INSERT … SELECT … ON CONFLICT DO NOTHING`;
//!   one transaction per batch; reconnects and
//!   retries on transient errors, isolates refused rows as rejects — and
//!   [`spawn_postgres_writer`], which runs it on a dedicated thread (with its own current-thread
//!   tokio runtime) under the shared group-commit loop.
//! - `tests`: against a real, throwaway PostgreSQL started from the system binaries.
//!
//! # Tables (schema version 1)
//! `trades`, `agg_trades` (key `(venue, symbol, id, ts_exchange)`), `quotes`
//! (`(venue, symbol, seq, ts)`), `candles` (`(venue, symbol, interval_s, open_time)`, upserted),
//! `book_deltas` (`(venue, symbol, ts_ingest, msg_hash)`), `book_snapshots`, `rejects`, `data_quality_events`; views `trades_view`, `agg_trades_view`,
//! `quotes_view`, `candles_view` with exact `NUMERIC` prices. Prices and quantities are `BIGINT`
//! mantissa + `SMALLINT` scale, times `TIMESTAMPTZ` (µs). See `schema.rs` for the reasons.

mod config;
mod direct;
mod schema;
mod writer;

#[cfg(all(unix, any(test, feature = "test-harness")))]
pub mod harness;
#[cfg(all(test, unix))]
mod tests;

pub use config::{redact_uri, PostgresConfig};
pub use schema::{current_version, ensure_query_indexes, migrate, Migration, SCHEMA_VERSION};
pub use writer::{connect, spawn_postgres_writer, PostgresWriter};
