//! The SQLite writer: owns the connection, inserts events with cached prepared statements.
//!
//! The insert path does not allocate per row: mantissas and scales are bound as integers, venue
//! and symbol as borrowed text, numeric trade ids as integers (text ids borrowed). Book updates
//! reuse two scratch buffers for their JSON level arrays.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::table::Table;
use rusqlite::ffi::ErrorCode;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{params, CachedStatement, Connection, OpenFlags, ToSql};
use tickrec_model::{
    BookKind, BookTop, BookUpdate, Candle, Event, Level, QualityEvent, Quote, Reject, Trade,
    TradeId, TradeKind, MAX_REJECT_RAW_BYTES,
};
use tokio::sync::mpsc::Receiver;

use super::config::SqliteConfig;
use super::schema;
use crate::batch::{spawn_writer_thread, BatchConfig, BatchWriter, WriteStats, WriterHandle};
use crate::error::{classify_sqlite, ErrorClass, StoreError};

/// Sink name in logs and metric labels.
const SINK: &str = "sqlite";

/// Reject reason of rows that failed a constraint in the store.
pub const STORE_CONSTRAINT_REASON: &str = "store_constraint";

/// Page cache per connection: 64 MiB (negative = KiB).
const CACHE_SIZE_KIB: i64 = -65_536;

const INSERT_TRADE: &str = "INSERT INTO trades \
    (venue, symbol, trade_id, price_m, price_scale, qty_m, qty_scale, side, ts_exchange_us, ts_recv_us) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
    ON CONFLICT (venue, symbol, trade_id) DO NOTHING";

const INSERT_AGG_TRADE: &str = "INSERT INTO agg_trades \
    (venue, symbol, agg_id, price_m, price_scale, qty_m, qty_scale, side, ts_exchange_us, ts_recv_us, \
     first_trade_id, last_trade_id) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
    ON CONFLICT (venue, symbol, agg_id) DO NOTHING";

const INSERT_QUOTE: &str = "INSERT INTO quotes \
    (venue, symbol, seq, bid_price_m, bid_price_scale, bid_qty_m, bid_qty_scale, \
     ask_price_m, ask_price_scale, ask_qty_m, ask_qty_scale, ts_exchange_us, ts_recv_us, update_id) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
    ON CONFLICT (venue, symbol, seq) DO NOTHING";

/// Upsert: a newer update of a forming candle replaces its values; the closing update always
/// wins; a closed candle is never reopened by a stale update; identical re-deliveries change
/// nothing (and are counted as duplicates).
const UPSERT_CANDLE: &str = "INSERT INTO candles \
    (venue, symbol, interval_s, open_time_us, open_m, open_scale, high_m, high_scale, \
     low_m, low_scale, close_m, close_scale, volume_m, volume_scale, \
     quote_volume_m, quote_volume_scale, trades, closed, ts_exchange_us, ts_recv_us) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20) \
    ON CONFLICT (venue, symbol, interval_s, open_time_us) DO UPDATE SET \
     open_m = excluded.open_m, open_scale = excluded.open_scale, \
     high_m = excluded.high_m, high_scale = excluded.high_scale, \
     low_m = excluded.low_m, low_scale = excluded.low_scale, \
     close_m = excluded.close_m, close_scale = excluded.close_scale, \
     volume_m = excluded.volume_m, volume_scale = excluded.volume_scale, \
     quote_volume_m = excluded.quote_volume_m, quote_volume_scale = excluded.quote_volume_scale, \
     trades = excluded.trades, closed = excluded.closed, \
     ts_exchange_us = excluded.ts_exchange_us, ts_recv_us = excluded.ts_recv_us \
    WHERE (candles.closed = 0 AND excluded.closed = 1) \
     OR (candles.closed = excluded.closed \
         AND excluded.ts_exchange_us >= candles.ts_exchange_us \
         AND (candles.open_m, candles.open_scale, candles.high_m, candles.high_scale, \
              candles.low_m, candles.low_scale, candles.close_m, candles.close_scale, \
              candles.volume_m, candles.volume_scale, candles.quote_volume_m, \
              candles.quote_volume_scale, candles.trades) \
         IS NOT (excluded.open_m, excluded.open_scale, excluded.high_m, excluded.high_scale, \
              excluded.low_m, excluded.low_scale, excluded.close_m, excluded.close_scale, \
              excluded.volume_m, excluded.volume_scale, excluded.quote_volume_m, \
              excluded.quote_volume_scale, excluded.trades))";

