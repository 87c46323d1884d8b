//! Number and time formatting straight into a `String`, without `core::fmt` or temporaries: the
//! hot path formats a few hundred thousand messages per second.

use tickrec_model::time::civil_from_days;

const POW10: [u128; 39] = {
    let mut t = [1u128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// 10^n for n ≤ 38.
pub(crate) const fn pow10(n: u8) -> u128 {
    POW10[n as usize]
}

fn push_digits(buf: &mut String, digits: &[u8]) {
    for &d in digits {
        buf.push(char::from(d));
    }
}

/// Decimal text of `v`.
pub(crate) fn push_u128(buf: &mut String, mut v: u128) {
    let mut tmp = [0u8; 40];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    push_digits(buf, &tmp[i..]);
}

/// Decimal text of `v`.
pub(crate) fn push_u64(buf: &mut String, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    push_digits(buf, &tmp[i..]);
}

/// Decimal text of `v`.
pub(crate) fn push_i64(buf: &mut String, v: i64) {
    if v < 0 {
        buf.push('-');
    }
    push_u64(buf, v.unsigned_abs());
}

/// `v` left-padded with zeros to `width` digits.
pub(crate) fn push_padded(buf: &mut String, v: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    let mut i = tmp.len();
    let mut v = v;
    while v > 0 {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = i.min(tmp.len().saturating_sub(width));
    push_digits(buf, &tmp[start..]);
}

/// The fixed-point value `v × 10^-scale` printed with exactly `decimals` digits after the point
/// (rounded half-up when `decimals < scale`). `decimals == 0` prints an integer.
pub(crate) fn push_fixed(buf: &mut String, v: u128, scale: u8, decimals: u8) {
    let (v, scale) = if decimals < scale {
        let div = pow10(scale - decimals);
        ((v + div / 2) / div, decimals)
    } else {
        (v, scale)
    };
    let p = pow10(scale);
    push_u128(buf, v / p);
    if decimals == 0 {
        return;
    }
    buf.push('.');
    let frac = v % p;
    let mut tmp = [b'0'; 40];
    let mut i = scale as usize;
    let mut f = frac;
    while i > 0 {
        i -= 1;
        tmp[i] = b'0' + (f % 10) as u8;
        f /= 10;
    }
    push_digits(buf, &tmp[..decimals as usize]);
}

/// Signed variant of [`push_fixed`].
pub(crate) fn push_fixed_signed(buf: &mut String, v: i128, scale: u8, decimals: u8) {
    if v < 0 {
        buf.push('-');
    }
    push_fixed(buf, v.unsigned_abs(), scale, decimals);
}

/// `v × 10^-scale` with trailing zeros removed but at least one decimal, like a float print
/// (`0.5147`, `6423.46326`, `740.0`): the way Kraken prints quantities.
pub(crate) fn push_stripped(buf: &mut String, v: u128, scale: u8) {
    let mut decimals = scale;
    let mut frac = v % pow10(scale);
    while decimals > 1 && frac.is_multiple_of(10) {
        frac /= 10;
        decimals -= 1;
    }
    push_fixed(buf, v, scale, decimals.max(1));
}

/// `s` as a JSON string literal (with quotes), escaping what JSON requires.
pub(crate) fn push_json_str(buf: &mut String, s: &str) {
    buf.push('"');
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                buf.push_str("\\u00");
                buf.push(char::from(b"0123456789abcdef"[(c as usize) >> 4]));
                buf.push(char::from(b"0123456789abcdef"[(c as usize) & 15]));
            }
            c => buf.push(c),
        }
    }
    buf.push('"');
}

/// RFC 3339 formatter that caches the `YYYY-MM-DDTHH:MM:SS.` prefix of the last second seen:
/// consecutive trades nearly always share it.
#[derive(Debug)]
pub(crate) struct Rfc3339 {
    sec: i64,
    head: String,
}

impl Default for Rfc3339 {
    fn default() -> Self {
        Rfc3339 {
            sec: i64::MIN,
            head: String::with_capacity(20),
        }
    }
}

