//! Every query against a known tape written through the real SQLite writer, checked against a
//! straightforward independent computation over the same trades in memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use tickrec_model::{Decimal, Event, Side, Trade, TradeId, TradeKind, Venue};
use tickrec_query::profile::{Bucketing, ProfileParams};
use tickrec_query::synthetic::{synthetic_trades, SyntheticSpec};
use tickrec_query::{
    candles_from_trades, features, liquidity_vacuums, trades_page, volume_profile, Cursor,
    FeatureParams, Market, QueryError, Tape, Window,
};
use tickrec_store::{SqliteConfig, SqliteWriter};

/// 2026-11-30T00:00:00Z.
const T0: i64 = 1_796_000_000_000_000 - 1_796_000_000_000_000 % 86_400_000_000;
const MIN: i64 = 60_000_000;

fn spec() -> SyntheticSpec {
    SyntheticSpec {
        venue: Venue::Kraken,
        symbol: Arc::from("BTC/USD"),
        seed: 7,
        start_us: T0 + 1_234_567,
        count: 20_000,
        spacing_us: 600_000,
        // Minutes 40, 41 and 42 have no trades.
        hole: Some((T0 + 40 * MIN, T0 + 43 * MIN)),
        mixed_scales: true,
    }
}

fn write(dir: &std::path::Path, trades: &[Trade]) -> std::path::PathBuf {
    let cfg = SqliteConfig {
        path: dir.join("tape.db"),
        ..SqliteConfig::default()
    };
    let mut w = SqliteWriter::open(&cfg).unwrap();
    let events: Vec<Event> = trades.iter().cloned().map(Event::Trade).collect();
    for chunk in events.chunks(5_000) {
        w.write_batch(chunk).unwrap();
    }
    cfg.path
}

struct Fixture {
    _dir: tempfile::TempDir,
    tape: Tape,
    trades: Vec<Trade>,
}

fn fixture() -> Fixture {
    let trades: Vec<Trade> = synthetic_trades(&spec()).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &trades);
    Fixture {
        tape: Tape::open(&path).unwrap(),
        _dir: dir,
        trades,
    }
}

fn market() -> Market {
    Market::new("kraken", "BTC/USD")
}

/// A value at scale 12 (enough for every price, quantity and product in the tape), by hand.
fn at12(d: Decimal) -> i128 {
    i128::from(d.mantissa()) * 10i128.pow(12 - u32::from(d.scale()))
}

