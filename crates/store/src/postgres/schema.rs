//! PostgreSQL/TimescaleDB schema (DDL) and migrations, versioned in `tickrec_schema_version`.
//!
//! [`migrate`] is idempotent: it takes a transaction-scoped advisory lock (concurrent tickrec
//! processes serialize), reads the newest applied version, applies the missing migrations — each
//! in its own transaction, together with its row in `tickrec_schema_version` — and refuses a
//! database written by a newer tickrec. It runs at writer start-up and as `tickrec migrate`.
//!
//! # Version 1
//!
//! | table                 | time column (hypertable) | natural key (unique)                             | on conflict            |
//! |-----------------------|--------------------------|--------------------------------------------------|------------------------|
//! | `trades`              | `ts_exchange`            | `(venue, symbol, trade_id, ts_exchange)`, `(venue, symbol, trade_ref, ts_exchange)` | ignored (duplicate) |
//! | `agg_trades`          | `ts_exchange`            | `(venue, symbol, agg_id, ts_exchange)`, `(venue, symbol, agg_ref, ts_exchange)` | ignored (duplicate) |
//! | `quotes`              | `ts`                     | `(venue, symbol, seq, ts)`                       | ignored (duplicate)    |
//! | `candles`             | `open_time`              | `(venue, symbol, interval_s, open_time)`         | upsert, `closed` never true → false |
//! | `book_updates`        | `ts_ingest`              | none yet                                         | —                      |
//! | `rejects`             | — (plain table)          | `id` (`BIGSERIAL`)                               | —                      |
//! | `data_quality_events` | — (plain table)          | `id` (`BIGSERIAL`)                               | —                      |
//!
//! # Version 2
//!
//! `data_quality_events` gains `from_id`, `to_id` (the trade ids concerned) and `ts_ingest`
//! (when the recorder noted it), and a unique key `(venue, COALESCE(symbol, ''), kind,
//! start_us, ts_ingest)` so that a replay from the journal is ignored (`ON CONFLICT DO NOTHING`).
//!
//! # Version 3
//!
//! Order books (issue 6): `book_updates` is renamed `book_deltas` and gains `verified` and
//! `msg_hash` (unique key `(venue, symbol, ts_ingest, msg_hash)`, replays ignored);
//! `book_snapshots` (key `(venue, symbol, ts_ingest)`) holds the top of the recorder's book.
//!
//! # Query indexes (not a migration)
//!
//! The query crate (issue 8) reads windows through `trades_market_time` /
//! `agg_trades_market_time` on `(venue, symbol, ts_exchange, id, ref) INCLUDE (price_m,
//! price_scale, qty_m, qty_scale, side)`. They cost the recorder's write path a lot (measured:
//! 81.5 k → 68.6 k trades/s end to end into SQLite + PostgreSQL), so they are created by
//! [`ensure_query_indexes`] when PostgreSQL is first queried (`tickrec query --store postgres`,
//! `tickrec mcp`), not by the migrations: a database that is only written pays nothing.
//!
//! The trade table starts from seed 000 (`ts_exchange`, `ts_ingest`, `venue`, `symbol`, `side`
//! with a `CHECK`, index `(symbol, ts_exchange DESC)`) with these changes:
//!
//! - **The key includes the venue's trade id.** Seed 000 keyed `(ts_exchange, venue, symbol,
//!   side)`, which merges two distinct trades of the same microsecond and side. The key is
//!   `(venue, symbol, trade_id, ts_exchange)`: TimescaleDB requires the time column in every
//!   unique index of a hypertable, and a replayed trade carries the same exchange time, so
//!   retries and replays still collapse onto one row. (A backfill must therefore produce the
//!   same exchange timestamps as the stream.) The key is the same with or without TimescaleDB.
//! - **`trade_id BIGINT` plus `trade_ref TEXT`, exactly one of them set** (`CHECK`). Numeric
//!   venue ids (Binance, Kraken) go to `trade_id` — 8 bytes, integer comparisons, gaps
//!   measurable with arithmetic, delta-encoded by TimescaleDB compression. Textual ids (UUIDs on
//!   some venues) and numeric ids above `i64::MAX` go to `trade_ref`, with a partial unique
//!   index that stays empty (costs nothing) for numeric venues; a `NULL` `trade_id` never
//!   conflicts in `trades_key`. `trades_view.trade_id` shows either as text. A single `TEXT`
//!   column would be larger in the table and in both indexes (a 10-digit id is 11 bytes, and
//!   text keys compare with the collation), and gap arithmetic would need a cast.
//! - **Exact prices and quantities as `BIGINT` mantissa + `SMALLINT` scale**
//!   (`"0.35280000"` → `35280000`, `8`), as in the SQLite sink, instead of `DOUBLE PRECISION`
//!   (which rounds: `0.1 + 0.2`) or `NUMERIC` (variable-length, 10+ bytes, slow arithmetic): the
//!   venue's digits (trailing zeros included) round-trip; 8 + 2 bytes per value; `sum`/`min`/
//!   `max` over one symbol (one scale) are integer aggregates; and TimescaleDB compresses integer
//!   columns with delta/delta-of-delta encoding where prices barely move, while a per-row scale
//!   needs no instrument metadata up front. `CHECK`s keep `price_m > 0` and `0 ≤ scale ≤ 18`.
//! - `ts_ingest` is tickrec's receive time of the frame (the second clock), not the insert time.
//! - `side` also allows `'unknown'` (venues that do not say).
//!
//! `quotes.seq` is the venue's update id when it sends one, else the exchange time, else the
//! receive time (µs); `quotes.ts` is the exchange time, else the receive time. For a venue that
//! sends no exchange time (Binance spot `bookTicker`) the key therefore holds the receive time:
//! retries and journal replays of the same event collapse, a second recorder's copy does not.
//! Book levels are `JSONB` arrays of `["price", "qty"]` exact strings.
//!
//! Views `trades_view`, `agg_trades_view`, `quotes_view` and `candles_view` show human numbers:
//! `tickrec_decimal(m, scale)` = `m::numeric / 10^scale`, computed exactly as a multiplication
//! by an exact power of ten so that the result has exactly `scale` digits (`0.35280000`).
//! Plain `m::numeric / 10::numeric ^ scale` rounds to 16 significant digits.
//!
//! # TimescaleDB
//! When `SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'` finds it, `migrate`
//! runs `CREATE EXTENSION IF NOT EXISTS timescaledb` (in a savepoint: missing privileges or a
//! missing `shared_preload_libraries` entry fall back to plain tables with a warning) and turns
//! the time tables into hypertables (`create_hypertable(…, if_not_exists => true,
//! migrate_data => true)`) on every run, so a server that gains the extension later is
//! converted. Otherwise tables stay plain and "timescaledb not available; using plain tables" is
//! logged once at INFO. TimescaleDB is never required.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio_postgres::Client;

