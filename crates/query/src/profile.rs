//! Volume profile (seed 001): traded volume per price bucket over a window, with the buy/sell
//! split, the point of control and the value area.
//!
//! Method: one pass over the window aggregates exact volume per distinct price (scale-18 units);
//! the buckets are then built from those levels. Buckets are `[k × size, (k + 1) × size)` for
//! integer `k`, so their bounds are multiples of the size; the size is a multiple of the tick (the
//! window's price grid: the greatest common divisor of its distinct prices, `0.5` for prices
//! `30000.5` and `30001`), so bounds are tick-aligned. With a bucket count instead of a size, the size is the smallest tick multiple
//! that fits the window's price range into at most that many buckets. Empty buckets inside the
//! range are listed (they are what [`crate::vacuums`] looks for).
//!
//! Point of control: the bucket with the most volume (the lowest such bucket on a tie). Value
//! area: starting from the POC, repeatedly add the neighbouring bucket (above or below) with more
//! volume — above on a tie — until the area holds at least `value_area_pct` % of the volume.

use std::collections::HashMap;

use tickrec_model::{time::format_rfc3339_us, Decimal, Side};

use crate::error::QueryError;
use crate::exact::{pow10, Exact, SCALE};
use crate::params::{Market, Window};
use crate::tape::{Table, Tape};

/// Default minimum number of trades (seed 001).
pub const DEFAULT_MIN_TRADES: u64 = 1000;
/// Default value area, percent of volume.
pub const DEFAULT_VALUE_AREA_PCT: u8 = 70;
/// Default bucket count when neither a size nor a count is given.
pub const DEFAULT_BUCKETS: u32 = 50;
/// Most buckets a profile may hold.
pub const MAX_BUCKETS: u32 = 10_000;
/// Longest window, seconds (31 days).
pub const MAX_WINDOW_S: i64 = 31 * 86_400;

/// How prices are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucketing {
    /// A fixed bucket size (must be a multiple of the tick).
    Size(Decimal),
    /// At most this many buckets (2..=[`MAX_BUCKETS`]).
    Count(u32),
}

/// Parameters of a volume profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProfileParams {
    /// How prices are grouped.
    pub bucketing: Bucketing,
    /// Share of the volume the value area holds, percent (1..=100).
    pub value_area_pct: u8,
    /// Fewer trades than this in the window is an error.
    pub min_trades: u64,
}

impl Default for ProfileParams {
    fn default() -> Self {
        ProfileParams {
            bucketing: Bucketing::Count(DEFAULT_BUCKETS),
            value_area_pct: DEFAULT_VALUE_AREA_PCT,
            min_trades: DEFAULT_MIN_TRADES,
        }
    }
}

/// Traded volume in one price bucket `[low, high)`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Bucket {
    /// Lower bound (inclusive).
    pub low: Exact,
    /// Upper bound (exclusive).
    pub high: Exact,
    /// Volume, all sides.
    pub volume: Exact,
    /// Taker-buy volume.
    pub buy_volume: Exact,
    /// Taker-sell volume.
    pub sell_volume: Exact,
    /// Trades.
    pub trades: u64,
}

/// A volume profile.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VolumeProfile {
    /// The trade table read.
    pub table: Table,
    /// Window start, RFC 3339.
    pub from: String,
    /// Window end (exclusive), RFC 3339.
    pub to: String,
    /// Trades the profile was built from.
    pub trades: u64,
    /// Total volume.
    pub volume: Exact,
    /// Total taker-buy volume.
    pub buy_volume: Exact,
    /// Total taker-sell volume.
    pub sell_volume: Exact,
    /// Finest price increment seen.
    pub tick: Exact,
    /// Bucket size.
    pub bucket_size: Exact,
    /// Index of the point-of-control bucket in `buckets`.
    pub poc_index: usize,
    /// Point of control: the middle of the POC bucket.
    pub poc_price: Exact,
    /// Value area low (lower bound of its lowest bucket).
    pub value_area_low: Exact,
    /// Value area high (upper bound of its highest bucket).
    pub value_area_high: Exact,
    /// Volume inside the value area.
    pub value_area_volume: Exact,
    /// The value area's target share, percent.
    pub value_area_pct: u8,
    /// Buckets from the lowest traded price to the highest, empty ones included.
    pub buckets: Vec<Bucket>,
}

#[derive(Default)]
struct Level {
    volume: Exact,
    buy: Exact,
    sell: Exact,
    trades: u64,
}

