//! The deterministic trade tape: a pure function of (seed, venue, symbol, index, start time, rate).
//!
//! Every per-trade random draw comes from a counter-based generator (SplitMix64 of a key derived
//! from seed, venue and symbol, advanced by the index), so a draw never depends on how many other
//! draws happened before. Only the price is a random walk and so needs the previous price: the
//! server walks it sequentially, [`Tape`] iterates it, and [`tape_trade`] replays the walk from
//! trade 0.
//!
//! Rules (what the recorder's tests rely on):
//! - trade ids are consecutive per market: `first_trade_id(venue, symbol) + index`;
//! - prices walk on the venue's tick grid (BTC ≈ 60 000, ETH ≈ 3 000, others ≈ 100; tick 0.01,
//!   Kraken BTC 0.1) and stay within ¼..4× of the start price;
//! - every 10th trade (`index % 10 == 9`) repeats the previous trade's timestamp, price, quantity
//!   and side under a new id — two distinct trades that look alike;
//! - `ts = start_us + index × 10⁶ / rate` µs (f64 arithmetic, truncated), truncated to whole
//!   milliseconds on Binance because Binance sends milliseconds.

use tickrec_model::{Side, Venue};

use crate::config::split_symbol;
use crate::format::{push_fixed, push_stripped};

/// Binance prints every price and quantity with this many decimals.
pub(crate) const BINANCE_DECIMALS: u8 = 8;
/// Quantities are integers in units of 10⁻⁸.
pub(crate) const QTY_SCALE: u8 = 8;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64 finalizer.
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `index`-th output of the SplitMix64 sequence seeded with `key`.
pub(crate) const fn draw(key: u64, index: u64) -> u64 {
    mix(key.wrapping_add(index.wrapping_add(1).wrapping_mul(GOLDEN)))
}

/// FNV-1a: a hash that is stable across Rust versions (unlike `DefaultHasher`).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// One trade exactly as the simulator published it: the ground-truth row.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TapeTrade {
    /// Venue.
    pub venue: Venue,
    /// Unified symbol (`BTC/USDT`).
    pub symbol: String,
    /// The venue trade id (Binance `t`, Kraken `trade_id`).
    pub trade_id: u64,
    /// Price text exactly as sent on the wire (`"60000.01000000"` on Binance, `60000.1` on Kraken).
    pub price: String,
    /// Quantity text exactly as sent on the wire.
    pub qty: String,
    /// Taker side.
    pub side: Side,
    /// Event time in µs as the recorder will see it (whole milliseconds on Binance).
    pub ts_exchange_us: i64,
}

/// Static, per-market parameters of the tape.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Profile {
    pub venue: Venue,
    /// Key of the per-trade random draws.
    pub key: u64,
    /// Price = ticks × 10^-tick_exp.
    pub tick_exp: u8,
    pub initial_ticks: i64,
    pub min_ticks: i64,
    pub max_ticks: i64,
    /// Smallest quantity, in 10⁻⁸ units.
    pub qty_step: u64,
    /// Id of trade 0.
    pub id_base: u64,
    /// Hash of the symbol alone (not the seed): other id spaces derive from it.
    pub symbol_hash: u64,
}

impl Profile {
    pub(crate) fn new(seed: u64, venue: Venue, symbol: &str) -> Profile {
        let base_asset = split_symbol(symbol).map_or(symbol, |(b, _)| b);
        // (whole-unit start price, Binance tick exponent, Kraken tick exponent, min qty in 1e-8)
        let (price, bin_exp, kr_exp, qty_step) = match base_asset {
            "BTC" | "XBT" => (60_000, 2, 1, 1_000),
            "ETH" => (3_000, 2, 2, 10_000),
            _ => (100, 2, 2, 1_000_000),
        };
        let tick_exp = match venue {
            Venue::Kraken => kr_exp,
            // Venues the simulator does not speak yet are refused by the config check; the
            // Binance tick size is a harmless default.
            _ => bin_exp,
        };
        let symbol_hash = fnv1a(symbol.as_bytes());
        let key = mix(seed ^ mix(fnv1a(venue.as_str().as_bytes()) ^ symbol_hash.rotate_left(17)));
        let start = price * 10i64.pow(u32::from(tick_exp));
        Profile {
            venue,
            key,
            tick_exp,
            initial_ticks: start + (mix(key) % (start as u64 / 50)) as i64,
            min_ticks: start / 4,
            max_ticks: start * 4,
            qty_step,
            id_base: first_trade_id(venue, symbol),
            symbol_hash,
        }
    }
}

