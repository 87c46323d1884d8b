//! Unit tests of the SQLite sink.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tickrec_model::{
    now_us, BookKind, BookTop, BookUpdate, Candle, Decimal, Event, Level, Quote, Reject,
    RejectReason, Side, Trade, TradeId, TradeKind, Venue, MAX_REJECT_RAW_BYTES,
};
use tokio::sync::mpsc;

use super::*;
use crate::{BatchConfig, ErrorClass, LatencyRecorder, StoreError, WriteStats};

fn d(s: &str) -> Decimal {
    Decimal::parse(s).expect(s)
}

fn cfg_in(dir: &Path) -> SqliteConfig {
    SqliteConfig {
        path: dir.join("nested/dir/tickrec.db"),
        ..SqliteConfig::default()
    }
}

fn trade(id: u64, price: &str, qty: &str, side: Side, ts: i64) -> Trade {
    Trade {
        venue: Venue::Binance,
        symbol: Arc::from("BTC/USDT"),
        trade_id: TradeId::Num(id),
        price: d(price),
        qty: d(qty),
        side,
        ts_exchange_us: ts,
        ts_recv_us: ts + 1_000,
        kind: TradeKind::Single,
    }
}

fn quote(update_id: Option<u64>, ts_ex: Option<i64>, ts_recv: i64, bid: &str, ask: &str) -> Quote {
    Quote {
        venue: Venue::Binance,
        symbol: Arc::from("ETH/USDT"),
        bid_price: d(bid),
        bid_qty: d("1.5"),
        ask_price: d(ask),
        ask_qty: d("0.00100000"),
        ts_exchange_us: ts_ex,
        ts_recv_us: ts_recv,
        update_id,
    }
}

fn candle(close: &str, closed: bool, ts_ex: i64) -> Candle {
    Candle {
        venue: Venue::Kraken,
        symbol: Arc::from("BTC/USD"),
        interval_s: 60,
        open_time_us: 1_700_000_040_000_000,
        open: d("100.0"),
        high: d("101.5"),
        low: d("99.25"),
        close: d(close),
        volume: d("12.00000000"),
        quote_volume: None,
        trades: Some(42),
        closed,
        ts_exchange_us: ts_ex,
        ts_recv_us: ts_ex + 500,
    }
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

fn read(path: &Path) -> Connection {
    open_read_only(path).expect("open read-only")
}

#[test]
fn open_twice_is_idempotent_and_sets_pragmas() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_in(dir.path());
    {
        let mut w = SqliteWriter::open(&cfg).unwrap();
        w.write_batch(&[Event::Trade(trade(1, "1.0", "1", Side::Buy, 10))])
            .unwrap();
    }
    let w = SqliteWriter::open(&cfg).unwrap();
    assert_eq!(w.path(), cfg.path.as_path());
    drop(w);
    let c = read(&cfg.path);
    assert_eq!(count(&c, "PRAGMA user_version"), SCHEMA_VERSION);
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(count(&c, "SELECT count(*) FROM trades"), 1);
    for t in [
        "trades",
        "agg_trades",
        "quotes",
        "candles",
        "book_deltas",
        "book_snapshots",
        "rejects",
        "data_quality_events",
    ] {
        assert_eq!(
            count(
                &c,
                &format!("SELECT count(*) FROM sqlite_schema WHERE type='table' AND name='{t}'")
            ),
            1,
            "{t}"
        );
    }
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM sqlite_schema WHERE type='view' AND name LIKE '%_view'"
        ),
        6
    );
}

#[test]
fn distinct_trades_with_same_time_price_side_are_two_rows() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_in(dir.path());
    let mut w = SqliteWriter::open(&cfg).unwrap();
    let st = w
        .write_batch(&[
            Event::Trade(trade(7, "50000.10", "0.1", Side::Sell, 1_000)),
            Event::Trade(trade(8, "50000.10", "0.1", Side::Sell, 1_000)),
        ])
        .unwrap();
    assert_eq!(st.trades, 2);
    assert_eq!(st.duplicates, 0);
    assert_eq!(count(&read(&cfg.path), "SELECT count(*) FROM trades"), 2);
}

