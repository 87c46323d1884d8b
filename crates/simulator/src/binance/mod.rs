//! Binance spot market streams (`/binance/ws/<stream>` raw, `/binance/stream?streams=` combined).
//!
//! Per connection: the subscribed stream names (in subscription order, for `LIST_SUBSCRIPTIONS`)
//! and one broadcast receiver per simulated market with at least one data stream, plus one per
//! market book for `<symbol>@depth[@100ms]` (diff events with `U`/`u`; the snapshot comes from
//! REST `/api/v3/depth`). Every ~1 ms the
//! connection drains its receivers and sends everything with one flush. Streams for symbols the
//! simulator does not know (or types it does not simulate) are acked and stay silent, as the real
//! venue does for a non-existent symbol.

pub(crate) mod protocol;
pub(crate) mod rest;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tickrec_model::{now_us, Venue};
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::{broadcast, watch};
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::WebSocketStream;

use crate::book::BookSubs;
use crate::faults::ConnFaults;
use crate::market::{Batch, MarketSpec};
use crate::server::{close, percent_decode, send_all, stay_silent, stopped, Interrupt, SimCore};
use protocol::{Method, StreamKind};

/// What the request path asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BinanceRoute {
    /// `/stream` (events wrapped in `{"stream","data"}`) rather than `/ws`.
    pub combined: bool,
    /// Streams named in the URL.
    pub streams: Vec<String>,
}

/// `rest` is the path after `/binance`.
pub(crate) fn parse_path(rest: &str, query: Option<&str>) -> Option<BinanceRoute> {
    let split = |s: &str| -> Vec<String> {
        percent_decode(s)
            .split('/')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    match rest {
        "/stream" | "/stream/" => {
            let streams = query
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("streams=")))
                .map(split)
                .unwrap_or_default();
            Some(BinanceRoute {
                combined: true,
                streams,
            })
        }
        "/ws" | "/ws/" => Some(BinanceRoute {
            combined: false,
            streams: Vec::new(),
        }),
        _ => rest.strip_prefix("/ws/").map(|s| BinanceRoute {
            combined: false,
            streams: split(s),
        }),
    }
}

/// Which subscribed stream names (as the client spelled them) feed from one market.
#[derive(Debug, Default)]
struct Names {
    trade: Option<String>,
    agg: Option<String>,
    book: Option<String>,
    kline: Option<String>,
}

impl Names {
    fn is_empty(&self) -> bool {
        self.trade.is_none() && self.agg.is_none() && self.book.is_none() && self.kline.is_none()
    }

    fn slots(&mut self) -> [&mut Option<String>; 4] {
        [
            &mut self.trade,
            &mut self.agg,
            &mut self.book,
            &mut self.kline,
        ]
    }
}

#[derive(Debug)]
struct MarketSub {
    rx: broadcast::Receiver<Arc<Batch>>,
    names: Names,
}

#[derive(Debug)]
struct Conn {
    combined: bool,
    subs: Vec<String>,
    markets: BTreeMap<usize, MarketSub>,
    /// Diff book streams: the receivers, and the stream name per market.
    books: BookSubs,
    book_names: BTreeMap<usize, String>,
}

