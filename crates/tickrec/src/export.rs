//! `tickrec export`: a time range of the local SQLite store to one Parquet (feature `parquet`)
//! or CSV file, with a progress bar. CSV columns follow Tardis's `trades` and `quotes` CSV
//! (`exchange,symbol,timestamp,local_timestamp,…`, µs timestamps, exact decimal text).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};
use tickrec_model::Decimal;

use crate::config::Config;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Parquet (zstd, exact decimals); needs the `parquet` feature.
    Parquet,
    /// CSV, Tardis-compatible columns (trades, agg_trades, quotes).
    Csv,
}

/// Table to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportTable {
    /// Trades (`--from`/`--to` on exchange time).
    Trades,
    /// Aggregated trades (exchange time).
    AggTrades,
    /// Best bid/offer (receive time).
    Quotes,
    /// Candles (open time; Parquet only).
    Candles,
    /// The venues' book snapshots and deltas (receive time; Parquet only).
    BookDeltas,
    /// The recorder's periodic top-of-book snapshots (receive time; Parquet only).
    BookSnapshots,
}

/// `tickrec export` arguments.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Start, inclusive: RFC 3339 (`2024-01-02T00:00:00Z`) or a date (`2024-01-02`, UTC).
    #[arg(long)]
    pub from: String,
    /// End, exclusive: RFC 3339 or a date.
    #[arg(long)]
    pub to: String,
    /// Only this venue (`binance`).
    #[arg(long)]
    pub venue: Option<String>,
    /// Only this symbol (`BTC/USDT`).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Table.
    #[arg(long, value_enum, default_value_t = ExportTable::Trades)]
    pub table: ExportTable,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Output file (written under a temp name and renamed when complete).
    #[arg(long)]
    pub out: PathBuf,
}

/// Parses `--from`/`--to`.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_time(s: &str) -> anyhow::Result<i64> {
    let s = s.trim();
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    tickrec_model::parse_rfc3339_us(&full).map_err(|e| {
        anyhow::anyhow!(
            "`{s}` is not a date (2024-01-02) or an RFC 3339 time (2024-01-02T10:00:00Z): {e}"
        )
    })
}

impl ExportTable {
    fn name(self) -> &'static str {
        match self {
            ExportTable::Trades => "trades",
            ExportTable::AggTrades => "agg_trades",
            ExportTable::Quotes => "quotes",
            ExportTable::Candles => "candles",
            ExportTable::BookDeltas => "book_deltas",
            ExportTable::BookSnapshots => "book_snapshots",
        }
    }

    fn time_column(self) -> &'static str {
        match self {
            ExportTable::Trades | ExportTable::AggTrades => "ts_exchange_us",
            ExportTable::Candles => "open_time_us",
            ExportTable::Quotes | ExportTable::BookDeltas | ExportTable::BookSnapshots => {
                "ts_recv_us"
            }
        }
    }
}

fn progress_bar(total: u64) -> ProgressBar {
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} rows ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

/// Runs `tickrec export`.
///
/// # Errors
/// Bad arguments, store errors, I/O errors.
pub fn run(cfg: &Config, args: &ExportArgs) -> anyhow::Result<()> {
    let from = parse_time(&args.from)?;
    let to = parse_time(&args.to)?;
    if to <= from {
        bail!("--to must be after --from");
    }
    let conn = tickrec_store::open_read_only(&cfg.sqlite.path)
        .with_context(|| format!("opening {}", cfg.sqlite.path.display()))?;
    match args.format {
        ExportFormat::Csv => export_csv(&conn, args, from, to),
        ExportFormat::Parquet => export_parquet(&conn, args, from, to),
    }
}

#[cfg(feature = "parquet")]
fn export_parquet(conn: &Connection, args: &ExportArgs, from: i64, to: i64) -> anyhow::Result<()> {
    use tickrec_store::parquet::{ExportQuery, FileOptions};
    use tickrec_store::table::Table;
    let table = match args.table {
        ExportTable::Trades => Table::Trades,
        ExportTable::AggTrades => Table::AggTrades,
        ExportTable::Quotes => Table::Quotes,
        ExportTable::Candles => Table::Candles,
        ExportTable::BookDeltas => Table::Books,
        ExportTable::BookSnapshots => Table::BookSnapshots,
    };
    let q = ExportQuery {
        table,
        venue: args.venue.clone(),
        symbol: args.symbol.clone(),
        from_us: from,
        to_us: to,
    };
    let pb = progress_bar(q.count(conn)?);
    let st = tickrec_store::parquet::export_parquet(
        conn,
        &q,
        &args.out,
        &FileOptions::default(),
        &mut |n| pb.set_position(n),
    )?;
    pb.finish_and_clear();
    println!(
        "{}: {} rows, {} bytes",
        st.file.path.display(),
        st.file.rows,
        st.file.bytes
    );
    Ok(())
}

