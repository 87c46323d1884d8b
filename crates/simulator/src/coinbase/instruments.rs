//! Coinbase Advanced Trade `GET /api/v3/brokerage/market/products` (public, protocols.md §4B.5):
//! `{"products":[…],"num_products":N}` listing the simulated products with their exact
//! increments (`price_increment` = the tape's tick, `base_increment` its quantity step).

use tickrec_model::Venue;

use crate::format::push_stripped;
use crate::http::{HttpRequest, HttpResponse};
use crate::server::SimCore;
use crate::tape::QTY_SCALE;

/// The products reply, when `path` (after `/coinbase`) asks for it.
pub(crate) fn handle(core: &SimCore, path: &str, _req: &HttpRequest) -> Option<HttpResponse> {
    if path != "/api/v3/brokerage/market/products" {
        return None;
    }
    let products: Vec<serde_json::Value> = core
        .markets
        .iter()
        .filter(|m| m.spec.venue == Venue::Coinbase)
        .map(|m| {
            let p = &m.spec.profile;
            let (base, quote) = m
                .spec
                .native
                .split_once('-')
                .unwrap_or((&m.spec.native, ""));
            let text = |v: u128, scale: u8| {
                let mut s = String::new();
                push_stripped(&mut s, v, scale);
                s
            };
            let tick = text(1, p.tick_exp);
            serde_json::json!({
                "product_id": m.spec.native,
                "price": "",
                "base_increment": text(u128::from(p.qty_step), QTY_SCALE),
                "quote_increment": tick,
                "quote_min_size": "1",
                "quote_max_size": "150000000",
                "base_min_size": text(u128::from(p.qty_step), QTY_SCALE),
                "base_max_size": "3400",
                "base_name": base,
                "quote_name": quote,
                "is_disabled": false,
                "status": "online",
                "cancel_only": false,
                "limit_only": false,
                "post_only": false,
                "trading_disabled": false,
                "auction_mode": false,
                "product_type": "SPOT",
                "quote_currency_id": quote,
                "base_currency_id": base,
                "base_display_symbol": base,
                "quote_display_symbol": quote,
                "price_increment": tick,
                "display_name": m.spec.native,
                "product_venue": "CBE",
            })
        })
        .collect();
    let n = products.len();
    let body = serde_json::json!({"products": products, "num_products": n});
    Some(HttpResponse::json(200, body.to_string()))
}
