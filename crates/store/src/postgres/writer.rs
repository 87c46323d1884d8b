//! The PostgreSQL writer: owns one connection and a current-thread tokio runtime, and writes
//! each batch with binary `COPY` — straight into the real tables for rows that cannot be stored
//! already, into temporary staging tables then `INSERT … SELECT … ON CONFLICT DO NOTHING` for
//! the others — one transaction per batch.
//!
//! # Per connection
//! After connecting, the session sets `statement_timeout`, checks the schema version and
//! parses a `SELECT` of every column the writer fills in every table: a missing table or
//! column fails here, loudly (fatal). The first time a table is written, its staging table is
//! created — `CREATE TEMP TABLE tickrec_stage_trades (LIKE trades INCLUDING DEFAULTS,
//! ord INTEGER NOT NULL)` (no `CHECK`s, no unique keys: staging never refuses a well-typed row) —
//! and its `COPY … FROM STDIN (FORMAT binary)` and move statements are prepared.
//!
//! # Per [`BatchWriter::insert`] call
//! Each row is routed first (see [`super::direct`]): a row of `trades`, `agg_trades` or
//! `quotes` whose id is above its market's high-water mark, or whose key time is after it,
//! cannot collide with a stored row and goes *direct*.
//! The others — possible duplicates (journal replays, retries), rows of other tables, and every
//! row of a careful replay — are *staged*. The first sight of a market reads its marks from the
//! table (one pipelined round of index probes).
//!
//! The events are encoded in the binary `COPY` format straight from the model (no per-value
//! allocation, no text formatting of numbers: mantissas and scales as integers, timestamps as
//! µs since 2000-01-01), two buffers per table. Direct rows go in with one
//! `COPY trades (…) FROM STDIN` each table and call, *before* the staged rows of the same
//! call, so that a later copy of a direct row meets it in the table (the first-seen row keeps
//! its digits). A `COPY` into the real table is about twice as cheap for the server as the
//! staging path (no staging heap, no delete, no sort, no speculative insertion): the sink alone
//! went from 96 k to 193 k rows/s, the end-to-end bench (SQLite and PostgreSQL on 2 vCPUs)
//! from 83 k to 124 k trades/s (BENCHMARKS.md). Staged rows are
//! tagged with `ord` (their position in the transaction); each buffer is sent with one `COPY`,
//! and the move statement is pipelined behind it (two round trips per table and call):
//! `WITH s AS (DELETE FROM tickrec_stage_trades RETURNING *) INSERT INTO trades … SELECT … FROM s
//! ORDER BY ord ON CONFLICT DO NOTHING`. Its row count tells inserted rows from duplicates
//! (candles: `DISTINCT ON` the key, then an upsert with the SQLite sink's rules). The rows of
//! every call are moved (and counted) before it returns, because the group-commit loop reads
//! the counts from `insert`.
//!
//! The staging tables are *not* `ON COMMIT DELETE ROWS`: with that clause PostgreSQL truncates
//! every such table of the session at every commit that touched any temporary table, which
//! truncates each one's files and rebuilds its indexes — and a table with `TEXT` columns has a
//! TOAST index. Measured on PostgreSQL 15 with pgbench: +0.4 ms per commit on an idle machine
//! (a one-trade transaction doubles) and up to 3–6 ms under load, against ≈0.1–0.4 ms for the
//! whole one-trade transaction without it. The move empties the staging table
//! instead, and a `TRUNCATE` every `STAGE_TRUNCATE_ROWS` staged rows drops the dead tuples
//! that the move's scan would otherwise keep reading.
//!
//! # Errors
//! - A direct `COPY` refused with `23505` (unique violation): another writer stored rows of the
//!   same markets. [`StoreError::PostgresDirectConflict`] (transient): the loop rolls back and
//!   replays, and direct `COPY` pauses for a minute (everything staged, marks read afresh
//!   afterwards). Correctness never rests on the marks: the unique keys refuse any collision.
//! - Transient (connection lost, server restarting `57P01`/`57P03`, `08xxx`, `53xxx`, statement
//!   timeout `57014`, client-side timeout): the loop rolls back, backs off and replays the same
//!   rows; [`BatchWriter::begin`] reconnects (and re-creates the staging tables) when the
//!   connection is gone. `ON CONFLICT DO NOTHING` makes the replay exact even when a `COMMIT`
//!   reached the server but its answer did not reach us (keyless `rejects` rows could then
//!   be stored twice).
//! - Poison (`22xxx` data, `23xxx` constraint, e.g. a `CHECK` or a timestamp out of range): the
//!   fast path uses no savepoints (a subtransaction per call would overflow PostgreSQL's
//!   subtransaction cache in large transactions), so the writer marks itself *careful* and
//!   returns [`StoreError::PostgresRowRefused`] (transient). The loop replays the transaction
//!   (after its first back-off, 100 ms); in careful mode — for that one transaction — every
//!   table's rows of every call go through a savepoint and, when refused,
//!   are bisected (savepoint per half) down to the single bad rows, which become
//!   `store_constraint` rejects (with the server's message) while the rest commits. Values the
//!   schema cannot hold at all (a `u64` id above `i64::MAX`) are rejected before sending.
//! - Fatal (`28xxx` authentication, `42501` privileges, `42P01`/`42703` missing table/column,
//!   newer schema version, bad config): the loop stops and [`WriterHandle::join`] returns it.

use std::fmt::Write as _;
use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

use crate::table::Table;
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::SinkExt;
use tickrec_model::{
    BookKind, BookTop, BookUpdate, Candle, Event, Level, QualityEvent, Quote, Reject, Trade,
    TradeId, TradeKind, MAX_REJECT_RAW_BYTES,
};
use tokio::runtime::Runtime;
use tokio::sync::mpsc::Receiver;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, Statement};

use super::config::{describe, PostgresConfig};
use super::direct::{self, DirectRoutes, Mark, PgMicros};
use super::schema;
use crate::batch::{spawn_writer_thread, BatchConfig, BatchWriter, WriteStats, WriterHandle};
use crate::error::{classify_postgres, pg_error_text, ErrorClass, StoreError};
use crate::sqlite::STORE_CONSTRAINT_REASON;

/// Sink name in logs and metric labels.
const SINK: &str = "postgres";

/// Binary `COPY` header: signature, flags, header extension length.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// Binary `COPY` trailer: a field count of -1.
const COPY_TRAILER: &[u8] = &[0xff, 0xff];

