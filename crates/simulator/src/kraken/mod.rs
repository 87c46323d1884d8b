//! Kraken spot WebSocket v2 (`/kraken/v2`): status on connect, per-symbol subscribe acks and
//! rejects, `trade` (snapshot of the last 50 + batched updates), `ticker` (`event_trigger`
//! `trades`/`bbo`), `ohlc` (interval 1), `book` (depth 10: snapshot, then the changes of the top
//! 10 with the CRC32 of the top 10 on every message; `unsubscribe` then `subscribe` gives a
//! fresh snapshot), `ping`/`pong` and the idle heartbeat.
//!
//! Requests Kraken does not document a response for (unparsable JSON, unknown method, bad
//! params) get an invented but Kraken-shaped error: `{"error":"EGeneral:Invalid arguments:...",
//! "method":..,"req_id":..,"success":false,"time_in":..,"time_out":..}` (`method`/`req_id` only
//! when they could be read). Clients must treat any `"success":false` as a reject.

pub(crate) mod protocol;
pub(crate) mod rest;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Map, Value};
use tickrec_model::{now_us, Venue};
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::{broadcast, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::book::BookSubs;
use crate::faults::ConnFaults;
use crate::format::Rfc3339;
use crate::market::{Batch, MarketSpec};
use crate::server::{close, send_all, stay_silent, stopped, Interrupt, SimCore};
use crate::tape::{draw, mix};
use protocol::Reply;

/// OHLC intervals Kraken accepts (minutes); the simulator serves 1 only.
const KRAKEN_INTERVALS: [u64; 9] = [1, 5, 15, 30, 60, 240, 1440, 10080, 21600];
/// Book depths Kraken accepts; the simulator serves 10.
const KRAKEN_BOOK_DEPTHS: [u64; 5] = [10, 25, 100, 500, 1000];

/// The `connection_id` of the `n`-th connection: random-looking, above 2⁶³ for every other
/// connection (real ids exceed `i64`, clients must parse them as `u64`).
pub(crate) fn connection_id(seed: u64, n: u64) -> u64 {
    let id = mix(seed ^ draw(0x5EED_C0DE, n));
    if n.is_multiple_of(2) {
        id | 1 << 63
    } else {
        id & !(1 << 63)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ch {
    Trade,
    /// With its `event_trigger`.
    Ticker(&'static str),
    Ohlc,
    /// `book` at depth 10 (served by [`BookSubs`], not the trade batches).
    Book,
}

impl Ch {
    fn name(self) -> &'static str {
        match self {
            Ch::Trade => "trade",
            Ch::Ticker(_) => "ticker",
            Ch::Ohlc => "ohlc",
            Ch::Book => "book",
        }
    }
}

#[derive(Debug)]
struct Sub {
    rx: broadcast::Receiver<Arc<Batch>>,
    trade: bool,
    ticker: Option<&'static str>,
    ohlc: bool,
}

impl Sub {
    fn has(&self, ch: Ch) -> bool {
        match ch {
            Ch::Trade => self.trade,
            Ch::Ticker(_) => self.ticker.is_some(),
            Ch::Ohlc => self.ohlc,
            Ch::Book => false,
        }
    }

    fn set(&mut self, ch: Ch, on: bool) {
        match ch {
            Ch::Trade => self.trade = on,
            Ch::Ticker(t) => self.ticker = on.then_some(t),
            Ch::Ohlc => self.ohlc = on,
            Ch::Book => {}
        }
    }

    fn is_empty(&self) -> bool {
        !self.trade && self.ticker.is_none() && !self.ohlc
    }
}

/// Most trades in one `trade` update push.
const MAX_TRADES_PER_PUSH: usize = 100;

fn push_batch(out: &mut Vec<Message>, spec: &MarketSpec, sub: &Sub, b: &Batch, ts: &mut Rfc3339) {
    if !b.trades.is_empty() {
        if sub.trade {
            // Kraken batches a handful of trades per push; a catch-up burst must not become one
            // multi-megabyte frame. Trades hidden by `Fault::SkipTradeIds` are not sent.
            for chunk in b.trades[b.ws_skip.min(b.trades.len())..].chunks(MAX_TRADES_PER_PUSH) {
                out.push(Message::text(protocol::trades(
                    "update",
                    spec,
                    chunk.iter(),
                    ts,
                )));
            }
        }
        if sub.ticker.is_some() {
            out.push(Message::text(protocol::ticker(
                "update", spec, &b.stats, 0, ts,
            )));
        }
    }
    if sub.ohlc {
        for c in &b.candles {
            out.push(Message::text(protocol::ohlc(
                "update",
                spec,
                Some(c),
                c.event_us,
                ts,
            )));
        }
    }
}

#[derive(Debug, Default)]
struct Conn {
    subs: BTreeMap<usize, Sub>,
    books: BookSubs,
    ts: Rfc3339,
    /// Set when a receiver fell too far behind: the connection is dropped.
    lagged: Option<u64>,
}

/// Why a subscribe/unsubscribe request is refused as a whole.
type ReqError = String;

impl Conn {
    fn respond(
        &mut self,
        out: &mut Vec<Message>,
        method: Option<&str>,
        req_id: Option<u64>,
        time_in: &str,
        f: impl FnOnce(&Reply) -> String,
    ) {
        let time_out = self.ts.us_string(now_us());
        let r = Reply {
            method,
            req_id,
            time_in,
            time_out: &time_out,
        };
        out.push(Message::text(f(&r)));
    }

    fn handle_text(&mut self, core: &SimCore, text: &str, out: &mut Vec<Message>) {
        let time_in = self.ts.us_string(now_us());
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                let msg = format!("EGeneral:Invalid arguments:malformed JSON ({e})");
                self.respond(out, None, None, &time_in, |r| r.err(&msg, None));
                return;
            }
        };
        let Some(o) = v.as_object() else {
            self.respond(out, None, None, &time_in, |r| {
                r.err("EGeneral:Invalid arguments:expected an object", None)
            });
            return;
        };
        let method = o.get("method").and_then(Value::as_str);
        let req_id = match o.get("req_id") {
            None => None,
            Some(x) => match x.as_u64() {
                Some(id) => Some(id),
                None => {
                    self.respond(out, method, None, &time_in, |r| {
                        r.err("EGeneral:Invalid arguments:req_id", None)
                    });
                    return;
                }
            },
        };
        match method {
            Some("ping") => self.respond(out, None, req_id, &time_in, |r| r.pong()),
            Some(m @ ("subscribe" | "unsubscribe")) => {
                let params = o.get("params").and_then(Value::as_object);
                if let Err(e) =
                    self.sub_unsub(core, m == "subscribe", params, req_id, &time_in, out)
                {
                    self.respond(out, Some(m), req_id, &time_in, |r| r.err(&e, None));
                }
            }
            Some(m) => {
                let msg = format!("EGeneral:Invalid arguments:method {m} not supported");
                self.respond(out, Some(m), req_id, &time_in, |r| r.err(&msg, None));
            }
            None => self.respond(out, None, req_id, &time_in, |r| {
                r.err("EGeneral:Invalid arguments:method", None)
            }),
        }
    }

    fn sub_unsub(
        &mut self,
        core: &SimCore,
        subscribe: bool,
        params: Option<&Map<String, Value>>,
        req_id: Option<u64>,
        time_in: &str,
        out: &mut Vec<Message>,
    ) -> Result<(), ReqError> {
        let method = if subscribe {
            "subscribe"
        } else {
            "unsubscribe"
        };
        let bad = |what: &str| format!("EGeneral:Invalid arguments:{what}");
        let params = params.ok_or_else(|| bad("params"))?;
        let channel = params
            .get("channel")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("channel"))?;
        let ch = match channel {
            "trade" => Ch::Trade,
            "ticker" => match params.get("event_trigger") {
                None => Ch::Ticker("trades"),
                Some(v) if v == "trades" => Ch::Ticker("trades"),
                Some(v) if v == "bbo" => Ch::Ticker("bbo"),
                Some(_) => return Err(bad("event_trigger")),
            },
            "ohlc" => match params.get("interval").map(Value::as_u64) {
                None | Some(Some(1)) => Ch::Ohlc,
                Some(Some(n)) if KRAKEN_INTERVALS.contains(&n) => {
                    return Err(format!(
                        "EGeneral:Invalid arguments:interval {n} is not simulated (only 1)"
                    ))
                }
                Some(_) => return Err(bad("interval")),
            },
            "book" => match params.get("depth").map(Value::as_u64) {
                None | Some(Some(10)) => Ch::Book,
                Some(Some(n)) if KRAKEN_BOOK_DEPTHS.contains(&n) => {
                    return Err(format!(
                        "EGeneral:Invalid arguments:depth {n} is not simulated (only 10)"
                    ))
                }
                Some(_) => return Err(bad("depth")),
            },
            other => {
                return Err(format!(
                    "EGeneral:Invalid arguments:channel {other} not supported"
                ))
            }
        };
        let snapshot = match params.get("snapshot") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad("snapshot")),
        };
        let symbols: Vec<&str> = params
            .get("symbol")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
            .filter(|a| !a.is_empty())
            .ok_or_else(|| bad("symbol"))?;
        if subscribe && core.faults(Venue::Kraken).take_reject() {
            tracing::debug!("subscribe rejected (fault)");
            for sym in symbols {
                self.respond(out, Some(method), req_id, time_in, |r| {
                    r.err("EService:Unavailable", Some(sym))
                });
            }
            return Ok(());
        }
        for sym in symbols {
            let Some(&idx) = core.kraken_by_symbol.get(sym) else {
                let msg = format!("Currency pair not supported {sym}");
                self.respond(out, Some(method), req_id, time_in, |r| {
                    r.err(&msg, Some(sym))
                });
                continue;
            };
            let mut result = String::with_capacity(96);
            result.push_str(r#"{"channel":""#);
            result.push_str(ch.name());
            result.push('"');
            if subscribe {
                match ch {
                    Ch::Ticker(t) => {
                        result.push_str(r#","event_trigger":""#);
                        result.push_str(t);
                        result.push('"');
                    }
                    Ch::Ohlc => result.push_str(r#","interval":1"#),
                    Ch::Book => result.push_str(r#","depth":10"#),
                    Ch::Trade => {}
                }
                result.push_str(if snapshot {
                    r#","snapshot":true"#
                } else {
                    r#","snapshot":false"#
                });
            }
            result.push_str(r#","symbol":"#);
            crate::format::push_json_str(&mut result, sym);
            result.push('}');
            if subscribe {
                match self.subscribe(core, idx, ch, snapshot) {
                    Ok((pending, snap)) => {
                        out.extend(pending);
                        self.respond(out, Some(method), req_id, time_in, |r| r.ok(&result));
                        out.extend(snap.map(Message::text));
                    }
                    Err(e) => {
                        self.respond(out, Some(method), req_id, time_in, |r| r.err(e, Some(sym)))
                    }
                }
            } else if self.unsubscribe(idx, ch) {
                self.respond(out, Some(method), req_id, time_in, |r| r.ok(&result));
            } else {
                self.respond(out, Some(method), req_id, time_in, |r| {
                    r.err("Subscription Not Found", Some(sym))
                });
            }
        }
        Ok(())
    }

    /// Adds a channel; returns messages of batches pending for the market's other channels
    /// (they precede the snapshot) and the snapshot.
    fn subscribe(
        &mut self,
        core: &SimCore,
        idx: usize,
        ch: Ch,
        snapshot: bool,
    ) -> Result<(Vec<Message>, Option<String>), &'static str> {
        if self.subs.get(&idx).is_some_and(|s| s.has(ch)) {
            return Err("Already subscribed");
        }
        let Some(market) = core.markets.get(idx) else {
            return Err("Currency pair not supported");
        };
        if ch == Ch::Book {
            if self.books.contains(idx) {
                return Err("Already subscribed");
            }
            let view = self
                .books
                .subscribe(core, idx)
                .ok_or("Currency pair not supported")?;
            let snap = snapshot.then(|| {
                protocol::book(
                    "snapshot",
                    &market.spec,
                    &view.bids,
                    &view.asks,
                    view.checksum,
                    view.ts_us,
                    &mut self.ts,
                )
            });
            return Ok((Vec::new(), snap));
        }
        let spec = &market.spec;
        let mut pending = Vec::new();
        let snap;
        {
            // Under the market lock the driver cannot publish: draining the receiver now leaves
            // it exactly at the snapshot's position.
            let guard = market.lock();
            let sub = match self.subs.entry(idx) {
                std::collections::btree_map::Entry::Occupied(e) => {
                    let sub = e.into_mut();
                    loop {
                        match sub.rx.try_recv() {
                            Ok(b) => push_batch(&mut pending, spec, sub, &b, &mut self.ts),
                            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                            Err(TryRecvError::Lagged(n)) => {
                                self.lagged = Some(n);
                                break;
                            }
                        }
                    }
                    sub
                }
                std::collections::btree_map::Entry::Vacant(e) => e.insert(Sub {
                    rx: market.subscribe(&guard),
                    trade: false,
                    ticker: None,
                    ohlc: false,
                }),
            };
            sub.set(ch, true);
            let now = now_us();
            snap = snapshot.then(|| match ch {
                Ch::Trade => protocol::trades("snapshot", spec, guard.recent.iter(), &mut self.ts),
                Ch::Ticker(_) => {
                    protocol::ticker("snapshot", spec, &guard.stats, now, &mut self.ts)
                }
                // `Ch::Book` never gets here: book subscriptions return above.
                Ch::Ohlc | Ch::Book => {
                    protocol::ohlc("snapshot", spec, guard.candle.as_ref(), now, &mut self.ts)
                }
            });
        }
        if ch == Ch::Trade {
            market.request_start();
        }
        Ok((pending, snap))
    }

    fn unsubscribe(&mut self, idx: usize, ch: Ch) -> bool {
        if ch == Ch::Book {
            return self.books.unsubscribe(idx);
        }
        let Some(sub) = self.subs.get_mut(&idx) else {
            return false;
        };
        if !sub.has(ch) {
            return false;
        }
        sub.set(ch, false);
        if sub.is_empty() {
            self.subs.remove(&idx);
        }
        true
    }

    fn drain(&mut self, core: &SimCore, out: &mut Vec<Message>) {
        for (idx, push) in self.books.drain() {
            let Some(market) = core.markets.get(idx) else {
                continue;
            };
            for d in &push.deltas {
                out.push(Message::text(protocol::book(
                    "update",
                    &market.spec,
                    &d.bids,
                    &d.asks,
                    d.checksum,
                    d.ts_us,
                    &mut self.ts,
                )));
            }
        }
        if let Some(n) = self.books.lagged {
            self.lagged = Some(n);
            return;
        }
        for (&idx, sub) in &mut self.subs {
            let Some(market) = core.markets.get(idx) else {
                continue;
            };
            loop {
                match sub.rx.try_recv() {
                    Ok(b) => push_batch(out, &market.spec, sub, &b, &mut self.ts),
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

/// Serves one Kraken connection until the client leaves or the simulator stops.
pub(crate) async fn serve(
    ws: WebSocketStream<TcpStream>,
    core: Arc<SimCore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (mut sink, mut source) = ws.split();
    let n = core.conn_counter.fetch_add(1, Ordering::Relaxed);
    let faults = core.faults(Venue::Kraken);
    let mut drops = faults.drops();
    let mut conn_faults = ConnFaults::default();
    let mut conn = Conn::default();
    let mut out = vec![Message::text(protocol::status(connection_id(core.seed, n)))];
    let mut data: Vec<Message> = Vec::new();
    let mut last_sent = Instant::now();
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
                tracing::debug!(error = %e, "kraken connection write error");
                break;
            }
            last_sent = Instant::now();
        }
        if let Some(n) = conn.lagged {
            tracing::warn!(skipped = n, "kraken client too slow; disconnecting");
            close(&mut sink, CloseCode::Policy, "slow consumer").await;
            break;
        }
        tokio::select! {
            _ = stopped(&mut shutdown) => {
                close(&mut sink, CloseCode::Away, "simulator shutting down").await;
                break;
            }
            Ok(()) = drops.changed() => {
                tracing::debug!("kraken connection dropped (fault)");
                break;
            }
            msg = source.next() => match msg {
                None => break,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "kraken connection read error");
                    break;
                }
                Some(Ok(Message::Text(t))) => conn.handle_text(&core, t.as_str(), &mut out),
                Some(Ok(Message::Binary(b))) => {
                    conn.handle_text(&core, &String::from_utf8_lossy(&b), &mut out);
                }
                Some(Ok(Message::Ping(_))) => {
                    // tungstenite queued the pong; push it out now.
                    if futures_util::SinkExt::flush(&mut sink).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) => {
                    // Sends the close reply tungstenite queued.
                    let _ = futures_util::SinkExt::flush(&mut sink).await;
                    break;
                }
            },
            _ = tick.tick(), if !conn.subs.is_empty() || !conn.books.is_empty() => {
                conn.drain(&core, &mut data);
                faults.mangle(&mut data, &mut conn_faults);
                out.append(&mut data);
                if out.is_empty() && last_sent.elapsed() >= core.heartbeat {
                    out.push(Message::text(protocol::HEARTBEAT));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_exceed_i64_every_other_time() {
        let a = connection_id(42, 0);
        let b = connection_id(42, 1);
        assert!(a > i64::MAX as u64);
        assert!(b <= i64::MAX as u64);
        assert_ne!(connection_id(42, 2), a);
    }
}
