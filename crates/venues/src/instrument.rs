//! Instrument metadata: what a venue lists (tick size, lot size, minimums, status) for each
//! market, fetched once from its REST instruments endpoint at start-up.
//!
//! Every venue folder has an `instruments.rs` with the same two functions: `queries` (the REST
//! requests that list the configured symbols' instruments) and `parse` (one reply → exact
//! [`Instrument`]s). [`queries`] and [`parse`] dispatch to them, so callers never match on the
//! venue. The HTTP itself is the caller's (the recorder's start-up check), as for backfill.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tickrec_model::{Decimal, Venue};

use crate::{binance, bybit, coinbase, kraken, okx, upbit, VenueError};

/// One market as the venue lists it. Prices and quantities are exact decimals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instrument {
    /// Venue.
    pub venue: Venue,
    /// Unified symbol (`BTC/USDT`, `BTC/USDT:USDT`).
    pub symbol: String,
    /// The venue's own name (`BTCUSDT`, `XXBTZUSD`, `KRW-BTC`).
    pub native: String,
    /// Base asset in unified spelling (`BTC`).
    pub base: String,
    /// Quote asset in unified spelling (`USDT`).
    pub quote: String,
    /// Smallest price increment; `None` only when the venue's tick request failed (Upbit lists
    /// its markets and their tick sizes on two endpoints).
    #[serde(with = "opt_decimal_text", default)]
    pub tick_size: Option<Decimal>,
    /// Smallest quantity increment (contracts for OKX swaps); `None` when the venue does not
    /// publish it (Upbit).
    #[serde(with = "opt_decimal_text", default)]
    pub lot_size: Option<Decimal>,
    /// Smallest order quantity, when published.
    #[serde(with = "opt_decimal_text", default)]
    pub min_qty: Option<Decimal>,
    /// Smallest order value in the quote asset, when published.
    #[serde(with = "opt_decimal_text", default)]
    pub min_notional: Option<Decimal>,
    /// Decimals of a price on this market (the tick's, or the venue's stated precision).
    #[serde(default)]
    pub price_scale: Option<u8>,
    /// Decimals of a quantity, when known.
    #[serde(default)]
    pub qty_scale: Option<u8>,
    /// The venue's status text (`TRADING`, `online`, `live`, `Trading`, `NONE`…).
    pub status: String,
    /// Whether that status means the market trades now.
    pub trading: bool,
}

impl Instrument {
    /// True when `price` is a whole number of ticks (or the tick is unknown).
    pub fn on_tick(&self, price: Decimal) -> bool {
        self.tick_size.is_none_or(|t| is_multiple(price, t))
    }
}

/// True when `value` is an integer multiple of `step` (exact; a zero step accepts everything).
pub fn is_multiple(value: Decimal, step: Decimal) -> bool {
    let (v, s) = (value.normalized(), step.normalized());
    if s.mantissa() == 0 {
        return true;
    }
    let scale = v.scale().max(s.scale());
    let up = |d: Decimal| -> Option<i128> {
        let k = u32::from(scale - d.scale());
        10i128
            .checked_pow(k)
            .and_then(|f| i128::from(d.mantissa()).checked_mul(f))
    };
    match (up(v), up(s)) {
        (Some(a), Some(b)) => a % b == 0,
        _ => false,
    }
}

/// Decimals of a step written `0.01000000` (the normalized scale: 2).
pub fn scale_of(step: Decimal) -> u8 {
    step.normalized().scale()
}

/// One REST request of a venue's instrument list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentQuery {
    /// Full URL.
    pub url: String,
    /// Which reply shape the URL returns (venue-specific, handed back to [`parse`]).
    pub part: &'static str,
    /// The reply only completes the listing of the earlier queries (Upbit's tick sizes): if it
    /// fails, the listing stands without those fields.
    pub supplement: bool,
}