/// Id of trade 0 of a market: trade `i` has id `first_trade_id + i`. Depends on the symbol only
/// (not the seed), in the venue's usual range (Binance ≈ 5·10⁹, Kraken ≈ 10⁵–10⁶).
pub fn first_trade_id(venue: Venue, symbol: &str) -> u64 {
    let h = fnv1a(symbol.as_bytes());
    match venue {
        Venue::Kraken => 100_000 + h % 900_000,
        _ => 5_000_000_000 + (h % 1_000_000) * 1_000,
    }
}

/// A trade in integer form; text is produced by the venue formatter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawTrade {
    pub index: u64,
    pub trade_id: u64,
    /// Price in ticks (see [`Profile::tick_exp`]).
    pub price: i64,
    /// Quantity in 10⁻⁸ units.
    pub qty: u64,
    /// Taker sold.
    pub sell: bool,
    /// Kraken `ord_type` market (else limit).
    pub market_order: bool,
    pub ts_us: i64,
}

impl RawTrade {
    pub(crate) fn side(&self) -> Side {
        if self.sell {
            Side::Sell
        } else {
            Side::Buy
        }
    }
}

/// Synthetic event time of trade `index`.
pub(crate) fn trade_ts_us(venue: Venue, start_us: i64, rate: f64, index: u64) -> i64 {
    let t = start_us + (index as f64 * 1e6 / rate) as i64;
    match venue {
        Venue::Kraken => t,
        _ => t - t.rem_euclid(1000),
    }
}

/// A stretch of the tape published at one rate: trade `first + j` (unless it repeats its
/// predecessor) has the event time `start_us + j × 10⁶ / rate`. A tape is one segment unless a
/// burst was injected (the burst is one segment, the base rate resumes in the next).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Segment {
    /// Index of the segment's first trade.
    pub first: u64,
    /// Event time of that trade, µs (before Binance's millisecond truncation).
    pub start_us: i64,
    /// Trades per second.
    pub rate: f64,
}

impl Segment {
    /// Event time of trade `index` (≥ `first`) computed from this segment.
    pub(crate) fn ts(&self, venue: Venue, index: u64) -> i64 {
        trade_ts_us(
            venue,
            self.start_us,
            self.rate,
            index.saturating_sub(self.first),
        )
    }
}

/// Random-walk checkpoints are taken every this many trades (a multiple of 10, so a checkpoint
/// never falls on a repeated trade).
pub(crate) const CHECKPOINT: u64 = 1000;

/// Sequential tape generator (the random walk state is the previous price).
#[derive(Clone, Debug)]
pub(crate) struct TapeGen {
    pub profile: Profile,
    /// The segment timestamps are computed from; the driver switches it for bursts.
    pub seg: Segment,
    /// Index of the next trade.
    pub next: u64,
    /// Random-walk state: the price of the last non-repeated trade.
    pub price: i64,
    prev: Option<RawTrade>,
}

impl TapeGen {
    pub(crate) fn new(profile: Profile, start_us: i64, rate: f64) -> TapeGen {
        TapeGen {
            profile,
            seg: Segment {
                first: 0,
                start_us,
                rate,
            },
            next: 0,
            price: profile.initial_ticks,
            prev: None,
        }
    }

    /// A generator positioned at trade `next` (a multiple of [`CHECKPOINT`]) whose walk state is
    /// `price` (the generator's `price` just before it produced that trade).
    pub(crate) fn resume(profile: Profile, seg: Segment, next: u64, price: i64) -> TapeGen {
        debug_assert!(next.is_multiple_of(10), "resume on a repeated trade");
        TapeGen {
            profile,
            seg,
            next,
            price,
            prev: None,
        }
    }

    /// Event time of trade `index` of this tape (in the current segment).
    pub(crate) fn ts_of(&self, index: u64) -> i64 {
        self.seg.ts(self.profile.venue, index)
    }

