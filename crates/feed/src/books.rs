//! Order books on one connection: runs the [`BookKeeper`] over every parsed batch, fetches REST
//! snapshots (Binance) with back-off, turns resync needs into resubscriptions (or a reconnect
//! when the venue cannot resend a snapshot on the open connection), and publishes each market's
//! honesty figures as metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::{counter, gauge};
use tickrec_book::{BookKeeper, KeeperSettings, Need};
use tickrec_model::{now_us, BookKind, Event, Venue};
use tickrec_venues::VenueAdapter;

use crate::streams::{BookStatus, ConnectionState};
use tokio::sync::mpsc;
use tracing::{info, warn};

/// Longest wait between two REST snapshot attempts of one market.
const MAX_SNAPSHOT_DELAY: Duration = Duration::from_secs(30);
/// REST snapshot requests of one connection are spaced by at least this: Binance's
/// `limit=1000` depth costs weight 50 of the 6000 per minute an IP may spend.
const SNAPSHOT_SPACING: Duration = Duration::from_secs(1);
/// Metrics are refreshed at most this often.
const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// A REST snapshot body (or why there is none), sent back to the session that asked.
#[derive(Debug)]
pub struct SnapshotReply {
    /// Unified symbol.
    pub symbol: Arc<str>,
    /// The body, or the error.
    pub body: Result<Vec<u8>, String>,
    /// The venue's `Retry-After` on a 429/418 answer.
    pub retry_after: Option<Duration>,
    /// When it arrived.
    pub ts_recv_us: i64,
}

/// What the session must do for its books.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookAction {
    /// Send this text frame (a resubscription).
    Send(String),
    /// Reconnect: the venue can only resend a snapshot on a fresh connection.
    Reconnect(String),
}

/// Book state of one connection, kept across its reconnects.
pub struct BookFeed {
    venue: Venue,
    name: String,
    keeper: BookKeeper,
    client: Option<reqwest::Client>,
    rest_base: String,
    attempts: HashMap<Arc<str>, u32>,
    /// No snapshot request goes out before this (spacing, `Retry-After`).
    next_slot: Instant,
    last_publish: Option<Instant>,
    state: Option<Arc<ConnectionState>>,
}

impl BookFeed {
    /// Books for `venue`'s connection `name`; `client` and `rest_base` serve REST snapshots.
    pub fn new(
        venue: Venue,
        name: &str,
        settings: KeeperSettings,
        client: Option<reqwest::Client>,
        rest_base: String,
        state: Option<Arc<ConnectionState>>,
    ) -> Self {
        // Exported from the start (at 0), so dashboards and alerts see them before any resync.
        counter!("tickrec_book_resubscribes_total", "venue" => venue.as_str()).increment(0);
        counter!("tickrec_book_snapshot_errors_total", "venue" => venue.as_str()).increment(0);
        BookFeed {
            venue,
            name: name.to_string(),
            keeper: BookKeeper::new(venue, settings),
            client,
            rest_base,
            attempts: HashMap::new(),
            next_slot: Instant::now(),
            last_publish: None,
            state,
        }
    }

    /// Runs the keeper over a parsed batch: sets the `verified` flags, appends data-quality
    /// events and due tops to `buf`, and returns what the session must do.
    pub fn on_batch(
        &mut self,
        adapter: &dyn VenueAdapter,
        buf: &mut Vec<Event>,
        now: i64,
        replies: &mpsc::UnboundedSender<SnapshotReply>,
    ) -> Vec<BookAction> {
        if !buf.iter().any(|e| matches!(e, Event::Book(_))) {
            return Vec::new();
        }
        let needs = self.keeper.process(buf, now);
        let actions = self.handle(adapter, needs, replies);
        self.publish(now, false);
        actions
    }

    /// A REST snapshot arrived: parses it and runs it through the keeper. Returns the events to
    /// store (the snapshot, data-quality events, tops) and what the session must do.
    pub fn on_snapshot(
        &mut self,
        adapter: &dyn VenueAdapter,
        reply: SnapshotReply,
        replies: &mpsc::UnboundedSender<SnapshotReply>,
    ) -> (Vec<Event>, Vec<BookAction>) {
        let SnapshotReply {
            symbol,
            body,
            retry_after,
            ts_recv_us,
        } = reply;
        if let Some(wait) = retry_after {
            // Rate-limited: every request of this connection waits.
            self.next_slot = self.next_slot.max(Instant::now() + wait);
        }
        let parsed = body.and_then(|b| adapter.parse_book_snapshot(&symbol, &b, ts_recv_us));
        let snap = match parsed {
            Ok(s) if s.kind == BookKind::Snapshot && s.symbol == symbol => s,
            Ok(_) => return self.retry(adapter, symbol, "not a snapshot of this market", replies),
            Err(e) => return self.retry(adapter, symbol, &e, replies),
        };
        let mut events = vec![Event::Book(snap)];
        let needs = self.keeper.process(&mut events, ts_recv_us);
        if self.keeper.book(&symbol).is_some() {
            self.attempts.remove(&symbol);
            info!(connection = %self.name, venue = %self.venue, %symbol, "book synced to the REST snapshot");
        }
        let actions = self.handle(adapter, needs, replies);
        self.publish(ts_recv_us, false);
        (events, actions)
    }

    /// A snapshot request failed: asks again (the keeper still waits for it), with back-off.
    fn retry(
        &mut self,
        adapter: &dyn VenueAdapter,
        symbol: Arc<str>,
        error: &str,
        replies: &mpsc::UnboundedSender<SnapshotReply>,
    ) -> (Vec<Event>, Vec<BookAction>) {
        warn!(connection = %self.name, venue = %self.venue, %symbol, %error, "book snapshot request failed");
        counter!("tickrec_book_snapshot_errors_total", "venue" => self.venue.as_str()).increment(1);
        let needs = vec![Need::RestSnapshot {
            symbol,
            reason: format!("previous request failed: {error}"),
        }];
        (Vec::new(), self.handle(adapter, needs, replies))
    }

