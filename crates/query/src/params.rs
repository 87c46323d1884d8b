//! What every query starts from: a market (venue + symbol + which trade table) and a time window,
//! validated once, plus the parsers the CLI, HTTP API and MCP server share for them.

use tickrec_model::{parse_rfc3339_us, time::format_rfc3339_us, Decimal};

use crate::error::QueryError;

/// Which stored trade tape to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `trades` when the market has rows there, else `agg_trades`.
    #[default]
    Auto,
    /// Individual trades (`trades`).
    Trades,
    /// Binance aggregate trades (`agg_trades`).
    AggTrades,
}

impl Source {
    /// Parses `auto`, `trades` or `agg_trades` (also `agg-trades`).
    ///
    /// # Errors
    /// [`QueryError::InvalidParam`] for anything else.
    pub fn parse(s: &str) -> Result<Source, QueryError> {
        match s {
            "auto" => Ok(Source::Auto),
            "trades" => Ok(Source::Trades),
            "agg_trades" | "agg-trades" => Ok(Source::AggTrades),
            _ => Err(QueryError::invalid(
                "source",
                format!("{s:?} is not auto, trades or agg_trades"),
            )),
        }
    }
}

/// A market as stored: venue name (`binance`) and unified symbol (`BTC/USDT`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Market {
    /// Venue name as stored.
    pub venue: String,
    /// Unified symbol as stored.
    pub symbol: String,
    /// Which trade table.
    pub source: Source,
}

impl Market {
    /// A market over the `auto` source.
    pub fn new(venue: impl Into<String>, symbol: impl Into<String>) -> Market {
        Market {
            venue: venue.into(),
            symbol: symbol.into(),
            source: Source::Auto,
        }
    }
}

/// A half-open time window `[from_us, to_us)` in µs since the epoch (UTC), checked non-empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    from_us: i64,
    to_us: i64,
}

impl Window {
    /// A window from `from_us` (inclusive) to `to_us` (exclusive).
    ///
    /// # Errors
    /// [`QueryError::InvalidParam`] when `to_us <= from_us` (reversed or empty).
    pub fn new(from_us: i64, to_us: i64) -> Result<Window, QueryError> {
        if to_us <= from_us {
            return Err(QueryError::invalid(
                "to",
                format!(
                    "{} is not after from {}",
                    format_rfc3339_us(to_us),
                    format_rfc3339_us(from_us)
                ),
            ));
        }
        Ok(Window { from_us, to_us })
    }

    /// Parses `from` and `to` with [`parse_time`] (`now_us` resolves `now` and relative times).
    ///
    /// # Errors
    /// As [`parse_time`] and [`Window::new`].
    pub fn parse(from: &str, to: &str, now_us: i64) -> Result<Window, QueryError> {
        let from_us = parse_time("from", from, now_us)?;
        let to_us = parse_time("to", to, now_us)?;
        Window::new(from_us, to_us)
    }

    /// Start, µs (inclusive).
    pub fn from_us(self) -> i64 {
        self.from_us
    }

    /// End, µs (exclusive).
    pub fn to_us(self) -> i64 {
        self.to_us
    }

    /// Length, µs.
    pub fn span_us(self) -> i64 {
        self.to_us - self.from_us
    }

    /// Refuses a window longer than `max_s` seconds.
    ///
    /// # Errors
    /// [`QueryError::WindowTooLong`].
    pub fn check_max(self, max_s: i64) -> Result<(), QueryError> {
        let span_s = ceil_div(self.span_us(), 1_000_000);
        if span_s > max_s {
            return Err(QueryError::WindowTooLong { span_s, max_s });
        }
        Ok(())
    }
}

/// `⌈a / b⌉` for positive `b` (signed `div_ceil` is not stable yet).
pub(crate) fn ceil_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0)
}

