//! Binance spot wire format: stream names, control requests and responses, event payloads.
//! Shapes follow protocols.md §3 verbatim (field order included).

use serde_json::Value;
use tickrec_model::Venue;

use crate::book::{push_pairs, BookDelta};
use crate::format::{push_fixed, push_i64, push_json_str, push_u64};
use crate::market::{Bbo, CandleSnap, MarketSpec};
use crate::tape::{push_price, push_qty, RawTrade, BINANCE_DECIMALS, QTY_SCALE};

/// Binance refuses more streams than this on one connection.
pub(crate) const MAX_STREAMS: usize = 1024;

/// The stream types the simulator produces data for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamKind {
    Trade,
    AggTrade,
    BookTicker,
    Kline1m,
    /// The diff book stream, `depth` or `depth@100ms` (one event per book change here).
    Depth,
    /// Well-formed but not simulated (`depth20`, `kline_5m`, `ticker`...): acked, silent.
    Other,
}

/// `btcusdt@trade` → (`btcusdt`, Trade). `None` when the name is malformed (Binance answers
/// "Invalid request: invalid stream").
pub(crate) fn parse_stream(name: &str) -> Option<(&str, StreamKind)> {
    let rest_ok = |r: &str| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_@:+-!".contains(&b))
    };
    if name.starts_with('!') {
        // All-market streams (`!bookTicker`, `!miniTicker@arr`).
        return rest_ok(name).then_some(("", StreamKind::Other));
    }
    let (sym, rest) = name.split_once('@')?;
    if sym.is_empty() || !sym.bytes().all(|b| b.is_ascii_alphanumeric()) || !rest_ok(rest) {
        return None;
    }
    let kind = match rest {
        "trade" => StreamKind::Trade,
        "aggTrade" => StreamKind::AggTrade,
        "bookTicker" => StreamKind::BookTicker,
        "kline_1m" => StreamKind::Kline1m,
        "depth" | "depth@100ms" => StreamKind::Depth,
        _ => StreamKind::Other,
    };
    Some((sym, kind))
}

/// A control request.
#[derive(Debug, PartialEq)]
pub(crate) enum Method {
    Subscribe(Vec<String>),
    Unsubscribe(Vec<String>),
    List,
    SetCombined(bool),
    GetCombined,
}

/// A parsed request; `id` is its JSON text, echoed verbatim.
#[derive(Debug, PartialEq)]
pub(crate) struct Request {
    pub id: String,
    pub method: Method,
}

