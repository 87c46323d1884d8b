//! End to end per venue beyond Binance and Kraken: simulator → `record` → SQLite equals the
//! venue's ground truth, across one injected disconnect (with refused reconnects, so trades are
//! missed live and must come back from the venue's REST backfill).

mod common;

use common::in_process::{sqlite_config, start_recorder, wait_published};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tickrec::config::{Config, MarketConfig};
use tickrec_model::{Channel, Venue};
use tickrec_simulator::{Fault, SimConfig, SimHandle, SimMarket, StartMode};

/// One market, SQLite only.
fn config(db: PathBuf, market: MarketConfig) -> Config {
    sqlite_config(db, vec![market])
}

async fn simulator(dir: &Path, markets: &[(Venue, &str)], rate: f64, trades: u64) -> SimHandle {
    let mut cfg = SimConfig::new(
        markets
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

/// Drops every connection of `venue` and refuses reconnects for `outage`.
fn disconnect(sim: &SimHandle, venue: Venue, outage: Duration) {
    sim.inject(Fault::RefuseConnections {
        venue,
        duration: outage,
    })
    .expect("refuse");
    sim.inject(Fault::DropConnections { venue: Some(venue) })
        .expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_disconnect_is_backfilled_from_history_trades() {
    let dir = tempfile::tempdir().expect("tempdir");
    let markets = [(Venue::Okx, "BTC/USDT"), (Venue::Okx, "ETH/USDT")];
    // Long enough that trades still flow after the reconnect (they reveal the hole).
    let per_market = 10_000;
    let sim = simulator(dir.path(), &markets, 1_000.0, per_market).await;
    let db = dir.path().join("rec.db");
    let rec = start_recorder(config(
        db.clone(),
        MarketConfig {
            venue: Venue::Okx,
            symbols: vec!["BTC/USDT".into(), "ETH/USDT".into()],
            channels: vec![Channel::Trades],
            ws_url: Some(sim.okx_ws_url()),
            rest_url: Some(sim.okx_rest_url()),
            message_timeout_ms: None,
            book: None,
        },
    ))
    .await;
    wait_published(&sim, 2 * 1_000).await;
    disconnect(&sim, Venue::Okx, Duration::from_secs(2));
    sim.wait_finished().await;
    rec.wait_trades(2 * per_market, Duration::from_secs(90))
        .await;
    let summary = rec.stop().await;
    sim.shutdown().await.expect("sim shutdown");

    common::assert_tape_equals_truth(&db, &dir.path().join("truth.csv"));
    let c = &summary.connections[0];
    assert!(c.connects >= 2, "reconnected ({} connects)", c.connects);
    assert!(
        c.gaps >= 2,
        "each market's hole was measured ({} gaps)",
        c.gaps
    );
    assert!(c.backfilled >= 2 * 1_000, "backfilled {}", c.backfilled);
    assert_eq!(c.unrepaired, 0);
    assert_eq!(common::rejects(&db), 0);
}

/// Every stored trade of `venue` as (symbol, id text, price, qty, side, ts), sorted.
fn stored_text_ids(db: &Path, venue: Venue) -> Vec<(String, String, String, String, String, i64)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open db");
    let mut stmt = conn
        .prepare("SELECT symbol, CAST(trade_id AS TEXT), price_m, price_scale, qty_m, qty_scale, side, ts_exchange_us FROM trades WHERE venue = ?1")
        .expect("prepare");
    let dec = |m: i64, s: i64| {
        tickrec_model::Decimal::new(m, s as u8)
            .map(|d| d.normalized().to_string())
            .unwrap_or_default()
    };
    let mut rows: Vec<_> = stmt
        .query_map([venue.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                dec(r.get(2)?, r.get(3)?),
                dec(r.get(4)?, r.get(5)?),
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upbit_disconnect_window_is_backfilled_from_trade_ticks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let markets = [(Venue::Upbit, "BTC/KRW"), (Venue::Upbit, "ETH/KRW")];
    // Long enough that trades still flow after the reconnect (they reveal the hole).
    let per_market = 10_000;
    let sim = simulator(dir.path(), &markets, 1_000.0, per_market).await;
    let db = dir.path().join("rec.db");
    let rec = start_recorder(config(
        db.clone(),
        MarketConfig {
            venue: Venue::Upbit,
            symbols: vec!["BTC/KRW".into(), "ETH/KRW".into()],
            channels: vec![Channel::Trades],
            ws_url: Some(sim.upbit_ws_url()),
            rest_url: Some(sim.upbit_rest_url()),
            message_timeout_ms: None,
            book: None,
        },
    ))
    .await;
    wait_published(&sim, 2 * 1_000).await;
    disconnect(&sim, Venue::Upbit, Duration::from_secs(2));
    sim.wait_finished().await;
    rec.wait_trades(2 * per_market, Duration::from_secs(90))
        .await;
    let summary = rec.stop().await;
    sim.shutdown().await.expect("sim shutdown");

    // Ids are text (`sequential_id`), derived from the tape's id and time.
    let mut truth: Vec<_> = common::truth(&dir.path().join("truth.csv"))
        .into_iter()
        .map(|t| {
            let sid = tickrec_simulator::upbit_sequential_id(t.trade_id as u64, t.ts_exchange_us);
            (
                t.symbol,
                sid.to_string(),
                t.price,
                t.qty,
                t.side,
                t.ts_exchange_us,
            )
        })
        .collect();
    truth.sort();
    let stored = stored_text_ids(&db, Venue::Upbit);
    assert_eq!(
        stored.len(),
        truth.len(),
        "stored {} vs truth {}",
        stored.len(),
        truth.len()
    );
    assert_eq!(stored, truth);
    let c = &summary.connections[0];
    assert!(c.connects >= 2, "reconnected ({} connects)", c.connects);
    assert!(
        c.gaps >= 2,
        "each market's outage became a window ({} gaps)",
        c.gaps
    );
    assert!(c.backfilled >= 2 * 1_000, "backfilled {}", c.backfilled);
    assert_eq!(c.unrepaired, 0);
}

/// The ground truth with the venue's text ids, in the shape of [`stored_text_ids`].
fn truth_text_ids(
    dir: &Path,
    id: impl Fn(u64, i64) -> u64,
) -> Vec<(String, String, String, String, String, i64)> {
    let mut truth: Vec<_> = common::truth(&dir.join("truth.csv"))
        .into_iter()
        .map(|t| {
            let native = id(t.trade_id as u64, t.ts_exchange_us);
            (
                t.symbol,
                native.to_string(),
                t.price,
                t.qty,
                t.side,
                t.ts_exchange_us,
            )
        })
        .collect();
    truth.sort();
    truth
}

fn bybit_market(sim: &SimHandle) -> MarketConfig {
    MarketConfig {
        venue: Venue::Bybit,
        symbols: vec!["BTC/USDT".into()],
        channels: vec![Channel::Trades],
        ws_url: Some(sim.bybit_ws_url()),
        rest_url: Some(sim.bybit_rest_url()),
        message_timeout_ms: None,
        book: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_short_disconnect_is_repaired_from_the_last_60_trades() {
    let dir = tempfile::tempdir().expect("tempdir");
    let per_market = 150;
    // 8 trades/s: REST keeps the last 60 trades = 7.5 s, so the outage (1 s) plus backoff and
    // reconnect may take several seconds on a loaded CI machine and still be repaired.
    let sim = simulator(dir.path(), &[(Venue::Bybit, "BTC/USDT")], 8.0, per_market).await;
    let db = dir.path().join("rec.db");
    let rec = start_recorder(config(db.clone(), bybit_market(&sim))).await;
    wait_published(&sim, 40).await;
    disconnect(&sim, Venue::Bybit, Duration::from_secs(1));
    sim.wait_finished().await;
    rec.wait_trades(per_market, Duration::from_secs(60)).await;
    let summary = rec.stop().await;
    sim.shutdown().await.expect("sim shutdown");

    let truth = truth_text_ids(dir.path(), |id, _| tickrec_simulator::bybit_trade_id(id));
    assert_eq!(stored_text_ids(&db, Venue::Bybit), truth);
    let c = &summary.connections[0];
    assert!(c.connects >= 2, "reconnected ({} connects)", c.connects);
    assert_eq!(c.gaps, 1, "the outage became one window");
    assert!(c.backfilled > 0, "backfilled {}", c.backfilled);
    assert_eq!(c.unrepaired, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_long_disconnect_is_reported_not_pretended() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Long enough that trades still flow after the reconnect (they reveal the hole).
    let per_market = 10_000;
    let sim = simulator(
        dir.path(),
        &[(Venue::Bybit, "BTC/USDT")],
        1_000.0,
        per_market,
    )
    .await;
    let db = dir.path().join("rec.db");
    let rec = start_recorder(config(db.clone(), bybit_market(&sim))).await;
    wait_published(&sim, 1_000).await;
    // Two seconds at 1000/s: far more than the 60 trades Bybit's REST can give back.
    disconnect(&sim, Venue::Bybit, Duration::from_secs(2));
    sim.wait_finished().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    // The tail arrives live; wait until the last trade is stored.
    let last = truth_text_ids(dir.path(), |id, _| tickrec_simulator::bybit_trade_id(id))
        .into_iter()
        .max_by_key(|t| t.5)
        .expect("truth");
    while !stored_text_ids(&db, Venue::Bybit).contains(&last) {
        assert!(Instant::now() < deadline, "the tape's tail never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let summary = rec.stop().await;
    sim.shutdown().await.expect("sim shutdown");

    let truth = truth_text_ids(dir.path(), |id, _| tickrec_simulator::bybit_trade_id(id));
    let stored = stored_text_ids(&db, Venue::Bybit);
    let extra: Vec<_> = stored
        .iter()
        .filter(|r| truth.binary_search(r).is_err())
        .collect();
    assert!(extra.is_empty(), "nothing invented: {:?}", extra.first());
    let missing = truth.len() - stored.len();
    assert!(
        missing > 60,
        "the outage lost more than REST keeps ({missing})"
    );
    let c = &summary.connections[0];
    assert_eq!(c.gaps, 1, "the outage became one window");
    assert_eq!(c.unrepaired, 1, "and it is reported as unrepaired");
    // ... and written down as data-quality events: a window (no ids) and its unrepaired part.
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open db");
    let kinds: Vec<(String, Option<i64>)> = conn
        .prepare("SELECT kind, from_id FROM data_quality_events WHERE venue = 'bybit' AND kind LIKE 'gap%' ORDER BY kind")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(
        kinds.contains(&("gap".to_string(), None))
            && kinds.contains(&("gap_unrepaired".to_string(), None)),
        "{kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbase_disconnect_is_backfilled_from_ticker_trades() {
    let dir = tempfile::tempdir().expect("tempdir");
    let markets = [(Venue::Coinbase, "BTC/USD"), (Venue::Coinbase, "ETH/USD")];
    // `end` has second resolution: at 200 trades/s a page of 1000 spans seconds and the cursor
    // can walk back (above ~1000 trades in one second it cannot, and reports the rest).
    let per_market = 2_500;
    let sim = simulator(dir.path(), &markets, 200.0, per_market).await;
    let db = dir.path().join("rec.db");
    let rec = start_recorder(config(
        db.clone(),
        MarketConfig {
            venue: Venue::Coinbase,
            symbols: vec!["BTC/USD".into(), "ETH/USD".into()],
            channels: vec![Channel::Trades],
            ws_url: Some(sim.coinbase_ws_url()),
            rest_url: Some(sim.coinbase_rest_url()),
            message_timeout_ms: None,
            book: None,
        },
    ))
    .await;
    wait_published(&sim, 2 * 500).await;
    disconnect(&sim, Venue::Coinbase, Duration::from_secs(2));
    sim.wait_finished().await;
    rec.wait_trades(2 * per_market, Duration::from_secs(90))
        .await;
    let summary = rec.stop().await;
    sim.shutdown().await.expect("sim shutdown");

    common::assert_tape_equals_truth(&db, &dir.path().join("truth.csv"));
    let c = &summary.connections[0];
    assert!(c.connects >= 2, "reconnected ({} connects)", c.connects);
    assert!(
        c.gaps >= 2,
        "each product's hole was measured ({} gaps)",
        c.gaps
    );
    assert!(c.backfilled >= 2 * 200, "backfilled {}", c.backfilled);
    assert_eq!(c.unrepaired, 0);
    assert_eq!(common::rejects(&db), 0);
}

/// Quotes stored per venue, with the number whose bid is not below the ask (a crossed touch).
fn quotes(db: &Path) -> Vec<(String, i64, i64)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open db");
    let mut stmt = conn
        .prepare(
            "SELECT venue, bid_price_m, bid_price_scale, ask_price_m, ask_price_scale \
             FROM quotes ORDER BY venue",
        )
        .expect("prepare");
    let rows: Vec<(String, i64, i64, i64, i64)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let dec = |m: i64, s: i64| tickrec_model::Decimal::new(m, s as u8).expect("decimal");
    let mut out: Vec<(String, i64, i64)> = Vec::new();
    for (venue, bm, bs, am, as_) in rows {
        let crossed = i64::from(dec(bm, bs) >= dec(am, as_));
        match out.last_mut() {
            Some((v, n, c)) if *v == venue => {
                *n += 1;
                *c += crossed;
            }
            _ => out.push((venue, 1, crossed)),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_venues_record_trades_and_best_bid_offer_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let markets = [
        (Venue::Coinbase, "BTC/USD"),
        (Venue::Okx, "BTC/USDT"),
        (Venue::Bybit, "BTC/USDT"),
        (Venue::Upbit, "BTC/KRW"),
    ];
    let per_market = 1_000;
    let sim = simulator(dir.path(), &markets, 500.0, per_market).await;
    let db = dir.path().join("rec.db");
    let entry =
        |venue, symbol: &str, channels: Vec<Channel>, ws: String, rest: String| MarketConfig {
            venue,
            symbols: vec![symbol.to_string()],
            channels,
            ws_url: Some(ws),
            rest_url: Some(rest),
            message_timeout_ms: None,
            book: None,
        };
    let both = || vec![Channel::Trades, Channel::Bbo];
    let mut cfg = config(
        db.clone(),
        entry(
            Venue::Coinbase,
            "BTC/USD",
            both(),
            sim.coinbase_ws_url(),
            sim.coinbase_rest_url(),
        ),
    );
    cfg.markets.extend([
        entry(
            Venue::Okx,
            "BTC/USDT",
            vec![Channel::Trades],
            sim.okx_ws_url(),
            sim.okx_rest_url(),
        ),
        // OKX's BBO lives on the public endpoint: its own connection.
        entry(
            Venue::Okx,
            "BTC/USDT",
            vec![Channel::Bbo],
            sim.okx_ws_url(),
            sim.okx_rest_url(),
        ),
        entry(
            Venue::Bybit,
            "BTC/USDT",
            both(),
            sim.bybit_ws_url(),
            sim.bybit_rest_url(),
        ),
        entry(
            Venue::Upbit,
            "BTC/KRW",
            both(),
            sim.upbit_ws_url(),
            sim.upbit_rest_url(),
        ),
    ]);
    let rec = start_recorder(cfg).await;
    sim.wait_finished().await;
    rec.wait_trades(4 * per_market, Duration::from_secs(60))
        .await;
    let summary = rec.stop().await;
    sim.shutdown().await.expect("sim shutdown");

    // Trades of every venue equal the ground truth, ids in the venue's own form.
    let truth = common::truth(&dir.path().join("truth.csv"));
    for venue in [Venue::Coinbase, Venue::Okx, Venue::Bybit, Venue::Upbit] {
        let mut expect: Vec<_> = truth
            .iter()
            .filter(|t| t.venue == venue.as_str())
            .map(|t| {
                let id = t.trade_id as u64;
                let native = match venue {
                    Venue::Bybit => tickrec_simulator::bybit_trade_id(id),
                    Venue::Upbit => tickrec_simulator::upbit_sequential_id(id, t.ts_exchange_us),
                    _ => id,
                };
                let r = t.clone();
                (
                    r.symbol,
                    native.to_string(),
                    r.price,
                    r.qty,
                    r.side,
                    r.ts_exchange_us,
                )
            })
            .collect();
        expect.sort();
        assert_eq!(expect.len() as u64, per_market, "{venue}");
        assert_eq!(stored_text_ids(&db, venue), expect, "{venue}");
    }
    // Best bid/offer from every venue, exact and never crossed.
    let q = quotes(&db);
    assert_eq!(
        q.iter().map(|(v, _, _)| v.as_str()).collect::<Vec<_>>(),
        ["bybit", "coinbase", "okx", "upbit"]
    );
    for (venue, n, crossed) in &q {
        assert!(*n > 0, "{venue}: no quotes");
        assert_eq!(*crossed, 0, "{venue}: crossed quotes");
    }
    assert_eq!(common::rejects(&db), 0);
    assert_eq!(summary.connections.len(), 5);
}
