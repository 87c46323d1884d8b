//! The tables every sink has — one per kind of event — and which event goes where. Sinks add
//! their own per-table details (columns, statements) on top.

use tickrec_model::{Event, TradeKind};

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
            Table::Books => "book_updates",
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
