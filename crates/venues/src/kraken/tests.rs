//! Golden tests on Kraken v2 messages from the venue's documentation and real captures
//! (quoted in `reference/protocols.md` §2), and bad input.

use std::sync::Arc;

use tickrec_model::{BookKind, Channel, Event, RejectReason, Side, TradeId};

use super::KrakenAdapter;
use crate::{Frame, FrameKind, MarketSub, SubRejection, VenueAdapter};

fn adapter() -> KrakenAdapter {
    let markets: Vec<MarketSub> = ["MATIC/USD", "ALGO/USD", "BTC/USD", "USDT/USD"]
        .into_iter()
        .map(|s| MarketSub {
            symbol: Arc::from(s),
            channels: vec![Channel::Trades, Channel::Bbo, Channel::Candles(60)],
        })
        .collect();
    KrakenAdapter::new(&markets).expect("valid markets")
}

fn parse(a: &KrakenAdapter, text: &str) -> (FrameKind, Vec<Event>) {
    let mut out = Vec::new();
    let k = a.parse(Frame::Text(text), 1_700_000_000_000_000, &mut out);
    (k, out)
}

const TRADE_SNAPSHOT: &str = r#"{
    "channel": "trade",
    "type": "snapshot",
    "data": [
        {"symbol": "MATIC/USD", "side": "buy", "price": 0.5147, "qty": 6423.46326, "ord_type": "limit",
         "trade_id": 4665846, "timestamp": "2023-09-25T07:48:36.925533Z"},
        {"symbol": "MATIC/USD", "side": "buy", "price": 0.5147, "qty": 1136.19677815, "ord_type": "limit",
         "trade_id": 4665847, "timestamp": "2023-09-25T07:49:36.925603Z"}
    ]
}"#;

#[test]
fn trade_snapshot_exact_values() {
    let (kind, ev) = parse(&adapter(), TRADE_SNAPSHOT);
    assert_eq!(kind, FrameKind::Data);
    assert_eq!(ev.len(), 2);
    let Event::Trade(t) = &ev[1] else {
        panic!("not a trade")
    };
    assert_eq!(&*t.symbol, "MATIC/USD");
    assert_eq!(t.trade_id, TradeId::Num(4_665_847));
    assert_eq!(t.price.to_string(), "0.5147");
    assert_eq!(t.qty.to_string(), "1136.19677815");
    assert_eq!(t.side, Side::Buy);
    assert_eq!(t.ts_exchange_us, 1_695_628_176_925_603);
}

#[test]
fn ticker_real_capture_exact_values() {
    let f = r#"{"channel":"ticker","type":"snapshot","data":[{"symbol":"USDT/USD","bid":0.99980,"bid_qty":44620.68691883,"ask":0.99981,"ask_qty":1087605.70466858,"last":0.99981,"volume":270638277.50461281,"vwap":0.99983,"low":0.99959,"high":1.00000,"change":0.00005,"change_pct":0.01,"trades":38144,"timestamp":"2026-09-24T03:54:18.054886Z"}]}"#;
    let (kind, ev) = parse(&adapter(), f);
    assert_eq!(kind, FrameKind::Data);
    let Event::Quote(q) = &ev[0] else {
        panic!("not a quote")
    };
    // JSON numbers keep their exact digits, trailing zeros included.
    assert_eq!(
        [q.bid_price, q.bid_qty, q.ask_price, q.ask_qty].map(|d| d.to_string()),
        ["0.99980", "44620.68691883", "0.99981", "1087605.70466858"]
    );
    assert_eq!(q.ts_exchange_us, Some(1_790_222_058_054_886));
}

