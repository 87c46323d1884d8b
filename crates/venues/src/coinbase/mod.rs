//! Coinbase Advanced Trade public market data: `market_trades`, `ticker` (BBO), `candles`
//! (5-minute) and `level2` (the book, pushed on `l2_data`: a full snapshot, then updates carrying
//! new totals), with `heartbeats` on every connection and the connection-wide `sequence_num`
//! checked (a jump reconnects, which also resyncs every book); a single book is resynced by
//! `unsubscribe` + `subscribe` of `level2` for its product. REST backfill from the public
//! `market/products/{id}/ticker` trades.

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

/// The Coinbase adapter for the markets of one connection.
#[derive(Debug)]
pub struct CoinbaseAdapter {
    requests: Vec<subscribe::Request>,
    parser: parse::Parser,
    unified: Vec<Arc<str>>,
    max_frame_bytes: usize,
}

impl CoinbaseAdapter {
    /// Builds the adapter; validates symbols and channels.
    ///
    /// # Errors
    /// [`VenueError`] for a malformed or non-spot symbol or an unsupported channel.
    pub fn new(markets: &[MarketSub]) -> Result<Self, VenueError> {
        let unified: Vec<Arc<str>> = markets.iter().map(|m| m.symbol.clone()).collect();
        Ok(CoinbaseAdapter {
            requests: subscribe::requests(markets)?,
            parser: parse::Parser::new(symbols::SymbolMap::new(&unified)?),
            unified,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
        })
    }
}

impl VenueAdapter for CoinbaseAdapter {
    fn venue(&self) -> Venue {
        Venue::Coinbase
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

    fn on_connect(&self) {
        self.parser.reset();
    }

    fn subscribe_messages(&self) -> Vec<String> {
        self.requests
            .iter()
            .map(subscribe::Request::message)
            .collect()
    }

    fn expected_acks(&self) -> usize {
        // One `subscriptions` message per request.
        self.requests.len()
    }

    fn resubscribe_message(&self, _rejection: &SubRejection) -> Option<String> {
        // Coinbase's error names neither channel nor product. Requests are answered in order, so
        // the refused one is the first whose channel was not confirmed.
        self.requests
            .iter()
            .find(|r| !self.parser.is_confirmed(r.channel))
            .map(subscribe::Request::message)
    }

    fn heartbeat(&self) -> HeartbeatRules {
        heartbeat::rules()
    }

    fn ping_message(&self, _req_id: u64) -> Option<String> {
        None
    }

    fn parse(&self, frame: Frame<'_>, ts_recv_us: i64, out: &mut Vec<Event>) -> FrameKind {
        if let Some(kind) = precheck(
            Venue::Coinbase,
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
        Some(Box::new(rest::CoinbaseBackfill::new(
            gap,
            rest_base,
            symbols::product_id(&gap.symbol).ok()?,
        )))
    }

    fn book_resync_messages(&self, symbol: &str) -> Vec<String> {
        let Ok(id) = symbols::product_id(symbol) else {
            return Vec::new();
        };
        let subscribed = self
            .requests
            .iter()
            .any(|r| r.channel == subscribe::BOOK_CHANNEL && r.product_ids.contains(&id));
        if !subscribed {
            return Vec::new();
        }
        let one = [id];
        vec![
            subscribe::op_message("unsubscribe", subscribe::BOOK_CHANNEL, &one),
            subscribe::op_message("subscribe", subscribe::BOOK_CHANNEL, &one),
        ]
    }
}
