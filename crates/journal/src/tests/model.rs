//! Model-based test (habit 7): random append / sync / ack / read / crash / reopen sequences,
//! checked against an in-memory model of what the journal promises.
//!
//! A crash drops the journal without syncing, then loses a random part of what was written after
//! the last sync: the last segment is cut to a random length between its synced length and its
//! current length, and a segment created since the last sync may vanish (its directory entry was
//! not fsynced). Segments closed by a roll are fsynced by the journal, so they are kept whole.
//!
//! Promises checked after every step:
//! - every synced record not acknowledged by all sinks is readable, in order, with exact bytes;
//! - records that survived a crash beyond the last sync are exactly the appended ones (a prefix);
//! - seqs are consecutive and never reused for a record a sink could have seen;
//! - cursors survive restarts; segments are deleted once every sink acknowledged them;
//! - `durable_seq`, `next_seq`, `depth` and `bytes_on_disk` agree with the model and the disk.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::{config, read_all, seg_files};
use crate::record::HEADER_LEN;
use crate::{Journal, JournalConfig, JournalError};

const SINKS: [&str; 2] = ["a", "b"];

#[derive(Debug, Clone)]
enum Op {
    /// Append records with these payload lengths.
    Append(Vec<usize>),
    Sync,
    /// Ack a fraction (0..=255 / 255) of the way from the sink's cursor to the durable seq.
    Ack(usize, u8),
    /// Ack an unsynced seq: must be refused.
    AckBeyond(usize),
    /// Read up to `max` records from a point between the slowest cursor and the head.
    Read(u8, usize),
    /// Crash: keep this fraction of the unsynced tail; maybe lose a segment created since sync.
    Crash {
        keep: u8,
        lose_new_segment: bool,
    },
    /// Clean restart (sync, drop, open).
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec(prop_oneof![4 => 0usize..120, 1 => 120usize..700], 1..8)
            .prop_map(Op::Append),
        3 => Just(Op::Sync),
        3 => (0..SINKS.len(), any::<u8>()).prop_map(|(s, f)| Op::Ack(s, f)),
        1 => (0..SINKS.len()).prop_map(Op::AckBeyond),
        2 => (any::<u8>(), 1usize..20).prop_map(|(f, m)| Op::Read(f, m)),
        2 => (any::<u8>(), any::<bool>())
            .prop_map(|(keep, lose_new_segment)| Op::Crash { keep, lose_new_segment }),
        1 => Just(Op::Reopen),
    ]
}

struct Model {
    /// Records in the journal that a sink may still need (seq → payload).
    records: BTreeMap<u64, Vec<u8>>,
    next_seq: u64,
    durable: u64,
    cursors: [u64; 2],
    /// Segment files and their lengths at the last sync (what a crash cannot take away).
    synced_files: Vec<(PathBuf, u64)>,
    /// Makes every payload unique, so a reused seq with other content is caught.
    appends: u64,
}

impl Model {
    fn slowest(&self) -> u64 {
        self.cursors.iter().copied().min().unwrap_or(0)
    }

    /// Records with seq in `from..=to` (empty when `from > to`), at most `max`.
    fn range(&self, from: u64, to: u64, max: usize) -> Vec<(u64, Vec<u8>)> {
        if from > to {
            return Vec::new();
        }
        self.records
            .range(from..=to)
            .take(max)
            .map(|(s, p)| (*s, p.clone()))
            .collect()
    }
}

fn frac(lo: u64, hi: u64, f: u8) -> u64 {
    lo + (hi.saturating_sub(lo)) * u64::from(f) / 255
}

fn unique_payload(n: u64, len: usize) -> Vec<u8> {
    let key = n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes();
    (0..len).map(|i| key[i % 8].wrapping_add(i as u8)).collect()
}

fn files_now(dir: &Path) -> Vec<(PathBuf, u64)> {
    seg_files(dir).into_iter().map(|(_, p, l)| (p, l)).collect()
}

fn open(cfg: &JournalConfig) -> (Journal, crate::Recovered) {
    Journal::open(cfg.clone(), &SINKS).unwrap()
}

