//! The tickrec binary's library half: CLI commands, configuration, wiring and the HTTP side.
//! Kept as a library so integration tests can run the recorder in-process.
//!
//! # Layout
//! - [`config`] — the TOML file (native and seed-000 shapes), validation, defaults.
//! - [`app`] — `record`: supervisors → channel → SQLite writer; signals; shutdown flush.
//! - [`pipeline`] — readers → journal (fsync) → per-sink forwarders → writers → acks.
//! - [`http`] — `/metrics`, `/health`, `/ready`; [`api`] — the query API under `/api/v1`.
//! - [`archive_cli`] — `tickrec archive` and the archive task of `record` (`[archive]`, `[retention]`).
//! - [`export`] — `tickrec export` (Parquet / Tardis-style CSV).
//! - [`gaps`] — `tickrec gaps`, the stored tape's holes per market.
//! - [`instruments`] — instrument metadata at start-up (`[instruments]`, `tickrec instruments`).
//! - [`mcp`] — `tickrec mcp`, the query tools over the Model Context Protocol (stdio).
//! - [`query_cli`] — `tickrec query …`, the stored tape's trades, candles, profile, vacuums, features.
//! - [`simulate`] — `tickrec simulate`.
//! - [`bench`] — `tickrec bench`; [`bench_query`] — `tickrec bench query`.

pub mod api;
pub mod app;
pub mod archive_cli;
pub mod bench;
pub mod bench_books;
pub mod bench_query;
pub mod book_cli;
pub mod config;
pub mod export;
pub mod gaps;
pub mod http;
pub mod instruments;
pub mod mcp;
pub mod pipeline;
pub mod query_cli;
pub mod simulate;
