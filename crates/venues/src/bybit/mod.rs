//! Bybit v5 spot and linear perpetuals: `publicTrade`, `orderbook.1` as the best bid/offer,
//! `orderbook.50` as the book (snapshot then deltas, `u` +1 per message; a resync is
//! `unsubscribe` + `subscribe` of the topic, answered by a fresh snapshot) and `kline`. JSON ping every 20 s;
//! at most 10 topics per spot request; REST `recent-trade` backfill (the last 60 spot trades
//! only — a longer outage is reported as unrepaired).

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

/// The Bybit adapter for the markets of one connection (one category).
#[derive(Debug)]
pub struct BybitAdapter {
    requests: Vec<subscribe::Request>,
    symbols: symbols::SymbolMap,
    unified: Vec<Arc<str>>,
    max_frame_bytes: usize,
}

impl BybitAdapter {
    /// Builds the adapter; validates symbols, channels and the category.
    ///
    /// # Errors
    /// [`VenueError`] for a malformed or unsupported symbol or channel, or spot and perpetuals
    /// on one connection.
    pub fn new(markets: &[MarketSub]) -> Result<Self, VenueError> {
        let unified: Vec<Arc<str>> = markets.iter().map(|m| m.symbol.clone()).collect();
        let symbols = symbols::SymbolMap::new(&unified)?;
        Ok(BybitAdapter {
            requests: subscribe::requests(markets, symbols.category())?,
            symbols,
            unified,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
        })
    }

    /// The category of this connection.
    pub fn category(&self) -> symbols::Category {
        self.symbols.category()
    }
}

impl VenueAdapter for BybitAdapter {
    fn venue(&self) -> Venue {
        Venue::Bybit
    }

    fn default_ws_url(&self) -> &'static str {
        subscribe::DEFAULT_WS_URL
    }

    fn default_rest_url(&self) -> &'static str {
        rest::DEFAULT_REST_URL
    }

    fn connect_url(&self, base: &str) -> String {
        subscribe::connect_url(base, self.category())
    }

    fn subscribe_messages(&self) -> Vec<String> {
        self.requests
            .iter()
            .map(subscribe::Request::message)
            .collect()
    }

    fn expected_acks(&self) -> usize {
        // One acknowledgement per request.
        self.requests.len()
    }

    fn resubscribe_message(&self, rejection: &SubRejection) -> Option<String> {
        self.requests
            .iter()
            .find(|r| Some(r.req_id) == rejection.req_id)
            .map(subscribe::Request::message)
    }

    fn heartbeat(&self) -> HeartbeatRules {
        heartbeat::rules()
    }

    fn ping_message(&self, req_id: u64) -> Option<String> {
        Some(heartbeat::ping(req_id))
    }

    fn parse(&self, frame: Frame<'_>, ts_recv_us: i64, out: &mut Vec<Event>) -> FrameKind {
        if let Some(kind) = precheck(
            Venue::Bybit,
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
        let (category, native) = symbols::native(&gap.symbol).ok()?;
        Some(Box::new(rest::BybitBackfill::new(
            gap, rest_base, category, &native,
        )))
    }

    fn book_resync_messages(&self, symbol: &str) -> Vec<String> {
        self.requests
            .iter()
            .find_map(|r| {
                let one = std::slice::from_ref(r.book_topic(symbol)?);
                Some(vec![
                    subscribe::op_message(r.req_id, "unsubscribe", one),
                    subscribe::op_message(r.req_id, "subscribe", one),
                ])
            })
            .unwrap_or_default()
    }
}
