//! Golden tests on real OKX v5 frames (cryptofeed capture, 2022-05-13: BTC-USDT spot, the
//! BTC-USD-220527 future and the UNI-USD-SWAP perpetual) and on bad input.

use std::sync::Arc;

use tickrec_model::{BookKind, Channel, Event, RejectReason, Side, TradeId, TradeKind};

use super::subscribe::Endpoint;
use super::OkxAdapter;
use crate::{Frame, FrameKind, MarketSub, VenueAdapter, VenueError};

const CAPTURE: &str = include_str!("../../tests/fixtures/OKX.ws.1.0");

fn market(symbol: &str, channels: &[Channel]) -> MarketSub {
    MarketSub {
        symbol: Arc::from(symbol),
        channels: channels.to_vec(),
    }
}

fn adapter() -> OkxAdapter {
    let markets: Vec<MarketSub> = ["BTC/USDT", "BTC/USD:BTC-220527", "UNI/USD:UNI"]
        .into_iter()
        .map(|s| market(s, &[Channel::Trades, Channel::Candles(60)]))
        .collect();
    OkxAdapter::new(&markets).expect("valid markets")
}

/// `UNIX_SECONDS: PAYLOAD` lines; the header and our own sent requests start with the URL.
fn frames() -> Vec<&'static str> {
    CAPTURE
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("wss://"))
        .map(|l| l.split_once(": ").map_or(l, |(_, p)| p))
        .collect()
}

fn parse_one(a: &OkxAdapter, text: &str) -> (FrameKind, Vec<Event>) {
    let mut out = Vec::new();
    let kind = a.parse(Frame::Text(text), 1_700_000_000_000_000, &mut out);
    (kind, out)
}

#[test]
fn every_captured_frame_parses_without_reject() {
    let a = adapter();
    let (mut trades, mut quotes, mut books, mut snapshots, mut acks) = (0, 0, 0, 0, 0);
    let frames = frames();
    assert_eq!(frames.len(), 410);
    for f in &frames {
        let (kind, events) = parse_one(&a, f);
        match kind {
            FrameKind::SubscribeAck(1) => {
                acks += 1;
                assert!(events.is_empty());
                continue;
            }
            FrameKind::Data => {}
            k => panic!("{k:?} for {f}"),
        }
        for e in &events {
            match e {
                Event::Trade(t) => {
                    trades += 1;
                    assert!(t.price.is_positive() && t.qty.is_positive());
                }
                Event::Quote(_) => quotes += 1,
                Event::Book(b) => {
                    books += 1;
                    if b.kind == BookKind::Snapshot {
                        snapshots += 1;
                        assert!((1..=400).contains(&b.bids.len()), "{f}");
                        assert!((1..=400).contains(&b.asks.len()), "{f}");
                        // A valid snapshot is never crossed.
                        assert!(b.bids[0].price < b.asks[0].price);
                    }
                }
                other => panic!("unexpected {other:?} from {f}"),
            }
        }
    }
    assert_eq!(
        (trades, quotes, books, snapshots, acks),
        (74, 28, 290, 3, 18)
    );
}

