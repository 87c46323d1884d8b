//! Binance spot instruments: `GET /api/v3/exchangeInfo` (weight 20; the whole list, so that a
//! symbol Binance does not list can be answered with close matches). Per symbol: `baseAsset`,
//! `quoteAsset`, `status`, and the filters `PRICE_FILTER.tickSize`, `LOT_SIZE.stepSize/minQty`,
//! `NOTIONAL`/`MIN_NOTIONAL.minNotional` (protocols.md §3.5).

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use tickrec_model::Venue;

use crate::instrument::{dec, opt_dec, scale_of, Instrument, InstrumentError, InstrumentQuery};
use crate::VenueError;

const PART: &str = "exchangeInfo";

/// The request listing every spot symbol.
///
/// # Errors
/// Never for Binance (every symbol is answered from the one list); the signature is shared.
pub fn queries(base: &str, _symbols: &[Arc<str>]) -> Result<Vec<InstrumentQuery>, VenueError> {
    Ok(vec![InstrumentQuery {
        url: format!("{base}/api/v3/exchangeInfo?showPermissionSets=false"),
        part: PART,
        supplement: false,
    }])
}

#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow, default)]
    symbols: Option<Vec<Symbol<'a>>>,
    #[serde(default)]
    code: Option<i64>,
    #[serde(borrow, default)]
    msg: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Symbol<'a> {
    #[serde(borrow)]
    symbol: Cow<'a, str>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow)]
    base_asset: Cow<'a, str>,
    #[serde(borrow)]
    quote_asset: Cow<'a, str>,
    #[serde(borrow, default)]
    filters: Vec<Filter<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter<'a> {
    #[serde(borrow)]
    filter_type: Cow<'a, str>,
    #[serde(borrow, default)]
    tick_size: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    step_size: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    min_qty: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    min_notional: Option<Cow<'a, str>>,
}