#[cfg(not(feature = "parquet"))]
fn export_parquet(
    _conn: &Connection,
    _args: &ExportArgs,
    _from: i64,
    _to: i64,
) -> anyhow::Result<()> {
    bail!("Parquet export needs a build with `--features parquet` (CSV works in every build: --format csv)")
}

fn dec(buf: &mut [u8; 48], m: i64, s: i64) -> anyhow::Result<String> {
    let scale = u8::try_from(s).with_context(|| format!("scale {s}"))?;
    Ok(Decimal::new(m, scale)
        .map_err(|e| anyhow::anyhow!("mantissa {m} scale {s}: {e}"))?
        .format_into(buf)
        .to_string())
}

fn export_csv(conn: &Connection, args: &ExportArgs, from: i64, to: i64) -> anyhow::Result<()> {
    let (header, select, key) = match args.table {
        ExportTable::Trades => (
            "exchange,symbol,timestamp,local_timestamp,id,side,price,amount",
            "venue, symbol, ts_exchange_us, ts_recv_us, trade_id, side, price_m, price_scale, qty_m, qty_scale",
            "trade_id",
        ),
        ExportTable::AggTrades => (
            "exchange,symbol,timestamp,local_timestamp,id,side,price,amount",
            "venue, symbol, ts_exchange_us, ts_recv_us, agg_id, side, price_m, price_scale, qty_m, qty_scale",
            "agg_id",
        ),
        ExportTable::Quotes => (
            "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount",
            "venue, symbol, ts_exchange_us, ts_recv_us, ask_qty_m, ask_qty_scale, ask_price_m, ask_price_scale, \
             bid_price_m, bid_price_scale, bid_qty_m, bid_qty_scale",
            "seq",
        ),
        other => bail!("CSV export supports trades, agg-trades and quotes; use --format parquet for {}", other.name()),
    };
    let t = args.table.time_column();
    let mut filter = format!("{t} >= ?1 AND {t} < ?2");
    let mut params = vec![Value::Integer(from), Value::Integer(to)];
    if let Some(v) = &args.venue {
        params.push(Value::Text(v.clone()));
        filter.push_str(&format!(" AND venue = ?{}", params.len()));
    }
    if let Some(s) = &args.symbol {
        params.push(Value::Text(s.clone()));
        filter.push_str(&format!(" AND symbol = ?{}", params.len()));
    }
    let table = args.table.name();
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM {table} WHERE {filter}"),
        params_from_iter(params.iter()),
        |r| r.get(0),
    )?;
    if total == 0 {
        bail!("no {table} rows match (time column {t})");
    }
    let pb = progress_bar(total as u64);
    let tmp = temp_path(&args.out);
    let res = (|| -> anyhow::Result<u64> {
        if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        writeln!(w, "{header}")?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {select} FROM {table} WHERE {filter} ORDER BY {t}, venue, symbol, {key}"
        ))?;
        let mut rows = stmt.query(params_from_iter(params.iter()))?;
        let mut buf = [0u8; 48];
        let mut n = 0u64;
        while let Some(r) = rows.next()? {
            let venue: String = r.get(0)?;
            let symbol: String = r.get(1)?;
            let ts: Option<i64> = r.get(2)?;
            let recv: i64 = r.get(3)?;
            let ts = ts.map(|v| v.to_string()).unwrap_or_default();
            write!(w, "{venue},{},{ts},{recv},", csv_field(&symbol))?;
            if args.table == ExportTable::Quotes {
                let mut vals = Vec::with_capacity(4);
                for i in 0..4 {
                    vals.push(dec(&mut buf, r.get(4 + 2 * i)?, r.get(5 + 2 * i)?)?);
                }
                writeln!(w, "{}", vals.join(","))?;
            } else {
                let id = match r.get_ref(4)? {
                    rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                    other => csv_field(other.as_str().unwrap_or("")),
                };
                let side: String = r.get(5)?;
                let price = dec(&mut buf, r.get(6)?, r.get(7)?)?;
                let amount = dec(&mut buf, r.get(8)?, r.get(9)?)?;
                writeln!(w, "{id},{side},{price},{amount}")?;
            }
            n += 1;
            if n.is_multiple_of(8192) {
                pb.set_position(n);
            }
        }
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok(n)
    })();
    let n = match res {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.context(format!("writing {}", args.out.display())));
        }
    };
    std::fs::rename(&tmp, &args.out)
        .with_context(|| format!("renaming to {}", args.out.display()))?;
    pb.finish_and_clear();
    println!("{}: {n} rows", args.out.display());
    Ok(())
}

fn temp_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_fields() {
        assert_eq!(parse_time("2024-01-02").unwrap(), 1_704_153_600_000_000);
        assert_eq!(
            parse_time("2024-01-02T00:00:01Z").unwrap(),
            1_704_153_601_000_000
        );
        assert!(parse_time("yesterday").is_err());
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("BTC/USDT"), "BTC/USDT");
    }
}
