//! OKX v5 frames → normalized events. A push may carry several items; each is parsed on its own
//! so that one bad item becomes one reject row and never costs the good items beside it.

use std::sync::Arc;

use serde_json::value::RawValue;
use tickrec_model::{
    BookKind, BookUpdate, Candle, Decimal, Event, Level, Quote, RejectReason, Side, Trade, TradeId,
    TradeKind, Venue,
};

use crate::okx::heartbeat::PONG;
use crate::okx::messages::{BookItem, CandleRow, Envelope, PxSz, TickerItem, TradeItem};
use crate::okx::subscribe::channel_interval;
use crate::okx::symbols::SymbolMap;
use crate::validate::{self, json_invalid, push_reject, Invalid};
use crate::{FrameKind, SubRejection};

const VENUE: Venue = Venue::Okx;

/// The notice OKX sends 60 s before closing connections for a service upgrade.
pub const SERVICE_UPGRADE_CODE: &str = "64008";

/// Parser of one connection.
#[derive(Debug, Default)]
pub struct Parser {
    symbols: SymbolMap,
}

type ItemResult = Result<Event, Invalid>;

impl Parser {
    /// A parser for the given symbols.
    pub fn new(symbols: SymbolMap) -> Self {
        Parser { symbols }
    }

    /// Parses one text frame.
    pub fn parse_text(&self, text: &str, ts_recv_us: i64, out: &mut Vec<Event>) -> FrameKind {
        if text == PONG {
            return FrameKind::Pong;
        }
        let raw = text.as_bytes();
        let reject = |out: &mut Vec<Event>, symbol, inv| {
            push_reject(out, VENUE, symbol, inv, raw, ts_recv_us);
            FrameKind::Rejected
        };
        let env: Envelope<'_> = match serde_json::from_str(text) {
            Ok(e) => e,
            Err(e) => return reject(out, None, json_invalid("frame", &e)),
        };
        if let Some(event) = env.event.as_deref() {
            return match event_kind(event, &env) {
                Some(kind) => kind,
                None => reject(
                    out,
                    None,
                    Invalid::new(
                        RejectReason::UnknownMessage,
                        format!("unknown event `{event}`"),
                    ),
                ),
            };
        }
        let (Some(arg), Some(items)) = (env.arg.as_ref(), env.data.as_ref()) else {
            let inv = Invalid::new(
                RejectReason::UnknownMessage,
                "frame is neither an event nor a push with `arg` and `data`",
            );
            return reject(out, None, inv);
        };
        let native = arg.inst_id.as_deref().unwrap_or("");
        let Some(symbol) = self.symbols.unified(native).cloned() else {
            let inv = Invalid::new(
                RejectReason::UnknownSymbol,
                format!("instId `{native}` is not subscribed on this connection"),
            );
            return reject(out, Some(Arc::from(native)), inv);
        };
        let channel = &*arg.channel;
        let snapshot = env.action.as_deref() != Some("update");
        let item_parser: fn(&Arc<str>, &str, &RawValue, bool, i64) -> ItemResult = match channel {
            "trades" | "trades-all" => trade,
            "bbo-tbt" => bbo,
            "tickers" => ticker,
            "books" | "books5" | "books-l2-tbt" | "books50-l2-tbt" | "books-elp" => book,
            c if c.starts_with("candle") => candle,
            _ => {
                let inv = Invalid::new(
                    RejectReason::UnknownMessage,
                    format!("unknown channel `{channel}`"),
                );
                return reject(out, Some(symbol), inv);
            }
        };
        let mut good = 0usize;
        for item in items {
            match item_parser(&symbol, channel, item, snapshot, ts_recv_us) {
                Ok(ev) => {
                    out.push(ev);
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
}

fn event_kind(event: &str, env: &Envelope<'_>) -> Option<FrameKind> {
    Some(match event {
        "subscribe" => FrameKind::SubscribeAck(1),
        "unsubscribe" | "channel-conn-count" | "channel-conn-count-error" | "login" => {
            FrameKind::Status
        }
        "notice" if env.code.as_deref() == Some(SERVICE_UPGRADE_CODE) => FrameKind::ServerShutdown,
        "notice" => FrameKind::Status,
        "error" => FrameKind::SubscribeRejected(SubRejection {
            req_id: env.id.as_deref().and_then(|id| id.parse().ok()),
            // OKX names the instrument only inside the free text; match on the code, not on it.
            symbol: None,
            error: format!(
                "code {}: {}",
                env.code.as_deref().unwrap_or("?"),
                env.msg.as_deref().unwrap_or("")
            ),
        }),
        _ => return None,
    })
}

fn int<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, Invalid> {
    text.parse().map_err(|_| {
        Invalid::new(
            RejectReason::BadNumber,
            format!("{field} `{text}` is not an integer"),
        )
    })
}

fn ms(field: &str, text: &str) -> Result<i64, Invalid> {
    validate::timestamp_ms(field, int(field, text)?)
}

/// A BBO side that may be empty (`""`) when the book side is.
fn maybe_empty(field: &str, text: &str) -> Result<Decimal, Invalid> {
    if text.is_empty() {
        Ok(Decimal::ZERO)
    } else {
        validate::non_negative(field, text)
    }
}

fn side(text: &str) -> Result<Side, Invalid> {
    match text {
        "buy" => Ok(Side::Buy),
        "sell" => Ok(Side::Sell),
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
    let id: u64 = int("tradeId", &m.trade_id)?;
    let count: u64 = match m.count.as_deref() {
        Some(c) => int("count", c)?,
        None => 1,
    };
    let kind = match count {
        0 | 1 => TradeKind::Single,
        // `trades` aggregates one taker order's fills: ids `tradeId-count+1 ..= tradeId`.
        n if n <= id => TradeKind::Aggregate {
            first_id: id + 1 - n,
            last_id: id,
        },
        n => {
            return Err(Invalid::new(
                RejectReason::BadNumber,
                format!("count {n} exceeds tradeId {id}"),
            ))
        }
    };
    Ok(Trade {
        venue: VENUE,
        symbol: symbol.clone(),
        trade_id: TradeId::Num(id),
        price: validate::price("px", &m.px)?,
        qty: validate::qty("sz", &m.sz)?,
        side: side(&m.side)?,
        ts_exchange_us: ms("ts", &m.ts)?,
        ts_recv_us,
        kind,
    })
}

fn trade(symbol: &Arc<str>, _: &str, item: &RawValue, _: bool, ts_recv_us: i64) -> ItemResult {
    let m: TradeItem<'_> =
        serde_json::from_str(item.get()).map_err(|e| json_invalid("trade", &e))?;
    trade_from(symbol, &m, ts_recv_us).map(Event::Trade)
}

fn top(field: &str, levels: &[PxSz<'_>]) -> Result<(Decimal, Decimal), Invalid> {
    match levels.first() {
        Some(l) => Ok((
            validate::non_negative(field, l.px)?,
            validate::non_negative(field, l.sz)?,
        )),
        // An empty side is shown as zero, as on every venue.
        None => Ok((Decimal::ZERO, Decimal::ZERO)),
    }
}

fn bbo(symbol: &Arc<str>, _: &str, item: &RawValue, _: bool, ts_recv_us: i64) -> ItemResult {
    let m: BookItem<'_> =
        serde_json::from_str(item.get()).map_err(|e| json_invalid("bbo-tbt", &e))?;
    let (bid_price, bid_qty) = top("bids", &m.bids)?;
    let (ask_price, ask_qty) = top("asks", &m.asks)?;
    Ok(Event::Quote(Quote {
        venue: VENUE,
        symbol: symbol.clone(),
        bid_price,
        bid_qty,
        ask_price,
        ask_qty,
        ts_exchange_us: Some(ms("ts", &m.ts)?),
        ts_recv_us,
        update_id: m.seq_id.and_then(|s| u64::try_from(s).ok()),
    }))
}

fn ticker(symbol: &Arc<str>, _: &str, item: &RawValue, _: bool, ts_recv_us: i64) -> ItemResult {
    let m: TickerItem<'_> =
        serde_json::from_str(item.get()).map_err(|e| json_invalid("tickers", &e))?;
    Ok(Event::Quote(Quote {
        venue: VENUE,
        symbol: symbol.clone(),
        bid_price: maybe_empty("bidPx", &m.bid_px)?,
        bid_qty: maybe_empty("bidSz", &m.bid_sz)?,
        ask_price: maybe_empty("askPx", &m.ask_px)?,
        ask_qty: maybe_empty("askSz", &m.ask_sz)?,
        ts_exchange_us: Some(ms("ts", &m.ts)?),
        ts_recv_us,
        update_id: None,
    }))
}

fn levels(field: &str, raw: &[PxSz<'_>]) -> Result<Vec<Level>, Invalid> {
    raw.iter()
        .map(|l| {
            Ok(Level {
                price: validate::price(field, l.px)?,
                qty: validate::non_negative(field, l.sz)?,
            })
        })
        .collect()
}

fn book(
    symbol: &Arc<str>,
    channel: &str,
    item: &RawValue,
    snapshot: bool,
    ts_recv_us: i64,
) -> ItemResult {
    let m: BookItem<'_> =
        serde_json::from_str(item.get()).map_err(|e| json_invalid(channel, &e))?;
    // `books5` is always a full top-5 book; the others say `snapshot` or `update`.
    let snapshot = snapshot || channel == "books5";
    // The CRC is signed on the wire; anything outside i32 is not an OKX checksum.
    let checksum = match m.checksum {
        None | Some(0) => None,
        Some(c) => Some(i32::try_from(c).map_err(|_| {
            Invalid::new(
                RejectReason::BadNumber,
                format!("checksum {c} is not a signed 32-bit CRC"),
            )
        })? as u32),
    };
    let seq = |field: &str, v: Option<i64>| -> Result<Option<u64>, Invalid> {
        match v {
            // `prevSeqId` is -1 on a snapshot: there is no previous message.
            None | Some(-1) => Ok(None),
            Some(s) => u64::try_from(s).map(Some).map_err(|_| {
                Invalid::new(RejectReason::BadNumber, format!("{field} {s} is negative"))
            }),
        }
    };
    Ok(Event::Book(BookUpdate {
        venue: VENUE,
        symbol: symbol.clone(),
        kind: if snapshot {
            BookKind::Snapshot
        } else {
            BookKind::Delta
        },
        first_update_id: seq("prevSeqId", m.prev_seq_id)?,
        last_update_id: seq("seqId", m.seq_id)?,
        bids: levels("bids", &m.bids)?,
        asks: levels("asks", &m.asks)?,
        // Zero means "not provided" since OKX deprecated the checksum; kept as its bit pattern.
        checksum,
        ts_exchange_us: Some(ms("ts", &m.ts)?),
        ts_recv_us,
        verified: false,
    }))
}

fn candle(
    symbol: &Arc<str>,
    channel: &str,
    item: &RawValue,
    _: bool,
    ts_recv_us: i64,
) -> ItemResult {
    let interval_s = channel_interval(channel).ok_or_else(|| {
        Invalid::new(
            RejectReason::UnknownMessage,
            format!("unknown candle channel `{channel}`"),
        )
    })?;
    let row: CandleRow<'_> =
        serde_json::from_str(item.get()).map_err(|e| json_invalid(channel, &e))?;
    if row.len() < 7 {
        return Err(Invalid::new(
            RejectReason::MissingField,
            format!("candle row has {} of at least 7 fields", row.len()),
        ));
    }
    // Spot: `vol` is base and `volCcy` quote; swaps: `vol` is contracts and `volCcy` base.
    let swap = symbol.contains(':');
    let volume = if swap { &row[6] } else { &row[5] };
    let quote_volume = match (swap, row.get(7)) {
        (_, Some(q)) => Some(validate::non_negative("volCcyQuote", q)?),
        (false, None) => Some(validate::non_negative("volCcy", &row[6])?),
        (true, None) => None,
    };
    let open_time_us = ms("ts", &row[0])?;
    Ok(Event::Candle(Candle {
        venue: VENUE,
        symbol: symbol.clone(),
        interval_s,
        open_time_us,
        open: validate::price("o", &row[1])?,
        high: validate::price("h", &row[2])?,
        low: validate::price("l", &row[3])?,
        close: validate::price("c", &row[4])?,
        volume: validate::non_negative("vol", volume)?,
        quote_volume,
        trades: None,
        closed: row.get(8).is_some_and(|c| c == "1"),
        // OKX sends no update time with a candle: the open time is the only venue clock.
        ts_exchange_us: open_time_us,
        ts_recv_us,
    }))
}
