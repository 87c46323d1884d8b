//! Fault injection: what can go wrong with a venue, on command ([`crate::SimHandle::inject`]) or
//! on a schedule ([`crate::SimConfig::faults`]).
//!
//! Faults never change the tape: every trade a fault hides from the WebSocket is still published
//! (ground truth, REST), so a recorder that detects the gap and backfills ends with exactly the
//! ground truth. Count-based faults (malformed, duplicate, reorder, rejected subscriptions,
//! refused REST requests) are venue-wide budgets consumed by whichever connection or request comes
//! next, so they also apply to connections opened after the injection (and to scheduled faults
//! that fire before the recorder connects).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tickrec_model::Venue;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Bytes, Message};

use crate::tape::draw;

/// Size of the oversized frame sent by [`Fault::Malformed`]: beyond any real venue message and
/// beyond a recorder's usual per-frame limit (1 MiB), below WebSocket transport limits.
pub const OVERSIZED_FRAME_BYTES: usize = 2 << 20;

/// How long a message held back by [`Fault::Reorder`] waits for a successor before it is sent
/// anyway.
const REORDER_HOLD: Duration = Duration::from_millis(200);

/// Something going wrong at a venue.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Closes every WebSocket connection of the venue (`None`: of every venue) abruptly: the
    /// socket is dropped without a close frame, like a network failure. Trades keep being
    /// published (REST, ground truth).
    DropConnections {
        /// The venue, or all.
        venue: Option<Venue>,
    },
    /// For `duration`, the venue's WebSocket connections (open or opened meanwhile) send nothing
    /// at all — no data, heartbeats, pings, acks or pongs — and read nothing; the sockets stay
    /// open. Data published meanwhile is not sent later (a gap to backfill); queued responses
    /// are sent when the silence ends.
    Silence {
        /// The venue.
        venue: Venue,
        /// How long.
        duration: Duration,
    },
    /// Sends `count` garbage frames interleaved with data (one per push at most, in rotation: a
    /// truncated copy of a data message, a binary frame of random bytes, an
    /// [`OVERSIZED_FRAME_BYTES`] text frame). They are extra frames: no data is lost.
    Malformed {
        /// The venue.
        venue: Venue,
        /// Garbage frames to send.
        count: u32,
    },
    /// The market's next `count` published trades are not sent on any WebSocket (trade and
    /// aggTrade streams, book tickers of those trades) but are published to REST and the ground
    /// truth: an id gap the recorder must backfill.
    SkipTradeIds {
        /// The venue.
        venue: Venue,
        /// The market's unified symbol (`BTC/USDT`).
        symbol: String,
        /// Trades to hide.
        count: u64,
    },
    /// The next `count` data messages are sent twice.
    Duplicate {
        /// The venue.
        venue: Venue,
        /// Messages to duplicate.
        count: u32,
    },
    /// `count` times, a data message is sent after its successor (adjacent swap).
    Reorder {
        /// The venue.
        venue: Venue,
        /// Swaps.
        count: u32,
    },
    /// The next subscription is refused: a Binance `SUBSCRIBE` gets an error response, a Binance
    /// connection with streams in its URL gets HTTP 400 at the handshake, a Kraken `subscribe`
    /// gets a `success:false` ack per symbol (`EService:Unavailable`). Retrying succeeds.
    RejectNextSubscription {
        /// The venue.
        venue: Venue,
    },
    /// The next `requests` REST requests to the venue are refused with HTTP 429 and
    /// `Retry-After: retry_after_s`. On Binance, a refused request arriving less than
    /// `retry_after_s` after the previous refusal (the client ignored `Retry-After`) gets HTTP
    /// 418 (IP ban) instead.
    RateLimitRest {
        /// The venue.
        venue: Venue,
        /// Requests to refuse.
        requests: u32,
        /// `Retry-After` value, seconds.
        retry_after_s: u32,
    },
    /// The market's next `trades` trades are published at `rate` trades/s (then the configured
    /// rate resumes). Their timestamps follow the burst's pace; the tape's content is unchanged.
    Burst {
        /// The venue.
        venue: Venue,
        /// The market's unified symbol.
        symbol: String,
        /// Trades in the burst.
        trades: u64,
        /// Trades per second during the burst, `MIN_RATE..=MAX_RATE`.
        rate: f64,
    },
    /// For `duration`, new WebSocket connections to the venue are refused at the handshake with
    /// HTTP 429 and a `Retry-After` header. Open connections are not affected.
    RefuseConnections {
        /// The venue.
        venue: Venue,
        /// How long.
        duration: Duration,
    },
    /// The market's book message `after` messages from now (0: the next one; counted from the
    /// injection, so a fault scheduled at start hits message `after + 1` of the book; a change
    /// the venue does not show is no message) is applied to the venue's book but sent to nobody: a sequence gap (Binance `U`, OKX `prevSeqId`, Bybit `u`,
    /// Coinbase `sequence_num`), a checksum mismatch on the next Kraken message, invisible on
    /// Upbit (the next snapshot replaces it).
    DropBookDelta {
        /// The venue.
        venue: Venue,
        /// The market's unified symbol.
        symbol: String,
        /// Book messages to let through first.
        after: u64,
    },
    /// The market's book message `after` messages from now carries a wrong checksum (Kraken,
    /// OKX); the book itself is right.
    CorruptBookChecksum {
        /// The venue (Kraken or OKX).
        venue: Venue,
        /// The market's unified symbol.
        symbol: String,
        /// Book messages to let through first.
        after: u64,
    },
    /// The market's book message `after` messages from now is sent after its successor (both
    /// reach every subscriber, out of order).
    ReorderBookDeltas {
        /// The venue.
        venue: Venue,
        /// The market's unified symbol.
        symbol: String,
        /// Book messages to let through first.
        after: u64,
    },
    /// The market's next Binance REST depth snapshot is the book as it was `lag` deltas ago
    /// (with that moment's `lastUpdateId`), as far back as the simulator keeps undo information
    /// ([`crate::BOOK_UNDO_KEPT`] deltas; before that, the initial book). With a lag larger than
    /// the deltas since the client subscribed, `lastUpdateId` is older than the first buffered
    /// event and the client must fetch again.
    StaleBookSnapshot {
        /// The venue (Binance).
        venue: Venue,
        /// The market's unified symbol.
        symbol: String,
        /// Deltas the snapshot lags the stream by.
        lag: u64,
    },
}

