//! REST companions end to end over real HTTP on loopback: cursors walk the whole tape without gap
//! or overlap, limits, exact equality with the ground truth and with the WebSocket view, errors,
//! weights and rate limiting.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tickrec_model::{parse_rfc3339_us, Side, Venue};
use tickrec_simulator::{
    first_trade_id, read_ground_truth, start, Fault, SimConfig, SimMarket, StartMode, TapeTrade,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MINUTE_US: i64 = 60_000_000;

/// Quantity text → units of 10⁻⁸.
fn units(q: &str) -> u128 {
    let (i, f) = q.split_once('.').unwrap_or((q, ""));
    assert!(f.len() <= 8, "{q}");
    i.parse::<u128>().unwrap() * 100_000_000 + format!("{f:0<8}").parse::<u128>().unwrap()
}

fn units_text(u: u128) -> String {
    format!("{}.{:08}", u / 100_000_000, u % 100_000_000)
}

/// Per-minute aggregates of ground-truth trades: open time → (open, high, low, close, volume
/// units, count), prices as text of the trade that set them.
fn minutes(gt: &[TapeTrade]) -> BTreeMap<i64, (String, String, String, String, u128, u64)> {
    let mut m: BTreeMap<i64, (String, String, String, String, u128, u64)> = BTreeMap::new();
    let p = |s: &str| s.parse::<f64>().unwrap();
    for t in gt {
        let open = t.ts_exchange_us - t.ts_exchange_us.rem_euclid(MINUTE_US);
        let e = m.entry(open).or_insert_with(|| {
            (
                t.price.clone(),
                t.price.clone(),
                t.price.clone(),
                t.price.clone(),
                0,
                0,
            )
        });
        if p(&t.price) > p(&e.1) {
            e.1 = t.price.clone();
        }
        if p(&t.price) < p(&e.2) {
            e.2 = t.price.clone();
        }
        e.3 = t.price.clone();
        e.4 += units(&t.qty);
        e.5 += 1;
    }
    m
}

async fn finished_tape(
    venue: Venue,
    symbols: &[&str],
    rate: f64,
    n: u64,
    dir: &tempfile::TempDir,
) -> (tickrec_simulator::SimHandle, Vec<TapeTrade>) {
    let markets = symbols.iter().map(|s| SimMarket::new(venue, *s)).collect();
    let mut c = cfg(markets, rate, n, dir);
    c.start = StartMode::Immediately;
    let gt_path = c.ground_truth.clone().unwrap();
    let sim = start(c).await.unwrap();
    finished(&sim).await;
    let gt = read_ground_truth(&gt_path).unwrap();
    assert_eq!(gt.len() as u64, n * symbols.len() as u64);
    (sim, gt)
}

fn weight(r: &Resp) -> u32 {
    r.header("X-MBX-USED-WEIGHT-1M")
        .unwrap_or_else(|| panic!("no weight header: {r:?}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_trade_endpoints_walk_the_whole_tape() {
    let dir = tempfile::tempdir().unwrap();
    let n = 4321u64;
    let (sim, gt) = finished_tape(Venue::Binance, &["BTC/USDT"], 5000.0, n, &dir).await;
    let base = format!("{}/api/v3", sim.binance_rest_url());
    let first = first_trade_id(Venue::Binance, "BTC/USDT");
    assert_eq!(
        sim.market_published(Venue::Binance, "BTC/USDT"),
        Some(n),
        "REST serves exactly the published trades"
    );

    // historicalTrades: fromId (inclusive) pages of 1000 cover everything exactly once.
    let mut got = Vec::new();
    let mut sizes = Vec::new();
    let mut from = first;
    loop {
        let r = get(&format!(
            "{base}/historicalTrades?symbol=BTCUSDT&fromId={from}&limit=1000"
        ))
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(weight(&r) >= 25);
        assert!(
            r.body.starts_with(r#"[{"id":"#) || r.body == "[]",
            "{}",
            r.body
        );
        let rows = r.json().as_array().unwrap().clone();
        sizes.push(rows.len());
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            assert_eq!(row.as_object().unwrap().len(), 7, "{row}");
            assert_eq!(row["isBestMatch"], true);
            let quote: f64 = row["quoteQty"].as_str().unwrap().parse().unwrap();
            let p: f64 = row["price"].as_str().unwrap().parse().unwrap();
            let q: f64 = row["qty"].as_str().unwrap().parse().unwrap();
            assert!((quote - p * q).abs() <= 1e-6 * (1.0 + p * q), "{row}");
            got.push(binance_rest_trade(row, "BTC/USDT"));
        }
        from = got.last().unwrap().trade_id + 1;
    }
    assert_eq!(sizes, [1000, 1000, 1000, 1000, 321, 0]);
    assert_eq!(got, gt, "historicalTrades equal the ground truth");

    // aggTrades: find the first aggregate by time, then page by fromId with an odd limit.
    let t0 = gt[0].ts_exchange_us / 1000;
    let v = get_json(&format!(
        "{base}/aggTrades?symbol=BTCUSDT&startTime={t0}&limit=1"
    ))
    .await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["f"], first);
    let a0 = v[0]["a"].as_u64().unwrap();
    let mut aggs: Vec<Value> = Vec::new();
    let mut from = a0;
    loop {
        let page = get_json(&format!(
            "{base}/aggTrades?symbol=BTCUSDT&fromId={from}&limit=777"
        ))
        .await;
        let page = page.as_array().unwrap().clone();
        assert!(page.len() <= 777);
        if page.is_empty() {
            break;
        }
        from = page.last().unwrap()["a"].as_u64().unwrap() + 1;
        aggs.extend(page);
    }
    assert_eq!(aggs.len() as u64, n);
    for (i, (a, t)) in aggs.iter().zip(&gt).enumerate() {
        let keys: Vec<_> = a.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 8, "{a}");
        assert_eq!(a["a"], a0 + i as u64);
        assert_eq!(a["f"], t.trade_id);
        assert_eq!(a["l"], t.trade_id);
        assert_eq!(a["p"], t.price.as_str());
        assert_eq!(a["q"], t.qty.as_str());
        assert_eq!(a["T"].as_i64().unwrap() * 1000, t.ts_exchange_us);
        assert_eq!(a["m"], t.side == Side::Sell);
        assert_eq!(a["M"], true);
    }

    // Limits: default 500 (most recent), capped at 1000.
    let v = get_json(&format!("{base}/aggTrades?symbol=BTCUSDT")).await;
    let v = v.as_array().unwrap();
    assert_eq!(v.len(), 500);
    assert_eq!(v.last().unwrap()["f"], gt.last().unwrap().trade_id);
    let v = get_json(&format!(
        "{base}/aggTrades?symbol=BTCUSDT&fromId={a0}&limit=5000"
    ))
    .await;
    assert_eq!(v.as_array().unwrap().len(), 1000);

    // Time window, both ends inclusive (ms).
    let (t1, t2) = (
        gt[100].ts_exchange_us / 1000,
        gt[2000].ts_exchange_us / 1000,
    );
    let expect: Vec<u64> = gt
        .iter()
        .filter(|t| (t1..=t2).contains(&(t.ts_exchange_us / 1000)))
        .map(|t| t.trade_id)
        .take(1000)
        .collect();
    let v = get_json(&format!(
        "{base}/aggTrades?symbol=BTCUSDT&startTime={t1}&endTime={t2}&limit=1000"
    ))
    .await;
    let ids: Vec<u64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["f"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, expect);
    let v = get_json(&format!(
        "{base}/aggTrades?symbol=BTCUSDT&endTime={t2}&limit=10"
    ))
    .await;
    let last_before: Vec<u64> = gt
        .iter()
        .filter(|t| t.ts_exchange_us / 1000 <= t2)
        .map(|t| t.trade_id)
        .collect();
    let ids: Vec<u64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["f"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, last_before[last_before.len() - 10..]);

    // Recent trades: the most recent `limit`, default 500.
    let v = get_json(&format!("{base}/trades?symbol=BTCUSDT&limit=7")).await;
    let rows: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| binance_rest_trade(r, "BTC/USDT"))
        .collect();
    assert_eq!(rows[..], gt[gt.len() - 7..]);
    let v = get_json(&format!("{base}/trades?symbol=btcusdt")).await;
    assert_eq!(v.as_array().unwrap().len(), 500);

    // Past the end: nothing (never the future).
    let v = get_json(&format!(
        "{base}/historicalTrades?symbol=BTCUSDT&fromId={}",
        first + n
    ))
    .await;
    assert_eq!(v, json!([]));
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_klines_and_exchange_info() {
    let dir = tempfile::tempdir().unwrap();
    let n = 3000u64;
    let (sim, gt) = finished_tape(Venue::Binance, &["ETH/USDT"], 5000.0, n, &dir).await;
    let base = format!("{}/api/v3", sim.binance_rest_url());
    let expect = minutes(&gt);
    let now_minute = || {
        let now = tickrec_model::now_us();
        now - now.rem_euclid(MINUTE_US)
    };
    let before = now_minute();
    let v = get_json(&format!(
        "{base}/klines?symbol=ETHUSDT&interval=1m&limit=1000"
    ))
    .await;
    let after = now_minute();
    let rows = v.as_array().unwrap();
    let first_open = *expect.keys().next().unwrap();
    assert_eq!(rows[0][0].as_i64().unwrap() * 1000, first_open);
    let last_open = rows.last().unwrap()[0].as_i64().unwrap() * 1000;
    assert!(
        (before..=after).contains(&last_open),
        "the last kline is the current minute"
    );
    let mut total = 0;
    for (i, k) in rows.iter().enumerate() {
        let k = k.as_array().unwrap();
        assert_eq!(k.len(), 12);
        let open = k[0].as_i64().unwrap() * 1000;
        assert_eq!(
            open,
            first_open + i as i64 * MINUTE_US,
            "one row per minute"
        );
        assert_eq!(k[6].as_i64().unwrap(), open / 1000 + 59_999);
        assert_eq!(k[11], "0");
        let count = k[8].as_u64().unwrap();
        total += count;
        match expect.get(&open) {
            Some((o, h, l, c, vol, cnt)) => {
                assert_eq!(
                    (&k[1], &k[2], &k[3], &k[4]),
                    (&json!(o), &json!(h), &json!(l), &json!(c)),
                    "minute {open}"
                );
                assert_eq!(k[5], units_text(*vol).as_str());
                assert_eq!(count, *cnt);
            }
            None => {
                // A quiet minute: previous close, no volume.
                assert_eq!(count, 0);
                assert_eq!(k[5], "0.00000000");
                assert_eq!(k[1], k[4]);
                assert_eq!(k[2], k[3]);
            }
        }
    }
    assert_eq!(total, n);

    // startTime cursor, one bar per page: no gap, no overlap.
    let mut walked = Vec::new();
    let mut t = first_open / 1000;
    loop {
        let v = get_json(&format!(
            "{base}/klines?symbol=ETHUSDT&interval=1m&startTime={t}&limit=1"
        ))
        .await;
        let page = v.as_array().unwrap();
        if page.is_empty() {
            break;
        }
        assert_eq!(page.len(), 1);
        t = page[0][0].as_i64().unwrap() + 60_000;
        walked.push(page[0].clone());
    }
    assert!(walked.len() >= rows.len());
    assert_eq!(walked[..rows.len() - 1], rows[..rows.len() - 1]);
    // endTime bounds open times.
    let v = get_json(&format!(
        "{base}/klines?symbol=ETHUSDT&interval=1m&endTime={}",
        first_open / 1000
    ))
    .await;
    assert_eq!(v.as_array().unwrap().len(), 1);

    let r = get(&format!("{base}/klines?symbol=ETHUSDT")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], -1102);
    let r = get(&format!("{base}/klines?symbol=ETHUSDT&interval=5m")).await;
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"code":-1120,"msg":"Invalid interval."}))
    );

    // exchangeInfo.
    let r = get(&format!("{base}/exchangeInfo")).await;
    assert_eq!(r.status, 200);
    assert!(weight(&r) >= 20);
    let v = r.json();
    let s = &v["symbols"][0];
    assert_eq!(s["symbol"], "ETHUSDT");
    assert_eq!(s["status"], "TRADING");
    assert_eq!(s["baseAsset"], "ETH");
    assert_eq!(s["quoteAsset"], "USDT");
    let filters = s["filters"].as_array().unwrap();
    let f = |t: &str| {
        filters
            .iter()
            .find(|f| f["filterType"] == t)
            .unwrap()
            .clone()
    };
    assert_eq!(f("PRICE_FILTER")["tickSize"], "0.01000000");
    assert_eq!(f("LOT_SIZE")["stepSize"], "0.00010000");
    for t in &gt {
        // Every price is on the tick grid, every quantity on the step grid.
        assert!(t.price.ends_with("000000"), "{}", t.price);
        assert_eq!(units(&t.qty) % 10_000, 0, "{}", t.qty);
    }
    let v = get_json(&format!("{base}/exchangeInfo?symbol=ETHUSDT")).await;
    assert_eq!(v["symbols"].as_array().unwrap().len(), 1);
    let v = get_json(&format!("{base}/exchangeInfo?symbols=%5B%22ETHUSDT%22%5D")).await;
    assert_eq!(v["symbols"].as_array().unwrap().len(), 1);
    let r = get(&format!("{base}/exchangeInfo?symbol=BTCUSDT")).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, r#"{"code":-1121,"msg":"Invalid symbol."}"#)
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_errors_and_weight() {
    let mut c = SimConfig::new(vec![SimMarket::new(Venue::Binance, "BTC/USDT")]);
    c.start = StartMode::Immediately;
    c.rate_per_market = 100.0;
    let sim = start(c).await.unwrap();
    let base = format!("{}/api/v3", sim.binance_rest_url());
    let invalid = r#"{"code":-1121,"msg":"Invalid symbol."}"#;
    for ep in [
        "aggTrades",
        "historicalTrades",
        "trades",
        "klines",
        "exchangeInfo",
    ] {
        let r = get(&format!("{base}/{ep}?symbol=NOPEUSDT&interval=1m")).await;
        assert_eq!((r.status, r.body.as_str()), (400, invalid), "{ep}");
        assert!(r.header("X-MBX-USED-WEIGHT-1M").is_some());
        assert!(r
            .header("Content-Type")
            .unwrap()
            .starts_with("application/json"));
    }
    let r = get(&format!("{base}/aggTrades")).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"code":-1102,"msg":"Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."})
    );
    for q in ["fromId=abc", "limit=0", "limit=-3", "startTime=x"] {
        let r = get(&format!("{base}/aggTrades?symbol=BTCUSDT&{q}")).await;
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.json()["code"], -1100, "{q}");
    }
    let r = get(&format!(
        "{base}/aggTrades?symbol=BTCUSDT&startTime=0&endTime=7200000"
    ))
    .await;
    assert_eq!(r.json()["code"], -1127);
    let r = get(&format!("{base}/depthNope?symbol=BTCUSDT")).await;
    assert_eq!(r.status, 404);
    let r = get(&format!("{base}/ping")).await;
    assert_eq!((r.status, r.body.as_str()), (200, "{}"));
    let v = get_json(&format!("{base}/time")).await;
    assert!(v["serverTime"].as_i64().unwrap() > 1_600_000_000_000);
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_weight_limit_gives_429_with_retry_after() {
    let mut c = SimConfig::new(vec![SimMarket::new(Venue::Binance, "BTC/USDT")]);
    c.binance_weight_limit = 30;
    let sim = start(c).await.unwrap();
    let url = format!(
        "{}/api/v3/historicalTrades?symbol=BTCUSDT",
        sim.binance_rest_url()
    );
    // Weight 25 against a limit of 30: the second request of a minute is refused (a minute
    // boundary in between merely delays it by one request).
    let mut refused = None;
    for _ in 0..5 {
        let r = get(&url).await;
        if r.status == 429 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status, 200);
        assert_eq!(weight(&r), 25);
    }
    let r = refused.expect("a 429 within 5 requests");
    let retry: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(r.json()["code"], -1003);
    assert_eq!(weight(&r), 25);
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_rate_limit_fault_429_then_418() {
    let mut c = SimConfig::new(vec![
        SimMarket::new(Venue::Binance, "BTC/USDT"),
        SimMarket::new(Venue::Kraken, "BTC/USD"),
    ]);
    c.start = StartMode::Immediately;
    let sim = start(c).await.unwrap();
    let ping = format!("{}/api/v3/ping", sim.binance_rest_url());
    let trades = format!("{}/0/public/Trades?pair=XBTUSD", sim.kraken_rest_url());

    sim.inject(Fault::RateLimitRest {
        venue: Venue::Binance,
        requests: 2,
        retry_after_s: 30,
    })
    .unwrap();
    let r = get(&ping).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("30"));
    assert_eq!(r.json()["code"], -1003);
    assert!(r.header("X-MBX-USED-WEIGHT-1M").is_some());
    // Kraken is not affected.
    assert_eq!(get(&trades).await.status, 200);
    // Ignoring Retry-After earns the ban.
    let r = get(&ping).await;
    assert_eq!(r.status, 418);
    assert_eq!(r.header("Retry-After"), Some("30"));
    assert_eq!(r.json()["code"], -1003);
    assert!(r.json()["msg"].as_str().unwrap().contains("banned until"));
    assert_eq!(get(&ping).await.status, 200, "budget spent");

    // Honouring Retry-After: 429, wait, success.
    sim.inject(Fault::RateLimitRest {
        venue: Venue::Binance,
        requests: 1,
        retry_after_s: 1,
    })
    .unwrap();
    let r = get(&ping).await;
    assert_eq!(r.status, 429);
    let wait: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    assert_eq!(get(&ping).await.status, 200);

    // Kraken: 429 with its error array, never 418.
    sim.inject(Fault::RateLimitRest {
        venue: Venue::Kraken,
        requests: 2,
        retry_after_s: 30,
    })
    .unwrap();
    for _ in 0..2 {
        let r = get(&trades).await;
        assert_eq!(r.status, 429);
        assert_eq!(r.header("Retry-After"), Some("30"));
        assert_eq!(r.json(), json!({"error":["EAPI:Rate limit exceeded"]}));
    }
    assert_eq!(get(&trades).await.status, 200);
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_trades_walk_the_whole_tape() {
    let dir = tempfile::tempdir().unwrap();
    let n = 4321u64;
    let (sim, gt) = finished_tape(Venue::Kraken, &["BTC/USD"], 5000.0, n, &dir).await;
    let gt: Vec<TapeTrade> = gt.iter().map(normalised).collect();
    let base = format!("{}/0/public/Trades", sim.kraken_rest_url());

    // `since` = previous `last`, exclusive: no gap, no overlap, even across trades sharing a
    // timestamp (every 10th trade repeats its predecessor's; pages end on one).
    let mut got = Vec::new();
    let mut sizes = Vec::new();
    let mut since = 0u64;
    loop {
        let r = get(&format!("{base}?pair=XBTUSD&since={since}&count=1000")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (key, rows, last) = kraken_trades_page(&r.body, "BTC/USD");
        assert_eq!(key, "XXBTZUSD");
        sizes.push(rows.len());
        if rows.is_empty() {
            assert_eq!(last, since, "an empty page echoes the cursor");
            break;
        }
        assert!(last > since);
        assert_eq!(last / 1000, rows.last().unwrap().ts_exchange_us as u64);
        got.extend(rows);
        since = last;
    }
    assert_eq!(sizes, [1000, 1000, 1000, 1000, 321, 0]);
    assert_eq!(got, gt, "Trades equal the ground truth");
    assert_eq!(
        gt[999].ts_exchange_us, gt[998].ts_exchange_us,
        "a page boundary on a shared timestamp"
    );

    // Pair spellings.
    for pair in ["BTC%2FUSD", "XXBTZUSD", "xbtusd", "XBT/USD", "BTCUSD"] {
        let r = get(&format!("{base}?pair={pair}&since=0&count=3")).await;
        let (key, rows, _) = kraken_trades_page(&r.body, "BTC/USD");
        assert_eq!(key, "XXBTZUSD", "{pair}");
        assert_eq!(rows[..], gt[..3], "{pair}");
    }
    // Limits: count capped at 1000; without since, the most recent trades.
    let r = get(&format!("{base}?pair=XBTUSD&since=0&count=5000")).await;
    assert_eq!(kraken_trades_page(&r.body, "BTC/USD").1.len(), 1000);
    let r = get(&format!("{base}?pair=XBTUSD")).await;
    assert_eq!(
        kraken_trades_page(&r.body, "BTC/USD").1[..],
        gt[gt.len() - 1000..]
    );
    let r = get(&format!("{base}?pair=XBTUSD&count=10")).await;
    assert_eq!(
        kraken_trades_page(&r.body, "BTC/USD").1[..],
        gt[gt.len() - 10..]
    );
    // since in seconds, and in float seconds (a trade's exact time: exclusive).
    let s = gt[0].ts_exchange_us / 1_000_000;
    let r = get(&format!("{base}?pair=XBTUSD&since={s}&count=2")).await;
    assert_eq!(kraken_trades_page(&r.body, "BTC/USD").1[..], gt[..2]);
    let t = gt[500].ts_exchange_us;
    let r = get(&format!(
        "{base}?pair=XBTUSD&since={}.{:06}&count=2",
        t / 1_000_000,
        t % 1_000_000
    ))
    .await;
    assert_eq!(kraken_trades_page(&r.body, "BTC/USD").1[..], gt[501..503]);

    // Errors: HTTP 200 with an error array.
    let r = get(&format!("{base}?pair=NOPEUSD")).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, r#"{"error":["EQuery:Unknown asset pair"]}"#)
    );
    for q in [
        "",
        "pair=XBTUSD&count=0",
        "pair=XBTUSD&count=x",
        "pair=XBTUSD&since=-5",
    ] {
        let v = get_json(&format!("{base}?{q}")).await;
        let e = v["error"][0].as_str().unwrap();
        assert!(e.starts_with("EGeneral:Invalid arguments"), "{q}: {v}");
        assert!(v.get("result").is_none());
    }
    let r = get(&format!("{}/0/private/Balance", sim.kraken_rest_url())).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({"error":["EGeneral:Unknown method"]}));
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_ohlc_and_asset_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let n = 2500u64;
    let (sim, gt) = finished_tape(Venue::Kraken, &["BTC/USD", "ETH/USD"], 5000.0, n, &dir).await;
    let btc: Vec<TapeTrade> = gt
        .iter()
        .filter(|t| t.symbol == "BTC/USD")
        .cloned()
        .collect();
    let base = sim.kraken_rest_url();
    let v = get_json(&format!("{base}/0/public/OHLC?pair=XBTUSD&interval=1")).await;
    assert_eq!(v["error"], json!([]));
    let rows = v["result"]["XXBTZUSD"].as_array().unwrap().clone();
    let expect = minutes(&btc);
    let first_open = *expect.keys().next().unwrap();
    assert_eq!(rows[0][0].as_i64().unwrap() * 1_000_000, first_open);
    let mut total = 0;
    for (i, r) in rows.iter().enumerate() {
        let r = r.as_array().unwrap();
        assert_eq!(r.len(), 8);
        let open = r[0].as_i64().unwrap() * 1_000_000;
        assert_eq!(open, first_open + i as i64 * MINUTE_US);
        for p in &r[1..=5] {
            let p = p.as_str().unwrap();
            assert_eq!(
                p.split_once('.').unwrap().1.len(),
                1,
                "pair_decimals 1: {p}"
            );
        }
        assert_eq!(r[6].as_str().unwrap().split_once('.').unwrap().1.len(), 8);
        let count = r[7].as_u64().unwrap();
        total += count;
        match expect.get(&open) {
            Some((o, h, l, c, vol, cnt)) => {
                let s = |k: usize| norm(r[k].as_str().unwrap());
                assert_eq!(
                    (s(1), s(2), s(3), s(4)),
                    (norm(o), norm(h), norm(l), norm(c))
                );
                assert_eq!(units(r[6].as_str().unwrap()), *vol);
                assert_eq!(count, *cnt);
                let vwap: f64 = r[5].as_str().unwrap().parse().unwrap();
                let (lo, hi): (f64, f64) = (l.parse().unwrap(), h.parse().unwrap());
                assert!(lo <= vwap && vwap <= hi);
            }
            None => {
                assert_eq!(count, 0);
                assert_eq!(r[5], "0.0");
                assert_eq!(r[6], "0.00000000");
            }
        }
    }
    assert_eq!(total, n);
    let last = v["result"]["last"].as_i64().unwrap();
    let expect_last = if rows.len() >= 2 {
        rows[rows.len() - 2][0].as_i64().unwrap()
    } else {
        rows[0][0].as_i64().unwrap()
    };
    assert_eq!(last, expect_last, "last = the last committed candle");
    // since filters committed rows; the running candle is always there.
    let v = get_json(&format!(
        "{base}/0/public/OHLC?pair=XBTUSD&since={}",
        rows.last().unwrap()[0]
    ))
    .await;
    let after = v["result"]["XXBTZUSD"].as_array().unwrap();
    assert!(!after.is_empty());
    assert!(after.len() <= 2, "a new minute may have begun meanwhile");
    let v = get_json(&format!("{base}/0/public/OHLC?pair=XBTUSD&interval=5")).await;
    assert!(v["error"][0]
        .as_str()
        .unwrap()
        .starts_with("EGeneral:Invalid arguments"));
    let v = get_json(&format!("{base}/0/public/OHLC?pair=DOGEUSD")).await;
    assert_eq!(v, json!({"error":["EQuery:Unknown asset pair"]}));

    let v = get_json(&format!("{base}/0/public/AssetPairs")).await;
    let x = &v["result"]["XXBTZUSD"];
    assert_eq!(x["altname"], "XBTUSD");
    assert_eq!(x["wsname"], "XBT/USD");
    assert_eq!(x["base"], "XXBT");
    assert_eq!(x["quote"], "ZUSD");
    assert_eq!(x["pair_decimals"], 1);
    assert_eq!(x["lot_decimals"], 8);
    assert_eq!(x["tick_size"], "0.1");
    assert_eq!(x["status"], "online");
    assert_eq!(v["result"]["XETHZUSD"]["pair_decimals"], 2);
    let v = get_json(&format!("{base}/0/public/AssetPairs?pair=ETHUSD")).await;
    assert_eq!(v["result"].as_object().unwrap().len(), 1);
    let v = get_json(&format!("{base}/0/public/AssetPairs?pair=NOPE")).await;
    assert_eq!(v, json!({"error":["EQuery:Unknown asset pair"]}));
    sim.shutdown().await.unwrap();
}

