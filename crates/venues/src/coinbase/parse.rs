//! Coinbase Advanced Trade frames → normalized events, with the connection-wide `sequence_num`
//! checked: every message (acknowledgements and heartbeats included) advances it by one, so a
//! jump means messages were lost — the frame is still parsed, and the supervisor is told to
//! reconnect (trade gaps are then measured by trade id and backfilled).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;
use tickrec_model::{
    BookKind, BookUpdate, Candle, Event, Level, Quote, RejectReason, Side, Trade, TradeId,
    TradeKind, Venue,
};

use crate::coinbase::messages::{
    CandlesEvent, Envelope, L2Event, TickerEvent, TradeItem, TradesEvent, TradesEventItems,
};
use crate::coinbase::subscribe::CANDLE_SECS;
use crate::coinbase::symbols::SymbolMap;
use crate::validate::{self, json_invalid, push_reject, Invalid};
use crate::{FrameKind, SubRejection};

const VENUE: Venue = Venue::Coinbase;

/// No message seen yet on this connection.
const NO_SEQUENCE: u64 = u64::MAX;

/// Parser state of one connection.
#[derive(Debug)]
pub struct Parser {
    symbols: SymbolMap,
    /// Last `sequence_num` seen on the current connection ([`NO_SEQUENCE`] after a connect).
    last_seq: AtomicU64,
    /// Last running candle per symbol: Coinbase has no closed flag, so a bar is final when the
    /// next one starts — it is then stored again as closed.
    running: Mutex<HashMap<Arc<str>, Candle>>,
    /// Channels the venue confirmed on the current connection (`subscriptions` messages list
    /// them); a refusal names nothing, so the first unconfirmed request is the one refused.
    confirmed: Mutex<HashSet<String>>,
}

/// `BUY` / `SELL`. The documentation calls it the maker's side, but recorded sessions show a
/// `SELL` at the lower and a `BUY` at the higher price in the same instant (a maker reading would
/// mean a crossed book), so it is the taker's side, as on the REST `ticker` trades.
pub(crate) fn side(text: &str) -> Result<Side, Invalid> {
    match text {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        other => Err(Invalid::new(
            RejectReason::UnknownMessage,
            format!("unknown side `{other}`"),
        )),
    }
}

/// Builds a trade from a WebSocket or REST item.
pub(crate) fn trade_from(
    symbol: &Arc<str>,
    m: &TradeItem<'_>,
    ts_recv_us: i64,
) -> Result<Trade, Invalid> {
    let id: u64 = m.trade_id.parse().map_err(|_| {
        Invalid::new(
            RejectReason::BadNumber,
            format!("trade_id `{}` is not an integer", m.trade_id),
        )
    })?;
    Ok(Trade {
        venue: VENUE,
        symbol: symbol.clone(),
        trade_id: TradeId::Num(id),
        price: validate::price("price", &m.price)?,
        qty: validate::qty("size", &m.size)?,
        side: side(&m.side)?,
        ts_exchange_us: validate::timestamp_rfc3339("time", &m.time)?,
        ts_recv_us,
        kind: TradeKind::Single,
    })
}

impl Parser {
    /// A parser for the given symbols.
    pub fn new(symbols: SymbolMap) -> Self {
        Parser {
            symbols,
            last_seq: AtomicU64::new(NO_SEQUENCE),
            running: Mutex::new(HashMap::new()),
            confirmed: Mutex::new(HashSet::new()),
        }
    }

    /// Forgets the sequence of the previous connection (a new one starts from its own).
    pub fn reset(&self) {
        self.last_seq.store(NO_SEQUENCE, Ordering::Relaxed);
        self.confirmed_channels().clear();
    }

