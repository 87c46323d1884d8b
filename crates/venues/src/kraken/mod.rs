//! Kraken spot, WebSocket API v2: `trade`, `ticker` (BBO), `ohlc` and `book` (depth 10: a
//! snapshot, then updates each carrying the CRC32 of the top 10 — Kraken's only book integrity
//! check; a resync is `unsubscribe` + `subscribe` of that symbol's book).

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

use tickrec_model::{Channel, Event, Venue};

use crate::adapter::precheck;
use crate::{
    BackfillCursor, Frame, FrameKind, HeartbeatRules, MarketSub, SubRejection, TradeGap,
    VenueAdapter, VenueError, DEFAULT_MAX_FRAME_BYTES,
};

/// The Kraken v2 adapter for the markets of one connection.
#[derive(Debug)]
pub struct KrakenAdapter {
    requests: Vec<subscribe::Request>,
    parser: parse::Parser,
    unified: Vec<Arc<str>>,
    max_frame_bytes: usize,
}

impl KrakenAdapter {
    /// Builds the adapter; validates symbols and channels.
    ///
    /// # Errors
    /// [`VenueError`] for a malformed symbol or an unsupported channel.
    pub fn new(markets: &[MarketSub]) -> Result<Self, VenueError> {
        let unified: Vec<Arc<str>> = markets.iter().map(|m| m.symbol.clone()).collect();
        Ok(KrakenAdapter {
            requests: subscribe::requests(markets)?,
            parser: parse::Parser::new(symbols::SymbolMap::new(&unified)?),
            unified,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
        })
    }
}

impl VenueAdapter for KrakenAdapter {
    fn venue(&self) -> Venue {
        Venue::Kraken
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
        self.requests
            .iter()
            .map(|r| r.message(&r.symbols))
            .collect()
    }

    fn expected_acks(&self) -> usize {
        // One acknowledgement per symbol per request.
        self.requests.iter().map(|r| r.symbols.len()).sum()
    }

    fn resubscribe_message(&self, rejection: &SubRejection) -> Option<String> {
        let req = self
            .requests
            .iter()
            .find(|r| Some(r.req_id) == rejection.req_id)?;
        let symbols = match &rejection.symbol {
            Some(s) => vec![s.clone()],
            None => req.symbols.clone(),
        };
        Some(req.message(&symbols))
    }

    fn heartbeat(&self) -> HeartbeatRules {
        heartbeat::rules()
    }

    fn ping_message(&self, req_id: u64) -> Option<String> {
        Some(heartbeat::ping(req_id))
    }

    fn parse(&self, frame: Frame<'_>, ts_recv_us: i64, out: &mut Vec<Event>) -> FrameKind {
        if let Some(kind) = precheck(
            Venue::Kraken,
            frame,
            self.max_frame_bytes,
            false,
            ts_recv_us,
            out,
        ) {
            return kind;
        }
        match frame {
            Frame::Text(text) => self.parser.parse_text(text, ts_recv_us, out),
            Frame::Binary(_) => FrameKind::Rejected,
        }
    }

    fn symbols(&self) -> Vec<Arc<str>> {
        self.unified.clone()
    }

    fn backfill(&self, gap: &TradeGap, rest_base: &str) -> Option<Box<dyn BackfillCursor>> {
        Some(Box::new(rest::KrakenBackfill::new(gap, rest_base)))
    }

    fn book_resync_messages(&self, symbol: &str) -> Vec<String> {
        let Ok(native) = symbols::canonical(symbol) else {
            return Vec::new();
        };
        self.requests
            .iter()
            .find(|r| r.channel == Channel::Book && r.symbols.contains(&native))
            .map(|r| {
                let one = [native];
                vec![r.unsubscribe_message(&one), r.message(&one)]
            })
            .unwrap_or_default()
    }
}
