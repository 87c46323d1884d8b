//! End to end with real processes: `tickrec simulate` (Binance + Kraken, two pairs each) →
//! `tickrec record` → SQLite; SIGTERM; the stored tape is compared with the simulator's ground
//! truth, value by value.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{
    count, sigterm_and_wait, start_recorder, start_simulator, stored, truth_row, write_config, Row,
};
use tickrec_simulator::read_ground_truth;

#[test]
fn recorded_tape_equals_ground_truth_and_sigterm_exits_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let per_market = 12_500u64; // 4 markets → 50 000 trades
    let (mut sim, urls) = start_simulator(dir.path(), 5_000, per_market);
    let config = write_config(dir.path(), &urls);
    let mut rec = start_recorder(&config, &dir.path().join("rec.log"));
    let db = dir.path().join("rec.db");
    let deadline = Instant::now() + Duration::from_secs(180);
    while count(&db) < per_market * 4 {
        assert!(
            Instant::now() < deadline,
            "only {} trades stored",
            count(&db)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(sigterm_and_wait(&mut rec), 0, "recorder exit code");
    assert_eq!(sigterm_and_wait(&mut sim), 0, "simulator exit code");

    let truth: Vec<Row> = {
        let mut v: Vec<Row> = read_ground_truth(&dir.path().join("truth.csv"))
            .expect("ground truth")
            .iter()
            .map(truth_row)
            .collect();
        v.sort_by(|a, b| (&a.venue, &a.symbol, a.trade_id).cmp(&(&b.venue, &b.symbol, b.trade_id)));
        v
    };
    assert_eq!(truth.len() as u64, per_market * 4);
    let rows = stored(&db);
    assert_eq!(rows.len(), truth.len(), "row count");
    for (r, t) in rows.iter().zip(&truth) {
        assert_eq!(r, t);
    }
    // The tape deliberately contains trades identical but for their id: they are all there.
    let mut look_alikes: HashMap<(&str, &str, i64, &str, &str), u32> = HashMap::new();
    for r in &rows {
        *look_alikes
            .entry((&r.venue, &r.symbol, r.ts_exchange_us, &r.price, &r.side))
            .or_default() += 1;
    }
    assert!(
        look_alikes.values().any(|n| *n > 1),
        "tape should contain look-alike trades"
    );
}

#[test]
fn sigterm_mid_stream_loses_nothing_received() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut sim, urls) = start_simulator(dir.path(), 20_000, 1_000_000);
    let config = write_config(dir.path(), &urls);
    let log = dir.path().join("rec.log");
    let mut rec = start_recorder(&config, &log);
    let db = dir.path().join("rec.db");
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&db) < 20_000 {
        assert!(Instant::now() < deadline, "recorder too slow to start");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Stop while trades are pouring in.
    assert_eq!(sigterm_and_wait(&mut rec), 0);
    assert_eq!(sigterm_and_wait(&mut sim), 0);

    // Everything the recorder parsed before the signal was committed.
    let text = std::fs::read_to_string(&log).expect("log");
    let summary: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "all buffered rows committed; exiting")
        .expect("summary log line");
    let rows = stored(&db);
    assert_eq!(
        summary["events_received"].as_u64(),
        Some(rows.len() as u64),
        "{summary}"
    );

    // Per market, the stored ids are a gap-free prefix of the tape with the tape's exact values.
    let truth: HashMap<(String, String, i64), Row> =
        read_ground_truth(&dir.path().join("truth.csv"))
            .expect("ground truth")
            .iter()
            .map(|t| {
                (
                    (
                        t.venue.as_str().to_string(),
                        t.symbol.clone(),
                        t.trade_id as i64,
                    ),
                    truth_row(t),
                )
            })
            .collect();
    let mut by_market: HashMap<(String, String), Vec<i64>> = HashMap::new();
    for r in &rows {
        assert_eq!(
            truth.get(&(r.venue.clone(), r.symbol.clone(), r.trade_id)),
            Some(r)
        );
        by_market
            .entry((r.venue.clone(), r.symbol.clone()))
            .or_default()
            .push(r.trade_id);
    }
    assert_eq!(by_market.len(), 4);
    for (m, ids) in by_market {
        let (first, last) = (ids[0], ids[ids.len() - 1]);
        assert_eq!((last - first + 1) as usize, ids.len(), "{m:?} has holes");
    }
}