#[test]
fn ohlc_snapshot_closes_earlier_candles() {
    let f = r#"{"channel":"ohlc","type":"snapshot","timestamp":"2023-10-04T16:26:01.806315597Z","data":[
        {"symbol":"ALGO/USD","open":0.09875,"high":0.09875,"low":0.09875,"close":0.09875,"trades":1,"volume":201.86015,"vwap":0.09875,"interval_begin":"2023-10-04T15:25:00.000000000Z","interval":5,"timestamp":"2023-10-04T15:30:00.000000Z"},
        {"symbol":"ALGO/USD","open":0.09875,"high":0.0988,"low":0.09875,"close":0.09875,"trades":13,"volume":16255.46368,"vwap":0.09879,"interval_begin":"2023-10-04T15:30:00.000000000Z","interval":5,"timestamp":"2023-10-04T15:35:00.000000Z"}]}"#;
    let (kind, ev) = parse(&adapter(), f);
    assert_eq!(kind, FrameKind::Data);
    let candles: Vec<_> = ev
        .iter()
        .map(|e| match e {
            Event::Candle(c) => c,
            e => panic!("{e:?}"),
        })
        .collect();
    // running 15:25, then 15:25 closed, then running 15:30
    assert_eq!(candles.len(), 3);
    assert!(!candles[0].closed && candles[1].closed && !candles[2].closed);
    assert_eq!(candles[1].open_time_us, candles[0].open_time_us);
    let c = candles[2];
    assert_eq!(c.interval_s, 300);
    assert_eq!(c.open_time_us, 1_696_433_400_000_000);
    assert_eq!(c.high.to_string(), "0.0988");
    assert_eq!(c.volume.to_string(), "16255.46368");
    assert_eq!(c.trades, Some(13));
    assert_eq!(c.ts_exchange_us, 1_696_436_761_806_315);
}

#[test]
fn ohlc_update_real_capture() {
    let f = r#"{"channel":"ohlc","type":"update","timestamp":"2026-10-06T18:06:02.264627814Z","data":[{"symbol":"BTC/USD","open":85754.8,"high":85754.8,"low":85754.7,"close":85754.8,"trades":5,"volume":0.00126522,"vwap":85754.7,"interval_begin":"2026-10-06T18:06:00.000000000Z","interval":1,"timestamp":"2026-10-06T18:07:00.000000Z"}]}"#;
    let (_, ev) = parse(&adapter(), f);
    let Event::Candle(c) = &ev[0] else {
        panic!("not a candle")
    };
    assert_eq!(c.interval_s, 60);
    assert_eq!(c.low.to_string(), "85754.7");
    assert_eq!(c.volume.to_string(), "0.00126522");
}

#[test]
fn book_snapshot_keeps_checksum_digits() {
    let f = r#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,"qty":0.10000000},{"price":45281.0,"qty":0.10000000}],"asks":[{"price":45285.2,"qty":0.00100000}],"checksum":3310070434}]}"#;
    let (_, ev) = parse(&adapter(), f);
    let Event::Book(b) = &ev[0] else {
        panic!("not a book")
    };
    assert_eq!(b.kind, BookKind::Snapshot);
    assert_eq!(b.checksum, Some(3_310_070_434));
    assert_eq!(b.bids[1].price.to_string(), "45281.0");
    assert_eq!(b.bids[1].qty.to_string(), "0.10000000");
    assert_eq!(b.asks[0].qty.to_string(), "0.00100000");
    let upd = r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":96953.3,"qty":2.57855918}],"asks":[],"checksum":670882415,"timestamp":"2025-02-10T00:22:43.211991Z"}]}"#;
    let (_, ev) = parse(&adapter(), upd);
    let Event::Book(b) = &ev[0] else {
        panic!("not a book")
    };
    assert_eq!(b.kind, BookKind::Delta);
    assert_eq!(b.ts_exchange_us, Some(1_739_146_963_211_991));
}