#[test]
fn sampled_trades_exact_values() {
    let a = adapter();
    let find = |needle: &str| {
        let f = frames()
            .into_iter()
            .find(|f| f.contains(needle))
            .expect("fixture");
        let (kind, ev) = parse_one(&a, f);
        assert_eq!(kind, FrameKind::Data);
        match ev.into_iter().next() {
            Some(Event::Trade(t)) => t,
            other => panic!("not a trade: {other:?}"),
        }
    };
    let t = find(r#""tradeId":"338476307""#);
    assert_eq!(&*t.symbol, "BTC/USDT");
    assert_eq!(t.trade_id, TradeId::Num(338_476_307));
    assert_eq!(t.price.to_string(), "30236");
    assert_eq!(t.qty.to_string(), "0.0002");
    assert_eq!(t.side, Side::Buy);
    assert_eq!(t.ts_exchange_us, 1_652_459_224_818_000);
    assert_eq!(t.kind, TradeKind::Single);

    let t = find(r#""tradeId":"338476316""#);
    assert_eq!(t.price.to_string(), "30250.1");
    assert_eq!(t.qty.to_string(), "0.00066996");
    assert_eq!(t.side, Side::Sell);
    assert_eq!(t.ts_exchange_us, 1_652_459_226_753_000);

    let t = find(r#""tradeId":"12883020""#);
    assert_eq!(&*t.symbol, "UNI/USD:UNI");
    assert_eq!(t.price.to_string(), "5.123");
    assert_eq!(t.qty.to_string(), "100");
    assert_eq!(t.side, Side::Sell);

    let t = find(r#""tradeId":"7849""#);
    assert_eq!(&*t.symbol, "BTC/USD:BTC-220527");
    assert_eq!(t.price.to_string(), "30218.8");
    assert_eq!(t.ts_exchange_us, 1_652_459_199_958_000);
}

#[test]
fn ticker_book_and_documented_frames_exact_values() {
    let a = adapter();
    let f = frames()
        .into_iter()
        .find(|f| f.contains(r#""channel":"tickers","instId":"BTC-USDT"},"data""#))
        .expect("fixture");
    let (_, ev) = parse_one(&a, f);
    let Event::Quote(q) = &ev[0] else {
        panic!("not a quote")
    };
    assert_eq!(
        [q.bid_price, q.bid_qty, q.ask_price, q.ask_qty].map(|d| d.to_string()),
        ["30228.6", "0.23393", "30228.7", "1.55896972"]
    );
    assert_eq!(q.ts_exchange_us, Some(1_652_459_224_956_000));

    let f = frames()
        .into_iter()
        .find(|f| f.contains(r#""checksum":47640993"#))
        .expect("fixture");
    let (_, ev) = parse_one(&a, f);
    let Event::Book(b) = &ev[0] else {
        panic!("not a book")
    };
    assert_eq!(b.kind, BookKind::Snapshot);
    assert_eq!((b.bids.len(), b.asks.len()), (400, 400));
    assert_eq!(b.checksum, Some(47_640_993));
    assert_eq!(b.asks[0].price.to_string(), "30243.5");
    assert_eq!(b.asks[0].qty.to_string(), "1.44679");
    assert_eq!(b.bids[0].qty.to_string(), "0.0012029");

    // Current documented shapes (protocols.md §5.2): trades with count, bbo-tbt, candles.
    let doc_trade = r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897","count":"3","source":"0","seqId":1234}]}"#;
    let (_, ev) = parse_one(&a, doc_trade);
    let Event::Trade(t) = &ev[0] else {
        panic!("not a trade")
    };
    assert_eq!(
        t.kind,
        TradeKind::Aggregate {
            first_id: 130_639_472,
            last_id: 130_639_474
        }
    );
    let bbo = r#"{"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[["111.06","55154","0","2"]],"bids":[["111.05","57745","0","2"]],"ts":"1670324386802","seqId":363996337}]}"#;
    let (_, ev) = parse_one(&a, bbo);
    let Event::Quote(q) = &ev[0] else {
        panic!("not a quote")
    };
    assert_eq!(q.bid_price.to_string(), "111.05");
    assert_eq!(q.ask_qty.to_string(), "55154");
    assert_eq!(q.update_id, Some(363_996_337));
    let candle = r#"{"arg":{"channel":"candle1D","instId":"BTC-USDT"},"data":[["1597026383085","8533.02","8553.74","8527.17","8548.26","45247","529.5858061","5529.5858061","0"]]}"#;
    let (_, ev) = parse_one(&a, candle);
    let Event::Candle(c) = &ev[0] else {
        panic!("not a candle")
    };
    assert_eq!(c.interval_s, 86_400);
    assert_eq!(c.open_time_us, 1_597_026_383_085_000);
    assert_eq!(
        [c.open, c.high, c.low, c.close, c.volume].map(|d| d.to_string()),
        ["8533.02", "8553.74", "8527.17", "8548.26", "45247"]
    );
    assert_eq!(
        c.quote_volume.map(|d| d.to_string()).as_deref(),
        Some("5529.5858061")
    );
    assert!(!c.closed);
}

#[test]
fn control_frames_are_classified() {
    let a = adapter();
    assert_eq!(parse_one(&a, "pong").0, FrameKind::Pong);
    let err = r#"{"id":"2","event":"error","code":"60018","msg":"Wrong URL or channel:tickers,instId:ETH-XYZ doesn't exist","connId":"a"}"#;
    match parse_one(&a, err).0 {
        FrameKind::SubscribeRejected(r) => {
            assert_eq!(r.req_id, Some(2));
            assert!(r.error.starts_with("code 60018"));
        }
        k => panic!("{k:?}"),
    }
    let notice = r#"{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"a4d3ae55"}"#;
    assert_eq!(parse_one(&a, notice).0, FrameKind::ServerShutdown);
    assert_eq!(
        parse_one(
            &a,
            r#"{"event":"channel-conn-count","channel":"trades","connCount":"2","connId":"a"}"#
        )
        .0,
        FrameKind::Status
    );
}

fn reject_reasons(a: &OkxAdapter, text: &str) -> Vec<RejectReason> {
    let (kind, out) = parse_one(a, text);
    assert_eq!(kind, FrameKind::Rejected, "{text}");
    out.iter()
        .map(|e| match e {
            Event::Reject(r) => r.reason,
            e => panic!("expected a reject, got {e:?}"),
        })
        .collect()
}

#[test]
fn bad_input_becomes_reject_rows() {
    let a = adapter();
    let t = |s: &str| reject_reasons(&a, s);
    let trade = |id: &str, px: &str, sz: &str, side: &str| {
        format!(
            r#"{{"arg":{{"channel":"trades-all","instId":"BTC-USDT"}},"data":[{{"instId":"BTC-USDT","tradeId":{id},"px":{px},"sz":{sz},"side":"{side}","ts":"1652459224818"}}]}}"#
        )
    };
    assert_eq!(t("{\"arg\":{\"chan"), [RejectReason::MalformedJson]);
    assert_eq!(t("ping"), [RejectReason::MalformedJson]);
    assert_eq!(t(r#"{"hello":1}"#), [RejectReason::UnknownMessage]);
    assert_eq!(t(r#"{"event":"weird"}"#), [RejectReason::UnknownMessage]);
    assert_eq!(
        t(r#"{"arg":{"channel":"trades","instId":"DOGE-USDT"},"data":[]}"#),
        [RejectReason::UnknownSymbol]
    );
    assert_eq!(
        t(r#"{"arg":{"channel":"nope","instId":"BTC-USDT"},"data":[{}]}"#),
        [RejectReason::UnknownMessage]
    );
    assert_eq!(
        t(&trade("\"1\"", "\"0\"", "\"1\"", "buy")),
        [RejectReason::NonPositivePrice]
    );
    assert_eq!(
        t(&trade("\"1\"", "\"1\"", "\"0\"", "buy")),
        [RejectReason::NonPositiveQty]
    );
    assert_eq!(
        t(&trade("\"x1\"", "\"1\"", "\"1\"", "buy")),
        [RejectReason::BadNumber]
    );
    assert_eq!(
        t(&trade("\"1\"", "\"1e999\"", "\"1\"", "buy")),
        [RejectReason::BadNumber]
    );
    assert_eq!(
        t(&trade("\"1\"", "1.5", "\"1\"", "buy")),
        [RejectReason::MissingField]
    );
    assert_eq!(
        t(&trade("\"1\"", "\"1\"", "\"1\"", "hold")),
        [RejectReason::UnknownMessage]
    );
    // One bad item costs only itself.
    let mixed = r#"{"arg":{"channel":"trades-all","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"5","px":"1","sz":"1","side":"buy","ts":"1652459224818"},{"instId":"BTC-USDT","tradeId":"6","px":"-1","sz":"1","side":"buy","ts":"1652459224818"}]}"#;
    let (kind, out) = parse_one(&a, mixed);
    assert_eq!(kind, FrameKind::Data);
    assert!(matches!(out[0], Event::Trade(_)));
    assert!(matches!(&out[1], Event::Reject(r) if r.reason == RejectReason::NonPositivePrice));
    let mut out = Vec::new();
    assert_eq!(
        a.parse(Frame::Binary(&[1, 2, 3]), 1, &mut out),
        FrameKind::Rejected
    );
}

#[test]
fn subscription_plan_and_urls() {
    let a = adapter();
    assert_eq!(a.endpoint(), Endpoint::Business);
    assert_eq!(
        a.connect_url("ws://127.0.0.1:9/okx/"),
        "ws://127.0.0.1:9/okx/ws/v5/business"
    );
    assert_eq!(
        a.connect_url("wss://ws.okx.com:8443/ws/v5/business"),
        "wss://ws.okx.com:8443/ws/v5/business"
    );
    assert_eq!(
        a.connect_url("wss://ws.okx.com:8443/ws/v5/public/"),
        "wss://ws.okx.com:8443/ws/v5/business",
        "the endpoint the channels need wins"
    );
    let msgs = a.subscribe_messages();
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].contains(r#"{"channel":"trades-all","instId":"BTC-USDT"}"#));
    assert!(msgs[0].contains(r#"{"channel":"candle1m","instId":"UNI-USD-SWAP"}"#));
    assert_eq!(a.expected_acks(), 6);
    assert_eq!(a.ping_message(1).as_deref(), Some("ping"));

    let bbo = OkxAdapter::new(&[market("BTC/USDT", &[Channel::Bbo])]).expect("bbo");
    assert_eq!(bbo.endpoint(), Endpoint::Public);
    let mixed = OkxAdapter::new(&[market("BTC/USDT", &[Channel::Trades, Channel::Bbo])]);
    assert!(matches!(mixed, Err(VenueError::SplitConnection { .. })));
    let agg = OkxAdapter::new(&[market("BTC/USDT", &[Channel::AggTrades])]);
    assert!(matches!(agg, Err(VenueError::UnsupportedChannel { .. })));
    let week = OkxAdapter::new(&[market("BTC/USDT", &[Channel::Candles(604_800)])]).expect("1w");
    assert!(week.subscribe_messages()[0].contains("candle1Wutc"));
}

/// Every captured `books` message applies to the book built from the capture's snapshots and
/// matches its checksum (the 2022 capture predates `seqId`; its checksums are non-zero).
#[test]
fn captured_books_verify_every_checksum() {
    use std::collections::HashMap;
    use tickrec_book::{BookTracker, Checksum, Verdict};
    let a = adapter();
    let mut trackers: HashMap<Arc<str>, BookTracker> = HashMap::new();
    let mut verified = 0;
    for f in frames() {
        let (_, events) = parse_one(&a, f);
        for e in events {
            let Event::Book(b) = e else { continue };
            let t = trackers
                .entry(b.symbol.clone())
                .or_insert_with(|| BookTracker::new(Checksum::Okx, None));
            let v = match b.kind {
                BookKind::Snapshot => t.on_snapshot(&b.bids, &b.asks, b.checksum, 0),
                BookKind::Delta => t.on_delta(&b.bids, &b.asks, b.checksum, 0),
            };
            assert_eq!(v, Verdict::Verified, "{f}");
            assert!(!t.book().is_crossed());
            verified += 1;
        }
    }
    assert_eq!((verified, trackers.len()), (290, 3));
}

#[test]
fn documented_seq_id_chain_exact_values() {
    let a = OkxAdapter::new(&[market("XRP/JPY", &[Channel::Book])]).expect("valid");
    let snap = r#"{"arg":{"channel":"books","instId":"XRP-JPY"},"action":"snapshot","data":[{"asks":[["252.52","1909.156","0","2"],["252.57","247.76","0","1"],["252.77","856.465","0","2"]],"bids":[["251.87","601.749","0","1"],["251.86","32.4","0","1"],["251.75","149.802","0","1"]],"ts":"1790133750004","checksum":2077395788,"seqId":4588907,"prevSeqId":-1}]}"#;
    let upd = r#"{"arg":{"channel":"books","instId":"XRP-JPY"},"action":"update","data":[{"asks":[["252.54","32.4","0","1"],["252.57","0","0","0"],["267.62","0","0","0"]],"bids":[],"ts":"1790133750704","checksum":-1242588839,"seqId":4588911,"prevSeqId":4588907}]}"#;
    let (kind, ev) = parse_one(&a, snap);
    assert_eq!(kind, FrameKind::Data);
    let Event::Book(s) = &ev[0] else {
        panic!("not a book")
    };
    assert_eq!(s.kind, BookKind::Snapshot);
    assert_eq!(
        (s.first_update_id, s.last_update_id),
        (None, Some(4_588_907))
    );
    assert_eq!(s.checksum, Some(2_077_395_788));
    assert_eq!(s.ts_exchange_us, Some(1_790_133_750_004_000));
    assert_eq!(s.asks[2].price.to_string(), "252.77");
    assert_eq!(s.bids[1].qty.to_string(), "32.4");
    let (_, ev) = parse_one(&a, upd);
    let Event::Book(u) = &ev[0] else {
        panic!("not a book")
    };
    assert_eq!(u.kind, BookKind::Delta);
    assert_eq!(
        (u.first_update_id, u.last_update_id),
        (Some(4_588_907), Some(4_588_911))
    );
    assert_eq!(u.checksum, Some((-1_242_588_839i32) as u32));
    assert_eq!(u.asks[1].qty.to_string(), "0");
    // Deprecated checksum (0 since 2026-06-23) means "not provided".
    let zero = upd.replace("-1242588839", "0");
    let (_, ev) = parse_one(&a, &zero);
    let Event::Book(u) = &ev[0] else {
        panic!("not a book")
    };
    assert_eq!(u.checksum, None);
    for (bad, reason) in [
        (
            upd.replace("-1242588839", "4294967295"),
            RejectReason::BadNumber,
        ),
        (
            upd.replace("\"prevSeqId\":4588907", "\"prevSeqId\":-7"),
            RejectReason::BadNumber,
        ),
        (
            upd.replace("\"252.54\"", "\"-252.54\""),
            RejectReason::NonPositivePrice,
        ),
        (upd.replace("\"32.4\"", "\"x\""), RejectReason::BadNumber),
        (
            upd.replace("\"ts\":\"1790133750704\",", ""),
            RejectReason::MissingField,
        ),
    ] {
        assert_eq!(reject_reasons(&a, &bad), [reason], "{bad}");
    }
}

#[test]
fn book_subscription_and_resync_messages() {
    let a = OkxAdapter::new(&[
        market("BTC/USDT", &[Channel::Bbo, Channel::Book]),
        market("ETH/USDT", &[Channel::Book]),
    ])
    .expect("valid");
    assert_eq!(a.endpoint(), Endpoint::Public);
    let sub: serde_json::Value = serde_json::from_str(&a.subscribe_messages()[0]).expect("json");
    assert_eq!(
        sub,
        serde_json::json!({"id":"1","op":"subscribe","args":[
            {"channel":"bbo-tbt","instId":"BTC-USDT"},
            {"channel":"books","instId":"BTC-USDT"},
            {"channel":"books","instId":"ETH-USDT"}]})
    );
    let resync: Vec<serde_json::Value> = a
        .book_resync_messages("ETH/USDT")
        .iter()
        .map(|m| serde_json::from_str(m).expect("json"))
        .collect();
    assert_eq!(
        resync,
        [
            serde_json::json!({"id":"1","op":"unsubscribe","args":[{"channel":"books","instId":"ETH-USDT"}]}),
            serde_json::json!({"id":"1","op":"subscribe","args":[{"channel":"books","instId":"ETH-USDT"}]}),
        ]
    );
    assert!(a.book_resync_messages("SOL/USDT").is_empty());
    assert!(matches!(
        OkxAdapter::new(&[market("BTC/USDT", &[Channel::Trades, Channel::Book])]),
        Err(VenueError::SplitConnection { .. })
    ));
}