/// Scale-12 integer → decimal text without trailing zeros.
fn text12(v: i128) -> String {
    let s = format!("{}.{:012}", v / 1_000_000_000_000, v % 1_000_000_000_000);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn in_window(trades: &[Trade], from: i64, to: i64) -> Vec<&Trade> {
    let mut v: Vec<&Trade> = trades
        .iter()
        .filter(|t| t.ts_exchange_us >= from && t.ts_exchange_us < to)
        .collect();
    v.sort_by_key(|t| (t.ts_exchange_us, t.trade_id.clone()));
    v
}

#[test]
fn candles_match_an_independent_aggregation() {
    let f = fixture();
    let w = Window::new(T0 + 30 * MIN + 17, T0 + 50 * MIN).unwrap();
    let got = candles_from_trades(&f.tape, &market(), w, 60).unwrap();
    // The window is widened to whole minutes.
    assert_eq!((got.from_us, got.to_us), (T0 + 30 * MIN, T0 + 50 * MIN));
    let mut groups: BTreeMap<i64, Vec<&Trade>> = BTreeMap::new();
    for t in in_window(&f.trades, T0 + 30 * MIN, T0 + 50 * MIN) {
        groups
            .entry(t.ts_exchange_us / MIN * MIN)
            .or_default()
            .push(t);
    }
    assert_eq!(got.candles.len(), groups.len());
    assert_eq!(got.candles.len(), 17, "20 minutes minus the 3-minute hole");
    for (c, (open_time, ts)) in got.candles.iter().zip(&groups) {
        assert_eq!(c.open_time_us, *open_time);
        assert_eq!(c.open, ts[0].price);
        assert_eq!(
            c.open.to_string(),
            ts[0].price.to_string(),
            "venue digits kept"
        );
        assert_eq!(c.close.to_string(), ts[ts.len() - 1].price.to_string());
        assert_eq!(c.high, ts.iter().map(|t| t.price).max().unwrap());
        assert_eq!(c.low, ts.iter().map(|t| t.price).min().unwrap());
        let vol: i128 = ts.iter().map(|t| at12(t.qty)).sum();
        let buy: i128 = ts
            .iter()
            .filter(|t| t.side == Side::Buy)
            .map(|t| at12(t.qty))
            .sum();
        let sell: i128 = ts
            .iter()
            .filter(|t| t.side == Side::Sell)
            .map(|t| at12(t.qty))
            .sum();
        // price (scale ≤ 3) × qty (scale ≤ 8): at scale 12 after dividing the scale-24 product.
        let quote: i128 = ts
            .iter()
            .map(|t| at12(t.price) * at12(t.qty) / 1_000_000_000_000)
            .sum();
        assert_eq!(c.volume.to_string(), text12(vol));
        assert_eq!(c.buy_volume.to_string(), text12(buy));
        assert_eq!(c.sell_volume.to_string(), text12(sell));
        assert_eq!(c.quote_volume.to_string(), text12(quote));
        assert_eq!(c.trades, ts.len() as u64);
        let vwap = quote as f64 / vol as f64;
        assert!((c.vwap - vwap).abs() < 1e-9 * vwap, "{} vs {vwap}", c.vwap);
    }
    assert_eq!(got.gaps.len(), 1);
    assert_eq!(
        (got.gaps[0].from_us, got.gaps[0].to_us, got.gaps[0].missing),
        (T0 + 40 * MIN, T0 + 43 * MIN, 3)
    );
    // Other intervals aggregate the same trades.
    let hourly = candles_from_trades(&f.tape, &market(), w, 3600).unwrap();
    assert_eq!(hourly.candles.len(), 1);
    let n = in_window(&f.trades, T0, T0 + 60 * MIN).len() as u64;
    assert_eq!(hourly.candles[0].trades, n);
    let secs =
        candles_from_trades(&f.tape, &market(), Window::new(T0, T0 + MIN).unwrap(), 1).unwrap();
    assert_eq!(
        secs.candles.iter().map(|c| c.trades).sum::<u64>(),
        in_window(&f.trades, T0, T0 + MIN).len() as u64
    );
    assert_eq!(
        secs.candles.len() as u64 + secs.gaps.iter().map(|g| g.missing).sum::<u64>(),
        60
    );
}

#[test]
fn bad_candle_requests_are_typed_errors() {
    let f = fixture();
    let w = Window::new(T0, T0 + 86_400_000_000 * 2).unwrap();
    assert!(matches!(
        candles_from_trades(&f.tape, &market(), w, 0),
        Err(QueryError::InvalidParam {
            param: "interval",
            ..
        })
    ));
    assert!(matches!(
        candles_from_trades(&f.tape, &market(), w, 86_401),
        Err(QueryError::InvalidParam { .. })
    ));
    // 172 800 one-second candles is more than one answer may hold.
    assert!(matches!(
        candles_from_trades(&f.tape, &market(), w, 1),
        Err(QueryError::WindowTooLong { .. })
    ));
    let e = candles_from_trades(&f.tape, &Market::new("kraken", "DOGE/USD"), w, 60).unwrap_err();
    assert!(matches!(e, QueryError::UnknownMarket { .. }), "{e}");
    assert!(e.is_client_error());
    assert!(Window::new(T0 + 1, T0).is_err());
}

#[test]
fn pages_walk_the_window_exactly_once() {
    let f = fixture();
    let w = Window::new(T0 + 5 * MIN, T0 + 45 * MIN).unwrap();
    let expected = in_window(&f.trades, T0 + 5 * MIN, T0 + 45 * MIN);
    let mut got = Vec::new();
    let mut after: Option<Cursor> = None;
    let mut pages = 0;
    loop {
        let page = trades_page(&f.tape, &market(), w, after.as_ref(), 777).unwrap();
        assert!(page.trades.len() <= 777);
        got.extend(page.trades);
        pages += 1;
        match page.next {
            Some(c) => after = Some(Cursor::decode(&c).unwrap()),
            None => break,
        }
    }
    assert_eq!(pages, expected.len().div_ceil(777));
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        let TradeId::Num(id) = e.trade_id else {
            unreachable!()
        };
        assert_eq!(g.id, tickrec_query::trades::StoredId::Num(id as i64));
        assert_eq!(g.ts_exchange_us, e.ts_exchange_us);
        assert_eq!(g.ts_recv_us, Some(e.ts_recv_us));
        assert_eq!(g.price.to_string(), e.price.to_string());
        assert_eq!(g.qty.to_string(), e.qty.to_string());
        assert_eq!(g.side, e.side);
    }
    assert!(matches!(
        trades_page(&f.tape, &market(), w, None, 0),
        Err(QueryError::InvalidParam { .. })
    ));
    assert!(Cursor::decode("12:x:1").is_err());
}

