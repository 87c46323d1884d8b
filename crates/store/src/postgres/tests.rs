//! Tests of the PostgreSQL sink against a real, throwaway server.
//!
//! The harness ([`PgServer`]) runs the system's PostgreSQL binaries (`initdb`, `pg_ctl` from
//! `$TICKREC_PG_BIN`, `/usr/lib/postgresql/<newest>/bin` or `PATH`) on a free loopback port in a
//! temporary directory: as the `postgres` user via `runuser` when the tests run as root (initdb
//! refuses root), as the current user otherwise. Tests share one server while they overlap
//! (each uses its own database); the restart and password tests start their own. The server is
//! stopped (`pg_ctl stop -m immediate`) when the last user drops it.
//!
//! Without the binaries the server tests are skipped with a message — or fail when `CI` is set.
//! Install them with `apt-get install -y postgresql` (Debian/Ubuntu).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tickrec_model::{
    BookKind, BookTop, BookUpdate, Candle, Decimal, Event, Level, QualityEvent, QualityKind, Quote,
    Reject, RejectReason, Side, Trade, TradeId, TradeKind, Venue,
};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio_postgres::Client;

use super::config::PostgresConfig;
use super::harness::{bin_or_skip, PgServer};
use super::writer::Routed;
use super::*;
use crate::error::{classify_sqlstate, ErrorClass, StoreError};
use crate::{BatchConfig, BatchWriter, WriteStats};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// Creates database `name` on `server` and returns a client session on it.
fn database(server: &Arc<PgServer>, name: &str) -> Db {
    let admin = Db::connect(server, server.config("postgres"));
    admin.exec(&format!("CREATE DATABASE {name}"));
    Db::connect(server, server.config(name))
}

/// The server shared by overlapping tests (started on first use, stopped by the last user).
fn shared_server() -> Option<Arc<PgServer>> {
    static SHARED: Mutex<Weak<PgServer>> = Mutex::new(Weak::new());
    let bin = bin_or_skip()?;
    let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = slot.upgrade() {
        return Some(s);
    }
    let s = Arc::new(PgServer::start(&bin, None));
    *slot = Arc::downgrade(&s);
    Some(s)
}

/// A server of one's own (for restarts and passwords).
fn own_server(password: Option<&str>) -> Option<Arc<PgServer>> {
    let bin = bin_or_skip()?;
    Some(Arc::new(PgServer::start(&bin, password)))
}

/// A client session (own runtime) on one database.
struct Db {
    _server: Arc<PgServer>,
    cfg: PostgresConfig,
    rt: Runtime,
    client: Client,
}

impl Db {
    fn connect(server: &Arc<PgServer>, cfg: PostgresConfig) -> Db {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = rt.block_on(connect(&cfg)).expect("connect");
        Db {
            _server: Arc::clone(server),
            cfg,
            rt,
            client,
        }
    }

    fn exec(&self, sql: &str) {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {}", crate::error::pg_error_text(&e)));
    }

    fn rows(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        self.rt
            .block_on(self.client.query(sql, &[]))
            .unwrap_or_else(|e| panic!("{sql}: {}", crate::error::pg_error_text(&e)))
    }

    fn count(&self, sql: &str) -> i64 {
        self.rows(sql)[0].get(0)
    }

    fn migrate(&self) -> Result<Migration, StoreError> {
        self.rt.block_on(migrate(&self.client))
    }

    fn writer(&self) -> PostgresWriter {
        PostgresWriter::open(&self.cfg).expect("open writer")
    }
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

fn d(s: &str) -> Decimal {
    Decimal::parse(s).expect(s)
}

const T0: i64 = 1_700_000_000_000_000;

fn trade(id: u64, price: &str, qty: &str, side: Side, ts: i64) -> Trade {
    Trade {
        venue: Venue::Binance,
        symbol: Arc::from("BTC/USDT"),
        trade_id: TradeId::Num(id),
        price: d(price),
        qty: d(qty),
        side,
        ts_exchange_us: ts,
        ts_recv_us: ts + 1_234,
        kind: TradeKind::Single,
    }
}

fn trades(ids: std::ops::Range<u64>) -> Vec<Event> {
    ids.map(|i| {
        Event::Trade(trade(
            i,
            "27123.45",
            "0.00100000",
            Side::Buy,
            T0 + i as i64 * 10,
        ))
    })
    .collect()
}

fn us_of(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros() as i64,
        Err(e) => -(e.duration().as_micros() as i64),
    }
}

/// `write_batch`, retrying transient errors (a refused row makes the first attempt fail and
/// the replay isolate it), as the group-commit loop does.
fn write(w: &mut PostgresWriter, events: &[Event]) -> WriteStats {
    for _ in 0..3 {
        match w.write_batch(events) {
            Ok(s) => return s,
            Err(e) if e.class() == ErrorClass::Transient => continue,
            Err(e) => panic!("write_batch: {e}"),
        }
    }
    panic!("write_batch kept failing")
}

// ---------------------------------------------------------------------------------------------
// Tests without a server
// ---------------------------------------------------------------------------------------------

