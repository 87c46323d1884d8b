//! Segment files: naming, listing, scanning, the sparse offset index, directory fsync.
//!
//! A segment is an append-only file of records named after the seq of its first record,
//! zero-padded to 20 digits (`00000000000000000001.seg`), so that lexical order is seq order and
//! `ls` shows the journal in order. Records in a segment have consecutive seqs. The journal only
//! ever appends to the last segment; older ones are immutable until deleted whole.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::JournalError;
use crate::record::{Next, RecordFault, RecordReader};

/// File name suffix of segment files.
pub const SEGMENT_SUFFIX: &str = ".seg";

/// One index entry per this many bytes of records, so that a reader starting at an arbitrary seq
/// skips at most this much (reading headers only) instead of scanning the segment from the start.
pub(crate) const INDEX_INTERVAL: u64 = 64 * 1024;

/// Buffer size for sequential segment reads.
pub(crate) const READ_BUFFER: usize = 256 * 1024;

/// The file name of the segment whose first record has `first_seq`.
pub fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SEGMENT_SUFFIX}")
}

/// The first seq encoded in a segment file name, if `name` is one.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segment files in `dir`, sorted by first seq. Other files are ignored.
pub(crate) fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    let mut out = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| JournalError::io("list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io("list", dir, e))?;
        let name = entry.file_name();
        if let Some(first) = name.to_str().and_then(parse_segment_name) {
            out.push((first, entry.path()));
        }
    }
    out.sort_unstable_by_key(|(first, _)| *first);
    Ok(out)
}

/// fsyncs a directory so that file creations, renames and deletions in it survive a power loss.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalError::io("fsync directory", dir, e))
}

/// In-memory state of one segment file.
#[derive(Debug)]
pub(crate) struct Segment {
    /// Seq of the first record (from the file name).
    pub(crate) first_seq: u64,
    /// One past the last readable record (`first_seq` when empty).
    pub(crate) next_seq: u64,
    /// Bytes of readable records: the valid prefix. For the active segment this includes
    /// records still in the write buffer.
    pub(crate) len: u64,
    /// Size of the file on disk (larger than `len` only for a segment sealed after corruption),
    /// plus buffered bytes for the active segment. What counts against `max_bytes`.
    pub(crate) disk_len: u64,
    /// The file.
    pub(crate) path: PathBuf,
    /// Sparse index: `(seq, offset)` of a record at least every [`INDEX_INTERVAL`] bytes. The
    /// first record (`first_seq`, 0) is implicit.
    pub(crate) index: Vec<(u64, u64)>,
    /// Offset of the last indexed record (0 = the implicit first entry).
    last_indexed: u64,
}

impl Segment {
    /// A new, empty segment.
    pub(crate) fn empty(first_seq: u64, path: PathBuf) -> Segment {
        Segment {
            first_seq,
            next_seq: first_seq,
            len: 0,
            disk_len: 0,
            path,
            index: Vec::new(),
            last_indexed: 0,
        }
    }

    /// Records that a record with `seq` starts at `offset` (called in order, for every record).
    pub(crate) fn note_record(&mut self, seq: u64, offset: u64) {
        if offset >= self.last_indexed + INDEX_INTERVAL {
            self.index.push((seq, offset));
            self.last_indexed = offset;
        }
    }

    /// Forgets index entries at or past `len` (after a rollback of unwritten records).
    pub(crate) fn truncate_index(&mut self, len: u64) {
        self.index.retain(|&(_, off)| off < len);
        self.last_indexed = self.index.last().map_or(0, |&(_, off)| off);
    }

    /// The closest indexed record at or before `seq`: `(seq, offset)` to start reading from.
    pub(crate) fn start_for(&self, seq: u64) -> (u64, u64) {
        let i = self.index.partition_point(|&(s, _)| s <= seq);
        match i.checked_sub(1).and_then(|i| self.index.get(i)) {
            Some(&entry) => entry,
            None => (self.first_seq, 0),
        }
    }
}

