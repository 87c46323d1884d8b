//! SQLite and PostgreSQL at once (a real, throwaway PostgreSQL server on loopback): both sinks
//! receive every trade of the simulator's tape, exactly, with faults on the feed and a restart of
//! the PostgreSQL server mid-run.
#![cfg(all(unix, feature = "postgres"))]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tickrec::app::{self, Hooks};
use tickrec::config::{Config, HttpConfig, MarketConfig};
use tickrec_model::{Channel, Decimal, Venue};
use tickrec_simulator::{Fault, SimConfig, SimMarket, StartMode};
use tickrec_store::postgres::harness::{bin_or_skip, PgServer};
use tickrec_store::{BatchConfig, SqliteConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_each_receive_the_whole_tape_across_a_server_restart() {
    let Some(bin) = bin_or_skip() else { return };
    let pg = tokio::task::spawn_blocking(move || Arc::new(PgServer::start(&bin, None)))
        .await
        .expect("start postgres");
    let dir = tempfile::tempdir().expect("tempdir");
    let per_market = 3_000u64;
    let markets = [(Venue::Binance, "BTC/USDT"), (Venue::Kraken, "ETH/USD")];
    let mut sim_cfg = SimConfig::new(
        markets
            .iter()
            .map(|(v, s)| SimMarket::new(*v, *s))
            .collect(),
    );
    sim_cfg.rate_per_market = 1_000.0;
    sim_cfg.trades_per_market = Some(per_market);
    sim_cfg.start = StartMode::OnSubscribe;
    sim_cfg.ground_truth = Some(dir.path().join("truth.csv"));
    let sim = tickrec_simulator::start(sim_cfg).await.expect("simulator");
    let db = dir.path().join("rec.db");
    let market = |venue, symbol: &str, ws: String, rest: String| MarketConfig {
        venue,
        symbols: vec![symbol.to_string()],
        channels: vec![Channel::Trades],
        ws_url: Some(ws),
        rest_url: Some(rest),
        message_timeout_ms: None,
        book: None,
    };
    let cfg = Config {
        sqlite: SqliteConfig {
            path: db.clone(),
            ..SqliteConfig::default()
        },
        batch: BatchConfig::default(),
        http: HttpConfig {
            enabled: false,
            ..HttpConfig::default()
        },
        markets: vec![
            market(
                Venue::Binance,
                "BTC/USDT",
                sim.binance_ws_url(),
                sim.binance_rest_url(),
            ),
            market(
                Venue::Kraken,
                "ETH/USD",
                sim.kraken_ws_url(),
                sim.kraken_rest_url(),
            ),
        ],
        journal: None,
        postgres: Some(pg.config("postgres")),
        archive: None,
        retention: None,
        instruments: Default::default(),
    };
    let (stats_tx, stats_rx) = tokio::sync::oneshot::channel();
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let rec = tokio::spawn(app::record(
        cfg,
        async {
            let _ = stop_rx.await;
        },
        Hooks {
            writer_stats: Some(stats_tx),
            ..Hooks::default()
        },
    ));
    let _stats = stats_rx.await.expect("recorder started");
    while sim.published() < 1_000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sim.inject(Fault::SkipTradeIds {
        venue: Venue::Kraken,
        symbol: "ETH/USD".into(),
        count: 200,
    })
    .expect("inject");
    // Restart the database server while trades flow: the sink reconnects and retries, the
    // journal keeps everything meanwhile, and nothing arrives twice.
    while sim.published() < 3_000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let restarting = pg.clone();
    tokio::task::spawn_blocking(move || restarting.restart("fast"))
        .await
        .expect("restart postgres");
    sim.wait_finished().await;

    let client = tickrec_store::postgres::connect(&pg.config("postgres"))
        .await
        .expect("pg client");
    let total = (per_market * 2) as i64;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let pg_n: i64 = client
            .query_one("SELECT count(*) FROM trades", &[])
            .await
            .map(|r| r.get(0))
            .unwrap_or(0);
        if pg_n >= total && common::count(&db) >= total as u64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "postgres {pg_n}, sqlite {}",
            common::count(&db)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    rec.await.expect("task").expect("record");
    sim.shutdown().await.expect("sim");

    common::assert_tape_equals_truth(&db, &dir.path().join("truth.csv"));
    let rows = client
        .query(
            "SELECT venue, symbol, trade_id, price_m, price_scale, qty_m, qty_scale, side, \
             (extract(epoch FROM ts_exchange) * 1000000)::bigint \
             FROM trades ORDER BY venue, symbol, trade_id",
            &[],
        )
        .await
        .expect("pg rows");
    let dec = |m: i64, s: i16| {
        Decimal::new(m, s as u8)
            .map(|d| d.normalized().to_string())
            .unwrap_or_default()
    };
    let pg_rows: Vec<common::Row> = rows
        .iter()
        .map(|r| common::Row {
            venue: r.get(0),
            symbol: r.get(1),
            trade_id: r.get(2),
            price: dec(r.get(3), r.get(4)),
            qty: dec(r.get(5), r.get(6)),
            side: r.get(7),
            ts_exchange_us: r.get(8),
        })
        .collect();
    assert_eq!(pg_rows, common::truth(&dir.path().join("truth.csv")));
}