/// `{"error":{"code":..,"msg":".."},"id":..}`
pub(crate) fn error(code: u8, msg: &str, id: &str) -> String {
    let mut s = String::with_capacity(64 + msg.len());
    s.push_str(r#"{"error":{"code":"#);
    push_u64(&mut s, u64::from(code));
    s.push_str(r#","msg":"#);
    push_json_str(&mut s, msg);
    s.push_str(r#"},"id":"#);
    s.push_str(id);
    s.push('}');
    s
}

/// `{"id":null,"error":{"code":3,"msg":"Invalid JSON: .."}}` — key order as seen on the wire.
fn invalid_json(detail: &str) -> String {
    let mut s = String::from(r#"{"id":null,"error":{"code":3,"msg":"#);
    push_json_str(&mut s, &format!("Invalid JSON: {detail}"));
    s.push_str("}}");
    s
}

/// `{"result":<result>,"id":..}`
pub(crate) fn result(result: &str, id: &str) -> String {
    format!(r#"{{"result":{result},"id":{id}}}"#)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "sequence",
        Value::Object(_) => "map",
    }
}

/// Parses a client text frame; `Err` is the complete error response to send.
pub(crate) fn parse_request(text: &str) -> Result<Request, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| invalid_json(&e.to_string()))?;
    let Value::Object(o) = v else {
        return Err(error(
            2,
            &format!(
                "Invalid request: invalid type: {}, expected struct Request",
                type_name(&v)
            ),
            "null",
        ));
    };
    let id = match o.get("id") {
        None | Some(Value::Null) => "null".to_string(),
        Some(Value::Number(n)) if n.is_u64() => n.to_string(),
        Some(Value::String(s)) if s.len() <= 36 && s.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            let mut q = String::new();
            push_json_str(&mut q, s);
            q
        }
        Some(_) => {
            return Err(error(
                2,
                "Invalid request: request ID must be an unsigned integer",
                "null",
            ))
        }
    };
    let method = match o.get("method") {
        None => return Err(error(2, "Invalid request: missing field `method`", &id)),
        Some(Value::String(m)) => m.as_str(),
        Some(other) => {
            return Err(error(
                2,
                &format!(
                    "Invalid request: invalid type: {}, expected a string",
                    type_name(other)
                ),
                &id,
            ))
        }
    };
    let params = o.get("params");
    let method = match method {
        "SUBSCRIBE" => Method::Subscribe(stream_params(params, &id)?),
        "UNSUBSCRIBE" => Method::Unsubscribe(stream_params(params, &id)?),
        "LIST_SUBSCRIPTIONS" => Method::List,
        "SET_PROPERTY" => match params.and_then(Value::as_array).map(Vec::as_slice) {
            Some([Value::String(name), value]) => {
                if name != "combined" {
                    return Err(error(0, "Unknown property", &id));
                }
                match value {
                    Value::Bool(b) => Method::SetCombined(*b),
                    _ => return Err(error(1, "Invalid value type: expected Boolean", &id)),
                }
            }
            Some([_, _]) => {
                return Err(error(
                    2,
                    "Invalid request: property name must be a string",
                    &id,
                ))
            }
            _ => return Err(error(2, "Invalid request: invalid parameters", &id)),
        },
        "GET_PROPERTY" => match params.and_then(Value::as_array).map(Vec::as_slice) {
            Some([Value::String(name)]) if name == "combined" => Method::GetCombined,
            Some([Value::String(_)]) => return Err(error(0, "Unknown property", &id)),
            Some([_]) => {
                return Err(error(
                    2,
                    "Invalid request: property name must be a string",
                    &id,
                ))
            }
            _ => return Err(error(2, "Invalid request: invalid parameters", &id)),
        },
        m => {
            return Err(error(
                2,
                &format!(
                    "Invalid request: unknown variant `{m}`, expected one of `SUBSCRIBE`, \
                     `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"
                ),
                &id,
            ))
        }
    };
    Ok(Request { id, method })
}

fn stream_params(params: Option<&Value>, id: &str) -> Result<Vec<String>, String> {
    let list = match params {
        None => return Err(error(2, "Invalid request: missing field `params`", id)),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(error(
                2,
                &format!(
                    "Invalid request: invalid type: {}, expected a sequence",
                    type_name(other)
                ),
                id,
            ))
        }
    };
    if list.len() > MAX_STREAMS {
        return Err(error(2, "Invalid request: too many parameters", id));
    }
    list.iter()
        .map(|v| match v {
            Value::String(s) if parse_stream(s).is_some() => Ok(s.clone()),
            _ => Err(error(2, "Invalid request: invalid stream", id)),
        })
        .collect()
}

/// Event time in ms of a trade (already whole milliseconds on Binance).
fn ms(us: i64) -> i64 {
    us.div_euclid(1000)
}

