//! Archive tests. The S3 test runs a real `moto_server` on loopback (skipped with a message
//! when it is missing, failing when `CI` is set); files are read back by an independent reader
//! (Python `pyarrow`) and compared with the SQLite rows exactly.

use std::path::{Path, PathBuf};
use std::process::Command;

use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use arrow_array::{Array, Decimal128Array, Int64Array, StringArray};
use futures_util::StreamExt;
use object_store::ObjectStoreExt;
use rusqlite::{params, Connection};

use super::harness::{self, MotoServer};
use super::schema::ColKind;
use super::*;
use crate::sqlite::{SqliteConfig, SqliteWriter};
use crate::table::Table;

const H: i64 = 3_600_000_000;
/// 2024-01-02T00:00:00Z, µs.
const T0: i64 = 1_704_153_600_000_000;

fn sqlite_cfg(dir: &Path) -> SqliteConfig {
    SqliteConfig {
        path: dir.join("tickrec.db"),
        ..SqliteConfig::default()
    }
}

fn open_db(cfg: &SqliteConfig) -> Connection {
    SqliteWriter::open(cfg).unwrap().into_connection()
}

/// Inserts `n` trades of `venue`/`symbol` received in hour `hour` (after T0), ids from `first`,
/// with prices of varying scale (the file must rescale them exactly).
fn add_trades(c: &Connection, venue: &str, symbol: &str, hour: i64, first: i64, n: i64) {
    let mut st = c
        .prepare(
            "INSERT INTO trades (venue, symbol, trade_id, price_m, price_scale, qty_m, qty_scale, \
             side, ts_exchange_us, ts_recv_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .unwrap();
    for i in 0..n {
        let id = first + i;
        // Alternate scales: 42000.5 (1), 42000.25 (2), 0.00012345 (8).
        let (pm, ps) = match id % 3 {
            0 => (420_005, 1),
            1 => (4_200_025, 2),
            _ => (12_345, 8),
        };
        let recv = T0 + hour * H + i * 1_000_000 + 17;
        st.execute(params![
            venue,
            symbol,
            id,
            pm,
            ps,
            1 + id * 7,
            4,
            if id % 2 == 0 { "buy" } else { "sell" },
            recv - 3_000 - (id % 5), // exchange time slightly before receive
            recv
        ])
        .unwrap();
    }
}

fn add_other_tables(c: &Connection, hour: i64) {
    let base = T0 + hour * H;
    c.execute(
        "INSERT INTO trades (venue, symbol, trade_id, price_m, price_scale, qty_m, qty_scale, side, \
         ts_exchange_us, ts_recv_us) VALUES ('coinbase', 'BTC/USD', 'a1b2-c3', 9, 0, 9000000000000000000, 0, 'unknown', ?1, ?2)",
        params![base + 5, base + 10],
    )
    .unwrap();
    c.execute(
        "INSERT INTO agg_trades (venue, symbol, agg_id, price_m, price_scale, qty_m, qty_scale, side, \
         ts_exchange_us, ts_recv_us, first_trade_id, last_trade_id) \
         VALUES ('binance', 'BTC/USDT', 77, 4200012, 2, 5, 3, 'buy', ?1, ?2, 100, 104)",
        params![base + 1, base + 2],
    )
    .unwrap();
    c.execute(
        "INSERT INTO quotes (venue, symbol, seq, bid_price_m, bid_price_scale, bid_qty_m, bid_qty_scale, \
         ask_price_m, ask_price_scale, ask_qty_m, ask_qty_scale, ts_exchange_us, ts_recv_us, update_id) \
         VALUES ('kraken', 'ETH/USD', ?1, 250001, 2, 3, 0, 2500020, 3, 123456789, 8, NULL, ?2, NULL)",
        params![base + 3, base + 3],
    )
    .unwrap();
    c.execute(
        "INSERT INTO candles (venue, symbol, interval_s, open_time_us, open_m, open_scale, high_m, high_scale, \
         low_m, low_scale, close_m, close_scale, volume_m, volume_scale, quote_volume_m, quote_volume_scale, \
         trades, closed, ts_exchange_us, ts_recv_us) \
         VALUES ('binance', 'BTC/USDT', 60, ?1, 1, 0, 2, 1, 3, 2, 4, 3, 0, 0, NULL, NULL, 12, 1, ?2, ?2)",
        params![base, base + 60_000_000],
    )
    .unwrap();
    c.execute(
        "INSERT INTO book_deltas (venue, symbol, kind, first_update_id, last_update_id, bids, asks, \
         checksum, ts_exchange_us, ts_recv_us) \
         VALUES ('kraken', 'BTC/USD', 'snapshot', NULL, 5, '[[\"1.5\",\"2\"]]', '[]', 3735928559, NULL, ?1)",
        params![base + 7],
    )
    .unwrap();
}

fn count(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn archive_cfg(dir: &Path) -> ArchiveConfig {
    ArchiveConfig {
        grace_s: 0,
        staging_dir: dir.join("staging"),
        upload_retries: 1,
        retry_initial_ms: 20,
        retry_max_ms: 50,
        request_timeout_s: 10,
        ..ArchiveConfig::default()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The Parquet-column → SQLite-column mapping of every archived table, for the Python checker.
fn spec_json() -> String {
    let tables: Vec<String> = ARCHIVED
        .iter()
        .map(|s| {
            let cols: Vec<String> = s
                .cols
                .iter()
                .map(|c| {
                    let (kind, src) = match c.kind {
                        ColKind::Text(a) | ColKind::OptText(a) => ("text", vec![a]),
                        ColKind::I64(a) | ColKind::OptI64(a) => ("int", vec![a]),
                        ColKind::Dec(m, sc) | ColKind::OptDec(m, sc) => ("dec", vec![m, sc]),
                        ColKind::Ts(a) | ColKind::OptTs(a) => ("ts", vec![a]),
                        ColKind::Bool(a) => ("bool", vec![a]),
                        ColKind::AnyId(a) => ("anyid", vec![a]),
                    };
                    let src: Vec<String> = src.iter().map(|x| format!("\"{x}\"")).collect();
                    format!(
                        "{{\"name\":\"{}\",\"kind\":\"{kind}\",\"src\":[{}]}}",
                        c.name,
                        src.join(",")
                    )
                })
                .collect();
            format!(
                "\"{}\":{{\"order\":\"{}\",\"cols\":[{}]}}",
                s.table.name(),
                s.order_by,
                cols.join(",")
            )
        })
        .collect();
    format!("{{{}}}", tables.join(","))
}

/// Independent check: pyarrow reads every file under `dir` and compares each value with the
/// SQLite rows of the file's venue, symbol and interval. Returns the rows compared.
const PY_CHECK: &str = r#"
import json, sqlite3, sys, pathlib, decimal
import pyarrow as pa, pyarrow.parquet as pq
db, root, spec = sys.argv[1], pathlib.Path(sys.argv[2]), json.loads(sys.argv[3])
con = sqlite3.connect(db)
total = 0
files = sorted(root.rglob("*.parquet"))
assert files, "no files"
for f in files:
    pf = pq.ParquetFile(f)
    md = {k.decode(): v.decode() for k, v in pf.metadata.metadata.items() if k.startswith(b"tickrec.")}
    t = spec[md["tickrec.table"]]
    tbl = pf.read()
    assert pf.metadata.row_group(0).column(0).statistics is not None, "no statistics"
    assert pf.metadata.row_group(0).column(0).compression == "ZSTD", pf.metadata.row_group(0).column(0).compression
    src = [s for c in t["cols"] for s in c["src"]]
    rows = con.execute(
        f"SELECT {', '.join(src)} FROM {md['tickrec.table']} WHERE venue = ? AND symbol = ? "
        f"AND ts_recv_us >= ? AND ts_recv_us < ? ORDER BY {t['order']}",
        (md["tickrec.venue"], md["tickrec.symbol"], int(md["tickrec.interval_start_us"]), int(md["tickrec.interval_end_us"])),
    ).fetchall()
    assert len(rows) == tbl.num_rows, (f, len(rows), tbl.num_rows)
    i = 0
    for c in t["cols"]:
        k, name = c["kind"], c["name"]
        if k == "ts":
            got = tbl.column(name).cast(pa.int64()).to_pylist()
            assert str(tbl.schema.field(name).type) == "timestamp[us, tz=UTC]", tbl.schema.field(name).type
        else:
            got = tbl.column(name).to_pylist()
        for r, g in zip(rows, got):
            if k == "dec":
                m, s = r[i], r[i + 1]
                want = None if m is None else decimal.Decimal(m).scaleb(-s)
                assert (g is None and want is None) or (isinstance(g, decimal.Decimal) and g == want), (f, name, g, want)
            elif k == "bool":
                assert g == bool(r[i]), (f, name, g, r[i])
            elif k == "anyid":
                pass
            else:
                assert g == r[i], (f, name, g, r[i])
        if k == "anyid":
            ids, texts = tbl.column(name).to_pylist(), tbl.column(name + "_text").to_pylist()
            for r, n, s in zip(rows, ids, texts):
                assert (n, s) == ((r[i], None) if isinstance(r[i], int) else (None, r[i])), (f, name, n, s, r[i])
        if k == "dec":
            ty = tbl.schema.field(name).type
            assert pa.types.is_decimal(ty) and ty.precision in (18, 38), ty
        i += len(c["src"])
    total += len(rows)
print(total)
"#;

fn python_check(py: &Path, db: &Path, dir: &Path) -> i64 {
    let out = Command::new(py)
        .args(["-c", PY_CHECK])
        .arg(db)
        .arg(dir)
        .arg(spec_json())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pyarrow check failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Downloads every object of `dest` into `dir`; returns the keys.
async fn download_all(dest: &Destination, dir: &Path) -> Vec<String> {
    let store = dest.store().clone();
    let mut keys = Vec::new();
    let mut list = store.list(None);
    while let Some(meta) = list.next().await {
        let meta = meta.unwrap();
        let bytes = store
            .get(&meta.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let path = dir.join(meta.location.as_ref());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        keys.push(meta.location.to_string());
    }
    keys.sort();
    keys
}

fn read_back(path: &Path) -> Vec<arrow_array::RecordBatch> {
    let f = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

#[test]
fn key_layout_follows_seed_002() {
    assert_eq!(
        object_key("binance", "BTC/USDT", "trades", None, T0, 0),
        "binance/BTC-USDT/trades/2024-01-02/1704153600000.parquet"
    );
    assert_eq!(
        object_key("kraken", "ETH/USD", "quotes", Some("home1"), T0 + H, 2),
        "kraken/ETH-USD/quotes/home1/2024-01-02/1704157200000-g2.parquet"
    );
    assert_eq!(symbol_segment("a b/c?"), "a_b-c_");
}

#[test]
fn config_validation_names_the_key() {
    let mut c = ArchiveConfig::default();
    assert!(c.validate().unwrap_err().contains("destination"));
    c.destination.local_dir = Some("x".into());
    c.validate().unwrap();
    c.interval_s = 7;
    assert!(c.validate().unwrap_err().contains("interval_s"));
    let e = toml::from_str::<ArchiveConfig>("interval = 5")
        .unwrap_err()
        .to_string();
    assert!(e.contains("interval"), "{e}");
}

#[test]
fn unfinished_file_leaves_nothing_and_stale_temps_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sqlite_cfg(dir.path());
    let c = open_db(&cfg);
    add_trades(&c, "binance", "BTC/USDT", 0, 1, 10);
    let spec = super::spec(Table::Trades).unwrap();
    let mut cols = Columns::new(spec);
    let mut st = c.prepare(&spec.select("1")).unwrap();
    let mut rows = st.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        cols.push(r).unwrap();
    }
    let (batch, _) = cols.finish().unwrap();
    let path = dir.path().join("out/x.parquet");
    let mut w =
        AtomicParquet::create(&path, batch.schema(), vec![], &FileOptions::default()).unwrap();
    w.write(&batch).unwrap();
    drop(w); // a crash before finish()
    assert!(!path.exists());
    assert_eq!(
        std::fs::read_dir(dir.path().join("out")).unwrap().count(),
        0
    );
    std::fs::write(dir.path().join("out/y.parquet.tmp"), b"PAR1 partial").unwrap();
    assert_eq!(remove_stale_temp_files(dir.path()).unwrap(), 1);
    // A finished file is complete and exact.
    let f = write_file(&path, &[batch], vec![], &FileOptions::default()).unwrap();
    assert_eq!(f.rows, 10);
    assert_eq!(checksum_file(&path).unwrap(), (f.bytes, f.crc32c));
    let back = read_back(&path);
    let price = back[0]
        .column_by_name("price")
        .unwrap()
        .as_any()
        .downcast_ref::<Decimal128Array>()
        .unwrap();
    assert_eq!((price.precision(), price.scale()), (18, 8));
    // Row order is by exchange time: ids 1..=10; id 1 → 42000.25 (scale 2), id 2 → 0.00012345.
    let ids = back[0]
        .column_by_name("trade_id")
        .unwrap()
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(ids.value(0), 1);
    assert_eq!(price.value(0), 4_200_025 * 1_000_000);
    assert_eq!(price.value_as_string(0), "42000.25000000");
    assert_eq!(price.value_as_string(1), "0.00012345");
}

#[test]
fn local_directory_archive_resumes_and_prunes_only_archived_rows() {
    let dir = tempfile::tempdir().unwrap();
    let scfg = sqlite_cfg(dir.path());
    let c = open_db(&scfg);
    add_trades(&c, "binance", "BTC/USDT", 0, 1, 50);
    add_trades(&c, "binance", "BTC/USDT", 1, 51, 50);
    add_trades(&c, "kraken", "BTC/USD", 1, 1, 20);
    add_trades(&c, "kraken", "BTC/USD", 2, 21, 20); // current hour: not archived
    add_other_tables(&c, 0);
    let mut cfg = archive_cfg(dir.path());
    cfg.destination.local_dir = Some(dir.path().join("archive"));
    cfg.destination.prefix = "md".into();
    std::fs::create_dir_all(cfg.staging_dir.join("binance")).unwrap();
    std::fs::write(cfg.staging_dir.join("binance/old.parquet.tmp"), b"x").unwrap();
    let dest = Destination::from_config(&cfg).unwrap();
    let mut a = Archiver::open(&scfg, cfg.clone(), dest).unwrap();
    assert!(!cfg.staging_dir.join("binance/old.parquet.tmp").exists());
    let now = T0 + 2 * H + 1;
    let rt = rt();
    let plan = rt.block_on(a.run_once(now, true)).unwrap();
    assert_eq!(plan.planned.len(), 2 + 4, "{plan:?}"); // trades ×2 hours, 4 other tables in hour 0
    assert_eq!(count(&c, "SELECT count(*) FROM archive_intervals"), 0);
    let r = rt.block_on(a.run_once(now, false)).unwrap();
    assert_eq!((r.intervals, r.rows), (6, 50 + 1 + 70 + 4), "{r:?}");
    // trades hour 0: binance + coinbase; hour 1: binance + kraken; 4 other tables.
    assert_eq!(r.files, 8);
    let key = dir
        .path()
        .join("archive/md/binance/BTC-USDT/trades/2024-01-02/1704153600000.parquet");
    assert!(key.exists());
    let back = read_back(&key);
    let venue = back[0]
        .column_by_name("venue")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!((back[0].num_rows(), venue.value(0)), (50, "binance"));
    // Staged copies are removed once verified.
    assert_eq!(walk(&cfg.staging_dir).len(), 0);
    // A second run finds nothing new.
    let r2 = rt.block_on(a.run_once(now, false)).unwrap();
    assert_eq!((r2.intervals, r2.up_to_date), (0, 6));

    // Retention by bytes with no room: only archived intervals go; hour 2 stays.
    let policy = RetentionConfig {
        max_age_hours: None,
        max_bytes: Some(0),
    };
    let dry = prune(a.connection_mut(), &policy, true, 3600, now, true).unwrap();
    assert_eq!(dry.pruned.len(), 6);
    assert_eq!(
        count(&c, "SELECT count(*) FROM trades"),
        50 + 50 + 20 + 20 + 1
    );
    let done = prune(a.connection_mut(), &policy, true, 3600, now, false).unwrap();
    assert_eq!(done.pruned.len(), 6);
    assert!(done
        .pruned
        .iter()
        .all(|p| p.archived && p.reason == Reason::MaxBytes));
    assert_eq!(count(&c, "SELECT count(*) FROM trades"), 20);
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM trades WHERE ts_recv_us >= 1704160800000000"
        ),
        20
    );
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM retention_events WHERE archived = 1"
        ),
        6
    );
    assert_eq!(count(&c, "SELECT sum(rows) FROM retention_events"), 125);
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM archive_intervals WHERE pruned_at_us IS NULL"
        ),
        0
    );

    // A late row in a pruned interval becomes generation 1, never overwriting generation 0.
    add_trades(&c, "binance", "BTC/USDT", 0, 1000, 1);
    let r3 = rt.block_on(a.run_once(now, false)).unwrap();
    assert_eq!((r3.intervals, r3.rows), (1, 1));
    assert!(key.exists());
    assert!(dir
        .path()
        .join("archive/md/binance/BTC-USDT/trades/2024-01-02/1704153600000-g1.parquet")
        .exists());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn retention_without_archive_by_age_with_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let scfg = sqlite_cfg(dir.path());
    let mut c = open_db(&scfg);
    for h in 0..4 {
        add_trades(&c, "binance", "BTC/USDT", h, 1 + h * 10, 10);
    }
    let now = T0 + 4 * H + 5;
    let policy = RetentionConfig {
        max_age_hours: Some(2),
        max_bytes: None,
    };
    let dry = prune(&mut c, &policy, false, 3600, now, true).unwrap();
    assert_eq!(dry.pruned.len(), 2);
    assert_eq!(count(&c, "SELECT count(*) FROM trades"), 40);
    assert_eq!(count(&c, "SELECT count(*) FROM retention_events"), 0);
    let done = prune(&mut c, &policy, false, 3600, now, false).unwrap();
    assert_eq!(done.pruned.iter().map(|p| p.rows).sum::<u64>(), 20);
    assert!(done
        .pruned
        .iter()
        .all(|p| !p.archived && p.reason == Reason::MaxAge));
    assert_eq!(count(&c, "SELECT count(*) FROM trades"), 20);
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM retention_events WHERE reason = 'max_age' AND archived = 0"
        ),
        2
    );
}