/// What a scan of a segment file found.
#[derive(Debug)]
pub(crate) struct Scan {
    /// The segment with its valid prefix (`len`, `next_seq`, index) and `disk_len` = file size.
    pub(crate) segment: Segment,
    /// Where and why the scan stopped early, if it did.
    pub(crate) fault: Option<(u64, RecordFault)>,
}

/// Reads a whole segment, verifying every record, and builds its index. Stops at the first bad
/// record. A record whose seq reaches `seq_limit` (the next segment's first seq) counts as a
/// sequence fault, because segments must not overlap.
pub(crate) fn scan(
    path: &Path,
    first_seq: u64,
    seq_limit: Option<u64>,
) -> Result<Scan, JournalError> {
    let file = File::open(path).map_err(|e| JournalError::io("open", path, e))?;
    let file_len = file
        .metadata()
        .map_err(|e| JournalError::io("stat", path, e))?
        .len();
    let mut segment = Segment::empty(first_seq, path.to_path_buf());
    segment.disk_len = file_len;
    let mut reader = RecordReader::new(BufReader::with_capacity(READ_BUFFER, file), 0, file_len);
    let mut payload = Vec::new();
    let fault = loop {
        let offset = reader.offset();
        let expected = segment.next_seq;
        if seq_limit.is_some_and(|limit| expected >= limit) && offset < file_len {
            break Some((offset, RecordFault::Sequence));
        }
        match reader
            .read(expected, &mut payload)
            .map_err(|e| JournalError::io("read", path, e))?
        {
            Next::End => break None,
            Next::Record(_) => {
                segment.note_record(expected, offset);
                segment.next_seq = expected + 1;
                segment.len = reader.offset();
            }
            Next::Fault(fault) => break Some((offset, fault)),
        }
    };
    Ok(Scan { segment, fault })
}

/// Reads the bytes of `path` from `offset` to the end (for [`crate::record::resync`]).
pub(crate) fn read_tail(path: &Path, offset: u64) -> Result<Vec<u8>, JournalError> {
    let mut file = File::open(path).map_err(|e| JournalError::io("open", path, e))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| JournalError::io("seek", path, e))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)
        .map_err(|e| JournalError::io("read", path, e))?;
    Ok(tail)
}

/// Opens a segment for reading at `offset`, with a buffered reader limited to `limit` bytes.
pub(crate) fn open_reader(
    path: &Path,
    offset: u64,
    limit: u64,
) -> io::Result<RecordReader<BufReader<File>>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    // Small reads (a chunk of a few records) should not pay for a large buffer.
    let cap = usize::try_from(limit.saturating_sub(offset))
        .unwrap_or(READ_BUFFER)
        .clamp(4096, READ_BUFFER);
    Ok(RecordReader::new(
        BufReader::with_capacity(cap, file),
        offset,
        limit,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_seq_and_round_trip() {
        assert_eq!(segment_name(1), "00000000000000000001.seg");
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        assert!(segment_name(9) < segment_name(10));
        assert_eq!(parse_segment_name("1.seg"), None);
        assert_eq!(parse_segment_name("0000000000000000000a.seg"), None);
        assert_eq!(parse_segment_name("00000000000000000001.tmp"), None);
    }

    #[test]
    fn index_finds_the_closest_entry_at_or_before() {
        let mut s = Segment::empty(10, PathBuf::from("x"));
        for (i, off) in (0..10u64).map(|i| (i, i * 40_000)) {
            s.note_record(10 + i, off);
        }
        // Entries every >= 64 KiB: offsets 80_000 (seq 12), 160_000 (14), ...
        assert_eq!(s.start_for(10), (10, 0));
        assert_eq!(s.start_for(11), (10, 0));
        assert_eq!(s.start_for(12), (12, 80_000));
        assert_eq!(s.start_for(13), (12, 80_000));
        assert_eq!(s.start_for(19), (18, 320_000));
        s.truncate_index(160_000);
        assert_eq!(s.start_for(19), (12, 80_000));
    }
}
