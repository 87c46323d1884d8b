//! Golden tests on the Bybit v5 samples of protocols.md §6.2 (real spot frames where the
//! document has them, documented ones otherwise) and on bad input.

use std::sync::Arc;

use tickrec_model::{BookKind, Channel, Event, RejectReason, Side, TradeId, TradeKind};

use super::symbols::Category;
use super::BybitAdapter;
use crate::{Frame, FrameKind, MarketSub, VenueAdapter, VenueError};

fn market(symbol: &str, channels: &[Channel]) -> MarketSub {
    MarketSub {
        symbol: Arc::from(symbol),
        channels: channels.to_vec(),
    }
}

fn spot() -> BybitAdapter {
    let all = [Channel::Trades, Channel::Bbo, Channel::Candles(300)];
    BybitAdapter::new(&[market("BTC/USDT", &all), market("MNT/USDT", &all)]).expect("spot")
}

fn linear() -> BybitAdapter {
    BybitAdapter::new(&[market("BTC/USDT:USDT", &[Channel::Trades])]).expect("linear")
}

fn parse(a: &BybitAdapter, text: &str) -> (FrameKind, Vec<Event>) {
    let mut out = Vec::new();
    let kind = a.parse(Frame::Text(text), 1_700_000_000_000_000, &mut out);
    (kind, out)
}

/// Real spot trade (protocols.md §6.2).
const SPOT_TRADE: &str = r#"{"topic":"publicTrade.BTCUSDT","ts":1761583474344,"type":"snapshot","data":[{"i":"2290000000923750370","T":1761583474343,"p":"115440.7","v":"0.00903","S":"Buy","seq":89200463112,"s":"BTCUSDT","BT":false,"RPI":false}]}"#;
/// Documented linear trade.
const LINEAR_TRADE: &str = r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false,"seq":1783284617}]}"#;

#[test]
fn trades_exact_values() {
    let (kind, ev) = parse(&spot(), SPOT_TRADE);
    assert_eq!(kind, FrameKind::Data);
    let Event::Trade(t) = &ev[0] else {
        panic!("not a trade")
    };
    assert_eq!(&*t.symbol, "BTC/USDT");
    assert_eq!(t.trade_id, TradeId::Text("2290000000923750370".into()));
    assert_eq!(t.price.to_string(), "115440.7");
    assert_eq!(t.qty.to_string(), "0.00903");
    assert_eq!(t.side, Side::Buy);
    assert_eq!(t.ts_exchange_us, 1_761_583_474_343_000);
    assert_eq!(t.kind, TradeKind::Single);

    let (_, ev) = parse(&linear(), LINEAR_TRADE);
    let Event::Trade(t) = &ev[0] else {
        panic!("not a trade")
    };
    assert_eq!(&*t.symbol, "BTC/USDT:USDT");
    assert_eq!(
        t.trade_id,
        TradeId::Text("20f43950-d8dd-5b31-9112-a178eb6023af".into())
    );
    assert_eq!(t.price.to_string(), "16578.50");
    assert_eq!(t.qty.to_string(), "0.001");

    // Several trades per push; the second one bad: it alone becomes a reject.
    let two = r#"{"topic":"publicTrade.BTCUSDT","ts":1,"type":"snapshot","data":[{"i":"2100000000188691524","T":1789299660688,"p":"77140.5","v":"0.00389","S":"Sell","s":"BTCUSDT"},{"i":"2","T":1789299660688,"p":"0","v":"1","S":"Sell","s":"BTCUSDT"}]}"#;
    let (kind, ev) = parse(&spot(), two);
    assert_eq!(kind, FrameKind::Data);
    let Event::Trade(t) = &ev[0] else {
        panic!("not a trade")
    };
    assert_eq!(t.side, Side::Sell);
    assert_eq!(t.price.to_string(), "77140.5");
    assert!(matches!(&ev[1], Event::Reject(r) if r.reason == RejectReason::NonPositivePrice));
}

