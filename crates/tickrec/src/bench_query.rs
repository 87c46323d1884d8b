//! `tickrec bench query`: query latency on a large store. The store is a deterministic synthetic
//! tape (two markets, five days, written through the real SQLite writer); it is generated once
//! and reused while it holds the requested number of trades.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tickrec_model::{Event, Venue};
use tickrec_query::synthetic::{synthetic_trades, SyntheticSpec};
use tickrec_query::{Kind, Request, Tape};
use tickrec_store::{SqliteConfig, SqliteWriter};

/// End of the synthetic tape: 2026-11-30T00:00:00Z.
const END_US: i64 = 1_796_000_000_000_000 - 1_796_000_000_000_000 % 86_400_000_000;
/// Days the tape spans.
const DAYS: i64 = 5;
const MARKETS: [(Venue, &str); 2] = [(Venue::Binance, "BTC/USDT"), (Venue::Kraken, "BTC/USD")];

/// A benchmark case: label, query kind, parameters beyond the market.
type Case = (&'static str, Kind, Vec<(&'static str, String)>);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn stored(path: &Path) -> u64 {
    let Ok(conn) = tickrec_store::open_read_only(path) else {
        return 0;
    };
    conn.query_row("SELECT count(*) FROM trades", [], |r| r.get::<_, i64>(0))
        .map(|n| u64::try_from(n).unwrap_or(0))
        .unwrap_or(0)
}

fn generate(path: &Path, total: u64) -> anyhow::Result<()> {
    if path.exists() {
        std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    }
    let cfg = SqliteConfig {
        path: path.to_path_buf(),
        ..SqliteConfig::default()
    };
    let mut w = SqliteWriter::open(&cfg)?;
    let per_market = total / MARKETS.len() as u64;
    // Four of five trades advance the clock.
    let spacing_us = DAYS * 86_400_000_000 / (per_market as i64 * 4 / 5).max(1);
    let t = Instant::now();
    for (i, (venue, symbol)) in MARKETS.into_iter().enumerate() {
        let spec = SyntheticSpec {
            venue,
            symbol: Arc::from(symbol),
            seed: 42 + i as u64,
            start_us: END_US - DAYS * 86_400_000_000,
            count: per_market,
            spacing_us,
            hole: None,
            mixed_scales: false,
        };
        let mut batch = Vec::with_capacity(100_000);
        for trade in synthetic_trades(&spec) {
            batch.push(Event::Trade(trade));
            if batch.len() == batch.capacity() {
                w.write_batch(&batch)?;
                batch.clear();
            }
        }
        w.write_batch(&batch)?;
    }
    eprintln!(
        "generated {total} trades in {:.1} s into {}",
        t.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}

/// Generates the store if needed, then prints a Markdown table of median query times.
///
/// # Errors
/// Store or query failures.
pub fn run(path: &Path, total: u64, runs: usize) -> anyhow::Result<()> {
    if stored(path) < total {
        generate(path, total)?;
    }
    let tape = Tape::open(path)?;
    let ms = |us: i64| (us / 1000).to_string();
    let hour_from = ms(END_US - 36 * 3_600_000_000);
    let hour_to = ms(END_US - 35 * 3_600_000_000);
    let day_from = ms(END_US - 48 * 3_600_000_000);
    let day_to = ms(END_US - 24 * 3_600_000_000);
    let cases: Vec<Case> = vec![
        (
            "trades, 1 h window, first page of 1000",
            Kind::Trades,
            vec![
                ("from", hour_from.clone()),
                ("to", hour_to.clone()),
                ("limit", "1000".into()),
            ],
        ),
        (
            "candles 1m, 1 h window",
            Kind::Candles,
            vec![
                ("from", hour_from.clone()),
                ("to", hour_to.clone()),
                ("interval", "1m".into()),
            ],
        ),
        (
            "volume profile, 1 h window",
            Kind::VolumeProfile,
            vec![("from", hour_from.clone()), ("to", hour_to.clone())],
        ),
        (
            "features (60 min), 3 h window",
            Kind::Features,
            vec![
                ("from", ms(END_US - 38 * 3_600_000_000)),
                ("to", hour_to.clone()),
            ],
        ),
        (
            "candles 1h, 24 h window",
            Kind::Candles,
            vec![
                ("from", day_from.clone()),
                ("to", day_to.clone()),
                ("interval", "1h".into()),
            ],
        ),
        (
            "volume profile, 24 h window",
            Kind::VolumeProfile,
            vec![("from", day_from.clone()), ("to", day_to.clone())],
        ),
        (
            "liquidity vacuums, 24 h window",
            Kind::Vacuums,
            vec![
                ("from", day_from.clone()),
                ("to", day_to.clone()),
                ("buckets", "200".into()),
            ],
        ),
    ];
    println!(
        "\n| query (binance BTC/USDT, store of {} trades) | trades in window | median ms | max ms |",
        stored(path)
    );
    println!("|---|---:|---:|---:|");
    for (label, kind, extra) in cases {
        let mut params = vec![
            ("venue".to_string(), "binance".to_string()),
            ("symbol".to_string(), "BTC/USDT".to_string()),
        ];
        params.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
        let request = Request::new(kind, params)?;
        let mut times = Vec::new();
        let mut rows = 0u64;
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let answer = request.run(&tape)?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            rows = count(&answer);
        }
        let max = times.iter().copied().fold(0.0, f64::max);
        println!("| {label} | {rows} | {:.1} | {max:.1} |", median(times));
    }
    Ok(())
}

fn count(a: &tickrec_query::Answer) -> u64 {
    use tickrec_query::Answer;
    match a {
        Answer::Trades(p) => p.trades.len() as u64,
        Answer::Candles(c) => c.candles.iter().map(|c| c.trades).sum(),
        Answer::VenueCandles(c) => c.candles.len() as u64,
        Answer::VolumeProfile(p) => p.trades,
        Answer::Vacuums(v) => v.trades,
        // Minutes with a candle (the answer does not carry the trade count).
        Answer::Features(f) => f.rows.len() as u64,
    }
}
