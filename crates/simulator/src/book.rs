//! Order books: one deterministic, evolving L2 book per market, published the way its venue
//! publishes it.
//!
//! The book of a market is a pure function of the seed, the venue, the symbol and the delta
//! number (see [`Levels::step`]): every delta adds, changes or removes one to three levels near
//! the touch, and the book never crosses (a new bid is always below the best ask and vice versa)
//! and keeps between [`MIN_LEVELS`] and [`MAX_LEVELS`] levels per side. Wall-clock time only
//! decides *when* deltas happen (`SimConfig::book_updates_per_sec`), never what they contain.
//!
//! The driver ([`run_book_driver`]) owns the book: under the market's book lock it applies a
//! delta, works out what the venue sends for it ([`BookDelta`]: the changed levels — or, for a
//! venue that shows a fixed depth, the changes of that window — with the venue's sequence
//! numbers and checksum) and broadcasts it, so a snapshot taken under the same lock
//! ([`BookSubs::subscribe`]) is followed by exactly the deltas after it. Per venue:
//!
//! | venue | shown | ids | checksum |
//! |---|---|---|---|
//! | Binance | whole book | `U`/`u`: one update id per changed level | — |
//! | Kraken | top 10 (the client truncates; levels pushed out are not sent) | — | CRC32 of the top 10 |
//! | OKX | whole book (≤ 400) | `seqId` (+1..3), `prevSeqId` | CRC32 of the top 25, signed |
//! | Bybit | top 50 (levels leaving the window are sent with size 0) | `u` +1, `seq` rising | — |
//! | Coinbase | whole book | `sequence_num` per connection | — |
//! | Upbit | top 15, every message a full snapshot | — | — |
//!
//! Checksums are computed here from the text the venue sends, as `reference/protocols.md`
//! describes them (not by the recorder's book crate, so a shared bug cannot cancel out).
//!
//! Book faults ([`crate::Fault::DropBookDelta`] and friends) target a market's `after`-th next
//! *sent* delta (deltas that change nothing the venue shows are not messages and do not count).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tickrec_model::{now_us, Decimal, Level, Venue};
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::{broadcast, watch, Notify};
use tokio::time::Instant;

use crate::config::StartMode;
use crate::format::push_fixed;
use crate::market::{MarketSpec, BROADCAST_CAPACITY};
use crate::server::{stopped, SimCore};
use crate::tape::{draw, mix, push_price, push_qty, QTY_SCALE};

/// Levels per side of a fresh book.
pub(crate) const INITIAL_LEVELS: usize = 60;
/// A side never shrinks below this (removals turn into changes).
pub(crate) const MIN_LEVELS: usize = 30;
/// A side never grows beyond this (additions turn into removals).
pub(crate) const MAX_LEVELS: usize = 90;
/// Deltas whose undo information is kept, for stale Binance REST snapshots.
pub const UNDO_KEPT: usize = 4096;
/// Kraken `book` depth served (its checksum covers the top 10 whatever the depth).
pub(crate) const KRAKEN_DEPTH: usize = 10;
/// Bybit `orderbook.50`.
pub(crate) const BYBIT_DEPTH: usize = 50;
/// Upbit `orderbook` units.
pub(crate) const UPBIT_UNITS: usize = 15;
/// Levels per side in OKX's checksum.
pub(crate) const OKX_CHECKSUM_LEVELS: usize = 25;
/// Binance `/api/v3/depth` limits.
pub(crate) const BINANCE_DEPTH_DEFAULT: usize = 100;
/// Largest `limit` Binance accepts.
pub(crate) const BINANCE_DEPTH_MAX: usize = 5000;
/// Levels a change picks from, counted from the touch: activity concentrates near the top.
const ACTIVE_RANKS: u64 = 20;
/// How often a paused book driver looks whether it may resume.
const PAUSE_POLL: Duration = Duration::from_millis(2);
/// How far from the opposite touch a new level may appear, in ticks.
const ADD_SPAN: u64 = 40;

/// A book side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Bid,
    Ask,
}

/// A level as the simulator holds it: price in ticks, quantity in 10⁻⁸ units (0 = removed).
pub(crate) type Lvl = (i64, u64);