#[test]
fn same_trade_twice_is_one_row_and_one_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_in(dir.path());
    let mut w = SqliteWriter::open(&cfg).unwrap();
    let t = Event::Trade(trade(7, "50000.10", "0.1", Side::Sell, 1_000));
    let st = w.write_batch(std::slice::from_ref(&t)).unwrap();
    assert_eq!((st.trades, st.duplicates), (1, 0));
    // replayed in a later batch, and twice within one batch
    let st = w.write_batch(&[t.clone(), t]).unwrap();
    assert_eq!(
        st,
        WriteStats {
            duplicates: 2,
            ..WriteStats::default()
        }
    );
    assert_eq!(count(&read(&cfg.path), "SELECT count(*) FROM trades"), 1);
}

#[test]
fn trade_ids_keep_their_type() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_in(dir.path());
    let mut w = SqliteWriter::open(&cfg).unwrap();
    let mut a = trade(0, "1", "1", Side::Unknown, 1);
    a.trade_id = TradeId::Num(123);
    let mut b = a.clone();
    b.trade_id = TradeId::Text("123".into()); // text "123" is another id than number 123
    let mut c = a.clone();
    c.trade_id = TradeId::Num(u64::MAX);
    let mut e = a.clone();
    e.trade_id = TradeId::Text("7c9e6679-7425-40de-944b-e07fc1f90ae7".into());
    let st = w
        .write_batch(&[a, b, c, e].map(Event::Trade))
        .expect("write");
    assert_eq!(st.trades, 4);
    let conn = read(&cfg.path);
    let mut stmt = conn
        .prepare("SELECT typeof(trade_id), CAST(trade_id AS TEXT) FROM trades ORDER BY 1, 2")
        .unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        vec![
            ("integer".into(), "123".into()),
            ("text".into(), "123".into()),
            ("text".into(), "18446744073709551615".into()),
            ("text".into(), "7c9e6679-7425-40de-944b-e07fc1f90ae7".into()),
        ]
    );
}

