//! The book keeper on synthetic streams: every venue rule, resync needs, data-quality events,
//! tops, rebuild from stored messages, and (proptest) that a live book is always the venue's.

use std::str::FromStr;
use std::sync::Arc;

use proptest::prelude::*;
use tickrec_book::{
    checksum, rebuild, BookKeeper, BookSide, KeeperSettings, Need, OrderBook, Sequencing,
    VenueBookRules,
};
use tickrec_book::{BookStats, Checksum};
use tickrec_model::{BookKind, BookUpdate, Decimal, Event, Level, QualityKind, Venue};

fn lv(p: &str, q: &str) -> Level {
    Level {
        price: Decimal::from_str(p).unwrap(),
        qty: Decimal::from_str(q).unwrap(),
    }
}

fn msg(
    venue: Venue,
    kind: BookKind,
    ids: (Option<u64>, Option<u64>),
    bids: Vec<Level>,
    asks: Vec<Level>,
    ts: i64,
) -> BookUpdate {
    BookUpdate {
        venue,
        symbol: Arc::from("BTC/USDT"),
        kind,
        first_update_id: ids.0,
        last_update_id: ids.1,
        bids,
        asks,
        checksum: None,
        ts_exchange_us: Some(ts),
        ts_recv_us: ts,
        verified: false,
    }
}

fn run(k: &mut BookKeeper, u: &BookUpdate) -> (bool, Vec<Event>, Vec<Need>) {
    let mut batch = vec![Event::Book(u.clone())];
    let needs = k.process(&mut batch, u.ts_recv_us);
    let verified = match &batch[0] {
        Event::Book(b) => b.verified,
        _ => unreachable!(),
    };
    (verified, batch.split_off(1), needs)
}

fn kinds(extra: &[Event]) -> Vec<QualityKind> {
    extra
        .iter()
        .filter_map(|e| match e {
            Event::Quality(q) => Some(q.kind),
            _ => None,
        })
        .collect()
}

fn no_tops() -> KeeperSettings {
    KeeperSettings {
        top_levels: 0,
        ..KeeperSettings::default()
    }
}

#[test]
fn binance_buffers_until_the_rest_snapshot_refuses_a_stale_one_and_resyncs_after_a_gap() {
    let v = Venue::Binance;
    let mut k = BookKeeper::new(v, no_tops());
    let d = |u0, u1, ts, bid: &str| {
        msg(
            v,
            BookKind::Delta,
            (Some(u0), Some(u1)),
            vec![lv(bid, "1")],
            vec![],
            ts,
        )
    };
    // Deltas before any snapshot: stored unverified, one REST snapshot asked for.
    let (ok1, _, n1) = run(&mut k, &d(101, 105, 1, "99"));
    let (ok2, _, n2) = run(&mut k, &d(106, 110, 2, "98"));
    assert!(!ok1 && !ok2);
    assert!(matches!(&n1[..], [Need::RestSnapshot { .. }]));
    assert!(n2.is_empty(), "asked once");
    // A snapshot older than the first buffered event cannot start the book: ask again.
    let stale = msg(
        v,
        BookKind::Snapshot,
        (None, Some(90)),
        vec![lv("97", "2")],
        vec![lv("100", "1")],
        3,
    );
    let (ok, _, n) = run(&mut k, &stale);
    assert!(!ok);
    assert!(matches!(&n[..], [Need::RestSnapshot { .. }]));
    assert_eq!(k.refused_snapshots, 1);
    // lastUpdateId 103 falls inside the first buffered event: both buffered events apply.
    let good = msg(
        v,
        BookKind::Snapshot,
        (None, Some(103)),
        vec![lv("97", "2")],
        vec![lv("100", "1")],
        4,
    );
    let (ok, extra, n) = run(&mut k, &good);
    assert!(ok && n.is_empty() && extra.is_empty());
    let book = k.book("BTC/USDT").unwrap();
    assert_eq!(book.depth(BookSide::Bid), 3);
    assert_eq!(
        book.best_bid().unwrap().price,
        Decimal::from_str("99").unwrap()
    );
    // In sequence: verified. A hole: BookGap, a new snapshot asked for, book dropped.
    assert!(run(&mut k, &d(111, 111, 5, "96")).0);
    let (ok, extra, n) = run(&mut k, &d(113, 114, 6, "95"));
    assert!(!ok);
    assert_eq!(kinds(&extra), vec![QualityKind::BookGap]);
    assert!(matches!(&n[..], [Need::RestSnapshot { .. }]));
    assert!(k.book("BTC/USDT").is_none());
    // The next snapshot ends the unverified window with a BookResync event.
    let again = msg(
        v,
        BookKind::Snapshot,
        (None, Some(113)),
        vec![lv("90", "1")],
        vec![lv("100", "1")],
        10,
    );
    let (ok, extra, _) = run(&mut k, &again);
    assert!(ok);
    assert_eq!(kinds(&extra), vec![QualityKind::BookResync]);
    match &extra[0] {
        Event::Quality(q) => assert_eq!((q.start_us, q.end_us), (6, 10)),
        _ => unreachable!(),
    }
    // Event 113..114 was buffered after the gap and applies on the new snapshot.
    assert_eq!(
        k.book("BTC/USDT").unwrap().best_bid().unwrap().price,
        Decimal::from_str("95").unwrap()
    );
    let (_, stats): (_, BookStats) = k.stats(10).pop().unwrap();
    assert_eq!((stats.gaps, stats.resyncs), (1, 1));
}

