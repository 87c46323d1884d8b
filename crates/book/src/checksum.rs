//! Venue book checksums, computed from the venue's own digits (see `reference/protocols.md`).

use std::fmt::Write as _;

use tickrec_model::Level;

use crate::book::{BookSide, OrderBook};

/// Levels per side covered by Kraken's checksum, whatever the subscribed depth.
pub const KRAKEN_CHECKSUM_DEPTH: usize = 10;

/// Levels per side covered by OKX's checksum.
pub const OKX_CHECKSUM_DEPTH: usize = 25;

/// Kraken v2 `book` checksum: CRC-32 (ISO-HDLC) over the top 10 asks (low → high) then the top
/// 10 bids (high → low), each level written as its price digits then its quantity digits with
/// the decimal point and leading zeros removed (`45285.2` / `0.00100000` → `452852100000`).
pub fn kraken(book: &OrderBook) -> u32 {
    let mut s = String::with_capacity(2 * KRAKEN_CHECKSUM_DEPTH * 24);
    for side in [BookSide::Ask, BookSide::Bid] {
        for l in book.top(side, KRAKEN_CHECKSUM_DEPTH) {
            push_digits(&mut s, l);
        }
    }
    crc32fast::hash(s.as_bytes())
}

/// A level's price and quantity digits without the point and leading zeros: exactly the
/// decimal mantissas (a `Decimal` keeps the venue's scale, so `45281.0` is `452810`).
fn push_digits(s: &mut String, l: Level) {
    // Writing into a String cannot fail.
    let _ = write!(s, "{}{}", l.price.mantissa(), l.qty.mantissa());
}

/// OKX `books` checksum (deprecated by OKX in 2026: the field is now 0, meaning "not
/// provided"; still used for older recordings): CRC-32 over the first 25 bids and asks
/// interleaved (`bid:size:ask:size:…`, a missing side skipped), the venue's strings as received,
/// read as a signed 32-bit integer.
pub fn okx(book: &OrderBook) -> i32 {
    let bids = book.top(BookSide::Bid, OKX_CHECKSUM_DEPTH);
    let asks = book.top(BookSide::Ask, OKX_CHECKSUM_DEPTH);
    let mut s = String::with_capacity(4 * OKX_CHECKSUM_DEPTH * 12);
    for i in 0..OKX_CHECKSUM_DEPTH {
        for l in [bids.get(i), asks.get(i)].into_iter().flatten() {
            if !s.is_empty() {
                s.push(':');
            }
            let _ = write!(s, "{}:{}", l.price, l.qty);
        }
    }
    crc32fast::hash(s.as_bytes()) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickrec_model::Decimal;

    fn l(p: &str, q: &str) -> Level {
        Level {
            price: Decimal::parse(p).expect("price"),
            qty: Decimal::parse(q).expect("qty"),
        }
    }

    #[test]
    fn okx_documented_vectors() {
        let mut b = OrderBook::new();
        b.apply_snapshot(
            &[l("3366.1", "7"), l("3366", "6")],
            &[l("3366.8", "9"), l("3368", "8")],
        );
        assert_eq!(okx(&b), -1_881_014_294);
        let mut b = OrderBook::new();
        b.apply_snapshot(
            &[l("3366.1", "7")],
            &[l("3366.8", "9"), l("3368", "8"), l("3372", "8")],
        );
        assert_eq!(okx(&b), 831_078_360);
    }
}
