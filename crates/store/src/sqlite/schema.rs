//! SQLite schema (DDL) and migrations, versioned with `PRAGMA user_version`.
//!
//! Version 1:
//!
//! | table          | natural key                                   | on conflict                      |
//! |----------------|-----------------------------------------------|----------------------------------|
//! | `trades`       | `(venue, symbol, trade_id)`                   | ignored (duplicate)              |
//! | `agg_trades`   | `(venue, symbol, agg_id)`                     | ignored (duplicate)              |
//! | `quotes`       | `(venue, symbol, seq)`                        | ignored (duplicate)              |
//! | `candles`      | `(venue, symbol, interval_s, open_time_us)`   | upsert; `closed` never 1 → 0     |
//! | `book_updates` | none yet (rowid)                              | —                                |
//! | `rejects`      | none (`id` autoincrement)                     | —                                |
//!
//! Version 2 adds `data_quality_events` (key `(venue, symbol, kind, start_us, ts_recv_us)`, duplicates
//! ignored; `symbol` is `''` for connection-wide events): what the recorder detected (gaps,
//! reconnects, stale sockets), what it repaired (backfilled trades) and what it could not.
//!
//! Version 3 (the query crate, issue 8) replaces the `(symbol, ts_exchange_us)` indexes of
//! `trades` and `agg_trades` by covering `(venue, symbol, ts_exchange_us, id, price, qty, side)`
//! indexes, so a window scan (candles, volume profile) is one sequential index walk with no table
//! lookups. Still one secondary index per table, so the insert cost stays about the same.
//! Version 4 (the Parquet archive, issue 9) adds `archive_intervals` (one row per archived table
//! and interval, key `(table_name, start_us, generation)`: rows, files, bytes, when it was
//! verified and when its local rows were pruned), `archive_files` (every uploaded object with its
//! size and CRC-32C) and `retention_events` (every pruning, with its policy). Tables are archived
//! by receive time (`ts_recv_us`); the archiver adds `*_recv_ts` indexes when it first runs, so a
//! recorder without an archive pays nothing for them.
//!
//! Version 5 (order books, issue 6) renames `book_updates` to `book_deltas` (one row per venue
//! snapshot or delta, levels as JSON arrays of exact strings) and gives it `verified` (1: applied
//! to an in-sync, checksum-verified book; 0: not; NULL: recorded before version 5) and
//! `msg_hash` (a hash of the message's content; with `(venue, symbol, ts_recv_us)` it is the
//! key that makes a journal replay a duplicate). It adds `book_snapshots`: the top levels of the
//! recorder's own book every `book_snapshot_ms`, with its verified flag and a digest of the
//! whole book (key `(venue, symbol, ts_recv_us)`), and `book_levels_view`, one row per level
//! change of `book_deltas`.
//!
//! Prices and quantities are `INTEGER` mantissa + `INTEGER` scale (`"0.35280000"` → `35280000`,
//! `8`): the venue's digits exactly. Timestamps are `INTEGER` µs since the epoch, UTC. The keyed
//! tables are `STRICT, WITHOUT ROWID`; `trade_id`/`agg_id` are `ANY` (an integer for numeric ids,
//! text otherwise). `quotes.seq` is the venue's update id when it sends one, else the exchange
//! time, else the receive time.
//!
//! The views `trades_view`, `agg_trades_view`, `quotes_view` and `candles_view` show exact decimal
//! text rebuilt in SQL with `printf`/`substr` (no math functions needed), `REAL` columns
//! (`*_real`) for quick arithmetic, and ISO-8601 timestamps with microseconds
//! (`2023-09-25T07:48:36.925533Z`).

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::StoreError;

/// The newest schema version this build knows (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 5;

/// SQL for the exact decimal text of mantissa column `m` with scale column `s`
/// (`35280000`, `8` → `'0.35280000'`; `-5`, `2` → `'-0.05'`; NULL if either is NULL).
fn dec(m: &str, s: &str) -> String {
    // printf('%0*d') zero-pads to scale+1 digits (plus the sign), so there is always a digit
    // before the point; the point is then inserted `s` characters from the right.
    let padded = format!("printf('%0*d', {s} + 1 + ({m} < 0), {m})");
    format!(
        "(CASE WHEN {m} IS NULL OR {s} IS NULL THEN NULL \
         WHEN {s} = 0 THEN printf('%d', {m}) \
         ELSE substr({padded}, 1, length({padded}) - {s}) || '.' || substr({padded}, -{s}) END)"
    )
}

