//! Upbit market codes are `QUOTE-BASE`: `KRW-BTC` is BTC priced in KRW, unified `BTC/KRW`.
//! Upbit lists spot markets only.

use std::collections::HashMap;
use std::sync::Arc;

use tickrec_model::Venue;

use crate::unified::{unsupported, Unified};
use crate::VenueError;

/// The market code of a unified symbol (`BTC/KRW` → `KRW-BTC`).
///
/// # Errors
/// [`VenueError::BadSymbol`] for a malformed symbol, [`VenueError::UnsupportedSymbol`] for a
/// derivative.
pub fn market_code(unified: &str) -> Result<String, VenueError> {
    let u = Unified::parse(Venue::Upbit, unified)?;
    if !u.is_spot() {
        return Err(unsupported(
            Venue::Upbit,
            unified,
            "Upbit lists spot markets only",
        ));
    }
    Ok(format!("{}-{}", u.quote, u.base))
}

/// Lookup from market code to the unified symbol.
#[derive(Debug, Default, Clone)]
pub struct SymbolMap {
    by_native: HashMap<String, Arc<str>>,
}

impl SymbolMap {
    /// Builds the map for the given unified symbols.
    ///
    /// # Errors
    /// As [`market_code`].
    pub fn new(unified: &[Arc<str>]) -> Result<Self, VenueError> {
        let mut by_native = HashMap::new();
        for u in unified {
            by_native.insert(market_code(u)?, u.clone());
        }
        Ok(SymbolMap { by_native })
    }

    /// The unified symbol of a market code, if subscribed.
    pub fn unified(&self, native: &str) -> Option<&Arc<str>> {
        self.by_native.get(native)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_codes_are_quote_first() {
        assert_eq!(market_code("BTC/KRW").expect("spot"), "KRW-BTC");
        assert_eq!(market_code("ARK/BTC").expect("spot"), "BTC-ARK");
        assert_eq!(market_code("1INCH/KRW").expect("spot"), "KRW-1INCH");
        assert!(matches!(
            market_code("BTC/USDT:USDT"),
            Err(VenueError::UnsupportedSymbol { .. })
        ));
    }
}