/// µs between the Unix epoch and PostgreSQL's (2000-01-01T00:00:00Z).
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// Earliest instant `TIMESTAMPTZ` holds (4714-11-24 BC), µs since the Unix epoch; every later
/// `i64` of µs fits.
const PG_MIN_UNIX_US: i64 = -211_813_488_000_000_000 + PG_EPOCH_OFFSET_US;

/// Savepoint name used in careful mode.
const SAVEPOINT: &str = "tickrec_rows";

impl Table {
    /// Columns written by `COPY` (in this order), without `ord`.
    const fn columns(self) -> &'static str {
        match self {
            Table::Trades => {
                "ts_exchange, ts_ingest, venue, symbol, trade_id, trade_ref, side, \
                 price_m, price_scale, qty_m, qty_scale"
            }
            Table::AggTrades => {
                "ts_exchange, ts_ingest, venue, symbol, agg_id, agg_ref, side, \
                 price_m, price_scale, qty_m, qty_scale, first_trade_id, last_trade_id"
            }
            Table::Quotes => {
                "ts, ts_exchange, ts_ingest, venue, symbol, seq, update_id, \
                 bid_price_m, bid_price_scale, bid_qty_m, bid_qty_scale, \
                 ask_price_m, ask_price_scale, ask_qty_m, ask_qty_scale"
            }
            Table::Candles => {
                "open_time, venue, symbol, interval_s, open_m, open_scale, high_m, high_scale, \
                 low_m, low_scale, close_m, close_scale, volume_m, volume_scale, \
                 quote_volume_m, quote_volume_scale, trades, closed, ts_exchange, ts_ingest"
            }
            Table::Books => {
                "ts_ingest, ts_exchange, venue, symbol, kind, first_update_id, last_update_id, \
                 bids, asks, checksum, verified, msg_hash"
            }
            Table::Rejects => "ts_ingest, venue, symbol, reason, detail, raw",
            Table::BookSnapshots => {
                "ts_ingest, ts_exchange, venue, symbol, last_update_id, bids, asks, verified, digest"
            }
            Table::Quality => {
                "ts_ingest, venue, symbol, kind, start_us, end_us, count, from_id, to_id, detail"
            }
        }
    }

    /// Fields per `COPY` row (columns plus `ord`).
    const fn fields(self) -> i16 {
        match self {
            Table::Trades => 12,
            Table::AggTrades => 14,
            Table::Quotes => 16,
            Table::Candles => 21,
            Table::Books => 13,
            Table::Rejects => 7,
            Table::Quality => 11,
            Table::BookSnapshots => 10,
        }
    }

    fn stage(self) -> String {
        format!("tickrec_stage_{}", self.name())
    }

    fn create_stage_sql(self) -> String {
        let stage = self.stage();
        format!(
            "CREATE TEMP TABLE IF NOT EXISTS {stage} \
             (LIKE {table} INCLUDING DEFAULTS, ord INTEGER NOT NULL)",
            table = self.name(),
        )
    }

    /// Parsed (not run) at connect: fails when the table or one of its columns is missing.
    fn probe_sql(self) -> String {
        format!("SELECT {} FROM {} LIMIT 0", self.columns(), self.name())
    }

    fn copy_sql(self) -> String {
        format!(
            "COPY {} ({}, ord) FROM STDIN (FORMAT binary)",
            self.stage(),
            self.columns()
        )
    }

    /// `COPY` straight into the table, for rows that cannot collide (see [`super::direct`]).
    fn direct_copy_sql(self) -> String {
        format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            self.name(),
            self.columns()
        )
    }

    /// Moves every staged row into the table, in `ord` order: `DELETE … RETURNING` empties the
    /// staging table as it reads it, so the next `COPY` of the same transaction starts from an
    /// empty table (no index on `ord` to maintain or to rebuild at each commit).
    fn move_sql(self) -> String {
        let (table, stage, cols) = (self.name(), self.stage(), self.columns());
        let with = format!("WITH s AS (DELETE FROM {stage} RETURNING *)");
        match self {
            Table::Trades
            | Table::AggTrades
            | Table::Quotes
            | Table::Quality
            | Table::Books
            | Table::BookSnapshots => format!(
                "{with} INSERT INTO {table} ({cols}) SELECT {cols} FROM s ORDER BY ord \
                 ON CONFLICT DO NOTHING"
            ),
            // One row per key (ON CONFLICT DO UPDATE may touch a row once per statement): the
            // one the sequential rules of the SQLite sink would leave — a closed update first,
            // then the newest exchange time, then the last received.
            Table::Candles => {
                let vals = "open_m, open_scale, high_m, high_scale, low_m, low_scale, close_m, \
                            close_scale, volume_m, volume_scale, quote_volume_m, \
                            quote_volume_scale, trades";
                let sets = vals
                    .split(", ")
                    .chain(["closed", "ts_exchange", "ts_ingest"])
                    .map(|c| format!("{c} = excluded.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let old = vals
                    .split(", ")
                    .map(|c| format!("candles.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let new = vals
                    .split(", ")
                    .map(|c| format!("excluded.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "{with} INSERT INTO candles ({cols}) \
                     SELECT DISTINCT ON (venue, symbol, interval_s, open_time) {cols} FROM s \
                     ORDER BY venue, symbol, interval_s, open_time, closed DESC, \
                              ts_exchange DESC, ord DESC \
                     ON CONFLICT (venue, symbol, interval_s, open_time) DO UPDATE SET {sets} \
                     WHERE (NOT candles.closed AND excluded.closed) \
                        OR (candles.closed = excluded.closed \
                            AND excluded.ts_exchange >= candles.ts_exchange \
                            AND ROW({old}) IS DISTINCT FROM ROW({new}))"
                )
            }
            // Keeps the id the staging row drew from rejects_id_seq (LIKE … INCLUDING DEFAULTS).
            Table::Rejects => format!(
                "{with} INSERT INTO {table} (id, {cols}) SELECT id, {cols} FROM s ORDER BY ord"
            ),
        }
    }
}

/// A value the schema cannot hold; the event becomes a reject without being sent.
#[derive(Debug)]
struct Unrepresentable(String);

fn to_i64(field: &str, v: u64) -> Result<i64, Unrepresentable> {
    i64::try_from(v).map_err(|_| Unrepresentable(format!("{field} {v} does not fit BIGINT")))
}

/// µs since the Unix epoch → µs since 2000-01-01. A value PostgreSQL cannot hold stays out of
/// range (the server refuses it: a poison row) and never turns into ±infinity.
pub(super) fn pg_ts(us: i64) -> i64 {
    match us.checked_sub(PG_EPOCH_OFFSET_US) {
        Some(v) if v != i64::MIN => v,
        _ => i64::MIN + 1,
    }
}

/// Rows of one table in the binary `COPY` format (without header and trailer), with where each
/// row starts and which event of the call it came from.
#[derive(Default)]
struct CopyBuf {
    buf: BytesMut,
    /// `(byte offset, event index in the call)` of each row.
    rows: Vec<(usize, usize)>,
}

impl CopyBuf {
    fn clear(&mut self) {
        self.buf.clear();
        self.rows.clear();
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn begin_row(&mut self, fields: i16, event: usize) -> usize {
        let start = self.buf.len();
        self.rows.push((start, event));
        self.buf.put_i16(fields);
        start
    }

    fn abort_row(&mut self, start: usize) {
        self.buf.truncate(start);
        self.rows.pop();
    }

    fn null(&mut self) {
        self.buf.put_i32(-1);
    }

    fn i64(&mut self, v: i64) {
        self.buf.put_i32(8);
        self.buf.put_i64(v);
    }

    fn i32(&mut self, v: i32) {
        self.buf.put_i32(4);
        self.buf.put_i32(v);
    }

    fn i16(&mut self, v: i16) {
        self.buf.put_i32(2);
        self.buf.put_i16(v);
    }

    fn scale(&mut self, s: u8) {
        self.i16(i16::from(s));
    }

    fn bool(&mut self, v: bool) {
        self.buf.put_i32(1);
        self.buf.put_u8(u8::from(v));
    }

    fn ts(&mut self, us: i64) {
        self.i64(pg_ts(us));
    }

    fn opt_ts(&mut self, us: Option<i64>) {
        match us {
            Some(v) => self.ts(v),
            None => self.null(),
        }
    }

    fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.i64(v),
            None => self.null(),
        }
    }

    fn bytes(&mut self, b: &[u8]) -> Result<(), Unrepresentable> {
        let len = i32::try_from(b.len())
            .map_err(|_| Unrepresentable(format!("a value of {} bytes", b.len())))?;
        self.buf.put_i32(len);
        self.buf.put_slice(b);
        Ok(())
    }

    fn text(&mut self, s: &str) -> Result<(), Unrepresentable> {
        self.bytes(s.as_bytes())
    }

    fn opt_text(&mut self, s: Option<&str>) -> Result<(), Unrepresentable> {
        match s {
            Some(s) => self.text(s),
            None => {
                self.null();
                Ok(())
            }
        }
    }

    /// JSONB (format version 1) `[["price","qty"],…]` of exact strings, written in place.
    fn levels(&mut self, levels: &[Level]) -> Result<(), Unrepresentable> {
        let len_at = self.buf.len();
        self.buf.put_i32(0);
        self.buf.put_u8(1);
        let mut tmp = [0u8; 48];
        self.buf.put_u8(b'[');
        for (i, l) in levels.iter().enumerate() {
            if i > 0 {
                self.buf.put_u8(b',');
            }
            self.buf.put_slice(b"[\"");
            self.buf.put_slice(l.price.format_into(&mut tmp).as_bytes());
            self.buf.put_slice(b"\",\"");
            self.buf.put_slice(l.qty.format_into(&mut tmp).as_bytes());
            self.buf.put_slice(b"\"]");
        }
        self.buf.put_u8(b']');
        let len = self.buf.len() - len_at - 4;
        let len = i32::try_from(len)
            .map_err(|_| Unrepresentable(format!("a book side of {len} bytes")))?;
        self.buf[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }

    /// Appends the row of `ev` (which goes to `table`) with `ord` (staged rows) or without it
    /// (direct rows); on error nothing is appended.
    fn push(
        &mut self,
        table: Table,
        ev: &Event,
        event: usize,
        ord: Option<i32>,
    ) -> Result<(), Unrepresentable> {
        let fields = table.fields() - i16::from(ord.is_none());
        let start = self.begin_row(fields, event);
        let res = match ev {
            Event::Trade(t) => self.trade(t),
            Event::Quote(q) => self.quote(q),
            Event::Candle(c) => self.candle(c),
            Event::Book(b) => self.book(b),
            Event::BookTop(b) => self.book_top(b),
            Event::Reject(r) => self.reject(r),
            Event::Quality(q) => self.quality(q),
        };
        match res {
            Ok(()) => {
                if let Some(ord) = ord {
                    self.i32(ord);
                }
                Ok(())
            }
            Err(e) => {
                self.abort_row(start);
                Err(e)
            }
        }
    }

    fn trade(&mut self, t: &Trade) -> Result<(), Unrepresentable> {
        self.ts(t.ts_exchange_us);
        self.ts(t.ts_recv_us);
        self.text(t.venue.as_str())?;
        self.text(&t.symbol)?;
        match &t.trade_id {
            TradeId::Num(n) => match i64::try_from(*n) {
                Ok(id) => {
                    self.i64(id);
                    self.null();
                }
                Err(_) => {
                    self.null();
                    self.text(&n.to_string())?;
                }
            },
            TradeId::Text(s) => {
                self.null();
                self.text(s)?;
            }
        }
        self.text(t.side.as_str())?;
        self.i64(t.price.mantissa());
        self.scale(t.price.scale());
        self.i64(t.qty.mantissa());
        self.scale(t.qty.scale());
        if let TradeKind::Aggregate { first_id, last_id } = t.kind {
            self.i64(to_i64("first_trade_id", first_id)?);
            self.i64(to_i64("last_trade_id", last_id)?);
        }
        Ok(())
    }

    fn quote(&mut self, q: &Quote) -> Result<(), Unrepresentable> {
        let update_id = q.update_id.map(|u| to_i64("update_id", u)).transpose()?;
        let seq = update_id.unwrap_or(q.ts_exchange_us.unwrap_or(q.ts_recv_us));
        self.ts(q.ts_exchange_us.unwrap_or(q.ts_recv_us));
        self.opt_ts(q.ts_exchange_us);
        self.ts(q.ts_recv_us);
        self.text(q.venue.as_str())?;
        self.text(&q.symbol)?;
        self.i64(seq);
        self.opt_i64(update_id);
        for d in [q.bid_price, q.bid_qty, q.ask_price, q.ask_qty] {
            self.i64(d.mantissa());
            self.scale(d.scale());
        }
        Ok(())
    }

    fn candle(&mut self, c: &Candle) -> Result<(), Unrepresentable> {
        let interval = i32::try_from(c.interval_s).map_err(|_| {
            Unrepresentable(format!("interval_s {} does not fit INTEGER", c.interval_s))
        })?;
        let trades = c.trades.map(|n| to_i64("trades", n)).transpose()?;
        self.ts(c.open_time_us);
        self.text(c.venue.as_str())?;
        self.text(&c.symbol)?;
        self.i32(interval);
        for d in [c.open, c.high, c.low, c.close, c.volume] {
            self.i64(d.mantissa());
            self.scale(d.scale());
        }
        match c.quote_volume {
            Some(v) => {
                self.i64(v.mantissa());
                self.scale(v.scale());
            }
            None => {
                self.null();
                self.null();
            }
        }
        self.opt_i64(trades);
        self.bool(c.closed);
        self.ts(c.ts_exchange_us);
        self.ts(c.ts_recv_us);
        Ok(())
    }

    fn book(&mut self, b: &BookUpdate) -> Result<(), Unrepresentable> {
        let first = b
            .first_update_id
            .map(|u| to_i64("first_update_id", u))
            .transpose()?;
        let last = b
            .last_update_id
            .map(|u| to_i64("last_update_id", u))
            .transpose()?;
        self.ts(b.ts_recv_us);
        self.opt_ts(b.ts_exchange_us);
        self.text(b.venue.as_str())?;
        self.text(&b.symbol)?;
        self.text(match b.kind {
            BookKind::Snapshot => "snapshot",
            BookKind::Delta => "delta",
        })?;
        self.opt_i64(first);
        self.opt_i64(last);
        self.levels(&b.bids)?;
        self.levels(&b.asks)?;
        self.opt_i64(b.checksum.map(i64::from));
        self.bool(b.verified);
        self.i64(crate::table::book_msg_hash(b));
        Ok(())
    }

    fn book_top(&mut self, b: &BookTop) -> Result<(), Unrepresentable> {
        let last = b
            .last_update_id
            .map(|u| to_i64("last_update_id", u))
            .transpose()?;
        self.ts(b.ts_recv_us);
        self.opt_ts(b.ts_exchange_us);
        self.text(b.venue.as_str())?;
        self.text(&b.symbol)?;
        self.opt_i64(last);
        self.levels(&b.bids)?;
        self.levels(&b.asks)?;
        self.bool(b.verified);
        // The digest's bits, as BIGINT.
        self.i64(b.digest as i64);
        Ok(())
    }

    fn reject(&mut self, r: &Reject) -> Result<(), Unrepresentable> {
        self.ts(r.ts_recv_us);
        self.text(r.venue.as_str())?;
        self.opt_text(r.symbol.as_deref())?;
        self.text(r.reason.as_str())?;
        self.text(&r.detail)?;
        self.bytes(&r.raw[..r.raw.len().min(MAX_REJECT_RAW_BYTES)])
    }

    fn quality(&mut self, q: &QualityEvent) -> Result<(), Unrepresentable> {
        self.ts(q.ts_recv_us);
        self.text(q.venue.as_str())?;
        self.opt_text(q.symbol.as_deref())?;
        self.text(q.kind.as_str())?;
        self.i64(q.start_us);
        self.i64(q.end_us);
        self.i64(to_i64("count", q.count)?);
        self.opt_i64(q.from_id.map(|v| to_i64("from_id", v)).transpose()?);
        self.opt_i64(q.to_id.map(|v| to_i64("to_id", v)).transpose()?);
        self.text(&q.detail)
    }

    /// A `store_constraint` reject row for `ev`, refused with `detail`. Text is made storable
    /// (no NUL characters) so that the reject itself cannot be refused.
    fn poison_row(&mut self, ev: &Event, table: Table, detail: &str, ord: i32) {
        let (venue, symbol) = match ev {
            Event::Trade(t) => (t.venue, Some(&*t.symbol)),
            Event::Quote(q) => (q.venue, Some(&*q.symbol)),
            Event::Candle(c) => (c.venue, Some(&*c.symbol)),
            Event::Book(b) => (b.venue, Some(&*b.symbol)),
            Event::BookTop(b) => (b.venue, Some(&*b.symbol)),
            Event::Reject(r) => (r.venue, r.symbol.as_deref()),
            Event::Quality(q) => (q.venue, q.symbol.as_deref()),
        };
        let clean = |s: &str| s.replace('\0', "\u{fffd}");
        let mut raw = String::new();
        // Writing into a String cannot fail.
        let _ = write!(raw, "{ev:?}");
        let raw = &raw.as_bytes()[..raw.len().min(MAX_REJECT_RAW_BYTES)];
        let detail = clean(&format!("{}: {detail}", table.name()));
        // A receive time the column cannot hold (the reason the row was refused, maybe) would
        // make the reject itself refused: record when it was refused instead.
        let ts = match ev.ts_recv_us() {
            t if t >= PG_MIN_UNIX_US => t,
            _ => tickrec_model::now_us(),
        };
        let start = self.begin_row(Table::Rejects.fields(), usize::MAX);
        let res = (|| {
            self.ts(ts);
            self.text(venue.as_str())?;
            self.opt_text(symbol.map(clean).as_deref())?;
            self.text(STORE_CONSTRAINT_REASON)?;
            self.text(&detail)?;
            self.bytes(raw)?;
            self.i32(ord);
            Ok::<(), Unrepresentable>(())
        })();
        if res.is_err() {
            // Cannot happen (every field is bounded); keep the buffer consistent anyway.
            self.abort_row(start);
        }
    }
}

/// The staging table of one target table in this session, and its statements.
struct Stage {
    copy: Statement,
    mv: Statement,
    /// Created by a committed transaction (else a rollback removes it again).
    committed: bool,
    /// Rows sent to it since it was last truncated: each is a dead tuple now (moved, or
    /// rolled back), which the move's scan still reads.
    dead: u64,
}

/// Truncate a staging table before a `COPY` once it holds this many dead rows.
///
/// The move empties the staging table (`DELETE … RETURNING`), but the deleted tuples stay in
/// its pages — they cannot even be pruned inside the transaction that deleted them — and every
/// later move scans them. A `TRUNCATE` costs ≈0.3 ms; scanning a dead tuple ≈30 ns: every 256
/// rows keeps both small (a few µs per one-trade call).
const STAGE_TRUNCATE_ROWS: u64 = 256;

/// One open connection and the task that drives it.
struct Conn {
    client: Client,
    task: JoinHandle<()>,
    /// Per table, created on first use (a session only has the staging tables its workload
    /// needs).
    stages: [Option<Stage>; Table::ALL.len()],
    /// Per table, the direct `COPY` statement, prepared on first use.
    direct: [Option<Statement>; Table::ALL.len()],
}

impl Conn {
    /// Creates `table`'s staging table and prepares its statements, unless done already. Runs
    /// inside the batch's transaction: until it commits, a rollback undoes the creation (see
    /// [`Conn::after_rollback`]). Truncates the staging table when it has accumulated dead
    /// rows; then `rows` more are counted as sent.
    async fn ensure_stage(&mut self, table: Table, rows: u64) -> Result<(), tokio_postgres::Error> {
        let slot = &mut self.stages[table.index()];
        let stage = match slot {
            Some(s) => s,
            None => {
                self.client.batch_execute(&table.create_stage_sql()).await?;
                let copy = self.client.prepare(&table.copy_sql()).await?;
                let mv = self.client.prepare(&table.move_sql()).await?;
                slot.insert(Stage {
                    copy,
                    mv,
                    committed: false,
                    dead: 0,
                })
            }
        };
        if stage.dead >= STAGE_TRUNCATE_ROWS {
            self.client
                .batch_execute(&format!("TRUNCATE {}", table.stage()))
                .await?;
            stage.dead = 0;
        }
        stage.dead += rows;
        Ok(())
    }

    /// `table`'s direct `COPY` statement (prepared statements outlive rollbacks).
    async fn direct_copy(&mut self, table: Table) -> Result<Statement, tokio_postgres::Error> {
        let slot = &mut self.direct[table.index()];
        if let Some(s) = slot {
            return Ok(s.clone());
        }
        let s = self.client.prepare(&table.direct_copy_sql()).await?;
        Ok(slot.insert(s).clone())
    }

    fn stage(&self, table: Table) -> Result<&Stage, StoreError> {
        self.stages[table.index()]
            .as_ref()
            .ok_or(StoreError::PostgresNotConnected)
    }

    /// After a commit: the staging tables created in it stay.
    fn after_commit(&mut self) {
        for s in self.stages.iter_mut().flatten() {
            s.committed = true;
        }
    }

    /// After a rollback: staging tables created in it are gone; a truncation in it is undone,
    /// so the others are truncated at their next use.
    fn after_rollback(&mut self) {
        for slot in &mut self.stages {
            match slot {
                Some(s) if s.committed => s.dead = STAGE_TRUNCATE_ROWS,
                _ => *slot = None,
            }
        }
    }

    /// Forgets a connection that may be stuck mid-protocol after an error: its task is stopped
    /// (closing the socket) rather than left waiting for the server.
    fn discard(self) {
        self.task.abort();
    }
}

/// Runs `fut` on `rt`, giving up after `timeout`.
fn run<T>(
    rt: &Runtime,
    timeout: Option<Duration>,
    fut: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    rt.block_on(async {
        match timeout {
            Some(d) => match tokio::time::timeout(d, fut).await {
                Ok(r) => r,
                Err(_) => Err(StoreError::PostgresTimeout(
                    u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
                )),
            },
            None => fut.await,
        }
    })
}

/// Connects to the server and spawns the connection's task on the current runtime.
async fn connect_client(
    pg: &tokio_postgres::Config,
    target: &str,
) -> Result<(Client, JoinHandle<()>), StoreError> {
    let (client, connection) =
        pg.connect(NoTls)
            .await
            .map_err(|source| StoreError::PostgresConnect {
                target: target.to_string(),
                source,
            })?;
    let target = target.to_string();
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(
                sink = SINK,
                target = %target,
                error = %pg_error_text(&e),
                "postgres connection closed"
            );
        }
    });
    Ok((client, task))
}

/// Connects with `cfg` (see [`PostgresConfig::client_config`]) and drives the connection on the
/// current tokio runtime; for `tickrec migrate`, the query API and tests.
///
/// # Errors
/// [`StoreError::PostgresConfig`], or [`StoreError::PostgresConnect`] (the message names the
/// server with the password masked).
pub async fn connect(cfg: &PostgresConfig) -> Result<Client, StoreError> {
    let pg = cfg.client_config()?;
    let (client, _task) = connect_client(&pg, &describe(&pg)).await?;
    Ok(client)
}

/// Prepares a writer session: timeout, schema (migrated or checked), and a probe of every
/// target table's columns, so that a mismatching schema fails now, not at the first batch.
async fn setup_session(
    client: &Client,
    statement_timeout_ms: u64,
    migrate: bool,
) -> Result<(), StoreError> {
    // Migrations run before the statement timeout is set: converting a large table into a
    // hypertable may take longer.
    if migrate {
        let m = schema::migrate(client).await?;
        tracing::info!(
            sink = SINK,
            from = m.from,
            version = m.to,
            timescaledb = m.timescaledb,
            "postgres schema ready"
        );
    } else {
        let v = schema::current_version(client).await?;
        schema::check_version(v)?;
        if v != schema::SCHEMA_VERSION {
            return Err(StoreError::PostgresSchema(format!(
                "database has schema version {v}, expected {}; run `tickrec migrate`",
                schema::SCHEMA_VERSION
            )));
        }
    }
    client
        .batch_execute(&format!("SET statement_timeout = {statement_timeout_ms}"))
        .await?;
    for t in Table::ALL {
        if let Err(e) = client.prepare(&t.probe_sql()).await {
            return Err(if classify_postgres(&e) == ErrorClass::Fatal {
                StoreError::PostgresSchema(format!(
                    "table `{}` does not match this tickrec (run `tickrec migrate`, or point \
                     [postgres] uri at another database): {}",
                    t.name(),
                    pg_error_text(&e)
                ))
            } else {
                StoreError::Postgres(e)
            });
        }
    }
    Ok(())
}

/// Sends `rows` (complete binary rows, without `ord`) straight into a table; returns how many
/// the server stored (all of them, or an error).
async fn copy_rows(
    client: &Client,
    copy: &Statement,
    rows: Bytes,
) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in::<_, Bytes>(copy).await?;
    let mut sink = pin!(sink);
    sink.feed(Bytes::from_static(COPY_HEADER)).await?;
    sink.feed(rows).await?;
    sink.feed(Bytes::from_static(COPY_TRAILER)).await?;
    sink.finish().await
}

