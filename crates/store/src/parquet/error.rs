//! Errors of the archive, upload, retention and export paths.

use std::path::PathBuf;

/// Everything that can go wrong while archiving, uploading, pruning or exporting.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Reading or updating the SQLite store failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Opening the SQLite store failed.
    #[error(transparent)]
    Store(#[from] crate::StoreError),
    /// A local file could not be written, synced, renamed or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Encoding Parquet failed.
    #[error("parquet {}: {source}", path.display())]
    Parquet {
        /// The file being written.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: ::parquet::errors::ParquetError,
    },
    /// Building an Arrow batch failed (a row that does not fit its column type).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A stored value that cannot be archived exactly (e.g. a scale outside 0..=18).
    #[error("{table}: {detail}")]
    BadRow {
        /// SQL table.
        table: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The object store refused a request or could not be reached (after its retries). The
    /// message never contains credentials.
    #[error("object store {key}: {source}")]
    Upload {
        /// Object key.
        key: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// The uploaded object does not match the local file; local data is kept.
    #[error("verification of {key} failed: {detail}")]
    Verify {
        /// Object key.
        key: String,
        /// Size / checksum mismatch.
        detail: String,
    },
    /// The archive or retention settings are unusable.
    #[error("archive config: {0}")]
    Config(String),
}

impl ArchiveError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ArchiveError {
        let path = path.into();
        move |source| ArchiveError::Io { path, source }
    }
}
