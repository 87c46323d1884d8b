//! Journal tests (habit 7): named failure classes, a model-based crash test, codec properties,
//! and an ignored throughput benchmark.

use std::path::{Path, PathBuf};

use crate::segment;
use crate::{Journal, JournalConfig};

mod bench;
mod codec;
mod known_errors;
mod model;

/// A config in `dir` with the given limits.
pub(crate) fn config(dir: &Path, segment_bytes: u64, max_bytes: u64) -> JournalConfig {
    JournalConfig {
        dir: dir.to_path_buf(),
        segment_bytes,
        max_bytes,
    }
}

/// Deterministic payload `len` bytes long, different for every `n`.
pub(crate) fn payload(n: u64, len: usize) -> Vec<u8> {
    let key = n.to_le_bytes();
    (0..len)
        .map(|i| key[i % 8] ^ (i as u8).wrapping_mul(31))
        .collect()
}

/// Segment files on disk: (first seq, path, length).
pub(crate) fn seg_files(dir: &Path) -> Vec<(u64, PathBuf, u64)> {
    segment::list(dir)
        .unwrap()
        .into_iter()
        .map(|(first, path)| {
            let len = std::fs::metadata(&path).unwrap().len();
            (first, path, len)
        })
        .collect()
}

/// Every durable record from `from` on, read in small chunks (exercises chunk boundaries).
pub(crate) fn read_all(j: &Journal, from: u64) -> Vec<(u64, Vec<u8>)> {
    let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut next = from;
    loop {
        let chunk = j.read_from(next, 7).unwrap();
        let Some(last) = chunk.last() else {
            return out;
        };
        next = last.0 + 1;
        out.extend(chunk);
    }
}

/// The recorder moves the journal into its own task or thread, or shares it behind a mutex.
#[test]
fn journal_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Journal>();
}
