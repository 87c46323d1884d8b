//! What a market has published, kept compactly so that the REST companions can serve any part of
//! it long after the WebSocket sent it:
//! - the number of published trades (REST never serves beyond it: no trade from the future);
//! - the random-walk state every [`CHECKPOINT`] trades: any trade is regenerated from the nearest
//!   checkpoint, bit-identical to what the driver published (≤ 8 bytes per 1000 trades);
//! - the rate segments, from which every timestamp follows (one segment per burst);
//! - the 1-minute bars (one per minute with trades), for klines / OHLC.

use tickrec_model::Venue;

use crate::market::CandleSnap;
use crate::tape::{Profile, RawTrade, Segment, TapeGen, CHECKPOINT};

/// One minute in µs.
pub(crate) const MINUTE_US: i64 = 60_000_000;

/// A market's published history; lives under the market lock, written by the driver only.
#[derive(Debug, Default)]
pub(crate) struct History {
    published: u64,
    /// `checkpoints[k]`: walk state before trade `k × CHECKPOINT`.
    checkpoints: Vec<i64>,
    segments: Vec<Segment>,
    /// Closed bars (minutes with trades), ascending.
    bars: Vec<CandleSnap>,
    /// Bar of the last published trade.
    current: Option<CandleSnap>,
}

impl History {
    /// Trades published so far.
    pub(crate) fn published(&self) -> u64 {
        self.published
    }

    /// Appends a published batch. `checkpoints` are the walk states the driver took before each
    /// trade of the batch whose index is a multiple of [`CHECKPOINT`]; `segments` the segments it
    /// started since the previous call.
    pub(crate) fn record(
        &mut self,
        trades: &[RawTrade],
        checkpoints: &[i64],
        segments: &[Segment],
    ) {
        self.segments.extend_from_slice(segments);
        self.checkpoints.extend_from_slice(checkpoints);
        for t in trades {
            debug_assert_eq!(t.index, self.published, "history out of step");
            self.published += 1;
            let open = t.ts_us - t.ts_us.rem_euclid(MINUTE_US);
            match &mut self.current {
                Some(c) if c.open_time_us == open => c.add(t),
                cur => {
                    if let Some(old) = cur.take() {
                        self.bars.push(CandleSnap {
                            closed: true,
                            ..old
                        });
                    }
                    *cur = Some(CandleSnap::open_with(t, t.ts_us));
                }
            }
        }
        debug_assert_eq!(
            self.checkpoints.len() as u64,
            self.published.div_ceil(CHECKPOINT),
            "one checkpoint per {CHECKPOINT} trades"
        );
    }

    /// The part needed to locate trades (cheap to copy: the segments are few).
    pub(crate) fn view(&self, venue: Venue) -> View {
        View {
            venue,
            published: self.published,
            segments: self.segments.clone(),
        }
    }

    /// Walk state before trade `index - index % CHECKPOINT`.
    pub(crate) fn checkpoint(&self, index: u64) -> Option<i64> {
        let k = usize::try_from(index / CHECKPOINT).ok()?;
        self.checkpoints.get(k).copied()
    }

    /// Open times (µs) of the first bar and of the bar of the last published trade; `None` before
    /// the first trade.
    pub(crate) fn bar_span(&self) -> Option<(i64, i64)> {
        let last = self.current?.open_time_us;
        let first = self.bars.first().map_or(last, |b| b.open_time_us);
        Some((first, last))
    }

    fn traded(&self, k: usize) -> Option<&CandleSnap> {
        match self.bars.get(k) {
            Some(b) => Some(b),
            None if k == self.bars.len() => self.current.as_ref(),
            None => None,
        }
    }

