//! Bybit v5 public spot WebSocket (`/bybit/v5/public/spot`, protocols.md §6): one acknowledgement
//! per `subscribe` request echoing `req_id`, more than 10 topics refused as a whole (`args size
//! >10`), a duplicate topic refused (`already subscribed`), `{"op":"ping"}` answered with the
//! spot pong (`"ret_msg":"pong","op":"ping"`), `publicTrade.<SYMBOL>` pushes carrying every trade
//! of a driver tick, `orderbook.1.<SYMBOL>` one-level snapshots (the BBO), `orderbook.50.<SYMBOL>`
//! (a snapshot, then deltas with `u` +1 per message; levels leaving the top 50 are sent with size
//! 0), and `unsubscribe` (a new `subscribe` then starts with a fresh snapshot). Trade ids are numeric text and not contiguous ([`trade_id`]). The REST
//! companion (`rest.rs`) serves `recent-trade` — the last 60 trades only.

pub(crate) mod candles;
pub(crate) mod instruments;
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

/// Topics Bybit spot accepts per request.
const MAX_SPOT_ARGS: usize = 10;

/// Bybit's trade id of a tape trade: unique, increasing, with holes.
pub fn trade_id(tape_id: u64) -> u64 {
    2_100_000_000_000_000_000 + tape_id * 3
}

