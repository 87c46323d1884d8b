//! Named failure classes: each test is one way a journal breaks in production.

use std::fs::{self, OpenOptions};
use std::io::ErrorKind;
use std::path::Path;

use super::{config, payload, read_all, seg_files};
use crate::cursor::{CursorRecovery, CURSOR_FILE};
use crate::record::{RecordFault, HEADER_LEN, MAX_PAYLOAD_BYTES};
use crate::{Journal, JournalError, LossCause, LostRange};

const MIB: u64 = 1024 * 1024;

fn open(dir: &Path, segment_bytes: u64, sinks: &[&str]) -> (Journal, crate::Recovered) {
    Journal::open(config(dir, segment_bytes, 64 * MIB), sinks).unwrap()
}

fn truncate(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x5a;
    fs::write(path, bytes).unwrap();
}

/// Appends records with the given payload lengths (seq n gets `payload(n, len)`), syncs.
fn fill(j: &mut Journal, lens: &[usize]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    for &len in lens {
        let n = j.next_seq();
        let p = payload(n, len);
        assert_eq!(j.append(&p).unwrap(), n);
        out.push((n, p));
    }
    j.sync().unwrap();
    out
}

#[test]
fn torn_tail_at_every_byte_offset_of_the_last_record_recovers_exactly_the_complete_records() {
    // Two shapes: the torn record behind complete ones in the same segment, and the torn record
    // alone in a freshly rolled segment.
    for (segment_bytes, lens) in [
        (MIB, vec![10, 20, 0, 37, 50]),
        (100, vec![40, 40, 30, 60]), // segments: [1], [2], [3], [4]
    ] {
        let last_len = (HEADER_LEN + lens[lens.len() - 1]) as u64;
        for kept in 0..=last_len {
            let dir = tempfile::tempdir().unwrap();
            let (mut j, _) = open(dir.path(), segment_bytes, &["s"]);
            let all = fill(&mut j, &lens);
            drop(j);
            let (_, path, len) = seg_files(dir.path()).pop().unwrap();
            truncate(&path, len - last_len + kept);

            let (mut j, rec) = open(dir.path(), segment_bytes, &["s"]);
            let complete = if kept == last_len {
                all.clone()
            } else {
                all[..all.len() - 1].to_vec()
            };
            let torn = u64::from(kept > 0 && kept < last_len);
            assert_eq!(rec.torn_records_discarded, torn, "kept {kept}");
            assert_eq!(rec.torn_bytes_discarded, if torn == 1 { kept } else { 0 });
            assert!(rec.lost.is_empty(), "kept {kept}: {:?}", rec.lost);
            assert_eq!(rec.next_seq, complete.len() as u64 + 1);
            assert_eq!(read_all(&j, 1), complete, "kept {kept}");
            // The torn bytes are gone from the file, and appends continue right after the last
            // complete record, in the same file.
            let (_, path_after, len_after) = seg_files(dir.path()).pop().unwrap();
            assert_eq!(path_after, path);
            assert_eq!(
                len_after,
                if kept == last_len {
                    len
                } else {
                    len - last_len
                }
            );
            let again = payload(999, 12);
            assert_eq!(j.append(&again).unwrap(), rec.next_seq);
            j.sync().unwrap();
            drop(j);
            let (j, rec2) = open(dir.path(), segment_bytes, &["s"]);
            assert_eq!(rec2.torn_records_discarded, 0);
            let mut expected = complete;
            expected.push((rec.next_seq, again));
            assert_eq!(read_all(&j, 1), expected);
        }
    }
}

#[test]
fn flipped_payload_byte_in_the_last_record_is_a_checksum_failure_treated_as_torn() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = open(dir.path(), MIB, &["s"]);
    let all = fill(&mut j, &[30, 30, 30]);
    drop(j);
    let (_, path, len) = seg_files(dir.path()).pop().unwrap();
    flip_byte(&path, len - 5);
    let (j, rec) = open(dir.path(), MIB, &["s"]);
    // Nothing valid behind it: indistinguishable from a torn write, so it is cut.
    assert_eq!(rec.torn_records_discarded, 1);
    assert_eq!(rec.torn_bytes_discarded, (HEADER_LEN + 30) as u64);
    assert_eq!(read_all(&j, 1), all[..2]);
}

