//! Candles built from the tape with each venue's push rules, so every simulated candle stream
//! has the venue's cadence and quirks (protocols.md §9):
//!
//! | venue | stream | interval | running updates | end of a bar |
//! |---|---|---|---|---|
//! | Binance | `kline_1m` | 1 m | every 2 s | one `x:true` |
//! | Kraken | `ohlc` | 1 m | per batch touching it | none (a later bar) |
//! | Coinbase | `candles` | 5 m | every 1 s | none on the wire: its final state, then the next bar |
//! | OKX | `candle1m` | 1 m | every 1 s | one `confirm:"1"` |
//! | Bybit | `kline.1` | 1 m | every 1 s | one `confirm:true` |
//! | Upbit | `candle.1s`, `candle.1m` | 1 s, 1 m | every 1 s, only bars that traded since | none (a later bar) |
//!
//! A bar's last message always carries its final state, so the recorder's stored candles equal
//! the candles of the ground-truth trades.

use tickrec_model::Venue;

use crate::market::CandleSnap;
use crate::tape::RawTrade;

/// How a venue pushes a candle stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Push {
    /// The running bar every `period_us` (changed or not) and, once the bar is over (a trade in a
    /// later bar, or the clock once no pending trade can still fall into it), its final state
    /// flagged `closed`.
    RunningAndClose { period_us: i64 },
    /// Every bar touched since the last push, in order, every `period_us` (0: every driver
    /// tick); nothing while no trade happens, and no closed flag.
    Touched { period_us: i64 },
}

/// One candle stream of a market.
#[derive(Debug)]
struct Stream {
    interval_us: i64,
    push: Push,
    cur: Option<CandleSnap>,
    /// `Touched`: final states of bars completed since the last push.
    done: Vec<CandleSnap>,
    touched: bool,
    last_emit_us: i64,
}

/// The candle streams of a venue: (interval, push rule).
fn rules(venue: Venue) -> Vec<(i64, Push)> {
    const S: i64 = 1_000_000;
    match venue {
        Venue::Binance => vec![(60 * S, Push::RunningAndClose { period_us: 2 * S })],
        Venue::Kraken => vec![(60 * S, Push::Touched { period_us: 0 })],
        Venue::Coinbase => vec![(300 * S, Push::RunningAndClose { period_us: S })],
        Venue::Okx | Venue::Bybit => vec![(60 * S, Push::RunningAndClose { period_us: S })],
        Venue::Upbit => vec![
            (S, Push::Touched { period_us: S }),
            (60 * S, Push::Touched { period_us: S }),
        ],
    }
}

impl Stream {
    fn open(&self, t: &RawTrade, now_us: i64) -> CandleSnap {
        CandleSnap {
            open_time_us: t.ts_us - t.ts_us.rem_euclid(self.interval_us),
            interval_us: self.interval_us,
            ..CandleSnap::open_with(t, now_us)
        }
    }

    fn on_trade(&mut self, t: &RawTrade, now_us: i64, out: &mut Vec<CandleSnap>) {
        let open = t.ts_us - t.ts_us.rem_euclid(self.interval_us);
        match &mut self.cur {
            Some(c) if c.open_time_us == open => c.add(t),
            _ => {
                let new = self.open(t, now_us);
                if let Some(old) = self.cur.replace(new) {
                    match self.push {
                        Push::RunningAndClose { .. } => out.push(CandleSnap {
                            closed: true,
                            event_us: now_us,
                            ..old
                        }),
                        Push::Touched { .. } if self.touched => self.done.push(old),
                        Push::Touched { .. } => {}
                    }
                }
            }
        }
        self.touched = true;
    }

    fn on_tick(&mut self, now_us: i64, next_trade_ts: Option<i64>, out: &mut Vec<CandleSnap>) {
        match self.push {
            Push::Touched { period_us } => {
                if self.touched && now_us - self.last_emit_us >= period_us {
                    out.extend(self.done.drain(..).map(|c| CandleSnap {
                        event_us: now_us,
                        ..c
                    }));
                    if let Some(c) = self.cur {
                        out.push(CandleSnap {
                            event_us: now_us,
                            ..c
                        });
                    }
                    self.touched = false;
                    self.last_emit_us = now_us;
                }
            }
            Push::RunningAndClose { period_us } => {
                if let Some(c) = self.cur {
                    let over =
                        now_us >= c.end_us() && next_trade_ts.is_none_or(|ts| ts >= c.end_us());
                    if over {
                        out.push(CandleSnap {
                            closed: true,
                            event_us: now_us,
                            ..c
                        });
                        self.cur = None;
                        self.last_emit_us = now_us;
                    } else if now_us - self.last_emit_us >= period_us {
                        out.push(CandleSnap {
                            event_us: now_us,
                            ..c
                        });
                        self.last_emit_us = now_us;
                    }
                }
                self.touched = false;
            }
        }
    }

    fn next_event_us(&self) -> Option<i64> {
        match (self.push, &self.cur) {
            (Push::RunningAndClose { period_us }, Some(c)) => {
                Some((self.last_emit_us + period_us).min(c.end_us()))
            }
            (Push::Touched { period_us }, _) if period_us > 0 && self.touched => {
                Some(self.last_emit_us + period_us)
            }
            _ => None,
        }
    }
}

/// Builds a market's candle streams from its tape (see the module table). Connections pick the
/// candles of the interval they subscribed by [`CandleSnap::interval_us`].
#[derive(Debug)]
pub(crate) struct CandleBuilder {
    streams: Vec<Stream>,
}