/// The levels per side at which a venue's stream shows a market's book (`None`: all of it).
pub(crate) const fn venue_depth(venue: Venue) -> Option<usize> {
    match venue {
        Venue::Kraken => Some(KRAKEN_DEPTH),
        Venue::Bybit => Some(BYBIT_DEPTH),
        Venue::Upbit => Some(UPBIT_UNITS),
        _ => None,
    }
}

/// Both sides of a book.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Levels {
    bids: BTreeMap<i64, u64>,
    asks: BTreeMap<i64, u64>,
}

impl Levels {
    fn side(&self, side: Side) -> &BTreeMap<i64, u64> {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<i64, u64> {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }

    /// The best `n` levels of a side (all with `None`), best first.
    pub(crate) fn top(&self, side: Side, n: Option<usize>) -> Vec<Lvl> {
        let n = n.unwrap_or(usize::MAX);
        match side {
            Side::Bid => self
                .bids
                .iter()
                .rev()
                .take(n)
                .map(|(p, q)| (*p, *q))
                .collect(),
            Side::Ask => self.asks.iter().take(n).map(|(p, q)| (*p, *q)).collect(),
        }
    }

    fn best(&self, side: Side) -> Option<i64> {
        match side {
            Side::Bid => self.bids.keys().next_back().copied(),
            Side::Ask => self.asks.keys().next().copied(),
        }
    }

    /// Sets a level (qty 0 removes it); returns the previous quantity (0: there was none).
    fn set(&mut self, side: Side, price: i64, qty: u64) -> u64 {
        let s = self.side_mut(side);
        if qty == 0 {
            s.remove(&price).unwrap_or(0)
        } else {
            s.insert(price, qty).unwrap_or(0)
        }
    }

    fn is_crossed(&self) -> bool {
        matches!((self.best(Side::Bid), self.best(Side::Ask)), (Some(b), Some(a)) if b >= a)
    }

    /// The initial book of a market: bids from the profile's start price down, asks from one to
    /// three ticks above, one to three ticks apart.
    fn initial(spec: &MarketSpec, key: u64) -> Levels {
        let mut l = Levels::default();
        let start = spec.profile.initial_ticks;
        let r0 = draw(key, u64::MAX);
        let (mut bid, mut ask) = (start, start + 1 + (r0 % 3) as i64);
        for i in 0..INITIAL_LEVELS as u64 {
            let r = draw(key ^ 0x1A17, i);
            l.bids.insert(bid, qty(spec, r));
            l.asks.insert(ask, qty(spec, r >> 32));
            bid -= 1 + (r % 3) as i64;
            ask += 1 + ((r >> 2) % 3) as i64;
        }
        l
    }

    /// Applies delta `index`: one to three changes of distinct levels, deterministic in `key`
    /// and `index`. Returns `(side, price, new qty, old qty)` per change, in order.
    fn step(&mut self, spec: &MarketSpec, key: u64, index: u64) -> Vec<(Side, i64, u64, u64)> {
        let r0 = draw(key, index.wrapping_mul(8));
        let n = 1 + r0 % 3;
        let mut out: Vec<(Side, i64, u64, u64)> = Vec::with_capacity(n as usize);
        for j in 0..n {
            let r = draw(key, index.wrapping_mul(8) + 1 + j);
            let side = if r & 1 == 0 { Side::Bid } else { Side::Ask };
            let len = self.side(side).len();
            let action = (r >> 1) % 100;
            let (price, new_qty) = if action < 25 && len < MAX_LEVELS || len < MIN_LEVELS {
                (self.added(side, r), qty(spec, r >> 24))
            } else {
                let rank = ((r >> 8) % ACTIVE_RANKS.min(len as u64)) as usize;
                let price = self.top(side, Some(rank + 1)).last().map_or(0, |l| l.0);
                let remove = action >= 75 && len > MIN_LEVELS || len >= MAX_LEVELS;
                (price, if remove { 0 } else { qty(spec, r >> 24) })
            };
            if price <= 0 || out.iter().any(|c| c.0 == side && c.1 == price) {
                // One change per level and message keeps every venue's message unambiguous.
                continue;
            }
            let old = self.set(side, price, new_qty);
            if old == new_qty {
                continue;
            }
            out.push((side, price, new_qty, old));
        }
        debug_assert!(!self.is_crossed());
        out
    }

    /// A new level's price (or an existing one's, which then changes) within [`ADD_SPAN`] ticks
    /// inside the opposite touch.
    fn added(&self, side: Side, r: u64) -> i64 {
        let off = 1 + ((r >> 8) % ADD_SPAN) as i64;
        match side {
            Side::Bid => self.best(Side::Ask).map_or(0, |a| a - off),
            Side::Ask => self.best(Side::Bid).map_or(0, |b| b + off),
        }
    }
}

/// A quantity: 1..5000 lots of the market's quantity step.
fn qty(spec: &MarketSpec, r: u64) -> u64 {
    spec.profile.qty_step * (1 + (r >> 24) % 5000)
}

/// Price text as the venue sends it in book messages.
pub(crate) fn price_text(spec: &MarketSpec, ticks: i64) -> String {
    let mut s = String::with_capacity(24);
    push_price(&mut s, &spec.profile, ticks);
    s
}

/// Quantity text as the venue sends it in book messages (Kraken's book: its `qty_precision`,
/// 8 decimals, trailing zeros kept — the checksum depends on them).
pub(crate) fn qty_text(venue: Venue, units: u64) -> String {
    let mut s = String::with_capacity(24);
    match venue {
        Venue::Kraken => push_fixed(&mut s, u128::from(units), QTY_SCALE, QTY_SCALE),
        _ => push_qty(&mut s, venue, u128::from(units)),
    }
    s
}

/// `[["price","qty"<extra>],…]` with the venue's texts (`extra`: OKX's `,"0","1"`).
pub(crate) fn push_pairs(s: &mut String, spec: &MarketSpec, levels: &[Lvl], extra: &str) {
    s.push('[');
    for (i, &(p, q)) in levels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("[\"");
        s.push_str(&price_text(spec, p));
        s.push_str("\",\"");
        s.push_str(&qty_text(spec.venue, q));
        s.push('"');
        s.push_str(extra);
        s.push(']');
    }
    s.push(']');
}