#[test]
fn volume_profile_matches_a_brute_force_count() {
    let f = fixture();
    let (from, to) = (T0, T0 + 120 * MIN);
    let w = Window::new(from, to).unwrap();
    let params = ProfileParams {
        bucketing: Bucketing::Size(Decimal::parse("5").unwrap()),
        ..ProfileParams::default()
    };
    let p = volume_profile(&f.tape, &market(), w, &params).unwrap();
    let trades = in_window(&f.trades, from, to);
    assert_eq!(p.trades, trades.len() as u64);
    assert_eq!(p.tick.to_string(), "0.5");
    assert_eq!(p.bucket_size.to_string(), "5");
    let size = 5 * 1_000_000_000_000i128;
    let lo = trades.iter().map(|t| at12(t.price)).min().unwrap() / size * size;
    let hi = trades.iter().map(|t| at12(t.price)).max().unwrap();
    let mut vols = Vec::new();
    let mut k = lo;
    let mut i = 0;
    while k <= hi {
        let inside: Vec<&&Trade> = trades
            .iter()
            .filter(|t| (k..k + size).contains(&at12(t.price)))
            .collect();
        let b = &p.buckets[i];
        assert_eq!(b.low.to_string(), text12(k));
        assert_eq!(b.high.to_string(), text12(k + size));
        let v: i128 = inside.iter().map(|t| at12(t.qty)).sum();
        assert_eq!(b.volume.to_string(), text12(v));
        assert_eq!(
            b.buy_volume.to_string(),
            text12(
                inside
                    .iter()
                    .filter(|t| t.side == Side::Buy)
                    .map(|t| at12(t.qty))
                    .sum()
            )
        );
        assert_eq!(
            b.sell_volume.to_string(),
            text12(
                inside
                    .iter()
                    .filter(|t| t.side == Side::Sell)
                    .map(|t| at12(t.qty))
                    .sum()
            )
        );
        assert_eq!(b.trades, inside.len() as u64);
        vols.push(v);
        k += size;
        i += 1;
    }
    assert_eq!(p.buckets.len(), vols.len());
    let total: i128 = vols.iter().sum();
    assert_eq!(p.volume.to_string(), text12(total));
    // POC: most volume, lowest on a tie.
    let max = *vols.iter().max().unwrap();
    let poc = vols.iter().position(|&v| v == max).unwrap();
    assert_eq!(p.poc_index, poc);
    // Value area: grow from the POC towards the larger neighbour until ≥ 70 %.
    let (mut a, mut b, mut acc) = (poc, poc, vols[poc]);
    while acc * 100 < total * 70 {
        let up = vols.get(b + 1).copied();
        let down = if a > 0 { Some(vols[a - 1]) } else { None };
        if up.is_some() && (down.is_none() || up >= down) {
            b += 1;
            acc += vols[b];
        } else {
            a -= 1;
            acc += vols[a];
        }
    }
    assert_eq!(p.value_area_low.to_string(), text12(lo + a as i128 * size));
    assert_eq!(
        p.value_area_high.to_string(),
        text12(lo + (b as i128 + 1) * size)
    );
    assert_eq!(p.value_area_volume.to_string(), text12(acc));
    assert!(acc * 100 >= total * 70);

    // By count: at most that many tick-aligned buckets, same totals.
    let by_count = volume_profile(
        &f.tape,
        &market(),
        w,
        &ProfileParams {
            bucketing: Bucketing::Count(24),
            ..params
        },
    )
    .unwrap();
    assert!(
        by_count.buckets.len() <= 24 && by_count.buckets.len() >= 20,
        "{}",
        by_count.buckets.len()
    );
    assert_eq!(by_count.bucket_size.0 % by_count.tick.0, 0);
    assert_eq!(by_count.volume, p.volume);
    assert_eq!(
        by_count.buckets.iter().map(|b| b.trades).sum::<u64>(),
        p.trades
    );

    // The min-trades rule and a size off the tick.
    let short = Window::new(T0, T0 + MIN).unwrap();
    let e = volume_profile(&f.tape, &market(), short, &ProfileParams::default()).unwrap_err();
    let n = in_window(&f.trades, T0, T0 + MIN).len() as u64;
    assert!(
        matches!(e, QueryError::InsufficientTrades { needed: 1000, got } if got == n),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        format!("need ≥1000 trades in the window, got {n}")
    );
    let off_tick = ProfileParams {
        bucketing: Bucketing::Size(Decimal::parse("0.25").unwrap()),
        ..params
    };
    assert!(matches!(
        volume_profile(&f.tape, &market(), w, &off_tick),
        Err(QueryError::InvalidParam {
            param: "bucket_size",
            ..
        })
    ));
}