#[test]
fn exact_round_trip_of_mantissa_scale_and_text_views() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_in(dir.path());
    let mut w = SqliteWriter::open(&cfg).unwrap();
    let values = [
        "0.00000638",
        "113747.89000000",
        "45281.0",
        "5",
        "0.5",
        "0.35280000",
        "10",
        "9.223372036854775807",
        "0.000000000000000001",
    ];
    let ts = 1_695_628_116_925_533; // 2023-09-25T07:48:36.925533Z
    let events: Vec<Event> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Event::Trade(trade(i as u64, v, v, Side::Buy, ts)))
        .collect();
    assert_eq!(w.write_batch(&events).unwrap().trades, values.len() as u64);

    let conn = read(&cfg.path);
    let mut stmt = conn
        .prepare(
            "SELECT t.price_m, t.price_scale, v.price, v.qty, v.price_real, v.ts_exchange, v.ts_recv \
             FROM trades t JOIN trades_view v USING (venue, symbol, trade_id) WHERE t.trade_id = ?1",
        )
        .unwrap();
    for (i, v) in values.iter().enumerate() {
        let (m, s, price, qty, real, ts_ex, ts_recv): (
            i64,
            i64,
            String,
            String,
            f64,
            String,
            String,
        ) = stmt
            .query_row([i as i64], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .unwrap();
        let dec = d(v);
        assert_eq!((m, s), (dec.mantissa(), i64::from(dec.scale())), "{v}");
        assert_eq!(price, *v);
        assert_eq!(qty, *v);
        assert!(
            (real - dec.to_f64()).abs() <= dec.to_f64() * 1e-15,
            "{v}: {real}"
        );
        assert_eq!(ts_ex, "2023-09-25T07:48:36.925533Z");
        assert_eq!(ts_recv, "2023-09-25T07:48:36.926533Z");
    }

    // Negative values and the extremes of i64, through the quotes view (no sign constraints).
    let mut q = quote(Some(1), None, 0, "-0.05", "1");
    q.ask_price = Decimal::new(i64::MIN, 18).unwrap(); // not reachable by parsing, but storable
    q.bid_qty = d("-2");
    q.ask_qty = d("0.0");
    w.write_batch(&[Event::Quote(q)]).unwrap();
    let row: (String, String, String, String, Option<String>, String) = conn
        .query_row(
            "SELECT bid_price, ask_price, bid_qty, ask_qty, ts_exchange, ts_recv FROM quotes_view",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(
        row,
        (
            "-0.05".into(),
            "-9.223372036854775808".into(),
            "-2".into(),
            "0.0".into(),
            None,
            "1970-01-01T00:00:00.000000Z".into()
        )
    );
}

#[test]
fn candles_upsert_and_never_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_in(dir.path());
    let mut w = SqliteWriter::open(&cfg).unwrap();
    let conn = read(&cfg.path);
    let close_of = || -> (String, i64, i64) {
        conn.query_row(
            "SELECT close, closed, ts_exchange_us FROM candles_view",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    };

    let st = w
        .write_batch(&[Event::Candle(candle("100.5", false, 10))])
        .unwrap();
    assert_eq!(st.candles, 1);
    // a later running update replaces the values
    let st = w
        .write_batch(&[Event::Candle(candle("100.7", false, 20))])
        .unwrap();
    assert_eq!((st.candles, st.duplicates), (1, 0));
    assert_eq!(close_of(), ("100.7".into(), 0, 20));
    // a stale running update does not
    let st = w
        .write_batch(&[Event::Candle(candle("100.6", false, 15))])
        .unwrap();
    assert_eq!((st.candles, st.duplicates), (0, 1));
    assert_eq!(close_of(), ("100.7".into(), 0, 20));
    // the closing update wins
    let st = w
        .write_batch(&[Event::Candle(candle("100.8", true, 30))])
        .unwrap();
    assert_eq!(st.candles, 1);
    assert_eq!(close_of(), ("100.8".into(), 1, 30));
    // an open update after the close (even with a newer time) never reopens it
    let st = w
        .write_batch(&[Event::Candle(candle("999", false, 40))])
        .unwrap();
    assert_eq!((st.candles, st.duplicates), (0, 1));
    assert_eq!(close_of(), ("100.8".into(), 1, 30));
    // the same closed candle again is a duplicate; a corrected final one replaces it
    let st = w
        .write_batch(&[Event::Candle(candle("100.8", true, 30))])
        .unwrap();
    assert_eq!((st.candles, st.duplicates), (0, 1));
    let st = w
        .write_batch(&[Event::Candle(candle("100.9", true, 31))])
        .unwrap();
    assert_eq!(st.candles, 1);
    assert_eq!(close_of(), ("100.9".into(), 1, 31));

    assert_eq!(count(&conn, "SELECT count(*) FROM candles"), 1);
    let row: (String, String, String, Option<String>, i64, String) = conn
        .query_row(
            "SELECT open, low, volume, quote_volume, trades, open_time FROM candles_view",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(
        row,
        (
            "100.0".into(),
            "99.25".into(),
            "12.00000000".into(),
            None,
            42,
            "2023-11-14T22:14:00.000000Z".into()
        )
    );
}

#[test]
fn quotes_are_keyed_by_update_id_then_times() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_in(dir.path());
    let mut w = SqliteWriter::open(&cfg).unwrap();
    let st = w
        .write_batch(&[
            Event::Quote(quote(Some(400), None, 1_000, "1.0", "1.1")),
            Event::Quote(quote(Some(400), None, 2_000, "1.0", "1.1")), // same update id
            Event::Quote(quote(Some(401), None, 2_000, "1.0", "1.2")),
            Event::Quote(quote(None, Some(5_000), 5_100, "1.0", "1.3")),
            Event::Quote(quote(None, None, 6_000, "1.0", "1.4")),
        ])
        .unwrap();
    assert_eq!((st.quotes, st.duplicates), (4, 1));
    let conn = read(&cfg.path);
    let mut stmt = conn
        .prepare("SELECT seq, update_id, ask_price FROM quotes_view ORDER BY seq")
        .unwrap();
    let rows: Vec<(i64, Option<i64>, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (400, Some(400), "1.1".into()),
            (401, Some(401), "1.2".into()),
            (5_000, None, "1.3".into()),
            (6_000, None, "1.4".into()),
        ]
    );
}

