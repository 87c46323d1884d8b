//! `tickrec bench`: parser speed per venue, and end-to-end simulator → recorder → SQLite
//! throughput and receive→commit latency. Results are medians over repeated runs; they are
//! measurements for BENCHMARKS.md, not pass/fail tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// End-to-end: run with the metrics recorder installed, the HTTP server on, and `/metrics`
    /// scraped every second (compare with a run without it: the cost of observability).
    #[arg(long)]
    pub metrics: bool,
    /// Query benchmark: the store to query (generated when it holds fewer trades than asked).
    #[arg(long, default_value = "data/bench-query.db")]
    pub query_db: std::path::PathBuf,
    /// Books benchmark: seconds of book streams per run.
    #[arg(long, default_value_t = 10)]
    pub book_seconds: u64,
    /// Books benchmark: book changes per second per market (simulator limit 20000).
    #[arg(long, default_value_t = 20_000.0)]
    pub book_rate: f64,
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
    /// Order-book messages simulator → SQLite (not part of `all`).
    Books,
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
    if args.which == Which::Books {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let mut res = Vec::new();
        for _ in 0..runs {
            res.push(rt.block_on(crate::bench_books::books_once(
                args.book_seconds,
                args.book_rate,
            ))?);
        }
        let pick = |f: fn(&crate::bench_books::BookRun) -> f64| median(res.iter().map(f).collect());
        println!("\n| books end to end (OKX books + Bybit orderbook.50, 2 markets each, {} changes/s/market requested; median of {runs}) | rows/s | level changes/s | p50 ms | p99 ms | verified |", args.book_rate);
        println!("|---|---:|---:|---:|---:|---:|");
        println!(
            "| {} s per run | {:.0} | {:.0} | {:.2} | {:.2} | {:.4} |",
            args.book_seconds,
            pick(|r| r.rows_per_s),
            pick(|r| r.levels_per_s),
            pick(|r| r.p50_ms),
            pick(|r| r.p99_ms),
            pick(|r| r.verified),
        );
        return Ok(());
    }
    if matches!(args.which, Which::All | Which::Parse) {
        parse_bench(runs)?;
    }
    if matches!(args.which, Which::All | Which::E2e) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        if args.metrics {
            let _ = crate::http::prometheus();
        }
        println!(
            "\n| end-to-end run (4 markets: 2 Binance + 2 Kraken; metrics {}) | trades | trades/s | p50 ms | p99 ms | max ms |",
            if args.metrics { "on, scraped every 1 s" } else { "off" }
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for (label, rate, trades) in [
            ("paced 5 k msg/s", args.paced_rate, args.paced_trades),
            ("max rate", 500_000.0, args.max_trades),
        ] {
            let mut res = Vec::new();
            for _ in 0..runs {
                res.push(rt.block_on(e2e_once(
                    rate,
                    trades,
                    args.postgres_uri.as_deref(),
                    args.metrics,
                ))?);
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
    let coinbase = adapter_for(
        Venue::Coinbase,
        &[sub("ETH/USD", vec![Channel::Trades, Channel::Bbo])],
    )?;
    let okx = adapter_for(Venue::Okx, &[sub("BTC/USDT", vec![Channel::Trades])])?;
    let okx_bbo = adapter_for(Venue::Okx, &[sub("BTC/USDT", vec![Channel::Bbo])])?;
    let bybit = adapter_for(
        Venue::Bybit,
        &[sub("BTC/USDT", vec![Channel::Trades, Channel::Bbo])],
    )?;
    let upbit = adapter_for(
        Venue::Upbit,
        &[sub("BTC/KRW", vec![Channel::Trades, Channel::Bbo])],
    )?;
    let upbit_book = format!(
        r#"{{"type":"orderbook","code":"KRW-BTC","timestamp":1746601573804,"total_ask_size":4.79158413,"total_bid_size":2.65609625,"orderbook_units":[{}],"stream_type":"REALTIME","level":0}}"#,
        (0..15)
            .map(|i| format!(
                r#"{{"ask_price":{},"bid_price":{},"ask_size":0.10623869,"bid_size":0.03656812}}"#,
                137_002_000 + i * 1000,
                137_001_000 - i * 1000
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    let cases: Vec<(&str, &dyn tickrec_venues::VenueAdapter, String, usize)> = vec![
        ("binance trade", binance.as_ref(), r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1757522615939,"s":"BTCUSDT","t":5225367649,"p":"113747.89000000","q":"0.00060000","T":1757522615939,"m":true,"M":true}}"#.to_string(), 1),
        ("binance aggTrade", binance.as_ref(), r#"{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1616176861895,"s":"BTCUSDT","a":640283266,"p":"58942.01000000","q":"0.00035600","f":716849523,"l":716849523,"T":1616176861893,"m":false,"M":true}}"#.to_string(), 1),
        ("binance bookTicker", binance.as_ref(), r#"{"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}}"#.to_string(), 1),
        ("kraken trade (1 per frame)", kraken.as_ref(), kraken_one, 1),
        ("kraken trade (10 per frame)", kraken.as_ref(), kraken_ten, 10),
        ("coinbase market_trades (2 per frame)", coinbase.as_ref(), r#"{"channel":"market_trades","client_id":"","timestamp":"2026-09-30T01:41:27.834Z","sequence_num":5,"events":[{"type":"update","trades":[{"product_id":"ETH-USD","trade_id":"846149798","price":"2668.35","size":"0.03710506","time":"2026-09-30T01:41:25.375232Z","side":"SELL"},{"product_id":"ETH-USD","trade_id":"846149799","price":"2668.36","size":"1","time":"2026-09-30T01:41:25.375232Z","side":"BUY"}]}]}"#.to_string(), 2),
        ("coinbase ticker", coinbase.as_ref(), r#"{"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:30:37.167359596Z","sequence_num":5,"events":[{"type":"update","tickers":[{"type":"ticker","product_id":"ETH-USD","price":"21932.98","volume_24_h":"16038.28770938","low_24_h":"21835.29","high_24_h":"23011.18","low_52_w":"15460","high_52_w":"48240","price_percent_chg_24_h":"-4.15775596190603","best_bid":"21931.98","best_bid_quantity":"8000.21","best_ask":"21933.98","best_ask_quantity":"8038.07770938"}]}]}"#.to_string(), 1),
        ("okx trades-all", okx.as_ref(), r#"{"arg":{"channel":"trades-all","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"338476307","px":"30236","sz":"0.0002","side":"buy","ts":"1652459224818","source":"0"}]}"#.to_string(), 1),
        ("okx bbo-tbt", okx_bbo.as_ref(), r#"{"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[["30243.5","1.44679","0","6"]],"bids":[["30243.4","0.0012029","0","1"]],"ts":"1670324386802","seqId":363996337}]}"#.to_string(), 1),
        ("bybit publicTrade", bybit.as_ref(), r#"{"topic":"publicTrade.BTCUSDT","ts":1761583474344,"type":"snapshot","data":[{"i":"2290000000923750370","T":1761583474343,"p":"115440.7","v":"0.00903","S":"Buy","seq":89200463112,"s":"BTCUSDT","BT":false,"RPI":false}]}"#.to_string(), 1),
        ("bybit orderbook.1", bybit.as_ref(), r#"{"topic":"orderbook.1.BTCUSDT","ts":1731035685326,"type":"snapshot","data":{"s":"BTCUSDT","b":[["75848.74","0.067669"]],"a":[["75848.75","0.747137"]],"u":2876700,"seq":47474967795},"cts":1731035685323}"#.to_string(), 1),
        ("upbit trade (binary)", upbit.as_ref(), r#"{"type":"trade","code":"KRW-BTC","timestamp":1730336862082,"trade_date":"2024-10-31","trade_time":"01:07:42","trade_timestamp":1730336862047,"trade_price":100473000.00000000,"trade_volume":8.428e-05,"ask_bid":"BID","prev_closing_price":100571000.00000000,"change":"FALL","change_price":98000.00000000,"sequential_id":17303368620470000,"best_ask_price":100473000,"best_ask_size":0.43139478,"best_bid_price":100465000,"best_bid_size":0.01990656,"stream_type":"REALTIME"}"#.to_string(), 1),
        ("upbit orderbook, 15 units (binary)", upbit.as_ref(), upbit_book, 1),
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
                // Upbit sends JSON in binary frames; the others in text frames.
                let f = if adapter.venue() == Venue::Upbit {
                    Frame::Binary(frame.as_bytes())
                } else {
                    Frame::Text(&frame)
                };
                let k = adapter.parse(f, 1, &mut out);
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

/// `GET /metrics` every second until `stop`; returns how many scrapes succeeded.
async fn scrape_loop(
    addr: std::net::SocketAddr,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut ok = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return ok,
        }
        let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
            continue;
        };
        let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        let mut body = Vec::new();
        if s.write_all(req.as_bytes()).await.is_ok() && s.read_to_end(&mut body).await.is_ok() {
            ok += u64::from(body.starts_with(b"HTTP/1.1 200"));
        }
    }
}

async fn e2e_once(
    rate: f64,
    trades: u64,
    postgres_uri: Option<&str>,
    with_metrics: bool,
) -> anyhow::Result<E2e> {
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
    let http_addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let market = |venue, symbols: [&str; 2], url: String| MarketConfig {
        venue,
        symbols: symbols.map(String::from).to_vec(),
        channels: vec![Channel::Trades],
        ws_url: Some(url),
        rest_url: None,
        message_timeout_ms: None,
        book: None,
    };
    let cfg = Config {
        sqlite: SqliteConfig {
            path: dir.path().join("bench.db"),
            ..SqliteConfig::default()
        },
        batch: BatchConfig::default(),
        http: HttpConfig {
            enabled: with_metrics,
            listen: http_addr,
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
        archive: None,
        retention: None,
        // The simulator's markets, no instrument requests: the benchmark measures recording.
        instruments: crate::instruments::InstrumentsConfig {
            check: crate::instruments::InstrumentCheck::Off,
            ..Default::default()
        },
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
    let sinks = match (stats_rx.await, all_rx.await) {
        (Ok(_sqlite), Ok(sinks)) => sinks,
        // The recorder stopped before its sinks were up: show why (e.g. a schema mismatch).
        _ => {
            let why = match rec.await {
                Ok(Err(e)) => e,
                Ok(Ok(_)) => anyhow::anyhow!("it stopped without an error"),
                Err(e) => e.into(),
            };
            return Err(why.context("recorder did not start"));
        }
    };
    let (scrape_stop, scrape_rx) = tokio::sync::watch::channel(false);
    let scraper = with_metrics.then(|| tokio::spawn(scrape_loop(http_addr, scrape_rx)));
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
    let _ = scrape_stop.send(true);
    if let Some(s) = scraper {
        let scrapes = s.await?;
        anyhow::ensure!(
            scrapes + 1 >= elapsed.as_secs(),
            "only {scrapes} /metrics scrapes in {elapsed:?}"
        );
    }
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