use crate::error::StoreError;

/// The newest schema version this build knows (highest `tickrec_schema_version.version`).
pub const SCHEMA_VERSION: i32 = 3;

/// Advisory lock key held while migrating (`"tickrec"` in ASCII).
const MIGRATE_LOCK: i64 = 0x0074_6963_6b72_6563;

/// Time tables and their time column, turned into hypertables when TimescaleDB is there.
pub(crate) const HYPERTABLES: [(&str, &str); 6] = [
    ("trades", "ts_exchange"),
    ("agg_trades", "ts_exchange"),
    ("quotes", "ts"),
    ("candles", "open_time"),
    ("book_deltas", "ts_ingest"),
    ("book_snapshots", "ts_ingest"),
];

/// What [`migrate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Schema version found (0 = empty database).
    pub from: i32,
    /// Schema version now ([`SCHEMA_VERSION`]).
    pub to: i32,
    /// True when the time tables are TimescaleDB hypertables.
    pub timescaledb: bool,
}

/// `10^-s` for `s` in `0..=18`, each written with exactly `s` decimals, so that
/// `m::numeric * p[s + 1]` is exact and has exactly `s` digits after the point.
fn powers_literal() -> String {
    let mut s = String::from("'{1");
    for scale in 1..=18 {
        s.push_str(",0.");
        for _ in 1..scale {
            s.push('0');
        }
        s.push('1');
    }
    s.push_str("}'::numeric[]");
    s
}

