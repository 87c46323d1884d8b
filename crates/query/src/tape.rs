//! [`Tape`]: read access to the stored trade tape of an SQLite store (read-only connection, so a
//! query never blocks the recorder's writer beyond SQLite's WAL rules).
//!
//! Window scans read the covering index `trades_market_ts` / `agg_trades_market_ts` (schema
//! version 3): `(venue, symbol, ts_exchange_us, id, price, qty, side)`, so a scan is one
//! sequential walk of index pages in `(ts_exchange_us, id)` order, with no table lookups.

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use tickrec_model::{Decimal, Side};

use crate::error::QueryError;
use crate::exact::Exact;
use crate::params::{Market, Source, Window};

/// A stored trade table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// `trades`.
    Trades,
    /// `agg_trades`.
    AggTrades,
}

impl Table {
    /// The SQL table name.
    pub const fn name(self) -> &'static str {
        match self {
            Table::Trades => "trades",
            Table::AggTrades => "agg_trades",
        }
    }

    /// The id column (`trade_id` / `agg_id`).
    pub const fn id_column(self) -> &'static str {
        match self {
            Table::Trades => "trade_id",
            Table::AggTrades => "agg_id",
        }
    }
}

/// One trade as a window scan yields it: exact values, both as the stored decimal (venue digits)
/// and as scale-18 units for arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScannedTrade {
    /// Exchange time, µs.
    pub ts_us: i64,
    /// Price as stored.
    pub price: Decimal,
    /// Price in scale-18 units.
    pub price_units: Exact,
    /// Quantity as stored.
    pub qty: Decimal,
    /// Quantity in scale-18 units.
    pub qty_units: Exact,
    /// Taker side.
    pub side: Side,
}

/// Where the rows are read from.
pub(crate) enum Backend {
    /// An SQLite store (read-only connection).
    Sqlite(Connection),
    /// A PostgreSQL store.
    #[cfg(feature = "postgres")]
    Postgres(crate::postgres::PgTape),
}

/// Read access to a store: SQLite, or PostgreSQL with the `postgres` feature.
pub struct Tape {
    backend: Backend,
}

impl Tape {
    /// Opens the SQLite store at `path` read-only (it must exist; the schema must not be newer
    /// than this build).
    ///
    /// # Errors
    /// [`QueryError::Store`] when it cannot be opened.
    pub fn open(path: impl AsRef<Path>) -> Result<Tape, QueryError> {
        Ok(Tape {
            backend: Backend::Sqlite(tickrec_store::open_read_only(path)?),
        })
    }

    /// Wraps an open SQLite connection.
    pub fn from_connection(conn: Connection) -> Tape {
        Tape {
            backend: Backend::Sqlite(conn),
        }
    }

    /// Connects to the PostgreSQL store of `cfg` (on a private single-thread runtime; call from
    /// a thread that is not running async code, e.g. `spawn_blocking`).
    ///
    /// # Errors
    /// [`QueryError::Store`] when the server cannot be reached.
    #[cfg(feature = "postgres")]
    pub fn connect_postgres(
        cfg: &tickrec_store::postgres::PostgresConfig,
    ) -> Result<Tape, QueryError> {
        Ok(Tape {
            backend: Backend::Postgres(crate::postgres::PgTape::connect(cfg)?),
        })
    }

    /// The backend, for the query modules.
    pub(crate) fn backend(&self) -> &Backend {
        &self.backend
    }

    fn has_rows(&self, table: &str, m: &Market) -> Result<bool, QueryError> {
        match &self.backend {
            Backend::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT 1 FROM {table} WHERE venue = ?1 AND symbol = ?2 LIMIT 1"
                ))?;
                Ok(stmt.exists([&m.venue, &m.symbol])?)
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(pg) => pg.has_rows(table, m),
        }
    }

    /// Which table holds the market's trades (`auto` prefers `trades`).
    ///
    /// # Errors
    /// [`QueryError::UnknownMarket`] when the chosen table(s) hold nothing for it.
    pub fn resolve(&self, m: &Market) -> Result<Table, QueryError> {
        let candidates: &[Table] = match m.source {
            Source::Auto => &[Table::Trades, Table::AggTrades],
            Source::Trades => &[Table::Trades],
            Source::AggTrades => &[Table::AggTrades],
        };
        for &t in candidates {
            if self.has_rows(t.name(), m)? {
                return Ok(t);
            }
        }
        Err(self.unknown(m))
    }

    /// True when the venue's own candles are stored for the market.
    ///
    /// # Errors
    /// Store failures.
    pub fn has_candles(&self, m: &Market) -> Result<bool, QueryError> {
        self.has_rows("candles", m)
    }

    pub(crate) fn unknown(&self, m: &Market) -> QueryError {
        QueryError::UnknownMarket {
            venue: m.venue.clone(),
            symbol: m.symbol.clone(),
        }
    }

    /// Calls `f` for every trade of the market in the window, in `(exchange time, id)` order, and
    /// returns how many there were.
    ///
    /// # Errors
    /// [`QueryError::UnknownMarket`], SQLite failures, corrupt rows, or `f`'s error.
    pub fn scan<F>(&self, m: &Market, w: Window, mut f: F) -> Result<(Table, u64), QueryError>
    where
        F: FnMut(&ScannedTrade) -> Result<(), QueryError>,
    {
        let table = self.resolve(m)?;
        // One arm without the `postgres` feature.
        #[allow(clippy::infallible_destructuring_match)]
        let conn = match &self.backend {
            Backend::Sqlite(conn) => conn,
            #[cfg(feature = "postgres")]
            Backend::Postgres(pg) => return Ok((table, pg.scan(table, m, w, &mut f)?)),
        };
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT ts_exchange_us, price_m, price_scale, qty_m, qty_scale, side FROM {t} \
             WHERE venue = ?1 AND symbol = ?2 AND ts_exchange_us >= ?3 AND ts_exchange_us < ?4 \
             ORDER BY ts_exchange_us, {id}",
            t = table.name(),
            id = table.id_column()
        ))?;
        let mut rows = stmt.query(rusqlite::params![m.venue, m.symbol, w.from_us(), w.to_us()])?;
        let mut n = 0u64;
        while let Some(r) = rows.next()? {
            let price = decimal(r.get(1)?, r.get(2)?)?;
            let qty = decimal(r.get(3)?, r.get(4)?)?;
            let t = ScannedTrade {
                ts_us: r.get(0)?,
                price,
                price_units: Exact::from_decimal(price),
                qty,
                qty_units: Exact::from_decimal(qty),
                side: side(r.get_ref(5)?)?,
            };
            f(&t)?;
            n += 1;
        }
        Ok((table, n))
    }
}

/// A stored mantissa + scale as a [`Decimal`].
pub(crate) fn decimal(m: i64, scale: i64) -> Result<Decimal, QueryError> {
    u8::try_from(scale)
        .ok()
        .and_then(|s| Decimal::new(m, s).ok())
        .ok_or_else(|| QueryError::CorruptRow(format!("scale {scale} out of 0..=18")))
}

/// A stored side.
pub(crate) fn side(v: ValueRef<'_>) -> Result<Side, QueryError> {
    match v {
        ValueRef::Text(b"buy") => Ok(Side::Buy),
        ValueRef::Text(b"sell") => Ok(Side::Sell),
        ValueRef::Text(b"unknown") => Ok(Side::Unknown),
        other => Err(QueryError::CorruptRow(format!("side {other:?}"))),
    }
}

/// Serializes a [`Side`] as `buy`, `sell` or `unknown`.
pub(crate) fn serialize_side<S: serde::Serializer>(side: &Side, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(side.as_str())
}