#[test]
fn control_frames_are_classified() {
    let a = adapter();
    let ack = r#"{"method":"subscribe","result":{"channel":"ticker","event_trigger":"trades","snapshot":true,"symbol":"USDT/USD"},"success":true,"time_in":"2026-09-24T03:54:28.829165Z","time_out":"2026-09-24T03:54:28.829217Z"}"#;
    assert_eq!(parse(&a, ack).0, FrameKind::SubscribeAck(1));
    let rej = r#"{"error":"Currency pair not supported NOPE/USD","method":"subscribe","req_id":1,"success":false,"symbol":"NOPE/USD","time_in":"2026-09-24T03:54:32.996743Z","time_out":"2026-09-24T03:54:32.996775Z"}"#;
    let FrameKind::SubscribeRejected(r) = parse(&a, rej).0 else {
        panic!("not a rejection")
    };
    assert_eq!(r.symbol.as_deref(), Some("NOPE/USD"));
    assert_eq!(r.req_id, Some(1));
    let retry = a.resubscribe_message(&r).expect("retryable");
    assert!(
        retry.contains(r#""symbol":["NOPE/USD"]"#) && retry.contains(r#""channel":"trade""#),
        "{retry}"
    );
    let dup = r#"{"error":"Already subscribed","method":"subscribe","req_id":2,"success":false,"symbol":"BTC/USD","time_in":"2025-12-20T07:39:28.809188Z","time_out":"2025-12-20T07:39:28.809200Z"}"#;
    assert_eq!(parse(&a, dup).0, FrameKind::SubscribeAck(1));
    let status = r#"{"channel":"status","type":"update","data":[{"version":"2.0.10","system":"online","api_version":"v2","connection_id":9471984923908980762}]}"#;
    assert_eq!(parse(&a, status).0, FrameKind::Status);
    assert_eq!(
        parse(&a, r#"{"channel":"heartbeat"}"#).0,
        FrameKind::Heartbeat
    );
    let pong = r#"{"method":"pong","req_id":101,"time_in":"2023-09-24T14:10:23.799685Z","time_out":"2023-09-24T14:10:23.799703Z"}"#;
    assert_eq!(parse(&a, pong).0, FrameKind::Pong);
    assert_eq!(
        a.ping_message(101).as_deref(),
        Some(r#"{"method":"ping","req_id":101}"#)
    );
    let none = SubRejection {
        req_id: Some(99),
        symbol: None,
        error: String::new(),
    };
    assert_eq!(a.resubscribe_message(&none), None);
}

#[test]
fn subscribe_messages_and_acks() {
    let a = adapter();
    let msgs = a.subscribe_messages();
    assert_eq!(msgs.len(), 3);
    let v: serde_json::Value = serde_json::from_str(&msgs[0]).expect("json");
    assert_eq!(v["method"], "subscribe");
    assert_eq!(v["params"]["channel"], "trade");
    assert_eq!(v["params"]["snapshot"], true);
    assert_eq!(v["params"]["symbol"].as_array().map(Vec::len), Some(4));
    let v: serde_json::Value = serde_json::from_str(&msgs[1]).expect("json");
    assert_eq!(v["params"]["event_trigger"], "bbo");
    let v: serde_json::Value = serde_json::from_str(&msgs[2]).expect("json");
    assert_eq!(v["params"]["interval"], 1);
    assert_eq!(a.expected_acks(), 12);
    let xbt = MarketSub {
        symbol: Arc::from("XBT/USD"),
        channels: vec![Channel::Trades],
    };
    let k = KrakenAdapter::new(&[xbt]).expect("aliased");
    assert!(k.subscribe_messages()[0].contains(r#"["BTC/USD"]"#));
    let agg = MarketSub {
        symbol: Arc::from("BTC/USD"),
        channels: vec![Channel::AggTrades],
    };
    assert!(KrakenAdapter::new(&[agg]).is_err());
}

#[test]
fn one_bad_item_does_not_cost_the_good_ones() {
    let f = r#"{"channel":"trade","type":"update","data":[
        {"symbol":"BTC/USD","side":"buy","price":0,"qty":1.5,"trade_id":1,"timestamp":"2023-09-25T07:48:36.925533Z"},
        {"symbol":"BTC/USD","side":"sell","price":30000.1,"qty":0.25,"trade_id":2,"timestamp":"2023-09-25T07:48:36.925533Z"},
        {"symbol":"DOGE/USD","side":"sell","price":0.1,"qty":5,"trade_id":3,"timestamp":"2023-09-25T07:48:36.925533Z"},
        {"symbol":"BTC/USD","side":"sell","price":30000.1,"qty":0.25,"trade_id":4,"timestamp":"2023-09-25T07:48:36.925533Z"},
        {"symbol":"BTC/USD","side":"sideways","price":1,"qty":1,"trade_id":5,"timestamp":"2023-09-25T07:48:36.925533Z"},
        {"symbol":"BTC/USD","side":"buy","price":1,"qty":1,"trade_id":6,"timestamp":"not a time"},
        {"symbol":"BTC/USD","side":"buy","price":1,"qty":-1,"trade_id":7,"timestamp":"2023-09-25T07:48:36.925533Z"},
        {"symbol":"BTC/USD","side":"buy","price":1e999,"qty":1,"trade_id":8,"timestamp":"2023-09-25T07:48:36.925533Z"},
        {"symbol":"BTC/USD","side":"buy","qty":1,"trade_id":9,"timestamp":"2023-09-25T07:48:36.925533Z"}
    ]}"#;
    let (kind, ev) = parse(&adapter(), f);
    assert_eq!(kind, FrameKind::Data);
    let trades: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Trade(t) => Some(t),
            _ => None,
        })
        .collect();
    // Trades 2 and 4 look identical except for their id: both are kept.
    assert_eq!(
        trades
            .iter()
            .map(|t| t.trade_id.clone())
            .collect::<Vec<_>>(),
        [TradeId::Num(2), TradeId::Num(4)]
    );
    let reasons: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Reject(r) => Some(r.reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [
            RejectReason::NonPositivePrice,
            RejectReason::UnknownSymbol,
            RejectReason::UnknownMessage,
            RejectReason::BadTimestamp,
            RejectReason::NonPositiveQty,
            RejectReason::BadNumber,
            RejectReason::MissingField,
        ]
    );
}

#[test]
fn garbage_frames_are_rejected() {
    let a = adapter();
    for (f, want) in [
        (
            r#"{"channel":"trade","type":"update","data":[{"symbol""#,
            RejectReason::MalformedJson,
        ),
        (
            r#"{"channel":"mystery","data":[]}"#,
            RejectReason::UnknownMessage,
        ),
        (
            r#"{"channel":"trade","type":"update"}"#,
            RejectReason::MissingField,
        ),
        (r#"{"error":"Exceeded msg rate"}"#, RejectReason::VenueError),
        ("\u{0}\u{1}garbage", RejectReason::MalformedJson),
    ] {
        let (kind, ev) = parse(&a, f);
        assert_eq!(kind, FrameKind::Rejected, "{f}");
        match &ev[..] {
            [Event::Reject(r)] => assert_eq!(r.reason, want, "{f}"),
            other => panic!("{f}: {other:?}"),
        }
    }
}

/// The worked example of Kraken's book-checksum guide (protocols.md §2.2), verbatim numbers.
const DOC_BOOK_SNAPSHOT: &str = r#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD",
"bids":[{"price":45283.5,"qty":0.10000000},{"price":45283.4,"qty":1.54582015},{"price":45282.1,"qty":0.10000000},
{"price":45281.0,"qty":0.10000000},{"price":45280.3,"qty":1.54592586},{"price":45279.0,"qty":0.07990000},
{"price":45277.6,"qty":0.03310103},{"price":45277.5,"qty":0.30000000},{"price":45277.3,"qty":1.54602737},
{"price":45276.6,"qty":0.15445238}],
"asks":[{"price":45285.2,"qty":0.00100000},{"price":45286.4,"qty":1.54571953},{"price":45286.6,"qty":1.54571109},
{"price":45289.6,"qty":1.54560911},{"price":45290.2,"qty":0.15890660},{"price":45291.8,"qty":1.54553491},
{"price":45294.7,"qty":0.04454749},{"price":45296.1,"qty":0.35380000},{"price":45297.5,"qty":0.09945542},
{"price":45299.5,"qty":0.18772827}],"checksum":3310070434}]}"#;