/// DDL of schema version 1.
fn v1() -> String {
    let scale = |c: &str| format!("{c} SMALLINT NOT NULL CHECK ({c} BETWEEN 0 AND 18)");
    let mut sql = format!(
        r#"
CREATE OR REPLACE FUNCTION tickrec_decimal(m BIGINT, s SMALLINT) RETURNS NUMERIC
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT m::numeric * ({powers})[s + 1] $$;
COMMENT ON FUNCTION tickrec_decimal(BIGINT, SMALLINT) IS
    'Exact decimal of mantissa m and scale s (m / 10^s, exactly s decimals); NULL for s outside 0..18';

CREATE TABLE IF NOT EXISTS trades (
    ts_exchange  TIMESTAMPTZ NOT NULL,
    ts_ingest    TIMESTAMPTZ NOT NULL DEFAULT now(),
    venue        TEXT        NOT NULL,
    symbol       TEXT        NOT NULL CHECK (symbol <> ''),
    trade_id     BIGINT,
    trade_ref    TEXT,
    side         TEXT        NOT NULL CHECK (side IN ('buy', 'sell', 'unknown')),
    price_m      BIGINT      NOT NULL CHECK (price_m > 0),
    {price_scale},
    qty_m        BIGINT      NOT NULL CHECK (qty_m > 0),
    {qty_scale},
    CONSTRAINT trades_one_id CHECK ((trade_id IS NULL) <> (trade_ref IS NULL)),
    CONSTRAINT trades_key UNIQUE (venue, symbol, trade_id, ts_exchange)
);
CREATE UNIQUE INDEX IF NOT EXISTS trades_ref_key ON trades (venue, symbol, trade_ref, ts_exchange)
    WHERE trade_ref IS NOT NULL;
CREATE INDEX IF NOT EXISTS trades_symbol_time ON trades (symbol, ts_exchange DESC);

CREATE TABLE IF NOT EXISTS agg_trades (
    ts_exchange    TIMESTAMPTZ NOT NULL,
    ts_ingest      TIMESTAMPTZ NOT NULL DEFAULT now(),
    venue          TEXT        NOT NULL,
    symbol         TEXT        NOT NULL CHECK (symbol <> ''),
    agg_id         BIGINT,
    agg_ref        TEXT,
    side           TEXT        NOT NULL CHECK (side IN ('buy', 'sell', 'unknown')),
    price_m        BIGINT      NOT NULL CHECK (price_m > 0),
    {price_scale},
    qty_m          BIGINT      NOT NULL CHECK (qty_m > 0),
    {qty_scale},
    first_trade_id BIGINT      NOT NULL,
    last_trade_id  BIGINT      NOT NULL,
    CONSTRAINT agg_trades_one_id CHECK ((agg_id IS NULL) <> (agg_ref IS NULL)),
    CONSTRAINT agg_trades_id_range CHECK (last_trade_id >= first_trade_id),
    CONSTRAINT agg_trades_key UNIQUE (venue, symbol, agg_id, ts_exchange)
);
CREATE UNIQUE INDEX IF NOT EXISTS agg_trades_ref_key
    ON agg_trades (venue, symbol, agg_ref, ts_exchange) WHERE agg_ref IS NOT NULL;
CREATE INDEX IF NOT EXISTS agg_trades_symbol_time ON agg_trades (symbol, ts_exchange DESC);

CREATE TABLE IF NOT EXISTS quotes (
    ts          TIMESTAMPTZ NOT NULL,
    ts_exchange TIMESTAMPTZ,
    ts_ingest   TIMESTAMPTZ NOT NULL DEFAULT now(),
    venue       TEXT        NOT NULL,
    symbol      TEXT        NOT NULL CHECK (symbol <> ''),
    seq         BIGINT      NOT NULL,
    update_id   BIGINT,
    bid_price_m BIGINT      NOT NULL,
    {bid_price_scale},
    bid_qty_m   BIGINT      NOT NULL,
    {bid_qty_scale},
    ask_price_m BIGINT      NOT NULL,
    {ask_price_scale},
    ask_qty_m   BIGINT      NOT NULL,
    {ask_qty_scale},
    CONSTRAINT quotes_key UNIQUE (venue, symbol, seq, ts)
);
CREATE INDEX IF NOT EXISTS quotes_symbol_time ON quotes (symbol, ts DESC);

CREATE TABLE IF NOT EXISTS candles (
    open_time          TIMESTAMPTZ NOT NULL,
    venue              TEXT        NOT NULL,
    symbol             TEXT        NOT NULL CHECK (symbol <> ''),
    interval_s         INTEGER     NOT NULL CHECK (interval_s > 0),
    open_m             BIGINT      NOT NULL,
    {open_scale},
    high_m             BIGINT      NOT NULL,
    {high_scale},
    low_m              BIGINT      NOT NULL,
    {low_scale},
    close_m            BIGINT      NOT NULL,
    {close_scale},
    volume_m           BIGINT      NOT NULL CHECK (volume_m >= 0),
    {volume_scale},
    quote_volume_m     BIGINT,
    quote_volume_scale SMALLINT CHECK (quote_volume_scale BETWEEN 0 AND 18),
    trades             BIGINT,
    closed             BOOLEAN     NOT NULL,
    ts_exchange        TIMESTAMPTZ NOT NULL,
    ts_ingest          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT candles_key UNIQUE (venue, symbol, interval_s, open_time)
);

CREATE TABLE IF NOT EXISTS book_updates (
    ts_ingest       TIMESTAMPTZ NOT NULL DEFAULT now(),
    ts_exchange     TIMESTAMPTZ,
    venue           TEXT        NOT NULL,
    symbol          TEXT        NOT NULL CHECK (symbol <> ''),
    kind            TEXT        NOT NULL CHECK (kind IN ('snapshot', 'delta')),
    first_update_id BIGINT,
    last_update_id  BIGINT,
    bids            JSONB       NOT NULL,
    asks            JSONB       NOT NULL,
    checksum        BIGINT
);
CREATE INDEX IF NOT EXISTS book_updates_symbol_time ON book_updates (symbol, ts_ingest DESC);

CREATE TABLE IF NOT EXISTS rejects (
    id        BIGSERIAL   PRIMARY KEY,
    ts_ingest TIMESTAMPTZ NOT NULL DEFAULT now(),
    venue     TEXT        NOT NULL,
    symbol    TEXT,
    reason    TEXT        NOT NULL,
    detail    TEXT        NOT NULL,
    raw       BYTEA       NOT NULL
);
CREATE INDEX IF NOT EXISTS rejects_time ON rejects (ts_ingest);

CREATE TABLE IF NOT EXISTS data_quality_events (
    id          BIGSERIAL   PRIMARY KEY,
    venue       TEXT        NOT NULL,
    symbol      TEXT,
    kind        TEXT        NOT NULL,
    start_us    BIGINT      NOT NULL,
    end_us      BIGINT      NOT NULL,
    count       BIGINT      NOT NULL DEFAULT 0,
    detail      TEXT        NOT NULL DEFAULT '',
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT data_quality_events_range CHECK (end_us >= start_us)
);
CREATE INDEX IF NOT EXISTS data_quality_events_symbol_time
    ON data_quality_events (venue, symbol, start_us);
COMMENT ON TABLE data_quality_events IS
    'Gaps and anomalies that could not be repaired (times in µs since the epoch, UTC)';
"#,
        powers = powers_literal(),
        price_scale = scale("price_scale"),
        qty_scale = scale("qty_scale"),
        bid_price_scale = scale("bid_price_scale"),
        bid_qty_scale = scale("bid_qty_scale"),
        ask_price_scale = scale("ask_price_scale"),
        ask_qty_scale = scale("ask_qty_scale"),
        open_scale = scale("open_scale"),
        high_scale = scale("high_scale"),
        low_scale = scale("low_scale"),
        close_scale = scale("close_scale"),
        volume_scale = scale("volume_scale"),
    );
    let dec = |c: &str| format!("tickrec_decimal({c}_m, {c}_scale) AS {c}");
    sql.push_str(&format!(
        "CREATE OR REPLACE VIEW trades_view AS SELECT ts_exchange, ts_ingest, venue, symbol, \
         COALESCE(trade_id::text, trade_ref) AS trade_id, side, {}, {}, \
         price_m, price_scale, qty_m, qty_scale FROM trades;\n",
        dec("price"),
        dec("qty"),
    ));
    sql.push_str(&format!(
        "CREATE OR REPLACE VIEW agg_trades_view AS SELECT ts_exchange, ts_ingest, venue, symbol, \
         COALESCE(agg_id::text, agg_ref) AS agg_id, side, {}, {}, first_trade_id, last_trade_id, \
         price_m, price_scale, qty_m, qty_scale FROM agg_trades;\n",
        dec("price"),
        dec("qty"),
    ));
    sql.push_str(&format!(
        "CREATE OR REPLACE VIEW quotes_view AS SELECT ts, ts_exchange, ts_ingest, venue, symbol, \
         seq, update_id, {}, {}, {}, {} FROM quotes;\n",
        dec("bid_price"),
        dec("bid_qty"),
        dec("ask_price"),
        dec("ask_qty"),
    ));
    sql.push_str(&format!(
        "CREATE OR REPLACE VIEW candles_view AS SELECT open_time, venue, symbol, interval_s, \
         {}, {}, {}, {}, {}, {}, trades, closed, ts_exchange, ts_ingest FROM candles;\n",
        dec("open"),
        dec("high"),
        dec("low"),
        dec("close"),
        dec("volume"),
        dec("quote_volume"),
    ));
    sql
}

