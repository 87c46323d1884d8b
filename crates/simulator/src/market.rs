//! One simulated market: its static description, the driver task that publishes the tape at the
//! configured rate, and the state shared with connections (recent trades, running candle,
//! ticker statistics).
//!
//! The driver is the single writer: every ~1 ms it generates the trades that became due, derives
//! candle and ticker state from them, and broadcasts one [`Batch`]. Every connection subscribed to
//! the market receives the same `Arc<Batch>`, so all of them see identical trades, candles and
//! book tickers, and the ground-truth writer receives the same batch. Snapshots (Kraken) are taken
//! under the same lock the driver broadcasts under, so a snapshot and the following updates never
//! overlap or leave a hole.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tickrec_model::{now_us, Venue};
use tokio::sync::{broadcast, mpsc, watch, Notify};
use tokio::time::Instant;

use crate::book::MarketBook;
pub(crate) use crate::candles::CandleBuilder;
use crate::config::{split_symbol, StartMode};
use crate::ground_truth::GtSender;
use crate::history::{History, View, MINUTE_US};
use crate::server::{stopped, SimCore};
use crate::tape::{draw, mix, Profile, RawTrade, Segment, TapeGen, CHECKPOINT};

/// Trades kept for Kraken's trade snapshot.
pub(crate) const RECENT_TRADES: usize = 50;
/// Batches a connection may fall behind (≈ seconds × 1000) before it is dropped as too slow.
pub(crate) const BROADCAST_CAPACITY: usize = 4096;

/// Static description of a market.
#[derive(Debug)]
pub(crate) struct MarketSpec {
    pub idx: usize,
    pub venue: Venue,
    /// Unified `BASE/QUOTE`.
    pub symbol: String,
    /// Venue-native symbol: `BTCUSDT` (Binance) or `BTC/USD` (Kraken).
    pub native: String,
    /// Binance stream prefix (`btcusdt`); empty for Kraken.
    pub stream: String,
    pub profile: Profile,
    /// Binance aggTrade id of trade 0 (one aggregate per trade).
    pub agg_base: u64,
    /// Binance bookTicker `u` of trade 0.
    pub book_base: u64,
}

impl MarketSpec {
    pub(crate) fn new(idx: usize, seed: u64, venue: Venue, symbol: &str) -> MarketSpec {
        let (base, quote) = split_symbol(symbol).unwrap_or((symbol, ""));
        let (native, stream) = match venue {
            Venue::Kraken => (symbol.to_string(), String::new()),
            Venue::Okx => (format!("{base}-{quote}"), String::new()),
            Venue::Upbit => (format!("{quote}-{base}"), String::new()),
            Venue::Bybit => (format!("{base}{quote}"), String::new()),
            Venue::Coinbase => (format!("{base}-{quote}"), String::new()),
            _ => {
                let n = format!("{base}{quote}");
                let s = n.to_ascii_lowercase();
                (n, s)
            }
        };
        let profile = Profile::new(seed, venue, symbol);
        let h = profile.symbol_hash % 1_000_000;
        MarketSpec {
            idx,
            venue,
            symbol: symbol.to_string(),
            native,
            stream,
            profile,
            agg_base: 2_000_000_000 + h * 1_000,
            book_base: 40_000_000_000 + h * 1_000,
        }
    }

    /// Best bid/offer after trade `t` (or before the first trade): the trade printed at the touch
    /// on its side, the other side 1–3 ticks away.
    pub(crate) fn bbo(&self, t: Option<&RawTrade>) -> Bbo {
        let p = &self.profile;
        let (index, price, sell) =
            t.map_or((0, p.initial_ticks, false), |t| (t.index, t.price, t.sell));
        let r = draw(mix(p.key ^ 0xB0B0_0000_0000_0001), index);
        let spread = 1 + (r % 3) as i64;
        let (bid, ask) = if sell {
            (price, price + spread)
        } else {
            (price - spread, price)
        };
        Bbo {
            update_id: self.book_base + index,
            bid,
            bid_qty: p.qty_step * (1 + (r >> 8) % 50_000),
            ask,
            ask_qty: p.qty_step * (1 + (r >> 32) % 50_000),
        }
    }
}

/// Best bid and offer (prices in ticks, quantities in 10⁻⁸).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bbo {
    pub update_id: u64,
    pub bid: i64,
    pub bid_qty: u64,
    pub ask: i64,
    pub ask_qty: u64,
}