#[test]
fn okx_chain_and_checksum() {
    let v = Venue::Okx;
    let mut k = BookKeeper::new(v, no_tops());
    let mut snap = msg(
        v,
        BookKind::Snapshot,
        (None, Some(10)),
        vec![lv("8476.98", "415")],
        vec![lv("8476.99", "2")],
        1,
    );
    let mut expect = OrderBook::new();
    expect.apply_snapshot(&snap.bids, &snap.asks);
    snap.checksum = Some(checksum::okx(&expect) as u32);
    assert!(run(&mut k, &snap).0);
    let mut upd = msg(
        v,
        BookKind::Delta,
        (Some(10), Some(12)),
        vec![lv("8476.97", "1")],
        vec![],
        2,
    );
    expect.apply_levels(&upd.bids, &upd.asks);
    upd.checksum = Some(checksum::okx(&expect) as u32);
    assert!(run(&mut k, &upd).0);
    // Checksum 0 means "not sent": in sequence is verified.
    let zero = msg(
        v,
        BookKind::Delta,
        (Some(12), Some(13)),
        vec![],
        vec![lv("8477", "3")],
        3,
    );
    assert!(run(&mut k, &zero).0);
    // A wrong checksum drops the book and asks for a fresh subscription.
    let mut bad = msg(
        v,
        BookKind::Delta,
        (Some(13), Some(14)),
        vec![],
        vec![lv("8478", "1")],
        4,
    );
    bad.checksum = Some(12345);
    let (ok, extra, n) = run(&mut k, &bad);
    assert!(!ok);
    assert_eq!(kinds(&extra), vec![QualityKind::BookChecksum]);
    assert!(matches!(&n[..], [Need::Resync { .. }]));
    // Deltas while waiting are not applied and not counted again.
    let (ok, extra, n) = run(
        &mut k,
        &msg(v, BookKind::Delta, (Some(14), Some(15)), vec![], vec![], 5),
    );
    assert!(!ok && extra.is_empty() && n.is_empty());
    // A broken chain is a gap.
    let mut k = BookKeeper::new(v, no_tops());
    snap.checksum = None;
    run(&mut k, &snap);
    let (ok, extra, _) = run(
        &mut k,
        &msg(v, BookKind::Delta, (Some(11), Some(12)), vec![], vec![], 6),
    );
    assert!(!ok);
    assert_eq!(kinds(&extra), vec![QualityKind::BookGap]);
}