fn book_adapter() -> KrakenAdapter {
    let markets: Vec<MarketSub> = ["BTC/USD", "MATIC/USD"]
        .into_iter()
        .map(|s| MarketSub {
            symbol: Arc::from(s),
            channels: vec![Channel::Trades, Channel::Book],
        })
        .collect();
    KrakenAdapter::new(&markets).expect("valid markets")
}

#[test]
fn documented_book_snapshot_reproduces_its_checksum() {
    let (kind, ev) = parse(&book_adapter(), DOC_BOOK_SNAPSHOT);
    assert_eq!(kind, FrameKind::Data);
    let Event::Book(b) = &ev[0] else {
        panic!("not a book")
    };
    assert_eq!(
        (b.kind, b.checksum),
        (BookKind::Snapshot, Some(3_310_070_434))
    );
    assert_eq!((b.first_update_id, b.last_update_id), (None, None));
    assert_eq!((b.bids.len(), b.asks.len()), (10, 10));
    assert_eq!(b.bids[9].price.to_string(), "45276.6");
    assert_eq!(b.bids[9].qty.to_string(), "0.15445238");
    assert_eq!(b.asks[0].price.to_string(), "45285.2");
    assert_eq!(b.ts_exchange_us, None);
    let mut t = tickrec_book::BookTracker::new(tickrec_book::Checksum::Kraken, Some(10));
    let verdict = t.on_snapshot(&b.bids, &b.asks, b.checksum, 0);
    assert_eq!(verdict, tickrec_book::Verdict::Verified);
}

