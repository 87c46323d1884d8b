//! Kraken WebSocket v2 wire messages. Numbers arrive as JSON numbers, so price and quantity
//! fields are kept as raw JSON text (`&RawValue`) and parsed exactly — never through `f64`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// Any frame: a channel push (`channel`, `type`, `data`) or a method response.
#[derive(Deserialize)]
pub struct Envelope<'a> {
    /// `trade`, `ticker`, `ohlc`, `book`, `heartbeat`, `status`…
    #[serde(borrow, default)]
    pub channel: Option<Cow<'a, str>>,
    /// `snapshot` or `update`.
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    /// The pushed items.
    #[serde(borrow, default)]
    pub data: Option<Vec<&'a RawValue>>,
    /// Envelope timestamp (ohlc).
    #[serde(borrow, default)]
    pub timestamp: Option<Cow<'a, str>>,
    /// `subscribe`, `unsubscribe`, `pong`… on responses.
    #[serde(borrow, default)]
    pub method: Option<Cow<'a, str>>,
    /// Outcome of a request.
    #[serde(default)]
    pub success: Option<bool>,
    /// Error text of a refused request.
    #[serde(borrow, default)]
    pub error: Option<Cow<'a, str>>,
    /// Symbol of a refused subscription (top level, there is no `result`).
    #[serde(borrow, default)]
    pub symbol: Option<Cow<'a, str>>,
    /// Our request id, echoed.
    #[serde(default)]
    pub req_id: Option<u64>,
}

/// One item of a `trade` push.
#[derive(Deserialize)]
pub struct TradeItem<'a> {
    /// Symbol (`BTC/USD`).
    #[serde(borrow)]
    pub symbol: Cow<'a, str>,
    /// Taker side, `buy` or `sell`.
    #[serde(borrow)]
    pub side: Cow<'a, str>,
    /// Price (JSON number).
    #[serde(borrow)]
    pub price: &'a RawValue,
    /// Quantity (JSON number).
    #[serde(borrow)]
    pub qty: &'a RawValue,
    /// Per-book sequence number.
    pub trade_id: u64,
    /// RFC 3339, µs.
    #[serde(borrow)]
    pub timestamp: Cow<'a, str>,
}

/// One item of a `ticker` push.
#[derive(Deserialize)]
pub struct TickerItem<'a> {
    /// Symbol.
    #[serde(borrow)]
    pub symbol: Cow<'a, str>,
    /// Best bid.
    #[serde(borrow)]
    pub bid: &'a RawValue,
    /// Best bid size.
    #[serde(borrow)]
    pub bid_qty: &'a RawValue,
    /// Best ask.
    #[serde(borrow)]
    pub ask: &'a RawValue,
    /// Best ask size.
    #[serde(borrow)]
    pub ask_qty: &'a RawValue,
    /// Event time (absent on some snapshots).
    #[serde(borrow, default)]
    pub timestamp: Option<Cow<'a, str>>,
}

/// One item of an `ohlc` push (a running candle; there is no closed flag).
#[derive(Deserialize)]
pub struct OhlcItem<'a> {
    /// Symbol.
    #[serde(borrow)]
    pub symbol: Cow<'a, str>,
    /// Open.
    #[serde(borrow)]
    pub open: &'a RawValue,
    /// High.
    #[serde(borrow)]
    pub high: &'a RawValue,
    /// Low.
    #[serde(borrow)]
    pub low: &'a RawValue,
    /// Close.
    #[serde(borrow)]
    pub close: &'a RawValue,
    /// Number of trades.
    pub trades: u64,
    /// Base volume.
    #[serde(borrow)]
    pub volume: &'a RawValue,
    /// Interval start (RFC 3339, ns).
    #[serde(borrow)]
    pub interval_begin: Cow<'a, str>,
    /// Interval in minutes.
    pub interval: u32,
}

/// One price level of a `book` push.
#[derive(Deserialize)]
pub struct BookLevel<'a> {
    /// Price.
    #[serde(borrow)]
    pub price: &'a RawValue,
    /// Quantity; 0 removes.
    #[serde(borrow)]
    pub qty: &'a RawValue,
}

/// One item of a `book` push.
#[derive(Deserialize)]
pub struct BookItem<'a> {
    /// Symbol.
    #[serde(borrow)]
    pub symbol: Cow<'a, str>,
    /// Bid changes.
    #[serde(borrow, default)]
    pub bids: Vec<BookLevel<'a>>,
    /// Ask changes.
    #[serde(borrow, default)]
    pub asks: Vec<BookLevel<'a>>,
    /// CRC32 of the top 10 levels after applying this message.
    pub checksum: u32,
    /// Event time (absent on snapshots).
    #[serde(borrow, default)]
    pub timestamp: Option<Cow<'a, str>>,
}
