//! OKX instruments: `GET /api/v5/public/instruments?instType=SPOT|SWAP|FUTURES` (protocols.md
//! §5.5), one request per instrument type configured. Reply `{"code":"0","msg":"","data":[…]}`;
//! per instrument `instId`, `baseCcy`/`quoteCcy` (spot), `uly` + `settleCcy` (swaps, futures),
//! `tickSz`, `lotSz`, `minSz`, `state` (`live`, `suspend`, `preopen`, `test`). Swap and future
//! sizes are in contracts (`ctVal` `ctValCcy` each).

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use tickrec_model::Venue;

use crate::instrument::{dec, opt_dec, scale_of, Instrument, InstrumentError, InstrumentQuery};
use crate::unified::Unified;
use crate::VenueError;

/// The `instType` of the instruments the configured symbols need, in a fixed order.
///
/// # Errors
/// [`VenueError::BadSymbol`] for a malformed symbol.
pub fn queries(base: &str, symbols: &[Arc<str>]) -> Result<Vec<InstrumentQuery>, VenueError> {
    let mut types = Vec::new();
    for s in symbols {
        let u = Unified::parse(Venue::Okx, s)?;
        let t = match (u.settle, u.expiry) {
            (None, _) => "SPOT",
            (Some(_), None) => "SWAP",
            (Some(_), Some(_)) => "FUTURES",
        };
        if !types.contains(&t) {
            types.push(t);
        }
    }
    types.sort_unstable();
    Ok(types
        .into_iter()
        .map(|t| InstrumentQuery {
            url: format!("{base}/api/v5/public/instruments?instType={t}"),
            part: t,
            supplement: false,
        })
        .collect())
}

#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow)]
    code: Cow<'a, str>,
    #[serde(borrow, default)]
    msg: Cow<'a, str>,
    #[serde(borrow, default)]
    data: Vec<Item<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item<'a> {
    #[serde(borrow)]
    inst_id: Cow<'a, str>,
    #[serde(borrow, default)]
    inst_type: Cow<'a, str>,
    #[serde(borrow, default)]
    base_ccy: Cow<'a, str>,
    #[serde(borrow, default)]
    quote_ccy: Cow<'a, str>,
    #[serde(borrow, default)]
    settle_ccy: Cow<'a, str>,
    #[serde(borrow, default)]
    uly: Cow<'a, str>,
    #[serde(borrow)]
    tick_sz: Cow<'a, str>,
    #[serde(borrow, default)]
    lot_sz: Cow<'a, str>,
    #[serde(borrow, default)]
    min_sz: Cow<'a, str>,
    #[serde(borrow, default)]
    state: Cow<'a, str>,
}

/// The unified symbol of an instrument: `BTC/USDT`, `BTC/USDT:USDT`, `BTC/USD:BTC-220527`.
fn unified(i: &Item<'_>) -> Option<(String, String, String)> {
    if i.inst_type == "SPOT" || i.uly.is_empty() {
        let (b, q) = if i.base_ccy.is_empty() {
            i.inst_id.split_once('-')?
        } else {
            (&*i.base_ccy, &*i.quote_ccy)
        };
        return Some((format!("{b}/{q}"), b.to_string(), q.to_string()));
    }
    let (b, q) = i.uly.split_once('-')?;
    let suffix = i.inst_id.strip_prefix(&*i.uly)?.strip_prefix('-')?;
    let symbol = if suffix == "SWAP" {
        format!("{b}/{q}:{}", i.settle_ccy)
    } else {
        format!("{b}/{q}:{}-{suffix}", i.settle_ccy)
    };
    Some((symbol, b.to_string(), q.to_string()))
}

