//! Binance frames → normalized events. One frame carries one event; a frame that cannot be
//! turned into rows becomes exactly one reject row with its raw payload.

use std::sync::Arc;

use serde_json::value::RawValue;
use tickrec_model::{
    BookKind, BookUpdate, Candle, Event, Level, Quote, RejectReason, Side, Trade, TradeId,
    TradeKind, Venue,
};

use crate::binance::messages::{
    AggTradeMsg, BookTickerMsg, DepthUpdateMsg, Envelope, KlineMsg, PartialDepthMsg, TradeMsg,
};
use crate::binance::symbols::SymbolMap;
use crate::validate::{self, json_invalid, push_reject, Invalid};
use crate::{FrameKind, SubRejection};

const VENUE: Venue = Venue::Binance;

/// Parses one text frame.
pub fn parse_text(
    symbols: &SymbolMap,
    text: &str,
    ts_recv_us: i64,
    out: &mut Vec<Event>,
) -> FrameKind {
    let raw = text.as_bytes();
    let env: Envelope<'_> = match serde_json::from_str(text) {
        Ok(e) => e,
        Err(e) => {
            push_reject(out, VENUE, None, json_invalid("frame", &e), raw, ts_recv_us);
            return FrameKind::Rejected;
        }
    };
    if let Some(stream) = env.stream.as_deref() {
        let Some(data) = env.data else {
            let inv = Invalid::new(RejectReason::MissingField, "stream frame without `data`");
            push_reject(out, VENUE, None, inv, raw, ts_recv_us);
            return FrameKind::Rejected;
        };
        return parse_stream(symbols, stream, data, raw, ts_recv_us, out);
    }
    if let Some(err) = env.error {
        return FrameKind::SubscribeRejected(SubRejection {
            req_id: env.id.and_then(|id| id.get().parse().ok()),
            symbol: None,
            error: format!(
                "code {}: {}",
                err.code.unwrap_or_default(),
                err.msg.as_deref().unwrap_or("")
            ),
        });
    }
    if env.id.is_some() {
        // `{"result":null,"id":1}` acknowledges a request; `result` with a value answers a query.
        return if env.result.is_none() {
            FrameKind::SubscribeAck(1)
        } else {
            FrameKind::Status
        };
    }
    if let (Some(e), Ok(data)) = (env.e.as_deref(), serde_json::from_str::<&RawValue>(text)) {
        // A raw (`/ws/<stream>`) payload: the event type says what it is.
        if e == "serverShutdown" {
            return FrameKind::ServerShutdown;
        }
        let kind = match e {
            "trade" => "trade",
            "aggTrade" => "aggTrade",
            "kline" => "kline_",
            "depthUpdate" => "depth",
            _ => "",
        };
        if let (Some(s), false) = (env.s.as_deref(), kind.is_empty()) {
            let stream = format!("{}@{kind}", s.to_ascii_lowercase());
            return parse_stream(symbols, &stream, data, raw, ts_recv_us, out);
        }
    }
    let inv = Invalid::new(
        RejectReason::UnknownMessage,
        "frame is neither a stream event nor a reply",
    );
    push_reject(out, VENUE, None, inv, raw, ts_recv_us);
    FrameKind::Rejected
}

fn parse_stream(
    symbols: &SymbolMap,
    stream: &str,
    data: &RawValue,
    raw: &[u8],
    ts_recv_us: i64,
    out: &mut Vec<Event>,
) -> FrameKind {
    if stream == "!serverShutdown" {
        return FrameKind::ServerShutdown;
    }
    let (native, kind) = stream.split_once('@').unwrap_or((stream, ""));
    let Some(symbol) = symbols.unified(native).cloned() else {
        let inv = Invalid::new(
            RejectReason::UnknownSymbol,
            format!("stream `{stream}` is for a symbol not subscribed on this connection"),
        );
        push_reject(out, VENUE, Some(Arc::from(native)), inv, raw, ts_recv_us);
        return FrameKind::Rejected;
    };
    let result = match kind {
        "trade" => trade(&symbol, data.get(), ts_recv_us),
        "aggTrade" => agg_trade(&symbol, data.get(), ts_recv_us),
        "bookTicker" => book_ticker(&symbol, data.get(), ts_recv_us),
        "depth" | "depth@100ms" | "depth@1000ms" => depth_update(&symbol, data.get(), ts_recv_us),
        k if k.starts_with("kline_") => kline(&symbol, data.get(), ts_recv_us),
        k if k.starts_with("depth") => partial_depth(&symbol, data.get(), ts_recv_us),
        _ => Err(Invalid::new(
            RejectReason::UnknownMessage,
            format!("unknown stream type `{kind}`"),
        )),
    };
    match result {
        Ok(ev) => {
            out.push(ev);
            FrameKind::Data
        }
        Err(inv) => {
            push_reject(out, VENUE, Some(symbol), inv, raw, ts_recv_us);
            FrameKind::Rejected
        }
    }
}

const fn taker_side(buyer_is_maker: bool) -> Side {
    // The maker was the buyer, so the aggressor sold.
    if buyer_is_maker {
        Side::Sell
    } else {
        Side::Buy
    }
}

