//! Upbit `candle.1s` and `candle.1m` (protocols.md §7.2): DEFAULT-format JSON in binary frames,
//! numbers as JSON numbers; `candle_date_time_utc`/`_kst` the bar's start (no zone suffix),
//! `trade_price` the close, `candle_acc_trade_volume` base and `candle_acc_trade_price` quote,
//! `timestamp` the push time. About once a second, only bars that traded since the last push,
//! the same bar possibly several times, and no closed flag (the cadence is
//! [`crate::candles`]'s).

use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::format::{push_i64, push_json_str, push_stripped, Rfc3339};
use crate::market::{CandleSnap, MarketSpec};
use crate::tape::{push_price, QTY_SCALE};

/// The candle types simulated and their bar lengths.
const TYPES: [(&str, i64); 2] = [("candle.1s", 1_000_000), ("candle.1m", 60_000_000)];
/// Korea Standard Time, UTC+9.
const KST_OFFSET_US: i64 = 9 * 3_600_000_000;

/// The bar length of a request type object (`{"type":"candle.1s",…}`), if it is a candle type.
pub(crate) fn interval_of(part: &Value) -> Option<i64> {
    let ty = part.get("type").and_then(Value::as_str)?;
    TYPES.iter().find(|(t, _)| *t == ty).map(|(_, iv)| *iv)
}

/// `2025-01-02T04:28:05` (no fraction, no zone).
fn push_local(s: &mut String, ts: &mut Rfc3339, us: i64) {
    let full = ts.us_string(us);
    s.push_str(full.get(..19).unwrap_or(&full));
}

/// One candle push of bar `c` (its interval's type).
pub(crate) fn push(spec: &MarketSpec, c: &CandleSnap, ts: &mut Rfc3339) -> Message {
    let ty = TYPES
        .iter()
        .find(|(_, iv)| *iv == c.interval_us)
        .map_or("candle.1m", |(t, _)| t);
    let mut s = String::with_capacity(360);
    s.push_str(r#"{"type":""#);
    s.push_str(ty);
    s.push_str(r#"","code":"#);
    push_json_str(&mut s, &spec.native);
    s.push_str(r#","candle_date_time_utc":""#);
    push_local(&mut s, ts, c.open_time_us);
    s.push_str(r#"","candle_date_time_kst":""#);
    push_local(&mut s, ts, c.open_time_us + KST_OFFSET_US);
    for (key, v) in [
        (r#"","opening_price":"#, c.open),
        (r#","high_price":"#, c.high),
        (r#","low_price":"#, c.low),
        (r#","trade_price":"#, c.close),
    ] {
        s.push_str(key);
        push_price(&mut s, &spec.profile, v);
    }
    s.push_str(r#","candle_acc_trade_volume":"#);
    push_stripped(&mut s, c.volume, QTY_SCALE);
    s.push_str(r#","candle_acc_trade_price":"#);
    push_stripped(&mut s, c.quote_volume, spec.profile.tick_exp + QTY_SCALE);
    s.push_str(r#","timestamp":"#);
    push_i64(&mut s, c.event_us.div_euclid(1000));
    s.push_str(r#","stream_type":"REALTIME"}"#);
    Message::binary(s.into_bytes())
}
