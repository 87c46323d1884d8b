//! Binance spot: `trade`, `aggTrade`, `bookTicker`, `kline_<interval>` and the diff book stream
//! `depth@100ms` over the combined stream (`/stream?streams=...`). The book starts from the REST
//! `/api/v3/depth` snapshot ([`VenueAdapter::book_snapshot_url`]); `U`/`u` align the stream to its
//! `lastUpdateId`, so a resync refetches the snapshot (no resync messages).

pub mod heartbeat;
pub mod instruments;
pub mod messages;
pub mod parse;
pub mod rest;
pub mod subscribe;
pub mod symbols;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use tickrec_model::{Event, Venue};

use crate::adapter::precheck;
use crate::{
    BackfillCursor, Frame, FrameKind, HeartbeatRules, MarketSub, SubRejection, TradeGap,
    VenueAdapter, VenueError, DEFAULT_MAX_FRAME_BYTES,
};

/// The Binance adapter for the markets of one connection.
#[derive(Debug, Clone)]
pub struct BinanceAdapter {
    streams: Vec<String>,
    symbols: symbols::SymbolMap,
    unified: Vec<Arc<str>>,
    max_frame_bytes: usize,
}

impl BinanceAdapter {
    /// Builds the adapter; validates symbols, channels and the stream limit.
    ///
    /// # Errors
    /// [`VenueError`] for a malformed symbol, an unsupported channel or too many streams.
    pub fn new(markets: &[MarketSub]) -> Result<Self, VenueError> {
        let unified: Vec<Arc<str>> = markets.iter().map(|m| m.symbol.clone()).collect();
        Ok(BinanceAdapter {
            streams: subscribe::stream_names(markets)?,
            symbols: symbols::SymbolMap::new(&unified)?,
            unified,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
        })
    }

    /// The stream names in the connect URL.
    pub fn streams(&self) -> &[String] {
        &self.streams
    }
}

impl VenueAdapter for BinanceAdapter {
    fn venue(&self) -> Venue {
        Venue::Binance
    }

    fn default_ws_url(&self) -> &'static str {
        subscribe::DEFAULT_WS_URL
    }

    fn default_rest_url(&self) -> &'static str {
        rest::DEFAULT_REST_URL
    }

    fn connect_url(&self, base: &str) -> String {
        subscribe::connect_url(base, &self.streams)
    }

    fn subscribe_messages(&self) -> Vec<String> {
        Vec::new()
    }

    fn expected_acks(&self) -> usize {
        0
    }

    fn resubscribe_message(&self, _rejection: &SubRejection) -> Option<String> {
        // Streams live in the URL: a refused stream means a refused handshake, retried by reconnecting.
        None
    }

    fn heartbeat(&self) -> HeartbeatRules {
        heartbeat::rules()
    }

    fn ping_message(&self, _req_id: u64) -> Option<String> {
        None
    }

    fn parse(&self, frame: Frame<'_>, ts_recv_us: i64, out: &mut Vec<Event>) -> FrameKind {
        if let Some(kind) = precheck(
            Venue::Binance,
            frame,
            self.max_frame_bytes,
            false,
            ts_recv_us,
            out,
        ) {
            return kind;
        }
        match frame {
            Frame::Text(text) => parse::parse_text(&self.symbols, text, ts_recv_us, out),
            Frame::Binary(_) => FrameKind::Rejected,
        }
    }

    fn symbols(&self) -> Vec<Arc<str>> {
        self.unified.clone()
    }

    fn backfill(&self, gap: &TradeGap, rest_base: &str) -> Option<Box<dyn BackfillCursor>> {
        Some(Box::new(rest::BinanceBackfill::new(
            gap,
            rest_base,
            symbols::native_stream_symbol(&gap.symbol)
                .ok()?
                .to_ascii_uppercase(),
        )))
    }

    fn book_snapshot_url(&self, symbol: &str, rest_base: &str) -> Option<String> {
        let native = symbols::native_stream_symbol(symbol).ok()?;
        Some(rest::depth_snapshot_url(
            rest_base,
            &native.to_ascii_uppercase(),
        ))
    }

    fn parse_book_snapshot(
        &self,
        symbol: &Arc<str>,
        body: &[u8],
        ts_recv_us: i64,
    ) -> Result<tickrec_model::BookUpdate, String> {
        rest::parse_depth_snapshot(symbol, body, ts_recv_us)
            .map_err(|inv| format!("{}: {}", inv.reason, inv.detail))
    }
}
