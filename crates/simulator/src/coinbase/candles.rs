//! Coinbase Advanced Trade `candles` (protocols.md §4B.2): 5-minute bars pushed every second,
//! `{"type":"snapshot"|"update","candles":[{start (unix s), high, low, open, close, volume,
//! product_id}]}` events, strings for every number, no closed flag — a bar's last push is its
//! final state, then the next bar's (the cadence is [`crate::candles`]'s).

use tickrec_model::Venue;

use crate::format::{push_i64, push_json_str};
use crate::market::{CandleSnap, MarketSpec};
use crate::tape::{push_price, push_qty};

/// The only candle length Coinbase streams.
pub(crate) const INTERVAL_US: i64 = 300_000_000;

/// The `events` array of a `candles` message (`kind` `snapshot` or `update`).
pub(crate) fn events<'a>(
    kind: &str,
    spec: &MarketSpec,
    candles: impl Iterator<Item = &'a CandleSnap>,
) -> String {
    let mut s = String::with_capacity(240);
    s.push_str(r#"[{"type":""#);
    s.push_str(kind);
    s.push_str(r#"","candles":["#);
    for (i, c) in candles.enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(r#"{"start":""#);
        push_i64(&mut s, c.open_time_us.div_euclid(1_000_000));
        for (key, v) in [
            (r#"","high":""#, c.high),
            (r#"","low":""#, c.low),
            (r#"","open":""#, c.open),
            (r#"","close":""#, c.close),
        ] {
            s.push_str(key);
            push_price(&mut s, &spec.profile, v);
        }
        s.push_str(r#"","volume":""#);
        push_qty(&mut s, Venue::Coinbase, c.volume);
        s.push_str(r#"","product_id":"#);
        push_json_str(&mut s, &spec.native);
        s.push('}');
    }
    s.push_str("]}]");
    s
}
