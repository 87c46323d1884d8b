//! Codec properties: every event variant round-trips exactly; garbage never panics.

use std::sync::Arc;

use proptest::prelude::*;
use tickrec_model::{
    BookKind, BookTop, BookUpdate, Candle, Decimal, Event, Level, QualityEvent, QualityKind, Quote,
    Reject, RejectReason, Side, Trade, TradeId, TradeKind, Venue,
};

use crate::codec::{self, decode, decode_batch, encode, encode_batch};

fn dec(m: i64, s: u8) -> Decimal {
    Decimal::new(m, s).unwrap()
}

fn sym(s: &str) -> Arc<str> {
    Arc::from(s)
}

fn one_of_each() -> Vec<Event> {
    vec![
        Event::Trade(Trade {
            venue: Venue::Binance,
            symbol: sym("BTC/USDT"),
            trade_id: TradeId::Num(u64::MAX),
            price: dec(6_543_210, 2),
            qty: dec(1_200, 3), // 1.200: the trailing zeros must survive
            side: Side::Buy,
            ts_exchange_us: 1_700_000_000_123_456,
            ts_recv_us: 1_700_000_000_124_000,
            kind: TradeKind::Aggregate {
                first_id: 10,
                last_id: 12,
            },
        }),
        Event::Trade(Trade {
            venue: Venue::Kraken,
            symbol: sym("ETH/USD"),
            trade_id: TradeId::Text("c0ffee-ü-1".into()),
            price: dec(-1, 18),
            qty: dec(i64::MAX, 0),
            side: Side::Unknown,
            ts_exchange_us: i64::MIN,
            ts_recv_us: i64::MAX,
            kind: TradeKind::Single,
        }),
        Event::Quote(Quote {
            venue: Venue::Binance,
            symbol: sym("BTC/USDT"),
            bid_price: dec(100, 1),
            bid_qty: dec(0, 8),
            ask_price: dec(101, 1),
            ask_qty: dec(5, 0),
            ts_exchange_us: None,
            ts_recv_us: 1,
            update_id: Some(0),
        }),
        Event::Quote(Quote {
            venue: Venue::Kraken,
            symbol: sym(""),
            bid_price: dec(i64::MIN, 18),
            bid_qty: dec(1, 0),
            ask_price: dec(2, 0),
            ask_qty: dec(3, 0),
            ts_exchange_us: Some(-5),
            ts_recv_us: 7,
            update_id: None,
        }),
        Event::Candle(Candle {
            venue: Venue::Binance,
            symbol: sym("BTC/USDT"),
            interval_s: u32::MAX,
            open_time_us: 1_700_000_000_000_000,
            open: dec(1, 0),
            high: dec(20, 1),
            low: dec(300, 2),
            close: dec(4000, 3),
            volume: dec(0, 0),
            quote_volume: Some(dec(123_456, 4)),
            trades: Some(u64::MAX),
            closed: true,
            ts_exchange_us: 1_700_000_059_999_000,
            ts_recv_us: 1_700_000_060_000_100,
        }),
        Event::Candle(Candle {
            venue: Venue::Kraken,
            symbol: sym("XBT/EUR"),
            interval_s: 60,
            open_time_us: 0,
            open: dec(1, 0),
            high: dec(1, 0),
            low: dec(1, 0),
            close: dec(1, 0),
            volume: dec(1, 0),
            quote_volume: None,
            trades: None,
            closed: false,
            ts_exchange_us: 0,
            ts_recv_us: 0,
        }),
        Event::BookTop(BookTop {
            venue: Venue::Kraken,
            symbol: sym("ETH/USD"),
            last_update_id: None,
            bids: vec![Level {
                price: dec(100, 0),
                qty: dec(10, 1),
            }],
            asks: vec![Level {
                price: dec(101, 0),
                qty: dec(-0, 3),
            }],
            verified: true,
            digest: u64::MAX,
            ts_exchange_us: Some(i64::MIN),
            ts_recv_us: i64::MAX,
        }),
        Event::Book(BookUpdate {
            venue: Venue::Kraken,
            symbol: sym("ETH/USD"),
            kind: BookKind::Snapshot,
            first_update_id: None,
            last_update_id: Some(99),
            bids: vec![
                Level {
                    price: dec(100, 0),
                    qty: dec(10, 1),
                },
                Level {
                    price: dec(99, 0),
                    qty: dec(0, 0),
                },
            ],
            asks: vec![],
            checksum: Some(0xdead_beef),
            ts_exchange_us: Some(3),
            ts_recv_us: 4,
            verified: false,
        }),
        Event::Book(BookUpdate {
            venue: Venue::Binance,
            symbol: sym("BTC/USDT"),
            kind: BookKind::Delta,
            first_update_id: Some(1),
            last_update_id: Some(2),
            bids: vec![],
            asks: vec![Level {
                price: dec(5, 5),
                qty: dec(6, 6),
            }],
            checksum: None,
            ts_exchange_us: None,
            ts_recv_us: -4,
            verified: true,
        }),
        Event::Reject(Reject {
            venue: Venue::Binance,
            symbol: None,
            reason: RejectReason::MalformedJson,
            detail: String::new(),
            // Not UTF-8, longer than the reject limit: the codec keeps whatever it is given.
            raw: (0..5000u32).map(|i| (i * 251) as u8).collect(),
            ts_recv_us: 42,
        }),
        Event::Reject(Reject {
            venue: Venue::Kraken,
            symbol: Some(sym("BTC/USD")),
            reason: RejectReason::VenueError,
            detail: "price \"-1\" ≤ 0".into(),
            raw: vec![],
            ts_recv_us: -42,
        }),
        Event::Quality(QualityEvent {
            venue: Venue::Binance,
            symbol: Some(sym("BTC/USDT")),
            kind: QualityKind::GapUnrepaired,
            start_us: 1_700_000_000_000_000,
            end_us: 1_700_000_010_000_000,
            count: 7,
            from_id: Some(100),
            to_id: Some(u64::MAX),
            detail: "venue has no more".into(),
            ts_recv_us: 1_700_000_011_000_000,
        }),
        Event::Quality(QualityEvent {
            venue: Venue::Kraken,
            symbol: None,
            kind: QualityKind::Reconnect,
            start_us: -1,
            end_us: i64::MAX,
            count: 0,
            from_id: None,
            to_id: None,
            detail: String::new(),
            ts_recv_us: i64::MIN,
        }),
    ]
}

