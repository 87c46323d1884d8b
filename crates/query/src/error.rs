//! [`QueryError`]: every way a question to the tape can fail, split into the caller's mistakes
//! (bad input → HTTP 4xx, CLI usage error) and the store's failures.

use tickrec_store::StoreError;

/// Why a query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A parameter is malformed or out of range (reversed window, zero interval, …).
    #[error("invalid {param}: {reason}")]
    InvalidParam {
        /// The parameter's name as the caller spelled it (`from`, `interval`, …).
        param: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The window is longer than this query allows (responses stay bounded).
    #[error("window of {span_s} s is longer than the {max_s} s this query allows")]
    WindowTooLong {
        /// Requested span, seconds.
        span_s: i64,
        /// Largest span allowed, seconds.
        max_s: i64,
    },
    /// Nothing is stored for this venue and symbol.
    #[error("unknown market {venue} {symbol}: nothing stored for it")]
    UnknownMarket {
        /// Venue as given.
        venue: String,
        /// Symbol as given.
        symbol: String,
    },
    /// Too few trades in the window for a meaningful profile (seed 001's rule).
    #[error("need ≥{needed} trades in the window, got {got}")]
    InsufficientTrades {
        /// Minimum required.
        needed: u64,
        /// Trades found.
        got: u64,
    },
    /// An exact sum left the range of a 128-bit integer at 18 decimals.
    #[error("exact arithmetic overflow in {what}")]
    Overflow {
        /// Which quantity overflowed.
        what: &'static str,
    },
    /// A stored row holds something the schema should have refused (e.g. an unknown side).
    #[error("corrupt row: {0}")]
    CorruptRow(String),
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database could not be queried.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl QueryError {
    /// True when the caller asked something wrong (HTTP 4xx), false when the store failed (5xx).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            QueryError::InvalidParam { .. }
                | QueryError::WindowTooLong { .. }
                | QueryError::UnknownMarket { .. }
                | QueryError::InsufficientTrades { .. }
        )
    }

    /// A stable machine-readable code (`invalid_param`, `unknown_market`, …) for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            QueryError::InvalidParam { .. } => "invalid_param",
            QueryError::WindowTooLong { .. } => "window_too_long",
            QueryError::UnknownMarket { .. } => "unknown_market",
            QueryError::InsufficientTrades { .. } => "insufficient_trades",
            QueryError::Overflow { .. } => "overflow",
            QueryError::CorruptRow(_) => "corrupt_row",
            QueryError::Store(_) | QueryError::Sqlite(_) => "store_error",
        }
    }

    pub(crate) fn invalid(param: &'static str, reason: impl Into<String>) -> Self {
        QueryError::InvalidParam {
            param,
            reason: reason.into(),
        }
    }
}
