//! Coinbase product ids: `BTC-USD` ⇄ unified `BTC/USD`. Advanced Trade market data reports
//! `-USDC` products under their `-USD` alias, so a configured `BTC/USDC` also answers to
//! `BTC-USD` (unless `BTC/USD` itself is configured on the same connection).

use std::collections::HashMap;
use std::sync::Arc;

use tickrec_model::Venue;

use crate::unified::{unsupported, Unified};
use crate::VenueError;

/// The product id of a unified symbol.
///
/// # Errors
/// [`VenueError::BadSymbol`] for a malformed symbol, [`VenueError::UnsupportedSymbol`] for a
/// derivative.
pub fn product_id(unified: &str) -> Result<String, VenueError> {
    let u = Unified::parse(Venue::Coinbase, unified)?;
    if !u.is_spot() {
        return Err(unsupported(
            Venue::Coinbase,
            unified,
            "tickrec records Coinbase spot products only",
        ));
    }
    Ok(format!("{}-{}", u.base, u.quote))
}

/// Lookup from product id to the unified symbol.
#[derive(Debug, Default, Clone)]
pub struct SymbolMap {
    by_native: HashMap<String, Arc<str>>,
}

impl SymbolMap {
    /// Builds the map for the given unified symbols.
    ///
    /// # Errors
    /// As [`product_id`].
    pub fn new(unified: &[Arc<str>]) -> Result<Self, VenueError> {
        let mut by_native = HashMap::new();
        for u in unified {
            by_native.insert(product_id(u)?, u.clone());
        }
        for u in unified {
            if let Some(base) = product_id(u)?.strip_suffix("-USDC") {
                by_native
                    .entry(format!("{base}-USD"))
                    .or_insert_with(|| u.clone());
            }
        }
        Ok(SymbolMap { by_native })
    }

    /// The unified symbol of a product id, if subscribed.
    pub fn unified(&self, native: &str) -> Option<&Arc<str>> {
        self.by_native.get(native)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_ids_and_the_usdc_alias() {
        assert_eq!(product_id("BTC/USD").expect("spot"), "BTC-USD");
        assert!(product_id("BTC/USD:USD").is_err());
        let m = SymbolMap::new(&[Arc::from("ETH/USDC")]).expect("map");
        assert_eq!(m.unified("ETH-USD").map(|s| &**s), Some("ETH/USDC"));
        let m = SymbolMap::new(&[Arc::from("ETH/USDC"), Arc::from("ETH/USD")]).expect("map");
        assert_eq!(m.unified("ETH-USD").map(|s| &**s), Some("ETH/USD"));
    }
}