/// Round trip, then compare structurally and byte-for-byte after re-encoding: `Decimal`'s
/// `PartialEq` compares values (1.20 == 1.2), the re-encoding compares mantissa and scale.
fn assert_exact(ev: &Event) {
    let mut bytes = Vec::new();
    encode(ev, &mut bytes);
    let back = decode(&bytes).unwrap();
    assert_eq!(&back, ev);
    let mut again = Vec::new();
    encode(&back, &mut again);
    assert_eq!(again, bytes, "not exact: {ev:?}");
}

#[test]
fn every_event_variant_round_trips_exactly() {
    for ev in one_of_each() {
        assert_exact(&ev);
    }
    let mut bytes = Vec::new();
    encode(&one_of_each()[0], &mut bytes);
    let Event::Trade(t) = decode(&bytes).unwrap() else {
        panic!("not a trade")
    };
    assert_eq!((t.qty.mantissa(), t.qty.scale()), (1200, 3));
    assert_eq!(t.qty.to_string(), "1.200");
}

#[test]
fn batches_round_trip_and_share_symbols() {
    let events = one_of_each();
    let mut bytes = Vec::new();
    encode_batch(&events, &mut bytes);
    let back = decode_batch(&bytes).unwrap();
    assert_eq!(back, events);
    let mut again = Vec::new();
    encode_batch(&back, &mut again);
    assert_eq!(again, bytes);
    // Symbols repeated in a batch decode to one shared allocation.
    let btc: Vec<&Arc<str>> = back
        .iter()
        .filter_map(|e| match e {
            Event::Trade(t) if &*t.symbol == "BTC/USDT" => Some(&t.symbol),
            Event::Quote(q) if &*q.symbol == "BTC/USDT" => Some(&q.symbol),
            _ => None,
        })
        .collect();
    assert_eq!(btc.len(), 2);
    assert!(Arc::ptr_eq(btc[0], btc[1]));
    // A single-event payload is a batch of one; an empty batch is valid.
    let mut single = Vec::new();
    encode(&events[2], &mut single);
    assert_eq!(decode_batch(&single).unwrap(), vec![events[2].clone()]);
    let mut empty = Vec::new();
    encode_batch(&[], &mut empty);
    assert_eq!(decode_batch(&empty).unwrap(), vec![]);
    assert!(decode(&empty).is_err(), "a batch is not a single event");
}