    /// The connection dropped: every book waits for a fresh snapshot.
    pub fn on_disconnect(&mut self) {
        self.keeper.on_disconnect(now_us());
        self.attempts.clear();
    }

    /// Tops of every live book (at shutdown), and the final metrics.
    pub fn final_tops(&mut self) -> Vec<Event> {
        let now = now_us();
        self.publish(now, true);
        self.keeper.final_tops(now)
    }

    fn handle(
        &mut self,
        adapter: &dyn VenueAdapter,
        needs: Vec<Need>,
        replies: &mpsc::UnboundedSender<SnapshotReply>,
    ) -> Vec<BookAction> {
        let mut actions = Vec::new();
        for need in needs {
            match need {
                Need::RestSnapshot { symbol, reason } => {
                    let url = adapter.book_snapshot_url(&symbol, &self.rest_base);
                    let (Some(url), Some(client)) = (url, self.client.clone()) else {
                        actions.push(BookAction::Reconnect(format!(
                            "book {symbol}: {reason}, and no REST snapshot available"
                        )));
                        continue;
                    };
                    let attempt = self.attempts.entry(symbol.clone()).or_insert(0);
                    *attempt += 1;
                    // The first request goes out in the next free slot; a refused or failed one
                    // is retried after 250 ms doubling to 30 s (the stream advances meanwhile).
                    let backoff = if *attempt == 1 {
                        Duration::ZERO
                    } else {
                        (Duration::from_millis(250) * 2u32.saturating_pow((*attempt - 2).min(8)))
                            .min(MAX_SNAPSHOT_DELAY)
                    };
                    let now = Instant::now();
                    let at = (now + backoff).max(self.next_slot);
                    self.next_slot = at + SNAPSHOT_SPACING;
                    let delay = at - now;
                    info!(connection = %self.name, venue = %self.venue, %symbol, %reason,
                        attempt = *attempt, delay_ms = delay.as_millis() as u64, "fetching a book snapshot");
                    tokio::spawn(fetch(client, url, symbol, delay, replies.clone()));
                }
                Need::Resync { symbol, reason } => {
                    counter!("tickrec_book_resubscribes_total", "venue" => self.venue.as_str())
                        .increment(1);
                    let msgs = adapter.book_resync_messages(&symbol);
                    if msgs.is_empty() {
                        actions.push(BookAction::Reconnect(format!("book {symbol}: {reason}")));
                    } else {
                        warn!(connection = %self.name, venue = %self.venue, %symbol, %reason, "book unverified; resubscribing for a fresh snapshot");
                        actions.extend(msgs.into_iter().map(BookAction::Send));
                    }
                }
            }
        }
        actions
    }

    /// Per-market honesty figures as metrics (counters set to the keeper's totals).
    fn publish(&mut self, now: i64, force: bool) {
        if !force
            && self
                .last_publish
                .is_some_and(|t| t.elapsed() < PUBLISH_EVERY)
        {
            return;
        }
        self.last_publish = Some(Instant::now());
        let v = self.venue.as_str();
        for (symbol, s) in self.keeper.stats(now) {
            let sym = symbol.to_string();
            counter!("tickrec_book_messages_total", "venue" => v, "symbol" => sym.clone())
                .absolute(s.messages);
            counter!("tickrec_book_checksum_ok_total", "venue" => v, "symbol" => sym.clone())
                .absolute(s.checksum_ok);
            counter!("tickrec_book_checksum_failed_total", "venue" => v, "symbol" => sym.clone())
                .absolute(s.checksum_failed);
            counter!("tickrec_book_gaps_total", "venue" => v, "symbol" => sym.clone())
                .absolute(s.gaps);
            counter!("tickrec_book_resyncs_total", "venue" => v, "symbol" => sym.clone())
                .absolute(s.resyncs);
            counter!("tickrec_book_crossed_total", "venue" => v, "symbol" => sym.clone())
                .absolute(s.crossed);
            if let Some(f) = s.verified_fraction() {
                gauge!("tickrec_book_verified_ratio", "venue" => v, "symbol" => sym).set(f);
            }
            if let Some(st) = &self.state {
                st.set_book(
                    &symbol,
                    BookStatus {
                        live: self.keeper.book(&symbol).is_some(),
                        verified_ratio: s.verified_fraction(),
                        messages: s.messages,
                        checksum_ok: s.checksum_ok,
                        checksum_failed: s.checksum_failed,
                        gaps: s.gaps,
                        resyncs: s.resyncs,
                        crossed: s.crossed,
                    },
                );
            }
        }
    }
}

async fn fetch(
    client: reqwest::Client,
    url: String,
    symbol: Arc<str>,
    delay: Duration,
    replies: mpsc::UnboundedSender<SnapshotReply>,
) {
    tokio::time::sleep(delay).await;
    let mut retry_after = None;
    let body = async {
        let resp = client.get(&url).send().await.map_err(|e| e.to_string())?;
        if matches!(resp.status().as_u16(), 418 | 429) {
            let secs = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(60);
            retry_after = Some(Duration::from_secs(secs.min(3600)));
        }
        let resp = resp.error_for_status().map_err(|e| e.to_string())?;
        resp.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| e.to_string())
    }
    .await;
    // The session may be gone (reconnected): its successor fetches its own snapshot.
    let _ = replies.send(SnapshotReply {
        symbol,
        body,
        retry_after,
        ts_recv_us: now_us(),
    });
}
