//! Questions to the stored tape, without writing SQL: trades in a window, candles of any
//! interval, the volume profile, liquidity vacuums and model features. The `tickrec` binary
//! serves these over the CLI (`tickrec query …`), HTTP (`/api/v1/…`) and MCP (`tickrec mcp`).
//!
//! # Layout
//! - [`params`]: [`Market`], [`Window`] and the parsers every interface shares.
//! - [`tape`]: [`Tape`], read access to a store; SQLite window scans use the covering index;
//!   `postgres` (feature `postgres`) is the PostgreSQL backend.
//! - [`exact`]: [`Exact`], scale-18 `i128` arithmetic — aggregates are exact; `f64` only for
//!   derived statistics (VWAP, returns, volatility, scores).
//! - [`trades`]: bounded pages of trades, paged by `(exchange time, id)`.
//! - [`candles`]: candles from trades (1 s..1 d) and the venue's stored candles, with gaps.
//! - [`profile`]: the volume profile (POC, value area, min-trades rule).
//! - [`vacuums`]: liquidity vacuums found in a profile.
//! - [`features`]: SMA/EMA, returns, realized volatility, z-score over 1-minute closes.
//! - [`request`]: [`Request`] → [`Answer`], the one parameter parser the CLI, HTTP API and MCP
//!   server share.
//! - [`synthetic`]: a deterministic synthetic tape for tests and benchmarks.
//! - [`error`]: [`QueryError`]; `is_client_error()` separates bad input (4xx) from store failures.

#![warn(missing_docs)]

pub mod candles;
pub mod error;
pub mod exact;
pub mod features;
pub mod params;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod profile;
pub mod request;
pub mod synthetic;
pub mod tape;
pub mod trades;
pub mod vacuums;

pub use candles::{candles_from_trades, venue_candles, CandleGap, TradeCandles, VenueCandles};
pub use error::QueryError;
pub use exact::Exact;
pub use features::{features, FeatureParams, Features};
pub use params::{parse_duration, parse_time, Market, Source, Window};
pub use profile::{volume_profile, Bucketing, ProfileParams, VolumeProfile};
pub use request::{Answer, Kind, Request};
pub use tape::{Table, Tape};
pub use trades::{trades_page, Cursor, TradePage};
pub use vacuums::{liquidity_vacuums, Vacuums};