#[test]
fn redacts_passwords_in_every_uri_form() {
    for uri in [
        "postgresql://alice:s3cr3t-pw@db.example:5433/market",
        "postgres://alice:s3cr3t-pw@db.example/market?sslmode=disable",
        "postgresql://db.example/market?user=alice&password=s3cr3t-pw",
        "host=db.example port=5433 user=alice password=s3cr3t-pw dbname=market",
        "host=db.example user=alice password='s3cr3t-pw with spaces' dbname=market",
        "postgresql://alice:s3cr3t%2Dpw@db.example/market",
    ] {
        let r = redact_uri(uri);
        assert!(!r.contains("s3cr3t"), "{uri} → {r}");
        assert!(r.contains("alice:***@db.example"), "{uri} → {r}");
        assert!(r.ends_with("/market"), "{uri} → {r}");
        let cfg = PostgresConfig {
            uri: uri.to_string(),
            ..PostgresConfig::default()
        };
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
    }
    assert_eq!(
        redact_uri("postgresql://bob@127.0.0.1:5432/tickrec"),
        "postgresql://bob@127.0.0.1:5432/tickrec"
    );
    let bad = "postgresql://alice:s3cr3t@host:notaport/db";
    assert_eq!(redact_uri(bad), "<unparseable connection string>");
    let cfg = PostgresConfig {
        uri: bad.into(),
        ..PostgresConfig::default()
    };
    let err = cfg.client_config().expect_err("bad port").to_string();
    assert!(!err.contains("s3cr3t"), "{err}");
    assert!(err.contains("port"), "{err}");
}

#[test]
fn credentials_come_from_the_environment_when_the_uri_has_none() {
    let env = |k: &str| match k {
        "PGUSER" => Some("envuser".to_string()),
        "PGPASSWORD" => Some("envpw".to_string()),
        _ => None,
    };
    let cfg = PostgresConfig {
        uri: "postgresql://127.0.0.1:5432/tickrec".into(),
        ..PostgresConfig::default()
    };
    let pg = cfg.client_config_with_env(env).unwrap();
    assert_eq!(pg.get_user(), Some("envuser"));
    assert_eq!(pg.get_password(), Some(&b"envpw"[..]));
    assert_eq!(pg.get_application_name(), Some("tickrec"));
    assert_eq!(pg.get_connect_timeout(), Some(&Duration::from_millis(5000)));
    // The URI wins over the environment.
    let cfg = PostgresConfig {
        uri: "postgresql://uriuser:uripw@127.0.0.1/tickrec".into(),
        ..PostgresConfig::default()
    };
    let pg = cfg.client_config_with_env(env).unwrap();
    assert_eq!(pg.get_user(), Some("uriuser"));
    assert_eq!(pg.get_password(), Some(&b"uripw"[..]));
    // No user anywhere: a clear error.
    let cfg = PostgresConfig {
        uri: "postgresql://127.0.0.1/tickrec".into(),
        ..PostgresConfig::default()
    };
    let e = cfg.client_config_with_env(|_| None).unwrap_err();
    assert!(e.to_string().contains("PGUSER"), "{e}");
    assert_eq!(e.class(), ErrorClass::Fatal);
}

#[test]
fn config_section_parses_with_defaults_and_refuses_unknown_keys() {
    let cfg: PostgresConfig = toml::from_str("uri = \"postgresql://u@h/db\"").unwrap();
    assert_eq!(cfg.pool_size, 2);
    assert_eq!(cfg.connect_timeout_ms, 5000);
    assert_eq!(cfg.statement_timeout_ms, 30_000);
    assert!(!cfg.tls);
    let err = toml::from_str::<PostgresConfig>("url = \"x\"").unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
    let tls = PostgresConfig {
        uri: "postgresql://u@h/db".into(),
        tls: true,
        ..PostgresConfig::default()
    };
    let e = tls.client_config().unwrap_err();
    assert_eq!(e.class(), ErrorClass::Fatal);
    assert!(e.to_string().contains("tls"), "{e}");
    let zero = PostgresConfig {
        uri: "postgresql://u@h/db".into(),
        pool_size: 0,
        ..PostgresConfig::default()
    };
    assert!(zero.client_config().is_err());
}

#[test]
fn sqlstates_are_classified() {
    for (code, class) in [
        ("08006", ErrorClass::Transient), // connection failure
        ("08001", ErrorClass::Transient),
        ("57P01", ErrorClass::Transient), // admin shutdown
        ("57P02", ErrorClass::Transient),
        ("57P03", ErrorClass::Transient), // cannot connect now (starting up)
        ("57014", ErrorClass::Transient), // statement timeout
        ("53100", ErrorClass::Transient), // disk full
        ("53300", ErrorClass::Transient), // too many connections
        ("40001", ErrorClass::Transient),
        ("40P01", ErrorClass::Transient),
        ("55P03", ErrorClass::Transient),
        ("25006", ErrorClass::Transient), // read-only (fail-over in progress)
        ("22003", ErrorClass::Poison),    // numeric value out of range
        ("22008", ErrorClass::Poison),    // timestamp out of range
        ("22021", ErrorClass::Poison),    // NUL in text
        ("23514", ErrorClass::Poison),    // CHECK
        ("23502", ErrorClass::Poison),    // NOT NULL
        ("28P01", ErrorClass::Fatal),     // wrong password
        ("28000", ErrorClass::Fatal),
        ("42501", ErrorClass::Fatal), // permission denied
        ("42P01", ErrorClass::Fatal), // missing table
        ("42703", ErrorClass::Fatal), // missing column
        ("3D000", ErrorClass::Fatal), // unknown database
        ("XX000", ErrorClass::Fatal),
        ("", ErrorClass::Fatal),
    ] {
        assert_eq!(classify_sqlstate(code), class, "{code}");
    }
    assert_eq!(
        StoreError::PostgresRowRefused("x".into()).class(),
        ErrorClass::Transient
    );
    assert_eq!(
        StoreError::PostgresTimeout(1).class(),
        ErrorClass::Transient
    );
    assert_eq!(
        StoreError::PostgresSchema("x".into()).class(),
        ErrorClass::Fatal
    );
}

// ---------------------------------------------------------------------------------------------
// Tests on a server
// ---------------------------------------------------------------------------------------------