fn trade(symbol: &Arc<str>, data: &str, ts_recv_us: i64) -> Result<Event, Invalid> {
    let m: TradeMsg<'_> = serde_json::from_str(data).map_err(|e| json_invalid("trade", &e))?;
    Ok(Event::Trade(Trade {
        venue: VENUE,
        symbol: symbol.clone(),
        trade_id: TradeId::Num(m.trade_id),
        price: validate::price("p", &m.price)?,
        qty: validate::qty("q", &m.qty)?,
        side: taker_side(m.buyer_is_maker),
        ts_exchange_us: validate::timestamp_ms("T", m.trade_time_ms)?,
        ts_recv_us,
        kind: TradeKind::Single,
    }))
}

fn agg_trade(symbol: &Arc<str>, data: &str, ts_recv_us: i64) -> Result<Event, Invalid> {
    let m: AggTradeMsg<'_> =
        serde_json::from_str(data).map_err(|e| json_invalid("aggTrade", &e))?;
    if m.last_id < m.first_id {
        return Err(Invalid::new(
            RejectReason::BadNumber,
            format!("aggTrade last id {} < first id {}", m.last_id, m.first_id),
        ));
    }
    Ok(Event::Trade(Trade {
        venue: VENUE,
        symbol: symbol.clone(),
        trade_id: TradeId::Num(m.agg_id),
        price: validate::price("p", &m.price)?,
        qty: validate::qty("q", &m.qty)?,
        side: taker_side(m.buyer_is_maker),
        ts_exchange_us: validate::timestamp_ms("T", m.trade_time_ms)?,
        ts_recv_us,
        kind: TradeKind::Aggregate {
            first_id: m.first_id,
            last_id: m.last_id,
        },
    }))
}

fn book_ticker(symbol: &Arc<str>, data: &str, ts_recv_us: i64) -> Result<Event, Invalid> {
    let m: BookTickerMsg<'_> =
        serde_json::from_str(data).map_err(|e| json_invalid("bookTicker", &e))?;
    Ok(Event::Quote(Quote {
        venue: VENUE,
        symbol: symbol.clone(),
        // Zero is how an empty side is shown, so only negatives are refused here.
        bid_price: validate::non_negative("b", &m.bid_price)?,
        bid_qty: validate::non_negative("B", &m.bid_qty)?,
        ask_price: validate::non_negative("a", &m.ask_price)?,
        ask_qty: validate::non_negative("A", &m.ask_qty)?,
        ts_exchange_us: None,
        ts_recv_us,
        update_id: Some(m.update_id),
    }))
}

fn kline(symbol: &Arc<str>, data: &str, ts_recv_us: i64) -> Result<Event, Invalid> {
    let m: KlineMsg<'_> = serde_json::from_str(data).map_err(|e| json_invalid("kline", &e))?;
    let k = &m.k;
    let interval_s = tickrec_model::venue::parse_interval(&k.interval).ok_or_else(|| {
        Invalid::new(
            RejectReason::UnknownMessage,
            format!("unknown kline interval `{}`", k.interval),
        )
    })?;
    Ok(Event::Candle(Candle {
        venue: VENUE,
        symbol: symbol.clone(),
        interval_s,
        open_time_us: validate::timestamp_ms("k.t", k.open_ms)?,
        open: validate::price("k.o", &k.open)?,
        high: validate::price("k.h", &k.high)?,
        low: validate::price("k.l", &k.low)?,
        close: validate::price("k.c", &k.close)?,
        volume: validate::non_negative("k.v", &k.volume)?,
        quote_volume: Some(validate::non_negative("k.q", &k.quote_volume)?),
        trades: Some(k.trades),
        closed: k.closed,
        ts_exchange_us: validate::timestamp_ms("E", m.event_time_ms)?,
        ts_recv_us,
    }))
}

/// `[[price, qty], …]` levels: exact positive prices, quantities ≥ 0 (0 removes a level).
pub(crate) fn levels(side: &str, raw: &[[&str; 2]]) -> Result<Vec<Level>, Invalid> {
    raw.iter()
        .map(|[p, q]| {
            Ok(Level {
                price: validate::price(side, p)?,
                qty: validate::non_negative(side, q)?,
            })
        })
        .collect()
}

fn depth_update(symbol: &Arc<str>, data: &str, ts_recv_us: i64) -> Result<Event, Invalid> {
    let m: DepthUpdateMsg<'_> =
        serde_json::from_str(data).map_err(|e| json_invalid("depthUpdate", &e))?;
    Ok(Event::Book(BookUpdate {
        venue: VENUE,
        symbol: symbol.clone(),
        kind: BookKind::Delta,
        first_update_id: Some(m.first_update_id),
        last_update_id: Some(m.last_update_id),
        bids: levels("b", &m.bids)?,
        asks: levels("a", &m.asks)?,
        checksum: None,
        ts_exchange_us: Some(validate::timestamp_ms("E", m.event_time_ms)?),
        ts_recv_us,
        verified: false,
    }))
}

fn partial_depth(symbol: &Arc<str>, data: &str, ts_recv_us: i64) -> Result<Event, Invalid> {
    let m: PartialDepthMsg<'_> =
        serde_json::from_str(data).map_err(|e| json_invalid("depth", &e))?;
    Ok(Event::Book(BookUpdate {
        venue: VENUE,
        symbol: symbol.clone(),
        kind: BookKind::Snapshot,
        first_update_id: None,
        last_update_id: Some(m.last_update_id),
        bids: levels("bids", &m.bids)?,
        asks: levels("asks", &m.asks)?,
        checksum: None,
        ts_exchange_us: None,
        ts_recv_us,
        verified: false,
    }))
}
