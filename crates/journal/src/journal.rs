//! The [`Journal`]: append, sync, read, acknowledge, and crash recovery at open.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::config::JournalConfig;
use crate::cursor::{self, CursorRecovery};
use crate::error::JournalError;
use crate::record::{self, RecordFault, HEADER_LEN, MAX_PAYLOAD_BYTES};
use crate::segment::{self, segment_name, sync_dir, Segment};

/// Name of the lock file that keeps a second process out of the directory.
pub const LOCK_FILE: &str = "LOCK";

/// Appended records are gathered in memory up to this size before one `write(2)`; larger records
/// are written straight from the caller's slice.
const WRITE_BUFFER: usize = 256 * 1024;

/// Longest accepted sink name (it is stored with a u16 length in the cursor file).
const MAX_SINK_NAME: usize = 1024;

/// What [`Journal::open`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Seq the next [`Journal::append`] will return.
    pub next_seq: u64,
    /// Incomplete or checksum-failing records cut from the end of the last segment (a torn write:
    /// the process or machine died between `write` and `fsync`). 0 or 1: nothing after the first
    /// bad byte of a torn tail can be told apart from garbage. Those records were never durable,
    /// so no durable data was lost.
    pub torn_records_discarded: u64,
    /// Bytes cut from the end of the last segment.
    pub torn_bytes_discarded: u64,
    /// Bytes held on disk after recovery (segment files).
    pub bytes: u64,
    /// Readable records held (acknowledged by some sinks or not).
    pub records: u64,
    /// Segment files after recovery.
    pub segments: usize,
    /// Seq ranges the journal cannot deliver: corruption (a bad record in a segment older than the
    /// last, or a bad record in the last segment with valid records behind it) and holes. Empty
    /// after a clean shutdown or a torn write. Each is a data-quality event to report; the trade
    /// tape is repaired by REST backfill, which keys on the venue's ids, not on these seqs.
    pub lost: Vec<LostRange>,
    /// What happened to the sinks' cursors.
    pub cursors: CursorRecovery,
}

impl Recovered {
    /// Total records in [`Recovered::lost`].
    pub fn lost_records(&self) -> u64 {
        self.lost.iter().map(LostRange::records).sum()
    }
}

/// A range of seqs `first_seq..end_seq` that the journal cannot deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostRange {
    /// First missing seq.
    pub first_seq: u64,
    /// One past the last missing seq (equal to `first_seq` when the fault lost no record, e.g.
    /// garbage after the last record of an old segment).
    pub end_seq: u64,
    /// Why.
    pub cause: LossCause,
    /// The segment holding the bad record, when there is one.
    pub segment: Option<PathBuf>,
    /// Byte offset of the bad record in that segment.
    pub offset: u64,
}

impl LostRange {
    /// Number of seqs in the range.
    pub fn records(&self) -> u64 {
        self.end_seq.saturating_sub(self.first_seq)
    }
}

/// Why a [`LostRange`] cannot be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossCause {
    /// A record failed verification. Nothing after it in that segment can be trusted (its length
    /// field may be wrong), so the rest of the segment is skipped; the range ends where the next
    /// segment begins (or, in the last segment, after the last valid record found behind it).
    Corrupt(RecordFault),
    /// Seqs missing between two segments with no bad record to explain them: a segment file was
    /// removed by hand, or its directory entry was lost.
    Missing,
    /// A sink acknowledged seqs beyond the newest record in the journal (records acked by a sink
    /// are gone from the journal — lost segment files, or a cursor file from another journal).
    /// New records are numbered after the highest cursor so that no sink skips them.
    CursorAhead,
}

