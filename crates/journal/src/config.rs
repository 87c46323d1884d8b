//! `[journal]` section of the config.

use std::path::PathBuf;

use crate::error::JournalError;

/// Default directory of the segment files.
pub const DEFAULT_DIR: &str = "data/journal";
/// Default size at which the active segment is closed and a new one started (64 MiB).
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Default bound on the bytes the journal may hold on disk (2 GiB).
pub const DEFAULT_MAX_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Smallest accepted `segment_bytes`. Tests use tiny segments (habit 7: tiny limits under
/// `cfg(test)`) so that rolling and whole-segment deletion happen within a few records.
pub const MIN_SEGMENT_BYTES: u64 = if cfg!(test) { 64 } else { 64 * 1024 };

/// `[journal]` section of the config: where the durable buffer lives and how big it may grow.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalConfig {
    /// Directory holding the segment files and the sinks' cursor file; created if missing
    /// (default `data/journal`). One process at a time: a lock file refuses a second opener.
    pub dir: PathBuf,
    /// A segment is closed and a new one started once it would grow past this many bytes
    /// (default 67108864 = 64 MiB, minimum 65536). Disk space is reclaimed a whole segment at a
    /// time, so smaller segments free space sooner after the sinks catch up; larger segments mean
    /// fewer files. A single record larger than this gets a segment of its own.
    pub segment_bytes: u64,
    /// Upper bound on the journal's size on disk, in bytes (default 2147483648 = 2 GiB; at least
    /// twice `segment_bytes`). When an append would exceed it, the append fails with
    /// `JournalError::Full`: the recorder drops that venue connection and backfills later instead
    /// of blocking the reader or filling the disk.
    pub max_bytes: u64,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            dir: PathBuf::from(DEFAULT_DIR),
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl JournalConfig {
    /// Checks the values against each other; pure, touches no file.
    ///
    /// # Errors
    /// [`JournalError::Config`] when `segment_bytes` is below [`MIN_SEGMENT_BYTES`] or
    /// `max_bytes` is below twice `segment_bytes` (with less, the one segment that can never be
    /// deleted — the one being written — could fill the whole budget and wedge the journal).
    pub fn validate(&self) -> Result<(), JournalError> {
        if self.segment_bytes < MIN_SEGMENT_BYTES {
            return Err(JournalError::Config(format!(
                "journal segment_bytes = {} is below the minimum {MIN_SEGMENT_BYTES}",
                self.segment_bytes
            )));
        }
        if self.max_bytes < self.segment_bytes.saturating_mul(2) {
            return Err(JournalError::Config(format!(
                "journal max_bytes = {} must be at least twice segment_bytes = {}",
                self.max_bytes, self.segment_bytes
            )));
        }
        if self.dir.as_os_str().is_empty() {
            return Err(JournalError::Config("journal dir is empty".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
dir = "/var/lib/tickrec/journal"
segment_bytes = 16777216
max_bytes = 1073741824
"#;

    #[test]
    fn example_config_parses() {
        let cfg: JournalConfig = toml::from_str(EXAMPLE).unwrap();
        assert_eq!(
            cfg,
            JournalConfig {
                dir: "/var/lib/tickrec/journal".into(),
                segment_bytes: 16 * 1024 * 1024,
                max_bytes: 1024 * 1024 * 1024,
            }
        );
        cfg.validate().unwrap();
    }

    #[test]
    fn defaults_fill_missing_fields_and_are_valid() {
        let cfg: JournalConfig = toml::from_str("").unwrap();
        assert_eq!(cfg, JournalConfig::default());
        assert_eq!(cfg.dir, PathBuf::from("data/journal"));
        assert_eq!(cfg.segment_bytes, 64 << 20);
        assert_eq!(cfg.max_bytes, 2 << 30);
        cfg.validate().unwrap();
    }

    #[test]
    fn example_config_is_generated() {
        // The serialized default parses back to itself: the documented defaults are the real ones.
        let text = toml::to_string(&JournalConfig::default()).unwrap();
        let back: JournalConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, JournalConfig::default());
    }

    #[test]
    fn unknown_field_is_rejected() {
        let err = toml::from_str::<JournalConfig>("segment_byte = 5\n").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn validation_refuses_inconsistent_limits() {
        let small = JournalConfig {
            max_bytes: 1000,
            segment_bytes: 800,
            ..JournalConfig::default()
        };
        assert!(matches!(small.validate(), Err(JournalError::Config(_))));
        let tiny_segment = JournalConfig {
            segment_bytes: 1,
            ..JournalConfig::default()
        };
        assert!(matches!(
            tiny_segment.validate(),
            Err(JournalError::Config(_))
        ));
    }
}