#[test]
fn kraken_checksum_failure_and_disconnect_are_unverified_windows() {
    let v = Venue::Kraken;
    let mut k = BookKeeper::new(v, no_tops());
    let mut snap = msg(
        v,
        BookKind::Snapshot,
        (None, None),
        vec![lv("45283.5", "0.10000000")],
        vec![lv("45285.2", "0.00100000")],
        100,
    );
    let mut b = OrderBook::new();
    b.apply_snapshot(&snap.bids, &snap.asks);
    snap.checksum = Some(checksum::kraken(&b));
    assert!(run(&mut k, &snap).0);
    k.on_disconnect(200);
    assert!(k.book("BTC/USDT").is_none());
    let mut snap2 = snap.clone();
    snap2.ts_recv_us = 300;
    let (ok, extra, _) = run(&mut k, &snap2);
    assert!(ok);
    assert_eq!(kinds(&extra), vec![QualityKind::BookResync]);
    let (_, s) = k.stats(400).pop().unwrap();
    assert_eq!((s.verified_us, s.unverified_us), (200, 100));
}

#[test]
fn bybit_consecutive_and_upbit_snapshots() {
    let mut k = BookKeeper::new(Venue::Bybit, no_tops());
    let v = Venue::Bybit;
    run(
        &mut k,
        &msg(
            v,
            BookKind::Snapshot,
            (None, Some(7)),
            vec![lv("1", "1")],
            vec![lv("2", "1")],
            1,
        ),
    );
    assert!(
        run(
            &mut k,
            &msg(v, BookKind::Delta, (None, Some(8)), vec![], vec![], 2)
        )
        .0
    );
    let (ok, extra, n) = run(
        &mut k,
        &msg(v, BookKind::Delta, (None, Some(10)), vec![], vec![], 3),
    );
    assert!(!ok);
    assert_eq!(kinds(&extra), vec![QualityKind::BookGap]);
    assert!(matches!(&n[..], [Need::Resync { .. }]));

    let v = Venue::Upbit;
    let mut k = BookKeeper::new(v, no_tops());
    for ts in 1..5 {
        let s = msg(
            v,
            BookKind::Snapshot,
            (None, None),
            vec![lv("100", "1")],
            vec![lv("101", "1")],
            ts,
        );
        let (ok, extra, _) = run(&mut k, &s);
        assert!(
            ok && extra.is_empty(),
            "a full snapshot each message is no resync"
        );
    }
}

#[test]
fn crossed_books_are_reported_once_and_tops_follow_the_interval() {
    let v = Venue::Upbit;
    let mut k = BookKeeper::new(
        v,
        KeeperSettings {
            top_levels: 1,
            top_interval_us: 100,
            max_buffered: 10,
        },
    );
    let s = |ts, bid: &str| {
        msg(
            v,
            BookKind::Snapshot,
            (None, None),
            vec![lv(bid, "1"), lv("90", "2")],
            vec![lv("101", "1")],
            ts,
        )
    };
    let (_, extra, _) = run(&mut k, &s(1, "100"));
    let tops: Vec<_> = extra
        .iter()
        .filter(|e| matches!(e, Event::BookTop(_)))
        .collect();
    assert_eq!(tops.len(), 1);
    match tops[0] {
        Event::BookTop(t) => {
            assert_eq!(t.bids, vec![lv("100", "1")]);
            assert_eq!(t.digest, k.digest("BTC/USDT").unwrap());
        }
        _ => unreachable!(),
    }
    let (_, extra, _) = run(&mut k, &s(50, "100"));
    assert!(extra.is_empty(), "within the interval");
    let (_, extra, _) = run(&mut k, &s(150, "102"));
    assert_eq!(kinds(&extra), vec![QualityKind::BookCrossed]);
    let (_, extra, _) = run(&mut k, &s(160, "103"));
    assert!(kinds(&extra).is_empty(), "reported once per episode");
    assert_eq!(k.final_tops(170).len(), 1);
}

