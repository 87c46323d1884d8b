//! Ad-hoc exports of a time range of the SQLite store to one Parquet file (`tickrec export`).

use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use super::archiver::file_metadata;
use super::error::ArchiveError;
use super::schema::{spec, Columns, TableSpec};
use super::writer::{AtomicParquet, FileOptions, WrittenFile};
use crate::table::Table;

/// Rows per Arrow batch while exporting (bounded memory whatever the range).
const EXPORT_BATCH_ROWS: usize = 65_536;

/// What to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportQuery {
    /// Table (`trades`, `agg_trades`, `quotes`, `candles`, `book_deltas`, `book_snapshots`).
    pub table: Table,
    /// Only this venue.
    pub venue: Option<String>,
    /// Only this symbol (`BTC/USDT`).
    pub symbol: Option<String>,
    /// From this time, µs, inclusive.
    pub from_us: i64,
    /// To this time, µs, exclusive.
    pub to_us: i64,
}

/// The outcome of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportStats {
    /// The file.
    pub file: WrittenFile,
}

impl ExportQuery {
    /// The table's spec.
    ///
    /// # Errors
    /// [`ArchiveError::Config`] for a table that cannot be exported.
    pub fn spec(&self) -> Result<&'static TableSpec, ArchiveError> {
        spec(self.table).ok_or_else(|| {
            ArchiveError::Config(format!("table {} cannot be exported", self.table.name()))
        })
    }

    /// The time column `--from`/`--to` apply to: exchange time for trades, open time for
    /// candles, receive time for quotes and book updates (their exchange time may be missing).
    pub fn time_column(&self) -> &'static str {
        match self.table {
            Table::Trades | Table::AggTrades => "ts_exchange_us",
            Table::Candles => "open_time_us",
            _ => "ts_recv_us",
        }
    }

    /// `WHERE` clause and its parameters.
    pub fn filter(&self) -> (String, Vec<Value>) {
        let t = self.time_column();
        let mut sql = format!("{t} >= ?1 AND {t} < ?2");
        let mut p = vec![Value::Integer(self.from_us), Value::Integer(self.to_us)];
        if let Some(v) = &self.venue {
            p.push(Value::Text(v.clone()));
            sql.push_str(&format!(" AND venue = ?{}", p.len()));
        }
        if let Some(s) = &self.symbol {
            p.push(Value::Text(s.clone()));
            sql.push_str(&format!(" AND symbol = ?{}", p.len()));
        }
        (sql, p)
    }

    /// Rows matching.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn count(&self, conn: &Connection) -> Result<u64, ArchiveError> {
        let (f, p) = self.filter();
        let n: i64 = conn.query_row(
            &format!("SELECT count(*) FROM {} WHERE {f}", self.table.name()),
            params_from_iter(p),
            |r| r.get(0),
        )?;
        Ok(n.max(0) as u64)
    }
}

/// Exports the rows of `q` to `out` (atomically), sorted by venue, symbol and time. Calls
/// `progress` with the rows written so far after every batch.
///
/// # Errors
/// SQLite, encoding and I/O errors; [`ArchiveError::Config`] when nothing matches.
pub fn export_parquet(
    conn: &Connection,
    q: &ExportQuery,
    out: &Path,
    opts: &FileOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ExportStats, ArchiveError> {
    let spec = q.spec()?;
    let (filter, params) = q.filter();
    // One scale per decimal column for the whole file, so every batch has the same schema.
    let scale_cols = Columns::scale_columns(spec);
    let scales: Vec<u8> = if scale_cols.is_empty() {
        Vec::new()
    } else {
        let list = scale_cols
            .iter()
            .map(|c| format!("coalesce(max({c}), 0)"))
            .collect::<Vec<_>>()
            .join(", ");
        conn.query_row(
            &format!("SELECT {list} FROM {} WHERE {filter}", spec.table.name()),
            params_from_iter(params.iter()),
            |r| {
                (0..scale_cols.len())
                    .map(|i| r.get::<_, i64>(i).map(|s| s.clamp(0, 18) as u8))
                    .collect::<Result<Vec<_>, _>>()
            },
        )?
    };
    let mut stmt = conn.prepare(&spec.select(&filter))?;
    let mut rows = stmt.query(params_from_iter(params.iter()))?;
    let mut cols = Columns::with_scales(spec, scales);
    let mut file: Option<AtomicParquet> = None;
    let mut done = false;
    while !done {
        match rows.next()? {
            Some(row) => {
                cols.push(row)?;
                if cols.len() < EXPORT_BATCH_ROWS {
                    continue;
                }
            }
            None => done = true,
        }
        if cols.is_empty() {
            continue;
        }
        let (batch, scales) = cols.finish()?;
        let w = match file.as_mut() {
            Some(w) => w,
            None => {
                let mut meta = file_metadata(
                    spec,
                    q.venue.as_deref().unwrap_or("*"),
                    q.symbol.as_deref().unwrap_or("*"),
                    q.from_us,
                    q.to_us,
                    0,
                    &scales,
                );
                meta.retain(|(k, _)| k != "tickrec.generation" && k != "tickrec.interval_column");
                meta.push(("tickrec.export_time_column".into(), q.time_column().into()));
                file.insert(AtomicParquet::create(out, batch.schema(), meta, opts)?)
            }
        };
        w.write(&batch)?;
        progress(w.rows());
    }
    let Some(w) = file else {
        return Err(ArchiveError::Config(format!(
            "no {} rows match (time column {})",
            spec.table.name(),
            q.time_column()
        )));
    };
    Ok(ExportStats { file: w.finish()? })
}