/// Cumulative statistics since the tape started (Kraken ticker).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stats {
    pub last: Option<RawTrade>,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    /// Base volume, 10⁻⁸ units.
    pub volume: u128,
    /// Σ price×qty, scale `tick_exp + 8`.
    pub quote_volume: u128,
    pub trades: u64,
}

impl Stats {
    pub(crate) fn new(initial: i64) -> Stats {
        Stats {
            last: None,
            open: initial,
            high: initial,
            low: initial,
            volume: 0,
            quote_volume: 0,
            trades: 0,
        }
    }

    pub(crate) fn on_trade(&mut self, t: &RawTrade) {
        if self.last.is_none() {
            self.open = t.price;
            self.high = t.price;
            self.low = t.price;
        }
        self.high = self.high.max(t.price);
        self.low = self.low.min(t.price);
        self.volume += u128::from(t.qty);
        self.quote_volume += t.price.max(0) as u128 * u128::from(t.qty);
        self.trades += 1;
        self.last = Some(*t);
    }

    /// Last price in ticks.
    pub(crate) fn last_price(&self) -> i64 {
        self.last.map_or(self.open, |t| t.price)
    }
}

/// One candle state (a running update or a closed bar).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CandleSnap {
    pub open_time_us: i64,
    pub interval_us: i64,
    pub first_id: u64,
    pub last_id: u64,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    /// Base volume, 10⁻⁸ units.
    pub volume: u128,
    /// Σ price×qty, scale `tick_exp + 8`.
    pub quote_volume: u128,
    pub trades: u64,
    /// Taker-buy base volume.
    pub buy_volume: u128,
    /// Taker-buy quote volume.
    pub buy_quote_volume: u128,
    /// Binance `x`.
    pub closed: bool,
    /// Event time of the message carrying this state.
    pub event_us: i64,
}

impl CandleSnap {
    pub(crate) fn open_with(t: &RawTrade, now_us: i64) -> CandleSnap {
        let mut c = CandleSnap {
            open_time_us: t.ts_us - t.ts_us.rem_euclid(MINUTE_US),
            interval_us: MINUTE_US,
            first_id: t.trade_id,
            last_id: t.trade_id,
            open: t.price,
            high: t.price,
            low: t.price,
            close: t.price,
            volume: 0,
            quote_volume: 0,
            trades: 0,
            buy_volume: 0,
            buy_quote_volume: 0,
            closed: false,
            event_us: now_us,
        };
        c.add(t);
        c
    }

    /// A minute without trades, priced at the previous close.
    pub(crate) fn empty(open_time_us: i64, close: i64) -> CandleSnap {
        CandleSnap {
            open_time_us,
            interval_us: MINUTE_US,
            first_id: 0,
            last_id: 0,
            open: close,
            high: close,
            low: close,
            close,
            volume: 0,
            quote_volume: 0,
            trades: 0,
            buy_volume: 0,
            buy_quote_volume: 0,
            closed: true,
            event_us: open_time_us,
        }
    }

    pub(crate) fn add(&mut self, t: &RawTrade) {
        let q = u128::from(t.qty);
        let pq = t.price.max(0) as u128 * q;
        self.last_id = t.trade_id;
        self.high = self.high.max(t.price);
        self.low = self.low.min(t.price);
        self.close = t.price;
        self.volume += q;
        self.quote_volume += pq;
        self.trades += 1;
        if !t.sell {
            self.buy_volume += q;
            self.buy_quote_volume += pq;
        }
    }

    pub(crate) fn end_us(&self) -> i64 {
        self.open_time_us + self.interval_us
    }
}

/// What the driver publishes per tick.
#[derive(Debug)]
pub(crate) struct Batch {
    /// Trades that became due, in order.
    pub trades: Vec<RawTrade>,
    /// How many leading `trades` are hidden from WebSocket clients ([`crate::Fault::SkipTradeIds`]);
    /// they are published all the same.
    pub ws_skip: usize,
    /// Candle messages to push after the trades.
    pub candles: Vec<CandleSnap>,
    /// Statistics after the batch.
    pub stats: Stats,
}