    /// Every 1-minute bar whose open time lies in `from..=to` (both minute-aligned), ascending.
    /// A minute without trades after the first bar is an empty bar at the previous close
    /// (`trades == 0`); nothing is returned before the first bar. The caller bounds the span.
    pub(crate) fn bars(&self, from: i64, to: i64) -> Vec<CandleSnap> {
        let mut out = Vec::new();
        if from > to {
            return out;
        }
        let n = self.bars.len() + usize::from(self.current.is_some());
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.traded(mid).is_some_and(|b| b.open_time_us < from) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut k = lo;
        let mut prev_close = k
            .checked_sub(1)
            .and_then(|p| self.traded(p))
            .map(|b| b.close);
        let mut m = from;
        while m <= to {
            match self.traded(k) {
                Some(b) if b.open_time_us == m => {
                    out.push(*b);
                    prev_close = Some(b.close);
                    k += 1;
                }
                _ => {
                    if let Some(close) = prev_close {
                        out.push(CandleSnap::empty(m, close));
                    }
                }
            }
            m += MINUTE_US;
        }
        out
    }
}

/// A consistent picture of what was published when it was taken: timestamps of any published
/// trade, searches by time, and regeneration of trades.
#[derive(Clone, Debug)]
pub(crate) struct View {
    venue: Venue,
    /// Trades published when the view was taken.
    pub published: u64,
    segments: Vec<Segment>,
}