/// The durable, bounded on-disk buffer between parsers and sinks.
///
/// Single-owner (`&mut self` for writes): the recorder keeps it on one task or behind a mutex.
///
/// # Contract
/// - [`append`](Journal::append) assigns consecutive seqs and buffers; nothing is durable until
///   [`sync`](Journal::sync) returns a seq `>=` it. Only durable records are readable and
///   acknowledgeable, so a seq that sinks have seen is never reused after a crash.
/// - After any error from `append` or `sync`, records after [`durable_seq`](Journal::durable_seq)
///   may be missing: the journal rolls back to the last complete record (and reuses those unsaved
///   seqs). Treat it like [`JournalError::Full`]: drop the connection, backfill.
/// - Dropping the journal does no I/O: call [`sync`](Journal::sync) (or [`close`](Journal::close))
///   before a clean shutdown.
pub struct Journal {
    cfg: JournalConfig,
    /// Held for the journal's lifetime: the `flock` is released when the file is closed.
    _lock: File,
    /// Sorted by first seq; the last one is being appended to and is never deleted.
    segments: Vec<Segment>,
    /// The last segment, opened for appending.
    writer: File,
    /// Bytes of the last segment that reached the file (complete records only).
    written: u64,
    /// Length of the last segment at its last fsync.
    synced_len: u64,
    /// Encoded records not yet written.
    buf: Vec<u8>,
    /// Seq of the first record in `buf` (`next_seq` when it is empty).
    unwritten_first_seq: u64,
    next_seq: u64,
    durable_seq: u64,
    /// A segment was created and the directory not fsynced since.
    dir_dirty: bool,
    /// Sum of the segments' `disk_len` (buffered bytes included).
    bytes: u64,
    /// Registered sinks and their acknowledged seqs, in registration order.
    sinks: Vec<(String, u64)>,
    /// Set when durability can no longer be promised (fsync failure).
    poisoned: Option<String>,
    #[cfg(test)]
    pub(crate) faults: Faults,
}

/// Test-only fault injection (habit 7): a disk that fills up mid-write, an fsync that fails.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// Bytes that may still be written before writes fail with ENOSPC (after a partial write).
    pub(crate) write_budget: Option<u64>,
    /// The next fsync of a segment fails with EIO.
    pub(crate) fail_fsync: bool,
}

