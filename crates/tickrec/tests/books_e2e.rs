//! Order books end to end, per venue: simulator book streams (with faults: a dropped delta, a
//! corrupted checksum, out-of-order deltas, a stale Binance REST snapshot) → `record` → SQLite.
//!
//! For every venue: each fault the venue's protocol can reveal is detected and written down
//! (`book_gap` / `book_checksum`), the book resyncs (`book_resync`), the stored messages replayed
//! through the recorder's rules end with the book the recorder held (the digest of its last
//! stored top), and — where the venue numbers its messages — the recorder's book at a venue
//! sequence number equals the venue's true book at that number.

mod common;

use common::in_process::{sqlite_config, start_recorder};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use tickrec::config::{BookConfig, Config, MarketConfig};
use tickrec_book::BookSide;
use tickrec_model::{Channel, Event, Venue};
use tickrec_simulator::{BookTruth, Fault, SimConfig, SimHandle, SimMarket, StartMode};
use tickrec_store::read_book_deltas;

/// One market, SQLite only.
fn config(db: PathBuf, market: MarketConfig) -> Config {
    sqlite_config(db, vec![market])
}

async fn simulator(venue: Venue, symbol: &str) -> SimHandle {
    let mut cfg = SimConfig::new(vec![SimMarket::new(venue, symbol)]);
    cfg.rate_per_market = 10.0;
    cfg.trades_per_market = Some(1_000_000);
    cfg.start = StartMode::OnSubscribe;
    cfg.book_updates_per_sec = 200.0;
    tickrec_simulator::start(cfg).await.expect("simulator")
}

fn open(db: &Path) -> Connection {
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open db")
}

fn scalar(db: &Path, sql: &str) -> i64 {
    if !db.exists() {
        return 0;
    }
    open(db).query_row(sql, [], |r| r.get(0)).unwrap_or(0)
}

fn quality_count(db: &Path, kind: &str) -> i64 {
    scalar(
        db,
        &format!("SELECT count(*) FROM data_quality_events WHERE kind = '{kind}'"),
    )
}

async fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a venue's protocol lets the recorder see of each fault.
struct Case {
    venue: Venue,
    symbol: &'static str,
    faults: Vec<Fault>,
    /// (data-quality kind, at least this many)
    expect: Vec<(&'static str, i64)>,
}

async fn run_case(case: Case) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("books.db");
    let sim = simulator(case.venue, case.symbol).await;
    let (ws, rest) = (sim.ws_url(case.venue), sim.rest_url(case.venue));
    let rec = start_recorder(config(
        db.clone(),
        MarketConfig {
            venue: case.venue,
            symbols: vec![case.symbol.into()],
            channels: vec![Channel::Book],
            ws_url: Some(ws),
            rest_url: Some(rest),
            message_timeout_ms: None,
            book: Some(BookConfig {
                levels: 10,
                snapshot_ms: 100,
            }),
        },
    ))
    .await;
    let verified = "SELECT count(*) FROM book_deltas WHERE verified = 1";
    wait_for(
        "the first verified messages",
        Duration::from_secs(30),
        || scalar(&db, verified) >= 20,
    )
    .await;
    for f in &case.faults {
        sim.inject(f.clone()).expect("fault");
    }
    for (kind, n) in &case.expect {
        wait_for(&format!("{n} {kind}"), Duration::from_secs(30), || {
            quality_count(&db, kind) >= *n
        })
        .await;
    }
    // Verified again, and for a while: a truth sample taken now must reach the store.
    let resynced = scalar(&db, verified);
    wait_for(
        "verified messages after the faults",
        Duration::from_secs(30),
        || scalar(&db, verified) >= resynced + 30,
    )
    .await;
    let truth = sim.book(case.venue, case.symbol).expect("truth");
    let sampled = truth.last_update_id;
    if let Some(id) = sampled {
        wait_for("the sampled venue id", Duration::from_secs(30), || {
            scalar(
                &db,
                &format!("SELECT count(*) FROM book_deltas WHERE last_update_id >= {id}"),
            ) > 0
        })
        .await;
    }
    let summary = rec.stop().await;
    sim.shutdown().await.expect("sim shutdown");

    let conn = open(&db);
    let stored = read_book_deltas(&conn, case.venue, case.symbol).expect("read back");
    assert!(stored.len() > 50, "{} book messages stored", stored.len());
    let rejects: i64 = conn
        .query_row("SELECT count(*) FROM rejects", [], |r| r.get(0))
        .expect("rejects");
    assert_eq!(
        rejects, 0,
        "{:?}: no valid book frame is a reject",
        case.venue
    );
    for (kind, n) in &case.expect {
        assert!(quality_count(&db, kind) >= *n, "{kind}");
    }
    if case.expect.is_empty() {
        let q: i64 = conn
            .query_row(
                "SELECT count(*) FROM data_quality_events WHERE kind LIKE 'book_%'",
                [],
                |r| r.get(0),
            )
            .expect("quality");
        assert_eq!(q, 0, "{:?}: nothing to report", case.venue);
    }