#[test]
fn export_one_market_and_range_with_fixed_scales() {
    let dir = tempfile::tempdir().unwrap();
    let c = open_db(&sqlite_cfg(dir.path()));
    add_trades(&c, "binance", "BTC/USDT", 0, 1, 100_000);
    add_trades(&c, "kraken", "BTC/USD", 0, 1, 10);
    let q = ExportQuery {
        table: Table::Trades,
        venue: Some("binance".into()),
        symbol: Some("BTC/USDT".into()),
        from_us: T0 - H, // exchange times start a few ms before T0
        to_us: T0 + 100 * H,
    };
    assert_eq!(q.count(&c).unwrap(), 100_000);
    let out = dir.path().join("x/export.parquet");
    let mut seen = Vec::new();
    let st = export_parquet(&c, &q, &out, &FileOptions::default(), &mut |n| seen.push(n)).unwrap();
    assert_eq!(st.file.rows, 100_000);
    assert_eq!(seen, vec![65_536, 100_000]);
    let back = read_back(&out);
    assert_eq!(back.iter().map(|b| b.num_rows()).sum::<usize>(), 100_000);
    let none = ExportQuery {
        venue: Some("okx".into()),
        ..q
    };
    assert!(export_parquet(
        &c,
        &none,
        &dir.path().join("n.parquet"),
        &FileOptions::default(),
        &mut |_| {}
    )
    .is_err());
    assert!(!dir.path().join("n.parquet").exists());
}