/// Parses an `exchangeInfo` reply.
///
/// # Errors
/// [`InstrumentError`] for an error payload (`{"code":-1121,"msg":…}`), a symbol without a
/// `PRICE_FILTER`, or malformed numbers.
pub fn parse(part: &'static str, body: &str) -> Result<Vec<Instrument>, InstrumentError> {
    let v = Venue::Binance;
    let reply: Reply<'_> =
        serde_json::from_str(body).map_err(|e| InstrumentError::malformed(v, part, e))?;
    let Some(symbols) = reply.symbols else {
        return Err(InstrumentError::Venue {
            venue: v,
            part,
            detail: format!(
                "code {}: {}",
                reply.code.unwrap_or_default(),
                reply.msg.as_deref().unwrap_or("no symbols in the reply")
            ),
        });
    };
    symbols
        .iter()
        .map(|s| {
            let filter = |t: &str| s.filters.iter().find(|f| f.filter_type == t);
            let tick = filter("PRICE_FILTER")
                .and_then(|f| f.tick_size.as_deref())
                .ok_or_else(|| {
                    InstrumentError::malformed(v, part, format!("{}: no PRICE_FILTER", s.symbol))
                })?;
            let tick_size = dec(v, part, "tickSize", tick)?;
            let lot = filter("LOT_SIZE");
            let lot_size = opt_dec(
                v,
                part,
                "stepSize",
                lot.and_then(|f| f.step_size.as_deref()),
            )?;
            let notional = filter("NOTIONAL")
                .or_else(|| filter("MIN_NOTIONAL"))
                .and_then(|f| f.min_notional.as_deref());
            Ok(Instrument {
                venue: v,
                symbol: format!("{}/{}", s.base_asset, s.quote_asset),
                native: s.symbol.to_string(),
                base: s.base_asset.to_string(),
                quote: s.quote_asset.to_string(),
                tick_size: Some(tick_size),
                lot_size,
                min_qty: opt_dec(v, part, "minQty", lot.and_then(|f| f.min_qty.as_deref()))?,
                min_notional: opt_dec(v, part, "minNotional", notional)?,
                price_scale: Some(scale_of(tick_size)),
                qty_scale: lot_size.map(scale_of),
                status: s.status.to_string(),
                trading: s.status == "TRADING",
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented symbol shape (protocols.md §3.5) with the filters of the spot API's
    /// `exchangeInfo` example (developers.binance.com, "Exchange information").
    const DOC_REPLY: &str = r#"{"timezone":"UTC","serverTime":1565246363776,"rateLimits":[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000}],"exchangeFilters":[],"symbols":[{"symbol":"ETHBTC","status":"TRADING","baseAsset":"ETH","baseAssetPrecision":8,"quoteAsset":"BTC","quotePrecision":8,"quoteAssetPrecision":8,"baseCommissionPrecision":8,"quoteCommissionPrecision":8,"orderTypes":["LIMIT","LIMIT_MAKER","MARKET","STOP_LOSS","STOP_LOSS_LIMIT","TAKE_PROFIT","TAKE_PROFIT_LIMIT"],"icebergAllowed":true,"ocoAllowed":true,"isSpotTradingAllowed":true,"isMarginTradingAllowed":true,"filters":[{"filterType":"PRICE_FILTER","minPrice":"0.00001000","maxPrice":"922327.00000000","tickSize":"0.00001000"},{"filterType":"LOT_SIZE","minQty":"0.00010000","maxQty":"100000.00000000","stepSize":"0.00010000"},{"filterType":"ICEBERG_PARTS","limit":10},{"filterType":"NOTIONAL","minNotional":"0.00010000","applyMinToMarket":true,"maxNotional":"9000000.00000000","applyMaxToMarket":false,"avgPriceMins":5}],"permissions":[],"defaultSelfTradePreventionMode":"EXPIRE_MAKER","allowedSelfTradePreventionModes":["EXPIRE_MAKER"]},{"symbol":"LUNABTC","status":"BREAK","baseAsset":"LUNA","baseAssetPrecision":8,"quoteAsset":"BTC","quotePrecision":8,"quoteAssetPrecision":8,"filters":[{"filterType":"PRICE_FILTER","minPrice":"0.00000001","maxPrice":"1000.00000000","tickSize":"0.00000001"},{"filterType":"MIN_NOTIONAL","minNotional":"0.00010000","applyToMarket":true,"avgPriceMins":5}]}]}"#;

    #[test]
    fn documented_reply_parses_exactly() {
        let q = queries("http://h/binance", &[]).unwrap();
        assert_eq!(
            q[0].url,
            "http://h/binance/api/v3/exchangeInfo?showPermissionSets=false"
        );
        let got = parse(PART, DOC_REPLY).unwrap();
        assert_eq!(got.len(), 2);
        let e = &got[0];
        assert_eq!(
            (e.symbol.as_str(), e.native.as_str()),
            ("ETH/BTC", "ETHBTC")
        );
        assert_eq!(e.tick_size.unwrap().to_string(), "0.00001000");
        assert_eq!(e.price_scale, Some(5));
        assert_eq!(e.lot_size.unwrap().to_string(), "0.00010000");
        assert_eq!(e.qty_scale, Some(4));
        assert_eq!(e.min_qty.unwrap().to_string(), "0.00010000");
        assert_eq!(e.min_notional.unwrap().to_string(), "0.00010000");
        assert!(e.trading);
        let l = &got[1];
        assert_eq!((l.status.as_str(), l.trading), ("BREAK", false));
        assert_eq!(l.lot_size, None);
        assert_eq!(l.min_notional.unwrap().to_string(), "0.00010000");
    }

    #[test]
    fn errors_are_typed() {
        let e = parse(PART, r#"{"code":-1121,"msg":"Invalid symbol."}"#).unwrap_err();
        assert!(e.to_string().contains("-1121: Invalid symbol."), "{e}");
        assert!(matches!(
            parse(PART, "<html>").unwrap_err(),
            InstrumentError::Malformed { .. }
        ));
        let no_filter = r#"{"symbols":[{"symbol":"AB","status":"TRADING","baseAsset":"A","quoteAsset":"B","filters":[]}]}"#;
        assert!(parse(PART, no_filter)
            .unwrap_err()
            .to_string()
            .contains("PRICE_FILTER"));
    }
}
