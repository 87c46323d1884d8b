//! Kraken spot REST companion (`/kraken/0/public/...`, protocols.md §2.5), served from the
//! markets' published history: `Trades`, `OHLC` (interval 1), `AssetPairs`, `Time`.
//!
//! - Pairs are named the REST way: result key `XXBTZUSD`, `altname` `XBTUSD`, `wsname`
//!   `XBT/USD`; `pair=` accepts any of those, the v2 symbol `BTC/USD` and `BTCUSD`
//!   (case-insensitive).
//! - `Trades`: rows `[price, volume, time, "b"/"s", "m"/"l", "", trade_id]` ascending, price with
//!   5 decimals and volume with 8 (strings), time as float seconds with 6 decimals. `since` is
//!   exclusive: a nanosecond cursor (the previous `last`), or Unix seconds (≤ 10 digits, or with a
//!   fraction). A trade's cursor is its time in ns plus its rank among trades of the same
//!   microsecond, so paging with `last` never skips nor repeats a trade. Without `since`: the
//!   most recent `count` trades. `count` 1..=1000 (default 1000, larger values capped).
//! - `OHLC`: rows `[time, open, high, low, close, vwap, volume, count]`, at most the 720 most
//!   recent minutes up to the current one (quiet minutes at the previous close with vwap 0 and
//!   volume 0); `since` (seconds, exclusive) filters all but the last row, which is the running
//!   candle and always present; `last` is the open time of the last committed row.
//! - API errors are HTTP 200 with a non-empty `error` array (`EQuery:Unknown asset pair`,
//!   `EGeneral:Invalid arguments:..`); a refused request ([`crate::Fault::RateLimitRest`]) is
//!   HTTP 429 with `Retry-After` and `EAPI:Rate limit exceeded`.

use std::sync::Arc;

use tickrec_model::{now_us, Venue};

use crate::config::split_symbol;
use crate::format::{push_fixed, push_i64, push_json_str, push_padded, push_stripped, push_u64};
use crate::history::MINUTE_US;
use crate::http::{HttpRequest, HttpResponse};
use crate::market::Market;
use crate::server::SimCore;
use crate::tape::{push_price, QTY_SCALE};

/// Most trades per call.
pub(crate) const MAX_COUNT: u64 = 1000;
/// Most OHLC rows per call.
pub(crate) const MAX_OHLC: i64 = 720;
/// Decimals of REST trade prices (`"30243.40000"`).
const PRICE_DECIMALS: u8 = 5;

/// REST asset code: `BTC` → `XBT`, `DOGE` → `XDG`.
fn rest_code(c: &str) -> &str {
    match c {
        "BTC" => "XBT",
        "DOGE" => "XDG",
        c => c,
    }
}

/// Asset id with Kraken's legacy `X`/`Z` prefix where it has one (`XXBT`, `ZUSD`).
fn asset_id(code: &str) -> String {
    match code {
        "XBT" | "ETH" | "LTC" | "XRP" | "XLM" | "ETC" | "XMR" | "ZEC" | "MLN" | "REP" | "XDG" => {
            format!("X{code}")
        }
        "USD" | "EUR" | "GBP" | "JPY" | "CAD" => format!("Z{code}"),
        c => c.to_string(),
    }
}

/// REST names of a pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PairNames {
    /// Result key (`XXBTZUSD`, `XBTUSDT`).
    pub key: String,
    pub altname: String,
    /// v1 naming (`XBT/USD`).
    pub wsname: String,
    pub base: String,
    pub quote: String,
}

pub(crate) fn pair_names(symbol: &str) -> PairNames {
    let (b, q) = split_symbol(symbol).unwrap_or((symbol, ""));
    let (rb, rq) = (rest_code(b), rest_code(q));
    let (base, quote) = (asset_id(rb), asset_id(rq));
    let altname = format!("{rb}{rq}");
    let key = if base.len() == 4 && quote.len() == 4 && base != rb && quote != rq {
        format!("{base}{quote}")
    } else {
        altname.clone()
    };
    PairNames {
        key,
        wsname: format!("{rb}/{rq}"),
        altname,
        base,
        quote,
    }
}