/// The full S3 path on a real S3-compatible server: upload, read-back verification, exact
/// values through pyarrow, pruning only after verification, and a server outage.
#[test]
fn s3_archive_verify_prune_and_survive_an_outage() {
    let Some(moto) = harness::moto_or_skip() else {
        return;
    };
    let Some(py) = harness::pyarrow_or_skip() else {
        return;
    };
    // Seed 002's variable names; no other test reads them.
    std::env::set_var("AWS_ACCESS_KEY", harness::ACCESS_KEY);
    std::env::set_var("AWS_SECRET_KEY", harness::SECRET_KEY);
    let mut server = MotoServer::start(moto);
    server.create_bucket("ticks");
    let dir = tempfile::tempdir().unwrap();
    let scfg = sqlite_cfg(dir.path());
    let c = open_db(&scfg);
    add_trades(&c, "binance", "BTC/USDT", 0, 1, 500);
    add_trades(&c, "binance", "ETH/USDT", 0, 1, 300);
    add_trades(&c, "binance", "BTC/USDT", 1, 501, 400);
    add_other_tables(&c, 1);
    add_trades(&c, "binance", "BTC/USDT", 2, 901, 10); // current hour
    let mut cfg = archive_cfg(dir.path());
    cfg.destination = DestinationConfig {
        bucket: Some("ticks".into()),
        prefix: "tickrec".into(),
        endpoint: Some(server.endpoint()),
        allow_http: true,
        region: Some("eu-west-1".into()),
        ..DestinationConfig::default()
    };
    cfg.server_name = Some("srv1".into());
    let dest = Destination::from_config(&cfg).unwrap();
    assert!(!dest.describe().contains(harness::SECRET_KEY));
    assert!(!format!("{dest:?}").contains(harness::SECRET_KEY));
    let mut a = Archiver::open(&scfg, cfg.clone(), dest.clone()).unwrap();
    let rt = rt();
    let now = T0 + 2 * H + 10;
    let r = rt.block_on(a.run_once(now, false)).unwrap();
    assert_eq!((r.intervals, r.rows), (1 + 5, 800 + 400 + 5), "{r:?}");
    let got = dir.path().join("download");
    let keys = rt.block_on(download_all(&dest, &got));
    assert!(keys.contains(
        &"tickrec/binance/BTC-USDT/trades/srv1/2024-01-02/1704153600000.parquet".to_string()
    ));
    assert_eq!(keys.len() as u64, r.files);
    let recorded: Vec<String> = c
        .prepare("SELECT object_key FROM archive_files ORDER BY object_key")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|k| k.unwrap())
        .collect();
    assert_eq!(recorded, keys);
    // Independent reader: every value equals the SQLite row.
    assert_eq!(python_check(&py, &scfg.path, &got), 800 + 400 + 5);

    // Outage: new rows in hour 2, the server is down → nothing recorded, rows kept, the staged
    // file stays local; retention cannot touch the unarchived hour.
    server.stop();
    add_trades(&c, "binance", "BTC/USDT", 2, 2000, 5);
    let later = T0 + 3 * H + 10;
    let err = rt.block_on(a.run_once(later, false)).unwrap_err();
    assert!(matches!(err, ArchiveError::Upload { .. }), "{err}");
    assert!(!err.to_string().contains(harness::SECRET_KEY));
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM archive_intervals WHERE start_us = 1704160800000000"
        ),
        0
    );
    assert_eq!(walk(&cfg.staging_dir).len(), 1);
    let policy = RetentionConfig {
        max_age_hours: Some(0),
        max_bytes: None,
    };
    let p = prune(a.connection_mut(), &policy, true, 3600, later, false).unwrap();
    assert_eq!(p.pruned.len(), 6); // hours 0 and 1: archived and verified
    assert_eq!(count(&c, "SELECT count(*) FROM trades"), 15);

    // The server is back (empty, as moto keeps nothing): the next run archives hour 2.
    server.restart();
    server.create_bucket("ticks");
    let r = rt.block_on(a.run_once(later, false)).unwrap();
    assert_eq!((r.intervals, r.rows, r.files), (1, 15, 1));
    assert_eq!(walk(&cfg.staging_dir).len(), 0);
    let p = prune(a.connection_mut(), &policy, true, 3600, later, false).unwrap();
    assert_eq!(p.pruned.len(), 1);
    assert_eq!(count(&c, "SELECT count(*) FROM trades"), 0);
}