/// Sends `rows` (complete binary rows) to a staging table and moves them into the real table,
/// pipelined (two round trips); returns the move's row count.
async fn copy_and_move(
    client: &Client,
    stage: &Stage,
    rows: Bytes,
) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in::<_, Bytes>(&stage.copy).await?;
    let mut sink = pin!(sink);
    sink.feed(Bytes::from_static(COPY_HEADER)).await?;
    sink.feed(rows).await?;
    sink.feed(Bytes::from_static(COPY_TRAILER)).await?;
    let (copied, moved) =
        futures_util::future::join(sink.finish(), client.execute(&stage.mv, &[])).await;
    copied?;
    moved
}

/// Rows per path, for the final log line and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Routed {
    /// Sent by direct `COPY`.
    pub(super) direct: u64,
    /// Sent through a staging table.
    pub(super) staged: u64,
}

/// The PostgreSQL writer (see the module docs): one connection, staging tables, binary `COPY`.
pub struct PostgresWriter {
    pg: tokio_postgres::Config,
    /// Server and database, password masked.
    target: String,
    statement_timeout_ms: u64,
    /// Client-side limit on one round of statements (twice the statement timeout).
    op_timeout: Option<Duration>,
    rt: Option<Runtime>,
    conn: Option<Conn>,
    /// A transaction is open on `conn`.
    in_tx: bool,
    /// `ord` of the next row staged in the open transaction.
    next_ord: i64,
    /// Replaying a transaction in which the server refused a row: isolate rows.
    careful: bool,
    /// Staged rows of the current call, per table.
    bufs: [CopyBuf; Table::ALL.len()],
    /// Rows of the current call that go straight into their table.
    direct_bufs: [CopyBuf; Table::ALL.len()],
    /// Which rows may go direct.
    routes: DirectRoutes,
    /// Rows sent by direct `COPY` and through staging tables (this writer's lifetime, attempts
    /// that rolled back included).
    pub(super) routed: Routed,
    poison: CopyBuf,
}

