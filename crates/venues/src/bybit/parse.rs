//! Bybit v5 frames → normalized events. A trade push may carry up to 1024 trades; each is parsed
//! on its own so one bad item becomes one reject row. Trade ids are unique but not contiguous
//! (numeric text on spot, UUIDs on linear), so they are kept as text: no id gap is measured.

use std::sync::Arc;

use serde_json::value::RawValue;
use tickrec_model::{
    BookKind, BookUpdate, Candle, Decimal, Event, Level, Quote, RejectReason, Side, Trade, TradeId,
    TradeKind, Venue,
};

use crate::bybit::messages::{BookData, Envelope, KlineItem, TradeItem};
use crate::bybit::subscribe::interval_secs;
use crate::bybit::symbols::SymbolMap;
use crate::validate::{self, json_invalid, push_reject, Invalid};
use crate::{FrameKind, SubRejection};

const VENUE: Venue = Venue::Bybit;

/// `Buy` / `Sell`: the taker side.
pub(crate) fn side(s: &str) -> Result<Side, Invalid> {
    match s {
        "Buy" => Ok(Side::Buy),
        "Sell" => Ok(Side::Sell),
        other => Err(Invalid::new(
            RejectReason::UnknownMessage,
            format!("unknown side `{other}`"),
        )),
    }
}

/// A trade id: non-empty text.
pub(crate) fn trade_id(id: &str) -> Result<TradeId, Invalid> {
    if id.is_empty() {
        return Err(Invalid::new(RejectReason::MissingField, "empty trade id"));
    }
    Ok(TradeId::Text(id.into()))
}

/// Parses one text frame.
pub fn parse_text(
    symbols: &SymbolMap,
    text: &str,
    ts_recv_us: i64,
    out: &mut Vec<Event>,
) -> FrameKind {
    let raw = text.as_bytes();
    let reject = |out: &mut Vec<Event>, symbol, inv| {
        push_reject(out, VENUE, symbol, inv, raw, ts_recv_us);
        FrameKind::Rejected
    };
    let env: Envelope<'_> = match serde_json::from_str(text) {
        Ok(e) => e,
        Err(e) => return reject(out, None, json_invalid("frame", &e)),
    };
    let Some(topic) = env.topic.as_deref() else {
        return match op_reply(&env) {
            Some(kind) => kind,
            None => reject(
                out,
                None,
                Invalid::new(
                    RejectReason::UnknownMessage,
                    "frame is neither a push nor an op reply",
                ),
            ),
        };
    };
    let (kind, native) = topic.rsplit_once('.').unwrap_or((topic, ""));
    let Some(symbol) = symbols.unified(native).cloned() else {
        let inv = Invalid::new(
            RejectReason::UnknownSymbol,
            format!("topic `{topic}` is for a symbol not subscribed on this connection"),
        );
        return reject(out, Some(Arc::from(native)), inv);
    };
    let Some(data) = env.data else {
        let inv = Invalid::new(
            RejectReason::MissingField,
            format!("`{topic}` push without `data`"),
        );
        return reject(out, Some(symbol), inv);
    };
    let result = match kind {
        "publicTrade" => return trades(&symbol, data, raw, ts_recv_us, out),
        "orderbook.1" => quote(&symbol, &env, data, ts_recv_us),
        k if k.starts_with("orderbook.") => book(&symbol, &env, data, ts_recv_us),
        k if k.starts_with("kline.") => return klines(&symbol, data, raw, ts_recv_us, out),
        _ => Err(Invalid::new(
            RejectReason::UnknownMessage,
            format!("unknown topic `{topic}`"),
        )),
    };
    match result {
        Ok(ev) => {
            out.push(ev);
            FrameKind::Data
        }
        Err(inv) => reject(out, Some(symbol), inv),
    }
}

