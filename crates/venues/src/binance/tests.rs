//! Golden tests on real Binance frames (cryptofeed capture, 2021-10-12) and bad input.

use std::sync::Arc;

use tickrec_model::{BookKind, Channel, Event, RejectReason, Side, TradeId, TradeKind};

use super::BinanceAdapter;
use crate::{Frame, FrameKind, MarketSub, VenueAdapter};

const CAPTURE: &str = include_str!("../../tests/fixtures/BINANCE.ws.1.0");
/// REST `/api/v3/depth` replies of the same session (`URL -> UNIX_SECONDS: BODY` lines).
const HTTP_CAPTURE: &str = include_str!("../../tests/fixtures/BINANCE.http.0.0");

fn adapter() -> BinanceAdapter {
    let all = vec![
        Channel::Trades,
        Channel::AggTrades,
        Channel::Bbo,
        Channel::Candles(60),
    ];
    let markets: Vec<MarketSub> = ["NKN/USDT", "BLZ/ETH", "LRC/BTC", "RUNE/EUR"]
        .into_iter()
        .map(|s| MarketSub {
            symbol: Arc::from(s),
            channels: all.clone(),
        })
        .collect();
    BinanceAdapter::new(&markets).expect("valid markets")
}

/// `UNIX_SECONDS: PAYLOAD` lines after the URL header.
fn frames() -> Vec<&'static str> {
    CAPTURE
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split_once(": ").map(|(_, p)| p).unwrap_or(l))
        .collect()
}

fn parse_one(a: &BinanceAdapter, text: &str) -> (FrameKind, Vec<Event>) {
    let mut out = Vec::new();
    let kind = a.parse(Frame::Text(text), 1_700_000_000_000_000, &mut out);
    (kind, out)
}

#[test]
fn every_captured_frame_parses_without_reject() {
    let a = adapter();
    let (mut trades, mut quotes, mut candles, mut books) = (0, 0, 0, 0);
    let frames = frames();
    assert_eq!(frames.len(), 265);
    for f in &frames {
        let (kind, events) = parse_one(&a, f);
        assert_eq!(kind, FrameKind::Data, "{f}");
        assert_eq!(events.len(), 1, "{f}");
        match &events[0] {
            Event::Trade(_) => trades += 1,
            Event::Quote(_) => quotes += 1,
            Event::Candle(_) => candles += 1,
            Event::Book(_) => books += 1,
            Event::Reject(r) => panic!("valid frame rejected: {r:?}"),
            Event::Quality(q) => panic!("a parser never emits data-quality events: {q:?}"),
            Event::BookTop(t) => panic!("a parser never emits book tops: {t:?}"),
        }
    }
    assert_eq!((trades, quotes, candles, books), (2, 84, 2, 177));
}

#[test]
fn agg_trade_exact_values() {
    let a = adapter();
    let f = frames()
        .into_iter()
        .find(|f| f.contains("nknusdt@aggTrade"))
        .expect("fixture");
    let (_, ev) = parse_one(&a, f);
    let Event::Trade(t) = &ev[0] else {
        panic!("not a trade")
    };
    assert_eq!(&*t.symbol, "NKN/USDT");
    assert_eq!(t.trade_id, TradeId::Num(15_683_430));
    assert_eq!(t.price.to_string(), "0.35280000");
    assert_eq!(t.qty.to_string(), "58.00000000");
    assert_eq!(t.side, Side::Buy); // m=false: the buyer was the taker
    assert_eq!(t.ts_exchange_us, 1_633_998_523_963_000);
    assert_eq!(
        t.kind,
        TradeKind::Aggregate {
            first_id: 19_862_790,
            last_id: 19_862_790
        }
    );

    let f = frames()
        .into_iter()
        .find(|f| f.contains("lrcbtc@aggTrade"))
        .expect("fixture");
    let (_, ev) = parse_one(&a, f);
    let Event::Trade(t) = &ev[0] else {
        panic!("not a trade")
    };
    assert_eq!(t.price.to_string(), "0.00000638");
    assert_eq!(t.qty.to_string(), "177.00000000");
}