/// Parses a point in time: RFC 3339 (`2026-12-01T10:00:00Z`), integer milliseconds since the epoch,
/// `now`, or `now-<n><s|m|h|d>` (`now-1h`).
///
/// # Errors
/// [`QueryError::InvalidParam`] naming `param`.
pub fn parse_time(param: &'static str, s: &str, now_us: i64) -> Result<i64, QueryError> {
    let bad = || {
        QueryError::invalid(
            param,
            format!("{s:?} is not RFC 3339, epoch milliseconds, `now` or `now-<n>[smhd]`"),
        )
    };
    let us = if s == "now" {
        now_us
    } else if let Some(rel) = s.strip_prefix("now-") {
        parse_duration(param, rel)?
            .checked_mul(1_000_000)
            .and_then(|d| now_us.checked_sub(d))
            .ok_or_else(bad)?
    } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = s.parse().map_err(|_| bad())?;
        ms.checked_mul(1000).ok_or_else(bad)?
    } else {
        parse_rfc3339_us(s).map_err(|_| bad())?
    };
    // Window arithmetic (alignment to intervals) must never overflow.
    if !(0..=MAX_TIME_US).contains(&us) {
        return Err(QueryError::invalid(
            param,
            format!("{s:?} is outside 1970-01-01 … 9999-12-31"),
        ));
    }
    Ok(us)
}

/// 9999-12-31T23:59:59.999999Z, the latest time a query accepts.
const MAX_TIME_US: i64 = 253_402_300_799_999_999;

/// Parses a duration `<n><s|m|h|d>` (`1s`, `15m`, `4h`, `1d`) or plain seconds into seconds.
///
/// # Errors
/// [`QueryError::InvalidParam`] naming `param`, also for zero.
pub fn parse_duration(param: &'static str, s: &str) -> Result<i64, QueryError> {
    let bad = || {
        QueryError::invalid(
            param,
            format!("{s:?} is not a duration like 1s, 15m, 4h, 1d"),
        )
    };
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = num.parse().map_err(|_| bad())?;
    let secs = n.checked_mul(mult).ok_or_else(bad)?;
    if secs <= 0 {
        return Err(QueryError::invalid(param, "must be positive"));
    }
    Ok(secs)
}

/// Parses a positive exact decimal (a bucket size).
///
/// # Errors
/// [`QueryError::InvalidParam`] naming `param`.
pub fn parse_positive_decimal(param: &'static str, s: &str) -> Result<Decimal, QueryError> {
    match Decimal::parse(s) {
        Ok(d) if d.is_positive() => Ok(d),
        _ => Err(QueryError::invalid(
            param,
            format!("{s:?} is not a positive decimal"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        let now = 1_700_000_000_000_000;
        assert_eq!(parse_time("from", "now", now).unwrap(), now);
        assert_eq!(
            parse_time("from", "now-1h", now).unwrap(),
            now - 3_600_000_000
        );
        assert_eq!(parse_time("from", "1700000000000", now).unwrap(), now);
        assert_eq!(
            parse_time("from", "2023-11-14T22:13:20Z", now).unwrap(),
            now
        );
        assert!(parse_time("from", "yesterday", now).is_err());
        assert!(parse_time("from", "now-99999999999d", now).is_err());
        assert!(parse_time("from", "9223372036854775", now).is_err());
        assert!(parse_time("from", "1969-12-31T23:59:59Z", now).is_err());
        assert_eq!(parse_duration("interval", "15m").unwrap(), 900);
        assert_eq!(parse_duration("interval", "90").unwrap(), 90);
        assert!(parse_duration("interval", "0s").is_err());
        assert!(parse_duration("interval", "1w").is_err());
        assert!(parse_duration("interval", "m").is_err());
    }

    #[test]
    fn windows_are_checked() {
        assert!(Window::new(10, 10).is_err());
        assert!(Window::new(11, 10).is_err());
        let w = Window::new(0, 3_600_000_001).unwrap();
        assert!(matches!(
            w.check_max(3600),
            Err(QueryError::WindowTooLong {
                span_s: 3601,
                max_s: 3600
            })
        ));
        assert!(w.check_max(3601).is_ok());
    }
}
