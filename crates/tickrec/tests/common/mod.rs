//! Helpers shared by the integration tests: read the stored tape and the simulator's ground truth
//! in one comparable shape.

#![allow(dead_code)]

pub mod in_process;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tickrec_model::Decimal;
use tickrec_simulator::{read_ground_truth, TapeTrade};

/// Decimal text without trailing fractional zeros: Kraken's REST writes `3049.81000` for the
/// trade its WebSocket sent as `3049.81`; exactness is promised up to trailing zeros.
pub fn norm(s: &str) -> String {
    Decimal::parse(s)
        .map(|d| d.normalized().to_string())
        .unwrap_or_else(|_| format!("invalid:{s}"))
}

/// One trade, as stored or as published.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    pub venue: String,
    pub symbol: String,
    pub trade_id: i64,
    pub price: String,
    pub qty: String,
    pub side: String,
    pub ts_exchange_us: i64,
}

/// Every stored trade, ordered by (venue, symbol, id); prices and quantities rebuilt as text.
pub fn stored(db: &Path) -> Vec<Row> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open db");
    let mut stmt = conn
        .prepare("SELECT venue, symbol, trade_id, price_m, price_scale, qty_m, qty_scale, side, ts_exchange_us FROM trades ORDER BY venue, symbol, trade_id")
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| {
            let dec = |m: i64, s: i64| {
                Decimal::new(m, s as u8)
                    .map(|d| d.normalized().to_string())
                    .unwrap_or_default()
            };
            Ok(Row {
                venue: r.get(0)?,
                symbol: r.get(1)?,
                trade_id: r.get(2)?,
                price: dec(r.get(3)?, r.get(4)?),
                qty: dec(r.get(5)?, r.get(6)?),
                side: r.get(7)?,
                ts_exchange_us: r.get(8)?,
            })
        })
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    rows
}

/// Number of stored trades (0 when the file does not exist yet).
pub fn count(db: &Path) -> u64 {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT count(*) FROM trades", [], |r| r.get::<_, i64>(0)))
        .map(|n| n as u64)
        .unwrap_or(0)
}

/// Number of reject rows.
pub fn rejects(db: &Path) -> u64 {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT count(*) FROM rejects", [], |r| r.get::<_, i64>(0)))
        .map(|n| n as u64)
        .unwrap_or(0)
}

pub fn truth_row(t: &TapeTrade) -> Row {
    Row {
        venue: t.venue.as_str().to_string(),
        symbol: t.symbol.clone(),
        trade_id: t.trade_id as i64,
        price: norm(&t.price),
        qty: norm(&t.qty),
        side: t.side.as_str().to_string(),
        ts_exchange_us: t.ts_exchange_us,
    }
}

/// The ground-truth file, sorted like [`stored`].
pub fn truth(path: &Path) -> Vec<Row> {
    let mut v: Vec<Row> = read_ground_truth(path)
        .expect("ground truth")
        .iter()
        .map(truth_row)
        .collect();
    v.sort();
    v
}

/// Asserts the stored tape equals the ground truth: same count, same values, nothing extra.
pub fn assert_tape_equals_truth(db: &Path, truth_path: &Path) {
    let truth = truth(truth_path);
    let rows = stored(db);
    let missing: Vec<&Row> = truth
        .iter()
        .filter(|t| rows.binary_search(t).is_err())
        .collect();
    let extra: Vec<&Row> = rows
        .iter()
        .filter(|r| truth.binary_search(r).is_err())
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "stored {} vs truth {}: {} missing (first {:?}), {} extra (first {:?})",
        rows.len(),
        truth.len(),
        missing.len(),
        missing.first(),
        extra.len(),
        extra.first()
    );
    assert_eq!(rows.len(), truth.len());
}

pub const BIN: &str = env!("CARGO_BIN_EXE_tickrec");

pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn start_simulator(dir: &Path, rate: u64, trades: u64) -> (Proc, serde_json::Value) {
    let mut child = Command::new(BIN)
        .args([
            "simulate",
            "--rate",
            &rate.to_string(),
            "--trades",
            &trades.to_string(),
        ])
        .args([
            "--market",
            "binance:BTC/USDT",
            "--market",
            "binance:ETH/USDT",
        ])
        .args(["--market", "kraken:BTC/USD", "--market", "kraken:ETH/USD"])
        .arg("--ground-truth")
        .arg(dir.join("truth.csv"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn simulator");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("simulator prints its URLs");
    let urls: serde_json::Value = serde_json::from_str(&line).expect("json line");
    (Proc(child), urls)
}

pub fn write_config(dir: &Path, urls: &serde_json::Value) -> std::path::PathBuf {
    let cfg = format!(
        r#"
[storage.sqlite]
path = "{db}"
[batch]
max_rows = 5000
max_ms = 500
[http]
enabled = false
[[markets]]
venue = "binance"
symbols = ["BTC/USDT", "ETH/USDT"]
channels = ["trades"]
ws_url = "{b}"
rest_url = "{br}"
[[markets]]
venue = "kraken"
symbols = ["BTC/USD", "ETH/USD"]
channels = ["trades"]
ws_url = "{k}"
rest_url = "{kr}"
"#,
        db = dir.join("rec.db").display(),
        b = urls["binance_ws_url"].as_str().expect("binance url"),
        k = urls["kraken_ws_url"].as_str().expect("kraken url"),
        br = urls["binance_rest_url"].as_str().expect("binance rest url"),
        kr = urls["kraken_rest_url"].as_str().expect("kraken rest url"),
    );
    let path = dir.join("tickrec.toml");
    std::fs::write(&path, cfg).expect("write config");
    path
}

pub fn start_recorder(config: &Path, log: &Path) -> Proc {
    let log = std::fs::File::create(log).expect("log file");
    Proc(
        Command::new(BIN)
            .arg("record")
            .arg("--config")
            .arg(config)
            // `record` logs to stdout; errors before logging starts go to stderr.
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("spawn recorder"),
    )
}

pub fn sigterm_and_wait(p: &mut Proc) -> i32 {
    let pid = p.0.id().to_string();
    let ok = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(st) = p.0.try_wait().expect("wait") {
            return st.code().unwrap_or(-1);
        }
        assert!(
            Instant::now() < deadline,
            "recorder did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A data-quality row: `(venue, symbol, kind, count, from_id, to_id)`.
pub type QualityRow = (String, String, String, u64, Option<i64>, Option<i64>);

/// Data-quality rows in the order they were recorded.
#[allow(dead_code)] // not every test binary uses every helper
pub fn quality(db: &Path) -> Vec<QualityRow> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open db");
    let mut st = conn
        .prepare(
            "SELECT venue, symbol, kind, count, from_id, to_id FROM data_quality_events \
             ORDER BY ts_recv_us, venue, symbol, kind",
        )
        .expect("prepare");
    st.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get::<_, i64>(3)? as u64,
            r.get(4)?,
            r.get(5)?,
        ))
    })
    .expect("query")
    .collect::<Result<Vec<_>, _>>()
    .expect("rows")
}

/// Per `(venue, symbol)`: trade ids reported missing (`gap`), recovered (`gap_backfilled`) and
/// not recoverable (`gap_unrepaired`), from the data-quality table.
#[allow(dead_code)]
pub fn gap_accounts(db: &Path) -> std::collections::BTreeMap<(String, String), (u64, u64, u64)> {
    let mut out: std::collections::BTreeMap<_, [u64; 3]> = std::collections::BTreeMap::new();
    for (venue, symbol, kind, count, _, _) in quality(db) {
        let slot = match kind.as_str() {
            "gap" => 0,
            "gap_backfilled" => 1,
            "gap_unrepaired" => 2,
            _ => continue,
        };
        let e: &mut [u64; 3] = out.entry((venue, symbol)).or_default();
        e[slot] += count;
    }
    out.into_iter()
        .map(|(k, [a, b, c])| (k, (a, b, c)))
        .collect()
}