/// Why an instruments reply could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstrumentError {
    /// The body is not the documented shape.
    #[error("{venue} instruments ({part}): malformed reply: {detail}")]
    Malformed {
        /// Venue.
        venue: Venue,
        /// Which request.
        part: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The venue answered with an error code.
    #[error("{venue} instruments ({part}): venue error: {detail}")]
    Venue {
        /// Venue.
        venue: Venue,
        /// Which request.
        part: &'static str,
        /// The venue's code and message.
        detail: String,
    },
}

impl InstrumentError {
    pub(crate) fn malformed(venue: Venue, part: &'static str, detail: impl ToString) -> Self {
        InstrumentError::Malformed {
            venue,
            part,
            detail: detail.to_string(),
        }
    }
}

/// Parses a decimal field of an instruments reply.
pub(crate) fn dec(
    venue: Venue,
    part: &'static str,
    field: &str,
    text: &str,
) -> Result<Decimal, InstrumentError> {
    Decimal::parse(text.trim())
        .map_err(|e| InstrumentError::malformed(venue, part, format!("{field} `{text}`: {e}")))
}

/// Parses an optional decimal field; empty text counts as absent.
pub(crate) fn opt_dec(
    venue: Venue,
    part: &'static str,
    field: &str,
    text: Option<&str>,
) -> Result<Option<Decimal>, InstrumentError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => dec(venue, part, field, t).map(Some),
    }
}

/// The requests that list the instruments of `symbols` (unified) on `venue` at `rest_base`.
///
/// # Errors
/// [`VenueError`] for a symbol the venue cannot name.
pub fn queries(
    venue: Venue,
    rest_base: &str,
    symbols: &[Arc<str>],
) -> Result<Vec<InstrumentQuery>, VenueError> {
    let base = rest_base.trim_end_matches('/');
    match venue {
        Venue::Binance => binance::instruments::queries(base, symbols),
        Venue::Kraken => kraken::instruments::queries(base, symbols),
        Venue::Coinbase => coinbase::instruments::queries(base, symbols),
        Venue::Okx => okx::instruments::queries(base, symbols),
        Venue::Bybit => bybit::instruments::queries(base, symbols),
        Venue::Upbit => upbit::instruments::queries(base, symbols),
    }
}

/// Parses the reply to one of [`queries`]' requests. A venue whose list takes several requests
/// (Upbit: markets, then tick sizes) is merged by [`merge`].
///
/// # Errors
/// [`InstrumentError`] when the body is not the documented shape or carries a venue error.
pub fn parse(
    venue: Venue,
    part: &'static str,
    body: &str,
) -> Result<Vec<Instrument>, InstrumentError> {
    match venue {
        Venue::Binance => binance::instruments::parse(part, body),
        Venue::Kraken => kraken::instruments::parse(part, body),
        Venue::Coinbase => coinbase::instruments::parse(part, body),
        Venue::Okx => okx::instruments::parse(part, body),
        Venue::Bybit => bybit::instruments::parse(part, body),
        Venue::Upbit => upbit::instruments::parse(part, body),
    }
}

/// Combines the parsed replies of one venue's queries, in query order: a later entry for the
/// same symbol completes an earlier one (Upbit's tick sizes arrive after its market list).
pub fn merge(parts: Vec<Vec<Instrument>>) -> Vec<Instrument> {
    let mut out: Vec<Instrument> = Vec::new();
    for part in parts {
        for i in part {
            match out.iter_mut().find(|o| o.symbol == i.symbol) {
                Some(o) => {
                    o.tick_size = i.tick_size.or(o.tick_size);
                    o.price_scale = i.price_scale.or(o.price_scale);
                    o.lot_size = i.lot_size.or(o.lot_size);
                    o.min_qty = i.min_qty.or(o.min_qty);
                    o.min_notional = i.min_notional.or(o.min_notional);
                    o.qty_scale = i.qty_scale.or(o.qty_scale);
                }
                None => out.push(i),
            }
        }
    }
    out
}