impl std::fmt::Debug for PostgresWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresWriter")
            .field("target", &self.target)
            .field("connected", &self.conn.is_some())
            .field("careful", &self.careful)
            .finish()
    }
}

impl PostgresWriter {
    /// Connects, migrates the schema ([`schema::migrate`](super::migrate)) and prepares the
    /// session. Blocks the calling thread (the work runs on a helper thread with the writer's
    /// own runtime, so it may be called from async code).
    ///
    /// # Errors
    /// [`StoreError::PostgresConfig`], [`StoreError::PostgresConnect`] (server unreachable,
    /// wrong password — the message never holds the password), [`StoreError::PostgresSchema`]
    /// (newer or mismatching schema), [`StoreError::Postgres`].
    pub fn open(cfg: &PostgresConfig) -> Result<Self, StoreError> {
        let pg = cfg.client_config()?;
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("postgres-open".into())
                .spawn_scoped(s, || Self::open_here(cfg, pg))
                .map_err(|e| StoreError::Thread(format!("cannot spawn a thread: {e}")))?
                .join()
                .map_err(|_| StoreError::Thread("postgres open panicked".into()))?
        })
    }

    fn open_here(cfg: &PostgresConfig, pg: tokio_postgres::Config) -> Result<Self, StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Thread(format!("cannot build a tokio runtime: {e}")))?;
        let target = describe(&pg);
        let op_timeout = (cfg.statement_timeout_ms > 0)
            .then(|| Duration::from_millis(cfg.statement_timeout_ms.saturating_mul(2)));
        let mut w = PostgresWriter {
            pg,
            target,
            statement_timeout_ms: cfg.statement_timeout_ms,
            op_timeout,
            rt: Some(rt),
            conn: None,
            in_tx: false,
            next_ord: 0,
            careful: false,
            bufs: Default::default(),
            direct_bufs: Default::default(),
            routes: DirectRoutes::default(),
            routed: Routed::default(),
            poison: CopyBuf::default(),
        };
        w.connect(true)?;
        tracing::info!(
            sink = SINK,
            target = %w.target,
            statement_timeout_ms = cfg.statement_timeout_ms,
            "postgres store opened"
        );
        Ok(w)
    }

    /// Server and database this writer writes to, password masked.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Opens a new connection (dropping any old one) and prepares its session.
    fn connect(&mut self, migrate: bool) -> Result<(), StoreError> {
        if let Some(old) = self.conn.take() {
            old.discard();
        }
        let rt = self.runtime()?;
        let (pg, target, timeout_ms) = (&self.pg, &self.target, self.statement_timeout_ms);
        // The first connection migrates, which may take long; reconnects are bounded.
        let limit = if migrate { None } else { self.op_timeout };
        let conn = run(rt, limit, async {
            let (client, task) = connect_client(pg, target).await?;
            match setup_session(&client, timeout_ms, migrate).await {
                Ok(()) => Ok(Conn {
                    client,
                    task,
                    stages: Default::default(),
                    direct: Default::default(),
                }),
                Err(e) => {
                    task.abort();
                    Err(match e {
                        StoreError::Postgres(source) => StoreError::PostgresConnect {
                            target: target.clone(),
                            source,
                        },
                        e => e,
                    })
                }
            }
        })?;
        self.conn = Some(conn);
        Ok(())
    }

    fn runtime(&self) -> Result<&Runtime, StoreError> {
        self.rt
            .as_ref()
            .ok_or_else(|| StoreError::Thread("postgres writer runtime is gone".into()))
    }

    /// Forgets the connection after an error that may have left it unusable.
    fn drop_conn_if_broken(&mut self, e: &StoreError) {
        let broken = match e {
            StoreError::PostgresTimeout(_) => true,
            StoreError::Postgres(pe) => {
                pe.is_closed()
                    || pe
                        .code()
                        .is_some_and(|c| c.code().starts_with("08") || c.code().starts_with("57P"))
            }
            _ => false,
        };
        if broken || self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            if let Some(c) = self.conn.take() {
                c.discard();
            }
        }
    }

    /// Writes `events` in one transaction (begin, insert, commit); on error rolls back and
    /// returns it (no retry: that is the group-commit loop's job).
    ///
    /// # Errors
    /// As [`BatchWriter::insert`] and [`BatchWriter::commit`].
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

    /// Reads the high-water marks of the markets in `events` not seen yet (see
    /// [`super::direct`]); one pipelined round of index probes.
    fn seed_marks(&mut self, events: &[Event]) -> Result<(), StoreError> {
        let markets = self.routes.unseeded(events);
        if markets.is_empty() {
            return Ok(());
        }
        let rt = self.runtime()?;
        let conn = self.conn.as_ref().ok_or(StoreError::PostgresNotConnected)?;
        let marks = run(rt, self.op_timeout, async {
            let probes = markets.iter().map(|(table, venue, symbol)| async move {
                let sql = direct::seed_sql(*table).ok_or_else(|| {
                    StoreError::Thread(format!("no high-water marks for {}", table.name()))
                })?;
                let row = conn
                    .client
                    .query_one(&sql, &[&venue.as_str(), &&**symbol])
                    .await?;
                Ok::<Mark, StoreError>(Mark {
                    id: row.try_get(0)?,
                    time: row.try_get::<_, Option<PgMicros>>(1)?.map(|t| t.0),
                })
            });
            futures_util::future::try_join_all(probes).await
        })
        .map_err(|e| match e {
            // A value the server refuses as a parameter: let the careful replay (which reads no
            // marks) isolate the row.
            StoreError::Postgres(pe) if classify_postgres(&pe) == ErrorClass::Poison => {
                self.careful = true;
                StoreError::PostgresRowRefused(pg_error_text(&pe))
            }
            e => e,
        })?;
        for (market, mark) in markets.into_iter().zip(marks) {
            self.routes.seed(market, mark);
        }
        Ok(())
    }

    fn insert_inner(&mut self, events: &[Event], stats: &mut WriteStats) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let base = self.next_ord;
        let end = base + events.len() as i64;
        if end > i64::from(i32::MAX) {
            return Err(StoreError::PostgresSchema(format!(
                "transaction of more than {} rows; lower [batch] max_rows",
                i32::MAX
            )));
        }
        // Careful replays stage every row (so that each can be isolated), but still raise the
        // marks of the markets already known.
        let direct = !self.careful && self.routes.active(Instant::now());
        if direct {
            self.seed_marks(events)?;
        }
        self.next_ord = end;
        for b in self.bufs.iter_mut().chain(&mut self.direct_bufs) {
            b.clear();
        }
        self.poison.clear();
        // Events the schema cannot hold: (event index, table, why).
        let mut refused: Vec<(usize, Table, String)> = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            let t = Table::of(ev);
            let admitted = self.routes.admit(t, ev) && direct;
            let pushed = if admitted {
                self.direct_bufs[t.index()].push(t, ev, i, None)
            } else {
                // In range: checked above.
                let ord = (base + i as i64) as i32;
                self.bufs[t.index()].push(t, ev, i, Some(ord))
            };
            match pushed {
                Ok(()) if admitted => self.routed.direct += 1,
                Ok(()) => self.routed.staged += 1,
                Err(Unrepresentable(why)) => refused.push((i, t, why)),
            }
        }
        let rt = self
            .rt
            .as_ref()
            .ok_or_else(|| StoreError::Thread("postgres writer runtime is gone".into()))?;
        let conn = self.conn.as_mut().ok_or(StoreError::PostgresNotConnected)?;
        let careful = self.careful;
        let bufs = &mut self.bufs;
        let direct_bufs = &mut self.direct_bufs;
        let poison = &mut self.poison;
        let next_ord = &mut self.next_ord;
        let mut conflict = false;
        let res = run(rt, self.op_timeout, async {
            for t in Table::ALL {
                let n = bufs[t.index()].rows.len() as u64;
                if n > 0 {
                    conn.ensure_stage(t, n).await?;
                }
            }
            let mut tx = WriteStats::default();
            for t in Table::ALL {
                // Direct rows first: a staged copy of one of them (a later duplicate) must meet
                // it in the table, so that the first-seen row stays.
                let buf = &mut direct_bufs[t.index()];
                if !buf.is_empty() {
                    let stmt = conn.direct_copy(t).await?;
                    match copy_rows(&conn.client, &stmt, buf.buf.split().freeze()).await {
                        Ok(n) => t.count(&mut tx, n),
                        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                            conflict = true;
                            return Err(StoreError::PostgresDirectConflict(format!(
                                "{}: {}",
                                t.name(),
                                pg_error_text(&e)
                            )));
                        }
                        Err(e) if classify_postgres(&e) == ErrorClass::Poison => {
                            return Err(StoreError::PostgresRowRefused(pg_error_text(&e)));
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                let buf = &mut bufs[t.index()];
                if buf.is_empty() {
                    continue;
                }
                let rows = buf.buf.split().freeze();
                let staged = buf.rows.len() as u64;
                let moved = if careful {
                    isolate(conn, t, &rows, &buf.rows, &mut refused).await?
                } else {
                    match copy_and_move(&conn.client, conn.stage(t)?, rows).await {
                        Ok(n) => (n, staged),
                        Err(e) if classify_postgres(&e) == ErrorClass::Poison => {
                            return Err(StoreError::PostgresRowRefused(pg_error_text(&e)));
                        }
                        Err(e) => return Err(e.into()),
                    }
                };
                let (inserted, accepted) = moved;
                t.count(&mut tx, inserted);
                tx.duplicates += accepted.saturating_sub(inserted);
            }
            if !refused.is_empty() {
                for (i, t, why) in &refused {
                    let ord = i32::try_from(*next_ord).unwrap_or(i32::MAX);
                    *next_ord += 1;
                    tracing::warn!(
                        sink = SINK,
                        table = t.name(),
                        error = %why,
                        "row refused; stored as a store_constraint reject"
                    );
                    poison.poison_row(&events[*i], *t, why, ord);
                }
                let n = poison.rows.len() as u64;
                let rows = poison.buf.split().freeze();
                conn.ensure_stage(Table::Rejects, n).await?;
                if careful {
                    savepoint(&conn.client).await?;
                }
                copy_and_move(&conn.client, conn.stage(Table::Rejects)?, rows).await?;
                if careful {
                    release(&conn.client).await?;
                }
                tx.rejects += n;
                tx.poisoned += n;
            }
            Ok::<WriteStats, StoreError>(tx)
        });
        match res {
            Ok(tx) => {
                *stats += tx;
                Ok(())
            }
            Err(StoreError::PostgresRowRefused(why)) => {
                // Replay the whole transaction with each row isolated.
                self.careful = true;
                Err(StoreError::PostgresRowRefused(why))
            }
            Err(e) => {
                if conflict {
                    // Someone else stored rows of these markets: stage everything for a while,
                    // the replay included, and read fresh marks afterwards.
                    self.routes.pause(Instant::now());
                    tracing::info!(
                        sink = SINK,
                        error = %e,
                        pause_s = direct::PAUSE.as_secs(),
                        "direct COPY paused: another writer stores rows of the same markets"
                    );
                }
                Err(e)
            }
        }
    }
}