impl std::fmt::Debug for Journal {
    // Not derived: the write buffer alone can be 256 KiB.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.cfg.dir)
            .field("first_seq", &self.first_seq())
            .field("next_seq", &self.next_seq)
            .field("durable_seq", &self.durable_seq)
            .field("bytes", &self.bytes)
            .field("segments", &self.segments.len())
            .field("sinks", &self.sinks)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens the journal in `cfg.dir`, creating it if needed, and recovers from a crash.
    ///
    /// Recovery scans every segment and verifies every record:
    /// - the last segment's torn tail (an incomplete or checksum-failing record with nothing valid
    ///   behind it) is truncated; appends continue after the last valid record;
    /// - a bad record in an older segment (or one in the last segment with valid records behind
    ///   it, or with a valid checksum but the wrong seq) is corruption: the rest of that segment is skipped, never modified, and the lost seq
    ///   range is reported in [`Recovered::lost`];
    /// - every segment and the directory are fsynced, so everything recovered counts as durable.
    ///
    /// `sinks` are the consumers whose acknowledgements gate deletion. A sink with a cursor in the
    /// cursor file resumes from it. A sink registered for the first time starts at 0: it is
    /// offered every record the journal still holds (the journal cannot know what that store
    /// already has, and sinks write idempotently, so replaying is the safe side). Cursors of sinks
    /// no longer registered are forgotten and stop holding segments back. If the cursor file is
    /// unreadable, every sink restarts at 0.
    ///
    /// # Errors
    /// [`JournalError::Config`] for invalid limits or sink names (none, empty, duplicate),
    /// [`JournalError::Locked`] when another process holds the directory,
    /// [`JournalError::Io`] when files cannot be read, truncated or created.
    pub fn open(cfg: JournalConfig, sinks: &[&str]) -> Result<(Journal, Recovered), JournalError> {
        cfg.validate()?;
        validate_sinks(sinks)?;
        let dir = cfg.dir.clone();
        let lock = lock_dir(&dir)?;
        cursor::remove_stale_tmp(&dir)?;

        let files = segment::list(&dir)?;
        let mut segments: Vec<Segment> = Vec::with_capacity(files.len() + 1);
        let mut lost = Vec::new();
        let mut torn_records = 0;
        let mut torn_bytes = 0;
        // Set when the last segment is corrupt (not torn): appends go to a new segment after the
        // highest seq seen in it, so that no seq that may have been acknowledged is reused.
        let mut sealed_next: Option<u64> = None;

        for (i, (first_seq, path)) in files.iter().enumerate() {
            let next_first = files.get(i + 1).map(|(f, _)| *f);
            let scan = segment::scan(path, *first_seq, next_first)?;
            let mut seg = scan.segment;
            match (scan.fault, next_first) {
                (None, Some(next_first)) if seg.next_seq < next_first => {
                    tracing::warn!(
                        segment = %path.display(),
                        first_missing = seg.next_seq,
                        next_present = next_first,
                        "journal: seqs missing between segments"
                    );
                    lost.push(LostRange {
                        first_seq: seg.next_seq,
                        end_seq: next_first,
                        cause: LossCause::Missing,
                        segment: None,
                        offset: seg.len,
                    });
                }
                (None, _) => {}
                (Some((offset, fault)), Some(next_first)) => {
                    tracing::error!(
                        segment = %path.display(),
                        offset,
                        %fault,
                        first_lost = seg.next_seq,
                        end_lost = next_first,
                        "journal: corrupt record in an older segment; skipping the rest of it"
                    );
                    lost.push(LostRange {
                        first_seq: seg.next_seq,
                        end_seq: next_first,
                        cause: LossCause::Corrupt(fault),
                        segment: Some(path.clone()),
                        offset,
                    });
                }
                (Some((offset, fault)), None) => {
                    let tail = segment::read_tail(path, offset)?;
                    let resynced = record::resync(&tail, seg.next_seq);
                    // A torn write leaves nothing valid behind the bad record, and cannot produce
                    // a record with a valid checksum but the wrong seq. Either sign means the
                    // bytes were damaged after they were written: keep them, seal the segment.
                    if resynced.is_some() || fault == RecordFault::Sequence {
                        let end_seq = resynced.map_or(seg.next_seq, |last| last + 1);
                        tracing::error!(
                            segment = %path.display(),
                            offset,
                            %fault,
                            first_lost = seg.next_seq,
                            end_lost = end_seq,
                            "journal: corrupt record in the last segment; sealing the segment"
                        );
                        lost.push(LostRange {
                            first_seq: seg.next_seq,
                            end_seq,
                            cause: LossCause::Corrupt(fault),
                            segment: Some(path.clone()),
                            offset,
                        });
                        sealed_next = Some(end_seq);
                    } else {
                        // A torn write: cut it so that appends continue after the last valid
                        // record (leaving it would make every later record unreachable).
                        truncate_file(path, seg.len)?;
                        torn_records = 1;
                        torn_bytes = seg.disk_len - seg.len;
                        tracing::warn!(
                            segment = %path.display(),
                            offset,
                            %fault,
                            bytes = torn_bytes,
                            "journal: truncated a torn tail (unsynced data from before a crash)"
                        );
                        seg.disk_len = seg.len;
                    }
                }
            }
            segments.push(seg);
        }

        let (stored, cursor_recovery) = cursor::load(&dir)?;
        if let CursorRecovery::Corrupt { reason } = &cursor_recovery {
            tracing::error!(
                %reason,
                "journal: cursor file unreadable; every sink replays from the start"
            );
        }
        let sinks: Vec<(String, u64)> = sinks
            .iter()
            .map(|name| {
                let acked = stored
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(0, |(_, seq)| *seq);
                (name.to_string(), acked)
            })
            .collect();

        let head_next = sealed_next
            .or_else(|| segments.last().map(|s| s.next_seq))
            .unwrap_or(1);
        let max_cursor = sinks.iter().map(|(_, s)| *s).max().unwrap_or(0);
        let mut next_seq = head_next;
        if max_cursor >= head_next {
            tracing::error!(
                newest = head_next - 1,
                max_cursor,
                "journal: a sink acknowledged records the journal no longer has"
            );
            lost.push(LostRange {
                first_seq: head_next,
                end_seq: max_cursor + 1,
                cause: LossCause::CursorAhead,
                segment: None,
                offset: 0,
            });
            next_seq = max_cursor + 1;
        }

        // Make everything recovered durable: a previous process may have died after `write` but
        // before `fsync`, leaving records only in the page cache.
        for seg in &segments {
            File::open(&seg.path)
                .and_then(|f| f.sync_all())
                .map_err(|e| JournalError::io("fsync", &seg.path, e))?;
        }

        // Appends go to the last segment unless it is sealed or the numbering jumped.
        let reuse_last = segments
            .last()
            .is_some_and(|s| sealed_next.is_none() && s.next_seq == next_seq);
        if !reuse_last {
            if segments
                .last()
                .is_some_and(|s| s.disk_len == 0 && s.next_seq == s.first_seq)
            {
                // An empty last segment that cannot take the new numbering: replace it.
                if let Some(empty) = segments.pop() {
                    remove_file(&empty.path)?;
                }
            }
            let path = dir.join(segment_name(next_seq));
            create_segment_file(&path)?;
            segments.push(Segment::empty(next_seq, path));
        }
        sync_dir(&dir)?;

        let (writer, written) = match segments.last() {
            Some(last) => (
                OpenOptions::new()
                    .append(true)
                    .open(&last.path)
                    .map_err(|e| JournalError::io("open", &last.path, e))?,
                last.len,
            ),
            None => unreachable_no_segment()?,
        };
        let bytes = segments.iter().map(|s| s.disk_len).sum();
        let mut journal = Journal {
            cfg,
            _lock: lock,
            segments,
            writer,
            written,
            synced_len: written,
            buf: Vec::with_capacity(WRITE_BUFFER),
            unwritten_first_seq: next_seq,
            next_seq,
            durable_seq: next_seq - 1,
            dir_dirty: false,
            bytes,
            sinks,
            poisoned: None,
            #[cfg(test)]
            faults: Faults::default(),
        };
        // Rewrite the cursor file: drops unregistered sinks, replaces a corrupt file, records
        // new sinks at 0.
        journal.store_cursors()?;
        journal.gc()?;

        let recovered = Recovered {
            next_seq,
            torn_records_discarded: torn_records,
            torn_bytes_discarded: torn_bytes,
            bytes: journal.bytes,
            records: journal
                .segments
                .iter()
                .map(|s| s.next_seq - s.first_seq)
                .sum(),
            segments: journal.segments.len(),
            lost,
            cursors: cursor_recovery,
        };
        tracing::info!(
            dir = %journal.cfg.dir.display(),
            next_seq,
            records = recovered.records,
            bytes = recovered.bytes,
            segments = recovered.segments,
            torn_bytes = recovered.torn_bytes_discarded,
            lost = recovered.lost_records(),
            "journal opened"
        );
        Ok((journal, recovered))
    }

