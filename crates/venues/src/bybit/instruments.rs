//! Bybit v5 instruments: `GET /v5/market/instruments-info?category=spot|linear` (protocols.md
//! §6.5), one request per category configured. Reply `{"retCode":0,"retMsg":"OK","result":
//! {"category":…,"list":[…]}}`. Spot items: `baseCoin`/`quoteCoin`, `priceFilter.tickSize`,
//! `lotSizeFilter.basePrecision` (lot), `minOrderQty`, `minOrderAmt`. Linear items: `settleCoin`,
//! `contractType`, `lotSizeFilter.qtyStep`, `minOrderQty`, `minNotionalValue`; only perpetuals
//! are kept (tickrec records no dated Bybit futures). The same `BTCUSDT` names a spot pair and
//! a perpetual: the category tells them apart.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use tickrec_model::Venue;

use crate::bybit::symbols::{native, Category};
use crate::instrument::{dec, opt_dec, scale_of, Instrument, InstrumentError, InstrumentQuery};
use crate::VenueError;

/// Largest page of linear instruments (spot is never paged).
pub const LINEAR_LIMIT: u32 = 1000;

/// One request per category the configured symbols need.
///
/// # Errors
/// [`VenueError`] for a symbol Bybit cannot name.
pub fn queries(base: &str, symbols: &[Arc<str>]) -> Result<Vec<InstrumentQuery>, VenueError> {
    let mut cats = Vec::new();
    for s in symbols {
        let (c, _) = native(s)?;
        if !cats.contains(&c) {
            cats.push(c);
        }
    }
    cats.sort_by_key(|c| c.as_str());
    Ok(cats
        .into_iter()
        .map(|c| match c {
            Category::Spot => InstrumentQuery {
                url: format!("{base}/v5/market/instruments-info?category=spot"),
                part: "spot",
                supplement: false,
            },
            Category::Linear => InstrumentQuery {
                url: format!(
                    "{base}/v5/market/instruments-info?category=linear&limit={LINEAR_LIMIT}"
                ),
                part: "linear",
                supplement: false,
            },
        })
        .collect())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reply<'a> {
    ret_code: i64,
    #[serde(borrow, default)]
    ret_msg: Cow<'a, str>,
    #[serde(borrow, default)]
    result: Option<ResultList<'a>>,
}

#[derive(Deserialize)]
struct ResultList<'a> {
    #[serde(borrow, default)]
    list: Vec<Item<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item<'a> {
    #[serde(borrow)]
    symbol: Cow<'a, str>,
    #[serde(borrow)]
    base_coin: Cow<'a, str>,
    #[serde(borrow)]
    quote_coin: Cow<'a, str>,
    #[serde(borrow, default)]
    settle_coin: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    contract_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Cow<'a, str>,
    #[serde(borrow)]
    price_filter: PriceFilter<'a>,
    #[serde(borrow)]
    lot_size_filter: LotFilter<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PriceFilter<'a> {
    #[serde(borrow)]
    tick_size: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LotFilter<'a> {
    #[serde(borrow, default)]
    base_precision: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    qty_step: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    min_order_qty: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    min_order_amt: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    min_notional_value: Option<Cow<'a, str>>,
}

