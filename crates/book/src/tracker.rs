//! One market's book with its honesty accounting: how many messages were checked, how many
//! checksums passed or failed, gaps, resyncs, crossed books, and for how much of the time the
//! book was verified. A checksum failure or a gap makes the book *unverified* until the next
//! snapshot: it is never stitched.

use tickrec_model::Level;

use crate::book::OrderBook;

/// How a venue proves its book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// No checksum (Binance, Bybit, Coinbase: sequence numbers only).
    None,
    /// Kraken v2 CRC-32 over the top 10 levels.
    Kraken,
    /// OKX CRC-32 over the top 25 levels (0 = not provided).
    Okx,
}

/// Counters of one market's book.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BookStats {
    /// Snapshots and deltas applied.
    pub messages: u64,
    /// Checksums that matched.
    pub checksum_ok: u64,
    /// Checksums that did not match (each one forces a resync).
    pub checksum_failed: u64,
    /// Sequence gaps (each one forces a resync).
    pub gaps: u64,
    /// Snapshots applied after the first one.
    pub resyncs: u64,
    /// Times the book was found crossed after an update.
    pub crossed: u64,
    /// µs the book was verified.
    pub verified_us: i64,
    /// µs the book was not (no snapshot yet, or waiting for a resync).
    pub unverified_us: i64,
}

impl BookStats {
    /// Share of the observed time the book was verified, 0..=1 (`None` before any time passed).
    pub fn verified_fraction(&self) -> Option<f64> {
        let total = self.verified_us + self.unverified_us;
        (total > 0).then(|| self.verified_us as f64 / total as f64)
    }
}

/// Result of applying a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Applied and (where the venue allows) verified.
    Verified,
    /// Applied; the venue gave nothing to verify it with this time.
    Unchecked,
    /// The checksum did not match: the book is dropped, resync.
    ChecksumMismatch {
        /// Venue's value (as u32 bits).
        expected: u32,
        /// Ours.
        computed: u32,
    },
    /// The book was not live (no snapshot since the last failure): the message was not applied.
    NotLive,
}

/// A market's book, its checksum rule and its accounting.
#[derive(Debug, Clone)]
pub struct BookTracker {
    book: OrderBook,
    checksum: Checksum,
    /// Levels per side the venue maintains (`None`: unbounded).
    depth: Option<usize>,
    live: bool,
    /// The book was crossed after the last message applied.
    crossed: bool,
    snapshots: u64,
    stats: BookStats,
    since_us: Option<i64>,
}

impl BookTracker {
    /// A tracker for a venue with `checksum`, keeping `depth` levels per side when the venue
    /// maintains a fixed depth.
    pub fn new(checksum: Checksum, depth: Option<usize>) -> Self {
        BookTracker {
            book: OrderBook::new(),
            checksum,
            depth,
            live: false,
            crossed: false,
            snapshots: 0,
            stats: BookStats::default(),
            since_us: None,
        }
    }

    /// The book (meaningful only while [`BookTracker::is_live`]).
    pub fn book(&self) -> &OrderBook {
        &self.book
    }

    /// The book was crossed after the last message applied (computed once per message).
    pub fn is_crossed(&self) -> bool {
        self.crossed
    }

    /// True between a good snapshot and the next gap or checksum failure.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Counters, with time accounted up to `now_us`.
    pub fn stats(&mut self, now_us: i64) -> BookStats {
        self.account(now_us);
        self.stats
    }

    fn account(&mut self, now_us: i64) {
        // A REST snapshot carries its reply time, which may be before deltas already counted:
        // never count an interval twice.
        let now_us = self.since_us.map_or(now_us, |s| now_us.max(s));
        if let Some(since) = self.since_us {
            let dt = now_us.saturating_sub(since).max(0);
            if self.live {
                self.stats.verified_us += dt;
            } else {
                self.stats.unverified_us += dt;
            }
        }
        self.since_us = Some(now_us);
    }

    fn verify(&mut self, checksum: Option<u32>) -> Verdict {
        let computed = match (self.checksum, checksum) {
            (Checksum::Kraken, Some(_)) => crate::checksum::kraken(&self.book),
            (Checksum::Okx, Some(c)) if c != 0 => crate::checksum::okx(&self.book) as u32,
            _ => return Verdict::Unchecked,
        };
        let expected = checksum.unwrap_or_default();
        if computed == expected {
            self.stats.checksum_ok += 1;
            Verdict::Verified
        } else {
            self.stats.checksum_failed += 1;
            self.live = false;
            self.book.clear();
            Verdict::ChecksumMismatch { expected, computed }
        }
    }

    fn after_apply(&mut self, checksum: Option<u32>) -> Verdict {
        self.stats.messages += 1;
        if let Some(d) = self.depth {
            self.book.truncate(d);
        }
        self.crossed = self.book.is_crossed();
        if self.crossed {
            self.stats.crossed += 1;
        }
        self.verify(checksum)
    }

    /// A full snapshot at `now_us` (`checksum` as the venue sent it, if any). The book is live
    /// afterwards unless the checksum fails.
    pub fn on_snapshot(
        &mut self,
        bids: &[Level],
        asks: &[Level],
        checksum: Option<u32>,
        now_us: i64,
    ) -> Verdict {
        self.account(now_us);
        self.book.apply_snapshot(bids, asks);
        self.snapshots += 1;
        // A snapshot that replaces a live book (Upbit sends nothing else, Bybit now and then) is
        // no resync; one that ends an unverified stretch is.
        if self.snapshots > 1 && !self.live {
            self.stats.resyncs += 1;
        }
        self.live = true;
        self.after_apply(checksum)
    }

    /// A delta at `now_us`, already accepted by the venue's sequence rule.
    pub fn on_delta(
        &mut self,
        bids: &[Level],
        asks: &[Level],
        checksum: Option<u32>,
        now_us: i64,
    ) -> Verdict {
        self.account(now_us);
        if !self.live {
            return Verdict::NotLive;
        }
        self.book.apply_levels(bids, asks);
        self.after_apply(checksum)
    }

    /// The stream broke at `now_us` (disconnect, resubscribe): the book is dropped until the
    /// next snapshot. Not counted as a gap; the unverified time is.
    pub fn on_reset(&mut self, now_us: i64) {
        self.account(now_us);
        self.live = false;
        self.book.clear();
    }

    /// The venue's sequence rule found a hole at `now_us`: the book is dropped until the next
    /// snapshot.
    pub fn on_gap(&mut self, now_us: i64) {
        self.account(now_us);
        self.stats.gaps += 1;
        self.live = false;
        self.book.clear();
    }
}
