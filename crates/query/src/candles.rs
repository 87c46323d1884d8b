//! Candles of any interval from 1 s to 1 d, aggregated from the stored trades (exact OHLC in
//! venue digits, exact volumes, VWAP as `f64`), and the venue's own stored candles. Intervals are
//! aligned to the epoch (UTC); the window is widened to whole intervals. An interval without
//! trades is reported in `gaps`, never filled with a copy of the previous close.

use tickrec_model::{time::format_rfc3339_us, Decimal, Side};

use crate::error::QueryError;
use crate::exact::{notional, Exact};
use crate::params::{Market, Window};
use crate::tape::{decimal, Backend, ScannedTrade, Table, Tape};

/// Most candles one answer may hold.
pub const MAX_CANDLES: i64 = 10_000;
/// Shortest interval, seconds.
pub const MIN_INTERVAL_S: i64 = 1;
/// Longest interval, seconds (one day).
pub const MAX_INTERVAL_S: i64 = 86_400;

/// One candle built from trades.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TradeCandle {
    /// Open time, RFC 3339.
    pub open_time: String,
    /// Open time, µs since the epoch.
    pub open_time_us: i64,
    /// First trade's price.
    pub open: Decimal,
    /// Highest price.
    pub high: Decimal,
    /// Lowest price.
    pub low: Decimal,
    /// Last trade's price.
    pub close: Decimal,
    /// Base volume, exact.
    pub volume: Exact,
    /// Volume of taker buys, exact.
    pub buy_volume: Exact,
    /// Volume of taker sells, exact.
    pub sell_volume: Exact,
    /// Σ price × qty, exact.
    pub quote_volume: Exact,
    /// Number of trades.
    pub trades: u64,
    /// Volume-weighted average price, `quote_volume / volume` as `f64` (a derived statistic).
    pub vwap: f64,
}

/// A run of consecutive intervals with no candle.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CandleGap {
    /// Open time of the first missing candle, RFC 3339.
    pub from: String,
    /// End of the last missing candle (exclusive), RFC 3339.
    pub to: String,
    /// Open time of the first missing candle, µs.
    pub from_us: i64,
    /// End of the last missing candle, µs.
    pub to_us: i64,
    /// Candles missing.
    pub missing: u64,
}

/// Candles aggregated from trades, with the gaps between them.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TradeCandles {
    /// The trade table read.
    pub table: Table,
    /// Interval, seconds.
    pub interval_s: i64,
    /// The widened window's start, µs.
    pub from_us: i64,
    /// The widened window's end, µs.
    pub to_us: i64,
    /// Candles with at least one trade, in time order.
    pub candles: Vec<TradeCandle>,
    /// Intervals without trades.
    pub gaps: Vec<CandleGap>,
}

/// One candle as the venue published it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VenueCandle {
    /// Open time, RFC 3339.
    pub open_time: String,
    /// Open time, µs since the epoch.
    pub open_time_us: i64,
    /// Open.
    pub open: Decimal,
    /// High.
    pub high: Decimal,
    /// Low.
    pub low: Decimal,
    /// Close.
    pub close: Decimal,
    /// Base volume.
    pub volume: Decimal,
    /// Quote volume, when the venue sends it.
    pub quote_volume: Option<Decimal>,
    /// Trade count, when the venue sends it.
    pub trades: Option<i64>,
    /// False while the venue still updates the candle.
    pub closed: bool,
}

/// The venue's stored candles, with the gaps between them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VenueCandles {
    /// Interval, seconds.
    pub interval_s: i64,
    /// The widened window's start, µs.
    pub from_us: i64,
    /// The widened window's end, µs.
    pub to_us: i64,
    /// Stored candles in time order.
    pub candles: Vec<VenueCandle>,
    /// Intervals with no stored candle.
    pub gaps: Vec<CandleGap>,
}