#[test]
fn flipped_payload_byte_mid_last_segment_is_corruption_and_the_segment_is_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = open(dir.path(), MIB, &["s"]);
    let all = fill(&mut j, &[30, 30, 30, 30, 30]);
    drop(j);
    let (_, path, _) = seg_files(dir.path()).pop().unwrap();
    let rec_len = (HEADER_LEN + 30) as u64;
    flip_byte(&path, 2 * rec_len + HEADER_LEN as u64 + 3); // payload of seq 3
    let before = fs::read(&path).unwrap();

    let (mut j, rec) = open(dir.path(), MIB, &["s"]);
    assert_eq!(rec.torn_records_discarded, 0);
    assert_eq!(
        rec.lost,
        vec![LostRange {
            first_seq: 3,
            end_seq: 6,
            cause: LossCause::Corrupt(RecordFault::Checksum),
            segment: Some(path.clone()),
            offset: 2 * rec_len,
        }]
    );
    assert_eq!(rec.lost_records(), 3);
    // Seqs 3..=5 may have been acknowledged by a sink: they are never reused.
    assert_eq!(rec.next_seq, 6);
    assert_eq!(read_all(&j, 1), all[..2]);
    assert_eq!(fs::read(&path).unwrap(), before, "evidence left untouched");
    assert_eq!(j.append(b"after").unwrap(), 6);
    j.sync().unwrap();
    assert_eq!(
        seg_files(dir.path()).len(),
        2,
        "appends go to a new segment"
    );
    let mut expected = all[..2].to_vec();
    expected.push((6, b"after".to_vec()));
    assert_eq!(read_all(&j, 1), expected);
    // The sealed segment is now an older one: the same range is reported on every open until
    // the sinks acknowledge past it and it is deleted.
    drop(j);
    let (mut j, again) = open(dir.path(), MIB, &["s"]);
    assert_eq!(again.lost, rec.lost);
    assert_eq!(read_all(&j, 1), expected);
    j.ack("s", 6).unwrap();
    assert_eq!(seg_files(dir.path()).len(), 1);
    drop(j);
    let (_, clean) = open(dir.path(), MIB, &["s"]);
    assert!(clean.lost.is_empty());
}

#[test]
fn valid_record_with_a_foreign_seq_at_the_tail_is_corruption_not_a_torn_write() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = open(dir.path(), MIB, &["s"]);
    let all = fill(&mut j, &[10; 3]);
    drop(j);
    let (_, path, len) = seg_files(dir.path()).pop().unwrap();
    // A checksum-valid record numbered 99 where 4 belongs (e.g. bytes from another segment).
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(&crate::record::encode_header(99, b"stale"));
    bytes.extend_from_slice(b"stale");
    fs::write(&path, &bytes).unwrap();

    let (mut j, rec) = open(dir.path(), MIB, &["s"]);
    assert_eq!(rec.torn_records_discarded, 0);
    assert_eq!(rec.lost.len(), 1);
    assert_eq!(
        (
            rec.lost[0].first_seq,
            rec.lost[0].end_seq,
            rec.lost[0].cause,
            rec.lost[0].offset
        ),
        (4, 4, LossCause::Corrupt(RecordFault::Sequence), len)
    );
    assert_eq!(fs::read(&path).unwrap(), bytes, "kept for inspection");
    assert_eq!(read_all(&j, 1), all);
    assert_eq!(j.append(b"four").unwrap(), 4);
}

#[test]
fn corrupt_record_in_an_older_segment_skips_the_rest_of_that_segment() {
    let dir = tempfile::tempdir().unwrap();
    // 24-byte records, 4 per 100-byte segment: segments start at 1, 5, 9.
    let (mut j, _) = open(dir.path(), 100, &["s"]);
    let all = fill(&mut j, &[8; 10]);
    drop(j);
    let files = seg_files(dir.path());
    assert_eq!(files.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1, 5, 9]);
    flip_byte(&files[0].1, 24 + HEADER_LEN as u64); // payload of seq 2
                                                    // And a broken length field in the second segment: seq 7's header claims a huge record.
    let mut bytes = fs::read(&files[1].1).unwrap();
    bytes[48..52].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    fs::write(&files[1].1, bytes).unwrap();

    let (j, rec) = open(dir.path(), 100, &["s"]);
    assert_eq!(rec.torn_records_discarded, 0);
    assert_eq!(
        rec.lost,
        vec![
            LostRange {
                first_seq: 2,
                end_seq: 5,
                cause: LossCause::Corrupt(RecordFault::Checksum),
                segment: Some(files[0].1.clone()),
                offset: 24,
            },
            LostRange {
                first_seq: 7,
                end_seq: 9,
                cause: LossCause::Corrupt(RecordFault::Length),
                segment: Some(files[1].1.clone()),
                offset: 48,
            },
        ]
    );
    let expected: Vec<_> = all
        .iter()
        .filter(|(s, _)| ![2, 3, 4, 7, 8].contains(s))
        .cloned()
        .collect();
    assert_eq!(read_all(&j, 1), expected);
    assert_eq!(
        j.read_from(3, 1).unwrap()[0].0,
        5,
        "reads skip the lost range"
    );
    assert_eq!(rec.next_seq, 11);
}

