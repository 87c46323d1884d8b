//! Exact decimal numbers: an `i64` mantissa and a base-10 scale.
//!
//! Venues publish prices and quantities as decimal text (`"0.35280000"`, `5.485e-05`). We keep the
//! exact digits, including trailing zeros, so that printing a stored value gives back the venue's
//! string. `f64` never appears on the write path: `0.1 + 0.2` must not become a new price level.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Largest scale we accept (digits after the decimal point).
pub const MAX_SCALE: u8 = 18;

/// Why a decimal string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// The text is empty or contains something that is not a decimal number (`NaN`, `inf`, `1.2.3`).
    #[error("not a decimal number")]
    Invalid,
    /// The value does not fit an `i64` mantissa with at most 18 decimals.
    #[error("number out of range")]
    Overflow,
}

/// An exact decimal: `mantissa × 10^-scale`.
#[derive(Clone, Copy, Debug)]
pub struct Decimal {
    mantissa: i64,
    scale: u8,
}

const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

impl Decimal {
    /// Zero with scale 0.
    pub const ZERO: Decimal = Decimal {
        mantissa: 0,
        scale: 0,
    };

    /// Builds a decimal from its parts.
    ///
    /// # Errors
    /// [`DecimalError::Overflow`] when `scale` exceeds [`MAX_SCALE`].
    pub const fn new(mantissa: i64, scale: u8) -> Result<Self, DecimalError> {
        if scale > MAX_SCALE {
            return Err(DecimalError::Overflow);
        }
        Ok(Decimal { mantissa, scale })
    }

    /// The integer mantissa.
    pub const fn mantissa(self) -> i64 {
        self.mantissa
    }

    /// Number of decimal digits after the point.
    pub const fn scale(self) -> u8 {
        self.scale
    }

    /// True when the value is strictly greater than zero.
    pub const fn is_positive(self) -> bool {
        self.mantissa > 0
    }

    /// The same value with trailing fractional zeros removed (`1.2300` → `1.23`).
    pub fn normalized(self) -> Decimal {
        let mut d = self;
        while d.scale > 0 && d.mantissa % 10 == 0 {
            d.mantissa /= 10;
            d.scale -= 1;
        }
        d
    }

    /// The same value at a larger scale (`1.2` at scale 3 → `1.200`), if it fits.
    pub fn rescaled(self, scale: u8) -> Option<Decimal> {
        if scale < self.scale || scale > MAX_SCALE {
            return None;
        }
        let factor = POW10[(scale - self.scale) as usize];
        let m = i64::try_from(self.mantissa as i128 * factor).ok()?;
        Some(Decimal { mantissa: m, scale })
    }

    /// An approximate `f64`, for analytics and human display only — never for storage keys.
    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 / POW10[self.scale as usize] as f64
    }

    /// Parses decimal text: optional `-`, digits, optional `.digits`, optional exponent
    /// (`e-05`). Leading `+`, `NaN`, `inf`, hex and empty strings are refused.
    ///
    /// # Errors
    /// [`DecimalError::Invalid`] for malformed text, [`DecimalError::Overflow`] when the
    /// value cannot be held exactly in an `i64` mantissa with at most 18 decimals.
    pub fn parse(s: &str) -> Result<Decimal, DecimalError> {
        Self::parse_bytes(s.as_bytes())
    }

    /// [`Decimal::parse`] over raw bytes (JSON number text).
    ///
    /// # Errors
    /// As [`Decimal::parse`].
    pub fn parse_bytes(b: &[u8]) -> Result<Decimal, DecimalError> {
        let mut i = 0;
        let neg = b.first() == Some(&b'-');
        if neg {
            i = 1;
        }
        let mut acc: u128 = 0;
        let mut digits = 0usize; // significant digits accumulated (after leading zeros)
        let mut int_digits = 0usize;
        let mut frac_digits: i64 = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            push_digit(&mut acc, &mut digits, b[i])?;
            int_digits += 1;
            i += 1;
        }
        let mut frac_seen = 0usize;
        if i < b.len() && b[i] == b'.' {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                push_digit(&mut acc, &mut digits, b[i])?;
                frac_digits += 1;
                frac_seen += 1;
                i += 1;
            }
            if frac_seen == 0 {
                return Err(DecimalError::Invalid);
            }
        }
        // JSON and every venue write a digit before the point; ".5" is refused like "5.".
        if int_digits == 0 {
            return Err(DecimalError::Invalid);
        }
        let mut exp: i64 = 0;
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            let mut eneg = false;
            if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
                eneg = b[i] == b'-';
                i += 1;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                exp = exp * 10 + i64::from(b[i] - b'0');
                if exp > 1000 {
                    return Err(DecimalError::Overflow);
                }
                i += 1;
            }
            if i == start {
                return Err(DecimalError::Invalid);
            }
            if eneg {
                exp = -exp;
            }
        }
        if i != b.len() {
            return Err(DecimalError::Invalid);
        }
        let mut scale = frac_digits - exp;
        if scale < 0 {
            let up = usize::try_from(-scale).map_err(|_| DecimalError::Overflow)?;
            if acc != 0 {
                if up > 38 {
                    return Err(DecimalError::Overflow);
                }
                acc = acc
                    .checked_mul(POW10[up] as u128)
                    .ok_or(DecimalError::Overflow)?;
            }
            scale = 0;
        }
        // Trailing zeros may be shed to fit (the value stays exact).
        while (scale > i64::from(MAX_SCALE) || acc > i64::MAX as u128)
            && scale > 0
            && acc.is_multiple_of(10)
        {
            acc /= 10;
            scale -= 1;
        }
        if acc == 0 && scale > i64::from(MAX_SCALE) {
            scale = i64::from(MAX_SCALE);
        }
        if scale > i64::from(MAX_SCALE) || acc > i64::MAX as u128 {
            return Err(DecimalError::Overflow);
        }
        let m = acc as i64;
        Ok(Decimal {
            mantissa: if neg { -m } else { m },
            scale: scale as u8,
        })
    }

    fn cmp_value(&self, other: &Self) -> Ordering {
        let s = self.scale.max(other.scale);
        let a = self.mantissa as i128 * POW10[(s - self.scale) as usize];
        let b = other.mantissa as i128 * POW10[(s - other.scale) as usize];
        a.cmp(&b)
    }
}