#[test]
fn every_strict_prefix_and_trailing_garbage_is_an_error() {
    let mut bytes = Vec::new();
    encode_batch(&one_of_each(), &mut bytes);
    for cut in 0..bytes.len() {
        assert!(decode_batch(&bytes[..cut]).is_err(), "prefix {cut} decoded");
    }
    bytes.push(0);
    assert!(decode_batch(&bytes).is_err());
}

#[test]
fn a_trade_is_compact() {
    let mut bytes = Vec::new();
    encode(&one_of_each()[0], &mut bytes);
    assert!(bytes.len() < 64, "{} bytes", bytes.len());
}

fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (any::<i64>(), 0u8..=18),
        (-1_000_000_000i64..1_000_000_000, 0u8..=10),
    ]
    .prop_map(|(m, s)| dec(m, s))
}

fn venue() -> impl Strategy<Value = Venue> {
    prop::sample::select(Venue::ALL.to_vec())
}

fn symbol() -> impl Strategy<Value = Arc<str>> {
    prop_oneof![
        3 => prop::sample::select(vec!["BTC/USDT", "ETH/USD", "SOL/EUR"]).prop_map(Arc::from),
        1 => "\\PC{0,16}".prop_map(|s| Arc::from(s.as_str())),
    ]
}

fn ts() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => 1_500_000_000_000_000i64..2_000_000_000_000_000,
        1 => any::<i64>(),
    ]
}

fn side() -> impl Strategy<Value = Side> {
    prop::sample::select(vec![Side::Buy, Side::Sell, Side::Unknown])
}

fn trade() -> impl Strategy<Value = Event> {
    let id = prop_oneof![
        any::<u64>().prop_map(TradeId::Num),
        "\\PC{0,40}".prop_map(|s| TradeId::Text(s.into())),
    ];
    let kind = prop_oneof![
        Just(TradeKind::Single),
        (any::<u64>(), any::<u64>())
            .prop_map(|(first_id, last_id)| TradeKind::Aggregate { first_id, last_id }),
    ];
    (
        venue(),
        symbol(),
        id,
        decimal(),
        decimal(),
        side(),
        ts(),
        ts(),
        kind,
    )
        .prop_map(
            |(venue, symbol, trade_id, price, qty, side, ts_exchange_us, ts_recv_us, kind)| {
                Event::Trade(Trade {
                    venue,
                    symbol,
                    trade_id,
                    price,
                    qty,
                    side,
                    ts_exchange_us,
                    ts_recv_us,
                    kind,
                })
            },
        )
}

fn quote() -> impl Strategy<Value = Event> {
    (
        venue(),
        symbol(),
        [decimal(), decimal(), decimal(), decimal()],
        prop::option::of(ts()),
        ts(),
        prop::option::of(any::<u64>()),
    )
        .prop_map(
            |(venue, symbol, [bp, bq, ap, aq], ts_exchange_us, ts_recv_us, update_id)| {
                Event::Quote(Quote {
                    venue,
                    symbol,
                    bid_price: bp,
                    bid_qty: bq,
                    ask_price: ap,
                    ask_qty: aq,
                    ts_exchange_us,
                    ts_recv_us,
                    update_id,
                })
            },
        )
}

