//! Venue sequence rules that decide whether a book delta may be applied. A book is never
//! stitched across a hole: a [`Step::Gap`] means "stop applying, resync from a fresh snapshot".

use std::collections::VecDeque;

use thiserror::Error;

/// What to do with one delta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<T> {
    /// Apply it (it follows the previous one exactly).
    Apply(T),
    /// Already covered by the book (older than the snapshot, or a re-delivery): skip it.
    Ignore,
    /// Held until the snapshot arrives (Binance).
    Buffered,
    /// One or more updates are missing: the book is no longer trustworthy.
    Gap {
        /// The sequence number that should have come next.
        expected: u64,
        /// What came.
        got: u64,
    },
}

/// Why a REST snapshot cannot start a Binance book.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SnapshotError {
    /// The snapshot is older than the first buffered event: fetch another one.
    #[error(
        "snapshot lastUpdateId {last_update_id} is older than the first buffered event U={first}"
    )]
    TooOld {
        /// `lastUpdateId` of the snapshot.
        last_update_id: u64,
        /// `U` of the first buffered event.
        first: u64,
    },
    /// The buffered events do not continue the snapshot without a hole.
    #[error("buffered events skip from {expected} to {got}")]
    Gap {
        /// Expected first id.
        expected: u64,
        /// First id found.
        got: u64,
    },
}

/// Binance spot diff-depth synchronisation (`U`/`u` against the REST `lastUpdateId`), exactly as
/// Binance documents it: buffer events, fetch a snapshot, drop events it covers, require the
/// first applied event to contain `lastUpdateId + 1`, then require `U == previous u + 1`.
#[derive(Debug)]
pub struct BinanceSync<T> {
    buffered: VecDeque<(u64, u64, T)>,
    last: Option<u64>,
    /// Bounds the buffer while waiting for a snapshot (oldest events are dropped first; the
    /// snapshot check then fails and asks for a fresh snapshot).
    max_buffered: usize,
}

impl<T> BinanceSync<T> {
    /// Waiting for a snapshot, buffering at most `max_buffered` events.
    pub fn new(max_buffered: usize) -> Self {
        BinanceSync {
            buffered: VecDeque::new(),
            last: None,
            max_buffered: max_buffered.max(1),
        }
    }

    /// True once a snapshot has been applied and no gap has been seen since.
    pub fn is_live(&self) -> bool {
        self.last.is_some()
    }

    /// Back to buffering (after a gap): the caller fetches a new snapshot.
    pub fn reset(&mut self) {
        self.buffered.clear();
        self.last = None;
    }

    /// A diff event covering update ids `first..=last` (`U`, `u`).
    pub fn on_delta(&mut self, first: u64, last: u64, payload: T) -> Step<T> {
        match self.last {
            None => {
                if self.buffered.len() == self.max_buffered {
                    self.buffered.pop_front();
                }
                self.buffered.push_back((first, last, payload));
                Step::Buffered
            }
            Some(book) if last <= book => Step::Ignore,
            Some(book) if first > book.saturating_add(1) => {
                self.reset();
                Step::Gap {
                    expected: book.saturating_add(1),
                    got: first,
                }
            }
            Some(_) => {
                self.last = Some(last);
                Step::Apply(payload)
            }
        }
    }

    /// The REST snapshot arrived: returns the buffered events to apply on top of it, in order.
    ///
    /// # Errors
    /// [`SnapshotError`] when the snapshot is too old or the buffer has a hole; the state is then
    /// back to buffering (keeping the events) so a new snapshot can be tried.
    pub fn on_snapshot(&mut self, last_update_id: u64) -> Result<Vec<T>, SnapshotError> {
        if let Some((first, _, _)) = self.buffered.front() {
            if last_update_id < *first {
                return Err(SnapshotError::TooOld {
                    last_update_id,
                    first: *first,
                });
            }
        }
        self.buffered.retain(|(_, u, _)| *u > last_update_id);
        let mut expected = last_update_id.saturating_add(1);
        for (i, (first, last, _)) in self.buffered.iter().enumerate() {
            // The first event must contain lastUpdateId + 1; each next one must follow.
            let ok = if i == 0 {
                *first <= expected && expected <= *last
            } else {
                *first == expected
            };
            if !ok {
                return Err(SnapshotError::Gap {
                    expected,
                    got: *first,
                });
            }
            expected = last.saturating_add(1);
        }
        self.last = Some(expected.saturating_sub(1));
        Ok(self.buffered.drain(..).map(|(_, _, p)| p).collect())
    }
}

/// Consecutive sequence numbers per book (Bybit `u`, Coinbase `sequence_num`): after a snapshot
/// at `s`, the next delta must be `s + 1`.
#[derive(Debug, Default, Clone)]
pub struct Consecutive {
    last: Option<u64>,
}

impl Consecutive {
    /// No snapshot yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A snapshot at sequence `seq` resets the chain.
    pub fn on_snapshot(&mut self, seq: u64) {
        self.last = Some(seq);
    }