#[test]
fn books_klines_exact_values() {
    let a = spot();
    let bbo = r#"{"topic":"orderbook.1.BTCUSDT","ts":1731035685326,"type":"snapshot","data":{"s":"BTCUSDT","b":[["75848.74","0.067669"]],"a":[["75848.75","0.747137"]],"u":2876700,"seq":47474967795},"cts":1731035685323}"#;
    let (_, ev) = parse(&a, bbo);
    let Event::Quote(q) = &ev[0] else {
        panic!("not a quote")
    };
    assert_eq!(
        [q.bid_price, q.bid_qty, q.ask_price, q.ask_qty].map(|d| d.to_string()),
        ["75848.74", "0.067669", "75848.75", "0.747137"]
    );
    assert_eq!(q.update_id, Some(2_876_700));
    assert_eq!(q.ts_exchange_us, Some(1_731_035_685_323_000));

    let delta = r#"{"topic":"orderbook.50.BTCUSDT","ts":1731035685345,"type":"delta","data":{"s":"BTCUSDT","b":[["75848.62","0.014895"],["75837.13","0"]],"a":[["75848.89","0.088149"],["75851.44","0.078379"],["75852.65","0"],["75855.23","0.260219"],["75857.74","0.049778"]],"u":2876701,"seq":47474967823},"cts":1731035685342}"#;
    let (_, ev) = parse(&a, delta);
    let Event::Book(b) = &ev[0] else {
        panic!("not a book")
    };
    assert_eq!(b.kind, BookKind::Delta);
    assert_eq!(b.last_update_id, Some(2_876_701));
    assert_eq!((b.bids.len(), b.asks.len()), (2, 5));
    assert_eq!(b.bids[1].qty.to_string(), "0");

    let kline = r#"{"topic":"kline.5.BTCUSDT","data":[{"start":1672324800000,"end":1672325099999,"interval":"5","open":"16649.5","close":"16677","high":"16677","low":"16608","volume":"2.081","turnover":"34666.4005","confirm":false,"timestamp":1672324988882}],"ts":1672324988882,"type":"snapshot"}"#;
    let (_, ev) = parse(&a, kline);
    let Event::Candle(c) = &ev[0] else {
        panic!("not a candle")
    };
    assert_eq!(c.interval_s, 300);
    assert_eq!(c.open_time_us, 1_672_324_800_000_000);
    assert_eq!(
        [c.open, c.high, c.low, c.close, c.volume].map(|d| d.to_string()),
        ["16649.5", "16677", "16608", "16677", "2.081"]
    );
    assert_eq!(
        c.quote_volume.map(|d| d.to_string()).as_deref(),
        Some("34666.4005")
    );
    assert!(!c.closed);
    assert_eq!(c.ts_exchange_us, 1_672_324_988_882_000);
}