fn matches(m: &Market, names: &PairNames, asked: &str) -> bool {
    let asked = asked.to_ascii_uppercase();
    asked == names.key
        || asked == names.altname
        || asked == names.wsname
        || asked == m.spec.native
        || asked == m.spec.native.replace('/', "")
}

fn find<'a>(core: &'a SimCore, asked: &str) -> Option<(&'a Arc<Market>, PairNames)> {
    core.markets
        .iter()
        .filter(|m| m.spec.venue == Venue::Kraken)
        .find_map(|m| {
            let n = pair_names(&m.spec.symbol);
            matches(m, &n, asked).then_some((m, n))
        })
}

fn errors(status: u16, errors: &[&str]) -> HttpResponse {
    let mut s = String::from(r#"{"error":["#);
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_json_str(&mut s, e);
    }
    s.push_str("]}");
    HttpResponse::json(status, s)
}

fn invalid(what: &str) -> HttpResponse {
    errors(200, &[&format!("EGeneral:Invalid arguments:{what}")])
}

fn unknown_pair() -> HttpResponse {
    errors(200, &["EQuery:Unknown asset pair"])
}

/// Serves one request; `path` follows `/kraken`.
pub(crate) fn handle(core: &SimCore, path: &str, req: &HttpRequest) -> HttpResponse {
    let ep = match path {
        "/0/public/Trades" | "/0/public/OHLC" | "/0/public/AssetPairs" | "/0/public/Time" => path,
        _ => return errors(404, &["EGeneral:Unknown method"]),
    };
    if req.method != "GET" && req.method != "POST" {
        return errors(405, &["EGeneral:Invalid arguments:method"]);
    }
    if let Some(refusal) = core.faults(Venue::Kraken).rest_refusal() {
        let (crate::faults::Refusal::TooMany { retry_after_s }
        | crate::faults::Refusal::Banned { retry_after_s }) = refusal;
        return errors(429, &["EAPI:Rate limit exceeded"]).header("Retry-After", retry_after_s);
    }
    let r = match ep {
        "/0/public/Trades" => trades(core, req),
        "/0/public/OHLC" => ohlc(core, req),
        "/0/public/AssetPairs" => asset_pairs(core, req),
        _ => Ok(HttpResponse::json(
            200,
            format!(
                r#"{{"error":[],"result":{{"unixtime":{}}}}}"#,
                now_us() / 1_000_000
            ),
        )),
    };
    r.unwrap_or_else(|e| e)
}

fn pair<'a>(
    core: &'a SimCore,
    req: &HttpRequest,
) -> Result<(&'a Arc<Market>, PairNames), HttpResponse> {
    match req.param("pair") {
        None | Some("") => Err(invalid("pair")),
        Some(p) => find(core, p).ok_or_else(unknown_pair),
    }
}

/// `since` of `Trades` → ns cursor: digits with ≤ 10 digits are seconds, longer ones ns; a
/// fraction means seconds.
pub(crate) fn parse_since(s: &str) -> Option<u64> {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    match s.split_once('.') {
        Some((int, frac)) => {
            if !(digits(int) && (frac.is_empty() || digits(frac))) {
                return None;
            }
            let secs: u64 = int.parse().ok()?;
            let mut ns = 0u64;
            for i in 0..9 {
                ns = ns * 10 + frac.as_bytes().get(i).map_or(0, |b| u64::from(b - b'0'));
            }
            secs.checked_mul(1_000_000_000)?.checked_add(ns)
        }
        None if digits(s) => {
            let v: u64 = s.parse().ok()?;
            if s.len() <= 10 {
                v.checked_mul(1_000_000_000)
            } else {
                Some(v)
            }
        }
        None => None,
    }
}