/// Kraken v2 checksum (protocols.md §2.4): the top 10 asks low → high, then the top 10 bids
/// high → low, each as its price text then its quantity text with the point and leading zeros
/// removed; CRC-32 of the concatenation.
pub(crate) fn kraken_checksum(spec: &MarketSpec, l: &Levels) -> u32 {
    let mut s = String::with_capacity(20 * 24);
    let digits = |s: &mut String, text: &str| {
        let d: String = text.chars().filter(|c| *c != '.').collect();
        s.push_str(d.trim_start_matches('0'));
    };
    for side in [Side::Ask, Side::Bid] {
        for (p, q) in l.top(side, Some(KRAKEN_DEPTH)) {
            digits(&mut s, &price_text(spec, p));
            digits(&mut s, &qty_text(Venue::Kraken, q));
        }
    }
    crc32fast::hash(s.as_bytes())
}

/// OKX `books` checksum (protocols.md §5.4): the first 25 bids and asks interleaved as
/// `bid:size:ask:size:…` (a missing side skipped), the texts as sent; CRC-32 read as a signed
/// 32-bit integer (returned as its bit pattern).
pub(crate) fn okx_checksum(spec: &MarketSpec, l: &Levels) -> u32 {
    let texts = |side| -> Vec<(String, String)> {
        l.top(side, Some(OKX_CHECKSUM_LEVELS))
            .into_iter()
            .map(|(p, q)| (price_text(spec, p), qty_text(Venue::Okx, q)))
            .collect()
    };
    okx_crc(&texts(Side::Bid), &texts(Side::Ask))
}

/// OKX's CRC over `(price, size)` texts, best first.
fn okx_crc(bids: &[(String, String)], asks: &[(String, String)]) -> u32 {
    let mut parts: Vec<&str> = Vec::with_capacity(4 * OKX_CHECKSUM_LEVELS);
    for i in 0..OKX_CHECKSUM_LEVELS {
        for (p, q) in [bids.get(i), asks.get(i)].into_iter().flatten() {
            parts.push(p);
            parts.push(q);
        }
    }
    crc32fast::hash(parts.join(":").as_bytes())
}