/// State shared between the driver and connections, guarded by [`Market::lock`].
#[derive(Debug)]
pub(crate) struct Shared {
    pub recent: VecDeque<RawTrade>,
    pub candle: Option<CandleSnap>,
    pub stats: Stats,
    /// Everything published, for the REST companions.
    pub history: History,
}

/// A market at run time.
#[derive(Debug)]
pub(crate) struct Market {
    pub spec: MarketSpec,
    /// The market's order book (changing only once subscribed, see [`crate::book`]).
    pub book: MarketBook,
    tx: broadcast::Sender<Arc<Batch>>,
    shared: Mutex<Shared>,
    start: Notify,
    start_requested: AtomicBool,
    start_us: AtomicI64,
    /// Trades still to hide from WebSocket clients.
    skip: AtomicU64,
    /// Requested bursts `(trades, rate)`, in order.
    bursts: Mutex<VecDeque<(u64, f64)>>,
    /// Wakes the driver early (a burst was requested).
    wake: Notify,
}

impl Market {
    pub(crate) fn new(spec: MarketSpec) -> Market {
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        let stats = Stats::new(spec.profile.initial_ticks);
        Market {
            book: MarketBook::new(&spec),
            spec,
            tx,
            shared: Mutex::new(Shared {
                recent: VecDeque::with_capacity(RECENT_TRADES),
                candle: None,
                stats,
                history: History::default(),
            }),
            start: Notify::new(),
            start_requested: AtomicBool::new(false),
            start_us: AtomicI64::new(i64::MIN),
            skip: AtomicU64::new(0),
            bursts: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
        }
    }

    /// Hides the next `count` published trades from WebSocket clients.
    pub(crate) fn skip_trades(&self, count: u64) {
        self.skip.fetch_add(count, Ordering::AcqRel);
    }

    /// Takes up to `n` trades from the skip budget.
    fn take_skip(&self, n: usize) -> usize {
        let n = n as u64;
        match self
            .skip
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                (v > 0 && n > 0).then(|| v - v.min(n))
            }) {
            Ok(before) => before.min(n) as usize,
            Err(_) => 0,
        }
    }

    /// Publishes the next `trades` trades at `rate` (after any burst already requested).
    pub(crate) fn burst(&self, trades: u64, rate: f64) {
        self.bursts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back((trades, rate));
        self.wake.notify_one();
    }

    fn take_burst(&self) -> Option<(u64, f64)> {
        self.bursts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    /// What was published so far (a consistent view).
    pub(crate) fn view(&self) -> View {
        self.lock().history.view(self.spec.venue)
    }

    /// Published trades `from..to` of `view` (clamped to `view.published`), regenerated from the
    /// nearest checkpoint: identical to what the driver published.
    pub(crate) fn trades(&self, view: &View, from: u64, to: u64) -> Vec<RawTrade> {
        let to = to.min(view.published);
        if from >= to {
            return Vec::new();
        }
        let start = from - from % CHECKPOINT;
        let Some(price) = self.lock().history.checkpoint(start) else {
            return Vec::new();
        };
        view.replay(&self.spec.profile, start, price, from, to)
    }

    /// Locks the shared state; while held, the driver cannot publish.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A receiver of batches published after this call. Call with the lock held (pass the guard)
    /// to align it with a snapshot.
    pub(crate) fn subscribe(
        &self,
        _guard: &MutexGuard<'_, Shared>,
    ) -> broadcast::Receiver<Arc<Batch>> {
        self.tx.subscribe()
    }

    /// Starts the tape if it waits for a subscriber (idempotent).
    pub(crate) fn request_start(&self) {
        if !self.start_requested.swap(true, Ordering::AcqRel) {
            self.start.notify_one();
        }
    }

    /// Wall-clock µs at which the tape started.
    pub(crate) fn start_us(&self) -> Option<i64> {
        let v = self.start_us.load(Ordering::Acquire);
        (v != i64::MIN).then_some(v)
    }
}

