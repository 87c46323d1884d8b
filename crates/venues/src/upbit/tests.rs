//! Golden tests on real Upbit frames (cryptofeed capture, 2021-04-17, `SIMPLE` format in binary
//! frames) and on documented `DEFAULT` frames and bad input.

use std::sync::Arc;

use tickrec_model::{Channel, Event, RejectReason, Side, TradeId, TradeKind};

use super::UpbitAdapter;
use crate::{Frame, FrameKind, MarketSub, VenueAdapter, VenueError};

const CAPTURE: &str = include_str!("../../tests/fixtures/UPBIT.ws.62.0");

fn adapter() -> UpbitAdapter {
    let markets: Vec<MarketSub> = [
        "ARK/BTC",
        "FCT2/BTC",
        "STPT/BTC",
        "ITAM/BTC",
        "MARO/BTC",
        "WAVES/KRW",
        "AQT/BTC",
        "XTZ/BTC",
        "LAMB/KRW",
        "PAX/BTC",
        "BTC/KRW",
    ]
    .into_iter()
    .map(|s| MarketSub {
        symbol: Arc::from(s),
        channels: vec![Channel::Trades, Channel::Bbo, Channel::Candles(60)],
    })
    .collect();
    UpbitAdapter::new(&markets).expect("valid markets")
}

/// `UNIX_SECONDS: b'PAYLOAD'` lines (Python byte literals; this capture has no escapes).
fn frames() -> Vec<&'static [u8]> {
    CAPTURE
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("wss://"))
        .map(|l| {
            let p = l.split_once(": ").map_or(l, |(_, p)| p);
            let p = p
                .strip_prefix("b'")
                .and_then(|p| p.strip_suffix('\''))
                .unwrap_or(p);
            p.as_bytes()
        })
        .collect()
}

fn parse(a: &UpbitAdapter, frame: Frame<'_>) -> (FrameKind, Vec<Event>) {
    let mut out = Vec::new();
    let kind = a.parse(frame, 1_700_000_000_000_000, &mut out);
    (kind, out)
}

