//! Live state of every connection and stream (venue × symbol × channel), shared between the
//! supervisors that update it and the HTTP side (`/metrics`, `/health`, `/ready`, the status
//! page) that reads it. Updates are relaxed atomics: the reader never blocks a socket.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, RwLock};

use tickrec_model::hist::{escape_label, render_prometheus, HistogramSnapshot, LatencyHistogram};
use tickrec_model::{now_us, Channel, Event, TradeKind, Venue};

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnState {
    /// Not connected (never yet, or backing off after a failure).
    Down,
    /// Socket open, subscriptions not all confirmed yet.
    Connected,
    /// Every subscription confirmed: data is expected.
    Subscribed,
}

impl ConnState {
    fn from_u8(v: u8) -> ConnState {
        match v {
            1 => ConnState::Connected,
            2 => ConnState::Subscribed,
            _ => ConnState::Down,
        }
    }
}

/// Order-book figures of a `book` stream, set by the feed (at most once a second).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct BookStatus {
    /// The book is in sync and verified now.
    pub live: bool,
    /// Share of the observed time it was verified (`None` before any time passed).
    pub verified_ratio: Option<f64>,
    /// Snapshots and deltas applied.
    pub messages: u64,
    /// Checksums that matched.
    pub checksum_ok: u64,
    /// Checksums that did not.
    pub checksum_failed: u64,
    /// Sequence gaps.
    pub gaps: u64,
    /// Resyncs (snapshots after the first).
    pub resyncs: u64,
    /// Times the book was found crossed.
    pub crossed: u64,
}

/// Counters of one stream.
#[derive(Debug)]
pub struct StreamStats {
    /// Unified symbol.
    pub symbol: Arc<str>,
    /// Channel label (`trades`, `agg_trades`, `bbo`, `candles`, `book`).
    pub channel: &'static str,
    msgs: AtomicU64,
    last_msg_us: AtomicI64,
    gaps: AtomicU64,
    out_of_order: AtomicU64,
    /// Venue time → receive time.
    lag: LatencyHistogram,
}

impl StreamStats {
    fn new(symbol: Arc<str>, channel: &'static str) -> Self {
        StreamStats {
            symbol,
            channel,
            msgs: AtomicU64::new(0),
            last_msg_us: AtomicI64::new(0),
            gaps: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
            lag: LatencyHistogram::new(),
        }
    }
}

/// State of one connection and its streams.
#[derive(Debug)]
pub struct ConnectionState {
    /// Connection name (`binance#0`).
    pub name: String,
    /// Venue.
    pub venue: Venue,
    state: AtomicU8,
    since_us: AtomicI64,
    connects: AtomicU64,
    dropped: AtomicU64,
    ever_subscribed: AtomicBool,
    books: RwLock<HashMap<Arc<str>, BookStatus>>,
    streams: Vec<StreamStats>,
    index: HashMap<(Arc<str>, &'static str), usize>,
}

/// The channel label an event belongs to.
fn channel_of(ev: &Event) -> Option<&'static str> {
    Some(match ev {
        Event::Trade(t) => match t.kind {
            TradeKind::Single => Channel::Trades.label(),
            TradeKind::Aggregate { .. } => Channel::AggTrades.label(),
        },
        Event::Quote(_) => Channel::Bbo.label(),
        Event::Candle(_) => "candles",
        Event::Book(_) => "book",
        Event::Reject(_) | Event::Quality(_) | Event::BookTop(_) => return None,
    })
}

/// (symbol, exchange time) of a data event.
fn key_of(ev: &Event) -> Option<(&Arc<str>, Option<i64>)> {
    Some(match ev {
        Event::Trade(t) => (&t.symbol, Some(t.ts_exchange_us)),
        Event::Quote(q) => (&q.symbol, q.ts_exchange_us),
        Event::Candle(c) => (&c.symbol, Some(c.ts_exchange_us)),
        Event::Book(b) => (&b.symbol, b.ts_exchange_us),
        Event::Reject(_) | Event::Quality(_) | Event::BookTop(_) => return None,
    })
}

impl ConnectionState {
    /// A connection with one stream per `(symbol, channel)`.
    pub fn new(name: impl Into<String>, venue: Venue, streams: &[(Arc<str>, Channel)]) -> Self {
        let mut s = Vec::new();
        let mut index = HashMap::new();
        for (symbol, channel) in streams {
            if let std::collections::hash_map::Entry::Vacant(e) =
                index.entry((symbol.clone(), channel.label()))
            {
                e.insert(s.len());
                s.push(StreamStats::new(symbol.clone(), channel.label()));
            }
        }
        ConnectionState {
            name: name.into(),
            venue,
            state: AtomicU8::new(0),
            since_us: AtomicI64::new(now_us()),
            connects: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            ever_subscribed: AtomicBool::new(false),
            books: RwLock::new(HashMap::new()),
            streams: s,
            index,
        }
    }