impl Rfc3339 {
    fn head(&mut self, sec: i64) -> &str {
        if sec != self.sec {
            self.sec = sec;
            let days = sec.div_euclid(86_400);
            let sod = sec.rem_euclid(86_400) as u64;
            let (y, m, d) = civil_from_days(days);
            let h = &mut self.head;
            h.clear();
            push_padded(h, y.max(0) as u64, 4);
            h.push('-');
            push_padded(h, u64::from(m), 2);
            h.push('-');
            push_padded(h, u64::from(d), 2);
            h.push('T');
            push_padded(h, sod / 3600, 2);
            h.push(':');
            push_padded(h, (sod / 60) % 60, 2);
            h.push(':');
            push_padded(h, sod % 60, 2);
            h.push('.');
        }
        &self.head
    }

    /// `2023-09-25T07:48:36.925533Z` (six fractional digits), without quotes.
    pub(crate) fn push_us(&mut self, buf: &mut String, us: i64) {
        buf.push_str(self.head(us.div_euclid(1_000_000)));
        push_padded(buf, us.rem_euclid(1_000_000) as u64, 6);
        buf.push('Z');
    }

    /// `2023-10-04T15:25:00.000000000Z` (nine fractional digits, Kraken's OHLC style).
    pub(crate) fn push_ns(&mut self, buf: &mut String, us: i64) {
        buf.push_str(self.head(us.div_euclid(1_000_000)));
        push_padded(buf, us.rem_euclid(1_000_000) as u64 * 1000, 9);
        buf.push('Z');
    }

    /// [`Rfc3339::push_us`] into a new string.
    pub(crate) fn us_string(&mut self, us: i64) -> String {
        let mut s = String::with_capacity(27);
        self.push_us(&mut s, us);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut String)) -> String {
        let mut b = String::new();
        f(&mut b);
        b
    }

    #[test]
    fn integers() {
        assert_eq!(s(|b| push_u64(b, 0)), "0");
        assert_eq!(s(|b| push_u64(b, u64::MAX)), u64::MAX.to_string());
        assert_eq!(s(|b| push_i64(b, -42)), "-42");
        assert_eq!(s(|b| push_i64(b, i64::MIN)), i64::MIN.to_string());
        assert_eq!(s(|b| push_u128(b, u128::MAX)), u128::MAX.to_string());
        assert_eq!(s(|b| push_padded(b, 7, 3)), "007");
        assert_eq!(s(|b| push_padded(b, 0, 2)), "00");
        assert_eq!(s(|b| push_padded(b, 12345, 2)), "12345");
    }

    #[test]
    fn fixed_point() {
        assert_eq!(s(|b| push_fixed(b, 11_374_789, 2, 8)), "113747.89000000");
        assert_eq!(s(|b| push_fixed(b, 60_000, 8, 8)), "0.00060000");
        assert_eq!(s(|b| push_fixed(b, 452_810, 1, 1)), "45281.0");
        assert_eq!(s(|b| push_fixed(b, 12_345, 3, 2)), "12.35");
        assert_eq!(s(|b| push_fixed(b, 12_344, 3, 2)), "12.34");
        assert_eq!(s(|b| push_fixed(b, 7, 0, 0)), "7");
        assert_eq!(s(|b| push_fixed(b, 5, 2, 0)), "0");
        assert_eq!(s(|b| push_fixed_signed(b, -17, 2, 2)), "-0.17");
    }

    #[test]
    fn stripped() {
        assert_eq!(s(|b| push_stripped(b, 51_470_000, 8)), "0.5147");
        assert_eq!(s(|b| push_stripped(b, 642_346_326_000, 8)), "6423.46326");
        assert_eq!(s(|b| push_stripped(b, 74_000_000_000, 8)), "740.0");
        assert_eq!(s(|b| push_stripped(b, 113_619_677_815, 8)), "1136.19677815");
        assert_eq!(s(|b| push_stripped(b, 1, 8)), "0.00000001");
    }

    #[test]
    fn json_strings() {
        assert_eq!(
            s(|b| push_json_str(b, "a\"b\\c\n\u{1}")),
            r#""a\"b\\c\n\u0001""#
        );
    }

    #[test]
    fn rfc3339_matches_model() {
        let mut f = Rfc3339::default();
        for us in [
            0,
            1_695_628_116_925_533,
            1_695_628_116_925_534,
            1_695_628_117_000_000,
            951_782_400_000_001,
            4_102_444_799_999_999,
        ] {
            assert_eq!(
                f.us_string(us),
                tickrec_model::time::format_rfc3339_us(us),
                "{us}"
            );
        }
        let mut b = String::new();
        f.push_ns(&mut b, 1_696_433_100_000_000);
        assert_eq!(b, "2023-10-04T15:25:00.000000000Z");
    }
}