#[test]
fn rejects_keep_truncated_raw_payload() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_in(dir.path());
    let mut w = SqliteWriter::open(&cfg).unwrap();
    let big = vec![b'x'; MAX_REJECT_RAW_BYTES * 3];
    let via_new = Reject::new(
        Venue::Kraken,
        Some(Arc::from("BTC/USD")),
        RejectReason::MalformedJson,
        "truncated frame",
        &big,
        77,
    );
    // built by hand, bypassing the truncation in Reject::new: the store truncates too
    let by_hand = Reject {
        venue: Venue::Binance,
        symbol: None,
        reason: RejectReason::UnknownMessage,
        detail: String::new(),
        raw: big.clone(),
        ts_recv_us: 78,
    };
    let st = w
        .write_batch(&[Event::Reject(via_new), Event::Reject(by_hand)])
        .unwrap();
    assert_eq!(st.rejects, 2);
    let conn = read(&cfg.path);
    let mut stmt = conn
        .prepare("SELECT venue, symbol, reason, detail, length(raw), ts_recv_us FROM rejects ORDER BY id")
        .unwrap();
    let rows: Vec<(String, Option<String>, String, String, i64, i64)> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let n = MAX_REJECT_RAW_BYTES as i64;
    assert_eq!(
        rows,
        vec![
            (
                "kraken".into(),
                Some("BTC/USD".into()),
                "malformed_json".into(),
                "truncated frame".into(),
                n,
                77
            ),
            (
                "binance".into(),
                None,
                "unknown_message".into(),
                String::new(),
                n,
                78
            ),
        ]
    );
}

#[test]
fn constraint_failures_become_store_constraint_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_in(dir.path());
    let mut w = SqliteWriter::open(&cfg).unwrap();
    let good = trade(1, "2.5", "1", Side::Buy, 100);
    let zero_price = trade(2, "0", "1", Side::Buy, 100); // CHECK (price_m > 0)
    let huge_update_id = quote(Some(u64::MAX), None, 200, "1", "2"); // does not fit i64
    let mut empty_symbol = trade(3, "1", "1", Side::Sell, 300);
    empty_symbol.symbol = Arc::from("");
    let good2 = trade(4, "2.5", "1", Side::Buy, 100);
    let st = w
        .write_batch(&[
            Event::Trade(good),
            Event::Trade(zero_price),
            Event::Quote(huge_update_id),
            Event::Trade(empty_symbol),
            Event::Trade(good2),
        ])
        .unwrap();
    assert_eq!(
        st,
        WriteStats {
            trades: 2,
            rejects: 3,
            poisoned: 3,
            ..WriteStats::default()
        }
    );
    let conn = read(&cfg.path);
    assert_eq!(count(&conn, "SELECT count(*) FROM trades"), 2);
    assert_eq!(count(&conn, "SELECT count(*) FROM quotes"), 0);
    let mut stmt = conn
        .prepare("SELECT reason, detail, CAST(raw AS TEXT), ts_recv_us FROM rejects ORDER BY id")
        .unwrap();
    let rows: Vec<(String, String, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.0 == STORE_CONSTRAINT_REASON));
    assert!(
        rows[0].1.starts_with("trades:") && rows[0].1.contains("CHECK"),
        "{}",
        rows[0].1
    );
    assert!(
        rows[0].2.contains("TradeId") || rows[0].2.contains("Num(2)"),
        "{}",
        rows[0].2
    );
    assert_eq!(rows[0].3, 1_100);
    assert!(
        rows[1].1.starts_with("quotes:") && rows[1].1.contains("update_id"),
        "{}",
        rows[1].1
    );
    assert!(rows[2].1.contains("CHECK"), "{}", rows[2].1);
}