/// Builds the volume profile of the market over the window.
///
/// # Errors
/// [`QueryError::InsufficientTrades`] below `params.min_trades`; [`QueryError::InvalidParam`] for
/// a bad bucketing or value-area share; [`QueryError::WindowTooLong`]; as [`Tape::scan`].
pub fn volume_profile(
    tape: &Tape,
    m: &Market,
    w: Window,
    params: &ProfileParams,
) -> Result<VolumeProfile, QueryError> {
    w.check_max(MAX_WINDOW_S)?;
    if !(1..=100).contains(&params.value_area_pct) {
        return Err(QueryError::invalid(
            "value_area_pct",
            format!("{} is not in 1..=100", params.value_area_pct),
        ));
    }
    if let Bucketing::Count(n) = params.bucketing {
        if !(2..=MAX_BUCKETS).contains(&n) {
            return Err(QueryError::invalid(
                "buckets",
                format!("{n} is not in 2..={MAX_BUCKETS}"),
            ));
        }
    }
    let mut levels: HashMap<i128, Level> = HashMap::new();
    let (table, trades) = tape.scan(m, w, |t| {
        let l = levels.entry(t.price_units.0).or_default();
        l.volume = l.volume.add(t.qty_units, "volume")?;
        match t.side {
            Side::Buy => l.buy = l.buy.add(t.qty_units, "buy volume")?,
            Side::Sell => l.sell = l.sell.add(t.qty_units, "sell volume")?,
            Side::Unknown => {}
        }
        l.trades += 1;
        Ok(())
    })?;
    if trades < params.min_trades || trades == 0 {
        return Err(QueryError::InsufficientTrades {
            needed: params.min_trades.max(1),
            got: trades,
        });
    }
    let mut prices: Vec<i128> = levels.keys().copied().collect();
    prices.sort_unstable();
    let (lo, hi) = (prices[0], prices[prices.len() - 1]);
    let tick = tick(&prices);
    let size = bucket_size(params.bucketing, tick, lo, hi)?;
    let base = lo.div_euclid(size);
    let n = usize::try_from(hi.div_euclid(size) - base + 1).unwrap_or(usize::MAX);
    if n > MAX_BUCKETS as usize {
        return Err(QueryError::invalid(
            "bucket_size",
            format!(
                "{} makes {n} buckets over this window's range (at most {MAX_BUCKETS})",
                Exact(size)
            ),
        ));
    }
    let mut buckets: Vec<Bucket> = (0..n)
        .map(|i| {
            let low = (base + i as i128) * size;
            Bucket {
                low: Exact(low),
                high: Exact(low + size),
                volume: Exact::ZERO,
                buy_volume: Exact::ZERO,
                sell_volume: Exact::ZERO,
                trades: 0,
            }
        })
        .collect();
    let (mut volume, mut buy, mut sell) = (Exact::ZERO, Exact::ZERO, Exact::ZERO);
    for (p, l) in &levels {
        let b = &mut buckets[(p.div_euclid(size) - base) as usize];
        b.volume = b.volume.add(l.volume, "volume")?;
        b.buy_volume = b.buy_volume.add(l.buy, "buy volume")?;
        b.sell_volume = b.sell_volume.add(l.sell, "sell volume")?;
        b.trades += l.trades;
        volume = volume.add(l.volume, "volume")?;
        buy = buy.add(l.buy, "buy volume")?;
        sell = sell.add(l.sell, "sell volume")?;
    }
    let poc_index = poc(&buckets);
    let (va_lo, va_hi, va_volume) = value_area(&buckets, poc_index, volume, params.value_area_pct);
    Ok(VolumeProfile {
        table,
        from: format_rfc3339_us(w.from_us()),
        to: format_rfc3339_us(w.to_us()),
        trades,
        volume,
        buy_volume: buy,
        sell_volume: sell,
        tick: Exact(tick),
        bucket_size: Exact(size),
        poc_index,
        poc_price: Exact(buckets[poc_index].low.0 + size / 2),
        value_area_low: buckets[va_lo].low,
        value_area_high: buckets[va_hi].high,
        value_area_volume: va_volume,
        value_area_pct: params.value_area_pct,
        buckets,
    })
}

/// The price grid of the window: the greatest common divisor of its distinct prices (units), so
/// `30000.5` and `30001` give `0.5`. Never finer than one unit of scale 18.
fn tick(prices: &[i128]) -> i128 {
    fn gcd(mut a: i128, mut b: i128) -> i128 {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a.abs()
    }
    let g = prices.iter().fold(0, |g, &p| gcd(g, p));
    if g == 0 {
        pow10(SCALE)
    } else {
        g
    }
}

/// The bucket size in units for the bucketing, a multiple of `tick`.
fn bucket_size(b: Bucketing, tick: i128, lo: i128, hi: i128) -> Result<i128, QueryError> {
    match b {
        Bucketing::Size(d) => {
            let size = Exact::from_decimal(d).0;
            if size <= 0 || size % tick != 0 {
                return Err(QueryError::invalid(
                    "bucket_size",
                    format!("{d} is not a positive multiple of the tick {}", Exact(tick)),
                ));
            }
            Ok(size)
        }
        Bucketing::Count(n) => {
            // (hi - lo) < (n - 1) × size keeps floor(hi/size) - floor(lo/size) ≤ n - 1.
            let ceil = |a: i128, b: i128| a.div_euclid(b) + i128::from(a.rem_euclid(b) != 0);
            let per = ceil(hi - lo + tick, i128::from(n - 1));
            Ok(ceil(per, tick).max(1) * tick)
        }
    }
}

/// Index of the bucket with the most volume; the lowest on a tie.
fn poc(buckets: &[Bucket]) -> usize {
    let mut best = 0;
    for (i, b) in buckets.iter().enumerate() {
        if b.volume > buckets[best].volume {
            best = i;
        }
    }
    best
}

/// Grows the value area from the POC; returns its first and last bucket index and its volume.
fn value_area(buckets: &[Bucket], poc: usize, total: Exact, pct: u8) -> (usize, usize, Exact) {
    let (mut lo, mut hi) = (poc, poc);
    let mut acc = buckets[poc].volume.0;
    let target = total.0 * i128::from(pct);
    while acc * 100 < target {
        let above = buckets.get(hi + 1).map(|b| b.volume.0);
        let below = lo.checked_sub(1).map(|i| buckets[i].volume.0);
        match (above, below) {
            (Some(a), Some(b)) if a >= b => {
                hi += 1;
                acc += a;
            }
            (Some(a), None) => {
                hi += 1;
                acc += a;
            }
            (_, Some(b)) => {
                lo -= 1;
                acc += b;
            }
            (None, None) => break,
        }
    }
    (lo, hi, Exact(acc))
}
