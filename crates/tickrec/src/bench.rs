//! `tickrec bench`: parser speed per venue, and end-to-end simulator → recorder → SQLite
//! throughput and receive→commit latency. Results are medians over repeated runs; they are
//! measurements for BENCHMARKS.md, not pass/fail tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use tickrec_model::{Channel, Event, Venue};
use tickrec_simulator::{SimConfig, SimMarket, StartMode};
use tickrec_store::{BatchConfig, SqliteConfig};
use tickrec_venues::{adapter_for, Frame, MarketSub};

use crate::app::{self, Hooks};
use crate::config::{Config, HttpConfig, MarketConfig};

/// Arguments of `tickrec bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum, default_value_t = Which::All)]
    pub which: Which,
    /// End-to-end: trades per second per market for the paced run (4 markets).
    #[arg(long, default_value_t = 1250.0)]
    pub paced_rate: f64,
    /// End-to-end: trades per market for the paced run.
    #[arg(long, default_value_t = 25_000)]
    pub paced_trades: u64,
    /// End-to-end: trades per market for the max-rate run (4 markets).
    #[arg(long, default_value_t = 250_000)]
    pub max_trades: u64,
    /// Repetitions (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// End-to-end: also write into this PostgreSQL database (needs `--features postgres`); a run
    /// then ends when both sinks hold every trade.
    #[arg(long)]
    pub postgres_uri: Option<String>,
    /// Query benchmark: the store to query (generated when it holds fewer trades than asked).
    #[arg(long, default_value = "data/bench-query.db")]
    pub query_db: std::path::PathBuf,
    /// Query benchmark: trades in the store (two markets, five days).
    #[arg(long, default_value_t = 10_000_000)]
    pub query_trades: u64,
}

/// Which benchmark.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Which {
    /// Parsers and end to end.
    All,
    /// Parser ns/msg per venue.
    Parse,
    /// Simulator → SQLite.
    E2e,
    /// Query latency on a large store (not part of `all`).
    Query,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Runs the selected benchmarks and prints Markdown tables.
///
/// # Errors
/// Simulator or store failures.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let runs = args.runs.max(1);
    if args.which == Which::Query {
        return crate::bench_query::run(
            &args.query_db,
            args.query_trades,
            runs.max(5),
            args.postgres_uri.as_deref(),
        );
    }
    if matches!(args.which, Which::All | Which::Parse) {
        parse_bench(runs)?;
    }
    if matches!(args.which, Which::All | Which::E2e) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        println!("\n| end-to-end run (4 markets: 2 Binance + 2 Kraken) | trades | trades/s | p50 ms | p99 ms | max ms |");
        println!("|---|---:|---:|---:|---:|---:|");
        for (label, rate, trades) in [
            ("paced 5 k msg/s", args.paced_rate, args.paced_trades),
            ("max rate", 500_000.0, args.max_trades),
        ] {
            let mut res = Vec::new();
            for _ in 0..runs {
                res.push(rt.block_on(e2e_once(rate, trades, args.postgres_uri.as_deref()))?);
            }
            let pick = |f: fn(&E2e) -> f64| median(res.iter().map(f).collect());
            println!(
                "| {label} (median of {runs}) | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
                trades * 4,
                pick(|r| r.trades_per_s),
                pick(|r| r.p50_ms),
                pick(|r| r.p99_ms),
                pick(|r| r.max_ms),
            );
        }
    }
    Ok(())
}