#[test]
fn agg_trades_book_deltas_and_book_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_in(dir.path());
    let mut w = SqliteWriter::open(&cfg).unwrap();
    let mut agg = trade(26_129, "0.01633102", "4.70443515", Side::Sell, 1_000);
    agg.kind = TradeKind::Aggregate {
        first_id: 27_781,
        last_id: 27_781,
    };
    let book = BookUpdate {
        venue: Venue::Kraken,
        symbol: Arc::from("BTC/USD"),
        kind: BookKind::Snapshot,
        first_update_id: None,
        last_update_id: Some(9),
        bids: vec![Level {
            price: d("45283.5"),
            qty: d("0.10000000"),
        }],
        asks: vec![
            Level {
                price: d("45285.2"),
                qty: d("0.00100000"),
            },
            Level {
                price: d("45286.4"),
                qty: d("1.54582015"),
            },
        ],
        checksum: Some(3_310_070_434),
        ts_exchange_us: None,
        ts_recv_us: 5,
        verified: true,
    };
    let st = w
        .write_batch(&[
            Event::Trade(agg.clone()),
            Event::Book(book.clone()),
            Event::Trade(agg),
        ])
        .unwrap();
    assert_eq!((st.agg_trades, st.books, st.duplicates), (1, 1, 1));
    let conn = read(&cfg.path);
    assert_eq!(count(&conn, "SELECT count(*) FROM trades"), 0);
    let agg_row: (i64, String, i64, i64) = conn
        .query_row(
            "SELECT agg_id, price, first_trade_id, last_trade_id FROM agg_trades_view",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(agg_row, (26_129, "0.01633102".into(), 27_781, 27_781));
    let book_row: (String, Option<i64>, i64, String, String, i64) = conn
        .query_row(
            "SELECT kind, first_update_id, last_update_id, bids, asks, checksum FROM book_deltas",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(
        book_row,
        (
            "snapshot".into(),
            None,
            9,
            r#"[["45283.5","0.10000000"]]"#.into(),
            r#"[["45285.2","0.00100000"],["45286.4","1.54582015"]]"#.into(),
            3_310_070_434
        )
    );
    let verified: i64 = conn
        .query_row("SELECT verified FROM book_deltas", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verified, 1);
    // A replay from the journal is a duplicate; the same levels in another message are not.
    let mut other = book.clone();
    other.kind = BookKind::Delta;
    let top = BookTop {
        venue: Venue::Kraken,
        symbol: Arc::from("BTC/USD"),
        last_update_id: Some(9),
        bids: book.bids.clone(),
        asks: book.asks.clone(),
        verified: true,
        digest: u64::MAX - 1,
        ts_exchange_us: None,
        ts_recv_us: 6,
    };
    drop(conn);
    let st = w
        .write_batch(&[
            Event::Book(book),
            Event::Book(other),
            Event::BookTop(top.clone()),
            Event::BookTop(top),
        ])
        .unwrap();
    assert_eq!((st.books, st.book_snapshots, st.duplicates), (1, 1, 2));
    let conn = read(&cfg.path);
    let levels: Vec<(String, i64, String, String)> = conn
        .prepare("SELECT side, position, price, qty FROM book_levels_view ORDER BY delta_id, side DESC, position")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(levels.len(), 6);
    assert_eq!(
        levels[0],
        ("bid".into(), 0, "45283.5".into(), "0.10000000".into())
    );
    assert_eq!(
        levels[2],
        ("ask".into(), 1, "45286.4".into(), "1.54582015".into())
    );
    let snap: (String, i64, i64) = conn
        .query_row(
            "SELECT asks, verified, digest FROM book_snapshots",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        snap,
        (
            r#"[["45285.2","0.00100000"],["45286.4","1.54582015"]]"#.into(),
            1,
            (u64::MAX - 1) as i64
        )
    );
}

fn live_trade(id: u64) -> Event {
    let now = now_us();
    let mut t = trade(id, "30000.5", "0.001", Side::Buy, now - 100);
    t.ts_recv_us = now;
    Event::Trade(t)
}

#[test]
fn group_commit_through_the_channel() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_in(dir.path());
    let (tx, rx) = mpsc::channel(16);
    let handle = spawn_sqlite_writer(cfg.clone(), BatchConfig::default(), rx).unwrap();
    let stats = handle.stats();
    tx.blocking_send((0..3).map(live_trade).collect()).unwrap();
    tx.blocking_send(vec![
        Event::Quote(quote(Some(1), None, now_us(), "1", "2")),
        live_trade(0), // duplicate of the first batch
    ])
    .unwrap();
    tx.blocking_send(vec![Event::Candle(candle("100.5", false, now_us()))])
        .unwrap();
    drop(tx);
    let report = handle.join().unwrap();
    assert_eq!(
        report.totals,
        WriteStats {
            trades: 3,
            quotes: 1,
            candles: 1,
            duplicates: 1,
            ..WriteStats::default()
        }
    );
    assert!((1..=3).contains(&report.commits), "{report:?}");
    assert_eq!(report.latency.count, 6); // every row of every kind, duplicates included
    assert!(report.latency.p50_us <= report.latency.p99_us);
    assert!(report.latency.p99_us <= report.latency.max_us);
    assert_eq!(stats.snapshot(), report.totals);
    assert_eq!(stats.commits.load(Ordering::Relaxed), report.commits);
    assert_eq!(stats.errors.load(Ordering::Relaxed), 0);
    assert!(stats.last_commit_us.load(Ordering::Relaxed) > 0);
    let conn = read(&cfg.path);
    assert_eq!(count(&conn, "SELECT count(*) FROM trades"), 3);
}