impl CandleBuilder {
    pub(crate) fn new(venue: Venue, start_us: i64) -> CandleBuilder {
        CandleBuilder {
            streams: rules(venue)
                .into_iter()
                .map(|(interval_us, push)| Stream {
                    interval_us,
                    push,
                    cur: None,
                    done: Vec::new(),
                    touched: false,
                    last_emit_us: start_us,
                })
                .collect(),
        }
    }

    /// The running bar of the venue's first stream (Kraken's `ohlc` snapshot).
    pub(crate) fn current(&self) -> Option<CandleSnap> {
        self.streams.first().and_then(|s| s.cur)
    }

    pub(crate) fn on_trade(&mut self, t: &RawTrade, now_us: i64, out: &mut Vec<CandleSnap>) {
        for s in &mut self.streams {
            s.on_trade(t, now_us, out);
        }
    }

    /// End of a driver tick. `next_trade_ts` is the event time of the next (not yet due) trade,
    /// `None` when the tape is over.
    pub(crate) fn on_tick(
        &mut self,
        now_us: i64,
        next_trade_ts: Option<i64>,
        out: &mut Vec<CandleSnap>,
    ) {
        for s in &mut self.streams {
            s.on_tick(now_us, next_trade_ts, out);
        }
    }

    /// When a stream next has something to say without a new trade.
    pub(crate) fn next_event_us(&self) -> Option<i64> {
        self.streams.iter().filter_map(Stream::next_event_us).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tape::{Profile, TapeGen};

    fn tape(venue: Venue, rate: f64, n: u64) -> Vec<RawTrade> {
        let mut g = TapeGen::new(Profile::new(1, venue, "BTC/USDT"), 0, rate);
        (0..n).map(|_| g.next_raw()).collect()
    }

    /// Drives a builder over `tape` with a tick every `step_us` until `end_us`.
    fn run(venue: Venue, tape: &[RawTrade], step_us: i64, end_us: i64) -> Vec<CandleSnap> {
        let mut b = CandleBuilder::new(venue, 0);
        let mut out = Vec::new();
        let (mut i, mut now) = (0, 0);
        while now <= end_us {
            while i < tape.len() && tape[i].ts_us <= now {
                b.on_trade(&tape[i], now, &mut out);
                i += 1;
            }
            b.on_tick(now, tape.get(i).map(|t| t.ts_us), &mut out);
            now += step_us;
        }
        out
    }

    /// The last message of each (interval, bar) is its final state: every trade counted once.
    fn finals(out: &[CandleSnap], interval_us: i64) -> Vec<CandleSnap> {
        let mut v: Vec<CandleSnap> = Vec::new();
        for c in out.iter().filter(|c| c.interval_us == interval_us) {
            match v.iter_mut().find(|x| x.open_time_us == c.open_time_us) {
                Some(x) => *x = *c,
                None => v.push(*c),
            }
        }
        v
    }

    #[test]
    fn coinbase_five_minute_bars_every_second_final_state_last() {
        let t = tape(Venue::Coinbase, 2.0, 1300); // 650 s: three 5-minute bars
        let out = run(Venue::Coinbase, &t, 100_000, 950_000_000);
        assert!(out.iter().all(|c| c.interval_us == 300_000_000));
        let f = finals(&out, 300_000_000);
        assert_eq!(f.len(), 3);
        assert_eq!(f.iter().map(|c| c.trades).sum::<u64>(), 1300);
        assert_eq!(f[0].trades, 600);
        assert!(
            f.iter().all(|c| c.closed),
            "each bar's last message is final"
        );
        for w in out.windows(2) {
            if !w[0].closed && !w[1].closed && w[0].open_time_us == w[1].open_time_us {
                assert!(
                    w[1].event_us - w[0].event_us >= 1_000_000,
                    "≤ 1 push per second"
                );
            }
        }
    }

    #[test]
    fn okx_and_bybit_confirm_each_minute_once() {
        for venue in [Venue::Okx, Venue::Bybit] {
            let t = tape(venue, 10.0, 1500);
            let out = run(venue, &t, 100_000, 200_000_000);
            let closed: Vec<_> = out.iter().filter(|c| c.closed).collect();
            assert_eq!(closed.len(), 3, "{venue}");
            assert_eq!(closed.iter().map(|c| c.trades).sum::<u64>(), 1500);
            let running = out.len() - closed.len();
            // One a second while a bar is open: 0 s until the clock closes the third at 180 s.
            assert!(
                (170..=180).contains(&running),
                "{venue}: {running} running pushes"
            );
        }
    }

    #[test]
    fn upbit_pushes_seconds_and_minutes_touched_since_the_last_push() {
        let t = tape(Venue::Upbit, 10.0, 700); // 70 s
        let out = run(Venue::Upbit, &t, 100_000, 75_000_000);
        let secs = finals(&out, 1_000_000);
        assert_eq!(secs.len(), 70);
        assert!(secs.iter().all(|c| c.trades == 10));
        let mins = finals(&out, 60_000_000);
        assert_eq!(mins.iter().map(|c| c.trades).sum::<u64>(), 700);
        assert_eq!(mins[0].trades, 600);
        assert!(out.iter().all(|c| !c.closed), "Upbit has no closed flag");
        // Nothing once the trades stop.
        let last = out.iter().map(|c| c.event_us).max().unwrap();
        assert!(last <= 71_000_000, "{last}");
    }
}