/// SQL for the ISO-8601 text (`YYYY-MM-DDTHH:MM:SS.ffffffZ`) of µs column `c` (NULL stays NULL).
fn iso(c: &str) -> String {
    let frac = format!("((({c} % 1000000) + 1000000) % 1000000)");
    format!(
        "(CASE WHEN {c} IS NULL THEN NULL ELSE \
         strftime('%Y-%m-%dT%H:%M:%S', ({c} - {frac}) / 1000000, 'unixepoch') \
         || printf('.%06dZ', {frac}) END)"
    )
}

/// DDL of schema version 1.
///
/// Enumerated `CHECK`s are written as `OR` chains: `side IN ('buy', 'sell', 'unknown')` halves
/// the insert rate (measured: 1.1M → 0.5M rows/s without the index), the `OR` chain costs nothing.
fn v1() -> String {
    let mut sql = String::from(
        r#"
CREATE TABLE IF NOT EXISTS trades (
    venue          TEXT    NOT NULL,
    symbol         TEXT    NOT NULL CHECK (length(symbol) > 0),
    trade_id       ANY     NOT NULL,
    price_m        INTEGER NOT NULL CHECK (price_m > 0),
    price_scale    INTEGER NOT NULL CHECK (price_scale BETWEEN 0 AND 18),
    qty_m          INTEGER NOT NULL CHECK (qty_m > 0),
    qty_scale      INTEGER NOT NULL CHECK (qty_scale BETWEEN 0 AND 18),
    side           TEXT    NOT NULL CHECK (side = 'buy' OR side = 'sell' OR side = 'unknown'),
    ts_exchange_us INTEGER NOT NULL,
    ts_recv_us     INTEGER NOT NULL,
    PRIMARY KEY (venue, symbol, trade_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS trades_symbol_ts ON trades (symbol, ts_exchange_us);

CREATE TABLE IF NOT EXISTS agg_trades (
    venue          TEXT    NOT NULL,
    symbol         TEXT    NOT NULL CHECK (length(symbol) > 0),
    agg_id         ANY     NOT NULL,
    price_m        INTEGER NOT NULL CHECK (price_m > 0),
    price_scale    INTEGER NOT NULL CHECK (price_scale BETWEEN 0 AND 18),
    qty_m          INTEGER NOT NULL CHECK (qty_m > 0),
    qty_scale      INTEGER NOT NULL CHECK (qty_scale BETWEEN 0 AND 18),
    side           TEXT    NOT NULL CHECK (side = 'buy' OR side = 'sell' OR side = 'unknown'),
    ts_exchange_us INTEGER NOT NULL,
    ts_recv_us     INTEGER NOT NULL,
    first_trade_id INTEGER NOT NULL,
    last_trade_id  INTEGER NOT NULL CHECK (last_trade_id >= first_trade_id),
    PRIMARY KEY (venue, symbol, agg_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS agg_trades_symbol_ts ON agg_trades (symbol, ts_exchange_us);

CREATE TABLE IF NOT EXISTS quotes (
    venue           TEXT    NOT NULL,
    symbol          TEXT    NOT NULL CHECK (length(symbol) > 0),
    seq             INTEGER NOT NULL,
    bid_price_m     INTEGER NOT NULL,
    bid_price_scale INTEGER NOT NULL CHECK (bid_price_scale BETWEEN 0 AND 18),
    bid_qty_m       INTEGER NOT NULL,
    bid_qty_scale   INTEGER NOT NULL CHECK (bid_qty_scale BETWEEN 0 AND 18),
    ask_price_m     INTEGER NOT NULL,
    ask_price_scale INTEGER NOT NULL CHECK (ask_price_scale BETWEEN 0 AND 18),
    ask_qty_m       INTEGER NOT NULL,
    ask_qty_scale   INTEGER NOT NULL CHECK (ask_qty_scale BETWEEN 0 AND 18),
    ts_exchange_us  INTEGER,
    ts_recv_us      INTEGER NOT NULL,
    update_id       INTEGER,
    PRIMARY KEY (venue, symbol, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS candles (
    venue              TEXT    NOT NULL,
    symbol             TEXT    NOT NULL CHECK (length(symbol) > 0),
    interval_s         INTEGER NOT NULL CHECK (interval_s > 0),
    open_time_us       INTEGER NOT NULL,
    open_m             INTEGER NOT NULL,
    open_scale         INTEGER NOT NULL CHECK (open_scale BETWEEN 0 AND 18),
    high_m             INTEGER NOT NULL,
    high_scale         INTEGER NOT NULL CHECK (high_scale BETWEEN 0 AND 18),
    low_m              INTEGER NOT NULL,
    low_scale          INTEGER NOT NULL CHECK (low_scale BETWEEN 0 AND 18),
    close_m            INTEGER NOT NULL,
    close_scale        INTEGER NOT NULL CHECK (close_scale BETWEEN 0 AND 18),
    volume_m           INTEGER NOT NULL CHECK (volume_m >= 0),
    volume_scale       INTEGER NOT NULL CHECK (volume_scale BETWEEN 0 AND 18),
    quote_volume_m     INTEGER,
    quote_volume_scale INTEGER CHECK (quote_volume_scale BETWEEN 0 AND 18),
    trades             INTEGER,
    closed             INTEGER NOT NULL CHECK (closed = 0 OR closed = 1),
    ts_exchange_us     INTEGER NOT NULL,
    ts_recv_us         INTEGER NOT NULL,
    PRIMARY KEY (venue, symbol, interval_s, open_time_us)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS book_updates (
    id              INTEGER PRIMARY KEY,
    venue           TEXT    NOT NULL,
    symbol          TEXT    NOT NULL CHECK (length(symbol) > 0),
    kind            TEXT    NOT NULL CHECK (kind = 'snapshot' OR kind = 'delta'),
    first_update_id INTEGER,
    last_update_id  INTEGER,
    bids            TEXT    NOT NULL,
    asks            TEXT    NOT NULL,
    checksum        INTEGER,
    ts_exchange_us  INTEGER,
    ts_recv_us      INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS book_updates_symbol_ts ON book_updates (symbol, ts_recv_us);

CREATE TABLE IF NOT EXISTS rejects (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    venue      TEXT    NOT NULL,
    symbol     TEXT,
    reason     TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    raw        BLOB    NOT NULL,
    ts_recv_us INTEGER NOT NULL
) STRICT;
"#,
    );

    let trade_cols = format!(
        "venue, symbol, {{id}}, {price} AS price, {qty} AS qty, side, \
         {tse} AS ts_exchange, {tsr} AS ts_recv, ts_exchange_us, ts_recv_us",
        price = dec("price_m", "price_scale"),
        qty = dec("qty_m", "qty_scale"),
        tse = iso("ts_exchange_us"),
        tsr = iso("ts_recv_us"),
    );
    let real = |c: &str| format!("CAST({c} AS REAL) AS {c}_real");
    sql.push_str(&format!(
        "CREATE VIEW IF NOT EXISTS trades_view AS SELECT *, {}, {} FROM (SELECT {} FROM trades);\n",
        real("price"),
        real("qty"),
        trade_cols.replace("{id}", "trade_id"),
    ));
    sql.push_str(&format!(
        "CREATE VIEW IF NOT EXISTS agg_trades_view AS SELECT *, {}, {} FROM \
         (SELECT {}, first_trade_id, last_trade_id FROM agg_trades);\n",
        real("price"),
        real("qty"),
        trade_cols.replace("{id}", "agg_id"),
    ));
    sql.push_str(&format!(
        "CREATE VIEW IF NOT EXISTS quotes_view AS SELECT *, {}, {}, {}, {} FROM \
         (SELECT venue, symbol, seq, update_id, {} AS bid_price, {} AS bid_qty, {} AS ask_price, \
         {} AS ask_qty, {} AS ts_exchange, {} AS ts_recv, ts_exchange_us, ts_recv_us FROM quotes);\n",
        real("bid_price"),
        real("bid_qty"),
        real("ask_price"),
        real("ask_qty"),
        dec("bid_price_m", "bid_price_scale"),
        dec("bid_qty_m", "bid_qty_scale"),
        dec("ask_price_m", "ask_price_scale"),
        dec("ask_qty_m", "ask_qty_scale"),
        iso("ts_exchange_us"),
        iso("ts_recv_us"),
    ));
    sql.push_str(&format!(
        "CREATE VIEW IF NOT EXISTS candles_view AS SELECT *, {}, {}, {}, {}, {}, {} FROM \
         (SELECT venue, symbol, interval_s, {} AS open_time, {} AS open, {} AS high, {} AS low, \
         {} AS close, {} AS volume, {} AS quote_volume, trades, closed, {} AS ts_exchange, \
         {} AS ts_recv, open_time_us, ts_exchange_us, ts_recv_us FROM candles);\n",
        real("open"),
        real("high"),
        real("low"),
        real("close"),
        real("volume"),
        real("quote_volume"),
        iso("open_time_us"),
        dec("open_m", "open_scale"),
        dec("high_m", "high_scale"),
        dec("low_m", "low_scale"),
        dec("close_m", "close_scale"),
        dec("volume_m", "volume_scale"),
        dec("quote_volume_m", "quote_volume_scale"),
        iso("ts_exchange_us"),
        iso("ts_recv_us"),
    ));
    sql
}

/// DDL of schema version 2: the data-quality table.
fn v2() -> String {
    format!(
        r#"
CREATE TABLE IF NOT EXISTS data_quality_events (
    venue      TEXT    NOT NULL,
    symbol     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    start_us   INTEGER NOT NULL,
    end_us     INTEGER NOT NULL,
    count      INTEGER NOT NULL CHECK (count >= 0),
    from_id    INTEGER,
    to_id      INTEGER,
    detail     TEXT    NOT NULL,
    ts_recv_us INTEGER NOT NULL,
    PRIMARY KEY (venue, symbol, kind, start_us, ts_recv_us)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS data_quality_events_ts ON data_quality_events (start_us);
CREATE VIEW IF NOT EXISTS data_quality_view AS SELECT venue, symbol, kind, {start} AS start,
    {end} AS "end", count, from_id, to_id, detail, {recv} AS ts_recv, start_us, end_us, ts_recv_us
    FROM data_quality_events;
"#,
        start = iso("start_us"),
        end = iso("end_us"),
        recv = iso("ts_recv_us"),
    )
}

/// DDL of schema version 3 (query crate): covering market/time indexes for window scans.
fn v3() -> String {
    let mut sql = String::new();
    for (table, id) in [("trades", "trade_id"), ("agg_trades", "agg_id")] {
        sql.push_str(&format!(
            "DROP INDEX IF EXISTS {table}_symbol_ts;\n\
             CREATE INDEX IF NOT EXISTS {table}_market_ts ON {table} \
             (venue, symbol, ts_exchange_us, {id}, price_m, price_scale, qty_m, qty_scale, side);\n"
        ));
    }
    sql
}

/// DDL of schema version 4: the archive's bookkeeping (feature: Parquet archive, issue 9).
fn v4() -> String {
    r#"
CREATE TABLE IF NOT EXISTS archive_intervals (
    table_name     TEXT    NOT NULL,
    start_us       INTEGER NOT NULL,
    end_us         INTEGER NOT NULL CHECK (end_us > start_us),
    generation     INTEGER NOT NULL CHECK (generation >= 0),
    files          INTEGER NOT NULL CHECK (files >= 0),
    rows           INTEGER NOT NULL CHECK (rows >= 0),
    bytes          INTEGER NOT NULL CHECK (bytes >= 0),
    archived_at_us INTEGER NOT NULL,
    pruned_at_us   INTEGER,
    PRIMARY KEY (table_name, start_us, generation)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS archive_files (
    object_key     TEXT    NOT NULL PRIMARY KEY,
    table_name     TEXT    NOT NULL,
    start_us       INTEGER NOT NULL,
    generation     INTEGER NOT NULL,
    venue          TEXT    NOT NULL,
    symbol         TEXT    NOT NULL,
    rows           INTEGER NOT NULL,
    bytes          INTEGER NOT NULL,
    crc32c         INTEGER NOT NULL,
    archived_at_us INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS retention_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_us        INTEGER NOT NULL,
    table_name   TEXT    NOT NULL,
    start_us     INTEGER NOT NULL,
    end_us       INTEGER NOT NULL,
    rows         INTEGER NOT NULL CHECK (rows >= 0),
    reason       TEXT    NOT NULL CHECK (reason = 'max_age' OR reason = 'max_bytes'),
    archived     INTEGER NOT NULL CHECK (archived = 0 OR archived = 1)
) STRICT;
"#
    .to_string()
}

/// DDL of schema version 5: order books (issue 6).
fn v5() -> String {
    let levels = |side: &str, col: &str| {
        format!(
            "SELECT d.rowid AS delta_id, d.venue, d.symbol, d.kind, d.first_update_id,              d.last_update_id, '{side}' AS side, l.key AS position,              json_extract(l.value, '$[0]') AS price, json_extract(l.value, '$[1]') AS qty,              d.verified, d.ts_exchange_us, d.ts_recv_us              FROM book_deltas d, json_each(d.{col}) l"
        )
    };
    format!(
        r#"
ALTER TABLE book_updates RENAME TO book_deltas;
ALTER TABLE book_deltas ADD COLUMN verified INTEGER CHECK (verified = 0 OR verified = 1);
ALTER TABLE book_deltas ADD COLUMN msg_hash INTEGER;
DROP INDEX IF EXISTS book_updates_symbol_ts;
CREATE UNIQUE INDEX IF NOT EXISTS book_deltas_key ON book_deltas (venue, symbol, ts_recv_us, msg_hash);

CREATE TABLE IF NOT EXISTS book_snapshots (
    venue          TEXT    NOT NULL,
    symbol         TEXT    NOT NULL CHECK (length(symbol) > 0),
    ts_recv_us     INTEGER NOT NULL,
    ts_exchange_us INTEGER,
    last_update_id INTEGER,
    bids           TEXT    NOT NULL,
    asks           TEXT    NOT NULL,
    verified       INTEGER NOT NULL CHECK (verified = 0 OR verified = 1),
    digest         INTEGER NOT NULL,
    PRIMARY KEY (venue, symbol, ts_recv_us)
) STRICT, WITHOUT ROWID;

CREATE VIEW IF NOT EXISTS book_levels_view AS {bids} UNION ALL {asks};
"#,
        bids = levels("bid", "bids"),
        asks = levels("ask", "asks"),
    )
}

/// DDL that brings a database from version `to - 1` to version `to`.
fn migration(to: i64) -> Option<String> {
    match to {
        1 => Some(v1()),
        2 => Some(v2()),
        3 => Some(v3()),
        4 => Some(v4()),
        5 => Some(v5()),
        _ => None,
    }
}

fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))?)
}

/// Brings the database to [`SCHEMA_VERSION`], one migration per transaction.
///
/// # Errors
/// [`StoreError::SchemaTooNew`] when the file was written by a newer tickrec,
/// [`StoreError::Schema`] for a version this build cannot migrate, SQLite errors otherwise.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    check_version(user_version(conn)?, path)?;
    loop {
        // IMMEDIATE: concurrent openers serialize here; the version is re-read under the lock.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = user_version(&tx)?;
        check_version(current, path)?;
        if current == SCHEMA_VERSION {
            return Ok(());
        }
        let to = current + 1;
        let sql = migration(to).ok_or_else(|| StoreError::Schema {
            path: path.to_path_buf(),
            detail: format!("no migration from version {current} to {to}"),
        })?;
        // A failing migration means the file is not the schema it claims (e.g. tables missing).
        tx.execute_batch(&sql).map_err(|e| StoreError::Schema {
            path: path.to_path_buf(),
            detail: format!("migration to version {to} failed: {e}"),
        })?;
        tx.pragma_update(None, "user_version", to)?;
        tx.commit()?;
        tracing::info!(path = %path.display(), version = to, "sqlite schema migrated");
    }
}

fn check_version(found: i64, path: &Path) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < 0 {
        return Err(StoreError::Schema {
            path: path.to_path_buf(),
            detail: format!("negative user_version {found}"),
        });
    }
    Ok(())
}
