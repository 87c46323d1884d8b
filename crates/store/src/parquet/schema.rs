//! Which SQLite tables are archived, and their Parquet (Arrow) columns.
//!
//! # Exact numbers
//! Prices and quantities are Arrow/Parquet `Decimal128(18, s)` (Parquet logical type `DECIMAL`,
//! physical `INT64`; `Decimal128(38, s)` / `FIXED_LEN_BYTE_ARRAY(16)` only in a file holding a value
//! of more than 18 digits): DuckDB reads them as `DECIMAL(18, s)`, Polars as `Decimal`,
//! pandas/pyarrow as `decimal.Decimal` — exact, never a float. `s` is the largest scale
//! of that column in the file; rows with fewer digits are rescaled exactly (`0.35` with `s = 8`
//! is `0.35000000`: trailing zeros are the only thing not kept). The scale of every decimal column
//! is also listed in the file's key/value metadata (`tickrec.decimal_scales`).
//!
//! # Other columns
//! Timestamps are `TIMESTAMP(MICROS, UTC)` (`ts_exchange`, `ts_recv`, `open_time`). Trade ids are
//! `trade_id` (`INT64`, null for venues with non-numeric ids) plus `trade_id_text` (the id when it is
//! not a number), so the schema is the same in every file. Book levels stay the SQLite text: JSON
//! arrays of `["price","qty"]` exact strings.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{Array, ArrayRef, Decimal128Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use rusqlite::types::ValueRef;
use rusqlite::Row;

use super::error::ArchiveError;
use crate::table::Table;

/// Decimal precision of a price/quantity column holding a value of more than 18 digits: an i64
/// mantissa (19 digits) rescaled by up to 18 more digits fits in 38.
pub const DECIMAL_PRECISION: u8 = 38;

/// Decimal precision of a price/quantity column whose values all fit 18 digits (the usual case):
/// Parquet stores it as `INT64`.
pub const SMALL_PRECISION: u8 = 18;

