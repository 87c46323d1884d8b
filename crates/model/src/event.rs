//! Normalized events: what venue parsers emit and sinks persist.

use std::fmt;
use std::sync::Arc;

use crate::{Decimal, Venue};

/// Raw payloads kept in reject rows are truncated to this many bytes.
pub const MAX_REJECT_RAW_BYTES: usize = 4096;

/// Taker side of a trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The taker bought (lifted the ask).
    Buy,
    /// The taker sold (hit the bid).
    Sell,
    /// The venue did not say.
    Unknown,
}

impl Side {
    /// `buy`, `sell` or `unknown`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
            Side::Unknown => "unknown",
        }
    }
}

/// The venue's own identifier of a trade. Numeric where the venue's ids are numbers (so that gaps
/// can be measured), text otherwise.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TradeId {
    /// A numeric id (Binance `t`/`a`, Kraken `trade_id`).
    Num(u64),
    /// A textual id (UUIDs on some venues).
    Text(Box<str>),
}

impl fmt::Display for TradeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TradeId::Num(n) => write!(f, "{n}"),
            TradeId::Text(s) => f.write_str(s),
        }
    }
}

/// Whether a trade is one fill or a venue aggregate of several.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradeKind {
    /// A single trade.
    Single,
    /// A venue aggregate (Binance `aggTrade`) covering underlying trade ids `first..=last`.
    Aggregate {
        /// First underlying trade id.
        first_id: u64,
        /// Last underlying trade id.
        last_id: u64,
    },
}

/// One trade as the venue published it.
#[derive(Clone, Debug, PartialEq)]
pub struct Trade {
    /// Venue.
    pub venue: Venue,
    /// Unified symbol, `BASE/QUOTE`.
    pub symbol: Arc<str>,
    /// The venue's trade id — part of the natural key.
    pub trade_id: TradeId,
    /// Exact price.
    pub price: Decimal,
    /// Exact quantity (base asset).
    pub qty: Decimal,
    /// Taker side.
    pub side: Side,
    /// Venue event time, µs since the epoch (UTC).
    pub ts_exchange_us: i64,
    /// Local receive time, µs since the epoch (UTC).
    pub ts_recv_us: i64,
    /// Single or aggregate.
    pub kind: TradeKind,
}

/// Best bid and offer.
#[derive(Clone, Debug, PartialEq)]
pub struct Quote {
    /// Venue.
    pub venue: Venue,
    /// Unified symbol.
    pub symbol: Arc<str>,
    /// Best bid price.
    pub bid_price: Decimal,
    /// Size at the best bid.
    pub bid_qty: Decimal,
    /// Best ask price.
    pub ask_price: Decimal,
    /// Size at the best ask.
    pub ask_qty: Decimal,
    /// Venue event time, when the venue sends one (Binance spot `bookTicker` does not).
    pub ts_exchange_us: Option<i64>,
    /// Local receive time.
    pub ts_recv_us: i64,
    /// The venue's book update id, when it sends one (Binance `u`).
    pub update_id: Option<u64>,
}

/// An OHLCV candle, possibly still forming.
#[derive(Clone, Debug, PartialEq)]
pub struct Candle {
    /// Venue.
    pub venue: Venue,
    /// Unified symbol.
    pub symbol: Arc<str>,
    /// Interval length in seconds.
    pub interval_s: u32,
    /// Interval start, µs since the epoch.
    pub open_time_us: i64,
    /// Open price.
    pub open: Decimal,
    /// High price.
    pub high: Decimal,
    /// Low price.
    pub low: Decimal,
    /// Close (last) price.
    pub close: Decimal,
    /// Base volume.
    pub volume: Decimal,
    /// Quote volume, when the venue sends it.
    pub quote_volume: Option<Decimal>,
    /// Number of trades, when the venue sends it.
    pub trades: Option<u64>,
    /// True once the venue says the interval is final.
    pub closed: bool,
    /// Venue event time of this update.
    pub ts_exchange_us: i64,
    /// Local receive time.
    pub ts_recv_us: i64,
}

/// One price level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    /// Price.
    pub price: Decimal,
    /// Quantity; zero removes the level.
    pub qty: Decimal,
}

/// Whether a book message replaces the book or changes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookKind {
    /// A full (top-N) book.
    Snapshot,
    /// Changes to apply.
    Delta,
}

