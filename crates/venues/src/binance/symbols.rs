//! Binance symbols: unified `BTC/USDT` ⇄ native `BTCUSDT` (`btcusdt` in stream names).
//!
//! Native → unified is never guessed by suffix (`BTCUSDT` could split several ways): it is looked
//! up in the table built from the configured unified symbols.

use std::collections::HashMap;
use std::sync::Arc;

use tickrec_model::Venue;

use crate::VenueError;

/// Native lower-case stream symbol for a unified symbol.
///
/// # Errors
/// [`VenueError::BadSymbol`] unless the symbol is `BASE/QUOTE` with alphanumeric parts.
pub fn native_stream_symbol(unified: &str) -> Result<String, VenueError> {
    let bad = || VenueError::BadSymbol {
        venue: Venue::Binance,
        symbol: unified.to_string(),
    };
    let (base, quote) = unified.split_once('/').ok_or_else(bad)?;
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    if !ok(base) || !ok(quote) {
        return Err(bad());
    }
    Ok(format!("{base}{quote}").to_ascii_lowercase())
}

/// Lookup from native symbol (either case) to the unified symbol.
#[derive(Debug, Default, Clone)]
pub struct SymbolMap {
    by_native: HashMap<String, Arc<str>>,
}

impl SymbolMap {
    /// Builds the map for the given unified symbols.
    ///
    /// # Errors
    /// [`VenueError::BadSymbol`] for a malformed symbol.
    pub fn new(unified: &[Arc<str>]) -> Result<Self, VenueError> {
        let mut by_native = HashMap::new();
        for u in unified {
            let lower = native_stream_symbol(u)?;
            by_native.insert(lower.to_ascii_uppercase(), u.clone());
            by_native.insert(lower, u.clone());
        }
        Ok(SymbolMap { by_native })
    }

    /// The unified symbol for a native one, if subscribed.
    pub fn unified(&self, native: &str) -> Option<&Arc<str>> {
        self.by_native.get(native)
    }
}