/// The venue's checksum of a book, for venues that send one.
fn checksum(spec: &MarketSpec, l: &Levels) -> Option<u32> {
    match spec.venue {
        Venue::Kraken => Some(kraken_checksum(spec, l)),
        Venue::Okx => Some(okx_checksum(spec, l)),
        _ => None,
    }
}

/// One book message as the venue sends it (formatted by the venue's connection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BookDelta {
    /// The market's delta number (1 = the first change after the initial book).
    pub index: u64,
    /// Venue event time, µs.
    pub ts_us: i64,
    /// Binance `U`; OKX `prevSeqId`; 0 elsewhere.
    pub first_id: u64,
    /// Binance `u`; OKX `seqId`; Bybit `u`; 0 elsewhere.
    pub last_id: u64,
    /// Bybit cross sequence `seq`.
    pub cross_seq: u64,
    /// Bid levels sent (new totals, 0 = remove; Upbit: the whole top).
    pub bids: Vec<Lvl>,
    /// Ask levels sent.
    pub asks: Vec<Lvl>,
    /// Kraken / OKX checksum of the book after this message (possibly corrupted by a fault).
    pub checksum: Option<u32>,
}

/// What the driver broadcasts per wake-up.
#[derive(Debug, Default)]
pub(crate) struct BookPush {
    /// Messages in the order they go on the wire.
    pub deltas: Vec<Arc<BookDelta>>,
    /// Messages the venue counted but that never reach any client ([`crate::Fault::DropBookDelta`]):
    /// Coinbase's `sequence_num` skips over them.
    pub skipped: u32,
}

/// A venue's book as it shows it to a new subscriber.
#[derive(Clone, Debug)]
pub(crate) struct BookView {
    /// Best first.
    pub bids: Vec<Lvl>,
    /// Best first.
    pub asks: Vec<Lvl>,
    /// The venue id of the last message (Binance `u`, OKX `seqId`, Bybit `u`).
    pub last_id: u64,
    /// Bybit cross sequence.
    pub cross_seq: u64,
    /// Time of the last change, µs.
    pub ts_us: i64,
    /// Kraken / OKX checksum of the view.
    pub checksum: Option<u32>,
}

impl BookView {
    /// The view as one message's content (what a venue's snapshot message carries).
    pub(crate) fn to_delta(&self) -> BookDelta {
        BookDelta {
            index: 0,
            ts_us: self.ts_us,
            first_id: 0,
            last_id: self.last_id,
            cross_seq: self.cross_seq,
            bids: self.bids.clone(),
            asks: self.asks.clone(),
            checksum: self.checksum,
        }
    }
}

/// A book fault waiting for its delta.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BookFaultKind {
    Drop,
    CorruptChecksum,
    Reorder,
}

/// Undo information of one delta: the venue id before it and the old quantities.
#[derive(Debug)]
struct Undo {
    last_id_before: u64,
    changes: Vec<(Side, i64, u64)>,
}

/// A market's book state, guarded by [`MarketBook::lock`].
#[derive(Debug)]
pub(crate) struct BookState {
    levels: Levels,
    /// Deltas generated so far (sent or not).
    generated: u64,
    /// Messages sent so far (a dropped one counts: the venue sent it).
    sent: u64,
    last_id: u64,
    cross_seq: u64,
    ts_us: i64,
    undo: VecDeque<Undo>,
    /// A message held back by a reorder fault, sent after the next one.
    held: Option<Arc<BookDelta>>,
    /// Pending faults: (kind, the sent-message number it hits).
    faults: Vec<(BookFaultKind, u64)>,
    /// Pending stale REST snapshots (lag in deltas), Binance.
    stale: VecDeque<u64>,
}

impl BookState {
    /// The venue's view of the book.
    pub(crate) fn view(&self, spec: &MarketSpec) -> BookView {
        let depth = venue_depth(spec.venue);
        BookView {
            bids: self.levels.top(Side::Bid, depth),
            asks: self.levels.top(Side::Ask, depth),
            last_id: self.last_id,
            cross_seq: self.cross_seq,
            ts_us: self.ts_us,
            checksum: checksum(spec, &self.levels),
        }
    }

