//! The archive cycle: completed intervals of the SQLite store → one Parquet file per venue,
//! symbol, data type and interval → upload → verify → bookkeeping in `archive_intervals` /
//! `archive_files`. Pruning local rows is [`super::retention`]'s job and only ever touches
//! intervals recorded here.
//!
//! # Which rows go in which file
//! Rows are assigned to intervals by **receive time** (`ts_recv_us`), which only grows as the
//! recorder runs: a trade backfilled after an outage lands in the interval it was received in, so
//! an interval, once past `grace_s`, does not change any more and nothing is archived twice or
//! missed. Inside a file rows are sorted by exchange time (see [`super::schema`]).
//!
//! # Restarts and late rows
//! Each run walks every interval that still has local rows. An interval without a record is
//! archived (generation 0). A recorded, not yet pruned interval whose row count differs (a row
//! that reached SQLite after the grace period, or a candle upserted since) is archived again
//! under the same keys — a superset, since nothing was pruned. Rows found in an interval that
//! was already pruned are archived as the next generation (`{ts}-g{n}.parquet`), never over the
//! earlier file.

use std::path::PathBuf;

use rusqlite::{params, Connection, OptionalExtension};

use super::config::ArchiveConfig;
use super::error::ArchiveError;
use super::schema::{Columns, TableSpec, ARCHIVED};
use super::upload::Destination;
use super::writer::{remove_stale_temp_files, write_file, FileOptions, WrittenFile};
use crate::sqlite::{SqliteConfig, SqliteWriter};

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Intervals archived (uploaded and verified) in this run.
    pub intervals: u64,
    /// Files uploaded and verified.
    pub files: u64,
    /// Rows in those files.
    pub rows: u64,
    /// Bytes uploaded.
    pub bytes: u64,
    /// Intervals already archived and unchanged.
    pub up_to_date: u64,
    /// Intervals that would be archived (dry run) — `(table, start_us, rows)`.
    pub planned: Vec<(&'static str, i64, u64)>,
}

/// One archived interval, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recorded {
    generation: i64,
    rows: i64,
    pruned: bool,
}

/// The archiver: a connection to the SQLite store, the destination, the settings.
pub struct Archiver {
    conn: Connection,
    cfg: ArchiveConfig,
    dest: Destination,
    opts: FileOptions,
}

impl std::fmt::Debug for Archiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archiver")
            .field("destination", &self.dest.describe())
            .field("interval_s", &self.cfg.interval_s)
            .finish()
    }
}

/// Indexes on the receive time, which selects the rows of an interval (created by the first run
/// of the archiver or of retention, so a recorder that does neither does not pay for them).
pub(crate) fn ensure_recv_indexes(conn: &Connection) -> Result<(), ArchiveError> {
    for spec in ARCHIVED {
        let t = spec.table.name();
        conn.execute_batch(&format!(
            "CREATE INDEX IF NOT EXISTS {t}_recv_ts ON {t} (ts_recv_us);"
        ))?;
    }
    Ok(())
}

/// The start of the interval of length `len_us` holding `ts_us` (aligned to the epoch).
pub(crate) fn interval_start(ts_us: i64, len_us: i64) -> i64 {
    ts_us.div_euclid(len_us) * len_us
}

/// The earliest receive time in `[from, before)` of `table`, if any.
pub(crate) fn next_row_time(
    conn: &Connection,
    table: &str,
    from: i64,
    before: i64,
) -> Result<Option<i64>, ArchiveError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT min(ts_recv_us) FROM {table} WHERE ts_recv_us >= ?1 AND ts_recv_us < ?2"
        ))?
        .query_row(params![from, before], |r| r.get::<_, Option<i64>>(0))?)
}

/// Rows of `table` received in `[start, end)`.
pub(crate) fn count_rows(
    conn: &Connection,
    table: &str,
    start: i64,
    end: i64,
) -> Result<i64, ArchiveError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM {table} WHERE ts_recv_us >= ?1 AND ts_recv_us < ?2"
        ))?
        .query_row(params![start, end], |r| r.get(0))?)
}

/// `YYYY-MM-DD` (UTC) of a µs timestamp.
fn date_of(us: i64) -> String {
    let s = tickrec_model::time::format_rfc3339_us(us);
    s.get(..10).unwrap_or(&s).to_string()
}

/// A symbol as one path segment: `BTC/USDT` → `BTC-USDT`; anything but `[A-Za-z0-9._-]` → `_`.
pub fn symbol_segment(symbol: &str) -> String {
    symbol
        .chars()
        .map(|c| match c {
            '/' => '-',
            c if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' => c,
            _ => '_',
        })
        .collect()
}

