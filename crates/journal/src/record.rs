//! The on-disk record format.
//!
//! ```text
//! offset  size  field
//!      0     4  len      payload length in bytes, u32 little-endian
//!      4     4  crc      CRC32C (Castagnoli) of seq (8 bytes LE) followed by the payload, u32 LE
//!      8     8  seq      sequence number, u64 LE; +1 per record, the first record of a segment
//!                        has the seq in the segment's file name
//!     16   len  payload  opaque bytes (normally a `codec` batch of events)
//! ```
//!
//! The checksum covers the seq as well as the payload, so a record copied to the wrong place, or a
//! stale record from an older run, fails verification instead of being delivered under the wrong
//! number. CRC32C is hardware-accelerated on x86-64 (SSE 4.2) and aarch64, so verifying every
//! record on replay costs little. The length is not covered by the checksum directly, but a wrong
//! length makes the checksum fail (or the record run past the end of the file).

use std::fmt;
use std::io::{self, Read};

/// Size of the record header in bytes.
pub const HEADER_LEN: usize = 16;

/// Largest payload accepted by [`Journal::append`](crate::Journal::append): 64 MiB. Large enough
/// for any venue frame or batch we write (16 MiB book snapshots included), small enough that a
/// corrupted length field cannot make recovery allocate gigabytes.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024 * 1024;

/// The checksum stored in a record header: CRC32C over `seq` (LE) then the payload.
pub fn checksum(seq: u64, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&seq.to_le_bytes()), payload)
}

/// The 16 header bytes of a record. The caller has checked `payload.len() <= MAX_PAYLOAD_BYTES`.
pub fn encode_header(seq: u64, payload: &[u8]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    // MAX_PAYLOAD_BYTES < u32::MAX, checked by the caller, so the cast does not truncate.
    h[0..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    h[4..8].copy_from_slice(&checksum(seq, payload).to_le_bytes());
    h[8..16].copy_from_slice(&seq.to_le_bytes());
    h
}

/// A decoded record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Payload length.
    pub len: u32,
    /// Stored checksum.
    pub crc: u32,
    /// Sequence number.
    pub seq: u64,
}

impl Header {
    /// Decodes 16 header bytes (any bytes decode; validity is checked separately).
    pub fn parse(b: &[u8; HEADER_LEN]) -> Header {
        let [l0, l1, l2, l3, c0, c1, c2, c3, s0, s1, s2, s3, s4, s5, s6, s7] = *b;
        Header {
            len: u32::from_le_bytes([l0, l1, l2, l3]),
            crc: u32::from_le_bytes([c0, c1, c2, c3]),
            seq: u64::from_le_bytes([s0, s1, s2, s3, s4, s5, s6, s7]),
        }
    }

    /// Header plus payload length on disk.
    pub fn record_len(&self) -> u64 {
        HEADER_LEN as u64 + u64::from(self.len)
    }
}

/// What is wrong with a record that failed verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordFault {
    /// The file ends inside the record (a torn write, or a length field that points past the end).
    Truncated,
    /// The length field exceeds [`MAX_PAYLOAD_BYTES`].
    Length,
    /// The checksum does not match the seq and payload.
    Checksum,
    /// The checksum matches but the seq is not the next one expected in this segment.
    Sequence,
}

impl RecordFault {
    /// `truncated`, `length`, `checksum` or `sequence` (log field / metric label).
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordFault::Truncated => "truncated",
            RecordFault::Length => "length",
            RecordFault::Checksum => "checksum",
            RecordFault::Sequence => "sequence",
        }
    }
}

impl fmt::Display for RecordFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Result of reading one record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// The limit was reached exactly at a record boundary.
    End,
    /// A verified record; its payload is in the caller's buffer (or was skipped).
    Record(Header),
    /// The record at the current offset is bad; the reader did not advance.
    Fault(RecordFault),
}