const INSERT_BOOK: &str = "INSERT INTO book_deltas \
    (venue, symbol, kind, first_update_id, last_update_id, bids, asks, checksum, ts_exchange_us, \
     ts_recv_us, verified, msg_hash) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
    ON CONFLICT (venue, symbol, ts_recv_us, msg_hash) DO NOTHING";

const INSERT_BOOK_TOP: &str = "INSERT INTO book_snapshots \
    (venue, symbol, ts_recv_us, ts_exchange_us, last_update_id, bids, asks, verified, digest) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING";

const INSERT_REJECT: &str = "INSERT INTO rejects \
    (venue, symbol, reason, detail, raw, ts_recv_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

const INSERT_QUALITY: &str = "INSERT INTO data_quality_events \
    (venue, symbol, kind, start_us, end_us, count, from_id, to_id, detail, ts_recv_us) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING";

const ALL_STATEMENTS: [(&str, &str); 8] = [
    ("trades", INSERT_TRADE),
    ("agg_trades", INSERT_AGG_TRADE),
    ("quotes", INSERT_QUOTE),
    ("candles", UPSERT_CANDLE),
    ("book_deltas", INSERT_BOOK),
    ("book_snapshots", INSERT_BOOK_TOP),
    ("rejects", INSERT_REJECT),
    ("data_quality_events", INSERT_QUALITY),
];

/// A venue id that does not fit SQLite's signed 64-bit integers.
#[derive(Debug, thiserror::Error)]
#[error("{field} {value} does not fit a signed 64-bit integer")]
struct OutOfRange {
    field: &'static str,
    value: u64,
}

fn to_i64(field: &'static str, value: u64) -> rusqlite::Result<i64> {
    i64::try_from(value)
        .map_err(|_| rusqlite::Error::ToSqlConversionFailure(Box::new(OutOfRange { field, value })))
}

/// A `u64` bound as an integer, or a conversion error (→ poison row) above `i64::MAX`.
struct U64Sql(&'static str, u64);

impl ToSql for U64Sql {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Owned(Value::Integer(to_i64(self.0, self.1)?)))
    }
}

/// A trade id: an integer when numeric and ≤ `i64::MAX`, text otherwise.
struct IdSql<'a>(&'a TradeId);

impl ToSql for IdSql<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            TradeId::Num(n) => match i64::try_from(*n) {
                Ok(i) => ToSqlOutput::Owned(Value::Integer(i)),
                Err(_) => ToSqlOutput::Owned(Value::Text(n.to_string())),
            },
            TradeId::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

/// Statements prepared (from the connection's cache) lazily, once per batch.
#[derive(Default)]
struct Stmts<'c> {
    trade: Option<CachedStatement<'c>>,
    agg: Option<CachedStatement<'c>>,
    quote: Option<CachedStatement<'c>>,
    candle: Option<CachedStatement<'c>>,
    book: Option<CachedStatement<'c>>,
    book_top: Option<CachedStatement<'c>>,
    reject: Option<CachedStatement<'c>>,
    quality: Option<CachedStatement<'c>>,
}

fn cached<'s, 'c>(
    slot: &'s mut Option<CachedStatement<'c>>,
    conn: &'c Connection,
    sql: &str,
) -> rusqlite::Result<&'s mut CachedStatement<'c>> {
    let stmt = match slot.take() {
        Some(s) => s,
        None => conn.prepare_cached(sql)?,
    };
    Ok(slot.insert(stmt))
}

/// Writes `levels` as a JSON array of `["price","qty"]` pairs of exact strings into `out`.
fn levels_json(out: &mut String, levels: &[Level]) {
    let mut buf = [0u8; 48];
    out.clear();
    out.push('[');
    for (i, l) in levels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("[\"");
        out.push_str(l.price.format_into(&mut buf));
        out.push_str("\",\"");
        out.push_str(l.qty.format_into(&mut buf));
        out.push_str("\"]");
    }
    out.push(']');
}