/// A venue book that evolves randomly but stays uncrossed, as a stream of Bybit-style deltas.
fn venue_stream(ops: &[(bool, u8, u8)]) -> (Vec<BookUpdate>, Vec<OrderBook>) {
    let v = Venue::Bybit;
    let mut book = OrderBook::new();
    let bids0: Vec<Level> = (0..5).map(|i| lv(&(1000 - i).to_string(), "1")).collect();
    let asks0: Vec<Level> = (0..5).map(|i| lv(&(1001 + i).to_string(), "1")).collect();
    book.apply_snapshot(&bids0, &asks0);
    let mut msgs = vec![msg(v, BookKind::Snapshot, (None, Some(1)), bids0, asks0, 1)];
    let mut books = vec![book.clone()];
    for (i, &(is_bid, off, qty)) in ops.iter().enumerate() {
        let best_bid = book.best_bid().map_or(990, |l| l.price.mantissa());
        let best_ask = book.best_ask().map_or(1010, |l| l.price.mantissa());
        let (side, price) = if is_bid {
            (BookSide::Bid, (best_ask - 1 - i64::from(off % 8)).max(1))
        } else {
            (BookSide::Ask, best_bid + 1 + i64::from(off % 8))
        };
        let l = lv(&price.to_string(), &(qty % 4).to_string());
        book.apply(side, l);
        let (bids, asks) = if is_bid {
            (vec![l], vec![])
        } else {
            (vec![], vec![l])
        };
        let id = i as u64 + 2;
        msgs.push(msg(
            v,
            BookKind::Delta,
            (None, Some(id)),
            bids,
            asks,
            id as i64,
        ));
        books.push(book.clone());
        if i % 40 == 39 {
            // The venue re-sends its book now and then: a chance to resync after a drop.
            let (b, a) = (book.top(BookSide::Bid, 100), book.top(BookSide::Ask, 100));
            msgs.push(msg(
                v,
                BookKind::Snapshot,
                (None, Some(id)),
                b,
                a,
                id as i64,
            ));
            books.push(book.clone());
        }
    }
    (msgs, books)
}

proptest! {
    #[test]
    fn a_live_book_is_always_the_venues_book_and_never_crossed(
        ops in proptest::collection::vec((any::<bool>(), any::<u8>(), any::<u8>()), 1..200),
        drops in proptest::collection::vec(any::<u8>(), 0..5),
    ) {
        let (msgs, truth) = venue_stream(&ops);
        let rules = VenueBookRules { checksum: Checksum::None, depth: None, sequencing: Sequencing::Consecutive };
        let mut k = BookKeeper::with_rules(Venue::Bybit, rules, no_tops());
        let dropped: Vec<usize> = drops.iter().map(|d| 1 + usize::from(*d) % msgs.len().max(2)).collect();
        let mut stored = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            if dropped.contains(&i) {
                continue;
            }
            let mut batch = vec![Event::Book(m.clone())];
            k.process(&mut batch, m.ts_recv_us);
            if let Event::Book(b) = &batch[0] {
                stored.push(b.clone());
            }
            if let Some(book) = k.book("BTC/USDT") {
                prop_assert!(!book.is_crossed());
                prop_assert_eq!(book, &truth[i]);
            }
        }
        // Bybit's rules over the stored messages end with the same book (fewer than its 50
        // levels here, so its truncation changes nothing).
        let rebuilt = rebuild(Venue::Bybit, stored);
        prop_assert_eq!(rebuilt[&Arc::<str>::from("BTC/USDT")], k.digest("BTC/USDT"));
    }
}

