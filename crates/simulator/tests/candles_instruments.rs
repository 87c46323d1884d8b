//! The candle streams and instruments endpoints of the Coinbase, OKX, Bybit and Upbit protocols
//! as the simulator speaks them: message shapes, the venues' refusals, and exact tick/lot text.

mod common;

use common::{cfg, connect, get, get_json, next_frame, next_where, parse, send};
use serde_json::{json, Value};
use tickrec_model::Venue;
use tickrec_simulator::{start, SimMarket};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_candle1m_lives_on_business_with_nine_string_fields() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(cfg(
        vec![SimMarket::new(Venue::Okx, "BTC/USDT")],
        500.0,
        1000,
        &dir,
    ))
    .await
    .unwrap();
    let mut public = connect(&format!("{}/ws/v5/public", sim.okx_ws_url())).await;
    send(
        &mut public,
        json!({"op":"subscribe","args":[{"channel":"candle1m","instId":"BTC-USDT"}]}),
    )
    .await;
    let e = next_where(&mut public, |v| v["event"] == "error").await;
    assert_eq!(e["code"], "64001", "{e}");
    let mut ws = connect(&format!("{}/ws/v5/business", sim.okx_ws_url())).await;
    send(
        &mut ws,
        json!({"op":"subscribe","args":[{"channel":"trades-all","instId":"BTC-USDT"},
            {"channel":"candle1m","instId":"BTC-USDT"}]}),
    )
    .await;
    let c = next_where(&mut ws, |v| {
        v["arg"]["channel"] == "candle1m" && v["data"].is_array()
    })
    .await;
    let row = c["data"][0].as_array().expect("row");
    assert_eq!(row.len(), 9, "{c}");
    assert!(row.iter().all(Value::is_string), "{c}");
    let ts: i64 = row[0].as_str().unwrap().parse().unwrap();
    assert_eq!(ts % 60_000, 0, "open time on the minute");
    // Usually the running bar; the closing update when the tape just crossed a minute.
    assert!(
        matches!(row[8].as_str(), Some("0" | "1")),
        "confirm flag: {c}"
    );
    assert_eq!(row[6], row[7], "spot volCcy = volCcyQuote (quote)");
    // Instruments: the simulated spot market, nothing for swaps, code 51000 without instType.
    let spot = get_json(&format!(
        "{}/api/v5/public/instruments?instType=SPOT",
        sim.okx_rest_url()
    ))
    .await;
    let i = &spot["data"][0];
    assert_eq!(
        (
            i["instId"].as_str(),
            i["tickSz"].as_str(),
            i["lotSz"].as_str()
        ),
        (Some("BTC-USDT"), Some("0.01"), Some("0.00001"))
    );
    let swap = get_json(&format!(
        "{}/api/v5/public/instruments?instType=SWAP",
        sim.okx_rest_url()
    ))
    .await;
    assert_eq!(swap["data"], json!([]));
    let bad = get_json(&format!("{}/api/v5/public/instruments", sim.okx_rest_url())).await;
    assert_eq!(bad["code"], "51000");
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_kline_1_pushes_and_refuses_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(cfg(
        vec![SimMarket::new(Venue::Bybit, "BTC/USDT")],
        500.0,
        1000,
        &dir,
    ))
    .await
    .unwrap();
    let mut ws = connect(&format!("{}/v5/public/spot", sim.bybit_ws_url())).await;
    send(
        &mut ws,
        json!({"req_id":"1","op":"subscribe","args":["publicTrade.BTCUSDT","kline.1.BTCUSDT"]}),
    )
    .await;
    let k = next_where(&mut ws, |v| v["topic"] == "kline.1.BTCUSDT").await;
    let d = &k["data"][0];
    // Usually the running bar; the closing push when the tape just crossed a minute.
    assert_eq!(d["interval"].as_str(), Some("1"), "{k}");
    assert!(d["confirm"].is_boolean(), "{k}");
    let (start_ms, end_ms) = (d["start"].as_i64().unwrap(), d["end"].as_i64().unwrap());
    assert_eq!(end_ms - start_ms, 59_999, "{k}");
    assert!(d["turnover"].is_string() && d["volume"].is_string(), "{k}");
    send(
        &mut ws,
        json!({"req_id":"2","op":"subscribe","args":["kline.1.BTCUSDT"]}),
    )
    .await;
    let r = next_where(&mut ws, |v| v["req_id"] == "2").await;
    assert_eq!(r["success"], false);
    assert!(
        r["ret_msg"]
            .as_str()
            .unwrap()
            .contains("already subscribed"),
        "{r}"
    );
    let info = get_json(&format!(
        "{}/v5/market/instruments-info?category=spot",
        sim.bybit_rest_url()
    ))
    .await;
    let i = &info["result"]["list"][0];
    assert_eq!(
        (
            i["symbol"].as_str(),
            i["priceFilter"]["tickSize"].as_str(),
            i["lotSizeFilter"]["basePrecision"].as_str()
        ),
        (Some("BTCUSDT"), Some("0.01"), Some("0.00001"))
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upbit_candles_are_binary_per_type_and_ticks_are_text() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(cfg(
        vec![SimMarket::new(Venue::Upbit, "BTC/KRW")],
        500.0,
        1000,
        &dir,
    ))
    .await
    .unwrap();
    let mut ws = connect(&sim.upbit_ws_url()).await;
    send(
        &mut ws,
        json!([{"ticket":"t"},{"type":"trade","codes":["KRW-BTC"]},
            {"type":"candle.1s","codes":["KRW-BTC"]},{"type":"format","format":"DEFAULT"}]),
    )
    .await;
    let c = loop {
        match next_frame(&mut ws).await.expect("frame") {
            Message::Binary(b) => {
                let v = parse(std::str::from_utf8(&b).unwrap());
                if v["type"] == "candle.1s" {
                    break v;
                }
                assert_eq!(v["type"], "trade", "only what was asked for: {v}");
            }
            Message::Text(t) => panic!("Upbit data comes in binary frames: {t}"),
            _ => {}
        }
    };
    assert_eq!(c["code"], "KRW-BTC");
    let utc = c["candle_date_time_utc"].as_str().unwrap();
    assert_eq!(utc.len(), 19, "no fraction, no zone: {utc}");
    assert!(c["trade_price"].is_number() && c["candle_acc_trade_volume"].is_number());
    let ticks = get(&format!(
        "{}/v1/orderbook/instruments?markets=KRW-BTC",
        sim.upbit_rest_url()
    ))
    .await;
    assert_eq!(ticks.json()[0]["tick_size"], "0.01");
    let unknown = get(&format!(
        "{}/v1/orderbook/instruments?markets=KRW-NOPE",
        sim.upbit_rest_url()
    ))
    .await;
    assert_eq!(unknown.status, 404);
    let all = get_json(&format!("{}/v1/market/all", sim.upbit_rest_url())).await;
    assert_eq!(all[0]["market"], "KRW-BTC");
    assert!(
        all[0].get("market_event").is_none(),
        "details only when asked"
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbase_candles_open_with_a_snapshot_and_products_list_increments() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(cfg(
        vec![SimMarket::new(Venue::Coinbase, "BTC/USD")],
        500.0,
        1000,
        &dir,
    ))
    .await
    .unwrap();
    let mut ws = connect(&sim.coinbase_ws_url()).await;
    send(
        &mut ws,
        json!({"type":"subscribe","product_ids":["BTC-USD"],"channel":"candles"}),
    )
    .await;
    let snap = next_where(&mut ws, |v| v["channel"] == "candles").await;
    assert_eq!(snap["events"][0]["type"], "snapshot", "{snap}");
    send(
        &mut ws,
        json!({"type":"subscribe","product_ids":["BTC-USD"],"channel":"market_trades"}),
    )
    .await;
    let up = next_where(&mut ws, |v| {
        v["channel"] == "candles" && v["events"][0]["type"] == "update"
    })
    .await;
    let c = &up["events"][0]["candles"][0];
    let start: i64 = c["start"].as_str().unwrap().parse().unwrap();
    assert_eq!(start % 300, 0, "5-minute buckets: {up}");
    assert_eq!(c["product_id"], "BTC-USD");
    let p = get_json(&format!(
        "{}/api/v3/brokerage/market/products",
        sim.coinbase_rest_url()
    ))
    .await;
    assert_eq!(p["num_products"], 1);
    let i = &p["products"][0];
    assert_eq!(
        (
            i["product_id"].as_str(),
            i["price_increment"].as_str(),
            i["base_increment"].as_str()
        ),
        (Some("BTC-USD"), Some("0.01"), Some("0.00001"))
    );
    sim.shutdown().await.unwrap();
}