/// Parses an `instruments` reply.
///
/// # Errors
/// [`InstrumentError`] when `code` is not `"0"` or a number is malformed.
pub fn parse(part: &'static str, body: &str) -> Result<Vec<Instrument>, InstrumentError> {
    let v = Venue::Okx;
    let reply: Reply<'_> =
        serde_json::from_str(body).map_err(|e| InstrumentError::malformed(v, part, e))?;
    if reply.code != "0" {
        return Err(InstrumentError::Venue {
            venue: v,
            part,
            detail: format!("code {}: {}", reply.code, reply.msg),
        });
    }
    reply
        .data
        .iter()
        .map(|i| {
            let (symbol, base, quote) = unified(i).ok_or_else(|| {
                InstrumentError::malformed(v, part, format!("instId `{}`", i.inst_id))
            })?;
            let tick_size = dec(v, part, "tickSz", &i.tick_sz)?;
            let lot_size = opt_dec(v, part, "lotSz", Some(&i.lot_sz))?;
            Ok(Instrument {
                venue: v,
                symbol,
                native: i.inst_id.to_string(),
                base,
                quote,
                tick_size: Some(tick_size),
                lot_size,
                min_qty: opt_dec(v, part, "minSz", Some(&i.min_sz))?,
                min_notional: None,
                price_scale: Some(scale_of(tick_size)),
                qty_scale: lot_size.map(scale_of),
                status: i.state.to_string(),
                trading: i.state == "live",
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real SPOT item of protocols.md §5.5 (cryptofeed `sample_data/OKX.0`, 2022) and a SWAP
    /// item in the documented shape.
    const SPOT: &str = r#"{"code":"0","data":[{"alias":"","baseCcy":"BTC","category":"1","ctMult":"","ctType":"","ctVal":"","ctValCcy":"","expTime":"","instId":"BTC-USDT","instType":"SPOT","lever":"10","listTime":"1548133413000","lotSz":"0.00000001","maxIcebergSz":"9999999999","maxLmtSz":"9999999999","maxMktSz":"1000000","maxStopSz":"1000000","maxTriggerSz":"9999999999","maxTwapSz":"9999999999","minSz":"0.00001","optType":"","quoteCcy":"USDT","settleCcy":"","state":"live","stk":"","tickSz":"0.1","uly":""}],"msg":""}"#;
    const SWAP: &str = r#"{"code":"0","msg":"","data":[{"alias":"","baseCcy":"","category":"1","ctMult":"1","ctType":"linear","ctVal":"0.01","ctValCcy":"BTC","expTime":"","instFamily":"BTC-USDT","instId":"BTC-USDT-SWAP","instType":"SWAP","lever":"100","listTime":"1573557408000","lotSz":"0.01","maxLmtSz":"10000","minSz":"0.01","quoteCcy":"","settleCcy":"USDT","state":"live","tickSz":"0.1","uly":"BTC-USDT"},{"instId":"BTC-USD-SWAP","instType":"SWAP","ctType":"inverse","ctVal":"100","ctValCcy":"USD","lotSz":"1","minSz":"1","settleCcy":"BTC","state":"suspend","tickSz":"0.1","uly":"BTC-USD"}]}"#;

    #[test]
    fn one_query_per_instrument_type() {
        let s: Vec<Arc<str>> = vec!["BTC/USDT:USDT".into(), "BTC/USDT".into(), "ETH/USDT".into()];
        let q = queries("http://h/okx", &s).unwrap();
        assert_eq!(
            q.iter().map(|q| q.url.as_str()).collect::<Vec<_>>(),
            [
                "http://h/okx/api/v5/public/instruments?instType=SPOT",
                "http://h/okx/api/v5/public/instruments?instType=SWAP"
            ]
        );
        assert_eq!(q[1].part, "SWAP");
    }

    #[test]
    fn real_spot_item_parses_exactly() {
        let got = parse("SPOT", SPOT).unwrap();
        assert_eq!(got.len(), 1);
        let i = &got[0];
        assert_eq!(
            (i.symbol.as_str(), i.native.as_str()),
            ("BTC/USDT", "BTC-USDT")
        );
        assert_eq!(i.tick_size.unwrap().to_string(), "0.1");
        assert_eq!(i.lot_size.unwrap().to_string(), "0.00000001");
        assert_eq!(i.min_qty.unwrap().to_string(), "0.00001");
        assert_eq!((i.price_scale, i.qty_scale), (Some(1), Some(8)));
        assert!(i.trading);
    }

    #[test]
    fn swaps_are_named_with_their_settlement() {
        let got = parse("SWAP", SWAP).unwrap();
        assert_eq!(got[0].symbol, "BTC/USDT:USDT");
        assert_eq!(got[0].lot_size.unwrap().to_string(), "0.01");
        assert_eq!(got[1].symbol, "BTC/USD:BTC");
        assert!(!got[1].trading);
        // The names agree with what the adapter subscribes.
        assert_eq!(
            crate::okx::symbols::inst_id(&got[1].symbol).unwrap(),
            got[1].native
        );
    }

    #[test]
    fn errors_are_typed() {
        let e = parse(
            "SPOT",
            r#"{"code":"51000","msg":"Parameter instType error","data":[]}"#,
        )
        .unwrap_err();
        assert!(matches!(e, InstrumentError::Venue { .. }), "{e}");
        assert!(parse("SPOT", r#"{"code":"0","msg":"","data":[{"instId":"X"}]}"#).is_err());
    }
}