#[test]
fn every_captured_frame_parses_without_reject() {
    let a = adapter();
    let (mut trades, mut quotes) = (0, 0);
    let frames = frames();
    assert_eq!(frames.len(), 449);
    for f in &frames {
        let (kind, events) = parse(&a, Frame::Binary(f));
        assert_eq!(kind, FrameKind::Data, "{}", String::from_utf8_lossy(f));
        assert_eq!(events.len(), 1);
        match &events[0] {
            Event::Trade(t) => {
                trades += 1;
                assert!(t.price.is_positive() && t.qty.is_positive());
            }
            Event::Quote(q) => {
                quotes += 1;
                assert!(q.bid_price < q.ask_price, "crossed top of book");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((trades, quotes), (304, 145));
}

fn first_event(a: &UpbitAdapter, needle: &str) -> Event {
    let f = frames()
        .into_iter()
        .find(|f| std::str::from_utf8(f).is_ok_and(|s| s.contains(needle)))
        .expect("fixture");
    let (kind, mut ev) = parse(a, Frame::Binary(f));
    assert_eq!(kind, FrameKind::Data);
    ev.remove(0)
}

#[test]
fn sampled_frames_exact_values() {
    let a = adapter();
    let Event::Trade(t) = first_event(&a, r#""sid":1618678262000003"#) else {
        panic!("not a trade")
    };
    assert_eq!(&*t.symbol, "LAMB/KRW");
    assert_eq!(t.trade_id, TradeId::Text("1618678262000003".into()));
    assert_eq!(t.price.to_string(), "127.0");
    assert_eq!(t.qty.to_string(), "46.48838371");
    assert_eq!(t.side, Side::Buy);
    assert_eq!(t.ts_exchange_us, 1_618_678_262_000_000);
    assert_eq!(t.kind, TradeKind::Single);

    let Event::Trade(t) = first_event(&a, r#""sid":1618678262000004"#) else {
        panic!("not a trade")
    };
    assert_eq!(t.price.to_string(), "126.0");
    assert_eq!(t.qty.to_string(), "47.97601199");
    assert_eq!(t.side, Side::Sell);

    let Event::Trade(t) = first_event(&a, r#""sid":16186782720000000"#) else {
        panic!("not a trade")
    };
    assert_eq!(&*t.symbol, "ITAM/BTC");
    assert_eq!(t.price.to_string(), "0.00000113");
    assert_eq!(t.qty.to_string(), "3416.89061628");

    // Same `sid` as a KRW-LAMB trade of the same second: ids are unique per market only.
    let Event::Trade(t) = first_event(&a, r#""cd":"KRW-WAVES","tms":1618678275409"#) else {
        panic!("not a trade")
    };
    assert_eq!(&*t.symbol, "WAVES/KRW");
    assert_eq!(t.price.to_string(), "20230.0");
    assert_eq!(t.qty.to_string(), "1.205185");

    let Event::Quote(q) = first_event(&a, r#""tms":1618678262640"#) else {
        panic!("not a quote")
    };
    assert_eq!(&*q.symbol, "LAMB/KRW");
    assert_eq!(
        [q.bid_price, q.bid_qty, q.ask_price, q.ask_qty].map(|d| d.to_string()),
        ["126.0", "688682.44561413", "127.0", "280460.37885666"]
    );
    assert_eq!(q.ts_exchange_us, Some(1_618_678_262_640_000));
}

#[test]
fn documented_default_frames_exact_values() {
    let a = adapter();
    // Global docs trade example, with the exponent form the docs show for `trade_volume`.
    let trade = br#"{"type":"trade","code":"KRW-BTC","timestamp":1730336862082,"trade_date":"2024-10-31","trade_time":"01:07:42","trade_timestamp":1730336862047,"trade_price":100473000.00000000,"trade_volume":8.428e-05,"ask_bid":"BID","prev_closing_price":100571000.00000000,"change":"FALL","change_price":98000.00000000,"sequential_id":17303368620470000,"best_ask_price":100473000,"best_ask_size":0.43139478,"best_bid_price":100465000,"best_bid_size":0.01990656,"stream_type":"SNAPSHOT"}"#;
    let (kind, ev) = parse(&a, Frame::Binary(trade));
    assert_eq!(kind, FrameKind::Data);
    let Event::Trade(t) = &ev[0] else {
        panic!("not a trade")
    };
    assert_eq!(&*t.symbol, "BTC/KRW");
    assert_eq!(t.trade_id, TradeId::Text("17303368620470000".into()));
    assert_eq!(t.price.to_string(), "100473000.00000000");
    assert_eq!(t.qty.normalized().to_string(), "0.00008428");
    assert_eq!(t.ts_exchange_us, 1_730_336_862_047_000);

    let book = br#"{"type":"orderbook","code":"KRW-BTC","timestamp":1746601573804,"total_ask_size":4.79158413,"total_bid_size":2.65609625,"orderbook_units":[{"ask_price":137002000,"bid_price":137001000,"ask_size":0.10623869,"bid_size":0.03656812}],"stream_type":"SNAPSHOT","level":0}"#;
    let (_, ev) = parse(&a, Frame::Text(std::str::from_utf8(book).expect("utf-8")));
    let Event::Quote(q) = &ev[0] else {
        panic!("not a quote")
    };
    assert_eq!(
        [q.bid_price, q.bid_qty, q.ask_price, q.ask_qty].map(|d| d.to_string()),
        ["137001000", "0.03656812", "137002000", "0.10623869"]
    );

    // Candles have no closed flag: the bar is final when the next one starts.
    let candle = |utc: &str, close: &str| {
        format!(
            r#"{{"type":"candle.1m","code":"KRW-BTC","candle_date_time_utc":"{utc}","candle_date_time_kst":"x","opening_price":142009000.00000000,"high_price":142009000.00000000,"low_price":142009000.00000000,"trade_price":{close},"candle_acc_trade_volume":0.00606119,"candle_acc_trade_price":860743.5307100000000000,"timestamp":1735792085824,"stream_type":"REALTIME"}}"#
        )
    };
    let (_, ev) = parse(
        &a,
        Frame::Binary(candle("2025-01-02T04:28:00", "142009000.0").as_bytes()),
    );
    assert_eq!(ev.len(), 1);
    let Event::Candle(c) = &ev[0] else {
        panic!("not a candle")
    };
    assert_eq!(c.interval_s, 60);
    assert_eq!(c.open_time_us, 1_735_792_080_000_000);
    assert_eq!(c.volume.to_string(), "0.00606119");
    assert!(!c.closed);
    let (_, ev) = parse(
        &a,
        Frame::Binary(candle("2025-01-02T04:29:00", "142010000.0").as_bytes()),
    );
    assert_eq!(ev.len(), 2);
    let Event::Candle(closed) = &ev[0] else {
        panic!("not a candle")
    };
    assert!(closed.closed);
    assert_eq!(closed.open_time_us, 1_735_792_080_000_000);
}

fn reject_reason(a: &UpbitAdapter, raw: &str) -> RejectReason {
    let (kind, out) = parse(a, Frame::Binary(raw.as_bytes()));
    assert_eq!(kind, FrameKind::Rejected, "{raw}");
    assert_eq!(out.len(), 1);
    match &out[0] {
        Event::Reject(r) => r.reason,
        e => panic!("expected a reject, got {e:?}"),
    }
}

#[test]
fn control_frames_and_bad_input() {
    let a = adapter();
    assert_eq!(
        parse(&a, Frame::Text(r#"{"status":"UP"}"#)).0,
        FrameKind::Heartbeat
    );
    match parse(
        &a,
        Frame::Binary(br#"{"error":{"name":"WRONG_FORMAT","message":"bad"}}"#),
    )
    .0
    {
        FrameKind::SubscribeRejected(r) => assert!(r.error.starts_with("WRONG_FORMAT")),
        k => panic!("{k:?}"),
    }
    let trade = |tp: &str, tv: &str, ab: &str, sid: &str| {
        format!(
            r#"{{"ty":"trade","cd":"KRW-LAMB","tms":1618678262712,"ttms":1618678262000,"tp":{tp},"tv":{tv},"ab":"{ab}","sid":{sid}}}"#
        )
    };
    let t = |s: &str| reject_reason(&a, s);
    assert_eq!(t("{\"ty\":\"tra"), RejectReason::MalformedJson);
    let (kind, _) = parse(&a, Frame::Binary(&[0xff, 0xfe, b'{']));
    assert_eq!(kind, FrameKind::Rejected, "bytes that are not UTF-8 JSON");
    assert_eq!(
        t(r#"{"ty":"weird","cd":"KRW-LAMB"}"#),
        RejectReason::UnknownMessage
    );
    assert_eq!(
        t(r#"{"ty":"trade","cd":"KRW-DOGE"}"#),
        RejectReason::UnknownSymbol
    );
    assert_eq!(
        t(r#"{"ty":"trade","cd":"KRW-LAMB"}"#),
        RejectReason::MissingField
    );
    assert_eq!(
        t(&trade("0", "1", "BID", "1")),
        RejectReason::NonPositivePrice
    );
    assert_eq!(
        t(&trade("1", "0.0", "BID", "1")),
        RejectReason::NonPositiveQty
    );
    assert_eq!(t(&trade("1e999", "1", "BID", "1")), RejectReason::BadNumber);
    assert_eq!(
        t(&trade("1", "1", "BOTH", "1")),
        RejectReason::UnknownMessage
    );
    assert_eq!(t(&trade("1", "1", "BID", "-5")), RejectReason::BadNumber);
}

#[test]
fn subscription_request() {
    let a = adapter();
    let msgs = a.subscribe_messages();
    assert_eq!(msgs.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&msgs[0]).expect("json");
    assert_eq!(v[0]["ticket"], "tickrec");
    assert_eq!(v[1]["type"], "trade");
    assert_eq!(v[1]["codes"][0], "BTC-ARK");
    assert_eq!(v[2]["type"], "orderbook");
    assert_eq!(v[2]["codes"][5], "KRW-WAVES.1");
    assert_eq!(v[3]["type"], "candle.1m");
    assert_eq!(v[4]["format"], "DEFAULT");
    assert_eq!(a.expected_acks(), 0);
    let bad = MarketSub {
        symbol: Arc::from("BTC/KRW"),
        channels: vec![Channel::Candles(7200)],
    };
    assert!(matches!(
        UpbitAdapter::new(&[bad]),
        Err(VenueError::UnsupportedChannel { .. })
    ));
}

fn book_adapter(bbo_too: bool) -> UpbitAdapter {
    let mut channels = vec![Channel::Trades, Channel::Book];
    if bbo_too {
        channels.push(Channel::Bbo);
    }
    let markets: Vec<MarketSub> = [
        "ARK/BTC",
        "FCT2/BTC",
        "STPT/BTC",
        "ITAM/BTC",
        "MARO/BTC",
        "WAVES/KRW",
        "AQT/BTC",
        "XTZ/BTC",
        "LAMB/KRW",
        "PAX/BTC",
        "BTC/KRW",
    ]
    .into_iter()
    .map(|s| MarketSub {
        symbol: Arc::from(s),
        channels: channels.clone(),
    })
    .collect();
    UpbitAdapter::new(&markets).expect("valid markets")
}

#[test]
fn captured_orderbooks_are_full_snapshots_and_quotes() {
    use tickrec_model::BookKind;
    let (mut books, mut quotes) = (0, 0);
    for bbo_too in [false, true] {
        let a = book_adapter(bbo_too);
        for f in frames() {
            let (kind, events) = parse(&a, Frame::Binary(f));
            assert_eq!(kind, FrameKind::Data);
            for e in &events {
                match e {
                    Event::Book(b) => {
                        books += 1;
                        assert_eq!(b.kind, BookKind::Snapshot);
                        assert_eq!((b.bids.len(), b.asks.len()), (15, 15));
                        assert!(b.bids[0].price < b.asks[0].price, "never crossed");
                        assert!(b.bids.windows(2).all(|w| w[0].price > w[1].price));
                        assert!(b.asks.windows(2).all(|w| w[0].price < w[1].price));
                    }
                    Event::Quote(q) => {
                        quotes += 1;
                        // The quote is the first unit of the book beside it.
                        let Some(Event::Book(b)) = events.last() else {
                            panic!("quote without its book")
                        };
                        assert_eq!((q.bid_price, q.bid_qty), (b.bids[0].price, b.bids[0].qty));
                        assert_eq!((q.ask_price, q.ask_qty), (b.asks[0].price, b.asks[0].qty));
                    }
                    Event::Trade(_) | Event::Candle(_) => {}
                    e => panic!("unexpected {e:?}"),
                }
            }
        }
    }
    assert_eq!((books, quotes), (2 * 145, 145));
}

#[test]
fn orderbook_snapshot_exact_values() {
    let a = book_adapter(false);
    let Event::Book(b) = first_event(&a, r#""cd":"KRW-LAMB","tms":1618678262640"#) else {
        panic!("not a book")
    };
    assert_eq!(&*b.symbol, "LAMB/KRW");
    assert_eq!(
        (b.first_update_id, b.last_update_id, b.checksum),
        (None, None, None)
    );
    assert_eq!(b.ts_exchange_us, Some(1_618_678_262_640_000));
    assert_eq!(b.asks[0].price.to_string(), "127.0");
    assert_eq!(b.asks[0].qty.to_string(), "280460.37885666");
    assert_eq!(b.bids[14].price.to_string(), "112.0");
    assert_eq!(b.bids[14].qty.to_string(), "446759.1304656");
    // Exponent forms are exact; an empty side slot (0 at 0) is no level.
    let doc = br#"{"type":"orderbook","code":"KRW-BTC","timestamp":1746601573804,"orderbook_units":[{"ask_price":1.37002E8,"bid_price":137001000,"ask_size":5.485e-05,"bid_size":0.03656812},{"ask_price":137023000,"bid_price":0,"ask_size":0.06144079,"bid_size":0}],"stream_type":"SNAPSHOT","level":0}"#;
    let (kind, ev) = parse(&a, Frame::Binary(doc));
    assert_eq!(kind, FrameKind::Data);
    let [Event::Book(b)] = &ev[..] else {
        panic!("one book, no quote without bbo: {ev:?}")
    };
    assert_eq!(b.asks[0].price.to_string(), "137002000");
    assert_eq!(b.asks[0].qty.to_string(), "0.00005485");
    assert_eq!((b.bids.len(), b.asks.len()), (1, 2));
}

#[test]
fn book_subscription_uses_the_full_orderbook() {
    let a = book_adapter(true);
    let v: serde_json::Value = serde_json::from_str(&a.subscribe_messages()[0]).expect("json");
    assert_eq!(v[2]["type"], "orderbook");
    assert_eq!(
        v[2]["codes"][5], "KRW-WAVES",
        "no .1 narrowing beside the book"
    );
    assert_eq!(v[2]["codes"].as_array().map(Vec::len), Some(11));
    assert!(
        a.book_resync_messages("BTC/KRW").is_empty(),
        "every message is a snapshot"
    );
    let bad = br#"{"type":"orderbook","code":"KRW-BTC","timestamp":1746601573804,"orderbook_units":[{"ask_price":-1,"bid_price":137001000,"ask_size":1,"bid_size":1}]}"#;
    let (kind, ev) = parse(&a, Frame::Binary(bad));
    assert_eq!(kind, FrameKind::Rejected);
    assert!(matches!(&ev[..], [Event::Reject(r)] if r.reason == RejectReason::NonPositivePrice));
    let no_time = br#"{"type":"orderbook","code":"KRW-BTC","orderbook_units":[]}"#;
    assert_eq!(parse(&a, Frame::Binary(no_time)).0, FrameKind::Rejected);
}
