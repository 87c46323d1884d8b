//! OKX instrument ids: spot `BTC-USDT` ⇄ unified `BTC/USDT`; perpetual swaps `BTC-USDT-SWAP`
//! (USDT-margined, unified `BTC/USDT:USDT`) and `BTC-USD-SWAP` (coin-margined, `BTC/USD:BTC`);
//! dated futures `BTC-USD-220527` (`BTC/USD:BTC-220527`).
//!
//! Native → unified is a lookup in the table built from the configured symbols, never a guess.

use std::collections::HashMap;
use std::sync::Arc;

use tickrec_model::Venue;

use crate::unified::{unsupported, Unified};
use crate::VenueError;

/// The `instId` of a unified symbol.
///
/// # Errors
/// [`VenueError::BadSymbol`] for a malformed symbol, [`VenueError::UnsupportedSymbol`] for a
/// perpetual settled in neither of its assets.
pub fn inst_id(unified: &str) -> Result<String, VenueError> {
    let u = Unified::parse(Venue::Okx, unified)?;
    match (u.settle, u.expiry) {
        (None, _) => Ok(format!("{}-{}", u.base, u.quote)),
        (Some(s), expiry) if s == u.quote || s == u.base => Ok(format!(
            "{}-{}-{}",
            u.base,
            u.quote,
            expiry.unwrap_or("SWAP")
        )),
        (Some(_), _) => Err(unsupported(
            Venue::Okx,
            unified,
            "OKX swaps settle in the quote (BTC/USDT:USDT) or the base (BTC/USD:BTC)",
        )),
    }
}

/// Lookup from `instId` to the unified symbol.
#[derive(Debug, Default, Clone)]
pub struct SymbolMap {
    by_native: HashMap<String, Arc<str>>,
}

impl SymbolMap {
    /// Builds the map for the given unified symbols.
    ///
    /// # Errors
    /// As [`inst_id`].
    pub fn new(unified: &[Arc<str>]) -> Result<Self, VenueError> {
        let mut by_native = HashMap::new();
        for u in unified {
            by_native.insert(inst_id(u)?, u.clone());
        }
        Ok(SymbolMap { by_native })
    }

    /// The unified symbol of an `instId`, if subscribed.
    pub fn unified(&self, native: &str) -> Option<&Arc<str>> {
        self.by_native.get(native)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inst_ids() {
        assert_eq!(inst_id("BTC/USDT").expect("spot"), "BTC-USDT");
        assert_eq!(inst_id("BTC/USDT:USDT").expect("linear"), "BTC-USDT-SWAP");
        assert_eq!(inst_id("UNI/USD:UNI").expect("inverse"), "UNI-USD-SWAP");
        assert_eq!(
            inst_id("BTC/USD:BTC-220527").expect("future"),
            "BTC-USD-220527"
        );
        assert!(matches!(
            inst_id("BTC/USDT:ETH"),
            Err(VenueError::UnsupportedSymbol { .. })
        ));
        assert!(inst_id("BTCUSDT").is_err());
    }
}
