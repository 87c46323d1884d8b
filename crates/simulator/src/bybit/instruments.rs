//! Bybit `GET /v5/market/instruments-info?category=…` (protocols.md §6.5): the simulated spot
//! markets in the documented spot item shape; `linear` lists nothing (the simulator serves spot
//! only); another category is `retCode` 10001. `symbol=` narrows the list (an unknown symbol
//! gives an empty list, as on Bybit).

use tickrec_model::{now_us, Venue};

use crate::config::split_symbol;
use crate::format::push_stripped;
use crate::http::{HttpRequest, HttpResponse};
use crate::server::SimCore;
use crate::tape::QTY_SCALE;

/// The instruments reply, when `path` (after `/bybit`) asks for it.
pub(crate) fn handle(core: &SimCore, path: &str, req: &HttpRequest) -> Option<HttpResponse> {
    if path != "/v5/market/instruments-info" {
        return None;
    }
    let category = req.param("category").unwrap_or("");
    if !["spot", "linear", "inverse", "option"].contains(&category) {
        let body = serde_json::json!({"retCode": 10001, "retMsg": "params error: category",
            "result": {}, "retExtInfo": {}, "time": now_us() / 1000});
        return Some(HttpResponse::json(200, body.to_string()));
    }
    let list: Vec<serde_json::Value> = core
        .markets
        .iter()
        .filter(|m| m.spec.venue == Venue::Bybit && category == "spot")
        .filter(|m| req.param("symbol").is_none_or(|s| s == m.spec.native))
        .enumerate()
        .map(|(i, m)| {
            let p = &m.spec.profile;
            let (base, quote) = split_symbol(&m.spec.symbol).unwrap_or((&m.spec.symbol, ""));
            let text = |v: u128, scale: u8| {
                let mut s = String::new();
                push_stripped(&mut s, v, scale);
                s
            };
            serde_json::json!({
                "symbolId": i + 1, "symbol": m.spec.native, "baseCoin": base, "quoteCoin": quote,
                "innovation": "0", "status": "Trading", "marginTrading": "utaOnly", "stTag": "0",
                "lotSizeFilter": {
                    "basePrecision": text(u128::from(p.qty_step), QTY_SCALE),
                    "quotePrecision": text(1, p.tick_exp + QTY_SCALE),
                    "minOrderQty": text(u128::from(p.qty_step), QTY_SCALE),
                    "maxOrderQty": "83", "minOrderAmt": "5", "maxOrderAmt": "8000000",
                    "maxLimitOrderQty": "83", "maxMarketOrderQty": "41.5",
                    "postOnlyMaxLimitOrderSize": "60000"
                },
                "priceFilter": {"tickSize": text(1, p.tick_exp)},
                "riskParameters": {"priceLimitRatioX": "0.005", "priceLimitRatioY": "0.01"},
                "symbolType": "",
            })
        })
        .collect();
    let body = serde_json::json!({"retCode": 0, "retMsg": "OK",
        "result": {"category": category, "list": list, "nextPageCursor": ""},
        "retExtInfo": {}, "time": now_us() / 1000});
    Some(HttpResponse::json(200, body.to_string()))
}