#[test]
fn trade_exact_values_and_taker_side() {
    let a = adapter();
    let f = r#"{"stream":"nknusdt@trade","data":{"e":"trade","E":1757522615939,"s":"NKNUSDT","t":5225367649,"p":"113747.89000000","q":"0.00060000","T":1757522615939,"m":true,"M":true}}"#;
    let (kind, ev) = parse_one(&a, f);
    assert_eq!(kind, FrameKind::Data);
    let Event::Trade(t) = &ev[0] else {
        panic!("not a trade")
    };
    assert_eq!(t.trade_id, TradeId::Num(5_225_367_649));
    assert_eq!(t.price.to_string(), "113747.89000000");
    assert_eq!(t.qty.to_string(), "0.00060000");
    assert_eq!(t.side, Side::Sell);
    assert_eq!(t.ts_exchange_us, 1_757_522_615_939_000);
    assert_eq!(t.kind, TradeKind::Single);
}

#[test]
fn kline_and_book_ticker_exact_values() {
    let a = adapter();
    let f = frames()
        .into_iter()
        .find(|f| f.contains("nknusdt@kline_1m"))
        .expect("fixture");
    let (_, ev) = parse_one(&a, f);
    let Event::Candle(c) = &ev[0] else {
        panic!("not a candle")
    };
    assert_eq!(c.interval_s, 60);
    assert_eq!(c.open_time_us, 1_633_998_480_000_000);
    assert_eq!(
        [c.open, c.high, c.low, c.close, c.volume].map(|d| d.to_string()),
        [
            "0.35270000",
            "0.35280000",
            "0.35220000",
            "0.35280000",
            "25877.00000000"
        ]
    );
    assert_eq!(
        c.quote_volume.map(|d| d.to_string()).as_deref(),
        Some("9116.04600000")
    );
    assert_eq!(c.trades, Some(30));
    assert!(!c.closed);
    assert_eq!(c.ts_exchange_us, 1_633_998_523_963_000);

    let f = frames()
        .into_iter()
        .find(|f| f.contains(r#""u":499869768"#))
        .expect("fixture");
    let (_, ev) = parse_one(&a, f);
    let Event::Quote(q) = &ev[0] else {
        panic!("not a quote")
    };
    assert_eq!(q.update_id, Some(499_869_768));
    assert_eq!(
        [q.bid_price, q.bid_qty, q.ask_price, q.ask_qty].map(|d| d.to_string()),
        ["0.35210000", "672.00000000", "0.35260000", "3199.00000000"]
    );
    assert_eq!(q.ts_exchange_us, None);
}

#[test]
fn depth_update_exact_values() {
    let a = adapter();
    let (_, ev) = parse_one(&a, frames()[0]);
    let Event::Book(b) = &ev[0] else {
        panic!("not a book")
    };
    assert_eq!(b.kind, BookKind::Delta);
    assert_eq!(
        (b.first_update_id, b.last_update_id),
        (Some(499_869_750), Some(499_869_752))
    );
    assert_eq!(b.bids.len(), 3);
    assert!(b.asks.is_empty());
    assert_eq!(b.bids[0].price.to_string(), "0.35130000");
    assert_eq!(b.bids[0].qty.to_string(), "6195.00000000");
}

#[test]
fn control_frames_are_classified() {
    let a = adapter();
    assert_eq!(
        parse_one(&a, r#"{"result":null,"id":1}"#).0,
        FrameKind::SubscribeAck(1)
    );
    assert_eq!(
        parse_one(&a, r#"{"result":["btcusdt@trade"],"id":3}"#).0,
        FrameKind::Status
    );
    match parse_one(
        &a,
        r#"{"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":2}"#,
    )
    .0
    {
        FrameKind::SubscribeRejected(r) => {
            assert_eq!(r.req_id, Some(2));
            assert!(r.error.contains("invalid stream"));
        }
        k => panic!("{k:?}"),
    }
    let shutdown =
        r#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}"#;
    assert_eq!(parse_one(&a, shutdown).0, FrameKind::ServerShutdown);
}

fn reject_reason(a: &BinanceAdapter, frame: Frame<'_>) -> RejectReason {
    let mut out = Vec::new();
    let kind = a.parse(frame, 1, &mut out);
    assert_eq!(kind, FrameKind::Rejected);
    assert_eq!(out.len(), 1);
    match &out[0] {
        Event::Reject(r) => {
            assert!(r.raw.len() <= tickrec_model::MAX_REJECT_RAW_BYTES);
            r.reason
        }
        e => panic!("expected a reject, got {e:?}"),
    }
}

#[test]
fn bad_input_becomes_reject_rows() {
    let a = adapter();
    let t = |s: &str| reject_reason(&a, Frame::Text(s));
    let trade = |p: &str, q: &str| {
        format!(
            r#"{{"stream":"nknusdt@trade","data":{{"e":"trade","E":1,"s":"NKNUSDT","t":1,"p":{p},"q":{q},"T":1757522615939,"m":true}}}}"#
        )
    };
    assert_eq!(t("{\"stream\":\"nknusdt@tra"), RejectReason::MalformedJson);
    assert_eq!(t("not json at all"), RejectReason::MalformedJson);
    assert_eq!(t(r#"{"hello":"world"}"#), RejectReason::UnknownMessage);
    assert_eq!(
        t(r#"{"stream":"nknusdt@weird","data":{}}"#),
        RejectReason::UnknownMessage
    );
    assert_eq!(
        t(r#"{"stream":"dogeusdt@trade","data":{}}"#),
        RejectReason::UnknownSymbol
    );
    assert_eq!(
        t(r#"{"stream":"nknusdt@trade","data":{"e":"trade"}}"#),
        RejectReason::MissingField
    );
    assert_eq!(t(&trade("\"0\"", "\"1\"")), RejectReason::NonPositivePrice);
    assert_eq!(
        t(&trade("\"-5.1\"", "\"1\"")),
        RejectReason::NonPositivePrice
    );
    assert_eq!(
        t(&trade("\"1\"", "\"0.00000000\"")),
        RejectReason::NonPositiveQty
    );
    assert_eq!(t(&trade("\"NaN\"", "\"1\"")), RejectReason::BadNumber);
    assert_eq!(t(&trade("\"inf\"", "\"1\"")), RejectReason::BadNumber);
    assert_eq!(t(&trade("\"1e999\"", "\"1\"")), RejectReason::BadNumber);
    assert_eq!(
        t(&trade("\"99999999999999999999999\"", "\"1\"")),
        RejectReason::BadNumber
    );
    assert_eq!(t(&trade("1.5", "\"1\"")), RejectReason::MissingField); // a number where text is due
    assert_eq!(
        reject_reason(&a, Frame::Binary(&[0, 159, 146, 150])),
        RejectReason::BinaryFrame
    );
    let huge = format!(
        r#"{{"stream":"nknusdt@trade","data":"{}"}}"#,
        "x".repeat(2 << 20)
    );
    assert_eq!(t(&huge), RejectReason::Oversized);
}

#[test]
fn stream_names_and_url() {
    let a = adapter();
    assert_eq!(a.streams()[0], "nknusdt@trade");
    assert_eq!(a.streams()[3], "nknusdt@kline_1m");
    assert!(a.connect_url("ws://127.0.0.1:1/binance/").starts_with(
        "ws://127.0.0.1:1/binance/stream?streams=nknusdt@trade/nknusdt@aggTrade/nknusdt@bookTicker/"
    ));
    let bad = MarketSub {
        symbol: Arc::from("BTCUSDT"),
        channels: vec![Channel::Trades],
    };
    assert!(BinanceAdapter::new(&[bad]).is_err());
}

/// `(url, body)` of every captured REST reply.
fn http_replies() -> Vec<(&'static str, &'static str)> {
    HTTP_CAPTURE
        .lines()
        .filter_map(|l| {
            let (url, rest) = l.split_once(" -> ")?;
            Some((url, rest.split_once(": ")?.1))
        })
        .collect()
}

fn book_adapter(symbols: &[&str]) -> BinanceAdapter {
    let markets: Vec<MarketSub> = symbols
        .iter()
        .map(|s| MarketSub {
            symbol: Arc::from(*s),
            channels: vec![Channel::Book],
        })
        .collect();
    BinanceAdapter::new(&markets).expect("valid markets")
}

#[test]
fn book_channel_subscribes_the_100ms_diff_stream_and_fetches_depth_1000() {
    let a = book_adapter(&["NKN/USDT", "BLZ/ETH"]);
    assert_eq!(a.streams(), ["nknusdt@depth@100ms", "blzeth@depth@100ms"]);
    // The captured session asked for exactly this URL.
    assert_eq!(
        a.book_snapshot_url("NKN/USDT", "https://api.binance.com/")
            .as_deref(),
        Some(http_replies()[0].0)
    );
    assert!(a.book_resync_messages("NKN/USDT").is_empty());
}

#[test]
fn rest_depth_snapshots_exact_values() {
    let a = book_adapter(&["NKN/USDT"]);
    let replies = http_replies();
    assert_eq!(replies.len(), 4);
    let symbol: Arc<str> = Arc::from("NKN/USDT");
    let b = a
        .parse_book_snapshot(&symbol, replies[0].1.as_bytes(), 7)
        .expect("snapshot");
    assert_eq!(b.kind, BookKind::Snapshot);
    assert_eq!(
        (b.first_update_id, b.last_update_id),
        (None, Some(499_869_752))
    );
    assert_eq!((b.bids.len(), b.asks.len()), (609, 1000));
    assert_eq!(b.bids[0].price.to_string(), "0.35210000");
    assert_eq!(b.bids[0].qty.to_string(), "672.00000000");
    assert_eq!(b.bids[4].price.to_string(), "0.35160000");
    assert_eq!(b.bids[4].qty.to_string(), "15356.00000000");
    assert!(b.asks[0].price > b.bids[0].price);
    assert_eq!((b.ts_recv_us, b.checksum, b.verified), (7, None, false));
    // Every captured snapshot parses, best first on both sides.
    for (url, body) in &replies {
        let b = a
            .parse_book_snapshot(&symbol, body.as_bytes(), 0)
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(b.bids.windows(2).all(|w| w[0].price > w[1].price), "{url}");
        assert!(b.asks.windows(2).all(|w| w[0].price < w[1].price), "{url}");
    }
    for bad in [
        "",
        "{}",
        r#"{"lastUpdateId":1,"bids":[["x","1"]],"asks":[]}"#,
        r#"{"lastUpdateId":1,"bids":[["1","-1"]],"asks":[]}"#,
        r#"{"lastUpdateId":-1,"bids":[],"asks":[]}"#,
    ] {
        assert!(
            a.parse_book_snapshot(&symbol, bad.as_bytes(), 0).is_err(),
            "{bad}"
        );
    }
}

/// The adapter's events, aligned by `tickrec-book`'s Binance rule, rebuild every captured book
/// without a gap and never crossed, agreeing with the venue's own best bid/offer.
#[test]
fn captured_stream_syncs_on_the_captured_snapshots() {
    use tickrec_book::{BinanceSync, BookTracker, Checksum, Step};
    use tickrec_model::BookUpdate;

    let symbols = ["NKN/USDT", "BLZ/ETH", "LRC/BTC", "RUNE/EUR"];
    let a = adapter();
    let book = book_adapter(&symbols);
    let mut syncs: Vec<BinanceSync<BookUpdate>> =
        symbols.iter().map(|_| BinanceSync::new(10_000)).collect();
    let mut trackers: Vec<BookTracker> = symbols
        .iter()
        .map(|_| BookTracker::new(Checksum::None, None))
        .collect();
    let at = |s: &str| symbols.iter().position(|x| *x == s).expect("symbol");
    for f in frames() {
        let (_, ev) = parse_one(&a, f);
        if let Event::Book(u) = &ev[0] {
            let i = at(&u.symbol);
            let (first, last) = (u.first_update_id.expect("U"), u.last_update_id.expect("u"));
            match syncs[i].on_delta(first, last, u.clone()) {
                Step::Apply(u) => {
                    trackers[i].on_delta(&u.bids, &u.asks, None, 0);
                }
                Step::Buffered | Step::Ignore => {}
                Step::Gap { expected, got } => panic!("{}: gap {expected} → {got}", u.symbol),
            }
        }
    }
    // The REST replies were fetched after the stream started: apply each with what it covers.
    let mut applied = 0;
    for (url, body) in http_replies() {
        let native = url
            .split("symbol=")
            .nth(1)
            .and_then(|s| s.split('&').next())
            .expect("symbol");
        let i = symbols
            .iter()
            .position(|s| s.replace('/', "") == native)
            .expect("known symbol");
        let symbol: Arc<str> = Arc::from(symbols[i]);
        let snap = book
            .parse_book_snapshot(&symbol, body.as_bytes(), 0)
            .expect("snapshot");
        let pending = syncs[i]
            .on_snapshot(snap.last_update_id.expect("lastUpdateId"))
            .expect("the capture syncs");
        trackers[i].on_snapshot(&snap.bids, &snap.asks, None, 0);
        for u in &pending {
            trackers[i].on_delta(&u.bids, &u.asks, None, 0);
            applied += 1;
        }
        assert!(trackers[i].is_live());
        assert!(!trackers[i].book().is_crossed(), "{}", symbols[i]);
    }
    assert!(applied > 0, "some buffered deltas continue the snapshots");
}
