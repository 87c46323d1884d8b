//! Trade-id continuity per market: Binance trade and aggTrade ids and Kraken v2 `trade_id`s rise by
//! exactly one per trade and symbol, so a jump is a measured gap (to backfill), an id at or below
//! the last one is a duplicate or a late arrival (the natural key absorbs it).
//!
//! Text ids (Upbit `sequential_id`, Bybit trade ids) are unique but not contiguous: nothing can be
//! measured from them. For those markets the time of the last trade is kept, and after a
//! reconnect the first trade turns the outage into a window of time to backfill
//! ([`Continuity::Window`]) — what the venue cannot serve is then reported, not assumed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tickrec_model::{Trade, TradeId, TradeKind};

/// What one trade id says about the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continuity {
    /// The first id seen for the market (nothing to compare with).
    First,
    /// Exactly the next id.
    Next,
    /// Ids `from..=to` were skipped.
    Gap {
        /// First missing id.
        from: u64,
        /// Last missing id.
        to: u64,
        /// Exchange time of the last trade before the gap (0 when seeded without one).
        after_ts_us: i64,
    },
    /// An id at or below the last one: a re-delivery (e.g. Kraken's snapshot after a reconnect) or
    /// an out-of-order arrival.
    Behind,
    /// A non-numeric id: continuity cannot be judged.
    Unordered,
    /// The first text-id trade of a market after a reconnect: the outage is the window between
    /// the last trade before it and this one.
    Window {
        /// Exchange time of the last trade before the reconnect.
        after_ts_us: i64,
        /// Exchange time of this trade.
        before_ts_us: i64,
    },
}

/// Which id space a trade belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    symbol: Arc<str>,
    aggregate: bool,
}

/// Last id per market and id space.
#[derive(Debug, Default, Clone)]
pub struct ContinuityTracker {
    last: HashMap<Key, (u64, i64)>,
    /// Newest exchange time per text-id market.
    last_ts: HashMap<Arc<str>, i64>,
    /// Text-id markets whose first trade since the last reconnect is still due.
    suspect: HashSet<Arc<str>>,
}

impl ContinuityTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Seeds the last known id (e.g. the last stored trade at start-up, so the first live trade
    /// reveals what was missed while the recorder was down).
    pub fn seed(&mut self, symbol: Arc<str>, aggregate: bool, last_id: u64, last_ts_us: i64) {
        self.last
            .insert(Key { symbol, aggregate }, (last_id, last_ts_us));
    }

    /// The last id seen for a market.
    pub fn last(&self, symbol: &Arc<str>, aggregate: bool) -> Option<u64> {
        self.last
            .get(&Key {
                symbol: symbol.clone(),
                aggregate,
            })
            .map(|(id, _)| *id)
    }

    /// A new connection starts: every text-id market seen so far may have missed trades.
    pub fn on_reconnect(&mut self) {
        self.suspect.extend(self.last_ts.keys().cloned());
    }

    /// Classifies a trade and advances the market's last id.
    pub fn observe(&mut self, t: &Trade) -> Continuity {
        let TradeId::Num(id) = t.trade_id else {
            let ts = t.ts_exchange_us;
            let window = match self.last_ts.get_mut(&t.symbol) {
                Some(last) => {
                    let after = *last;
                    *last = after.max(ts);
                    // A replay of what we already had (a venue's snapshot on subscribe) does
                    // not end the outage; the first newer trade does.
                    (ts > after && self.suspect.remove(&t.symbol)).then_some(Continuity::Window {
                        after_ts_us: after,
                        before_ts_us: ts,
                    })
                }
                None => {
                    self.last_ts.insert(t.symbol.clone(), ts);
                    None
                }
            };
            return window.unwrap_or(Continuity::Unordered);
        };
        let key = Key {
            symbol: t.symbol.clone(),
            aggregate: matches!(t.kind, TradeKind::Aggregate { .. }),
        };
        let ts = t.ts_exchange_us;
        match self.last.get_mut(&key) {
            None => {
                self.last.insert(key, (id, ts));
                Continuity::First
            }
            Some(last) if id == last.0 + 1 => {
                *last = (id, ts);
                Continuity::Next
            }
            Some(last) if id > last.0 + 1 => {
                let gap = Continuity::Gap {
                    from: last.0 + 1,
                    to: id - 1,
                    after_ts_us: last.1,
                };
                *last = (id, ts);
                gap
            }
            Some(_) => Continuity::Behind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickrec_model::{Decimal, Side, Venue};

    fn trade(id: u64, agg: bool) -> Trade {
        Trade {
            venue: Venue::Binance,
            symbol: Arc::from("BTC/USDT"),
            trade_id: TradeId::Num(id),
            price: Decimal::new(1, 0).expect("decimal"),
            qty: Decimal::new(1, 0).expect("decimal"),
            side: Side::Buy,
            ts_exchange_us: 0,
            ts_recv_us: 0,
            kind: if agg {
                TradeKind::Aggregate {
                    first_id: 1,
                    last_id: 1,
                }
            } else {
                TradeKind::Single
            },
        }
    }

    #[test]
    fn classifies_ids() {
        let mut c = ContinuityTracker::new();
        assert_eq!(c.observe(&trade(10, false)), Continuity::First);
        assert_eq!(c.observe(&trade(11, false)), Continuity::Next);
        assert_eq!(
            c.observe(&trade(15, false)),
            Continuity::Gap {
                from: 12,
                to: 14,
                after_ts_us: 0
            }
        );
        assert_eq!(c.observe(&trade(13, false)), Continuity::Behind);
        assert_eq!(c.observe(&trade(15, false)), Continuity::Behind);
        assert_eq!(c.observe(&trade(16, false)), Continuity::Next);
        // aggregate ids are their own space
        assert_eq!(c.observe(&trade(3, true)), Continuity::First);
        c.seed(Arc::from("ETH/USDT"), false, 99, 5);
        let mut eth = trade(101, false);
        eth.symbol = Arc::from("ETH/USDT");
        assert_eq!(
            c.observe(&eth),
            Continuity::Gap {
                from: 100,
                to: 100,
                after_ts_us: 5
            }
        );
        let mut text = trade(1, false);
        text.trade_id = TradeId::Text("abc".into());
        assert_eq!(c.observe(&text), Continuity::Unordered);
    }

    #[test]
    fn text_ids_give_a_window_after_a_reconnect() {
        let mut c = ContinuityTracker::new();
        let text = |ts: i64| {
            let mut t = trade(1, false);
            t.trade_id = TradeId::Text(format!("id{ts}").into());
            t.ts_exchange_us = ts;
            t
        };
        c.on_reconnect();
        assert_eq!(c.observe(&text(10)), Continuity::Unordered, "first ever");
        assert_eq!(c.observe(&text(20)), Continuity::Unordered);
        c.on_reconnect();
        assert_eq!(
            c.observe(&text(20)),
            Continuity::Unordered,
            "a replayed trade"
        );
        assert_eq!(
            c.observe(&text(50)),
            Continuity::Window {
                after_ts_us: 20,
                before_ts_us: 50
            }
        );
        assert_eq!(
            c.observe(&text(60)),
            Continuity::Unordered,
            "once per reconnect"
        );
    }
}
