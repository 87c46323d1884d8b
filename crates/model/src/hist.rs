//! A fixed-bucket latency histogram made of atomics: one comparison chain and one relaxed
//! `fetch_add` per value, no lock and no allocation, so the hot path can record every message.
//! It renders as a Prometheus histogram (explicit buckets, so it is a histogram and not a
//! summary) and its cumulative counts let a reader compute percentiles over any window by
//! subtracting two snapshots.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Upper bounds of the buckets, in milliseconds (the last bucket is `+Inf`).
pub const BUCKETS_MS: [f64; 16] = [
    0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0,
    10_000.0, 60_000.0,
];

const BOUNDS_US: [i64; 16] = [
    250, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000, 60_000_000,
];

/// Counts per bucket (`BUCKETS_MS.len() + 1` of them, the last one `+Inf`), not cumulative.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; BUCKETS_MS.len() + 1],
    sum_us: AtomicI64,
    /// Values below zero (clocks disagree: the venue's time is ahead of ours). They are counted
    /// here and in the first bucket as 0, so a skewed clock is visible instead of hidden.
    negative: AtomicU64,
}

/// A copy of a histogram's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HistogramSnapshot {
    /// Per-bucket counts (not cumulative); the last is `+Inf`.
    pub buckets: Vec<u64>,
    /// Sum of the recorded values (negative ones as 0), µs.
    pub sum_us: i64,
    /// Number of negative values recorded.
    pub negative: u64,
}

impl HistogramSnapshot {
    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The upper bound (ms) of the bucket holding quantile `q` (0..=1); `None` when empty.
    /// `f64::INFINITY` when it falls in the overflow bucket.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(BUCKETS_MS.get(i).copied().unwrap_or(f64::INFINITY));
            }
        }
        Some(f64::INFINITY)
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one value in µs (negative: counted as skew and as 0).
    #[inline]
    pub fn record_us(&self, us: i64) {
        if us < 0 {
            self.negative.fetch_add(1, Ordering::Relaxed);
        }
        let v = us.max(0);
        let i = BOUNDS_US
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(BOUNDS_US.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(v, Ordering::Relaxed);
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            sum_us: self.sum_us.load(Ordering::Relaxed),
            negative: self.negative.load(Ordering::Relaxed),
        }
    }
}

/// Appends `snap` as a Prometheus histogram `name` (in milliseconds) with `labels`
/// (`venue="binance",symbol="BTC/USDT"`, without braces; may be empty).
pub fn render_prometheus(out: &mut String, name: &str, labels: &str, snap: &HistogramSnapshot) {
    let sep = if labels.is_empty() { "" } else { "," };
    let mut cumulative = 0u64;
    for (i, c) in snap.buckets.iter().enumerate() {
        cumulative += c;
        let le = match BUCKETS_MS.get(i) {
            Some(b) => b.to_string(),
            None => "+Inf".to_string(),
        };
        // Writing into a String cannot fail.
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
        );
    }
    let braces = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(out, "{name}_sum{braces} {}", snap.sum_us as f64 / 1000.0);
    let _ = writeln!(out, "{name}_count{braces} {cumulative}");
}

/// Escapes a Prometheus label value (`\`, `"` and newlines).
pub fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_their_buckets_and_render_cumulatively() {
        let h = LatencyHistogram::new();
        for us in [-5, 0, 250, 251, 999, 1_000, 70_000_000] {
            h.record_us(us);
        }
        let s = h.snapshot();
        assert_eq!(s.count(), 7);
        assert_eq!(s.negative, 1);
        assert_eq!(s.buckets[0], 3, "-5 (as 0), 0 and 250 are ≤ 0.25 ms");
        assert_eq!(s.buckets[1], 1);
        assert_eq!(s.buckets[2], 2);
        assert_eq!(s.buckets[BUCKETS_MS.len()], 1, "70 s overflows");
        assert_eq!(s.sum_us, 250 + 251 + 999 + 1_000 + 70_000_000);
        assert_eq!(s.quantile_ms(0.5), Some(0.5));
        assert_eq!(s.quantile_ms(1.0), Some(f64::INFINITY));
        assert_eq!(HistogramSnapshot::default().quantile_ms(0.5), None);

        let mut out = String::new();
        render_prometheus(&mut out, "ws_lag_ms", "venue=\"kraken\"", &s);
        assert!(
            out.contains("ws_lag_ms_bucket{venue=\"kraken\",le=\"0.25\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("ws_lag_ms_bucket{venue=\"kraken\",le=\"1\"} 6\n"),
            "{out}"
        );
        assert!(
            out.contains("ws_lag_ms_bucket{venue=\"kraken\",le=\"+Inf\"} 7\n"),
            "{out}"
        );
        assert!(
            out.contains("ws_lag_ms_count{venue=\"kraken\"} 7\n"),
            "{out}"
        );
        assert!(
            out.contains("ws_lag_ms_sum{venue=\"kraken\"} 70002.5\n"),
            "{out}"
        );
        assert_eq!(escape_label("a\"b\\c"), "a\\\"b\\\\c");
    }
}