impl Fault {
    /// The market a fault targets, if it targets one.
    pub(crate) fn market(&self) -> Option<(Venue, &str)> {
        match self {
            Fault::SkipTradeIds { venue, symbol, .. }
            | Fault::Burst { venue, symbol, .. }
            | Fault::DropBookDelta { venue, symbol, .. }
            | Fault::CorruptBookChecksum { venue, symbol, .. }
            | Fault::ReorderBookDeltas { venue, symbol, .. }
            | Fault::StaleBookSnapshot { venue, symbol, .. } => Some((*venue, symbol.as_str())),
            _ => None,
        }
    }
}

/// A fault injected `at` after the simulator started.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledFault {
    /// Delay after [`crate::start`].
    pub at: Duration,
    /// What happens.
    pub fault: Fault,
}

/// Takes one unit from a budget; returns the budget before the take.
fn take(budget: &AtomicU64) -> Option<u64> {
    budget
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| v.checked_sub(1))
        .ok()
}

/// A venue's REST refusal budget.
#[derive(Debug, Default)]
struct RestLimit {
    remaining: u32,
    retry_after_s: u32,
    last_refusal: Option<Instant>,
}

/// How a REST request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// HTTP 429 with `Retry-After`.
    TooMany { retry_after_s: u32 },
    /// HTTP 418 (Binance IP ban) with `Retry-After`.
    Banned { retry_after_s: u32 },
}

