//! Venue adapters: how to subscribe, how to keep a connection alive, and how to turn a venue's
//! frames into normalized [`tickrec_model::Event`]s with exact values.
//!
//! # Layout
//! Every venue folder has the same files, so knowing one means knowing all:
//! - `mod.rs` — the adapter type implementing [`VenueAdapter`];
//! - `subscribe.rs` — connect URL and subscribe messages;
//! - `messages.rs` — borrowed serde structs of the wire messages;
//! - `parse.rs` — wire message → normalized events (and reject rows);
//! - `rest.rs` — REST backfill URLs and exact parsers of the replies;
//! - `instruments.rs` — the REST instruments endpoint (tick/lot sizes, status) and its parser;
//! - `heartbeat.rs` — ping/pong, idle and connection-age rules;
//! - `symbols.rs` — unified `BASE/QUOTE` ⇄ native symbol;
//! - `tests.rs` — golden tests on real frames.
//!
//! Shared pieces: [`adapter`] (the trait and frame classification), [`validate`] (price/qty/time
//! checks and reject builders), [`instrument`] (instrument metadata, dispatch to the venues), [`unified`] (the unified symbol forms), [`catalog`] (what each
//! venue offers), [`error`].

pub mod adapter;
pub mod binance;
pub mod bybit;
pub mod catalog;
pub mod coinbase;
pub mod error;
pub mod instrument;
pub mod kraken;
pub mod okx;
pub mod unified;
pub mod upbit;
pub mod validate;

pub use adapter::{
    adapter_for, BackfillCursor, ClientPing, Frame, FrameKind, HeartbeatRules, MarketSub,
    SubRejection, TradeGap, VenueAdapter, DEFAULT_MAX_FRAME_BYTES,
};
pub use catalog::{describe, VenueInfo};
pub use error::VenueError;
pub use instrument::{Instrument, InstrumentError, InstrumentQuery};