#[test]
fn corruption_after_open_is_reported_by_read_from_with_a_resume_point() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = open(dir.path(), 100, &["s"]);
    let all = fill(&mut j, &[8; 10]);
    let files = seg_files(dir.path());
    flip_byte(&files[0].1, 24 + HEADER_LEN as u64 + 1); // payload of seq 2
    let err = j.read_from(1, 100).unwrap_err();
    match err {
        JournalError::Corrupt {
            seq,
            fault,
            resume_at,
            offset,
            ..
        } => {
            assert_eq!(
                (seq, fault, resume_at, offset),
                (2, RecordFault::Checksum, 5, 24)
            );
        }
        other => panic!("expected Corrupt, got {other}"),
    }
    assert_eq!(
        j.read_from(1, 1).unwrap(),
        all[..1],
        "before the bad record"
    );
    assert_eq!(read_all(&j, 5), all[4..]);
}

#[test]
fn ack_deletes_segments_only_when_every_sink_acked_them() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = open(dir.path(), 100, &["a", "b"]);
    fill(&mut j, &[8; 20]); // segments 1, 5, 9, 13, 17
    let firsts = |d: &Path| seg_files(d).iter().map(|f| f.0).collect::<Vec<_>>();
    let disk = |d: &Path| seg_files(d).iter().map(|f| f.2).sum::<u64>();
    assert_eq!(firsts(dir.path()), vec![1, 5, 9, 13, 17]);
    assert_eq!(j.depth(), 20);

    j.ack("a", 20).unwrap();
    assert_eq!(
        firsts(dir.path()),
        vec![1, 5, 9, 13, 17],
        "b has acked nothing"
    );
    assert_eq!(j.depth(), 20);
    j.ack("b", 3).unwrap();
    assert_eq!(
        firsts(dir.path()),
        vec![1, 5, 9, 13, 17],
        "seq 4 not acked by b"
    );
    j.ack("b", 4).unwrap();
    assert_eq!(firsts(dir.path()), vec![5, 9, 13, 17]);
    assert_eq!(j.first_seq(), 5);
    j.ack("b", 12).unwrap();
    assert_eq!(firsts(dir.path()), vec![13, 17]);
    assert_eq!(j.bytes_on_disk(), disk(dir.path()));
    j.ack("b", 20).unwrap();
    assert_eq!(firsts(dir.path()), vec![17], "the active segment stays");
    assert_eq!(j.depth(), 0);
    assert_eq!(j.bytes_on_disk(), disk(dir.path()));
    // Acknowledged records of the active segment are still held until it is closed and deleted.
    assert_eq!(j.read_from(1, 100).unwrap().len(), 4);
    assert!(j.read_from(21, 100).unwrap().is_empty());
}

#[test]
fn restart_keeps_cursors_and_continues_in_the_middle_of_the_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, rec) = open(dir.path(), MIB, &["a", "b"]);
    assert_eq!(rec.cursors, CursorRecovery::Missing);
    let all = fill(&mut j, &[10; 9]);
    j.ack("a", 7).unwrap();
    j.ack("b", 3).unwrap();
    drop(j);

    let (mut j, rec) = open(dir.path(), MIB, &["a", "b"]);
    assert_eq!(rec.cursors, CursorRecovery::Loaded);
    assert_eq!((j.acked("a"), j.acked("b")), (Some(7), Some(3)));
    assert_eq!(rec.next_seq, 10);
    assert_eq!(rec.records, 9);
    assert_eq!(read_all(&j, j.acked("a").unwrap() + 1), all[7..]);
    assert_eq!(read_all(&j, j.acked("b").unwrap() + 1), all[3..]);
    let files_before = seg_files(dir.path());
    assert_eq!(j.append(b"ten").unwrap(), 10);
    j.sync().unwrap();
    let files_after = seg_files(dir.path());
    assert_eq!(files_after.len(), 1, "appends continue in the same segment");
    assert_eq!(files_after[0].2, files_before[0].2 + HEADER_LEN as u64 + 3);
}

