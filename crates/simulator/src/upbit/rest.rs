//! Upbit REST companion (`/upbit/v1/trades/ticks`, protocols.md §7.5), served from the market's
//! published history: newest first, `count` 1..=500 (default 1), `cursor` = a `sequential_id`
//! (trades older than it). Errors are `{"error":{"name":…,"message":…}}` (HTTP 404 for an unknown
//! market, 400 for a bad parameter); a refused request ([`crate::Fault::RateLimitRest`]) is HTTP
//! 429 with `Retry-After`.

use tickrec_model::Venue;

use crate::format::{push_i64, push_json_str};
use crate::http::{HttpRequest, HttpResponse};
use crate::market::Market;
use crate::server::SimCore;
use crate::upbit::{push_trade_fields, sequential_id};

/// Most rows per call.
pub(crate) const MAX_COUNT: u64 = 500;

fn error(status: u16, name: &str, message: &str) -> HttpResponse {
    let mut s = String::from(r#"{"error":{"name":"#);
    push_json_str(&mut s, name);
    s.push_str(r#","message":"#);
    push_json_str(&mut s, message);
    s.push_str("}}");
    HttpResponse::json(status, s)
}

/// Index of the trade whose `sequential_id` is `sid`, if published.
fn index_of(market: &Market, view: &crate::history::View, sid: u64) -> Option<u64> {
    let ms = (sid / 10_000) as i64;
    let first = view.first_at_or_after(ms * 1000);
    let last = view.first_at_or_after((ms + 1) * 1000);
    market
        .trades(view, first, last)
        .iter()
        .find(|t| sequential_id(t.trade_id, t.ts_us) == sid)
        .map(|t| t.index)
}

/// Serves one request; `path` follows `/upbit`.
pub(crate) fn handle(core: &SimCore, path: &str, req: &HttpRequest) -> HttpResponse {
    // The instruments endpoints live in their own file.
    if let Some(resp) = super::instruments::handle(core, path, req) {
        return resp;
    }
    if path != "/v1/trades/ticks" {
        return error(404, "not_found", "not found");
    }
    if let Some(refusal) = core.faults(Venue::Upbit).rest_refusal() {
        let (crate::faults::Refusal::TooMany { retry_after_s }
        | crate::faults::Refusal::Banned { retry_after_s }) = refusal;
        return error(429, "too_many_requests", "Too many API requests.")
            .header("Retry-After", retry_after_s);
    }
    let Some(&idx) = req.param("market").and_then(|m| core.upbit_by_code.get(m)) else {
        return error(404, "404", "Code not found");
    };
    let count = match req.param("count") {
        None | Some("") => 1,
        Some(c) => match c.parse::<u64>() {
            Ok(n @ 1..=MAX_COUNT) => n,
            _ => return error(400, "invalid_parameter_error", "count"),
        },
    };
    let market = &core.markets[idx];
    let view = market.view();
    let end = match req.param("cursor") {
        None | Some("") => view.published,
        Some(c) => match c
            .parse::<u64>()
            .ok()
            .and_then(|sid| index_of(market, &view, sid))
        {
            Some(i) => i,
            None => return error(400, "invalid_parameter_error", "cursor"),
        },
    };
    let rows = market.trades(&view, end.saturating_sub(count), end);
    let mut s = String::with_capacity(2 + rows.len() * 220);
    s.push('[');
    for (i, t) in rows.iter().rev().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(r#"{"market":"#);
        push_json_str(&mut s, &market.spec.native);
        s.push_str(r#","timestamp":"#);
        push_i64(&mut s, t.ts_us.div_euclid(1000));
        s.push(',');
        push_trade_fields(&mut s, t, &market.spec);
        s.push('}');
    }
    s.push(']');
    HttpResponse::json(200, s)
}
