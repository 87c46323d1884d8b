//! Fault injection end to end: for each fault a real client observes it, and whatever the
//! WebSocket hid is still published (REST, ground truth). Waits are for conditions with generous
//! timeouts; the only timing assertions bound a silence from below.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use tickrec_model::Venue;
use tickrec_simulator::{
    first_trade_id, read_ground_truth, start, Fault, ScheduledFault, SimConfig, SimHandle,
    SimMarket, StartMode, TapeTrade, OVERSIZED_FRAME_BYTES,
};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const BTC_USDT: &str = "BTC/USDT";
const BTC_USD: &str = "BTC/USD";

fn both(rate: f64) -> SimConfig {
    let mut c = SimConfig::new(vec![
        SimMarket::new(Venue::Binance, BTC_USDT),
        SimMarket::new(Venue::Kraken, BTC_USD),
    ]);
    c.rate_per_market = rate;
    c.start = StartMode::Immediately;
    c
}

async fn binance_trades(sim: &SimHandle) -> Ws {
    connect(&format!("{}/ws/btcusdt@trade", sim.binance_ws_url())).await
}

async fn kraken_trades(sim: &SimHandle, snapshot: bool) -> Ws {
    let mut ws = connect(&sim.kraken_ws_url()).await;
    next_text(&mut ws).await; // status
    send(
        &mut ws,
        json!({"method":"subscribe","params":{"channel":"trade","symbol":[BTC_USD],"snapshot":snapshot},"req_id":1}),
    )
    .await;
    let ack = next_where(&mut ws, |v| v["req_id"] == 1).await;
    assert_eq!(ack["success"], true, "{ack}");
    ws
}

/// Reads until the connection ends; true if it ended without a close frame.
async fn ends_abruptly(ws: &mut Ws) -> bool {
    loop {
        match next_frame(ws).await {
            None => return true,
            Some(Message::Close(_)) => return false,
            Some(_) => {}
        }
    }
}