/// `(column, scale)` of every decimal column of a batch.
pub type DecimalScales = Vec<(&'static str, u8)>;

/// The largest scale the SQLite schema allows (`CHECK (… BETWEEN 0 AND 18)`).
const MAX_SCALE: u8 = 18;

/// The kind of one archived column and where it comes from in SQLite.
#[derive(Debug, Clone, Copy)]
pub enum ColKind {
    /// `TEXT NOT NULL`.
    Text(&'static str),
    /// `TEXT` that may be NULL.
    OptText(&'static str),
    /// `INTEGER NOT NULL`.
    I64(&'static str),
    /// `INTEGER` that may be NULL.
    OptI64(&'static str),
    /// Mantissa and scale columns (`NOT NULL`).
    Dec(&'static str, &'static str),
    /// Mantissa and scale columns that may be NULL.
    OptDec(&'static str, &'static str),
    /// µs since the epoch, `NOT NULL`.
    Ts(&'static str),
    /// µs since the epoch, may be NULL.
    OptTs(&'static str),
    /// `0`/`1`.
    Bool(&'static str),
    /// `ANY` id: integer or text; two output columns (`name`, `name_text`).
    AnyId(&'static str),
}

impl ColKind {
    fn sources(self) -> Vec<&'static str> {
        match self {
            ColKind::Dec(m, s) | ColKind::OptDec(m, s) => vec![m, s],
            ColKind::Text(c)
            | ColKind::OptText(c)
            | ColKind::I64(c)
            | ColKind::OptI64(c)
            | ColKind::Ts(c)
            | ColKind::OptTs(c)
            | ColKind::Bool(c)
            | ColKind::AnyId(c) => vec![c],
        }
    }
}

/// One output column.
#[derive(Debug, Clone, Copy)]
pub struct ColSpec {
    /// Column name in Parquet.
    pub name: &'static str,
    /// Type and SQLite source.
    pub kind: ColKind,
}

const fn col(name: &'static str, kind: ColKind) -> ColSpec {
    ColSpec { name, kind }
}

/// An archived table.
#[derive(Debug)]
pub struct TableSpec {
    /// The SQLite table.
    pub table: Table,
    /// The data-type level of the object key (`trades`, `agg_trades`, `quotes`, `candles`,
    /// `book_deltas`, `book_snapshots`).
    pub data_type: &'static str,
    /// `ORDER BY` within one venue and symbol (time first, then the natural key).
    pub order_by: &'static str,
    /// Columns, in file order.
    pub cols: &'static [ColSpec],
}

const TRADES: TableSpec = TableSpec {
    table: Table::Trades,
    data_type: "trades",
    order_by: "ts_exchange_us, trade_id",
    cols: &[
        col("venue", ColKind::Text("venue")),
        col("symbol", ColKind::Text("symbol")),
        col("trade_id", ColKind::AnyId("trade_id")),
        col("price", ColKind::Dec("price_m", "price_scale")),
        col("qty", ColKind::Dec("qty_m", "qty_scale")),
        col("side", ColKind::Text("side")),
        col("ts_exchange", ColKind::Ts("ts_exchange_us")),
        col("ts_recv", ColKind::Ts("ts_recv_us")),
    ],
};

const AGG_TRADES: TableSpec = TableSpec {
    table: Table::AggTrades,
    data_type: "agg_trades",
    order_by: "ts_exchange_us, agg_id",
    cols: &[
        col("venue", ColKind::Text("venue")),
        col("symbol", ColKind::Text("symbol")),
        col("agg_id", ColKind::AnyId("agg_id")),
        col("price", ColKind::Dec("price_m", "price_scale")),
        col("qty", ColKind::Dec("qty_m", "qty_scale")),
        col("side", ColKind::Text("side")),
        col("first_trade_id", ColKind::I64("first_trade_id")),
        col("last_trade_id", ColKind::I64("last_trade_id")),
        col("ts_exchange", ColKind::Ts("ts_exchange_us")),
        col("ts_recv", ColKind::Ts("ts_recv_us")),
    ],
};

const QUOTES: TableSpec = TableSpec {
    table: Table::Quotes,
    data_type: "quotes",
    order_by: "ts_recv_us, seq",
    cols: &[
        col("venue", ColKind::Text("venue")),
        col("symbol", ColKind::Text("symbol")),
        col("seq", ColKind::I64("seq")),
        col("update_id", ColKind::OptI64("update_id")),
        col("bid_price", ColKind::Dec("bid_price_m", "bid_price_scale")),
        col("bid_qty", ColKind::Dec("bid_qty_m", "bid_qty_scale")),
        col("ask_price", ColKind::Dec("ask_price_m", "ask_price_scale")),
        col("ask_qty", ColKind::Dec("ask_qty_m", "ask_qty_scale")),
        col("ts_exchange", ColKind::OptTs("ts_exchange_us")),
        col("ts_recv", ColKind::Ts("ts_recv_us")),
    ],
};

const CANDLES: TableSpec = TableSpec {
    table: Table::Candles,
    data_type: "candles",
    order_by: "open_time_us, interval_s",
    cols: &[
        col("venue", ColKind::Text("venue")),
        col("symbol", ColKind::Text("symbol")),
        col("interval_s", ColKind::I64("interval_s")),
        col("open_time", ColKind::Ts("open_time_us")),
        col("open", ColKind::Dec("open_m", "open_scale")),
        col("high", ColKind::Dec("high_m", "high_scale")),
        col("low", ColKind::Dec("low_m", "low_scale")),
        col("close", ColKind::Dec("close_m", "close_scale")),
        col("volume", ColKind::Dec("volume_m", "volume_scale")),
        col(
            "quote_volume",
            ColKind::OptDec("quote_volume_m", "quote_volume_scale"),
        ),
        col("trades", ColKind::OptI64("trades")),
        col("closed", ColKind::Bool("closed")),
        col("ts_exchange", ColKind::Ts("ts_exchange_us")),
        col("ts_recv", ColKind::Ts("ts_recv_us")),
    ],
};

const BOOKS: TableSpec = TableSpec {
    table: Table::Books,
    data_type: "book_deltas",
    order_by: "ts_recv_us, id",
    cols: &[
        col("id", ColKind::I64("id")),
        col("venue", ColKind::Text("venue")),
        col("symbol", ColKind::Text("symbol")),
        col("kind", ColKind::Text("kind")),
        col("first_update_id", ColKind::OptI64("first_update_id")),
        col("last_update_id", ColKind::OptI64("last_update_id")),
        col("bids", ColKind::Text("bids")),
        col("asks", ColKind::Text("asks")),
        col("checksum", ColKind::OptI64("checksum")),
        col("verified", ColKind::OptI64("verified")),
        col("ts_exchange", ColKind::OptTs("ts_exchange_us")),
        col("ts_recv", ColKind::Ts("ts_recv_us")),
    ],
};

const BOOK_SNAPSHOTS: TableSpec = TableSpec {
    table: Table::BookSnapshots,
    data_type: "book_snapshots",
    order_by: "ts_recv_us, venue, symbol",
    cols: &[
        col("venue", ColKind::Text("venue")),
        col("symbol", ColKind::Text("symbol")),
        col("last_update_id", ColKind::OptI64("last_update_id")),
        col("bids", ColKind::Text("bids")),
        col("asks", ColKind::Text("asks")),
        col("verified", ColKind::Bool("verified")),
        col("digest", ColKind::I64("digest")),
        col("ts_exchange", ColKind::OptTs("ts_exchange_us")),
        col("ts_recv", ColKind::Ts("ts_recv_us")),
    ],
};

/// Every archived table. `rejects` and `data_quality_events` are small, are the recorder's own
/// account of what went wrong, and stay in the local store (never archived, never pruned).
pub const ARCHIVED: [&TableSpec; 6] = [
    &TRADES,
    &AGG_TRADES,
    &QUOTES,
    &CANDLES,
    &BOOKS,
    &BOOK_SNAPSHOTS,
];

/// The spec of `table`, if it is archived.
pub fn spec(table: Table) -> Option<&'static TableSpec> {
    ARCHIVED.iter().copied().find(|s| s.table == table)
}

impl TableSpec {
    /// The SQLite select list (`venue` and `symbol` are always the first two values read).
    pub fn select_list(&self) -> String {
        self.cols
            .iter()
            .flat_map(|c| c.kind.sources())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `SELECT … FROM table WHERE {filter} ORDER BY venue, symbol, {order}`.
    pub fn select(&self, filter: &str) -> String {
        format!(
            "SELECT {} FROM {} WHERE {filter} ORDER BY venue, symbol, {}",
            self.select_list(),
            self.table.name(),
            self.order_by
        )
    }

    /// Index (in the select list) of the `venue` and `symbol` values.
    pub fn venue_symbol_index(&self) -> (usize, usize) {
        let mut idx = 0;
        let (mut v, mut s) = (0, 0);
        for c in self.cols {
            match c.name {
                "venue" => v = idx,
                "symbol" => s = idx,
                _ => {}
            }
            idx += c.kind.sources().len();
        }
        (v, s)
    }
}

/// One column being filled.
enum ColBuf {
    Text(StringBuilder),
    I64(Int64Builder),
    Dec(Vec<Option<(i64, u8)>>),
    Ts(TimestampMicrosecondBuilder),
    Bool(BooleanBuilder),
    AnyId(Int64Builder, StringBuilder),
}

/// A text value (or NULL); SQLite text is UTF-8 unless written by another program.
fn text<'a>(
    spec: &TableSpec,
    name: &str,
    v: ValueRef<'a>,
) -> Result<Option<&'a str>, ArchiveError> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Text(b) => std::str::from_utf8(b)
            .map(Some)
            .map_err(|e| bad(spec, format!("{name}: {e}"))),
        other => Err(bad(
            spec,
            format!("{name}: unexpected {:?}", other.data_type()),
        )),
    }
}

/// Rows of one table read from SQLite into Arrow columns.
pub struct Columns {
    spec: &'static TableSpec,
    bufs: Vec<ColBuf>,
    rows: usize,
    /// Scale of every decimal column (in column order) when fixed in advance, so that all
    /// batches of one file share a schema.
    fixed_scales: Option<Vec<u8>>,
}

fn bad(spec: &TableSpec, detail: String) -> ArchiveError {
    ArchiveError::BadRow {
        table: spec.table.name(),
        detail,
    }
}

impl Columns {
    /// Empty columns for `spec`.
    pub fn new(spec: &'static TableSpec) -> Columns {
        let bufs = spec
            .cols
            .iter()
            .map(|c| match c.kind {
                ColKind::Text(_) | ColKind::OptText(_) => ColBuf::Text(StringBuilder::new()),
                ColKind::I64(_) | ColKind::OptI64(_) => ColBuf::I64(Int64Builder::new()),
                ColKind::Dec(..) | ColKind::OptDec(..) => ColBuf::Dec(Vec::new()),
                ColKind::Ts(_) | ColKind::OptTs(_) => {
                    ColBuf::Ts(TimestampMicrosecondBuilder::new())
                }
                ColKind::Bool(_) => ColBuf::Bool(BooleanBuilder::new()),
                ColKind::AnyId(_) => ColBuf::AnyId(Int64Builder::new(), StringBuilder::new()),
            })
            .collect();
        Columns {
            spec,
            bufs,
            rows: 0,
            fixed_scales: None,
        }
    }

    /// Empty columns whose decimal columns (in column order) get the given scales in every
    /// batch; a row with more digits is an error.
    pub fn with_scales(spec: &'static TableSpec, scales: Vec<u8>) -> Columns {
        Columns {
            fixed_scales: Some(scales),
            ..Columns::new(spec)
        }
    }

    /// The SQLite expressions of the largest scale of every decimal column (for
    /// [`Columns::with_scales`]).
    pub fn scale_columns(spec: &TableSpec) -> Vec<&'static str> {
        spec.cols
            .iter()
            .filter_map(|c| match c.kind {
                ColKind::Dec(_, s) | ColKind::OptDec(_, s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// Rows added so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one row of [`TableSpec::select`].
    ///
    /// # Errors
    /// SQLite type errors, or [`ArchiveError::BadRow`] for a scale outside 0..=18.
    pub fn push(&mut self, row: &Row<'_>) -> Result<(), ArchiveError> {
        let mut i = 0;
        for (c, buf) in self.spec.cols.iter().zip(self.bufs.iter_mut()) {
            match (c.kind, buf) {
                (ColKind::Text(_) | ColKind::OptText(_), ColBuf::Text(b)) => {
                    b.append_option(text(self.spec, c.name, row.get_ref(i)?)?);
                }
                (ColKind::I64(_) | ColKind::OptI64(_), ColBuf::I64(b)) => {
                    b.append_option(row.get::<_, Option<i64>>(i)?);
                }
                (ColKind::Ts(_) | ColKind::OptTs(_), ColBuf::Ts(b)) => {
                    b.append_option(row.get::<_, Option<i64>>(i)?);
                }
                (ColKind::Bool(_), ColBuf::Bool(b)) => {
                    b.append_option(row.get::<_, Option<i64>>(i)?.map(|v| v != 0));
                }
                (ColKind::Dec(..) | ColKind::OptDec(..), ColBuf::Dec(v)) => {
                    let m: Option<i64> = row.get(i)?;
                    let s: Option<i64> = row.get(i + 1)?;
                    v.push(match (m, s) {
                        (Some(m), Some(s)) => {
                            let s = u8::try_from(s)
                                .ok()
                                .filter(|s| *s <= MAX_SCALE)
                                .ok_or_else(|| {
                                    bad(self.spec, format!("{}: scale {s} outside 0..=18", c.name))
                                })?;
                            Some((m, s))
                        }
                        _ => None,
                    });
                }
                (ColKind::AnyId(_), ColBuf::AnyId(n, t)) => match row.get_ref(i)? {
                    ValueRef::Integer(v) => {
                        n.append_value(v);
                        t.append_null();
                    }
                    ValueRef::Text(s) => {
                        n.append_null();
                        t.append_value(String::from_utf8_lossy(s));
                    }
                    other => {
                        return Err(bad(
                            self.spec,
                            format!("{}: unexpected {:?}", c.name, other.data_type()),
                        ))
                    }
                },
                _ => unreachable!("buffers are built from the same spec"),
            }
            i += c.kind.sources().len();
        }
        self.rows += 1;
        Ok(())
    }

    /// Builds the batch (and resets the columns). Decimal columns get the largest scale of
    /// their values; the scales are returned as `(column, scale)` for the file metadata.
    ///
    /// # Errors
    /// [`ArchiveError::Arrow`] (cannot happen for values read from a valid store).
    pub fn finish(&mut self) -> Result<(RecordBatch, DecimalScales), ArchiveError> {
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        let mut scales = Vec::new();
        let mut dec_index = 0;
        for (c, buf) in self.spec.cols.iter().zip(self.bufs.iter_mut()) {
            let nullable = matches!(
                c.kind,
                ColKind::OptText(_) | ColKind::OptI64(_) | ColKind::OptDec(..) | ColKind::OptTs(_)
            );
            match buf {
                ColBuf::Text(b) => {
                    fields.push(Field::new(c.name, DataType::Utf8, nullable));
                    arrays.push(Arc::new(b.finish()));
                }
                ColBuf::I64(b) => {
                    fields.push(Field::new(c.name, DataType::Int64, nullable));
                    arrays.push(Arc::new(b.finish()));
                }
                ColBuf::Ts(b) => {
                    let a = b.finish().with_timezone("UTC");
                    fields.push(Field::new(c.name, a.data_type().clone(), nullable));
                    arrays.push(Arc::new(a));
                }
                ColBuf::Bool(b) => {
                    fields.push(Field::new(c.name, DataType::Boolean, nullable));
                    arrays.push(Arc::new(b.finish()));
                }
                ColBuf::AnyId(n, t) => {
                    fields.push(Field::new(c.name, DataType::Int64, true));
                    arrays.push(Arc::new(n.finish()));
                    fields.push(Field::new(format!("{}_text", c.name), DataType::Utf8, true));
                    arrays.push(Arc::new(t.finish()));
                }
                ColBuf::Dec(v) => {
                    let max = v.iter().flatten().map(|(_, s)| *s).max().unwrap_or(0);
                    let fixed = self
                        .fixed_scales
                        .as_ref()
                        .and_then(|f| f.get(dec_index).copied());
                    dec_index += 1;
                    let scale = match fixed {
                        Some(f) if f < max => {
                            return Err(bad(
                                self.spec,
                                format!("{}: scale {max} above the file's {f}", c.name),
                            ))
                        }
                        Some(f) => f,
                        None => max,
                    };
                    let values: Vec<Option<i128>> = v
                        .drain(..)
                        .map(|d| d.map(|(m, s)| i128::from(m) * 10i128.pow(u32::from(scale - s))))
                        .collect();
                    // 18 digits is stored as INT64 (8 bytes, and DuckDB computes on BIGINT);
                    // only a file holding a larger value needs 38 digits (16 bytes).
                    let small = 10u128.pow(u32::from(SMALL_PRECISION));
                    // Batches of one file (export) must share a schema: fixed scales → 38.
                    let precision = if self.fixed_scales.is_none()
                        && values.iter().flatten().all(|x| x.unsigned_abs() < small)
                    {
                        SMALL_PRECISION
                    } else {
                        DECIMAL_PRECISION
                    };
                    let a = Decimal128Array::from(values)
                        .with_precision_and_scale(precision, scale as i8)?;
                    fields.push(Field::new(c.name, a.data_type().clone(), nullable));
                    arrays.push(Arc::new(a));
                    scales.push((c.name, scale));
                }
            }
        }
        self.rows = 0;
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
        Ok((batch, scales))
    }
}