    /// Records a state change.
    pub fn set_state(&self, st: ConnState) {
        let v = match st {
            ConnState::Down => 0,
            ConnState::Connected => {
                self.connects.fetch_add(1, Ordering::Relaxed);
                1
            }
            ConnState::Subscribed => {
                self.ever_subscribed.store(true, Ordering::Relaxed);
                2
            }
        };
        if self.state.swap(v, Ordering::Relaxed) != v {
            self.since_us.store(now_us(), Ordering::Relaxed);
        }
    }

    /// Current state.
    pub fn state(&self) -> ConnState {
        ConnState::from_u8(self.state.load(Ordering::Relaxed))
    }

    /// True once every subscription was confirmed at least once.
    pub fn ever_subscribed(&self) -> bool {
        self.ever_subscribed.load(Ordering::Relaxed)
    }

    /// Counts the data events of one frame: messages, last-message time and lag per stream.
    /// Events of streams that were not configured (a venue sending more than asked) are ignored.
    pub fn on_events(&self, events: &[Event]) {
        let mut last: Option<(&Arc<str>, &'static str, usize)> = None;
        for ev in events {
            let (Some(channel), Some((symbol, ts_exchange))) = (channel_of(ev), key_of(ev)) else {
                continue;
            };
            // Frames usually carry one stream: remember the last hit instead of hashing again.
            let i = match last {
                Some((s, c, i)) if c == channel && (Arc::ptr_eq(s, symbol) || s == symbol) => i,
                _ => match self.index.get(&(symbol.clone(), channel)) {
                    Some(i) => *i,
                    None => continue,
                },
            };
            last = Some((symbol, channel, i));
            let s = &self.streams[i];
            let recv = ev.ts_recv_us();
            s.msgs.fetch_add(1, Ordering::Relaxed);
            s.last_msg_us.store(recv, Ordering::Relaxed);
            if let Some(ts) = ts_exchange {
                s.lag.record_us(recv.saturating_sub(ts));
            }
        }
    }

    fn stream(&self, symbol: &Arc<str>, aggregate: bool) -> Option<&StreamStats> {
        let channel = if aggregate {
            Channel::AggTrades.label()
        } else {
            Channel::Trades.label()
        };
        self.index
            .get(&(symbol.clone(), channel))
            .map(|i| &self.streams[*i])
    }

    /// Sets the book figures of `symbol`'s `book` stream.
    pub fn set_book(&self, symbol: &Arc<str>, status: BookStatus) {
        // A poisoned lock only means a panicking writer: the figures are still plain data.
        let mut books = self.books.write().unwrap_or_else(|e| e.into_inner());
        books.insert(symbol.clone(), status);
    }

    /// Counts a trade-id gap on a trade stream.
    pub fn on_gap(&self, symbol: &Arc<str>, aggregate: bool) {
        if let Some(s) = self.stream(symbol, aggregate) {
            s.gaps.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a frame dropped because the journal was full (its trades are backfilled).
    pub fn on_dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a trade that arrived below the newest id seen.
    pub fn on_out_of_order(&self, symbol: &Arc<str>, aggregate: bool) {
        if let Some(s) = self.stream(symbol, aggregate) {
            s.out_of_order.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A copy for reporting, with ages computed at `now`.
    pub fn snapshot(&self, now: i64) -> ConnectionSnapshot {
        let connects = self.connects.load(Ordering::Relaxed);
        let books = self.books.read().unwrap_or_else(|e| e.into_inner());
        ConnectionSnapshot {
            name: self.name.clone(),
            venue: self.venue.as_str(),
            state: self.state(),
            state_age_s: secs(now - self.since_us.load(Ordering::Relaxed)),
            connects,
            reconnects: connects.saturating_sub(1),
            dropped: self.dropped.load(Ordering::Relaxed),
            ever_subscribed: self.ever_subscribed(),
            streams: self
                .streams
                .iter()
                .map(|s| {
                    let last = s.last_msg_us.load(Ordering::Relaxed);
                    StreamSnapshot {
                        symbol: s.symbol.to_string(),
                        channel: s.channel,
                        msgs: s.msgs.load(Ordering::Relaxed),
                        last_msg_us: (last > 0).then_some(last),
                        last_msg_age_s: (last > 0).then(|| secs(now - last)),
                        gaps: s.gaps.load(Ordering::Relaxed),
                        out_of_order: s.out_of_order.load(Ordering::Relaxed),
                        lag: s.lag.snapshot(),
                        book: (s.channel == "book")
                            .then(|| books.get(&s.symbol).copied())
                            .flatten(),
                    }
                })
                .collect(),
        }
    }
}

fn secs(us: i64) -> f64 {
    (us.max(0) as f64 / 1e6 * 1000.0).round() / 1000.0
}

/// Reported state of a stream.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StreamSnapshot {
    /// Unified symbol.
    pub symbol: String,
    /// Channel label.
    pub channel: &'static str,
    /// Messages (events) received.
    pub msgs: u64,
    /// Receive time of the last one, µs.
    pub last_msg_us: Option<i64>,
    /// Seconds since then (`None`: nothing yet).
    pub last_msg_age_s: Option<f64>,
    /// Trade-id gaps detected.
    pub gaps: u64,
    /// Trades that arrived below the newest id (re-deliveries, late arrivals).
    pub out_of_order: u64,
    /// Venue time → receive time, ms buckets (see [`tickrec_model::hist::BUCKETS_MS`]).
    pub lag: HistogramSnapshot,
    /// Order-book figures (`book` streams only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub book: Option<BookStatus>,
}

/// Reported state of a connection.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConnectionSnapshot {
    /// Name (`binance#0`).
    pub name: String,
    /// Venue.
    pub venue: &'static str,
    /// Current state.
    pub state: ConnState,
    /// Seconds in that state.
    pub state_age_s: f64,
    /// Successful connects.
    pub connects: u64,
    /// Connects after the first.
    pub reconnects: u64,
    /// Frames dropped under back-pressure.
    pub dropped: u64,
    /// Every subscription was confirmed at least once.
    pub ever_subscribed: bool,
    /// Its streams.
    pub streams: Vec<StreamSnapshot>,
}

/// Every connection of a recorder.
#[derive(Debug, Default)]
pub struct StreamRegistry {
    conns: RwLock<Vec<Arc<ConnectionState>>>,
}

impl StreamRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a connection and returns its handle for the supervisor.
    pub fn register(&self, conn: ConnectionState) -> Arc<ConnectionState> {
        let c = Arc::new(conn);
        self.conns
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(c.clone());
        c
    }

    /// Snapshots of every connection.
    pub fn snapshot(&self) -> Vec<ConnectionSnapshot> {
        let now = now_us();
        self.conns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|c| c.snapshot(now))
            .collect()
    }

    /// Appends the per-stream metrics in Prometheus text format: `ws_msgs_total`,
    /// `ws_lag_ms` and `collector_latency_exchange_to_collector_ms` (the same histogram under
    /// both seeds' names), `ws_lag_negative_total`, `collector_sequence_out_of_order_total`,
    /// `tickrec_stream_last_message_age_seconds`, `tickrec_connection_state`.
    pub fn render_prometheus(&self, out: &mut String) {
        let snap = self.snapshot();
        let labels = |c: &ConnectionSnapshot, s: &StreamSnapshot| {
            format!(
                "venue=\"{}\",symbol=\"{}\",channel=\"{}\"",
                c.venue,
                escape_label(&s.symbol),
                s.channel
            )
        };
        let mut families: [(&str, &str, &str, String); 4] = [
            (
                "ws_msgs_total",
                "counter",
                "Messages received per stream.",
                String::new(),
            ),
            (
                "ws_lag_negative_total",
                "counter",
                "Messages whose venue time was ahead of our receive time (clock skew).",
                String::new(),
            ),
            (
                "collector_sequence_out_of_order_total",
                "counter",
                "Trades that arrived below the newest trade id seen.",
                String::new(),
            ),
            (
                "tickrec_stream_last_message_age_seconds",
                "gauge",
                "Seconds since the stream's last message (-1: none yet).",
                String::new(),
            ),
        ];
        for c in &snap {
            for s in &c.streams {
                let l = labels(c, s);
                let values = [
                    s.msgs as f64,
                    s.lag.negative as f64,
                    s.out_of_order as f64,
                    s.last_msg_age_s.unwrap_or(-1.0),
                ];
                for (f, v) in families.iter_mut().zip(values) {
                    let _ = writeln!(f.3, "{}{{{l}}} {v}", f.0);
                }
            }
        }
        for (name, kind, help, body) in &families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            out.push_str(body);
        }
        for (name, help) in [
            ("ws_lag_ms", "Venue event time to local receive time, ms."),
            (
                "collector_latency_exchange_to_collector_ms",
                "Venue event time to local receive time, ms (seed 002 name).",
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            for c in &snap {
                for s in &c.streams {
                    render_prometheus(out, name, &labels(c, s), &s.lag);
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP tickrec_connection_state 0 down, 1 connected, 2 subscribed.\n# TYPE tickrec_connection_state gauge"
        );
        for c in &snap {
            let v = match c.state {
                ConnState::Down => 0,
                ConnState::Connected => 1,
                ConnState::Subscribed => 2,
            };
            let _ = writeln!(
                out,
                "tickrec_connection_state{{venue=\"{}\",connection=\"{}\"}} {v}",
                c.venue,
                escape_label(&c.name)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickrec_model::{Decimal, Side, Trade, TradeId};

    fn trade(symbol: &Arc<str>, ts_exchange_us: i64, ts_recv_us: i64) -> Event {
        Event::Trade(Trade {
            venue: Venue::Binance,
            symbol: symbol.clone(),
            trade_id: TradeId::Num(1),
            price: Decimal::new(1, 0).expect("decimal"),
            qty: Decimal::new(1, 0).expect("decimal"),
            side: Side::Buy,
            ts_exchange_us,
            ts_recv_us,
            kind: TradeKind::Single,
        })
    }

    #[test]
    fn events_are_counted_per_stream_and_rendered() {
        let btc: Arc<str> = Arc::from("BTC/USDT");
        let eth: Arc<str> = Arc::from("ETH/USDT");
        let conn = ConnectionState::new(
            "binance#0",
            Venue::Binance,
            &[
                (btc.clone(), Channel::Trades),
                (eth.clone(), Channel::Trades),
                (btc.clone(), Channel::Bbo),
            ],
        );
        let reg = StreamRegistry::new();
        let conn = reg.register(conn);
        assert_eq!(conn.state(), ConnState::Down);
        conn.set_state(ConnState::Connected);
        conn.set_state(ConnState::Subscribed);
        // A symbol we did not subscribe to is ignored, not counted somewhere else.
        let doge: Arc<str> = Arc::from("DOGE/USDT");
        conn.on_events(&[
            trade(&btc, 1_000, 3_000),
            trade(&btc, 5_000, 4_000),
            trade(&eth, 1_000, 1_100),
            trade(&doge, 1, 2),
        ]);
        conn.on_gap(&btc, false);
        let snap = reg.snapshot();
        assert_eq!(snap.len(), 1);
        let c = &snap[0];
        assert_eq!(
            (c.state, c.connects, c.reconnects),
            (ConnState::Subscribed, 1, 0)
        );
        let msgs: Vec<(&str, &str, u64, u64)> = c
            .streams
            .iter()
            .map(|s| (s.symbol.as_str(), s.channel, s.msgs, s.gaps))
            .collect();
        assert_eq!(
            msgs,
            [
                ("BTC/USDT", "trades", 2, 1),
                ("ETH/USDT", "trades", 1, 0),
                ("BTC/USDT", "bbo", 0, 0)
            ]
        );
        assert_eq!(c.streams[0].lag.negative, 1);
        assert_eq!(c.streams[0].last_msg_us, Some(4_000));
        assert_eq!(c.streams[2].last_msg_age_s, None);

        let mut out = String::new();
        reg.render_prometheus(&mut out);
        for line in [
            "ws_msgs_total{venue=\"binance\",symbol=\"BTC/USDT\",channel=\"trades\"} 2\n",
            "ws_lag_negative_total{venue=\"binance\",symbol=\"BTC/USDT\",channel=\"trades\"} 1\n",
            "tickrec_stream_last_message_age_seconds{venue=\"binance\",symbol=\"BTC/USDT\",channel=\"bbo\"} -1\n",
            "ws_lag_ms_count{venue=\"binance\",symbol=\"ETH/USDT\",channel=\"trades\"} 1\n",
            "collector_latency_exchange_to_collector_ms_bucket{venue=\"binance\",symbol=\"ETH/USDT\",channel=\"trades\",le=\"0.25\"} 1\n",
            "tickrec_connection_state{venue=\"binance\",connection=\"binance#0\"} 2\n",
            "# TYPE ws_lag_ms histogram\n",
        ] {
            assert!(out.contains(line), "missing {line:?} in\n{out}");
        }
    }
}