/// The fault state of one venue.
#[derive(Debug)]
pub(crate) struct VenueFaults {
    venue: Venue,
    epoch: Instant,
    drops: watch::Sender<u64>,
    /// µs since `epoch`; 0 = none.
    silent_until: AtomicU64,
    refuse_until: AtomicU64,
    malformed: AtomicU64,
    duplicate: AtomicU64,
    reorder: AtomicU64,
    reject_subs: AtomicU64,
    rest: Mutex<RestLimit>,
}

impl VenueFaults {
    pub(crate) fn new(venue: Venue, epoch: Instant) -> VenueFaults {
        VenueFaults {
            venue,
            epoch,
            drops: watch::channel(0).0,
            silent_until: AtomicU64::new(0),
            refuse_until: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            duplicate: AtomicU64::new(0),
            reorder: AtomicU64::new(0),
            reject_subs: AtomicU64::new(0),
            rest: Mutex::new(RestLimit::default()),
        }
    }

    fn since_epoch(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    /// Extends a "until" deadline to `now + d` (never shortens it).
    fn extend(&self, deadline: &AtomicU64, d: Duration) {
        let until = self.since_epoch(Instant::now() + d).max(1);
        deadline.fetch_max(until, Ordering::AcqRel);
    }

    fn until(&self, deadline: &AtomicU64) -> Option<Instant> {
        let us = deadline.load(Ordering::Acquire);
        if us == 0 {
            return None;
        }
        let at = self.epoch + Duration::from_micros(us);
        (at > Instant::now()).then_some(at)
    }

    /// Applies a venue-level fault (market faults are applied by the market).
    pub(crate) fn apply(&self, fault: &Fault) {
        let add = |a: &AtomicU64, n: u32| {
            a.fetch_add(u64::from(n), Ordering::AcqRel);
        };
        match fault {
            Fault::DropConnections { .. } => self.drops.send_modify(|g| *g += 1),
            Fault::Silence { duration, .. } => self.extend(&self.silent_until, *duration),
            Fault::RefuseConnections { duration, .. } => {
                self.extend(&self.refuse_until, *duration);
            }
            Fault::Malformed { count, .. } => add(&self.malformed, *count),
            Fault::Duplicate { count, .. } => add(&self.duplicate, *count),
            Fault::Reorder { count, .. } => add(&self.reorder, *count),
            Fault::RejectNextSubscription { .. } => add(&self.reject_subs, 1),
            Fault::RateLimitRest {
                requests,
                retry_after_s,
                ..
            } => {
                let mut r = self.rest.lock().unwrap_or_else(|e| e.into_inner());
                r.remaining = r.remaining.saturating_add(*requests);
                r.retry_after_s = *retry_after_s;
                // A new episode: its first refusal is a 429.
                r.last_refusal = None;
            }
            Fault::SkipTradeIds { .. }
            | Fault::Burst { .. }
            | Fault::DropBookDelta { .. }
            | Fault::CorruptBookChecksum { .. }
            | Fault::ReorderBookDeltas { .. }
            | Fault::StaleBookSnapshot { .. } => {}
        }
        tracing::info!(venue = %self.venue, ?fault, "fault injected");
    }

    /// A receiver that sees a change when the venue's connections must be dropped.
    pub(crate) fn drops(&self) -> watch::Receiver<u64> {
        self.drops.subscribe()
    }

    /// When the current silence ends, if the venue is silent.
    pub(crate) fn silent_until(&self) -> Option<Instant> {
        self.until(&self.silent_until)
    }

    /// Seconds (rounded up) until new connections are accepted again, if they are refused.
    pub(crate) fn refusing(&self) -> Option<u64> {
        let at = self.until(&self.refuse_until)?;
        let left = at.saturating_duration_since(Instant::now());
        Some(left.as_secs() + u64::from(left.subsec_nanos() > 0))
    }

    /// Consumes a pending subscription rejection.
    pub(crate) fn take_reject(&self) -> bool {
        take(&self.reject_subs).is_some()
    }

    /// Decides whether a REST request is refused (consuming the budget).
    pub(crate) fn rest_refusal(&self) -> Option<Refusal> {
        let mut r = self.rest.lock().unwrap_or_else(|e| e.into_inner());
        if r.remaining == 0 {
            return None;
        }
        r.remaining -= 1;
        let now = Instant::now();
        let retry_after_s = r.retry_after_s;
        let ignored = r.last_refusal.is_some_and(|t| {
            now.saturating_duration_since(t) < Duration::from_secs(u64::from(retry_after_s))
        });
        r.last_refusal = Some(now);
        Some(if ignored && self.venue == Venue::Binance {
            Refusal::Banned { retry_after_s }
        } else {
            Refusal::TooMany { retry_after_s }
        })
    }

    /// Applies the message faults to the data messages of one push (`data` holds only market
    /// data, in order). `st` is the connection's own state.
    pub(crate) fn mangle(&self, data: &mut Vec<Message>, st: &mut ConnFaults) {
        if data.is_empty() {
            if let Some((m, since)) = st.held.take() {
                if since.elapsed() >= REORDER_HOLD {
                    data.push(m);
                } else {
                    st.held = Some((m, since));
                }
            }
            return;
        }
        if self.reorder.load(Ordering::Relaxed) > 0 || st.held.is_some() {
            let mut i = 0;
            if let Some((m, _)) = st.held.take() {
                // It preceded everything in `data`: sending it after the first one swaps them.
                data.insert(1, m);
                i = 2;
            }
            while i + 1 < data.len() && take(&self.reorder).is_some() {
                data.swap(i, i + 1);
                i += 2;
            }
            if i + 1 == data.len() && st.held.is_none() && take(&self.reorder).is_some() {
                // Last one without a successor yet: hold it for the next push.
                if let Some(m) = data.pop() {
                    st.held = Some((m, Instant::now()));
                }
            }
        }
        if self.duplicate.load(Ordering::Relaxed) > 0 {
            let mut i = 0;
            while i < data.len() && take(&self.duplicate).is_some() {
                let copy = data[i].clone();
                data.insert(i + 1, copy);
                i += 2;
            }
        }
        if self.malformed.load(Ordering::Relaxed) > 0 && !data.is_empty() {
            if let Some(n) = take(&self.malformed) {
                let garbage = match n % 3 {
                    0 => truncated(&data[0]),
                    1 => binary_garbage(n),
                    _ => oversized(),
                };
                data.insert(1.min(data.len()), garbage);
            }
        }
    }
}

/// A connection's own fault state.
#[derive(Debug, Default)]
pub(crate) struct ConnFaults {
    /// A message held back by [`Fault::Reorder`] and when.
    held: Option<(Message, Instant)>,
}

/// The first half of a data message: invalid JSON.
fn truncated(m: &Message) -> Message {
    match m {
        Message::Text(t) => {
            let s = t.as_str();
            let mut cut = s.len() / 2;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            Message::text(&s[..cut])
        }
        _ => Message::text(r#"{"e":"trade","E":17"#),
    }
}

/// Random bytes (not UTF-8) in a binary frame.
fn binary_garbage(n: u64) -> Message {
    let mut b = Vec::with_capacity(64);
    b.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x7B]);
    for i in 0..60u64 {
        b.push((draw(0x6A5B_A6E0 ^ n, i) >> 56) as u8);
    }
    Message::Binary(Bytes::from(b))
}