    /// The whole book as it was `lag` deltas ago (as far back as the kept undo information
    /// reaches), with the venue id of that moment.
    pub(crate) fn lagged(&self, lag: u64) -> (Levels, u64) {
        let mut levels = self.levels.clone();
        let mut last_id = self.last_id;
        for u in self
            .undo
            .iter()
            .rev()
            .take(usize::try_from(lag).unwrap_or(usize::MAX))
        {
            for &(side, price, old) in u.changes.iter().rev() {
                levels.set(side, price, old);
            }
            last_id = u.last_id_before;
        }
        (levels, last_id)
    }

    /// Takes a pending stale-snapshot lag, if any.
    pub(crate) fn take_stale(&mut self) -> Option<u64> {
        self.stale.pop_front()
    }

    /// The current whole book.
    pub(crate) fn levels(&self) -> &Levels {
        &self.levels
    }

    /// The venue id of the last message (Binance `u`).
    pub(crate) fn last_id(&self) -> u64 {
        self.last_id
    }
}

/// The venue's true book of a market: what a recorder that missed nothing holds.
#[derive(Clone, Debug, PartialEq)]
pub struct BookTruth {
    /// Bids, best first, exact values as the venue prints them; limited to the depth the
    /// venue's stream shows (Kraken 10, Bybit 50, Upbit 15, others the whole book).
    pub bids: Vec<Level>,
    /// Asks, best first.
    pub asks: Vec<Level>,
    /// The venue's sequence number of the last message (Binance `u`, OKX `seqId`, Bybit `u`);
    /// `None` where the venue has none (Kraken, Coinbase — whose `sequence_num` is per
    /// connection —, Upbit).
    pub last_update_id: Option<u64>,
    /// Deltas the book has been through since the initial book.
    pub deltas: u64,
    /// Messages the venue has sent for it (a delta that changes nothing the venue shows is no
    /// message; a dropped message counts).
    pub messages: u64,
}

fn to_levels(spec: &MarketSpec, levels: &[Lvl]) -> Vec<Level> {
    levels
        .iter()
        .filter_map(|&(p, q)| {
            // The texts are the simulator's own decimal output: they always parse.
            Some(Level {
                price: Decimal::parse(&price_text(spec, p)).ok()?,
                qty: Decimal::parse(&qty_text(spec.venue, q)).ok()?,
            })
        })
        .collect()
}

/// One market's book at run time.
#[derive(Debug)]
pub(crate) struct MarketBook {
    state: Mutex<BookState>,
    tx: broadcast::Sender<Arc<BookPush>>,
    start: Notify,
    start_requested: AtomicBool,
    /// Key of the market's book draws.
    key: u64,
}

impl MarketBook {
    pub(crate) fn new(spec: &MarketSpec) -> MarketBook {
        let key = mix(spec.profile.key ^ 0xB00C_B00C_B00C_B00C);
        let id_base = 1_000_000 + (spec.profile.symbol_hash % 1_000_000) * 1_000;
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        MarketBook {
            state: Mutex::new(BookState {
                levels: Levels::initial(spec, key),
                generated: 0,
                sent: 0,
                last_id: id_base,
                cross_seq: id_base * 100,
                ts_us: now_us(),
                undo: VecDeque::new(),
                held: None,
                faults: Vec::new(),
                stale: VecDeque::new(),
            }),
            tx,
            start: Notify::new(),
            start_requested: AtomicBool::new(false),
            key,
        }
    }

    /// Locks the book; while held, the driver cannot change or publish it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, BookState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the book's changes if they wait for a subscriber (idempotent).
    pub(crate) fn request_start(&self) {
        if !self.start_requested.swap(true, Ordering::AcqRel) {
            self.start.notify_one();
        }
    }

    /// Arms a fault for the `after`-th next message (0: the next one).
    pub(crate) fn arm(&self, kind: BookFaultKind, after: u64) {
        let mut st = self.lock();
        let at = st.sent + 1 + after;
        st.faults.push((kind, at));
    }

