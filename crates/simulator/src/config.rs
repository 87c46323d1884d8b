//! Simulator configuration.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use tickrec_model::Venue;

use crate::faults::{Fault, ScheduledFault};
use crate::SimError;

/// The venues whose WebSocket and REST protocols the simulator speaks.
pub const SIMULATED_VENUES: [Venue; 6] = [
    Venue::Binance,
    Venue::Kraken,
    Venue::Coinbase,
    Venue::Okx,
    Venue::Bybit,
    Venue::Upbit,
];
/// Slowest supported tape, trades per second per market.
pub const MIN_RATE: f64 = 1.0;
/// Fastest supported tape, trades per second per market.
pub const MAX_RATE: f64 = 500_000.0;

/// Everything the simulator needs; build with [`SimConfig::new`] and adjust fields.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Where to listen; port 0 picks a free port (read it back with `SimHandle::addr`).
    pub listen: SocketAddr,
    /// Seed of every tape: same seed, same trades (prices, quantities, sides).
    pub seed: u64,
    /// The markets served; each gets its own tape.
    pub markets: Vec<SimMarket>,
    /// Trades per second per market, [`MIN_RATE`] ..= [`MAX_RATE`].
    pub rate_per_market: f64,
    /// Stop each tape after this many trades; `None` runs until shutdown.
    pub trades_per_market: Option<u64>,
    /// When a market's tape starts (and so where its timestamps begin).
    pub start: StartMode,
    /// CSV file receiving every published trade; `None` disables it.
    pub ground_truth: Option<PathBuf>,
    /// Kraken idle heartbeat period (the venue sends ~1 s).
    pub heartbeat_interval: Duration,
    /// Period of the Binance server WebSocket ping frame (the venue sends 20 s).
    pub binance_ping_interval: Duration,
    /// Faults injected on a schedule (relative to [`crate::start`]).
    pub faults: Vec<ScheduledFault>,
    /// Binance REST request weight allowed per wall-clock minute (the venue's 6000); above it,
    /// HTTP 429. 0 disables the limit.
    pub binance_weight_limit: u32,
    /// Order-book changes per second per market, [`MIN_BOOK_RATE`] ..= [`MAX_BOOK_RATE`]. A
    /// market's book starts changing when its first book subscriber arrives (or at once with
    /// [`StartMode::Immediately`]); what each change is depends on the seed only.
    pub book_updates_per_sec: f64,
}

/// Slowest supported book, changes per second per market.
pub const MIN_BOOK_RATE: f64 = 1.0;
/// Fastest supported book, changes per second per market.
pub const MAX_BOOK_RATE: f64 = 20_000.0;

/// One simulated market.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SimMarket {
    /// Venue whose protocol serves the market.
    pub venue: Venue,
    /// Unified symbol, `BASE/QUOTE` upper-case (`BTC/USDT`); the venue-native form is derived.
    pub symbol: String,
}

impl SimMarket {
    /// Convenience constructor.
    pub fn new(venue: Venue, symbol: impl Into<String>) -> Self {
        SimMarket {
            venue,
            symbol: symbol.into(),
        }
    }
}

/// When a market's tape starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartMode {
    /// When the first connection subscribes to the market's trades (Binance `trade`/`aggTrade`,
    /// Kraken `trade`), so a test sees the tape from trade 0 without racing the clock.
    OnSubscribe,
    /// As soon as the simulator starts, subscribed or not (like a real venue).
    Immediately,
}

impl SimConfig {
    /// Defaults: `127.0.0.1:0`, seed 42, 1000 trades/s, endless tape, `OnSubscribe`, no ground
    /// truth, 1 s Kraken heartbeat, 20 s Binance ping, no scheduled faults, Binance REST weight
    /// limit 6000 per minute, 20 book changes per second.
    pub fn new(markets: Vec<SimMarket>) -> Self {
        SimConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            seed: 42,
            markets,
            rate_per_market: 1000.0,
            trades_per_market: None,
            start: StartMode::OnSubscribe,
            ground_truth: None,
            heartbeat_interval: Duration::from_secs(1),
            binance_ping_interval: Duration::from_secs(20),
            faults: Vec::new(),
            binance_weight_limit: 6000,
            book_updates_per_sec: 20.0,
        }
    }

    /// Venues whose protocols the simulator speaks; markets of any other venue are refused by
    /// [`SimConfig::validate`] (so the `match`es on venue below never see them).
    pub(crate) fn validate(&self) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::Config(m));
        if !(self.rate_per_market.is_finite()
            && (MIN_RATE..=MAX_RATE).contains(&self.rate_per_market))
        {
            return bad(format!(
                "rate_per_market {} is outside {MIN_RATE}..={MAX_RATE}",
                self.rate_per_market
            ));
        }
        if !(self.book_updates_per_sec.is_finite()
            && (MIN_BOOK_RATE..=MAX_BOOK_RATE).contains(&self.book_updates_per_sec))
        {
            return bad(format!(
                "book_updates_per_sec {} is outside {MIN_BOOK_RATE}..={MAX_BOOK_RATE}",
                self.book_updates_per_sec
            ));
        }
        if self.markets.is_empty() {
            return bad("no markets configured".into());
        }
        if self.heartbeat_interval.is_zero() || self.binance_ping_interval.is_zero() {
            return bad("heartbeat_interval and binance_ping_interval must be > 0".into());
        }
        let mut seen = HashSet::new();
        for m in &self.markets {
            if !SIMULATED_VENUES.contains(&m.venue) {
                return bad(format!(
                    "venue {} is not simulated (simulated venues: {})",
                    m.venue,
                    SIMULATED_VENUES.map(Venue::as_str).join(", ")
                ));
            }
            if split_symbol(&m.symbol).is_none() {
                return bad(format!(
                    "symbol `{}` is not BASE/QUOTE (upper-case letters and digits)",
                    m.symbol
                ));
            }
            if !seen.insert((m.venue, m.symbol.as_str())) {
                return bad(format!("market {} {} configured twice", m.venue, m.symbol));
            }
        }
        for f in &self.faults {
            check_fault(&f.fault, |v, s| seen.contains(&(v, s)))
                .map_err(|e| SimError::Config(format!("scheduled fault at {:?}: {e}", f.at)))?;
        }
        Ok(())
    }
}

