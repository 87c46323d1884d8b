//! OKX `candle1m` on `/ws/v5/business` (protocols.md §5.2): a row `[ts, o, h, l, c, vol, volCcy,
//! volCcyQuote, confirm]` of strings — `ts` the bar's open (ms), spot `vol` base and
//! `volCcy`/`volCcyQuote` quote, `confirm` `"0"` while forming and `"1"` once (the bar's final
//! state). Pushed at most once a second (the cadence is [`crate::candles`]'s).

use tickrec_model::Venue;

use crate::format::{push_i64, push_json_str, push_stripped};
use crate::market::{CandleSnap, MarketSpec};
use crate::tape::{push_price, push_qty, QTY_SCALE};

/// The only candle channel simulated.
pub(crate) const CHANNEL: &str = "candle1m";
/// Its bar length.
pub(crate) const INTERVAL_US: i64 = 60_000_000;

/// One `candle1m` push.
pub(crate) fn push(spec: &MarketSpec, c: &CandleSnap) -> String {
    let mut s = String::with_capacity(220);
    s.push_str(r#"{"arg":{"channel":"candle1m","instId":"#);
    push_json_str(&mut s, &spec.native);
    s.push_str(r#"},"data":[[""#);
    push_i64(&mut s, c.open_time_us.div_euclid(1000));
    for v in [c.open, c.high, c.low, c.close] {
        s.push_str(r#"",""#);
        push_price(&mut s, &spec.profile, v);
    }
    s.push_str(r#"",""#);
    push_qty(&mut s, Venue::Okx, c.volume);
    for _ in 0..2 {
        s.push_str(r#"",""#);
        push_stripped(&mut s, c.quote_volume, spec.profile.tick_exp + QTY_SCALE);
    }
    s.push_str(if c.closed {
        r#"","1"]]}"#
    } else {
        r#"","0"]]}"#
    });
    s
}