#[test]
fn migrate_twice_is_idempotent_and_versioned() {
    let Some(pg) = shared_server() else { return };
    let db = database(&pg, "t_migrate");
    let first = db.migrate().expect("migrate");
    assert_eq!((first.from, first.to), (0, SCHEMA_VERSION));
    assert!(!first.timescaledb, "this server has no timescaledb");
    let second = db.migrate().expect("migrate again");
    assert_eq!((second.from, second.to), (SCHEMA_VERSION, SCHEMA_VERSION));
    assert_eq!(
        db.count("SELECT count(*) FROM tickrec_schema_version"),
        i64::from(SCHEMA_VERSION)
    );
    assert_eq!(
        db.count("SELECT max(version)::bigint FROM tickrec_schema_version"),
        i64::from(SCHEMA_VERSION)
    );
    for t in [
        "trades",
        "agg_trades",
        "quotes",
        "candles",
        "rejects",
        "book_deltas",
        "book_snapshots",
        "data_quality_events",
        "trades_view",
        "agg_trades_view",
        "quotes_view",
        "candles_view",
    ] {
        assert_eq!(
            db.count(&format!(
                "SELECT count(*) FROM pg_class WHERE relname = '{t}' \
                 AND relnamespace = 'public'::regnamespace"
            )),
            1,
            "{t}"
        );
    }
    let cols: Vec<String> = db
        .rows(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_name = 'data_quality_events' ORDER BY ordinal_position",
        )
        .iter()
        .map(|r| r.get(0))
        .collect();
    for c in [
        "venue", "symbol", "kind", "start_us", "end_us", "count", "detail",
    ] {
        assert!(cols.iter().any(|x| x == c), "{c} in {cols:?}");
    }

    // Concurrent migrations of a fresh database serialize on the advisory lock.
    let fresh = database(&pg, "t_migrate_concurrent");
    let cfg = fresh.cfg.clone();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let c = connect(&cfg).await?;
                    migrate(&c).await
                })
            })
        })
        .collect();
    let froms: Vec<i32> = handles
        .into_iter()
        .map(|h| h.join().unwrap().expect("concurrent migrate").from)
        .collect();
    assert_eq!(
        fresh.count("SELECT count(*) FROM tickrec_schema_version"),
        i64::from(SCHEMA_VERSION),
        "one row per version, each applied once: {froms:?}"
    );
}

#[test]
fn newer_or_mismatching_schema_is_fatal() {
    let Some(pg) = shared_server() else { return };
    let db = database(&pg, "t_schema_newer");
    db.migrate().unwrap();
    db.exec("INSERT INTO tickrec_schema_version (version, tickrec) VALUES (99, 'future')");
    let e = db.migrate().unwrap_err();
    assert_eq!(e.class(), ErrorClass::Fatal);
    assert!(e.to_string().contains("newer"), "{e}");
    let e = PostgresWriter::open(&db.cfg).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Fatal, "{e}");

    let db = database(&pg, "t_schema_missing");
    db.migrate().unwrap();
    db.exec("DROP TABLE quotes CASCADE");
    let e = PostgresWriter::open(&db.cfg).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Fatal, "{e}");
    assert!(e.to_string().contains("quotes"), "{e}");
    assert!(e.to_string().contains("42P01"), "{e}");
}

#[test]
fn trades_round_trip_exactly() {
    let Some(pg) = shared_server() else { return };
    let db = database(&pg, "t_round_trip");
    let mut w = db.writer();
    let prices = [
        ("0.35280000", "12.00000000"),
        ("27123.45", "0.001"),
        ("9223372036854775807", "1"),
        ("9.223372036854775807", "0.000000000000000001"),
        ("1E-8", "1e3"),
        ("100", "0.10"),
    ];
    let mut events: Vec<Event> = prices
        .iter()
        .enumerate()
        .map(|(i, (p, q))| {
            let side = [Side::Buy, Side::Sell, Side::Unknown][i % 3];
            Event::Trade(trade(i as u64 + 1, p, q, side, T0 + i as i64))
        })
        .collect();
    let mut text_id = trade(0, "1.5", "2", Side::Sell, T0 - 1);
    text_id.trade_id = TradeId::Text("2f1c-uuid-like".into());
    events.push(Event::Trade(text_id));
    let mut huge_id = trade(0, "1.5", "2", Side::Sell, T0 - 2);
    huge_id.trade_id = TradeId::Num(u64::MAX);
    events.push(Event::Trade(huge_id));
    // Before the Unix epoch, microseconds exact.
    events.push(Event::Trade(trade(99, "1", "1", Side::Buy, -1_234_567)));

    let stats = write(&mut w, &events);
    assert_eq!(stats.trades, events.len() as u64);
    assert_eq!(stats.duplicates, 0);

    for ev in &events {
        let Event::Trade(t) = ev else { unreachable!() };
        let (id_sql, ref_sql) = match &t.trade_id {
            TradeId::Num(n) if *n <= i64::MAX as u64 => (format!("= {n}"), "IS NULL".to_string()),
            other => ("IS NULL".to_string(), format!("= '{other}'")),
        };
        let rows = db.rows(&format!(
            "SELECT t.price_m, t.price_scale, t.qty_m, t.qty_scale, t.side, t.ts_exchange, \
                    t.ts_ingest, v.price::text, v.qty::text, v.trade_id \
             FROM trades t JOIN trades_view v USING (venue, symbol, ts_exchange, ts_ingest) \
             WHERE t.trade_id {id_sql} AND t.trade_ref {ref_sql} AND v.trade_id = '{}'",
            t.trade_id
        ));
        assert_eq!(rows.len(), 1, "{t:?}");
        let r = &rows[0];
        assert_eq!(r.get::<_, i64>(0), t.price.mantissa());
        assert_eq!(r.get::<_, i16>(1), i16::from(t.price.scale()));
        assert_eq!(r.get::<_, i64>(2), t.qty.mantissa());
        assert_eq!(r.get::<_, i16>(3), i16::from(t.qty.scale()));
        assert_eq!(r.get::<_, String>(4), t.side.as_str());
        assert_eq!(us_of(r.get(5)), t.ts_exchange_us);
        assert_eq!(us_of(r.get(6)), t.ts_recv_us);
        // The view's NUMERIC prints the venue's digits, trailing zeros included.
        assert_eq!(r.get::<_, String>(7), t.price.to_string(), "{t:?}");
        assert_eq!(r.get::<_, String>(8), t.qty.to_string(), "{t:?}");
    }
    assert_eq!(
        db.count("SELECT count(*) FROM trades_view WHERE price = 0.3528 AND qty = 12"),
        1
    );
}

