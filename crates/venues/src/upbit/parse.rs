//! Upbit frames (JSON in binary frames) → normalized events. Trade ids (`sequential_id`) are
//! unique but neither ordered nor contiguous, so they are kept as text: no trade-id gap can be
//! measured on Upbit, and none is invented.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;
use tickrec_model::{
    BookKind, BookUpdate, Candle, Channel, Decimal, Event, Level, Quote, RejectReason, Side, Trade,
    TradeId, TradeKind, Venue,
};

use crate::upbit::messages::Message;
use crate::upbit::symbols::SymbolMap;
use crate::validate::{self, json_invalid, push_reject, raw_number, Invalid};
use crate::{FrameKind, MarketSub, SubRejection};

const VENUE: Venue = Venue::Upbit;

/// Parser state of one connection.
#[derive(Debug, Default)]
pub struct Parser {
    symbols: SymbolMap,
    /// Last running candle per (symbol, interval): Upbit has no closed flag, so a candle is final
    /// when one for a later bar arrives — it is then stored again as closed.
    running: Mutex<HashMap<(Arc<str>, u32), Candle>>,
    /// Markets whose `orderbook` messages are the book (the full subscription).
    book: HashSet<Arc<str>>,
    /// Markets with the book whose best bid/offer is wanted too (taken from the first unit).
    book_and_bbo: HashSet<Arc<str>>,
}

fn required<T>(field: &str, v: Option<T>) -> Result<T, Invalid> {
    v.ok_or_else(|| Invalid::new(RejectReason::MissingField, format!("missing `{field}`")))
}

fn num<'a>(field: &str, v: Option<&'a RawValue>) -> Result<&'a str, Invalid> {
    required(field, v).map(raw_number)
}

/// `BID` = the buyer was the taker; `ASK` = the seller was.
pub(crate) fn side(ask_bid: &str) -> Result<Side, Invalid> {
    match ask_bid {
        "BID" => Ok(Side::Buy),
        "ASK" => Ok(Side::Sell),
        other => Err(Invalid::new(
            RejectReason::UnknownMessage,
            format!("unknown ask_bid `{other}`"),
        )),
    }
}

/// The text of a `sequential_id`: digits only.
pub(crate) fn trade_id(raw: &RawValue) -> Result<TradeId, Invalid> {
    let t = raw_number(raw);
    if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
        return Err(Invalid::new(
            RejectReason::BadNumber,
            format!("sequential_id `{t}` is not an integer"),
        ));
    }
    Ok(TradeId::Text(t.into()))
}

impl Parser {
    /// A parser for the given symbols.
    pub fn new(symbols: SymbolMap) -> Self {
        Parser {
            symbols,
            running: Mutex::new(HashMap::new()),
            book: HashSet::new(),
            book_and_bbo: HashSet::new(),
        }
    }

    /// Says which markets subscribed the book (and which the best bid/offer beside it), so that
    /// an `orderbook` message becomes a book snapshot, a quote, or both.
    pub fn with_orderbook_channels(mut self, markets: &[MarketSub]) -> Self {
        for m in markets
            .iter()
            .filter(|m| m.channels.contains(&Channel::Book))
        {
            self.book.insert(m.symbol.clone());
            if m.channels.contains(&Channel::Bbo) {
                self.book_and_bbo.insert(m.symbol.clone());
            }
        }
        self
    }

    fn orderbook(
        &self,
        symbol: &Arc<str>,
        m: &Message<'_>,
        ts_recv_us: i64,
        out: &mut Vec<Event>,
    ) -> Result<(), Invalid> {
        if !self.book.contains(symbol) {
            out.push(orderbook_quote(symbol, m, ts_recv_us)?);
            return Ok(());
        }
        // Both are built before either is pushed, so a bad message yields only its reject.
        let book = book_snapshot(symbol, m, ts_recv_us)?;
        if self.book_and_bbo.contains(symbol) {
            out.push(orderbook_quote(symbol, m, ts_recv_us)?);
        }
        out.push(book);
        Ok(())
    }

