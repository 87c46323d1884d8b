//! The unified symbol form shared by every venue: `BASE/QUOTE` for spot (`BTC/USDT`, `BTC/KRW`)
//! and `BASE/QUOTE:SETTLE` for perpetual swaps (`BTC/USDT:USDT` is the USDT-margined BTC
//! perpetual, `BTC/USD:BTC` the coin-margined one) and `BASE/QUOTE:SETTLE-YYMMDD` for dated
//! futures (`BTC/USD:BTC-220527`). Each venue maps the parts to its own native spelling in its
//! `symbols.rs`.

use tickrec_model::Venue;

use crate::VenueError;

/// A unified symbol split into its parts (upper-case ASCII letters and digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unified<'a> {
    /// Base asset (`BTC`).
    pub base: &'a str,
    /// Quote asset (`USDT`).
    pub quote: &'a str,
    /// Settlement asset of a swap or future; `None` for spot.
    pub settle: Option<&'a str>,
    /// Expiry `YYMMDD` of a dated future; `None` for spot and perpetuals.
    pub expiry: Option<&'a str>,
}

impl<'a> Unified<'a> {
    /// Splits `BASE/QUOTE` or `BASE/QUOTE:SETTLE`.
    ///
    /// # Errors
    /// [`VenueError::BadSymbol`] when a part is missing, empty or not alphanumeric.
    pub fn parse(venue: Venue, symbol: &'a str) -> Result<Self, VenueError> {
        let bad = || VenueError::BadSymbol {
            venue,
            symbol: symbol.to_string(),
        };
        let (pair, settle) = match symbol.split_once(':') {
            Some((p, s)) => (p, Some(s)),
            None => (symbol, None),
        };
        let (settle, expiry) = match settle.and_then(|s| s.split_once('-')) {
            Some((s, e)) => (Some(s), Some(e)),
            None => (settle, None),
        };
        if expiry.is_some_and(|e| e.len() != 6 || !e.bytes().all(|c| c.is_ascii_digit())) {
            return Err(bad());
        }
        let (base, quote) = pair.split_once('/').ok_or_else(bad)?;
        let ok = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric());
        if !ok(base) || !ok(quote) || settle.is_some_and(|s| !ok(s)) {
            return Err(bad());
        }
        Ok(Unified {
            base,
            quote,
            settle,
            expiry,
        })
    }

    /// True for a perpetual swap.
    pub const fn is_perpetual(&self) -> bool {
        self.settle.is_some() && self.expiry.is_none()
    }

    /// True for spot.
    pub const fn is_spot(&self) -> bool {
        self.settle.is_none()
    }
}

/// A configured symbol this venue cannot list in this form (e.g. a perpetual on a spot-only
/// venue).
pub(crate) fn unsupported(venue: Venue, symbol: &str, why: &'static str) -> VenueError {
    VenueError::UnsupportedSymbol {
        venue,
        symbol: symbol.to_string(),
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spot_and_perpetual_forms() {
        let u = Unified::parse(Venue::Okx, "BTC/USDT").expect("spot");
        assert_eq!((u.base, u.quote, u.settle), ("BTC", "USDT", None));
        let u = Unified::parse(Venue::Okx, "BTC/USDT:USDT").expect("perp");
        assert_eq!(u.settle, Some("USDT"));
        assert!(u.is_perpetual());
        let u = Unified::parse(Venue::Okx, "BTC/USD:BTC-220527").expect("future");
        assert_eq!((u.settle, u.expiry), (Some("BTC"), Some("220527")));
        assert!(!u.is_perpetual() && !u.is_spot());
        assert!(Unified::parse(Venue::Okx, "1INCH/KRW").is_ok());
        for bad in [
            "BTCUSDT",
            "BTC/",
            "/USDT",
            "BTC/USDT:",
            "BTC-USDT",
            "BTC/US DT",
            "BTC/USD:BTC-2205",
        ] {
            assert!(Unified::parse(Venue::Okx, bad).is_err(), "{bad}");
        }
    }
}