/// DDL of schema version 2: data-quality events written by the recorder itself (gaps, repairs,
/// reconnects), with the trade ids concerned, and a key so replays from the journal collapse.
fn v2() -> String {
    r#"
ALTER TABLE data_quality_events
    ADD COLUMN IF NOT EXISTS from_id   BIGINT,
    ADD COLUMN IF NOT EXISTS to_id     BIGINT,
    ADD COLUMN IF NOT EXISTS ts_ingest TIMESTAMPTZ;
CREATE UNIQUE INDEX IF NOT EXISTS data_quality_events_key
    ON data_quality_events (venue, COALESCE(symbol, ''), kind, start_us, ts_ingest);
COMMENT ON TABLE data_quality_events IS
    'What the recorder detected (gaps, reconnects, stale sockets), repaired (backfills) and could not repair; times in µs since the epoch, UTC';
"#
    .to_string()
}

/// DDL of schema version 3: order books (issue 6). `book_updates` becomes `book_deltas` with a
/// `verified` flag and a content hash that, with the market and the receive time, is its key (a
/// journal replay is a duplicate); `book_snapshots` holds the top of the recorder's own book.
fn v3() -> String {
    r#"
ALTER TABLE IF EXISTS book_updates RENAME TO book_deltas;
ALTER INDEX IF EXISTS book_updates_symbol_time RENAME TO book_deltas_symbol_time;
ALTER TABLE book_deltas
    ADD COLUMN IF NOT EXISTS verified BOOLEAN,
    ADD COLUMN IF NOT EXISTS msg_hash BIGINT;
CREATE UNIQUE INDEX IF NOT EXISTS book_deltas_key
    ON book_deltas (venue, symbol, ts_ingest, msg_hash);
CREATE TABLE IF NOT EXISTS book_snapshots (
    ts_ingest      TIMESTAMPTZ NOT NULL,
    ts_exchange    TIMESTAMPTZ,
    venue          TEXT        NOT NULL,
    symbol         TEXT        NOT NULL CHECK (symbol <> ''),
    last_update_id BIGINT,
    bids           JSONB       NOT NULL,
    asks           JSONB       NOT NULL,
    verified       BOOLEAN     NOT NULL,
    digest         BIGINT      NOT NULL,
    CONSTRAINT book_snapshots_key UNIQUE (venue, symbol, ts_ingest)
);
COMMENT ON TABLE book_deltas IS
    'Every venue book snapshot and delta, levels as [price, qty] exact strings; verified = applied to an in-sync, checksum-verified book';
COMMENT ON TABLE book_snapshots IS
    'Top levels of the recorder''s book every book_snapshot_ms, with a digest of the whole book';
"#
    .to_string()
}