    /// Parses one frame's bytes (binary frames carry UTF-8 JSON; text frames are accepted too).
    pub fn parse_bytes(&self, raw: &[u8], ts_recv_us: i64, out: &mut Vec<Event>) -> FrameKind {
        let m: Message<'_> = match serde_json::from_slice(raw) {
            Ok(m) => m,
            Err(e) => {
                push_reject(out, VENUE, None, json_invalid("frame", &e), raw, ts_recv_us);
                return FrameKind::Rejected;
            }
        };
        if let Some(err) = &m.error {
            return FrameKind::SubscribeRejected(SubRejection {
                req_id: None,
                symbol: None,
                error: format!(
                    "{}: {}",
                    err.name.as_deref().unwrap_or("error"),
                    err.message.as_deref().unwrap_or("")
                ),
            });
        }
        if m.status.as_deref() == Some("UP") {
            return FrameKind::Heartbeat;
        }
        let kind = m.kind.as_deref().unwrap_or("");
        let native = m.code.as_deref().unwrap_or("");
        let symbol = self.symbols.unified(native).cloned();
        let result = match (kind, &symbol) {
            // Not subscribed by us; a venue status-like push, nothing to store.
            ("ticker", _) => return FrameKind::Status,
            (_, None) if !kind.is_empty() => Err(Invalid::new(
                RejectReason::UnknownSymbol,
                format!("market `{native}` is not subscribed on this connection"),
            )),
            ("trade", Some(s)) => trade(s, &m, ts_recv_us).map(|t| out.push(t)),
            ("orderbook", Some(s)) => self.orderbook(s, &m, ts_recv_us, out),
            (k, Some(s)) if k.starts_with("candle.") => self.candle(s, k, &m, ts_recv_us, out),
            _ => Err(Invalid::new(
                RejectReason::UnknownMessage,
                format!("unknown message type `{kind}`"),
            )),
        };
        match result {
            Ok(()) => FrameKind::Data,
            Err(inv) => {
                let symbol = symbol.or_else(|| (!native.is_empty()).then(|| Arc::from(native)));
                push_reject(out, VENUE, symbol, inv, raw, ts_recv_us);
                FrameKind::Rejected
            }
        }
    }

    fn candle(
        &self,
        symbol: &Arc<str>,
        kind: &str,
        m: &Message<'_>,
        ts_recv_us: i64,
        out: &mut Vec<Event>,
    ) -> Result<(), Invalid> {
        let interval_s = kind
            .strip_prefix("candle.")
            .and_then(tickrec_model::venue::parse_interval)
            .ok_or_else(|| {
                Invalid::new(
                    RejectReason::UnknownMessage,
                    format!("unknown candle type `{kind}`"),
                )
            })?;
        let start = required("candle_date_time_utc", m.candle_date_time_utc.as_deref())?;
        let open_time_us =
            validate::timestamp_rfc3339("candle_date_time_utc", &format!("{start}Z"))?;
        let candle = Candle {
            venue: VENUE,
            symbol: symbol.clone(),
            interval_s,
            open_time_us,
            open: validate::price("opening_price", num("opening_price", m.opening_price)?)?,
            high: validate::price("high_price", num("high_price", m.high_price)?)?,
            low: validate::price("low_price", num("low_price", m.low_price)?)?,
            close: validate::price("trade_price", num("trade_price", m.trade_price)?)?,
            volume: validate::non_negative(
                "candle_acc_trade_volume",
                num("candle_acc_trade_volume", m.candle_acc_trade_volume)?,
            )?,
            quote_volume: match m.candle_acc_trade_price {
                Some(v) => Some(validate::non_negative(
                    "candle_acc_trade_price",
                    raw_number(v),
                )?),
                None => None,
            },
            trades: None,
            closed: false,
            ts_exchange_us: validate::timestamp_ms(
                "timestamp",
                required("timestamp", m.timestamp)?,
            )?,
            ts_recv_us,
        };
        // A poisoned lock only means another parse panicked mid-update; the map is still usable.
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let key = (symbol.clone(), interval_s);
        match running.get(&key) {
            Some(prev) if prev.open_time_us < candle.open_time_us => {
                let mut closed = prev.clone();
                closed.closed = true;
                closed.ts_recv_us = ts_recv_us;
                out.push(Event::Candle(closed));
                running.insert(key, candle.clone());
            }
            // A late update of an older bar is stored as sent but does not reopen it.
            Some(prev) if prev.open_time_us > candle.open_time_us => {}
            _ => {
                running.insert(key, candle.clone());
            }
        }
        out.push(Event::Candle(candle));
        Ok(())
    }
}

