//! Kraken spot instruments: `GET /0/public/AssetPairs` (protocols.md §2.6). Pairs are keyed by
//! the REST name (`XXBTZUSD`); the unified symbol comes from `wsname` (`XBT/USD`, v1 spelling)
//! through the same alias table the WebSocket v2 names use (`XBT` → `BTC`, `XDG` → `DOGE`).
//! Tick size is `tick_size` (older replies: 10^-`pair_decimals`), the lot 10^-`lot_decimals`,
//! minimums `ordermin` (base) and `costmin` (quote). Pairs without a `wsname` (dark pools) are
//! not on the WebSocket and are skipped.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use tickrec_model::{Decimal, Venue};

use crate::instrument::{dec, opt_dec, Instrument, InstrumentError, InstrumentQuery};
use crate::kraken::symbols::canonical;
use crate::VenueError;

const PART: &str = "AssetPairs";

/// The request listing every pair.
///
/// # Errors
/// Never for Kraken; the signature is shared.
pub fn queries(base: &str, _symbols: &[Arc<str>]) -> Result<Vec<InstrumentQuery>, VenueError> {
    Ok(vec![InstrumentQuery {
        url: format!("{base}/0/public/AssetPairs"),
        part: PART,
        supplement: false,
    }])
}

#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow, default)]
    error: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    result: Option<BTreeMap<Cow<'a, str>, Pair<'a>>>,
}

#[derive(Deserialize)]
struct Pair<'a> {
    #[serde(borrow, default)]
    wsname: Option<Cow<'a, str>>,
    pair_decimals: u8,
    lot_decimals: u8,
    #[serde(borrow, default)]
    ordermin: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    costmin: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tick_size: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
}

/// 10^-`decimals`.
fn step(decimals: u8) -> Option<Decimal> {
    Decimal::new(1, decimals).ok()
}

/// Parses an `AssetPairs` reply.
///
/// # Errors
/// [`InstrumentError`] for a non-empty `error` list or a malformed pair.
pub fn parse(part: &'static str, body: &str) -> Result<Vec<Instrument>, InstrumentError> {
    let v = Venue::Kraken;
    let reply: Reply<'_> =
        serde_json::from_str(body).map_err(|e| InstrumentError::malformed(v, part, e))?;
    if !reply.error.is_empty() {
        return Err(InstrumentError::Venue {
            venue: v,
            part,
            detail: reply.error.join(", "),
        });
    }
    let result = reply
        .result
        .ok_or_else(|| InstrumentError::malformed(v, part, "no `result`"))?;
    let mut out = Vec::with_capacity(result.len());
    for (key, p) in &result {
        let Some(ws) = p.wsname.as_deref() else {
            continue;
        };
        let symbol = canonical(ws)
            .map_err(|_| InstrumentError::malformed(v, part, format!("{key}: wsname `{ws}`")))?;
        let (base, quote) = symbol.split_once('/').unwrap_or((&symbol, ""));
        let bad_decimals = || InstrumentError::malformed(v, part, format!("{key}: decimals"));
        let tick_size = match p.tick_size.as_deref() {
            Some(t) if !t.is_empty() => dec(v, part, "tick_size", t)?,
            _ => step(p.pair_decimals).ok_or_else(bad_decimals)?,
        };
        let status = p.status.as_deref().unwrap_or("online").to_string();
        out.push(Instrument {
            venue: v,
            base: base.to_string(),
            quote: quote.to_string(),
            native: key.to_string(),
            tick_size: Some(tick_size),
            lot_size: Some(step(p.lot_decimals).ok_or_else(bad_decimals)?),
            min_qty: opt_dec(v, part, "ordermin", p.ordermin.as_deref())?,
            min_notional: opt_dec(v, part, "costmin", p.costmin.as_deref())?,
            price_scale: Some(p.pair_decimals),
            qty_scale: Some(p.lot_decimals),
            trading: status == "online",
            status,
            symbol,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pair of nautilus' `http_asset_pairs.json` quoted in protocols.md §2.6, completed with
    /// the documented fields, plus the classic `XXBTZUSD` and a dark-pool pair (no `wsname`).
    const REPLY: &str = r#"{"error":[],"result":{"XBTUSDT":{"altname":"XBTUSDT","wsname":"XBT/USDT","aclass_base":"currency","base":"XXBT","aclass_quote":"currency","quote":"USDT","lot":"unit","cost_decimals":5,"pair_decimals":1,"lot_decimals":8,"lot_multiplier":1,"leverage_buy":[2,3],"leverage_sell":[2,3],"fees":[[0,0.4]],"fees_maker":[[0,0.25]],"fee_volume_currency":"ZUSD","margin_call":80,"margin_stop":40,"ordermin":"0.00005","costmin":"0.5","tick_size":"0.1","status":"online"},"XXBTZUSD":{"altname":"XBTUSD","wsname":"XBT/USD","aclass_base":"currency","base":"XXBT","aclass_quote":"currency","quote":"ZUSD","lot":"unit","cost_decimals":5,"pair_decimals":1,"lot_decimals":8,"lot_multiplier":1,"ordermin":"0.00005","costmin":"0.5","tick_size":"0.1","status":"online"},"XXDGXXBT":{"altname":"XDGXBT","wsname":"XDG/XBT","base":"XXDG","quote":"XXBT","pair_decimals":9,"lot_decimals":8,"ordermin":"50","status":"cancel_only"},"XBTUSD.d":{"altname":"XBTUSD.d","base":"XXBT","quote":"ZUSD","pair_decimals":1,"lot_decimals":8}}}"#;

    #[test]
    fn reply_parses_exactly_with_v2_names() {
        assert_eq!(
            queries("http://h/kraken", &[]).unwrap()[0].url,
            "http://h/kraken/0/public/AssetPairs"
        );
        let got = parse(PART, REPLY).unwrap();
        assert_eq!(got.len(), 3, "the dark pool is skipped");
        let usdt = got.iter().find(|i| i.native == "XBTUSDT").unwrap();
        assert_eq!(usdt.symbol, "BTC/USDT");
        assert_eq!(usdt.tick_size.unwrap().to_string(), "0.1");
        assert_eq!(usdt.lot_size.unwrap().to_string(), "0.00000001");
        assert_eq!(usdt.min_qty.unwrap().to_string(), "0.00005");
        assert_eq!(usdt.min_notional.unwrap().to_string(), "0.5");
        assert_eq!((usdt.price_scale, usdt.qty_scale), (Some(1), Some(8)));
        assert!(usdt.trading);
        let usd = got.iter().find(|i| i.native == "XXBTZUSD").unwrap();
        assert_eq!(
            (usd.symbol.as_str(), usd.quote.as_str()),
            ("BTC/USD", "USD")
        );
        let doge = got.iter().find(|i| i.native == "XXDGXXBT").unwrap();
        assert_eq!(doge.symbol, "DOGE/BTC");
        assert_eq!(
            doge.tick_size.unwrap().to_string(),
            "0.000000001",
            "from pair_decimals"
        );
        assert_eq!((doge.status.as_str(), doge.trading), ("cancel_only", false));
    }

    #[test]
    fn errors_are_typed() {
        let e = parse(PART, r#"{"error":["EGeneral:Too many requests"]}"#).unwrap_err();
        assert!(matches!(e, InstrumentError::Venue { .. }), "{e}");
        assert!(parse(PART, r#"{"error":[]}"#).is_err());
        assert!(parse(PART, "[]").is_err());
    }
}