fn push_digit(acc: &mut u128, digits: &mut usize, d: u8) -> Result<(), DecimalError> {
    let v = u128::from(d - b'0');
    if *acc == 0 && v == 0 {
        return Ok(()); // leading zeros do not count towards the digit budget
    }
    *digits += 1;
    if *digits > 38 {
        return Err(DecimalError::Overflow);
    }
    *acc = *acc * 10 + v;
    Ok(())
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 48];
        f.write_str(self.format_into(&mut buf))
    }
}

impl Decimal {
    /// Writes the canonical text (venue digits, trailing zeros kept) into `buf` without allocating.
    pub fn format_into<'b>(&self, buf: &'b mut [u8; 48]) -> &'b str {
        let mut pos = buf.len();
        let mut m = self.mantissa.unsigned_abs();
        let mut written = 0u8;
        loop {
            if written == self.scale && self.scale > 0 {
                pos -= 1;
                buf[pos] = b'.';
            }
            pos -= 1;
            buf[pos] = b'0' + (m % 10) as u8;
            m /= 10;
            written = written.saturating_add(1);
            if m == 0 && written > self.scale {
                break;
            }
        }
        if self.mantissa < 0 {
            pos -= 1;
            buf[pos] = b'-';
        }
        // Only ASCII digits, '.' and '-' were written.
        std::str::from_utf8(&buf[pos..]).unwrap_or("0")
    }
}

impl FromStr for Decimal {
    type Err = DecimalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Decimal::parse(s)
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp_value(other) == Ordering::Equal
    }
}
impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_value(other)
    }
}

impl Hash for Decimal {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let n = self.normalized();
        n.mantissa.hash(state);
        n.scale.hash(state);
    }
}

impl serde::Serialize for Decimal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).expect(s)
    }

    #[test]
    fn keeps_venue_digits() {
        for s in [
            "0.35280000",
            "113747.89000000",
            "0",
            "0.0",
            "45281.0",
            "1",
            "-2.5",
            "0.00000638",
            "10",
            "999999999999.999999",
        ] {
            assert_eq!(d(s).to_string(), s);
        }
    }

    #[test]
    fn exponent_forms_are_exact() {
        assert_eq!(d("5.485e-05").to_string(), "0.00005485");
        assert_eq!(d("1e-08").to_string(), "0.00000001");
        assert_eq!(d("1.5E+3").to_string(), "1500");
        assert_eq!(d("2.50e1").to_string(), "25.0");
    }

    #[test]
    fn refuses_garbage() {
        for s in [
            "", "-", ".", "1.", ".5", "+1", "NaN", "inf", "-inf", "1.2.3", "0x10", "1e", "1e+",
            " 1", "1 ", "١",
        ] {
            assert_eq!(Decimal::parse(s), Err(DecimalError::Invalid), "{s:?}");
        }
    }

    #[test]
    fn refuses_absurd_sizes() {
        assert_eq!(Decimal::parse("1e400"), Err(DecimalError::Overflow));
        assert_eq!(
            Decimal::parse("99999999999999999999"),
            Err(DecimalError::Overflow)
        );
        assert_eq!(
            Decimal::parse("0.0000000000000000001"),
            Err(DecimalError::Overflow)
        );
        assert_eq!(
            Decimal::parse("1234567890123456789012345678901234567890"),
            Err(DecimalError::Overflow)
        );
    }

    #[test]
    fn sheds_trailing_zeros_only_when_needed() {
        // 20 integer digits do not fit; 19 with zeros after the point do once shed.
        assert_eq!(
            d("1000000000000000000.00").to_string(),
            "1000000000000000000"
        );
        assert_eq!(
            d("0.0000000000000000000").to_string(),
            "0.000000000000000000"
        );
    }

    #[test]
    fn value_equality_ignores_trailing_zeros() {
        assert_eq!(d("1.50"), d("1.5"));
        assert!(d("0.35280000") < d("0.3529"));
        assert!(d("-1") < d("0"));
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(m in any::<i64>(), scale in 0u8..=18) {
            let x = Decimal::new(m, scale).unwrap();
            let back = Decimal::parse(&x.to_string()).unwrap();
            prop_assert_eq!(back.mantissa(), m);
            prop_assert_eq!(back.scale(), scale);
        }

        #[test]
        fn venue_text_round_trips(int in "(0|[1-9][0-9]{0,9})", frac in proptest::option::of("[0-9]{1,8}")) {
            let s = match frac { Some(f) => format!("{int}.{f}"), None => int };
            prop_assert_eq!(Decimal::parse(&s).unwrap().to_string(), s);
        }

        #[test]
        fn ordering_matches_f64_for_small_values(a in 0i64..1_000_000_000, sa in 0u8..8, b in 0i64..1_000_000_000, sb in 0u8..8) {
            let x = Decimal::new(a, sa).unwrap();
            let y = Decimal::new(b, sb).unwrap();
            let (fx, fy) = (x.to_f64(), y.to_f64());
            if (fx - fy).abs() > 1e-9 * fx.abs().max(1.0) {
                prop_assert_eq!(x < y, fx < fy);
            }
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,40}") {
            let _ = Decimal::parse(&s);
        }
    }
}