    /// Appends one record (buffered) and returns its seq. It is durable only after a
    /// [`sync`](Journal::sync) that returns a seq `>=` it.
    ///
    /// Never blocks on sinks: when the journal would exceed `max_bytes` it fails at once.
    ///
    /// # Errors
    /// [`JournalError::Full`] (nothing written; the caller drops the connection and backfills
    /// later), [`JournalError::RecordTooLarge`] (over [`MAX_PAYLOAD_BYTES`] or over `max_bytes`
    /// on its own), [`JournalError::Io`] (e.g. a full disk: see
    /// [`JournalError::is_disk_full`]; unwritten records were rolled back), or
    /// [`JournalError::Poisoned`].
    pub fn append(&mut self, payload: &[u8]) -> Result<u64, JournalError> {
        self.check_poisoned()?;
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(JournalError::RecordTooLarge {
                len: payload.len(),
                max: MAX_PAYLOAD_BYTES,
            });
        }
        let rec_len = (HEADER_LEN + payload.len()) as u64;
        if rec_len > self.cfg.max_bytes {
            // Could never fit, even in an empty journal: not back-pressure, a permanent refusal.
            return Err(JournalError::RecordTooLarge {
                len: payload.len(),
                max: usize::try_from(self.cfg.max_bytes).unwrap_or(usize::MAX) - HEADER_LEN,
            });
        }
        if self.active().len > 0 && self.active().len + rec_len > self.cfg.segment_bytes {
            self.roll()?;
        }
        if self.bytes + rec_len > self.cfg.max_bytes {
            return Err(JournalError::Full {
                bytes_on_disk: self.bytes,
                max_bytes: self.cfg.max_bytes,
                record_bytes: rec_len,
            });
        }
        let seq = self.next_seq;
        let header = record::encode_header(seq, payload);
        if !self.buf.is_empty() && self.buf.len() + rec_len as usize > WRITE_BUFFER {
            self.flush()?;
        }
        if rec_len as usize > WRITE_BUFFER {
            // Large record: write it straight from the caller's slice instead of copying it.
            // `buf` is empty here, so a failure rolls back exactly this record.
            let res = self
                .write_file(&header)
                .and_then(|()| self.write_file(payload));
            if let Err(e) = res {
                let path = self.active().path.clone();
                self.rollback();
                return Err(JournalError::io("write", path, e));
            }
            self.written += rec_len;
            self.unwritten_first_seq = seq + 1;
        } else {
            self.buf.extend_from_slice(&header);
            self.buf.extend_from_slice(payload);
        }
        let seg = self.active_mut();
        let offset = seg.len;
        seg.note_record(seq, offset);
        seg.len += rec_len;
        seg.disk_len += rec_len;
        seg.next_seq = seq + 1;
        self.bytes += rec_len;
        self.next_seq = seq + 1;
        Ok(seq)
    }

    /// Writes buffered records, fsyncs the segment (and the directory after a new segment was
    /// created), and returns the highest durable seq. Only records `<=` it may be handed to
    /// sinks and acknowledged. Cheap when nothing was appended since the last sync.
    ///
    /// # Errors
    /// [`JournalError::Io`] from the write (rolled back, see [`Journal::append`]) or from the
    /// fsync, after which the journal is [poisoned](JournalError::Poisoned): the kernel may have
    /// dropped the dirty pages, and retrying an fsync would falsely report success.
    pub fn sync(&mut self) -> Result<u64, JournalError> {
        self.check_poisoned()?;
        self.flush()?;
        self.fsync_active()?;
        if self.dir_dirty {
            if let Err(e) = sync_dir(&self.cfg.dir) {
                self.poison(&e);
                return Err(e);
            }
            self.dir_dirty = false;
        }
        self.durable_seq = self.next_seq - 1;
        Ok(self.durable_seq)
    }

    /// Syncs and closes the journal (clean shutdown). Returns the highest durable seq.
    ///
    /// # Errors
    /// As [`Journal::sync`].
    pub fn close(mut self) -> Result<u64, JournalError> {
        self.sync()
    }

    /// Records that `sink` has committed every record `<= seq`: persists the cursor (atomically)
    /// and deletes the segments every registered sink has fully acknowledged. An ack at or below
    /// the sink's current cursor changes nothing (acks never move backwards).
    ///
    /// # Errors
    /// [`JournalError::UnknownSink`], [`JournalError::AckBeyondDurable`], or
    /// [`JournalError::Io`] when the cursor file cannot be written (the cursor is then
    /// unchanged) or a segment cannot be deleted (retried on the next ack).
    pub fn ack(&mut self, sink: &str, seq: u64) -> Result<(), JournalError> {
        let idx = self
            .sinks
            .iter()
            .position(|(n, _)| n == sink)
            .ok_or_else(|| JournalError::UnknownSink(sink.to_string()))?;
        if seq > self.durable_seq {
            return Err(JournalError::AckBeyondDurable {
                sink: sink.to_string(),
                seq,
                durable: self.durable_seq,
            });
        }
        let old = self.sinks[idx].1;
        if seq > old {
            self.sinks[idx].1 = seq;
            if let Err(e) = self.store_cursors() {
                self.sinks[idx].1 = old;
                return Err(e);
            }
        }
        self.gc()
    }

    /// Up to `max_records` durable records with seq `>= from_seq`, in seq order, verified.
    ///
    /// `from_seq` is inclusive: a sink resumes with `read_from(acked + 1, n)`. Seqs older than
    /// the oldest retained record start at the oldest one; seqs in a lost range (see
    /// [`Recovered::lost`]) are skipped, so callers must not assume consecutive seqs. Records
    /// not yet durable are not returned.
    ///
    /// # Errors
    /// [`JournalError::Corrupt`] when a record fails verification (it rotted after open). The
    /// records before it are still good: fetch them with `read_from(from_seq, seq - from_seq)`
    /// (which stops short of the bad record), report `seq..resume_at` as a gap, and continue
    /// with `read_from(resume_at, ..)`. [`JournalError::Io`] on read errors.
    pub fn read_from(
        &self,
        from_seq: u64,
        max_records: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, JournalError> {
        let mut out = Vec::new();
        let upper = self.durable_seq;
        let mut want = from_seq.max(1);
        if max_records == 0 || want > upper {
            return Ok(out);
        }
        let last = self.segments.len() - 1;
        let mut i = self
            .segments
            .partition_point(|s| s.first_seq <= want)
            .saturating_sub(1);
        while i < self.segments.len() && out.len() < max_records {
            let seg = &self.segments[i];
            if seg.first_seq > upper {
                break;
            }
            want = want.max(seg.first_seq);
            if want < seg.next_seq {
                // Only complete, written records: the active segment may have buffered ones.
                let limit = if i == last { self.written } else { seg.len };
                let (mut seq, offset) = seg.start_for(want);
                let mut reader = segment::open_reader(&seg.path, offset, limit)
                    .map_err(|e| JournalError::io("read", &seg.path, e))?;
                let resume_at = self
                    .segments
                    .get(i + 1)
                    .map_or(self.next_seq, |s| s.first_seq);
                let corrupt = |offset: u64, seq: u64, fault: RecordFault| JournalError::Corrupt {
                    path: seg.path.clone(),
                    offset,
                    seq,
                    fault,
                    resume_at,
                };
                while out.len() < max_records && seq <= upper && seq < seg.next_seq {
                    let pos = reader.offset();
                    let io_err = |e| JournalError::io("read", &seg.path, e);
                    let h = match reader.next_header().map_err(io_err)? {
                        Ok(Some(h)) => h,
                        Ok(None) => break,
                        Err(fault) => return Err(corrupt(pos, seq, fault)),
                    };
                    if seq < want {
                        reader
                            .skip_payload(h, seq)
                            .map_err(io_err)?
                            .map_err(|f| corrupt(pos, seq, f))?;
                    } else {
                        let mut payload = Vec::new();
                        reader
                            .read_payload(h, seq, &mut payload)
                            .map_err(io_err)?
                            .map_err(|f| corrupt(pos, seq, f))?;
                        out.push((seq, payload));
                    }
                    seq += 1;
                }
                want = seq;
            }
            i += 1;
        }
        Ok(out)
    }

    /// The acknowledged seq of `sink` (0 = nothing yet), or `None` for an unregistered sink.
    pub fn acked(&self, sink: &str) -> Option<u64> {
        self.sinks.iter().find(|(n, _)| n == sink).map(|(_, s)| *s)
    }

    /// Highest durable seq (0 when nothing was ever written).
    pub fn durable_seq(&self) -> u64 {
        self.durable_seq
    }

    /// Seq the next append will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Seq of the oldest record still held (equal to [`Journal::next_seq`] when empty).
    pub fn first_seq(&self) -> u64 {
        self.segments
            .iter()
            .find(|s| s.next_seq > s.first_seq)
            .map_or(self.next_seq, |s| s.first_seq)
    }

    /// Bytes of segment files, including appended bytes still in the write buffer: what counts
    /// against `max_bytes`.
    pub fn bytes_on_disk(&self) -> u64 {
        self.bytes
    }

    /// Records appended but not yet acknowledged by the slowest sink.
    pub fn depth(&self) -> u64 {
        let slowest = self.sinks.iter().map(|(_, s)| *s).min().unwrap_or(0);
        (self.next_seq - 1).saturating_sub(slowest)
    }

    /// Number of segment files.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// True after an fsync failure: appends and syncs are refused until the journal is reopened.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.is_some()
    }

    /// The registered sinks and their acknowledged seqs.
    pub fn sinks(&self) -> impl Iterator<Item = (&str, u64)> {
        self.sinks.iter().map(|(n, s)| (n.as_str(), *s))
    }

    fn active(&self) -> &Segment {
        // `open` always leaves at least one segment and nothing removes the last one.
        &self.segments[self.segments.len() - 1]
    }

    fn active_mut(&mut self) -> &mut Segment {
        let last = self.segments.len() - 1;
        &mut self.segments[last]
    }

    fn check_poisoned(&self) -> Result<(), JournalError> {
        match &self.poisoned {
            Some(reason) => Err(JournalError::Poisoned {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    fn poison(&mut self, e: &JournalError) {
        tracing::error!(error = %e, "journal: durability can no longer be promised; refusing writes");
        self.poisoned = Some(e.to_string());
    }

    /// Writes the buffer to the active segment file.
    fn flush(&mut self) -> Result<(), JournalError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let res = self.write_file(&buf);
        self.buf = buf;
        match res {
            Ok(()) => {
                self.written += self.buf.len() as u64;
                self.buf.clear();
                self.unwritten_first_seq = self.next_seq;
                Ok(())
            }
            Err(e) => {
                let path = self.active().path.clone();
                self.rollback();
                Err(JournalError::io("write", path, e))
            }
        }
    }

    /// After a failed write: cut the file back to the last complete record and forget the
    /// records that did not make it (their seqs are reused; they were never durable, so no sink
    /// has seen them).
    fn rollback(&mut self) {
        let written = self.written;
        let first_lost = self.unwritten_first_seq;
        self.buf.clear();
        if let Err(e) = self.writer.set_len(written) {
            let err = JournalError::io("truncate", self.active().path.clone(), e);
            self.poison(&err);
        }
        let seg = self.active_mut();
        let dropped = seg.len - written;
        seg.len = written;
        seg.disk_len = written;
        seg.next_seq = first_lost;
        seg.truncate_index(written);
        self.bytes -= dropped;
        self.next_seq = first_lost;
        tracing::warn!(
            first_lost,
            bytes = dropped,
            "journal: write failed; rolled back unwritten records"
        );
    }

    fn write_file(&mut self, data: &[u8]) -> io::Result<()> {
        #[cfg(test)]
        if let Some(budget) = self.faults.write_budget {
            if data.len() as u64 > budget {
                // A disk that fills up mid-record: part of the data lands, then ENOSPC.
                let part = usize::try_from(budget).unwrap_or(usize::MAX);
                self.writer.write_all(&data[..part])?;
                self.faults.write_budget = Some(0);
                return Err(io::Error::from_raw_os_error(28));
            }
            self.faults.write_budget = Some(budget - data.len() as u64);
        }
        self.writer.write_all(data)
    }

    fn fsync_active(&mut self) -> Result<(), JournalError> {
        if self.written == self.synced_len {
            return Ok(());
        }
        #[cfg(test)]
        let res = if std::mem::take(&mut self.faults.fail_fsync) {
            Err(io::Error::from_raw_os_error(5))
        } else {
            self.writer.sync_data()
        };
        #[cfg(not(test))]
        // fdatasync: the file size is included, other metadata (mtime) is not needed.
        let res = self.writer.sync_data();
        if let Err(e) = res {
            let err = JournalError::io("fsync", self.active().path.clone(), e);
            self.poison(&err);
            return Err(err);
        }
        self.synced_len = self.written;
        Ok(())
    }

    /// Closes the active segment and starts a new one at `next_seq`.
    fn roll(&mut self) -> Result<(), JournalError> {
        self.flush()?;
        // Every segment but the last is complete on disk and listed in the directory before the
        // next one exists, so recovery can treat any bad record in an older segment as
        // corruption, never as a torn write.
        self.fsync_active()?;
        if self.dir_dirty {
            if let Err(e) = sync_dir(&self.cfg.dir) {
                self.poison(&e);
                return Err(e);
            }
            self.dir_dirty = false;
        }
        let first_seq = self.next_seq;
        let path = self.cfg.dir.join(segment_name(first_seq));
        let writer = create_segment_file(&path)?;
        self.writer = writer;
        self.written = 0;
        self.synced_len = 0;
        self.dir_dirty = true;
        self.segments.push(Segment::empty(first_seq, path));
        if let Err(e) = self.gc() {
            tracing::warn!(error = %e, "journal: could not delete an acknowledged segment");
        }
        Ok(())
    }

    /// Deletes, oldest first, the segments whose every record all registered sinks acknowledged.
    /// The active segment is never deleted (its name carries the numbering across restarts).
    fn gc(&mut self) -> Result<(), JournalError> {
        let slowest = self.sinks.iter().map(|(_, s)| *s).min().unwrap_or(0);
        while self.segments.len() > 1 && self.segments[0].next_seq <= slowest.saturating_add(1) {
            remove_file(&self.segments[0].path)?;
            let seg = self.segments.remove(0);
            self.bytes -= seg.disk_len;
            tracing::debug!(segment = %seg.path.display(), "journal: deleted acknowledged segment");
        }
        Ok(())
    }

    fn store_cursors(&self) -> Result<(), JournalError> {
        let entries: Vec<(&str, u64)> = self.sinks.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        cursor::store(&self.cfg.dir, &entries)
    }
}

fn validate_sinks(sinks: &[&str]) -> Result<(), JournalError> {
    if sinks.is_empty() {
        // With no sink nothing would ever be acknowledged: a configuration mistake.
        return Err(JournalError::Config(
            "journal needs at least one sink".into(),
        ));
    }
    for (i, name) in sinks.iter().enumerate() {
        if name.is_empty() || name.len() > MAX_SINK_NAME {
            return Err(JournalError::Config(format!(
                "journal sink name `{name}` must be 1..={MAX_SINK_NAME} bytes"
            )));
        }
        if sinks[..i].contains(name) {
            return Err(JournalError::Config(format!(
                "journal sink `{name}` registered twice"
            )));
        }
    }
    Ok(())
}

/// Creates the directory (fsyncing its parent so that it survives a power loss) and takes the
/// lock file.
fn lock_dir(dir: &Path) -> Result<File, JournalError> {
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(|e| JournalError::io("create directory", dir, e))?;
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        sync_dir(parent)?;
    }
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| JournalError::io("open", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(JournalError::Locked { path }),
        Err(fs::TryLockError::Error(e)) => Err(JournalError::io("lock", path, e)),
    }
}

fn create_segment_file(path: &Path) -> Result<File, JournalError> {
    OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(path)
        .map_err(|e| JournalError::io("create", path, e))
}

fn truncate_file(path: &Path, len: u64) -> Result<(), JournalError> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| JournalError::io("open", path, e))?;
    f.set_len(len)
        .and_then(|()| f.sync_all())
        .map_err(|e| JournalError::io("truncate", path, e))
}

fn remove_file(path: &Path) -> Result<(), JournalError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(JournalError::io("delete", path, e)),
    }
}

/// `open` always creates a segment when there is none; this keeps that invariant typed instead
/// of panicking if it were ever broken.
fn unreachable_no_segment() -> Result<(File, u64), JournalError> {
    Err(JournalError::Config(
        "internal: no active segment after recovery".into(),
    ))
}