/// Trade ids of the next frames until `n` ids were seen (heartbeats and non-trade frames skipped).
async fn next_ids(ws: &mut Ws, venue: Venue, n: usize) -> Vec<u64> {
    let mut ids = Vec::new();
    while ids.len() < n {
        ids.extend(ids_in(&next_text(ws).await, venue));
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_connections_closes_sockets_without_close_frame() {
    let sim = start(both(500.0)).await.unwrap();
    let mut b = binance_trades(&sim).await;
    let mut k = kraken_trades(&sim, false).await;
    next_ids(&mut b, Venue::Binance, 5).await;
    next_ids(&mut k, Venue::Kraken, 5).await;

    sim.inject(Fault::DropConnections {
        venue: Some(Venue::Binance),
    })
    .unwrap();
    assert!(ends_abruptly(&mut b).await, "dropped, not closed");
    // The other venue is untouched, and the tape goes on.
    let before = next_ids(&mut k, Venue::Kraken, 1).await[0];
    let later = next_ids(&mut k, Venue::Kraken, 20).await;
    assert!(later[0] > before);

    // Reconnecting works; the ids show what was missed meanwhile.
    let mut b = binance_trades(&sim).await;
    next_ids(&mut b, Venue::Binance, 5).await;

    sim.inject(Fault::DropConnections { venue: None }).unwrap();
    assert!(ends_abruptly(&mut b).await);
    assert!(ends_abruptly(&mut k).await);
    sim.shutdown().await.unwrap();
}

/// Reads frames (of any kind) until a gap of at least `min_gap` between two frames has been
/// observed and `after` frames followed it; returns the gap and the text frames around it.
async fn observe_gap(ws: &mut Ws, min_gap: Duration) -> (Duration, Vec<String>, Vec<String>) {
    let mut last = Instant::now();
    let mut before = Vec::new();
    let mut after: Vec<String> = Vec::new();
    let mut gap = None;
    loop {
        let m = next_frame(ws).await.expect("connection ended");
        let now = Instant::now();
        let text = match &m {
            Message::Text(t) => Some(t.to_string()),
            _ => None,
        };
        if gap.is_none() && now - last >= min_gap {
            gap = Some(now - last);
        }
        match (gap, text) {
            (None, Some(t)) => before.push(t),
            (Some(_), Some(t)) => {
                after.push(t);
                if after.len() >= 3 {
                    return (gap.unwrap(), before, after);
                }
            }
            _ => {}
        }
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_sends_nothing_then_resumes_with_a_gap_rest_fills() {
    let mut c = both(1000.0);
    c.binance_ping_interval = Duration::from_millis(50);
    let sim = start(c).await.unwrap();
    let mut b = binance_trades(&sim).await;
    let seen = next_ids(&mut b, Venue::Binance, 50).await;
    let silence = Duration::from_millis(1500);
    sim.inject(Fault::Silence {
        venue: Venue::Binance,
        duration: silence,
    })
    .unwrap();
    // Nothing at all — not even the 50 ms pings — for the silence (minus what was in flight).
    let (gap, before, after) = observe_gap(&mut b, Duration::from_millis(1000)).await;
    assert!(gap >= Duration::from_millis(1000), "{gap:?}");
    let last_before = before
        .iter()
        .flat_map(|f| ids_in(f, Venue::Binance))
        .chain(seen)
        .max()
        .unwrap();
    let first_after = ids_in(&after[0], Venue::Binance)[0];
    assert!(
        first_after > last_before + 500,
        "what was published meanwhile was not sent: {last_before} → {first_after}"
    );
    // ... but it was published: REST serves the hole, equal to the tape.
    let v = get_json(&format!(
        "{}/api/v3/historicalTrades?symbol=BTCUSDT&fromId={}&limit=1000",
        sim.binance_rest_url(),
        last_before + 1
    ))
    .await;
    let rows = v.as_array().unwrap();
    let need = (first_after - last_before - 1).min(1000) as usize;
    assert!(rows.len() >= need);
    for (i, r) in rows.iter().take(need).enumerate() {
        assert_eq!(r["id"], last_before + 1 + i as u64);
    }
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_silence_has_no_heartbeats_either() {
    let mut c = both(1.0);
    c.heartbeat_interval = Duration::from_millis(20);
    let sim = start(c).await.unwrap();
    let mut k = kraken_trades(&sim, false).await;
    // Heartbeats flow while idle.
    next_where(&mut k, |v| v["channel"] == "heartbeat").await;
    next_where(&mut k, |v| v["channel"] == "heartbeat").await;
    sim.inject(Fault::Silence {
        venue: Venue::Kraken,
        duration: Duration::from_millis(1200),
    })
    .unwrap();
    let (gap, _, after) = observe_gap(&mut k, Duration::from_millis(800)).await;
    assert!(gap >= Duration::from_millis(800), "{gap:?}");
    assert!(
        after.iter().any(|t| t.contains("heartbeat")),
        "heartbeats resume"
    );
    // A connection opened during a silence gets nothing, not even the status, until it ends.
    sim.inject(Fault::Silence {
        venue: Venue::Kraken,
        duration: Duration::from_millis(800),
    })
    .unwrap();
    let t0 = Instant::now();
    let mut k2 = connect(&sim.kraken_ws_url()).await;
    let status = parse(&next_text(&mut k2).await);
    assert_eq!(status["channel"], "status");
    assert!(
        t0.elapsed() >= Duration::from_millis(700),
        "{:?}",
        t0.elapsed()
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_trade_ids_jump_on_ws_and_rest_serves_them() {
    for venue in [Venue::Binance, Venue::Kraken] {
        let symbol = match venue {
            Venue::Binance => BTC_USDT,
            Venue::Kraken => BTC_USD,
            v => unreachable!("{v} is not simulated"),
        };
        let dir = tempfile::tempdir().unwrap();
        let n = 3000u64;
        let c = cfg(vec![SimMarket::new(venue, symbol)], 2000.0, n, &dir);
        let gt_path = c.ground_truth.clone().unwrap();
        let sim = start(c).await.unwrap();
        let mut ws = match venue {
            Venue::Binance => binance_trades(&sim).await,
            Venue::Kraken => kraken_trades(&sim, false).await,
            v => unreachable!("{v} is not simulated"),
        };
        let first = first_trade_id(venue, symbol);
        let mut ids = next_ids(&mut ws, venue, 200).await;
        sim.inject(Fault::SkipTradeIds {
            venue,
            symbol: symbol.into(),
            count: 100,
        })
        .unwrap();
        while *ids.last().unwrap() < first + n - 1 {
            ids.extend(ids_in(&next_text(&mut ws).await, venue));
        }
        // Exactly one jump, over exactly 100 ids.
        let jumps: Vec<(u64, u64)> = ids
            .windows(2)
            .filter(|w| w[1] != w[0] + 1)
            .map(|w| (w[0], w[1]))
            .collect();
        assert_eq!(jumps.len(), 1, "{venue}: {jumps:?}");
        let (a, b) = jumps[0];
        assert_eq!(b - a - 1, 100, "{venue}");
        assert_eq!(ids.len() as u64, n - 100, "{venue}");

        // Published all the same: ground truth and REST have them.
        finished(&sim).await;
        let gt = read_ground_truth(&gt_path).unwrap();
        assert_eq!(gt.len() as u64, n);
        let hole: Vec<TapeTrade> = gt
            .iter()
            .filter(|t| t.trade_id > a && t.trade_id < b)
            .cloned()
            .collect();
        assert_eq!(hole.len(), 100);
        let served: Vec<TapeTrade> = match venue {
            Venue::Binance => {
                let v = get_json(&format!(
                    "{}/api/v3/historicalTrades?symbol=BTCUSDT&fromId={}&limit=100",
                    sim.binance_rest_url(),
                    a + 1
                ))
                .await;
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|r| binance_rest_trade(r, symbol))
                    .collect()
            }
            Venue::Kraken => {
                // Backfill the way a recorder does: since = the last good trade's time,
                // dedupe by id.
                let last_good = gt.iter().find(|t| t.trade_id == a).unwrap();
                let r = get(&format!(
                    "{}/0/public/Trades?pair=XBTUSD&since={}",
                    sim.kraken_rest_url(),
                    last_good.ts_exchange_us * 1000 - 1
                ))
                .await;
                let (_, rows, _) = kraken_trades_page(&r.body, symbol);
                rows.into_iter()
                    .filter(|t| t.trade_id > a && t.trade_id < b)
                    .collect()
            }
            v => unreachable!("{v} is not simulated"),
        };
        let hole: Vec<TapeTrade> = match venue {
            Venue::Binance => hole,
            Venue::Kraken => hole.iter().map(normalised).collect(),
            v => unreachable!("{v} is not simulated"),
        };
        assert_eq!(served, hole, "{venue}");
        sim.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_and_reorders_are_visible_and_lose_nothing() {
    for venue in [Venue::Binance, Venue::Kraken] {
        let sim = start(both(1000.0)).await.unwrap();
        let mut ws = match venue {
            Venue::Binance => binance_trades(&sim).await,
            Venue::Kraken => kraken_trades(&sim, false).await,
            v => unreachable!("{v} is not simulated"),
        };
        next_ids(&mut ws, venue, 20).await;
        sim.inject(Fault::Duplicate { venue, count: 3 }).unwrap();
        sim.inject(Fault::Reorder { venue, count: 2 }).unwrap();
        // Duplicates come first (frames duplicated whole), then swaps; read plenty.
        let frames: Vec<String> = {
            let mut f = Vec::new();
            let mut ids = 0;
            while ids < 3000 {
                let t = next_text(&mut ws).await;
                let n = ids_in(&t, venue).len();
                if n > 0 {
                    ids += n;
                    f.push(t);
                }
            }
            f
        };
        let dup_frames = frames.windows(2).filter(|w| w[0] == w[1]).count();
        assert_eq!(dup_frames, 3, "{venue}: three frames sent twice");
        // Swaps, seen with each duplicate counted once (a duplicated multi-trade Kraken frame
        // would itself look like a descent).
        let mut distinct = frames.clone();
        distinct.dedup();
        let ids: Vec<u64> = distinct.iter().flat_map(|f| ids_in(f, venue)).collect();
        let descents = ids.windows(2).filter(|w| w[1] < w[0]).count();
        assert_eq!(descents, 2, "{venue}: two swaps");
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let (lo, hi) = (sorted[0], *sorted.last().unwrap());
        assert_eq!(sorted.len() as u64, hi - lo + 1, "{venue}: nothing lost");
        sim.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_are_interleaved_and_extra() {
    for venue in [Venue::Binance, Venue::Kraken] {
        let sim = start(both(1000.0)).await.unwrap();
        let mut ws = match venue {
            Venue::Binance => binance_trades(&sim).await,
            Venue::Kraken => kraken_trades(&sim, false).await,
            v => unreachable!("{v} is not simulated"),
        };
        next_ids(&mut ws, venue, 20).await;
        sim.inject(Fault::Malformed { venue, count: 3 }).unwrap();
        let (mut truncated, mut binary, mut oversized) = (0, 0, 0);
        let mut ids = Vec::new();
        while truncated + binary + oversized < 3 || ids.len() < 500 {
            match next_frame(&mut ws).await.expect("connection ended") {
                Message::Text(t) if t.len() > OVERSIZED_FRAME_BYTES => oversized += 1,
                Message::Text(t) => match serde_json::from_str::<Value>(&t) {
                    Ok(_) => ids.extend(ids_in(&t, venue)),
                    Err(_) => truncated += 1,
                },
                Message::Binary(b) => {
                    assert!(std::str::from_utf8(&b).is_err());
                    binary += 1;
                }
                _ => {}
            }
        }
        assert_eq!((truncated, binary, oversized), (1, 1, 1), "{venue}");
        assert!(
            ids.windows(2).all(|w| w[1] == w[0] + 1),
            "{venue}: the data itself is complete"
        );
        sim.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_subscription_then_success_on_retry() {
    let sim = start(both(500.0)).await.unwrap();

    // Kraken: a reject ack per symbol, then success.
    sim.inject(Fault::RejectNextSubscription {
        venue: Venue::Kraken,
    })
    .unwrap();
    let mut k = connect(&sim.kraken_ws_url()).await;
    next_text(&mut k).await;
    let sub =
        json!({"method":"subscribe","params":{"channel":"trade","symbol":[BTC_USD]},"req_id":5});
    send(&mut k, sub.clone()).await;
    let v = next_where(&mut k, |v| v["req_id"] == 5).await;
    assert_eq!(v["success"], false);
    assert_eq!(v["error"], "EService:Unavailable");
    assert_eq!(v["symbol"], BTC_USD);
    send(&mut k, sub).await;
    let v = next_where(&mut k, |v| v["req_id"] == 5).await;
    assert_eq!(v["success"], true, "{v}");
    next_ids(&mut k, Venue::Kraken, 10).await;

    // Binance SUBSCRIBE: an error response, then success.
    sim.inject(Fault::RejectNextSubscription {
        venue: Venue::Binance,
    })
    .unwrap();
    let mut b = connect(&format!("{}/ws", sim.binance_ws_url())).await;
    let sub = json!({"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":9});
    send(&mut b, sub.clone()).await;
    let v = next_where(&mut b, |v| v["id"] == 9).await;
    assert_eq!(v["error"]["code"], 2, "{v}");
    send(&mut b, sub).await;
    let v = next_where(&mut b, |v| v["id"] == 9).await;
    assert_eq!(v, json!({"result":null,"id":9}));
    next_ids(&mut b, Venue::Binance, 10).await;

    // Binance streams in the URL: the handshake is refused, the retry succeeds.
    sim.inject(Fault::RejectNextSubscription {
        venue: Venue::Binance,
    })
    .unwrap();
    let url = format!("{}/stream?streams=btcusdt@trade", sim.binance_ws_url());
    match connect_async(&url).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 400),
        other => panic!("expected HTTP 400, got {other:?}"),
    }
    let mut b2 = connect(&url).await;
    next_ids(&mut b2, Venue::Binance, 10).await;
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_get_429_until_the_window_ends() {
    let sim = start(both(100.0)).await.unwrap();
    let mut open = binance_trades(&sim).await;
    sim.inject(Fault::RefuseConnections {
        venue: Venue::Binance,
        duration: Duration::from_millis(1500),
    })
    .unwrap();
    let url = format!("{}/ws/btcusdt@trade", sim.binance_ws_url());
    match connect_async(&url).await {
        Err(WsError::Http(resp)) => {
            assert_eq!(resp.status(), 429);
            let retry: u64 = resp.headers()["Retry-After"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=2).contains(&retry), "{retry}");
        }
        other => panic!("expected HTTP 429, got {other:?}"),
    }
    // Other venues accept; open connections keep streaming.
    kraken_trades(&sim, false).await;
    next_ids(&mut open, Venue::Binance, 5).await;
    // Retrying eventually succeeds.
    let t0 = Instant::now();
    let mut ws = loop {
        match connect_async(&url).await {
            Ok((ws, _)) => break ws,
            Err(WsError::Http(resp)) if resp.status() == 429 => {}
            Err(e) => panic!("{e}"),
        }
        assert!(t0.elapsed() < WAIT, "still refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    next_ids(&mut ws, Venue::Binance, 5).await;
    sim.shutdown().await.unwrap();
}

/// A burst keeps every trade and the tape's content; its timestamps are compressed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_publishes_fast_and_stays_exact() {
    for venue in [Venue::Binance, Venue::Kraken] {
        let symbol = match venue {
            Venue::Binance => BTC_USDT,
            Venue::Kraken => BTC_USD,
            v => unreachable!("{v} is not simulated"),
        };
        let dir = tempfile::tempdir().unwrap();
        let n = 25_000u64;
        let burst = 22_000u64;
        let c = cfg(vec![SimMarket::new(venue, symbol)], 1000.0, n, &dir);
        let gt_path = c.ground_truth.clone().unwrap();
        let sim = start(c).await.unwrap();
        let mut ws = match venue {
            Venue::Binance => binance_trades(&sim).await,
            Venue::Kraken => kraken_trades(&sim, false).await,
            v => unreachable!("{v} is not simulated"),
        };
        let first = first_trade_id(venue, symbol);
        let mut ids = next_ids(&mut ws, venue, 200).await;
        sim.inject(Fault::Burst {
            venue,
            symbol: symbol.into(),
            trades: burst,
            rate: 200_000.0,
        })
        .unwrap();
        while *ids.last().unwrap() < first + n - 1 {
            ids.extend(ids_in(&next_text(&mut ws).await, venue));
        }
        assert!(
            ids.windows(2).all(|w| w[1] == w[0] + 1),
            "{venue}: nothing lost"
        );
        finished(&sim).await;
        let gt = read_ground_truth(&gt_path).unwrap();
        assert_eq!(gt.len() as u64, n);
        // Some `burst` consecutive trades span ≈ burst / rate (110 ms) of exchange time.
        let span = gt
            .windows(burst as usize)
            .map(|w| w[w.len() - 1].ts_exchange_us - w[0].ts_exchange_us)
            .min()
            .unwrap();
        assert!(span <= 115_000, "{venue}: {span} µs");
        assert!(gt
            .windows(2)
            .all(|w| w[0].ts_exchange_us <= w[1].ts_exchange_us));
        // REST replays the burst exactly.
        let rest: Vec<TapeTrade> = match venue {
            Venue::Binance => {
                let mut all = Vec::new();
                let mut from = first;
                while all.len() < n as usize {
                    let v = get_json(&format!(
                        "{}/api/v3/historicalTrades?symbol=BTCUSDT&fromId={from}&limit=1000",
                        sim.binance_rest_url()
                    ))
                    .await;
                    let page: Vec<TapeTrade> = v
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| binance_rest_trade(r, symbol))
                        .collect();
                    from += page.len() as u64;
                    all.extend(page);
                }
                all
            }
            Venue::Kraken => {
                let mut all = Vec::new();
                let mut since = 0;
                while all.len() < n as usize {
                    let r = get(&format!(
                        "{}/0/public/Trades?pair=XBTUSD&since={since}",
                        sim.kraken_rest_url()
                    ))
                    .await;
                    let (_, page, last) = kraken_trades_page(&r.body, symbol);
                    since = last;
                    all.extend(page);
                }
                all
            }
            v => unreachable!("{v} is not simulated"),
        };
        let gt: Vec<TapeTrade> = match venue {
            Venue::Binance => gt,
            Venue::Kraken => gt.iter().map(normalised).collect(),
            v => unreachable!("{v} is not simulated"),
        };
        assert_eq!(rest, gt, "{venue}");
        sim.shutdown().await.unwrap();
    }
}

/// The burst rate, measured by a client. Release only: `cargo test --release -p
/// tickrec-simulator --test faults burst_rate`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(debug_assertions, ignore = "rate check; run in release")]
async fn burst_rate_at_least_100k_messages_per_second() {
    let burst = 300_000usize;
    let mut c = SimConfig::new(vec![SimMarket::new(Venue::Binance, BTC_USDT)]);
    c.rate_per_market = 100.0;
    let sim = start(c).await.unwrap();
    let mut ws = binance_trades(&sim).await;
    next_ids(&mut ws, Venue::Binance, 10).await;
    sim.inject(Fault::Burst {
        venue: Venue::Binance,
        symbol: BTC_USDT.into(),
        trades: burst as u64,
        rate: 250_000.0,
    })
    .unwrap();
    let t0 = Instant::now();
    let mut got = 0;
    let mut next = None;
    while got < burst {
        let raw = next_text(&mut ws).await;
        for id in ids_in(&raw, Venue::Binance) {
            if let Some(n) = next {
                assert_eq!(id, n);
            }
            next = Some(id + 1);
            got += 1;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let rate = burst as f64 / secs;
    eprintln!("burst: {burst} messages in {secs:.3} s ({rate:.0}/s)");
    assert!(rate >= 100_000.0, "{rate:.0} msg/s");
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_faults_fire() {
    let mut c = SimConfig::new(vec![SimMarket::new(Venue::Binance, BTC_USDT)]);
    c.rate_per_market = 500.0;
    c.faults = vec![
        ScheduledFault {
            at: Duration::from_secs(1),
            fault: Fault::DropConnections {
                venue: Some(Venue::Binance),
            },
        },
        // At 0: in force before start() returns.
        ScheduledFault {
            at: Duration::ZERO,
            fault: Fault::SkipTradeIds {
                venue: Venue::Binance,
                symbol: BTC_USDT.into(),
                count: 50,
            },
        },
    ];
    let sim = start(c).await.unwrap();
    let mut ws = binance_trades(&sim).await;
    // The tape starts on this subscription; its first 50 trades are hidden.
    let ids = next_ids(&mut ws, Venue::Binance, 10).await;
    assert_eq!(ids[0], first_trade_id(Venue::Binance, BTC_USDT) + 50);
    assert!(ends_abruptly(&mut ws).await, "dropped at 1 s");
    sim.shutdown().await.unwrap();

    // A schedule naming an unknown market is refused up front.
    let mut c = SimConfig::new(vec![SimMarket::new(Venue::Binance, BTC_USDT)]);
    c.faults = vec![ScheduledFault {
        at: Duration::ZERO,
        fault: Fault::Burst {
            venue: Venue::Kraken,
            symbol: BTC_USDT.into(),
            trades: 1,
            rate: 1000.0,
        },
    }];
    assert!(start(c).await.is_err());
    // So is an injected one.
    let sim = start(SimConfig::new(vec![SimMarket::new(
        Venue::Binance,
        BTC_USDT,
    )]))
    .await
    .unwrap();
    assert!(sim
        .inject(Fault::SkipTradeIds {
            venue: Venue::Binance,
            symbol: "ETH/USDT".into(),
            count: 1
        })
        .is_err());
    sim.shutdown().await.unwrap();
}
