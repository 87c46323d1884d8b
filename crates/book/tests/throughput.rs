//! Book update cost (run in release: `cargo test --release -p tickrec-book --test throughput --
//! --ignored --nocapture`). Not a pass/fail timing test: it prints the figures for BENCHMARKS.md.

use std::time::Instant;

use tickrec_book::{checksum, BookSide, OrderBook};
use tickrec_model::{Decimal, Level};

fn level(price_ticks: i64, qty: i64) -> Level {
    Level {
        price: Decimal::new(30_000_000 + price_ticks, 1).expect("price"),
        qty: Decimal::new(qty, 8).expect("qty"),
    }
}

#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn update_and_checksum_costs() {
    for depth in [50i64, 1_000, 5_000] {
        let mut book = OrderBook::new();
        let bids: Vec<Level> = (0..depth).map(|i| level(-1 - i, 100 + i)).collect();
        let asks: Vec<Level> = (0..depth).map(|i| level(i, 100 + i)).collect();
        book.apply_snapshot(&bids, &asks);
        // A deterministic mix: updates near the top, deletes and re-inserts.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let n = 2_000_000u64;
        let t = Instant::now();
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let tick = (x % depth as u64) as i64;
            let qty = if x & 0xf == 0 {
                0
            } else {
                (x >> 8) as i64 % 10_000 + 1
            };
            if x & 0x10 == 0 {
                book.apply(BookSide::Bid, level(-1 - tick, qty));
            } else {
                book.apply(BookSide::Ask, level(tick, qty));
            }
        }
        let per_update = t.elapsed().as_nanos() as f64 / n as f64;
        let m = 200_000u64;
        let t = Instant::now();
        let mut acc = 0u32;
        for _ in 0..m {
            acc ^= checksum::kraken(&book);
        }
        let per_checksum = t.elapsed().as_nanos() as f64 / m as f64;
        std::hint::black_box(acc);
        println!(
            "depth {depth:>5}/side: {per_update:>6.0} ns per level update, {per_checksum:>6.0} ns per Kraken checksum (top 10)"
        );
    }
}