async fn savepoint(client: &Client) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!("SAVEPOINT {SAVEPOINT}"))
        .await
}

async fn release(client: &Client) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!("RELEASE SAVEPOINT {SAVEPOINT}"))
        .await
}

/// Careful mode: stages and moves `table`'s rows each behind a savepoint, bisecting refused
/// ranges down to single rows, which are added to `refused`. Returns (rows inserted, rows
/// accepted — inserted or duplicate).
async fn isolate(
    conn: &Conn,
    table: Table,
    rows: &Bytes,
    index: &[(usize, usize)],
    refused: &mut Vec<(usize, Table, String)>,
) -> Result<(u64, u64), StoreError> {
    let client = &conn.client;
    let (mut inserted, mut accepted) = (0u64, 0u64);
    let mut todo = vec![(0usize, index.len())];
    let mut bad = Vec::new();
    while let Some((a, b)) = todo.pop() {
        let start = index[a].0;
        let end = index.get(b).map_or(rows.len(), |r| r.0);
        savepoint(client).await?;
        match copy_and_move(client, conn.stage(table)?, rows.slice(start..end)).await {
            Ok(n) => {
                release(client).await?;
                inserted += n;
                accepted += (b - a) as u64;
            }
            Err(e) if classify_postgres(&e) == ErrorClass::Poison => {
                client
                    .batch_execute(&format!(
                        "ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"
                    ))
                    .await?;
                if b - a == 1 {
                    bad.push((index[a].1, table, pg_error_text(&e)));
                } else {
                    let mid = a + (b - a) / 2;
                    todo.push((mid, b));
                    todo.push((a, mid));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    refused.extend(bad);
    Ok((inserted, accepted))
}

impl BatchWriter for PostgresWriter {
    fn sink(&self) -> &'static str {
        SINK
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        if self.conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            self.connect(false)?;
            tracing::info!(sink = SINK, target = %self.target, "postgres reconnected");
        }
        let rt = self.runtime()?;
        let conn = self.conn.as_ref().ok_or(StoreError::PostgresNotConnected)?;
        let res = run(rt, self.op_timeout, async {
            conn.client.batch_execute("BEGIN").await?;
            Ok(())
        });
        if let Err(e) = &res {
            self.drop_conn_if_broken(e);
            return res;
        }
        self.in_tx = true;
        self.next_ord = 0;
        Ok(())
    }

    fn insert(&mut self, events: &[Event], stats: &mut WriteStats) -> Result<(), StoreError> {
        let res = self.insert_inner(events, stats);
        if let Err(e) = &res {
            self.drop_conn_if_broken(e);
        }
        res
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        let rt = self.runtime()?;
        let conn = self.conn.as_ref().ok_or(StoreError::PostgresNotConnected)?;
        let res = run(rt, self.op_timeout, async {
            conn.client.batch_execute("COMMIT").await?;
            Ok(())
        });
        match res {
            Ok(()) => {
                self.in_tx = false;
                self.next_ord = 0;
                self.careful = false;
                if let Some(c) = self.conn.as_mut() {
                    c.after_commit();
                }
                Ok(())
            }
            Err(e) => {
                self.drop_conn_if_broken(&e);
                Err(e)
            }
        }
    }

    fn rollback(&mut self) {
        if !std::mem::take(&mut self.in_tx) {
            return;
        }
        self.next_ord = 0;
        let Some(conn) = self.conn.as_ref() else {
            return;
        };
        if conn.client.is_closed() {
            if let Some(c) = self.conn.take() {
                c.discard();
            }
            return;
        }
        let Ok(rt) = self.runtime() else {
            return;
        };
        let res = run(rt, self.op_timeout, async {
            conn.client.batch_execute("ROLLBACK").await?;
            Ok(())
        });
        match res {
            Ok(()) => {
                if let Some(c) = self.conn.as_mut() {
                    c.after_rollback();
                }
            }
            Err(e) => {
                tracing::warn!(sink = SINK, error = %e, "rollback failed; dropping the connection");
                if let Some(c) = self.conn.take() {
                    c.discard();
                }
            }
        }
    }
}

impl Drop for PostgresWriter {
    fn drop(&mut self) {
        tracing::info!(
            sink = SINK,
            rows_direct = self.routed.direct,
            rows_staged = self.routed.staged,
            "postgres writer closed"
        );
        let conn = self.conn.take();
        let Some(rt) = self.rt.take() else {
            return;
        };
        if let Some(Conn {
            client,
            task,
            stages,
            direct,
        }) = conn
        {
            drop((stages, direct));
            drop(client);
            // Let the connection say goodbye (Terminate) when this thread may block; a runtime
            // cannot be driven from inside another one.
            if tokio::runtime::Handle::try_current().is_err() {
                let _ =
                    rt.block_on(async { tokio::time::timeout(Duration::from_secs(1), task).await });
            }
        }
        rt.shutdown_background();
    }
}

/// Connects and migrates (see [`PostgresWriter::open`]) before returning — so configuration,
/// authentication and schema errors are returned here — then spawns the dedicated writer thread
/// that owns the connection and its runtime and runs group commit on `rx` (see
/// [`crate::batch`]).
///
/// Every received `Vec<Event>` costs two round trips (`COPY`, then the move whose row count the
/// loop needs before the next `insert`), so senders should pass frames in bulk where they can:
/// one-event `Vec`s cap the sink at a few thousand rows/s, `Vec`s of hundreds at the server's
/// `INSERT` rate. (Vecs must not be merged here: the journal acknowledges by channel batch.)
///
/// # Errors
/// Everything [`PostgresWriter::open`] returns, or [`StoreError::Thread`].
pub fn spawn_postgres_writer(
    cfg: PostgresConfig,
    batch: BatchConfig,
    rx: Receiver<Vec<Event>>,
) -> Result<WriterHandle, StoreError> {
    let writer = PostgresWriter::open(&cfg)?;
    spawn_writer_thread(writer, batch, rx)
}