fn op_reply(env: &Envelope<'_>) -> Option<FrameKind> {
    let op = env.op.as_deref()?;
    let msg = env.ret_msg.as_deref().unwrap_or("");
    // Spot echoes `"op":"ping"` in its pong; linear and option say `"op":"pong"`.
    if msg == "pong" || op == "pong" {
        return Some(FrameKind::Pong);
    }
    Some(match (op, env.success) {
        ("subscribe", Some(true)) => FrameKind::SubscribeAck(1),
        // The topic we wanted exists: a confirmation, not a failure.
        ("subscribe", Some(false)) if msg.contains("already subscribed") => {
            FrameKind::SubscribeAck(1)
        }
        ("subscribe", _) => FrameKind::SubscribeRejected(SubRejection {
            req_id: env.req_id.as_deref().and_then(|r| r.parse().ok()),
            symbol: None,
            error: msg.to_string(),
        }),
        _ => FrameKind::Status,
    })
}

fn trades(
    symbol: &Arc<str>,
    data: &RawValue,
    raw: &[u8],
    ts_recv_us: i64,
    out: &mut Vec<Event>,
) -> FrameKind {
    // Fast path: the whole array in one pass. Only if some item is malformed are the items
    // parsed one by one, so that the bad one costs only itself.
    if let Ok(items) = serde_json::from_str::<Vec<TradeItem<'_>>>(data.get()) {
        let before = out.len();
        let built: Result<Vec<Trade>, Invalid> = items
            .iter()
            .map(|m| trade_from(symbol, m, ts_recv_us))
            .collect();
        if let Ok(trades) = built {
            out.extend(trades.into_iter().map(Event::Trade));
            return if out.len() == before && !items.is_empty() {
                FrameKind::Rejected
            } else {
                FrameKind::Data
            };
        }
    }
    let items: Vec<&RawValue> = match serde_json::from_str(data.get()) {
        Ok(v) => v,
        Err(e) => {
            push_reject(
                out,
                VENUE,
                Some(symbol.clone()),
                json_invalid("publicTrade", &e),
                raw,
                ts_recv_us,
            );
            return FrameKind::Rejected;
        }
    };
    let mut good = 0usize;
    for item in &items {
        match trade(symbol, item.get(), ts_recv_us) {
            Ok(t) => {
                out.push(Event::Trade(t));
                good += 1;
            }
            Err(inv) => push_reject(
                out,
                VENUE,
                Some(symbol.clone()),
                inv,
                item.get().as_bytes(),
                ts_recv_us,
            ),
        }
    }
    if good == 0 && !items.is_empty() {
        FrameKind::Rejected
    } else {
        FrameKind::Data
    }
}

fn trade(symbol: &Arc<str>, item: &str, ts_recv_us: i64) -> Result<Trade, Invalid> {
    let m: TradeItem<'_> = serde_json::from_str(item).map_err(|e| json_invalid("trade", &e))?;
    trade_from(symbol, &m, ts_recv_us)
}

fn trade_from(symbol: &Arc<str>, m: &TradeItem<'_>, ts_recv_us: i64) -> Result<Trade, Invalid> {
    Ok(Trade {
        venue: VENUE,
        symbol: symbol.clone(),
        trade_id: trade_id(&m.id)?,
        price: validate::price("p", &m.price)?,
        qty: validate::qty("v", &m.size)?,
        side: side(&m.side)?,
        ts_exchange_us: validate::timestamp_ms("T", m.time_ms)?,
        ts_recv_us,
        kind: TradeKind::Single,
    })
}

fn event_ts(env: &Envelope<'_>) -> Result<Option<i64>, Invalid> {
    match env.cts.or(env.ts) {
        Some(ms) => Ok(Some(validate::timestamp_ms("ts", ms)?)),
        None => Ok(None),
    }
}

fn top(field: &str, levels: &[[&str; 2]]) -> Result<(Decimal, Decimal), Invalid> {
    match levels.first() {
        Some([p, q]) => Ok((
            validate::non_negative(field, p)?,
            validate::non_negative(field, q)?,
        )),
        None => Ok((Decimal::ZERO, Decimal::ZERO)),
    }
}