#[test]
fn control_frames_are_classified() {
    let a = spot();
    let pong_spot = r#"{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}"#;
    assert_eq!(parse(&a, pong_spot).0, FrameKind::Pong);
    assert_eq!(
        parse(&a, r#"{"args":["1672916271846"],"op":"pong"}"#).0,
        FrameKind::Pong
    );
    let ack = r#"{"success":true,"ret_msg":"subscribe","conn_id":"2324d924","req_id":"1","op":"subscribe"}"#;
    assert_eq!(parse(&a, ack).0, FrameKind::SubscribeAck(1));
    let dup = r#"{"success":false,"ret_msg":"error:already subscribed,topic:kline.1.BTCUSDT","conn_id":"x","op":"subscribe"}"#;
    assert_eq!(parse(&a, dup).0, FrameKind::SubscribeAck(1));
    let bad = r#"{"success":false,"ret_msg":"Invalid symbol :[tickers.NOPEUSDT]","conn_id":"x","req_id":"1","op":"subscribe"}"#;
    match parse(&a, bad).0 {
        FrameKind::SubscribeRejected(r) => {
            assert_eq!(r.req_id, Some(1));
            assert!(r.error.contains("Invalid symbol"));
            assert!(a.resubscribe_message(&r).is_some());
        }
        k => panic!("{k:?}"),
    }
}

fn reject_reason(a: &BybitAdapter, text: &str) -> RejectReason {
    let (kind, out) = parse(a, text);
    assert_eq!(kind, FrameKind::Rejected, "{text}");
    match &out[0] {
        Event::Reject(r) => r.reason,
        e => panic!("expected a reject, got {e:?}"),
    }
}

#[test]
fn bad_input_becomes_reject_rows() {
    let a = spot();
    let t = |s: &str| reject_reason(&a, s);
    let trade = |p: &str, v: &str, side: &str| {
        format!(
            r#"{{"topic":"publicTrade.BTCUSDT","ts":1,"type":"snapshot","data":[{{"i":"1","T":1761583474343,"p":{p},"v":{v},"S":"{side}","s":"BTCUSDT"}}]}}"#
        )
    };
    assert_eq!(t("{\"topic\":"), RejectReason::MalformedJson);
    assert_eq!(t(r#"{"hello":1}"#), RejectReason::UnknownMessage);
    assert_eq!(
        t(r#"{"topic":"publicTrade.DOGEUSDT","data":[]}"#),
        RejectReason::UnknownSymbol
    );
    assert_eq!(
        t(r#"{"topic":"weird.BTCUSDT","data":{}}"#),
        RejectReason::UnknownMessage
    );
    assert_eq!(
        t(r#"{"topic":"publicTrade.BTCUSDT"}"#),
        RejectReason::MissingField
    );
    assert_eq!(
        t(&trade("\"0\"", "\"1\"", "Buy")),
        RejectReason::NonPositivePrice
    );
    assert_eq!(
        t(&trade("\"1\"", "\"0\"", "Buy")),
        RejectReason::NonPositiveQty
    );
    assert_eq!(
        t(&trade("\"NaN\"", "\"1\"", "Buy")),
        RejectReason::BadNumber
    );
    assert_eq!(t(&trade("1.5", "\"1\"", "Buy")), RejectReason::MissingField);
    assert_eq!(
        t(&trade("\"1\"", "\"1\"", "Hold")),
        RejectReason::UnknownMessage
    );
}

#[test]
fn subscription_requests_respect_the_spot_topic_limit() {
    let symbols: Vec<MarketSub> = (0..4)
        .map(|i| {
            market(
                &format!("C{i}/USDT"),
                &[Channel::Trades, Channel::Bbo, Channel::Candles(60)],
            )
        })
        .collect();
    let a = BybitAdapter::new(&symbols).expect("spot");
    assert_eq!(a.category(), Category::Spot);
    let msgs = a.subscribe_messages();
    assert_eq!(msgs.len(), 2, "12 topics → 10 + 2");
    assert!(msgs[0]
        .starts_with(r#"{"args":["publicTrade.C0USDT","orderbook.1.C0USDT","kline.1.C0USDT""#));
    assert!(msgs[1].contains(r#""req_id":"2""#));
    assert_eq!(a.expected_acks(), 2);
    assert_eq!(
        a.connect_url("ws://127.0.0.1:1/bybit"),
        "ws://127.0.0.1:1/bybit/v5/public/spot"
    );
    assert_eq!(
        linear().connect_url("wss://stream.bybit.com"),
        "wss://stream.bybit.com/v5/public/linear"
    );
    assert_eq!(
        linear().connect_url("wss://stream.bybit.com/v5/public/spot"),
        "wss://stream.bybit.com/v5/public/linear",
        "a perpetual never reads the spot socket"
    );
    assert!(a
        .ping_message(7)
        .is_some_and(|p| p.contains(r#""op":"ping""#)));
    let mixed = BybitAdapter::new(&[
        market("BTC/USDT", &[Channel::Trades]),
        market("BTC/USDT:USDT", &[Channel::Trades]),
    ]);
    assert!(matches!(mixed, Err(VenueError::SplitConnection { .. })));
}

/// Real spot `orderbook.50` snapshot and its next delta (protocols.md §6.2), shortened to the
/// levels the document quotes.
const BOOK_SNAPSHOT: &str = r#"{"topic":"orderbook.50.BTCUSDT","ts":1731035685326,"type":"snapshot","data":{"s":"BTCUSDT","b":[["75848.74","0.067669"],["75848.63","0.004772"],["75848.61","0.00659"],["75837.24","0.119228"],["75837.13","0.152844"]],"a":[["75848.75","0.747137"],["75848.89","0.060306"],["75848.9","0.1"],["75864.76","0.000072"],["75864.81","0.002018"]],"u":2876700,"seq":47474967795},"cts":1731035685323}"#;
const BOOK_DELTA: &str = r#"{"topic":"orderbook.50.BTCUSDT","ts":1731035685345,"type":"delta","data":{"s":"BTCUSDT","b":[["75848.62","0.014895"],["75837.13","0"]],"a":[["75848.89","0.088149"],["75851.44","0.078379"],["75852.65","0"],["75855.23","0.260219"],["75857.74","0.049778"]],"u":2876701,"seq":47474967823},"cts":1731035685342}"#;

fn book_spot() -> BybitAdapter {
    BybitAdapter::new(&[
        market("BTC/USDT", &[Channel::Bbo, Channel::Book]),
        market("MNT/USDT", &[Channel::Book]),
    ])
    .expect("spot")
}

#[test]
fn book_snapshot_then_delta_exact_values() {
    let a = book_spot();
    let (kind, ev) = parse(&a, BOOK_SNAPSHOT);
    assert_eq!(kind, FrameKind::Data);
    let Event::Book(s) = &ev[0] else {
        panic!("not a book")
    };
    assert_eq!(s.kind, BookKind::Snapshot);
    assert_eq!(
        (s.first_update_id, s.last_update_id),
        (None, Some(2_876_700))
    );
    assert_eq!(s.checksum, None);
    assert_eq!(
        s.ts_exchange_us,
        Some(1_731_035_685_323_000),
        "cts, the matching-engine time"
    );
    assert_eq!(s.asks[2].price.to_string(), "75848.9");
    assert_eq!(s.bids[2].qty.to_string(), "0.00659");
    let (_, ev) = parse(&a, BOOK_DELTA);
    let Event::Book(d) = &ev[0] else {
        panic!("not a book")
    };
    let mut t = tickrec_book::BookTracker::new(tickrec_book::Checksum::None, Some(50));
    t.on_snapshot(&s.bids, &s.asks, None, 0);
    let mut seq = tickrec_book::Consecutive::new();
    seq.on_snapshot(s.last_update_id.expect("u"));
    assert_eq!(
        seq.on_delta(d.last_update_id.expect("u")),
        tickrec_book::Step::Apply(())
    );
    t.on_delta(&d.bids, &d.asks, None, 0);
    let book = t.book();
    assert_eq!(
        book.depth(tickrec_book::BookSide::Bid),
        5,
        "75837.13 removed, 75848.62 added"
    );
    assert_eq!(
        book.best_ask().map(|l| l.price.to_string()).as_deref(),
        Some("75848.75")
    );
    assert!(!book.is_crossed());
}

#[test]
fn book_subscription_and_resync_messages() {
    let a = book_spot();
    let sub: serde_json::Value = serde_json::from_str(&a.subscribe_messages()[0]).expect("json");
    assert_eq!(
        sub,
        serde_json::json!({"req_id":"1","op":"subscribe",
            "args":["orderbook.1.BTCUSDT","orderbook.50.BTCUSDT","orderbook.50.MNTUSDT"]})
    );
    let resync: Vec<serde_json::Value> = a
        .book_resync_messages("MNT/USDT")
        .iter()
        .map(|m| serde_json::from_str(m).expect("json"))
        .collect();
    assert_eq!(
        resync,
        [
            serde_json::json!({"req_id":"1","op":"unsubscribe","args":["orderbook.50.MNTUSDT"]}),
            serde_json::json!({"req_id":"1","op":"subscribe","args":["orderbook.50.MNTUSDT"]}),
        ]
    );
    assert!(
        spot().book_resync_messages("BTC/USDT").is_empty(),
        "no book channel"
    );
    let unsub = r#"{"success":true,"ret_msg":"","conn_id":"x","req_id":"1","op":"unsubscribe"}"#;
    assert_eq!(parse(&a, unsub).0, FrameKind::Status);
}

#[test]
fn malformed_book_frames_become_rejects() {
    let a = book_spot();
    for (frame, reason) in [
        (
            BOOK_DELTA.replace(r#""type":"delta""#, r#""type":"partial""#),
            RejectReason::UnknownMessage,
        ),
        (
            BOOK_DELTA.replace(r#""u":2876701,"#, ""),
            RejectReason::MissingField,
        ),
        (
            BOOK_DELTA.replace(r#""75848.62""#, r#""0""#),
            RejectReason::NonPositivePrice,
        ),
        (
            BOOK_DELTA.replace(r#""0.014895""#, r#""1e""#),
            RejectReason::BadNumber,
        ),
        (
            BOOK_DELTA.replace("orderbook.50.BTCUSDT", "orderbook.50.ETHUSDT"),
            RejectReason::UnknownSymbol,
        ),
        (BOOK_DELTA[..80].to_string(), RejectReason::MalformedJson),
    ] {
        assert_eq!(reject_reason(&a, &frame), reason, "{frame}");
    }
}
