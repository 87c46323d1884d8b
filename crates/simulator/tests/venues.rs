//! The quirks of the Coinbase, OKX, Bybit and Upbit protocols as the simulator speaks them
//! (protocols.md §4B, §5, §6, §7): acknowledgements, refusals, keep-alives, frame types, sequence
//! numbers and the REST backfill endpoints.

mod common;

use common::{cfg, connect, get, get_json, next_frame, next_text, next_where, parse, send};
use futures_util::SinkExt;
use serde_json::{json, Value};
use tickrec_model::Venue;
use tickrec_simulator::{start, SimMarket};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_acks_every_arg_refuses_the_wrong_endpoint_and_pages_history() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(
        vec![SimMarket::new(Venue::Okx, "BTC/USDT")],
        1000.0,
        300,
        &dir,
    );
    let sim = start(c).await.unwrap();
    let mut ws = connect(&format!("{}/ws/v5/business", sim.okx_ws_url())).await;
    send(
        &mut ws,
        json!({"id":"7","op":"subscribe","args":[
        {"channel":"trades-all","instId":"BTC-USDT"},
        {"channel":"trades-all","instId":"NOPE-USDT"}]}),
    )
    .await;
    let ack = parse(&next_text(&mut ws).await);
    assert_eq!(ack["event"], "subscribe");
    assert_eq!(ack["id"], "7");
    assert_eq!(ack["arg"]["instId"], "BTC-USDT");
    let err = parse(&next_text(&mut ws).await);
    assert_eq!(
        (err["event"].as_str(), err["code"].as_str()),
        (Some("error"), Some("60018"))
    );
    ws.send(Message::text("ping")).await.unwrap();
    let mut ids = Vec::new();
    let mut pong = false;
    while ids.len() < 300 {
        let t = next_text(&mut ws).await;
        if t == "pong" {
            pong = true;
            continue;
        }
        let v = parse(&t);
        assert_eq!(v["arg"]["channel"], "trades-all");
        assert_eq!(
            v["data"].as_array().unwrap().len(),
            1,
            "one trade per message"
        );
        ids.push(
            v["data"][0]["tradeId"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap(),
        );
    }
    assert!(pong, "text ping answered with text pong");
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "contiguous ids");

    // The public endpoint does not serve trades-all.
    let mut public = connect(&format!("{}/ws/v5/public", sim.okx_ws_url())).await;
    send(
        &mut public,
        json!({"op":"subscribe","args":[{"channel":"trades-all","instId":"BTC-USDT"}]}),
    )
    .await;
    assert_eq!(parse(&next_text(&mut public).await)["code"], "60018");

    // history-trades: newest first, ids below `after`.
    let page = get_json(&format!(
        "{}/api/v5/market/history-trades?instId=BTC-USDT&type=1&after={}&limit=100",
        sim.okx_rest_url(),
        ids[250]
    ))
    .await;
    assert_eq!(page["code"], "0");
    let rest: Vec<u64> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tradeId"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(rest.len(), 100);
    assert_eq!(rest[0], ids[249]);
    assert_eq!(rest[99], ids[150]);
    let bad = get_json(&format!(
        "{}/api/v5/market/history-trades?instId=X-Y",
        sim.okx_rest_url()
    ))
    .await;
    assert_eq!(bad["code"], "51001");
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_enforces_ten_topics_answers_pings_and_keeps_60_trades() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(
        vec![SimMarket::new(Venue::Bybit, "BTC/USDT")],
        1000.0,
        200,
        &dir,
    );
    let sim = start(c).await.unwrap();
    let mut ws = connect(&format!("{}/v5/public/spot", sim.bybit_ws_url())).await;
    let eleven: Vec<String> = (0..11).map(|i| format!("publicTrade.X{i}USDT")).collect();
    send(
        &mut ws,
        json!({"req_id":"1","op":"subscribe","args":eleven}),
    )
    .await;
    let r = parse(&next_text(&mut ws).await);
    assert_eq!(
        (r["success"].as_bool(), r["ret_msg"].as_str()),
        (Some(false), Some("args size >10"))
    );
    send(
        &mut ws,
        json!({"req_id":"2","op":"subscribe","args":["publicTrade.BTCUSDT"]}),
    )
    .await;
    let r = parse(&next_text(&mut ws).await);
    assert_eq!(
        (r["success"].as_bool(), r["req_id"].as_str()),
        (Some(true), Some("2"))
    );
    send(
        &mut ws,
        json!({"req_id":"3","op":"subscribe","args":["publicTrade.BTCUSDT"]}),
    )
    .await;
    let r = next_where(&mut ws, |v| v["req_id"] == "3").await;
    assert!(r["ret_msg"]
        .as_str()
        .unwrap()
        .contains("already subscribed"));
    send(&mut ws, json!({"req_id":"p","op":"ping"})).await;
    let pong = next_where(&mut ws, |v| v["op"] == "ping").await;
    assert_eq!(pong["ret_msg"], "pong", "spot pongs echo op=ping");
    common::finished(&sim).await;
    let page = get_json(&format!(
        "{}/v5/market/recent-trade?category=spot&symbol=BTCUSDT&limit=60",
        sim.bybit_rest_url()
    ))
    .await;
    let list = page["result"]["list"].as_array().unwrap();
    assert_eq!(list.len(), 60, "only the most recent 60");
    let ids: Vec<u64> = list
        .iter()
        .map(|r| r["execId"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1] + 1),
        "newest first, with holes"
    );
    let too_many = get_json(&format!(
        "{}/v5/market/recent-trade?category=spot&symbol=BTCUSDT&limit=61",
        sim.bybit_rest_url()
    ))
    .await;
    assert_eq!(too_many["retCode"], 10001);
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upbit_sends_binary_json_without_acks_and_pages_ticks_by_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(
        vec![SimMarket::new(Venue::Upbit, "BTC/KRW")],
        1000.0,
        200,
        &dir,
    );
    let sim = start(c).await.unwrap();
    let mut ws = connect(&sim.upbit_ws_url()).await;
    ws.send(Message::text(
        r#"[{"ticket":"t"},{"type":"trade","codes":["KRW-BTC"]},{"format":"DEFAULT"}]"#,
    ))
    .await
    .unwrap();
    // No acknowledgement: the first frame is already a trade, in a binary frame.
    let first = match next_frame(&mut ws).await.unwrap() {
        Message::Binary(b) => parse(std::str::from_utf8(&b).unwrap()),
        m => panic!("expected a binary frame, got {m:?}"),
    };
    assert_eq!(
        (first["type"].as_str(), first["code"].as_str()),
        (Some("trade"), Some("KRW-BTC"))
    );
    assert!(first["trade_price"].is_number(), "numbers are JSON numbers");
    ws.send(Message::text("PING")).await.unwrap();
    loop {
        match next_frame(&mut ws).await.unwrap() {
            Message::Text(t) => {
                assert_eq!(t.as_str(), r#"{"status":"UP"}"#);
                break;
            }
            Message::Binary(_) => {}
            m => panic!("{m:?}"),
        }
    }
    ws.send(Message::text("{}")).await.unwrap();
    loop {
        if let Message::Text(t) = next_frame(&mut ws).await.unwrap() {
            assert_eq!(parse(&t)["error"]["name"], "WRONG_FORMAT");
            break;
        }
    }
    common::finished(&sim).await;
    let newest = get_json(&format!(
        "{}/v1/trades/ticks?market=KRW-BTC&count=50",
        sim.upbit_rest_url()
    ))
    .await;
    let newest = newest.as_array().unwrap();
    assert_eq!(newest.len(), 50);
    let cursor = newest[49]["sequential_id"].as_u64().unwrap();
    let older = get_json(&format!(
        "{}/v1/trades/ticks?market=KRW-BTC&count=50&cursor={cursor}",
        sim.upbit_rest_url()
    ))
    .await;
    let older = older.as_array().unwrap();
    assert_eq!(older.len(), 50);
    assert!(
        older[0]["sequential_id"].as_u64().unwrap() < cursor,
        "strictly older than the cursor"
    );
    let unknown = get(&format!(
        "{}/v1/trades/ticks?market=KRW-NOPE",
        sim.upbit_rest_url()
    ))
    .await;
    assert_eq!(unknown.status, 404);
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbase_numbers_every_message_and_snapshots_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(
        vec![SimMarket::new(Venue::Coinbase, "BTC/USD")],
        1000.0,
        300,
        &dir,
    );
    c.start = tickrec_simulator::StartMode::Immediately;
    let sim = start(c).await.unwrap();
    common::wait_until("trades published", || sim.published() >= 100).await;
    let mut ws = connect(&sim.coinbase_ws_url()).await;
    send(&mut ws, json!({"type":"subscribe","channel":"heartbeats"})).await;
    send(
        &mut ws,
        json!({"type":"subscribe","product_ids":["BTC-USD"],"channel":"market_trades"}),
    )
    .await;
    let mut seqs = Vec::new();
    let mut channels = Vec::new();
    let mut snapshot: Option<Value> = None;
    while seqs.len() < 20 {
        let v = parse(&next_text(&mut ws).await);
        seqs.push(v["sequence_num"].as_u64().unwrap());
        channels.push(v["channel"].as_str().unwrap().to_string());
        if v["events"][0]["type"] == "snapshot" && snapshot.is_none() {
            snapshot = Some(v);
        }
    }
    assert_eq!(
        seqs,
        (0..20).collect::<Vec<u64>>(),
        "one counter for every channel"
    );
    assert_eq!(channels[0], "subscriptions", "acks are numbered too");
    let snap = snapshot.expect("market_trades snapshot");
    let ids: Vec<u64> = snap["events"][0]["trades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trade_id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        ids.len() > 1 && ids.windows(2).all(|w| w[0] == w[1] + 1),
        "newest first"
    );
    send(
        &mut ws,
        json!({"type":"subscribe","product_ids":["NOPE-USD"],"channel":"market_trades"}),
    )
    .await;
    let err = next_where(&mut ws, |v| v["type"] == "error").await;
    assert_eq!(err["message"], "failure to subscribe");
    let page = get_json(&format!(
        "{}/api/v3/brokerage/market/products/BTC-USD/ticker?limit=5",
        sim.coinbase_rest_url()
    ))
    .await;
    assert_eq!(page["trades"].as_array().unwrap().len(), 5);
    sim.shutdown().await.unwrap();
}
