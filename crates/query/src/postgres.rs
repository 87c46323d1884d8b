//! The PostgreSQL backend of [`crate::Tape`] (feature `postgres`): the same scans and pages over
//! the PostgreSQL sink's tables (`ts_exchange TIMESTAMPTZ`, mantissa + scale columns, numeric ids
//! in `trade_id`/`agg_id`, text ids in `trade_ref`/`agg_ref`). Rows are streamed, never collected;
//! times are converted to µs in SQL exactly (`EXTRACT(EPOCH …)` is `numeric`). The client runs on
//! a private single-thread runtime, so callers stay synchronous like the SQLite path.
//! PostgreSQL stores no receive time (only `ts_ingest`, the database's clock), so trade pages
//! carry none.

use std::pin::pin;

use futures_util::StreamExt;
use tickrec_model::time::format_rfc3339_us;
use tickrec_store::postgres::PostgresConfig;
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use crate::candles::VenueCandle;
use crate::error::QueryError;
use crate::exact::Exact;
use crate::params::{Market, Window};
use crate::tape::{decimal, ScannedTrade, Table};
use crate::trades::{Cursor, StoredId, TradeRow};

/// `ts_exchange` as µs since the epoch, exactly.
const TS_US: &str = "(EXTRACT(EPOCH FROM ts_exchange) * 1000000)::int8";
/// A µs bind parameter as a `timestamptz` (µs counts stay below 2⁵³, so the float is exact).
fn ts_param(n: usize) -> String {
    format!("(timestamptz 'epoch' + ${n}::int8 * interval '1 microsecond')")
}

/// A connected PostgreSQL reader.
pub struct PgTape {
    rt: tokio::runtime::Runtime,
    client: Client,
}

fn pg_err(e: tokio_postgres::Error) -> QueryError {
    QueryError::Store(tickrec_store::StoreError::Postgres(e))
}

/// The numeric and text id columns of a table.
fn ids(table: Table) -> (&'static str, &'static str) {
    match table {
        Table::Trades => ("trade_id", "trade_ref"),
        Table::AggTrades => ("agg_id", "agg_ref"),
    }
}

