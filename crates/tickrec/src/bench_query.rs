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
    let t = Instant::now();
    for spec in specs(total) {
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

/// Loads the synthetic tape into PostgreSQL (plain `INSERT … SELECT unnest(…)` in 100 000-row
/// statements) unless it already holds `total` trades.
#[cfg(feature = "postgres")]
fn generate_postgres(uri: &str, total: u64) -> anyhow::Result<()> {
    let cfg = tickrec_store::PostgresConfig {
        uri: uri.to_string(),
        ..tickrec_store::PostgresConfig::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = tickrec_store::postgres::connect(&cfg).await?;
        tickrec_store::postgres::migrate(&client).await?;
        let n: i64 = client.query_one("SELECT count(*) FROM trades", &[]).await?.get(0);
        if u64::try_from(n).unwrap_or(0) >= total {
            return Ok(());
        }
        client.execute("TRUNCATE trades", &[]).await?;
        let t = Instant::now();
        for spec in specs(total) {
            let venue = spec.venue.as_str();
            let symbol = spec.symbol.to_string();
            let mut it = synthetic_trades(&spec).peekable();
            while it.peek().is_some() {
                let chunk: Vec<_> = it.by_ref().take(100_000).collect();
                let col = |f: &dyn Fn(&tickrec_model::Trade) -> i64| chunk.iter().map(f).collect::<Vec<i64>>();
                let scale = |f: &dyn Fn(&tickrec_model::Trade) -> u8| chunk.iter().map(|x| i16::from(f(x))).collect::<Vec<i16>>();
                let ids = col(&|x| match x.trade_id {
                    tickrec_model::TradeId::Num(n) => n as i64,
                    tickrec_model::TradeId::Text(_) => 0,
                });
                let sides: Vec<&str> = chunk.iter().map(|x| x.side.as_str()).collect();
                client
                    .execute(
                        "INSERT INTO trades (ts_exchange, venue, symbol, trade_id, side, price_m, \
                         price_scale, qty_m, qty_scale) \
                         SELECT timestamptz 'epoch' + u.ts * interval '1 microsecond', $1, $2, u.id, \
                                u.side, u.pm, u.ps, u.qm, u.qs \
                         FROM unnest($3::int8[], $4::int8[], $5::text[], $6::int8[], $7::int2[], \
                                     $8::int8[], $9::int2[]) AS u(ts, id, side, pm, ps, qm, qs)",
                        &[
                            &venue,
                            &symbol,
                            &col(&|x| x.ts_exchange_us),
                            &ids,
                            &sides,
                            &col(&|x| x.price.mantissa()),
                            &scale(&|x| x.price.scale()),
                            &col(&|x| x.qty.mantissa()),
                            &scale(&|x| x.qty.scale()),
                        ],
                    )
                    .await?;
            }
        }
        client.execute("VACUUM ANALYZE trades", &[]).await?;
        eprintln!("loaded {total} trades into PostgreSQL in {:.1} s", t.elapsed().as_secs_f64());
        anyhow::Ok(())
    })
}

/// The two markets' tapes.
fn specs(total: u64) -> Vec<SyntheticSpec> {
    let per_market = total / MARKETS.len() as u64;
    // Four of five trades advance the clock.
    let spacing_us = DAYS * 86_400_000_000 / (per_market as i64 * 4 / 5).max(1);
    MARKETS
        .into_iter()
        .enumerate()
        .map(|(i, (venue, symbol))| SyntheticSpec {
            venue,
            symbol: Arc::from(symbol),
            seed: 42 + i as u64,
            start_us: END_US - DAYS * 86_400_000_000,
            count: per_market,
            spacing_us,
            hole: None,
            mixed_scales: false,
        })
        .collect()
}

/// Generates the store if needed, then prints a Markdown table of median query times — for the
/// SQLite file and, with `postgres_uri`, for PostgreSQL too.
///
/// # Errors
/// Store or query failures.
pub fn run(path: &Path, total: u64, runs: usize, postgres_uri: Option<&str>) -> anyhow::Result<()> {
    if stored(path) < total {
        generate(path, total)?;
    }
    measure("SQLite", &Tape::open(path)?, runs, stored(path))?;
    match postgres_uri {
        None => Ok(()),
        #[cfg(feature = "postgres")]
        Some(uri) => {
            generate_postgres(uri, total)?;
            let cfg = tickrec_store::PostgresConfig {
                uri: uri.to_string(),
                ..tickrec_store::PostgresConfig::default()
            };
            measure("PostgreSQL", &Tape::connect_postgres(&cfg)?, runs, total)
        }
        #[cfg(not(feature = "postgres"))]
        Some(_) => anyhow::bail!("--postgres-uri needs a build with `--features postgres`"),
    }
}

fn measure(store: &str, tape: &Tape, runs: usize, trades: u64) -> anyhow::Result<()> {
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
        "\n| query ({store}, binance BTC/USDT, store of {trades} trades) | trades in window | median ms | max ms |"
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
            let answer = request.run(tape)?;
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
