//! The books of one connection: every book message goes through its venue's sequence rule and
//! checksum before it touches the book, gets its `verified` flag, and may produce data-quality
//! events (gap, checksum failure, resync window, crossed book) and periodic [`BookTop`]s.
//!
//! The keeper never stitches: on a gap or a checksum failure the book is dropped, the message is
//! stored unverified, and a [`Need`] tells the connection to resync (a Binance REST snapshot, or a
//! fresh subscription elsewhere). Every message is passed on in arrival order, verified or not, so
//! the stored `book_deltas` hold the whole stream and [`rebuild`] — the same rules replayed over
//! the stored messages — ends with the same book the recorder held.

use std::collections::HashMap;
use std::sync::Arc;

use tickrec_model::{BookKind, BookTop, BookUpdate, Event, QualityEvent, QualityKind, Venue};

use crate::book::BookSide;
use crate::sync::{BinanceSync, Consecutive, PrevSeqChain, Step};
use crate::tracker::{BookStats, BookTracker, Checksum, Verdict};

/// How a venue keeps a book in sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequencing {
    /// Nothing per book: every message is a snapshot (Upbit), continuity is checked per
    /// connection (Coinbase `sequence_num`), or the checksum is the proof (Kraken).
    None,
    /// Binance `U`/`u` against a REST snapshot's `lastUpdateId`.
    BinanceRest,
    /// Consecutive update ids after each snapshot (Bybit `u`).
    Consecutive,
    /// OKX `prevSeqId` → `seqId` chain.
    PrevSeq,
}

/// A venue's book rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueBookRules {
    /// Checksum the venue sends.
    pub checksum: Checksum,
    /// Levels per side the venue maintains in the subscribed stream (`None`: unbounded).
    pub depth: Option<usize>,
    /// Sequence rule.
    pub sequencing: Sequencing,
}

/// The rules of `venue`'s book stream as tickrec subscribes it (Kraken `book` depth 10, OKX
/// `books` 400 levels, Bybit `orderbook.50`, Upbit 15-level snapshots).
pub const fn venue_rules(venue: Venue) -> VenueBookRules {
    let (checksum, depth, sequencing) = match venue {
        Venue::Binance => (Checksum::None, None, Sequencing::BinanceRest),
        Venue::Kraken => (Checksum::Kraken, Some(10), Sequencing::None),
        Venue::Okx => (Checksum::Okx, Some(400), Sequencing::PrevSeq),
        Venue::Bybit => (Checksum::None, Some(50), Sequencing::Consecutive),
        Venue::Coinbase | Venue::Upbit => (Checksum::None, None, Sequencing::None),
    };
    VenueBookRules {
        checksum,
        depth,
        sequencing,
    }
}

/// A resync not answered by a snapshot within this long is asked for again (the venue ignored
/// the resubscription, or its answer was lost).
pub const RESYNC_TIMEOUT_US: i64 = 15_000_000;

/// Keeper settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeeperSettings {
    /// Levels per side in each [`BookTop`] (0: no tops).
    pub top_levels: usize,
    /// A market's top is taken at most this often, µs (after a batch that changed its book).
    pub top_interval_us: i64,
    /// Binance deltas held per market while waiting for the REST snapshot.
    pub max_buffered: usize,
}

impl Default for KeeperSettings {
    fn default() -> Self {
        KeeperSettings {
            top_levels: 20,
            top_interval_us: 1_000_000,
            max_buffered: 10_000,
        }
    }
}

/// What the connection must do for a book to become verified again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Fetch a REST snapshot of this market (Binance); the answer goes to
    /// [`BookKeeper::process`] as a snapshot message.
    RestSnapshot {
        /// Unified symbol.
        symbol: Arc<str>,
        /// Why (log line).
        reason: String,
    },
    /// Make the venue send a fresh snapshot (resubscribe; reconnect if it cannot).
    Resync {
        /// Unified symbol.
        symbol: Arc<str>,
        /// Why (log line).
        reason: String,
    },
}

#[derive(Debug)]
enum Seq {
    // `PrevSeq` names OKX's rule, not the enum.
    None,
    /// Payloads are the deltas to apply after the snapshot (`None` once live: nothing to keep).
    Binance(BinanceSync<Option<BookUpdate>>),
    Consecutive(Consecutive),
    #[allow(clippy::enum_variant_names)]
    PrevSeq(PrevSeqChain),
}