fn trades(core: &SimCore, req: &HttpRequest) -> Result<HttpResponse, HttpResponse> {
    let (m, names) = pair(core, req)?;
    let count = match req.param("count") {
        None | Some("") => MAX_COUNT,
        Some(c) => match c.parse::<u64>() {
            Ok(0) | Err(_) => return Err(invalid("count")),
            Ok(n) => n.min(MAX_COUNT),
        },
    };
    let since = match req.param("since") {
        None | Some("") => None,
        Some(s) => Some(parse_since(s).ok_or_else(|| invalid("since"))?),
    };
    let view = m.view();
    let (from, to) = match since {
        Some(c) => {
            let from = view.first_after_cursor(c);
            (from, from.saturating_add(count))
        }
        None => (view.published.saturating_sub(count), view.published),
    };
    let rows = m.trades(&view, from, to);
    let last = rows
        .last()
        .map(|t| view.kraken_cursor(t.index))
        .or(since)
        .unwrap_or(0);
    let spec = &m.spec;
    let decimals = PRICE_DECIMALS.max(spec.profile.tick_exp);
    let mut s = String::with_capacity(64 + rows.len() * 90);
    s.push_str(r#"{"error":[],"result":{"#);
    push_json_str(&mut s, &names.key);
    s.push_str(":[");
    for (i, t) in rows.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("[\"");
        push_fixed(
            &mut s,
            t.price.max(0) as u128,
            spec.profile.tick_exp,
            decimals,
        );
        s.push_str("\",\"");
        push_fixed(&mut s, u128::from(t.qty), QTY_SCALE, QTY_SCALE);
        s.push_str("\",");
        push_i64(&mut s, t.ts_us.div_euclid(1_000_000));
        s.push('.');
        push_padded(&mut s, t.ts_us.rem_euclid(1_000_000) as u64, 6);
        s.push_str(if t.sell { ",\"s\"," } else { ",\"b\"," });
        s.push_str(if t.market_order {
            "\"m\",\"\","
        } else {
            "\"l\",\"\","
        });
        push_u64(&mut s, t.trade_id);
        s.push(']');
    }
    s.push_str(r#"],"last":""#);
    push_u64(&mut s, last);
    s.push_str("\"}}");
    Ok(HttpResponse::json(200, s))
}

fn ohlc(core: &SimCore, req: &HttpRequest) -> Result<HttpResponse, HttpResponse> {
    let (m, names) = pair(core, req)?;
    match req.param("interval") {
        None | Some("") | Some("1") => {}
        Some(i) => return Err(invalid(&format!("interval {i} is not simulated (only 1)"))),
    }
    let since_s = match req.param("since") {
        None | Some("") => None,
        Some(s) => {
            let ns = parse_since(s).ok_or_else(|| invalid("since"))?;
            Some(i64::try_from(ns / 1_000_000_000).unwrap_or(i64::MAX))
        }
    };
    let bars = {
        let sh = m.lock();
        match sh.history.bar_span() {
            None => Vec::new(),
            Some((first, last)) => {
                let now = now_us();
                let last = last.max(now - now.rem_euclid(MINUTE_US));
                let from = first.max(last - (MAX_OHLC - 1) * MINUTE_US);
                sh.history.bars(from, last)
            }
        }
    };
    let p = &m.spec.profile;
    let secs = |c: &crate::market::CandleSnap| c.open_time_us.div_euclid(1_000_000);
    let last_committed = match bars.len() {
        0 => since_s.unwrap_or(0),
        1 => secs(&bars[0]),
        n => secs(&bars[n - 2]),
    };
    let mut s = String::with_capacity(64 + bars.len() * 110);
    s.push_str(r#"{"error":[],"result":{"#);
    push_json_str(&mut s, &names.key);
    s.push_str(":[");
    let mut first = true;
    for (i, c) in bars.iter().enumerate() {
        let running = i + 1 == bars.len();
        if !running && since_s.is_some_and(|since| secs(c) <= since) {
            continue;
        }
        if !first {
            s.push(',');
        }
        first = false;
        s.push('[');
        push_i64(&mut s, secs(c));
        for v in [c.open, c.high, c.low, c.close] {
            s.push_str(",\"");
            push_price(&mut s, p, v);
            s.push('"');
        }
        s.push_str(",\"");
        let vwap = if c.trades == 0 {
            0
        } else {
            super::protocol::vwap(c.quote_volume, c.volume, c.close)
        };
        push_fixed(&mut s, vwap.max(0) as u128, p.tick_exp, p.tick_exp);
        s.push_str("\",\"");
        push_fixed(&mut s, c.volume, QTY_SCALE, QTY_SCALE);
        s.push_str("\",");
        push_u64(&mut s, c.trades);
        s.push(']');
    }
    s.push_str(r#"],"last":"#);
    push_i64(&mut s, last_committed);
    s.push_str("}}");
    Ok(HttpResponse::json(200, s))
}

fn asset_pairs(core: &SimCore, req: &HttpRequest) -> Result<HttpResponse, HttpResponse> {
    let all: Vec<(&Arc<Market>, PairNames)> = core
        .markets
        .iter()
        .filter(|m| m.spec.venue == Venue::Kraken)
        .map(|m| (m, pair_names(&m.spec.symbol)))
        .collect();
    let selected: Vec<&(&Arc<Market>, PairNames)> = match req.param("pair") {
        None | Some("") => all.iter().collect(),
        Some(list) => list
            .split(',')
            .map(|asked| {
                all.iter()
                    .find(|(m, n)| matches(m, n, asked.trim()))
                    .ok_or_else(unknown_pair)
            })
            .collect::<Result<_, _>>()?,
    };
    let mut result = serde_json::Map::new();
    for (m, n) in selected {
        let p = &m.spec.profile;
        let text = |f: &dyn Fn(&mut String)| {
            let mut s = String::new();
            f(&mut s);
            s
        };
        result.insert(
            n.key.clone(),
            serde_json::json!({
                "altname": n.altname,
                "wsname": n.wsname,
                "aclass_base": "currency",
                "base": n.base,
                "aclass_quote": "currency",
                "quote": n.quote,
                "lot": "unit",
                "cost_decimals": 5,
                "pair_decimals": p.tick_exp,
                "lot_decimals": 8,
                "lot_multiplier": 1,
                "leverage_buy": [],
                "leverage_sell": [],
                "fees": [],
                "fees_maker": [],
                "fee_volume_currency": "ZUSD",
                "margin_call": 80,
                "margin_stop": 40,
                "ordermin": text(&|s| push_stripped(s, u128::from(p.qty_step), QTY_SCALE)),
                "costmin": "0.5",
                "tick_size": text(&|s| push_stripped(s, 1, p.tick_exp)),
                "status": "online",
            }),
        );
    }
    let body = serde_json::json!({"error": [], "result": result});
    Ok(HttpResponse::json(200, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let n = pair_names("BTC/USD");
        assert_eq!(
            (n.key.as_str(), n.altname.as_str(), n.wsname.as_str()),
            ("XXBTZUSD", "XBTUSD", "XBT/USD")
        );
        assert_eq!((n.base.as_str(), n.quote.as_str()), ("XXBT", "ZUSD"));
        assert_eq!(pair_names("ETH/USD").key, "XETHZUSD");
        assert_eq!(pair_names("BTC/USDT").key, "XBTUSDT");
        assert_eq!(pair_names("SOL/USD").key, "SOLUSD");
        assert_eq!(pair_names("DOGE/USD").altname, "XDGUSD");
    }

    #[test]
    fn since_forms() {
        assert_eq!(parse_since("1688669597"), Some(1_688_669_597_000_000_000));
        assert_eq!(
            parse_since("1688671969993150842"),
            Some(1_688_671_969_993_150_842)
        );
        assert_eq!(
            parse_since("1688669597.8277369"),
            Some(1_688_669_597_827_736_900)
        );
        assert_eq!(parse_since("0"), Some(0));
        assert_eq!(parse_since("-1"), None);
        assert_eq!(parse_since("12a"), None);
        assert_eq!(parse_since("1.2.3"), None);
    }
}
