//! Errors of every sink, and how the group-commit loop must react to them.

use std::path::PathBuf;

use rusqlite::ffi::ErrorCode;

/// How the writer reacts to an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Retry the same rows after a back-off (busy/locked database, full disk, I/O error).
    Transient,
    /// One row cannot be stored (constraint failure): store it as a reject and keep the rest.
    Poison,
    /// Stop the writer and report (corrupt file, not a database, read-only, schema mismatch).
    Fatal,
}

impl ErrorClass {
    /// `transient`, `poison` or `fatal` (log field / metric label).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Poison => "poison",
            ErrorClass::Fatal => "fatal",
        }
    }
}

/// Everything that can go wrong in a sink.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An error reported by SQLite (or by rusqlite while binding a value).
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The directory of the database file could not be created.
    #[error("cannot create directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The database was written by a newer tickrec (its `user_version` is above ours).
    #[error(
        "database {} has schema version {found}, newer than version {supported} known to this \
         tickrec; refusing to open it (upgrade tickrec, or point [sqlite] path at another file)",
        path.display()
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// `PRAGMA user_version` found in the file.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// The database does not have the tables and columns this build expects.
    #[error("schema of {}: {detail}", path.display())]
    Schema {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The writer thread could not be started or panicked.
    #[error("writer thread: {0}")]
    Thread(String),
}

impl StoreError {
    /// How the group-commit loop must react to this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::Sqlite(e) => classify_sqlite(e),
            StoreError::CreateDir { .. }
            | StoreError::SchemaTooNew { .. }
            | StoreError::Schema { .. }
            | StoreError::Thread(_) => ErrorClass::Fatal,
        }
    }
}

/// Classifies a rusqlite error (see [`ErrorClass`]).
pub fn classify_sqlite(e: &rusqlite::Error) -> ErrorClass {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure => ErrorClass::Transient,
            ErrorCode::ConstraintViolation | ErrorCode::TooBig | ErrorCode::TypeMismatch => {
                ErrorClass::Poison
            }
            _ => ErrorClass::Fatal,
        },
        // A value of one row that cannot be bound (e.g. a u64 id above i64::MAX).
        rusqlite::Error::ToSqlConversionFailure(_) => ErrorClass::Poison,
        _ => ErrorClass::Fatal,
    }
}