/// DDL of the query indexes (query crate, issue 8): market/time indexes in the order window scans
/// read — `(venue, symbol, ts_exchange, id, ref)` carrying price, quantity and side — so a window
/// is one ordered index scan (index-only once vacuumed) instead of a table scan and a sort.
fn query_indexes_sql() -> String {
    let mut sql = String::new();
    for (table, id, text_id) in [
        ("trades", "trade_id", "trade_ref"),
        ("agg_trades", "agg_id", "agg_ref"),
    ] {
        sql.push_str(&format!(
            "CREATE INDEX IF NOT EXISTS {table}_market_time ON {table} \
             (venue, symbol, ts_exchange, {id}, {text_id}) \
             INCLUDE (price_m, price_scale, qty_m, qty_scale, side);\n"
        ));
    }
    sql
}

/// DDL that brings a database from version `to - 1` to version `to`.
fn migration(to: i32) -> Option<String> {
    match to {
        1 => Some(v1()),
        2 => Some(v2()),
        3 => Some(v3()),
        _ => None,
    }
}

/// Creates the query crate's window indexes if they are missing (see the module docs). Idempotent;
/// on a large table the first call builds them, which takes a while once.
///
/// # Errors
/// [`StoreError::Postgres`] when the server refuses (e.g. no `CREATE` privilege).
pub async fn ensure_query_indexes(client: &Client) -> Result<(), StoreError> {
    client.batch_execute(&query_indexes_sql()).await?;
    Ok(())
}

