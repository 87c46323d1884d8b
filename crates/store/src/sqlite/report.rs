//! Completeness of the stored trade tape, computed from the rows themselves: per market, the id
//! range, how many trades are stored, and every hole in the id sequence. This is what
//! `tickrec gaps` prints — an honest account that does not depend on the recorder's memory.

use rusqlite::Connection;

use crate::error::StoreError;

/// One hole in a market's trade ids.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdHole {
    /// First missing id.
    pub from_id: u64,
    /// Last missing id.
    pub to_id: u64,
    /// Exchange time of the trade before the hole, µs.
    pub after_ts_us: i64,
    /// Exchange time of the trade after the hole, µs.
    pub before_ts_us: i64,
}

/// Coverage of one market and id space.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MarketCoverage {
    /// Venue.
    pub venue: String,
    /// Unified symbol.
    pub symbol: String,
    /// `trades` or `agg_trades`.
    pub table: &'static str,
    /// Trades stored (numeric ids).
    pub stored: u64,
    /// Lowest id.
    pub first_id: u64,
    /// Highest id.
    pub last_id: u64,
    /// First exchange time, µs.
    pub first_ts_us: i64,
    /// Last exchange time, µs.
    pub last_ts_us: i64,
    /// Ids missing between first and last.
    pub missing: u64,
    /// The holes (at most `max_holes` listed).
    pub holes: Vec<IdHole>,
}