#[test]
fn max_bytes_refuses_appends_without_writing_and_frees_space_after_acks() {
    let dir = tempfile::tempdir().unwrap();
    // 24-byte records, 4 per 100-byte segment, at most 200 bytes on disk.
    let cfg = config(dir.path(), 100, 200);
    let (mut j, _) = Journal::open(cfg.clone(), &["s"]).unwrap();
    let mut appended = 0;
    let err = loop {
        match j.append(&payload(appended, 8)) {
            Ok(_) => appended += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(appended, 8);
    match err {
        JournalError::Full {
            bytes_on_disk,
            max_bytes,
            record_bytes,
        } => assert_eq!((bytes_on_disk, max_bytes, record_bytes), (192, 200, 24)),
        other => panic!("expected Full, got {other}"),
    }
    assert_eq!(j.next_seq(), 9, "the refused record got no seq");
    // A record that could not fit even in an empty journal is a permanent refusal, not Full.
    assert!(matches!(
        j.append(&[0; 190]),
        Err(JournalError::RecordTooLarge { len: 190, max: 184 })
    ));
    assert!(j.bytes_on_disk() <= 200);
    assert_eq!(j.sync().unwrap(), 8);
    assert!(matches!(j.append(b"x"), Err(JournalError::Full { .. })));
    // The sink catches up: whole segments are freed and appends flow again.
    j.ack("s", 8).unwrap();
    assert_eq!(j.append(&payload(8, 8)).unwrap(), 9);
    j.sync().unwrap();
    assert!(seg_files(dir.path()).iter().map(|f| f.2).sum::<u64>() <= 200);
}

#[test]
fn records_up_to_16_mib_round_trip_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), MIB, 64 * MIB);
    let (mut j, _) = Journal::open(cfg.clone(), &["s"]).unwrap();
    let sizes = [1, 16 * MIB as usize, 100, 5 * MIB as usize, 0, 300_000];
    let records: Vec<(u64, Vec<u8>)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| (i as u64 + 1, payload(i as u64, len)))
        .collect();
    for (seq, p) in &records {
        assert_eq!(j.append(p).unwrap(), *seq);
    }
    j.sync().unwrap();
    assert_eq!(read_all(&j, 1), records);
    drop(j);
    let (j, rec) = Journal::open(cfg, &["s"]).unwrap();
    assert_eq!(rec.torn_records_discarded, 0);
    assert_eq!(rec.next_seq, 7);
    let back = j.read_from(2, 1).unwrap();
    assert_eq!(back[0].1.len(), 16 * MIB as usize);
    assert!(back[0].1 == records[1].1);
    assert_eq!(read_all(&j, 1), records);

    drop(j);
    let (mut j, _) = Journal::open(config(dir.path(), MIB, 256 * MIB), &["s"]).unwrap();
    let too_big = vec![0u8; MAX_PAYLOAD_BYTES + 1];
    assert!(matches!(
        j.append(&too_big),
        Err(JournalError::RecordTooLarge { .. })
    ));
}

#[test]
fn disk_full_mid_write_is_storage_full_and_rolls_back_to_the_last_complete_record() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = open(dir.path(), MIB, &["s"]);
    let synced = fill(&mut j, &[50; 3]);
    let len_synced = seg_files(dir.path())[0].2;
    for i in 0..5 {
        j.append(&payload(100 + i, 50)).unwrap();
    }
    // The disk fills up 100 bytes into the next write (part of the second buffered record).
    j.faults.write_budget = Some(100);
    let err = j.sync().unwrap_err();
    assert!(err.is_disk_full(), "{err}");
    assert_eq!(err.io_kind(), Some(ErrorKind::StorageFull));
    assert!(!j.is_poisoned(), "a failed write is rolled back, not fatal");
    assert_eq!(j.next_seq(), 4, "unwritten seqs are reused");
    assert_eq!(j.durable_seq(), 3);
    assert_eq!(
        seg_files(dir.path())[0].2,
        len_synced,
        "partial write cut off"
    );
    assert_eq!(read_all(&j, 1), synced);

    // Large records are written directly; a failure in the middle of one rolls it back too.
    j.faults.write_budget = Some(1000);
    let err = j.append(&payload(7, 500_000)).unwrap_err();
    assert!(err.is_disk_full());
    assert_eq!(seg_files(dir.path())[0].2, len_synced);

    // Space comes back: appends continue where the journal rolled back to.
    j.faults.write_budget = None;
    assert_eq!(j.append(b"four").unwrap(), 4);
    assert_eq!(j.sync().unwrap(), 4);
    drop(j);
    let (j, rec) = open(dir.path(), MIB, &["s"]);
    assert_eq!(rec.torn_records_discarded, 0);
    let mut expected = synced;
    expected.push((4, b"four".to_vec()));
    assert_eq!(read_all(&j, 1), expected);
}

