//! Venues and the normalized channel names a market can be subscribed to.

use std::fmt;
use std::str::FromStr;

/// A venue (exchange) tickrec can record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Venue {
    /// Binance spot.
    Binance,
    /// Kraken spot, WebSocket API v2.
    Kraken,
    /// Coinbase Advanced Trade public market data.
    Coinbase,
    /// OKX API v5 (spot and swaps).
    Okx,
    /// Bybit API v5 (spot and linear perpetuals).
    Bybit,
    /// Upbit quotation API (KRW, BTC and USDT markets).
    Upbit,
}

impl Venue {
    /// Every supported venue, in display order.
    pub const ALL: [Venue; 6] = [
        Venue::Binance,
        Venue::Kraken,
        Venue::Coinbase,
        Venue::Okx,
        Venue::Bybit,
        Venue::Upbit,
    ];

    /// Lower-case name used in config files, tables and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Venue::Binance => "binance",
            Venue::Kraken => "kraken",
            Venue::Coinbase => "coinbase",
            Venue::Okx => "okx",
            Venue::Bybit => "bybit",
            Venue::Upbit => "upbit",
        }
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a known venue or channel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{name}` (known: {known})")]
pub struct VenueParseError {
    /// What was being parsed ("venue" or "channel").
    pub kind: &'static str,
    /// The text given.
    pub name: String,
    /// The accepted names.
    pub known: String,
}

impl FromStr for Venue {
    type Err = VenueParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Venue::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| VenueParseError {
                kind: "venue",
                name: s.to_string(),
                known: Venue::ALL.map(Venue::as_str).join(", "),
            })
    }
}

/// A normalized data channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// Every individual trade.
    Trades,
    /// Venue-aggregated trades (Binance `aggTrade`), stored apart from raw trades.
    AggTrades,
    /// Best bid and offer.
    Bbo,
    /// Candles of the given interval in seconds.
    Candles(u32),
    /// The L2 order book: the venue's snapshots and deltas, tracked, verified and stored.
    Book,
}

impl Channel {
    /// Canonical config name (`trades`, `agg_trades`, `bbo`, `candles_1m`).
    pub fn name(self) -> String {
        match self {
            Channel::Trades => "trades".into(),
            Channel::AggTrades => "agg_trades".into(),
            Channel::Bbo => "bbo".into(),
            Channel::Candles(s) => format!("candles_{}", interval_name(s)),
            Channel::Book => "book".into(),
        }
    }

    /// A label for metrics (bounded set).
    pub const fn label(self) -> &'static str {
        match self {
            Channel::Trades => "trades",
            Channel::AggTrades => "agg_trades",
            Channel::Bbo => "bbo",
            Channel::Candles(_) => "candles",
            Channel::Book => "book",
        }
    }
}

/// `60` → `1m`, `3600` → `1h`, `86400` → `1d`, `1` → `1s`.
pub fn interval_name(secs: u32) -> String {
    if secs.is_multiple_of(86_400) {
        format!("{}d", secs / 86_400)
    } else if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// Parses `1s`, `1m`, `15m`, `1h`, `1d`, `1w` into seconds.
pub fn parse_interval(s: &str) -> Option<u32> {
    let (n, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: u32 = n.parse().ok().filter(|n| *n > 0)?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    n.checked_mul(mul)
}

impl FromStr for Channel {
    type Err = VenueParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let c = match s {
            "trades" | "trade" => Some(Channel::Trades),
            "agg_trades" | "aggTrade" => Some(Channel::AggTrades),
            "bbo" | "quotes" => Some(Channel::Bbo),
            "book" | "books" | "l2" => Some(Channel::Book),
            _ => s
                .strip_prefix("candles_")
                .and_then(parse_interval)
                .map(Channel::Candles),
        };
        c.ok_or_else(|| VenueParseError {
            kind: "channel",
            name: s.to_string(),
            known: "trades, agg_trades, bbo, book, candles_<interval> (e.g. candles_1m)".into(),
        })
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Deserializes any `FromStr` type from a string, so config errors carry the file position.
struct FromStrVisitor<T>(std::marker::PhantomData<T>);

impl<T: FromStr<Err = VenueParseError>> serde::de::Visitor<'_> for FromStrVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

impl<'de> serde::Deserialize<'de> for Venue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(FromStrVisitor(std::marker::PhantomData))
    }
}

impl<'de> serde::Deserialize<'de> for Channel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(FromStrVisitor(std::marker::PhantomData))
    }
}

impl serde::Serialize for Venue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl serde::Serialize for Channel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for v in Venue::ALL {
            assert_eq!(v.as_str().parse::<Venue>(), Ok(v));
        }
        for c in [
            Channel::Trades,
            Channel::AggTrades,
            Channel::Bbo,
            Channel::Candles(60),
            Channel::Candles(3600),
        ] {
            assert_eq!(c.name().parse::<Channel>(), Ok(c));
        }
        assert!("candles_0m".parse::<Channel>().is_err());
        assert!("nope"
            .parse::<Venue>()
            .unwrap_err()
            .to_string()
            .contains("binance"));
    }
}