fn trade(id: u64, price: &str, qty: &str, side: Side) -> Trade {
    Trade {
        venue: Venue::Binance,
        symbol: Arc::from("ETH/USDT"),
        trade_id: TradeId::Num(id),
        price: Decimal::parse(price).unwrap(),
        qty: Decimal::parse(qty).unwrap(),
        side,
        ts_exchange_us: T0 + id as i64 * 1_000,
        ts_recv_us: T0 + id as i64 * 1_000,
        kind: TradeKind::Single,
    }
}

#[test]
fn a_hand_made_vacuum_is_found_with_its_score() {
    // Buckets of 1: 100 → 10, 101 → 10, 102 → nothing, 103 → 0.5, 104 → 10, 105 → 1.9 (thin, but a tail).
    let mut t = Vec::new();
    let mut id = 0;
    for (price, qty, n) in [
        ("100", "1", 10),
        ("101.5", "2", 5),
        ("103.2", "0.5", 1),
        ("104", "5", 2),
        ("105", "1.9", 1),
    ] {
        for _ in 0..n {
            id += 1;
            t.push(trade(
                id,
                price,
                qty,
                if id % 2 == 0 { Side::Buy } else { Side::Sell },
            ));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let tape = Tape::open(write(dir.path(), &t)).unwrap();
    let m = Market::new("binance", "ETH/USDT");
    let params = ProfileParams {
        bucketing: Bucketing::Size(Decimal::parse("1").unwrap()),
        min_trades: 1,
        value_area_pct: 70,
    };
    let p = volume_profile(&tape, &m, Window::new(T0, T0 + MIN).unwrap(), &params).unwrap();
    assert_eq!(
        p.buckets
            .iter()
            .map(|b| b.volume.to_string())
            .collect::<Vec<_>>(),
        ["10", "10", "0", "0.5", "10", "1.9"]
    );
    assert_eq!(p.poc_index, 0);
    let v = liquidity_vacuums(&p, 20).unwrap();
    // Non-empty volumes 0.5, 1.9, 10, 10, 10 → median 10; thin below 2.
    assert_eq!(v.median_bucket_volume.to_string(), "10");
    assert_eq!(v.vacuums.len(), 1, "{:?}", v.vacuums);
    let x = &v.vacuums[0];
    assert_eq!(
        (
            x.low.to_string(),
            x.high.to_string(),
            x.volume.to_string(),
            x.buckets,
            x.trades
        ),
        ("102".into(), "104".into(), "0.5".into(), 2, 1)
    );
    assert!((x.score - (1.0 - 0.5 / 20.0)).abs() < 1e-12);
    assert!(liquidity_vacuums(&p, 0).is_err());
}

#[test]
fn features_match_a_naive_computation_and_respect_warmup() {
    let f = fixture();
    let w = Window::new(T0, T0 + 170 * MIN).unwrap();
    let params = FeatureParams {
        window: 20,
        warmup: 30,
    };
    let got = features(&f.tape, &market(), w, &params).unwrap();
    // Independent: closes per minute from the in-memory trades.
    let mut closes: BTreeMap<i64, Decimal> = BTreeMap::new();
    for t in in_window(&f.trades, T0, T0 + 170 * MIN) {
        closes.insert(t.ts_exchange_us / MIN * MIN, t.price);
    }
    assert_eq!(got.rows.len(), closes.len());
    let minutes: Vec<(i64, f64)> = closes.iter().map(|(k, v)| (*k, v.to_f64())).collect();
    for (i, row) in got.rows.iter().enumerate() {
        assert_eq!(row.time_us, minutes[i].0);
        // Run length: consecutive minutes back from here.
        let mut run = 1;
        while run <= i && minutes[i - run].0 == minutes[i].0 - run as i64 * MIN {
            run += 1;
        }
        assert_eq!(row.run_length, run, "minute {i}");
        assert_eq!(row.ready, run >= 30);
        if !row.ready {
            assert!(row.sma.is_none() && row.zscore.is_none());
            continue;
        }
        let last: Vec<f64> = minutes[i + 1 - 20..=i].iter().map(|m| m.1).collect();
        let sma = last.iter().sum::<f64>() / 20.0;
        let sd = (last.iter().map(|x| (x - sma).powi(2)).sum::<f64>() / 20.0).sqrt();
        let mut ema = minutes[i + 1 - run].1;
        for m in &minutes[i + 2 - run..=i] {
            ema += 2.0 / 21.0 * (m.1 - ema);
        }
        let rv = (1..20)
            .map(|j| (last[j] / last[j - 1]).ln().powi(2))
            .sum::<f64>()
            .sqrt();
        let close = last[19];
        let close_approx = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
        assert!(close_approx(row.sma.unwrap(), sma));
        assert!(close_approx(row.ema.unwrap(), ema));
        assert!(close_approx(row.ret.unwrap(), (close / last[18]).ln()));
        assert!(close_approx(row.realized_vol.unwrap(), rv));
        match row.zscore {
            Some(z) => assert!(close_approx(z, (close - sma) / sd)),
            None => assert_eq!(sd, 0.0),
        }
    }
    assert!(got.ready > 0);
    assert_eq!(got.gaps[0].from_us, T0 + 40 * MIN);
    // Default warm-up: the first run (40 minutes) never becomes ready.
    let d = features(&f.tape, &market(), w, &FeatureParams::default()).unwrap();
    assert!(d
        .rows
        .iter()
        .take_while(|r| r.time_us < T0 + 40 * MIN)
        .all(|r| !r.ready));
    assert_eq!(
        d.rows.iter().filter(|r| r.ready).count(),
        d.rows.iter().filter(|r| r.run_length >= 60).count()
    );
}

#[test]
fn venue_candles_are_read_as_stored_with_their_gaps() {
    use tickrec_model::Candle;
    let candle = |minute: i64, close: &str, closed: bool| {
        Event::Candle(Candle {
            venue: Venue::Binance,
            symbol: Arc::from("BTC/USDT"),
            interval_s: 60,
            open_time_us: T0 + minute * MIN,
            open: Decimal::parse("100.10").unwrap(),
            high: Decimal::parse("101.00").unwrap(),
            low: Decimal::parse("99.50").unwrap(),
            close: Decimal::parse(close).unwrap(),
            volume: Decimal::parse("12.5000").unwrap(),
            quote_volume: (minute != 3).then(|| Decimal::parse("1250.75").unwrap()),
            trades: (minute != 3).then_some(42),
            closed,
            ts_exchange_us: T0 + minute * MIN,
            ts_recv_us: T0 + minute * MIN,
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = SqliteConfig {
        path: dir.path().join("c.db"),
        ..SqliteConfig::default()
    };
    let mut w = SqliteWriter::open(&cfg).unwrap();
    w.write_batch(&[
        candle(0, "100.20", true),
        candle(1, "100.30", true),
        candle(3, "100.40", true),
        candle(6, "100.50", false),
    ])
    .unwrap();
    let tape = Tape::open(&cfg.path).unwrap();
    let m = Market::new("binance", "BTC/USDT");
    let got = tickrec_query::venue_candles(&tape, &m, Window::new(T0, T0 + 8 * MIN).unwrap(), 60)
        .unwrap();
    let rows: Vec<(i64, String, bool)> = got
        .candles
        .iter()
        .map(|c| ((c.open_time_us - T0) / MIN, c.close.to_string(), c.closed))
        .collect();
    assert_eq!(
        rows,
        [
            (0, "100.20".to_string(), true),
            (1, "100.30".to_string(), true),
            (3, "100.40".to_string(), true),
            (6, "100.50".to_string(), false)
        ]
    );
    assert_eq!(
        got.candles[0].volume.to_string(),
        "12.5000",
        "venue digits kept"
    );
    assert_eq!(got.candles[2].quote_volume, None);
    assert_eq!(got.candles[0].trades, Some(42));
    let gaps: Vec<(i64, u64)> = got
        .gaps
        .iter()
        .map(|g| ((g.from_us - T0) / MIN, g.missing))
        .collect();
    assert_eq!(gaps, [(2, 1), (4, 2), (7, 1)]);
    // Another interval has nothing stored: all gap, no invented candles.
    let five =
        tickrec_query::venue_candles(&tape, &m, Window::new(T0, T0 + 10 * MIN).unwrap(), 300)
            .unwrap();
    assert!(five.candles.is_empty());
    assert_eq!(five.gaps[0].missing, 2);
    assert!(matches!(
        tickrec_query::venue_candles(
            &tape,
            &Market::new("kraken", "BTC/USD"),
            Window::new(T0, T0 + MIN).unwrap(),
            60
        ),
        Err(QueryError::UnknownMarket { .. })
    ));
}

#[test]
fn text_ids_sharing_a_timestamp_page_without_loss() {
    let t: Vec<Trade> = ["b-uuid", "a-uuid", "c-uuid", "e-uuid", "d-uuid"]
        .iter()
        .enumerate()
        .map(|(i, id)| Trade {
            trade_id: TradeId::Text((*id).into()),
            // Three trades share the first timestamp.
            ts_exchange_us: T0 + (i as i64 - 2).max(0),
            ..trade(1, "10.5", "1", Side::Buy)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let tape = Tape::open(write(dir.path(), &t)).unwrap();
    let m = Market::new("binance", "ETH/USDT");
    let w = Window::new(T0, T0 + MIN).unwrap();
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = trades_page(&tape, &m, w, after.as_ref(), 2).unwrap();
        ids.extend(page.trades.iter().map(|r| match &r.id {
            tickrec_query::trades::StoredId::Text(s) => s.clone(),
            other => panic!("{other:?}"),
        }));
        match page.next {
            Some(c) => after = Some(Cursor::decode(&c).unwrap()),
            None => break,
        }
    }
    assert_eq!(ids, ["a-uuid", "b-uuid", "c-uuid", "e-uuid", "d-uuid"]);
}