    /// Produces trade `self.next` and advances.
    pub(crate) fn next_raw(&mut self) -> RawTrade {
        let p = &self.profile;
        let i = self.next;
        self.next += 1;
        let trade_id = p.id_base + i;
        if i % 10 == 9 {
            if let Some(prev) = self.prev {
                let t = RawTrade {
                    index: i,
                    trade_id,
                    ..prev
                };
                self.prev = Some(t);
                return t;
            }
        }
        let r = draw(p.key, i);
        let step = (r % 7) as i64 - 3;
        let mut price = self.price + step;
        if price < p.min_ticks || price > p.max_ticks {
            price = self.price - step;
        }
        self.price = price;
        let magnitude = 10u64.pow(1 + ((r >> 8) % 5) as u32);
        let qty = p.qty_step * (1 + (r >> 16) % magnitude);
        let t = RawTrade {
            index: i,
            trade_id,
            price,
            qty,
            sell: (r >> 60) & 1 == 1,
            market_order: (r >> 61) & 3 == 0,
            ts_us: self.ts_of(i),
        };
        self.prev = Some(t);
        t
    }
}

/// Price text as the venue sends it.
pub(crate) fn push_price(buf: &mut String, profile: &Profile, ticks: i64) {
    let decimals = match profile.venue {
        Venue::Kraken => profile.tick_exp,
        _ => BINANCE_DECIMALS,
    };
    push_fixed(buf, ticks.max(0) as u128, profile.tick_exp, decimals);
}

/// Quantity text as the venue sends it (Binance 8 decimals, Kraken float-like).
pub(crate) fn push_qty(buf: &mut String, venue: Venue, units: u128) {
    match venue {
        Venue::Kraken => push_stripped(buf, units, QTY_SCALE),
        _ => push_fixed(buf, units, QTY_SCALE, BINANCE_DECIMALS),
    }
}

pub(crate) fn to_tape_trade(profile: &Profile, symbol: &str, t: &RawTrade) -> TapeTrade {
    let mut price = String::with_capacity(20);
    push_price(&mut price, profile, t.price);
    let mut qty = String::with_capacity(20);
    push_qty(&mut qty, profile.venue, u128::from(t.qty));
    TapeTrade {
        venue: profile.venue,
        symbol: symbol.to_string(),
        trade_id: t.trade_id,
        price,
        qty,
        side: t.side(),
        ts_exchange_us: t.ts_us,
    }
}

/// The tape of one market as an iterator from trade 0: the cheap way to get many expected trades.
#[derive(Clone, Debug)]
pub struct Tape {
    gen: TapeGen,
    symbol: String,
}

impl Tape {
    /// The tape the simulator publishes for `venue`/`symbol` when started at `start_us` (µs since
    /// the epoch; read it back with `SimHandle::tape_start_us`) with `rate` trades per second.
    pub fn new(seed: u64, venue: Venue, symbol: &str, start_us: i64, rate: f64) -> Tape {
        Tape {
            gen: TapeGen::new(Profile::new(seed, venue, symbol), start_us, rate),
            symbol: symbol.to_string(),
        }
    }
}

impl Iterator for Tape {
    type Item = TapeTrade;
    fn next(&mut self) -> Option<TapeTrade> {
        let t = self.gen.next_raw();
        Some(to_tape_trade(&self.gen.profile, &self.symbol, &t))
    }
}