/// Publishes one market's tape until it is complete (and its last candle closed) or shutdown.
///
/// Trade `i` of a segment (see [`Segment`]) is due at the segment's start instant plus
/// `(i - first) / rate`; every wake-up publishes everything due as one batch. A burst request
/// starts a new segment at the burst rate from the next trade on; when its trades are out, the
/// configured rate resumes where the burst's schedule ended.
pub(crate) async fn run_driver(
    core: Arc<SimCore>,
    idx: usize,
    gt: Option<GtSender>,
    done: Option<mpsc::UnboundedSender<usize>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(market) = core.markets.get(idx).cloned() else {
        return;
    };
    let base_rate = core.rate;
    let limit = core.trades_per_market.unwrap_or(u64::MAX);
    if core.start_mode == StartMode::OnSubscribe {
        tokio::select! {
            _ = market.start.notified() => {}
            _ = stopped(&mut shutdown) => return,
        }
    }
    let start_instant = Instant::now();
    let start_us = now_us();
    market.start_us.store(start_us, Ordering::Release);
    tracing::debug!(venue = %market.spec.venue, symbol = %market.spec.symbol, start_us, "tape started");
    let us_of = |at: Instant| {
        start_us
            + i64::try_from(at.saturating_duration_since(start_instant).as_micros())
                .unwrap_or(i64::MAX)
    };

    let mut gen = TapeGen::new(market.spec.profile, start_us, base_rate);
    // Instant at which the current segment's first trade is due.
    let mut seg_instant = start_instant;
    // Index one past the current burst's last trade.
    let mut burst_end: Option<u64> = None;
    // Segments started and not yet recorded in the history.
    let mut new_segments = vec![gen.seg];
    let mut last_ts = start_us;
    let mut candles = CandleBuilder::new(market.spec.venue, start_us);
    let mut stats = Stats::new(market.spec.profile.initial_ticks);
    let mut done = done;
    let tick = Duration::from_millis(1);
    let mut last_tick = start_instant.checked_sub(tick).unwrap_or(start_instant);
    loop {
        if let Some(end) = burst_end.filter(|&end| gen.next >= end) {
            let n = end - gen.seg.first;
            seg_instant += Duration::from_secs_f64(n as f64 / gen.seg.rate);
            gen.seg = Segment {
                first: end,
                start_us: gen.seg.start_us + (n as f64 * 1e6 / gen.seg.rate) as i64,
                rate: base_rate,
            };
            new_segments.push(gen.seg);
            burst_end = None;
        }
        if burst_end.is_none() && gen.next < limit {
            if let Some((n, rate)) = market.take_burst() {
                seg_instant = Instant::now();
                gen.seg = Segment {
                    first: gen.next,
                    start_us: us_of(seg_instant).max(last_ts),
                    rate,
                };
                new_segments.push(gen.seg);
                burst_end = Some(gen.next.saturating_add(n));
                tracing::debug!(venue = %market.spec.venue, symbol = %market.spec.symbol, first = gen.next, n, rate, "burst");
            }
        }
        if gen.next >= limit {
            if let Some(d) = done.take() {
                let _ = d.send(idx);
            }
        }
        let next_due = (gen.next < limit).then(|| {
            seg_instant + Duration::from_secs_f64((gen.next - gen.seg.first) as f64 / gen.seg.rate)
        });
        let candle_due = candles.next_event_us().map(|us| {
            start_instant + Duration::from_micros(u64::try_from(us - start_us).unwrap_or(0))
        });
        let wake = match (next_due, candle_due) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(w) => w,
                None => break,
            },
        };
        let wake = wake.max(last_tick + tick);
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = market.wake.notified() => continue,
            _ = stopped(&mut shutdown) => break,
        }
        last_tick = Instant::now();
        let now = us_of(last_tick);
        let elapsed = last_tick.saturating_duration_since(seg_instant);
        // The epsilon makes a trade due exactly at the instant the wake-up above computed for it.
        let mut due = gen
            .seg
            .first
            .saturating_add((elapsed.as_secs_f64() * gen.seg.rate + 1e-6) as u64)
            .saturating_add(1)
            .min(limit);
        if let Some(end) = burst_end {
            due = due.min(end);
        }
        let n = due.saturating_sub(gen.next) as usize;
        let mut batch = Batch {
            trades: Vec::with_capacity(n),
            ws_skip: 0,
            candles: Vec::new(),
            stats,
        };
        let mut checkpoints = Vec::new();
        while gen.next < due {
            if gen.next.is_multiple_of(CHECKPOINT) {
                checkpoints.push(gen.price);
            }
            let t = gen.next_raw();
            last_ts = t.ts_us;
            candles.on_trade(&t, now, &mut batch.candles);
            stats.on_trade(&t);
            batch.trades.push(t);
        }
        let next_ts = (gen.next < limit).then(|| gen.ts_of(gen.next));
        candles.on_tick(now, next_ts, &mut batch.candles);
        if batch.trades.is_empty() && batch.candles.is_empty() {
            continue;
        }
        batch.stats = stats;
        batch.ws_skip = market.take_skip(batch.trades.len());
        let batch = Arc::new(batch);
        {
            let mut sh = market.lock();
            let skip = batch.trades.len().saturating_sub(RECENT_TRADES);
            for t in &batch.trades[skip..] {
                if sh.recent.len() == RECENT_TRADES {
                    sh.recent.pop_front();
                }
                sh.recent.push_back(*t);
            }
            sh.candle = candles.current();
            sh.stats = stats;
            sh.history
                .record(&batch.trades, &checkpoints, &new_segments);
            new_segments.clear();
            // No receiver is fine: nobody is subscribed yet (or any more).
            let _ = market.tx.send(Arc::clone(&batch));
        }
        if !batch.trades.is_empty() {
            core.published
                .fetch_add(batch.trades.len() as u64, Ordering::AcqRel);
            if let Some(gt) = &gt {
                gt.batch(idx, batch);
            }
        }
    }
    if let Some(d) = done.take() {
        if gen.next >= limit {
            let _ = d.send(idx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trades(venue: Venue, rate: f64, n: u64) -> Vec<RawTrade> {
        let mut g = TapeGen::new(Profile::new(1, venue, "BTC/USDT"), 0, rate);
        (0..n).map(|_| g.next_raw()).collect()
    }

    #[test]
    fn binance_one_close_per_minute_and_two_second_updates() {
        // 10 trades/s for 150 s, driver ticking every 100 ms.
        let tape = trades(Venue::Binance, 10.0, 1500);
        let mut b = CandleBuilder::new(Venue::Binance, 0);
        let mut out = Vec::new();
        let mut i = 0;
        let mut now = 0;
        while now <= 200_000_000 {
            while i < tape.len() && tape[i].ts_us <= now {
                b.on_trade(&tape[i], now, &mut out);
                i += 1;
            }
            b.on_tick(now, tape.get(i).map(|t| t.ts_us), &mut out);
            now += 100_000;
        }
        let closed: Vec<_> = out.iter().filter(|c| c.closed).collect();
        assert_eq!(closed.len(), 3, "minutes 0, 1 and the partial 2");
        assert_eq!(closed[0].trades, 600);
        assert_eq!(closed[1].first_id, closed[0].last_id + 1);
        assert_eq!(closed.iter().map(|c| c.trades).sum::<u64>(), 1500);
        let mut open_times: Vec<_> = closed.iter().map(|c| c.open_time_us).collect();
        open_times.dedup();
        assert_eq!(open_times.len(), 3);
        let running: Vec<_> = out.iter().filter(|c| !c.closed).collect();
        assert!(running.len() >= 70, "{}", running.len());
        for w in out.windows(2) {
            if !w[0].closed && !w[1].closed {
                assert!(w[1].event_us - w[0].event_us >= 2_000_000);
            }
        }
        assert!(b.next_event_us().is_none());
    }

    #[test]
    fn kraken_updates_per_tick_touching_a_candle() {
        let tape = trades(Venue::Kraken, 10.0, 700);
        let mut b = CandleBuilder::new(Venue::Kraken, 0);
        let mut out = Vec::new();
        // One tick with everything: the first minute's final state, then the running second one.
        for t in &tape {
            b.on_trade(t, 70_000_000, &mut out);
        }
        b.on_tick(70_000_000, None, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].trades, 600);
        assert_eq!(out[1].trades, 100);
        assert!(!out[0].closed && !out[1].closed);
        b.on_tick(70_100_000, None, &mut out);
        assert_eq!(out.len(), 2, "no update without trades");
    }

    #[test]
    fn bbo_straddles_last_price() {
        let spec = MarketSpec::new(0, 5, Venue::Binance, "BTC/USDT");
        for t in trades(Venue::Binance, 100.0, 200) {
            let b = spec.bbo(Some(&t));
            assert!(b.bid < b.ask);
            assert!(b.bid <= t.price && t.price <= b.ask);
            assert_eq!(b.update_id, spec.book_base + t.index);
        }
        assert_eq!(spec.native, "BTCUSDT");
        assert_eq!(spec.stream, "btcusdt");
    }
}
