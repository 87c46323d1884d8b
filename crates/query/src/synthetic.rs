//! A deterministic synthetic trade tape for tests and benchmarks: a seeded random walk on a
//! 0.5 tick, trades sharing timestamps, all three sides, and (optionally) the same values written
//! with different scales, as Kraken's REST and WebSocket do. Same spec ⇒ same trades.

use std::sync::Arc;

use tickrec_model::{Decimal, Side, Trade, TradeId, TradeKind, Venue};

/// What to generate.
#[derive(Clone, Debug)]
pub struct SyntheticSpec {
    /// Venue of every trade.
    pub venue: Venue,
    /// Symbol of every trade.
    pub symbol: Arc<str>,
    /// Random seed.
    pub seed: u64,
    /// Time of the first trade, µs.
    pub start_us: i64,
    /// Trades to generate (ids `1..=count`).
    pub count: u64,
    /// Time between consecutive trades, µs (every fifth trade shares its predecessor's time).
    pub spacing_us: i64,
    /// Trades whose time falls in `[from, to)` are left out (a hole in the tape).
    pub hole: Option<(i64, i64)>,
    /// Write some prices and quantities with extra trailing zeros.
    pub mixed_scales: bool,
}

/// SplitMix64: small, fast, good enough for a reproducible tape.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The trades of `spec`, in id order (times non-decreasing).
pub fn synthetic_trades(spec: &SyntheticSpec) -> impl Iterator<Item = Trade> + '_ {
    let mut rng = Rng(spec.seed);
    let mut price_half_ticks: i64 = 60_000; // 30000.0 in units of 0.5
    let mut ts = spec.start_us;
    (1..=spec.count).filter_map(move |id| {
        let r = rng.next();
        if id > 1 && id % 5 != 0 {
            ts += spec.spacing_us;
        }
        price_half_ticks = (price_half_ticks + (r % 5) as i64 - 2).max(2_000);
        let price_m = price_half_ticks * 5; // scale 1
        let qty_m = 1 + ((r >> 8) % 200_000) as i64; // scale 6
        let side = match (r >> 32) % 10 {
            0 => Side::Unknown,
            1..=4 => Side::Buy,
            _ => Side::Sell,
        };
        let (price, qty) = if spec.mixed_scales && (r >> 40).is_multiple_of(3) {
            (Decimal::new(price_m * 100, 3), Decimal::new(qty_m * 100, 8))
        } else {
            (Decimal::new(price_m, 1), Decimal::new(qty_m, 6))
        };
        if spec.hole.is_some_and(|(a, b)| (a..b).contains(&ts)) {
            return None;
        }
        Some(Trade {
            venue: spec.venue,
            symbol: spec.symbol.clone(),
            trade_id: TradeId::Num(id),
            price: price.ok()?,
            qty: qty.ok()?,
            side,
            ts_exchange_us: ts,
            ts_recv_us: ts + 1_000,
            kind: TradeKind::Single,
        })
    })
}
