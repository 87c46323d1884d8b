//! Coinbase Advanced Trade wire messages, borrowed from the frame bytes. Every push has the same
//! envelope with a connection-wide `sequence_num`; prices and sizes are strings.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// Every frame: a channel push or an error (`{"type":"error","message":…}`).
#[derive(Deserialize)]
pub struct Envelope<'a> {
    /// `market_trades`, `ticker`, `candles`, `heartbeats`, `subscriptions`, `l2_data`…
    #[serde(borrow, default)]
    pub channel: Option<Cow<'a, str>>,
    /// Push time, RFC 3339 with up to nanoseconds.
    #[serde(borrow, default)]
    pub timestamp: Option<Cow<'a, str>>,
    /// Connection-wide message counter (acknowledgements and heartbeats included).
    #[serde(default)]
    pub sequence_num: Option<u64>,
    /// The channel's events.
    #[serde(borrow, default)]
    pub events: Option<Vec<&'a RawValue>>,
    /// `error` on refusals.
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    /// Error text.
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
}

/// A `market_trades` event.
#[derive(Deserialize)]
pub struct TradesEvent<'a> {
    /// Trades (a snapshot of recent ones first, then batched updates), parsed one by one so a
    /// bad one costs only itself.
    #[serde(borrow)]
    pub trades: Vec<&'a RawValue>,
}

/// A `market_trades` event parsed in one pass (the fast path when every item is well formed).
#[derive(Deserialize)]
pub struct TradesEventItems<'a> {
    /// Trades.
    #[serde(borrow)]
    pub trades: Vec<TradeItem<'a>>,
}

/// One trade (WebSocket and REST share the shape).
#[derive(Deserialize)]
pub struct TradeItem<'a> {
    /// Trade id, an integer as text, rising by one per trade and product.
    #[serde(borrow)]
    pub trade_id: Cow<'a, str>,
    /// Product id.
    #[serde(borrow)]
    pub product_id: Cow<'a, str>,
    /// Price.
    #[serde(borrow)]
    pub price: Cow<'a, str>,
    /// Size.
    #[serde(borrow)]
    pub size: Cow<'a, str>,
    /// `BUY` / `SELL` (the taker side; see `parse::side`).
    #[serde(borrow)]
    pub side: Cow<'a, str>,
    /// Trade time, RFC 3339.
    #[serde(borrow)]
    pub time: Cow<'a, str>,
}

/// A `ticker` event.
#[derive(Deserialize)]
pub struct TickerEvent<'a> {
    /// Tickers.
    #[serde(borrow)]
    pub tickers: Vec<TickerItem<'a>>,
}

/// One ticker (the best bid/offer part).
#[derive(Deserialize)]
pub struct TickerItem<'a> {
    /// Product id.
    #[serde(borrow)]
    pub product_id: Cow<'a, str>,
    /// Best bid.
    #[serde(borrow)]
    pub best_bid: Cow<'a, str>,
    /// Size at the best bid.
    #[serde(borrow)]
    pub best_bid_quantity: Cow<'a, str>,
    /// Best ask.
    #[serde(borrow)]
    pub best_ask: Cow<'a, str>,
    /// Size at the best ask.
    #[serde(borrow)]
    pub best_ask_quantity: Cow<'a, str>,
}

/// A `candles` event.
#[derive(Deserialize)]
pub struct CandlesEvent<'a> {
    /// Candles.
    #[serde(borrow)]
    pub candles: Vec<CandleItem<'a>>,
}

/// One 5-minute candle.
#[derive(Deserialize)]
pub struct CandleItem<'a> {
    /// Bar start, unix seconds as text.
    #[serde(borrow)]
    pub start: Cow<'a, str>,
    /// High.
    #[serde(borrow)]
    pub high: Cow<'a, str>,
    /// Low.
    #[serde(borrow)]
    pub low: Cow<'a, str>,
    /// Open.
    #[serde(borrow)]
    pub open: Cow<'a, str>,
    /// Close.
    #[serde(borrow)]
    pub close: Cow<'a, str>,
    /// Base volume.
    #[serde(borrow)]
    pub volume: Cow<'a, str>,
    /// Product id.
    #[serde(borrow)]
    pub product_id: Cow<'a, str>,
}

/// An `l2_data` event: a product's full book (`snapshot`) or changes (`update`).
#[derive(Deserialize)]
pub struct L2Event<'a> {
    /// `snapshot` or `update`.
    #[serde(borrow, rename = "type")]
    pub kind: Cow<'a, str>,
    /// Product id.
    #[serde(borrow)]
    pub product_id: Cow<'a, str>,
    /// Level changes, in order.
    #[serde(borrow)]
    pub updates: Vec<L2Update<'a>>,
}

/// One level of an `l2_data` event: the new total at a price (`"0"` removes it).
#[derive(Deserialize)]
pub struct L2Update<'a> {
    /// `bid` or `offer`.
    #[serde(borrow)]
    pub side: Cow<'a, str>,
    /// Price.
    #[serde(borrow)]
    pub price_level: Cow<'a, str>,
    /// New quantity at the price.
    #[serde(borrow)]
    pub new_quantity: Cow<'a, str>,
}

/// REST `…/market/products/{id}/ticker` reply.
#[derive(Deserialize)]
pub struct RestTicker<'a> {
    /// Recent trades, newest first.
    #[serde(borrow)]
    pub trades: Vec<TradeItem<'a>>,
}