fn insert_trade<'c>(conn: &'c Connection, s: &mut Stmts<'c>, t: &Trade) -> rusqlite::Result<usize> {
    let (venue, symbol, id) = (t.venue.as_str(), &*t.symbol, IdSql(&t.trade_id));
    let (p, q) = (t.price, t.qty);
    match t.kind {
        TradeKind::Single => cached(&mut s.trade, conn, INSERT_TRADE)?.execute(params![
            venue,
            symbol,
            id,
            p.mantissa(),
            p.scale(),
            q.mantissa(),
            q.scale(),
            t.side.as_str(),
            t.ts_exchange_us,
            t.ts_recv_us,
        ]),
        TradeKind::Aggregate { first_id, last_id } => cached(&mut s.agg, conn, INSERT_AGG_TRADE)?
            .execute(params![
                venue,
                symbol,
                id,
                p.mantissa(),
                p.scale(),
                q.mantissa(),
                q.scale(),
                t.side.as_str(),
                t.ts_exchange_us,
                t.ts_recv_us,
                U64Sql("first_trade_id", first_id),
                U64Sql("last_trade_id", last_id),
            ]),
    }
}

fn insert_quote<'c>(conn: &'c Connection, s: &mut Stmts<'c>, q: &Quote) -> rusqlite::Result<usize> {
    let seq = match q.update_id {
        Some(u) => to_i64("update_id", u)?,
        None => q.ts_exchange_us.unwrap_or(q.ts_recv_us),
    };
    cached(&mut s.quote, conn, INSERT_QUOTE)?.execute(params![
        q.venue.as_str(),
        &*q.symbol,
        seq,
        q.bid_price.mantissa(),
        q.bid_price.scale(),
        q.bid_qty.mantissa(),
        q.bid_qty.scale(),
        q.ask_price.mantissa(),
        q.ask_price.scale(),
        q.ask_qty.mantissa(),
        q.ask_qty.scale(),
        q.ts_exchange_us,
        q.ts_recv_us,
        q.update_id.map(|u| U64Sql("update_id", u)),
    ])
}

fn insert_candle<'c>(
    conn: &'c Connection,
    s: &mut Stmts<'c>,
    c: &Candle,
) -> rusqlite::Result<usize> {
    cached(&mut s.candle, conn, UPSERT_CANDLE)?.execute(params![
        c.venue.as_str(),
        &*c.symbol,
        c.interval_s,
        c.open_time_us,
        c.open.mantissa(),
        c.open.scale(),
        c.high.mantissa(),
        c.high.scale(),
        c.low.mantissa(),
        c.low.scale(),
        c.close.mantissa(),
        c.close.scale(),
        c.volume.mantissa(),
        c.volume.scale(),
        c.quote_volume.map(|v| v.mantissa()),
        c.quote_volume.map(|v| v.scale()),
        c.trades.map(|n| U64Sql("trades", n)),
        c.closed,
        c.ts_exchange_us,
        c.ts_recv_us,
    ])
}

fn insert_book<'c>(
    conn: &'c Connection,
    s: &mut Stmts<'c>,
    scratch: &mut (String, String),
    b: &BookUpdate,
) -> rusqlite::Result<usize> {
    levels_json(&mut scratch.0, &b.bids);
    levels_json(&mut scratch.1, &b.asks);
    let kind = match b.kind {
        BookKind::Snapshot => "snapshot",
        BookKind::Delta => "delta",
    };
    cached(&mut s.book, conn, INSERT_BOOK)?.execute(params![
        b.venue.as_str(),
        &*b.symbol,
        kind,
        b.first_update_id.map(|u| U64Sql("first_update_id", u)),
        b.last_update_id.map(|u| U64Sql("last_update_id", u)),
        scratch.0.as_str(),
        scratch.1.as_str(),
        b.checksum,
        b.ts_exchange_us,
        b.ts_recv_us,
        b.verified,
        crate::table::book_msg_hash(b),
    ])
}

fn insert_book_top<'c>(
    conn: &'c Connection,
    s: &mut Stmts<'c>,
    scratch: &mut (String, String),
    b: &BookTop,
) -> rusqlite::Result<usize> {
    levels_json(&mut scratch.0, &b.bids);
    levels_json(&mut scratch.1, &b.asks);
    cached(&mut s.book_top, conn, INSERT_BOOK_TOP)?.execute(params![
        b.venue.as_str(),
        &*b.symbol,
        b.ts_recv_us,
        b.ts_exchange_us,
        b.last_update_id.map(|u| U64Sql("last_update_id", u)),
        scratch.0.as_str(),
        scratch.1.as_str(),
        b.verified,
        // The digest's bits, as INTEGER.
        b.digest as i64,
    ])
}

