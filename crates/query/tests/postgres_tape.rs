//! The PostgreSQL backend answers exactly what the SQLite backend answers over the same tape
//! (which `known_tape.rs` checks against independent computation). A throwaway server is started
//! on loopback; without server binaries the test is skipped with a message (fails under `CI`).
#![cfg(feature = "postgres")]

use std::sync::Arc;

use serde_json::Value;
use tickrec_model::{Event, Trade, TradeId, Venue};
use tickrec_query::synthetic::{synthetic_trades, SyntheticSpec};
use tickrec_query::{Kind, Request, Tape};
use tickrec_store::postgres::harness::{bin_or_skip, PgServer};
use tickrec_store::{SqliteConfig, SqliteWriter};

/// 2026-11-30T00:00:00Z.
const T0: i64 = 1_796_000_000_000_000 - 1_796_000_000_000_000 % 86_400_000_000;

fn trades() -> Vec<Trade> {
    let spec = SyntheticSpec {
        venue: Venue::Kraken,
        symbol: Arc::from("BTC/USD"),
        seed: 11,
        start_us: T0 + 123_457,
        count: 12_000,
        spacing_us: 500_000,
        hole: Some((T0 + 20 * 60_000_000, T0 + 22 * 60_000_000)),
        mixed_scales: true,
    };
    let mut t: Vec<Trade> = synthetic_trades(&spec).collect();
    // A few text ids sharing timestamps with numeric ones.
    for (i, tr) in t.iter_mut().enumerate().filter(|(i, _)| i % 997 == 0) {
        tr.trade_id = TradeId::Text(format!("uuid-{i:05}").into());
    }
    t
}

fn answer(tape: &Tape, kind: Kind, params: &[(&str, &str)]) -> Value {
    let mut p: Vec<(String, String)> = vec![
        ("venue".into(), "kraken".into()),
        ("symbol".into(), "BTC/USD".into()),
        ("from".into(), "2026-11-30T00:00:00Z".into()),
        ("to".into(), "2026-11-30T02:00:00Z".into()),
    ];
    p.extend(params.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let a = Request::new(kind, p).unwrap().run(tape).unwrap();
    let mut v = serde_json::to_value(a).unwrap();
    // PostgreSQL keeps no receive time.
    if let Some(rows) = v.get_mut("trades").and_then(Value::as_array_mut) {
        for r in rows {
            r.as_object_mut().unwrap().remove("ts_recv_us");
        }
    }
    v
}

#[test]
fn postgres_answers_like_sqlite() {
    let Some(bin) = bin_or_skip() else { return };
    let server = PgServer::start(&bin, None);
    let cfg = server.config("postgres");
    let t = trades();

    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteConfig {
        path: dir.path().join("t.db"),
        ..SqliteConfig::default()
    };
    let events: Vec<Event> = t.iter().cloned().map(Event::Trade).collect();
    SqliteWriter::open(&sqlite)
        .unwrap()
        .write_batch(&events)
        .unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = tickrec_store::postgres::connect(&cfg).await.unwrap();
        tickrec_store::postgres::migrate(&client).await.unwrap();
        // Written with plain SQL, independent of the sink's COPY path.
        let col = |f: &dyn Fn(&Trade) -> String| t.iter().map(f).collect::<Vec<String>>();
        let num: Vec<Option<i64>> = t
            .iter()
            .map(|x| match &x.trade_id {
                TradeId::Num(n) => Some(*n as i64),
                TradeId::Text(_) => None,
            })
            .collect();
        let text: Vec<Option<String>> = t
            .iter()
            .map(|x| match &x.trade_id {
                TradeId::Text(s) => Some(s.to_string()),
                TradeId::Num(_) => None,
            })
            .collect();
        let pm: Vec<i64> = t.iter().map(|x| x.price.mantissa()).collect();
        let ps: Vec<i16> = t.iter().map(|x| i16::from(x.price.scale())).collect();
        let qm: Vec<i64> = t.iter().map(|x| x.qty.mantissa()).collect();
        let qs: Vec<i16> = t.iter().map(|x| i16::from(x.qty.scale())).collect();
        let ts: Vec<i64> = t.iter().map(|x| x.ts_exchange_us).collect();
        client
            .execute(
                "INSERT INTO trades (ts_exchange, venue, symbol, trade_id, trade_ref, side, \
                 price_m, price_scale, qty_m, qty_scale) \
                 SELECT timestamptz 'epoch' + u.ts * interval '1 microsecond', 'kraken', 'BTC/USD', \
                        u.num, u.txt, u.side, u.pm, u.ps, u.qm, u.qs \
                 FROM unnest($1::int8[], $2::int8[], $3::text[], $4::text[], $5::int8[], \
                             $6::int2[], $7::int8[], $8::int2[]) \
                      AS u(ts, num, txt, side, pm, ps, qm, qs)",
                &[&ts, &num, &text, &col(&|x| x.side.as_str().to_string()), &pm, &ps, &qm, &qs],
            )
            .await
            .unwrap();
    });

    let lite = Tape::open(&sqlite.path).unwrap();
    let pg = Tape::connect_postgres(&cfg).unwrap();
    let cases: [(Kind, &[(&str, &str)]); 7] = [
        (Kind::Trades, &[("limit", "10000")]),
        (Kind::Candles, &[("interval", "1m")]),
        (Kind::Candles, &[("interval", "7s")]),
        (Kind::VolumeProfile, &[("bucket_size", "2.5")]),
        (
            Kind::VolumeProfile,
            &[("buckets", "30"), ("value_area", "80")],
        ),
        (Kind::Vacuums, &[("bucket_size", "1")]),
        (Kind::Features, &[("window", "15"), ("warmup", "20")]),
    ];
    for (kind, params) in cases {
        let a = answer(&lite, kind, params);
        assert_eq!(answer(&pg, kind, params), a, "{kind:?} {params:?}");
    }
    // Paging across text and numeric ids gives the same sequence.
    let mut cursor: Option<String> = None;
    let mut both = [Vec::new(), Vec::new()];
    for (i, tape) in [&lite, &pg].into_iter().enumerate() {
        loop {
            let mut p = vec![("limit", "333")];
            if let Some(c) = &cursor {
                p.push(("after", c.as_str()));
            }
            let page = answer(tape, Kind::Trades, &p);
            both[i].extend(page["trades"].as_array().unwrap().iter().cloned());
            match page["next"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        cursor = None;
    }
    let in_window = t
        .iter()
        .filter(|x| (T0..T0 + 7_200_000_000).contains(&x.ts_exchange_us))
        .count();
    assert_eq!(both[0].len(), in_window);
    assert_eq!(both[0], both[1]);
    let unknown = Request::new(
        Kind::Trades,
        [
            ("venue".to_string(), "kraken".to_string()),
            ("symbol".to_string(), "X/Y".to_string()),
        ],
    )
    .unwrap()
    .run(&pg);
    assert!(matches!(
        unknown,
        Err(tickrec_query::QueryError::UnknownMarket { .. })
    ));
}