/// The fields of one trade shared by WebSocket and REST, with the venue's names passed in.
fn push_trade(s: &mut String, spec: &MarketSpec, t: &RawTrade) {
    s.push_str(r#"{"i":""#);
    push_u64(s, trade_id(t.trade_id));
    s.push_str(r#"","T":"#);
    push_i64(s, t.ts_us.div_euclid(1000));
    s.push_str(r#","p":""#);
    push_price(s, &spec.profile, t.price);
    s.push_str(r#"","v":""#);
    push_qty(s, Venue::Bybit, u128::from(t.qty));
    s.push_str(if t.sell {
        r#"","S":"Sell","s":"#
    } else {
        r#"","S":"Buy","s":"#
    });
    push_json_str(s, &spec.native);
    s.push_str(r#","BT":false,"RPI":false}"#);
}

fn trades_push(spec: &MarketSpec, trades: &[RawTrade], now_ms: i64) -> String {
    let mut s = String::with_capacity(96 + trades.len() * 140);
    s.push_str(r#"{"topic":"publicTrade."#);
    s.push_str(&spec.native);
    s.push_str(r#"","ts":"#);
    push_i64(&mut s, now_ms);
    s.push_str(r#","type":"snapshot","data":["#);
    for (i, t) in trades.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_trade(&mut s, spec, t);
    }
    s.push_str("]}");
    s
}

fn reply(success: bool, ret_msg: &str, req_id: Option<&str>, op: &str, conn_id: &str) -> Message {
    let mut s = String::from(r#"{"success":"#);
    s.push_str(if success { "true" } else { "false" });
    s.push_str(r#","ret_msg":"#);
    push_json_str(&mut s, ret_msg);
    s.push_str(r#","conn_id":"#);
    push_json_str(&mut s, conn_id);
    if let Some(r) = req_id {
        s.push_str(r#","req_id":"#);
        push_json_str(&mut s, r);
    }
    s.push_str(r#","op":"#);
    push_json_str(&mut s, op);
    s.push('}');
    Message::text(s)
}

/// `orderbook.1.<SYMBOL>`: a one-level snapshot, the touch after the batch's last trade.
fn bbo_push(spec: &MarketSpec, t: &RawTrade, now_ms: i64) -> String {
    let bbo = spec.bbo(Some(t));
    let mut s = String::with_capacity(200);
    s.push_str(r#"{"topic":"orderbook.1."#);
    s.push_str(&spec.native);
    s.push_str(r#"","ts":"#);
    push_i64(&mut s, now_ms);
    s.push_str(r#","type":"snapshot","data":{"s":"#);
    push_json_str(&mut s, &spec.native);
    s.push_str(r#","b":[[""#);
    push_price(&mut s, &spec.profile, bbo.bid);
    s.push_str(r#"",""#);
    push_qty(&mut s, Venue::Bybit, u128::from(bbo.bid_qty));
    s.push_str(r#""]],"a":[[""#);
    push_price(&mut s, &spec.profile, bbo.ask);
    s.push_str(r#"",""#);
    push_qty(&mut s, Venue::Bybit, u128::from(bbo.ask_qty));
    s.push_str(r#""]],"u":"#);
    push_u64(&mut s, bbo.update_id);
    s.push_str(r#"},"cts":"#);
    push_i64(&mut s, t.ts_us.div_euclid(1000));
    s.push('}');
    s
}

/// One market on one connection.
#[derive(Debug)]
struct Sub {
    rx: broadcast::Receiver<Arc<Batch>>,
    trades: bool,
    bbo: bool,
    /// `kline.1` (see `candles.rs`).
    kline: bool,
}

/// A topic this simulator serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Topic {
    /// `publicTrade.<S>`.
    Trades(usize),
    /// `orderbook.1.<S>`.
    Bbo(usize),
    /// `orderbook.50.<S>`.
    Book(usize),
}

fn topic_market(core: &SimCore, topic: &str) -> Option<Topic> {
    let (kind, sym): (fn(usize) -> Topic, &str) =
        if let Some(s) = topic.strip_prefix("publicTrade.") {
            (Topic::Trades, s)
        } else if let Some(s) = topic.strip_prefix("orderbook.1.") {
            (Topic::Bbo, s)
        } else {
            (Topic::Book, topic.strip_prefix("orderbook.50.")?)
        };
    core.bybit_by_symbol.get(sym).map(|&i| kind(i))
}

/// An `orderbook.50.<S>` push (`snapshot` or `delta`).
fn book_push(spec: &MarketSpec, kind: &str, d: &BookDelta) -> String {
    let mut s = String::with_capacity(200 + (d.bids.len() + d.asks.len()) * 32);
    s.push_str(r#"{"topic":"orderbook.50."#);
    s.push_str(&spec.native);
    s.push_str(r#"","ts":"#);
    push_i64(&mut s, d.ts_us.div_euclid(1000));
    s.push_str(r#","type":""#);
    s.push_str(kind);
    s.push_str(r#"","data":{"s":"#);
    push_json_str(&mut s, &spec.native);
    s.push_str(r#","b":"#);
    push_pairs(&mut s, spec, &d.bids, "");
    s.push_str(r#","a":"#);
    push_pairs(&mut s, spec, &d.asks, "");
    s.push_str(r#","u":"#);
    push_u64(&mut s, d.last_id);
    s.push_str(r#","seq":"#);
    push_u64(&mut s, d.cross_seq);
    s.push_str(r#"},"cts":"#);
    push_i64(&mut s, d.ts_us.div_euclid(1000));
    s.push('}');
    s
}

#[derive(Debug, Default)]
struct Conn {
    subs: BTreeMap<usize, Sub>,
    books: BookSubs,
    conn_id: String,
    lagged: Option<u64>,
}

impl Conn {
    fn handle_text(&mut self, core: &SimCore, text: &str, out: &mut Vec<Message>) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            out.push(reply(false, "error:invalid json", None, "", &self.conn_id));
            return;
        };
        let req_id = v.get("req_id").and_then(Value::as_str);
        let op = v.get("op").and_then(Value::as_str).unwrap_or("");
        match op {
            "ping" => out.push(reply(true, "pong", req_id, "ping", &self.conn_id)),
            "subscribe" => self.subscribe(core, &v, req_id, out),
            "unsubscribe" => self.unsubscribe(core, &v, req_id, out),
            other => out.push(reply(
                false,
                &format!("error:unknown op {other}"),
                req_id,
                other,
                &self.conn_id,
            )),
        }
    }

    fn subscribe(
        &mut self,
        core: &SimCore,
        v: &Value,
        req_id: Option<&str>,
        out: &mut Vec<Message>,
    ) {
        let args: Vec<&str> = v
            .get("args")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let refuse = |out: &mut Vec<Message>, msg: &str, conn: &str| {
            out.push(reply(false, msg, req_id, "subscribe", conn));
        };
        if args.len() > MAX_SPOT_ARGS {
            return refuse(out, &format!("args size >{MAX_SPOT_ARGS}"), &self.conn_id);
        }
        if core.faults(Venue::Bybit).take_reject() {
            return refuse(out, "error:service busy", &self.conn_id);
        }
        let mut wanted = Vec::new();
        let mut klines = Vec::new();
        for topic in &args {
            let kline = topic
                .strip_prefix(candles::TOPIC_PREFIX)
                .and_then(|s| core.bybit_by_symbol.get(s).copied());
            if let Some(idx) = kline {
                if self.subs.get(&idx).is_some_and(|s| s.kline) {
                    let msg = format!("error:already subscribed,topic:{topic}");
                    return refuse(out, &msg, &self.conn_id);
                }
                klines.push(idx);
                continue;
            }
            let subscribed = |t: Topic| match t {
                Topic::Trades(i) => self.subs.get(&i).is_some_and(|s| s.trades),
                Topic::Bbo(i) => self.subs.get(&i).is_some_and(|s| s.bbo),
                Topic::Book(i) => self.books.contains(i),
            };
            match topic_market(core, topic) {
                Some(t) if subscribed(t) => {
                    return refuse(
                        out,
                        &format!("error:already subscribed,topic:{topic}"),
                        &self.conn_id,
                    )
                }
                Some(w) => wanted.push(w),
                None => return refuse(out, &format!("Invalid symbol :[{topic}]"), &self.conn_id),
            }
        }
        let mut snapshots = Vec::new();
        for t in wanted {
            let (idx, trades) = match t {
                Topic::Trades(i) => (i, true),
                Topic::Bbo(i) => (i, false),
                Topic::Book(i) => {
                    if let Some(v) = self.books.subscribe(core, i) {
                        let spec = &core.markets[i].spec;
                        snapshots.push(Message::text(book_push(spec, "snapshot", &v.to_delta())));
                    }
                    continue;
                }
            };
            let market = &core.markets[idx];
            let sub = self.subs.entry(idx).or_insert_with(|| {
                let guard = market.lock();
                Sub {
                    rx: market.subscribe(&guard),
                    trades: false,
                    bbo: false,
                    kline: false,
                }
            });
            if trades {
                sub.trades = true;
                market.request_start();
            } else {
                sub.bbo = true;
            }
        }
        for idx in klines {
            let market = &core.markets[idx];
            self.subs
                .entry(idx)
                .or_insert_with(|| {
                    let guard = market.lock();
                    Sub {
                        rx: market.subscribe(&guard),
                        trades: false,
                        bbo: false,
                        kline: false,
                    }
                })
                .kline = true;
        }
        out.push(reply(true, "subscribe", req_id, "subscribe", &self.conn_id));
        out.append(&mut snapshots);
    }

    /// `unsubscribe`: one acknowledgement; data for the topics stops.
    fn unsubscribe(
        &mut self,
        core: &SimCore,
        v: &Value,
        req_id: Option<&str>,
        out: &mut Vec<Message>,
    ) {
        let args = v.get("args").and_then(Value::as_array);
        for topic in args.into_iter().flatten().filter_map(Value::as_str) {
            match topic_market(core, topic) {
                Some(Topic::Book(i)) => {
                    self.books.unsubscribe(i);
                }
                Some(Topic::Trades(i)) => {
                    if let Some(s) = self.subs.get_mut(&i) {
                        s.trades = false;
                    }
                }
                Some(Topic::Bbo(i)) => {
                    if let Some(s) = self.subs.get_mut(&i) {
                        s.bbo = false;
                    }
                }
                None => {}
            }
        }
        out.push(reply(true, "", req_id, "unsubscribe", &self.conn_id));
    }

    fn drain(&mut self, core: &SimCore, out: &mut Vec<Message>) {
        for (idx, push) in self.books.drain() {
            let spec = &core.markets[idx].spec;
            for d in &push.deltas {
                out.push(Message::text(book_push(spec, "delta", d)));
            }
        }
        if let Some(n) = self.books.lagged {
            self.lagged = Some(n);
            return;
        }
        let now_ms = tickrec_model::now_us() / 1000;
        for (&idx, sub) in &mut self.subs {
            let spec = &core.markets[idx].spec;
            loop {
                match sub.rx.try_recv() {
                    Ok(b) => {
                        if sub.trades {
                            let trades = &b.trades[b.ws_skip.min(b.trades.len())..];
                            for chunk in trades.chunks(1024) {
                                out.push(Message::text(trades_push(spec, chunk, now_ms)));
                            }
                        }
                        if let (true, Some(last)) = (sub.bbo, b.trades.last()) {
                            out.push(Message::text(bbo_push(spec, last, now_ms)));
                        }
                        if sub.kline {
                            let mine = b
                                .candles
                                .iter()
                                .filter(|c| c.interval_us == candles::INTERVAL_US);
                            out.extend(mine.map(|c| Message::text(candles::push(spec, c, now_ms))));
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

/// Serves one Bybit connection until the client leaves or the simulator stops.
pub(crate) async fn serve(
    ws: WebSocketStream<TcpStream>,
    core: Arc<SimCore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (mut sink, mut source) = ws.split();
    let n = core.conn_counter.fetch_add(1, Ordering::Relaxed);
    let faults = core.faults(Venue::Bybit);
    let mut drops = faults.drops();
    let mut conn_faults = ConnFaults::default();
    let mut conn = Conn {
        conn_id: format!("{:016x}", crate::tape::mix(core.seed ^ n)),
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
                tracing::debug!(error = %e, "bybit connection write error");
                break;
            }
        }
        if let Some(n) = conn.lagged {
            tracing::warn!(skipped = n, "bybit client too slow; disconnecting");
            close(&mut sink, CloseCode::Policy, "slow consumer").await;
            break;
        }
        tokio::select! {
            _ = stopped(&mut shutdown) => {
                close(&mut sink, CloseCode::Away, "simulator shutting down").await;
                break;
            }
            Ok(()) = drops.changed() => {
                tracing::debug!("bybit connection dropped (fault)");
                break;
            }
            msg = source.next() => match msg {
                None => break,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "bybit connection read error");
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

/// `/v5/public/spot` after `/bybit`.
pub(crate) fn is_spot_path(rest: &str) -> bool {
    rest.trim_end_matches('/') == "/v5/public/spot"
}