/// Refuses a fault naming an unknown market or an out-of-range burst rate.
pub(crate) fn check_fault(
    fault: &Fault,
    has_market: impl Fn(Venue, &str) -> bool,
) -> Result<(), String> {
    if let Some((venue, symbol)) = fault.market() {
        if !has_market(venue, symbol) {
            return Err(format!("no simulated market {venue} {symbol}"));
        }
    }
    match fault {
        Fault::CorruptBookChecksum { venue, .. }
            if !matches!(venue, Venue::Kraken | Venue::Okx) =>
        {
            return Err(format!("{venue} sends no book checksum to corrupt"));
        }
        Fault::StaleBookSnapshot { venue, .. } if *venue != Venue::Binance => {
            return Err(format!(
                "{venue} has no REST book snapshot (only Binance's stream needs one)"
            ));
        }
        _ => {}
    }
    if let Fault::Burst { rate, .. } = fault {
        if !(rate.is_finite() && (MIN_RATE..=MAX_RATE).contains(rate)) {
            return Err(format!(
                "burst rate {rate} is outside {MIN_RATE}..={MAX_RATE}"
            ));
        }
    }
    Ok(())
}

/// `BTC/USDT` → `("BTC", "USDT")`, refusing anything but upper-case alphanumerics around one `/`.
pub(crate) fn split_symbol(symbol: &str) -> Option<(&str, &str)> {
    let (base, quote) = symbol.split_once('/')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    };
    (ok(base) && ok(quote)).then_some((base, quote))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let ok = SimConfig::new(vec![SimMarket::new(Venue::Binance, "BTC/USDT")]);
        assert!(ok.validate().is_ok());
        let mut c = ok.clone();
        c.rate_per_market = 0.5;
        assert!(c.validate().is_err());
        c.rate_per_market = f64::NAN;
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.book_updates_per_sec = 0.0;
        assert!(c.validate().is_err(), "book rate");
        c.book_updates_per_sec = MAX_BOOK_RATE;
        assert!(c.validate().is_ok());
        let mut c = ok.clone();
        c.markets.push(SimMarket::new(Venue::Binance, "BTC/USDT"));
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.markets = vec![SimMarket::new(Venue::Kraken, "btcusd")];
        assert!(c.validate().is_err());
        assert_eq!(split_symbol("ETH/BTC"), Some(("ETH", "BTC")));
        let mut c = ok.clone();
        c.faults.push(ScheduledFault {
            at: Duration::ZERO,
            fault: Fault::SkipTradeIds {
                venue: Venue::Kraken,
                symbol: "BTC/USDT".into(),
                count: 1,
            },
        });
        assert!(c.validate().is_err(), "no such market");
        c.faults[0].fault = Fault::Burst {
            venue: Venue::Binance,
            symbol: "BTC/USDT".into(),
            trades: 10,
            rate: 1e9,
        };
        assert!(c.validate().is_err(), "rate");
        c.faults[0].fault = Fault::SkipTradeIds {
            venue: Venue::Binance,
            symbol: "BTC/USDT".into(),
            count: 1,
        };
        assert!(c.validate().is_ok());
        c.faults[0].fault = Fault::StaleBookSnapshot {
            venue: Venue::Binance,
            symbol: "BTC/USDT".into(),
            lag: 5,
        };
        assert!(c.validate().is_ok());
        c.faults[0].fault = Fault::CorruptBookChecksum {
            venue: Venue::Binance,
            symbol: "BTC/USDT".into(),
            after: 0,
        };
        assert!(c.validate().is_err(), "Binance sends no checksum");
        assert_eq!(split_symbol("ETH/"), None);
    }
}
