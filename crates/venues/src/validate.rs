//! Validation shared by every venue: exact numbers, sane ranges, sane clocks.
//!
//! A value that fails here becomes a reject row with the reason and the raw payload — never a
//! panic and never a silently dropped row.

use std::sync::Arc;

use tickrec_model::{Decimal, DecimalError, Event, Reject, RejectReason, Venue};

/// Prices at or above this are treated as absurd (no listed crypto market trades near it; even
/// BTC/KRW is ~1e8).
pub const MAX_PRICE: Decimal = match Decimal::new(1_000_000_000_000, 0) {
    Ok(d) => d,
    Err(_) => Decimal::ZERO,
};
/// Quantities at or above this are treated as absurd (meme-coin sizes reach ~1e11).
pub const MAX_QTY: Decimal = match Decimal::new(1_000_000_000_000_000, 0) {
    Ok(d) => d,
    Err(_) => Decimal::ZERO,
};
/// Earliest plausible venue timestamp (2009-01-03, the genesis block), µs.
pub const MIN_TS_US: i64 = 1_230_940_800_000_000;
/// Latest plausible venue timestamp (2100-01-01), µs.
pub const MAX_TS_US: i64 = 4_102_444_800_000_000;

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Machine reason.
    pub reason: RejectReason,
    /// Human detail.
    pub detail: String,
}

impl Invalid {
    /// Shorthand constructor.
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Invalid {
            reason,
            detail: detail.into(),
        }
    }
}

fn number(field: &str, text: &str) -> Result<Decimal, Invalid> {
    Decimal::parse(text).map_err(|e| {
        let what = match e {
            DecimalError::Invalid => "not a decimal number",
            DecimalError::Overflow => "out of range",
        };
        Invalid::new(
            RejectReason::BadNumber,
            format!("{field} `{}` is {what}", clip(text)),
        )
    })
}

fn clip(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A trade or quote price: exact, > 0, below [`MAX_PRICE`].
///
/// # Errors
/// [`Invalid`] with `bad_number` or `non_positive_price`.
pub fn price(field: &str, text: &str) -> Result<Decimal, Invalid> {
    let p = number(field, text)?;
    if !p.is_positive() {
        return Err(Invalid::new(
            RejectReason::NonPositivePrice,
            format!("{field} {p} is not > 0"),
        ));
    }
    if p >= MAX_PRICE {
        return Err(Invalid::new(
            RejectReason::BadNumber,
            format!("{field} {p} is absurdly large"),
        ));
    }
    Ok(p)
}

/// A trade quantity: exact, > 0, below [`MAX_QTY`].
///
/// # Errors
/// [`Invalid`] with `bad_number` or `non_positive_qty`.
pub fn qty(field: &str, text: &str) -> Result<Decimal, Invalid> {
    let q = number(field, text)?;
    if !q.is_positive() {
        return Err(Invalid::new(
            RejectReason::NonPositiveQty,
            format!("{field} {q} is not > 0"),
        ));
    }
    if q >= MAX_QTY {
        return Err(Invalid::new(
            RejectReason::BadNumber,
            format!("{field} {q} is absurdly large"),
        ));
    }
    Ok(q)
}

/// A book or BBO value where zero is meaningful (an empty side, a removed level): ≥ 0.
///
/// # Errors
/// [`Invalid`] with `bad_number` (negative or absurd values included).
pub fn non_negative(field: &str, text: &str) -> Result<Decimal, Invalid> {
    let v = number(field, text)?;
    if v.mantissa() < 0 {
        return Err(Invalid::new(
            RejectReason::BadNumber,
            format!("{field} {v} is negative"),
        ));
    }
    if v >= MAX_QTY {
        return Err(Invalid::new(
            RejectReason::BadNumber,
            format!("{field} {v} is absurdly large"),
        ));
    }
    Ok(v)
}

/// A venue timestamp in µs inside the plausible window.
///
/// # Errors
/// [`Invalid`] with `bad_timestamp`.
pub fn timestamp_us(field: &str, us: i64) -> Result<i64, Invalid> {
    if (MIN_TS_US..MAX_TS_US).contains(&us) {
        Ok(us)
    } else {
        Err(Invalid::new(
            RejectReason::BadTimestamp,
            format!("{field} {us} µs is outside 2009..2100"),
        ))
    }
}

/// Milliseconds → µs with the plausibility check.
///
/// # Errors
/// [`Invalid`] with `bad_timestamp`.
pub fn timestamp_ms(field: &str, ms: i64) -> Result<i64, Invalid> {
    timestamp_us(field, ms.saturating_mul(1000))
}

/// An RFC 3339 text timestamp → µs with the plausibility check.
///
/// # Errors
/// [`Invalid`] with `bad_timestamp`.
pub fn timestamp_rfc3339(field: &str, text: &str) -> Result<i64, Invalid> {
    let us = tickrec_model::parse_rfc3339_us(text).map_err(|_| {
        Invalid::new(
            RejectReason::BadTimestamp,
            format!("{field} `{}` is not RFC 3339", clip(text)),
        )
    })?;
    timestamp_us(field, us)
}

/// Classifies a serde error: broken JSON vs. a well-formed message missing what we need.
pub fn json_invalid(what: &str, e: &serde_json::Error) -> Invalid {
    let reason = match e.classify() {
        serde_json::error::Category::Data => RejectReason::MissingField,
        serde_json::error::Category::Syntax
        | serde_json::error::Category::Eof
        | serde_json::error::Category::Io => RejectReason::MalformedJson,
    };
    Invalid::new(reason, format!("{what}: {e}"))
}

/// Appends a reject row.
pub fn push_reject(
    out: &mut Vec<Event>,
    venue: Venue,
    symbol: Option<Arc<str>>,
    invalid: Invalid,
    raw: &[u8],
    ts_recv_us: i64,
) {
    out.push(Event::Reject(Reject::new(
        venue,
        symbol,
        invalid.reason,
        invalid.detail,
        raw,
        ts_recv_us,
    )));
}

/// The text of a JSON number or numeric string as sent (quotes removed), for exact parsing.
pub fn raw_number(raw: &serde_json::value::RawValue) -> &str {
    let s = raw.get();
    s.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_are_classified() {
        assert_eq!(
            price("p", "0").unwrap_err().reason,
            RejectReason::NonPositivePrice
        );
        assert_eq!(
            price("p", "-1.5").unwrap_err().reason,
            RejectReason::NonPositivePrice
        );
        assert_eq!(
            price("p", "NaN").unwrap_err().reason,
            RejectReason::BadNumber
        );
        assert_eq!(
            price("p", "1e300").unwrap_err().reason,
            RejectReason::BadNumber
        );
        assert_eq!(
            price("p", "2000000000000").unwrap_err().reason,
            RejectReason::BadNumber
        );
        assert_eq!(
            qty("q", "0.00000000").unwrap_err().reason,
            RejectReason::NonPositiveQty
        );
        assert!(non_negative("q", "0.00000000").is_ok());
        assert_eq!(
            non_negative("q", "-1").unwrap_err().reason,
            RejectReason::BadNumber
        );
        assert_eq!(
            timestamp_ms("T", 0).unwrap_err().reason,
            RejectReason::BadTimestamp
        );
        assert!(timestamp_ms("T", 1_757_522_615_939).is_ok());
        assert_eq!(
            timestamp_rfc3339("t", "yesterday").unwrap_err().reason,
            RejectReason::BadTimestamp
        );
    }
}
