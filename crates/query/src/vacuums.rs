//! Liquidity vacuums (seed 001): price ranges inside the window's traded range where far less
//! volume changed hands than in a typical bucket — ranges price moved through fast and may move
//! through fast again.
//!
//! Method, over a [`VolumeProfile`]: the typical bucket volume is the median of the non-empty
//! buckets' volumes (the lower middle for an even count, so it stays exact). A bucket is thin when
//! its volume is below `threshold_pct` % of that median (empty buckets are thin). Consecutive thin
//! buckets form one candidate range; a range touching the lowest or highest bucket is a tail of
//! the distribution, not a vacuum, and is dropped — a vacuum has traded-through prices on both
//! sides. Each vacuum's score is `1 − volume / (median × buckets)`, in `(0, 1]`: 1 for a range
//! where nothing traded. Vacuums are listed by score, then width (descending).

use crate::error::QueryError;
use crate::exact::Exact;
use crate::profile::VolumeProfile;
use crate::tape::Table;

/// Default thin-bucket threshold, percent of the median bucket volume.
pub const DEFAULT_THRESHOLD_PCT: u8 = 20;

/// One liquidity vacuum.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Vacuum {
    /// Lower bound of the range (inclusive).
    pub low: Exact,
    /// Upper bound of the range (exclusive).
    pub high: Exact,
    /// Volume traded inside the range.
    pub volume: Exact,
    /// Trades inside the range.
    pub trades: u64,
    /// Buckets the range spans.
    pub buckets: u32,
    /// `1 − volume / (median × buckets)`: 1 = nothing traded.
    pub score: f64,
}

/// Vacuums of one profile.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Vacuums {
    /// The trade table read.
    pub table: Table,
    /// Window start, RFC 3339.
    pub from: String,
    /// Window end (exclusive), RFC 3339.
    pub to: String,
    /// The typical (median non-empty) bucket volume.
    pub median_bucket_volume: Exact,
    /// Thin-bucket threshold, percent of the median.
    pub threshold_pct: u8,
    /// Bucket size of the profile.
    pub bucket_size: Exact,
    /// Trades the profile was built from.
    pub trades: u64,
    /// The vacuums, best first.
    pub vacuums: Vec<Vacuum>,
}

/// Finds the vacuums of `profile`.
///
/// # Errors
/// [`QueryError::InvalidParam`] for a threshold outside 1..=100.
pub fn liquidity_vacuums(
    profile: &VolumeProfile,
    threshold_pct: u8,
) -> Result<Vacuums, QueryError> {
    if !(1..=100).contains(&threshold_pct) {
        return Err(QueryError::invalid(
            "threshold_pct",
            format!("{threshold_pct} is not in 1..=100"),
        ));
    }
    let b = &profile.buckets;
    let mut traded: Vec<i128> = b.iter().map(|x| x.volume.0).filter(|&v| v > 0).collect();
    traded.sort_unstable();
    let median = traded
        .get(traded.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0);
    let thin = |v: i128| v * 100 < median * i128::from(threshold_pct);
    let mut vacuums = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !thin(b[i].volume.0) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && thin(b[i].volume.0) {
            i += 1;
        }
        let end = i; // exclusive
        if start == 0 || end == b.len() {
            continue;
        }
        let run = &b[start..end];
        let volume: i128 = run.iter().map(|x| x.volume.0).sum();
        let n = run.len() as u32;
        let expected = median as f64 * f64::from(n);
        vacuums.push(Vacuum {
            low: run[0].low,
            high: run[run.len() - 1].high,
            volume: Exact(volume),
            trades: run.iter().map(|x| x.trades).sum(),
            buckets: n,
            score: 1.0 - volume as f64 / expected,
        });
    }
    vacuums.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.buckets.cmp(&a.buckets))
            .then(a.low.cmp(&b.low))
    });
    Ok(Vacuums {
        table: profile.table,
        from: profile.from.clone(),
        to: profile.to.clone(),
        median_bucket_volume: Exact(median),
        threshold_pct,
        bucket_size: profile.bucket_size,
        trades: profile.trades,
        vacuums,
    })
}
