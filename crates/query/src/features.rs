//! Features for models (seed 004), over 1-minute closes built from the stored trades.
//!
//! A rolling window needs consecutive minutes: a minute without trades is a gap (listed, never
//! filled), and the run of consecutive candles starts again after it. A minute is *ready* once its
//! run holds at least `max(window, warmup)` candles; before that it is reported as not ready with
//! the count so far, and no numbers.
//!
//! For a ready minute `t` with the last `N = window` closes `c₁..c_N` (`c_N` = this minute):
//! - `sma` = Σc / N (the sum exact in scale-18 units, then one `f64` division);
//! - `ema`: seeded with the run's first close, `ema ← ema + α (c − ema)` with `α = 2 / (N + 1)`
//!   at every candle of the run;
//! - `ret` = ln(c_N / c_{N−1}), the 1-minute log return;
//! - `realized_vol` = √Σ rᵢ² over the N − 1 log returns inside the window;
//! - `zscore` = (c_N − sma) / σ with σ the population standard deviation of the N closes (`None`
//!   when σ = 0).
//!
//! All derived numbers are `f64`.

use tickrec_model::Decimal;

use crate::candles::{aligned_window, gaps, CandleBuilder, CandleGap};
use crate::error::QueryError;
use crate::exact::Exact;
use crate::params::{Market, Window};
use crate::tape::{Table, Tape};

/// Default rolling window, minutes.
pub const DEFAULT_WINDOW: usize = 60;
/// Candles a run needs before anything is reported (seed 004).
pub const DEFAULT_WARMUP: usize = 60;
/// Longest rolling window, minutes (one day).
pub const MAX_WINDOW: usize = 1440;

/// Parameters of the features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureParams {
    /// Rolling window N, minutes (2..=[`MAX_WINDOW`]).
    pub window: usize,
    /// Consecutive candles needed before a minute is ready.
    pub warmup: usize,
}

impl Default for FeatureParams {
    fn default() -> Self {
        FeatureParams {
            window: DEFAULT_WINDOW,
            warmup: DEFAULT_WARMUP,
        }
    }
}

/// The features of one minute.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FeatureRow {
    /// Minute open time, RFC 3339.
    pub time: String,
    /// Minute open time, µs.
    pub time_us: i64,
    /// The minute's close (last trade price).
    pub close: Decimal,
    /// True when the numbers below are present.
    pub ready: bool,
    /// Consecutive candles in this minute's run so far (this one included).
    pub run_length: usize,
    /// Simple moving average of the closes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sma: Option<f64>,
    /// Exponential moving average of the closes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ema: Option<f64>,
    /// 1-minute log return.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ret: Option<f64>,
    /// Realized volatility over the window (√Σr²).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realized_vol: Option<f64>,
    /// Z-score of the close against the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zscore: Option<f64>,
}

/// Features per minute of the window.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Features {
    /// The trade table read.
    pub table: Table,
    /// Rolling window, minutes.
    pub window: usize,
    /// Candles needed before a minute is ready.
    pub warmup: usize,
    /// One row per minute with trades.
    pub rows: Vec<FeatureRow>,
    /// Minutes without trades.
    pub gaps: Vec<CandleGap>,
    /// Ready rows.
    pub ready: usize,
}

/// Computes the features of the market over the window (widened to whole minutes).
///
/// # Errors
/// [`QueryError::InvalidParam`] for a window outside 2..=[`MAX_WINDOW`]; as
/// [`crate::candles::candles_from_trades`].
pub fn features(
    tape: &Tape,
    m: &Market,
    w: Window,
    params: &FeatureParams,
) -> Result<Features, QueryError> {
    let n = params.window;
    if !(2..=MAX_WINDOW).contains(&n) {
        return Err(QueryError::invalid(
            "window",
            format!("{n} is not in 2..={MAX_WINDOW}"),
        ));
    }
    let need = n.max(params.warmup);
    let w = aligned_window(w, 60)?;
    let mut b = CandleBuilder::new(60);
    let (table, _) = tape.scan(m, w, |t| b.push(t))?;
    let candles = b.finish();
    let gaps = gaps(w, 60, candles.iter().map(|c| c.open_time_us));

    let alpha = 2.0 / (n as f64 + 1.0);
    let mut rows = Vec::with_capacity(candles.len());
    let mut run: Vec<(i128, f64)> = Vec::new(); // (exact units, f64) closes of the current run
    let mut ema = 0.0;
    let mut prev_time = i64::MIN;
    for c in &candles {
        let units = Exact::from_decimal(c.close).0;
        let x = Exact(units).to_f64();
        if c.open_time_us != prev_time.saturating_add(60_000_000) {
            run.clear();
        }
        prev_time = c.open_time_us;
        ema = if run.is_empty() {
            x
        } else {
            ema + alpha * (x - ema)
        };
        run.push((units, x));
        let mut row = FeatureRow {
            time: c.open_time.clone(),
            time_us: c.open_time_us,
            close: c.close,
            ready: run.len() >= need,
            run_length: run.len(),
            sma: None,
            ema: None,
            ret: None,
            realized_vol: None,
            zscore: None,
        };
        if row.ready {
            let last = &run[run.len() - n..];
            let sum: i128 = last.iter().map(|&(u, _)| u).sum();
            let sma = Exact(sum).to_f64() / n as f64;
            let var = last
                .iter()
                .map(|&(_, v)| (v - sma) * (v - sma))
                .sum::<f64>()
                / n as f64;
            let sd = var.sqrt();
            let rv = last
                .windows(2)
                .map(|p| (p[1].1 / p[0].1).ln().powi(2))
                .sum::<f64>()
                .sqrt();
            row.sma = Some(sma);
            row.ema = Some(ema);
            row.ret = Some((last[n - 1].1 / last[n - 2].1).ln());
            row.realized_vol = Some(rv);
            row.zscore = (sd > 0.0).then(|| (x - sma) / sd);
        }
        rows.push(row);
    }
    let ready = rows.iter().filter(|r| r.ready).count();
    Ok(Features {
        table,
        window: n,
        warmup: params.warmup,
        rows,
        gaps,
        ready,
    })
}
