//! Retention of the local SQLite store: by age and by size, oldest interval first.
//!
//! With an archive configured, the candidates are the archived, verified intervals that are not
//! pruned yet (`archive_intervals`), and an interval is pruned only while its local row count
//! still equals the archived one (otherwise the next archive run archives it again first). Without
//! an archive, completed intervals of the data itself are candidates. Every pruning is one
//! transaction that deletes the rows, marks the interval pruned and appends a
//! `retention_events` row with its policy — removed by policy is never confused with lost.

use rusqlite::{params, Connection, TransactionBehavior};

use super::archiver::{count_rows, ensure_recv_indexes, interval_start, next_row_time};
use super::config::RetentionConfig;
use super::error::ArchiveError;
use super::schema::ARCHIVED;

/// Why an interval was pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// It ended more than `max_age_hours` ago.
    MaxAge,
    /// The store was larger than `max_bytes`.
    MaxBytes,
}

impl Reason {
    /// `max_age` / `max_bytes` (the `retention_events.reason` value).
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::MaxAge => "max_age",
            Reason::MaxBytes => "max_bytes",
        }
    }
}

/// One interval of one table, pruned (or, in a dry run, to be pruned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// SQL table.
    pub table: String,
    /// Interval start, µs.
    pub start_us: i64,
    /// Interval end, µs.
    pub end_us: i64,
    /// Rows deleted.
    pub rows: u64,
    /// Policy.
    pub reason: Reason,
    /// Whether the rows are in the archive.
    pub archived: bool,
}

/// What a retention run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Intervals pruned (or planned, in a dry run), oldest first.
    pub pruned: Vec<Pruned>,
    /// Archived intervals kept because their rows changed since they were archived.
    pub kept_changed: u64,
    /// Used bytes of the database before (pages in use × page size).
    pub used_bytes_before: u64,
    /// Used bytes after (estimated in a dry run).
    pub used_bytes_after: u64,
    /// Nothing was deleted.
    pub dry_run: bool,
}

struct Candidate {
    table: String,
    start: i64,
    end: i64,
    /// Archived row count (None: no archive configured).
    archived_rows: Option<i64>,
}

/// Bytes of the pages in use (`(page_count − freelist_count) × page_size`).
///
/// # Errors
/// SQLite errors.
pub fn used_bytes(conn: &Connection) -> Result<u64, ArchiveError> {
    let get = |p: &str| conn.pragma_query_value(None, p, |r| r.get::<_, i64>(0));
    let used = (get("page_count")? - get("freelist_count")?).max(0) * get("page_size")?;
    Ok(used as u64)
}

fn archived_candidates(conn: &Connection) -> Result<Vec<Candidate>, ArchiveError> {
    let mut stmt = conn.prepare(
        "SELECT table_name, start_us, end_us, rows FROM archive_intervals \
         WHERE pruned_at_us IS NULL ORDER BY start_us, table_name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Candidate {
            table: r.get(0)?,
            start: r.get(1)?,
            end: r.get(2)?,
            archived_rows: Some(r.get(3)?),
        })
    })?;
    Ok(rows
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        // Only tables this build knows (the name is spliced into SQL below).
        .filter(|c| ARCHIVED.iter().any(|s| s.table.name() == c.table))
        .collect())
}

fn data_candidates(
    conn: &Connection,
    len: i64,
    before: i64,
) -> Result<Vec<Candidate>, ArchiveError> {
    let mut out = Vec::new();
    for spec in ARCHIVED {
        let table = spec.table.name();
        let mut cursor = i64::MIN;
        while let Some(t) = next_row_time(conn, table, cursor, before)? {
            let start = interval_start(t, len);
            cursor = start + len;
            out.push(Candidate {
                table: table.to_string(),
                start,
                end: start + len,
                archived_rows: None,
            });
        }
    }
    out.sort_by(|a, b| (a.start, &a.table).cmp(&(b.start, &b.table)));
    Ok(out)
}

fn total_rows(conn: &Connection) -> Result<i64, ArchiveError> {
    let mut n = 0;
    for spec in ARCHIVED {
        n += conn.query_row(
            &format!("SELECT count(*) FROM {}", spec.table.name()),
            [],
            |r| r.get::<_, i64>(0),
        )?;
    }
    Ok(n)
}

