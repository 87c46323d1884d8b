//! Normalized market-data model shared by every tickrec crate.
//!
//! # Layout
//! - [`decimal`]: exact fixed-point numbers parsed straight from venue text (never through `f64`).
//! - [`time`]: microsecond UTC clocks and a fast RFC 3339 parser.
//! - [`venue`]: the venue enum and unified symbols.
//! - [`event`]: trades, quotes, candles, book updates, rejects — what parsers emit and sinks store.
//! - [`hist`]: a lock-free fixed-bucket latency histogram (exchange → receive lag, receive →
//!   commit latency) that renders as a Prometheus histogram.

pub mod decimal;
pub mod event;
pub mod hist;
pub mod time;
pub mod venue;

pub use decimal::{Decimal, DecimalError};
pub use event::{
    BookKind, BookTop, BookUpdate, Candle, Event, Level, QualityEvent, QualityKind, Quote, Reject,
    RejectReason, Side, Trade, TradeId, TradeKind, MAX_REJECT_RAW_BYTES,
};
pub use time::{now_us, parse_rfc3339_us, TimeError};
pub use venue::{Channel, Venue, VenueParseError};