#[test]
fn rebuild_from_stored_messages_equals_the_live_digest() {
    // Binance with a gap and a resync; the stored order is the arrival order.
    let v = Venue::Binance;
    let mut live = BookKeeper::new(v, no_tops());
    let stream = vec![
        msg(
            v,
            BookKind::Delta,
            (Some(5), Some(6)),
            vec![lv("10", "1")],
            vec![],
            1,
        ),
        msg(
            v,
            BookKind::Snapshot,
            (None, Some(5)),
            vec![lv("9", "1")],
            vec![lv("11", "1")],
            2,
        ),
        msg(
            v,
            BookKind::Delta,
            (Some(7), Some(7)),
            vec![lv("9", "0")],
            vec![],
            3,
        ),
        msg(
            v,
            BookKind::Delta,
            (Some(9), Some(9)),
            vec![lv("8", "1")],
            vec![],
            4,
        ),
        msg(
            v,
            BookKind::Delta,
            (Some(10), Some(10)),
            vec![lv("7", "1")],
            vec![],
            5,
        ),
        msg(
            v,
            BookKind::Snapshot,
            (None, Some(9)),
            vec![lv("8", "1")],
            vec![lv("12", "1")],
            6,
        ),
        msg(
            v,
            BookKind::Delta,
            (Some(11), Some(11)),
            vec![],
            vec![lv("12", "2")],
            7,
        ),
    ];
    let mut stored = Vec::new();
    for m in &stream {
        let mut batch = vec![Event::Book(m.clone())];
        live.process(&mut batch, m.ts_recv_us);
        if let Event::Book(b) = &batch[0] {
            stored.push(b.clone());
        }
    }
    let flags: Vec<bool> = stored.iter().map(|b| b.verified).collect();
    assert_eq!(flags, vec![false, true, true, false, false, true, true]);
    let d = live.digest("BTC/USDT").unwrap();
    let book = live.book("BTC/USDT").unwrap();
    assert_eq!(book.top(BookSide::Bid, 5), vec![lv("8", "1"), lv("7", "1")]);
    assert_eq!(rebuild(v, stored)[&Arc::<str>::from("BTC/USDT")], Some(d));
}

#[test]
fn a_failed_or_unanswered_resync_is_asked_for_again() {
    let v = Venue::Kraken;
    let mut k = BookKeeper::new(v, no_tops());
    // The first message is a delta: nothing to apply it to, so a snapshot is asked for.
    let (ok, _, n) = run(
        &mut k,
        &msg(v, BookKind::Delta, (None, None), vec![], vec![], 1),
    );
    assert!(!ok);
    assert!(matches!(&n[..], [Need::Resync { .. }]));
    // Its answer fails the checksum: asked again at once.
    let mut bad = msg(
        v,
        BookKind::Snapshot,
        (None, None),
        vec![lv("1", "1")],
        vec![lv("2", "1")],
        2,
    );
    bad.checksum = Some(1);
    let (ok, extra, n) = run(&mut k, &bad);
    assert!(!ok);
    assert_eq!(kinds(&extra), vec![QualityKind::BookChecksum]);
    assert!(matches!(&n[..], [Need::Resync { .. }]));
    // No answer at all: deltas wait quietly, then the need is repeated after the timeout.
    let d = |ts| msg(v, BookKind::Delta, (None, None), vec![], vec![], ts);
    assert!(run(&mut k, &d(3)).2.is_empty());
    let later = 3 + tickrec_book::keeper::RESYNC_TIMEOUT_US + 1;
    assert!(matches!(
        &run(&mut k, &d(later)).2[..],
        [Need::Resync { .. }]
    ));
}

#[test]
fn bybit_u_going_back_is_a_gap_not_a_silent_skip() {
    let v = Venue::Bybit;
    let mut k = BookKeeper::new(v, no_tops());
    run(
        &mut k,
        &msg(
            v,
            BookKind::Snapshot,
            (None, Some(100)),
            vec![lv("1", "1")],
            vec![lv("2", "1")],
            1,
        ),
    );
    assert!(
        run(
            &mut k,
            &msg(v, BookKind::Delta, (None, Some(101)), vec![], vec![], 2)
        )
        .0
    );
    let (ok, extra, n) = run(
        &mut k,
        &msg(v, BookKind::Delta, (None, Some(1)), vec![], vec![], 3),
    );
    assert!(!ok);
    assert_eq!(kinds(&extra), vec![QualityKind::BookGap]);
    assert!(matches!(&n[..], [Need::Resync { .. }]));
    assert!(k.book("BTC/USDT").is_none());
}
