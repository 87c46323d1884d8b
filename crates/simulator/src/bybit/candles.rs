//! Bybit `kline.1.<symbol>` (protocols.md §6.2): `{"topic":…,"data":[{start, end, interval, open,
//! close, high, low, volume, turnover, confirm, timestamp}],"ts":…,"type":"snapshot"}` — prices and
//! volumes as strings (`volume` base, `turnover` quote), `confirm:true` once per bar (its final
//! state), `timestamp` the push time. Pushed every second while the bar runs (the cadence is
//! [`crate::candles`]'s).

use tickrec_model::Venue;

use crate::format::{push_i64, push_stripped};
use crate::market::{CandleSnap, MarketSpec};
use crate::tape::{push_price, push_qty, QTY_SCALE};

/// Topic prefix of the only kline interval simulated.
pub(crate) const TOPIC_PREFIX: &str = "kline.1.";
/// Its bar length.
pub(crate) const INTERVAL_US: i64 = 60_000_000;

/// One `kline.1` push.
pub(crate) fn push(spec: &MarketSpec, c: &CandleSnap, now_ms: i64) -> String {
    let mut s = String::with_capacity(300);
    s.push_str(r#"{"topic":"kline.1."#);
    s.push_str(&spec.native);
    s.push_str(r#"","data":[{"start":"#);
    push_i64(&mut s, c.open_time_us.div_euclid(1000));
    s.push_str(r#","end":"#);
    push_i64(&mut s, c.end_us().div_euclid(1000) - 1);
    s.push_str(r#","interval":"1""#);
    for (key, v) in [
        (r#","open":""#, c.open),
        (r#"","close":""#, c.close),
        (r#"","high":""#, c.high),
        (r#"","low":""#, c.low),
    ] {
        s.push_str(key);
        push_price(&mut s, &spec.profile, v);
    }
    s.push_str(r#"","volume":""#);
    push_qty(&mut s, Venue::Bybit, c.volume);
    s.push_str(r#"","turnover":""#);
    push_stripped(&mut s, c.quote_volume, spec.profile.tick_exp + QTY_SCALE);
    s.push_str(if c.closed {
        r#"","confirm":true,"timestamp":"#
    } else {
        r#"","confirm":false,"timestamp":"#
    });
    push_i64(&mut s, c.event_us.div_euclid(1000));
    s.push_str(r#"}],"ts":"#);
    push_i64(&mut s, now_ms);
    s.push_str(r#","type":"snapshot"}"#);
    s
}
