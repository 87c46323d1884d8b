//! The connection supervisor: connects to a venue, subscribes, keeps the connection alive,
//! detects dead and silent sockets, reconnects with jittered backoff, and hands every frame to the
//! venue's parser. Events go to the sinks through a bounded channel.
//!
//! # Layout
//! - [`supervisor`] — one task per connection: connect → subscribe → read loop → reconnect.
//! - [`backfill`] — REST gap repair over HTTP with rate-limit handling.
//! - [`books`] — order books on a connection: the keeper, REST snapshots, resubscriptions,
//!   per-market honesty metrics.
//! - [`continuity`] — trade-id gap / duplicate detection per market.
//! - [`quality`] — data-quality events (gaps, repairs, reconnects, stale sockets) for the sinks.
//! - [`streams`] — live per-connection and per-stream state for `/health`, `/metrics`, the status page.
//! - [`backoff`] — exponential backoff with jitter, reset after a healthy period.
//! - [`tls`] — the rustls crypto provider (ring) used for `wss://`.
//! - [`telemetry`] — metric handles of a connection.

pub mod backfill;
pub mod backoff;
pub mod books;
pub mod continuity;
pub mod quality;
pub mod streams;
pub mod supervisor;
pub mod telemetry;
pub mod tls;

pub use backoff::{Backoff, BackoffConfig};
pub use continuity::{Continuity, ContinuityTracker};
pub use streams::{BookStatus, ConnState, ConnectionState, StreamRegistry};
pub use supervisor::{run_connection, ConnectionConfig, ConnectionReport};