fn parse_bench(runs: usize) -> anyhow::Result<()> {
    let sub = |s: &str, channels: Vec<Channel>| MarketSub {
        symbol: Arc::from(s),
        channels,
    };
    let binance = adapter_for(
        Venue::Binance,
        &[sub(
            "BTC/USDT",
            vec![Channel::Trades, Channel::AggTrades, Channel::Bbo],
        )],
    )?;
    let kraken = adapter_for(Venue::Kraken, &[sub("BTC/USD", vec![Channel::Trades])])?;
    let kraken_trade = |id: u64| {
        format!(
            r#"{{"symbol":"BTC/USD","side":"buy","price":61234.5,"qty":0.01234567,"ord_type":"limit","trade_id":{id},"timestamp":"2026-11-21T10:00:00.123456Z"}}"#
        )
    };
    let kraken_one = format!(
        r#"{{"channel":"trade","type":"update","data":[{}]}}"#,
        kraken_trade(1)
    );
    let kraken_ten = format!(
        r#"{{"channel":"trade","type":"update","data":[{}]}}"#,
        (1..=10).map(kraken_trade).collect::<Vec<_>>().join(",")
    );
    let cases: Vec<(&str, &dyn tickrec_venues::VenueAdapter, String, usize)> = vec![
        ("binance trade", binance.as_ref(), r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1757522615939,"s":"BTCUSDT","t":5225367649,"p":"113747.89000000","q":"0.00060000","T":1757522615939,"m":true,"M":true}}"#.to_string(), 1),
        ("binance aggTrade", binance.as_ref(), r#"{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1616176861895,"s":"BTCUSDT","a":640283266,"p":"58942.01000000","q":"0.00035600","f":716849523,"l":716849523,"T":1616176861893,"m":false,"M":true}}"#.to_string(), 1),
        ("binance bookTicker", binance.as_ref(), r#"{"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}}"#.to_string(), 1),
        ("kraken trade (1 per frame)", kraken.as_ref(), kraken_one, 1),
        ("kraken trade (10 per frame)", kraken.as_ref(), kraken_ten, 10),
    ];
    println!("| parser | ns/frame | ns/event | frames/s (one core) |");
    println!("|---|---:|---:|---:|");
    let iters = 200_000u32;
    for (name, adapter, frame, per) in cases {
        let mut out: Vec<Event> = Vec::with_capacity(16);
        let mut samples = Vec::new();
        for _ in 0..runs.max(5) {
            let t = Instant::now();
            for _ in 0..iters {
                out.clear();
                let k = adapter.parse(Frame::Text(&frame), 1, &mut out);
                std::hint::black_box(&k);
            }
            samples.push(t.elapsed().as_nanos() as f64 / f64::from(iters));
        }
        anyhow::ensure!(
            out.len() == per && out.iter().all(|e| !matches!(e, Event::Reject(_))),
            "{name}: frame did not parse cleanly"
        );
        let ns = median(samples);
        println!(
            "| {name} | {ns:.0} | {:.0} | {:.0} |",
            ns / per as f64,
            1e9 / ns
        );
    }
    Ok(())
}

struct E2e {
    trades_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[cfg(feature = "postgres")]
fn postgres_section(uri: Option<&str>) -> anyhow::Result<Option<crate::config::PostgresSection>> {
    Ok(uri.map(|u| tickrec_store::postgres::PostgresConfig {
        uri: u.to_string(),
        ..Default::default()
    }))
}

#[cfg(not(feature = "postgres"))]
fn postgres_section(uri: Option<&str>) -> anyhow::Result<Option<crate::config::PostgresSection>> {
    anyhow::ensure!(
        uri.is_none(),
        "--postgres-uri needs a build with `--features postgres`"
    );
    Ok(None)
}

async fn e2e_once(rate: f64, trades: u64, postgres_uri: Option<&str>) -> anyhow::Result<E2e> {
    let dir = tempfile::tempdir()?;
    let markets = vec![
        SimMarket {
            venue: Venue::Binance,
            symbol: "BTC/USDT".into(),
        },
        SimMarket {
            venue: Venue::Binance,
            symbol: "ETH/USDT".into(),
        },
        SimMarket {
            venue: Venue::Kraken,
            symbol: "BTC/USD".into(),
        },
        SimMarket {
            venue: Venue::Kraken,
            symbol: "ETH/USD".into(),
        },
    ];
    let mut sim_cfg = SimConfig::new(markets);
    sim_cfg.rate_per_market = rate;
    sim_cfg.trades_per_market = Some(trades);
    sim_cfg.start = StartMode::OnSubscribe;
    let sim = tickrec_simulator::start(sim_cfg).await?;
    let market = |venue, symbols: [&str; 2], url: String| MarketConfig {
        venue,
        symbols: symbols.map(String::from).to_vec(),
        channels: vec![Channel::Trades],
        ws_url: Some(url),
        rest_url: None,
    };
    let cfg = Config {
        sqlite: SqliteConfig {
            path: dir.path().join("bench.db"),
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
                ["BTC/USDT", "ETH/USDT"],
                sim.binance_ws_url(),
            ),
            market(Venue::Kraken, ["BTC/USD", "ETH/USD"], sim.kraken_ws_url()),
        ],
        journal: None,
        postgres: postgres_section(postgres_uri)?,
    };
    let total = trades * 4;
    let (stats_tx, stats_rx) = tokio::sync::oneshot::channel();
    let (all_tx, all_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let rec = tokio::spawn(app::record(
        cfg,
        async {
            let _ = stop_rx.await;
        },
        Hooks {
            writer_stats: Some(stats_tx),
            sink_stats: Some(all_tx),
        },
    ));
    let _sqlite = stats_rx.await.context("recorder did not start")?;
    let sinks = all_rx.await.context("recorder did not start")?;
    // Fail fast when progress stops (a lost trade would otherwise make us wait forever).
    let (mut last, mut last_change) = (0, Instant::now());
    loop {
        // The slowest sink decides.
        let s = sinks
            .iter()
            .map(|(_, st)| st.snapshot())
            .min_by_key(|s| s.trades)
            .unwrap_or_default();
        if s.trades >= total {
            break;
        }
        anyhow::ensure!(
            s.rejects == 0,
            "{} rejects during the bench run (see the WARN log)",
            s.rejects
        );
        if s.trades != last {
            (last, last_change) = (s.trades, Instant::now());
        }
        anyhow::ensure!(
            last_change.elapsed() < Duration::from_secs(20),
            "no progress for 20 s at {last} of {total} trades"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop_tx.send(());
    let summary = rec.await??;
    sim.shutdown().await?;
    anyhow::ensure!(
        summary.writer.totals.trades == total,
        "stored {} trades, expected {total}",
        summary.writer.totals.trades
    );
    let l = &summary.writer.latency;
    Ok(E2e {
        trades_per_s: total as f64 / elapsed.as_secs_f64(),
        p50_ms: l.p50_us as f64 / 1000.0,
        p99_ms: l.p99_us as f64 / 1000.0,
        max_ms: l.max_us as f64 / 1000.0,
    })
}