/// Checks the interval and widens the window to whole intervals.
///
/// # Errors
/// [`QueryError::InvalidParam`] for an interval outside 1 s..=1 d, [`QueryError::WindowTooLong`]
/// for more than [`MAX_CANDLES`] intervals.
pub fn aligned_window(w: Window, interval_s: i64) -> Result<Window, QueryError> {
    if !(MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&interval_s) {
        return Err(QueryError::invalid(
            "interval",
            format!("{interval_s} s is not in 1 s..=1 d"),
        ));
    }
    let step = interval_s * 1_000_000;
    let from = w.from_us().div_euclid(step) * step;
    let up = if w.to_us().rem_euclid(step) == 0 {
        0
    } else {
        step
    };
    let to = (w.to_us().div_euclid(step) * step)
        .checked_add(up)
        .ok_or_else(|| QueryError::invalid("to", "too far in the future"))?;
    let aligned = Window::new(from, to)?;
    aligned.check_max(interval_s * MAX_CANDLES)?;
    Ok(aligned)
}

/// Streaming candle builder over trades in time order; also used by the features.
pub(crate) struct CandleBuilder {
    step_us: i64,
    current: Option<Acc>,
    done: Vec<TradeCandle>,
}

struct Acc {
    open_time_us: i64,
    open: Decimal,
    high: (Exact, Decimal),
    low: (Exact, Decimal),
    close: Decimal,
    volume: Exact,
    buy: Exact,
    sell: Exact,
    quote: Exact,
    trades: u64,
}

