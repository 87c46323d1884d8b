//! Nothing lost: faults injected by the simulator (hidden trade ids, a 10 s outage, garbage,
//! duplicated and reordered frames, a restart) and the stored tape must still equal the venue's
//! ground truth exactly — repaired by REST backfill where the live feed lost trades.

mod common;

use common::in_process::{sqlite_config, start_recorder, wait_published};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tickrec::config::{Config, MarketConfig};
use tickrec_model::{Channel, Venue};
use tickrec_simulator::{Fault, SimConfig, SimHandle, SimMarket, StartMode};

const MARKETS: [(Venue, &str); 4] = [
    (Venue::Binance, "BTC/USDT"),
    (Venue::Binance, "ETH/USDT"),
    (Venue::Kraken, "BTC/USD"),
    (Venue::Kraken, "ETH/USD"),
];

async fn simulator(dir: &Path, rate: f64, trades: u64) -> SimHandle {
    let mut cfg = SimConfig::new(
        MARKETS
            .iter()
            .map(|(v, s)| SimMarket::new(*v, *s))
            .collect(),
    );
    cfg.rate_per_market = rate;
    cfg.trades_per_market = Some(trades);
    cfg.start = StartMode::OnSubscribe;
    cfg.ground_truth = Some(dir.join("truth.csv"));
    tickrec_simulator::start(cfg).await.expect("simulator")
}

