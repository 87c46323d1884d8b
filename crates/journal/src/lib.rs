//! The durable, bounded on-disk buffer between parsers and sinks (DESIGN principles 6 and 7).
//!
//! Parsers append batches of events; a batch is durable once [`Journal::sync`] returns a seq at
//! or past it. Each sink reads from its own acknowledged position, commits, and acknowledges;
//! whole segment files are deleted only when every registered sink has acknowledged everything in
//! them. A database outage, a slow sink or a restart therefore costs no data, and a SIGKILL or
//! power loss costs at most the records after the last sync. When the journal reaches
//! `max_bytes`, appends fail with [`JournalError::Full`] at once (the reader drops the connection
//! and backfills later) — the journal never blocks a WebSocket reader.
//!
//! # Layout
//! - [`config`]: [`JournalConfig`] (`[journal]` section: `dir`, `segment_bytes`, `max_bytes`).
//! - [`error`]: [`JournalError`] (what the caller does with each is documented there) and the
//!   codec's [`DecodeError`].
//! - [`record`]: the record format — `[len u32][crc32c u32][seq u64][payload]`, little-endian;
//!   the checksum covers seq and payload.
//! - [`segment`]: segment files named by their first seq (`00000000000000000001.seg`), scanning,
//!   the sparse offset index used to start reads mid-segment.
//! - [`cursor`]: per-sink acknowledged seqs in one `cursors` file, replaced atomically
//!   (temp → fsync → rename → fsync directory).
//! - [`journal`]: [`Journal`] — open/recover, append, sync, read_from, ack, whole-segment deletion.
//! - [`codec`]: compact, exact binary encoding of `tickrec_model::Event` (one event or a batch
//!   per record).
//! - `tests/`: named failure-class tests (`known_errors.rs`), the model-based crash test
//!   (`model.rs`), codec properties (`codec.rs`) and an ignored throughput benchmark
//!   (`bench.rs`).
//!
//! # On disk
//! ```text
//! <dir>/LOCK                          flock: one process per journal
//! <dir>/cursors                       sink → acked seq (+ CRC32C)
//! <dir>/00000000000000000001.seg      records 1..=k
//! <dir>/0000000000000000000k+1.seg    records k+1.. (the active segment)
//! ```
//! Seqs start at 1 and increase by one per record (0 means "nothing"). A record is written to
//! the last segment only; a segment is closed when the next record would take it past
//! `segment_bytes`, after an fsync, so every older segment is complete on disk.
//!
//! # Recovery policy (at [`Journal::open`])
//! - **Torn tail** — an incomplete or checksum-failing record at the end of the last segment with
//!   nothing valid behind it: truncated, counted in [`Recovered::torn_records_discarded`]. It was
//!   written after the last sync, so nothing durable is lost; appends continue after the last
//!   valid record, reusing the torn seqs (no sink can have seen them).
//! - **Corruption** — a bad record in an older segment, or in the last one with valid records
//!   behind it or with a valid checksum but the wrong seq (damage, not a crash): the rest of that segment is skipped (its length fields can
//!   no longer be trusted), the file is left untouched for inspection, and the lost seq range is
//!   reported in [`Recovered::lost`]. New records are numbered after every seq seen. Reads skip
//!   the range; it disappears with the segment once the sinks acknowledge past it.
//! - **Cursors** — a missing file means every sink starts at 0; an unreadable one too (replay
//!   everything retained: sinks are idempotent). A sink registered for the first time starts at
//!   0 as well. A cursor ahead of the newest record moves the numbering past it.
//! - **Disk full** — a failed write is rolled back to the last complete record and reported as
//!   [`JournalError::Io`] with `ErrorKind::StorageFull`; a failed fsync poisons the instance
//!   ([`JournalError::Poisoned`]) until it is reopened.
//!
//! # Usage
//! ```no_run
//! # fn main() -> Result<(), tickrec_journal::JournalError> {
//! use tickrec_journal::{codec, Journal, JournalConfig};
//! let (mut journal, recovered) = Journal::open(JournalConfig::default(), &["sqlite"])?;
//! assert!(recovered.lost.is_empty());
//! # let events: Vec<tickrec_model::Event> = Vec::new();
//! let mut payload = Vec::new();
//! codec::encode_batch(&events, &mut payload);
//! let seq = journal.append(&payload)?;
//! let durable = journal.sync()?; // >= seq: now it may go to the sinks
//! let from = journal.acked("sqlite").unwrap_or(0) + 1;
//! for (seq, bytes) in journal.read_from(from, 1000)? {
//!     let _events = codec::decode_batch(&bytes)?;
//!     // … commit to the store, then:
//!     journal.ack("sqlite", seq)?;
//! }
//! # let _ = (seq, durable);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod codec;
pub mod config;
pub mod cursor;
pub mod error;
pub mod journal;
pub mod record;
pub mod segment;

#[cfg(test)]
mod tests;

pub use config::JournalConfig;
pub use cursor::CursorRecovery;
pub use error::{DecodeError, JournalError};
pub use journal::{Journal, LossCause, LostRange, Recovered};
pub use record::{RecordFault, MAX_PAYLOAD_BYTES};