#[test]
fn look_alike_trades_are_two_rows_and_replays_add_nothing() {
    let Some(pg) = shared_server() else { return };
    let db = database(&pg, "t_look_alike");
    let mut w = db.writer();
    let a = trade(1, "100.5", "0.2", Side::Buy, T0);
    let b = Trade {
        trade_id: TradeId::Num(2),
        ..a.clone()
    };
    let batch = vec![Event::Trade(a), Event::Trade(b)];
    let s = write(&mut w, &batch);
    assert_eq!((s.trades, s.duplicates), (2, 0));
    assert_eq!(db.count("SELECT count(*) FROM trades"), 2);

    let s = write(&mut w, &batch);
    assert_eq!((s.trades, s.duplicates), (0, 2));
    // Duplicates inside one batch, and a replay mixed with new rows.
    let mut mixed = trades(1..50);
    mixed.extend(trades(1..60));
    let s = write(&mut w, &mixed);
    assert_eq!(s.trades, 59);
    assert_eq!(s.duplicates, 49);
    assert_eq!(s.events(), mixed.len() as u64);
    assert_eq!(db.count("SELECT count(*) FROM trades"), 61);
    // Several inserts in one transaction (the loop's case): ords keep them apart.
    w.begin().unwrap();
    let mut st = WriteStats::default();
    for chunk in trades(100..400).chunks(7) {
        w.insert(chunk, &mut st).unwrap();
    }
    w.insert(&trades(100..110), &mut st).unwrap();
    w.commit().unwrap();
    assert_eq!((st.trades, st.duplicates), (300, 10));
    assert_eq!(db.count("SELECT count(*) FROM trades"), 361);
}