/// Reads records sequentially from a segment, up to `limit` bytes, verifying each.
pub(crate) struct RecordReader<R> {
    inner: R,
    offset: u64,
    limit: u64,
}

impl<R: Read> RecordReader<R> {
    /// `inner` must be positioned at `offset`; reading stops at `limit` (file length or the
    /// known-valid length).
    pub(crate) fn new(inner: R, offset: u64, limit: u64) -> Self {
        RecordReader {
            inner,
            offset,
            limit,
        }
    }

    /// Offset of the next record.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads and checks the header of the next record (bounds only; the checksum needs the
    /// payload). `Ok(None)` at the limit. Follow with [`RecordReader::read_payload`] or
    /// [`RecordReader::skip_payload`].
    pub(crate) fn next_header(&mut self) -> io::Result<Result<Option<Header>, RecordFault>> {
        let remaining = self.limit.saturating_sub(self.offset);
        if remaining == 0 {
            return Ok(Ok(None));
        }
        if remaining < HEADER_LEN as u64 {
            return Ok(Err(RecordFault::Truncated));
        }
        let mut hb = [0u8; HEADER_LEN];
        self.inner.read_exact(&mut hb)?;
        let h = Header::parse(&hb);
        if h.len as usize > MAX_PAYLOAD_BYTES {
            return Ok(Err(RecordFault::Length));
        }
        if h.record_len() > remaining {
            return Ok(Err(RecordFault::Truncated));
        }
        Ok(Ok(Some(h)))
    }

    /// Reads the payload of the record whose header was just read into `payload`, verifies
    /// checksum and seq, and advances past it.
    pub(crate) fn read_payload(
        &mut self,
        h: Header,
        expected_seq: u64,
        payload: &mut Vec<u8>,
    ) -> io::Result<Result<(), RecordFault>> {
        payload.clear();
        payload.resize(h.len as usize, 0);
        self.inner.read_exact(payload)?;
        if checksum(h.seq, payload) != h.crc {
            return Ok(Err(RecordFault::Checksum));
        }
        if h.seq != expected_seq {
            return Ok(Err(RecordFault::Sequence));
        }
        self.offset += h.record_len();
        Ok(Ok(()))
    }

    /// Skips the payload of the record whose header was just read (used to reach the first
    /// wanted record from an index point). Only bounds and seq are checked: records that are
    /// delivered are always fully verified by [`RecordReader::read_payload`].
    pub(crate) fn skip_payload(
        &mut self,
        h: Header,
        expected_seq: u64,
    ) -> io::Result<Result<(), RecordFault>>
    where
        R: io::Seek,
    {
        if h.seq != expected_seq {
            return Ok(Err(RecordFault::Sequence));
        }
        self.inner.seek(io::SeekFrom::Current(i64::from(h.len)))?;
        self.offset += h.record_len();
        Ok(Ok(()))
    }

    /// Reads and verifies the next record into `payload`.
    ///
    /// After a [`Next::Fault`] the underlying reader is in an unspecified position: stop reading.
    pub(crate) fn read(&mut self, expected_seq: u64, payload: &mut Vec<u8>) -> io::Result<Next> {
        let h = match self.next_header()? {
            Ok(Some(h)) => h,
            Ok(None) => return Ok(Next::End),
            Err(fault) => return Ok(Next::Fault(fault)),
        };
        Ok(match self.read_payload(h, expected_seq, payload)? {
            Ok(()) => Next::Record(h),
            Err(fault) => Next::Fault(fault),
        })
    }
}

/// Checks whether a complete, valid record starts at `pos` in `buf`; returns its header.
pub(crate) fn valid_record_at(buf: &[u8], pos: usize) -> Option<Header> {
    let hb: &[u8; HEADER_LEN] = buf
        .get(pos..pos.checked_add(HEADER_LEN)?)?
        .try_into()
        .ok()?;
    let h = Header::parse(hb);
    if h.len as usize > MAX_PAYLOAD_BYTES {
        return None;
    }
    let start = pos + HEADER_LEN;
    let payload = buf.get(start..start.checked_add(h.len as usize)?)?;
    (checksum(h.seq, payload) == h.crc).then_some(h)
}

