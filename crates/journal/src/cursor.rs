//! Per-sink acknowledged positions, persisted atomically in one small file.
//!
//! ```text
//! "TRJC"  magic
//! u8      version (1)
//! u32 LE  number of sinks
//! per sink: u16 LE name length, name (UTF-8), u64 LE acked seq
//! u32 LE  CRC32C of everything above
//! ```
//!
//! Written as `cursors.tmp`, fsynced, renamed over `cursors`, then the directory is fsynced: after
//! a crash the file is either the old or the new version, never a mix. If it is unreadable anyway
//! (disk corruption, a truncated copy), every sink falls back to 0 and replays the whole journal,
//! which is safe because sinks write idempotently on natural keys.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use crate::error::JournalError;
use crate::segment::sync_dir;

/// Name of the cursor file inside the journal directory.
pub const CURSOR_FILE: &str = "cursors";
/// Temporary name used while replacing the cursor file.
pub const CURSOR_TMP: &str = "cursors.tmp";

const MAGIC: &[u8; 4] = b"TRJC";
const VERSION: u8 = 1;

/// What was found in the cursor file at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorRecovery {
    /// The file was read; sinks found in it resume from their acked seq.
    Loaded,
    /// No cursor file (a new journal, or no sink ever acked): every sink starts at 0.
    Missing,
    /// The file could not be decoded: every sink starts at 0 (replays everything retained).
    Corrupt {
        /// What was wrong.
        reason: String,
    },
}

/// Reads the cursor file.
///
/// # Errors
/// I/O errors other than "not found" (a disk that cannot be read should stop the recorder, not
/// silently reset the cursors).
pub(crate) fn load(dir: &Path) -> Result<(Vec<(String, u64)>, CursorRecovery), JournalError> {
    let path = dir.join(CURSOR_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok((Vec::new(), CursorRecovery::Missing))
        }
        Err(e) => return Err(JournalError::io("read", path, e)),
    };
    Ok(match decode(&bytes) {
        Ok(entries) => (entries, CursorRecovery::Loaded),
        Err(reason) => (
            Vec::new(),
            CursorRecovery::Corrupt {
                reason: reason.to_string(),
            },
        ),
    })
}

/// Replaces the cursor file atomically (temp file → fsync → rename → fsync directory).
pub(crate) fn store(dir: &Path, entries: &[(&str, u64)]) -> Result<(), JournalError> {
    let tmp = dir.join(CURSOR_TMP);
    let path = dir.join(CURSOR_FILE);
    let bytes = encode(entries);
    let mut f = File::create(&tmp).map_err(|e| JournalError::io("create", &tmp, e))?;
    f.write_all(&bytes)
        .map_err(|e| JournalError::io("write", &tmp, e))?;
    f.sync_all()
        .map_err(|e| JournalError::io("fsync", &tmp, e))?;
    drop(f);
    fs::rename(&tmp, &path).map_err(|e| JournalError::io("rename", &path, e))?;
    sync_dir(dir)
}

/// Removes a temp file left by a crash during [`store`].
pub(crate) fn remove_stale_tmp(dir: &Path) -> Result<(), JournalError> {
    let tmp = dir.join(CURSOR_TMP);
    match fs::remove_file(&tmp) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(JournalError::io("remove", tmp, e)),
    }
}

fn encode(entries: &[(&str, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + entries.len() * 32);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    // Sink names are validated at open (≤ u16::MAX bytes, a handful of sinks).
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (name, seq) in entries {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&seq.to_le_bytes());
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn decode(bytes: &[u8]) -> Result<Vec<(String, u64)>, &'static str> {
    let (body, crc) = bytes
        .split_last_chunk::<4>()
        .ok_or("shorter than a checksum")?;
    if crc32c::crc32c(body) != u32::from_le_bytes(*crc) {
        return Err("checksum mismatch");
    }
    let mut r = body;
    if take(&mut r, 4)? != MAGIC {
        return Err("bad magic");
    }
    if take(&mut r, 1)? != [VERSION] {
        return Err("unknown version");
    }
    let n = u32::from_le_bytes(take_array(&mut r)?);
    let mut entries = Vec::new();
    for _ in 0..n {
        let len = u16::from_le_bytes(take_array(&mut r)?);
        let name = std::str::from_utf8(take(&mut r, usize::from(len))?)
            .map_err(|_| "sink name is not UTF-8")?;
        let seq = u64::from_le_bytes(take_array(&mut r)?);
        entries.push((name.to_string(), seq));
    }
    if !r.is_empty() {
        return Err("trailing bytes");
    }
    Ok(entries)
}

fn take<'a>(r: &mut &'a [u8], n: usize) -> Result<&'a [u8], &'static str> {
    if r.len() < n {
        return Err("truncated");
    }
    let (head, rest) = r.split_at(n);
    *r = rest;
    Ok(head)
}

fn take_array<const N: usize>(r: &mut &[u8]) -> Result<[u8; N], &'static str> {
    take(r, N)?.try_into().map_err(|_| "truncated")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_corruption_is_detected() {
        let bytes = encode(&[("sqlite", 42), ("parquet", 7), ("", 0)]);
        assert_eq!(
            decode(&bytes).unwrap(),
            vec![
                ("sqlite".to_string(), 42),
                ("parquet".to_string(), 7),
                (String::new(), 0)
            ]
        );
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(decode(&bad).is_err(), "flip at {i} not detected");
            assert!(
                decode(&bytes[..i]).is_err(),
                "truncation to {i} not detected"
            );
        }
    }

    #[test]
    fn store_then_load_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap().1, CursorRecovery::Missing);
        store(dir.path(), &[("a", 1), ("b", u64::MAX)]).unwrap();
        let (entries, how) = load(dir.path()).unwrap();
        assert_eq!(how, CursorRecovery::Loaded);
        assert_eq!(entries, vec![("a".into(), 1), ("b".into(), u64::MAX)]);
        assert!(!dir.path().join(CURSOR_TMP).exists());
    }
}
