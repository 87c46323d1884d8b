//! End-to-end: real WebSocket clients against the simulator on loopback. Every wait is for a
//! condition with a generous timeout, never a fixed sleep.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tickrec_model::{parse_rfc3339_us, Side, Venue};
use tickrec_simulator::{
    first_trade_id, read_ground_truth, start, SimConfig, SimHandle, SimMarket, StartMode, Tape,
    TapeTrade,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(30);

async fn connect(url: &str) -> Ws {
    let (ws, _) = tokio::time::timeout(WAIT, connect_async(url))
        .await
        .expect("connect timeout")
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    ws
}

/// Next frame of any kind.
async fn next_frame(ws: &mut Ws) -> Message {
    tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("timed out waiting for a frame")
        .expect("connection closed")
        .expect("websocket error")
}

/// Next text frame (control frames skipped), raw.
async fn next_text(ws: &mut Ws) -> String {
    loop {
        match next_frame(ws).await {
            Message::Text(t) => return t.to_string(),
            Message::Close(c) => panic!("closed by server: {c:?}"),
            _ => {}
        }
    }
}

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

/// Next text frame satisfying `pred`, as JSON.
async fn next_where(ws: &mut Ws, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let v = parse(&next_text(ws).await);
        if pred(&v) {
            return v;
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

fn binance_trade(d: &Value, symbol: &str) -> TapeTrade {
    TapeTrade {
        venue: Venue::Binance,
        symbol: symbol.into(),
        trade_id: d["t"].as_u64().unwrap(),
        price: d["p"].as_str().unwrap().into(),
        qty: d["q"].as_str().unwrap().into(),
        side: if d["m"].as_bool().unwrap() {
            Side::Sell
        } else {
            Side::Buy
        },
        ts_exchange_us: d["T"].as_i64().unwrap() * 1000,
    }
}

#[derive(Deserialize)]
struct KTrade {
    symbol: String,
    side: String,
    price: Box<RawValue>,
    qty: Box<RawValue>,
    ord_type: String,
    trade_id: u64,
    timestamp: String,
}

#[derive(Deserialize)]
struct KTradeMsg {
    channel: String,
    #[serde(rename = "type")]
    kind: String,
    data: Vec<KTrade>,
}

fn kraken_trades(raw: &str) -> Option<(String, Vec<TapeTrade>)> {
    let m: KTradeMsg = serde_json::from_str(raw).ok()?;
    if m.channel != "trade" {
        return None;
    }
    let trades = m
        .data
        .into_iter()
        .map(|t| {
            assert!(t.ord_type == "limit" || t.ord_type == "market");
            TapeTrade {
                venue: Venue::Kraken,
                symbol: t.symbol,
                trade_id: t.trade_id,
                price: t.price.get().into(),
                qty: t.qty.get().into(),
                side: match t.side.as_str() {
                    "buy" => Side::Buy,
                    "sell" => Side::Sell,
                    s => panic!("side {s}"),
                },
                ts_exchange_us: parse_rfc3339_us(&t.timestamp).unwrap(),
            }
        })
        .collect();
    Some((m.kind, trades))
}

fn assert_consecutive(trades: &[TapeTrade], first: u64) {
    for (i, t) in trades.iter().enumerate() {
        assert_eq!(t.trade_id, first + i as u64, "trade #{i}");
    }
}

fn cfg(markets: Vec<SimMarket>, rate: f64, n: u64, dir: &tempfile::TempDir) -> SimConfig {
    let mut c = SimConfig::new(markets);
    c.seed = 7;
    c.rate_per_market = rate;
    c.trades_per_market = Some(n);
    c.ground_truth = Some(dir.path().join("gt.csv"));
    c
}

async fn finished(sim: &SimHandle) {
    tokio::time::timeout(WAIT, sim.wait_finished())
        .await
        .expect("tape did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_combined_trades_match_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(
        vec![SimMarket::new(Venue::Binance, "BTC/USDT")],
        2000.0,
        1000,
        &dir,
    );
    let gt_path = c.ground_truth.clone().unwrap();
    let sim = start(c).await.unwrap();
    assert_eq!(
        sim.published(),
        0,
        "OnSubscribe: nothing before a subscriber"
    );
    let mut ws = connect(&format!(
        "{}/stream?streams=btcusdt@trade",
        sim.binance_ws_url()
    ))
    .await;
    let mut got = Vec::new();
    while got.len() < 1000 {
        let raw = next_text(&mut ws).await;
        assert!(
            raw.starts_with(r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":"#),
            "{raw}"
        );
        let v = parse(&raw);
        assert_eq!(v["data"]["M"], true);
        assert_eq!(v["data"]["E"], v["data"]["T"]);
        got.push(binance_trade(&v["data"], "BTC/USDT"));
    }
    assert_consecutive(&got, first_trade_id(Venue::Binance, "BTC/USDT"));
    for t in &got {
        assert_eq!(t.price.split_once('.').unwrap().1.len(), 8, "{}", t.price);
        assert_eq!(t.qty.split_once('.').unwrap().1.len(), 8, "{}", t.qty);
    }
    finished(&sim).await;
    assert_eq!(sim.published(), 1000);
    assert_eq!(read_ground_truth(&gt_path).unwrap(), got);
    let start_us = sim.tape_start_us(Venue::Binance, "BTC/USDT").unwrap();
    let expect: Vec<_> = Tape::new(7, Venue::Binance, "BTC/USDT", start_us, 2000.0)
        .take(1000)
        .collect();
    assert_eq!(got, expect, "the wire carries exactly the pure tape");
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_live_control_requests() {
    let mut c = SimConfig::new(vec![SimMarket::new(Venue::Binance, "BTC/USDT")]);
    c.rate_per_market = 500.0;
    c.binance_ping_interval = Duration::from_millis(200);
    let sim = start(c).await.unwrap();

    // Unknown path: HTTP 404 during the handshake.
    assert!(connect_async(format!("ws://{}/nope", sim.addr()))
        .await
        .is_err());

    let mut ws = connect(&format!("{}/ws", sim.binance_ws_url())).await;
    send(
        &mut ws,
        json!({"method":"SUBSCRIBE","params":["btcusdt@aggTrade","btcusdt@bookTicker","nopeusdt@trade"],"id":1}),
    )
    .await;
    assert_eq!(next_text(&mut ws).await, r#"{"result":null,"id":1}"#);
    send(&mut ws, json!({"method":"LIST_SUBSCRIPTIONS","id":2})).await;
    // The tape started with the subscription: data may precede the response; keep it.
    let mut early = Vec::new();
    let v = loop {
        let v = parse(&next_text(&mut ws).await);
        if v["id"] == 2 {
            break v;
        }
        early.push(v);
    };
    assert_eq!(
        v,
        json!({"result":["btcusdt@aggTrade","btcusdt@bookTicker","nopeusdt@trade"],"id":2})
    );

    // Raw stream: bare payloads; one aggregate and one book ticker per trade.
    let first = first_trade_id(Venue::Binance, "BTC/USDT");
    let mut aggs = Vec::new();
    let mut books = 0;
    let mut early = early.into_iter();
    while aggs.len() < 100 || books < 100 {
        let v = match early.next() {
            Some(v) => v,
            None => parse(&next_text(&mut ws).await),
        };
        assert!(v.get("stream").is_none(), "raw stream is not wrapped: {v}");
        if v["e"] == "aggTrade" {
            assert_eq!(v["s"], "BTCUSDT");
            assert_eq!(v["f"], v["l"]);
            aggs.push((v["a"].as_u64().unwrap(), v["f"].as_u64().unwrap()));
        } else if v.get("u").is_some() {
            let bid: f64 = v["b"].as_str().unwrap().parse().unwrap();
            let ask: f64 = v["a"].as_str().unwrap().parse().unwrap();
            assert!(bid < ask, "{v}");
            assert_eq!(v.as_object().unwrap().len(), 6);
            books += 1;
        } else {
            panic!("unexpected {v}");
        }
    }
    for (i, (a, f)) in aggs.iter().enumerate() {
        assert_eq!(*a, aggs[0].0 + i as u64);
        assert_eq!(*f, first + i as u64);
    }

    // Errors.
    ws.send(Message::text("{not json")).await.unwrap();
    let v = next_where(&mut ws, |v| v.get("error").is_some()).await;
    assert_eq!(v["id"], Value::Null);
    assert_eq!(v["error"]["code"], 3);
    assert!(v["error"]["msg"]
        .as_str()
        .unwrap()
        .starts_with("Invalid JSON"));
    send(
        &mut ws,
        json!({"method":"SUBSCRIBE","params":["BTCUSDT"],"id":3}),
    )
    .await;
    let v = next_where(&mut ws, |v| v.get("error").is_some()).await;
    assert_eq!(
        v,
        json!({"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":3})
    );
    send(&mut ws, json!({"method":"NOPE","id":4})).await;
    let v = next_where(&mut ws, |v| v.get("error").is_some()).await;
    assert_eq!(v["id"], 4);
    assert_eq!(v["error"]["code"], 2);

    // Pings both ways.
    ws.send(Message::Ping(Bytes::from_static(b"hi")))
        .await
        .unwrap();
    let mut got_pong = false;
    let mut got_ping = false;
    while !(got_pong && got_ping) {
        match next_frame(&mut ws).await {
            Message::Pong(p) => {
                assert_eq!(&p[..], b"hi");
                got_pong = true;
            }
            Message::Ping(_) => got_ping = true,
            _ => {}
        }
    }

    // Unsubscribe: after the ack, no more data for those streams.
    send(
        &mut ws,
        json!({"method":"UNSUBSCRIBE","params":["btcusdt@aggTrade","btcusdt@bookTicker"],"id":5}),
    )
    .await;
    next_where(&mut ws, |v| v["id"] == 5 && v["result"].is_null()).await;
    send(&mut ws, json!({"method":"LIST_SUBSCRIPTIONS","id":6})).await;
    let v = next_where(&mut ws, |v| v["id"] == 6).await;
    assert_eq!(v["result"], json!(["nopeusdt@trade"]));
    let quiet = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            if let Some(Ok(Message::Text(t))) = ws.next().await {
                panic!("data after unsubscribe: {t}");
            }
        }
    })
    .await;
    assert!(quiet.is_err());

    // Combined property.
    send(
        &mut ws,
        json!({"method":"GET_PROPERTY","params":["combined"],"id":7}),
    )
    .await;
    assert_eq!(next_text(&mut ws).await, r#"{"result":false,"id":7}"#);
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_raw_url_stream_and_kline() {
    let mut c = SimConfig::new(vec![SimMarket::new(Venue::Binance, "ETH/USDT")]);
    c.rate_per_market = 200.0;
    let sim = start(c).await.unwrap();
    let mut ws = connect(&format!("{}/ws/ethusdt@trade", sim.binance_ws_url())).await;
    let raw = next_text(&mut ws).await;
    assert!(raw.starts_with(r#"{"e":"trade","E":"#), "{raw}");
    let v = parse(&raw);
    assert_eq!(v["s"], "ETHUSDT");
    assert_eq!(v["t"], first_trade_id(Venue::Binance, "ETH/USDT"));

    // Kline via a second, combined connection (updates every 2 s).
    let mut k = connect(&format!(
        "{}/stream?streams=ethusdt@kline_1m",
        sim.binance_ws_url()
    ))
    .await;
    // The first update may be the close of a minute that just ended (wall clock): skip closes.
    let mut v = parse(&next_text(&mut k).await);
    for _ in 0..3 {
        if v["data"]["k"]["x"] == false {
            break;
        }
        v = parse(&next_text(&mut k).await);
    }
    assert_eq!(v["stream"], "ethusdt@kline_1m");
    let d = &v["data"];
    assert_eq!(d["e"], "kline");
    assert_eq!(d["k"]["i"], "1m");
    assert_eq!(d["k"]["x"], false);
    assert_eq!(d["k"]["B"], "0");
    let t = d["k"]["t"].as_i64().unwrap();
    assert_eq!(t % 60_000, 0);
    assert_eq!(d["k"]["T"].as_i64().unwrap(), t + 59_999);
    let n = d["k"]["n"].as_u64().unwrap();
    assert!(n > 0);
    assert_eq!(
        d["k"]["L"].as_u64().unwrap() - d["k"]["f"].as_u64().unwrap() + 1,
        n
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_trade_flow_matches_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(
        vec![SimMarket::new(Venue::Kraken, "BTC/USD")],
        2000.0,
        600,
        &dir,
    );
    c.heartbeat_interval = Duration::from_millis(100);
    let gt_path = c.ground_truth.clone().unwrap();
    let sim = start(c).await.unwrap();
    let mut ws = connect(&sim.kraken_ws_url()).await;
    let status = parse(&next_text(&mut ws).await);
    assert_eq!(status["channel"], "status");
    assert_eq!(status["type"], "update");
    assert_eq!(status["data"][0]["system"], "online");
    assert_eq!(status["data"][0]["api_version"], "v2");
    let cid = status["data"][0]["connection_id"].as_u64().unwrap();
    assert!(cid > i64::MAX as u64, "first connection id exceeds i64");

    send(
        &mut ws,
        json!({"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD"],"snapshot":true},"req_id":7}),
    )
    .await;
    let ack = parse(&next_text(&mut ws).await);
    assert_eq!(ack["method"], "subscribe");
    assert_eq!(ack["req_id"], 7);
    assert_eq!(ack["success"], true);
    assert_eq!(
        ack["result"],
        json!({"channel":"trade","snapshot":true,"symbol":"BTC/USD"})
    );
    let tin = parse_rfc3339_us(ack["time_in"].as_str().unwrap()).unwrap();
    let tout = parse_rfc3339_us(ack["time_out"].as_str().unwrap()).unwrap();
    assert!(tin <= tout);

    let mut got = Vec::new();
    let mut snapshot_seen = false;
    let mut max_batch = 0;
    while got.len() < 600 {
        let raw = next_text(&mut ws).await;
        if raw == r#"{"channel":"heartbeat"}"# {
            continue;
        }
        let (kind, trades) = kraken_trades(&raw).unwrap_or_else(|| panic!("{raw}"));
        if !snapshot_seen {
            assert_eq!(kind, "snapshot");
            snapshot_seen = true;
        } else {
            assert_eq!(kind, "update");
            assert!(!trades.is_empty());
        }
        max_batch = max_batch.max(trades.len());
        got.extend(trades);
    }
    assert!(max_batch > 1, "several due trades share one message");
    assert_consecutive(&got, first_trade_id(Venue::Kraken, "BTC/USD"));
    for t in &got {
        assert_eq!(t.price.split_once('.').unwrap().1.len(), 1, "{}", t.price);
        let q = t.qty.split_once('.').unwrap().1;
        assert!(q.len() == 1 || !q.ends_with('0'), "{}", t.qty);
    }
    finished(&sim).await;
    assert_eq!(read_ground_truth(&gt_path).unwrap(), got);
    let start_us = sim.tape_start_us(Venue::Kraken, "BTC/USD").unwrap();
    assert_eq!(got[0].ts_exchange_us, start_us);
    let expect: Vec<_> = Tape::new(7, Venue::Kraken, "BTC/USD", start_us, 2000.0)
        .take(600)
        .collect();
    assert_eq!(got, expect);

    // Idle: heartbeats.
    next_where(&mut ws, |v| v == &json!({"channel":"heartbeat"})).await;

    // ping → pong.
    send(&mut ws, json!({"method":"ping","req_id":101})).await;
    let v = next_where(&mut ws, |v| v["method"] == "pong").await;
    assert_eq!(v["req_id"], 101);
    assert!(v["time_in"].is_string() && v["time_out"].is_string());
    assert_eq!(v.as_object().unwrap().len(), 4);

    // Rejects.
    send(
        &mut ws,
        json!({"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD","NOPE/USD"]},"req_id":8}),
    )
    .await;
    let v = next_where(&mut ws, |v| v["req_id"] == 8).await;
    assert_eq!(v["success"], false);
    assert_eq!(v["error"], "Already subscribed");
    assert_eq!(v["symbol"], "BTC/USD");
    let v = next_where(&mut ws, |v| v["req_id"] == 8).await;
    assert_eq!(v["success"], false);
    assert_eq!(v["error"], "Currency pair not supported NOPE/USD");
    assert_eq!(v["symbol"], "NOPE/USD");
    assert_eq!(v["method"], "subscribe");
    assert!(v.get("result").is_none());

    ws.send(Message::text("{oops")).await.unwrap();
    let v = next_where(&mut ws, |v| v.get("success").is_some()).await;
    assert_eq!(v["success"], false);
    assert!(v["error"].is_string());

    send(
        &mut ws,
        json!({"method":"subscribe","params":{"channel":"nope","symbol":["BTC/USD"]},"req_id":9}),
    )
    .await;
    let v = next_where(&mut ws, |v| v["req_id"] == 9).await;
    assert_eq!(v["success"], false);

    // Client WebSocket ping → pong frame.
    ws.send(Message::Ping(Bytes::from_static(b"k")))
        .await
        .unwrap();
    loop {
        if let Message::Pong(p) = next_frame(&mut ws).await {
            assert_eq!(&p[..], b"k");
            break;
        }
    }

    // Unsubscribe, twice.
    for (id, ok) in [(10, true), (11, false)] {
        send(
            &mut ws,
            json!({"method":"unsubscribe","params":{"channel":"trade","symbol":["BTC/USD"]},"req_id":id}),
        )
        .await;
        let v = next_where(&mut ws, |v| v["req_id"] == id).await;
        assert_eq!(v["success"], ok, "{v}");
    }
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_ticker_and_ohlc() {
    let mut c = SimConfig::new(vec![SimMarket::new(Venue::Kraken, "ETH/USD")]);
    c.rate_per_market = 100.0;
    c.start = StartMode::Immediately;
    let sim = start(c).await.unwrap();
    let mut ws = connect(&sim.kraken_ws_url()).await;
    next_text(&mut ws).await; // status
    send(
        &mut ws,
        json!({"method":"subscribe","params":{"channel":"ticker","symbol":["ETH/USD"],"event_trigger":"bbo"},"req_id":1}),
    )
    .await;
    let ack = parse(&next_text(&mut ws).await);
    assert_eq!(
        ack["result"],
        json!({"channel":"ticker","event_trigger":"bbo","snapshot":true,"symbol":"ETH/USD"})
    );
    let snap = parse(&next_text(&mut ws).await);
    assert_eq!(snap["channel"], "ticker");
    assert_eq!(snap["type"], "snapshot");
    let upd = next_where(&mut ws, |v| v["channel"] == "ticker").await;
    assert_eq!(upd["type"], "update");
    let d = &upd["data"][0];
    assert_eq!(d["symbol"], "ETH/USD");
    assert!(d["bid"].as_f64().unwrap() < d["ask"].as_f64().unwrap());
    for k in [
        "bid_qty",
        "ask_qty",
        "last",
        "volume",
        "vwap",
        "low",
        "high",
        "change",
        "change_pct",
    ] {
        assert!(d[k].is_number(), "{k}: {upd}");
    }

    send(
        &mut ws,
        json!({"method":"subscribe","params":{"channel":"ohlc","symbol":["ETH/USD"],"interval":1},"req_id":2}),
    )
    .await;
    let ack = next_where(&mut ws, |v| v["req_id"] == 2).await;
    assert_eq!(
        ack["result"],
        json!({"channel":"ohlc","interval":1,"snapshot":true,"symbol":"ETH/USD"})
    );
    let snap = next_where(&mut ws, |v| v["channel"] == "ohlc").await;
    assert_eq!(snap["type"], "snapshot");
    let upd = next_where(&mut ws, |v| v["channel"] == "ohlc").await;
    assert_eq!(upd["type"], "update");
    let d = &upd["data"][0];
    assert_eq!(d["interval"], 1);
    let begin = parse_rfc3339_us(d["interval_begin"].as_str().unwrap()).unwrap();
    assert_eq!(begin % 60_000_000, 0);
    assert!(d["interval_begin"]
        .as_str()
        .unwrap()
        .ends_with(".000000000Z"));
    assert_eq!(
        parse_rfc3339_us(d["timestamp"].as_str().unwrap()).unwrap(),
        begin + 60_000_000
    );
    assert!(d["trades"].as_u64().unwrap() > 0);
    assert!(d["low"].as_f64() <= d["high"].as_f64());

    send(
        &mut ws,
        json!({"method":"subscribe","params":{"channel":"ohlc","symbol":["ETH/USD"],"interval":5},"req_id":3}),
    )
    .await;
    let v = next_where(&mut ws, |v| v["req_id"] == 3).await;
    assert_eq!(v["success"], false);
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immediate_tape_is_shared_by_all_connections() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(
        vec![
            SimMarket::new(Venue::Binance, "BTC/USDT"),
            SimMarket::new(Venue::Kraken, "BTC/USD"),
        ],
        1000.0,
        1500,
        &dir,
    );
    c.start = StartMode::Immediately;
    let gt_path = c.ground_truth.clone().unwrap();
    let sim = start(c).await.unwrap();
    let url = format!("{}/stream?streams=btcusdt@trade", sim.binance_ws_url());
    let mut a = connect(&url).await;
    let mut b = connect(&url).await;
    let mut got_a = Vec::new();
    let mut got_b = Vec::new();
    for (ws, got) in [(&mut a, &mut got_a), (&mut b, &mut got_b)] {
        for _ in 0..100 {
            let v = parse(&next_text(ws).await);
            got.push(binance_trade(&v["data"], "BTC/USDT"));
        }
    }
    // The published tape completes without waiting for any Kraken subscriber.
    finished(&sim).await;
    let gt = read_ground_truth(&gt_path).unwrap();
    assert_eq!(gt.len(), 3000);
    assert_eq!(sim.published(), 3000);
    let binance: Vec<_> = gt
        .iter()
        .filter(|t| t.venue == Venue::Binance)
        .cloned()
        .collect();
    let kraken: Vec<_> = gt
        .iter()
        .filter(|t| t.venue == Venue::Kraken)
        .cloned()
        .collect();
    assert_consecutive(&binance, first_trade_id(Venue::Binance, "BTC/USDT"));
    assert_consecutive(&kraken, first_trade_id(Venue::Kraken, "BTC/USD"));
    for got in [&got_a, &got_b] {
        let first = got[0].trade_id;
        assert_consecutive(got, first);
        let off = (first - binance[0].trade_id) as usize;
        assert_eq!(got[..], binance[off..off + got.len()]);
    }

    // A late Kraken subscriber gets the last 50 published trades as its snapshot.
    let mut k = connect(&sim.kraken_ws_url()).await;
    next_text(&mut k).await;
    send(
        &mut k,
        json!({"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD"],"snapshot":true}}),
    )
    .await;
    let ack = parse(&next_text(&mut k).await);
    assert!(ack.get("req_id").is_none());
    let (kind, snap) = kraken_trades(&next_text(&mut k).await).unwrap();
    assert_eq!(kind, "snapshot");
    assert_eq!(snap[..], kraken[kraken.len() - 50..]);
    // Second Kraken connection id is below 2^63.
    let mut k2 = connect(&sim.kraken_ws_url()).await;
    let s = parse(&next_text(&mut k2).await);
    assert!(s["data"][0]["connection_id"].as_u64().unwrap() <= i64::MAX as u64);
    sim.shutdown().await.unwrap();
}

/// The performance target: one market at 200k trades/s. Run with
/// `cargo test --release -p tickrec-simulator -- --ignored throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "performance check; run in release"]
async fn throughput_200k_per_second() {
    for venue in [Venue::Binance, Venue::Kraken] {
        let symbol = match venue {
            Venue::Binance => "BTC/USDT",
            Venue::Kraken => "BTC/USD",
            v => unreachable!("{v} is not simulated"),
        };
        let dir = tempfile::tempdir().unwrap();
        let n = 600_000;
        let c = cfg(vec![SimMarket::new(venue, symbol)], 200_000.0, n, &dir);
        let sim = start(c).await.unwrap();
        let t0 = std::time::Instant::now();
        let mut ws = match venue {
            Venue::Binance => connect(&format!("{}/ws/btcusdt@trade", sim.binance_ws_url())).await,
            Venue::Kraken => {
                let mut ws = connect(&sim.kraken_ws_url()).await;
                send(
                    &mut ws,
                    json!({"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD"],"snapshot":false}}),
                )
                .await;
                ws
            }
            v => unreachable!("{v} is not simulated"),
        };
        let first = first_trade_id(venue, symbol);
        let mut next = first;
        let id_key = match venue {
            Venue::Binance => "\"t\":",
            Venue::Kraken => "\"trade_id\":",
            v => unreachable!("{v} is not simulated"),
        };
        while next < first + n {
            let raw = next_text(&mut ws).await;
            for part in raw.split(id_key).skip(1) {
                let id: u64 = part
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(id, next);
                next += 1;
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        finished(&sim).await;
        let gt = read_ground_truth(&dir.path().join("gt.csv")).unwrap();
        assert_eq!(gt.len() as u64, n);
        eprintln!(
            "{venue}: {n} trades in {secs:.2} s ({:.0}/s)",
            n as f64 / secs
        );
        assert!(secs < 4.5, "{venue}: 3 s of tape took {secs:.2} s");
        sim.shutdown().await.unwrap();
    }
}