fn trade(symbol: &Arc<str>, m: &Message<'_>, ts_recv_us: i64) -> Result<Event, Invalid> {
    Ok(Event::Trade(Trade {
        venue: VENUE,
        symbol: symbol.clone(),
        trade_id: trade_id(required("sequential_id", m.sequential_id)?)?,
        price: validate::price("trade_price", num("trade_price", m.trade_price)?)?,
        qty: validate::qty("trade_volume", num("trade_volume", m.trade_volume)?)?,
        side: side(required("ask_bid", m.ask_bid.as_deref())?)?,
        ts_exchange_us: validate::timestamp_ms(
            "trade_timestamp",
            required("trade_timestamp", m.trade_timestamp)?,
        )?,
        ts_recv_us,
        kind: TradeKind::Single,
    }))
}

fn orderbook_quote(symbol: &Arc<str>, m: &Message<'_>, ts_recv_us: i64) -> Result<Event, Invalid> {
    let units = required("orderbook_units", m.orderbook_units.as_ref())?;
    let top = required("orderbook_units[0]", units.first())?;
    Ok(Event::Quote(Quote {
        venue: VENUE,
        symbol: symbol.clone(),
        bid_price: validate::non_negative("bid_price", raw_number(top.bid_price))?,
        bid_qty: validate::non_negative("bid_size", raw_number(top.bid_size))?,
        ask_price: validate::non_negative("ask_price", raw_number(top.ask_price))?,
        ask_qty: validate::non_negative("ask_size", raw_number(top.ask_size))?,
        ts_exchange_us: match m.timestamp {
            Some(ms) => Some(validate::timestamp_ms("timestamp", ms)?),
            None => None,
        },
        ts_recv_us,
        update_id: None,
    }))
}

/// One side of a unit as a level; a side shown as price 0 and size 0 is an empty slot (a thin
/// book has fewer levels on one side than units), not a level.
fn unit_level(field: &str, price: &RawValue, size: &RawValue) -> Result<Option<Level>, Invalid> {
    let qty = validate::non_negative(field, raw_number(size))?;
    let price_text = raw_number(price);
    if qty.mantissa() == 0 && Decimal::parse(price_text).is_ok_and(|p| p.mantissa() == 0) {
        return Ok(None);
    }
    Ok(Some(Level {
        price: validate::price(field, price_text)?,
        qty,
    }))
}

/// A full `orderbook` message as a book snapshot (units pair the i-th best ask and bid).
fn book_snapshot(symbol: &Arc<str>, m: &Message<'_>, ts_recv_us: i64) -> Result<Event, Invalid> {
    let units = required("orderbook_units", m.orderbook_units.as_ref())?;
    let mut bids = Vec::with_capacity(units.len());
    let mut asks = Vec::with_capacity(units.len());
    for u in units {
        bids.extend(unit_level("bid_price", u.bid_price, u.bid_size)?);
        asks.extend(unit_level("ask_price", u.ask_price, u.ask_size)?);
    }
    Ok(Event::Book(BookUpdate {
        venue: VENUE,
        symbol: symbol.clone(),
        kind: BookKind::Snapshot,
        first_update_id: None,
        last_update_id: None,
        bids,
        asks,
        checksum: None,
        ts_exchange_us: Some(validate::timestamp_ms(
            "timestamp",
            required("timestamp", m.timestamp)?,
        )?),
        ts_recv_us,
        verified: false,
    }))
}
