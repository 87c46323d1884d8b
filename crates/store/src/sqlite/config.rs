//! `[sqlite]` section of the config.

use std::path::PathBuf;

/// SQLite `PRAGMA synchronous` level.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// `NORMAL`: in WAL mode a power loss may lose the last commits, never corrupts the file.
    #[default]
    Normal,
    /// `FULL`: every commit is fsynced before it returns.
    Full,
}

impl Synchronous {
    /// The pragma value (`NORMAL` / `FULL`).
    pub const fn as_pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// `[sqlite]` section of the config.
#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SqliteConfig {
    /// Path of the database file; parent directories are created (default `data/tickrec.db`).
    pub path: PathBuf,
    /// `"normal"` (default) or `"full"`: `PRAGMA synchronous`.
    pub synchronous: Synchronous,
    /// How long SQLite waits for a lock held by another connection before reporting busy, in
    /// milliseconds (default 5000). The writer then retries with a back-off.
    pub busy_timeout_ms: u64,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        SqliteConfig {
            path: PathBuf::from("data/tickrec.db"),
            synchronous: Synchronous::Normal,
            busy_timeout_ms: 5000,
        }
    }
}
