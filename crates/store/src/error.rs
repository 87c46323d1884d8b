//! Errors of every sink, and how the group-commit loop must react to them.

use std::path::PathBuf;

use rusqlite::ffi::ErrorCode;

/// How the writer reacts to an error.
///
/// PostgreSQL errors are classified by SQLSTATE ([`classify_sqlstate`]); client-side failures
/// without one (connection closed, I/O, connect timeout) are transient.
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
    /// A stored row this build cannot read back exactly.
    #[error("{table} row {id}: cannot read {detail}")]
    BadRow {
        /// The table.
        table: &'static str,
        /// The row's id.
        id: i64,
        /// What is wrong.
        detail: String,
    },
    /// The writer thread could not be started or panicked.
    #[error("writer thread: {0}")]
    Thread(String),
    /// An error reported by PostgreSQL (with its SQLSTATE) or by its client library
    /// (connection closed, I/O). Never contains the connection password.
    #[cfg(feature = "postgres")]
    #[error("postgres: {}", pg_error_text(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// Connecting to (or preparing a session on) the server failed. `target` is the connection
    /// string with its password masked.
    #[cfg(feature = "postgres")]
    #[error("postgres {target}: {}", pg_error_text(source))]
    PostgresConnect {
        /// The server and database, password masked (see `postgres::redact_uri`).
        target: String,
        /// The error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The `[postgres]` settings are unusable (never contains the password).
    #[cfg(feature = "postgres")]
    #[error("postgres config: {0}")]
    PostgresConfig(String),
    /// The database's schema is not one this tickrec can write (newer version, missing or
    /// changed tables).
    #[cfg(feature = "postgres")]
    #[error("postgres schema: {0}")]
    PostgresSchema(String),
    /// The server did not answer within the client-side timeout; the connection is dropped and
    /// a new one is opened on retry.
    #[cfg(feature = "postgres")]
    #[error("postgres: no answer from the server within {0} ms; dropping the connection")]
    PostgresTimeout(u64),
    /// The writer has no connection (it is re-opened by the next `begin`).
    #[cfg(feature = "postgres")]
    #[error("postgres: not connected")]
    PostgresNotConnected,
    /// A row of the transaction was refused by the server (data or constraint error). The
    /// transaction is rolled back and retried with each row isolated, so that refused rows
    /// become `store_constraint` rejects and the rest commits.
    #[cfg(feature = "postgres")]
    #[error("postgres: a row was refused ({0}); retrying the transaction with row isolation")]
    PostgresRowRefused(String),
    /// A direct `COPY` met a row that is already stored (another writer stores the same
    /// markets). The transaction is rolled back and retried through the staging tables, which
    /// skip such rows.
    #[cfg(feature = "postgres")]
    #[error(
        "postgres: direct COPY met a stored row ({0}); retrying the transaction through the \
         staging tables"
    )]
    PostgresDirectConflict(String),
}

impl StoreError {
    /// How the group-commit loop must react to this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::Sqlite(e) => classify_sqlite(e),
            StoreError::CreateDir { .. }
            | StoreError::SchemaTooNew { .. }
            | StoreError::Schema { .. }
            | StoreError::BadRow { .. }
            | StoreError::Thread(_) => ErrorClass::Fatal,
            #[cfg(feature = "postgres")]
            StoreError::Postgres(e) | StoreError::PostgresConnect { source: e, .. } => {
                classify_postgres(e)
            }
            #[cfg(feature = "postgres")]
            StoreError::PostgresTimeout(_)
            | StoreError::PostgresRowRefused(_)
            | StoreError::PostgresDirectConflict(_)
            | StoreError::PostgresNotConnected => ErrorClass::Transient,
            #[cfg(feature = "postgres")]
            StoreError::PostgresConfig(_) | StoreError::PostgresSchema(_) => ErrorClass::Fatal,
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

/// Classifies a PostgreSQL SQLSTATE (five characters, e.g. `"57P01"`):
///
/// - transient (roll back, reconnect if needed, retry the same rows): class `08` connection
///   exception, `53` insufficient resources (disk full, out of memory, too many connections),
///   `57` operator intervention (`57014` statement timeout / cancel, `57P01` admin shutdown,
///   `57P02` crash shutdown, `57P03` cannot connect now), `40` transaction rollback
///   (serialization failure, deadlock), `55P03` lock not available, `58` system error (I/O),
///   `25` invalid transaction state (e.g. `25006` read-only after a fail-over);
/// - poison (one row is bad: isolate it as a reject): `22` data exception (numeric out of range,
///   invalid text, timestamp out of range), `23` integrity constraint violation (`CHECK`,
///   `NOT NULL`), `21` cardinality violation, `44` `WITH CHECK OPTION`, `54` program limit
///   (a row too large to index);
/// - fatal (stop loudly): `28` invalid authorization (wrong password), `42` syntax error or
///   access rule violation (`42501` missing privilege, `42P01` missing table, `42703` missing
///   column: schema mismatch), `3D000` unknown database, and everything else.
pub fn classify_sqlstate(code: &str) -> ErrorClass {
    if code == "55P03" {
        return ErrorClass::Transient;
    }
    match code.get(..2) {
        Some("08" | "53" | "57" | "40" | "58" | "25") => ErrorClass::Transient,
        Some("22" | "23" | "21" | "44" | "54") => ErrorClass::Poison,
        _ => ErrorClass::Fatal,
    }
}

/// Classifies an error of the PostgreSQL client: by SQLSTATE when the server sent one, else
/// transient for a closed connection, an I/O error or a timeout, fatal otherwise (bad
/// configuration, missing password, protocol errors).
#[cfg(feature = "postgres")]
pub fn classify_postgres(e: &tokio_postgres::Error) -> ErrorClass {
    if let Some(code) = e.code() {
        return classify_sqlstate(code.code());
    }
    if e.is_closed() {
        return ErrorClass::Transient;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return ErrorClass::Transient;
        }
        source = s.source();
    }
    // tokio-postgres exposes no kind for its own timeouts (connect_timeout) but this message.
    if e.to_string() == "timeout waiting for server" {
        return ErrorClass::Transient;
    }
    ErrorClass::Fatal
}

/// Text of a PostgreSQL client error with its cause: `SQLSTATE SEVERITY: message (detail;
/// hint)` for server errors, the client message and its source chain otherwise
/// (tokio-postgres' own `Display` says only "db error").
#[cfg(feature = "postgres")]
pub fn pg_error_text(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{} {}: {}", db.code().code(), db.severity(), db.message());
        if let Some(d) = db.detail() {
            s.push_str(" (");
            s.push_str(d);
            s.push(')');
        }
        if let Some(h) = db.hint() {
            s.push_str(" (hint: ");
            s.push_str(h);
            s.push(')');
        }
        if let Some(c) = db.constraint() {
            s.push_str(" [constraint ");
            s.push_str(c);
            s.push(']');
        }
        return s;
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}
