//! Binance spot REST companion (`/binance/api/v3/...`, protocols.md §3.5), served from the
//! markets' published history: `aggTrades`, `historicalTrades`, `trades`, `klines` (`1m` only),
//! `exchangeInfo`, `ping`, `time`; and `depth`, the book snapshot the diff stream is aligned on
//! (`lastUpdateId`; `limit` 1..=5000, default 100; weight 5/25/50/250 by limit; a
//! [`crate::Fault::StaleBookSnapshot`] makes the next one lag the stream).
//!
//! - Rows are ascending; `fromId` is inclusive; `limit` defaults to 500 and is capped at 1000
//!   (`0` or a non-number is error -1100). Only published trades are ever returned.
//! - One aggregate per trade: aggregate `a` = `agg_base + index`, `f` = `l` = the trade id.
//! - Every response carries `X-MBX-USED-WEIGHT-1M` (weights: aggTrades 4, historicalTrades 25,
//!   trades 25, klines 2, exchangeInfo 20, ping/time 1). Above
//!   [`crate::SimConfig::binance_weight_limit`] per wall-clock minute: HTTP 429 with
//!   `Retry-After` (seconds to the next minute), error -1003.
//! - Errors are HTTP 400 with `{"code":..,"msg":".."}`: -1121 unknown symbol, -1102 missing
//!   parameter, -1100 malformed number, -1120 unsupported interval, -1127 a time window above
//!   one hour (aggTrades).
//! - Klines: one bar per minute from the tape's first minute to the current one; a minute
//!   without trades is a bar at the previous close with zero volume and `n = 0`; the last bar is
//!   the running one.

use std::sync::Arc;

use tickrec_model::{now_us, Venue};

use crate::book::{push_pairs, Side, BINANCE_DEPTH_DEFAULT, BINANCE_DEPTH_MAX};
use crate::config::split_symbol;
use crate::faults::Refusal;
use crate::format::{push_fixed, push_i64, push_json_str, push_u64};
use crate::history::MINUTE_US;
use crate::http::{HttpRequest, HttpResponse};
use crate::market::{CandleSnap, Market, MarketSpec};
use crate::server::SimCore;
use crate::tape::{push_price, push_qty, RawTrade, BINANCE_DECIMALS, QTY_SCALE};

/// Most rows per call.
pub(crate) const MAX_LIMIT: u64 = 1000;
const DEFAULT_LIMIT: u64 = 500;
/// Most time between `startTime` and `endTime` for aggTrades, ms.
const MAX_AGG_WINDOW_MS: u64 = 3_600_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    AggTrades,
    HistoricalTrades,
    Trades,
    Klines,
    ExchangeInfo,
    Ping,
    Time,
    Depth,
}

impl Endpoint {
    fn weight(self) -> u32 {
        match self {
            // By `limit`, charged in `depth_weight`.
            Endpoint::Depth => 0,
            Endpoint::AggTrades => 4,
            Endpoint::HistoricalTrades | Endpoint::Trades => 25,
            Endpoint::Klines => 2,
            Endpoint::ExchangeInfo => 20,
            Endpoint::Ping | Endpoint::Time => 1,
        }
    }
}

fn error(status: u16, code: i32, msg: &str) -> HttpResponse {
    let mut s = String::from(r#"{"code":"#);
    s.push_str(&code.to_string());
    s.push_str(r#","msg":"#);
    push_json_str(&mut s, msg);
    s.push('}');
    HttpResponse::json(status, s)
}

fn bad(code: i32, msg: &str) -> HttpResponse {
    error(400, code, msg)
}

fn mandatory(name: &str) -> HttpResponse {
    bad(
        -1102,
        &format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
    )
}

fn illegal(name: &str, range: &str) -> HttpResponse {
    bad(
        -1100,
        &format!("Illegal characters found in parameter '{name}'; legal range is '{range}'."),
    )
}

/// An optional unsigned parameter (empty = absent).
fn opt_u64(req: &HttpRequest, name: &str) -> Result<Option<u64>, HttpResponse> {
    match req.param(name) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| illegal(name, "^[0-9]{1,20}$")),
    }
}

