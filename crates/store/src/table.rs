//! The tables every sink has — one per kind of event — and which event goes where. Sinks add
//! their own per-table details (columns, statements) on top.

use tickrec_model::{BookKind, BookUpdate, Event, Level, TradeKind};

use crate::batch::WriteStats;

/// A destination table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    /// Single trades.
    Trades,
    /// Venue-aggregated trades (Binance `aggTrade`).
    AggTrades,
    /// Best bid/offer.
    Quotes,
    /// Candles.
    Candles,
    /// Raw book snapshots and deltas.
    Books,
    /// Periodic top-N snapshots of the recorder's book.
    BookSnapshots,
    /// Reject rows.
    Rejects,
    /// Data-quality events (gaps, repairs, reconnects).
    Quality,
}

impl Table {
    /// Every table, in write order (`index()` order).
    pub const ALL: [Table; 8] = [
        Table::Trades,
        Table::AggTrades,
        Table::Quotes,
        Table::Candles,
        Table::Books,
        Table::Rejects,
        Table::Quality,
        Table::BookSnapshots,
    ];

    /// The table an event is stored in.
    pub fn of(ev: &Event) -> Table {
        match ev {
            Event::Trade(t) => match t.kind {
                TradeKind::Single => Table::Trades,
                TradeKind::Aggregate { .. } => Table::AggTrades,
            },
            Event::Quote(_) => Table::Quotes,
            Event::Candle(_) => Table::Candles,
            Event::Book(_) => Table::Books,
            Event::BookTop(_) => Table::BookSnapshots,
            Event::Reject(_) => Table::Rejects,
            Event::Quality(_) => Table::Quality,
        }
    }

    /// Position in [`Table::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// SQL table name.
    pub const fn name(self) -> &'static str {
        match self {
            Table::Trades => "trades",
            Table::AggTrades => "agg_trades",
            Table::Quotes => "quotes",
            Table::Candles => "candles",
            Table::Books => "book_deltas",
            Table::Rejects => "rejects",
            Table::Quality => "data_quality_events",
            Table::BookSnapshots => "book_snapshots",
        }
    }

    /// Adds `n` rows of this table to `st`.
    pub fn count(self, st: &mut WriteStats, n: u64) {
        match self {
            Table::Trades => st.trades += n,
            Table::AggTrades => st.agg_trades += n,
            Table::Quotes => st.quotes += n,
            Table::Candles => st.candles += n,
            Table::Books => st.books += n,
            Table::Rejects => st.rejects += n,
            Table::Quality => st.quality += n,
            Table::BookSnapshots => st.book_snapshots += n,
        }
    }
}

/// A hash of a book message's content (kind, ids, checksum, every level's exact digits), the
/// part of the `book_deltas` key that tells two messages of one frame apart: with `(venue,
/// symbol, ts_recv_us)` it makes a replay from the journal a duplicate. FNV-1a, stable across
/// builds and platforms (it is stored). The `verified` flag is not part of it.
pub fn book_msg_hash(b: &BookUpdate) -> i64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &x in bytes {
            h ^= u64::from(x);
            h = h.wrapping_mul(PRIME);
        }
    };
    eat(&[match b.kind {
        BookKind::Snapshot => 0,
        BookKind::Delta => 1,
    }]);
    for id in [b.first_update_id, b.last_update_id] {
        match id {
            Some(v) => {
                eat(&[1]);
                eat(&v.to_le_bytes());
            }
            None => eat(&[0]),
        }
    }
    match b.checksum {
        Some(c) => {
            eat(&[1]);
            eat(&c.to_le_bytes());
        }
        None => eat(&[0]),
    }
    let mut side = |levels: &[Level], tag: u8| {
        eat(&[tag]);
        eat(&(levels.len() as u64).to_le_bytes());
        for l in levels {
            eat(&l.price.mantissa().to_le_bytes());
            eat(&[l.price.scale()]);
            eat(&l.qty.mantissa().to_le_bytes());
            eat(&[l.qty.scale()]);
        }
    };
    side(&b.bids, b'b');
    side(&b.asks, b'a');
    h as i64
}
