//! OKX v5: `trades-all` (every fill, contiguous ids) and candles on `/ws/v5/business`,
//! `bbo-tbt` on `/ws/v5/public`; `trades`, `tickers` and book frames are parsed too (books come
//! later). Text `ping`/`pong` keep-alive; REST `history-trades` backfill.

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

/// The OKX adapter for the markets of one connection.
#[derive(Debug)]
pub struct OkxAdapter {
    endpoint: subscribe::Endpoint,
    requests: Vec<subscribe::Request>,
    parser: parse::Parser,
    unified: Vec<Arc<str>>,
    max_frame_bytes: usize,
}

impl OkxAdapter {
    /// Builds the adapter; validates symbols, channels and the endpoint split.
    ///
    /// # Errors
    /// [`VenueError`] for a malformed symbol, an unsupported channel, or channels that live on
    /// different endpoints.
    pub fn new(markets: &[MarketSub]) -> Result<Self, VenueError> {
        let unified: Vec<Arc<str>> = markets.iter().map(|m| m.symbol.clone()).collect();
        let (endpoint, requests) = subscribe::plan(markets)?;
        Ok(OkxAdapter {
            endpoint,
            requests,
            parser: parse::Parser::new(symbols::SymbolMap::new(&unified)?),
            unified,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
        })
    }

    /// The endpoint this connection talks to.
    pub fn endpoint(&self) -> subscribe::Endpoint {
        self.endpoint
    }
}

impl VenueAdapter for OkxAdapter {
    fn venue(&self) -> Venue {
        Venue::Okx
    }

    fn default_ws_url(&self) -> &'static str {
        subscribe::DEFAULT_WS_URL
    }

    fn default_rest_url(&self) -> &'static str {
        rest::DEFAULT_REST_URL
    }

    fn connect_url(&self, base: &str) -> String {
        subscribe::connect_url(base, self.endpoint)
    }

    fn subscribe_messages(&self) -> Vec<String> {
        self.requests
            .iter()
            .map(subscribe::Request::message)
            .collect()
    }

    fn expected_acks(&self) -> usize {
        // One acknowledgement per arg.
        self.requests.iter().map(|r| r.args.len()).sum()
    }

    fn resubscribe_message(&self, rejection: &SubRejection) -> Option<String> {
        // Errors echo our request id but not the arg: retry the whole request (OKX acks
        // duplicates instead of refusing them).
        self.requests
            .iter()
            .find(|r| Some(r.id) == rejection.req_id)
            .map(subscribe::Request::message)
    }

    fn heartbeat(&self) -> HeartbeatRules {
        heartbeat::rules()
    }

    fn ping_message(&self, _req_id: u64) -> Option<String> {
        Some(heartbeat::PING.to_string())
    }

    fn parse(&self, frame: Frame<'_>, ts_recv_us: i64, out: &mut Vec<Event>) -> FrameKind {
        if let Some(kind) = precheck(
            Venue::Okx,
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
        // Only `trades-all` ids are contiguous; aggregate (`trades`) gaps cannot be judged.
        if gap.aggregate {
            return None;
        }
        Some(Box::new(rest::OkxBackfill::new(
            gap,
            rest_base,
            symbols::inst_id(&gap.symbol).ok()?,
        )))
    }

    fn book_resync_messages(&self, symbol: &str) -> Vec<String> {
        let Ok(inst) = symbols::inst_id(symbol) else {
            return Vec::new();
        };
        let arg = subscribe::Arg {
            channel: subscribe::BOOK_CHANNEL.into(),
            inst_id: inst,
        };
        // OKX sends a fresh `snapshot` (prevSeqId -1) after a new subscription.
        self.requests
            .iter()
            .find(|r| r.args.contains(&arg))
            .map(|r| {
                let one = std::slice::from_ref(&arg);
                vec![
                    subscribe::op_message(r.id, "unsubscribe", one),
                    subscribe::op_message(r.id, "subscribe", one),
                ]
            })
            .unwrap_or_default()
    }
}