/// Prices of `trades` rows by id, in id order.
fn prices(db: &Db, ids: &str) -> Vec<(i64, i64)> {
    db.rows(&format!(
        "SELECT trade_id, price_m FROM trades WHERE trade_id IN ({ids}) \
         ORDER BY trade_id, ts_exchange"
    ))
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

#[test]
fn direct_copy_takes_new_rows_and_later_copies_meet_the_first_seen_row() {
    let Some(pg) = shared_server() else { return };
    let db = database(&pg, "t_direct");
    let mut w = db.writer();
    let priced =
        |id: u64, price: &str| Event::Trade(trade(id, price, "1", Side::Buy, T0 + id as i64 * 10));
    // An empty table: everything is new.
    let s = write(&mut w, &trades(1..101));
    assert_eq!((s.trades, s.duplicates), (100, 0));
    assert_eq!(
        w.routed,
        Routed {
            direct: 100,
            staged: 0
        }
    );

    // One transaction, several calls: new rows go direct, copies of them (other digits) are
    // staged and meet the first-seen row — also a copy inside the same call, and a copy of a
    // row committed before.
    w.begin().unwrap();
    let mut st = WriteStats::default();
    let first: Vec<Event> = (101..151).map(|i| priced(i, "2.5")).collect();
    w.insert(&first, &mut st).unwrap();
    let mut second: Vec<Event> = (140..160).map(|i| priced(i, "7.25")).collect();
    second.push(priced(160, "3"));
    second.push(priced(160, "4"));
    second.push(priced(5, "9"));
    w.insert(&second, &mut st).unwrap();
    w.commit().unwrap();
    assert_eq!((st.trades, st.duplicates), (60, 13));
    assert_eq!(
        w.routed,
        Routed {
            direct: 100 + 50 + 10,
            staged: 11 + 1 + 1
        }
    );
    assert_eq!(db.count("SELECT count(*) FROM trades"), 160);
    assert_eq!(
        prices(&db, "5, 140, 150, 151, 159, 160"),
        vec![
            (5, 2_712_345),
            (140, 25),
            (150, 25),
            (151, 725),
            (159, 725),
            (160, 3)
        ]
    );
    // The same id at a new time is another trade (the key holds the time): direct again.
    let later = Event::Trade(trade(160, "5", "1", Side::Buy, T0 + 10_000));
    let s = write(&mut w, &[later]);
    assert_eq!((s.trades, s.duplicates), (1, 0));
    assert_eq!(w.routed.direct, 161);

    // A new writer seeds its marks from the table: a full replay is staged and adds nothing,
    // new ids go direct.
    drop(w);
    let mut w = db.writer();
    let mut replay = trades(1..101);
    replay.extend((101..170).map(|i| priced(i, "8")));
    let s = write(&mut w, &replay);
    assert_eq!((s.trades, s.duplicates), (9, 160));
    assert_eq!(
        w.routed,
        Routed {
            direct: 9,
            staged: 160
        }
    );
    assert_eq!(db.count("SELECT count(*) FROM trades"), 170);
    assert_eq!(prices(&db, "160, 161"), vec![(160, 3), (160, 5), (161, 8)]);
}

#[test]
fn a_row_stored_by_another_writer_pauses_direct_copy_and_nothing_is_lost() {
    let Some(pg) = shared_server() else { return };
    let db = database(&pg, "t_direct_conflict");
    let mut w = db.writer();
    write(&mut w, &trades(1..11));
    // Someone else stores trade 20 (other digits) after this writer read its marks.
    db.exec(&format!(
        "INSERT INTO trades (ts_exchange, venue, symbol, trade_id, side, price_m, price_scale, \
         qty_m, qty_scale) VALUES ('2000-01-01 UTC'::timestamptz + {} * interval '1 microsecond', \
         'binance', 'BTC/USDT', 20, 'sell', 42, 0, 1, 0)",
        super::writer::pg_ts(T0 + 200)
    ));
    let batch = trades(11..31);
    let err = w.write_batch(&batch).unwrap_err();
    assert!(
        matches!(err, StoreError::PostgresDirectConflict(ref m) if m.contains("23505")),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::Transient);
    assert_eq!(db.count("SELECT count(*) FROM trades"), 11, "rolled back");
    // The replay is staged: the stored row stays, the others arrive once.
    let staged = w.routed.staged;
    let s = write(&mut w, &batch);
    assert_eq!((s.trades, s.duplicates), (19, 1));
    assert_eq!(w.routed.staged, staged + 20);
    assert_eq!(db.count("SELECT count(*) FROM trades"), 30);
    assert_eq!(
        prices(&db, "19, 20, 21"),
        vec![(19, 2_712_345), (20, 42), (21, 2_712_345)]
    );
    // Paused: new rows are staged too for a while.
    let s = write(&mut w, &trades(31..41));
    assert_eq!((s.trades, s.duplicates), (10, 0));
    assert_eq!(w.routed.staged, staged + 30);
}

#[test]
fn every_event_kind_round_trips() {
    let Some(pg) = shared_server() else { return };
    let db = database(&pg, "t_kinds");
    let mut w = db.writer();
    let agg = Trade {
        trade_id: TradeId::Num(777),
        kind: TradeKind::Aggregate {
            first_id: 10,
            last_id: 12,
        },
        ..trade(0, "42.4200", "3", Side::Sell, T0)
    };
    let quote = |uid: Option<u64>, ts_ex: Option<i64>, recv: i64| Quote {
        venue: Venue::Kraken,
        symbol: Arc::from("ETH/USD"),
        bid_price: d("1800.10"),
        bid_qty: d("1.5"),
        ask_price: d("1800.20"),
        ask_qty: d("0.00100000"),
        ts_exchange_us: ts_ex,
        ts_recv_us: recv,
        update_id: uid,
    };
    let candle = |close: &str, closed: bool, ts: i64| Candle {
        venue: Venue::Binance,
        symbol: Arc::from("BTC/USDT"),
        interval_s: 60,
        open_time_us: T0,
        open: d("100.0"),
        high: d("101.5"),
        low: d("99.25"),
        close: d(close),
        volume: d("12.00000000"),
        quote_volume: Some(d("1200.5")),
        trades: Some(42),
        closed,
        ts_exchange_us: ts,
        ts_recv_us: ts + 5,
    };
    let book = BookUpdate {
        venue: Venue::Kraken,
        symbol: Arc::from("BTC/USD"),
        kind: BookKind::Snapshot,
        first_update_id: None,
        last_update_id: Some(5),
        bids: vec![Level {
            price: d("30000.10"),
            qty: d("0.50000000"),
        }],
        asks: vec![
            Level {
                price: d("30000.20"),
                qty: d("1"),
            },
            Level {
                price: d("30001"),
                qty: d("0.0"),
            },
        ],
        checksum: Some(u32::MAX),
        ts_exchange_us: None,
        ts_recv_us: T0 + 9,
        verified: false,
    };
    let reject = Reject::new(
        Venue::Binance,
        None,
        RejectReason::MalformedJson,
        "expected value at line 1",
        b"{\"e\":\x00\xff",
        T0 + 3,
    );
    let events = vec![
        Event::Trade(agg.clone()),
        Event::Quote(quote(Some(9), None, T0)),
        Event::Quote(quote(None, Some(T0 + 1), T0 + 2)),
        Event::Quote(quote(None, None, T0 + 3)),
        // Forming updates, the close, then a stale forming update, in one batch.
        Event::Candle(candle("100.5", false, T0 + 10)),
        Event::Candle(candle("100.7", false, T0 + 20)),
        Event::Candle(candle("100.9", true, T0 + 60)),
        Event::Candle(candle("100.1", false, T0 + 15)),
        Event::Book(book.clone()),
        Event::Reject(reject),
        Event::Quality(QualityEvent {
            venue: Venue::Binance,
            symbol: Some(Arc::from("BTC/USDT")),
            kind: QualityKind::GapUnrepaired,
            start_us: T0,
            end_us: T0 + 5,
            count: 60,
            from_id: Some(1_000),
            to_id: Some(1_059),
            detail: "venue keeps only the last 60 trades".into(),
            ts_recv_us: T0 + 7,
        }),
        Event::Quality(QualityEvent {
            venue: Venue::Kraken,
            symbol: None,
            kind: QualityKind::Reconnect,
            start_us: T0,
            end_us: T0 + 10_000_000,
            count: 3,
            from_id: None,
            to_id: None,
            detail: "kraken#0: stream ended".into(),
            ts_recv_us: T0 + 7,
        }),
    ];
    let s = write(&mut w, &events);
    assert_eq!(
        (
            s.agg_trades,
            s.quotes,
            s.candles,
            s.books,
            s.rejects,
            s.quality
        ),
        (1, 3, 1, 1, 1, 2)
    );
    assert_eq!(
        s.duplicates, 3,
        "three candle updates collapse onto the close"
    );
    assert_eq!(s.events(), events.len() as u64);

    let r = &db
        .rows("SELECT agg_id, first_trade_id, last_trade_id, price::text FROM agg_trades_view")[0];
    assert_eq!(r.get::<_, String>(0), "777");
    assert_eq!((r.get::<_, i64>(1), r.get::<_, i64>(2)), (10, 12));
    assert_eq!(r.get::<_, String>(3), "42.4200");

    let q = db.rows(
        "SELECT seq, update_id, ts_exchange IS NULL, ts, bid_price::text, ask_qty::text \
         FROM quotes_view ORDER BY ts_ingest",
    );
    assert_eq!(q.len(), 3);
    assert_eq!(q[0].get::<_, i64>(0), 9);
    assert_eq!(q[0].get::<_, Option<i64>>(1), Some(9));
    assert!(q[0].get::<_, bool>(2));
    assert_eq!(us_of(q[0].get(3)), T0);
    assert_eq!(q[1].get::<_, i64>(0), T0 + 1);
    assert_eq!(us_of(q[1].get(3)), T0 + 1);
    assert_eq!(q[2].get::<_, i64>(0), T0 + 3);
    assert_eq!(q[0].get::<_, String>(4), "1800.10");
    assert_eq!(q[0].get::<_, String>(5), "0.00100000");

    let c = &db.rows(
        "SELECT close::text, closed, volume::text, quote_volume::text, trades FROM candles_view",
    )[0];
    assert_eq!(c.get::<_, String>(0), "100.9");
    assert!(c.get::<_, bool>(1));
    assert_eq!(c.get::<_, String>(2), "12.00000000");
    assert_eq!(c.get::<_, String>(3), "1200.5");
    assert_eq!(c.get::<_, Option<i64>>(4), Some(42));
    // A closed candle is never reopened; a newer close replaces it; a re-delivery is a duplicate.
    let s = write(&mut w, &[Event::Candle(candle("99", false, T0 + 90))]);
    assert_eq!((s.candles, s.duplicates), (0, 1));
    let s = write(&mut w, &[Event::Candle(candle("101", true, T0 + 61))]);
    assert_eq!((s.candles, s.duplicates), (1, 0));
    let s = write(&mut w, &[Event::Candle(candle("101", true, T0 + 61))]);
    assert_eq!((s.candles, s.duplicates), (0, 1));
    assert_eq!(db.count("SELECT close_m FROM candles"), 101);

    let b = &db.rows(
        "SELECT kind, bids::text, asks::text, checksum, last_update_id, first_update_id \
         FROM book_deltas",
    )[0];
    assert_eq!(b.get::<_, String>(0), "snapshot");
    assert_eq!(b.get::<_, String>(1), r#"[["30000.10", "0.50000000"]]"#);
    assert_eq!(
        b.get::<_, String>(2),
        r#"[["30000.20", "1"], ["30001", "0.0"]]"#
    );
    assert_eq!(b.get::<_, Option<i64>>(3), Some(i64::from(u32::MAX)));
    assert_eq!(b.get::<_, Option<i64>>(4), Some(5));
    assert_eq!(b.get::<_, Option<i64>>(5), None);
    // A replayed book message is a duplicate; the top of the recorder's book has its own table.
    let top = BookTop {
        venue: book.venue,
        symbol: book.symbol.clone(),
        last_update_id: Some(5),
        bids: book.bids.clone(),
        asks: book.asks.clone(),
        verified: true,
        digest: u64::MAX,
        ts_exchange_us: None,
        ts_recv_us: T0 + 99,
    };
    let s = write(
        &mut w,
        &[
            Event::Book(book),
            Event::BookTop(top.clone()),
            Event::BookTop(top),
        ],
    );
    assert_eq!((s.books, s.book_snapshots, s.duplicates), (0, 1, 2));
    let t = &db.rows("SELECT bids::text, verified, digest FROM book_snapshots")[0];
    assert_eq!(t.get::<_, String>(0), r#"[["30000.10", "0.50000000"]]"#);
    assert!(t.get::<_, bool>(1));
    assert_eq!(t.get::<_, i64>(2), -1);

    let j = &db.rows("SELECT venue, symbol, reason, detail, raw FROM rejects")[0];
    assert_eq!(j.get::<_, String>(0), "binance");
    assert_eq!(j.get::<_, Option<String>>(1), None);
    assert_eq!(j.get::<_, String>(2), "malformed_json");
    assert_eq!(j.get::<_, String>(3), "expected value at line 1");
    assert_eq!(j.get::<_, Vec<u8>>(4), b"{\"e\":\x00\xff".to_vec());

    let dq = db.rows(
        "SELECT venue, symbol, kind, count, from_id, to_id, end_us - start_us, detail, ts_ingest          FROM data_quality_events ORDER BY venue",
    );
    assert_eq!(dq.len(), 2);
    assert_eq!(dq[0].get::<_, String>(0), "binance");
    assert_eq!(
        dq[0].get::<_, Option<String>>(1).as_deref(),
        Some("BTC/USDT")
    );
    assert_eq!(dq[0].get::<_, String>(2), "gap_unrepaired");
    assert_eq!(dq[0].get::<_, i64>(3), 60);
    assert_eq!(
        (
            dq[0].get::<_, Option<i64>>(4),
            dq[0].get::<_, Option<i64>>(5)
        ),
        (Some(1_000), Some(1_059))
    );
    assert_eq!(us_of(dq[0].get(8)), T0 + 7);
    assert_eq!(dq[1].get::<_, Option<String>>(1), None);
    assert_eq!(dq[1].get::<_, i64>(6), 10_000_000);

    // Replaying everything adds nothing but the keyless reject row.
    let s = write(&mut w, &events);
    assert_eq!((s.agg_trades, s.quotes, s.candles, s.quality), (0, 0, 0, 0));
    assert_eq!((s.books, s.rejects), (0, 1));
}

#[test]
fn poison_rows_become_rejects_while_the_rest_commits() {
    let Some(pg) = shared_server() else { return };
    let db = database(&pg, "t_poison");
    drop(db.writer()); // migrate
    let (tx, rx) = mpsc::channel(64);
    let handle = spawn_postgres_writer(db.cfg.clone(), BatchConfig::default(), rx).unwrap();
    let mut events = trades(1..101);
    // CHECK (price_m > 0): 23514.
    if let Event::Trade(t) = &mut events[10] {
        t.price = Decimal::new(-5, 2).unwrap();
    }
    // NUL in text: 22021 (refused by COPY itself).
    if let Event::Trade(t) = &mut events[50] {
        t.symbol = Arc::from("BTC\0/USDT");
    }
    // Out of TIMESTAMPTZ's range (before 4713 BC; every later i64 µs fits): 22008.
    // Its receive time too: the reject row then records when it was refused.
    if let Event::Trade(t) = &mut events[77] {
        t.ts_exchange_us = i64::MIN;
        t.ts_recv_us = i64::MIN;
    }
    // Not representable at all (first_trade_id > i64::MAX): refused before sending.
    events.push(Event::Trade(Trade {
        kind: TradeKind::Aggregate {
            first_id: u64::MAX,
            last_id: u64::MAX,
        },
        ..trade(5, "1", "1", Side::Buy, T0)
    }));
    tx.blocking_send(events).unwrap();
    tx.blocking_send(trades(200..210)).unwrap();
    drop(tx);
    let report = handle.join().expect("writer");
    assert_eq!(report.totals.trades, 97 + 10);
    assert_eq!(report.totals.poisoned, 4);
    assert_eq!(report.totals.rejects, 4);
    assert_eq!(db.count("SELECT count(*) FROM trades"), 107);
    let rejects = db.rows(
        "SELECT reason, detail, symbol, convert_from(raw, 'UTF8') FROM rejects ORDER BY detail",
    );
    assert_eq!(rejects.len(), 4);
    let details: Vec<String> = rejects.iter().map(|r| r.get(1)).collect();
    for r in &rejects {
        assert_eq!(r.get::<_, String>(0), "store_constraint");
    }
    assert!(
        details
            .iter()
            .any(|d| d.contains("23514") && d.contains("trades_price_m_check")),
        "{details:?}"
    );
    assert!(details.iter().any(|d| d.contains("22021")), "{details:?}");
    assert!(details.iter().any(|d| d.contains("22008")), "{details:?}");
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("agg_trades: first_trade_id")),
        "{details:?}"
    );
    assert!(
        rejects
            .iter()
            .any(|r| r.get::<_, Option<String>>(2).as_deref() == Some("BTC\u{fffd}/USDT")),
        "NUL replaced in the reject row"
    );
    assert!(rejects
        .iter()
        .all(|r| r.get::<_, String>(3).starts_with("Trade(")));
    assert_eq!(
        db.count(
            "SELECT count(*) FROM rejects WHERE ts_ingest > now() - interval '1 hour' \
             AND detail LIKE '%22008%'"
        ),
        1
    );
}

#[test]
fn server_restart_mid_stream_loses_and_duplicates_nothing() {
    let Some(pg) = own_server(None) else { return };
    let db = database(&pg, "t_restart");
    drop(db.writer()); // migrate
    let cfg = PostgresConfig {
        connect_timeout_ms: 1000,
        ..db.cfg.clone()
    };
    let (tx, rx) = mpsc::channel(16);
    let batch = BatchConfig {
        max_rows: 500,
        max_ms: 50,
    };
    let handle = spawn_postgres_writer(cfg, batch, rx).unwrap();
    let stats = handle.stats();
    const BATCHES: u64 = 400;
    const PER: u64 = 20;
    let producer = std::thread::spawn(move || {
        for b in 0..BATCHES {
            tx.blocking_send(trades(b * PER..(b + 1) * PER)).unwrap();
            std::thread::sleep(Duration::from_millis(8));
        }
    });
    // Restart twice while the producer is sending: fast (sessions get 57P01), then immediate
    // (crash and recovery).
    std::thread::sleep(Duration::from_millis(500));
    let committed_before = stats.trades.load(Ordering::Relaxed);
    pg.restart("fast");
    std::thread::sleep(Duration::from_millis(400));
    pg.restart("immediate");
    let committed_after = stats.trades.load(Ordering::Relaxed);
    producer.join().unwrap();
    let report = handle.join().expect("writer survives restarts");
    let db = Db::connect(&pg, db.cfg.clone()); // the old session died with the server
    assert!(committed_before > 0, "restart happened before any commit");
    assert!(
        committed_after < BATCHES * PER,
        "restart happened after the stream ended"
    );
    let n = BATCHES * PER;
    assert_eq!(report.totals.trades + report.totals.duplicates, n);
    assert_eq!(db.count("SELECT count(*) FROM trades") as u64, n);
    assert_eq!(
        db.count("SELECT count(DISTINCT trade_id) FROM trades") as u64,
        n
    );
    assert_eq!(
        db.count("SELECT min(trade_id) FROM trades"),
        0,
        "first trade present"
    );
    assert_eq!(db.count("SELECT max(trade_id) FROM trades") as u64, n - 1);
    assert!(
        stats.errors.load(Ordering::Relaxed) > 0,
        "the writer saw the restarts"
    );
}

#[test]
fn statement_timeout_is_transient_and_rows_arrive_once_the_lock_is_gone() {
    let Some(pg) = shared_server() else { return };
    let db = database(&pg, "t_timeout");
    drop(db.writer()); // migrate
    let cfg = PostgresConfig {
        statement_timeout_ms: 200,
        ..db.cfg.clone()
    };
    let (tx, rx) = mpsc::channel(4);
    let handle = spawn_postgres_writer(cfg, BatchConfig::default(), rx).unwrap();
    let stats = handle.stats();
    // Another session holds the table: the writer's statements time out (57014) and are retried.
    db.exec("BEGIN; LOCK TABLE trades IN ACCESS EXCLUSIVE MODE");
    tx.blocking_send(trades(0..100)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats.errors.load(Ordering::Relaxed) < 2 {
        assert!(Instant::now() < deadline, "no timeout seen");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(stats.trades.load(Ordering::Relaxed), 0);
    db.exec("COMMIT");
    tx.blocking_send(trades(50..150)).unwrap();
    drop(tx);
    let report = handle.join().expect("writer recovers");
    assert_eq!(report.totals.trades, 150);
    assert_eq!(report.totals.duplicates, 50);
    assert_eq!(db.count("SELECT count(*) FROM trades"), 150);
}

/// Everything logged by this test process (installed once as the global subscriber).
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    Arc::clone(LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(Arc::clone(&sink)))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    }))
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn wrong_password_is_fatal_and_no_password_is_ever_printed() {
    const GOOD: &str = "Corr3ct-Horse-pw";
    const BAD: &str = "Wr0ng-Battery-pw";
    let logs = captured_logs();
    let Some(pg) = own_server(Some(GOOD)) else {
        return;
    };
    let db = database(&pg, "t_auth");
    db.migrate().unwrap();

    let wrong = PostgresConfig {
        uri: pg.uri("t_auth", Some(BAD)),
        ..db.cfg.clone()
    };
    let (_tx, rx) = mpsc::channel(1);
    let e = spawn_postgres_writer(wrong.clone(), BatchConfig::default(), rx).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Fatal, "{e}");
    let msg = e.to_string();
    assert!(msg.contains("28P01"), "{msg}");
    assert!(msg.contains("postgres:***@127.0.0.1"), "{msg}");
    for s in [msg.as_str(), &format!("{e:?}"), &format!("{wrong:?}")] {
        assert!(!s.contains(BAD) && !s.contains(GOOD), "{s}");
    }

    // The right password writes, and the writer's logs (opened, committed, finished) hold no
    // password either.
    let (tx, rx) = mpsc::channel(4);
    let handle = spawn_postgres_writer(db.cfg.clone(), BatchConfig::default(), rx).unwrap();
    tx.blocking_send(trades(1..4)).unwrap();
    drop(tx);
    assert_eq!(handle.join().unwrap().totals.trades, 3);
    // A server restart makes the writer log connection errors and reconnects.
    let mut w = PostgresWriter::open(&db.cfg).unwrap();
    pg.restart("fast");
    let _ = w.write_batch(&trades(10..12));
    write(&mut w, &trades(10..12));
    drop(w);

    let logs =
        String::from_utf8_lossy(&logs.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    assert!(logs.contains("postgres store opened"), "logs captured");
    assert!(!logs.contains(GOOD) && !logs.contains(BAD), "{logs}");
}