fn quote(
    symbol: &Arc<str>,
    env: &Envelope<'_>,
    data: &RawValue,
    ts_recv_us: i64,
) -> Result<Event, Invalid> {
    let m: BookData<'_> =
        serde_json::from_str(data.get()).map_err(|e| json_invalid("orderbook.1", &e))?;
    let (bid_price, bid_qty) = top("b", &m.bids)?;
    let (ask_price, ask_qty) = top("a", &m.asks)?;
    Ok(Event::Quote(Quote {
        venue: VENUE,
        symbol: symbol.clone(),
        bid_price,
        bid_qty,
        ask_price,
        ask_qty,
        ts_exchange_us: event_ts(env)?,
        ts_recv_us,
        update_id: Some(m.update_id),
    }))
}

fn levels(field: &str, raw: &[[&str; 2]]) -> Result<Vec<Level>, Invalid> {
    raw.iter()
        .map(|[p, q]| {
            Ok(Level {
                price: validate::price(field, p)?,
                qty: validate::non_negative(field, q)?,
            })
        })
        .collect()
}

fn book(
    symbol: &Arc<str>,
    env: &Envelope<'_>,
    data: &RawValue,
    ts_recv_us: i64,
) -> Result<Event, Invalid> {
    let kind = match env.kind.as_deref() {
        Some("snapshot") => BookKind::Snapshot,
        Some("delta") => BookKind::Delta,
        other => {
            return Err(Invalid::new(
                RejectReason::UnknownMessage,
                format!("orderbook push of type {:?}", other.unwrap_or("")),
            ))
        }
    };
    let m: BookData<'_> =
        serde_json::from_str(data.get()).map_err(|e| json_invalid("orderbook", &e))?;
    Ok(Event::Book(BookUpdate {
        venue: VENUE,
        symbol: symbol.clone(),
        kind,
        first_update_id: None,
        last_update_id: Some(m.update_id),
        bids: levels("b", &m.bids)?,
        asks: levels("a", &m.asks)?,
        checksum: None,
        ts_exchange_us: event_ts(env)?,
        ts_recv_us,
        verified: false,
    }))
}

fn klines(
    symbol: &Arc<str>,
    data: &RawValue,
    raw: &[u8],
    ts_recv_us: i64,
    out: &mut Vec<Event>,
) -> FrameKind {
    let items: Vec<&RawValue> = match serde_json::from_str(data.get()) {
        Ok(v) => v,
        Err(e) => {
            push_reject(
                out,
                VENUE,
                Some(symbol.clone()),
                json_invalid("kline", &e),
                raw,
                ts_recv_us,
            );
            return FrameKind::Rejected;
        }
    };
    let mut good = 0usize;
    for item in &items {
        match kline(symbol, item.get(), ts_recv_us) {
            Ok(c) => {
                out.push(Event::Candle(c));
                good += 1;
            }
            Err(inv) => push_reject(
                out,
                VENUE,
                Some(symbol.clone()),
                inv,
                item.get().as_bytes(),
                ts_recv_us,
            ),
        }
    }
    if good == 0 && !items.is_empty() {
        FrameKind::Rejected
    } else {
        FrameKind::Data
    }
}

fn kline(symbol: &Arc<str>, item: &str, ts_recv_us: i64) -> Result<Candle, Invalid> {
    let k: KlineItem<'_> = serde_json::from_str(item).map_err(|e| json_invalid("kline", &e))?;
    let interval_s = interval_secs(&k.interval).ok_or_else(|| {
        Invalid::new(
            RejectReason::UnknownMessage,
            format!("unknown kline interval `{}`", k.interval),
        )
    })?;
    Ok(Candle {
        venue: VENUE,
        symbol: symbol.clone(),
        interval_s,
        open_time_us: validate::timestamp_ms("start", k.start)?,
        open: validate::price("open", &k.open)?,
        high: validate::price("high", &k.high)?,
        low: validate::price("low", &k.low)?,
        close: validate::price("close", &k.close)?,
        volume: validate::non_negative("volume", &k.volume)?,
        quote_volume: Some(validate::non_negative("turnover", &k.turnover)?),
        trades: None,
        closed: k.confirm,
        ts_exchange_us: validate::timestamp_ms("timestamp", k.timestamp)?,
        ts_recv_us,
    })
}