/// Appends one event, wrapped for combined streams.
fn emit(out: &mut Vec<Message>, combined: bool, stream: &str, f: impl FnOnce(&mut String)) {
    let mut s = String::with_capacity(if combined { 224 } else { 192 });
    if combined {
        s.push_str(r#"{"stream":""#);
        s.push_str(stream);
        s.push_str(r#"","data":"#);
    }
    f(&mut s);
    if combined {
        s.push('}');
    }
    out.push(Message::text(s));
}

fn push_batch(out: &mut Vec<Message>, combined: bool, spec: &MarketSpec, n: &Names, b: &Batch) {
    // Trades hidden by `Fault::SkipTradeIds` are published but not sent.
    for t in &b.trades[b.ws_skip.min(b.trades.len())..] {
        if let Some(name) = &n.trade {
            emit(out, combined, name, |s| protocol::trade(s, spec, t));
        }
        if let Some(name) = &n.agg {
            emit(out, combined, name, |s| protocol::agg_trade(s, spec, t));
        }
        if let Some(name) = &n.book {
            let bbo = spec.bbo(Some(t));
            emit(out, combined, name, |s| {
                protocol::book_ticker(s, spec, &bbo)
            });
        }
    }
    if let Some(name) = &n.kline {
        for c in &b.candles {
            emit(out, combined, name, |s| protocol::kline(s, spec, c));
        }
    }
}

impl Conn {
    fn add_stream(&mut self, core: &SimCore, name: &str) {
        if self.subs.iter().any(|s| s == name) {
            return;
        }
        self.subs.push(name.to_string());
        let Some((sym, kind)) = protocol::parse_stream(name) else {
            return;
        };
        if kind == StreamKind::Other {
            tracing::debug!(stream = name, "stream type not simulated; acked, silent");
            return;
        }
        let Some(market) = core
            .binance_by_stream
            .get(sym)
            .and_then(|&i| core.markets.get(i))
        else {
            return;
        };
        if kind == StreamKind::Depth {
            // No snapshot on the stream: clients fetch `/api/v3/depth` and align on `U`/`u`.
            let idx = market.spec.idx;
            self.books.subscribe(core, idx);
            self.book_names.insert(idx, name.to_string());
            return;
        }
        let sub = self.markets.entry(market.spec.idx).or_insert_with(|| {
            let guard = market.lock();
            MarketSub {
                rx: market.subscribe(&guard),
                names: Names::default(),
            }
        });
        let slot = match kind {
            StreamKind::Trade => &mut sub.names.trade,
            StreamKind::AggTrade => &mut sub.names.agg,
            StreamKind::BookTicker => &mut sub.names.book,
            StreamKind::Kline1m | StreamKind::Depth | StreamKind::Other => &mut sub.names.kline,
        };
        *slot = Some(name.to_string());
        if matches!(kind, StreamKind::Trade | StreamKind::AggTrade) {
            market.request_start();
        }
    }

    fn remove_stream(&mut self, name: &str) {
        self.subs.retain(|s| s != name);
        let books: Vec<usize> = self
            .book_names
            .iter()
            .filter(|(_, n)| n.as_str() == name)
            .map(|(i, _)| *i)
            .collect();
        for idx in books {
            self.book_names.remove(&idx);
            self.books.unsubscribe(idx);
        }
        for sub in self.markets.values_mut() {
            for slot in sub.names.slots() {
                if slot.as_deref() == Some(name) {
                    *slot = None;
                }
            }
        }
        self.markets.retain(|_, s| !s.names.is_empty());
    }

    fn handle_text(&mut self, core: &SimCore, text: &str, out: &mut Vec<Message>) {
        let req = match protocol::parse_request(text) {
            Ok(r) => r,
            Err(resp) => {
                out.push(Message::text(resp));
                return;
            }
        };
        let id = req.id.as_str();
        let resp = match req.method {
            Method::Subscribe(streams) => {
                let new = streams.iter().filter(|s| !self.subs.contains(s)).count();
                if core.faults(Venue::Binance).take_reject() {
                    tracing::debug!("SUBSCRIBE rejected (fault)");
                    protocol::error(
                        2,
                        "Invalid request: service temporarily unavailable, please retry",
                        id,
                    )
                } else if self.subs.len() + new > protocol::MAX_STREAMS {
                    protocol::error(2, "Invalid request: too many parameters", id)
                } else {
                    for s in &streams {
                        self.add_stream(core, s);
                    }
                    protocol::result("null", id)
                }
            }
            Method::Unsubscribe(streams) => {
                for s in &streams {
                    self.remove_stream(s);
                }
                protocol::result("null", id)
            }
            Method::List => match serde_json::to_string(&self.subs) {
                Ok(list) => protocol::result(&list, id),
                Err(e) => protocol::error(2, &format!("Invalid request: {e}"), id),
            },
            Method::SetCombined(b) => {
                self.combined = b;
                protocol::result("null", id)
            }
            Method::GetCombined => {
                protocol::result(if self.combined { "true" } else { "false" }, id)
            }
        };
        out.push(Message::text(resp));
    }

    /// Formats every pending batch; `Err` when a receiver fell too far behind.
    fn drain(&mut self, core: &SimCore, out: &mut Vec<Message>) -> Result<(), u64> {
        for (&idx, sub) in &mut self.markets {
            let Some(market) = core.markets.get(idx) else {
                continue;
            };
            loop {
                match sub.rx.try_recv() {
                    Ok(b) => push_batch(out, self.combined, &market.spec, &sub.names, &b),
                    Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    Err(TryRecvError::Lagged(n)) => return Err(n),
                }
            }
        }
        for (idx, push) in self.books.drain() {
            let (Some(market), Some(name)) = (core.markets.get(idx), self.book_names.get(&idx))
            else {
                continue;
            };
            for d in &push.deltas {
                emit(out, self.combined, name, |s| {
                    protocol::depth_update(s, &market.spec, d)
                });
            }
        }
        match self.books.lagged {
            Some(n) => Err(n),
            None => Ok(()),
        }
    }
}

/// Serves one Binance connection until the client leaves or the simulator stops.
pub(crate) async fn serve(
    ws: WebSocketStream<TcpStream>,
    core: Arc<SimCore>,
    route: BinanceRoute,
    mut shutdown: watch::Receiver<bool>,
) {
    let (mut sink, mut source) = ws.split();
    let mut conn = Conn {
        combined: route.combined,
        subs: Vec::new(),
        markets: BTreeMap::new(),
        books: BookSubs::default(),
        book_names: BTreeMap::new(),
    };
    for s in &route.streams {
        if protocol::parse_stream(s).is_some() {
            conn.add_stream(&core, s);
        } else {
            tracing::debug!(stream = %s, "ignoring malformed stream name in URL");
        }
    }
    let faults = core.faults(Venue::Binance);
    let mut drops = faults.drops();
    let mut conn_faults = ConnFaults::default();
    let mut out: Vec<Message> = Vec::new();
    let mut data: Vec<Message> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + core.binance_ping,
        core.binance_ping,
    );
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        if faults.silent_until().is_some() {
            let discard = || {
                let _ = conn.drain(&core, &mut data);
                data.clear();
            };
            match stay_silent(faults, &mut shutdown, &mut drops, discard).await {
                Some(Interrupt::Shutdown) => {
                    close(&mut sink, CloseCode::Away, "simulator shutting down").await;
                    break;
                }
                Some(Interrupt::Dropped) => break,
                None => {}
            }
        }
        tokio::select! {
            _ = stopped(&mut shutdown) => {
                close(&mut sink, CloseCode::Away, "simulator shutting down").await;
                break;
            }
            Ok(()) = drops.changed() => {
                tracing::debug!("binance connection dropped (fault)");
                break;
            }
            msg = source.next() => match msg {
                None => break,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "binance connection read error");
                    break;
                }
                Some(Ok(Message::Text(t))) => conn.handle_text(&core, t.as_str(), &mut out),
                Some(Ok(Message::Binary(b))) => {
                    // Control requests are text; a binary frame parses like invalid JSON text.
                    conn.handle_text(&core, &String::from_utf8_lossy(&b), &mut out);
                }
                // tungstenite queues the pong; the flush below sends it.
                Some(Ok(Message::Ping(_))) => {}
                Some(Ok(Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Close(_))) => {
                    // Sends the close reply tungstenite queued.
                    let _ = futures_util::SinkExt::flush(&mut sink).await;
                    break;
                }
            },
            _ = tick.tick(), if !conn.markets.is_empty() || !conn.books.is_empty() => {
                if let Err(n) = conn.drain(&core, &mut data) {
                    tracing::warn!(skipped = n, "binance client too slow; disconnecting");
                    close(&mut sink, CloseCode::Policy, "slow consumer").await;
                    break;
                }
                faults.mangle(&mut data, &mut conn_faults);
                out.append(&mut data);
            }
            _ = ping.tick() => {
                let payload = now_us().to_string();
                out.push(Message::Ping(Bytes::from(payload.into_bytes())));
            }
        }
        let r = if out.is_empty() {
            // Flushes a queued pong, if any.
            futures_util::SinkExt::flush(&mut sink).await
        } else {
            send_all(&mut sink, &mut out).await
        };
        if let Err(e) = r {
            tracing::debug!(error = %e, "binance connection write error");
            break;
        }
    }
}
