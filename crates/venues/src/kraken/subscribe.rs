//! Kraken v2 subscription: one `subscribe` request per channel carrying every symbol, each with
//! its own `req_id` so that a refusal (one per symbol) can be retried for exactly that channel and
//! symbol. Kraken acknowledges each symbol separately.

use serde_json::json;
use tickrec_model::{Channel, Venue};

use crate::kraken::symbols::canonical;
use crate::{MarketSub, VenueError};

/// Levels per side of the `book` subscription: Kraken's checksum covers the top 10 whatever the
/// depth, so 10 is the cheapest depth that is fully verified on every message.
pub const BOOK_DEPTH: usize = 10;

/// Production endpoint.
pub const DEFAULT_WS_URL: &str = "wss://ws.kraken.com/v2";

/// One subscribe request: a channel with its parameters and the symbols for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Our request id.
    pub req_id: u64,
    /// The normalized channel.
    pub channel: Channel,
    /// Native symbols.
    pub symbols: Vec<String>,
}

impl Request {
    /// The JSON text of this request for the given symbols.
    pub fn message(&self, symbols: &[String]) -> String {
        self.request("subscribe", symbols)
    }

    /// The `unsubscribe` counterpart of [`Request::message`] (same `req_id`, so a refusal of
    /// either half is traced to this request).
    pub fn unsubscribe_message(&self, symbols: &[String]) -> String {
        self.request("unsubscribe", symbols)
    }

    fn request(&self, method: &str, symbols: &[String]) -> String {
        let mut params = match self.channel {
            Channel::Candles(secs) => json!({"channel": "ohlc", "interval": secs / 60}),
            Channel::Bbo => json!({"channel": "ticker", "event_trigger": "bbo"}),
            Channel::Trades | Channel::AggTrades => json!({"channel": "trade"}),
            Channel::Book => json!({"channel": "book", "depth": BOOK_DEPTH}),
        };
        params["symbol"] = json!(symbols);
        if method == "subscribe" {
            // Docs disagree on the default, so always say it: the snapshot re-delivers recent
            // trades after a reconnect (the natural key makes the overlap harmless) and starts
            // every book.
            params["snapshot"] = json!(true);
        }
        json!({"method": method, "params": params, "req_id": self.req_id}).to_string()
    }
}

const OHLC_MINUTES: [u32; 9] = [1, 5, 15, 30, 60, 240, 1440, 10_080, 21_600];

fn check_channel(channel: Channel) -> Result<(), VenueError> {
    let ok = match channel {
        Channel::Trades | Channel::Bbo | Channel::Book => true,
        Channel::AggTrades => false,
        Channel::Candles(secs) => secs % 60 == 0 && OHLC_MINUTES.contains(&(secs / 60)),
    };
    if ok {
        Ok(())
    } else {
        Err(VenueError::UnsupportedChannel {
            venue: Venue::Kraken,
            channel,
            supported: "trades, bbo, book, candles_{1m,5m,15m,30m,1h,4h,1d,1w,15d}",
        })
    }
}

/// Groups the markets into one request per channel.
///
/// # Errors
/// [`VenueError`] for a malformed symbol, an unsupported channel, or nothing to subscribe.
pub fn requests(markets: &[MarketSub]) -> Result<Vec<Request>, VenueError> {
    let mut out: Vec<Request> = Vec::new();
    for m in markets {
        let native = canonical(&m.symbol)?;
        for &c in &m.channels {
            check_channel(c)?;
            match out.iter_mut().find(|r| r.channel == c) {
                Some(r) => {
                    if !r.symbols.contains(&native) {
                        r.symbols.push(native.clone());
                    }
                }
                None => out.push(Request {
                    req_id: out.len() as u64 + 1,
                    channel: c,
                    symbols: vec![native.clone()],
                }),
            }
        }
    }
    if out.is_empty() {
        return Err(VenueError::Empty {
            venue: Venue::Kraken,
        });
    }
    Ok(out)
}