#[test]
fn failed_fsync_poisons_writes_until_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = open(dir.path(), MIB, &["s"]);
    let synced = fill(&mut j, &[10; 2]);
    j.append(b"pending").unwrap();
    j.faults.fail_fsync = true;
    let err = j.sync().unwrap_err();
    assert!(matches!(err, JournalError::Io { op: "fsync", .. }), "{err}");
    assert!(j.is_poisoned());
    assert!(matches!(j.append(b"x"), Err(JournalError::Poisoned { .. })));
    assert!(matches!(j.sync(), Err(JournalError::Poisoned { .. })));
    // Sinks can still drain what is durable.
    assert_eq!(read_all(&j, 1), synced);
    j.ack("s", 2).unwrap();
    drop(j);
    // Reopening re-scans and fsyncs: the written record is recovered and durable.
    let (mut j, rec) = open(dir.path(), MIB, &["s"]);
    assert_eq!(rec.next_seq, 4);
    assert_eq!(read_all(&j, 3), vec![(3, b"pending".to_vec())]);
    assert_eq!(j.append(b"ok").unwrap(), 4);
}

#[test]
fn corrupt_cursor_file_falls_back_to_replaying_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = open(dir.path(), MIB, &["a", "b"]);
    let all = fill(&mut j, &[10; 5]);
    j.ack("a", 5).unwrap();
    j.ack("b", 4).unwrap();
    drop(j);
    let cursor_path = dir.path().join(CURSOR_FILE);
    for damage in [
        |p: &Path| flip_byte(p, 6),
        |p: &Path| truncate(p, 9),
        |p: &Path| fs::write(p, b"garbage").unwrap(),
    ] {
        damage(&cursor_path);
        let (j, rec) = open(dir.path(), MIB, &["a", "b"]);
        assert!(matches!(rec.cursors, CursorRecovery::Corrupt { .. }));
        assert_eq!((j.acked("a"), j.acked("b")), (Some(0), Some(0)));
        assert_eq!(read_all(&j, 1), all);
        drop(j);
        // The reset cursors were written back: the next open loads them.
        let (_, rec) = open(dir.path(), MIB, &["a", "b"]);
        assert_eq!(rec.cursors, CursorRecovery::Loaded);
    }
}

#[test]
fn sink_registered_later_starts_at_zero_and_holds_back_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = open(dir.path(), 100, &["a"]);
    let all = fill(&mut j, &[8; 12]); // segments 1, 5, 9
    j.ack("a", 4).unwrap();
    assert_eq!(j.first_seq(), 5);
    drop(j);

    let (mut j, _) = open(dir.path(), 100, &["a", "b"]);
    assert_eq!(j.acked("b"), Some(0));
    // Offered everything still held (seqs 1..=4 were already deleted).
    assert_eq!(read_all(&j, j.acked("b").unwrap() + 1), all[4..]);
    j.ack("a", 12).unwrap();
    assert_eq!(j.first_seq(), 5, "b still needs segment 5");
    j.ack("b", 8).unwrap();
    assert_eq!(j.first_seq(), 9);
    drop(j);

    // Unregistering a sink forgets its cursor: it no longer holds segments.
    let (j, _) = open(dir.path(), 100, &["a"]);
    assert_eq!(j.acked("b"), None);
    assert_eq!(j.segment_count(), 1);
}