/// The object key (below the destination prefix) of one file:
/// `{venue}/{symbol}/{data_type}/[{server}/]{YYYY-MM-DD}/{start_ms}[-g{generation}].parquet`.
pub fn object_key(
    venue: &str,
    symbol: &str,
    data_type: &str,
    server: Option<&str>,
    start_us: i64,
    generation: i64,
) -> String {
    let mut k = format!("{venue}/{}/{data_type}/", symbol_segment(symbol));
    if let Some(s) = server {
        k.push_str(s);
        k.push('/');
    }
    k.push_str(&date_of(start_us));
    k.push('/');
    k.push_str(&(start_us.div_euclid(1000)).to_string());
    if generation > 0 {
        k.push_str(&format!("-g{generation}"));
    }
    k.push_str(".parquet");
    k
}

/// A file staged for upload.
struct Staged {
    key: String,
    venue: String,
    symbol: String,
    file: WrittenFile,
}

impl Archiver {
    /// Opens the SQLite store (migrating it) and prepares the archive.
    ///
    /// # Errors
    /// Store errors, [`ArchiveError::Config`] for invalid settings.
    pub fn open(
        sqlite: &SqliteConfig,
        cfg: ArchiveConfig,
        dest: Destination,
    ) -> Result<Archiver, ArchiveError> {
        cfg.validate().map_err(ArchiveError::Config)?;
        let conn = SqliteWriter::open(sqlite)?.into_connection();
        ensure_recv_indexes(&conn)?;
        let removed = remove_stale_temp_files(&cfg.staging_dir)?;
        if removed > 0 {
            tracing::warn!(
                removed,
                "incomplete staged files from an earlier crash removed"
            );
        }
        let opts = FileOptions {
            zstd_level: cfg.zstd_level,
            row_group_rows: cfg.row_group_rows,
        };
        Ok(Archiver {
            conn,
            cfg,
            dest,
            opts,
        })
    }

    /// The destination.
    pub fn destination(&self) -> &Destination {
        &self.dest
    }

    /// The connection (retention shares it).
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The settings.
    pub fn config(&self) -> &ArchiveConfig {
        &self.cfg
    }

    fn interval_us(&self) -> i64 {
        // validate() bounds interval_s to a divisor of a day.
        self.cfg.interval_s as i64 * 1_000_000
    }

    /// Archives every completed interval (end ≤ `now_us − grace_s`) that is not archived yet.
    /// With `dry_run`, only lists them in [`ArchiveReport::planned`].
    ///
    /// # Errors
    /// The first failure (SQLite, encoding, upload, verification). Intervals archived before it
    /// stay recorded; the failed one keeps its rows and is retried by the next run.
    pub async fn run_once(
        &mut self,
        now_us: i64,
        dry_run: bool,
    ) -> Result<ArchiveReport, ArchiveError> {
        let len = self.interval_us();
        let cutoff = interval_start(now_us - self.cfg.grace_s as i64 * 1_000_000, len);
        let mut report = ArchiveReport::default();
        for spec in ARCHIVED {
            let table = spec.table.name();
            let mut cursor = i64::MIN;
            while let Some(t) = next_row_time(&self.conn, table, cursor, cutoff)? {
                let start = interval_start(t, len);
                let end = start + len;
                cursor = end;
                let rows_now = count_rows(&self.conn, table, start, end)?;
                let generation = match self.recorded(table, start)? {
                    None => 0,
                    Some(r) if !r.pruned && r.rows == rows_now => {
                        report.up_to_date += 1;
                        continue;
                    }
                    Some(r) if !r.pruned => {
                        tracing::warn!(
                            table,
                            start_us = start,
                            archived_rows = r.rows,
                            rows_now,
                            "interval changed since it was archived; archiving it again"
                        );
                        r.generation
                    }
                    Some(r) => {
                        tracing::warn!(
                            table,
                            start_us = start,
                            rows_now,
                            "rows arrived in an interval already pruned; archiving them as a new generation"
                        );
                        r.generation + 1
                    }
                };
                if dry_run {
                    report.planned.push((table, start, rows_now.max(0) as u64));
                    continue;
                }
                self.archive_interval(spec, start, end, generation, now_us, &mut report)
                    .await
                    .inspect_err(|e| {
                        metrics::counter!("tickrec_archive_failures_total").increment(1);
                        tracing::error!(table, start_us = start, error = %e, "archiving an interval failed; its rows stay local");
                    })?;
            }
        }
        Ok(report)
    }