/// Listed symbols that look like `wanted`: the same base asset, else the same quote asset, at
/// most `limit`, sorted. Used to answer "did you mean" for a symbol the venue does not list.
pub fn close_matches<'a>(
    listed: impl IntoIterator<Item = &'a Instrument>,
    wanted: &str,
    limit: usize,
) -> Vec<String> {
    let (base, rest) = wanted.split_once('/').unwrap_or((wanted, ""));
    let quote = rest.split(':').next().unwrap_or("");
    let listed: Vec<&Instrument> = listed.into_iter().collect();
    let pick = |same: &dyn Fn(&Instrument) -> bool| {
        let mut v: Vec<String> = listed
            .iter()
            .filter(|i| same(i))
            .map(|i| i.symbol.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let mut v = pick(&|i| i.base.eq_ignore_ascii_case(base));
    if v.is_empty() {
        v = pick(&|i| i.quote.eq_ignore_ascii_case(quote) && i.base.len() == base.len());
    }
    v.truncate(limit);
    v
}

/// `Option<Decimal>` as text or null in the cache file.
mod opt_decimal_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use tickrec_model::Decimal;

    pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.collect_str(d),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| Decimal::parse(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    fn inst(symbol: &str) -> Instrument {
        let (base, quote) = symbol.split_once('/').unwrap();
        Instrument {
            venue: Venue::Binance,
            symbol: symbol.into(),
            native: symbol.replace('/', ""),
            base: base.into(),
            quote: quote.split(':').next().unwrap().into(),
            tick_size: Some(d("0.01")),
            lot_size: Some(d("0.00001")),
            min_qty: None,
            min_notional: Some(d("5")),
            price_scale: Some(2),
            qty_scale: Some(5),
            status: "TRADING".into(),
            trading: true,
        }
    }

    #[test]
    fn multiples_are_exact() {
        assert!(is_multiple(d("29963.20"), d("0.1")));
        assert!(!is_multiple(d("29963.25"), d("0.1")));
        assert!(is_multiple(d("142009000"), d("1000")));
        assert!(!is_multiple(d("142009500"), d("1000")));
        assert!(is_multiple(d("0.35280000"), d("0.00010000")));
        assert!(is_multiple(d("1"), d("0")));
        assert_eq!(scale_of(d("0.01000000")), 2);
        assert_eq!(scale_of(d("1000")), 0);
    }

    #[test]
    fn close_matches_prefer_the_base_asset() {
        let listed = [
            inst("BTC/USDT"),
            inst("BTC/FDUSD"),
            inst("ETH/USDT"),
            inst("SOL/USDT"),
        ];
        assert_eq!(
            close_matches(&listed, "BTC/USDX", 5),
            ["BTC/FDUSD", "BTC/USDT"]
        );
        assert_eq!(
            close_matches(&listed, "XRP/USDT", 5),
            ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
        );
        assert!(close_matches(&listed, "DOGEWIF/EUR", 5).is_empty());
    }

    #[test]
    fn cache_form_round_trips() {
        let mut i = inst("BTC/USDT");
        i.min_qty = None;
        let text = serde_json::to_string(&i).unwrap();
        assert!(text.contains(r#""tick_size":"0.01""#), "{text}");
        assert!(text.contains(r#""min_qty":null"#), "{text}");
        let back: Instrument = serde_json::from_str(&text).unwrap();
        assert_eq!(back, i);
    }

    #[test]
    fn merge_completes_earlier_parts() {
        let mut a = inst("BTC/KRW");
        a.tick_size = None;
        a.price_scale = None;
        a.lot_size = None;
        let mut b = a.clone();
        b.tick_size = Some(d("1000"));
        b.price_scale = Some(0);
        b.status = "ignored".into();
        let m = merge(vec![vec![a.clone()], vec![b]]);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].tick_size, Some(d("1000")));
        assert_eq!(m[0].status, a.status, "the listing's status stands");
        assert!(m[0].on_tick(d("142009000")) && !m[0].on_tick(d("142009500")));
        assert!(a.on_tick(d("1.5")), "unknown tick: nothing to check");
    }
}