impl MarketBook {
    fn new(rules: VenueBookRules, settings: KeeperSettings, now_us: i64) -> Self {
        MarketBook {
            tracker: BookTracker::new(rules.checksum, rules.depth),
            seq: Seq::new(rules.sequencing, settings.max_buffered),
            unverified_since: Some(now_us),
            synced_once: false,
            pending: false,
            pending_since: now_us,
            crossed: false,
            dirty: false,
            last_top_us: None,
            last_update_id: None,
            last_exchange_us: None,
        }
    }
}

impl Seq {
    fn new(s: Sequencing, max_buffered: usize) -> Seq {
        match s {
            Sequencing::None => Seq::None,
            Sequencing::BinanceRest => Seq::Binance(BinanceSync::new(max_buffered)),
            Sequencing::Consecutive => Seq::Consecutive(Consecutive::new()),
            Sequencing::PrevSeq => Seq::PrevSeq(PrevSeqChain::new()),
        }
    }
}

#[derive(Debug)]
struct MarketBook {
    tracker: BookTracker,
    seq: Seq,
    /// Since when the book has not been verified (`None` while it is).
    unverified_since: Option<i64>,
    /// A snapshot has made the book live at least once (later ones are resyncs).
    synced_once: bool,
    /// A [`Need`] was issued and not answered by a snapshot yet.
    pending: bool,
    /// When the pending need was issued (re-issued after [`RESYNC_TIMEOUT_US`]).
    pending_since: i64,
    /// The book is crossed (reported once per episode).
    crossed: bool,
    /// Changed since the last top.
    dirty: bool,
    last_top_us: Option<i64>,
    last_update_id: Option<u64>,
    last_exchange_us: Option<i64>,
}

/// The books of one connection's markets.
#[derive(Debug)]
pub struct BookKeeper {
    venue: Venue,
    rules: VenueBookRules,
    settings: KeeperSettings,
    markets: HashMap<Arc<str>, MarketBook>,
    /// Snapshots that could not start a book (Binance: older than the buffered stream).
    pub refused_snapshots: u64,
}

fn ok(v: Verdict) -> bool {
    matches!(v, Verdict::Verified | Verdict::Unchecked)
}

impl BookKeeper {
    /// A keeper for `venue`'s rules.
    pub fn new(venue: Venue, settings: KeeperSettings) -> Self {
        Self::with_rules(venue, venue_rules(venue), settings)
    }

    /// A keeper with explicit rules (tests, other depths).
    pub fn with_rules(venue: Venue, rules: VenueBookRules, settings: KeeperSettings) -> Self {
        BookKeeper {
            venue,
            rules,
            settings,
            markets: HashMap::new(),
            refused_snapshots: 0,
        }
    }

    /// Processes a batch in place: sets `verified` on its book messages, appends data-quality
    /// events and due [`BookTop`]s, and returns what the connection must do.
    pub fn process(&mut self, events: &mut Vec<Event>, now_us: i64) -> Vec<Need> {
        let mut extra = Vec::new();
        let mut needs = Vec::new();
        for ev in events.iter_mut() {
            if let Event::Book(b) = ev {
                self.apply(b, now_us, &mut extra, &mut needs);
            }
        }
        self.tops(now_us, false, &mut extra);
        events.extend(extra);
        needs
    }

    /// The stream broke (disconnect, back-pressure drop): every book is dropped until its next
    /// snapshot; the time until then counts as unverified.
    pub fn on_disconnect(&mut self, now_us: i64) {
        for m in self.markets.values_mut() {
            m.tracker.on_reset(now_us);
            m.seq = Seq::new(self.rules.sequencing, self.settings.max_buffered);
            m.unverified_since.get_or_insert(now_us);
            m.pending = false;
            m.crossed = false;
        }
    }

    /// Drops one market's book until its next snapshot (see [`replay`]).
    fn reset_market(&mut self, symbol: &str, now_us: i64) {
        if let Some(m) = self.markets.get_mut(symbol) {
            m.tracker.on_reset(now_us);
            m.unverified_since.get_or_insert(now_us);
        }
    }

    /// Tops of every live book regardless of the interval (at shutdown).
    pub fn final_tops(&mut self, now_us: i64) -> Vec<Event> {
        let mut out = Vec::new();
        self.tops(now_us, true, &mut out);
        out
    }

