//! Exact arithmetic for aggregates: every price and quantity is brought to a common scale of 18
//! decimals in an `i128` ("units"), so sums, comparisons and bucket boundaries are exact whatever
//! mixture of scales the rows carry (Kraken REST and WebSocket differ in trailing zeros).
//! `f64` appears only in derived statistics (VWAP, returns, volatility), and is named so.

use std::fmt;

use tickrec_model::Decimal;

use crate::error::QueryError;

/// The common scale of [`Exact`] values.
pub const SCALE: u8 = 18;

const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// `10^n` as an `i128` (`n` ≤ 38).
pub(crate) const fn pow10(n: u8) -> i128 {
    POW10[n as usize]
}

/// An exact decimal at scale 18: the value is `units × 10^-18`. Printed and serialized as decimal
/// text without trailing zeros (`"12.5"`), never through `f64`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Exact(pub i128);

impl Exact {
    /// Zero.
    pub const ZERO: Exact = Exact(0);

    /// The exact value of mantissa `m` at `scale` (≤ 18, which the schema guarantees).
    ///
    /// # Errors
    /// [`QueryError::CorruptRow`] for a scale above 18.
    pub fn from_parts(m: i64, scale: i64) -> Result<Exact, QueryError> {
        match u8::try_from(scale) {
            Ok(s) if s <= SCALE => Ok(Exact(i128::from(m) * pow10(SCALE - s))),
            _ => Err(QueryError::CorruptRow(format!(
                "scale {scale} out of 0..=18"
            ))),
        }
    }

    /// The exact value of a [`Decimal`].
    pub fn from_decimal(d: Decimal) -> Exact {
        Exact(i128::from(d.mantissa()) * pow10(SCALE - d.scale().min(SCALE)))
    }

    /// `self + other`, checked.
    ///
    /// # Errors
    /// [`QueryError::Overflow`] naming `what`.
    pub fn add(self, other: Exact, what: &'static str) -> Result<Exact, QueryError> {
        self.0
            .checked_add(other.0)
            .map(Exact)
            .ok_or(QueryError::Overflow { what })
    }

    /// An approximate `f64`, for derived statistics only.
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 1e18
    }

    /// The smallest scale that holds this value exactly (`12.50` → 1).
    pub fn min_scale(self) -> u8 {
        let mut s = SCALE;
        let mut v = self.0;
        while s > 0 && v % 10 == 0 {
            v /= 10;
            s -= 1;
        }
        s
    }
}

impl fmt::Display for Exact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let one = pow10(SCALE) as u128;
        let int = abs / one;
        let frac = abs % one;
        if neg {
            f.write_str("-")?;
        }
        write!(f, "{int}")?;
        if frac != 0 {
            let digits = format!("{frac:018}");
            write!(f, ".{}", digits.trim_end_matches('0'))?;
        }
        Ok(())
    }
}

impl serde::Serialize for Exact {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `price × qty` at scale 18, exact: the product of the mantissas has scale `ps + qs`; venues keep
/// that ≤ 18 (Binance 8 + 8), and a product that would need more digits is refused rather than
/// rounded.
///
/// # Errors
/// [`QueryError::Overflow`] when the product does not fit or would lose digits.
pub fn notional(pm: i64, ps: u8, qm: i64, qs: u8) -> Result<Exact, QueryError> {
    let over = QueryError::Overflow { what: "notional" };
    let prod = i128::from(pm)
        .checked_mul(i128::from(qm))
        .ok_or(QueryError::Overflow { what: "notional" })?;
    let s = ps + qs;
    if s <= SCALE {
        prod.checked_mul(pow10(SCALE - s)).map(Exact).ok_or(over)
    } else {
        let div = pow10(s - SCALE);
        if prod % div == 0 {
            Ok(Exact(prod / div))
        } else {
            Err(over)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_exact_text_without_trailing_zeros() {
        assert_eq!(Exact::from_parts(1250, 2).unwrap().to_string(), "12.5");
        assert_eq!(Exact::from_parts(-5, 2).unwrap().to_string(), "-0.05");
        assert_eq!(Exact::from_parts(7, 0).unwrap().to_string(), "7");
        assert_eq!(
            Exact::from_parts(1, 18).unwrap().to_string(),
            "0.000000000000000001"
        );
        assert!(Exact::from_parts(1, 19).is_err());
        assert_eq!(Exact::from_parts(1250, 2).unwrap().min_scale(), 1);
    }

    #[test]
    fn notional_is_exact_or_refused() {
        // 30000.1 × 0.00012345 = 3.703512345
        assert_eq!(
            notional(300001, 1, 12345, 8).unwrap().to_string(),
            "3.703512345"
        );
        assert!(notional(1, 10, 3, 10).is_err());
        assert_eq!(
            notional(10, 10, 10, 10).unwrap().to_string(),
            "0.000000000000000001"
        );
    }
}
