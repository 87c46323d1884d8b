//! Upbit subscription: one JSON array `[{ticket}, {type, codes}…, {format}]` carrying the whole
//! set (a later request replaces the earlier one, so it is always sent complete). Upbit sends no
//! acknowledgement: data arriving is the confirmation. The best bid/offer is the top unit of an
//! `orderbook` subscription narrowed to one level (`KRW-BTC.1`); the book is the full `orderbook`
//! (`KRW-BTC`, every message a complete top-N snapshot), and a market with both gets only the
//! full one — the parser emits the quote from its first unit.

use serde_json::json;
use tickrec_model::{Channel, Venue};

use crate::upbit::symbols::market_code;
use crate::{MarketSub, VenueError};

/// Production endpoint.
pub const DEFAULT_WS_URL: &str = "wss://api.upbit.com/websocket/v1";

/// The ticket of our requests (any unique-per-client string).
pub const TICKET: &str = "tickrec";

/// Upbit candle type suffix of an interval (`candle.1m`).
pub fn candle_unit(secs: u32) -> Option<&'static str> {
    Some(match secs {
        1 => "1s",
        60 => "1m",
        180 => "3m",
        300 => "5m",
        600 => "10m",
        900 => "15m",
        1800 => "30m",
        3600 => "60m",
        14_400 => "240m",
        _ => return None,
    })
}

/// One type object: an Upbit type and its codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeRequest {
    /// `trade`, `orderbook`, `candle.1m`…
    pub kind: String,
    /// Market codes (with the `.1` depth suffix for the BBO orderbook).
    pub codes: Vec<String>,
}

/// The type objects of one connection.
///
/// # Errors
/// [`VenueError`] for a bad symbol or channel, or nothing to subscribe.
pub fn types(markets: &[MarketSub]) -> Result<Vec<TypeRequest>, VenueError> {
    let mut out: Vec<TypeRequest> = Vec::new();
    for m in markets {
        let code = market_code(&m.symbol)?;
        // With the book wanted, the full orderbook serves both: its first unit is the BBO.
        let has_book = m.channels.contains(&Channel::Book);
        for &c in &m.channels {
            let (kind, code) = match c {
                Channel::Trades => ("trade".to_string(), code.clone()),
                Channel::Bbo if has_book => continue,
                Channel::Bbo => ("orderbook".to_string(), format!("{code}.1")),
                Channel::Book => ("orderbook".to_string(), code.clone()),
                Channel::Candles(secs) => match candle_unit(secs) {
                    Some(u) => (format!("candle.{u}"), code.clone()),
                    None => return Err(unsupported(c)),
                },
                Channel::AggTrades => return Err(unsupported(c)),
            };
            match out.iter_mut().find(|t| t.kind == kind) {
                Some(t) if t.codes.contains(&code) => {}
                Some(t) => t.codes.push(code),
                None => out.push(TypeRequest {
                    kind,
                    codes: vec![code],
                }),
            }
        }
    }
    if out.is_empty() {
        return Err(VenueError::Empty {
            venue: Venue::Upbit,
        });
    }
    Ok(out)
}

fn unsupported(channel: Channel) -> VenueError {
    VenueError::UnsupportedChannel {
        venue: Venue::Upbit,
        channel,
        supported: "trades, bbo, book, candles_{1s,1m,3m,5m,10m,15m,30m,1h,4h}",
    }
}

/// The request text for the whole set.
pub fn message(types: &[TypeRequest]) -> String {
    let mut parts = vec![json!({"ticket": TICKET})];
    parts.extend(
        types
            .iter()
            .map(|t| json!({"type": t.kind, "codes": t.codes})),
    );
    parts.push(json!({"format": "DEFAULT"}));
    serde_json::Value::Array(parts).to_string()
}