fn config(db: PathBuf, sim: &SimHandle) -> Config {
    let market = |venue, symbols: [&str; 2], ws: String, rest: String| MarketConfig {
        venue,
        symbols: symbols.map(String::from).to_vec(),
        channels: vec![Channel::Trades],
        ws_url: Some(ws),
        rest_url: Some(rest),
        message_timeout_ms: None,
        book: None,
    };
    sqlite_config(
        db,
        vec![
            market(
                Venue::Binance,
                ["BTC/USDT", "ETH/USDT"],
                sim.binance_ws_url(),
                sim.binance_rest_url(),
            ),
            market(
                Venue::Kraken,
                ["BTC/USD", "ETH/USD"],
                sim.kraken_ws_url(),
                sim.kraken_rest_url(),
            ),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_trades_garbage_duplicates_and_reordering_end_as_the_exact_tape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let per_market = 6_000;
    let sim = simulator(dir.path(), 1_000.0, per_market).await;
    let db = dir.path().join("rec.db");
    let rec = start_recorder(config(db.clone(), &sim)).await;
    wait_published(&sim, 4 * 1_000).await;
    for fault in [
        Fault::SkipTradeIds {
            venue: Venue::Binance,
            symbol: "BTC/USDT".into(),
            count: 500,
        },
        Fault::SkipTradeIds {
            venue: Venue::Kraken,
            symbol: "ETH/USD".into(),
            count: 300,
        },
        Fault::Malformed {
            venue: Venue::Binance,
            count: 6,
        },
        Fault::Malformed {
            venue: Venue::Kraken,
            count: 6,
        },
        Fault::Duplicate {
            venue: Venue::Binance,
            count: 50,
        },
        Fault::Reorder {
            venue: Venue::Kraken,
            count: 20,
        },
        Fault::RateLimitRest {
            venue: Venue::Binance,
            requests: 1,
            retry_after_s: 1,
        },
    ] {
        sim.inject(fault).expect("inject");
    }
    sim.wait_finished().await;
    rec.wait_trades(4 * per_market, Duration::from_secs(120))
        .await;
    let summary = rec.stop().await;
    sim.shutdown().await.expect("sim shutdown");

    common::assert_tape_equals_truth(&db, &dir.path().join("truth.csv"));
    let backfilled: u64 = summary.connections.iter().map(|c| c.backfilled).sum();
    let unrepaired: u64 = summary.connections.iter().map(|c| c.unrepaired).sum();
    assert!(backfilled >= 800, "backfilled {backfilled}");
    assert_eq!(unrepaired, 0);
    assert!(
        common::rejects(&db) >= 6,
        "garbage frames become reject rows"
    );
    assert!(
        summary.writer.totals.duplicates > 0,
        "duplicates collapse onto the key"
    );
    // The data-quality table tells the same story: every hidden id reported, every one repaired.
    let accounts = common::gap_accounts(&db);
    for (venue, symbol, hidden) in [("binance", "BTC/USDT", 500), ("kraken", "ETH/USD", 300)] {
        let (missing, repaired, unrepaired) = accounts
            .get(&(venue.to_string(), symbol.to_string()))
            .copied()
            .unwrap_or_default();
        assert!(missing >= hidden, "{venue} {symbol}: {accounts:?}");
        assert_eq!(
            (repaired, unrepaired),
            (missing, 0),
            "{venue} {symbol}: {accounts:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_second_outage_is_backfilled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let per_market = 20_000;
    let sim = simulator(dir.path(), 1_000.0, per_market).await;
    let db = dir.path().join("rec.db");
    let rec = start_recorder(config(db.clone(), &sim)).await;
    wait_published(&sim, 4 * 2_000).await;
    for venue in [Venue::Binance, Venue::Kraken] {
        sim.inject(Fault::RefuseConnections {
            venue,
            duration: Duration::from_secs(10),
        })
        .expect("refuse");
    }
    sim.inject(Fault::DropConnections { venue: None })
        .expect("drop");
    sim.wait_finished().await;
    rec.wait_trades(4 * per_market, Duration::from_secs(120))
        .await;
    let summary = rec.stop().await;
    sim.shutdown().await.expect("sim shutdown");

    common::assert_tape_equals_truth(&db, &dir.path().join("truth.csv"));
    let reconnects: u64 = summary.connections.iter().map(|c| c.connects).sum();
    assert!(
        reconnects >= 4,
        "both connections came back ({reconnects} connects)"
    );
    let backfilled: u64 = summary.connections.iter().map(|c| c.backfilled).sum();
    assert!(
        backfilled > 4 * 5_000,
        "the outage was repaired from REST ({backfilled})"
    );
    // The data-quality table shows the outage, each market's gap and its repair.
    let rows = common::quality(&db);
    for venue in ["binance", "kraken"] {
        assert!(
            rows.iter().any(|r| r.0 == venue && r.2 == "reconnect"),
            "{venue} reconnect recorded: {rows:?}"
        );
    }
    let accounts = common::gap_accounts(&db);
    assert_eq!(accounts.len(), 4, "a gap per market: {accounts:?}");
    for ((venue, symbol), (missing, repaired, unrepaired)) in &accounts {
        assert!(*missing > 5_000, "{venue} {symbol}: {accounts:?}");
        assert_eq!((*repaired, *unrepaired), (*missing, 0), "{venue} {symbol}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_from_the_last_stored_trade() {
    let dir = tempfile::tempdir().expect("tempdir");
    let per_market = 8_000;
    let sim = simulator(dir.path(), 1_000.0, per_market).await;
    let db = dir.path().join("rec.db");
    let first = start_recorder(config(db.clone(), &sim)).await;
    first.wait_trades(4 * 1_500, Duration::from_secs(60)).await;
    let stored_before = first.stop().await.writer.totals.trades;
    // The venue keeps trading while we are down.
    wait_published(&sim, stored_before + 4 * 1_500).await;
    let second = start_recorder(config(db.clone(), &sim)).await;
    sim.wait_finished().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while common::count(&db) < 4 * per_market {
        assert!(
            Instant::now() < deadline,
            "tape incomplete: {}",
            common::count(&db)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let summary = second.stop().await;
    sim.shutdown().await.expect("sim shutdown");

    common::assert_tape_equals_truth(&db, &dir.path().join("truth.csv"));
    let gaps: u64 = summary.connections.iter().map(|c| c.gaps).sum();
    assert!(
        gaps >= 4,
        "each market's downtime was detected as a gap ({gaps})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_are_replaced_within_two_message_timeouts_and_the_tape_is_complete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let per_market = 8_000;
    let timeout_ms: i64 = 1_000;
    let sim = simulator(dir.path(), 1_000.0, per_market).await;
    let db = dir.path().join("rec.db");
    let mut cfg = config(db.clone(), &sim);
    for m in &mut cfg.markets {
        m.message_timeout_ms = Some(timeout_ms as u64);
    }
    let rec = start_recorder(cfg).await;
    wait_published(&sim, 4 * 1_500).await;
    // Both venues keep their sockets open but send nothing for 4 s; trades published meanwhile
    // are never sent (a hole only backfill can fill).
    for venue in [Venue::Binance, Venue::Kraken] {
        sim.inject(Fault::Silence {
            venue,
            duration: Duration::from_secs(4),
        })
        .expect("silence");
    }
    sim.wait_finished().await;
    rec.wait_trades(4 * per_market, Duration::from_secs(120))
        .await;
    let summary = rec.stop().await;
    sim.shutdown().await.expect("sim shutdown");

    common::assert_tape_equals_truth(&db, &dir.path().join("truth.csv"));
    let conn = rusqlite::Connection::open(&db).expect("open");
    for venue in ["binance", "kraken"] {
        // Every silence was noticed after one timeout and before two (the watchdog ticks every
        // 250 ms), and written down with its length.
        let windows: Vec<i64> = conn
            .prepare(
                "SELECT end_us - start_us FROM data_quality_events \
                 WHERE venue = ?1 AND kind = 'stale'",
            )
            .expect("prepare")
            .query_map([venue], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert!(!windows.is_empty(), "{venue}: silence detected");
        for w in &windows {
            assert!(
                (timeout_ms * 1_000..2 * timeout_ms * 1_000).contains(w),
                "{venue}: silence noticed after {w} µs"
            );
        }
    }
    let accounts = common::gap_accounts(&db);
    assert_eq!(accounts.len(), 4, "a gap per market: {accounts:?}");
    for ((venue, symbol), (missing, repaired, unrepaired)) in &accounts {
        assert!(*missing > 0, "{venue} {symbol}");
        assert_eq!((*repaired, *unrepaired), (*missing, 0), "{venue} {symbol}");
    }
    let connects: u64 = summary.connections.iter().map(|c| c.connects).sum();
    assert!(
        connects >= 4,
        "both connections were replaced ({connects} connects)"
    );
}