/// Computes coverage for every market in `trades` and `agg_trades`.
///
/// # Errors
/// [`StoreError`] when the database cannot be queried.
pub fn coverage(conn: &Connection, max_holes: usize) -> Result<Vec<MarketCoverage>, StoreError> {
    let mut out = Vec::new();
    for (table, id) in [("trades", "trade_id"), ("agg_trades", "agg_id")] {
        let mut stmt = conn.prepare(&format!(
            "SELECT venue, symbol, count(*), min({id}), max({id}), min(ts_exchange_us), max(ts_exchange_us) \
             FROM {table} WHERE typeof({id}) = 'integer' GROUP BY venue, symbol ORDER BY venue, symbol"
        ))?;
        let markets = stmt
            .query_map([], |r| {
                Ok(MarketCoverage {
                    venue: r.get(0)?,
                    symbol: r.get(1)?,
                    table,
                    stored: r.get::<_, i64>(2)?.max(0) as u64,
                    first_id: r.get::<_, i64>(3)?.max(0) as u64,
                    last_id: r.get::<_, i64>(4)?.max(0) as u64,
                    first_ts_us: r.get(5)?,
                    last_ts_us: r.get(6)?,
                    missing: 0,
                    holes: Vec::new(),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut holes = conn.prepare(&format!(
            "SELECT prev + 1, {id} - 1, prev_ts, ts_exchange_us FROM ( \
               SELECT {id}, ts_exchange_us, \
                      lag({id}) OVER (ORDER BY {id}) AS prev, \
                      lag(ts_exchange_us) OVER (ORDER BY {id}) AS prev_ts \
               FROM {table} WHERE venue = ?1 AND symbol = ?2 AND typeof({id}) = 'integer') \
             WHERE {id} - prev > 1 ORDER BY {id}"
        ))?;
        for mut m in markets {
            let rows = holes.query_map([&m.venue, &m.symbol], |r| {
                Ok(IdHole {
                    from_id: r.get::<_, i64>(0)?.max(0) as u64,
                    to_id: r.get::<_, i64>(1)?.max(0) as u64,
                    after_ts_us: r.get(2)?,
                    before_ts_us: r.get(3)?,
                })
            })?;
            for h in rows {
                let h = h?;
                m.missing += h.to_id - h.from_id + 1;
                if m.holes.len() < max_holes {
                    m.holes.push(h);
                }
            }
            out.push(m);
        }
    }
    Ok(out)
}

/// Data-quality events of one market (or connection, `symbol` empty) and kind, summed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QualitySummary {
    /// Venue.
    pub venue: String,
    /// Unified symbol; empty for connection-wide events (reconnects, stale sockets).
    pub symbol: String,
    /// `gap`, `gap_backfilled`, `gap_unrepaired`, `reconnect`, `stale`.
    pub kind: String,
    /// Events recorded.
    pub events: u64,
    /// Sum of their counts (trade ids for gaps, trades for backfills, attempts for reconnects).
    pub count: u64,
    /// Summed length of their windows, µs (how long connections were down or silent).
    pub duration_us: i64,
    /// Start of the first window, µs.
    pub first_us: i64,
    /// End of the last window, µs.
    pub last_us: i64,
}

/// Sums the `data_quality_events` table per venue, symbol and kind: what the recorder detected,
/// repaired and could not repair while recording.
///
/// # Errors
/// [`StoreError`] when the database cannot be queried.
pub fn quality_summary(conn: &Connection) -> Result<Vec<QualitySummary>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT venue, symbol, kind, count(*), sum(count), sum(end_us - start_us), min(start_us),          max(end_us) FROM data_quality_events GROUP BY venue, symbol, kind          ORDER BY venue, symbol, kind",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(QualitySummary {
                venue: r.get(0)?,
                symbol: r.get(1)?,
                kind: r.get(2)?,
                events: r.get::<_, i64>(3)?.max(0) as u64,
                count: r.get::<_, i64>(4)?.max(0) as u64,
                duration_us: r.get(5)?,
                first_us: r.get(6)?,
                last_us: r.get(7)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// What was stored of one market's book: messages, how many were verified, snapshots taken.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BookCoverage {
    /// Venue.
    pub venue: String,
    /// Unified symbol.
    pub symbol: String,
    /// Book messages stored (`book_deltas`).
    pub messages: u64,
    /// Of which applied to an in-sync, checksum-verified book.
    pub verified: u64,
    /// Snapshots of the recorder's book (`book_snapshots`).
    pub snapshots: u64,
    /// First receive time, µs.
    pub first_us: i64,
    /// Last receive time, µs.
    pub last_us: i64,
}

/// Per-market book coverage from `book_deltas` and `book_snapshots`.
///
/// # Errors
/// [`StoreError`] when the database cannot be queried.
pub fn book_coverage(conn: &Connection) -> Result<Vec<BookCoverage>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT d.venue, d.symbol, d.n, d.v, coalesce(s.n, 0), d.first_us, d.last_us FROM          (SELECT venue, symbol, count(*) AS n, coalesce(sum(verified), 0) AS v,                  min(ts_recv_us) AS first_us, max(ts_recv_us) AS last_us           FROM book_deltas GROUP BY venue, symbol) d          LEFT JOIN (SELECT venue, symbol, count(*) AS n FROM book_snapshots GROUP BY venue, symbol) s          ON s.venue = d.venue AND s.symbol = d.symbol ORDER BY d.venue, d.symbol",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(BookCoverage {
                venue: r.get(0)?,
                symbol: r.get(1)?,
                messages: r.get::<_, i64>(2)?.max(0) as u64,
                verified: r.get::<_, i64>(3)?.max(0) as u64,
                snapshots: r.get::<_, i64>(4)?.max(0) as u64,
                first_us: r.get(5)?,
                last_us: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tickrec_model::{Decimal, Event, Side, Trade, TradeId, TradeKind, Venue};

    use super::{coverage, quality_summary};
    use crate::sqlite::{last_trades, open_read_only, SqliteConfig, SqliteWriter};

    fn trade(id: u64) -> Event {
        Event::Trade(Trade {
            venue: Venue::Kraken,
            symbol: Arc::from("BTC/USD"),
            trade_id: TradeId::Num(id),
            price: Decimal::new(300001, 1).expect("price"),
            qty: Decimal::new(5, 2).expect("qty"),
            side: Side::Buy,
            ts_exchange_us: 1_700_000_000_000_000 + id as i64,
            ts_recv_us: 1_700_000_000_000_000,
            kind: TradeKind::Single,
        })
    }

    #[test]
    fn holes_and_resume_points_come_from_the_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = SqliteConfig {
            path: dir.path().join("t.db"),
            ..SqliteConfig::default()
        };
        let mut w = SqliteWriter::open(&cfg).expect("open");
        let events: Vec<Event> = [1, 2, 5, 6, 9].into_iter().map(trade).collect();
        w.write_batch(&events).expect("write");
        let conn = open_read_only(&cfg.path).expect("read");
        let cov = coverage(&conn, 10).expect("coverage");
        assert_eq!(cov.len(), 1);
        let m = &cov[0];
        assert_eq!((m.stored, m.first_id, m.last_id, m.missing), (5, 1, 9, 4));
        let holes: Vec<(u64, u64)> = m.holes.iter().map(|h| (h.from_id, h.to_id)).collect();
        assert_eq!(holes, [(3, 4), (7, 8)]);
        assert_eq!(m.holes[0].after_ts_us, 1_700_000_000_000_002);
        let last = last_trades(&conn).expect("last");
        assert_eq!(last.len(), 1);
        assert_eq!((last[0].trade_id, last[0].aggregate), (9, false));
        assert_eq!(coverage(&conn, 1).expect("coverage")[0].holes.len(), 1);
    }

    #[test]
    fn quality_events_are_summed_per_market_and_kind_and_replays_collapse() {
        use tickrec_model::{QualityEvent, QualityKind};
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = SqliteConfig {
            path: dir.path().join("q.db"),
            ..SqliteConfig::default()
        };
        let q = |kind, symbol: Option<&str>, count, start_us, end_us, ts_recv_us| {
            Event::Quality(QualityEvent {
                venue: Venue::Kraken,
                symbol: symbol.map(Arc::from),
                kind,
                start_us,
                end_us,
                count,
                from_id: Some(3),
                to_id: Some(4),
                detail: "d".into(),
                ts_recv_us,
            })
        };
        let events = vec![
            q(QualityKind::Gap, Some("BTC/USD"), 2, 10, 20, 100),
            q(QualityKind::Gap, Some("BTC/USD"), 3, 30, 40, 101),
            q(QualityKind::GapBackfilled, Some("BTC/USD"), 5, 10, 40, 102),
            q(QualityKind::Reconnect, None, 1, 1_000, 3_000, 103),
        ];
        let mut w = SqliteWriter::open(&cfg).expect("open");
        let first = w.write_batch(&events).expect("write");
        assert_eq!(first.quality, 4);
        // A journal replay after a crash writes the same events again: nothing changes.
        let again = w.write_batch(&events).expect("write");
        assert_eq!((again.quality, again.duplicates), (0, 4));
        let conn = open_read_only(&cfg.path).expect("read");
        let sum = quality_summary(&conn).expect("summary");
        let got: Vec<(&str, &str, u64, u64, i64)> = sum
            .iter()
            .map(|s| {
                (
                    s.symbol.as_str(),
                    s.kind.as_str(),
                    s.events,
                    s.count,
                    s.duration_us,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("", "reconnect", 1, 1, 2_000),
                ("BTC/USD", "gap", 2, 5, 20),
                ("BTC/USD", "gap_backfilled", 1, 5, 30),
            ]
        );
    }
}
