//! Bybit v5 subscription: `{"req_id":"N","op":"subscribe","args":[topics]}`. Spot accepts at
//! most 10 topics per request (`args size >10` otherwise) and linear is capped by length, so the
//! topics are split into requests; Bybit acknowledges each request once, echoing `req_id`.

use serde_json::json;
use tickrec_model::{Channel, Venue};

use crate::bybit::symbols::{native, Category};
use crate::{MarketSub, VenueError};

/// Production host; `/v5/public/<category>` is appended per connection.
pub const DEFAULT_WS_URL: &str = "wss://stream.bybit.com";

/// Topics per subscribe request on spot (a venue limit).
pub const MAX_SPOT_TOPICS_PER_REQUEST: usize = 10;
/// Topics per request on linear (limited only by the 21,000-character args cap).
pub const MAX_LINEAR_TOPICS_PER_REQUEST: usize = 100;

/// Levels per side of the `book` channel (`orderbook.50`).
pub const BOOK_DEPTH: usize = 50;

/// Bybit kline interval of a candle length.
pub fn kline_interval(secs: u32) -> Option<&'static str> {
    Some(match secs {
        60 => "1",
        180 => "3",
        300 => "5",
        900 => "15",
        1800 => "30",
        3600 => "60",
        7200 => "120",
        14_400 => "240",
        21_600 => "360",
        43_200 => "720",
        86_400 => "D",
        604_800 => "W",
        _ => return None,
    })
}

/// Seconds of a Bybit kline interval (`1` → 60, `D` → 86400).
pub fn interval_secs(interval: &str) -> Option<u32> {
    match interval {
        "D" => Some(86_400),
        "W" => Some(604_800),
        m => m.parse::<u32>().ok().filter(|m| *m > 0)?.checked_mul(60),
    }
}

/// The topic of one channel: `publicTrade.BTCUSDT`, `orderbook.1.BTCUSDT`, `kline.1.BTCUSDT`.
///
/// # Errors
/// [`VenueError`] for a bad symbol or an unsupported channel.
pub fn topic(symbol: &str, channel: Channel) -> Result<String, VenueError> {
    let (_, n) = native(symbol)?;
    Ok(match channel {
        Channel::Trades => format!("publicTrade.{n}"),
        // Spot tickers carry no bid/ask: the one-level book is Bybit's BBO stream.
        Channel::Bbo => format!("orderbook.1.{n}"),
        // 50 levels, snapshot then deltas every 20 ms with `u` rising by one per message.
        Channel::Book => format!("orderbook.{BOOK_DEPTH}.{n}"),
        Channel::Candles(secs) => match kline_interval(secs) {
            Some(i) => format!("kline.{i}.{n}"),
            None => return Err(unsupported(channel)),
        },
        Channel::AggTrades => return Err(unsupported(channel)),
    })
}

fn unsupported(channel: Channel) -> VenueError {
    VenueError::UnsupportedChannel {
        venue: Venue::Bybit,
        channel,
        supported: "trades, bbo, book, candles_{1m,3m,5m,15m,30m,1h,2h,4h,6h,12h,1d,1w}",
    }
}

/// A subscribe request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Our request id.
    pub req_id: u64,
    /// Topics.
    pub topics: Vec<String>,
}

impl Request {
    /// The JSON text of the request.
    pub fn message(&self) -> String {
        op_message(self.req_id, "subscribe", &self.topics)
    }
}

/// `{"req_id":"N","op":<op>,"args":[topics]}`.
pub fn op_message(req_id: u64, op: &str, topics: &[String]) -> String {
    json!({"req_id": req_id.to_string(), "op": op, "args": topics}).to_string()
}

impl Request {
    /// The `orderbook.50` topic of `symbol` if this request carries it.
    pub fn book_topic(&self, symbol: &str) -> Option<&String> {
        let t = topic(symbol, Channel::Book).ok()?;
        self.topics.iter().find(|x| **x == t)
    }
}

/// The subscribe requests of one connection.
///
/// # Errors
/// As [`topic`], plus [`VenueError::Empty`].
pub fn requests(markets: &[MarketSub], category: Category) -> Result<Vec<Request>, VenueError> {
    let mut topics: Vec<String> = Vec::new();
    for m in markets {
        for &c in &m.channels {
            let t = topic(&m.symbol, c)?;
            if !topics.contains(&t) {
                topics.push(t);
            }
        }
    }
    if topics.is_empty() {
        return Err(VenueError::Empty {
            venue: Venue::Bybit,
        });
    }
    let per = match category {
        Category::Spot => MAX_SPOT_TOPICS_PER_REQUEST,
        Category::Linear => MAX_LINEAR_TOPICS_PER_REQUEST,
    };
    Ok(topics
        .chunks(per)
        .enumerate()
        .map(|(i, t)| Request {
            req_id: i as u64 + 1,
            topics: t.to_vec(),
        })
        .collect())
}

/// `{base}/v5/public/<category>`. A base that already names a category path has it replaced by
/// the connection's own: the same native symbol means another instrument on the other socket, so
/// a mismatch would record the wrong market.
pub fn connect_url(base: &str, category: Category) -> String {
    let base = base.trim_end_matches('/');
    let host = base.split_once("/v5/public/").map_or(base, |(h, _)| h);
    format!("{host}/v5/public/{}", category.as_str())
}