/// `{"e":"trade","E":..,"s":"BTCUSDT","t":..,"p":"..","q":"..","T":..,"m":..,"M":true}`
pub(crate) fn trade(s: &mut String, spec: &MarketSpec, t: &RawTrade) {
    s.push_str(r#"{"e":"trade","E":"#);
    push_i64(s, ms(t.ts_us));
    s.push_str(r#","s":""#);
    s.push_str(&spec.native);
    s.push_str(r#"","t":"#);
    push_u64(s, t.trade_id);
    s.push_str(r#","p":""#);
    push_price(s, &spec.profile, t.price);
    s.push_str(r#"","q":""#);
    push_qty(s, Venue::Binance, u128::from(t.qty));
    s.push_str(r#"","T":"#);
    push_i64(s, ms(t.ts_us));
    // m = buyer is maker = the taker sold.
    s.push_str(if t.sell {
        r#","m":true,"M":true}"#
    } else {
        r#","m":false,"M":true}"#
    });
}

/// `{"e":"aggTrade","E":..,"s":..,"a":..,"p":..,"q":..,"f":..,"l":..,"T":..,"m":..,"M":true}`,
/// one aggregate per trade.
pub(crate) fn agg_trade(s: &mut String, spec: &MarketSpec, t: &RawTrade) {
    s.push_str(r#"{"e":"aggTrade","E":"#);
    push_i64(s, ms(t.ts_us));
    s.push_str(r#","s":""#);
    s.push_str(&spec.native);
    s.push_str(r#"","a":"#);
    push_u64(s, spec.agg_base + t.index);
    s.push_str(r#","p":""#);
    push_price(s, &spec.profile, t.price);
    s.push_str(r#"","q":""#);
    push_qty(s, Venue::Binance, u128::from(t.qty));
    s.push_str(r#"","f":"#);
    push_u64(s, t.trade_id);
    s.push_str(r#","l":"#);
    push_u64(s, t.trade_id);
    s.push_str(r#","T":"#);
    push_i64(s, ms(t.ts_us));
    s.push_str(if t.sell {
        r#","m":true,"M":true}"#
    } else {
        r#","m":false,"M":true}"#
    });
}

/// `{"u":..,"s":"BNBUSDT","b":"..","B":"..","a":"..","A":".."}` (spot: no `e`/`E`/`T`).
pub(crate) fn book_ticker(s: &mut String, spec: &MarketSpec, b: &Bbo) {
    s.push_str(r#"{"u":"#);
    push_u64(s, b.update_id);
    s.push_str(r#","s":""#);
    s.push_str(&spec.native);
    s.push_str(r#"","b":""#);
    push_price(s, &spec.profile, b.bid);
    s.push_str(r#"","B":""#);
    push_qty(s, Venue::Binance, u128::from(b.bid_qty));
    s.push_str(r#"","a":""#);
    push_price(s, &spec.profile, b.ask);
    s.push_str(r#"","A":""#);
    push_qty(s, Venue::Binance, u128::from(b.ask_qty));
    s.push_str(r#""}"#);
}

/// `{"e":"depthUpdate","E":..,"s":"BTCUSDT","U":..,"u":..,"b":[["p","q"],…],"a":[…]}`
pub(crate) fn depth_update(s: &mut String, spec: &MarketSpec, d: &BookDelta) {
    s.push_str(r#"{"e":"depthUpdate","E":"#);
    push_i64(s, ms(d.ts_us));
    s.push_str(r#","s":""#);
    s.push_str(&spec.native);
    s.push_str(r#"","U":"#);
    push_u64(s, d.first_id);
    s.push_str(r#","u":"#);
    push_u64(s, d.last_id);
    s.push_str(r#","b":"#);
    push_pairs(s, spec, &d.bids, "");
    s.push_str(r#","a":"#);
    push_pairs(s, spec, &d.asks, "");
    s.push('}');
}

/// `{"e":"kline","E":..,"s":..,"k":{"t":..,"T":..,"s":..,"i":"1m","f":..,"L":..,"o":..,...}}`
pub(crate) fn kline(s: &mut String, spec: &MarketSpec, c: &CandleSnap) {
    let quote_scale = spec.profile.tick_exp + QTY_SCALE;
    s.push_str(r#"{"e":"kline","E":"#);
    push_i64(s, ms(c.event_us));
    s.push_str(r#","s":""#);
    s.push_str(&spec.native);
    s.push_str(r#"","k":{"t":"#);
    push_i64(s, ms(c.open_time_us));
    s.push_str(r#","T":"#);
    push_i64(s, ms(c.end_us()) - 1);
    s.push_str(r#","s":""#);
    s.push_str(&spec.native);
    s.push_str(r#"","i":"1m","f":"#);
    push_u64(s, c.first_id);
    s.push_str(r#","L":"#);
    push_u64(s, c.last_id);
    for (key, v) in [
        (r#","o":""#, c.open),
        (r#"","c":""#, c.close),
        (r#"","h":""#, c.high),
        (r#"","l":""#, c.low),
    ] {
        s.push_str(key);
        push_price(s, &spec.profile, v);
    }
    s.push_str(r#"","v":""#);
    push_fixed(s, c.volume, QTY_SCALE, BINANCE_DECIMALS);
    s.push_str(r#"","n":"#);
    push_u64(s, c.trades);
    s.push_str(if c.closed {
        r#","x":true,"q":""#
    } else {
        r#","x":false,"q":""#
    });
    push_fixed(s, c.quote_volume, quote_scale, BINANCE_DECIMALS);
    s.push_str(r#"","V":""#);
    push_fixed(s, c.buy_volume, QTY_SCALE, BINANCE_DECIMALS);
    s.push_str(r#"","Q":""#);
    push_fixed(s, c.buy_quote_volume, quote_scale, BINANCE_DECIMALS);
    s.push_str(r#"","B":"0"}}"#);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tape::{Profile, TapeGen};

    fn json(s: &str) -> Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
    }

    #[test]
    fn stream_names() {
        assert_eq!(
            parse_stream("btcusdt@trade"),
            Some(("btcusdt", StreamKind::Trade))
        );
        assert_eq!(
            parse_stream("btcusdt@aggTrade"),
            Some(("btcusdt", StreamKind::AggTrade))
        );
        assert_eq!(
            parse_stream("btcusdt@bookTicker"),
            Some(("btcusdt", StreamKind::BookTicker))
        );
        assert_eq!(
            parse_stream("btcusdt@kline_1m"),
            Some(("btcusdt", StreamKind::Kline1m))
        );
        assert_eq!(
            parse_stream("btcusdt@depth@100ms"),
            Some(("btcusdt", StreamKind::Depth))
        );
        assert_eq!(
            parse_stream("btcusdt@depth"),
            Some(("btcusdt", StreamKind::Depth))
        );
        assert_eq!(
            parse_stream("btcusdt@depth20@100ms"),
            Some(("btcusdt", StreamKind::Other))
        );
        assert_eq!(
            parse_stream("!miniTicker@arr"),
            Some(("", StreamKind::Other))
        );
        assert_eq!(parse_stream("btcusdt"), None);
        assert_eq!(parse_stream("@trade"), None);
        assert_eq!(parse_stream("btc usdt@trade"), None);
        assert_eq!(parse_stream("btcusdt@tr\"ade"), None);
    }

    #[test]
    fn requests() {
        let r = parse_request(
            r#"{"method":"SUBSCRIBE","params":["btcusdt@aggTrade","btcusdt@depth"],"id":1}"#,
        );
        assert_eq!(
            r,
            Ok(Request {
                id: "1".into(),
                method: Method::Subscribe(vec!["btcusdt@aggTrade".into(), "btcusdt@depth".into()])
            })
        );
        assert_eq!(
            parse_request(r#"{"method":"LIST_SUBSCRIPTIONS","id":"abc"}"#).map(|r| r.id),
            Ok("\"abc\"".into())
        );
        assert_eq!(
            parse_request(r#"{"method":"SET_PROPERTY","params":["combined",true],"id":5}"#)
                .map(|r| r.method),
            Ok(Method::SetCombined(true))
        );
        let e = |t: &str| json(&parse_request(t).unwrap_err());
        let v = e("{nope");
        assert_eq!(v["id"], Value::Null);
        assert_eq!(v["error"]["code"], 3);
        assert!(v["error"]["msg"]
            .as_str()
            .unwrap()
            .starts_with("Invalid JSON: "));
        let v = e(r#"{"params":[],"id":7}"#);
        assert_eq!(v["error"]["code"], 2);
        assert_eq!(v["error"]["msg"], "Invalid request: missing field `method`");
        assert_eq!(v["id"], 7);
        let v = e(r#"{"method":"FOO","id":8}"#);
        assert!(v["error"]["msg"]
            .as_str()
            .unwrap()
            .contains("unknown variant `FOO`"));
        let v = e(r#"{"method":"SUBSCRIBE","params":["BTCUSDT"],"id":2}"#);
        assert_eq!(
            parse_request(r#"{"method":"SUBSCRIBE","params":["BTCUSDT"],"id":2}"#).unwrap_err(),
            r#"{"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":2}"#
        );
        assert_eq!(v["id"], 2);
        let v = e(r#"{"method":"LIST_SUBSCRIPTIONS","id":-1}"#);
        assert_eq!(v["id"], Value::Null);
        let v = e(r#"{"method":"SET_PROPERTY","params":["nope",true],"id":3}"#);
        assert_eq!(v["error"]["code"], 0);
        let v = e(r#"{"method":"SET_PROPERTY","params":["combined",1],"id":3}"#);
        assert_eq!(v["error"]["code"], 1);
        let many: Vec<String> = (0..1025).map(|i| format!("s{i}@trade")).collect();
        let v = e(&serde_json::json!({"method":"SUBSCRIBE","params":many,"id":4}).to_string());
        assert_eq!(v["error"]["msg"], "Invalid request: too many parameters");
    }

    #[test]
    fn payloads_are_verbatim_shapes() {
        let spec = MarketSpec::new(0, 42, Venue::Binance, "BTC/USDT");
        let mut g = TapeGen::new(
            Profile::new(42, Venue::Binance, "BTC/USDT"),
            1_757_522_615_939_000,
            10.0,
        );
        let t = g.next_raw();
        let mut s = String::new();
        trade(&mut s, &spec, &t);
        let v = json(&s);
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(s.matches("\":").count(), 9, "{s}");
        assert!(keys
            .iter()
            .all(|k| ["e", "E", "s", "t", "p", "q", "T", "m", "M"].contains(&k.as_str())));
        assert_eq!(v["e"], "trade");
        assert_eq!(v["E"], 1_757_522_615_939u64);
        assert_eq!(v["s"], "BTCUSDT");
        assert_eq!(v["t"], t.trade_id);
        assert_eq!(v["m"], t.sell);
        let p = v["p"].as_str().unwrap();
        assert_eq!(p.split_once('.').unwrap().1.len(), 8);
        assert!(
            s.starts_with(r#"{"e":"trade","E":1757522615939,"s":"BTCUSDT","t":"#),
            "{s}"
        );

        s.clear();
        agg_trade(&mut s, &spec, &t);
        let v = json(&s);
        assert_eq!(v["a"], spec.agg_base);
        assert_eq!(v["f"], t.trade_id);
        assert_eq!(v["l"], t.trade_id);

        s.clear();
        book_ticker(&mut s, &spec, &spec.bbo(Some(&t)));
        let v = json(&s);
        assert_eq!(v.as_object().unwrap().len(), 6);
        assert!(s.starts_with(r#"{"u":"#));

        let mut c = CandleSnap {
            open_time_us: 1_757_522_580_000_000,
            interval_us: 60_000_000,
            first_id: 1,
            last_id: 2,
            open: 6_000_000,
            high: 6_000_100,
            low: 5_999_900,
            close: 6_000_050,
            volume: 150_000_000,
            quote_volume: 6_000_000 * 150_000_000,
            trades: 2,
            buy_volume: 50_000_000,
            buy_quote_volume: 6_000_000 * 50_000_000,
            closed: true,
            event_us: 1_757_522_640_001_000,
        };
        s.clear();
        kline(&mut s, &spec, &c);
        assert_eq!(
            s,
            r#"{"e":"kline","E":1757522640001,"s":"BTCUSDT","k":{"t":1757522580000,"T":1757522639999,"s":"BTCUSDT","i":"1m","f":1,"L":2,"o":"60000.00000000","c":"60000.50000000","h":"60001.00000000","l":"59999.00000000","v":"1.50000000","n":2,"x":true,"q":"90000.00000000","V":"0.50000000","Q":"30000.00000000","B":"0"}}"#
        );
        c.closed = false;
        s.clear();
        kline(&mut s, &spec, &c);
        assert!(s.contains(r#""x":false"#));
    }
}
