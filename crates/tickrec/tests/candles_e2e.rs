//! Venue candles end to end: simulator → `record` → SQLite, for the venues whose candle streams
//! the simulator builds from the tape with their own cadence and quirks (Coinbase `candles` 5 m,
//! OKX `candle1m` on `/business`, Bybit `kline.1`, Upbit `candle.1s` and `candle.1m`). The stored
//! candles must equal the candles of the ground-truth trades, exactly: open, high, low, close,
//! volume (and quote volume where the venue sends it), every bar but the running one closed.

mod common;

use common::in_process::{sqlite_config, start_recorder};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tickrec::config::{Config, MarketConfig};
use tickrec_model::{Channel, Decimal, Venue};
use tickrec_simulator::{SimConfig, SimMarket, StartMode, TapeTrade};

/// One market, SQLite only.
fn config(db: PathBuf, market: MarketConfig) -> Config {
    sqlite_config(db, vec![market])
}

/// One bar in comparable form: exact values as scale-18 integers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bar {
    open_time_us: i64,
    open: i128,
    high: i128,
    low: i128,
    close: i128,
    volume: i128,
    quote_volume: Option<i128>,
    closed: bool,
}

/// `m × 10^-s` as a scale-18 integer.
fn e18(m: i128, s: u32) -> i128 {
    m * 10i128.pow(18 - s)
}

fn dec18(text: &str) -> i128 {
    let d = Decimal::parse(text).expect("decimal");
    e18(i128::from(d.mantissa()), u32::from(d.scale()))
}

/// The bars of `trades` (one market, trade order) of `interval_s`, every bar closed but the last.
fn truth_bars(trades: &[TapeTrade], interval_s: i64, quote: bool) -> Vec<Bar> {
    let iv = interval_s * 1_000_000;
    let mut bars: Vec<Bar> = Vec::new();
    for t in trades {
        let open_time_us = t.ts_exchange_us - t.ts_exchange_us.rem_euclid(iv);
        let (p, q) = (dec18(&t.price), dec18(&t.qty));
        // price × qty at scale 36, brought back to 18 exactly (both have ≤ 9 decimals here).
        let pq = p / 1_000_000_000 * (q / 1_000_000_000);
        match bars.last_mut() {
            Some(b) if b.open_time_us == open_time_us => {
                b.high = b.high.max(p);
                b.low = b.low.min(p);
                b.close = p;
                b.volume += q;
                if let Some(v) = &mut b.quote_volume {
                    *v += pq;
                }
            }
            _ => bars.push(Bar {
                open_time_us,
                open: p,
                high: p,
                low: p,
                close: p,
                volume: q,
                quote_volume: quote.then_some(pq),
                closed: true,
            }),
        }
    }
    if let Some(b) = bars.last_mut() {
        b.closed = false;
    }
    bars
}

fn stored_bars(db: &Path, venue: Venue, symbol: &str, interval_s: i64) -> Vec<Bar> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open db");
    let mut stmt = conn
        .prepare(
            "SELECT open_time_us, open_m, open_scale, high_m, high_scale, low_m, low_scale, \
             close_m, close_scale, volume_m, volume_scale, quote_volume_m, quote_volume_scale, \
             closed FROM candles WHERE venue = ?1 AND symbol = ?2 AND interval_s = ?3 \
             ORDER BY open_time_us",
        )
        .expect("prepare");
    stmt.query_map(rusqlite::params![venue.as_str(), symbol, interval_s], |r| {
        let v = |i: usize| -> rusqlite::Result<i128> {
            Ok(e18(
                i128::from(r.get::<_, i64>(i)?),
                r.get::<_, i64>(i + 1)? as u32,
            ))
        };
        let quote = match r.get::<_, Option<i64>>(11)? {
            Some(m) => Some(e18(i128::from(m), r.get::<_, i64>(12)? as u32)),
            None => None,
        };
        Ok(Bar {
            open_time_us: r.get(0)?,
            open: v(1)?,
            high: v(3)?,
            low: v(5)?,
            close: v(7)?,
            volume: v(9)?,
            quote_volume: quote,
            closed: r.get::<_, i64>(13)? == 1,
        })
    })
    .expect("query")
    .collect::<Result<_, _>>()
    .expect("rows")
}

/// Records `venue` `symbol` trades and `intervals` candles from the simulator; asserts that the
/// stored candles of every interval equal the ground truth's.
async fn candles_equal_truth(venue: Venue, symbol: &str, intervals: &[u32], quote: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let per_market = 1_000;
    let mut sim_cfg = SimConfig::new(vec![SimMarket::new(venue, symbol)]);
    sim_cfg.rate_per_market = 250.0;
    sim_cfg.trades_per_market = Some(per_market);
    sim_cfg.start = StartMode::OnSubscribe;
    sim_cfg.ground_truth = Some(dir.path().join("truth.csv"));
    let sim = tickrec_simulator::start(sim_cfg).await.expect("simulator");
    let (ws, rest) = match venue {
        Venue::Coinbase => (sim.coinbase_ws_url(), sim.coinbase_rest_url()),
        Venue::Okx => (sim.okx_ws_url(), sim.okx_rest_url()),
        Venue::Bybit => (sim.bybit_ws_url(), sim.bybit_rest_url()),
        _ => (sim.upbit_ws_url(), sim.upbit_rest_url()),
    };
    let mut channels = vec![Channel::Trades];
    channels.extend(intervals.iter().map(|&s| Channel::Candles(s)));
    let db = dir.path().join("rec.db");
    let rec = start_recorder(config(
        db.clone(),
        MarketConfig {
            venue,
            symbols: vec![symbol.to_string()],
            channels,
            ws_url: Some(ws),
            rest_url: Some(rest),
            message_timeout_ms: None,
            book: None,
        },
    ))
    .await;
    sim.wait_finished().await;
    rec.wait_trades(per_market, Duration::from_secs(60)).await;
    let mut truth =
        tickrec_simulator::read_ground_truth(&dir.path().join("truth.csv")).expect("ground truth");
    truth.sort_by_key(|t| t.trade_id);
    let expected: Vec<(u32, Vec<Bar>)> = intervals
        .iter()
        .map(|&s| (s, truth_bars(&truth, i64::from(s), quote)))
        .collect();
    // The last bar's final state follows the last trade by up to a push period (1 s).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done = expected
            .iter()
            .all(|(s, bars)| stored_bars(&db, venue, symbol, i64::from(*s)) == *bars);
        if done {
            break;
        }
        if Instant::now() > deadline {
            for (s, bars) in &expected {
                assert_eq!(
                    stored_bars(&db, venue, symbol, i64::from(*s)),
                    *bars,
                    "{venue} {symbol} {s} s candles"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rec.stop().await;
    sim.shutdown().await.expect("sim shutdown");
    for (s, bars) in &expected {
        assert!(!bars.is_empty(), "{venue} {s} s");
    }
    assert_eq!(common::rejects(&db), 0, "{venue}: no rejects");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbase_five_minute_candles_equal_the_truth() {
    candles_equal_truth(Venue::Coinbase, "BTC/USD", &[300], false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_candle1m_equals_the_truth() {
    candles_equal_truth(Venue::Okx, "BTC/USDT", &[60], true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_kline_1_equals_the_truth() {
    candles_equal_truth(Venue::Bybit, "BTC/USDT", &[60], true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upbit_second_and_minute_candles_equal_the_truth() {
    candles_equal_truth(Venue::Upbit, "BTC/KRW", &[1, 60], true).await;
}
