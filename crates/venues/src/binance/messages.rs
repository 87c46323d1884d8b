//! Binance spot wire messages, borrowed from the frame bytes (no allocation for the strings).
//!
//! Unknown fields are ignored so that additions by the venue do not turn good frames into rejects;
//! fields we rely on are required.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// Any frame of a combined-stream connection: a data envelope or a reply to a request.
#[derive(Deserialize)]
pub struct Envelope<'a> {
    /// `btcusdt@trade`, present on data frames.
    #[serde(borrow, default)]
    pub stream: Option<Cow<'a, str>>,
    /// The event payload.
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
    /// Reply id of a request (`{"result":null,"id":1}`).
    #[serde(borrow, default)]
    pub id: Option<&'a RawValue>,
    /// Present (possibly `null`) on replies.
    #[serde(borrow, default)]
    pub result: Option<&'a RawValue>,
    /// Error of a refused request.
    #[serde(borrow, default)]
    pub error: Option<ErrorBody<'a>>,
    /// Event type, when a raw (`/ws/<stream>`) payload arrives without envelope.
    #[serde(borrow, default)]
    pub e: Option<Cow<'a, str>>,
    /// Symbol of a raw payload.
    #[serde(borrow, default)]
    pub s: Option<Cow<'a, str>>,
}

/// `{"code":2,"msg":"Invalid request: invalid stream"}`.
#[derive(Deserialize)]
pub struct ErrorBody<'a> {
    /// Numeric code.
    #[serde(default)]
    pub code: Option<i64>,
    /// Message.
    #[serde(borrow, default)]
    pub msg: Option<Cow<'a, str>>,
}

/// `<symbol>@trade`.
#[derive(Deserialize)]
pub struct TradeMsg<'a> {
    /// Symbol, upper case.
    #[serde(borrow, rename = "s")]
    pub symbol: Cow<'a, str>,
    /// Trade id.
    #[serde(rename = "t")]
    pub trade_id: u64,
    /// Price text.
    #[serde(borrow, rename = "p")]
    pub price: Cow<'a, str>,
    /// Quantity text.
    #[serde(borrow, rename = "q")]
    pub qty: Cow<'a, str>,
    /// Trade time, ms.
    #[serde(rename = "T")]
    pub trade_time_ms: i64,
    /// Buyer is the maker ⇒ the taker sold.
    #[serde(rename = "m")]
    pub buyer_is_maker: bool,
}

/// `<symbol>@aggTrade`.
#[derive(Deserialize)]
pub struct AggTradeMsg<'a> {
    /// Symbol.
    #[serde(borrow, rename = "s")]
    pub symbol: Cow<'a, str>,
    /// Aggregate trade id.
    #[serde(rename = "a")]
    pub agg_id: u64,
    /// Price text.
    #[serde(borrow, rename = "p")]
    pub price: Cow<'a, str>,
    /// Quantity text.
    #[serde(borrow, rename = "q")]
    pub qty: Cow<'a, str>,
    /// First underlying trade id.
    #[serde(rename = "f")]
    pub first_id: u64,
    /// Last underlying trade id.
    #[serde(rename = "l")]
    pub last_id: u64,
    /// Trade time, ms.
    #[serde(rename = "T")]
    pub trade_time_ms: i64,
    /// Buyer is the maker ⇒ the taker sold.
    #[serde(rename = "m")]
    pub buyer_is_maker: bool,
}

/// `<symbol>@bookTicker` (spot: no event time).
#[derive(Deserialize)]
pub struct BookTickerMsg<'a> {
    /// Book update id.
    #[serde(rename = "u")]
    pub update_id: u64,
    /// Symbol.
    #[serde(borrow, rename = "s")]
    pub symbol: Cow<'a, str>,
    /// Best bid price.
    #[serde(borrow, rename = "b")]
    pub bid_price: Cow<'a, str>,
    /// Best bid qty.
    #[serde(borrow, rename = "B")]
    pub bid_qty: Cow<'a, str>,
    /// Best ask price.
    #[serde(borrow, rename = "a")]
    pub ask_price: Cow<'a, str>,
    /// Best ask qty.
    #[serde(borrow, rename = "A")]
    pub ask_qty: Cow<'a, str>,
}

/// `<symbol>@kline_<interval>`.
#[derive(Deserialize)]
pub struct KlineMsg<'a> {
    /// Event time, ms.
    #[serde(rename = "E")]
    pub event_time_ms: i64,
    /// Symbol.
    #[serde(borrow, rename = "s")]
    pub symbol: Cow<'a, str>,
    /// The candle.
    #[serde(borrow, rename = "k")]
    pub k: KlineBody<'a>,
}

/// The `k` object of a kline event.
#[derive(Deserialize)]
pub struct KlineBody<'a> {
    /// Open time, ms.
    #[serde(rename = "t")]
    pub open_ms: i64,
    /// Interval (`1m`).
    #[serde(borrow, rename = "i")]
    pub interval: Cow<'a, str>,
    /// Open.
    #[serde(borrow, rename = "o")]
    pub open: Cow<'a, str>,
    /// Close.
    #[serde(borrow, rename = "c")]
    pub close: Cow<'a, str>,
    /// High.
    #[serde(borrow, rename = "h")]
    pub high: Cow<'a, str>,
    /// Low.
    #[serde(borrow, rename = "l")]
    pub low: Cow<'a, str>,
    /// Base volume.
    #[serde(borrow, rename = "v")]
    pub volume: Cow<'a, str>,
    /// Number of trades.
    #[serde(rename = "n")]
    pub trades: u64,
    /// Closed?
    #[serde(rename = "x")]
    pub closed: bool,
    /// Quote volume.
    #[serde(borrow, rename = "q")]
    pub quote_volume: Cow<'a, str>,
}

/// `<symbol>@depth[@100ms]` diff event.
#[derive(Deserialize)]
pub struct DepthUpdateMsg<'a> {
    /// Event time, ms.
    #[serde(rename = "E")]
    pub event_time_ms: i64,
    /// Symbol.
    #[serde(borrow, rename = "s")]
    pub symbol: Cow<'a, str>,
    /// First update id.
    #[serde(rename = "U")]
    pub first_update_id: u64,
    /// Final update id.
    #[serde(rename = "u")]
    pub last_update_id: u64,
    /// Bid changes `[price, qty]`.
    #[serde(borrow, rename = "b")]
    pub bids: Vec<[&'a str; 2]>,
    /// Ask changes.
    #[serde(borrow, rename = "a")]
    pub asks: Vec<[&'a str; 2]>,
}

/// `<symbol>@depth<N>[@100ms]` partial book (no symbol inside: it is in the stream name).
#[derive(Deserialize)]
pub struct PartialDepthMsg<'a> {
    /// Last update id.
    #[serde(rename = "lastUpdateId")]
    pub last_update_id: u64,
    /// Bids.
    #[serde(borrow)]
    pub bids: Vec<[&'a str; 2]>,
    /// Asks.
    #[serde(borrow)]
    pub asks: Vec<[&'a str; 2]>,
}