/// Trade `index` of a market's tape. Deviation from a 4-argument form: timestamps depend on when
/// the tape started and on the rate, so both are parameters (`start_us` from
/// `SimHandle::tape_start_us`, `rate` = `SimConfig::rate_per_market`). Cost is O(index) because the
/// price walk is replayed; use [`Tape`] to get a long run of trades.
pub fn tape_trade(
    seed: u64,
    venue: Venue,
    symbol: &str,
    index: u64,
    start_us: i64,
    rate: f64,
) -> TapeTrade {
    let mut gen = TapeGen::new(Profile::new(seed, venue, symbol), start_us, rate);
    while gen.next < index {
        gen.next_raw();
    }
    let t = gen.next_raw();
    to_tape_trade(&gen.profile, symbol, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_757_522_615_939_123;

    #[test]
    fn same_seed_same_tape_and_random_access_agrees() {
        let a: Vec<_> = Tape::new(7, Venue::Binance, "BTC/USDT", START, 1000.0)
            .take(500)
            .collect();
        let b: Vec<_> = Tape::new(7, Venue::Binance, "BTC/USDT", START, 1000.0)
            .take(500)
            .collect();
        assert_eq!(a, b);
        for i in [0u64, 1, 9, 10, 99, 499] {
            assert_eq!(
                tape_trade(7, Venue::Binance, "BTC/USDT", i, START, 1000.0),
                a[i as usize]
            );
        }
    }

    #[test]
    fn different_seed_or_market_differs() {
        let take = |seed, venue, sym: &str| -> Vec<_> {
            Tape::new(seed, venue, sym, START, 1000.0)
                .take(50)
                .map(|t| (t.price, t.qty, t.side))
                .collect()
        };
        let base = take(1, Venue::Kraken, "BTC/USD");
        assert_ne!(base, take(2, Venue::Kraken, "BTC/USD"));
        assert_ne!(base, take(1, Venue::Kraken, "ETH/USD"));
        assert_ne!(
            take(1, Venue::Binance, "BTC/USDT"),
            take(1, Venue::Kraken, "BTC/USDT")
        );
    }

    #[test]
    fn ids_timestamps_and_repeats() {
        for venue in crate::SIMULATED_VENUES {
            let trades: Vec<_> = Tape::new(3, venue, "ETH/USDT", START, 250.0)
                .take(1000)
                .collect();
            let id0 = first_trade_id(venue, "ETH/USDT");
            for (i, t) in trades.iter().enumerate() {
                assert_eq!(t.trade_id, id0 + i as u64);
                if i % 10 == 9 {
                    let p = &trades[i - 1];
                    assert_eq!(
                        (&t.price, &t.qty, t.side, t.ts_exchange_us),
                        (&p.price, &p.qty, p.side, p.ts_exchange_us)
                    );
                } else {
                    // 250/s → 4 ms apart, exact in µs and ms.
                    let expect = START + i as i64 * 4000;
                    let expect = match venue {
                        Venue::Kraken => expect,
                        _ => expect - expect % 1000,
                    };
                    assert_eq!(t.ts_exchange_us, expect);
                }
            }
            assert!(trades.iter().any(|t| t.side == Side::Buy));
            assert!(trades.iter().any(|t| t.side == Side::Sell));
        }
        assert!((5_000_000_000..6_000_000_000).contains(&first_trade_id(Venue::Binance, "X/Y")));
        assert!((100_000..1_000_000).contains(&first_trade_id(Venue::Kraken, "X/Y")));
    }

    #[test]
    fn wire_formats() {
        let b = tape_trade(42, Venue::Binance, "BTC/USDT", 0, START, 1.0);
        let (int, frac) = b.price.split_once('.').unwrap();
        assert_eq!(frac.len(), 8);
        assert!(frac.ends_with("000000"), "tick 0.01: {}", b.price);
        let p: u64 = int.parse().unwrap();
        assert!((60_000..62_000).contains(&p), "{}", b.price);
        assert_eq!(b.qty.split_once('.').unwrap().1.len(), 8);

        let k = tape_trade(42, Venue::Kraken, "BTC/USD", 0, START, 1.0);
        assert_eq!(k.price.split_once('.').unwrap().1.len(), 1, "{}", k.price);
        let kq = k.qty.split_once('.').unwrap().1;
        assert!(!kq.is_empty() && kq.len() <= 8, "{}", k.qty);
        assert!(kq.len() == 1 || !kq.ends_with('0'), "{}", k.qty);
        let e = tape_trade(42, Venue::Kraken, "ETH/USD", 0, START, 1.0);
        assert_eq!(e.price.split_once('.').unwrap().1.len(), 2, "{}", e.price);
    }

    #[test]
    fn walk_stays_in_band_for_cheap_symbols() {
        let p = Profile::new(9, Venue::Binance, "DOGE/USDT");
        let mut g = TapeGen::new(p, START, 1000.0);
        for _ in 0..200_000 {
            let t = g.next_raw();
            assert!(t.price >= p.min_ticks && t.price <= p.max_ticks);
            assert!(t.qty > 0);
        }
    }
}