    fn confirmed_channels(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // A poisoned lock only means another parse panicked mid-update; the set is still usable.
        self.confirmed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the venue confirmed `channel` on the current connection.
    pub fn is_confirmed(&self, channel: &str) -> bool {
        self.confirmed_channels().contains(channel)
    }

    fn confirm(&self, events: Option<&Vec<&RawValue>>) {
        #[derive(serde::Deserialize)]
        struct Subs<'a> {
            #[serde(borrow, default)]
            subscriptions: HashMap<std::borrow::Cow<'a, str>, serde::de::IgnoredAny>,
        }
        let mut confirmed = self.confirmed_channels();
        for ev in events.into_iter().flatten() {
            if let Ok(s) = serde_json::from_str::<Subs<'_>>(ev.get()) {
                confirmed.extend(s.subscriptions.keys().map(|k| k.to_string()));
            }
        }
    }

    fn symbol(&self, native: &str) -> Result<Arc<str>, (Option<Arc<str>>, Invalid)> {
        self.symbols.unified(native).cloned().ok_or_else(|| {
            (
                Some(Arc::from(native)),
                Invalid::new(
                    RejectReason::UnknownSymbol,
                    format!("product `{native}` is not subscribed on this connection"),
                ),
            )
        })
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
        if env.kind.as_deref() == Some("error") {
            return FrameKind::SubscribeRejected(SubRejection {
                req_id: None,
                symbol: None,
                error: env.message.as_deref().unwrap_or("error").to_string(),
            });
        }
        let gap = env.sequence_num.and_then(|seq| {
            let last = self.last_seq.swap(seq, Ordering::Relaxed);
            (last != NO_SEQUENCE && seq > last.saturating_add(1)).then(|| (last + 1, seq))
        });
        let kind = self.parse_envelope(&env, raw, ts_recv_us, out);
        match gap {
            // The events of this frame are kept; what was lost before it is measured by trade id
            // and repaired after the reconnect.
            Some((expected, received)) => FrameKind::SequenceGap { expected, received },
            None => kind,
        }
    }

    fn parse_envelope(
        &self,
        env: &Envelope<'_>,
        raw: &[u8],
        ts_recv_us: i64,
        out: &mut Vec<Event>,
    ) -> FrameKind {
        let channel = env.channel.as_deref().unwrap_or("");
        match channel {
            "heartbeats" => return FrameKind::Heartbeat,
            "subscriptions" => {
                self.confirm(env.events.as_ref());
                return FrameKind::SubscribeAck(1);
            }
            "market_trades" | "ticker" | "ticker_batch" | "candles" | "l2_data" => {}
            _ => {
                let inv = Invalid::new(
                    RejectReason::UnknownMessage,
                    format!("unknown channel `{channel}`"),
                );
                push_reject(out, VENUE, None, inv, raw, ts_recv_us);
                return FrameKind::Rejected;
            }
        }
        let push_ts = match env.timestamp.as_deref() {
            Some(t) => validate::timestamp_rfc3339("timestamp", t),
            None => Err(Invalid::new(
                RejectReason::MissingField,
                "missing `timestamp`",
            )),
        };
        let (push_ts, Some(events)) = (push_ts, env.events.as_ref()) else {
            let inv = Invalid::new(
                RejectReason::MissingField,
                format!("`{channel}` push without `events`"),
            );
            push_reject(out, VENUE, None, inv, raw, ts_recv_us);
            return FrameKind::Rejected;
        };
        let push_ts = match push_ts {
            Ok(t) => t,
            Err(inv) => {
                push_reject(out, VENUE, None, inv, raw, ts_recv_us);
                return FrameKind::Rejected;
            }
        };
        if channel == "l2_data" {
            return self.l2_data(events, push_ts, ts_recv_us, out);
        }
        let mut good = 0usize;
        let mut bad = 0usize;
        for ev in events {
            let before = out.len();
            let result = match channel {
                "market_trades" => self.trades(ev, ts_recv_us, out),
                "candles" => self.candles(ev, push_ts, ts_recv_us, out),
                _ => self.tickers(ev, push_ts, ts_recv_us, out),
            };
            good += out[before..]
                .iter()
                .filter(|e| !matches!(e, Event::Reject(_)))
                .count();
            if let Err(n) = result {
                bad += n;
            }
        }
        if good == 0 && bad > 0 {
            FrameKind::Rejected
        } else {
            FrameKind::Data
        }
    }

    /// Parses a `market_trades` event; items come out oldest first (snapshots list the newest
    /// first) so the trade-id continuity check sees them in order.
    fn trades(&self, ev: &RawValue, ts_recv_us: i64, out: &mut Vec<Event>) -> Result<(), usize> {
        // Fast path: every item in one pass; item by item only when one is bad, so that the bad
        // one costs only itself.
        if let Ok(items) = serde_json::from_str::<TradesEventItems<'_>>(ev.get()) {
            let built: Result<Vec<Trade>, ()> = items
                .trades
                .iter()
                .map(|t| {
                    let symbol = self.symbol(&t.product_id).map_err(|_| ())?;
                    trade_from(&symbol, t, ts_recv_us).map_err(|_| ())
                })
                .collect();
            if let Ok(mut trades) = built {
                trades.sort_by(|a, b| a.trade_id.cmp(&b.trade_id));
                out.extend(trades.into_iter().map(Event::Trade));
                return Ok(());
            }
        }
        let m: TradesEvent<'_> = match serde_json::from_str(ev.get()) {
            Ok(m) => m,
            Err(e) => {
                push_reject(
                    out,
                    VENUE,
                    None,
                    json_invalid("market_trades", &e),
                    ev.get().as_bytes(),
                    ts_recv_us,
                );
                return Err(1);
            }
        };
        let mut parsed: Vec<Trade> = Vec::with_capacity(m.trades.len());
        let mut bad = 0;
        for item in &m.trades {
            let r = serde_json::from_str::<TradeItem<'_>>(item.get())
                .map_err(|e| (None, json_invalid("trade", &e)))
                .and_then(|t| {
                    let symbol = self.symbol(&t.product_id)?;
                    trade_from(&symbol, &t, ts_recv_us).map_err(|inv| (Some(symbol), inv))
                });
            match r {
                Ok(t) => parsed.push(t),
                Err((symbol, inv)) => {
                    bad += 1;
                    push_reject(out, VENUE, symbol, inv, item.get().as_bytes(), ts_recv_us);
                }
            }
        }
        parsed.sort_by(|a, b| a.trade_id.cmp(&b.trade_id));
        out.extend(parsed.into_iter().map(Event::Trade));
        if bad > 0 {
            Err(bad)
        } else {
            Ok(())
        }
    }

    fn tickers(
        &self,
        ev: &RawValue,
        push_ts: i64,
        ts_recv_us: i64,
        out: &mut Vec<Event>,
    ) -> Result<(), usize> {
        let m: TickerEvent<'_> = match serde_json::from_str(ev.get()) {
            Ok(m) => m,
            Err(e) => {
                push_reject(
                    out,
                    VENUE,
                    None,
                    json_invalid("ticker", &e),
                    ev.get().as_bytes(),
                    ts_recv_us,
                );
                return Err(1);
            }
        };
        let mut bad = 0;
        for t in &m.tickers {
            let r = self.symbol(&t.product_id).and_then(|symbol| {
                let with = |inv| (Some(symbol.clone()), inv);
                Ok(Event::Quote(Quote {
                    venue: VENUE,
                    bid_price: validate::non_negative("best_bid", &t.best_bid).map_err(with)?,
                    bid_qty: validate::non_negative("best_bid_quantity", &t.best_bid_quantity)
                        .map_err(with)?,
                    ask_price: validate::non_negative("best_ask", &t.best_ask).map_err(with)?,
                    ask_qty: validate::non_negative("best_ask_quantity", &t.best_ask_quantity)
                        .map_err(with)?,
                    ts_exchange_us: Some(push_ts),
                    ts_recv_us,
                    update_id: None,
                    symbol: symbol.clone(),
                }))
            });
            match r {
                Ok(q) => out.push(q),
                Err((symbol, inv)) => {
                    bad += 1;
                    push_reject(out, VENUE, symbol, inv, ev.get().as_bytes(), ts_recv_us);
                }
            }
        }
        if bad > 0 {
            Err(bad)
        } else {
            Ok(())
        }
    }

    fn candles(
        &self,
        ev: &RawValue,
        push_ts: i64,
        ts_recv_us: i64,
        out: &mut Vec<Event>,
    ) -> Result<(), usize> {
        let m: CandlesEvent<'_> = match serde_json::from_str(ev.get()) {
            Ok(m) => m,
            Err(e) => {
                push_reject(
                    out,
                    VENUE,
                    None,
                    json_invalid("candles", &e),
                    ev.get().as_bytes(),
                    ts_recv_us,
                );
                return Err(1);
            }
        };
        let mut bad = 0;
        for c in &m.candles {
            let r = self.symbol(&c.product_id).and_then(|symbol| {
                let with = |inv| (Some(symbol.clone()), inv);
                let start: i64 = c.start.parse().map_err(|_| {
                    with(Invalid::new(
                        RejectReason::BadTimestamp,
                        format!("start `{}` is not unix seconds", c.start),
                    ))
                })?;
                Ok(Candle {
                    venue: VENUE,
                    symbol: symbol.clone(),
                    interval_s: CANDLE_SECS,
                    open_time_us: validate::timestamp_us("start", start.saturating_mul(1_000_000))
                        .map_err(with)?,
                    open: validate::price("open", &c.open).map_err(with)?,
                    high: validate::price("high", &c.high).map_err(with)?,
                    low: validate::price("low", &c.low).map_err(with)?,
                    close: validate::price("close", &c.close).map_err(with)?,
                    volume: validate::non_negative("volume", &c.volume).map_err(with)?,
                    quote_volume: None,
                    trades: None,
                    closed: false,
                    ts_exchange_us: push_ts,
                    ts_recv_us,
                })
            });
            match r {
                Ok(candle) => self.running_candle(candle, ts_recv_us, out),
                Err((symbol, inv)) => {
                    bad += 1;
                    push_reject(out, VENUE, symbol, inv, ev.get().as_bytes(), ts_recv_us);
                }
            }
        }
        if bad > 0 {
            Err(bad)
        } else {
            Ok(())
        }
    }

    /// `l2_data` events → one [`BookUpdate`] per (product, kind) of the frame, the levels of its
    /// events merged in order (a later change to a price overrides an earlier one when applied).
    /// A bad event or level rejects its whole (product, kind) group: a book update missing one
    /// level would leave a wrong book that looks right.
    fn l2_data(
        &self,
        events: &[&RawValue],
        push_ts: i64,
        ts_recv_us: i64,
        out: &mut Vec<Event>,
    ) -> FrameKind {
        // One group per (product, kind) in first-seen order, with the raw events it came from.
        let mut groups: Vec<L2Group<'_>> = Vec::new();
        for ev in events {
            let parsed = serde_json::from_str::<L2Event<'_>>(ev.get())
                .map_err(|e| (None, json_invalid("l2_data", &e)))
                .and_then(|m| {
                    let symbol = self.symbol(&m.product_id)?;
                    let kind = match &*m.kind {
                        "snapshot" => BookKind::Snapshot,
                        "update" => BookKind::Delta,
                        other => {
                            let inv = Invalid::new(
                                RejectReason::UnknownMessage,
                                format!("l2_data event of type `{other}`"),
                            );
                            return Err((Some(symbol), inv));
                        }
                    };
                    Ok((symbol, kind, m))
                });
            let (symbol, kind, m) = match parsed {
                Ok(p) => p,
                Err((symbol, inv)) => {
                    push_reject(out, VENUE, symbol, inv, ev.get().as_bytes(), ts_recv_us);
                    continue;
                }
            };
            let i = match groups
                .iter()
                .position(|g| g.symbol == symbol && g.kind == kind)
            {
                Some(i) => i,
                None => {
                    groups.push(L2Group {
                        book: Ok(BookUpdate {
                            venue: VENUE,
                            symbol: symbol.clone(),
                            kind,
                            first_update_id: None,
                            last_update_id: None,
                            bids: Vec::new(),
                            asks: Vec::new(),
                            checksum: None,
                            ts_exchange_us: Some(push_ts),
                            ts_recv_us,
                            verified: false,
                        }),
                        symbol,
                        kind,
                        raws: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            let g = &mut groups[i];
            g.raws.push(ev.get());
            if let Ok(book) = &mut g.book {
                if let Err(inv) = add_l2_levels(book, &m) {
                    g.book = Err(inv);
                }
            }
        }
        let mut good = 0usize;
        for g in groups {
            match g.book {
                Ok(book) => {
                    good += 1;
                    out.push(Event::Book(book));
                }
                Err(inv) => {
                    let raw = format!("[{}]", g.raws.join(","));
                    push_reject(out, VENUE, Some(g.symbol), inv, raw.as_bytes(), ts_recv_us);
                }
            }
        }
        if good == 0 && !events.is_empty() {
            FrameKind::Rejected
        } else {
            FrameKind::Data
        }
    }

    fn running_candle(&self, candle: Candle, ts_recv_us: i64, out: &mut Vec<Event>) {
        // A poisoned lock only means another parse panicked mid-update; the map is still usable.
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        match running.get(&candle.symbol) {
            Some(prev) if prev.open_time_us < candle.open_time_us => {
                let mut closed = prev.clone();
                closed.closed = true;
                closed.ts_recv_us = ts_recv_us;
                out.push(Event::Candle(closed));
                running.insert(candle.symbol.clone(), candle.clone());
            }
            Some(prev) if prev.open_time_us > candle.open_time_us => {}
            _ => {
                running.insert(candle.symbol.clone(), candle.clone());
            }
        }
        out.push(Event::Candle(candle));
    }
}

/// The `l2_data` events of one (product, kind) in a frame.
struct L2Group<'a> {
    symbol: Arc<str>,
    kind: BookKind,
    book: Result<BookUpdate, Invalid>,
    raws: Vec<&'a str>,
}

/// Appends an `l2_data` event's levels to `book`, exactly.
fn add_l2_levels(book: &mut BookUpdate, m: &L2Event<'_>) -> Result<(), Invalid> {
    for u in &m.updates {
        let level = Level {
            price: validate::price("price_level", &u.price_level)?,
            qty: validate::non_negative("new_quantity", &u.new_quantity)?,
        };
        match &*u.side {
            "bid" => book.bids.push(level),
            // The wire says `offer`; one documentation example says `ask`.
            "offer" | "ask" => book.asks.push(level),
            other => {
                return Err(Invalid::new(
                    RejectReason::UnknownMessage,
                    format!("unknown l2 side `{other}`"),
                ))
            }
        }
    }
    Ok(())
}
