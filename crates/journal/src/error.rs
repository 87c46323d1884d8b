//! Everything that can go wrong in the journal, typed so that the caller can decide what to do.

use std::io;
use std::path::PathBuf;

use crate::record::RecordFault;

/// Errors of the journal.
///
/// How the recorder reacts:
/// - [`Full`](JournalError::Full) and any error from [`append`](crate::Journal::append) or
///   [`sync`](crate::Journal::sync): records after [`durable_seq`](crate::Journal::durable_seq)
///   may be missing. Drop the venue connection and backfill, exactly as for back-pressure.
/// - [`Poisoned`](JournalError::Poisoned): an fsync failed; nothing more can be made durable by
///   this instance. Restart (reopen the journal), which re-scans and re-syncs the files.
/// - [`Corrupt`](JournalError::Corrupt) from [`read_from`](crate::Journal::read_from): a record
///   rotted on disk after it was written; count the gap and continue at `resume_at`.
/// - The rest are configuration or programming errors.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Invalid configuration or arguments (sink names, limits).
    #[error("journal config: {0}")]
    Config(String),
    /// An operating-system I/O error. A full disk is `ErrorKind::StorageFull`
    /// (see [`JournalError::is_disk_full`]).
    #[error("journal: cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done (`write`, `fsync`, `open`, …).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The append would take the journal past `max_bytes`. Nothing was written.
    #[error(
        "journal full: {bytes_on_disk} bytes on disk + {record_bytes} would exceed max_bytes = \
         {max_bytes} (a sink is behind; back-pressure)"
    )]
    Full {
        /// Bytes the journal holds now.
        bytes_on_disk: u64,
        /// The configured bound.
        max_bytes: u64,
        /// Size of the refused record on disk (header included).
        record_bytes: u64,
    },
    /// A payload larger than [`MAX_PAYLOAD_BYTES`](crate::record::MAX_PAYLOAD_BYTES), or one that
    /// could not fit in `max_bytes` even with the journal empty. Retrying cannot help.
    #[error("journal record of {len} bytes exceeds the limit of {max} bytes")]
    RecordTooLarge {
        /// Payload length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Another process (or another `Journal` in this one) has the directory open.
    #[error("journal directory {} is in use by another process (lock file held)", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// [`ack`](crate::Journal::ack) or [`acked`](crate::Journal::acked) with a sink name not
    /// passed to [`open`](crate::Journal::open).
    #[error("journal: unknown sink `{0}`")]
    UnknownSink(String),
    /// A sink acknowledged a record that is not durable yet. Refused, because after a crash that
    /// sequence number could be given to a different record, which the sink would then skip.
    #[error("journal: sink `{sink}` acked seq {seq} beyond the durable seq {durable}")]
    AckBeyondDurable {
        /// The sink.
        sink: String,
        /// The seq it acked.
        seq: u64,
        /// The highest durable seq.
        durable: u64,
    },
    /// A record read back from disk failed verification (bit rot after the journal was opened).
    /// Records of this segment from `seq` on are unreadable; reading can continue at `resume_at`.
    #[error(
        "journal: corrupt record in {} at byte {offset} ({fault}, expected seq {seq}); \
         records {seq}..{resume_at} are unreadable, continue at seq {resume_at}",
        path.display()
    )]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the bad record in the file.
        offset: u64,
        /// The seq that was expected there.
        seq: u64,
        /// What was wrong.
        fault: RecordFault,
        /// First seq after the unreadable range (the next segment's first seq).
        resume_at: u64,
    },
    /// An fsync (or a rollback after a failed write) failed: the kernel may have dropped dirty
    /// pages, so this instance can no longer promise durability. Appends and syncs are refused
    /// until the journal is reopened; acks and reads still work.
    #[error("journal stopped accepting writes: {reason}; reopen it (restart) to recover")]
    Poisoned {
        /// The original failure.
        reason: String,
    },
    /// A payload is not a valid [`codec`](crate::codec) encoding.
    #[error("journal codec: {0}")]
    Decode(#[from] DecodeError),
}

impl JournalError {
    /// The I/O error kind, for [`JournalError::Io`].
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            JournalError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }

    /// True for ENOSPC (and EDQUOT): the disk, not the journal's own bound, is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self.io_kind(),
            Some(io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
        )
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        JournalError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Why a payload could not be decoded into events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {offset}")]
pub struct DecodeError {
    /// What was wrong (`truncated`, `bad varint`, `unknown event tag`, …).
    pub what: &'static str,
    /// Byte offset in the payload.
    pub offset: usize,
}
