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

/// The whole per-message path the feed runs: sequence rule, apply, depth, crossed check,
/// verified flag, tops — one-level Bybit deltas in batches of 16 messages.
#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn keeper_messages_per_second() {
    use std::sync::Arc;
    use tickrec_book::{BookKeeper, KeeperSettings};
    use tickrec_model::{BookKind, BookUpdate, Event, Venue};

    let symbol: Arc<str> = Arc::from("BTC/USDT");
    let msg = |kind, id: u64, bids: Vec<Level>, asks: Vec<Level>| BookUpdate {
        venue: Venue::Bybit,
        symbol: symbol.clone(),
        kind,
        first_update_id: None,
        last_update_id: Some(id),
        bids,
        asks,
        checksum: None,
        ts_exchange_us: Some(id as i64),
        ts_recv_us: id as i64,
        verified: false,
    };
    let mut k = BookKeeper::new(Venue::Bybit, KeeperSettings::default());
    let bids: Vec<Level> = (0..50).map(|i| level(-1 - i, 100 + i)).collect();
    let asks: Vec<Level> = (0..50).map(|i| level(i, 100 + i)).collect();
    let mut first = vec![Event::Book(msg(BookKind::Snapshot, 1, bids, asks))];
    k.process(&mut first, 1);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let n = 1_000_000u64;
    // Messages are built outside the timed loop: the parser's cost is measured elsewhere.
    let batches: Vec<Vec<Event>> = (0..n / 16)
        .map(|b| {
            (0..16)
                .map(|j| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let tick = (x % 50) as i64;
                    let qty = (x >> 8) as i64 % 10_000;
                    let id = 2 + b * 16 + j;
                    let m = if x & 0x10 == 0 {
                        msg(BookKind::Delta, id, vec![level(-1 - tick, qty)], vec![])
                    } else {
                        msg(BookKind::Delta, id, vec![], vec![level(tick, qty)])
                    };
                    Event::Book(m)
                })
                .collect()
        })
        .collect();
    let t = Instant::now();
    let mut verified = 0u64;
    for (i, mut batch) in batches.into_iter().enumerate() {
        k.process(&mut batch, 2 + i as i64 * 16);
        verified += batch
            .iter()
            .filter(|e| matches!(e, Event::Book(b) if b.verified))
            .count() as u64;
    }
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    assert_eq!(verified, n, "every in-sequence delta is verified");
    println!(
        "keeper: {ns:.0} ns per one-level delta message ({:.2} M messages/s)",
        1e3 / ns
    );
}
