//! Kraken v2 symbols are already `BASE/QUOTE` with ISO codes (`BTC/USD`), so the unified and the
//! native form are the same. The REST-era codes `XBT` and `XDG` are rejected by v2, so a config
//! that uses them is corrected to `BTC` / `DOGE` rather than failing at subscribe time.

use std::collections::HashMap;
use std::sync::Arc;

use tickrec_model::Venue;

use crate::VenueError;

/// Canonical v2 symbol for a configured one (`XBT/USD` → `BTC/USD`).
///
/// # Errors
/// [`VenueError::BadSymbol`] unless the symbol is `BASE/QUOTE`.
pub fn canonical(unified: &str) -> Result<String, VenueError> {
    let bad = || VenueError::BadSymbol {
        venue: Venue::Kraken,
        symbol: unified.to_string(),
    };
    let (base, quote) = unified.split_once('/').ok_or_else(bad)?;
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    if !ok(base) || !ok(quote) {
        return Err(bad());
    }
    let alias = |c: &str| match c.to_ascii_uppercase().as_str() {
        "XBT" => "BTC".to_string(),
        "XDG" => "DOGE".to_string(),
        other => other.to_string(),
    };
    Ok(format!("{}/{}", alias(base), alias(quote)))
}

/// Lookup from the symbol in a frame to the unified symbol.
#[derive(Debug, Default, Clone)]
pub struct SymbolMap {
    by_native: HashMap<String, Arc<str>>,
}

impl SymbolMap {
    /// Builds the map.
    ///
    /// # Errors
    /// [`VenueError::BadSymbol`] for a malformed symbol.
    pub fn new(unified: &[Arc<str>]) -> Result<Self, VenueError> {
        let mut by_native = HashMap::new();
        for u in unified {
            by_native.insert(canonical(u)?, u.clone());
        }
        Ok(SymbolMap { by_native })
    }

    /// The unified symbol for a native one, if subscribed.
    pub fn unified(&self, native: &str) -> Option<&Arc<str>> {
        self.by_native.get(native)
    }

    /// Native symbols, sorted.
    pub fn natives(&self) -> Vec<String> {
        let mut v: Vec<String> = self.by_native.keys().cloned().collect();
        v.sort();
        v
    }
}
