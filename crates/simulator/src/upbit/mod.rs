//! Upbit quotation WebSocket (`/upbit/websocket/v1`, protocols.md §7): a request is one JSON
//! array `[{ticket},{type,codes}…,{format}]` that replaces the connection's subscriptions; there
//! is no acknowledgement; `orderbook` (codes `KRW-BTC.1`: one unit, the BBO after each trade
//! batch; codes `KRW-BTC` or `KRW-BTC.15`: the market's book, 15 units, a full snapshot on
//! subscribe and after every change of those units) and `trade` pushes are `DEFAULT`-format JSON in **binary** frames with
//! numbers as JSON numbers; the text `PING` is answered with `{"status":"UP"}`; a malformed
//! request gets `{"error":{"name":"WRONG_FORMAT",…}}`. Trade ids (`sequential_id`) are unique
//! but not contiguous: trade time in ms × 10⁴ + the tape id modulo 10⁴ ([`sequential_id`]). The
//! REST companion (`rest.rs`) serves `/v1/trades/ticks`.

pub(crate) mod rest;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tickrec_model::Venue;
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::{broadcast, watch};
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::book::{price_text, qty_text, BookDelta, BookSubs, Lvl, UPBIT_UNITS};
use crate::faults::ConnFaults;
use crate::format::{push_i64, push_json_str, push_stripped, push_u64};
use crate::market::{Batch, MarketSpec};
use crate::server::{close, send_all, stay_silent, stopped, Interrupt, SimCore};
use crate::tape::{push_price, RawTrade, QTY_SCALE};

/// Upbit's `sequential_id` of a tape trade: unique per market, increasing with time, with holes.
pub fn sequential_id(trade_id: u64, ts_us: i64) -> u64 {
    (ts_us.div_euclid(1000) as u64) * 10_000 + trade_id % 10_000
}