/// A book snapshot or delta as the venue sent it. Parsers leave `verified` false; the feed's
/// book tracker sets it once the message applied to an in-sync book (and, where the venue sends
/// one, the checksum matched).
#[derive(Clone, Debug, PartialEq)]
pub struct BookUpdate {
    /// Venue.
    pub venue: Venue,
    /// Unified symbol.
    pub symbol: Arc<str>,
    /// Snapshot or delta.
    pub kind: BookKind,
    /// First update id covered (Binance `U`).
    pub first_update_id: Option<u64>,
    /// Last update id covered (Binance `u`, `lastUpdateId`).
    pub last_update_id: Option<u64>,
    /// Bid levels.
    pub bids: Vec<Level>,
    /// Ask levels.
    pub asks: Vec<Level>,
    /// Venue checksum, when sent (Kraken CRC32).
    pub checksum: Option<u32>,
    /// Venue event time, when sent.
    pub ts_exchange_us: Option<i64>,
    /// Local receive time.
    pub ts_recv_us: i64,
    /// True when the book after this message is known to be the venue's book: in sequence since
    /// a snapshot and, where the venue sends one, checksum-verified. Set by the feed.
    pub verified: bool,
}

/// The top levels of the book the recorder holds, taken every `snapshot_interval` (the
/// `book_snapshots` table).
#[derive(Clone, Debug, PartialEq)]
pub struct BookTop {
    /// Venue.
    pub venue: Venue,
    /// Unified symbol.
    pub symbol: Arc<str>,
    /// Last update id applied (the venue's sequence), when it has one.
    pub last_update_id: Option<u64>,
    /// Best bids, best first.
    pub bids: Vec<Level>,
    /// Best asks, best first.
    pub asks: Vec<Level>,
    /// Whether the book was verified (in sync, checksums matching) when taken.
    pub verified: bool,
    /// Digest of the whole book (not only the top) at this point, for rebuild checks.
    pub digest: u64,
    /// Venue time of the last message applied, when sent.
    pub ts_exchange_us: Option<i64>,
    /// Local time the snapshot was taken.
    pub ts_recv_us: i64,
}

/// Why a frame (or part of one) was not turned into rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Not valid JSON (truncated, garbage).
    MalformedJson,
    /// Valid JSON of a shape we do not know.
    UnknownMessage,
    /// A symbol that is not subscribed / not known.
    UnknownSymbol,
    /// A required field is missing or has the wrong type.
    MissingField,
    /// Price ≤ 0.
    NonPositivePrice,
    /// Quantity ≤ 0 (or negative where zero is allowed).
    NonPositiveQty,
    /// A number that is not an exact finite decimal, or is absurdly large.
    BadNumber,
    /// A timestamp that cannot be parsed or is out of range.
    BadTimestamp,
    /// A frame over the configured size limit.
    Oversized,
    /// A binary frame on a venue that sends text.
    BinaryFrame,
    /// Text that is not UTF-8.
    InvalidUtf8,
    /// The venue reported an error for a request of ours.
    VenueError,
}

