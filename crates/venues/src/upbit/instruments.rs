//! Upbit instruments, from two public endpoints (protocols.md §7.5–7.6):
//! - `GET /v1/market/all?is_details=true` — the listing: `market` (`KRW-BTC`, quote first),
//!   names, and the warning state (`market_warning` `NONE`/`CAUTION`, or the newer
//!   `market_event.warning`); it has no tick size;
//! - `GET /v1/orderbook/instruments?markets=KRW-BTC,…` — the tick size (`tick_size`, text) of
//!   the configured markets (Upbit's "호가 정책 조회", 2025). A supplement: if it fails the
//!   listing stands without ticks.
//!
//! Upbit publishes no lot size or minimum quantity for its quotation API (orders are limited by
//! value: 5000 KRW), so those fields stay `None`.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use tickrec_model::Venue;

use crate::instrument::{dec, scale_of, Instrument, InstrumentError, InstrumentQuery};
use crate::upbit::symbols::market_code;
use crate::VenueError;

const MARKETS: &str = "markets";
const TICKS: &str = "ticks";

/// The market list, then the tick sizes of the configured markets.
///
/// # Errors
/// [`VenueError`] for a symbol Upbit cannot name.
pub fn queries(base: &str, symbols: &[Arc<str>]) -> Result<Vec<InstrumentQuery>, VenueError> {
    let codes = symbols
        .iter()
        .map(|s| market_code(s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(vec![
        InstrumentQuery {
            url: format!("{base}/v1/market/all?is_details=true"),
            part: MARKETS,
            supplement: false,
        },
        InstrumentQuery {
            url: format!(
                "{base}/v1/orderbook/instruments?markets={}",
                codes.join(",")
            ),
            part: TICKS,
            supplement: true,
        },
    ])
}

#[derive(Deserialize)]
struct Market<'a> {
    #[serde(borrow)]
    market: Cow<'a, str>,
    #[serde(borrow, default)]
    market_warning: Option<Cow<'a, str>>,
    #[serde(default)]
    market_event: Option<MarketEvent>,
}

#[derive(Deserialize)]
struct MarketEvent {
    #[serde(default)]
    warning: bool,
}

#[derive(Deserialize)]
struct Tick<'a> {
    #[serde(borrow)]
    market: Cow<'a, str>,
    /// Text in the documentation; a JSON number is taken as its exact text too.
    #[serde(borrow)]
    tick_size: &'a RawValue,
}

#[derive(Deserialize)]
struct ErrorReply<'a> {
    #[serde(borrow)]
    error: ErrorBody<'a>,
}

#[derive(Deserialize)]
struct ErrorBody<'a> {
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    message: Cow<'a, str>,
}

/// `KRW-BTC` → (`BTC/KRW`, `BTC`, `KRW`).
fn unified(code: &str) -> Option<(String, String, String)> {
    let (quote, base) = code.split_once('-')?;
    Some((
        format!("{base}/{quote}"),
        base.to_string(),
        quote.to_string(),
    ))
}