const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS tickrec_schema_version (
    version    INTEGER     PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    tickrec    TEXT        NOT NULL
)";

/// Set once "timescaledb not available" has been logged by this process.
static LOGGED_NO_TIMESCALE: AtomicBool = AtomicBool::new(false);

/// Brings the database to [`SCHEMA_VERSION`] (see the module docs); safe to call any number of
/// times and from several processes at once. Needs the privileges to create tables (and, for
/// TimescaleDB, the extension) in the current schema. `client` must not be inside a
/// transaction.
///
/// # Errors
/// [`StoreError::PostgresSchema`] when the database was written by a newer tickrec (or has a
/// version this build cannot migrate), [`StoreError::Postgres`] otherwise (e.g. 42501 missing
/// privileges: fatal).
pub async fn migrate(client: &Client) -> Result<Migration, StoreError> {
    let from = current_version(client).await?;
    while let Some(version) = in_transaction(client, migrate_one(client)).await? {
        tracing::info!(version, "postgres schema migrated");
    }
    let timescaledb = in_transaction(client, ensure_hypertables(client)).await?;
    Ok(Migration {
        from,
        to: SCHEMA_VERSION,
        timescaledb,
    })
}

/// Runs `body` between `BEGIN` and `COMMIT`; rolls back when it fails.
async fn in_transaction<T>(
    client: &Client,
    body: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    client.batch_execute("BEGIN").await?;
    match body.await {
        Ok(v) => {
            client.batch_execute("COMMIT").await?;
            Ok(v)
        }
        Err(e) => {
            if let Err(r) = client.batch_execute("ROLLBACK").await {
                tracing::warn!(error = %crate::error::pg_error_text(&r), "rollback failed");
            }
            Err(e)
        }
    }
}