/// First `i` in `lo..hi` for which `pred(i)` is false (`pred` true then false), else `hi`.
fn partition(mut lo: u64, mut hi: u64, pred: impl Fn(u64) -> bool) -> u64 {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

impl View {
    fn segment_index(&self, index: u64) -> usize {
        self.segments
            .partition_point(|s| s.first <= index)
            .saturating_sub(1)
    }

    /// Event time (µs, as published) of trade `index` (< `published`).
    pub(crate) fn ts_at(&self, index: u64) -> i64 {
        // A repeated trade carries its predecessor's timestamp.
        let j = if index % 10 == 9 { index - 1 } else { index };
        match self.segments.get(self.segment_index(j)) {
            Some(s) => s.ts(self.venue, j),
            None => 0,
        }
    }

    /// Index of the first published trade with `ts_at >= ts_us` (`published` if none).
    pub(crate) fn first_at_or_after(&self, ts_us: i64) -> u64 {
        partition(0, self.published, |i| self.ts_at(i) < ts_us)
    }

    /// Kraken REST cursor of trade `index`: its time in ns with the rank among trades sharing the
    /// same microsecond in the sub-microsecond digits, so that `since` = a trade's cursor resumes
    /// exactly after it even when several trades share a timestamp.
    pub(crate) fn kraken_cursor(&self, index: u64) -> u64 {
        let ts = self.ts_at(index);
        let rank = index - self.first_at_or_after(ts);
        (ts.max(0) as u64) * 1000 + rank.min(999)
    }

    /// Index of the first published trade whose cursor is greater than `cursor_ns`.
    pub(crate) fn first_after_cursor(&self, cursor_ns: u64) -> u64 {
        let ts = i64::try_from(cursor_ns / 1000).unwrap_or(i64::MAX);
        let rank = cursor_ns % 1000;
        let j0 = self.first_at_or_after(ts);
        let j1 = self.first_at_or_after(ts.saturating_add(1));
        (j0 + rank + 1).min(j1).max(j0)
    }

    /// Regenerates trades `from..to` (`from < to <= published`) starting from the checkpoint at
    /// `start = from - from % CHECKPOINT` whose walk state is `price`.
    pub(crate) fn replay(
        &self,
        profile: &Profile,
        start: u64,
        price: i64,
        from: u64,
        to: u64,
    ) -> Vec<RawTrade> {
        let to = to.min(self.published);
        let mut out = Vec::with_capacity(to.saturating_sub(from) as usize);
        let mut si = self.segment_index(start);
        let Some(&seg) = self.segments.get(si) else {
            return out;
        };
        let mut g = TapeGen::resume(*profile, seg, start, price);
        while g.next < to {
            while si + 1 < self.segments.len() && self.segments[si + 1].first <= g.next {
                si += 1;
                g.seg = self.segments[si];
            }
            let t = g.next_raw();
            if t.index >= from {
                out.push(t);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a generator like the market driver does, switching segments at `switches`.
    fn publish(
        venue: Venue,
        n: u64,
        switches: &[(u64, f64)],
        batch: u64,
    ) -> (History, Vec<RawTrade>) {
        let p = Profile::new(3, venue, "BTC/USDT");
        let mut g = TapeGen::new(p, 1_700_000_000_123_456, 1000.0);
        let mut h = History::default();
        let mut all = Vec::new();
        let mut pending_segs = vec![g.seg];
        let mut last_ts = 0;
        while g.next < n {
            let mut cps = Vec::new();
            let mut trades = Vec::new();
            let end = (g.next + batch).min(n);
            while g.next < end {
                if let Some(&(_, rate)) = switches.iter().find(|(at, _)| *at == g.next) {
                    g.seg = Segment {
                        first: g.next,
                        start_us: last_ts + 7,
                        rate,
                    };
                    pending_segs.push(g.seg);
                }
                if g.next.is_multiple_of(CHECKPOINT) {
                    cps.push(g.price);
                }
                let t = g.next_raw();
                last_ts = t.ts_us;
                trades.push(t);
            }
            h.record(&trades, &cps, &pending_segs);
            pending_segs.clear();
            all.extend(trades);
        }
        (h, all)
    }

    #[test]
    fn replay_equals_what_was_published_across_segments() {
        for venue in crate::SIMULATED_VENUES {
            let (h, all) = publish(venue, 5_432, &[(1_239, 200_000.0), (3_001, 1000.0)], 37);
            let v = h.view(venue);
            assert_eq!(v.published, 5_432);
            for (i, t) in all.iter().enumerate() {
                assert_eq!(v.ts_at(i as u64), t.ts_us, "ts of {i}");
            }
            for (from, to) in [
                (0, 1),
                (0, 5_432),
                (999, 1_001),
                (1_235, 1_250),
                (5_000, 9_999),
            ] {
                let start = from - from % CHECKPOINT;
                let got = v.replay(
                    &Profile::new(3, venue, "BTC/USDT"),
                    start,
                    h.checkpoint(from).unwrap(),
                    from,
                    to,
                );
                assert_eq!(got[..], all[from as usize..(to as usize).min(all.len())]);
            }
            // Timestamps never decrease, so searches by time are exact.
            assert!(all.windows(2).all(|w| w[0].ts_us <= w[1].ts_us));
            let t = all[2_000].ts_us;
            let i = v.first_at_or_after(t);
            assert_eq!(all[i as usize].ts_us, t);
            assert!(i == 0 || all[i as usize - 1].ts_us < t);
        }
    }

    #[test]
    fn kraken_cursors_are_strictly_increasing_and_resume_exactly() {
        // 500k/s with repeats: several trades share a microsecond.
        let (h, _) = publish(Venue::Kraken, 3_000, &[(100, 500_000.0)], 100);
        let v = h.view(Venue::Kraken);
        let cursors: Vec<u64> = (0..3_000).map(|i| v.kraken_cursor(i)).collect();
        assert!(cursors.windows(2).all(|w| w[0] < w[1]));
        assert!(cursors.windows(2).any(|w| w[0] / 1000 == w[1] / 1000));
        for (i, c) in cursors.iter().enumerate() {
            assert_eq!(v.first_after_cursor(*c), i as u64 + 1);
        }
        assert_eq!(v.first_after_cursor(0), 0);
        assert_eq!(v.first_after_cursor(u64::MAX), 3_000);
    }

    #[test]
    fn bars_fill_quiet_minutes() {
        let (h, all) = publish(Venue::Binance, 2_000, &[], 100);
        let (first, last) = h.bar_span().unwrap();
        assert_eq!(first % MINUTE_US, 0);
        let bars = h.bars(first, last);
        assert_eq!(bars.iter().map(|b| b.trades).sum::<u64>(), 2_000);
        assert_eq!(bars.last().unwrap().last_id, all.last().unwrap().trade_id);
        let after = h.bars(last, last + 3 * MINUTE_US);
        assert_eq!(after.len(), 4);
        assert!(after[1..]
            .iter()
            .all(|b| b.trades == 0 && b.open == after[0].close && b.high == b.low));
        assert!(h.bars(first - 2 * MINUTE_US, first - MINUTE_US).is_empty());
        assert_eq!(h.bars(first - MINUTE_US, first).len(), 1);
    }
}
