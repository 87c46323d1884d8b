//! Kraken v2 frames → normalized events. A push may batch several items; each item is parsed on
//! its own so one bad item becomes one reject row and never costs the good items beside it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;
use tickrec_model::{
    BookKind, BookUpdate, Candle, Event, Level, Quote, RejectReason, Side, Trade, TradeId,
    TradeKind, Venue,
};

use crate::kraken::messages::{BookItem, Envelope, OhlcItem, TickerItem, TradeItem};
use crate::kraken::symbols::SymbolMap;
use crate::validate::{self, json_invalid, push_reject, raw_number, Invalid};
use crate::{FrameKind, SubRejection};

const VENUE: Venue = Venue::Kraken;

/// Parser state of one connection.
#[derive(Debug, Default)]
pub struct Parser {
    symbols: SymbolMap,
    /// Last running candle per (symbol, interval): Kraken has no closed flag, so a candle is
    /// final when one with a later `interval_begin` arrives — we then store it as closed.
    running: Mutex<HashMap<(Arc<str>, u32), Candle>>,
}

impl Parser {
    /// A parser for the given symbols.
    pub fn new(symbols: SymbolMap) -> Self {
        Parser {
            symbols,
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Parses one text frame.
    pub fn parse_text(&self, text: &str, ts_recv_us: i64, out: &mut Vec<Event>) -> FrameKind {
        let raw = text.as_bytes();
        let env: Envelope<'_> = match serde_json::from_str(text) {
            Ok(e) => e,
            Err(e) => {
                push_reject(out, VENUE, None, json_invalid("frame", &e), raw, ts_recv_us);
                return FrameKind::Rejected;
            }
        };
        if let Some(method) = env.method.as_deref() {
            return response(method, &env);
        }
        if let Some(err) = env.error.as_deref() {
            let inv = Invalid::new(RejectReason::VenueError, format!("venue error: {err}"));
            push_reject(out, VENUE, None, inv, raw, ts_recv_us);
            return FrameKind::Rejected;
        }
        let channel = env.channel.as_deref().unwrap_or("");
        match channel {
            "heartbeat" => return FrameKind::Heartbeat,
            "status" | "instrument" => return FrameKind::Status,
            "trade" | "ticker" | "ohlc" | "book" => {}
            _ => {
                let inv = Invalid::new(
                    RejectReason::UnknownMessage,
                    format!("unknown channel `{channel}`"),
                );
                push_reject(out, VENUE, None, inv, raw, ts_recv_us);
                return FrameKind::Rejected;
            }
        }
        let Some(items) = env.data.as_ref() else {
            let inv = Invalid::new(
                RejectReason::MissingField,
                format!("`{channel}` push without `data`"),
            );
            push_reject(out, VENUE, None, inv, raw, ts_recv_us);
            return FrameKind::Rejected;
        };
        let snapshot = env.kind.as_deref() == Some("snapshot");
        if channel == "book" && !matches!(env.kind.as_deref(), Some("snapshot" | "update")) {
            // A book message must say whether it replaces or changes the book.
            let inv = Invalid::new(
                RejectReason::UnknownMessage,
                format!("book push of type {:?}", env.kind.as_deref().unwrap_or("")),
            );
            push_reject(out, VENUE, None, inv, raw, ts_recv_us);
            return FrameKind::Rejected;
        }
        let env_ts = env.timestamp.as_deref();
        let mut good = 0usize;
        for item in items {
            let before = out.len();
            let result = match channel {
                "trade" => self.trade(item, ts_recv_us).map(|e| out.push(e)),
                "ticker" => self.ticker(item, ts_recv_us).map(|e| out.push(e)),
                "ohlc" => self.ohlc(item, env_ts, ts_recv_us, out),
                _ => self.book(item, snapshot, ts_recv_us).map(|e| out.push(e)),
            };
            match result {
                Ok(()) => good += out.len() - before,
                Err((symbol, inv)) => {
                    push_reject(out, VENUE, symbol, inv, item.get().as_bytes(), ts_recv_us);
                }
            }
        }
        if good == 0 && !items.is_empty() {
            FrameKind::Rejected
        } else {
            FrameKind::Data
        }
    }

    fn symbol(&self, native: &str) -> Result<Arc<str>, ItemError> {
        self.symbols.unified(native).cloned().ok_or_else(|| {
            (
                Some(Arc::from(native)),
                Invalid::new(
                    RejectReason::UnknownSymbol,
                    format!("symbol `{native}` is not subscribed on this connection"),
                ),
            )
        })
    }

    fn trade(&self, item: &RawValue, ts_recv_us: i64) -> Result<Event, ItemError> {
        let m: TradeItem<'_> =
            serde_json::from_str(item.get()).map_err(|e| (None, json_invalid("trade", &e)))?;
        let symbol = self.symbol(&m.symbol)?;
        let with = |inv| (Some(symbol.clone()), inv);
        let side = match &*m.side {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            other => {
                return Err(with(Invalid::new(
                    RejectReason::UnknownMessage,
                    format!("unknown side `{other}`"),
                )))
            }
        };
        Ok(Event::Trade(Trade {
            venue: VENUE,
            trade_id: TradeId::Num(m.trade_id),
            price: validate::price("price", raw_number(m.price)).map_err(with)?,
            qty: validate::qty("qty", raw_number(m.qty)).map_err(with)?,
            side,
            ts_exchange_us: validate::timestamp_rfc3339("timestamp", &m.timestamp).map_err(with)?,
            ts_recv_us,
            kind: TradeKind::Single,
            symbol,
        }))
    }

    fn ticker(&self, item: &RawValue, ts_recv_us: i64) -> Result<Event, ItemError> {
        let m: TickerItem<'_> =
            serde_json::from_str(item.get()).map_err(|e| (None, json_invalid("ticker", &e)))?;
        let symbol = self.symbol(&m.symbol)?;
        let with = |inv| (Some(symbol.clone()), inv);
        let ts_exchange_us = match m.timestamp.as_deref() {
            Some(t) => Some(validate::timestamp_rfc3339("timestamp", t).map_err(with)?),
            None => None,
        };
        Ok(Event::Quote(Quote {
            venue: VENUE,
            bid_price: validate::non_negative("bid", raw_number(m.bid)).map_err(with)?,
            bid_qty: validate::non_negative("bid_qty", raw_number(m.bid_qty)).map_err(with)?,
            ask_price: validate::non_negative("ask", raw_number(m.ask)).map_err(with)?,
            ask_qty: validate::non_negative("ask_qty", raw_number(m.ask_qty)).map_err(with)?,
            ts_exchange_us,
            ts_recv_us,
            update_id: None,
            symbol,
        }))
    }

    fn ohlc(
        &self,
        item: &RawValue,
        env_ts: Option<&str>,
        ts_recv_us: i64,
        out: &mut Vec<Event>,
    ) -> Result<(), ItemError> {
        let m: OhlcItem<'_> =
            serde_json::from_str(item.get()).map_err(|e| (None, json_invalid("ohlc", &e)))?;
        let symbol = self.symbol(&m.symbol)?;
        let with = |inv| (Some(symbol.clone()), inv);
        let ts_exchange_us = match env_ts {
            Some(t) => validate::timestamp_rfc3339("timestamp", t).map_err(with)?,
            None => ts_recv_us,
        };
        let candle = Candle {
            venue: VENUE,
            symbol: symbol.clone(),
            interval_s: m.interval.saturating_mul(60),
            open_time_us: validate::timestamp_rfc3339("interval_begin", &m.interval_begin)
                .map_err(with)?,
            open: validate::price("open", raw_number(m.open)).map_err(with)?,
            high: validate::price("high", raw_number(m.high)).map_err(with)?,
            low: validate::price("low", raw_number(m.low)).map_err(with)?,
            close: validate::price("close", raw_number(m.close)).map_err(with)?,
            volume: validate::non_negative("volume", raw_number(m.volume)).map_err(with)?,
            quote_volume: None,
            trades: Some(m.trades),
            closed: false,
            ts_exchange_us,
            ts_recv_us,
        };
        // A poisoned lock only means another parse panicked mid-update; the map is still usable.
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let key = (symbol, candle.interval_s);
        match running.get(&key) {
            Some(prev) if prev.open_time_us < candle.open_time_us => {
                let mut closed = prev.clone();
                closed.closed = true;
                closed.ts_recv_us = ts_recv_us;
                out.push(Event::Candle(closed));
                running.insert(key, candle.clone());
            }
            Some(prev) if prev.open_time_us > candle.open_time_us => {}
            _ => {
                running.insert(key, candle.clone());
            }
        }
        out.push(Event::Candle(candle));
        Ok(())
    }

    fn book(&self, item: &RawValue, snapshot: bool, ts_recv_us: i64) -> Result<Event, ItemError> {
        let m: BookItem<'_> =
            serde_json::from_str(item.get()).map_err(|e| (None, json_invalid("book", &e)))?;
        let symbol = self.symbol(&m.symbol)?;
        let with = |inv| (Some(symbol.clone()), inv);
        let levels = |side: &str, lv: &[crate::kraken::messages::BookLevel<'_>]| {
            lv.iter()
                .map(|l| {
                    Ok(Level {
                        price: validate::price(side, raw_number(l.price))?,
                        qty: validate::non_negative(side, raw_number(l.qty))?,
                    })
                })
                .collect::<Result<Vec<_>, Invalid>>()
        };
        let ts_exchange_us = match m.timestamp.as_deref() {
            Some(t) => Some(validate::timestamp_rfc3339("timestamp", t).map_err(with)?),
            None => None,
        };
        Ok(Event::Book(BookUpdate {
            venue: VENUE,
            kind: if snapshot {
                BookKind::Snapshot
            } else {
                BookKind::Delta
            },
            first_update_id: None,
            last_update_id: None,
            bids: levels("bids", &m.bids).map_err(with)?,
            asks: levels("asks", &m.asks).map_err(with)?,
            checksum: Some(m.checksum),
            ts_exchange_us,
            ts_recv_us,
            symbol,
            verified: false,
        }))
    }
}

type ItemError = (Option<Arc<str>>, Invalid);

fn response(method: &str, env: &Envelope<'_>) -> FrameKind {
    match (method, env.success) {
        ("pong", _) => FrameKind::Pong,
        ("subscribe", Some(true)) => FrameKind::SubscribeAck(1),
        ("subscribe", _) => {
            let error = env
                .error
                .as_deref()
                .unwrap_or("subscription refused")
                .to_string();
            if error.contains("Already subscribed") {
                // The subscription we wanted exists: that is a confirmation, not a failure.
                FrameKind::SubscribeAck(1)
            } else {
                FrameKind::SubscribeRejected(SubRejection {
                    req_id: env.req_id,
                    symbol: env.symbol.as_deref().map(str::to_string),
                    error,
                })
            }
        }
        _ => FrameKind::Status,
    }
}