    /// Per-market counters with time accounted up to `now_us`, sorted by symbol.
    pub fn stats(&mut self, now_us: i64) -> Vec<(Arc<str>, BookStats)> {
        let mut v: Vec<_> = self
            .markets
            .iter_mut()
            .map(|(s, m)| (s.clone(), m.tracker.stats(now_us)))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Digest of `symbol`'s book while it is live.
    pub fn digest(&self, symbol: &str) -> Option<u64> {
        self.markets
            .get(symbol)
            .filter(|m| m.tracker.is_live())
            .map(|m| m.tracker.book().digest())
    }

    /// `symbol`'s book while it is live.
    pub fn book(&self, symbol: &str) -> Option<&crate::OrderBook> {
        self.markets
            .get(symbol)
            .filter(|m| m.tracker.is_live())
            .map(|m| m.tracker.book())
    }

    #[allow(clippy::too_many_arguments)]
    fn quality(
        &self,
        symbol: &Arc<str>,
        kind: QualityKind,
        window: (i64, i64),
        ids: (Option<u64>, Option<u64>),
        count: u64,
        detail: String,
        now_us: i64,
    ) -> Event {
        Event::Quality(QualityEvent {
            venue: self.venue,
            symbol: Some(symbol.clone()),
            kind,
            start_us: window.0,
            end_us: window.1,
            count,
            from_id: ids.0,
            to_id: ids.1,
            detail,
            ts_recv_us: now_us,
        })
    }

    fn apply(
        &mut self,
        b: &mut BookUpdate,
        now_us: i64,
        extra: &mut Vec<Event>,
        needs: &mut Vec<Need>,
    ) {
        let (rules, settings) = (self.rules, self.settings);
        // Look up by `&str` first: no `Arc` clone on the hot path.
        if !self.markets.contains_key(&*b.symbol) {
            self.markets
                .insert(b.symbol.clone(), MarketBook::new(rules, settings, now_us));
        }
        let Some(m) = self.markets.get_mut(&*b.symbol) else {
            return;
        };
        if b.kind == BookKind::Snapshot {
            // Whatever this snapshot brings, the need it answers is answered: if it fails too,
            // a new one goes out below.
            m.pending = false;
        }
        let outcome = match b.kind {
            BookKind::Snapshot => snapshot(m, b, now_us),
            BookKind::Delta => delta(m, b, now_us),
        };
        b.verified = matches!(outcome, Outcome::Applied);
        let symbol = &b.symbol;
        let ids = (None, b.last_update_id);
        // (kind, window start, ids, count, detail) of the data-quality event, if any.
        let mut note: Option<Note> = None;
        let mut crossed_note = None;
        match outcome {
            Outcome::Applied => {
                m.dirty = true;
                // (A snapshot sets it itself: buffered deltas applied on top of it come later.)
                if b.kind == BookKind::Delta && b.last_update_id.is_some() {
                    m.last_update_id = b.last_update_id;
                }
                if b.ts_exchange_us.is_some() {
                    m.last_exchange_us = b.ts_exchange_us;
                }
                let book = m.tracker.book();
                let crossed = m.tracker.is_crossed();
                if crossed && !m.crossed {
                    crossed_note = Some(match (book.best_bid(), book.best_ask()) {
                        (Some(bid), Some(ask)) => {
                            format!("best bid {} >= best ask {}", bid.price, ask.price)
                        }
                        _ => "crossed".into(),
                    });
                }
                m.crossed = crossed;
                if b.kind == BookKind::Snapshot {
                    m.pending = false;
                    let since = m.unverified_since.take();
                    let was_synced = std::mem::replace(&mut m.synced_once, true);
                    if let Some(since) = since.filter(|_| was_synced) {
                        note = Some((
                            QualityKind::BookResync,
                            since,
                            ids,
                            1,
                            "book unverified until this snapshot".into(),
                        ));
                    }
                }
            }
            Outcome::Skipped => {
                // A book that is not live and waits for nothing (its first message was a delta,
                // or a resync went unanswered): ask (again).
                let stuck = !m.tracker.is_live()
                    && (!m.pending || now_us - m.pending_since > RESYNC_TIMEOUT_US);
                if stuck {
                    m.pending = true;
                    m.pending_since = now_us;
                    needs.push(need(rules, symbol.clone(), "book not in sync".into()));
                }
            }
            Outcome::Waiting => {
                if !m.pending || now_us - m.pending_since > RESYNC_TIMEOUT_US {
                    m.pending = true;
                    m.pending_since = now_us;
                    needs.push(Need::RestSnapshot {
                        symbol: symbol.clone(),
                        reason: "no snapshot yet".into(),
                    });
                }
            }
            Outcome::RefusedSnapshot(reason) => {
                self.refused_snapshots += 1;
                m.pending = true;
                m.pending_since = now_us;
                needs.push(Need::RestSnapshot {
                    symbol: symbol.clone(),
                    reason,
                });
            }
            Outcome::Gap { expected, got } => {
                let since = *m.unverified_since.get_or_insert(now_us);
                let first_need = !std::mem::replace(&mut m.pending, true);
                if first_need {
                    m.pending_since = now_us;
                }
                let why = format!("sequence gap: expected {expected}, received {got}");
                if first_need {
                    needs.push(need(rules, symbol.clone(), why.clone()));
                }
                note = Some((
                    QualityKind::BookGap,
                    since,
                    (Some(expected), Some(got)),
                    got.saturating_sub(expected),
                    why,
                ));
            }
            Outcome::ChecksumMismatch { expected, computed } => {
                let since = *m.unverified_since.get_or_insert(now_us);
                let first_need = !std::mem::replace(&mut m.pending, true);
                if first_need {
                    m.pending_since = now_us;
                }
                let why = format!("checksum mismatch: venue {expected}, computed {computed}");
                if first_need {
                    needs.push(need(rules, symbol.clone(), why.clone()));
                }
                note = Some((QualityKind::BookChecksum, since, ids, 1, why));
            }
        }
        if let Some((kind, since, ids, count, detail)) = note {
            extra.push(self.quality(symbol, kind, (since, now_us), ids, count, detail, now_us));
        }
        if let Some(detail) = crossed_note {
            extra.push(self.quality(
                symbol,
                QualityKind::BookCrossed,
                (now_us, now_us),
                ids,
                1,
                detail,
                now_us,
            ));
        }
    }

    fn tops(&mut self, now_us: i64, force: bool, out: &mut Vec<Event>) {
        if self.settings.top_levels == 0 {
            return;
        }
        let n = self.settings.top_levels;
        let mut due: Vec<(&Arc<str>, &mut MarketBook)> = self
            .markets
            .iter_mut()
            .filter(|(_, m)| {
                m.tracker.is_live()
                    && (m.dirty || force)
                    && (force
                        || m.last_top_us
                            .is_none_or(|t| now_us - t >= self.settings.top_interval_us))
            })
            .collect();
        due.sort_by(|a, b| a.0.cmp(b.0));
        for (symbol, m) in due {
            m.dirty = false;
            m.last_top_us = Some(now_us);
            let book = m.tracker.book();
            out.push(Event::BookTop(BookTop {
                venue: self.venue,
                symbol: symbol.clone(),
                last_update_id: m.last_update_id,
                bids: book.top(BookSide::Bid, n),
                asks: book.top(BookSide::Ask, n),
                verified: true,
                digest: book.digest(),
                ts_exchange_us: m.last_exchange_us,
                ts_recv_us: now_us,
            }));
        }
    }
}

/// (kind, window start, ids, count, detail) of a data-quality event.
type Note = (QualityKind, i64, (Option<u64>, Option<u64>), u64, String);

fn need(rules: VenueBookRules, symbol: Arc<str>, reason: String) -> Need {
    match rules.sequencing {
        Sequencing::BinanceRest => Need::RestSnapshot { symbol, reason },
        _ => Need::Resync { symbol, reason },
    }
}

enum Outcome {
    /// Applied to a live book, in sequence, checksum (if any) matching.
    Applied,
    /// Not applied, nothing to do (re-delivery, a delta while waiting for a snapshot).
    Skipped,
    /// Buffered until the REST snapshot (Binance).
    Waiting,
    /// A REST snapshot that cannot start the book (too old, or the buffer has a hole).
    RefusedSnapshot(String),
    Gap {
        expected: u64,
        got: u64,
    },
    ChecksumMismatch {
        expected: u32,
        computed: u32,
    },
}

fn verdict(v: Verdict) -> Outcome {
    match v {
        Verdict::ChecksumMismatch { expected, computed } => {
            Outcome::ChecksumMismatch { expected, computed }
        }
        Verdict::NotLive => Outcome::Skipped,
        v if ok(v) => Outcome::Applied,
        _ => Outcome::Skipped,
    }
}

fn snapshot(m: &mut MarketBook, b: &BookUpdate, now_us: i64) -> Outcome {
    let buffered = match &mut m.seq {
        Seq::Binance(s) => match s.on_snapshot(b.last_update_id.unwrap_or(0)) {
            Ok(v) => v,
            Err(e) => return Outcome::RefusedSnapshot(e.to_string()),
        },
        Seq::Consecutive(c) => {
            c.on_snapshot(b.last_update_id.unwrap_or(0));
            Vec::new()
        }
        Seq::PrevSeq(p) => {
            p.on_snapshot(b.last_update_id.map_or(0, |v| v as i64));
            Vec::new()
        }
        Seq::None => Vec::new(),
    };
    let v = m.tracker.on_snapshot(&b.bids, &b.asks, b.checksum, now_us);
    if !ok(v) {
        return verdict(v);
    }
    m.last_update_id = b.last_update_id;
    for d in buffered.into_iter().flatten() {
        let v = m.tracker.on_delta(&d.bids, &d.asks, d.checksum, now_us);
        if !ok(v) {
            return verdict(v);
        }
        m.last_update_id = d.last_update_id;
    }
    Outcome::Applied
}

fn delta(m: &mut MarketBook, b: &BookUpdate, now_us: i64) -> Outcome {
    let step = match &mut m.seq {
        Seq::Binance(s) => {
            let (Some(first), Some(last)) = (b.first_update_id, b.last_update_id) else {
                // Cannot be placed in the sequence: never applied.
                return Outcome::Skipped;
            };
            let payload = (!s.is_live()).then(|| b.clone());
            match s.on_delta(first, last, payload) {
                Step::Buffered => return Outcome::Waiting,
                Step::Ignore => return Outcome::Skipped,
                Step::Gap { expected, got } => {
                    // Back to buffering, starting with this event.
                    let _ = s.on_delta(first, last, Some(b.clone()));
                    m.tracker.on_gap(now_us);
                    return Outcome::Gap { expected, got };
                }
                Step::Apply(_) => Step::Apply(()),
            }
        }
        // A delta while the book waits for its snapshot: nothing to check it against.
        _ if !m.tracker.is_live() => return Outcome::Skipped,
        // A delta without its sequence number cannot be placed: as good as a gap.
        Seq::Consecutive(c) => match b.last_update_id {
            Some(u) => c.on_delta(u),
            None => {
                *c = Consecutive::new();
                Step::Gap {
                    expected: 0,
                    got: 0,
                }
            }
        },
        Seq::PrevSeq(p) => match (b.first_update_id, b.last_update_id) {
            (Some(prev), Some(id)) => p.on_update(prev as i64, id as i64),
            // Older OKX messages carry no ids, only the checksum: that proves them.
            _ if b.checksum.is_some() => Step::Apply(()),
            _ => {
                *p = PrevSeqChain::new();
                Step::Gap {
                    expected: 0,
                    got: 0,
                }
            }
        },
        Seq::None => Step::Apply(()),
    };
    match step {
        Step::Apply(()) => verdict(m.tracker.on_delta(&b.bids, &b.asks, b.checksum, now_us)),
        Step::Ignore | Step::Buffered => Outcome::Skipped,
        Step::Gap { expected, got } => {
            m.tracker.on_gap(now_us);
            Outcome::Gap { expected, got }
        }
    }
}

/// Replays stored book messages (in stored order) through `venue`'s rules: the keeper ends
/// where the recorder's did (same books, same verified state).
pub fn replay(venue: Venue, updates: impl IntoIterator<Item = BookUpdate>) -> BookKeeper {
    let mut k = BookKeeper::new(
        venue,
        KeeperSettings {
            top_levels: 0,
            ..KeeperSettings::default()
        },
    );
    let no_sequence = k.rules.sequencing == Sequencing::None;
    for u in updates {
        let now = u.ts_recv_us;
        if no_sequence && !u.verified && u.kind == BookKind::Delta {
            // Without per-book numbers, the recorder only leaves a delta unverified when its
            // book was already dropped (a connection-wide hole, a disconnect): do the same.
            k.reset_market(&u.symbol, now);
        }
        let mut batch = vec![Event::Book(u)];
        k.process(&mut batch, now);
    }
    k
}

/// [`replay`], then each market's final book digest (`None`: the book was not live at the end).
/// The stored stream of a connection holds exactly what the keeper saw, so this equals the
/// recorder's digests.
pub fn rebuild(
    venue: Venue,
    updates: impl IntoIterator<Item = BookUpdate>,
) -> HashMap<Arc<str>, Option<u64>> {
    let k = replay(venue, updates);
    k.markets.keys().map(|s| (s.clone(), k.digest(s))).collect()
}
