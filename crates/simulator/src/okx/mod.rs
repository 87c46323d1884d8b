//! OKX v5 public WebSocket (`/okx/ws/v5/business` and `/okx/ws/v5/public`, protocols.md §5):
//! `{"op":"subscribe","args":[…]}` with one acknowledgement per arg (duplicates acknowledged
//! again), errors with a string `code` echoing our `id`, `trades-all` pushes (one trade per
//! message, on `/business` only — `/public` answers `60018`, as OKX does for a channel on the
//! wrong endpoint), `bbo-tbt` on `/public` (the touch after each batch), `books` on `/public`
//! (a `snapshot` with `prevSeqId` -1, then `update`s chained by `prevSeqId` = the previous
//! `seqId`, each with the CRC32 of the top 25), `unsubscribe` (a new `subscribe` then starts
//! with a fresh snapshot), and text `ping` → `pong`. The REST companion (`rest.rs`) serves
//! `history-trades`.

pub(crate) mod rest;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
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

use crate::book::{push_pairs, BookDelta, BookSubs};
use crate::faults::ConnFaults;
use crate::format::{push_i64, push_json_str, push_u64};
use crate::market::{Batch, MarketSpec};
use crate::server::{close, send_all, stay_silent, stopped, Interrupt, SimCore};
use crate::tape::{push_price, push_qty, RawTrade};

/// Which endpoint a connection was opened on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Public,
    Business,
}

/// `/ws/v5/business` or `/ws/v5/public` after `/okx`.
pub(crate) fn parse_path(rest: &str) -> Option<Endpoint> {
    match rest.trim_end_matches('/') {
        "/ws/v5/business" => Some(Endpoint::Business),
        "/ws/v5/public" => Some(Endpoint::Public),
        _ => None,
    }
}

