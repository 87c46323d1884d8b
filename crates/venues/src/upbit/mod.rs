//! Upbit: `trade`, `orderbook` narrowed to one level as the best bid/offer, the full `orderbook`
//! as the book (every message a complete snapshot: nothing to sequence, nothing to resync), and
//! `candle.*`.
//! JSON arrives in binary frames, numbers are JSON numbers (exponent forms included), there are
//! no subscription acknowledgements, and trade ids are unique but not contiguous; REST
//! `/v1/trades/ticks` backfill by time window.

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

/// The Upbit adapter for the markets of one connection.
#[derive(Debug)]
pub struct UpbitAdapter {
    request: String,
    parser: parse::Parser,
    unified: Vec<Arc<str>>,
    max_frame_bytes: usize,
}

impl UpbitAdapter {
    /// Builds the adapter; validates symbols and channels.
    ///
    /// # Errors
    /// [`VenueError`] for a malformed or non-spot symbol or an unsupported channel.
    pub fn new(markets: &[MarketSub]) -> Result<Self, VenueError> {
        let unified: Vec<Arc<str>> = markets.iter().map(|m| m.symbol.clone()).collect();
        Ok(UpbitAdapter {
            request: subscribe::message(&subscribe::types(markets)?),
            parser: parse::Parser::new(symbols::SymbolMap::new(&unified)?)
                .with_orderbook_channels(markets),
            unified,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
        })
    }
}

impl VenueAdapter for UpbitAdapter {
    fn venue(&self) -> Venue {
        Venue::Upbit
    }

    fn default_ws_url(&self) -> &'static str {
        subscribe::DEFAULT_WS_URL
    }

    fn default_rest_url(&self) -> &'static str {
        rest::DEFAULT_REST_URL
    }

    fn connect_url(&self, base: &str) -> String {
        base.to_string()
    }

    fn subscribe_messages(&self) -> Vec<String> {
        vec![self.request.clone()]
    }

    fn expected_acks(&self) -> usize {
        // Upbit never acknowledges; data arriving is the confirmation.
        0
    }

    fn resubscribe_message(&self, _rejection: &SubRejection) -> Option<String> {
        // Errors name no stream; the request always carries the whole set, so resend it.
        Some(self.request.clone())
    }

    fn heartbeat(&self) -> HeartbeatRules {
        heartbeat::rules()
    }

    fn ping_message(&self, _req_id: u64) -> Option<String> {
        None
    }

    fn parse(&self, frame: Frame<'_>, ts_recv_us: i64, out: &mut Vec<Event>) -> FrameKind {
        if let Some(kind) = precheck(
            Venue::Upbit,
            frame,
            self.max_frame_bytes,
            true,
            ts_recv_us,
            out,
        ) {
            return kind;
        }
        self.parser.parse_bytes(frame.bytes(), ts_recv_us, out)
    }

    fn symbols(&self) -> Vec<Arc<str>> {
        self.unified.clone()
    }

    fn backfill(&self, gap: &TradeGap, rest_base: &str) -> Option<Box<dyn BackfillCursor>> {
        Some(Box::new(rest::UpbitBackfill::new(
            gap,
            rest_base,
            symbols::market_code(&gap.symbol).ok()?,
        )))
    }
}