impl PgTape {
    /// Connects with the sink's configuration.
    ///
    /// # Errors
    /// [`QueryError::Store`].
    pub fn connect(cfg: &PostgresConfig) -> Result<PgTape, QueryError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| QueryError::Store(tickrec_store::StoreError::Thread(e.to_string())))?;
        let client = rt.block_on(tickrec_store::postgres::connect(cfg))?;
        // The window indexes are built on first use, not by the sink's migrations: a database
        // that is only written does not pay for them.
        rt.block_on(tickrec_store::postgres::ensure_query_indexes(&client))?;
        Ok(PgTape { rt, client })
    }

    pub(crate) fn has_rows(&self, table: &str, m: &Market) -> Result<bool, QueryError> {
        let sql = format!("SELECT 1 FROM {table} WHERE venue = $1 AND symbol = $2 LIMIT 1");
        let rows = self
            .rt
            .block_on(self.client.query(&sql, &[&m.venue, &m.symbol]))
            .map_err(pg_err)?;
        Ok(!rows.is_empty())
    }

    /// Streams the window in `(time, numeric id, text id)` order into `f`.
    pub(crate) fn scan(
        &self,
        table: Table,
        m: &Market,
        w: Window,
        f: &mut dyn FnMut(&ScannedTrade) -> Result<(), QueryError>,
    ) -> Result<u64, QueryError> {
        let (num, text) = ids(table);
        let sql = format!(
            "SELECT {TS_US}, price_m, price_scale, qty_m, qty_scale, side FROM {t} \
             WHERE venue = $1 AND symbol = $2 AND ts_exchange >= {from} AND ts_exchange < {to} \
             ORDER BY ts_exchange, {num} NULLS LAST, {text}",
            t = table.name(),
            from = ts_param(3),
            to = ts_param(4),
        );
        let (from, to) = (w.from_us(), w.to_us());
        let params: [&(dyn ToSql + Sync); 4] = [&m.venue, &m.symbol, &from, &to];
        self.rt.block_on(async {
            let stream = self.client.query_raw(&sql, params).await.map_err(pg_err)?;
            let mut stream = pin!(stream);
            let mut n = 0u64;
            while let Some(row) = stream.next().await {
                let r = row.map_err(pg_err)?;
                let price = decimal(r.get(1), i64::from(r.get::<_, i16>(2)))?;
                let qty = decimal(r.get(3), i64::from(r.get::<_, i16>(4)))?;
                f(&ScannedTrade {
                    ts_us: r.get(0),
                    price,
                    price_units: Exact::from_decimal(price),
                    qty,
                    qty_units: Exact::from_decimal(qty),
                    side: side_text(r.get(5))?,
                })?;
                n += 1;
            }
            Ok(n)
        })
    }

    /// Up to `n` rows strictly after `after`, in the scan's order.
    pub(crate) fn page_rows(
        &self,
        table: Table,
        m: &Market,
        w: Window,
        after: Option<&Cursor>,
        n: usize,
    ) -> Result<Vec<TradeRow>, QueryError> {
        let (num, text) = ids(table);
        let start = after.map_or(w.from_us(), |c| c.ts_us);
        let (after_num, after_text): (Option<i64>, Option<String>) = match after.map(|c| &c.id) {
            Some(StoredId::Num(v)) => (Some(*v), None),
            Some(StoredId::Text(t)) => (None, Some(t.clone())),
            None => (None, None),
        };
        // Strictly after the cursor in (time, numeric ids first, then text ids) order; rows
        // before the cursor's time are already outside the range (it starts there). $5/$6 are
        // bound either way, so they are typed even without a cursor.
        let cursor_sql = match after {
            None => "AND $5::int8 IS NULL AND $6::text IS NULL".to_string(),
            Some(_) => format!(
                "AND (ts_exchange > {ts} OR ($5::int8 IS NOT NULL AND ({num} > $5 OR {num} IS NULL)) \
                 OR ($6::text IS NOT NULL AND {num} IS NULL AND {text} > $6))",
                ts = ts_param(3)
            ),
        };
        let sql = format!(
            "SELECT {TS_US}, {num}, {text}, price_m, price_scale, qty_m, qty_scale, side FROM {t} \
             WHERE venue = $1 AND symbol = $2 AND ts_exchange >= {from} AND ts_exchange < {to} \
             {cursor_sql} ORDER BY ts_exchange, {num} NULLS LAST, {text} LIMIT $7",
            t = table.name(),
            from = ts_param(3),
            to = ts_param(4),
        );
        let limit = i64::try_from(n).unwrap_or(i64::MAX);
        let to = w.to_us();
        let rows = self
            .rt
            .block_on(self.client.query(
                &sql,
                &[
                    &m.venue,
                    &m.symbol,
                    &start,
                    &to,
                    &after_num,
                    &after_text,
                    &limit,
                ],
            ))
            .map_err(pg_err)?;
        rows.iter()
            .map(|r| {
                let ts: i64 = r.get(0);
                let id = match (r.get::<_, Option<i64>>(1), r.get::<_, Option<String>>(2)) {
                    (Some(v), _) => StoredId::Num(v),
                    (None, Some(t)) => StoredId::Text(t),
                    (None, None) => return Err(QueryError::CorruptRow("trade without id".into())),
                };
                Ok(TradeRow {
                    time: format_rfc3339_us(ts),
                    ts_exchange_us: ts,
                    ts_recv_us: None,
                    id,
                    price: decimal(r.get(3), i64::from(r.get::<_, i16>(4)))?,
                    qty: decimal(r.get(5), i64::from(r.get::<_, i16>(6)))?,
                    side: side_text(r.get(7))?,
                })
            })
            .collect()
    }

    /// The venue's candles of the window.
    pub(crate) fn venue_candles(
        &self,
        m: &Market,
        w: Window,
        interval_s: i64,
    ) -> Result<Vec<VenueCandle>, QueryError> {
        let sql = format!(
            "SELECT (EXTRACT(EPOCH FROM open_time) * 1000000)::int8, open_m, open_scale, high_m, \
             high_scale, low_m, low_scale, close_m, close_scale, volume_m, volume_scale, \
             quote_volume_m, quote_volume_scale, trades, closed FROM candles \
             WHERE venue = $1 AND symbol = $2 AND interval_s = $5::int4 \
             AND open_time >= {from} AND open_time < {to} ORDER BY open_time",
            from = ts_param(3),
            to = ts_param(4),
        );
        let interval = i32::try_from(interval_s)
            .map_err(|_| QueryError::invalid("interval", "out of range"))?;
        let (from, to) = (w.from_us(), w.to_us());
        let rows = self
            .rt
            .block_on(
                self.client
                    .query(&sql, &[&m.venue, &m.symbol, &from, &to, &interval]),
            )
            .map_err(pg_err)?;
        let dec = |r: &tokio_postgres::Row, i: usize| -> Result<_, QueryError> {
            decimal(r.get(i), i64::from(r.get::<_, i16>(i + 1)))
        };
        rows.iter()
            .map(|r| {
                let open_time_us: i64 = r.get(0);
                let quote_volume = match (r.get::<_, Option<i64>>(11), r.get::<_, Option<i16>>(12))
                {
                    (Some(m), Some(s)) => Some(decimal(m, i64::from(s))?),
                    _ => None,
                };
                Ok(VenueCandle {
                    open_time: format_rfc3339_us(open_time_us),
                    open_time_us,
                    open: dec(r, 1)?,
                    high: dec(r, 3)?,
                    low: dec(r, 5)?,
                    close: dec(r, 7)?,
                    volume: dec(r, 9)?,
                    quote_volume,
                    trades: r.get(13),
                    closed: r.get(14),
                })
            })
            .collect()
    }
}

fn side_text(s: &str) -> Result<tickrec_model::Side, QueryError> {
    match s {
        "buy" => Ok(tickrec_model::Side::Buy),
        "sell" => Ok(tickrec_model::Side::Sell),
        "unknown" => Ok(tickrec_model::Side::Unknown),
        other => Err(QueryError::CorruptRow(format!("side {other:?}"))),
    }
}