fn candle() -> impl Strategy<Value = Event> {
    (
        (venue(), symbol(), any::<u32>(), ts()),
        [decimal(), decimal(), decimal(), decimal(), decimal()],
        prop::option::of(decimal()),
        prop::option::of(any::<u64>()),
        any::<bool>(),
        ts(),
        ts(),
    )
        .prop_map(
            |(
                (venue, symbol, interval_s, open_time_us),
                [open, high, low, close, volume],
                quote_volume,
                trades,
                closed,
                ts_exchange_us,
                ts_recv_us,
            )| {
                Event::Candle(Candle {
                    venue,
                    symbol,
                    interval_s,
                    open_time_us,
                    open,
                    high,
                    low,
                    close,
                    volume,
                    quote_volume,
                    trades,
                    closed,
                    ts_exchange_us,
                    ts_recv_us,
                })
            },
        )
}

fn levels() -> impl Strategy<Value = Vec<Level>> {
    prop::collection::vec(
        (decimal(), decimal()).prop_map(|(price, qty)| Level { price, qty }),
        0..12,
    )
}

fn book() -> impl Strategy<Value = Event> {
    (
        (venue(), symbol(), any::<bool>()),
        prop::option::of(any::<u64>()),
        prop::option::of(any::<u64>()),
        levels(),
        levels(),
        prop::option::of(any::<u32>()),
        prop::option::of(ts()),
        ts(),
    )
        .prop_map(
            |(
                (venue, symbol, snapshot),
                first_update_id,
                last_update_id,
                bids,
                asks,
                checksum,
                ts_exchange_us,
                ts_recv_us,
            )| {
                Event::Book(BookUpdate {
                    venue,
                    symbol,
                    kind: if snapshot {
                        BookKind::Snapshot
                    } else {
                        BookKind::Delta
                    },
                    first_update_id,
                    last_update_id,
                    bids,
                    asks,
                    checksum,
                    ts_exchange_us,
                    ts_recv_us,
                    verified: false,
                })
            },
        )
}

fn reject() -> impl Strategy<Value = Event> {
    (
        venue(),
        prop::option::of(symbol()),
        any::<u8>().prop_filter_map("reason tag", codec::reject_from_tag),
        "\\PC{0,60}",
        prop::collection::vec(any::<u8>(), 0..600),
        ts(),
    )
        .prop_map(|(venue, symbol, reason, detail, raw, ts_recv_us)| {
            Event::Reject(Reject {
                venue,
                symbol,
                reason,
                detail,
                raw,
                ts_recv_us,
            })
        })
}

fn quality() -> impl Strategy<Value = Event> {
    (
        (venue(), prop::option::of(symbol())),
        any::<u8>().prop_filter_map("kind tag", codec::quality_from_tag),
        (ts(), ts(), any::<u64>()),
        (
            prop::option::of(any::<u64>()),
            prop::option::of(any::<u64>()),
        ),
        "\\PC{0,60}",
        ts(),
    )
        .prop_map(
            |(
                (venue, symbol),
                kind,
                (start_us, end_us, count),
                (from_id, to_id),
                detail,
                ts_recv_us,
            )| {
                Event::Quality(QualityEvent {
                    venue,
                    symbol,
                    kind,
                    start_us,
                    end_us,
                    count,
                    from_id,
                    to_id,
                    detail,
                    ts_recv_us,
                })
            },
        )
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![trade(), quote(), candle(), book(), reject(), quality()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_event_round_trips_exactly(ev in event()) {
        assert_exact(&ev);
    }

    #[test]
    fn any_batch_round_trips_exactly(events in prop::collection::vec(event(), 0..24)) {
        let mut bytes = Vec::new();
        encode_batch(&events, &mut bytes);
        let back = decode_batch(&bytes).unwrap();
        prop_assert_eq!(&back, &events);
        let mut again = Vec::new();
        encode_batch(&back, &mut again);
        prop_assert_eq!(again, bytes);
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
        let _ = decode_batch(&bytes);
    }

    #[test]
    fn flipped_bytes_never_panic(ev in event(), at in any::<prop::sample::Index>(), x in 1u8..) {
        let mut bytes = Vec::new();
        encode_batch(std::slice::from_ref(&ev), &mut bytes);
        let i = at.index(bytes.len());
        bytes[i] ^= x;
        let _ = decode_batch(&bytes);
    }
}