fn limit(req: &HttpRequest) -> Result<u64, HttpResponse> {
    match opt_u64(req, "limit")? {
        None => Ok(DEFAULT_LIMIT),
        Some(0) => Err(illegal("limit", "1-1000")),
        Some(n) => Ok(n.min(MAX_LIMIT)),
    }
}

fn market<'a>(core: &'a SimCore, req: &HttpRequest) -> Result<&'a Arc<Market>, HttpResponse> {
    let sym = match req.param("symbol") {
        None | Some("") => return Err(mandatory("symbol")),
        Some(s) => s,
    };
    core.binance_by_stream
        .get(&sym.to_ascii_lowercase())
        .and_then(|&i| core.markets.get(i))
        .ok_or_else(|| bad(-1121, "Invalid symbol."))
}

/// Serves one request; `path` follows `/binance`.
pub(crate) fn handle(core: &SimCore, path: &str, req: &HttpRequest) -> HttpResponse {
    let ep = match path {
        "/api/v3/aggTrades" => Endpoint::AggTrades,
        "/api/v3/historicalTrades" => Endpoint::HistoricalTrades,
        "/api/v3/trades" => Endpoint::Trades,
        "/api/v3/klines" => Endpoint::Klines,
        "/api/v3/exchangeInfo" => Endpoint::ExchangeInfo,
        "/api/v3/ping" => Endpoint::Ping,
        "/api/v3/time" => Endpoint::Time,
        "/api/v3/depth" => Endpoint::Depth,
        _ => return error(404, -1000, "Unknown endpoint."),
    };
    if req.method != "GET" {
        return error(405, -1000, "Method not allowed.");
    }
    if let Some(refusal) = core.faults(Venue::Binance).rest_refusal() {
        let used = core.weight_used();
        return match refusal {
            Refusal::TooMany { retry_after_s } => error(
                429,
                -1003,
                "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute. \
                 Please use the websocket for live updates to avoid polling the API.",
            )
            .header("Retry-After", retry_after_s),
            Refusal::Banned { retry_after_s } => {
                let until = now_us() / 1000 + i64::from(retry_after_s) * 1000;
                error(
                    418,
                    -1003,
                    &format!(
                        "Way too many requests; IP(127.0.0.1) banned until {until}. Please use \
                         the websocket for live updates to avoid bans."
                    ),
                )
                .header("Retry-After", retry_after_s)
            }
        }
        .header("X-MBX-USED-WEIGHT-1M", used);
    }
    let weight = match ep {
        Endpoint::Depth => depth_weight(req),
        _ => ep.weight(),
    };
    let used = match core.charge_weight(weight) {
        Ok(used) => used,
        Err((used, retry_after_s)) => {
            return error(
                429,
                -1003,
                &format!(
                    "Too much request weight used; current limit is {} request weight per 1 \
                     MINUTE. Please use WebSocket Streams for live updates to avoid polling the \
                     API.",
                    core.weight_limit
                ),
            )
            .header("Retry-After", retry_after_s)
            .header("X-MBX-USED-WEIGHT-1M", used);
        }
    };
    let r = match ep {
        Endpoint::AggTrades => agg_trades(core, req),
        Endpoint::HistoricalTrades => trades(core, req, true),
        Endpoint::Trades => trades(core, req, false),
        Endpoint::Klines => klines(core, req),
        Endpoint::ExchangeInfo => exchange_info(core, req),
        Endpoint::Depth => depth(core, req),
        Endpoint::Ping => Ok(HttpResponse::json(200, "{}".into())),
        Endpoint::Time => Ok(HttpResponse::json(
            200,
            format!(r#"{{"serverTime":{}}}"#, now_us() / 1000),
        )),
    };
    r.unwrap_or_else(|e| e).header("X-MBX-USED-WEIGHT-1M", used)
}

/// Binance's weight of a depth request: 5 up to 100 levels, 25 up to 500, 50 up to 1000, 250.
fn depth_weight(req: &HttpRequest) -> u32 {
    match req.param("limit").and_then(|l| l.parse::<usize>().ok()) {
        None => 5,
        Some(n) if n <= 100 => 5,
        Some(n) if n <= 500 => 25,
        Some(n) if n <= 1000 => 50,
        Some(_) => 250,
    }
}

/// `{"lastUpdateId":N,"bids":[["p","q"],…],"asks":[…]}`: the market's book now, or as it was
/// when a stale-snapshot fault is pending. Starts the book (like a subscription).
fn depth(core: &SimCore, req: &HttpRequest) -> Result<HttpResponse, HttpResponse> {
    let m = market(core, req)?;
    let limit = match opt_u64(req, "limit")? {
        None => BINANCE_DEPTH_DEFAULT,
        Some(n) if (1..=BINANCE_DEPTH_MAX as u64).contains(&n) => n as usize,
        Some(_) => return Err(illegal("limit", "1-5000")),
    };
    m.book.request_start();
    let (levels, last_id) = {
        let mut st = m.book.lock();
        match st.take_stale() {
            Some(lag) => st.lagged(lag),
            None => (st.levels().clone(), st.last_id()),
        }
    };
    let mut s = String::with_capacity(64 + limit * 60);
    s.push_str(r#"{"lastUpdateId":"#);
    push_u64(&mut s, last_id);
    s.push_str(r#","bids":"#);
    push_pairs(&mut s, &m.spec, &levels.top(Side::Bid, Some(limit)), "");
    s.push_str(r#","asks":"#);
    push_pairs(&mut s, &m.spec, &levels.top(Side::Ask, Some(limit)), "");
    s.push('}');
    Ok(HttpResponse::json(200, s))
}

fn push_bool(s: &mut String, b: bool) {
    s.push_str(if b { "true" } else { "false" });
}

fn ms(us: i64) -> i64 {
    us.div_euclid(1000)
}

fn agg_trades(core: &SimCore, req: &HttpRequest) -> Result<HttpResponse, HttpResponse> {
    let m = market(core, req)?;
    let limit = limit(req)?;
    let from_id = opt_u64(req, "fromId")?;
    let start = opt_u64(req, "startTime")?;
    let end = opt_u64(req, "endTime")?;
    if let (Some(s), Some(e)) = (start, end) {
        if e.saturating_sub(s) > MAX_AGG_WINDOW_MS {
            return Err(bad(
                -1127,
                "More than 1 hours between startTime and endTime.",
            ));
        }
    }
    let view = m.view();
    let end_bound = end.map(|e| view.first_at_or_after(time_us(e.saturating_add(1))));
    let (from, to) = match (from_id, start) {
        (Some(id), _) => {
            let from = id.saturating_sub(m.spec.agg_base);
            (from, from.saturating_add(limit))
        }
        (None, Some(s)) => {
            let from = view.first_at_or_after(time_us(s));
            (from, from.saturating_add(limit))
        }
        (None, None) => {
            let to = end_bound.unwrap_or(view.published);
            (to.saturating_sub(limit), to)
        }
    };
    let to = end_bound.map_or(to, |b| to.min(b));
    let rows = m.trades(&view, from, to);
    let spec = &m.spec;
    let mut s = String::with_capacity(16 + rows.len() * 150);
    s.push('[');
    for (i, t) in rows.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(r#"{"a":"#);
        push_u64(&mut s, spec.agg_base + t.index);
        s.push_str(r#","p":""#);
        push_price(&mut s, &spec.profile, t.price);
        s.push_str(r#"","q":""#);
        push_qty(&mut s, Venue::Binance, u128::from(t.qty));
        s.push_str(r#"","f":"#);
        push_u64(&mut s, t.trade_id);
        s.push_str(r#","l":"#);
        push_u64(&mut s, t.trade_id);
        s.push_str(r#","T":"#);
        push_i64(&mut s, ms(t.ts_us));
        s.push_str(r#","m":"#);
        push_bool(&mut s, t.sell);
        s.push_str(r#","M":true}"#);
    }
    s.push(']');
    Ok(HttpResponse::json(200, s))
}

/// ms → µs, saturating.
fn time_us(ms: u64) -> i64 {
    i64::try_from(ms.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// One `historicalTrades` / `trades` row.
fn push_trade(s: &mut String, spec: &MarketSpec, t: &RawTrade) {
    s.push_str(r#"{"id":"#);
    push_u64(s, t.trade_id);
    s.push_str(r#","price":""#);
    push_price(s, &spec.profile, t.price);
    s.push_str(r#"","qty":""#);
    push_qty(s, Venue::Binance, u128::from(t.qty));
    s.push_str(r#"","quoteQty":""#);
    let quote = t.price.max(0) as u128 * u128::from(t.qty);
    push_fixed(
        s,
        quote,
        spec.profile.tick_exp + QTY_SCALE,
        BINANCE_DECIMALS,
    );
    s.push_str(r#"","time":"#);
    push_i64(s, ms(t.ts_us));
    s.push_str(r#","isBuyerMaker":"#);
    push_bool(s, t.sell);
    s.push_str(r#","isBestMatch":true}"#);
}

fn trades(
    core: &SimCore,
    req: &HttpRequest,
    historical: bool,
) -> Result<HttpResponse, HttpResponse> {
    let m = market(core, req)?;
    let limit = limit(req)?;
    let from_id = if historical {
        opt_u64(req, "fromId")?
    } else {
        None
    };
    let view = m.view();
    let (from, to) = match from_id {
        Some(id) => {
            let from = id.saturating_sub(m.spec.profile.id_base);
            (from, from.saturating_add(limit))
        }
        None => (view.published.saturating_sub(limit), view.published),
    };
    let rows = m.trades(&view, from, to);
    let mut s = String::with_capacity(16 + rows.len() * 170);
    s.push('[');
    for (i, t) in rows.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_trade(&mut s, &m.spec, t);
    }
    s.push(']');
    Ok(HttpResponse::json(200, s))
}

/// One kline row, the WebSocket kline's values in the REST array shape.
fn push_kline(s: &mut String, spec: &MarketSpec, c: &CandleSnap) {
    let quote_scale = spec.profile.tick_exp + QTY_SCALE;
    s.push('[');
    push_i64(s, ms(c.open_time_us));
    for v in [c.open, c.high, c.low, c.close] {
        s.push_str(",\"");
        push_price(s, &spec.profile, v);
        s.push('"');
    }
    s.push_str(",\"");
    push_fixed(s, c.volume, QTY_SCALE, BINANCE_DECIMALS);
    s.push_str("\",");
    push_i64(s, ms(c.end_us()) - 1);
    s.push_str(",\"");
    push_fixed(s, c.quote_volume, quote_scale, BINANCE_DECIMALS);
    s.push_str("\",");
    push_u64(s, c.trades);
    s.push_str(",\"");
    push_fixed(s, c.buy_volume, QTY_SCALE, BINANCE_DECIMALS);
    s.push_str("\",\"");
    push_fixed(s, c.buy_quote_volume, quote_scale, BINANCE_DECIMALS);
    s.push_str("\",\"0\"]");
}

fn floor_minute(us: i64) -> i64 {
    us - us.rem_euclid(MINUTE_US)
}

fn klines(core: &SimCore, req: &HttpRequest) -> Result<HttpResponse, HttpResponse> {
    let m = market(core, req)?;
    match req.param("interval") {
        None | Some("") => return Err(mandatory("interval")),
        Some("1m") => {}
        Some(_) => return Err(bad(-1120, "Invalid interval.")),
    }
    let limit = limit(req)? as i64;
    let start = opt_u64(req, "startTime")?;
    let end = opt_u64(req, "endTime")?;
    let bars = {
        let sh = m.lock();
        match sh.history.bar_span() {
            None => Vec::new(),
            Some((first, last)) => {
                let last = last.max(floor_minute(now_us()));
                // Open time ≥ startTime (rounded up to a minute), ≤ endTime.
                let lo = start.map_or(first, |s| {
                    floor_minute(time_us(s).saturating_add(MINUTE_US - 1)).max(first)
                });
                let hi = end.map_or(last, |e| floor_minute(time_us(e)).min(last));
                let span = (limit - 1) * MINUTE_US;
                let (from, to) = if start.is_some() {
                    (lo, hi.min(lo.saturating_add(span)))
                } else {
                    (lo.max(hi.saturating_sub(span)), hi)
                };
                sh.history.bars(from, to)
            }
        }
    };
    let mut s = String::with_capacity(16 + bars.len() * 200);
    s.push('[');
    for (i, c) in bars.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_kline(&mut s, &m.spec, c);
    }
    s.push(']');
    Ok(HttpResponse::json(200, s))
}

fn exchange_info(core: &SimCore, req: &HttpRequest) -> Result<HttpResponse, HttpResponse> {
    let all: Vec<&Arc<Market>> = core
        .markets
        .iter()
        .filter(|m| m.spec.venue == Venue::Binance)
        .collect();
    let find = |sym: &str| {
        all.iter()
            .copied()
            .find(|m| m.spec.native.eq_ignore_ascii_case(sym))
            .ok_or_else(|| bad(-1121, "Invalid symbol."))
    };
    let selected: Vec<&Arc<Market>> = match (req.param("symbol"), req.param("symbols")) {
        (Some(sym), _) if !sym.is_empty() => vec![find(sym)?],
        (_, Some(list)) if !list.is_empty() => {
            let names: Vec<String> = serde_json::from_str(list).map_err(|_| {
                illegal(
                    "symbols",
                    r#"^\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\]$"#,
                )
            })?;
            names.iter().map(|n| find(n)).collect::<Result<_, _>>()?
        }
        _ => all.clone(),
    };
    let symbols: Vec<serde_json::Value> = selected
        .iter()
        .map(|m| {
            let p = &m.spec.profile;
            let (base, quote) = split_symbol(&m.spec.symbol).unwrap_or((&m.spec.symbol, ""));
            let fixed = |v: u128, scale: u8| {
                let mut s = String::new();
                push_fixed(&mut s, v, scale, BINANCE_DECIMALS);
                s
            };
            serde_json::json!({
                "symbol": m.spec.native,
                "status": "TRADING",
                "baseAsset": base,
                "baseAssetPrecision": 8,
                "quoteAsset": quote,
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                "isSpotTradingAllowed": true,
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": fixed(1, p.tick_exp),
                        "maxPrice": fixed(1_000_000, 0),
                        "tickSize": fixed(1, p.tick_exp),
                    },
                    {
                        "filterType": "LOT_SIZE",
                        "minQty": fixed(u128::from(p.qty_step), QTY_SCALE),
                        "maxQty": fixed(9_000, 0),
                        "stepSize": fixed(u128::from(p.qty_step), QTY_SCALE),
                    }
                ],
                "permissions": [],
            })
        })
        .collect();
    let body = serde_json::json!({
        "timezone": "UTC",
        "serverTime": now_us() / 1000,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": core.weight_limit},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000}
        ],
        "exchangeFilters": [],
        "symbols": symbols,
    });
    Ok(HttpResponse::json(200, body.to_string()))
}