impl CandleBuilder {
    pub(crate) fn new(interval_s: i64) -> Self {
        CandleBuilder {
            step_us: interval_s * 1_000_000,
            current: None,
            done: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, t: &ScannedTrade) -> Result<(), QueryError> {
        let open_time_us = t.ts_us.div_euclid(self.step_us) * self.step_us;
        if self
            .current
            .as_ref()
            .is_some_and(|c| c.open_time_us != open_time_us)
        {
            self.flush();
        }
        let q = notional(
            t.price.mantissa(),
            t.price.scale(),
            t.qty.mantissa(),
            t.qty.scale(),
        )?;
        match &mut self.current {
            None => {
                self.current = Some(Acc {
                    open_time_us,
                    open: t.price,
                    high: (t.price_units, t.price),
                    low: (t.price_units, t.price),
                    close: t.price,
                    volume: t.qty_units,
                    buy: if t.side == Side::Buy {
                        t.qty_units
                    } else {
                        Exact::ZERO
                    },
                    sell: if t.side == Side::Sell {
                        t.qty_units
                    } else {
                        Exact::ZERO
                    },
                    quote: q,
                    trades: 1,
                });
            }
            Some(c) => {
                if t.price_units > c.high.0 {
                    c.high = (t.price_units, t.price);
                }
                if t.price_units < c.low.0 {
                    c.low = (t.price_units, t.price);
                }
                c.close = t.price;
                c.volume = c.volume.add(t.qty_units, "volume")?;
                match t.side {
                    Side::Buy => c.buy = c.buy.add(t.qty_units, "buy volume")?,
                    Side::Sell => c.sell = c.sell.add(t.qty_units, "sell volume")?,
                    Side::Unknown => {}
                }
                c.quote = c.quote.add(q, "quote volume")?;
                c.trades += 1;
            }
        }
        Ok(())
    }

    fn flush(&mut self) {
        if let Some(c) = self.current.take() {
            self.done.push(TradeCandle {
                open_time: format_rfc3339_us(c.open_time_us),
                open_time_us: c.open_time_us,
                open: c.open,
                high: c.high.1,
                low: c.low.1,
                close: c.close,
                volume: c.volume,
                buy_volume: c.buy,
                sell_volume: c.sell,
                quote_volume: c.quote,
                trades: c.trades,
                vwap: c.quote.0 as f64 / c.volume.0 as f64,
            });
        }
    }

    pub(crate) fn finish(mut self) -> Vec<TradeCandle> {
        self.flush();
        self.done
    }
}

/// Lists the runs of interval starts in `w` (aligned) that `present` (ascending) does not hold.
pub(crate) fn gaps(
    w: Window,
    interval_s: i64,
    present: impl Iterator<Item = i64>,
) -> Vec<CandleGap> {
    let step = interval_s * 1_000_000;
    let mut out = Vec::new();
    let mut expected = w.from_us();
    let mut push = |from: i64, to: i64| {
        if to > from {
            out.push(CandleGap {
                from: format_rfc3339_us(from),
                to: format_rfc3339_us(to),
                from_us: from,
                to_us: to,
                missing: ((to - from) / step) as u64,
            });
        }
    };
    for t in present {
        push(expected, t);
        expected = t + step;
    }
    push(expected, w.to_us());
    out
}

/// Candles of `interval_s` seconds aggregated from the market's trades.
///
/// # Errors
/// As [`aligned_window`] and [`Tape::scan`].
pub fn candles_from_trades(
    tape: &Tape,
    m: &Market,
    w: Window,
    interval_s: i64,
) -> Result<TradeCandles, QueryError> {
    let w = aligned_window(w, interval_s)?;
    let mut b = CandleBuilder::new(interval_s);
    let (table, _) = tape.scan(m, w, |t| b.push(t))?;
    let candles = b.finish();
    let gaps = gaps(w, interval_s, candles.iter().map(|c| c.open_time_us));
    Ok(TradeCandles {
        table,
        interval_s,
        from_us: w.from_us(),
        to_us: w.to_us(),
        candles,
        gaps,
    })
}

/// The venue's own candles of `interval_s` seconds, as stored.
///
/// # Errors
/// As [`aligned_window`]; [`QueryError::UnknownMarket`] when no candles are stored for the market.
pub fn venue_candles(
    tape: &Tape,
    m: &Market,
    w: Window,
    interval_s: i64,
) -> Result<VenueCandles, QueryError> {
    let w = aligned_window(w, interval_s)?;
    if !tape.has_candles(m)? {
        return Err(tape.unknown(m));
    }
    let candles = match tape.backend() {
        Backend::Sqlite(conn) => sqlite_venue_candles(conn, m, w, interval_s)?,
        #[cfg(feature = "postgres")]
        Backend::Postgres(pg) => pg.venue_candles(m, w, interval_s)?,
    };
    let gaps = gaps(w, interval_s, candles.iter().map(|c| c.open_time_us));
    Ok(VenueCandles {
        interval_s,
        from_us: w.from_us(),
        to_us: w.to_us(),
        candles,
        gaps,
    })
}

/// The venue's candles of the window from SQLite.
fn sqlite_venue_candles(
    conn: &rusqlite::Connection,
    m: &Market,
    w: Window,
    interval_s: i64,
) -> Result<Vec<VenueCandle>, QueryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT open_time_us, open_m, open_scale, high_m, high_scale, low_m, low_scale, \
         close_m, close_scale, volume_m, volume_scale, quote_volume_m, quote_volume_scale, \
         trades, closed FROM candles WHERE venue = ?1 AND symbol = ?2 AND interval_s = ?3 \
         AND open_time_us >= ?4 AND open_time_us < ?5 ORDER BY open_time_us",
    )?;
    let mut rows = stmt.query(rusqlite::params![
        m.venue,
        m.symbol,
        interval_s,
        w.from_us(),
        w.to_us()
    ])?;
    let mut candles = Vec::new();
    while let Some(r) = rows.next()? {
        let open_time_us: i64 = r.get(0)?;
        let quote_volume = match (r.get::<_, Option<i64>>(11)?, r.get::<_, Option<i64>>(12)?) {
            (Some(m), Some(s)) => Some(decimal(m, s)?),
            _ => None,
        };
        candles.push(VenueCandle {
            open_time: format_rfc3339_us(open_time_us),
            open_time_us,
            open: decimal(r.get(1)?, r.get(2)?)?,
            high: decimal(r.get(3)?, r.get(4)?)?,
            low: decimal(r.get(5)?, r.get(6)?)?,
            close: decimal(r.get(7)?, r.get(8)?)?,
            volume: decimal(r.get(9)?, r.get(10)?)?,
            quote_volume,
            trades: r.get(13)?,
            closed: r.get::<_, i64>(14)? == 1,
        });
    }
    Ok(candles)
}