#[test]
fn book_subscription_and_resync_messages() {
    let a = book_adapter();
    let subs = a.subscribe_messages();
    let book: serde_json::Value = serde_json::from_str(&subs[1]).expect("json");
    assert_eq!(
        book,
        serde_json::json!({"method":"subscribe","params":{"channel":"book","depth":10,
            "symbol":["BTC/USD","MATIC/USD"],"snapshot":true},"req_id":2})
    );
    assert_eq!(a.expected_acks(), 4);
    let resync = a.book_resync_messages("MATIC/USD");
    let v: Vec<serde_json::Value> = resync
        .iter()
        .map(|m| serde_json::from_str(m).expect("json"))
        .collect();
    assert_eq!(
        v,
        [
            serde_json::json!({"method":"unsubscribe","params":{"channel":"book","depth":10,
                "symbol":["MATIC/USD"]},"req_id":2}),
            serde_json::json!({"method":"subscribe","params":{"channel":"book","depth":10,
                "symbol":["MATIC/USD"],"snapshot":true},"req_id":2}),
        ]
    );
    assert!(
        a.book_resync_messages("ETH/USD").is_empty(),
        "not subscribed"
    );
    assert!(
        adapter().book_resync_messages("BTC/USD").is_empty(),
        "no book channel"
    );
    let unsub = r#"{"method":"unsubscribe","result":{"channel":"book","depth":10,"symbol":"MATIC/USD"},"success":true,"time_in":"2023-10-06T17:35:55.219022Z","time_out":"2023-10-06T17:35:55.219067Z"}"#;
    assert_eq!(parse(&a, unsub).0, FrameKind::Status);
}

#[test]
fn malformed_book_frames_become_rejects() {
    let a = book_adapter();
    for (frame, reason) in [
        (
            r#"{"channel":"book","type":"refresh","data":[{"symbol":"BTC/USD","bids":[],"asks":[],"checksum":1}]}"#,
            RejectReason::UnknownMessage,
        ),
        (
            r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[]}]}"#,
            RejectReason::MissingField,
        ),
        (
            r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[],"checksum":4294967296}]}"#,
            RejectReason::MissingField,
        ),
        (
            r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":-1.5,"qty":1.0}],"asks":[],"checksum":1}]}"#,
            RejectReason::NonPositivePrice,
        ),
        (
            r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[{"price":1.5,"qty":-1.0}],"checksum":1}]}"#,
            RejectReason::BadNumber,
        ),
        (
            r#"{"channel":"book","type":"update","data":[{"symbol":"ETH/USD","bids":[],"asks":[],"checksum":1}]}"#,
            RejectReason::UnknownSymbol,
        ),
    ] {
        let (kind, ev) = parse(&a, frame);
        assert_eq!(kind, FrameKind::Rejected, "{frame}");
        let Event::Reject(r) = &ev[0] else {
            panic!("not a reject: {ev:?}")
        };
        assert_eq!(r.reason, reason, "{frame}: {}", r.detail);
    }
}
