//! `[archive]` and `[retention]` config sections. Every default is in the `Default` impls here.
//!
//! No secret is ever part of these structs: S3 credentials come only from the environment
//! (see [`super::upload`]), so printing a config cannot leak them.

use std::path::PathBuf;

/// `[archive]`: Parquet files of completed intervals of the SQLite store, uploaded and verified.
#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ArchiveConfig {
    /// Length of one archive interval in seconds (default 3600: one file per venue, symbol, data
    /// type and hour). Intervals are aligned to the Unix epoch (UTC).
    pub interval_s: u64,
    /// An interval is archived only once its end is this many seconds in the past (default 300),
    /// so rows still in the journal → SQLite path land in it first.
    pub grace_s: u64,
    /// How often the archive task inside `tickrec record` looks for completed intervals, in
    /// seconds (default 300). `tickrec archive` without `--once` uses it too.
    pub check_every_s: u64,
    /// Local staging directory: files are written here (temp name → fsync → rename) and removed
    /// once their upload is verified (default `data/archive`).
    pub staging_dir: PathBuf,
    /// Where files are uploaded.
    pub destination: DestinationConfig,
    /// Optional extra path level after the data type (seed 002's `home_server_name`), so that
    /// several recorders can share one bucket.
    pub server_name: Option<String>,
    /// zstd compression level, 1–22 (default 3).
    pub zstd_level: i32,
    /// Rows per Parquet row group (default 131072); each row group carries min/max statistics.
    pub row_group_rows: usize,
    /// Attempts per object-store request before the upload of this run is given up (default
    /// 4). Failed files stay local and the interval is retried on the next run.
    pub upload_retries: usize,
    /// First back-off between upload attempts in milliseconds, doubled per attempt (default 500).
    pub retry_initial_ms: u64,
    /// Longest back-off between upload attempts in milliseconds (default 15000).
    pub retry_max_ms: u64,
    /// Give up one request (including its retries) after this many seconds (default 120).
    pub request_timeout_s: u64,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        ArchiveConfig {
            interval_s: 3600,
            grace_s: 300,
            check_every_s: 300,
            staging_dir: PathBuf::from("data/archive"),
            destination: DestinationConfig::default(),
            server_name: None,
            zstd_level: 3,
            row_group_rows: 131_072,
            upload_retries: 4,
            retry_initial_ms: 500,
            retry_max_ms: 15_000,
            request_timeout_s: 120,
        }
    }
}

/// `[archive.destination]`: an S3 (or S3-compatible) bucket, or a local directory.
///
/// S3 credentials are read from the environment only: the standard `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (and the rest of `AWS_*` that the `object_store`
/// crate understands), or seed 002's `AWS_ACCESS_KEY` / `AWS_SECRET_KEY`.
#[derive(Debug, Clone, serde::Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DestinationConfig {
    /// S3 bucket. Exactly one of `bucket` and `local_dir` must be set.
    pub bucket: Option<String>,
    /// Local directory used as the archive instead of a bucket (a mounted disk, NFS, tests).
    pub local_dir: Option<PathBuf>,
    /// Key prefix inside the bucket or directory (default empty).
    pub prefix: String,
    /// S3 region (default: `AWS_REGION` / `AWS_DEFAULT_REGION` from the environment, else
    /// `us-east-1`).
    pub region: Option<String>,
    /// Endpoint URL of an S3-compatible service (MinIO, Ceph, R2, moto), e.g.
    /// `http://127.0.0.1:9000`. Default: AWS.
    pub endpoint: Option<String>,
    /// Allow `http://` endpoints (default false; needed for local S3-compatible servers).
    pub allow_http: bool,
    /// Path-style requests (`endpoint/bucket/key`) instead of virtual-hosted style (default:
    /// true when `endpoint` is set, as most S3-compatible servers expect).
    pub path_style: Option<bool>,
}

/// `[retention]`: how long rows stay in the local SQLite store.
///
/// When an archive is configured, only intervals whose files were uploaded and verified are
/// ever deleted, whatever these limits say. Every deletion is recorded in the
/// `retention_events` table (removed by policy is not lost).
#[derive(Debug, Clone, serde::Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Delete intervals that ended more than this many hours ago (default: no age limit).
    pub max_age_hours: Option<u64>,
    /// Delete the oldest intervals while the database's used pages exceed this many bytes
    /// (default: no size limit). Freed pages are reused by SQLite; the file does not shrink.
    pub max_bytes: Option<u64>,
}

impl RetentionConfig {
    /// Whether any limit is set.
    pub fn is_active(&self) -> bool {
        self.max_age_hours.is_some() || self.max_bytes.is_some()
    }
}

impl ArchiveConfig {
    /// Checks the values that serde cannot.
    ///
    /// # Errors
    /// A message naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.interval_s == 0 || 86_400 % self.interval_s != 0 {
            return Err(format!(
                "archive.interval_s = {} must divide a day (e.g. 60, 900, 3600, 86400)",
                self.interval_s
            ));
        }
        if self.check_every_s == 0 {
            return Err("archive.check_every_s must be > 0".into());
        }
        if !(1..=22).contains(&self.zstd_level) {
            return Err(format!(
                "archive.zstd_level = {} must be 1..=22",
                self.zstd_level
            ));
        }
        if self.row_group_rows == 0 {
            return Err("archive.row_group_rows must be > 0".into());
        }
        let d = &self.destination;
        match (&d.bucket, &d.local_dir) {
            (Some(_), Some(_)) => {
                return Err("archive.destination: set either bucket or local_dir, not both".into())
            }
            (None, None) => {
                return Err("archive.destination: set bucket (S3) or local_dir".into());
            }
            _ => {}
        }
        if let Some(name) = &self.server_name {
            if name.is_empty() || name.contains('/') {
                return Err(format!(
                    "archive.server_name `{name}` must be non-empty and contain no '/'"
                ));
            }
        }
        Ok(())
    }
}
