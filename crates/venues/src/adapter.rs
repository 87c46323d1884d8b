//! The contract between the connection supervisor (`feed`) and a venue.
//!
//! The supervisor owns the socket; the adapter only says what to send and what a received frame
//! means. That keeps every venue testable on captured frames without a network.

use std::sync::Arc;
use std::time::Duration;

use tickrec_model::{Channel, Event, Reject, RejectReason, Venue};

use crate::{binance, bybit, coinbase, kraken, okx, upbit, VenueError};

/// Frames larger than this become `oversized` reject rows (the socket itself accepts more, so one
/// bad frame does not kill the connection).
pub const DEFAULT_MAX_FRAME_BYTES: usize = 1 << 20;

/// One market on one connection: a unified symbol and the channels wanted for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketSub {
    /// Unified `BASE/QUOTE` symbol.
    pub symbol: Arc<str>,
    /// Channels to subscribe.
    pub channels: Vec<Channel>,
}

/// A received WebSocket data frame.
#[derive(Clone, Copy, Debug)]
pub enum Frame<'a> {
    /// A text frame (already UTF-8 validated by the WebSocket layer).
    Text(&'a str),
    /// A binary frame.
    Binary(&'a [u8]),
}

impl Frame<'_> {
    /// The frame's bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Frame::Text(s) => s.as_bytes(),
            Frame::Binary(b) => b,
        }
    }
}

/// A subscription the venue refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubRejection {
    /// The request id we sent, when echoed.
    pub req_id: Option<u64>,
    /// The symbol concerned, when the venue says.
    pub symbol: Option<String>,
    /// The venue's error text.
    pub error: String,
}

/// What a frame was, so the supervisor can track liveness and subscriptions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// Market data; events were appended.
    Data,
    /// A venue heartbeat (no data).
    Heartbeat,
    /// The reply to our application-level ping.
    Pong,
    /// `n` subscriptions confirmed.
    SubscribeAck(usize),
    /// A subscription was refused.
    SubscribeRejected(SubRejection),
    /// Venue status / informational message.
    Status,
    /// The venue announced it will close the connection: reconnect now.
    ServerShutdown,
    /// The frame (or all of it) became reject rows.
    Rejected,
    /// The venue's connection-wide message counter jumped: messages were lost. The frame's own
    /// events were appended; the supervisor reconnects (and trade gaps are then backfilled).
    SequenceGap {
        /// The counter value that was due.
        expected: u64,
        /// The value received.
        received: u64,
    },
}

/// How the client keeps the connection alive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientPing {
    /// Send a WebSocket ping frame.
    WsFrame,
    /// Send the venue's application-level ping message (see [`VenueAdapter::ping_message`]).
    AppMessage,
}

/// Liveness rules of a venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeartbeatRules {
    /// How the client pings.
    pub client_ping: ClientPing,
    /// Interval between client pings.
    pub ping_interval: Duration,
    /// A ping not answered within this is a dead connection.
    pub pong_timeout: Duration,
    /// No frame at all for this long is a dead connection.
    pub idle_timeout: Duration,
    /// Reconnect proactively before the venue's forced disconnect (Binance: 24 h).
    pub max_connection_age: Option<Duration>,
}

