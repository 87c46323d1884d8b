//! Errors the simulator reports to its owner (tests, benchmarks). Problems caused by a client on
//! the wire are never errors here: they get the venue's error response or are logged.

use std::io;
use std::path::PathBuf;

/// Why the simulator could not start, stop cleanly, or read a ground-truth file.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The configuration is unusable (rate out of range, bad symbol, duplicate market...).
    #[error("invalid simulator config: {0}")]
    Config(String),
    /// An operating-system I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done (`bind 127.0.0.1:0`, `create /tmp/gt.csv`...).
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A ground-truth file line could not be parsed.
    #[error("ground truth {path}:{line}: {msg}")]
    GroundTruthParse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// The ground-truth writer failed while the simulator ran (disk full...): the file is incomplete.
    #[error("ground truth writer failed: {0}")]
    GroundTruthWriter(String),
    /// An internal task panicked or was cancelled.
    #[error("simulator task failed: {0}")]
    Task(String),
}

impl SimError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        SimError::Io {
            context: context.into(),
            source,
        }
    }
}