#[derive(serde::Deserialize)]
struct KWsTrade<'a> {
    symbol: String,
    side: String,
    #[serde(borrow)]
    price: &'a RawValue,
    #[serde(borrow)]
    qty: &'a RawValue,
    trade_id: u64,
    timestamp: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_agrees_with_websocket_and_never_serves_the_future() {
    let mut c = SimConfig::new(vec![
        SimMarket::new(Venue::Binance, "BTC/USDT"),
        SimMarket::new(Venue::Kraken, "BTC/USD"),
    ]);
    c.rate_per_market = 500.0;
    let sim = start(c).await.unwrap();

    // Binance.
    let mut ws = connect(&format!("{}/ws/btcusdt@trade", sim.binance_ws_url())).await;
    let mut ws_trades = Vec::new();
    while ws_trades.len() < 300 {
        ws_trades.push(binance_ws_trade(
            &parse(&next_text(&mut ws).await),
            "BTC/USDT",
        ));
    }
    let v = get_json(&format!(
        "{}/api/v3/trades?symbol=BTCUSDT&limit=1000",
        sim.binance_rest_url()
    ))
    .await;
    let published = sim.market_published(Venue::Binance, "BTC/USDT").unwrap();
    let rest: Vec<TapeTrade> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| binance_rest_trade(r, "BTC/USDT"))
        .collect();
    let first = first_trade_id(Venue::Binance, "BTC/USDT");
    assert!(
        rest.last().unwrap().trade_id < first + published,
        "no future trade"
    );
    let off = (ws_trades[0].trade_id - rest[0].trade_id) as usize;
    assert_eq!(rest[off..off + 300], ws_trades[..], "REST = WebSocket");

    // Kraken: JSON numbers on the WebSocket, fixed-decimal strings on REST, same values.
    let mut k = connect(&sim.kraken_ws_url()).await;
    next_text(&mut k).await;
    send(
        &mut k,
        json!({"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD"],"snapshot":false}}),
    )
    .await;
    next_where(&mut k, |v| v["method"] == "subscribe").await;
    let mut kws = Vec::new();
    while kws.len() < 300 {
        let raw = next_text(&mut k).await;
        if raw.contains(r#""channel":"heartbeat""#) {
            continue;
        }
        #[derive(serde::Deserialize)]
        struct Msg<'a> {
            #[serde(borrow)]
            data: Vec<KWsTrade<'a>>,
        }
        let m: Msg<'_> = serde_json::from_str(&raw).unwrap();
        for t in m.data {
            assert_eq!(t.symbol, "BTC/USD");
            kws.push(TapeTrade {
                venue: Venue::Kraken,
                symbol: "BTC/USD".into(),
                trade_id: t.trade_id,
                price: norm(t.price.get()),
                qty: norm(t.qty.get()),
                side: if t.side == "buy" {
                    Side::Buy
                } else {
                    Side::Sell
                },
                ts_exchange_us: parse_rfc3339_us(&t.timestamp).unwrap(),
            });
        }
    }
    let r = get(&format!(
        "{}/0/public/Trades?pair=XBTUSD",
        sim.kraken_rest_url()
    ))
    .await;
    let published = sim.market_published(Venue::Kraken, "BTC/USD").unwrap();
    let (_, rest, _) = kraken_trades_page(&r.body, "BTC/USD");
    let first = first_trade_id(Venue::Kraken, "BTC/USD");
    assert!(
        rest.last().unwrap().trade_id < first + published,
        "no future trade"
    );
    let off = (kws[0].trade_id - rest[0].trade_id) as usize;
    assert_eq!(rest[off..off + kws.len()], kws[..], "REST = WebSocket");
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_keep_alive_pipelining_and_close() {
    let sim = start(SimConfig::new(vec![SimMarket::new(
        Venue::Binance,
        "BTC/USDT",
    )]))
    .await
    .unwrap();
    let host = sim.addr().to_string();
    let mut s = TcpStream::connect(&host).await.unwrap();
    // Two pipelined keep-alive requests, then one asking to close.
    let req = format!(
        "GET /binance/api/v3/ping HTTP/1.1\r\nHost: {host}\r\n\r\n\
         GET /kraken/0/public/Time HTTP/1.1\r\nHost: {host}\r\n\r\n\
         GET /binance/api/v3/time HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let (a, used) = parse_response(&buf).unwrap();
    assert_eq!((a.status, a.body.as_str()), (200, "{}"));
    assert_eq!(a.header("Connection"), Some("keep-alive"));
    let (b, used2) = parse_response(&buf[used..]).unwrap();
    assert_eq!(b.status, 200);
    assert!(b.json()["result"]["unixtime"].as_i64().unwrap() > 1_600_000_000);
    let (c, used3) = parse_response(&buf[used + used2..]).unwrap();
    assert_eq!(c.header("Connection"), Some("close"));
    assert!(c.json()["serverTime"].is_i64());
    assert_eq!(
        used + used2 + used3,
        buf.len(),
        "closed after the last response"
    );

    // HTTP/1.0 closes by default.
    let mut s = TcpStream::connect(&host).await.unwrap();
    s.write_all(b"GET /binance/api/v3/ping HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parse_response(&buf).unwrap().0.status, 200);

    // Garbage is answered with 400 and a close.
    let mut s = TcpStream::connect(&host).await.unwrap();
    s.write_all(b"GET /binance/api/v3/ping\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parse_response(&buf).unwrap().0.status, 400);
    sim.shutdown().await.unwrap();
}