#[test]
fn unknown_sink_ack_beyond_durable_and_backwards_acks() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = open(dir.path(), MIB, &["a"]);
    fill(&mut j, &[5; 3]);
    j.append(b"unsynced").unwrap();
    assert!(matches!(
        j.ack("nope", 1),
        Err(JournalError::UnknownSink(_))
    ));
    assert!(matches!(
        j.ack("a", 4),
        Err(JournalError::AckBeyondDurable {
            seq: 4,
            durable: 3,
            ..
        })
    ));
    assert_eq!(
        j.read_from(1, 100).unwrap().len(),
        3,
        "unsynced not readable"
    );
    j.ack("a", 3).unwrap();
    j.ack("a", 1).unwrap();
    assert_eq!(j.acked("a"), Some(3), "acks never move backwards");
}

#[test]
fn cursor_ahead_of_the_journal_moves_numbering_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = open(dir.path(), MIB, &["a", "b"]);
    fill(&mut j, &[5; 5]);
    j.ack("a", 5).unwrap();
    drop(j);
    for (_, path, _) in seg_files(dir.path()) {
        fs::remove_file(path).unwrap();
    }
    let (mut j, rec) = open(dir.path(), MIB, &["a", "b"]);
    assert_eq!(
        rec.lost,
        vec![LostRange {
            first_seq: 1,
            end_seq: 6,
            cause: LossCause::CursorAhead,
            segment: None,
            offset: 0,
        }]
    );
    assert_eq!(j.append(b"new").unwrap(), 6, "sink a must not skip it");
    j.sync().unwrap();
    assert_eq!(read_all(&j, 1), vec![(6, b"new".to_vec())]);
}

#[test]
fn missing_middle_segment_is_reported_as_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = open(dir.path(), 100, &["s"]);
    let all = fill(&mut j, &[8; 12]); // segments 1, 5, 9
    drop(j);
    fs::remove_file(&seg_files(dir.path())[1].1).unwrap();
    let (j, rec) = open(dir.path(), 100, &["s"]);
    assert_eq!(rec.lost.len(), 1);
    assert_eq!(
        (
            rec.lost[0].first_seq,
            rec.lost[0].end_seq,
            rec.lost[0].cause
        ),
        (5, 9, LossCause::Missing)
    );
    let expected: Vec<_> = all
        .iter()
        .filter(|(s, _)| !(5..9).contains(s))
        .cloned()
        .collect();
    assert_eq!(read_all(&j, 1), expected);
}

#[test]
fn read_from_in_chunks_returns_only_durable_records_in_order() {
    let dir = tempfile::tempdir().unwrap();
    // 3000 records of ~100 bytes in 100 KiB segments: several segments with index entries.
    let (mut j, _) = open(dir.path(), 100 * 1024, &["s"]);
    let lens: Vec<usize> = (0..3000).map(|i| 50 + (i * 37) % 100).collect();
    let all = fill(&mut j, &lens);
    assert!(j.segment_count() > 3);
    for from in [0, 1, 2, 999, 1000, 1001, 2500, 3000] {
        let start = from.max(1) as usize - 1;
        assert_eq!(read_all(&j, from), all[start..], "from {from}");
        assert_eq!(
            j.read_from(from, 3).unwrap(),
            all[start..(start + 3).min(3000)]
        );
    }
    assert!(j.read_from(3001, 10).unwrap().is_empty());
    assert!(j.read_from(1, 0).unwrap().is_empty());
    j.append(b"not yet durable").unwrap();
    assert!(j.read_from(3001, 10).unwrap().is_empty());
    j.sync().unwrap();
    assert_eq!(j.read_from(3001, 10).unwrap()[0].0, 3001);
}

#[test]
fn second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_j, _) = open(dir.path(), MIB, &["s"]);
    let err = Journal::open(config(dir.path(), MIB, 64 * MIB), &["s"]).unwrap_err();
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
}

#[test]
fn open_refuses_bad_sink_lists_and_creates_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/journal");
    for sinks in [&[][..], &[""][..], &["x", "x"][..]] {
        assert!(matches!(
            Journal::open(config(&nested, MIB, 64 * MIB), sinks),
            Err(JournalError::Config(_))
        ));
    }
    let (j, rec) = Journal::open(config(&nested, MIB, 64 * MIB), &["s"]).unwrap();
    assert_eq!((rec.next_seq, rec.records, rec.segments), (1, 0, 1));
    assert_eq!((j.durable_seq(), j.depth(), j.bytes_on_disk()), (0, 0, 0));
    drop(j);
    let (_, rec) = Journal::open(config(&nested, MIB, 64 * MIB), &["s"]).unwrap();
    assert_eq!((rec.next_seq, rec.segments), (1, 1), "empty segment reused");
}
