//! Bybit REST companion (`/bybit/v5/market/recent-trade`, protocols.md §6.5), served from the
//! market's published history: the most recent `limit` trades (spot: 1..=60, default 60), newest
//! first, no paging — older trades cannot be fetched, exactly as on Bybit. Errors are HTTP 200
//! with a non-zero `retCode`; a refused request ([`crate::Fault::RateLimitRest`]) is HTTP 403
//! `access too frequent`, as Bybit answers an IP over its limit.

use tickrec_model::{now_us, Venue};

use crate::bybit::trade_id;
use crate::format::{push_i64, push_json_str, push_u64};
use crate::http::{HttpRequest, HttpResponse};
use crate::server::SimCore;
use crate::tape::{push_price, push_qty};

/// Most rows per spot call.
pub(crate) const MAX_SPOT_LIMIT: u64 = 60;

fn error(code: i64, msg: &str) -> HttpResponse {
    let mut s = String::from(r#"{"retCode":"#);
    push_i64(&mut s, code);
    s.push_str(r#","retMsg":"#);
    push_json_str(&mut s, msg);
    s.push_str(r#","result":{},"retExtInfo":{},"time":"#);
    push_i64(&mut s, now_us() / 1000);
    s.push('}');
    HttpResponse::json(200, s)
}

/// Serves one request; `path` follows `/bybit`.
pub(crate) fn handle(core: &SimCore, path: &str, req: &HttpRequest) -> HttpResponse {
    // The instruments endpoints live in their own file.
    if let Some(resp) = super::instruments::handle(core, path, req) {
        return resp;
    }
    if path != "/v5/market/recent-trade" {
        return HttpResponse::json(404, r#"{"retCode":404,"retMsg":"not found"}"#.into());
    }
    if let Some(refusal) = core.faults(Venue::Bybit).rest_refusal() {
        let (crate::faults::Refusal::TooMany { retry_after_s }
        | crate::faults::Refusal::Banned { retry_after_s }) = refusal;
        return HttpResponse::json(
            403,
            r#"{"retCode":10006,"retMsg":"access too frequent"}"#.into(),
        )
        .header("Retry-After", retry_after_s);
    }
    if req.param("category") != Some("spot") {
        return error(10001, "params error: only category=spot is simulated");
    }
    let Some(&idx) = req
        .param("symbol")
        .and_then(|s| core.bybit_by_symbol.get(s))
    else {
        return error(10001, "params error: symbol invalid");
    };
    let limit = match req.param("limit") {
        None | Some("") => MAX_SPOT_LIMIT,
        Some(l) => match l.parse::<u64>() {
            Ok(n @ 1..=MAX_SPOT_LIMIT) => n,
            _ => return error(10001, "params error: limit"),
        },
    };
    let market = &core.markets[idx];
    let view = market.view();
    let rows = market.trades(&view, view.published.saturating_sub(limit), view.published);
    let mut s = String::with_capacity(128 + rows.len() * 200);
    s.push_str(r#"{"retCode":0,"retMsg":"OK","result":{"category":"spot","list":["#);
    for (i, t) in rows.iter().rev().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(r#"{"execId":""#);
        push_u64(&mut s, trade_id(t.trade_id));
        s.push_str(r#"","symbol":"#);
        push_json_str(&mut s, &market.spec.native);
        s.push_str(r#","price":""#);
        push_price(&mut s, &market.spec.profile, t.price);
        s.push_str(r#"","size":""#);
        push_qty(&mut s, Venue::Bybit, u128::from(t.qty));
        s.push_str(if t.sell {
            r#"","side":"Sell","time":""#
        } else {
            r#"","side":"Buy","time":""#
        });
        push_i64(&mut s, t.ts_us.div_euclid(1000));
        s.push_str(r#"","isBlockTrade":false}"#);
    }
    s.push_str(r#"]},"retExtInfo":{},"time":"#);
    push_i64(&mut s, now_us() / 1000);
    s.push('}');
    HttpResponse::json(200, s)
}
