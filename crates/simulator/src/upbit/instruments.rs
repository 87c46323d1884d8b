//! Upbit `GET /v1/market/all` (protocols.md §7.5; `is_details=true` adds `market_event`) and
//! `GET /v1/orderbook/instruments?markets=…` (tick size per market, as text). An unknown code in
//! `markets` is HTTP 404 `Code not found`, as Upbit answers an unknown market.

use tickrec_model::Venue;

use crate::format::push_stripped;
use crate::http::{HttpRequest, HttpResponse};
use crate::market::Market;
use crate::server::SimCore;

fn tick_text(m: &Market) -> String {
    let mut s = String::new();
    push_stripped(&mut s, 1, m.spec.profile.tick_exp);
    s
}

/// The markets or tick-size reply, when `path` (after `/upbit`) asks for one.
pub(crate) fn handle(core: &SimCore, path: &str, req: &HttpRequest) -> Option<HttpResponse> {
    let markets = || core.markets.iter().filter(|m| m.spec.venue == Venue::Upbit);
    match path {
        "/v1/market/all" => {
            let details = req.param("is_details") == Some("true");
            let list: Vec<serde_json::Value> = markets()
                .map(|m| {
                    let mut v = serde_json::json!({
                        "market": m.spec.native,
                        "korean_name": m.spec.symbol,
                        "english_name": m.spec.symbol,
                    });
                    if details {
                        v["market_event"] = serde_json::json!({"warning": false, "caution": {
                            "PRICE_FLUCTUATIONS": false, "TRADING_VOLUME_SOARING": false,
                            "DEPOSIT_AMOUNT_SOARING": false, "GLOBAL_PRICE_DIFFERENCES": false,
                            "CONCENTRATION_OF_SMALL_ACCOUNTS": false}});
                    }
                    v
                })
                .collect();
            Some(HttpResponse::json(
                200,
                serde_json::Value::Array(list).to_string(),
            ))
        }
        "/v1/orderbook/instruments" => {
            let mut list = Vec::new();
            for code in req
                .param("markets")
                .unwrap_or("")
                .split(',')
                .filter(|c| !c.is_empty())
            {
                let Some(m) = markets().find(|m| m.spec.native == code.trim()) else {
                    return Some(HttpResponse::json(
                        404,
                        r#"{"error":{"name":404,"message":"Code not found"}}"#.into(),
                    ));
                };
                let quote = m.spec.native.split('-').next().unwrap_or("");
                list.push(serde_json::json!({
                    "market": m.spec.native,
                    "quote_currency": quote,
                    "tick_size": tick_text(m),
                    "supported_levels": ["0"],
                }));
            }
            Some(HttpResponse::json(
                200,
                serde_json::Value::Array(list).to_string(),
            ))
        }
        _ => None,
    }
}
