//! Clocks: every row carries the venue's event time and our receive time, both in microseconds
//! since the Unix epoch, UTC.

use std::time::{SystemTime, UNIX_EPOCH};

/// Why a timestamp text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 timestamp")]
pub struct TimeError;

/// Local wall-clock time in microseconds since the epoch (UTC).
pub fn now_us() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub const fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date (year, month, day) for days since 1970-01-01.
pub const fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn num(b: &[u8], from: usize, len: usize) -> Result<u32, TimeError> {
    let s = b.get(from..from + len).ok_or(TimeError)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return Err(TimeError);
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Ok(v)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into microseconds since the epoch.
/// Fractions longer than six digits (Kraken sends nanoseconds) are truncated to microseconds.
///
/// # Errors
/// [`TimeError`] for anything else, including out-of-range fields.
pub fn parse_rfc3339_us(s: &str) -> Result<i64, TimeError> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(TimeError);
    }
    let year = num(b, 0, 4)?;
    let month = num(b, 5, 2)?;
    let day = num(b, 8, 2)?;
    let hour = num(b, 11, 2)?;
    let min = num(b, 14, 2)?;
    let sec = num(b, 17, 2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return Err(TimeError);
    }
    let mut i = 19;
    let mut micros: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 6 {
                micros = micros * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return Err(TimeError);
        }
        for _ in n..6 {
            micros *= 10;
        }
    }
    let offset_s: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&c @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = i64::from(num(b, i + 1, 2)?);
            let om = i64::from(num(b, i + 4, 2)?);
            let o = oh * 3600 + om * 60;
            if c == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return Err(TimeError),
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs =
        days * 86_400 + i64::from(hour) * 3600 + i64::from(min) * 60 + i64::from(sec) - offset_s;
    Ok(secs * 1_000_000 + micros)
}

/// Formats microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn format_rfc3339_us(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kraken_timestamps() {
        assert_eq!(parse_rfc3339_us("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_rfc3339_us("2023-09-25T07:48:36.925533Z"),
            Ok(1_695_628_116_925_533)
        );
        // nanoseconds are truncated
        assert_eq!(
            parse_rfc3339_us("2023-10-04T15:25:00.000000000Z"),
            Ok(1_696_433_100_000_000)
        );
        assert_eq!(
            parse_rfc3339_us("2023-10-04T17:25:00.5+02:00"),
            Ok(1_696_433_100_500_000)
        );
    }

    #[test]
    fn refuses_bad_timestamps() {
        for s in [
            "",
            "2023-13-01T00:00:00Z",
            "2023-01-01 00:00:00",
            "2023-01-01T00:00:00.Z",
            "garbage-garbage-garb",
        ] {
            assert!(parse_rfc3339_us(s).is_err(), "{s}");
        }
    }

    #[test]
    fn format_round_trips() {
        for us in [0, 1_695_628_116_925_533, 951_782_400_000_001] {
            assert_eq!(parse_rfc3339_us(&format_rfc3339_us(us)), Ok(us));
        }
    }
}
