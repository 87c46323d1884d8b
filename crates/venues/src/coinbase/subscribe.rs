//! Coinbase Advanced Trade subscription: one message per channel
//! (`{"type":"subscribe","product_ids":[…],"channel":"market_trades"}`), plus `heartbeats` on
//! every connection. Each request is confirmed by a `subscriptions` message.

use serde_json::json;
use tickrec_model::{Channel, Venue};

use crate::coinbase::symbols::product_id;
use crate::{MarketSub, VenueError};

/// Production market-data endpoint.
pub const DEFAULT_WS_URL: &str = "wss://advanced-trade-ws.coinbase.com";

/// The only candle length Coinbase streams.
pub const CANDLE_SECS: u32 = 300;

/// The book channel as subscribed (its messages arrive on `l2_data`).
pub const BOOK_CHANNEL: &str = "level2";

/// One subscribe message: a channel and its products (none for `heartbeats`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Coinbase channel name.
    pub channel: &'static str,
    /// Product ids.
    pub product_ids: Vec<String>,
}

impl Request {
    /// The JSON text of the request.
    pub fn message(&self) -> String {
        op_message("subscribe", self.channel, &self.product_ids)
    }
}

/// `{"type":<op>,"product_ids":[…],"channel":…}` (no `product_ids` when empty).
pub fn op_message(op: &str, channel: &str, product_ids: &[String]) -> String {
    if product_ids.is_empty() {
        json!({"type": op, "channel": channel}).to_string()
    } else {
        json!({"type": op, "product_ids": product_ids, "channel": channel}).to_string()
    }
}

fn channel_name(channel: Channel) -> Result<&'static str, VenueError> {
    match channel {
        Channel::Trades => Ok("market_trades"),
        Channel::Bbo => Ok("ticker"),
        Channel::Candles(CANDLE_SECS) => Ok("candles"),
        // Pushed on the `l2_data` channel: a full snapshot, then updates.
        Channel::Book => Ok(BOOK_CHANNEL),
        Channel::Candles(_) | Channel::AggTrades => Err(VenueError::UnsupportedChannel {
            venue: Venue::Coinbase,
            channel,
            supported: "trades, bbo, book, candles_5m",
        }),
    }
}

/// The requests of one connection: `heartbeats` first, then one per channel.
///
/// # Errors
/// [`VenueError`] for a bad symbol or channel, or nothing to subscribe.
pub fn requests(markets: &[MarketSub]) -> Result<Vec<Request>, VenueError> {
    let mut out = vec![Request {
        channel: "heartbeats",
        product_ids: Vec::new(),
    }];
    for m in markets {
        let id = product_id(&m.symbol)?;
        for &c in &m.channels {
            let name = channel_name(c)?;
            match out.iter_mut().find(|r| r.channel == name) {
                Some(r) if r.product_ids.contains(&id) => {}
                Some(r) => r.product_ids.push(id.clone()),
                None => out.push(Request {
                    channel: name,
                    product_ids: vec![id.clone()],
                }),
            }
        }
    }
    if out.len() == 1 {
        return Err(VenueError::Empty {
            venue: Venue::Coinbase,
        });
    }
    Ok(out)
}