/// Archive throughput and size: `cargo test --release -p tickrec-store --features parquet --lib
/// -- --ignored bench_archive --nocapture`. 1 M trades (4 markets, one hour) → local directory,
/// including the read-back verification; then retention prunes them.
#[test]
#[ignore = "benchmark"]
fn bench_archive() {
    let dir = tempfile::tempdir().unwrap();
    let scfg = sqlite_cfg(dir.path());
    let mut c = open_db(&scfg);
    let n: i64 = 1_000_000;
    let tx = c.transaction().unwrap();
    {
        let mut st = tx
            .prepare(
                "INSERT INTO trades (venue, symbol, trade_id, price_m, price_scale, qty_m, qty_scale, \
                 side, ts_exchange_us, ts_recv_us) VALUES (?1, ?2, ?3, ?4, 2, ?5, 8, ?6, ?7, ?8)",
            )
            .unwrap();
        let markets = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"];
        let mut price = 4_200_000i64;
        for i in 0..n {
            // A random-walk price and varied sizes, like a real tape.
            price += (i * 7919 % 11) - 5;
            let recv = T0 + i * 3_600_000_000 / n;
            st.execute(params![
                "binance",
                markets[(i % 4) as usize],
                1_000_000_000 + i,
                price,
                (i * 104_729) % 50_000_000 + 1,
                if i % 3 == 0 { "sell" } else { "buy" },
                recv - 1_500,
                recv
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
    drop(c);
    let mut cfg = archive_cfg(dir.path());
    cfg.destination.local_dir = Some(dir.path().join("archive"));
    let dest = Destination::from_config(&cfg).unwrap();
    let mut a = Archiver::open(&scfg, cfg, dest).unwrap();
    let rt = rt();
    let t = std::time::Instant::now();
    let r = rt.block_on(a.run_once(T0 + 2 * H, false)).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(r.rows, n as u64);
    let t = std::time::Instant::now();
    let p = prune(
        a.connection_mut(),
        &RetentionConfig {
            max_age_hours: Some(0),
            max_bytes: None,
        },
        true,
        3600,
        T0 + 2 * H,
        false,
    )
    .unwrap();
    let prune_secs = t.elapsed().as_secs_f64();
    assert_eq!(p.pruned[0].rows, n as u64);
    println!(
        "archive: {} rows in {secs:.2} s = {:.0} rows/s (SQLite read + Parquet zstd(3) + copy + read-back verify); \
         {} bytes = {:.2} B/row in {} files; retention prune: {:.0} rows/s",
        r.rows,
        r.rows as f64 / secs,
        r.bytes,
        r.bytes as f64 / r.rows as f64,
        r.files,
        n as f64 / prune_secs
    );
}