    /// A delta with sequence `seq`.
    pub fn on_delta(&mut self, seq: u64) -> Step<()> {
        match self.last {
            None => Step::Gap {
                expected: 0,
                got: seq,
            },
            Some(last) if seq == last.saturating_add(1) => {
                self.last = Some(seq);
                Step::Apply(())
            }
            // A re-delivery of the last one.
            Some(last) if seq == last => Step::Ignore,
            // Going back (Bybit resets `u` to 1 on a service restart): the chain is broken.
            Some(last) if seq < last => {
                self.last = None;
                Step::Gap {
                    expected: last.saturating_add(1),
                    got: seq,
                }
            }
            Some(last) => {
                self.last = None;
                Step::Gap {
                    expected: last.saturating_add(1),
                    got: seq,
                }
            }
        }
    }
}

/// OKX `seqId`/`prevSeqId` chain: each update names the `seqId` it follows. Handles OKX's
/// keep-alive (`prevSeqId == seqId`) and its sequence reset (`seqId < prevSeqId`) without special
/// cases, as OKX documents.
#[derive(Debug, Default, Clone)]
pub struct PrevSeqChain {
    last: Option<i64>,
}

impl PrevSeqChain {
    /// No snapshot yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A snapshot (`prevSeqId` −1) with `seq_id`.
    pub fn on_snapshot(&mut self, seq_id: i64) {
        self.last = Some(seq_id);
    }

    /// An update claiming to follow `prev_seq_id`.
    pub fn on_update(&mut self, prev_seq_id: i64, seq_id: i64) -> Step<()> {
        match self.last {
            Some(last) if last == prev_seq_id => {
                self.last = Some(seq_id);
                Step::Apply(())
            }
            last => {
                self.last = None;
                Step::Gap {
                    expected: last.map_or(0, |l| l.max(0) as u64),
                    got: prev_seq_id.max(0) as u64,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binance_documented_procedure() {
        // The worked example of protocols.md §3.4 (NKNUSDT): snapshot lastUpdateId 499869752.
        let mut s = BinanceSync::new(1000);
        assert_eq!(s.on_delta(499_869_750, 499_869_752, "e1"), Step::Buffered);
        assert_eq!(s.on_delta(499_869_753, 499_869_754, "e2"), Step::Buffered);
        assert_eq!(s.on_snapshot(499_869_752), Ok(vec!["e2"]), "e1 is covered");
        assert!(s.is_live());
        assert_eq!(
            s.on_delta(499_869_755, 499_869_757, "e3"),
            Step::Apply("e3")
        );
        assert_eq!(s.on_delta(499_869_700, 499_869_757, "old"), Step::Ignore);
        assert_eq!(
            s.on_delta(499_869_760, 499_869_761, "hole"),
            Step::Gap {
                expected: 499_869_758,
                got: 499_869_760
            }
        );
        assert!(!s.is_live(), "a gap drops the book");
    }

    #[test]
    fn binance_snapshot_too_old_or_not_contiguous_is_refused() {
        let mut s = BinanceSync::new(10);
        s.on_delta(100, 105, 1);
        assert_eq!(
            s.on_snapshot(90),
            Err(SnapshotError::TooOld {
                last_update_id: 90,
                first: 100
            })
        );
        s.on_delta(107, 110, 2);
        assert_eq!(
            s.on_snapshot(103),
            Err(SnapshotError::Gap {
                expected: 106,
                got: 107
            })
        );
        assert!(!s.is_live());
        // A snapshot newer than every buffered event: nothing to apply, live from there.
        let mut s = BinanceSync::new(2);
        for i in 0..5u64 {
            s.on_delta(i * 10, i * 10 + 9, i);
        }
        assert_eq!(s.on_snapshot(100), Ok(vec![]));
        assert_eq!(s.on_delta(101, 101, 9), Step::Apply(9));
    }

    #[test]
    fn consecutive_and_okx_chains() {
        let mut c = Consecutive::new();
        assert!(matches!(c.on_delta(5), Step::Gap { .. }), "no snapshot yet");
        c.on_snapshot(10);
        assert_eq!(c.on_delta(11), Step::Apply(()));
        assert_eq!(c.on_delta(11), Step::Ignore);
        assert!(
            matches!(c.clone().on_delta(1), Step::Gap { got: 1, .. }),
            "u going back (a Bybit restart) breaks the chain"
        );
        assert_eq!(
            c.on_delta(13),
            Step::Gap {
                expected: 12,
                got: 13
            }
        );

        // OKX's documented example: snapshot 10 → (10,15) → keep-alive (15,15) → reset (15,3) → (3,5).
        let mut o = PrevSeqChain::new();
        o.on_snapshot(10);
        for (prev, seq) in [(10, 15), (15, 15), (15, 3), (3, 5)] {
            assert_eq!(o.on_update(prev, seq), Step::Apply(()), "{prev} → {seq}");
        }
        assert_eq!(
            o.on_update(6, 7),
            Step::Gap {
                expected: 5,
                got: 6
            }
        );
    }
}
