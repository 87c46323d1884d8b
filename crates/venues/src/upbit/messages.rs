//! Upbit wire messages. Numbers are JSON numbers (sometimes in exponent form, `5.485e-05`), so
//! they are kept as raw text (`&RawValue`) and parsed exactly. Both the `DEFAULT` field names and
//! the abbreviated `SIMPLE` ones (`ty`, `cd`, `tp`…) are accepted.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// Any frame: a trade, an orderbook, a candle, a ticker, a status or an error. One flat struct
/// keeps parsing to a single pass; which fields are required depends on `type`.
#[derive(Deserialize)]
pub struct Message<'a> {
    /// `trade`, `orderbook`, `ticker`, `candle.1m`…
    #[serde(borrow, default, rename = "type", alias = "ty")]
    pub kind: Option<Cow<'a, str>>,
    /// Market code `KRW-BTC`.
    #[serde(borrow, default, alias = "cd")]
    pub code: Option<Cow<'a, str>>,
    /// Trade price; the close on candles.
    #[serde(borrow, default, alias = "tp")]
    pub trade_price: Option<&'a RawValue>,
    /// Trade size.
    #[serde(borrow, default, alias = "tv")]
    pub trade_volume: Option<&'a RawValue>,
    /// `BID`: the buyer was the taker; `ASK`: the seller was.
    #[serde(borrow, default, alias = "ab")]
    pub ask_bid: Option<Cow<'a, str>>,
    /// Trade time, ms.
    #[serde(default, alias = "ttms")]
    pub trade_timestamp: Option<i64>,
    /// Message time, ms.
    #[serde(default, alias = "tms")]
    pub timestamp: Option<i64>,
    /// Unique (not ordered, not contiguous) trade id; above 2^53, so kept as text.
    #[serde(borrow, default, alias = "sid")]
    pub sequential_id: Option<&'a RawValue>,
    /// Order book levels, best first.
    #[serde(borrow, default, alias = "obu")]
    pub orderbook_units: Option<Vec<Unit<'a>>>,
    /// Candle start, UTC `yyyy-MM-ddTHH:mm:ss`.
    #[serde(borrow, default)]
    pub candle_date_time_utc: Option<Cow<'a, str>>,
    /// Candle open.
    #[serde(borrow, default)]
    pub opening_price: Option<&'a RawValue>,
    /// Candle high.
    #[serde(borrow, default)]
    pub high_price: Option<&'a RawValue>,
    /// Candle low.
    #[serde(borrow, default)]
    pub low_price: Option<&'a RawValue>,
    /// Candle base volume.
    #[serde(borrow, default)]
    pub candle_acc_trade_volume: Option<&'a RawValue>,
    /// Candle quote volume.
    #[serde(borrow, default)]
    pub candle_acc_trade_price: Option<&'a RawValue>,
    /// `UP`: the keep-alive reply.
    #[serde(borrow, default)]
    pub status: Option<Cow<'a, str>>,
    /// A refused request.
    #[serde(borrow, default)]
    pub error: Option<ErrorBody<'a>>,
}

/// One orderbook unit: the i-th best ask and the i-th best bid.
#[derive(Deserialize)]
pub struct Unit<'a> {
    /// Ask price.
    #[serde(borrow, alias = "ap")]
    pub ask_price: &'a RawValue,
    /// Bid price.
    #[serde(borrow, alias = "bp")]
    pub bid_price: &'a RawValue,
    /// Ask size.
    #[serde(borrow, alias = "as")]
    pub ask_size: &'a RawValue,
    /// Bid size.
    #[serde(borrow, alias = "bs")]
    pub bid_size: &'a RawValue,
}

/// `{"name":"WRONG_FORMAT","message":"..."}`.
#[derive(Deserialize)]
pub struct ErrorBody<'a> {
    /// Error code.
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    /// Text.
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
}

/// One row of `GET /v1/trades/ticks`.
#[derive(Deserialize)]
pub struct RestTrade<'a> {
    /// Trade time, ms.
    pub timestamp: i64,
    /// Price.
    #[serde(borrow)]
    pub trade_price: &'a RawValue,
    /// Size.
    #[serde(borrow)]
    pub trade_volume: &'a RawValue,
    /// `BID` / `ASK`.
    #[serde(borrow)]
    pub ask_bid: Cow<'a, str>,
    /// Unique trade id.
    #[serde(borrow)]
    pub sequential_id: &'a RawValue,
}