    /// The next REST snapshot lags the stream by `lag` deltas.
    pub(crate) fn stale_snapshot(&self, lag: u64) {
        self.lock().stale.push_back(lag);
    }

    /// The venue's true book.
    pub(crate) fn truth(&self, spec: &MarketSpec) -> BookTruth {
        let st = self.lock();
        let view = st.view(spec);
        BookTruth {
            bids: to_levels(spec, &view.bids),
            asks: to_levels(spec, &view.asks),
            last_update_id: matches!(spec.venue, Venue::Binance | Venue::Okx | Venue::Bybit)
                .then_some(st.last_id),
            deltas: st.generated,
            messages: st.sent,
        }
    }

    /// Applies the next delta and publishes what the venue sends for it; nothing while `paused`
    /// (read under the lock, so that a pause is complete once every book was locked once).
    fn advance(&self, spec: &MarketSpec, paused: &AtomicBool) {
        let mut st = self.lock();
        if paused.load(Ordering::Acquire) {
            return;
        }
        let before = Window::of(spec.venue, &st.levels);
        st.generated += 1;
        let index = st.generated;
        let changes = st.levels.step(spec, self.key, index);
        let after = Window::of(spec.venue, &st.levels);
        let (bids, asks) = sent_levels(spec.venue, &before, &after, &st.levels, &changes);
        let last_id_before = st.last_id;
        st.undo.push_back(Undo {
            last_id_before,
            changes: changes.iter().map(|c| (c.0, c.1, c.3)).collect(),
        });
        if st.undo.len() > UNDO_KEPT {
            st.undo.pop_front();
        }
        if bids.is_empty() && asks.is_empty() {
            // Nothing the venue shows changed: no message.
            return;
        }
        let r = draw(self.key ^ 0x5E9, index);
        let (first_id, last_id) = match spec.venue {
            Venue::Binance => (
                st.last_id + 1,
                st.last_id + (bids.len() + asks.len()) as u64,
            ),
            Venue::Okx => (st.last_id, st.last_id + 1 + r % 3),
            Venue::Bybit => (0, st.last_id + 1),
            _ => (0, 0),
        };
        if last_id != 0 {
            st.last_id = last_id;
        }
        st.cross_seq += 1 + (r >> 8) % 20;
        st.ts_us = now_us().max(st.ts_us);
        st.sent += 1;
        let mut delta = BookDelta {
            index,
            ts_us: st.ts_us,
            first_id,
            last_id,
            cross_seq: st.cross_seq,
            bids,
            asks,
            checksum: checksum(spec, &st.levels),
        };
        let sent = st.sent;
        let mut fired = Vec::new();
        st.faults.retain(|&(kind, at)| {
            let due = at <= sent;
            if due {
                fired.push(kind);
            }
            !due
        });
        let mut push = BookPush::default();
        let mut hold = false;
        for kind in &fired {
            match kind {
                BookFaultKind::Drop => push.skipped += 1,
                BookFaultKind::CorruptChecksum => {
                    delta.checksum = delta.checksum.map(|c| c ^ 0x0000_0001);
                }
                BookFaultKind::Reorder => hold = true,
            }
            tracing::info!(venue = %spec.venue, symbol = %spec.symbol, index, ?kind, "book fault");
        }
        let delta = Arc::new(delta);
        if push.skipped == 0 {
            if hold && st.held.is_none() {
                st.held = Some(delta);
                return;
            }
            push.deltas.push(delta);
        }
        if let Some(h) = st.held.take() {
            // The held message goes out right after its successor.
            push.deltas.push(h);
        }
        // No receiver is fine: nobody subscribed to this book (yet, or any more).
        let _ = self.tx.send(Arc::new(push));
    }
}

/// What a venue shows before and after a delta (its window for fixed-depth venues).
struct Window {
    bids: Vec<Lvl>,
    asks: Vec<Lvl>,
}

impl Window {
    fn of(venue: Venue, l: &Levels) -> Window {
        let depth = venue_depth(venue);
        Window {
            bids: l.top(Side::Bid, depth),
            asks: l.top(Side::Ask, depth),
        }
    }
}

