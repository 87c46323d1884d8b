//! Bybit symbols: spot `BTCUSDT` (unified `BTC/USDT`); linear perpetuals `BTCUSDT`
//! (`BTC/USDT:USDT`) and, for USDC-settled ones, `BTCPERP` (`BTC/USDC:USDC`). The same native
//! string names different instruments on the spot and linear sockets, so the category is part of
//! every connection (see [`Category`]). Native → unified is a lookup, never a suffix guess.

use std::collections::HashMap;
use std::sync::Arc;

use tickrec_model::Venue;

use crate::unified::{unsupported, Unified};
use crate::VenueError;

/// The Bybit product category of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Spot.
    Spot,
    /// USDT/USDC-margined perpetuals.
    Linear,
}

impl Category {
    /// `spot` / `linear`, as in URLs and REST parameters.
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Spot => "spot",
            Category::Linear => "linear",
        }
    }
}

/// The category and native symbol of a unified symbol.
///
/// # Errors
/// [`VenueError::BadSymbol`] for a malformed symbol, [`VenueError::UnsupportedSymbol`] for a
/// dated future or a coin-margined perpetual.
pub fn native(unified: &str) -> Result<(Category, String), VenueError> {
    let u = Unified::parse(Venue::Bybit, unified)?;
    match (u.settle, u.expiry) {
        (None, _) => Ok((Category::Spot, format!("{}{}", u.base, u.quote))),
        (Some(s), None) if s == u.quote && s == "USDC" => {
            Ok((Category::Linear, format!("{}PERP", u.base)))
        }
        (Some(s), None) if s == u.quote => Ok((Category::Linear, format!("{}{}", u.base, u.quote))),
        _ => Err(unsupported(
            Venue::Bybit,
            unified,
            "tickrec records Bybit spot and linear (quote-settled) perpetuals only",
        )),
    }
}

/// Lookup from native symbol to the unified symbol, for one category.
#[derive(Debug, Clone)]
pub struct SymbolMap {
    category: Category,
    by_native: HashMap<String, Arc<str>>,
}

impl SymbolMap {
    /// Builds the map; every symbol must be of the same category.
    ///
    /// # Errors
    /// As [`native`], plus [`VenueError::SplitConnection`] when spot and perpetuals are mixed
    /// and [`VenueError::Empty`] for no symbols.
    pub fn new(unified: &[Arc<str>]) -> Result<Self, VenueError> {
        let mut category = None;
        let mut by_native = HashMap::new();
        for u in unified {
            let (c, n) = native(u)?;
            if category.is_some_and(|k| k != c) {
                return Err(VenueError::SplitConnection {
                    venue: Venue::Bybit,
                    detail: "spot and perpetual symbols are served on different sockets",
                });
            }
            category = Some(c);
            by_native.insert(n, u.clone());
        }
        let category = category.ok_or(VenueError::Empty {
            venue: Venue::Bybit,
        })?;
        Ok(SymbolMap {
            category,
            by_native,
        })
    }

    /// The category of the connection.
    pub fn category(&self) -> Category {
        self.category
    }

    /// The unified symbol of a native one, if subscribed.
    pub fn unified(&self, native: &str) -> Option<&Arc<str>> {
        self.by_native.get(native)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natives_and_categories() {
        assert_eq!(
            native("BTC/USDT").expect("spot"),
            (Category::Spot, "BTCUSDT".into())
        );
        assert_eq!(
            native("BTC/USDT:USDT").expect("linear"),
            (Category::Linear, "BTCUSDT".into())
        );
        assert_eq!(
            native("ETH/USDC:USDC").expect("usdc perp"),
            (Category::Linear, "ETHPERP".into())
        );
        assert!(matches!(
            native("BTC/USD:BTC"),
            Err(VenueError::UnsupportedSymbol { .. })
        ));
        let mixed = [Arc::from("BTC/USDT"), Arc::from("BTC/USDT:USDT")];
        assert!(matches!(
            SymbolMap::new(&mixed),
            Err(VenueError::SplitConnection { .. })
        ));
    }
}
