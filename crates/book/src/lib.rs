//! Exact L2 order books.
//!
//! # Layout
//! - [`book`] — the book: levels keyed by exact price value, the venue's digits kept, O(log n)
//!   updates, top-N, crossed check, a stable digest.
//! - [`checksum`] — Kraken v2 and OKX checksums over the venue's digits.
//! - [`sync`] — venue sequence rules (Binance `U`/`u` against the REST snapshot, consecutive
//!   Bybit/Coinbase numbers, OKX `prevSeqId` chains): apply, ignore, or gap → resync.
//! - [`tracker`] — one market's book with its honesty accounting (checksums passed/failed, gaps,
//!   resyncs, crossed books, verified share of time).
//! - [`keeper`] — the books of one connection as the feed runs them: each venue's rules
//!   ([`venue_rules`]), the `verified` flag of every message, data-quality events, resync needs,
//!   periodic tops (`book_snapshots`), and [`rebuild`] from stored messages.

pub mod book;
pub mod checksum;
pub mod keeper;
pub mod sync;
pub mod tracker;

pub use book::{BookSide, OrderBook};
pub use keeper::{
    rebuild, replay, venue_rules, BookKeeper, KeeperSettings, Need, Sequencing, VenueBookRules,
};
pub use sync::{BinanceSync, Consecutive, PrevSeqChain, SnapshotError, Step};
pub use tracker::{BookStats, BookTracker, Checksum, Verdict};