#[test]
fn max_rows_splits_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_in(dir.path());
    let (tx, rx) = mpsc::channel(64);
    // Fill the channel before the writer starts, so that every batch is already waiting.
    for i in 0..10u64 {
        tx.blocking_send((i * 10..i * 10 + 10).map(live_trade).collect())
            .unwrap();
    }
    drop(tx);
    let batch = BatchConfig {
        max_rows: 25,
        max_ms: 60_000,
    };
    let report = spawn_sqlite_writer(cfg, batch, rx).unwrap().join().unwrap();
    assert_eq!(report.totals.trades, 100);
    // 30 rows per transaction (three batches of ten reach 25), so four commits
    assert_eq!(report.commits, 4, "{report:?}");
}

#[test]
fn writer_retries_while_another_connection_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SqliteConfig {
        busy_timeout_ms: 50,
        ..cfg_in(dir.path())
    };
    let (tx, rx) = mpsc::channel(16);
    let handle = spawn_sqlite_writer(cfg.clone(), BatchConfig::default(), rx).unwrap();
    let stats = handle.stats();

    let locker = Connection::open(&cfg.path).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let locked_at = Instant::now();
    tx.blocking_send((0..100).map(live_trade).collect())
        .unwrap();
    tx.blocking_send((100..200).map(live_trade).collect())
        .unwrap();
    std::thread::sleep(Duration::from_millis(1_000));
    assert!(
        stats.errors.load(Ordering::Relaxed) >= 1,
        "the writer should have hit SQLITE_BUSY"
    );
    assert_eq!(stats.commits.load(Ordering::Relaxed), 0);
    locker.execute_batch("COMMIT").unwrap();
    tx.blocking_send((200..300).map(live_trade).collect())
        .unwrap();
    drop(tx);
    let report = handle.join().unwrap();
    assert!(locked_at.elapsed() >= Duration::from_millis(1_000));
    assert_eq!(report.totals.trades, 300);
    assert_eq!(report.totals.duplicates, 0);
    assert!(!stats.retrying.load(Ordering::Relaxed));
    assert_eq!(count(&read(&cfg.path), "SELECT count(*) FROM trades"), 300);
    // the latency includes the time the lock was held
    assert!(report.latency.max_us >= 900_000, "{:?}", report.latency);
}

