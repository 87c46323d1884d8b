//! OKX REST companion (`/okx/api/v5/market/history-trades`, protocols.md §5.5), served from the
//! market's published history: newest first, `type=1` paging by trade id (`after` = older than
//! this id, `before` = newer), `limit` 1..=100 (default 100). Errors are HTTP 200 with a non-zero
//! string `code` (`51001` unknown instrument, `51000` bad parameter); a refused request
//! ([`crate::Fault::RateLimitRest`]) is HTTP 429 with `code` `50011`.

use tickrec_model::Venue;

use crate::format::push_json_str;
use crate::http::{HttpRequest, HttpResponse};
use crate::okx::push_trade_item;
use crate::server::SimCore;

/// Most rows per call.
pub(crate) const MAX_LIMIT: u64 = 100;

fn error(status: u16, code: &str, msg: &str) -> HttpResponse {
    let mut s = String::from(r#"{"code":""#);
    s.push_str(code);
    s.push_str(r#"","msg":"#);
    push_json_str(&mut s, msg);
    s.push_str(r#","data":[]}"#);
    HttpResponse::json(status, s)
}

/// Serves one request; `path` follows `/okx`.
pub(crate) fn handle(core: &SimCore, path: &str, req: &HttpRequest) -> HttpResponse {
    // The instruments endpoints live in their own file.
    if let Some(resp) = super::instruments::handle(core, path, req) {
        return resp;
    }
    if path != "/api/v5/market/history-trades" {
        return error(404, "50000", "not found");
    }
    if let Some(refusal) = core.faults(Venue::Okx).rest_refusal() {
        let (crate::faults::Refusal::TooMany { retry_after_s }
        | crate::faults::Refusal::Banned { retry_after_s }) = refusal;
        return error(429, "50011", "Too Many Requests").header("Retry-After", retry_after_s);
    }
    let Some(&idx) = req.param("instId").and_then(|i| core.okx_by_inst.get(i)) else {
        return error(200, "51001", "Instrument ID does not exist");
    };
    let num = |name: &str| -> Result<Option<u64>, HttpResponse> {
        match req.param(name) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| error(200, "51000", &format!("Parameter {name} error"))),
        }
    };
    let parsed = (|| Ok::<_, HttpResponse>((num("after")?, num("before")?, num("limit")?)))();
    let (after, before, limit) = match parsed {
        Ok(p) => p,
        Err(e) => return e,
    };
    if req.param("type").is_some_and(|t| t != "1") {
        return error(
            200,
            "51000",
            "Parameter type error: only tradeId paging is simulated",
        );
    }
    let limit = limit.unwrap_or(MAX_LIMIT).clamp(1, MAX_LIMIT);
    let market = &core.markets[idx];
    let view = market.view();
    let base = market.spec.profile.id_base;
    // Index range of trades with id < after (and > before), the newest `limit` of them.
    let end = after.map_or(view.published, |a| {
        a.saturating_sub(base).min(view.published)
    });
    let floor = before.map_or(0, |b| b.saturating_sub(base).saturating_add(1));
    let start = end.saturating_sub(limit).max(floor);
    let rows = market.trades(&view, start, end);
    let mut s = String::with_capacity(48 + rows.len() * 160);
    s.push_str(r#"{"code":"0","msg":"","data":["#);
    for (i, t) in rows.iter().rev().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_trade_item(&mut s, &market.spec, t);
    }
    s.push_str("]}");
    HttpResponse::json(200, s)
}