/// The fields shared by a WebSocket trade and a REST tick, without the braces.
pub(crate) fn push_trade_fields(s: &mut String, t: &RawTrade, spec: &MarketSpec) {
    s.push_str(r#""trade_price":"#);
    push_price(s, &spec.profile, t.price);
    s.push_str(r#","trade_volume":"#);
    // JSON numbers, trailing zeros stripped as Upbit's serializer does.
    push_stripped(s, u128::from(t.qty), QTY_SCALE);
    s.push_str(if t.sell {
        r#","ask_bid":"ASK","sequential_id":"#
    } else {
        r#","ask_bid":"BID","sequential_id":"#
    });
    push_u64(s, sequential_id(t.trade_id, t.ts_us));
}

fn trade_push(spec: &MarketSpec, t: &RawTrade) -> Message {
    let mut s = String::with_capacity(260);
    s.push_str(r#"{"type":"trade","code":"#);
    push_json_str(&mut s, &spec.native);
    s.push_str(r#","timestamp":"#);
    push_i64(&mut s, t.ts_us.div_euclid(1000));
    s.push_str(r#","trade_timestamp":"#);
    push_i64(&mut s, t.ts_us.div_euclid(1000));
    s.push(',');
    push_trade_fields(&mut s, t, spec);
    s.push_str(r#","stream_type":"REALTIME"}"#);
    Message::binary(s.into_bytes())
}

fn wrong_format(msg: &str) -> Message {
    let mut s = String::from(r#"{"error":{"name":"WRONG_FORMAT","message":"#);
    push_json_str(&mut s, msg);
    s.push_str("}}");
    Message::text(s)
}

/// An `orderbook` push narrowed to one unit (codes `KRW-BTC.1`): the touch after the batch.
fn orderbook_push(spec: &MarketSpec, t: &RawTrade) -> Message {
    let bbo = spec.bbo(Some(t));
    let mut s = String::with_capacity(260);
    s.push_str(r#"{"type":"orderbook","code":"#);
    push_json_str(&mut s, &spec.native);
    s.push_str(r#","timestamp":"#);
    push_i64(&mut s, t.ts_us.div_euclid(1000));
    s.push_str(r#","total_ask_size":"#);
    push_stripped(&mut s, u128::from(bbo.ask_qty), QTY_SCALE);
    s.push_str(r#","total_bid_size":"#);
    push_stripped(&mut s, u128::from(bbo.bid_qty), QTY_SCALE);
    s.push_str(r#","orderbook_units":[{"ask_price":"#);
    push_price(&mut s, &spec.profile, bbo.ask);
    s.push_str(r#","bid_price":"#);
    push_price(&mut s, &spec.profile, bbo.bid);
    s.push_str(r#","ask_size":"#);
    push_stripped(&mut s, u128::from(bbo.ask_qty), QTY_SCALE);
    s.push_str(r#","bid_size":"#);
    push_stripped(&mut s, u128::from(bbo.bid_qty), QTY_SCALE);
    s.push_str(r#"}],"stream_type":"REALTIME","level":0}"#);
    Message::binary(s.into_bytes())
}

/// A full `orderbook` message: the top [`UPBIT_UNITS`] units of the market's book (the i-th
/// best ask beside the i-th best bid; a side with fewer levels is padded with zeros).
fn book_push(spec: &MarketSpec, stream_type: &str, d: &BookDelta) -> Message {
    let total = |levels: &[Lvl]| levels.iter().map(|l| u128::from(l.1)).sum::<u128>();
    let mut s = String::with_capacity(256 + UPBIT_UNITS * 120);
    s.push_str(r#"{"type":"orderbook","code":"#);
    push_json_str(&mut s, &spec.native);
    s.push_str(r#","timestamp":"#);
    push_i64(&mut s, d.ts_us.div_euclid(1000));
    s.push_str(r#","total_ask_size":"#);
    push_stripped(&mut s, total(&d.asks), QTY_SCALE);
    s.push_str(r#","total_bid_size":"#);
    push_stripped(&mut s, total(&d.bids), QTY_SCALE);
    s.push_str(r#","orderbook_units":["#);
    for i in 0..d.asks.len().max(d.bids.len()) {
        if i > 0 {
            s.push(',');
        }
        let (ap, asz) = d.asks.get(i).copied().unwrap_or((0, 0));
        let (bp, bsz) = d.bids.get(i).copied().unwrap_or((0, 0));
        s.push_str(r#"{"ask_price":"#);
        s.push_str(&price_text(spec, ap));
        s.push_str(r#","bid_price":"#);
        s.push_str(&price_text(spec, bp));
        s.push_str(r#","ask_size":"#);
        s.push_str(&qty_text(Venue::Upbit, asz));
        s.push_str(r#","bid_size":"#);
        s.push_str(&qty_text(Venue::Upbit, bsz));
        s.push('}');
    }
    s.push_str(r#"],"stream_type":""#);
    s.push_str(stream_type);
    s.push_str(r#"","level":0}"#);
    Message::binary(s.into_bytes())
}

/// One market on one connection.
#[derive(Debug)]
struct Sub {
    rx: broadcast::Receiver<Arc<Batch>>,
    trades: bool,
    orderbook: bool,
}

#[derive(Debug, Default)]
struct Conn {
    subs: BTreeMap<usize, Sub>,
    books: BookSubs,
    lagged: Option<u64>,
}

impl Conn {
    fn handle_text(&mut self, core: &SimCore, text: &str, out: &mut Vec<Message>) {
        if text == "PING" {
            out.push(Message::text(r#"{"status":"UP"}"#));
            return;
        }
        let Ok(Value::Array(parts)) = serde_json::from_str::<Value>(text) else {
            out.push(wrong_format("request must be a JSON array"));
            return;
        };
        if !parts.iter().any(|p| p.get("ticket").is_some()) {
            out.push(Message::text(
                r#"{"error":{"name":"NO_TICKET","message":"ticket is required"}}"#,
            ));
            return;
        }
        if core.faults(Venue::Upbit).take_reject() {
            out.push(Message::text(
                r#"{"error":{"name":"INVALID_PARAM","message":"temporarily refused"}}"#,
            ));
            return;
        }
        // A request replaces the connection's subscriptions; unknown codes are silently ignored.
        let mut wanted: Vec<(usize, bool)> = Vec::new();
        let mut books: Vec<usize> = Vec::new();
        for p in &parts {
            let trades = match p.get("type").and_then(Value::as_str) {
                Some("trade") => true,
                Some("orderbook") => false,
                _ => continue,
            };
            let codes = p.get("codes").and_then(Value::as_array);
            for code in codes.into_iter().flatten().filter_map(Value::as_str) {
                // `KRW-BTC.1`: one unit (the BBO); no suffix or `.15`: the book.
                let (code, units) = code.split_once('.').unwrap_or((code, ""));
                let Some(&idx) = core.upbit_by_code.get(code) else {
                    continue;
                };
                match (trades, units) {
                    (false, "" | "15") => books.push(idx),
                    (false, "1") | (true, _) => wanted.push((idx, trades)),
                    // Other unit counts are not simulated.
                    (false, _) => {}
                }
            }
        }
        // The book: a fresh snapshot for every market asked for, nothing for the others.
        let old: Vec<usize> = (0..core.markets.len())
            .filter(|i| self.books.contains(*i) && !books.contains(i))
            .collect();
        for idx in old {
            self.books.unsubscribe(idx);
        }
        for idx in books {
            if let Some(v) = self.books.subscribe(core, idx) {
                out.push(book_push(
                    &core.markets[idx].spec,
                    "SNAPSHOT",
                    &v.to_delta(),
                ));
            }
        }
        self.subs
            .retain(|idx, _| wanted.iter().any(|(i, _)| i == idx));
        for sub in self.subs.values_mut() {
            sub.trades = false;
            sub.orderbook = false;
        }
        for (idx, trades) in wanted {
            let market = &core.markets[idx];
            let sub = self.subs.entry(idx).or_insert_with(|| {
                let guard = market.lock();
                Sub {
                    rx: market.subscribe(&guard),
                    trades: false,
                    orderbook: false,
                }
            });
            if trades {
                sub.trades = true;
                market.request_start();
            } else {
                sub.orderbook = true;
            }
        }
    }

    fn drain(&mut self, core: &SimCore, out: &mut Vec<Message>) {
        for (idx, push) in self.books.drain() {
            let spec = &core.markets[idx].spec;
            for d in &push.deltas {
                out.push(book_push(spec, "REALTIME", d));
            }
        }
        if let Some(n) = self.books.lagged {
            self.lagged = Some(n);
            return;
        }
        for (&idx, sub) in &mut self.subs {
            let spec = &core.markets[idx].spec;
            loop {
                match sub.rx.try_recv() {
                    Ok(b) => {
                        if sub.trades {
                            for t in &b.trades[b.ws_skip.min(b.trades.len())..] {
                                out.push(trade_push(spec, t));
                            }
                        }
                        if let (true, Some(last)) = (sub.orderbook, b.trades.last()) {
                            out.push(orderbook_push(spec, last));
                        }
                    }
                    Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    Err(TryRecvError::Lagged(n)) => {
                        self.lagged = Some(n);
                        return;
                    }
                }
            }
        }
    }
}

/// Serves one Upbit connection until the client leaves or the simulator stops.
pub(crate) async fn serve(
    ws: WebSocketStream<TcpStream>,
    core: Arc<SimCore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (mut sink, mut source) = ws.split();
    let faults = core.faults(Venue::Upbit);
    let mut drops = faults.drops();
    let mut conn_faults = ConnFaults::default();
    let mut conn = Conn::default();
    let mut out: Vec<Message> = Vec::new();
    let mut data: Vec<Message> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        if faults.silent_until().is_some() {
            let discard = || {
                conn.drain(&core, &mut data);
                data.clear();
            };
            match stay_silent(faults, &mut shutdown, &mut drops, discard).await {
                Some(Interrupt::Shutdown) => {
                    close(&mut sink, CloseCode::Away, "simulator shutting down").await;
                    break;
                }
                Some(Interrupt::Dropped) => break,
                None => conn.lagged = None,
            }
        }
        if !out.is_empty() {
            if let Err(e) = send_all(&mut sink, &mut out).await {
                tracing::debug!(error = %e, "upbit connection write error");
                break;
            }
        }
        if let Some(n) = conn.lagged {
            tracing::warn!(skipped = n, "upbit client too slow; disconnecting");
            close(&mut sink, CloseCode::Policy, "slow consumer").await;
            break;
        }
        tokio::select! {
            _ = stopped(&mut shutdown) => {
                close(&mut sink, CloseCode::Away, "simulator shutting down").await;
                break;
            }
            Ok(()) = drops.changed() => {
                tracing::debug!("upbit connection dropped (fault)");
                break;
            }
            msg = source.next() => match msg {
                None => break,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "upbit connection read error");
                    break;
                }
                Some(Ok(Message::Text(t))) => conn.handle_text(&core, t.as_str(), &mut out),
                Some(Ok(Message::Binary(b))) => {
                    conn.handle_text(&core, &String::from_utf8_lossy(&b), &mut out);
                }
                Some(Ok(Message::Ping(_))) => {
                    if futures_util::SinkExt::flush(&mut sink).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) => {
                    let _ = futures_util::SinkExt::flush(&mut sink).await;
                    break;
                }
            },
            _ = tick.tick(), if !conn.subs.is_empty() || !conn.books.is_empty() => {
                conn.drain(&core, &mut data);
                faults.mangle(&mut data, &mut conn_faults);
                out.append(&mut data);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_follow_time_with_holes() {
        assert_eq!(
            sequential_id(5_000_123_456, 1_730_336_862_047_123),
            17_303_368_620_473_456
        );
        assert!(sequential_id(2, 2_000) > sequential_id(1, 1_000));
    }
}
