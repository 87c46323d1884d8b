//! `tickrec export` and `tickrec archive` as a user runs them: the binary, a config file, a store.

use std::path::Path;
use std::process::Command;

use rusqlite::{params, Connection};

/// 2024-01-02T00:00:00Z, µs.
const T0: i64 = 1_704_153_600_000_000;

fn store(dir: &Path) -> Connection {
    let cfg = tickrec_store::SqliteConfig {
        path: dir.join("t.db"),
        ..Default::default()
    };
    drop(tickrec_store::SqliteWriter::open(&cfg).unwrap());
    let c = Connection::open(&cfg.path).unwrap();
    let mut st = c
        .prepare(
            "INSERT INTO trades (venue, symbol, trade_id, price_m, price_scale, qty_m, qty_scale, side, \
             ts_exchange_us, ts_recv_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .unwrap();
    st.execute(params![
        "binance",
        "BTC/USDT",
        7,
        4_200_025,
        2,
        35_280_000,
        8,
        "buy",
        T0 + 1,
        T0 + 9
    ])
    .unwrap();
    st.execute(params![
        "binance",
        "BTC/USDT",
        8,
        42_000,
        0,
        5,
        1,
        "sell",
        T0 + 2,
        T0 + 10
    ])
    .unwrap();
    st.execute(params![
        "kraken",
        "BTC/USD",
        "x-1",
        1,
        0,
        1,
        0,
        "unknown",
        T0 + 3,
        T0 + 11
    ])
    .unwrap();
    drop(st);
    c
}

fn write_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let p = dir.join("tickrec.toml");
    std::fs::write(
        &p,
        format!(
            "[storage.sqlite]\npath = \"{}\"\n[[markets]]\nvenue = \"binance\"\nsymbols = [\"BTC/USDT\"]\n{extra}",
            dir.join("t.db").display()
        ),
    )
    .unwrap();
    p
}

fn tickrec(cfg: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tickrec"))
        .arg("--config")
        .arg(cfg)
        .args(args)
        .env_remove("TICKREC_CONFIG")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn export_csv_has_tardis_trade_columns_and_exact_values() {
    let dir = tempfile::tempdir().unwrap();
    let _c = store(dir.path());
    let cfg = write_config(dir.path(), "");
    let out = dir.path().join("out/trades.csv");
    let (ok, log) = tickrec(
        &cfg,
        &[
            "export",
            "--from",
            "2024-01-02",
            "--to",
            "2024-01-03",
            "--venue",
            "binance",
            "--symbol",
            "BTC/USDT",
            "--format",
            "csv",
            "--out",
        ]
        .iter()
        .copied()
        .chain([out.to_str().unwrap()])
        .collect::<Vec<_>>(),
    );
    assert!(ok, "{log}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n\
         binance,BTC/USDT,1704153600000001,1704153600000009,7,buy,42000.25,0.35280000\n\
         binance,BTC/USDT,1704153600000002,1704153600000010,8,sell,42000,0.5\n"
    );
    let (ok, log) = tickrec(
        &cfg,
        &[
            "export",
            "--from",
            "2023-01-01",
            "--to",
            "2023-01-02",
            "--format",
            "csv",
            "--out",
            "/nonexistent/x.csv",
        ],
    );
    assert!(!ok && log.contains("no trades rows match"), "{log}");
}

#[cfg(feature = "parquet")]
#[test]
fn archive_once_to_a_directory_then_prune() {
    let dir = tempfile::tempdir().unwrap();
    let c = store(dir.path());
    let archive = dir.path().join("archive");
    let cfg = write_config(
        dir.path(),
        &format!(
            "[archive]\ngrace_s = 0\nstaging_dir = \"{}\"\n[archive.destination]\nlocal_dir = \"{}\"\n[retention]\nmax_age_hours = 1\n",
            dir.path().join("staging").display(),
            archive.display()
        ),
    );
    let (ok, log) = tickrec(&cfg, &["archive", "--dry-run"]);
    assert!(ok, "{log}");
    assert!(
        log.contains("would archive trades 2024-01-02T00:00:00"),
        "{log}"
    );
    assert!(!archive.join("binance").exists());
    let (ok, log) = tickrec(&cfg, &["archive", "--once"]);
    assert!(ok, "{log}");
    assert!(
        log.contains("archived 1 intervals: 2 files, 3 rows"),
        "{log}"
    );
    assert!(log.contains("pruned trades 2024-01-02T00:00:00"), "{log}");
    assert!(archive
        .join("binance/BTC-USDT/trades/2024-01-02/1704153600000.parquet")
        .exists());
    assert!(archive
        .join("kraken/BTC-USD/trades/2024-01-02/1704153600000.parquet")
        .exists());
    let n: i64 = c
        .query_row("SELECT count(*) FROM trades", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
    let (ok, log) = tickrec(&cfg, &["archive", "--once"]);
    assert!(ok && log.contains("archived 0 intervals"), "{log}");
}

#[cfg(not(feature = "parquet"))]
#[test]
fn archive_config_is_refused_clearly_without_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let _c = store(dir.path());
    let cfg = write_config(
        dir.path(),
        "[archive]\n[archive.destination]\nlocal_dir = \"x\"\n",
    );
    let (ok, log) = tickrec(&cfg, &["archive", "--once"]);
    assert!(!ok && log.contains("--features parquet"), "{log}");
}

/// The archive task `record` starts: its first cycle runs at once, and stop waits for it.
#[cfg(feature = "parquet")]
#[test]
fn recorder_archive_task_archives_then_prunes_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let c = store(dir.path());
    let archive = dir.path().join("archive");
    let cfg = write_config(
        dir.path(),
        &format!(
            "[archive]\ngrace_s = 0\ncheck_every_s = 3600\nstaging_dir = \"{}\"\nserver_name = \"box\"\n\
             [archive.destination]\nlocal_dir = \"{}\"\n[retention]\nmax_age_hours = 1\n",
            dir.path().join("staging").display(),
            archive.display()
        ),
    );
    let cfg = tickrec::config::Config::load(&cfg).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tickrec::archive_cli::spawn_in_recorder(&cfg, stop_rx)
        .unwrap()
        .expect("archive task");
    stop_tx.send(true).unwrap();
    task.join();
    assert!(archive
        .join("binance/BTC-USDT/trades/box/2024-01-02/1704153600000.parquet")
        .exists());
    let n: i64 = c
        .query_row(
            "SELECT count(*) FROM retention_events WHERE archived = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    let n: i64 = c
        .query_row("SELECT count(*) FROM trades", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
}
