//! Which rows may skip the staging table: direct `COPY` into the real table for rows that
//! cannot collide with a stored row (see the writer's module docs for how they are written).
//!
//! The staging path (`COPY` into a temporary table, then `INSERT … SELECT … ORDER BY ord ON
//! CONFLICT DO NOTHING`) costs the server about twice the work of a plain `COPY`: every row is
//! written to the staging heap, deleted from it again, sorted, and inserted with a speculative
//! insertion. It is only needed for rows that may already be stored (journal replays, retries,
//! venues resending a trade) — a small minority in steady state.
//!
//! # The high-water marks
//! For each market (table, venue, symbol) of a keyed table the writer keeps the largest id and
//! the latest key time of every row it has seen: seeded from the table the first time the market
//! is written (`max(id)` for the venue and symbol, `max(time)` for the symbol over all venues,
//! both one index probe), then raised by every row routed, in arrival order, whatever the path
//! and whatever became of its transaction. A row whose id is above the id mark, or whose time
//! is after the time mark, differs in its natural key `(venue, symbol, id, time)` from every row
//! stored before and from every earlier row of the transaction: it goes direct. Any later copy of
//! it is at or below both marks, so it is staged and meets the stored row in `ON CONFLICT DO
//! NOTHING` — the first-seen row keeps its digits, exactly as with the staging path alone.
//! Marks only ever grow (a rolled-back row keeps them raised: a replay is then staged), so they
//! stay an upper bound of what this writer may have stored.
//!
//! Every other table is staged (`book_deltas` has a content key but no id to keep a mark of).
//!
//! # Another writer
//! Rows stored by another process after the seed are not in the marks. The unique keys still
//! refuse them (`23505`): the transaction fails, the loop replays it, and the direct path pauses
//! for [`PAUSE`] with its marks forgotten — the replay and everything in the pause are staged,
//! and the marks are seeded afresh afterwards. Correctness never depends on the marks; only
//! speed does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tickrec_model::{Event, TradeId, Venue};
use tokio_postgres::types::{FromSql, Type};

use super::writer::pg_ts;
use crate::table::Table;

/// How long direct `COPY` stays off after it met a row stored by someone else.
pub(super) const PAUSE: Duration = Duration::from_secs(60);

/// How rows of a table may go direct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DirectKey {
    /// Natural key `(venue, symbol, id, time)`: direct when above the market's marks.
    Marks {
        /// Numeric id column.
        id: &'static str,
        /// Time column of the key.
        time: &'static str,
    },
    /// Always staged (upserts, low-volume tables, generated ids).
    Never,
}

impl DirectKey {
    pub(super) const fn of(table: Table) -> DirectKey {
        match table {
            Table::Trades => DirectKey::Marks {
                id: "trade_id",
                time: "ts_exchange",
            },
            Table::AggTrades => DirectKey::Marks {
                id: "agg_id",
                time: "ts_exchange",
            },
            Table::Quotes => DirectKey::Marks {
                id: "seq",
                time: "ts",
            },
            // `book_deltas` has a content key (schema v3) but no id to keep a mark of: staged.
            Table::Candles
            | Table::Books
            | Table::BookSnapshots
            | Table::Rejects
            | Table::Quality => DirectKey::Never,
        }
    }
}

/// The seed query of `table`'s marks for one market (`$1` venue, `$2` symbol): the largest id
/// (index `(venue, symbol, id, time)`) and the latest time of the symbol on any venue (index
/// `(symbol, time DESC)`; an upper bound of the market's own, which is all the marks need).
pub(super) fn seed_sql(table: Table) -> Option<String> {
    match DirectKey::of(table) {
        DirectKey::Marks { id, time } => Some(format!(
            "SELECT (SELECT max({id}) FROM {t} WHERE venue = $1 AND symbol = $2), \
                    (SELECT max({time}) FROM {t} WHERE symbol = $2)",
            t = table.name()
        )),
        DirectKey::Never => None,
    }
}

