//! Receive → commit latency, in microseconds, kept in an HDR histogram.
//!
//! The group-commit loop records, for every row it commits (rows of every kind, duplicates
//! included), `commit time − Event::ts_recv_us`: how long a message waited between the socket and
//! durable storage.

use hdrhistogram::Histogram;

/// Highest latency tracked exactly enough (one hour); larger values are clamped to it.
const MAX_TRACKED_US: u64 = 3_600_000_000;

/// Percentiles of the receive → commit latency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Number of rows measured.
    pub count: u64,
    /// Median, µs.
    pub p50_us: u64,
    /// 90th percentile, µs.
    pub p90_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// Largest value seen (clamped to one hour), µs.
    pub max_us: u64,
}

/// Accumulates latencies (µs) with three significant digits.
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    hist: Option<Histogram<u64>>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    /// An empty recorder (1 µs .. 1 h, 3 significant digits).
    pub fn new() -> Self {
        // The bounds are constants that hdrhistogram accepts; `None` would only disable recording.
        LatencyRecorder {
            hist: Histogram::new_with_bounds(1, MAX_TRACKED_US, 3).ok(),
        }
    }

    /// Records one latency; negative values (clock steps) count as 0, huge ones are clamped.
    pub fn record(&mut self, latency_us: i64) {
        if let Some(h) = &mut self.hist {
            h.saturating_record(u64::try_from(latency_us).unwrap_or(0));
        }
    }

    /// Records the latency of `ts_recv_us` as seen at `now_us`.
    pub fn record_since(&mut self, ts_recv_us: i64, now_us: i64) {
        self.record(now_us.saturating_sub(ts_recv_us));
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.hist.as_ref().map_or(0, Histogram::len)
    }

    /// Percentiles so far (all zero when nothing was recorded).
    pub fn summary(&self) -> LatencySummary {
        match &self.hist {
            Some(h) if !h.is_empty() => LatencySummary {
                count: h.len(),
                p50_us: h.value_at_quantile(0.50),
                p90_us: h.value_at_quantile(0.90),
                p99_us: h.value_at_quantile(0.99),
                max_us: h.max(),
            },
            _ => LatencySummary::default(),
        }
    }
}