#[test]
fn fatal_error_stops_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_in(dir.path());
    let (tx, rx) = mpsc::channel(16);
    let handle = spawn_sqlite_writer(cfg.clone(), BatchConfig::default(), rx).unwrap();
    // Someone breaks the schema under the writer's feet.
    let other = Connection::open(&cfg.path).unwrap();
    other
        .execute_batch("DROP VIEW trades_view; DROP TABLE trades;")
        .unwrap();
    tx.blocking_send(vec![live_trade(1)]).unwrap();
    let err = handle.join().unwrap_err();
    assert_eq!(err.class(), ErrorClass::Fatal, "{err}");
    assert!(err.to_string().contains("trades"), "{err}");
    // The channel is closed by the writer's exit.
    assert!(tx.blocking_send(vec![live_trade(2)]).is_err());
}

#[test]
fn newer_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_in(dir.path());
    drop(SqliteWriter::open(&cfg).unwrap());
    {
        let c = Connection::open(&cfg.path).unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let err = SqliteWriter::open(&cfg).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
                ..
            } if found == SCHEMA_VERSION + 1
        ),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::Fatal);
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("schema version {}", SCHEMA_VERSION + 1)) && msg.contains("newer"),
        "{msg}"
    );
    assert!(matches!(
        open_read_only(&cfg.path),
        Err(StoreError::SchemaTooNew { .. })
    ));
    let (_tx, rx) = mpsc::channel(1);
    assert!(spawn_sqlite_writer(cfg, BatchConfig::default(), rx).is_err());
}

#[test]
fn missing_tables_are_a_schema_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("half.db");
    {
        // claims version 1 but has no tables (e.g. another program's file)
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
    }
    let err = SqliteWriter::open(&SqliteConfig {
        path,
        ..SqliteConfig::default()
    })
    .unwrap_err();
    assert!(matches!(err, StoreError::Schema { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Fatal);
    assert!(err.to_string().contains("trades"), "{err}");
}

#[test]
fn foreign_file_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("not-a-db.db");
    std::fs::write(&path, vec![b'z'; 8192]).unwrap();
    let err = SqliteWriter::open(&SqliteConfig {
        path,
        ..SqliteConfig::default()
    })
    .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Fatal, "{err}");
}

#[test]
fn error_classes() {
    use rusqlite::ffi;
    let e =
        |code: i32| StoreError::Sqlite(rusqlite::Error::SqliteFailure(ffi::Error::new(code), None));
    assert_eq!(e(ffi::SQLITE_BUSY).class(), ErrorClass::Transient);
    assert_eq!(e(ffi::SQLITE_LOCKED).class(), ErrorClass::Transient);
    assert_eq!(e(ffi::SQLITE_FULL).class(), ErrorClass::Transient);
    assert_eq!(e(ffi::SQLITE_IOERR_WRITE).class(), ErrorClass::Transient);
    assert_eq!(e(ffi::SQLITE_CONSTRAINT_CHECK).class(), ErrorClass::Poison);
    assert_eq!(e(ffi::SQLITE_CORRUPT).class(), ErrorClass::Fatal);
    assert_eq!(e(ffi::SQLITE_NOTADB).class(), ErrorClass::Fatal);
    assert_eq!(e(ffi::SQLITE_READONLY).class(), ErrorClass::Fatal);
    assert_eq!(e(ffi::SQLITE_CANTOPEN).class(), ErrorClass::Fatal);
    assert_eq!(e(ffi::SQLITE_ERROR).class(), ErrorClass::Fatal);
}