/// A `TIMESTAMPTZ` as PostgreSQL sends it in binary: µs since 2000-01-01 (the unit the writer
/// sends, so marks compare exactly; ±infinity are `i64::MAX`/`MIN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PgMicros(pub(super) i64);

impl<'a> FromSql<'a> for PgMicros {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let bytes: [u8; 8] = raw
            .try_into()
            .map_err(|_| format!("a timestamp of {} bytes", raw.len()))?;
        Ok(PgMicros(i64::from_be_bytes(bytes)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ || *ty == Type::TIMESTAMP
    }
}

/// The largest id and latest time of a market's rows (`None`: no such row).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Mark {
    pub(super) id: Option<i64>,
    pub(super) time: Option<i64>,
}

/// A market of a keyed table.
pub(super) type Market = (Table, Venue, Arc<str>);

/// The natural-key parts of an event that the marks compare: venue, symbol, numeric id (`None`
/// for textual ids and ids the column cannot hold), key time in PostgreSQL µs.
fn key_of(ev: &Event) -> Option<(Venue, &Arc<str>, Option<i64>, i64)> {
    match ev {
        Event::Trade(t) => {
            let id = match t.trade_id {
                TradeId::Num(n) => i64::try_from(n).ok(),
                TradeId::Text(_) => None,
            };
            Some((t.venue, &t.symbol, id, pg_ts(t.ts_exchange_us)))
        }
        Event::Quote(q) => {
            // As the writer encodes `seq` and `ts`; an update id that does not fit is refused
            // there, so it never goes direct.
            let seq = match q.update_id {
                Some(u) => Some(i64::try_from(u).ok()?),
                None => Some(q.ts_exchange_us.unwrap_or(q.ts_recv_us)),
            };
            Some((
                q.venue,
                &q.symbol,
                seq,
                pg_ts(q.ts_exchange_us.unwrap_or(q.ts_recv_us)),
            ))
        }
        _ => None,
    }
}

/// The writer's high-water marks and whether direct `COPY` is on (see the module docs).
#[derive(Debug, Default)]
pub(super) struct DirectRoutes {
    /// Per (table, venue): per symbol.
    marks: HashMap<(Table, Venue), HashMap<Arc<str>, Mark>>,
    /// Direct `COPY` is off until then.
    paused_until: Option<Instant>,
}

impl DirectRoutes {
    /// True unless paused; ends an elapsed pause.
    pub(super) fn active(&mut self, now: Instant) -> bool {
        match self.paused_until {
            Some(t) if now < t => false,
            Some(_) => {
                self.paused_until = None;
                true
            }
            None => true,
        }
    }

    /// Turns direct `COPY` off for [`PAUSE`] and forgets the marks (they are seeded afresh).
    pub(super) fn pause(&mut self, now: Instant) {
        self.marks.clear();
        self.paused_until = Some(now + PAUSE);
    }

    /// Markets of keyed tables among `events` whose marks are not known yet (each once).
    pub(super) fn unseeded(&self, events: &[Event]) -> Vec<Market> {
        let mut out: Vec<Market> = Vec::new();
        for ev in events {
            let table = Table::of(ev);
            if !matches!(DirectKey::of(table), DirectKey::Marks { .. }) {
                continue;
            }
            let Some((venue, symbol, ..)) = key_of(ev) else {
                continue;
            };
            // A NUL cannot be sent as text (the probe would fail, and so will the row, which
            // the staging path then isolates): such a market is never seeded, so staged.
            if symbol.contains('\0') {
                continue;
            }
            let known = self
                .marks
                .get(&(table, venue))
                .is_some_and(|m| m.contains_key(&**symbol));
            if !known
                && !out
                    .iter()
                    .any(|(t, v, s)| *t == table && *v == venue && **s == **symbol)
            {
                out.push((table, venue, Arc::clone(symbol)));
            }
        }
        out
    }

