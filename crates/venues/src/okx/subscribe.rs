//! OKX v5 subscription. Trades (`trades-all`: one message per fill, so every trade id arrives and
//! continuity can be checked) and candles live on `/ws/v5/business`; the best bid/offer
//! (`bbo-tbt`) and the 400-level book (`books`: snapshot, then 100 ms updates chained by
//! `prevSeqId`) live on `/ws/v5/public`. A connection talks to one endpoint, so a market entry
//! that mixes the two is a configuration error naming the fix.
//!
//! Requests carry a numeric `id` (echoed in errors, so a refusal can be retried precisely); OKX
//! acknowledges every arg separately.

use serde_json::json;
use tickrec_model::{Channel, Venue};

use crate::okx::symbols::inst_id;
use crate::{MarketSub, VenueError};

/// Production host; the endpoint path is appended per connection.
pub const DEFAULT_WS_URL: &str = "wss://ws.okx.com:8443";

/// Args per subscribe request (OKX caps a request at 64 KB; 100 short args stay far below).
pub const MAX_ARGS_PER_REQUEST: usize = 100;

/// The two public endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/ws/v5/public`: books, `bbo-tbt`, `tickers`, `trades`.
    Public,
    /// `/ws/v5/business`: `trades-all`, `candle*`.
    Business,
}

impl Endpoint {
    /// URL path of the endpoint.
    pub const fn path(self) -> &'static str {
        match self {
            Endpoint::Public => "/ws/v5/public",
            Endpoint::Business => "/ws/v5/business",
        }
    }
}

/// One `{channel, instId}` subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// OKX channel name.
    pub channel: String,
    /// Instrument id.
    pub inst_id: String,
}

/// A subscribe request: our id and its args.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Our request id (echoed by OKX).
    pub id: u64,
    /// Args.
    pub args: Vec<Arg>,
}

impl Request {
    /// The JSON text of the request.
    pub fn message(&self) -> String {
        op_message(self.id, "subscribe", &self.args)
    }
}

/// `{"id":"N","op":<op>,"args":[{"channel":…,"instId":…},…]}`.
pub fn op_message(id: u64, op: &str, args: &[Arg]) -> String {
    let args: Vec<_> = args
        .iter()
        .map(|a| json!({"channel": a.channel, "instId": a.inst_id}))
        .collect();
    json!({"id": id.to_string(), "op": op, "args": args}).to_string()
}

/// The `books` channel name.
pub const BOOK_CHANNEL: &str = "books";

/// OKX bar name of a candle interval; ≥ 6 h bars use the UTC-anchored variants so that open
/// times line up with every other venue (the plain ones are anchored at UTC+8).
pub fn bar(secs: u32) -> Option<&'static str> {
    Some(match secs {
        1 => "1s",
        60 => "1m",
        180 => "3m",
        300 => "5m",
        900 => "15m",
        1800 => "30m",
        3600 => "1H",
        7200 => "2H",
        14_400 => "4H",
        21_600 => "6Hutc",
        43_200 => "12Hutc",
        86_400 => "1Dutc",
        604_800 => "1Wutc",
        _ => return None,
    })
}

/// Interval in seconds of a `candle<bar>` channel name (`candle1m`, `candle1Dutc`).
pub fn channel_interval(channel: &str) -> Option<u32> {
    let bar = channel.strip_prefix("candle")?;
    let bar = bar.strip_suffix("utc").unwrap_or(bar);
    let (n, unit) = bar.split_at(bar.len().checked_sub(1)?);
    let n: u32 = n.parse().ok().filter(|n| *n > 0)?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "H" => 3600,
        "D" => 86_400,
        "W" => 604_800,
        // Months have no fixed length in seconds.
        _ => return None,
    };
    n.checked_mul(mul)
}

const SUPPORTED: &str = "trades, bbo, book, candles_{1s,1m,3m,5m,15m,30m,1h,2h,4h,6h,12h,1d,1w}";

fn channel_arg(channel: Channel) -> Result<(Endpoint, String), VenueError> {
    let unsupported = || VenueError::UnsupportedChannel {
        venue: Venue::Okx,
        channel,
        supported: SUPPORTED,
    };
    match channel {
        Channel::Trades => Ok((Endpoint::Business, "trades-all".into())),
        Channel::Bbo => Ok((Endpoint::Public, "bbo-tbt".into())),
        Channel::Book => Ok((Endpoint::Public, BOOK_CHANNEL.into())),
        Channel::Candles(secs) => bar(secs)
            .map(|b| (Endpoint::Business, format!("candle{b}")))
            .ok_or_else(unsupported),
        Channel::AggTrades => Err(unsupported()),
    }
}

/// The endpoint and subscribe requests of one connection.
///
/// # Errors
/// [`VenueError`] for a bad symbol or channel, nothing to subscribe, or channels on both
/// endpoints.
pub fn plan(markets: &[MarketSub]) -> Result<(Endpoint, Vec<Request>), VenueError> {
    let mut endpoint = None;
    let mut args = Vec::new();
    for m in markets {
        let inst = inst_id(&m.symbol)?;
        for &c in &m.channels {
            let (ep, channel) = channel_arg(c)?;
            if endpoint.is_some_and(|e| e != ep) {
                return Err(VenueError::SplitConnection {
                    venue: Venue::Okx,
                    detail: "bbo and book are served on /ws/v5/public, trades and candles on /ws/v5/business",
                });
            }
            endpoint = Some(ep);
            let arg = Arg {
                channel,
                inst_id: inst.clone(),
            };
            if !args.contains(&arg) {
                args.push(arg);
            }
        }
    }
    let Some(endpoint) = endpoint else {
        return Err(VenueError::Empty { venue: Venue::Okx });
    };
    let requests = args
        .chunks(MAX_ARGS_PER_REQUEST)
        .enumerate()
        .map(|(i, a)| Request {
            id: i as u64 + 1,
            args: a.to_vec(),
        })
        .collect();
    Ok((endpoint, requests))
}

/// `{base}{endpoint path}`. A base that already names an endpoint has it replaced by the one the
/// channels need (a `ws_url` ending in `/public` for a trades connection would only earn refusals).
pub fn connect_url(base: &str, endpoint: Endpoint) -> String {
    let base = base.trim_end_matches('/');
    let host = base
        .strip_suffix(Endpoint::Public.path())
        .or_else(|| base.strip_suffix(Endpoint::Business.path()))
        .unwrap_or(base);
    format!("{host}{}", endpoint.path())
}