/// After a bad record at the start of `tail`, looks for evidence that valid records follow (which
/// means the bad record is corruption, not a torn write: a torn write leaves nothing valid behind
/// it). Scans every byte offset for a checksum-valid record whose seq is plausible
/// (`> bad_seq` and not further than one record per 16 bytes could reach), then follows the
/// chain of valid records from there. Returns the highest seq found.
pub(crate) fn resync(tail: &[u8], bad_seq: u64) -> Option<u64> {
    let max_plausible = bad_seq.saturating_add((tail.len() / HEADER_LEN) as u64 + 1);
    let mut pos = 1;
    while pos + HEADER_LEN <= tail.len() {
        // Cheap pre-filter on the seq field before computing a checksum.
        let seq_bytes: Option<&[u8; 8]> = tail
            .get(pos + 8..pos + HEADER_LEN)
            .and_then(|s| s.try_into().ok());
        let plausible = seq_bytes
            .map(|s| u64::from_le_bytes(*s))
            .is_some_and(|s| s > bad_seq && s <= max_plausible);
        if plausible {
            if let Some(h) = valid_record_at(tail, pos) {
                // Follow the chain: later records must continue the sequence.
                let mut last = h.seq;
                let mut next_pos = pos + h.record_len() as usize;
                while let Some(n) = valid_record_at(tail, next_pos) {
                    if n.seq != last + 1 {
                        break;
                    }
                    last = n.seq;
                    next_pos += n.record_len() as usize;
                }
                return Some(last);
            }
        }
        pos += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = encode_header(seq, payload).to_vec();
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn header_round_trips_and_checksum_covers_seq() {
        let r = record(42, b"hello");
        let h = valid_record_at(&r, 0).unwrap();
        assert_eq!(
            h,
            Header {
                len: 5,
                crc: checksum(42, b"hello"),
                seq: 42
            }
        );
        assert_ne!(checksum(42, b"hello"), checksum(43, b"hello"));
        let mut moved = r.clone();
        moved[8] ^= 1; // seq 42 → 43 without fixing the crc
        assert!(valid_record_at(&moved, 0).is_none());
    }

    #[test]
    fn reader_reports_faults_without_advancing() {
        let mut file = record(1, b"a");
        file.extend(record(2, b"bb"));
        let mut payload = Vec::new();
        let mut r = RecordReader::new(&file[..], 0, file.len() as u64);
        assert!(matches!(r.read(1, &mut payload).unwrap(), Next::Record(_)));
        assert_eq!(payload, b"a");
        assert_eq!(
            r.read(3, &mut payload).unwrap(),
            Next::Fault(RecordFault::Sequence)
        );
        assert_eq!(r.offset(), 17);

        let mut r = RecordReader::new(&file[..], 0, file.len() as u64 - 1);
        assert!(matches!(r.read(1, &mut payload).unwrap(), Next::Record(_)));
        assert_eq!(
            r.read(2, &mut payload).unwrap(),
            Next::Fault(RecordFault::Truncated)
        );

        let mut huge = file.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut r = RecordReader::new(&huge[..], 0, huge.len() as u64);
        assert_eq!(
            r.read(1, &mut payload).unwrap(),
            Next::Fault(RecordFault::Length)
        );
    }

    #[test]
    fn resync_finds_the_chain_after_a_bad_record_but_not_in_a_torn_tail() {
        let mut tail = record(5, b"corrupted payload");
        tail[20] ^= 0xff;
        tail.extend(record(6, b"x"));
        tail.extend(record(7, b"yy"));
        assert_eq!(resync(&tail, 5), Some(7));
        // A torn write: the bad record is the last thing in the file.
        let torn = &record(5, b"partial")[..10];
        assert_eq!(resync(torn, 5), None);
    }
}
