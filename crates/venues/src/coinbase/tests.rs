//! Golden tests on the Coinbase Advanced Trade samples of protocols.md §4B (real frames where
//! the document has them, documented ones otherwise), the sequence check and bad input.

use std::sync::Arc;

use tickrec_model::{Channel, Event, RejectReason, Side, TradeId};

use super::CoinbaseAdapter;
use crate::{Frame, FrameKind, MarketSub, VenueAdapter, VenueError};

fn adapter() -> CoinbaseAdapter {
    let markets: Vec<MarketSub> = ["BTC/USD", "ETH/USD"]
        .into_iter()
        .map(|s| MarketSub {
            symbol: Arc::from(s),
            channels: vec![Channel::Trades, Channel::Bbo, Channel::Candles(300)],
        })
        .collect();
    CoinbaseAdapter::new(&markets).expect("valid markets")
}

fn parse(a: &CoinbaseAdapter, text: &str) -> (FrameKind, Vec<Event>) {
    let mut out = Vec::new();
    let kind = a.parse(Frame::Text(text), 1_700_000_000_000_000, &mut out);
    (kind, out)
}

/// Real `market_trades` update (protocols.md §4B.2).
const REAL_TRADES: &str = r#"{"channel":"market_trades","client_id":"","timestamp":"2026-09-30T01:41:27.834Z","sequence_num":5,"events":[{"type":"update","trades":[{"product_id":"ETH-USD","trade_id":"846149798","price":"2668.35","size":"0.03710506","time":"2026-09-30T01:41:25.375232Z","side":"SELL"},{"product_id":"ETH-USD","trade_id":"846149799","price":"2668.36","size":"1","time":"2026-09-30T01:41:25.375232Z","side":"BUY"}]}]}"#;