/// A syntactically valid text frame far larger than anything a venue sends.
fn oversized() -> Message {
    let mut s = String::with_capacity(OVERSIZED_FRAME_BYTES + 16);
    s.push_str(r#"{"oversized":""#);
    s.extend(std::iter::repeat_n('x', OVERSIZED_FRAME_BYTES));
    s.push_str(r#""}"#);
    Message::text(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(ids: &[u32]) -> Vec<Message> {
        ids.iter().map(|i| Message::text(format!("{i}"))).collect()
    }

    fn texts(v: &[Message]) -> Vec<String> {
        v.iter()
            .map(|m| match m {
                Message::Text(t) => t.to_string(),
                Message::Binary(_) => "bin".into(),
                _ => "?".into(),
            })
            .collect()
    }

    #[tokio::test]
    async fn message_faults() {
        let f = VenueFaults::new(Venue::Binance, Instant::now());
        let mut st = ConnFaults::default();
        f.apply(&Fault::Duplicate {
            venue: Venue::Binance,
            count: 2,
        });
        let mut d = msgs(&[1, 2, 3]);
        f.mangle(&mut d, &mut st);
        assert_eq!(texts(&d), ["1", "1", "2", "2", "3"]);
        let mut d = msgs(&[4]);
        f.mangle(&mut d, &mut st);
        assert_eq!(texts(&d), ["4"], "budget spent");

        f.apply(&Fault::Reorder {
            venue: Venue::Binance,
            count: 3,
        });
        let mut d = msgs(&[1, 2, 3, 4, 5]);
        f.mangle(&mut d, &mut st);
        assert_eq!(texts(&d), ["2", "1", "4", "3"], "5 is held");
        let mut d = msgs(&[6, 7]);
        f.mangle(&mut d, &mut st);
        assert_eq!(texts(&d), ["6", "5", "7"]);
        // One message per push: held, then sent after its successor.
        f.apply(&Fault::Reorder {
            venue: Venue::Binance,
            count: 1,
        });
        let mut d = msgs(&[8]);
        f.mangle(&mut d, &mut st);
        assert!(d.is_empty());
        let mut d = msgs(&[9]);
        f.mangle(&mut d, &mut st);
        assert_eq!(texts(&d), ["9", "8"]);
        let mut d = msgs(&[10]);
        f.mangle(&mut d, &mut st);
        assert_eq!(texts(&d), ["10"]);

        f.apply(&Fault::Malformed {
            venue: Venue::Binance,
            count: 3,
        });
        let mut kinds = Vec::new();
        for _ in 0..4 {
            let mut d = vec![Message::text(r#"{"e":"trade","t":1}"#)];
            f.mangle(&mut d, &mut st);
            kinds.push(d.len());
            if let Some(g) = d.get(1) {
                match g {
                    Message::Text(t) if t.len() > OVERSIZED_FRAME_BYTES => {}
                    Message::Text(t) => {
                        assert!(serde_json::from_str::<serde_json::Value>(t).is_err())
                    }
                    Message::Binary(b) => assert!(std::str::from_utf8(b).is_err()),
                    m => panic!("{m:?}"),
                }
            }
        }
        assert_eq!(kinds, [2, 2, 2, 1]);
    }

    #[tokio::test]
    async fn deadlines_and_budgets() {
        let f = VenueFaults::new(Venue::Binance, Instant::now());
        assert!(f.silent_until().is_none());
        f.apply(&Fault::Silence {
            venue: Venue::Binance,
            duration: Duration::from_secs(5),
        });
        assert!(f.silent_until().is_some());
        f.apply(&Fault::RefuseConnections {
            venue: Venue::Binance,
            duration: Duration::from_millis(1500),
        });
        assert_eq!(f.refusing(), Some(2));
        assert!(!f.take_reject());
        f.apply(&Fault::RejectNextSubscription {
            venue: Venue::Binance,
        });
        assert!(f.take_reject());
        assert!(!f.take_reject());
        f.apply(&Fault::RateLimitRest {
            venue: Venue::Binance,
            requests: 2,
            retry_after_s: 30,
        });
        assert_eq!(
            f.rest_refusal(),
            Some(Refusal::TooMany { retry_after_s: 30 })
        );
        assert_eq!(
            f.rest_refusal(),
            Some(Refusal::Banned { retry_after_s: 30 })
        );
        assert_eq!(f.rest_refusal(), None);
        let rx = f.drops();
        f.apply(&Fault::DropConnections { venue: None });
        assert!(rx.has_changed().unwrap());
    }
}
