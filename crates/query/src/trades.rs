//! Trades in a window, one bounded page at a time, paged by `(exchange time, id)`: the cursor of
//! a page is its last row, so pages never overlap or skip rows even when many trades share a
//! timestamp.

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use tickrec_model::{time::format_rfc3339_us, Decimal, Side};

use crate::error::QueryError;
use crate::params::{Market, Window};
use rusqlite::Connection;

use crate::tape::{decimal, side, Backend, Table, Tape};

/// Largest page.
pub const MAX_PAGE: usize = 10_000;
/// Page size when none is asked for.
pub const DEFAULT_PAGE: usize = 1_000;

/// A stored trade id: numeric for most venues, text for UUID venues.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum StoredId {
    /// Integer id.
    Num(i64),
    /// Text id.
    Text(String),
}

/// Where the next page starts: strictly after this `(exchange time, id)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Exchange time of the last row returned, µs.
    pub ts_us: i64,
    /// Id of the last row returned.
    pub id: StoredId,
}

impl Cursor {
    /// The opaque text form: `<ts_us>:n:<id>` or `<ts_us>:s:<id>`.
    pub fn encode(&self) -> String {
        match &self.id {
            StoredId::Num(n) => format!("{}:n:{n}", self.ts_us),
            StoredId::Text(s) => format!("{}:s:{s}", self.ts_us),
        }
    }

    /// Parses [`Cursor::encode`]'s form.
    ///
    /// # Errors
    /// [`QueryError::InvalidParam`] (`after`).
    pub fn decode(s: &str) -> Result<Cursor, QueryError> {
        let bad = || {
            QueryError::invalid(
                "after",
                format!("{s:?} is not a cursor from a previous page"),
            )
        };
        let mut parts = s.splitn(3, ':');
        let ts_us = parts.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
        let id = match (parts.next(), parts.next()) {
            (Some("n"), Some(n)) => StoredId::Num(n.parse().map_err(|_| bad())?),
            (Some("s"), Some(t)) => StoredId::Text(t.to_string()),
            _ => return Err(bad()),
        };
        Ok(Cursor { ts_us, id })
    }
}

/// One stored trade.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TradeRow {
    /// Exchange time, RFC 3339 with µs.
    pub time: String,
    /// Exchange time, µs since the epoch.
    pub ts_exchange_us: i64,
    /// Local receive time, µs since the epoch (PostgreSQL stores no receive time: `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts_recv_us: Option<i64>,
    /// The venue's trade id (aggregate id for `agg_trades`).
    pub id: StoredId,
    /// Exact price (venue digits).
    pub price: Decimal,
    /// Exact quantity (venue digits).
    pub qty: Decimal,
    /// Taker side.
    #[serde(serialize_with = "crate::tape::serialize_side")]
    pub side: Side,
}

/// One page of trades.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TradePage {
    /// The table read.
    pub table: Table,
    /// The rows, in `(exchange time, id)` order.
    pub trades: Vec<TradeRow>,
    /// Pass as `after` to get the next page; `None` when the window is exhausted.
    pub next: Option<String>,
}

/// Reads at most `limit` (1..=[`MAX_PAGE`]) trades of the window, strictly after `after`.
///
/// # Errors
/// [`QueryError::InvalidParam`] for a bad limit, [`QueryError::UnknownMarket`], SQLite failures.
pub fn trades_page(
    tape: &Tape,
    m: &Market,
    w: Window,
    after: Option<&Cursor>,
    limit: usize,
) -> Result<TradePage, QueryError> {
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(QueryError::invalid(
            "limit",
            format!("{limit} is not in 1..={MAX_PAGE}"),
        ));
    }
    let table = tape.resolve(m)?;
    // A cursor before the window changes nothing.
    let after = after.filter(|c| c.ts_us >= w.from_us());
    let mut trades = match tape.backend() {
        Backend::Sqlite(conn) => sqlite_rows(conn, table, m, w, after, limit + 1)?,
        #[cfg(feature = "postgres")]
        Backend::Postgres(pg) => pg.page_rows(table, m, w, after, limit + 1)?,
    };
    let more = trades.len() > limit;
    trades.truncate(limit);
    let next = match (more, trades.last()) {
        (true, Some(last)) => Some(
            Cursor {
                ts_us: last.ts_exchange_us,
                id: last.id.clone(),
            }
            .encode(),
        ),
        _ => None,
    };
    Ok(TradePage {
        table,
        trades,
        next,
    })
}

/// Up to `n` rows of the window strictly after `after`, from SQLite.
fn sqlite_rows(
    conn: &Connection,
    table: Table,
    m: &Market,
    w: Window,
    after: Option<&Cursor>,
    n: usize,
) -> Result<Vec<TradeRow>, QueryError> {
    let id = table.id_column();
    // With a cursor, the row value `(ts, id) > (…)` is the index range's lower bound, so deep
    // pages cost no more than the first.
    let cursor_sql = if after.is_some() {
        format!("AND (ts_exchange_us, {id}) > (?5, ?6)")
    } else {
        "AND ?5 IS NULL AND ?6 IS NULL".to_string()
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT ts_exchange_us, {id}, price_m, price_scale, qty_m, qty_scale, side, ts_recv_us \
         FROM {t} WHERE venue = ?1 AND symbol = ?2 AND ts_exchange_us >= ?3 AND ts_exchange_us < ?4 \
         {cursor_sql} ORDER BY ts_exchange_us, {id} LIMIT ?7",
        t = table.name()
    ))?;
    let start = after.map_or(w.from_us(), |c| c.ts_us);
    let (after_ts, after_id) = match after {
        Some(c) => (
            Value::Integer(c.ts_us),
            match &c.id {
                StoredId::Num(n) => Value::Integer(*n),
                StoredId::Text(t) => Value::Text(t.clone()),
            },
        ),
        None => (Value::Null, Value::Null),
    };
    let mut rows = stmt.query(rusqlite::params![
        m.venue,
        m.symbol,
        start,
        w.to_us(),
        ToSqlOutput::Owned(after_ts),
        ToSqlOutput::Owned(after_id),
        i64::try_from(n).unwrap_or(i64::MAX)
    ])?;
    let mut out = Vec::with_capacity(n.min(1024));
    while let Some(r) = rows.next()? {
        let ts: i64 = r.get(0)?;
        let id = match r.get_ref(1)? {
            ValueRef::Integer(n) => StoredId::Num(n),
            ValueRef::Text(t) => StoredId::Text(String::from_utf8_lossy(t).into_owned()),
            other => return Err(QueryError::CorruptRow(format!("trade id {other:?}"))),
        };
        out.push(TradeRow {
            time: format_rfc3339_us(ts),
            ts_exchange_us: ts,
            ts_recv_us: Some(r.get(7)?),
            id,
            price: decimal(r.get(2)?, r.get(3)?)?,
            qty: decimal(r.get(4)?, r.get(5)?)?,
            side: side(r.get_ref(6)?)?,
        });
    }
    Ok(out)
}
