//! One connection's life: connect → subscribe → read until it dies or goes silent → back off →
//! reconnect and replay the same subscriptions. Every state change is a log line and a metric.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tickrec_book::KeeperSettings;
use tickrec_model::{now_us, Event};
use tickrec_venues::{
    ClientPing, Frame, FrameKind, HeartbeatRules, SubRejection, TradeGap, VenueAdapter,
};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, error, info, warn};

use crate::backfill::{http_client, run_backfill, BackfillConfig};
use crate::backoff::{Backoff, BackoffConfig};
use crate::books::{BookAction, BookFeed, SnapshotReply};
use crate::continuity::{Continuity, ContinuityTracker};
use crate::quality;
use crate::streams::{ConnState, ConnectionState};
use crate::telemetry::ConnectionMetrics;

/// Settings of one connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Name used in logs, e.g. `binance#0`.
    pub name: String,
    /// Base WebSocket URL (the adapter may append stream names).
    pub base_url: String,
    /// Reconnect backoff.
    pub backoff: BackoffConfig,
    /// Give up a connect attempt after this long.
    pub connect_timeout: Duration,
    /// Overrides the venue's heartbeat rules (tests shrink the timers).
    pub heartbeat: Option<HeartbeatRules>,
    /// REST base for backfill (default: the venue's production endpoint).
    pub rest_url: Option<String>,
    /// Backfill limits.
    pub backfill: BackfillConfig,
    /// How long shutdown waits for in-flight backfills.
    pub backfill_drain: Duration,
    /// Last stored trade per market `(symbol, aggregate, id, exchange µs)`: where to resume, so the
    /// first live trade after a restart reveals the outage as a gap.
    pub resume_from: Vec<(Arc<str>, bool, u64, i64)>,
    /// Raised by the journal when it is full: the reader drops its connection instead of
    /// blocking, and backfills the hole once it reconnects.
    pub backpressure: Option<Arc<AtomicBool>>,
    /// Live state for `/health`, `/metrics` and the status page (see [`crate::streams`]).
    pub state: Option<Arc<ConnectionState>>,
    /// Order-book tops and buffering (see [`tickrec_book::keeper`]).
    pub books: KeeperSettings,
}

impl ConnectionConfig {
    /// Defaults for a connection to `base_url`.
    pub fn new(name: impl Into<String>, base_url: impl Into<String>) -> Self {
        ConnectionConfig {
            name: name.into(),
            base_url: base_url.into(),
            backoff: BackoffConfig::default(),
            connect_timeout: Duration::from_secs(10),
            heartbeat: None,
            rest_url: None,
            backfill: BackfillConfig::default(),
            backfill_drain: Duration::from_secs(30),
            resume_from: Vec::new(),
            backpressure: None,
            state: None,
            books: KeeperSettings::default(),
        }
    }
}

/// What a connection did over its life.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionReport {
    /// Successful connects.
    pub connects: u64,
    /// Data frames received.
    pub frames: u64,
    /// Events handed to the sinks (reject rows included).
    pub events: u64,
    /// Reject rows among them.
    pub rejects: u64,
    /// Trade-id gaps detected (each one is to be backfilled).
    pub gaps: u64,
    /// Trade ids missing in those gaps.
    pub missing_ids: u64,
    /// Trades at or below the last id seen (re-deliveries, late arrivals).
    pub behind: u64,
    /// Trades recovered from REST.
    pub backfilled: u64,
    /// Trade ids that could not be recovered.
    pub unrepaired: u64,
}

/// Why a session ended.
#[derive(Debug)]
enum SessionEnd {
    Shutdown,
    SinkClosed,
    Reconnect(String),
}

const MAX_SUBSCRIBE_RETRY: Duration = Duration::from_secs(60);