    // The stored messages, replayed with the recorder's rules, end with the recorder's book.
    let last_top: i64 = conn
        .query_row(
            "SELECT digest FROM book_snapshots ORDER BY ts_recv_us DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("a stored top");
    let rebuilt = tickrec_book::rebuild(case.venue, stored.clone());
    assert_eq!(
        rebuilt[&Arc::<str>::from(case.symbol)],
        Some(last_top as u64),
        "{:?}: rebuilt from storage == the recorder's last book",
        case.venue
    );

    // Where the venue numbers its messages: the book at the sampled number is the venue's.
    if let Some(id) = sampled {
        assert_book_at_id_equals_truth(case.venue, case.symbol, &stored, id, &truth);
    }
    assert!(summary.connections[0].connects >= 1);
}

/// Replays the stored messages up to the verified one carrying venue id `id` and compares the
/// book (as deep as the venue's stream shows it) with the venue's truth at that id.
fn assert_book_at_id_equals_truth(
    venue: Venue,
    symbol: &str,
    stored: &[tickrec_model::BookUpdate],
    id: u64,
    truth: &BookTruth,
) {
    let mut k = tickrec_book::BookKeeper::new(venue, Default::default());
    for b in stored {
        let mut batch = vec![Event::Book(b.clone())];
        k.process(&mut batch, b.ts_recv_us);
        if b.verified && b.last_update_id == Some(id) {
            let book = k.book(symbol).expect("live at the sampled id");
            let n = truth.bids.len().max(truth.asks.len());
            assert_eq!(
                book.top(BookSide::Bid, n),
                truth.bids,
                "{venue:?} bids at {id}"
            );
            assert_eq!(
                book.top(BookSide::Ask, n),
                truth.asks,
                "{venue:?} asks at {id}"
            );
            return;
        }
    }
    panic!("{venue:?}: no verified stored message with id {id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_gap_reorder_and_stale_snapshot_resync_from_rest() {
    let (venue, symbol) = (Venue::Binance, "BTC/USDT");
    run_case(Case {
        venue,
        symbol,
        faults: vec![
            // The snapshot fetched after the gap is older than the stream: refused, refetched.
            Fault::StaleBookSnapshot {
                venue,
                symbol: symbol.into(),
                lag: 3_000,
            },
            Fault::DropBookDelta {
                venue,
                symbol: symbol.into(),
                after: 3,
            },
        ],
        expect: vec![("book_gap", 1), ("book_resync", 1)],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_out_of_order_deltas_are_a_gap_never_stitched() {
    let (venue, symbol) = (Venue::Binance, "ETH/USDT");
    run_case(Case {
        venue,
        symbol,
        faults: vec![Fault::ReorderBookDeltas {
            venue,
            symbol: symbol.into(),
            after: 3,
        }],
        expect: vec![("book_gap", 1), ("book_resync", 1)],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_dropped_delta_and_corrupt_checksum_fail_the_checksum_and_resubscribe() {
    let (venue, symbol) = (Venue::Kraken, "BTC/USD");
    run_case(Case {
        venue,
        symbol,
        faults: vec![
            Fault::DropBookDelta {
                venue,
                symbol: symbol.into(),
                after: 3,
            },
            Fault::CorruptBookChecksum {
                venue,
                symbol: symbol.into(),
                after: 60,
            },
        ],
        // The corrupted checksum is always caught. A dropped delta is caught by the next
        // checksum unless the next message happens to overwrite the very levels it changed
        // (then the book is right anyway): at least one failure, whichever.
        expect: vec![("book_checksum", 1), ("book_resync", 1)],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_gap_reorder_and_corrupt_checksum_resync() {
    let (venue, symbol) = (Venue::Okx, "BTC/USDT");
    run_case(Case {
        venue,
        symbol,
        faults: vec![
            Fault::DropBookDelta {
                venue,
                symbol: symbol.into(),
                after: 3,
            },
            Fault::CorruptBookChecksum {
                venue,
                symbol: symbol.into(),
                after: 60,
            },
            Fault::ReorderBookDeltas {
                venue,
                symbol: symbol.into(),
                after: 120,
            },
        ],
        expect: vec![("book_gap", 2), ("book_checksum", 1), ("book_resync", 3)],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_dropped_and_reordered_deltas_resync() {
    let (venue, symbol) = (Venue::Bybit, "BTC/USDT");
    run_case(Case {
        venue,
        symbol,
        faults: vec![
            Fault::DropBookDelta {
                venue,
                symbol: symbol.into(),
                after: 3,
            },
            Fault::ReorderBookDeltas {
                venue,
                symbol: symbol.into(),
                after: 60,
            },
        ],
        expect: vec![("book_gap", 2), ("book_resync", 2)],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbase_dropped_message_breaks_the_connection_sequence_and_resyncs() {
    let (venue, symbol) = (Venue::Coinbase, "BTC/USD");
    run_case(Case {
        venue,
        symbol,
        faults: vec![Fault::DropBookDelta {
            venue,
            symbol: symbol.into(),
            after: 3,
        }],
        expect: vec![("book_resync", 1)],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upbit_full_snapshots_make_a_dropped_message_harmless() {
    let (venue, symbol) = (Venue::Upbit, "BTC/KRW");
    run_case(Case {
        venue,
        symbol,
        faults: vec![Fault::DropBookDelta {
            venue,
            symbol: symbol.into(),
            after: 3,
        }],
        expect: vec![],
    })
    .await;
}