#[test]
fn config_sections_parse_with_defaults() {
    let s: SqliteConfig = toml::from_str("").unwrap();
    assert_eq!(s, SqliteConfig::default());
    assert_eq!(s.path, PathBuf::from("data/tickrec.db"));
    assert_eq!(
        (s.synchronous, s.busy_timeout_ms),
        (Synchronous::Normal, 5000)
    );
    let s: SqliteConfig = toml::from_str("path = \"/tmp/x.db\"\nsynchronous = \"full\"").unwrap();
    assert_eq!(s.synchronous, Synchronous::Full);
    assert_eq!(s.path, PathBuf::from("/tmp/x.db"));
    assert!(toml::from_str::<SqliteConfig>("synchronous = \"off\"").is_err());
    assert!(toml::from_str::<SqliteConfig>("pth = \"x\"").is_err());
    let b: BatchConfig = toml::from_str("max_rows = 100").unwrap();
    assert_eq!((b.max_rows, b.max_ms), (100, 500));
    assert!(toml::from_str::<BatchConfig>("max_row = 1").is_err());
}

#[test]
fn latency_recorder_summary() {
    let mut r = LatencyRecorder::new();
    assert_eq!(r.summary().count, 0);
    for us in 1..=1000 {
        r.record(us);
    }
    r.record(-5); // clock step: counted as 0
    r.record(i64::MAX); // clamped
    let s = r.summary();
    assert_eq!(s.count, 1002);
    assert!((495..=505).contains(&s.p50_us), "{s:?}");
    assert!((895..=905).contains(&s.p90_us), "{s:?}");
    assert!(s.max_us >= 3_599_000_000, "{s:?}");
}

/// Bench-style: prints rows/s, asserts only on correctness. Run with `--nocapture` (and
/// `--release` for meaningful numbers).
#[test]
fn bench_insert_200k_trades() {
    const N: u64 = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<Event> = (0..N)
        .map(|i| {
            Event::Trade(trade(
                i,
                "113747.89000000",
                "0.00012000",
                if i % 2 == 0 { Side::Buy } else { Side::Sell },
                1_700_000_000_000_000 + i as i64,
            ))
        })
        .collect();

    // 1. SqliteWriter::write_batch, 5000 rows per transaction
    let cfg = SqliteConfig {
        path: dir.path().join("direct.db"),
        ..SqliteConfig::default()
    };
    let mut w = SqliteWriter::open(&cfg).unwrap();
    let t0 = Instant::now();
    let mut total = WriteStats::default();
    for chunk in events.chunks(5_000) {
        total += w.write_batch(chunk).unwrap();
    }
    let dt = t0.elapsed();
    assert_eq!(total.trades, N);
    println!(
        "write_batch: {N} trades in {:.3}s = {:.0} rows/s",
        dt.as_secs_f64(),
        N as f64 / dt.as_secs_f64()
    );

    // 2. end to end through the channel and the group-commit thread, 500 events per message
    let cfg = SqliteConfig {
        path: dir.path().join("channel.db"),
        ..SqliteConfig::default()
    };
    let (tx, rx) = mpsc::channel(64);
    let handle = spawn_sqlite_writer(cfg.clone(), BatchConfig::default(), rx).unwrap();
    let t0 = Instant::now();
    let mut it = events.into_iter().peekable();
    while it.peek().is_some() {
        let batch: Vec<Event> = it.by_ref().take(500).collect();
        tx.blocking_send(batch).unwrap();
    }
    drop(tx);
    let report = handle.join().unwrap();
    let dt = t0.elapsed();
    assert_eq!(report.totals.trades, N);
    println!(
        "group commit: {N} trades in {:.3}s = {:.0} rows/s, {} commits",
        dt.as_secs_f64(),
        N as f64 / dt.as_secs_f64(),
        report.commits
    );
    assert_eq!(
        count(&read(&cfg.path), "SELECT count(*) FROM trades"),
        N as i64
    );
}
