//! `tickrec bench books`: order-book messages end to end — simulator book streams (OKX `books`
//! and Bybit `orderbook.50`, two markets each, at the simulator's fastest book) → the recorder's
//! book keeper → SQLite `book_deltas`/`book_snapshots`. Reports book rows committed per second,
//! level changes per second and receive → commit latency, and checks that every message the
//! venues sent was stored and verified.

use std::time::{Duration, Instant};

use tickrec_model::{Channel, Venue};
use tickrec_simulator::{SimConfig, SimMarket, StartMode};
use tickrec_store::{BatchConfig, SqliteConfig};

use crate::app::{self, Hooks};
use crate::config::{BookConfig, Config, HttpConfig, MarketConfig};

const MARKETS: [(Venue, &str); 4] = [
    (Venue::Okx, "BTC/USDT"),
    (Venue::Okx, "ETH/USDT"),
    (Venue::Bybit, "BTC/USDT"),
    (Venue::Bybit, "ETH/USDT"),
];

/// One run's figures.
pub struct BookRun {
    /// Book rows (`book_deltas`) committed per second.
    pub rows_per_s: f64,
    /// Level changes (levels in those rows) per second.
    pub levels_per_s: f64,
    /// Receive → commit latency, ms.
    pub p50_ms: f64,
    /// Receive → commit latency, ms.
    pub p99_ms: f64,
    /// Share of stored messages that were verified.
    pub verified: f64,
}

/// Records `seconds` of book streams at `rate` changes per second per market.
///
/// # Errors
/// Simulator or store failures, or a message sent but not stored.
pub async fn books_once(seconds: u64, rate: f64) -> anyhow::Result<BookRun> {
    let dir = tempfile::tempdir()?;
    let mut sim_cfg = SimConfig::new(
        MARKETS
            .iter()
            .map(|(v, s)| SimMarket::new(*v, *s))
            .collect(),
    );
    sim_cfg.rate_per_market = 1.0;
    sim_cfg.trades_per_market = Some(1);
    sim_cfg.start = StartMode::OnSubscribe;
    sim_cfg.book_updates_per_sec = rate;
    let sim = tickrec_simulator::start(sim_cfg).await?;
    let market = |venue, ws: String| MarketConfig {
        venue,
        symbols: vec!["BTC/USDT".into(), "ETH/USDT".into()],
        channels: vec![Channel::Book],
        ws_url: Some(ws),
        rest_url: None,
        message_timeout_ms: None,
        book: Some(BookConfig::default()),
    };
    let db = dir.path().join("books.db");
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
            market(Venue::Okx, sim.okx_ws_url()),
            market(Venue::Bybit, sim.bybit_ws_url()),
        ],
        journal: None,
        postgres: None,
        archive: None,
        retention: None,
        instruments: crate::instruments::InstrumentsConfig {
            check: crate::instruments::InstrumentCheck::Off,
            ..Default::default()
        },
    };
    let (stats_tx, stats_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
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
    let stats = stats_rx.await?;
    // Measure from the first committed book row to the end.
    let deadline = Instant::now() + Duration::from_secs(30);
    while stats.snapshot().books == 0 {
        anyhow::ensure!(Instant::now() < deadline, "no book rows within 30 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (start, first) = (Instant::now(), stats.snapshot().books);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    sim.pause_books();
    let sent: u64 = MARKETS
        .iter()
        .filter_map(|(v, s)| sim.book(*v, s))
        .map(|t| t.messages)
        .sum();
    // Everything sent arrives (plus the subscription snapshots).
    let deadline = Instant::now() + Duration::from_secs(60);
    while stats.snapshot().books < sent {
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} book rows stored, {sent} messages sent",
            stats.snapshot().books
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed();
    let rows = stats.snapshot().books - first;
    let _ = stop_tx.send(());
    let summary = rec.await??;
    sim.shutdown().await?;
    let conn = tickrec_store::open_read_only(&db)?;
    let (stored, verified, levels): (i64, i64, i64) = conn.query_row(
        "SELECT count(*), coalesce(sum(verified), 0), \
         coalesce(sum(json_array_length(bids) + json_array_length(asks)), 0) FROM book_deltas",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let l = &summary.writer.latency;
    Ok(BookRun {
        rows_per_s: rows as f64 / elapsed.as_secs_f64(),
        levels_per_s: levels as f64 * (rows as f64 / stored.max(1) as f64) / elapsed.as_secs_f64(),
        p50_ms: l.p50_us as f64 / 1000.0,
        p99_ms: l.p99_us as f64 / 1000.0,
        verified: verified as f64 / stored.max(1) as f64,
    })
}
