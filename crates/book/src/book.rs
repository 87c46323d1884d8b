//! An L2 order book keyed by exact prices.
//!
//! Levels are kept in a `BTreeMap` keyed by the price's *value* (`45281.0` and `45281` are the
//! same level), while each level keeps the price and quantity exactly as the venue sent them, so
//! checksums that hash the venue's digits (Kraken, OKX) are computed from the venue's text, and a
//! stored row prints back the venue's digits. Insert, update and delete are O(log n); the top N
//! levels are an in-order walk.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use tickrec_model::{Decimal, Level};

/// Bid or ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookSide {
    /// Buy orders, best = highest price.
    Bid,
    /// Sell orders, best = lowest price.
    Ask,
}

/// An order book.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderBook {
    bids: BTreeMap<PriceKey, Level>,
    asks: BTreeMap<PriceKey, Level>,
}

/// A price's value in units of 10⁻¹⁸: `45281.0` and `45281` are one key, and comparing two keys
/// is one `i128` comparison instead of a scale-aware decimal comparison (measured: the book's hot
/// path). Every `Decimal` fits: |mantissa| < 2⁶³ and scale ≤ 18, so |key| < 2⁶³·10¹⁸ < 2¹²⁷.
type PriceKey = i128;

const POW10: [i128; 19] = {
    let mut t = [1i128; 19];
    let mut i = 1;
    while i < 19 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

fn key(p: Decimal) -> PriceKey {
    let scale = usize::from(p.scale()).min(18);
    i128::from(p.mantissa()) * POW10[18 - scale]
}

impl OrderBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes every level.
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    fn side_mut(&mut self, side: BookSide) -> &mut BTreeMap<PriceKey, Level> {
        match side {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        }
    }

    /// Replaces the book with a snapshot (levels with a zero quantity are skipped).
    pub fn apply_snapshot(&mut self, bids: &[Level], asks: &[Level]) {
        self.clear();
        self.apply_levels(bids, asks);
    }

    /// Applies a delta: a level's new quantity, zero removing it.
    pub fn apply(&mut self, side: BookSide, level: Level) {
        let book = self.side_mut(side);
        if level.qty.mantissa() == 0 {
            book.remove(&key(level.price));
        } else {
            book.insert(key(level.price), level);
        }
    }

    /// Applies every level of an update.
    pub fn apply_levels(&mut self, bids: &[Level], asks: &[Level]) {
        for l in bids {
            self.apply(BookSide::Bid, *l);
        }
        for l in asks {
            self.apply(BookSide::Ask, *l);
        }
    }

    /// Keeps only the best `n` levels of each side (venues that maintain a fixed depth, such as
    /// Kraken, drop levels that fall out of the subscribed depth).
    pub fn truncate(&mut self, n: usize) {
        while self.bids.len() > n {
            self.bids.pop_first();
        }
        while self.asks.len() > n {
            self.asks.pop_last();
        }
    }

    /// Levels on a side.
    pub fn depth(&self, side: BookSide) -> usize {
        match side {
            BookSide::Bid => self.bids.len(),
            BookSide::Ask => self.asks.len(),
        }
    }

    /// True when both sides are empty.
    pub fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }

    /// The best bid.
    pub fn best_bid(&self) -> Option<&Level> {
        self.bids.values().next_back()
    }

    /// The best ask.
    pub fn best_ask(&self) -> Option<&Level> {
        self.asks.values().next()
    }

    /// Best bid at or above best ask: impossible on a correct book, so a sign of a missed update.
    pub fn is_crossed(&self) -> bool {
        match (self.best_bid(), self.best_ask()) {
            (Some(b), Some(a)) => b.price >= a.price,
            _ => false,
        }
    }

    /// The best `n` levels of a side, best first (bids high → low, asks low → high).
    pub fn top(&self, side: BookSide, n: usize) -> Vec<Level> {
        match side {
            BookSide::Bid => self.bids.values().rev().take(n).copied().collect(),
            BookSide::Ask => self.asks.values().take(n).copied().collect(),
        }
    }

    /// A digest of the whole book (every level's value and digits, both sides): two books with
    /// the same digest hold the same levels. Used to prove that a book rebuilt from stored rows
    /// equals the one the recorder held.
    pub fn digest(&self) -> u64 {
        // FNV-1a over a canonical encoding: stable across processes and Rust versions (unlike
        // `DefaultHasher`), which matters when digests are stored.
        struct Fnv(u64);
        impl Hasher for Fnv {
            fn finish(&self) -> u64 {
                self.0
            }
            fn write(&mut self, bytes: &[u8]) {
                for b in bytes {
                    self.0 ^= u64::from(*b);
                    self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
        }
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        for (tag, side) in [(b'b', &self.bids), (b'a', &self.asks)] {
            h.write(&[tag]);
            for l in side.values() {
                l.price.mantissa().hash(&mut h);
                h.write(&[l.price.scale()]);
                l.qty.mantissa().hash(&mut h);
                h.write(&[l.qty.scale()]);
            }
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(p: &str, q: &str) -> Level {
        Level {
            price: Decimal::parse(p).expect("price"),
            qty: Decimal::parse(q).expect("qty"),
        }
    }

    #[test]
    fn levels_are_keyed_by_value_and_keep_the_venue_digits() {
        let mut b = OrderBook::new();
        b.apply_snapshot(
            &[l("100.0", "1"), l("99.5", "2"), l("99", "0")],
            &[l("101", "1.50"), l("102", "3")],
        );
        assert_eq!(
            b.depth(BookSide::Bid),
            2,
            "a zero level in a snapshot is skipped"
        );
        // 100 and 100.0 are the same level; the latest digits win.
        b.apply(BookSide::Bid, l("100", "4"));
        assert_eq!(b.depth(BookSide::Bid), 2);
        assert_eq!(b.best_bid().map(|x| x.qty.to_string()), Some("4".into()));
        assert_eq!(b.best_ask().map(|x| x.qty.to_string()), Some("1.50".into()));
        b.apply(BookSide::Ask, l("101.00", "0"));
        assert_eq!(
            b.best_ask().map(|x| x.price.to_string()),
            Some("102".into())
        );
        let top: Vec<String> = b
            .top(BookSide::Bid, 5)
            .iter()
            .map(|x| x.price.to_string())
            .collect();
        assert_eq!(top, ["100", "99.5"]);
        assert!(!b.is_crossed());
        b.apply(BookSide::Bid, l("103", "1"));
        assert!(b.is_crossed());
        b.truncate(1);
        assert_eq!((b.depth(BookSide::Bid), b.depth(BookSide::Ask)), (1, 1));
        assert_eq!(
            b.best_bid().map(|x| x.price.to_string()),
            Some("103".into())
        );
    }

    #[test]
    fn digest_sees_values_and_digits() {
        let mut a = OrderBook::new();
        a.apply_snapshot(&[l("1.0", "2")], &[l("3", "4")]);
        let mut b = a.clone();
        assert_eq!(a.digest(), b.digest());
        b.apply(BookSide::Bid, l("1", "2"));
        assert_ne!(a.digest(), b.digest(), "1.0 and 1 print differently");
        b.apply(BookSide::Bid, l("1.0", "2"));
        assert_eq!(a.digest(), b.digest());
        b.apply(BookSide::Ask, l("3", "5"));
        assert_ne!(a.digest(), b.digest());
    }
}
