//! Where to resume: the last stored trade per market, so that after a restart the first live
//! trade reveals (and backfill repairs) what happened while the recorder was down.

use rusqlite::Connection;

use crate::error::StoreError;

/// The newest stored numeric trade id of one market and id space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastTrade {
    /// Venue name as stored (`binance`).
    pub venue: String,
    /// Unified symbol.
    pub symbol: String,
    /// True for `agg_trades` (Binance aggregate ids), false for `trades`.
    pub aggregate: bool,
    /// Highest numeric id stored.
    pub trade_id: u64,
    /// Its exchange time, µs.
    pub ts_exchange_us: i64,
}

/// Reads the last numeric trade id per (venue, symbol) from `trades` and `agg_trades`.
///
/// # Errors
/// [`StoreError`] when the database cannot be queried.
pub fn last_trades(conn: &Connection) -> Result<Vec<LastTrade>, StoreError> {
    let mut out = Vec::new();
    for (table, id, aggregate) in [
        ("trades", "trade_id", false),
        ("agg_trades", "agg_id", true),
    ] {
        // Text ids (UUIDs) have no order to resume from.
        let sql = format!(
            "SELECT t.venue, t.symbol, t.{id}, t.ts_exchange_us FROM {table} t \
             JOIN (SELECT venue, symbol, max({id}) AS m FROM {table} \
                   WHERE typeof({id}) = 'integer' GROUP BY venue, symbol) x \
             ON t.venue = x.venue AND t.symbol = x.symbol AND t.{id} = x.m"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| {
            Ok(LastTrade {
                venue: r.get(0)?,
                symbol: r.get(1)?,
                aggregate,
                trade_id: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                ts_exchange_us: r.get(3)?,
            })
        })?;
        for row in rows {
            out.push(row?);
        }
    }
    Ok(out)
}