/// A venue, configured for the markets of one connection.
pub trait VenueAdapter: Send + Sync {
    /// Which venue.
    fn venue(&self) -> Venue;
    /// The public production endpoint used when the config sets no `ws_url`.
    fn default_ws_url(&self) -> &'static str;
    /// The public production REST base used for backfill when the config sets no `rest_url`.
    fn default_rest_url(&self) -> &'static str;
    /// The URL to connect to, given the configured base (Binance puts streams in the URL).
    fn connect_url(&self, base: &str) -> String;
    /// Called once per new connection, before the subscribe messages: resets per-connection
    /// parser state (Coinbase's `sequence_num` starts afresh on every connection).
    fn on_connect(&self) {}
    /// Messages to send right after connecting.
    fn subscribe_messages(&self) -> Vec<String>;
    /// How many acknowledgements confirm the whole subscription (0: the handshake confirms it).
    fn expected_acks(&self) -> usize;
    /// The message that retries a refused subscription, if it can be retried.
    fn resubscribe_message(&self, rejection: &SubRejection) -> Option<String>;
    /// Liveness rules.
    fn heartbeat(&self) -> HeartbeatRules;
    /// The application-level ping, for venues with [`ClientPing::AppMessage`].
    fn ping_message(&self, req_id: u64) -> Option<String>;
    /// Parses one frame, appending events (including reject rows) to `out`.
    fn parse(&self, frame: Frame<'_>, ts_recv_us: i64, out: &mut Vec<Event>) -> FrameKind;
    /// The unified symbols of this connection.
    fn symbols(&self) -> Vec<Arc<str>>;
    /// A cursor that fetches the trades of `gap` from the REST API at `rest_base`, if the venue
    /// can serve them.
    fn backfill(&self, gap: &TradeGap, rest_base: &str) -> Option<Box<dyn BackfillCursor>>;
    /// The REST URL of a full book snapshot of `symbol` (unified), for venues whose stream sends
    /// only deltas (Binance `/api/v3/depth`). `None`: the stream itself sends snapshots.
    fn book_snapshot_url(&self, _symbol: &str, _rest_base: &str) -> Option<String> {
        None
    }
    /// Parses the body fetched from [`VenueAdapter::book_snapshot_url`] into a
    /// [`tickrec_model::BookKind::Snapshot`] update.
    ///
    /// # Errors
    /// A description of what is wrong with the body.
    fn parse_book_snapshot(
        &self,
        _symbol: &Arc<str>,
        _body: &[u8],
        _ts_recv_us: i64,
    ) -> Result<tickrec_model::BookUpdate, String> {
        Err("this venue has no REST book snapshots".into())
    }
    /// Messages that make the venue send a fresh snapshot of `symbol`'s (unified) book on the
    /// open connection (typically unsubscribe + subscribe). Empty: the supervisor reconnects.
    fn book_resync_messages(&self, _symbol: &str) -> Vec<String> {
        Vec::new()
    }
}

/// Builds the adapter for `venue` and the markets of one connection.
///
/// # Errors
/// [`VenueError`] when a symbol or channel cannot be served by the venue.
pub fn adapter_for(
    venue: Venue,
    markets: &[MarketSub],
) -> Result<Box<dyn VenueAdapter>, VenueError> {
    Ok(match venue {
        Venue::Binance => Box::new(binance::BinanceAdapter::new(markets)?),
        Venue::Kraken => Box::new(kraken::KrakenAdapter::new(markets)?),
        Venue::Okx => Box::new(okx::OkxAdapter::new(markets)?),
        Venue::Upbit => Box::new(upbit::UpbitAdapter::new(markets)?),
        Venue::Bybit => Box::new(bybit::BybitAdapter::new(markets)?),
        Venue::Coinbase => Box::new(coinbase::CoinbaseAdapter::new(markets)?),
    })
}

/// Checks shared by every venue before parsing: size limit and frame type.
/// Returns `Some(kind)` when the frame was consumed as a reject.
pub fn precheck(
    venue: Venue,
    frame: Frame<'_>,
    max_bytes: usize,
    accepts_binary: bool,
    ts_recv_us: i64,
    out: &mut Vec<Event>,
) -> Option<FrameKind> {
    let bytes = frame.bytes();
    if bytes.len() > max_bytes {
        out.push(Event::Reject(Reject::new(
            venue,
            None,
            RejectReason::Oversized,
            format!(
                "frame of {} bytes exceeds limit of {max_bytes}",
                bytes.len()
            ),
            bytes,
            ts_recv_us,
        )));
        return Some(FrameKind::Rejected);
    }
    if let Frame::Binary(b) = frame {
        if !accepts_binary {
            out.push(Event::Reject(Reject::new(
                venue,
                None,
                RejectReason::BinaryFrame,
                format!("unexpected binary frame of {} bytes", b.len()),
                b,
                ts_recv_us,
            )));
            return Some(FrameKind::Rejected);
        }
    }
    None
}

/// Pages through a venue's REST trade history to fill one gap of trade ids. The venue decides the
/// URLs and the paging; the caller does the HTTP (and its rate limits).
pub trait BackfillCursor: Send {
    /// The next URL to fetch, or `None` when the gap is covered or the venue has nothing more.
    fn next_url(&self) -> Option<String>;
    /// Consumes one reply body; returns the trades of the gap found on the page.
    ///
    /// # Errors
    /// [`crate::validate::Invalid`] when the page cannot be parsed; the caller retries or
    /// reports the rest of the gap as unrepaired.
    fn on_page(
        &mut self,
        body: &str,
        ts_recv_us: i64,
    ) -> Result<Vec<tickrec_model::Trade>, crate::validate::Invalid>;
    /// Ids of the gap not found so far.
    fn missing(&self) -> u64;
}

/// A gap of trade ids (or, where ids are not contiguous, a window of time) to repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeGap {
    /// Unified symbol.
    pub symbol: Arc<str>,
    /// Aggregate-trade id space (Binance `aggTrade`) rather than single trades.
    pub aggregate: bool,
    /// First missing id.
    pub from: u64,
    /// Last missing id.
    pub to: u64,
    /// Exchange time of the last trade before the gap, µs (venues that page by time need it).
    pub after_ts_us: i64,
    /// Exchange time of the first trade after the gap, µs (0 when unknown). On venues whose
    /// trade ids are not contiguous (Upbit, Bybit) a gap is this time window, `from == to == 0`
    /// and it counts as one unit: repaired when REST reached back past `after_ts_us`.
    pub before_ts_us: i64,
}