impl RejectReason {
    /// Stable snake_case name, used in the `rejects` table and as a metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::MalformedJson => "malformed_json",
            RejectReason::UnknownMessage => "unknown_message",
            RejectReason::UnknownSymbol => "unknown_symbol",
            RejectReason::MissingField => "missing_field",
            RejectReason::NonPositivePrice => "non_positive_price",
            RejectReason::NonPositiveQty => "non_positive_qty",
            RejectReason::BadNumber => "bad_number",
            RejectReason::BadTimestamp => "bad_timestamp",
            RejectReason::Oversized => "oversized",
            RejectReason::BinaryFrame => "binary_frame",
            RejectReason::InvalidUtf8 => "invalid_utf8",
            RejectReason::VenueError => "venue_error",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A frame, or one item of a frame, that could not become a row — kept with its raw payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Reject {
    /// Venue the frame came from.
    pub venue: Venue,
    /// Unified (or, if unknown, native) symbol when one could be read.
    pub symbol: Option<Arc<str>>,
    /// Machine-readable reason.
    pub reason: RejectReason,
    /// Human-readable detail (which field, what value).
    pub detail: String,
    /// The raw payload, truncated to [`MAX_REJECT_RAW_BYTES`].
    pub raw: Vec<u8>,
    /// Local receive time.
    pub ts_recv_us: i64,
}

impl Reject {
    /// Builds a reject, truncating the raw payload.
    pub fn new(
        venue: Venue,
        symbol: Option<Arc<str>>,
        reason: RejectReason,
        detail: impl Into<String>,
        raw: &[u8],
        ts_recv_us: i64,
    ) -> Self {
        let n = raw.len().min(MAX_REJECT_RAW_BYTES);
        Reject {
            venue,
            symbol,
            reason,
            detail: detail.into(),
            raw: raw[..n].to_vec(),
            ts_recv_us,
        }
    }
}

/// What a data-quality event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QualityKind {
    /// A connection ended and was re-established (`detail` says why).
    Reconnect,
    /// A socket went silent (no frame within the idle timeout).
    Stale,
    /// Trade ids `from_id..=to_id` were missing from the live feed.
    Gap,
    /// Trades of a gap recovered from the venue's REST API (`count` of them).
    GapBackfilled,
    /// Trade ids that could not be recovered (`count`): the venue no longer serves them.
    GapUnrepaired,
    /// The book's sequence broke (`from_id..=to_id` expected vs received): the book is dropped.
    BookGap,
    /// The book's checksum did not match the venue's: the book is dropped.
    BookChecksum,
    /// The book was unverified from `start_us` to `end_us`, until a fresh snapshot.
    BookResync,
    /// The book was crossed (best bid ≥ best ask) after a verified update.
    BookCrossed,
}

impl QualityKind {
    /// Stable snake_case name (table column, metric label).
    pub const fn as_str(self) -> &'static str {
        match self {
            QualityKind::Reconnect => "reconnect",
            QualityKind::Stale => "stale",
            QualityKind::Gap => "gap",
            QualityKind::GapBackfilled => "gap_backfilled",
            QualityKind::GapUnrepaired => "gap_unrepaired",
            QualityKind::BookGap => "book_gap",
            QualityKind::BookChecksum => "book_checksum",
            QualityKind::BookResync => "book_resync",
            QualityKind::BookCrossed => "book_crossed",
        }
    }

    /// Inverse of [`QualityKind::as_str`].
    pub fn parse(s: &str) -> Option<QualityKind> {
        [
            QualityKind::Reconnect,
            QualityKind::Stale,
            QualityKind::Gap,
            QualityKind::GapBackfilled,
            QualityKind::GapUnrepaired,
            QualityKind::BookGap,
            QualityKind::BookChecksum,
            QualityKind::BookResync,
            QualityKind::BookCrossed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A data-quality event: what the recorder detected, repaired or could not repair — written
/// down, never papered over.
#[derive(Clone, Debug, PartialEq)]
pub struct QualityEvent {
    /// Venue.
    pub venue: Venue,
    /// Unified symbol, when the event concerns one market.
    pub symbol: Option<Arc<str>>,
    /// What happened.
    pub kind: QualityKind,
    /// Start of the affected window, µs.
    pub start_us: i64,
    /// End of the affected window, µs.
    pub end_us: i64,
    /// How many (trade ids, trades, reconnects).
    pub count: u64,
    /// First trade id concerned, if any.
    pub from_id: Option<u64>,
    /// Last trade id concerned, if any.
    pub to_id: Option<u64>,
    /// Human detail.
    pub detail: String,
    /// When we recorded it.
    pub ts_recv_us: i64,
}

/// Everything a parser can emit.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A trade (single or aggregate).
    Trade(Trade),
    /// A best bid/offer.
    Quote(Quote),
    /// A candle update.
    Candle(Candle),
    /// A book snapshot or delta.
    Book(BookUpdate),
    /// The top of the recorder's book, taken periodically.
    BookTop(BookTop),
    /// A reject row.
    Reject(Reject),
    /// A data-quality event.
    Quality(QualityEvent),
}

impl Event {
    /// Local receive time of the event.
    pub fn ts_recv_us(&self) -> i64 {
        match self {
            Event::Trade(t) => t.ts_recv_us,
            Event::Quote(q) => q.ts_recv_us,
            Event::Candle(c) => c.ts_recv_us,
            Event::Book(b) => b.ts_recv_us,
            Event::BookTop(b) => b.ts_recv_us,
            Event::Reject(r) => r.ts_recv_us,
            Event::Quality(q) => q.ts_recv_us,
        }
    }
}
