//! Errors raised while building an adapter from configuration (parsing errors become reject rows,
//! not errors).

use tickrec_model::{Channel, Venue};

/// A configuration the venue cannot serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VenueError {
    /// The symbol is not in unified `BASE/QUOTE` form.
    #[error("{venue}: symbol `{symbol}` is not in BASE/QUOTE form (e.g. BTC/USDT)")]
    BadSymbol {
        /// Venue.
        venue: Venue,
        /// The symbol given.
        symbol: String,
    },
    /// The venue has no such channel.
    #[error("{venue}: channel `{channel}` is not supported (supported: {supported})")]
    UnsupportedChannel {
        /// Venue.
        venue: Venue,
        /// The channel given.
        channel: Channel,
        /// What the venue offers.
        supported: &'static str,
    },
    /// Too many streams for one connection.
    #[error("{venue}: {count} streams on one connection exceeds the venue limit of {limit}; split the market list")]
    TooManyStreams {
        /// Venue.
        venue: Venue,
        /// Streams requested.
        count: usize,
        /// Venue limit.
        limit: usize,
    },
    /// Nothing to subscribe.
    #[error("{venue}: no symbols or no channels configured")]
    Empty {
        /// Venue.
        venue: Venue,
    },
    /// A well-formed symbol the venue cannot serve in that form.
    #[error("{venue}: symbol `{symbol}` is not available: {why}")]
    UnsupportedSymbol {
        /// Venue.
        venue: Venue,
        /// The symbol given.
        symbol: String,
        /// Why.
        why: &'static str,
    },
    /// The channels of one connection live on different endpoints of the venue.
    #[error("{venue}: {detail}; configure them as separate [[markets]] entries")]
    SplitConnection {
        /// Venue.
        venue: Venue,
        /// Which channels go where.
        detail: &'static str,
    },
}