/// Applies `policy`. `archived_only`: an archive is configured, so only archived intervals are
/// candidates. `interval_s`: the interval length (the archive's, or the retention grain without
/// one). Nothing is deleted with `dry_run`.
///
/// # Errors
/// SQLite errors; intervals pruned before the error stay pruned (each is its own transaction).
pub fn prune(
    conn: &mut Connection,
    policy: &RetentionConfig,
    archived_only: bool,
    interval_s: u64,
    now_us: i64,
    dry_run: bool,
) -> Result<RetentionReport, ArchiveError> {
    ensure_recv_indexes(conn)?;
    let len = (interval_s.max(1) as i64) * 1_000_000;
    let mut report = RetentionReport {
        used_bytes_before: used_bytes(conn)?,
        dry_run,
        ..RetentionReport::default()
    };
    let mut used = report.used_bytes_before;
    if !policy.is_active() {
        report.used_bytes_after = used;
        return Ok(report);
    }
    let candidates = if archived_only {
        archived_candidates(conn)?
    } else {
        data_candidates(conn, len, interval_start(now_us, len))?
    };
    let age_cutoff = policy
        .max_age_hours
        .map(|h| now_us.saturating_sub((h as i64).saturating_mul(3_600_000_000)));
    // Dry runs estimate the bytes an interval frees from the average row size.
    let bytes_per_row = if dry_run && policy.max_bytes.is_some() {
        used / total_rows(conn)?.max(1) as u64
    } else {
        0
    };
    for c in candidates {
        let reason = if age_cutoff.is_some_and(|cut| c.end <= cut) {
            Reason::MaxAge
        } else if policy.max_bytes.is_some_and(|max| used > max) {
            Reason::MaxBytes
        } else {
            break; // candidates are oldest first: the rest are newer and the store is small enough
        };
        let Some(pruned) = prune_one(conn, &c, reason, now_us, dry_run)? else {
            report.kept_changed += 1;
            continue;
        };
        used = if dry_run {
            used.saturating_sub(pruned.rows * bytes_per_row)
        } else {
            used_bytes(conn)?
        };
        report.pruned.push(pruned);
    }
    report.used_bytes_after = used;
    Ok(report)
}

fn prune_one(
    conn: &mut Connection,
    c: &Candidate,
    reason: Reason,
    now_us: i64,
    dry_run: bool,
) -> Result<Option<Pruned>, ArchiveError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let rows = count_rows(&tx, &c.table, c.start, c.end)?;
    if let Some(archived) = c.archived_rows {
        if rows != archived {
            tracing::warn!(
                table = %c.table,
                start_us = c.start,
                archived,
                rows,
                "interval changed since it was archived; kept until the archiver archives it again"
            );
            return Ok(None);
        }
    }
    let pruned = Pruned {
        table: c.table.clone(),
        start_us: c.start,
        end_us: c.end,
        rows: rows.max(0) as u64,
        reason,
        archived: c.archived_rows.is_some(),
    };
    if dry_run {
        return Ok(Some(pruned)); // the transaction rolls back on drop
    }
    let deleted = tx.execute(
        &format!(
            "DELETE FROM {} WHERE ts_recv_us >= ?1 AND ts_recv_us < ?2",
            c.table
        ),
        params![c.start, c.end],
    )?;
    if c.archived_rows.is_some() {
        tx.execute(
            "UPDATE archive_intervals SET pruned_at_us = ?3 \
             WHERE table_name = ?1 AND start_us = ?2 AND pruned_at_us IS NULL",
            params![c.table, c.start, now_us],
        )?;
    }
    tx.execute(
        "INSERT INTO retention_events (ts_us, table_name, start_us, end_us, rows, reason, archived) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![now_us, c.table, c.start, c.end, deleted as i64, reason.as_str(), pruned.archived],
    )?;
    tx.commit()?;
    metrics::counter!("tickrec_retention_rows_total", "reason" => reason.as_str())
        .increment(deleted as u64);
    tracing::info!(
        table = %c.table,
        start = %tickrec_model::time::format_rfc3339_us(c.start),
        rows = deleted,
        reason = reason.as_str(),
        archived = pruned.archived,
        "local rows pruned by retention"
    );
    Ok(Some(pruned))
}