#[test]
fn trades_exact_values() {
    let a = adapter();
    let (kind, ev) = parse(&a, REAL_TRADES);
    assert_eq!(kind, FrameKind::Data);
    assert_eq!(ev.len(), 2);
    let Event::Trade(t) = &ev[0] else {
        panic!("not a trade")
    };
    assert_eq!(&*t.symbol, "ETH/USD");
    assert_eq!(t.trade_id, TradeId::Num(846_149_798));
    assert_eq!(t.price.to_string(), "2668.35");
    assert_eq!(t.qty.to_string(), "0.03710506");
    assert_eq!(t.side, Side::Sell);
    assert_eq!(t.ts_exchange_us, 1_790_732_485_375_232);
    let Event::Trade(t) = &ev[1] else {
        panic!("not a trade")
    };
    assert_eq!(t.qty.to_string(), "1");
    assert_eq!(t.side, Side::Buy);

    // Snapshots list the newest first; they come out oldest first.
    let snap = r#"{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":0,"events":[{"type":"snapshot","trades":[{"trade_id":"12","product_id":"BTC-USD","price":"1260.01","size":"0.3","side":"BUY","time":"2019-08-14T20:42:27.265Z"},{"trade_id":"11","product_id":"BTC-USD","price":"1260.00","size":"0.1","side":"SELL","time":"2019-08-14T20:42:27.001Z"}]}]}"#;
    let (_, ev) = parse(&adapter(), snap);
    let ids: Vec<_> = ev
        .iter()
        .map(|e| match e {
            Event::Trade(t) => t.trade_id.clone(),
            e => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(ids, [TradeId::Num(11), TradeId::Num(12)]);
}

#[test]
fn ticker_and_candles_exact_values() {
    let a = adapter();
    let ticker = r#"{"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:30:37.167359596Z","sequence_num":0,"events":[{"type":"snapshot","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"21932.98","volume_24_h":"16038.28770938","low_24_h":"21835.29","high_24_h":"23011.18","low_52_w":"15460","high_52_w":"48240","price_percent_chg_24_h":"-4.15775596190603","best_bid":"21931.98","best_bid_quantity":"8000.21","best_ask":"21933.98","best_ask_quantity":"8038.07770938"}]}]}"#;
    let (_, ev) = parse(&a, ticker);
    let Event::Quote(q) = &ev[0] else {
        panic!("not a quote")
    };
    assert_eq!(&*q.symbol, "BTC/USD");
    assert_eq!(
        [q.bid_price, q.bid_qty, q.ask_price, q.ask_qty].map(|d| d.to_string()),
        ["21931.98", "8000.21", "21933.98", "8038.07770938"]
    );
    assert_eq!(q.ts_exchange_us, Some(1_675_974_637_167_359));

    let candle = |start: &str, seq: u64| {
        format!(
            r#"{{"channel":"candles","client_id":"","timestamp":"2023-06-09T20:19:35.39625135Z","sequence_num":{seq},"events":[{{"type":"snapshot","candles":[{{"start":"{start}","high":"1867.72","low":"1865.63","open":"1867.38","close":"1866.81","volume":"0.20269406","product_id":"ETH-USD"}}]}}]}}"#
        )
    };
    let (_, ev) = parse(&a, &candle("1688998200", 1));
    let Event::Candle(c) = &ev[0] else {
        panic!("not a candle")
    };
    assert_eq!(c.interval_s, 300);
    assert_eq!(c.open_time_us, 1_688_998_200_000_000);
    assert_eq!(
        [c.open, c.high, c.low, c.close, c.volume].map(|d| d.to_string()),
        ["1867.38", "1867.72", "1865.63", "1866.81", "0.20269406"]
    );
    assert!(!c.closed);
    let (_, ev) = parse(&a, &candle("1688998500", 2));
    assert!(
        matches!(&ev[0], Event::Candle(c) if c.closed && c.open_time_us == 1_688_998_200_000_000)
    );
    assert!(matches!(&ev[1], Event::Candle(c) if !c.closed));
}

#[test]
fn sequence_numbers_are_checked_per_connection() {
    let a = adapter();
    let hb = |seq: u64| {
        format!(
            r#"{{"channel":"heartbeats","client_id":"","timestamp":"2026-09-30T02:37:15.05Z","sequence_num":{seq},"events":[{{"current_time":"2026-09-30 02:37:15.057778606 +0000 UTC m=+21697.195984854","heartbeat_counter":21697}}]}}"#
        )
    };
    let ack = r#"{"channel":"subscriptions","client_id":"","timestamp":"2026-04-07T14:30:00.000000Z","sequence_num":1,"events":[{"subscriptions":{"market_trades":["BTC-USD","ETH-USD"]}}]}"#;
    a.on_connect();
    assert_eq!(parse(&a, &hb(0)).0, FrameKind::Heartbeat);
    assert_eq!(
        parse(&a, ack).0,
        FrameKind::SubscribeAck(1),
        "acks are numbered too"
    );
    assert_eq!(parse(&a, &hb(2)).0, FrameKind::Heartbeat);
    // 3 and 4 lost: the trades of frame 5 are kept, and the supervisor is told.
    let (kind, ev) = parse(&a, REAL_TRADES);
    assert_eq!(
        kind,
        FrameKind::SequenceGap {
            expected: 3,
            received: 5
        }
    );
    assert_eq!(ev.len(), 2);
    // A new connection starts its own count.
    a.on_connect();
    assert_eq!(parse(&a, &hb(0)).0, FrameKind::Heartbeat);
}

fn reject_reason(a: &CoinbaseAdapter, text: &str) -> RejectReason {
    let (kind, out) = parse(a, text);
    assert_eq!(kind, FrameKind::Rejected, "{text}");
    match &out[0] {
        Event::Reject(r) => r.reason,
        e => panic!("expected a reject, got {e:?}"),
    }
}

#[test]
fn control_frames_and_bad_input() {
    let a = adapter();
    a.on_connect();
    let ack = |channel: &str| {
        format!(
            r#"{{"channel":"subscriptions","client_id":"","timestamp":"2026-04-07T14:30:00.000000Z","events":[{{"subscriptions":{{"{channel}":["BTC-USD"]}}}}]}}"#
        )
    };
    assert_eq!(parse(&a, &ack("heartbeats")).0, FrameKind::SubscribeAck(1));
    assert_eq!(
        parse(&a, &ack("market_trades")).0,
        FrameKind::SubscribeAck(1)
    );
    match parse(&a, r#"{"type":"error","message":"failure to subscribe"}"#).0 {
        FrameKind::SubscribeRejected(r) => {
            assert_eq!(r.error, "failure to subscribe");
            // Heartbeats and trades were confirmed: the ticker request is the one retried.
            let retry = a.resubscribe_message(&r).expect("a retry");
            assert!(retry.contains(r#""channel":"ticker""#), "{retry}");
        }
        k => panic!("{k:?}"),
    }
    let trade = |price: &str, size: &str, side: &str, product: &str| {
        format!(
            r#"{{"channel":"market_trades","client_id":"","timestamp":"2026-09-30T01:41:27.834Z","events":[{{"type":"update","trades":[{{"product_id":"{product}","trade_id":"1","price":{price},"size":{size},"time":"2026-09-30T01:41:25.375232Z","side":"{side}"}}]}}]}}"#
        )
    };
    let t = |s: &str| reject_reason(&a, s);
    assert_eq!(t("{\"channel\":"), RejectReason::MalformedJson);
    assert_eq!(t(r#"{"channel":"weird"}"#), RejectReason::UnknownMessage);
    assert_eq!(
        t(r#"{"channel":"market_trades"}"#),
        RejectReason::MissingField
    );
    assert_eq!(
        t(&trade("\"1\"", "\"1\"", "BUY", "DOGE-USD")),
        RejectReason::UnknownSymbol
    );
    assert_eq!(
        t(&trade("\"0\"", "\"1\"", "BUY", "BTC-USD")),
        RejectReason::NonPositivePrice
    );
    assert_eq!(
        t(&trade("\"1\"", "\"0\"", "BUY", "BTC-USD")),
        RejectReason::NonPositiveQty
    );
    assert_eq!(
        t(&trade("\"1\"", "\"1\"", "HOLD", "BTC-USD")),
        RejectReason::UnknownMessage
    );
    assert_eq!(
        t(&trade("1", "\"1\"", "BUY", "BTC-USD")),
        RejectReason::MissingField
    );
    assert_eq!(
        t(&trade("\"1e999\"", "\"1\"", "BUY", "BTC-USD")),
        RejectReason::BadNumber
    );
}

#[test]
fn subscription_requests() {
    let a = adapter();
    let msgs = a.subscribe_messages();
    assert_eq!(msgs[0], r#"{"channel":"heartbeats","type":"subscribe"}"#);
    assert_eq!(
        msgs[1],
        r#"{"channel":"market_trades","product_ids":["BTC-USD","ETH-USD"],"type":"subscribe"}"#
    );
    assert_eq!(msgs.len(), 4);
    assert_eq!(a.expected_acks(), 4);
    let bad = MarketSub {
        symbol: Arc::from("BTC/USD"),
        channels: vec![Channel::Candles(60)],
    };
    assert!(matches!(
        CoinbaseAdapter::new(&[bad]),
        Err(VenueError::UnsupportedChannel { .. })
    ));
}

/// Documented `l2_data` snapshot (protocols.md §4B.2), with the second product's snapshot and
/// an update for the first in the same frame.
const L2_SNAPSHOT: &str = r#"{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":0,"events":[
{"type":"snapshot","product_id":"BTC-USD","updates":[
 {"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73","new_quantity":"0.06317902"},
 {"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.3","new_quantity":"0.02"},
 {"side":"offer","event_time":"1970-01-01T00:00:00Z","price_level":"21921.74","new_quantity":"1.5"}]},
{"type":"snapshot","product_id":"ETH-USD","updates":[
 {"side":"offer","event_time":"1970-01-01T00:00:00Z","price_level":"1650.01","new_quantity":"3"}]},
{"type":"snapshot","product_id":"BTC-USD","updates":[
 {"side":"offer","event_time":"1970-01-01T00:00:00Z","price_level":"21922.00","new_quantity":"0.5"}]}]}"#;

/// Documented-shape update (protocols.md §4B.2): a bid and a removed offer.
const L2_UPDATE: &str = r#"{"channel":"l2_data","client_id":"","timestamp":"2026-04-07T14:30:01.456789Z","sequence_num":1,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2026-04-07T14:30:01.456789Z","price_level":"68900.00","new_quantity":"2.00000000"},{"side":"offer","event_time":"2026-04-07T14:30:01.456789Z","price_level":"68901.00","new_quantity":"0.00000000"}]}]}"#;

fn book_adapter() -> CoinbaseAdapter {
    let markets: Vec<MarketSub> = ["BTC/USD", "ETH/USD"]
        .into_iter()
        .map(|s| MarketSub {
            symbol: Arc::from(s),
            channels: vec![Channel::Bbo, Channel::Book],
        })
        .collect();
    CoinbaseAdapter::new(&markets).expect("valid markets")
}

#[test]
fn level2_one_update_per_product_and_kind_exact_values() {
    use tickrec_model::BookKind;
    let a = book_adapter();
    a.on_connect();
    let (kind, ev) = parse(&a, L2_SNAPSHOT);
    assert_eq!(kind, FrameKind::Data);
    assert_eq!(ev.len(), 2, "BTC-USD's two snapshot events merge: {ev:?}");
    let Event::Book(btc) = &ev[0] else {
        panic!("not a book")
    };
    assert_eq!((&*btc.symbol, btc.kind), ("BTC/USD", BookKind::Snapshot));
    assert_eq!(
        (btc.first_update_id, btc.last_update_id, btc.checksum),
        (None, None, None)
    );
    let text = |l: &[tickrec_model::Level]| {
        l.iter()
            .map(|l| format!("{}@{}", l.qty, l.price))
            .collect::<Vec<_>>()
    };
    assert_eq!(text(&btc.bids), ["0.06317902@21921.73", "0.02@21921.3"]);
    assert_eq!(text(&btc.asks), ["1.5@21921.74", "0.5@21922.00"]);
    assert_eq!(btc.ts_exchange_us, Some(1_675_974_770_714_964));
    let Event::Book(eth) = &ev[1] else {
        panic!("not a book")
    };
    assert_eq!(
        (&*eth.symbol, eth.bids.len(), eth.asks.len()),
        ("ETH/USD", 0, 1)
    );
    let (kind, ev) = parse(&a, L2_UPDATE);
    assert_eq!(kind, FrameKind::Data);
    let Event::Book(u) = &ev[0] else {
        panic!("not a book")
    };
    assert_eq!(u.kind, BookKind::Delta);
    assert_eq!(text(&u.bids), ["2.00000000@68900.00"]);
    assert_eq!(text(&u.asks), ["0.00000000@68901.00"]);
    assert_eq!(u.asks[0].qty.mantissa(), 0, "\"0\" removes the level");
}

#[test]
fn level2_subscription_and_resync_messages() {
    let a = book_adapter();
    let subs: Vec<serde_json::Value> = a
        .subscribe_messages()
        .iter()
        .map(|m| serde_json::from_str(m).expect("json"))
        .collect();
    assert_eq!(
        subs[2],
        serde_json::json!({"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2"})
    );
    let resync: Vec<serde_json::Value> = a
        .book_resync_messages("ETH/USD")
        .iter()
        .map(|m| serde_json::from_str(m).expect("json"))
        .collect();
    assert_eq!(
        resync,
        [
            serde_json::json!({"type":"unsubscribe","product_ids":["ETH-USD"],"channel":"level2"}),
            serde_json::json!({"type":"subscribe","product_ids":["ETH-USD"],"channel":"level2"}),
        ]
    );
    assert!(
        adapter().book_resync_messages("ETH/USD").is_empty(),
        "no book channel"
    );
}

#[test]
fn malformed_level2_events_reject_their_whole_group() {
    let a = book_adapter();
    for (frame, reason) in [
        (
            L2_UPDATE.replace(r#""side":"offer""#, r#""side":"sell""#),
            RejectReason::UnknownMessage,
        ),
        (
            L2_UPDATE.replace(r#""type":"update""#, r#""type":"patch""#),
            RejectReason::UnknownMessage,
        ),
        (
            L2_UPDATE.replace(r#""68900.00""#, r#""-1""#),
            RejectReason::NonPositivePrice,
        ),
        (
            L2_UPDATE.replace(r#""2.00000000""#, r#""lots""#),
            RejectReason::BadNumber,
        ),
        (
            L2_UPDATE.replace(r#""product_id":"BTC-USD""#, r#""product_id":"SOL-USD""#),
            RejectReason::UnknownSymbol,
        ),
        (
            L2_UPDATE.replace(r#","new_quantity":"0.00000000""#, ""),
            RejectReason::MissingField,
        ),
    ] {
        a.on_connect();
        let (kind, ev) = parse(&a, &frame);
        assert_eq!(kind, FrameKind::Rejected, "{frame}");
        assert_eq!(ev.len(), 1, "no partial book next to the reject: {ev:?}");
        let Event::Reject(r) = &ev[0] else {
            panic!("not a reject")
        };
        assert_eq!(r.reason, reason, "{frame}: {}", r.detail);
    }
}