/// `cargo test -p tickrec-store --features postgres --release -- --ignored --nocapture
/// throughput`: 1M trades through the group-commit loop, in frames of 1000 trades and of one.
#[test]
#[ignore = "throughput measurement; run in release with --ignored --nocapture"]
fn throughput_1m_trades() {
    let Some(pg) = shared_server() else { return };
    let db = database(&pg, "t_throughput");
    drop(db.writer());
    for (total, per_frame) in [(1_000_000u64, 1000u64), (100_000, 1)] {
        db.exec("TRUNCATE trades");
        let (tx, rx) = mpsc::channel(16 * 1024);
        let handle = spawn_postgres_writer(db.cfg.clone(), BatchConfig::default(), rx).unwrap();
        let mut frames: Vec<Vec<Event>> = (0..total / per_frame)
            .map(|f| trades(f * per_frame..(f + 1) * per_frame))
            .collect();
        let started = Instant::now();
        for mut f in frames.drain(..) {
            // Receive time = now, so that the latency summary means something.
            let now = tickrec_model::now_us();
            for ev in &mut f {
                if let Event::Trade(t) = ev {
                    t.ts_recv_us = now;
                }
            }
            tx.blocking_send(f).unwrap();
        }
        drop(tx);
        let report = handle.join().unwrap();
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(report.totals.trades, total);
        println!(
            "postgres: {total} trades in frames of {per_frame}: {secs:.2} s, {:.0} rows/s, \
             {} commits, p99 receive→commit {} µs",
            total as f64 / secs,
            report.commits,
            report.latency.p99_us
        );
    }
}