    /// The newest generation recorded for `(table, start)`.
    fn recorded(&self, table: &str, start: i64) -> Result<Option<Recorded>, ArchiveError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT generation, rows, pruned_at_us IS NOT NULL FROM archive_intervals \
                 WHERE table_name = ?1 AND start_us = ?2 ORDER BY generation DESC LIMIT 1",
            )?
            .query_row(params![table, start], |r| {
                Ok(Recorded {
                    generation: r.get(0)?,
                    rows: r.get(1)?,
                    pruned: r.get(2)?,
                })
            })
            .optional()?)
    }

    /// Writes the files of one interval (one per venue and symbol) into the staging directory.
    fn stage(
        &self,
        spec: &'static TableSpec,
        start: i64,
        end: i64,
        generation: i64,
    ) -> Result<Vec<Staged>, ArchiveError> {
        let mut stmt = self
            .conn
            .prepare(&spec.select("ts_recv_us >= ?1 AND ts_recv_us < ?2"))?;
        let (vi, si) = spec.venue_symbol_index();
        let mut rows = stmt.query(params![start, end])?;
        let mut cols = Columns::new(spec);
        let mut current: Option<(String, String)> = None;
        let mut staged = Vec::new();
        while let Some(row) = rows.next()? {
            let venue: String = row.get(vi)?;
            let symbol: String = row.get(si)?;
            if current
                .as_ref()
                .is_some_and(|(v, s)| *v != venue || *s != symbol)
            {
                if let Some((v, s)) = current.take() {
                    staged.push(self.stage_file(spec, &mut cols, v, s, start, end, generation)?);
                }
            }
            if current.is_none() {
                current = Some((venue, symbol));
            }
            cols.push(row)?;
        }
        if let Some((v, s)) = current.take() {
            staged.push(self.stage_file(spec, &mut cols, v, s, start, end, generation)?);
        }
        Ok(staged)
    }

    #[allow(clippy::too_many_arguments)]
    fn stage_file(
        &self,
        spec: &'static TableSpec,
        cols: &mut Columns,
        venue: String,
        symbol: String,
        start: i64,
        end: i64,
        generation: i64,
    ) -> Result<Staged, ArchiveError> {
        let (batch, scales) = cols.finish()?;
        let key = object_key(
            &venue,
            &symbol,
            spec.data_type,
            self.cfg.server_name.as_deref(),
            start,
            generation,
        );
        let meta = file_metadata(spec, &venue, &symbol, start, end, generation, &scales);
        let path: PathBuf = self.cfg.staging_dir.join(&key);
        let file = write_file(&path, &[batch], meta, &self.opts)?;
        Ok(Staged {
            key,
            venue,
            symbol,
            file,
        })
    }

    async fn archive_interval(
        &mut self,
        spec: &'static TableSpec,
        start: i64,
        end: i64,
        generation: i64,
        now_us: i64,
        report: &mut ArchiveReport,
    ) -> Result<(), ArchiveError> {
        let table = spec.table.name();
        let staged = self.stage(spec, start, end, generation)?;
        for s in &staged {
            self.dest.upload_verified(&s.file, &s.key).await?;
        }
        let (rows, bytes) = staged.iter().fold((0u64, 0u64), |(r, b), s| {
            (r + s.file.rows, b + s.file.bytes)
        });
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT OR REPLACE INTO archive_intervals \
             (table_name, start_us, end_us, generation, files, rows, bytes, archived_at_us, pruned_at_us) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL)",
            params![table, start, end, generation, staged.len() as i64, rows as i64, bytes as i64, now_us],
        )?;
        for s in &staged {
            tx.execute(
                "INSERT OR REPLACE INTO archive_files \
                 (object_key, table_name, start_us, generation, venue, symbol, rows, bytes, crc32c, archived_at_us) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    self.dest.key(&s.key)?.to_string(),
                    table,
                    start,
                    generation,
                    s.venue,
                    s.symbol,
                    s.file.rows as i64,
                    s.file.bytes as i64,
                    i64::from(s.file.crc32c),
                    now_us
                ],
            )?;
        }
        tx.commit()?;
        for s in &staged {
            if let Err(e) = std::fs::remove_file(&s.file.path) {
                tracing::warn!(path = %s.file.path.display(), error = %e, "could not remove a staged file after its verified upload");
            }
        }
        metrics::counter!("tickrec_archive_files_total").increment(staged.len() as u64);
        metrics::counter!("tickrec_archive_rows_total").increment(rows);
        metrics::counter!("tickrec_archive_bytes_total").increment(bytes);
        tracing::info!(
            table,
            start = %tickrec_model::time::format_rfc3339_us(start),
            generation,
            files = staged.len(),
            rows,
            bytes,
            destination = self.dest.describe(),
            "interval archived and verified"
        );
        report.intervals += 1;
        report.files += staged.len() as u64;
        report.rows += rows;
        report.bytes += bytes;
        Ok(())
    }
}

/// The key/value metadata of one archive file.
pub fn file_metadata(
    spec: &TableSpec,
    venue: &str,
    symbol: &str,
    start: i64,
    end: i64,
    generation: i64,
    scales: &[(&'static str, u8)],
) -> Vec<(String, String)> {
    let scales = scales
        .iter()
        .map(|(c, s)| format!("{c}:{s}"))
        .collect::<Vec<_>>()
        .join(",");
    vec![
        ("tickrec.format_version".into(), "1".into()),
        ("tickrec.table".into(), spec.table.name().into()),
        ("tickrec.venue".into(), venue.into()),
        ("tickrec.symbol".into(), symbol.into()),
        ("tickrec.interval_start_us".into(), start.to_string()),
        ("tickrec.interval_end_us".into(), end.to_string()),
        ("tickrec.interval_column".into(), "ts_recv".into()),
        ("tickrec.generation".into(), generation.to_string()),
        ("tickrec.sorted_by".into(), spec.order_by.replace("_us", "")),
        ("tickrec.decimal_scales".into(), scales),
    ]
}
