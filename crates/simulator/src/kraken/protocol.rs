//! Kraken WebSocket v2 wire format (protocols.md §2): responses, status, trade / ticker / ohlc
//! pushes. Prices and quantities are JSON numbers: prices with the pair's precision, quantities
//! float-like (trailing zeros stripped).

use tickrec_model::Venue;

use crate::book::{price_text, qty_text, Lvl};
use crate::format::{
    push_fixed, push_fixed_signed, push_json_str, push_stripped, push_u64, Rfc3339,
};
use crate::market::{CandleSnap, MarketSpec, Stats};
use crate::tape::{push_price, push_qty, RawTrade, QTY_SCALE};

/// `"version"` of the status message.
pub(crate) const VERSION: &str = "2.0.10";

/// `{"channel":"status","type":"update","data":[{"version":..,"system":"online","api_version":"v2","connection_id":..}]}`
pub(crate) fn status(connection_id: u64) -> String {
    let mut s = String::with_capacity(160);
    s.push_str(r#"{"channel":"status","type":"update","data":[{"version":""#);
    s.push_str(VERSION);
    s.push_str(r#"","system":"online","api_version":"v2","connection_id":"#);
    push_u64(&mut s, connection_id);
    s.push_str("}]}");
    s
}

/// Fields shared by every response: `method`, `req_id`, ..., `time_in`, `time_out`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reply<'a> {
    pub method: Option<&'a str>,
    pub req_id: Option<u64>,
    pub time_in: &'a str,
    pub time_out: &'a str,
}

impl Reply<'_> {
    fn push_method_req(&self, s: &mut String) {
        if let Some(m) = self.method {
            s.push_str(r#""method":"#);
            push_json_str(s, m);
            s.push(',');
        }
        if let Some(id) = self.req_id {
            s.push_str(r#""req_id":"#);
            push_u64(s, id);
            s.push(',');
        }
    }

    fn push_times(&self, s: &mut String) {
        s.push_str(r#""time_in":""#);
        s.push_str(self.time_in);
        s.push_str(r#"","time_out":""#);
        s.push_str(self.time_out);
        s.push_str(r#""}"#);
    }

    /// `{"method":..,"req_id":..,"result":{..},"success":true,"time_in":..,"time_out":..}`;
    /// `result` is a JSON object text.
    pub(crate) fn ok(&self, result: &str) -> String {
        let mut s = String::with_capacity(160 + result.len());
        s.push('{');
        self.push_method_req(&mut s);
        s.push_str(r#""result":"#);
        s.push_str(result);
        s.push_str(r#","success":true,"#);
        self.push_times(&mut s);
        s
    }

    /// `{"error":..,"method":..,"req_id":..,"success":false,"symbol":..,"time_in":..,"time_out":..}`
    /// (a reject carries `symbol` at the top level and no `result`).
    pub(crate) fn err(&self, error: &str, symbol: Option<&str>) -> String {
        let mut s = String::with_capacity(160 + error.len());
        s.push_str(r#"{"error":"#);
        push_json_str(&mut s, error);
        s.push(',');
        self.push_method_req(&mut s);
        s.push_str(r#""success":false,"#);
        if let Some(sym) = symbol {
            s.push_str(r#""symbol":"#);
            push_json_str(&mut s, sym);
            s.push(',');
        }
        self.push_times(&mut s);
        s
    }

    /// `{"method":"pong","req_id":..,"time_in":..,"time_out":..}`
    pub(crate) fn pong(&self) -> String {
        let mut s = String::with_capacity(120);
        s.push('{');
        Reply {
            method: Some("pong"),
            ..*self
        }
        .push_method_req(&mut s);
        self.push_times(&mut s);
        s
    }
}

/// `{"channel":"trade","type":<kind>,"data":[{symbol,side,price,qty,ord_type,trade_id,timestamp},..]}`
/// A `book` push (`snapshot` or `update`): levels as `{"price":<number>,"qty":<number>}` with
/// the pair's precisions (the checksum is computed over exactly these digits).
pub(crate) fn book(
    kind: &str,
    spec: &MarketSpec,
    bids: &[Lvl],
    asks: &[Lvl],
    checksum: Option<u32>,
    ts_us: i64,
    ts: &mut Rfc3339,
) -> String {
    let levels = |s: &mut String, levels: &[Lvl]| {
        s.push('[');
        for (i, &(p, q)) in levels.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(r#"{"price":"#);
            s.push_str(&price_text(spec, p));
            s.push_str(r#","qty":"#);
            s.push_str(&qty_text(Venue::Kraken, q));
            s.push('}');
        }
        s.push(']');
    };
    let mut s = String::with_capacity(160 + (bids.len() + asks.len()) * 48);
    s.push_str(r#"{"channel":"book","type":""#);
    s.push_str(kind);
    s.push_str(r#"","data":[{"symbol":""#);
    s.push_str(&spec.native);
    s.push_str(r#"","bids":"#);
    levels(&mut s, bids);
    s.push_str(r#","asks":"#);
    levels(&mut s, asks);
    s.push_str(r#","checksum":"#);
    push_u64(&mut s, u64::from(checksum.unwrap_or(0)));
    s.push_str(r#","timestamp":""#);
    ts.push_us(&mut s, ts_us);
    s.push_str(r#""}]}"#);
    s
}

pub(crate) fn trades<'a>(
    kind: &str,
    spec: &MarketSpec,
    trades: impl ExactSizeIterator<Item = &'a RawTrade>,
    ts: &mut Rfc3339,
) -> String {
    let mut s = String::with_capacity(64 + trades.len() * 170);
    s.push_str(r#"{"channel":"trade","type":""#);
    s.push_str(kind);
    s.push_str(r#"","data":["#);
    for (i, t) in trades.enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(r#"{"symbol":""#);
        s.push_str(&spec.native);
        s.push_str(if t.sell {
            r#"","side":"sell","price":"#
        } else {
            r#"","side":"buy","price":"#
        });
        push_price(&mut s, &spec.profile, t.price);
        s.push_str(r#","qty":"#);
        push_qty(&mut s, Venue::Kraken, u128::from(t.qty));
        s.push_str(if t.market_order {
            r#","ord_type":"market","trade_id":"#
        } else {
            r#","ord_type":"limit","trade_id":"#
        });
        push_u64(&mut s, t.trade_id);
        s.push_str(r#","timestamp":""#);
        ts.push_us(&mut s, t.ts_us);
        s.push_str(r#""}"#);
    }
    s.push_str("]}");
    s
}

/// `{"channel":"ticker","type":<kind>,"data":[{symbol,bid,bid_qty,ask,ask_qty,last,volume,vwap,
/// low,high,change,change_pct,trades,timestamp}]}` — the field set of the real capture in §2.1.
pub(crate) fn ticker(
    kind: &str,
    spec: &MarketSpec,
    st: &Stats,
    now_us: i64,
    ts: &mut Rfc3339,
) -> String {
    let p = &spec.profile;
    let bbo = spec.bbo(st.last.as_ref());
    let last = st.last_price();
    let mut s = String::with_capacity(400);
    s.push_str(r#"{"channel":"ticker","type":""#);
    s.push_str(kind);
    s.push_str(r#"","data":[{"symbol":""#);
    s.push_str(&spec.native);
    s.push_str(r#"","bid":"#);
    push_price(&mut s, p, bbo.bid);
    s.push_str(r#","bid_qty":"#);
    push_qty(&mut s, Venue::Kraken, u128::from(bbo.bid_qty));
    s.push_str(r#","ask":"#);
    push_price(&mut s, p, bbo.ask);
    s.push_str(r#","ask_qty":"#);
    push_qty(&mut s, Venue::Kraken, u128::from(bbo.ask_qty));
    s.push_str(r#","last":"#);
    push_price(&mut s, p, last);
    s.push_str(r#","volume":"#);
    push_stripped(&mut s, st.volume, QTY_SCALE);
    s.push_str(r#","vwap":"#);
    push_price(&mut s, p, vwap(st.quote_volume, st.volume, last));
    s.push_str(r#","low":"#);
    push_price(&mut s, p, st.low);
    s.push_str(r#","high":"#);
    push_price(&mut s, p, st.high);
    let change = i128::from(last - st.open);
    s.push_str(r#","change":"#);
    push_fixed_signed(&mut s, change, p.tick_exp, p.tick_exp);
    s.push_str(r#","change_pct":"#);
    // Percent with two decimals, rounded half away from zero.
    let open = i128::from(st.open.max(1));
    let bp = change * 10_000;
    let pct = (bp + bp.signum() * open / 2) / open;
    push_fixed_signed(&mut s, pct, 2, 2);
    s.push_str(r#","trades":"#);
    push_u64(&mut s, st.trades);
    s.push_str(r#","timestamp":""#);
    ts.push_us(&mut s, st.last.map_or(now_us, |t| t.ts_us));
    s.push_str(r#""}]}"#);
    s
}

/// Volume-weighted price in ticks, rounded; `fallback` without volume.
pub(crate) fn vwap(quote_volume: u128, volume: u128, fallback: i64) -> i64 {
    if volume == 0 {
        return fallback;
    }
    i64::try_from((quote_volume + volume / 2) / volume).unwrap_or(fallback)
}

/// `{"channel":"ohlc","type":<kind>,"timestamp":<ns>,"data":[{symbol,open,high,low,close,trades,
/// volume,vwap,interval_begin,interval,timestamp}]}` (data empty without a candle).
pub(crate) fn ohlc(
    kind: &str,
    spec: &MarketSpec,
    candle: Option<&CandleSnap>,
    now_us: i64,
    ts: &mut Rfc3339,
) -> String {
    let p = &spec.profile;
    let mut s = String::with_capacity(360);
    s.push_str(r#"{"channel":"ohlc","type":""#);
    s.push_str(kind);
    s.push_str(r#"","timestamp":""#);
    ts.push_ns(&mut s, candle.map_or(now_us, |c| c.event_us));
    s.push_str(r#"","data":["#);
    if let Some(c) = candle {
        s.push_str(r#"{"symbol":""#);
        s.push_str(&spec.native);
        for (key, v) in [
            (r#"","open":"#, c.open),
            (r#","high":"#, c.high),
            (r#","low":"#, c.low),
            (r#","close":"#, c.close),
        ] {
            s.push_str(key);
            push_price(&mut s, p, v);
        }
        s.push_str(r#","trades":"#);
        push_u64(&mut s, c.trades);
        s.push_str(r#","volume":"#);
        push_stripped(&mut s, c.volume, QTY_SCALE);
        s.push_str(r#","vwap":"#);
        let v = vwap(c.quote_volume, c.volume, c.close);
        push_fixed(&mut s, v.max(0) as u128, p.tick_exp, p.tick_exp);
        s.push_str(r#","interval_begin":""#);
        ts.push_ns(&mut s, c.open_time_us);
        s.push_str(r#"","interval":"#);
        push_u64(&mut s, (c.interval_us / 60_000_000) as u64);
        s.push_str(r#","timestamp":""#);
        ts.push_us(&mut s, c.end_us());
        s.push_str(r#""}"#);
    }
    s.push_str("]}");
    s
}

/// `{"channel":"heartbeat"}`
pub(crate) const HEARTBEAT: &str = r#"{"channel":"heartbeat"}"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tape::{Profile, TapeGen};
    use serde_json::Value;

    fn json(s: &str) -> Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
    }

    #[test]
    fn responses() {
        let r = Reply {
            method: Some("subscribe"),
            req_id: Some(2),
            time_in: "2025-12-20T07:39:28.809188Z",
            time_out: "2025-12-20T07:39:28.809200Z",
        };
        assert_eq!(
            r.err("Already subscribed", Some("BTC/USD")),
            r#"{"error":"Already subscribed","method":"subscribe","req_id":2,"success":false,"symbol":"BTC/USD","time_in":"2025-12-20T07:39:28.809188Z","time_out":"2025-12-20T07:39:28.809200Z"}"#
        );
        assert_eq!(
            r.ok(r#"{"channel":"trade","snapshot":true,"symbol":"BTC/USD"}"#),
            r#"{"method":"subscribe","req_id":2,"result":{"channel":"trade","snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"2025-12-20T07:39:28.809188Z","time_out":"2025-12-20T07:39:28.809200Z"}"#
        );
        let p = Reply {
            req_id: Some(101),
            ..r
        };
        assert_eq!(
            p.pong(),
            r#"{"method":"pong","req_id":101,"time_in":"2025-12-20T07:39:28.809188Z","time_out":"2025-12-20T07:39:28.809200Z"}"#
        );
        let v = json(&status(9_471_984_923_908_980_762));
        assert_eq!(
            v["data"][0]["connection_id"].as_u64(),
            Some(9_471_984_923_908_980_762)
        );
    }

    #[test]
    fn pushes_use_numbers() {
        let spec = MarketSpec::new(0, 3, Venue::Kraken, "BTC/USD");
        let mut g = TapeGen::new(
            Profile::new(3, Venue::Kraken, "BTC/USD"),
            1_695_628_116_925_533,
            10.0,
        );
        let ts: Vec<_> = (0..3).map(|_| g.next_raw()).collect();
        let mut f = Rfc3339::default();
        let s = trades("update", &spec, ts.iter(), &mut f);
        let v = json(&s);
        assert_eq!(v["data"].as_array().unwrap().len(), 3);
        let d = &v["data"][0];
        assert!(d["price"].is_f64() && d["qty"].is_number());
        assert_eq!(d["timestamp"], "2023-09-25T07:48:36.925533Z");
        assert_eq!(d["trade_id"], ts[0].trade_id);
        let price_text = s
            .split(r#""price":"#)
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        assert_eq!(
            price_text.split_once('.').unwrap().1.len(),
            1,
            "{price_text}"
        );

        let mut st = Stats::new(spec.profile.initial_ticks);
        let snap = json(&ticker(
            "snapshot",
            &spec,
            &st,
            1_695_628_116_000_000,
            &mut f,
        ));
        assert_eq!(snap["data"][0]["volume"].as_f64(), Some(0.0));
        for t in &ts {
            st.on_trade(t);
        }
        let v = json(&ticker("update", &spec, &st, 0, &mut f));
        let d = &v["data"][0];
        assert!(d["bid"].as_f64() < d["ask"].as_f64());
        assert_eq!(d["trades"], 3);

        let v = json(&ohlc(
            "snapshot",
            &spec,
            None,
            1_696_433_100_000_000,
            &mut f,
        ));
        assert_eq!(v["data"].as_array().unwrap().len(), 0);
        assert_eq!(v["timestamp"], "2023-10-04T15:25:00.000000000Z");
    }
}
