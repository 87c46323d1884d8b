//! Trade-id continuity per market: Binance trade and aggTrade ids and Kraken v2 `trade_id`s rise by
//! exactly one per trade and symbol, so a jump is a measured gap (to backfill), an id at or below
//! the last one is a duplicate or a late arrival (the natural key absorbs it).

use std::collections::HashMap;
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

    /// Classifies a trade and advances the market's last id.
    pub fn observe(&mut self, t: &Trade) -> Continuity {
        let TradeId::Num(id) = t.trade_id else {
            return Continuity::Unordered;
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
}