fn insert_reject<'c>(
    conn: &'c Connection,
    s: &mut Stmts<'c>,
    r: &Reject,
) -> rusqlite::Result<usize> {
    let raw = &r.raw[..r.raw.len().min(MAX_REJECT_RAW_BYTES)];
    cached(&mut s.reject, conn, INSERT_REJECT)?.execute(params![
        r.venue.as_str(),
        r.symbol.as_deref(),
        r.reason.as_str(),
        r.detail.as_str(),
        raw,
        r.ts_recv_us,
    ])
}

fn insert_quality<'c>(
    conn: &'c Connection,
    s: &mut Stmts<'c>,
    q: &QualityEvent,
) -> rusqlite::Result<usize> {
    cached(&mut s.quality, conn, INSERT_QUALITY)?.execute(params![
        q.venue.as_str(),
        q.symbol.as_deref().unwrap_or(""),
        q.kind.as_str(),
        q.start_us,
        q.end_us,
        U64Sql("count", q.count),
        q.from_id.map(|v| U64Sql("from_id", v)),
        q.to_id.map(|v| U64Sql("to_id", v)),
        q.detail.as_str(),
        q.ts_recv_us,
    ])
}

/// Stores `ev`, which failed a constraint with `err`, as a `store_constraint` reject.
fn insert_poison<'c>(
    conn: &'c Connection,
    s: &mut Stmts<'c>,
    table: Table,
    ev: &Event,
    err: &rusqlite::Error,
) -> rusqlite::Result<usize> {
    let (venue, symbol) = match ev {
        Event::Trade(t) => (t.venue, Some(&*t.symbol)),
        Event::Quote(q) => (q.venue, Some(&*q.symbol)),
        Event::Candle(c) => (c.venue, Some(&*c.symbol)),
        Event::Book(b) => (b.venue, Some(&*b.symbol)),
        Event::BookTop(b) => (b.venue, Some(&*b.symbol)),
        Event::Reject(r) => (r.venue, r.symbol.as_deref()),
        Event::Quality(q) => (q.venue, q.symbol.as_deref()),
    };
    let detail = format!("{}: {err}", table.name());
    let mut raw = String::new();
    // Writing into a String cannot fail.
    let _ = write!(raw, "{ev:?}");
    let raw = &raw.as_bytes()[..raw.len().min(MAX_REJECT_RAW_BYTES)];
    cached(&mut s.reject, conn, INSERT_REJECT)?.execute(params![
        venue.as_str(),
        symbol,
        STORE_CONSTRAINT_REASON,
        detail,
        raw,
        ev.ts_recv_us(),
    ])
}

/// The SQLite writer: one connection, WAL mode, schema migrated, statements cached.
#[derive(Debug)]
pub struct SqliteWriter {
    conn: Connection,
    path: PathBuf,
    /// Reused JSON buffers for book levels (bids, asks).
    scratch: (String, String),
}