/// Runs a connection until `shutdown` becomes true (or the event channel closes). Never returns an
/// error: every failure is logged, counted and answered with a reconnect.
pub async fn run_connection(
    adapter: Box<dyn VenueAdapter>,
    cfg: ConnectionConfig,
    tx: mpsc::Sender<Vec<Event>>,
    mut shutdown: watch::Receiver<bool>,
) -> ConnectionReport {
    let venue = adapter.venue();
    let metrics = ConnectionMetrics::new(venue);
    let mut report = ConnectionReport::default();
    let seed = now_us() as u64 ^ (cfg.name.len() as u64) << 32;
    let mut backoff = Backoff::new(cfg.backoff.clone(), seed);
    let url = adapter.connect_url(&cfg.base_url);
    let rules = cfg.heartbeat.clone().unwrap_or_else(|| adapter.heartbeat());
    // Kept across reconnects: the first trade after a reconnect reveals what the outage cost.
    let mut tracker = ContinuityTracker::new();
    for (symbol, aggregate, id, ts) in &cfg.resume_from {
        tracker.seed(symbol.clone(), *aggregate, *id, *ts);
    }
    let (gaps_tx, gaps_rx) = mpsc::unbounded_channel::<TradeGap>();
    let rest_base = cfg
        .rest_url
        .clone()
        .unwrap_or_else(|| adapter.default_rest_url().to_string());
    let adapter: Arc<dyn VenueAdapter> = Arc::from(adapter);
    let mut books = BookFeed::new(
        venue,
        &cfg.name,
        cfg.books,
        http_client(&cfg.backfill).ok(),
        rest_base.clone(),
        cfg.state.clone(),
    );
    let worker = tokio::spawn(backfill_worker(
        adapter.clone(),
        rest_base,
        cfg.backfill.clone(),
        gaps_rx,
        tx.clone(),
        cfg.name.clone(),
    ));
    // Since when, why and after how many connects the connection has been down: written as one
    // `reconnect` data-quality event once it is back (or at shutdown).
    let mut outage: Option<(i64, String, u32)> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let started = Instant::now();
        // A connect that hangs (TCP up, no handshake reply) must not hold shutdown up for the
        // whole connect timeout. A dropped sender counts as shutdown, as in the session.
        let connected = tokio::select! {
            r = connect(&url, cfg.connect_timeout) => r,
            _ = shutdown.wait_for(|&stop| stop) => break,
        };
        let end = match connected {
            Ok(ws) => {
                report.connects += 1;
                if report.connects > 1 {
                    metrics.reconnects.increment(1);
                }
                metrics.connected.set(1.0);
                set_state(&cfg, ConnState::Connected);
                info!(connection = %cfg.name, %venue, url = %redact(&url), "connected");
                if let Some((since, reason, attempts)) = outage.take() {
                    let ev = quality::reconnect(venue, &cfg.name, since, attempts, &reason);
                    if tx.send(vec![ev]).await.is_err() {
                        break;
                    }
                }
                let end = session(
                    ws,
                    adapter.as_ref(),
                    &cfg,
                    &rules,
                    &metrics,
                    &tx,
                    &mut shutdown,
                    &mut report,
                    &mut tracker,
                    &gaps_tx,
                    &mut books,
                )
                .await;
                if matches!(end, SessionEnd::Reconnect(_)) {
                    // At shutdown the books stay as they are: their last tops are written below.
                    books.on_disconnect();
                }
                metrics.connected.set(0.0);
                set_state(&cfg, ConnState::Down);
                end
            }
            Err(e) => SessionEnd::Reconnect(format!("connect failed: {e}")),
        };
        match end {
            SessionEnd::Shutdown => {
                info!(connection = %cfg.name, %venue, "stopped reading (shutdown)");
                break;
            }
            SessionEnd::SinkClosed => {
                error!(connection = %cfg.name, %venue, "event channel closed; stopping connection");
                break;
            }
            SessionEnd::Reconnect(reason) => {
                match &mut outage {
                    Some((_, _, attempts)) => *attempts += 1,
                    None => outage = Some((now_us(), reason.clone(), 1)),
                }
                backoff.on_disconnect(started.elapsed());
                let delay = backoff.next_delay();
                warn!(connection = %cfg.name, %venue, %reason, delay_ms = delay.as_millis() as u64,
                    attempt = backoff.attempt(), "connection lost; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
    let tops = books.final_tops();
    if !tops.is_empty() {
        // The channel may be gone already (sink stopped): then there is nowhere to write them.
        let _ = tx.send(tops).await;
    }
    if let Some((since, reason, attempts)) = outage.take() {
        let why = format!("{reason}; still down at shutdown");
        // The channel may be gone already (sink stopped): then there is nowhere to write it.
        let _ = tx
            .send(vec![quality::reconnect(
                venue, &cfg.name, since, attempts, &why,
            )])
            .await;
    }
    // Let in-flight backfills finish so their trades reach the sinks before we return.
    drop(gaps_tx);
    match tokio::time::timeout(cfg.backfill_drain, worker).await {
        Ok(Ok(b)) => {
            report.backfilled += b.backfilled;
            report.unrepaired += b.unrepaired;
        }
        Ok(Err(e)) => error!(connection = %cfg.name, %venue, error = %e, "backfill worker failed"),
        Err(_) => {
            warn!(connection = %cfg.name, %venue, "backfill still running at shutdown; remaining gaps are reported as unrepaired in the log")
        }
    }
    report
}

#[derive(Debug, Default)]
struct BackfillTotals {
    backfilled: u64,
    unrepaired: u64,
}

/// Repairs gaps one at a time (sequential requests keep us inside the venue's rate limits).
async fn backfill_worker(
    adapter: Arc<dyn VenueAdapter>,
    rest_base: String,
    cfg: BackfillConfig,
    mut gaps: mpsc::UnboundedReceiver<TradeGap>,
    tx: mpsc::Sender<Vec<Event>>,
    name: String,
) -> BackfillTotals {
    let venue = adapter.venue();
    let mut totals = BackfillTotals::default();
    let client = match http_client(&cfg) {
        Ok(c) => Some(c),
        Err(e) => {
            error!(connection = %name, %venue, error = %e, "no HTTP client: gaps cannot be backfilled");
            None
        }
    };
    let backfilled =
        metrics::counter!("tickrec_backfilled_trades_total", "venue" => venue.as_str());
    let unrepaired =
        metrics::counter!("tickrec_unrepaired_trade_ids_total", "venue" => venue.as_str());
    while let Some(gap) = gaps.recv().await {
        let total = gap.to - gap.from + 1;
        let (Some(client), Some(cursor)) = (client.as_ref(), adapter.backfill(&gap, &rest_base))
        else {
            totals.unrepaired += total;
            unrepaired.increment(total);
            warn!(connection = %name, %venue, symbol = %gap.symbol, from = gap.from, to = gap.to, "gap cannot be backfilled from this venue");
            let why = if client.is_none() {
                "no HTTP client for backfill"
            } else {
                "the venue's REST API cannot serve these trades"
            };
            if tx
                .send(vec![quality::unrepaired(venue, &gap, total, why)])
                .await
                .is_err()
            {
                break;
            }
            continue;
        };
        let out = run_backfill(client, &cfg, cursor, gap).await;
        let found = out.trades.len() as u64;
        totals.backfilled += found;
        totals.unrepaired += out.missing;
        backfilled.increment(found);
        unrepaired.increment(out.missing);
        if out.missing == 0 {
            info!(connection = %name, %venue, symbol = %out.gap.symbol, from = out.gap.from, to = out.gap.to, trades = found, pages = out.pages, "gap backfilled");
        } else {
            warn!(connection = %name, %venue, symbol = %out.gap.symbol, from = out.gap.from, to = out.gap.to,
                trades = found, missing = out.missing, error = out.error.as_deref().unwrap_or("venue has no more"), "gap only partly repaired");
        }
        let mut notes = Vec::with_capacity(2);
        if found > 0 {
            let last_ts = out
                .trades
                .iter()
                .map(|t| t.ts_exchange_us)
                .max()
                .unwrap_or(0);
            notes.push(quality::backfilled(
                venue, &out.gap, found, out.pages, last_ts,
            ));
        }
        if out.missing > 0 {
            let why = out
                .error
                .as_deref()
                .unwrap_or("the venue no longer serves these trade ids");
            notes.push(quality::unrepaired(venue, &out.gap, out.missing, why));
        }
        // The repair notes travel behind the trades they describe, in the same batch.
        let mut events: Vec<Event> = out.trades.into_iter().map(Event::Trade).collect();
        events.extend(notes);
        if tx.send(events).await.is_err() {
            break;
        }
    }
    totals
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, timeout: Duration) -> Result<Ws, String> {
    // Our own frame limit turns an oversized frame into a reject row; the socket's limit is
    // only there to bound memory.
    let ws_cfg = WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    match tokio::time::timeout(
        timeout,
        tokio_tungstenite::connect_async_with_config(url, Some(ws_cfg), true),
    )
    .await
    {
        Ok(Ok((ws, _resp))) => Ok(ws),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("timed out after {} ms", timeout.as_millis())),
    }
}

fn set_state(cfg: &ConnectionConfig, st: ConnState) {
    if let Some(s) = &cfg.state {
        s.set_state(st);
    }
}

/// Strips credentials and query strings from a URL before it is logged.
fn redact(url: &str) -> String {
    let no_query = url.split('?').next().unwrap_or(url);
    match (no_query.find("://"), no_query.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://{}", &no_query[..s], &no_query[at + 1..]),
        _ => no_query.to_string(),
    }
}

/// Frames in the circuit breaker's window.
pub const BREAKER_WINDOW: usize = 100;

/// Trips when more than half of the last [`BREAKER_WINDOW`] frames were rejected.
#[derive(Debug)]
struct RejectBreaker {
    window: [bool; BREAKER_WINDOW],
    pos: usize,
    filled: usize,
    rejected: usize,
}

impl Default for RejectBreaker {
    fn default() -> Self {
        RejectBreaker {
            window: [false; BREAKER_WINDOW],
            pos: 0,
            filled: 0,
            rejected: 0,
        }
    }
}

impl RejectBreaker {
    /// Records one frame; true when the breaker trips.
    fn record(&mut self, rejected: bool) -> bool {
        if self.filled == BREAKER_WINDOW && self.window[self.pos] {
            self.rejected -= 1;
        }
        self.window[self.pos] = rejected;
        if rejected {
            self.rejected += 1;
        }
        self.pos = (self.pos + 1) % BREAKER_WINDOW;
        self.filled = (self.filled + 1).min(BREAKER_WINDOW);
        self.filled == BREAKER_WINDOW && self.rejected * 2 > BREAKER_WINDOW
    }
}

/// Sends resubscriptions; a reconnect ends the session.
async fn run_book_actions(ws: &mut Ws, actions: Vec<BookAction>) -> Option<SessionEnd> {
    for a in actions {
        match a {
            BookAction::Send(text) => {
                if let Err(e) = ws.send(Message::Text(text.into())).await {
                    return Some(SessionEnd::Reconnect(format!(
                        "book resubscribe send failed: {e}"
                    )));
                }
            }
            BookAction::Reconnect(reason) => return Some(SessionEnd::Reconnect(reason)),
        }
    }
    None
}

struct Retry {
    due: Instant,
    rejection: SubRejection,
}

#[allow(clippy::too_many_arguments)]
async fn session(
    mut ws: Ws,
    adapter: &dyn VenueAdapter,
    cfg: &ConnectionConfig,
    rules: &HeartbeatRules,
    metrics: &ConnectionMetrics,
    tx: &mpsc::Sender<Vec<Event>>,
    shutdown: &mut watch::Receiver<bool>,
    report: &mut ConnectionReport,
    tracker: &mut ContinuityTracker,
    gaps: &mpsc::UnboundedSender<TradeGap>,
    books: &mut BookFeed,
) -> SessionEnd {
    // REST book snapshots asked for by this session come back here.
    let (snap_tx, mut snap_rx) = mpsc::unbounded_channel::<SnapshotReply>();
    let venue = adapter.venue();
    adapter.on_connect();
    tracker.on_reconnect();
    for msg in adapter.subscribe_messages() {
        if let Err(e) = ws.send(Message::Text(msg.into())).await {
            return SessionEnd::Reconnect(format!("subscribe send failed: {e}"));
        }
    }
    let expected_acks = adapter.expected_acks();
    let mut acks = 0usize;
    if expected_acks == 0 {
        set_state(cfg, ConnState::Subscribed);
        info!(connection = %cfg.name, %venue, "subscribed (the venue sends no acknowledgements: streams in the URL, or none by protocol)");
    }
    let opened = Instant::now();
    let mut last_frame = Instant::now();
    let mut next_ping = Instant::now() + rules.ping_interval;
    let mut awaiting_pong: Option<Instant> = None;
    let mut ping_id: u64 = 1_000_000;
    let mut retries: Vec<Retry> = Vec::new();
    let mut attempts: HashMap<(Option<u64>, Option<String>), u32> = HashMap::new();
    let mut watchdog = tokio::time::interval(Duration::from_millis(250));
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut buf: Vec<Event> = Vec::new();
    let mut warned_full = false;
    let mut breaker = RejectBreaker::default();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => {
                // A venue that stopped reading must not hold up our exit.
                let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                return SessionEnd::Shutdown;
            }
            // Before the socket: on a busy stream, a REST snapshot must not wait behind it.
            Some(reply) = snap_rx.recv() => {
                let (events, actions) = books.on_snapshot(adapter, reply, &snap_tx);
                if !events.is_empty() && tx.send(events).await.is_err() {
                    return SessionEnd::SinkClosed;
                }
                if let Some(end) = run_book_actions(&mut ws, actions).await {
                    return end;
                }
            }
            msg = ws.next() => {
                let msg = match msg {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => return SessionEnd::Reconnect(format!("read error: {e}")),
                    None => return SessionEnd::Reconnect("stream ended".into()),
                };
                last_frame = Instant::now();
                let ts = now_us();
                let kind = match &msg {
                    Message::Text(t) => adapter.parse(Frame::Text(t.as_str()), ts, &mut buf),
                    Message::Binary(b) => adapter.parse(Frame::Binary(b), ts, &mut buf),
                    Message::Pong(_) => {
                        awaiting_pong = None;
                        continue;
                    }
                    // tungstenite queues the pong reply itself and flushes it on the next read.
                    Message::Ping(_) | Message::Frame(_) => continue,
                    Message::Close(frame) => {
                        let why = frame.as_ref().map(|f| format!("{} {}", f.code, f.reason)).unwrap_or_default();
                        return SessionEnd::Reconnect(format!("closed by venue {why}"));
                    }
                };
                report.frames += 1;
                metrics.frames.increment(1);
                let was_rejected = matches!(kind, FrameKind::Rejected);
                let mut sequence_gap = None;
                let mut book_actions = Vec::new();
                match kind {
                    FrameKind::Data | FrameKind::Heartbeat | FrameKind::Status => {}
                    FrameKind::Pong => awaiting_pong = None,
                    FrameKind::SubscribeAck(n) => {
                        acks += n;
                        if acks == expected_acks {
                            set_state(cfg, ConnState::Subscribed);
                            info!(connection = %cfg.name, %venue, acks, "subscribed");
                        }
                    }
                    FrameKind::SubscribeRejected(rejection) => {
                        let attempt = attempts.entry((rejection.req_id, rejection.symbol.clone())).or_insert(0u32);
                        *attempt += 1;
                        let delay = Duration::from_secs(1u64 << (*attempt - 1).min(6)).min(MAX_SUBSCRIBE_RETRY);
                        warn!(connection = %cfg.name, %venue, error = %rejection.error,
                            symbol = rejection.symbol.as_deref().unwrap_or("-"), attempt = *attempt,
                            retry_in_s = delay.as_secs(), "subscription rejected");
                        retries.push(Retry { due: Instant::now() + delay, rejection });
                    }
                    FrameKind::ServerShutdown => {
                        return SessionEnd::Reconnect("venue announced shutdown".into());
                    }
                    FrameKind::Rejected => {}
                    FrameKind::SequenceGap { expected, received } => {
                        // This frame's events still go out below; then start over so that
                        // books resync and the trade-id check measures what was lost.
                        warn!(connection = %cfg.name, %venue, expected, received, "message sequence gap; reconnecting");
                        sequence_gap = Some(format!("sequence gap: expected {expected}, received {received}"));
                    }
                }
                let trip = breaker.record(was_rejected);
                if !buf.is_empty() && cfg.backpressure.as_ref().is_some_and(|b| b.load(Ordering::Acquire)) {
                    // Not observed by the continuity tracker: the first trade after the
                    // reconnect reveals these as a gap, and backfill repairs it.
                    buf.clear();
                    metrics.dropped.increment(1);
                    if let Some(st) = &cfg.state {
                        st.on_dropped();
                    }
                    return SessionEnd::Reconnect("Back-pressure – reconnecting".into());
                }
                if !buf.is_empty() {
                    metrics.count(&buf);
                    if let Some(st) = &cfg.state {
                        st.on_events(&buf);
                    }
                    let mut notes: Vec<Event> = Vec::new();
                    for e in &buf {
                        if let Event::Trade(t) = e {
                            match tracker.observe(t) {
                                Continuity::Gap { from, to, after_ts_us } => {
                                    let missing = to - from + 1;
                                    report.gaps += 1;
                                    report.missing_ids += missing;
                                    metrics.gaps.increment(1);
                                    metrics.gap_size.record(missing as f64);
                                    warn!(connection = %cfg.name, %venue, symbol = %t.symbol, from, to, missing, "trade id gap; backfilling");
                                    let aggregate = matches!(t.kind, tickrec_model::TradeKind::Aggregate { .. });
                                    if let Some(st) = &cfg.state {
                                        st.on_gap(&t.symbol, aggregate);
                                    }
                                    let gap = TradeGap { symbol: t.symbol.clone(), aggregate, from, to, after_ts_us, before_ts_us: t.ts_exchange_us };
                                    notes.push(quality::gap(venue, t.symbol.clone(), &gap, t.ts_exchange_us));
                                    // The worker outlives the session; a send error only means it already stopped.
                                    let _ = gaps.send(gap);
                                }
                                Continuity::Window { after_ts_us, before_ts_us } => {
                                    // Text ids cannot be counted: the outage is a time window, one unit.
                                    report.gaps += 1;
                                    report.missing_ids += 1;
                                    metrics.gaps.increment(1);
                                    warn!(connection = %cfg.name, %venue, symbol = %t.symbol, after_ts_us, before_ts_us, "trades may be missing across the reconnect; backfilling the window");
                                    if let Some(st) = &cfg.state {
                                        st.on_gap(&t.symbol, false);
                                    }
                                    let gap = TradeGap { symbol: t.symbol.clone(), aggregate: false, from: 0, to: 0, after_ts_us, before_ts_us };
                                    notes.push(quality::gap(venue, t.symbol.clone(), &gap, before_ts_us));
                                    let _ = gaps.send(gap);
                                }
                                Continuity::Behind => {
                                    report.behind += 1;
                                    metrics.behind.increment(1);
                                    if let Some(st) = &cfg.state {
                                        st.on_out_of_order(&t.symbol, matches!(t.kind, tickrec_model::TradeKind::Aggregate { .. }));
                                    }
                                }
                                Continuity::First | Continuity::Next | Continuity::Unordered => {}
                            }
                        }
                    }
                    // Books: verified flags, book data-quality events and tops ride in `notes`.
                    let before = buf.len();
                    if sequence_gap.is_some() {
                        // A connection-wide hole (Coinbase): every book of the connection missed
                        // something, this frame's messages included.
                        books.on_disconnect();
                    }
                    let actions = books.on_batch(adapter, &mut buf, ts, &snap_tx);
                    notes.extend(buf.drain(before..));
                    book_actions = actions;
                    let rejects = buf.iter().filter(|e| matches!(e, Event::Reject(_))).count() as u64;
                    if rejects > 0 {
                        report.rejects += rejects;
                        for e in &buf {
                            if let Event::Reject(r) = e {
                                warn!(connection = %cfg.name, %venue, reason = %r.reason, detail = %r.detail, "frame rejected");
                            }
                        }
                    }
                    let n = buf.len() as u64;
                    if tx.capacity() == 0 && !warned_full {
                        warned_full = true;
                        warn!(connection = %cfg.name, %venue, "event channel full: sink is behind");
                    }
                    // Data-quality notes ride with the trades that revealed them (not counted as events).
                    buf.extend(notes);
                    let batch = std::mem::take(&mut buf);
                    if tx.send(batch).await.is_err() {
                        return SessionEnd::SinkClosed;
                    }
                    report.events += n;
                }
                if let Some(reason) = sequence_gap {
                    return SessionEnd::Reconnect(reason);
                }
                if let Some(end) = run_book_actions(&mut ws, book_actions).await {
                    return end;
                }
                if trip {
                    // Mostly garbage: a broken proxy, a protocol change or a corrupted stream.
                    // What was parsed is kept; start over with a fresh connection.
                    warn!(connection = %cfg.name, %venue, window = BREAKER_WINDOW, "over half of recent frames rejected; reconnecting");
                    return SessionEnd::Reconnect("parse-error circuit breaker".into());
                }
            }
            _ = watchdog.tick() => {
                let now = Instant::now();
                if now.duration_since(last_frame) > rules.idle_timeout {
                    metrics.timeouts.increment(1);
                    let silent_us = i64::try_from(now.duration_since(last_frame).as_micros()).unwrap_or(i64::MAX);
                    let ev = quality::stale(venue, &cfg.name, now_us().saturating_sub(silent_us));
                    if tx.send(vec![ev]).await.is_err() {
                        return SessionEnd::SinkClosed;
                    }
                    return SessionEnd::Reconnect(format!("no frame for {} ms (stale)", rules.idle_timeout.as_millis()));
                }
                if let Some(sent) = awaiting_pong {
                    if now.duration_since(sent) > rules.pong_timeout {
                        return SessionEnd::Reconnect(format!("no pong within {} ms", rules.pong_timeout.as_millis()));
                    }
                }
                if let Some(age) = rules.max_connection_age {
                    if now.duration_since(opened) > age {
                        return SessionEnd::Reconnect("proactive reconnect before the venue's connection age limit".into());
                    }
                }
                if now >= next_ping {
                    next_ping = now + rules.ping_interval;
                    let sent = match rules.client_ping {
                        ClientPing::WsFrame => ws.send(Message::Ping(Default::default())).await,
                        ClientPing::AppMessage => match adapter.ping_message(ping_id) {
                            Some(p) => ws.send(Message::Text(p.into())).await,
                            None => Ok(()),
                        },
                    };
                    ping_id += 1;
                    if let Err(e) = sent {
                        return SessionEnd::Reconnect(format!("ping send failed: {e}"));
                    }
                    if awaiting_pong.is_none() {
                        awaiting_pong = Some(now);
                    }
                }
                let mut due = Vec::new();
                retries.retain(|r| if r.due <= now { due.push(r.rejection.clone()); false } else { true });
                for rejection in due {
                    if let Some(msg) = adapter.resubscribe_message(&rejection) {
                        debug!(connection = %cfg.name, %venue, "retrying subscription");
                        if let Err(e) = ws.send(Message::Text(msg.into())).await {
                            return SessionEnd::Reconnect(format!("subscribe retry failed: {e}"));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{redact, RejectBreaker, BREAKER_WINDOW};

    #[test]
    fn breaker_trips_only_on_a_full_window_mostly_rejected() {
        let mut b = RejectBreaker::default();
        for _ in 0..BREAKER_WINDOW - 1 {
            assert!(!b.record(true), "needs a full window");
        }
        assert!(b.record(true));
        let mut b = RejectBreaker::default();
        for i in 0..10 * BREAKER_WINDOW {
            assert!(!b.record(i % 2 == 0), "exactly half is not over half");
        }
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact("wss://user:pw@host:1/p?streams=a"), "wss://host:1/p");
        assert_eq!(
            redact("ws://127.0.0.1:5/kraken/v2"),
            "ws://127.0.0.1:5/kraken/v2"
        );
    }
}
