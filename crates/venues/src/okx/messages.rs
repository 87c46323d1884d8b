//! OKX v5 wire messages, borrowed from the frame bytes. Numbers are strings (exact text), except
//! `seqId`, `prevSeqId` and `checksum`. Unknown fields are ignored; fields we rely on are required.

use std::borrow::Cow;
use std::fmt;

use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// Every frame except the bare `pong`: a push (`arg` + `data`) or an event (`event`).
#[derive(Deserialize)]
pub struct Envelope<'a> {
    /// `subscribe`, `unsubscribe`, `error`, `notice`, `channel-conn-count`… on events.
    #[serde(borrow, default)]
    pub event: Option<Cow<'a, str>>,
    /// Our request id, echoed.
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    /// Error / notice code (a JSON string).
    #[serde(borrow, default)]
    pub code: Option<Cow<'a, str>>,
    /// Error / notice text.
    #[serde(borrow, default)]
    pub msg: Option<Cow<'a, str>>,
    /// The channel and instrument of a push or an ack.
    #[serde(borrow, default)]
    pub arg: Option<Arg<'a>>,
    /// `snapshot` or `update` on book pushes.
    #[serde(borrow, default)]
    pub action: Option<Cow<'a, str>>,
    /// The pushed items.
    #[serde(borrow, default)]
    pub data: Option<Vec<&'a RawValue>>,
}

/// `{"channel":"trades","instId":"BTC-USDT"}`.
#[derive(Deserialize)]
pub struct Arg<'a> {
    /// Channel name.
    #[serde(borrow)]
    pub channel: Cow<'a, str>,
    /// Instrument id.
    #[serde(borrow, default, rename = "instId")]
    pub inst_id: Option<Cow<'a, str>>,
}

/// One item of `trades` (aggregated per taker order) or `trades-all` (one per fill).
#[derive(Deserialize)]
pub struct TradeItem<'a> {
    /// Trade id (the last one of an aggregate), an integer as text.
    #[serde(borrow, rename = "tradeId")]
    pub trade_id: Cow<'a, str>,
    /// Price.
    #[serde(borrow)]
    pub px: Cow<'a, str>,
    /// Size.
    #[serde(borrow)]
    pub sz: Cow<'a, str>,
    /// Taker side, `buy` / `sell`.
    #[serde(borrow)]
    pub side: Cow<'a, str>,
    /// Fill time, ms as text.
    #[serde(borrow)]
    pub ts: Cow<'a, str>,
    /// Fills aggregated (`trades` only; absent in older frames and on `trades-all`).
    #[serde(borrow, default)]
    pub count: Option<Cow<'a, str>>,
}

/// One price level: `[price, size, "0", orders]`; only the first two are used.
#[derive(Debug, Clone, Copy)]
pub struct PxSz<'a> {
    /// Price text.
    pub px: &'a str,
    /// Size text.
    pub sz: &'a str,
}

impl<'de: 'a, 'a> Deserialize<'de> for PxSz<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = PxSz<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a [price, size, ...] level")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PxSz<'a>, A::Error> {
                let missing = || serde::de::Error::invalid_length(0, &"at least 2 elements");
                let px: &'a str = seq.next_element()?.ok_or_else(missing)?;
                let sz: &'a str = seq.next_element()?.ok_or_else(missing)?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(PxSz { px, sz })
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

/// One item of `books`, `books5`, `bbo-tbt`, `books-l2-tbt`…
#[derive(Deserialize)]
pub struct BookItem<'a> {
    /// Asks, best first.
    #[serde(borrow)]
    pub asks: Vec<PxSz<'a>>,
    /// Bids, best first.
    #[serde(borrow)]
    pub bids: Vec<PxSz<'a>>,
    /// Book time, ms as text.
    #[serde(borrow)]
    pub ts: Cow<'a, str>,
    /// CRC32 of the top 25 levels (signed; `0` since 2026 means "not provided").
    #[serde(default)]
    pub checksum: Option<i64>,
    /// Sequence id of this push.
    #[serde(default, rename = "seqId")]
    pub seq_id: Option<i64>,
    /// Sequence id of the previous push (`-1` on snapshots).
    #[serde(default, rename = "prevSeqId")]
    pub prev_seq_id: Option<i64>,
}

/// One item of `tickers` (used as a BBO source when `bbo-tbt` is not wanted).
#[derive(Deserialize)]
pub struct TickerItem<'a> {
    /// Best bid (empty when the side is empty).
    #[serde(borrow, rename = "bidPx")]
    pub bid_px: Cow<'a, str>,
    /// Size at the best bid.
    #[serde(borrow, rename = "bidSz")]
    pub bid_sz: Cow<'a, str>,
    /// Best ask.
    #[serde(borrow, rename = "askPx")]
    pub ask_px: Cow<'a, str>,
    /// Size at the best ask.
    #[serde(borrow, rename = "askSz")]
    pub ask_sz: Cow<'a, str>,
    /// Ticker time, ms as text.
    #[serde(borrow)]
    pub ts: Cow<'a, str>,
}

/// A candle row: `[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]` (all text).
pub type CandleRow<'a> = Vec<Cow<'a, str>>;

/// REST reply envelope `{"code":"0","msg":"","data":[…]}`.
#[derive(Deserialize)]
pub struct RestReply<'a> {
    /// `"0"` on success.
    #[serde(borrow)]
    pub code: Cow<'a, str>,
    /// Error text.
    #[serde(borrow, default)]
    pub msg: Cow<'a, str>,
    /// Rows.
    #[serde(borrow, default)]
    pub data: Vec<TradeItem<'a>>,
}