impl SqliteWriter {
    /// Opens (creating parent directories and the file if needed) the database, sets the
    /// pragmas (WAL, synchronous, busy timeout, cache size, in-memory temp store) and migrates
    /// the schema to [`SCHEMA_VERSION`](super::SCHEMA_VERSION).
    ///
    /// # Errors
    /// [`StoreError::CreateDir`], [`StoreError::SchemaTooNew`] for a file of a newer tickrec,
    /// [`StoreError::Schema`] when the tables do not match, SQLite errors (e.g. not a database).
    pub fn open(cfg: &SqliteConfig) -> Result<Self, StoreError> {
        let path = cfg.path.clone();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(Duration::from_millis(cfg.busy_timeout_ms))?;
        // Refuse a newer file before changing anything in it (the journal mode is persistent).
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > schema::SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                path,
                found,
                supported: schema::SCHEMA_VERSION,
            });
        }
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "sqlite journal_mode is not WAL");
        }
        conn.pragma_update(None, "synchronous", cfg.synchronous.as_pragma())?;
        conn.pragma_update(None, "cache_size", CACHE_SIZE_KIB)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        schema::migrate(&mut conn, &path)?;
        conn.set_prepared_statement_cache_capacity(32);
        for (table, sql) in ALL_STATEMENTS {
            if let Err(e) = conn.prepare_cached(sql) {
                return Err(match &e {
                    rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::Unknown => {
                        StoreError::Schema {
                            path,
                            detail: format!("table `{table}` does not match this tickrec: {e}"),
                        }
                    }
                    _ => StoreError::Sqlite(e),
                });
            }
        }
        tracing::info!(
            path = %path.display(),
            synchronous = cfg.synchronous.as_pragma(),
            version = schema::SCHEMA_VERSION,
            "sqlite store opened"
        );
        Ok(SqliteWriter {
            conn,
            path,
            scratch: (String::new(), String::new()),
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open, migrated connection (for the archiver and retention, which share the file).
    pub fn into_connection(self) -> Connection {
        self.conn
    }

    /// Writes `events` in one transaction (`BEGIN IMMEDIATE` … `COMMIT`). Rows already present
    /// (natural key) are counted as duplicates; rows failing a constraint are stored as
    /// `store_constraint` rejects. On error the transaction is rolled back and nothing is written.
    ///
    /// # Errors
    /// Transient or fatal SQLite errors (see [`StoreError::class`]); the caller decides whether to
    /// retry (the group-commit loop does).
    pub fn write_batch(&mut self, events: &[Event]) -> Result<WriteStats, StoreError> {
        let mut stats = WriteStats::default();
        let res = self
            .begin()
            .and_then(|()| self.insert(events, &mut stats))
            .and_then(|()| self.commit());
        match res {
            Ok(()) => Ok(stats),
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }
}

impl BatchWriter for SqliteWriter {
    fn sink(&self) -> &'static str {
        SINK
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        self.conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(())
    }

    fn insert(&mut self, events: &[Event], stats: &mut WriteStats) -> Result<(), StoreError> {
        let conn = &self.conn;
        let scratch = &mut self.scratch;
        let mut s = Stmts::default();
        for ev in events {
            let table = Table::of(ev);
            let res = match ev {
                Event::Trade(t) => insert_trade(conn, &mut s, t),
                Event::Quote(q) => insert_quote(conn, &mut s, q),
                Event::Candle(c) => insert_candle(conn, &mut s, c),
                Event::Book(b) => insert_book(conn, &mut s, scratch, b),
                Event::BookTop(b) => insert_book_top(conn, &mut s, scratch, b),
                Event::Reject(r) => insert_reject(conn, &mut s, r),
                Event::Quality(q) => insert_quality(conn, &mut s, q),
            };
            match res {
                Ok(0) => stats.duplicates += 1,
                Ok(_) => table.count(stats, 1),
                Err(e) if classify_sqlite(&e) == ErrorClass::Poison => {
                    // A failed statement is undone on its own; the transaction goes on.
                    tracing::warn!(
                        sink = SINK,
                        table = table.name(),
                        error = %e,
                        "row refused by a constraint; stored as a store_constraint reject"
                    );
                    insert_poison(conn, &mut s, table, ev, &e)?;
                    stats.rejects += 1;
                    stats.poisoned += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(())
    }

    fn rollback(&mut self) {
        if self.conn.is_autocommit() {
            return; // nothing open (BEGIN failed, or SQLite already rolled back)
        }
        if let Err(e) = self.conn.execute_batch("ROLLBACK") {
            tracing::warn!(sink = SINK, error = %e, "rollback failed");
        }
    }
}

/// Opens the database for reading only (for readers, the query API and tests). Refuses a file
/// written by a newer tickrec.
///
/// # Errors
/// SQLite errors (missing file, not a database), [`StoreError::SchemaTooNew`].
pub fn open_read_only(path: impl AsRef<Path>) -> Result<Connection, StoreError> {
    let path = path.as_ref();
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > schema::SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported: schema::SCHEMA_VERSION,
        });
    }
    Ok(conn)
}

/// Opens the database (see [`SqliteWriter::open`]) on the calling thread — so configuration and
/// schema errors are returned here — then spawns the dedicated writer thread that owns the
/// connection and runs group commit on `rx` (see [`crate::batch`]).
///
/// # Errors
/// Everything [`SqliteWriter::open`] returns, or [`StoreError::Thread`].
pub fn spawn_sqlite_writer(
    cfg: SqliteConfig,
    batch: BatchConfig,
    rx: Receiver<Vec<Event>>,
) -> Result<WriterHandle, StoreError> {
    let writer = SqliteWriter::open(&cfg)?;
    spawn_writer_thread(writer, batch, rx)
}