/// Parses a `market/all` (`markets`) or `orderbook/instruments` (`ticks`) reply.
///
/// # Errors
/// [`InstrumentError`] for an `{"error":…}` body, a malformed code or tick.
pub fn parse(part: &'static str, body: &str) -> Result<Vec<Instrument>, InstrumentError> {
    let v = Venue::Upbit;
    // Replies are arrays; an error is an object (serde would read an array as a struct too).
    let object = body.trim_start().starts_with('{');
    if let Some(e) = object
        .then(|| serde_json::from_str::<ErrorReply<'_>>(body).ok())
        .flatten()
    {
        return Err(InstrumentError::Venue {
            venue: v,
            part,
            detail: format!(
                "{}: {}",
                e.error.name.map_or("error", RawValue::get),
                e.error.message
            ),
        });
    }
    let bad_code = |c: &str| InstrumentError::malformed(v, part, format!("market `{c}`"));
    let listed = |code: &str| -> Result<Instrument, InstrumentError> {
        let (symbol, base, quote) = unified(code).ok_or_else(|| bad_code(code))?;
        Ok(Instrument {
            venue: v,
            symbol,
            native: code.to_string(),
            base,
            quote,
            tick_size: None,
            lot_size: None,
            min_qty: None,
            min_notional: None,
            price_scale: None,
            qty_scale: None,
            status: String::new(),
            trading: true,
        })
    };
    if part == TICKS {
        let ticks: Vec<Tick<'_>> =
            serde_json::from_str(body).map_err(|e| InstrumentError::malformed(v, part, e))?;
        return ticks
            .iter()
            .map(|t| {
                let text = t.tick_size.get().trim_matches('"');
                let tick = dec(v, part, "tick_size", text)?;
                let mut i = listed(&t.market)?;
                i.tick_size = Some(tick);
                i.price_scale = Some(scale_of(tick));
                Ok(i)
            })
            .collect();
    }
    let markets: Vec<Market<'_>> =
        serde_json::from_str(body).map_err(|e| InstrumentError::malformed(v, part, e))?;
    markets
        .iter()
        .map(|m| {
            let mut i = listed(&m.market)?;
            let warning = m.market_event.as_ref().is_some_and(|e| e.warning)
                || m.market_warning.as_deref() == Some("CAUTION");
            i.status = if warning { "CAUTION" } else { "NONE" }.to_string();
            Ok(i)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::merge;

    /// `market/all?is_details=true` in the documented shapes (the older `market_warning` and the
    /// newer `market_event`), and `orderbook/instruments` as documented.
    const MARKETS_REPLY: &str = r#"[{"market":"KRW-BTC","korean_name":"비트코인","english_name":"Bitcoin","market_warning":"NONE"},{"market":"KRW-1INCH","korean_name":"1인치네트워크","english_name":"1inch Network","market_event":{"warning":true,"caution":{"PRICE_FLUCTUATIONS":false,"TRADING_VOLUME_SOARING":false,"DEPOSIT_AMOUNT_SOARING":true,"GLOBAL_PRICE_DIFFERENCES":false,"CONCENTRATION_OF_SMALL_ACCOUNTS":false}}},{"market":"BTC-ETH","korean_name":"이더리움","english_name":"Ethereum"}]"#;
    const TICKS_REPLY: &str = r#"[{"market":"KRW-BTC","quote_currency":"KRW","tick_size":"1000","supported_levels":["0","10000","100000","1000000","10000000","100000000"]},{"market":"BTC-ETH","quote_currency":"BTC","tick_size":"0.00000001","supported_levels":["0"]}]"#;

    #[test]
    fn listing_then_ticks() {
        let s: Vec<Arc<str>> = vec!["BTC/KRW".into(), "ETH/BTC".into()];
        let q = queries("http://h/upbit", &s).unwrap();
        assert_eq!(q[0].url, "http://h/upbit/v1/market/all?is_details=true");
        assert_eq!(
            q[1].url,
            "http://h/upbit/v1/orderbook/instruments?markets=KRW-BTC,BTC-ETH"
        );
        assert!(!q[0].supplement && q[1].supplement);
        let m = parse(MARKETS, MARKETS_REPLY).unwrap();
        assert_eq!(
            m.iter().map(|i| i.symbol.as_str()).collect::<Vec<_>>(),
            ["BTC/KRW", "1INCH/KRW", "ETH/BTC"]
        );
        assert_eq!(m[1].status, "CAUTION");
        assert_eq!(m[0].tick_size, None);
        let t = parse(TICKS, TICKS_REPLY).unwrap();
        let all = merge(vec![m, t]);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].tick_size.unwrap().to_string(), "1000");
        assert_eq!(all[0].price_scale, Some(0));
        assert_eq!(all[0].status, "NONE");
        assert_eq!(all[2].tick_size.unwrap().to_string(), "0.00000001");
        assert_eq!(all[2].price_scale, Some(8));
        assert_eq!(all[1].tick_size, None, "not asked for");
        // A one-element array is a reply, not an error object.
        let one = parse(TICKS, r#"[{"market":"KRW-BTC","tick_size":"1000"}]"#).unwrap();
        assert_eq!(one[0].tick_size.unwrap().to_string(), "1000");
        let one = parse(MARKETS, r#"[{"market":"KRW-BTC"}]"#).unwrap();
        assert_eq!(one[0].symbol, "BTC/KRW");
    }

    #[test]
    fn errors_are_typed() {
        let e = parse(
            TICKS,
            r#"{"error":{"name":404,"message":"Code not found"}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("404: Code not found"), "{e}");
        assert!(parse(MARKETS, r#"[{"market":"KRWBTC"}]"#).is_err());
        assert!(parse(TICKS, r#"[{"market":"KRW-BTC","tick_size":"x"}]"#).is_err());
    }
}
