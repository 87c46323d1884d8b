//! Bybit v5 wire messages, borrowed from the frame bytes. Prices and sizes are strings; times and
//! sequence numbers are JSON numbers (strings on REST).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// Every frame: a push (`topic`, `type`, `ts`, `data`) or an op reply (`op`, `success`, …).
#[derive(Deserialize)]
pub struct Envelope<'a> {
    /// `publicTrade.BTCUSDT`, `orderbook.1.BTCUSDT`, `kline.1.BTCUSDT`…
    #[serde(borrow, default)]
    pub topic: Option<Cow<'a, str>>,
    /// `snapshot` / `delta`.
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    /// Push time, ms.
    #[serde(default)]
    pub ts: Option<i64>,
    /// Matching-engine time of a book push, ms.
    #[serde(default)]
    pub cts: Option<i64>,
    /// The payload: an array (trades, klines) or an object (books, tickers).
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
    /// Op replies: did the request succeed?
    #[serde(default)]
    pub success: Option<bool>,
    /// Op replies: `pong`, `subscribe`, or the error.
    #[serde(borrow, default)]
    pub ret_msg: Option<Cow<'a, str>>,
    /// `subscribe`, `ping`, `pong`…
    #[serde(borrow, default)]
    pub op: Option<Cow<'a, str>>,
    /// Our request id, echoed.
    #[serde(borrow, default)]
    pub req_id: Option<Cow<'a, str>>,
}

/// One trade of a `publicTrade` push.
#[derive(Deserialize)]
pub struct TradeItem<'a> {
    /// Fill time, ms.
    #[serde(rename = "T")]
    pub time_ms: i64,
    /// Symbol.
    #[serde(borrow, rename = "s")]
    pub symbol: Cow<'a, str>,
    /// Taker side `Buy` / `Sell`.
    #[serde(borrow, rename = "S")]
    pub side: Cow<'a, str>,
    /// Size.
    #[serde(borrow, rename = "v")]
    pub size: Cow<'a, str>,
    /// Price.
    #[serde(borrow, rename = "p")]
    pub price: Cow<'a, str>,
    /// Trade id (numeric text on spot, a UUID on linear).
    #[serde(borrow, rename = "i")]
    pub id: Cow<'a, str>,
}

/// The `data` object of an `orderbook.{depth}` push.
#[derive(Deserialize)]
pub struct BookData<'a> {
    /// Bids `[price, size]`, best first.
    #[serde(borrow, rename = "b")]
    pub bids: Vec<[&'a str; 2]>,
    /// Asks.
    #[serde(borrow, rename = "a")]
    pub asks: Vec<[&'a str; 2]>,
    /// Update id.
    #[serde(rename = "u")]
    pub update_id: u64,
    /// Cross sequence.
    #[serde(default)]
    pub seq: Option<u64>,
}

/// One candle of a `kline` push.
#[derive(Deserialize)]
pub struct KlineItem<'a> {
    /// Bar start, ms.
    pub start: i64,
    /// Interval (`1`, `60`, `D`…).
    #[serde(borrow)]
    pub interval: Cow<'a, str>,
    /// Open.
    #[serde(borrow)]
    pub open: Cow<'a, str>,
    /// Close.
    #[serde(borrow)]
    pub close: Cow<'a, str>,
    /// High.
    #[serde(borrow)]
    pub high: Cow<'a, str>,
    /// Low.
    #[serde(borrow)]
    pub low: Cow<'a, str>,
    /// Base volume.
    #[serde(borrow)]
    pub volume: Cow<'a, str>,
    /// Quote volume.
    #[serde(borrow)]
    pub turnover: Cow<'a, str>,
    /// True once the bar is closed.
    pub confirm: bool,
    /// Time of the last fill in the bar, ms.
    pub timestamp: i64,
}

/// REST envelope `{"retCode":0,"retMsg":"OK","result":{…}}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestReply<'a> {
    /// 0 on success.
    pub ret_code: i64,
    /// Error text.
    #[serde(borrow, default)]
    pub ret_msg: Cow<'a, str>,
    /// The result.
    #[serde(borrow, default)]
    pub result: Option<RestTrades<'a>>,
}

/// `result` of `recent-trade`.
#[derive(Deserialize)]
pub struct RestTrades<'a> {
    /// Trades, newest first.
    #[serde(borrow, default)]
    pub list: Vec<RestTrade<'a>>,
}

/// One row of `recent-trade`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestTrade<'a> {
    /// Trade id (== WebSocket `i`).
    #[serde(borrow)]
    pub exec_id: Cow<'a, str>,
    /// Price.
    #[serde(borrow)]
    pub price: Cow<'a, str>,
    /// Size.
    #[serde(borrow)]
    pub size: Cow<'a, str>,
    /// Taker side.
    #[serde(borrow)]
    pub side: Cow<'a, str>,
    /// Fill time, ms as text.
    #[serde(borrow)]
    pub time: Cow<'a, str>,
}