/// Checks everything the journal promises against the model.
fn check(j: &Journal, m: &Model, dir: &Path) {
    assert_eq!(j.next_seq(), m.next_seq);
    assert_eq!(j.durable_seq(), m.durable);
    for (i, sink) in SINKS.iter().enumerate() {
        assert_eq!(j.acked(sink), Some(m.cursors[i]), "cursor of {sink}");
        let expected = m.range(m.cursors[i] + 1, m.durable, usize::MAX);
        assert_eq!(read_all(j, m.cursors[i] + 1), expected, "replay for {sink}");
    }
    assert_eq!(j.depth(), (m.next_seq - 1).saturating_sub(m.slowest()));
    // Whole-segment deletion: the oldest segment is gone as soon as everyone acked all of it
    // (segments are contiguous here, so it ends where the next one begins).
    let files = seg_files(dir);
    if files.len() > 1 {
        assert!(
            files[1].0 > m.slowest() + 1,
            "segment {} fully acked but kept",
            files[0].0
        );
    }
    // Nothing unacknowledged was deleted: the oldest file starts at or before the slowest
    // cursor's next record (when that record exists).
    if let Some(first_needed) = m.records.range(m.slowest() + 1..).next().map(|(s, _)| *s) {
        assert!(files[0].0 <= first_needed);
    }
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    // Small segments so that rolls and deletions happen every few records; a bound that is
    // rarely hit (Full is checked when it is).
    let cfg = config(dir.path(), 512, 6 * 1024);
    let (mut j, rec) = open(&cfg);
    assert_eq!(rec.next_seq, 1);
    let mut m = Model {
        records: BTreeMap::new(),
        next_seq: 1,
        durable: 0,
        cursors: [0; 2],
        synced_files: files_now(dir.path()),
        appends: 0,
    };

    for op in ops {
        match op {
            Op::Append(lens) => {
                for len in lens {
                    m.appends += 1;
                    let p = unique_payload(m.appends, len);
                    match j.append(&p) {
                        Ok(seq) => {
                            assert_eq!(seq, m.next_seq, "seqs are consecutive");
                            m.records.insert(seq, p);
                            m.next_seq += 1;
                        }
                        Err(JournalError::Full {
                            bytes_on_disk,
                            max_bytes,
                            record_bytes,
                        }) => {
                            assert_eq!(record_bytes, (HEADER_LEN + len) as u64);
                            assert!(bytes_on_disk + record_bytes > max_bytes);
                            assert_eq!(bytes_on_disk, j.bytes_on_disk());
                        }
                        Err(e) => panic!("append: {e}"),
                    }
                }
            }
            Op::Sync => {
                let d = j.sync().unwrap();
                assert_eq!(d, m.next_seq - 1);
                m.durable = d;
                m.synced_files = files_now(dir.path());
                let on_disk: u64 = m.synced_files.iter().map(|f| f.1).sum();
                assert_eq!(j.bytes_on_disk(), on_disk);
            }
            Op::Ack(s, f) => {
                let seq = frac(m.cursors[s], m.durable, f);
                j.ack(SINKS[s], seq).unwrap();
                m.cursors[s] = m.cursors[s].max(seq);
            }
            Op::AckBeyond(s) => {
                if m.next_seq - 1 > m.durable {
                    let err = j.ack(SINKS[s], m.next_seq - 1).unwrap_err();
                    assert!(matches!(err, JournalError::AckBeyondDurable { .. }));
                }
            }
            Op::Read(f, max) => {
                let from = frac(m.slowest() + 1, m.next_seq, f);
                let expected = m.range(from, m.durable, max);
                assert_eq!(j.read_from(from, max).unwrap(), expected);
            }
            Op::Crash {
                keep,
                lose_new_segment,
            } => {
                drop(j);
                let mut files = files_now(dir.path());
                let synced_len =
                    |p: &Path| m.synced_files.iter().find(|(q, _)| q == p).map(|(_, l)| *l);
                if let Some((last, _)) = files.last().cloned() {
                    if lose_new_segment && files.len() > 1 && synced_len(&last).is_none() {
                        fs::remove_file(&last).unwrap();
                        files.pop();
                    }
                }
                if let Some((last, len)) = files.last().cloned() {
                    let floor = synced_len(&last).unwrap_or(0);
                    let new_len = frac(floor, len, keep);
                    OpenOptions::new()
                        .write(true)
                        .open(&last)
                        .unwrap()
                        .set_len(new_len)
                        .unwrap();
                }
                let (j2, rec) = open(&cfg);
                j = j2;
                assert!(
                    rec.lost.is_empty(),
                    "a crash is not corruption: {:?}",
                    rec.lost
                );
                let head = rec.next_seq - 1;
                assert!(
                    head >= m.durable,
                    "synced record lost: head {head} < {}",
                    m.durable
                );
                assert!(head < m.next_seq, "records appeared from nowhere");
                // Survivors beyond the last sync must be exactly what was appended; `check`
                // compares their bytes through the replay below.
                m.records.retain(|s, _| *s <= head);
                m.next_seq = head + 1;
                m.durable = head; // recovery fsyncs what it found
                m.synced_files = files_now(dir.path());
            }
            Op::Reopen => {
                m.durable = j.sync().unwrap();
                drop(j);
                let (j2, rec) = open(&cfg);
                j = j2;
                assert_eq!(rec.torn_records_discarded, 0);
                assert!(rec.lost.is_empty());
                assert_eq!(rec.next_seq, m.next_seq);
                m.synced_files = files_now(dir.path());
            }
        }
        // Records every sink acknowledged may be deleted at any time: forget them.
        let slowest = m.slowest();
        m.records.retain(|s, _| *s > slowest);
        check(&j, &m, dir.path());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn journal_matches_model_across_crashes(ops in prop::collection::vec(op(), 1..40)) {
        run(ops);
    }
}

/// A fixed, long sequence that walks through every transition at least once (a fast smoke run
/// of the same checker, independent of the random seed).
#[test]
fn model_smoke_sequence() {
    let mut ops = Vec::new();
    for round in 0..6u8 {
        ops.push(Op::Append(vec![10, 200, 0, 90, 300]));
        ops.push(Op::Sync);
        ops.push(Op::Append(vec![50; 4]));
        ops.push(Op::Ack(0, 128));
        ops.push(Op::AckBeyond(1));
        ops.push(Op::Read(round * 40, 5));
        ops.push(Op::Crash {
            keep: round * 50,
            lose_new_segment: round % 2 == 0,
        });
        ops.push(Op::Ack(1, 255));
        ops.push(Op::Ack(0, 255));
        ops.push(Op::Reopen);
    }
    run(ops);
}
