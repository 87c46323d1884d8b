//! Coinbase Advanced Trade instruments: the public `GET /api/v3/brokerage/market/products`
//! (no auth; protocols.md §4B.5) → `{"products":[…],"num_products":N}`. Per product:
//! `base_currency_id`/`quote_currency_id` (the unified symbol), `price_increment` (tick; older
//! replies only `quote_increment`), `base_increment` (lot), `base_min_size`, `quote_min_size`
//! (minimum order value), `status` with `trading_disabled`/`is_disabled`.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use tickrec_model::Venue;

use crate::instrument::{dec, opt_dec, scale_of, Instrument, InstrumentError, InstrumentQuery};
use crate::VenueError;

const PART: &str = "products";

/// The request listing every spot product.
///
/// # Errors
/// Never for Coinbase; the signature is shared.
pub fn queries(base: &str, _symbols: &[Arc<str>]) -> Result<Vec<InstrumentQuery>, VenueError> {
    Ok(vec![InstrumentQuery {
        url: format!("{base}/api/v3/brokerage/market/products?product_type=SPOT"),
        part: PART,
        supplement: false,
    }])
}

#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow, default)]
    products: Option<Vec<Product<'a>>>,
    #[serde(borrow, default)]
    error: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Product<'a> {
    #[serde(borrow)]
    product_id: Cow<'a, str>,
    #[serde(borrow, default)]
    base_currency_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    quote_currency_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    base_increment: Cow<'a, str>,
    #[serde(borrow)]
    quote_increment: Cow<'a, str>,
    #[serde(borrow, default)]
    price_increment: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    base_min_size: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    quote_min_size: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Cow<'a, str>,
    #[serde(default)]
    trading_disabled: bool,
    #[serde(default)]
    is_disabled: bool,
}

/// Parses a `market/products` reply.
///
/// # Errors
/// [`InstrumentError`] for an error body or malformed numbers.
pub fn parse(part: &'static str, body: &str) -> Result<Vec<Instrument>, InstrumentError> {
    let v = Venue::Coinbase;
    let reply: Reply<'_> =
        serde_json::from_str(body).map_err(|e| InstrumentError::malformed(v, part, e))?;
    let Some(products) = reply.products else {
        return Err(InstrumentError::Venue {
            venue: v,
            part,
            detail: format!(
                "{}: {}",
                reply.error.as_deref().unwrap_or("error"),
                reply
                    .message
                    .as_deref()
                    .unwrap_or("no products in the reply")
            ),
        });
    };
    products
        .iter()
        .map(|p| {
            // The ids are authoritative; the product id split is the documented fallback.
            let (b, q) = p.product_id.split_once('-').unwrap_or((&p.product_id, ""));
            let base = p.base_currency_id.as_deref().unwrap_or(b);
            let quote = p.quote_currency_id.as_deref().unwrap_or(q);
            let tick = p
                .price_increment
                .as_deref()
                .filter(|t| !t.is_empty())
                .unwrap_or(&p.quote_increment);
            let tick_size = dec(v, part, "price_increment", tick)?;
            let lot = dec(v, part, "base_increment", &p.base_increment)?;
            Ok(Instrument {
                venue: v,
                symbol: format!("{base}/{quote}"),
                native: p.product_id.to_string(),
                base: base.to_string(),
                quote: quote.to_string(),
                tick_size: Some(tick_size),
                lot_size: Some(lot),
                min_qty: opt_dec(v, part, "base_min_size", p.base_min_size.as_deref())?,
                min_notional: opt_dec(v, part, "quote_min_size", p.quote_min_size.as_deref())?,
                price_scale: Some(scale_of(tick_size)),
                qty_scale: Some(scale_of(lot)),
                status: p.status.to_string(),
                trading: p.status == "online" && !p.trading_disabled && !p.is_disabled,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A product as the Advanced Trade API documents it (List Public Products), abbreviated to
    /// the fields this parser reads plus a few it ignores.
    const REPLY: &str = r#"{"products":[{"product_id":"BTC-USD","price":"68923.67","price_percentage_change_24h":"-0.3","volume_24h":"9012.3","volume_percentage_change_24h":"4.1","base_increment":"0.00000001","quote_increment":"0.01","quote_min_size":"1","quote_max_size":"150000000","base_min_size":"0.00000001","base_max_size":"3400","base_name":"Bitcoin","quote_name":"US Dollar","watched":false,"is_disabled":false,"new":false,"status":"online","cancel_only":false,"limit_only":false,"post_only":false,"trading_disabled":false,"auction_mode":false,"product_type":"SPOT","quote_currency_id":"USD","base_currency_id":"BTC","fcm_trading_session_details":null,"mid_market_price":"","alias":"","alias_to":["BTC-USDC"],"base_display_symbol":"BTC","quote_display_symbol":"USD","view_only":false,"price_increment":"0.01","display_name":"BTC-USD","product_venue":"CBE"},{"product_id":"ETH-BTC","base_increment":"0.00000001","quote_increment":"0.00001","quote_min_size":"0.00001","base_min_size":"0.00022","status":"delisted","trading_disabled":true,"quote_currency_id":"BTC","base_currency_id":"ETH"}],"num_products":2}"#;

    #[test]
    fn reply_parses_exactly() {
        assert_eq!(
            queries("http://h/coinbase", &[]).unwrap()[0].url,
            "http://h/coinbase/api/v3/brokerage/market/products?product_type=SPOT"
        );
        let got = parse(PART, REPLY).unwrap();
        let b = &got[0];
        assert_eq!(
            (b.symbol.as_str(), b.native.as_str()),
            ("BTC/USD", "BTC-USD")
        );
        assert_eq!(b.tick_size.unwrap().to_string(), "0.01");
        assert_eq!(b.lot_size.unwrap().to_string(), "0.00000001");
        assert_eq!(b.min_qty.unwrap().to_string(), "0.00000001");
        assert_eq!(b.min_notional.unwrap().to_string(), "1");
        assert_eq!((b.price_scale, b.qty_scale), (Some(2), Some(8)));
        assert!(b.trading);
        let e = &got[1];
        assert_eq!(
            e.tick_size.unwrap().to_string(),
            "0.00001",
            "quote_increment fallback"
        );
        assert!(!e.trading);
    }

    #[test]
    fn errors_are_typed() {
        let e = parse(PART, r#"{"error":"NOT_FOUND","message":"not found"}"#).unwrap_err();
        assert!(e.to_string().contains("NOT_FOUND: not found"), "{e}");
        assert!(parse(PART, r#"{"products":[{"product_id":"A-B"}]}"#).is_err());
    }
}