    /// Records the marks read from the table for `market`.
    pub(super) fn seed(&mut self, market: Market, mark: Mark) {
        let (table, venue, symbol) = market;
        self.marks
            .entry((table, venue))
            .or_default()
            .insert(symbol, mark);
    }

    /// Whether `ev` (of `table`) may go direct; raises its market's marks either way. Rows of a
    /// market whose marks are unknown are staged.
    pub(super) fn admit(&mut self, table: Table, ev: &Event) -> bool {
        match DirectKey::of(table) {
            DirectKey::Never => return false,
            DirectKey::Marks { .. } => {}
        }
        let Some((venue, symbol, id, time)) = key_of(ev) else {
            return false;
        };
        let Some(mark) = self
            .marks
            .get_mut(&(table, venue))
            .and_then(|m| m.get_mut(&**symbol))
        else {
            return false;
        };
        let new_id = id.is_some_and(|id| mark.id.is_none_or(|m| id > m));
        let new_time = mark.time.is_none_or(|m| time > m);
        if new_id {
            mark.id = id;
        }
        if new_time {
            mark.time = Some(time);
        }
        new_id || new_time
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickrec_model::{Decimal, Side, Trade, TradeKind};

    fn trade(id: TradeId, ts: i64) -> Event {
        Event::Trade(Trade {
            venue: Venue::Binance,
            symbol: Arc::from("BTC/USDT"),
            trade_id: id,
            price: Decimal::parse("1.5").unwrap(),
            qty: Decimal::parse("2").unwrap(),
            side: Side::Buy,
            ts_exchange_us: ts,
            ts_recv_us: ts,
            kind: TradeKind::Single,
        })
    }

    fn seeded(mark: Mark) -> DirectRoutes {
        let mut r = DirectRoutes::default();
        let m = r.unseeded(&[trade(TradeId::Num(1), 0)]);
        assert_eq!(m.len(), 1);
        r.seed(m[0].clone(), mark);
        assert!(r.unseeded(&[trade(TradeId::Num(1), 0)]).is_empty());
        r
    }

    #[test]
    fn rows_above_either_mark_go_direct_and_raise_it() {
        let t0 = pg_ts(1_000);
        let mut r = seeded(Mark {
            id: Some(10),
            time: Some(t0),
        });
        let admit = |r: &mut DirectRoutes, id, ts| r.admit(Table::Trades, &trade(id, ts));
        // At or below both marks: may be stored already.
        assert!(!admit(&mut r, TradeId::Num(10), 1_000));
        assert!(!admit(&mut r, TradeId::Num(3), 500));
        // A new id at an old time, and an old id at a new time: keys never seen.
        assert!(admit(&mut r, TradeId::Num(11), 1_000));
        assert!(admit(&mut r, TradeId::Num(5), 2_000));
        // Both raised the marks: the same rows again are staged.
        assert!(!admit(&mut r, TradeId::Num(11), 1_000));
        assert!(!admit(&mut r, TradeId::Num(5), 2_000));
        // Textual ids only have the time.
        assert!(!admit(&mut r, TradeId::Text("a".into()), 2_000));
        assert!(admit(&mut r, TradeId::Text("a".into()), 2_001));
        // An empty market admits everything once.
        let mut e = seeded(Mark::default());
        assert!(admit(&mut e, TradeId::Num(1), 0));
        assert!(!admit(&mut e, TradeId::Num(1), 0));
    }

    #[test]
    fn unknown_markets_and_pauses_stage() {
        let mut r = DirectRoutes::default();
        assert!(!r.admit(Table::Trades, &trade(TradeId::Num(1), 0)));
        let now = Instant::now();
        let mut r = seeded(Mark::default());
        r.pause(now);
        assert!(!r.active(now));
        assert!(!r.admit(Table::Trades, &trade(TradeId::Num(1), 0)));
        assert_eq!(r.unseeded(&[trade(TradeId::Num(1), 0)]).len(), 1);
        assert!(r.active(now + PAUSE));
        assert!(r.active(now + PAUSE));
    }
}
