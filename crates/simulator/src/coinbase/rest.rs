//! Coinbase REST companion (`/coinbase/api/v3/brokerage/market/products/{id}/ticker`,
//! protocols.md §4B.5), served from the market's published history: the `limit` (1..=1000,
//! default 100) most recent trades with `time` before `end` (Unix seconds, default now), newest
//! first, with empty `best_bid`/`best_ask`. An unknown product is HTTP 404 `NOT_FOUND`; a refused
//! request ([`crate::Fault::RateLimitRest`]) is HTTP 429 with `Retry-After`.

use tickrec_model::Venue;

use crate::coinbase::push_trade;
use crate::format::Rfc3339;
use crate::http::{HttpRequest, HttpResponse};
use crate::server::SimCore;

/// Most trades per call.
pub(crate) const MAX_LIMIT: u64 = 1000;

fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::json(
        status,
        format!(r#"{{"error":"{code}","error_details":"{message}","message":"{message}"}}"#),
    )
}

/// Serves one request; `path` follows `/coinbase`.
pub(crate) fn handle(core: &SimCore, path: &str, req: &HttpRequest) -> HttpResponse {
    // The instruments endpoints live in their own file.
    if let Some(resp) = super::instruments::handle(core, path, req) {
        return resp;
    }
    let product = path
        .strip_prefix("/api/v3/brokerage/market/products/")
        .and_then(|p| p.strip_suffix("/ticker"));
    let Some(product) = product else {
        return error(404, "NOT_FOUND", "route not found");
    };
    if let Some(refusal) = core.faults(Venue::Coinbase).rest_refusal() {
        let (crate::faults::Refusal::TooMany { retry_after_s }
        | crate::faults::Refusal::Banned { retry_after_s }) = refusal;
        return error(429, "RATE_LIMIT_EXCEEDED", "Too many requests")
            .header("Retry-After", retry_after_s);
    }
    let Some(&idx) = core.coinbase_by_product.get(product) else {
        return error(404, "NOT_FOUND", "ProductID is invalid");
    };
    let limit = match req.param("limit") {
        None | Some("") => 100,
        Some(l) => match l.parse::<u64>() {
            Ok(n @ 1..=MAX_LIMIT) => n,
            _ => return error(400, "INVALID_ARGUMENT", "limit"),
        },
    };
    let market = &core.markets[idx];
    let view = market.view();
    let end = match req.param("end") {
        None | Some("") => view.published,
        Some(e) => match e.parse::<i64>() {
            Ok(s) => view.first_at_or_after(s.saturating_mul(1_000_000)),
            Err(_) => return error(400, "INVALID_ARGUMENT", "end"),
        },
    };
    let rows = market.trades(&view, end.saturating_sub(limit), end);
    let mut ts = Rfc3339::default();
    let mut s = String::with_capacity(64 + rows.len() * 200);
    s.push_str(r#"{"trades":["#);
    for (i, t) in rows.iter().rev().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_trade(&mut s, &market.spec, t, &mut ts);
    }
    s.push_str(r#"],"best_bid":"","best_ask":""}"#);
    HttpResponse::json(200, s)
}