/// The levels a venue sends for a delta.
fn sent_levels(
    venue: Venue,
    before: &Window,
    after: &Window,
    book: &Levels,
    changes: &[(Side, i64, u64, u64)],
) -> (Vec<Lvl>, Vec<Lvl>) {
    let side_changes = |side: Side| -> Vec<Lvl> {
        changes
            .iter()
            .filter(|c| c.0 == side)
            .map(|c| (c.1, c.2))
            .collect()
    };
    // A window venue sends the window's changes: levels new or changed in it, and levels that
    // left it — Kraken only those deleted from the book (the client truncates to the depth),
    // Bybit every one (size 0).
    let window_diff = |side: Side, b: &[Lvl], a: &[Lvl], explicit: bool| -> Vec<Lvl> {
        let mut out: Vec<Lvl> = b
            .iter()
            .filter(|(p, _)| !a.iter().any(|(ap, _)| ap == p))
            .filter(|(p, _)| explicit || !book.side(side).contains_key(p))
            .map(|&(p, _)| (p, 0))
            .collect();
        out.extend(a.iter().filter(|l| !b.contains(l)).copied());
        out
    };
    match venue {
        Venue::Kraken | Venue::Bybit => {
            let explicit = venue == Venue::Bybit;
            (
                window_diff(Side::Bid, &before.bids, &after.bids, explicit),
                window_diff(Side::Ask, &before.asks, &after.asks, explicit),
            )
        }
        Venue::Upbit => {
            if before.bids == after.bids && before.asks == after.asks {
                (Vec::new(), Vec::new())
            } else {
                (after.bids.clone(), after.asks.clone())
            }
        }
        _ => (side_changes(Side::Bid), side_changes(Side::Ask)),
    }
}

/// Changes one market's book at `core.book_rate` deltas per second until shutdown. Waits for the
/// first book subscriber unless the simulator starts everything immediately.
pub(crate) async fn run_book_driver(
    core: Arc<SimCore>,
    idx: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(market) = core.markets.get(idx).cloned() else {
        return;
    };
    let book = &market.book;
    if core.start_mode == StartMode::OnSubscribe {
        tokio::select! {
            _ = book.start.notified() => {}
            _ = stopped(&mut shutdown) => return,
        }
    }
    let mut start = Instant::now();
    let mut done: u64 = 0;
    loop {
        if core.books_paused.load(Ordering::Acquire) {
            tokio::select! {
                _ = tokio::time::sleep(PAUSE_POLL) => {}
                _ = stopped(&mut shutdown) => return,
            }
            // Resume at the configured pace from now on, without catching up.
            start = Instant::now();
            done = 0;
            continue;
        }
        // Delta `done + 1` is due `done / rate` seconds after the start.
        let due = start + Duration::from_secs_f64(done as f64 / core.book_rate);
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {}
            _ = stopped(&mut shutdown) => return,
        }
        let now = Instant::now();
        let target =
            (now.saturating_duration_since(start).as_secs_f64() * core.book_rate) as u64 + 1;
        while done < target {
            book.advance(&market.spec, &core.books_paused);
            done += 1;
        }
    }
}

/// A connection's book subscriptions: one receiver per market, positioned right after the
/// snapshot the subscription returned.
#[derive(Debug, Default)]
pub(crate) struct BookSubs {
    subs: BTreeMap<usize, broadcast::Receiver<Arc<BookPush>>>,
    /// Set when a receiver fell too far behind: the connection is dropped.
    pub lagged: Option<u64>,
}

impl BookSubs {
    /// Subscribes to market `idx`'s book (again: a fresh snapshot, the old position dropped) and
    /// returns the venue's snapshot of it. Starts the book.
    pub(crate) fn subscribe(&mut self, core: &SimCore, idx: usize) -> Option<BookView> {
        let market = core.markets.get(idx)?;
        let view = {
            let st = market.book.lock();
            self.subs.insert(idx, market.book.tx.subscribe());
            st.view(&market.spec)
        };
        market.book.request_start();
        Some(view)
    }

    /// Stops market `idx`'s book; false when it was not subscribed.
    pub(crate) fn unsubscribe(&mut self, idx: usize) -> bool {
        self.subs.remove(&idx).is_some()
    }