/// Parses an `instruments-info` reply of category `part` (`spot` or `linear`).
///
/// # Errors
/// [`InstrumentError`] for a non-zero `retCode` or malformed numbers.
pub fn parse(part: &'static str, body: &str) -> Result<Vec<Instrument>, InstrumentError> {
    let v = Venue::Bybit;
    let reply: Reply<'_> =
        serde_json::from_str(body).map_err(|e| InstrumentError::malformed(v, part, e))?;
    if reply.ret_code != 0 {
        return Err(InstrumentError::Venue {
            venue: v,
            part,
            detail: format!("retCode {}: {}", reply.ret_code, reply.ret_msg),
        });
    }
    let list = reply.result.map(|r| r.list).unwrap_or_default();
    let linear = part == "linear";
    let mut out = Vec::with_capacity(list.len());
    for i in &list {
        if linear && i.contract_type.as_deref() != Some("LinearPerpetual") {
            continue;
        }
        let (b, q) = (&*i.base_coin, &*i.quote_coin);
        let symbol = match (linear, i.settle_coin.as_deref()) {
            (true, Some(s)) => format!("{b}/{q}:{s}"),
            (true, None) => format!("{b}/{q}:{q}"),
            (false, _) => format!("{b}/{q}"),
        };
        let f = &i.lot_size_filter;
        let tick_size = dec(v, part, "tickSize", &i.price_filter.tick_size)?;
        let lot = if linear {
            &f.qty_step
        } else {
            &f.base_precision
        };
        let lot_size = opt_dec(v, part, "lot", lot.as_deref())?;
        let notional = if linear {
            &f.min_notional_value
        } else {
            &f.min_order_amt
        };
        out.push(Instrument {
            venue: v,
            symbol,
            native: i.symbol.to_string(),
            base: b.to_string(),
            quote: q.to_string(),
            tick_size: Some(tick_size),
            lot_size,
            min_qty: opt_dec(v, part, "minOrderQty", f.min_order_qty.as_deref())?,
            min_notional: opt_dec(v, part, "minNotional", notional.as_deref())?,
            price_scale: Some(scale_of(tick_size)),
            qty_scale: lot_size.map(scale_of),
            status: i.status.to_string(),
            trading: i.status == "Trading",
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented spot item of protocols.md §6.5 in its envelope, and a linear reply in the
    /// documented shape (a perpetual, a USDC perpetual and a dated future that is skipped).
    const SPOT: &str = r#"{"retCode":0,"retMsg":"OK","result":{"category":"spot","list":[{"symbolId": 9, "symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "innovation": "0", "status": "Trading", "marginTrading": "utaOnly", "stTag": "0", "lotSizeFilter": {"basePrecision": "0.000001", "quotePrecision": "0.0000001", "minOrderQty": "0.000011", "maxOrderQty": "83", "minOrderAmt": "5", "maxOrderAmt": "8000000", "maxLimitOrderQty": "83", "maxMarketOrderQty": "41.5", "postOnlyMaxLimitOrderSize":"60000"}, "priceFilter": {"tickSize": "0.1"}, "riskParameters": {"priceLimitRatioX": "0.005", "priceLimitRatioY": "0.01"}, "symbolType": ""}]},"retExtInfo":{},"time":1716863719382}"#;
    const LINEAR: &str = r#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[{"symbol":"BTCUSDT","contractType":"LinearPerpetual","status":"Trading","baseCoin":"BTC","quoteCoin":"USDT","launchTime":"1585526400000","deliveryTime":"0","deliveryFeeRate":"","priceScale":"2","leverageFilter":{"minLeverage":"1","maxLeverage":"100.00","leverageStep":"0.01"},"priceFilter":{"minPrice":"0.10","maxPrice":"1999999.80","tickSize":"0.10"},"lotSizeFilter":{"maxOrderQty":"1190.000","minOrderQty":"0.001","qtyStep":"0.001","postOnlyMaxOrderQty":"1190.000","maxMktOrderQty":"500.000","minNotionalValue":"5"},"unifiedMarginTrade":true,"fundingInterval":480,"settleCoin":"USDT"},{"symbol":"BTCPERP","contractType":"LinearPerpetual","status":"Trading","baseCoin":"BTC","quoteCoin":"USDC","settleCoin":"USDC","priceFilter":{"tickSize":"0.5"},"lotSizeFilter":{"qtyStep":"0.001","minOrderQty":"0.001"}},{"symbol":"BTC-26DEC25","contractType":"LinearFutures","status":"Trading","baseCoin":"BTC","quoteCoin":"USDC","settleCoin":"USDC","priceFilter":{"tickSize":"0.5"},"lotSizeFilter":{"qtyStep":"0.001"}}],"nextPageCursor":""},"retExtInfo":{},"time":1707186451514}"#;

    #[test]
    fn one_query_per_category() {
        let s: Vec<Arc<str>> = vec!["ETH/USDT:USDT".into(), "BTC/USDT".into()];
        let q = queries("http://h/bybit", &s).unwrap();
        assert_eq!(
            q.iter()
                .map(|q| (q.part, q.url.as_str()))
                .collect::<Vec<_>>(),
            [
                (
                    "linear",
                    "http://h/bybit/v5/market/instruments-info?category=linear&limit=1000"
                ),
                (
                    "spot",
                    "http://h/bybit/v5/market/instruments-info?category=spot"
                ),
            ]
        );
    }

    #[test]
    fn documented_spot_item_parses_exactly() {
        let got = parse("spot", SPOT).unwrap();
        let i = &got[0];
        assert_eq!(
            (i.symbol.as_str(), i.native.as_str()),
            ("BTC/USDT", "BTCUSDT")
        );
        assert_eq!(i.tick_size.unwrap().to_string(), "0.1");
        assert_eq!(i.lot_size.unwrap().to_string(), "0.000001");
        assert_eq!(i.min_qty.unwrap().to_string(), "0.000011");
        assert_eq!(i.min_notional.unwrap().to_string(), "5");
        assert_eq!((i.price_scale, i.qty_scale), (Some(1), Some(6)));
        assert!(i.trading);
    }

    #[test]
    fn linear_perpetuals_carry_their_settlement() {
        let got = parse("linear", LINEAR).unwrap();
        assert_eq!(
            got.iter().map(|i| i.symbol.as_str()).collect::<Vec<_>>(),
            ["BTC/USDT:USDT", "BTC/USDC:USDC"]
        );
        assert_eq!(got[0].tick_size.unwrap().to_string(), "0.10");
        assert_eq!(got[0].price_scale, Some(1));
        assert_eq!(got[0].lot_size.unwrap().to_string(), "0.001");
        assert_eq!(got[0].min_notional.unwrap().to_string(), "5");
        // The names agree with what the adapter subscribes.
        for i in &got {
            assert_eq!(native(&i.symbol).unwrap().1, i.native);
        }
    }

    #[test]
    fn errors_are_typed() {
        let e = parse(
            "spot",
            r#"{"retCode":10001,"retMsg":"params error","result":{}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("10001"), "{e}");
        let empty = parse(
            "spot",
            r#"{"retCode":0,"retMsg":"OK","result":{"category":"spot","list":[]}}"#,
        )
        .unwrap();
        assert!(empty.is_empty());
    }
}