/// One `trades-all` trade as OKX sends it (strings for every number).
pub(crate) fn push_trade_item(s: &mut String, spec: &MarketSpec, t: &RawTrade) {
    s.push_str(r#"{"instId":"#);
    push_json_str(s, &spec.native);
    s.push_str(r#","tradeId":""#);
    push_u64(s, t.trade_id);
    s.push_str(r#"","px":""#);
    push_price(s, &spec.profile, t.price);
    s.push_str(r#"","sz":""#);
    push_qty(s, Venue::Okx, u128::from(t.qty));
    s.push_str(if t.sell {
        r#"","side":"sell","ts":""#
    } else {
        r#"","side":"buy","ts":""#
    });
    push_i64(s, t.ts_us.div_euclid(1000));
    s.push_str(r#"","source":"0"}"#);
}

fn trade_push(spec: &MarketSpec, t: &RawTrade) -> String {
    let mut s = String::with_capacity(200);
    s.push_str(r#"{"arg":{"channel":"trades-all","instId":"#);
    push_json_str(&mut s, &spec.native);
    s.push_str(r#"},"data":["#);
    push_trade_item(&mut s, spec, t);
    s.push_str("]}");
    s
}

/// `bbo-tbt` after a batch: the touch after its last trade (`[px, sz, "0", orders]`).
fn bbo_push(spec: &MarketSpec, t: &RawTrade) -> String {
    let bbo = spec.bbo(Some(t));
    let mut s = String::with_capacity(200);
    s.push_str(r#"{"arg":{"channel":"bbo-tbt","instId":"#);
    push_json_str(&mut s, &spec.native);
    s.push_str(r#"},"data":[{"asks":[[""#);
    push_price(&mut s, &spec.profile, bbo.ask);
    s.push_str(r#"",""#);
    push_qty(&mut s, Venue::Okx, u128::from(bbo.ask_qty));
    s.push_str(r#"","0","1"]],"bids":[[""#);
    push_price(&mut s, &spec.profile, bbo.bid);
    s.push_str(r#"",""#);
    push_qty(&mut s, Venue::Okx, u128::from(bbo.bid_qty));
    s.push_str(r#"","0","1"]],"ts":""#);
    push_i64(&mut s, t.ts_us.div_euclid(1000));
    s.push_str(r#"","seqId":"#);
    push_u64(&mut s, bbo.update_id);
    s.push_str("}]}");
    s
}

/// A `books` push: `action` `snapshot` (prevSeqId -1) or `update`.
fn book_push(spec: &MarketSpec, action: &str, d: &BookDelta, prev_seq: Option<u64>) -> String {
    let (bids, asks, ts_us, checksum, seq) = (&d.bids, &d.asks, d.ts_us, d.checksum, d.last_id);
    let mut s = String::with_capacity(200 + (bids.len() + asks.len()) * 40);
    s.push_str(r#"{"arg":{"channel":"books","instId":"#);
    push_json_str(&mut s, &spec.native);
    s.push_str(r#"},"action":""#);
    s.push_str(action);
    s.push_str(r#"","data":[{"asks":"#);
    push_pairs(&mut s, spec, asks, r#","0","1""#);
    s.push_str(r#","bids":"#);
    push_pairs(&mut s, spec, bids, r#","0","1""#);
    s.push_str(r#","ts":""#);
    push_i64(&mut s, ts_us.div_euclid(1000));
    s.push_str(r#"","checksum":"#);
    // A signed 32-bit CRC on the wire.
    push_i64(&mut s, i64::from(checksum.unwrap_or(0) as i32));
    s.push_str(r#","seqId":"#);
    push_u64(&mut s, seq);
    s.push_str(r#","prevSeqId":"#);
    match prev_seq {
        Some(p) => push_u64(&mut s, p),
        None => s.push_str("-1"),
    }
    s.push_str("}]}");
    s
}

/// One market on one connection.
#[derive(Debug)]
struct Sub {
    rx: broadcast::Receiver<Arc<Batch>>,
    trades: bool,
    bbo: bool,
}

#[derive(Debug, Default)]
struct Conn {
    subs: BTreeMap<usize, Sub>,
    books: BookSubs,
    conn_id: String,
    lagged: Option<u64>,
}

fn event(id: Option<&str>, body: &str, conn_id: &str) -> String {
    let mut s = String::with_capacity(96 + body.len());
    s.push('{');
    if let Some(id) = id {
        s.push_str(r#""id":"#);
        push_json_str(&mut s, id);
        s.push(',');
    }
    s.push_str(body);
    s.push_str(r#","connId":"#);
    push_json_str(&mut s, conn_id);
    s.push('}');
    s
}

/// `"event":<event>,"arg":{"channel":…,"instId":…}`.
fn arg_body(event: &str, channel: &str, inst: &str) -> String {
    let mut body = String::from(r#""event":""#);
    body.push_str(event);
    body.push_str(r#"","arg":{"channel":"#);
    push_json_str(&mut body, channel);
    body.push_str(r#","instId":"#);
    push_json_str(&mut body, inst);
    body.push('}');
    body
}

fn error(id: Option<&str>, code: &str, msg: &str, conn_id: &str) -> String {
    let mut body = String::from(r#""event":"error","code":"#);
    push_json_str(&mut body, code);
    body.push_str(r#","msg":"#);
    push_json_str(&mut body, msg);
    event(id, &body, conn_id)
}

impl Conn {
    fn handle_text(
        &mut self,
        core: &SimCore,
        endpoint: Endpoint,
        text: &str,
        out: &mut Vec<Message>,
    ) {
        if text == "ping" {
            out.push(Message::text("pong"));
            return;
        }
        let invalid = |out: &mut Vec<Message>, id: Option<&str>, conn: &str| {
            out.push(Message::text(error(
                id,
                "60012",
                &format!("Invalid request: {text}"),
                conn,
            )));
        };
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return invalid(out, None, &self.conn_id);
        };
        let id = v.get("id").and_then(Value::as_str).map(str::to_string);
        let id = id.as_deref();
        let (Some(op), Some(args)) = (
            v.get("op").and_then(Value::as_str),
            v.get("args").and_then(Value::as_array),
        ) else {
            return invalid(out, id, &self.conn_id);
        };
        if op == "unsubscribe" {
            return self.unsubscribe(core, id, args, out);
        }
        if op != "subscribe" {
            let msg = format!("Invalid op: {op}");
            out.push(Message::text(error(id, "60019", &msg, &self.conn_id)));
            return;
        }
        if core.faults(Venue::Okx).take_reject() {
            out.push(Message::text(error(
                id,
                "60014",
                "Requests too frequent.",
                &self.conn_id,
            )));
            return;
        }
        for arg in args {
            let channel = arg.get("channel").and_then(Value::as_str).unwrap_or("");
            let inst = arg.get("instId").and_then(Value::as_str).unwrap_or("");
            let idx = core.okx_by_inst.get(inst).copied();
            match (channel, endpoint, idx) {
                ("books", Endpoint::Public, Some(idx)) => {
                    out.push(Message::text(event(
                        id,
                        &arg_body("subscribe", channel, inst),
                        &self.conn_id,
                    )));
                    let spec = &core.markets[idx].spec;
                    // A repeated subscription starts over with a fresh snapshot.
                    if let Some(v) = self.books.subscribe(core, idx) {
                        out.push(Message::text(book_push(
                            spec,
                            "snapshot",
                            &v.to_delta(),
                            None,
                        )));
                    }
                }
                ("trades-all" | "bbo-tbt", Endpoint::Business | Endpoint::Public, Some(idx))
                    if (channel == "trades-all") == (endpoint == Endpoint::Business) =>
                {
                    let market = &core.markets[idx];
                    let sub = self.subs.entry(idx).or_insert_with(|| {
                        let guard = market.lock();
                        Sub {
                            rx: market.subscribe(&guard),
                            trades: false,
                            bbo: false,
                        }
                    });
                    if channel == "trades-all" {
                        sub.trades = true;
                        market.request_start();
                    } else {
                        sub.bbo = true;
                    }
                    out.push(Message::text(event(
                        id,
                        &arg_body("subscribe", channel, inst),
                        &self.conn_id,
                    )));
                }
                _ => {
                    let msg = format!("Wrong URL or channel:{channel},instId:{inst} doesn't exist. Please use the correct URL, channel and parameters referring to API document.");
                    out.push(Message::text(error(id, "60018", &msg, &self.conn_id)));
                }
            }
        }
    }

    /// `unsubscribe`: each arg is acknowledged; data for it stops.
    fn unsubscribe(
        &mut self,
        core: &SimCore,
        id: Option<&str>,
        args: &[Value],
        out: &mut Vec<Message>,
    ) {
        for arg in args {
            let channel = arg.get("channel").and_then(Value::as_str).unwrap_or("");
            let inst = arg.get("instId").and_then(Value::as_str).unwrap_or("");
            if let Some(&idx) = core.okx_by_inst.get(inst) {
                match channel {
                    "books" => {
                        self.books.unsubscribe(idx);
                    }
                    "trades-all" | "bbo-tbt" => {
                        if let Some(sub) = self.subs.get_mut(&idx) {
                            if channel == "trades-all" {
                                sub.trades = false;
                            } else {
                                sub.bbo = false;
                            }
                        }
                    }
                    _ => {}
                }
            }
            out.push(Message::text(event(
                id,
                &arg_body("unsubscribe", channel, inst),
                &self.conn_id,
            )));
        }
    }

    fn drain(&mut self, core: &SimCore, out: &mut Vec<Message>) {
        for (idx, push) in self.books.drain() {
            let spec = &core.markets[idx].spec;
            for d in &push.deltas {
                out.push(Message::text(book_push(
                    spec,
                    "update",
                    d,
                    Some(d.first_id),
                )));
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
                        // Trades hidden by `Fault::SkipTradeIds` are not sent.
                        if sub.trades {
                            for t in &b.trades[b.ws_skip.min(b.trades.len())..] {
                                out.push(Message::text(trade_push(spec, t)));
                            }
                        }
                        if let (true, Some(last)) = (sub.bbo, b.trades.last()) {
                            out.push(Message::text(bbo_push(spec, last)));
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

/// Serves one OKX connection until the client leaves or the simulator stops.
pub(crate) async fn serve(
    ws: WebSocketStream<TcpStream>,
    core: Arc<SimCore>,
    endpoint: Endpoint,
    mut shutdown: watch::Receiver<bool>,
) {
    let (mut sink, mut source) = ws.split();
    let n = core.conn_counter.fetch_add(1, Ordering::Relaxed);
    let faults = core.faults(Venue::Okx);
    let mut drops = faults.drops();
    let mut conn_faults = ConnFaults::default();
    let mut conn = Conn {
        conn_id: format!("{:08x}", crate::tape::mix(core.seed ^ n) as u32),
        ..Conn::default()
    };
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
                tracing::debug!(error = %e, "okx connection write error");
                break;
            }
        }
        if let Some(n) = conn.lagged {
            tracing::warn!(skipped = n, "okx client too slow; disconnecting");
            close(&mut sink, CloseCode::Policy, "slow consumer").await;
            break;
        }
        tokio::select! {
            _ = stopped(&mut shutdown) => {
                close(&mut sink, CloseCode::Away, "simulator shutting down").await;
                break;
            }
            Ok(()) = drops.changed() => {
                tracing::debug!("okx connection dropped (fault)");
                break;
            }
            msg = source.next() => match msg {
                None => break,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "okx connection read error");
                    break;
                }
                Some(Ok(Message::Text(t))) => conn.handle_text(&core, endpoint, t.as_str(), &mut out),
                Some(Ok(Message::Binary(b))) => {
                    conn.handle_text(&core, endpoint, &String::from_utf8_lossy(&b), &mut out);
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
    fn paths() {
        assert_eq!(parse_path("/ws/v5/business"), Some(Endpoint::Business));
        assert_eq!(parse_path("/ws/v5/public/"), Some(Endpoint::Public));
        assert_eq!(parse_path("/ws/v5/private"), None);
    }
}