    pub(crate) fn contains(&self, idx: usize) -> bool {
        self.subs.contains_key(&idx)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// Every push received since the last call, per market in order.
    pub(crate) fn drain(&mut self) -> Vec<(usize, Arc<BookPush>)> {
        let mut out = Vec::new();
        for (&idx, rx) in &mut self.subs {
            loop {
                match rx.try_recv() {
                    Ok(p) => out.push((idx, p)),
                    Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    Err(TryRecvError::Lagged(n)) => {
                        self.lagged = Some(n);
                        break;
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(venue: Venue) -> MarketSpec {
        MarketSpec::new(0, 7, venue, "BTC/USDT")
    }

    #[test]
    fn books_evolve_deterministically_and_never_cross() {
        for venue in crate::SIMULATED_VENUES {
            let s = spec(venue);
            let a = MarketBook::new(&s);
            let b = MarketBook::new(&s);
            let running = AtomicBool::new(false);
            for _ in 0..3000 {
                a.advance(&s, &running);
                b.advance(&s, &running);
            }
            let (sa, sb) = (a.lock(), b.lock());
            assert_eq!(sa.levels, sb.levels, "{venue}");
            assert!(!sa.levels.is_crossed());
            for side in [Side::Bid, Side::Ask] {
                let n = sa.levels.side(side).len();
                assert!((MIN_LEVELS..=MAX_LEVELS).contains(&n), "{venue} {n}");
            }
            assert_eq!(sa.generated, 3000);
            assert!(sa.sent > 100 && sa.sent <= 3000, "{venue} {}", sa.sent);
        }
    }

    #[test]
    fn stale_view_undoes_the_last_deltas() {
        let s = spec(Venue::Binance);
        let m = MarketBook::new(&s);
        let initial = m.lock().levels.clone();
        let first_id = m.lock().last_id;
        let mut states = vec![(initial.clone(), first_id)];
        for _ in 0..50 {
            m.advance(&s, &AtomicBool::new(false));
            let st = m.lock();
            states.push((st.levels.clone(), st.last_id));
        }
        let st = m.lock();
        assert_eq!(st.lagged(0), states[50]);
        assert_eq!(st.lagged(7), states[43]);
        assert_eq!(st.lagged(50), (initial.clone(), first_id));
        assert_eq!(st.lagged(u64::MAX), (initial, first_id), "clamped");
    }

    #[test]
    fn documented_checksums() {
        // Kraken's worked example (protocols.md §2.4) rebuilt as simulator levels: BTC/USD has
        // one price decimal, quantities 8.
        let s = MarketSpec::new(0, 7, Venue::Kraken, "BTC/USD");
        assert_eq!(s.profile.tick_exp, 1);
        let mut l = Levels::default();
        for (p, q) in [
            (452835, 10_000_000),
            (452834, 154_582_015),
            (452821, 10_000_000),
            (452810, 10_000_000),
            (452803, 154_592_586),
            (452790, 7_990_000),
            (452776, 3_310_103),
            (452775, 30_000_000),
            (452773, 154_602_737),
            (452766, 15_445_238),
        ] {
            l.bids.insert(p, q);
        }
        for (p, q) in [
            (452852, 100_000),
            (452864, 154_571_953),
            (452866, 154_571_109),
            (452896, 154_560_911),
            (452902, 15_890_660),
            (452918, 154_553_491),
            (452947, 4_454_749),
            (452961, 35_380_000),
            (452975, 9_945_542),
            (452995, 18_772_827),
        ] {
            l.asks.insert(p, q);
        }
        assert_eq!(kraken_checksum(&s, &l), 3_310_070_434);
        // OKX's documented vectors (protocols.md §5.4).
        let t = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(p, q)| (p.to_string(), q.to_string()))
                .collect()
        };
        let c = okx_crc(
            &t(&[("3366.1", "7"), ("3366", "6")]),
            &t(&[("3366.8", "9"), ("3368", "8")]),
        );
        assert_eq!(c as i32, -1_881_014_294);
        let c = okx_crc(
            &t(&[("3366.1", "7")]),
            &t(&[("3366.8", "9"), ("3368", "8"), ("3372", "8")]),
        );
        assert_eq!(c as i32, 831_078_360);
    }
}