/// Under the migration lock: applies the next migration and returns its version, or `None`
/// when the database is current.
async fn migrate_one(client: &Client) -> Result<Option<i32>, StoreError> {
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
        .await?;
    client.batch_execute(CREATE_VERSION_TABLE).await?;
    let current: i32 = client
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM tickrec_schema_version",
            &[],
        )
        .await?
        .try_get(0)?;
    check_version(current)?;
    if current == SCHEMA_VERSION {
        return Ok(None);
    }
    let to = current + 1;
    let sql = migration(to).ok_or_else(|| {
        StoreError::PostgresSchema(format!("no migration from version {current} to {to}"))
    })?;
    client.batch_execute(&sql).await?;
    client
        .execute(
            "INSERT INTO tickrec_schema_version (version, tickrec) VALUES ($1, $2)",
            &[&to, &env!("CARGO_PKG_VERSION")],
        )
        .await?;
    Ok(Some(to))
}

/// The newest applied schema version (0 when `tickrec_schema_version` does not exist).
///
/// # Errors
/// [`StoreError::Postgres`].
pub async fn current_version(client: &Client) -> Result<i32, StoreError> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('tickrec_schema_version') IS NOT NULL",
            &[],
        )
        .await?
        .try_get(0)?;
    if !exists {
        return Ok(0);
    }
    Ok(client
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM tickrec_schema_version",
            &[],
        )
        .await?
        .try_get(0)?)
}

/// Refuses a database of a newer tickrec or a nonsensical version.
pub(crate) fn check_version(found: i32) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::PostgresSchema(format!(
            "database has schema version {found}, newer than version {SCHEMA_VERSION} known to \
             this tickrec; refusing to write to it (upgrade tickrec, or point [postgres] uri at \
             another database)"
        )));
    }
    if found < 0 {
        return Err(StoreError::PostgresSchema(format!(
            "negative schema version {found} in tickrec_schema_version"
        )));
    }
    Ok(())
}

/// Inside a transaction: creates the TimescaleDB extension when the server has it and makes
/// the time tables hypertables; returns whether they are. Without the extension, logs once
/// (per process) and returns false.
async fn ensure_hypertables(client: &Client) -> Result<bool, StoreError> {
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
        .await?;
    let installed: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')",
            &[],
        )
        .await?
        .try_get(0)?;
    let available: bool = installed
        || client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')",
                &[],
            )
            .await?
            .try_get(0)?;
    if !available {
        if !LOGGED_NO_TIMESCALE.swap(true, Ordering::Relaxed) {
            tracing::info!("timescaledb not available; using plain tables");
        }
        return Ok(false);
    }
    if !installed {
        // Present on disk but maybe not loadable (shared_preload_libraries) or not ours to
        // create (privileges): fall back to plain tables rather than refuse to record.
        client
            .batch_execute("SAVEPOINT tickrec_timescaledb")
            .await?;
        if let Err(e) = client
            .batch_execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            .await
        {
            client
                .batch_execute("ROLLBACK TO SAVEPOINT tickrec_timescaledb")
                .await?;
            tracing::warn!(
                error = %crate::error::pg_error_text(&e),
                "timescaledb is available but CREATE EXTENSION failed; using plain tables"
            );
            return Ok(false);
        }
        client
            .batch_execute("RELEASE SAVEPOINT tickrec_timescaledb")
            .await?;
    }
    for (table, column) in HYPERTABLES {
        client
            .execute(
                "SELECT create_hypertable($1::text::regclass, $2::text::name, \
                 if_not_exists => true, migrate_data => true)",
                &[&table, &column],
            )
            .await?;
    }
    tracing::info!(tables = ?HYPERTABLES.map(|(t, _)| t), "timescaledb hypertables ready");
    Ok(true)
}
