//! Coinbase Advanced Trade market data (`/coinbase`, protocols.md §4B): one channel per
//! `subscribe` message, each confirmed by a `subscriptions` message; `market_trades` opens with a
//! snapshot of the recent trades (newest first) then batched updates; `heartbeats` once per
//! heartbeat interval; `ticker` updates (the touch after each batch); `level2` (pushed on
//! `l2_data`: the whole book as one `snapshot` event, then `update` events with new totals,
//! `"0"` removing a level; `unsubscribe` then `subscribe` gives a fresh snapshot); every message
//! carries the connection-wide `sequence_num` (from 0,
//! acknowledgements and heartbeats included); refusals are `{"type":"error","message":"failure
//! to subscribe"}`. The REST companion (`rest.rs`) serves the public market `ticker` trades.

pub(crate) mod rest;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tickrec_model::{now_us, Venue};
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::{broadcast, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::book::{price_text, qty_text, BookDelta, BookSubs};
use crate::faults::ConnFaults;
use crate::format::{push_json_str, push_u64, Rfc3339};
use crate::market::{Batch, MarketSpec};
use crate::server::{close, send_all, stay_silent, stopped, Interrupt, SimCore};
use crate::tape::{push_price, push_qty, RawTrade};

/// One trade object (WebSocket and REST), taker side as `BUY`/`SELL`.
pub(crate) fn push_trade(s: &mut String, spec: &MarketSpec, t: &RawTrade, ts: &mut Rfc3339) {
    s.push_str(r#"{"trade_id":""#);
    push_u64(s, t.trade_id);
    s.push_str(r#"","product_id":"#);
    push_json_str(s, &spec.native);
    s.push_str(r#","price":""#);
    push_price(s, &spec.profile, t.price);
    s.push_str(r#"","size":""#);
    push_qty(s, Venue::Coinbase, u128::from(t.qty));
    s.push_str(r#"","time":""#);
    ts.push_us(s, t.ts_us);
    s.push_str(if t.sell {
        r#"","side":"SELL"}"#
    } else {
        r#"","side":"BUY"}"#
    });
}

/// One market on one connection.
#[derive(Debug)]
struct Sub {
    rx: broadcast::Receiver<Arc<Batch>>,
    trades: bool,
    ticker: bool,
}

/// The book channel as subscribed (pushed as `l2_data`).
const BOOK_CHANNEL: &str = "level2";

/// The market indexes of a request's `product_ids`; `None` when one is unknown or none given.
fn product_idxs(core: &SimCore, v: &Value) -> Option<Vec<usize>> {
    let ids = v.get("product_ids").and_then(Value::as_array)?;
    let idxs: Option<Vec<usize>> = ids
        .iter()
        .map(|id| core.coinbase_by_product.get(id.as_str()?).copied())
        .collect();
    idxs.filter(|i| !i.is_empty())
}

/// The `events` of an `l2_data` message: one event of `kind` for the product.
fn l2_events(spec: &MarketSpec, kind: &str, d: &BookDelta, ts: &mut Rfc3339) -> String {
    let mut ev = String::with_capacity(96 + (d.bids.len() + d.asks.len()) * 120);
    ev.push_str(r#"[{"type":""#);
    ev.push_str(kind);
    ev.push_str(r#"","product_id":"#);
    push_json_str(&mut ev, &spec.native);
    ev.push_str(r#","updates":["#);
    let mut first = true;
    for (side, levels) in [("bid", &d.bids), ("offer", &d.asks)] {
        for &(p, q) in levels {
            if !first {
                ev.push(',');
            }
            first = false;
            ev.push_str(r#"{"side":""#);
            ev.push_str(side);
            ev.push_str(r#"","event_time":""#);
            ts.push_us(&mut ev, d.ts_us);
            ev.push_str(r#"","price_level":""#);
            ev.push_str(&price_text(spec, p));
            ev.push_str(r#"","new_quantity":""#);
            ev.push_str(&qty_text(Venue::Coinbase, q));
            ev.push_str(r#""}"#);
        }
    }
    ev.push_str("]}]");
    ev
}

#[derive(Debug, Default)]
struct Conn {
    subs: BTreeMap<usize, Sub>,
    books: BookSubs,
    heartbeats: bool,
    seq: u64,
    counter: u64,
    ts: Rfc3339,
    lagged: Option<u64>,
}

impl Conn {
    /// A message of `channel` with the next sequence number around `events` (a JSON array text).
    fn message(&mut self, channel: &str, events: &str) -> Message {
        let seq = self.seq;
        self.seq += 1;
        Self::message_at(&mut self.ts, channel, events, seq)
    }

    /// A message with sequence number `seq` (book messages sent out of order keep theirs).
    fn message_at(ts: &mut Rfc3339, channel: &str, events: &str, seq: u64) -> Message {
        let mut s = String::with_capacity(96 + events.len());
        s.push_str(r#"{"channel":""#);
        s.push_str(channel);
        s.push_str(r#"","client_id":"","timestamp":""#);
        ts.push_us(&mut s, now_us());
        s.push_str(r#"","sequence_num":"#);
        push_u64(&mut s, seq);
        s.push_str(r#","events":"#);
        s.push_str(events);
        s.push('}');
        Message::text(s)
    }

    fn trades_message<'a>(
        &mut self,
        kind: &str,
        spec: &MarketSpec,
        trades: impl Iterator<Item = &'a RawTrade>,
    ) -> Message {
        let mut ev = String::with_capacity(512);
        ev.push_str(r#"[{"type":""#);
        ev.push_str(kind);
        ev.push_str(r#"","trades":["#);
        for (i, t) in trades.enumerate() {
            if i > 0 {
                ev.push(',');
            }
            push_trade(&mut ev, spec, t, &mut self.ts);
        }
        ev.push_str("]}]");
        self.message("market_trades", &ev)
    }

    fn handle_text(&mut self, core: &SimCore, text: &str, out: &mut Vec<Message>) {
        let failure = |out: &mut Vec<Message>| {
            out.push(Message::text(
                r#"{"type":"error","message":"failure to subscribe"}"#,
            ));
        };
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return failure(out);
        };
        let unsubscribe = match v.get("type").and_then(Value::as_str) {
            Some("subscribe") => false,
            Some("unsubscribe") => true,
            _ => return failure(out),
        };
        if unsubscribe {
            return self.unsubscribe(core, &v, out);
        }
        if core.faults(Venue::Coinbase).take_reject() {
            return failure(out);
        }
        match v.get("channel").and_then(Value::as_str) {
            Some("heartbeats") => {
                self.heartbeats = true;
                let ack = self.message(
                    "subscriptions",
                    r#"[{"subscriptions":{"heartbeats":["heartbeats"]}}]"#,
                );
                out.push(ack);
            }
            Some(BOOK_CHANNEL) => {
                let Some(idxs) = product_idxs(core, &v) else {
                    return failure(out);
                };
                let ack = self.subscriptions(BOOK_CHANNEL, &v);
                out.push(ack);
                for idx in idxs {
                    // A repeated subscription starts over with a fresh snapshot.
                    if let Some(view) = self.books.subscribe(core, idx) {
                        let spec = &core.markets[idx].spec;
                        let ev = l2_events(spec, "snapshot", &view.to_delta(), &mut self.ts);
                        let m = self.message("l2_data", &ev);
                        out.push(m);
                    }
                }
            }
            Some(channel @ ("market_trades" | "ticker")) => {
                let ids: Vec<&str> = v
                    .get("product_ids")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let idxs: Option<Vec<usize>> = ids
                    .iter()
                    .map(|id| core.coinbase_by_product.get(*id).copied())
                    .collect();
                let Some(idxs) = idxs.filter(|i| !i.is_empty()) else {
                    return failure(out);
                };
                let mut listed = String::new();
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        listed.push(',');
                    }
                    push_json_str(&mut listed, id);
                }
                let ack = self.message(
                    "subscriptions",
                    &format!(r#"[{{"subscriptions":{{"{channel}":[{listed}]}}}}]"#),
                );
                out.push(ack);
                let trades = channel == "market_trades";
                for idx in idxs {
                    let market = &core.markets[idx];
                    let spec = &market.spec;
                    let guard = market.lock();
                    let sub = self.subs.entry(idx).or_insert_with(|| Sub {
                        rx: market.subscribe(&guard),
                        trades: false,
                        ticker: false,
                    });
                    if !trades {
                        sub.ticker = true;
                        continue;
                    }
                    if sub.trades {
                        continue;
                    }
                    sub.trades = true;
                    // The snapshot lists recent trades newest first, as Coinbase does.
                    let snap = self.trades_message("snapshot", spec, guard.recent.iter().rev());
                    drop(guard);
                    out.push(snap);
                    market.request_start();
                }
            }
            _ => failure(out),
        }
    }

    /// The `subscriptions` acknowledgement of `channel` for the request's products.
    fn subscriptions(&mut self, channel: &str, v: &Value) -> Message {
        let mut listed = String::new();
        let ids = v.get("product_ids").and_then(Value::as_array);
        for (i, id) in ids
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .enumerate()
        {
            if i > 0 {
                listed.push(',');
            }
            push_json_str(&mut listed, id);
        }
        self.message(
            "subscriptions",
            &format!(r#"[{{"subscriptions":{{"{channel}":[{listed}]}}}}]"#),
        )
    }

    /// `unsubscribe` (the book only; other channels stay): a `subscriptions` message follows.
    fn unsubscribe(&mut self, core: &SimCore, v: &Value, out: &mut Vec<Message>) {
        if v.get("channel").and_then(Value::as_str) == Some(BOOK_CHANNEL) {
            for idx in product_idxs(core, v).unwrap_or_default() {
                self.books.unsubscribe(idx);
            }
        }
        let m = self.message("subscriptions", r#"[{"subscriptions":{}}]"#);
        out.push(m);
    }

    /// Book messages: their `sequence_num`s are the venue's order, whatever the wire order
    /// (a reordered pair arrives with swapped numbers), and dropped ones leave a hole.
    fn book_messages(&mut self, core: &SimCore, out: &mut Vec<Message>) {
        for (idx, push) in self.books.drain() {
            let spec = &core.markets[idx].spec;
            self.seq += u64::from(push.skipped);
            let base = self.seq;
            for d in &push.deltas {
                let rank = push.deltas.iter().filter(|x| x.index < d.index).count() as u64;
                let ev = l2_events(spec, "update", d, &mut self.ts);
                out.push(Self::message_at(&mut self.ts, "l2_data", &ev, base + rank));
            }
            self.seq = base + push.deltas.len() as u64;
        }
        if let Some(n) = self.books.lagged {
            self.lagged = Some(n);
        }
    }

    /// A `ticker` update: the touch after trade `t`.
    fn ticker_message(&mut self, spec: &MarketSpec, t: &RawTrade) -> Message {
        let bbo = spec.bbo(Some(t));
        let mut ev = String::with_capacity(320);
        ev.push_str(r#"[{"type":"update","tickers":[{"type":"ticker","product_id":"#);
        push_json_str(&mut ev, &spec.native);
        ev.push_str(r#","price":""#);
        push_price(&mut ev, &spec.profile, t.price);
        ev.push_str(r#"","best_bid":""#);
        push_price(&mut ev, &spec.profile, bbo.bid);
        ev.push_str(r#"","best_bid_quantity":""#);
        push_qty(&mut ev, Venue::Coinbase, u128::from(bbo.bid_qty));
        ev.push_str(r#"","best_ask":""#);
        push_price(&mut ev, &spec.profile, bbo.ask);
        ev.push_str(r#"","best_ask_quantity":""#);
        push_qty(&mut ev, Venue::Coinbase, u128::from(bbo.ask_qty));
        ev.push_str(r#""}]}]"#);
        self.message("ticker", &ev)
    }

    fn drain(&mut self, core: &SimCore, out: &mut Vec<Message>) {
        self.book_messages(core, out);
        let idxs: Vec<usize> = self.subs.keys().copied().collect();
        for idx in idxs {
            let spec = &core.markets[idx].spec;
            while let Some(sub) = self.subs.get_mut(&idx) {
                let (trades_on, ticker_on) = (sub.trades, sub.ticker);
                match sub.rx.try_recv() {
                    Ok(b) => {
                        if trades_on {
                            let trades = &b.trades[b.ws_skip.min(b.trades.len())..];
                            for chunk in trades.chunks(100) {
                                let m = self.trades_message("update", spec, chunk.iter());
                                out.push(m);
                            }
                        }
                        if let (true, Some(last)) = (ticker_on, b.trades.last()) {
                            let m = self.ticker_message(spec, last);
                            out.push(m);
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

    fn heartbeat(&mut self) -> Message {
        self.counter += 1;
        let mut ev = String::from(r#"[{"current_time":""#);
        self.ts.push_us(&mut ev, now_us());
        ev.push_str(r#"","heartbeat_counter":"#);
        push_u64(&mut ev, self.counter);
        ev.push_str("}]");
        self.message("heartbeats", &ev)
    }
}

/// Serves one Coinbase connection until the client leaves or the simulator stops.
pub(crate) async fn serve(
    ws: WebSocketStream<TcpStream>,
    core: Arc<SimCore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (mut sink, mut source) = ws.split();
    let faults = core.faults(Venue::Coinbase);
    let mut drops = faults.drops();
    let mut conn_faults = ConnFaults::default();
    let mut conn = Conn::default();
    let mut out: Vec<Message> = Vec::new();
    let mut data: Vec<Message> = Vec::new();
    let mut last_heartbeat = Instant::now();
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
                tracing::debug!(error = %e, "coinbase connection write error");
                break;
            }
        }
        if let Some(n) = conn.lagged {
            tracing::warn!(skipped = n, "coinbase client too slow; disconnecting");
            close(&mut sink, CloseCode::Policy, "slow consumer").await;
            break;
        }
        tokio::select! {
            _ = stopped(&mut shutdown) => {
                close(&mut sink, CloseCode::Away, "simulator shutting down").await;
                break;
            }
            Ok(()) = drops.changed() => {
                tracing::debug!("coinbase connection dropped (fault)");
                break;
            }
            msg = source.next() => match msg {
                None => break,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "coinbase connection read error");
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
            _ = tick.tick(), if !conn.subs.is_empty() || !conn.books.is_empty() || conn.heartbeats => {
                conn.drain(&core, &mut data);
                faults.mangle(&mut data, &mut conn_faults);
                out.append(&mut data);
                if conn.heartbeats && last_heartbeat.elapsed() >= core.heartbeat {
                    last_heartbeat = Instant::now();
                    let hb = conn.heartbeat();
                    out.push(hb);
                }
            }
        }
    }
}