/// `cargo test -p tickrec-store --features postgres --release -- --ignored --nocapture
/// round_trip_costs`: what one `insert` call and one small transaction cost, next to a bare
/// round trip. (On a VM whose idle vCPUs wake slowly, loops with pauses between round trips
/// measure the wake-up, not PostgreSQL.)
#[test]
#[ignore = "cost measurement; run in release with --ignored --nocapture"]
fn round_trip_costs() {
    let Some(pg) = shared_server() else { return };
    let db = database(&pg, "t_costs");
    let mut w = db.writer();
    let mut st = WriteStats::default();
    let n = 3000u64;
    w.begin().unwrap();
    let t = Instant::now();
    for i in 0..n {
        w.insert(&trades(i..i + 1), &mut st).unwrap();
    }
    let per_insert = t.elapsed() / n as u32;
    w.commit().unwrap();
    let (mut tb, mut ti, mut tc) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for i in n..n + 1000 {
        let t = Instant::now();
        w.begin().unwrap();
        tb += t.elapsed();
        let t = Instant::now();
        w.insert(&trades(i..i + 1), &mut st).unwrap();
        ti += t.elapsed();
        let t = Instant::now();
        w.commit().unwrap();
        tc += t.elapsed();
    }
    let t = Instant::now();
    for _ in 0..500 {
        db.rt.block_on(db.client.batch_execute("SELECT 1")).unwrap();
    }
    let rtt = t.elapsed() / 500;
    println!(
        "postgres costs: one-trade insert in a long transaction {per_insert:?}; one-trade \
         transaction: begin {:?} + insert {:?} + commit {:?}; simple query round trip {rtt:?}",
        tb / 1000,
        ti / 1000,
        tc / 1000,
    );
}
