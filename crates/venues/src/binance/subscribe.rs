//! Binance subscription: every stream goes into the combined-stream URL
//! (`/stream?streams=a/b/c`), so data flows from the first frame and no request can be refused
//! half-way; a reconnect replays the same URL.

use tickrec_model::{Channel, Venue};

use crate::binance::symbols::native_stream_symbol;
use crate::{MarketSub, VenueError};

/// Binance's limit of streams per connection.
pub const MAX_STREAMS_PER_CONNECTION: usize = 1024;

/// Production endpoint.
pub const DEFAULT_WS_URL: &str = "wss://stream.binance.com:9443";

/// Stream name of one channel, e.g. `btcusdt@trade`, `btcusdt@kline_1m`.
///
/// # Errors
/// [`VenueError`] for a malformed symbol or a channel Binance does not offer.
pub fn stream_name(symbol: &str, channel: Channel) -> Result<String, VenueError> {
    let s = native_stream_symbol(symbol)?;
    let suffix = match channel {
        Channel::Trades => "trade".to_string(),
        Channel::AggTrades => "aggTrade".to_string(),
        Channel::Bbo => "bookTicker".to_string(),
        // The diff stream; the book starts from the REST snapshot (`rest::depth_snapshot_url`).
        Channel::Book => "depth@100ms".to_string(),
        Channel::Candles(secs) => match binance_interval(secs) {
            Some(i) => format!("kline_{i}"),
            None => {
                return Err(VenueError::UnsupportedChannel {
                    venue: Venue::Binance,
                    channel,
                    supported: "trades, agg_trades, bbo, book, candles_{1s,1m,3m,5m,15m,30m,1h,2h,4h,6h,8h,12h,1d,3d,1w}",
                })
            }
        },
    };
    Ok(format!("{s}@{suffix}"))
}

fn binance_interval(secs: u32) -> Option<&'static str> {
    Some(match secs {
        1 => "1s",
        60 => "1m",
        180 => "3m",
        300 => "5m",
        900 => "15m",
        1800 => "30m",
        3600 => "1h",
        7200 => "2h",
        14_400 => "4h",
        21_600 => "6h",
        28_800 => "8h",
        43_200 => "12h",
        86_400 => "1d",
        259_200 => "3d",
        604_800 => "1w",
        _ => return None,
    })
}

/// All stream names of a connection.
///
/// # Errors
/// As [`stream_name`], plus [`VenueError::TooManyStreams`] and [`VenueError::Empty`].
pub fn stream_names(markets: &[MarketSub]) -> Result<Vec<String>, VenueError> {
    let mut out = Vec::new();
    for m in markets {
        for c in &m.channels {
            out.push(stream_name(&m.symbol, *c)?);
        }
    }
    if out.is_empty() {
        return Err(VenueError::Empty {
            venue: Venue::Binance,
        });
    }
    if out.len() > MAX_STREAMS_PER_CONNECTION {
        return Err(VenueError::TooManyStreams {
            venue: Venue::Binance,
            count: out.len(),
            limit: MAX_STREAMS_PER_CONNECTION,
        });
    }
    Ok(out)
}

/// `{base}/stream?streams=a/b/c`.
pub fn connect_url(base: &str, streams: &[String]) -> String {
    format!(
        "{}/stream?streams={}",
        base.trim_end_matches('/'),
        streams.join("/")
    )
}
