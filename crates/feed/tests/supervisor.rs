//! Integration tests of the connection supervisor against scripted local venues.
//!
//! Every test starts its own WebSocket server on `127.0.0.1:0` that plays a venue, runs
//! `run_connection` against it with shrunk timers, and asserts on what the venue saw and on the
//! events that came out of the channel. Waits are on conditions (each under a generous timeout),
//! never on fixed sleeps. Time bounds are exact only in the direction that cannot flake (a
//! reconnect cannot happen *before* its timer); upper bounds are generous.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tickrec_feed::backfill::BackfillConfig;
use tickrec_feed::{run_connection, BackoffConfig, ConnectionConfig, ConnectionReport};
use tickrec_model::{
    Channel, Event, QualityEvent, QualityKind, Reject, RejectReason, Side, Trade, TradeId,
};
use tickrec_venues::binance::BinanceAdapter;
use tickrec_venues::kraken::KrakenAdapter;
use tickrec_venues::{ClientPing, HeartbeatRules, MarketSub, VenueAdapter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::WebSocketStream;

/// Whole-test guard.
const TEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Guard of one wait (a connection, a message, some events).
const STEP_TIMEOUT: Duration = Duration::from_secs(15);
/// `run_connection` must return within this after the shutdown signal.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);
/// The supervisor's connect timeout in these tests (long on purpose: see the hanging-connect test).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Backoff of these tests: 50 ms doubling to a 200 ms cap, no jitter.
const BACKOFF_INITIAL: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_millis(200);

const T_IN: &str = "2026-01-05T10:00:00.000100Z";
const T_OUT: &str = "2026-01-05T10:00:00.000150Z";
const TRADE_TS: &str = "2026-01-05T10:00:00.123456Z";
const KRAKEN_STATUS: &str = r#"{"channel":"status","type":"update","data":[{"version":"2.0.10","system":"online","api_version":"v2","connection_id":13834774380200032777}]}"#;
const KRAKEN_HEARTBEAT: &str = r#"{"channel":"heartbeat"}"#;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

async fn within<T>(what: impl Display, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP_TIMEOUT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {STEP_TIMEOUT:?} waiting for {what}"),
    }
}

/// Runs a test body under the overall timeout.
async fn run_test(body: impl Future<Output = ()>) {
    tickrec_feed::tls::install_crypto_provider();
    tokio::time::timeout(TEST_TIMEOUT, body)
        .await
        .expect("test exceeded its overall timeout");
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("client sent valid JSON")
}

/// A scripted venue: accepts WebSocket connections and hands each one to the test.
struct Venue {
    /// `ws://127.0.0.1:<port>`.
    url: String,
    conns: mpsc::UnboundedReceiver<Conn>,
    task: JoinHandle<()>,
}

/// One accepted client connection, driven by the test.
struct Conn {
    ws: WebSocketStream<TcpStream>,
    /// Request target of the upgrade request (path and query).
    uri: String,
    accepted_at: Instant,
}

impl Venue {
    async fn start() -> Venue {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("listener address");
        let (tx, conns) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let mut uri = String::new();
                // The callback's signature is tungstenite's (its error type is large).
                #[allow(clippy::result_large_err)]
                let record_uri = |req: &Request, resp: Response| {
                    uri = req.uri().to_string();
                    Ok(resp)
                };
                let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, record_uri).await else {
                    continue;
                };
                let conn = Conn {
                    ws,
                    uri,
                    accepted_at: Instant::now(),
                };
                if tx.send(conn).is_err() {
                    return;
                }
            }
        });
        Venue {
            url: format!("ws://{addr}"),
            conns,
            task,
        }
    }

    async fn next_conn(&mut self) -> Conn {
        within("a client connection", self.conns.recv())
            .await
            .expect("accept loop ended")
    }

    /// True when a connection was accepted that the test has not taken yet.
    fn has_pending_conn(&mut self) -> bool {
        match self.conns.try_recv() {
            Ok(_) => true,
            Err(mpsc::error::TryRecvError::Empty) => false,
            Err(mpsc::error::TryRecvError::Disconnected) => panic!("accept loop ended"),
        }
    }
}

impl Drop for Venue {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Conn {
    async fn send(&mut self, msg: Message) {
        self.ws.send(msg).await.expect("venue send");
    }

    async fn send_text(&mut self, text: impl Into<String>) {
        self.send(Message::text(text.into())).await;
    }

    /// Next message of any kind; `None` once the client went away.
    async fn next_msg(&mut self) -> Option<Message> {
        match within("a message from the client", self.ws.next()).await {
            Some(Ok(m)) => Some(m),
            Some(Err(_)) | None => None,
        }
    }

    /// Next text message, skipping control frames. Panics if the client went away.
    async fn recv_text(&mut self) -> String {
        loop {
            match self.next_msg().await {
                Some(Message::Text(t)) => return t.to_string(),
                Some(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
                other => panic!("expected a text message from the client, got {other:?}"),
            }
        }
    }
}

/// The supervisor under test, with the consumer end of its event channel.
struct Recorder {
    stop: watch::Sender<bool>,
    handle: JoinHandle<ConnectionReport>,
    rx: mpsc::Receiver<Vec<Event>>,
    events: Vec<Event>,
    /// Data-quality events, kept apart so data assertions see only data.
    quality: Vec<QualityEvent>,
}

/// Moves a delivered batch into data events and data-quality events.
fn route(batch: Vec<Event>, events: &mut Vec<Event>, quality: &mut Vec<QualityEvent>) {
    for e in batch {
        match e {
            Event::Quality(q) => quality.push(q),
            other => events.push(other),
        }
    }
}

fn rules(client_ping: ClientPing, ping_ms: u64, pong_ms: u64, idle_ms: u64) -> HeartbeatRules {
    HeartbeatRules {
        client_ping,
        ping_interval: Duration::from_millis(ping_ms),
        pong_timeout: Duration::from_millis(pong_ms),
        idle_timeout: Duration::from_millis(idle_ms),
        max_connection_age: None,
    }
}

/// No client ping and no idle timeout within a test's life.
fn quiet(client_ping: ClientPing) -> HeartbeatRules {
    rules(client_ping, 600_000, 600_000, 600_000)
}

impl Recorder {
    fn start(adapter: Box<dyn VenueAdapter>, base_url: &str, heartbeat: HeartbeatRules) -> Self {
        let cfg = ConnectionConfig {
            name: "test#0".into(),
            base_url: base_url.into(),
            backoff: BackoffConfig {
                initial: BACKOFF_INITIAL,
                max: BACKOFF_MAX,
                jitter: 0.0,
                reset_after: Duration::from_secs(60),
            },
            connect_timeout: CONNECT_TIMEOUT,
            heartbeat: Some(heartbeat),
            // Nothing listens on port 9: a gap's backfill fails at once and is reported unrepaired.
            rest_url: Some("http://127.0.0.1:9".into()),
            backfill: BackfillConfig {
                max_attempts: 1,
                ..BackfillConfig::default()
            },
            backfill_drain: Duration::from_secs(5),
            resume_from: Vec::new(),
            backpressure: None,
            state: None,
            books: Default::default(),
        };
        let (tx, rx) = mpsc::channel(1024);
        let (stop, stop_rx) = watch::channel(false);
        let handle = tokio::spawn(run_connection(adapter, cfg, tx, stop_rx));
        Recorder {
            stop,
            handle,
            rx,
            events: Vec::new(),
            quality: Vec::new(),
        }
    }

    /// Receives until at least `n` events arrived in total; returns all of them.
    async fn wait_events(&mut self, n: usize) -> &[Event] {
        let (rx, events, quality) = (&mut self.rx, &mut self.events, &mut self.quality);
        within(format!("{n} events"), async {
            while events.len() < n {
                match rx.recv().await {
                    Some(batch) => route(batch, events, quality),
                    None => panic!("event channel closed after {} events", events.len()),
                }
            }
        })
        .await;
        &self.events
    }

    /// Signals shutdown, checks that `run_connection` returns promptly (and did not panic), and
    /// returns its report with every event it delivered.
    async fn stop(self) -> (ConnectionReport, Vec<Event>) {
        let (report, events, _) = self.stop_with_quality().await;
        (report, events)
    }

    /// [`Recorder::stop`], also returning the data-quality events.
    async fn stop_with_quality(self) -> (ConnectionReport, Vec<Event>, Vec<QualityEvent>) {
        let Recorder {
            stop,
            mut handle,
            mut rx,
            mut events,
            mut quality,
        } = self;
        stop.send(true)
            .expect("run_connection still holds the shutdown receiver");
        let joined = tokio::time::timeout(SHUTDOWN_TIMEOUT, async {
            loop {
                tokio::select! {
                    r = &mut handle => break r,
                    Some(batch) = rx.recv() => route(batch, &mut events, &mut quality),
                }
            }
        })
        .await
        .expect("run_connection did not return promptly after shutdown");
        let report = joined.expect("run_connection panicked");
        // `run_connection` dropped its sender: this drains what is left and ends.
        while let Some(batch) = rx.recv().await {
            route(batch, &mut events, &mut quality);
        }
        (report, events, quality)
    }
}

// ---------------------------------------------------------------------------------------------
// Venue scripts
// ---------------------------------------------------------------------------------------------

fn markets(symbols: &[&str], channels: &[Channel]) -> Vec<MarketSub> {
    symbols
        .iter()
        .map(|s| MarketSub {
            symbol: Arc::from(*s),
            channels: channels.to_vec(),
        })
        .collect()
}

fn kraken_adapter(symbols: &[&str], channels: &[Channel]) -> Box<dyn VenueAdapter> {
    Box::new(KrakenAdapter::new(&markets(symbols, channels)).expect("valid Kraken markets"))
}

fn kraken_ack(req_id: u64, params: &Value, symbol: &str) -> String {
    let mut result = json!({"channel": params["channel"], "snapshot": true, "symbol": symbol});
    if let Some(trigger) = params.get("event_trigger") {
        result["event_trigger"] = trigger.clone();
    }
    json!({
        "method": "subscribe",
        "req_id": req_id,
        "result": result,
        "success": true,
        "time_in": T_IN,
        "time_out": T_OUT,
    })
    .to_string()
}

fn kraken_refusal(req_id: u64, symbol: &str) -> String {
    format!(
        r#"{{"error":"Currency pair not supported {symbol}","method":"subscribe","req_id":{req_id},"success":false,"symbol":"{symbol}","time_in":"{T_IN}","time_out":"{T_OUT}"}}"#
    )
}

/// One item of a Kraken `trade` push; `price` and `qty` are JSON number text, sent as is.
fn kraken_item(symbol: &str, id: u64, side: &str, price: &str, qty: &str) -> String {
    format!(
        r#"{{"symbol":"{symbol}","side":"{side}","price":{price},"qty":{qty},"ord_type":"limit","trade_id":{id},"timestamp":"{TRADE_TS}"}}"#
    )
}

fn kraken_trades(items: &[String]) -> String {
    format!(
        r#"{{"channel":"trade","type":"update","data":[{}]}}"#,
        items.join(",")
    )
}

/// Plays Kraken's side of a session opening: the status push, then — after reading the subscribe
/// requests, which must be exactly `expected` — one response per symbol: an ack, or Kraken's
/// refusal for symbols in `refuse`. Returns the instant just before the last response was sent.
async fn kraken_open(conn: &mut Conn, expected: &[String], refuse: &[&str]) -> Instant {
    conn.send_text(KRAKEN_STATUS).await;
    let mut responses = Vec::new();
    for want in expected {
        let got = json(&conn.recv_text().await);
        assert_eq!(got, json(want), "subscribe request seen by the venue");
        let req_id = got["req_id"].as_u64().expect("subscribe carries a req_id");
        let params = &got["params"];
        for symbol in params["symbol"].as_array().expect("symbol list") {
            let symbol = symbol.as_str().expect("symbol text");
            responses.push(if refuse.contains(&symbol) {
                kraken_refusal(req_id, symbol)
            } else {
                kraken_ack(req_id, params, symbol)
            });
        }
    }
    let mut last = Instant::now();
    for r in responses {
        last = Instant::now();
        conn.send_text(r).await;
    }
    last
}

fn binance_trade(id: u64, price: &str, qty: &str, buyer_is_maker: bool) -> String {
    format!(
        r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":1767607200123,"s":"BTCUSDT","t":{id},"p":"{price}","q":"{qty}","T":1767607200120,"m":{buyer_is_maker},"M":true}}}}"#
    )
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

fn as_trade(e: &Event) -> &Trade {
    match e {
        Event::Trade(t) => t,
        other => panic!("expected a trade, got {other:?}"),
    }
}

fn as_reject(e: &Event) -> &Reject {
    match e {
        Event::Reject(r) => r,
        other => panic!("expected a reject, got {other:?}"),
    }
}

/// Checks a trade field by field; prices and quantities must keep the venue's exact text.
fn assert_trade(e: &Event, symbol: &str, id: u64, side: Side, price: &str, qty: &str) {
    let t = as_trade(e);
    assert_eq!(&*t.symbol, symbol, "symbol of {t:?}");
    assert_eq!(t.trade_id, TradeId::Num(id), "trade id of {t:?}");
    assert_eq!(t.side, side, "side of {t:?}");
    assert_eq!(t.price.to_string(), price, "exact price of {t:?}");
    assert_eq!(t.qty.to_string(), qty, "exact qty of {t:?}");
}

fn assert_reject<'a>(e: &'a Event, reason: RejectReason, symbol: Option<&str>) -> &'a Reject {
    let r = as_reject(e);
    assert_eq!(r.reason, reason, "reason of {r:?}");
    assert_eq!(r.symbol.as_deref(), symbol, "symbol of {r:?}");
    r
}

fn trade_ids(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .map(|e| match as_trade(e).trade_id {
            TradeId::Num(n) => n,
            TradeId::Text(ref s) => panic!("unexpected text trade id {s}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// 1. Good and bad items in one frame, garbage frames around them: every good trade arrives
///    exactly, every bad thing becomes exactly one reject row with the right reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_mixed_and_garbage_frames_keep_good_trades_and_reject_each_bad_thing() {
    run_test(async {
        let mut venue = Venue::start().await;
        let adapter = kraken_adapter(&["BTC/USD", "ETH/USD"], &[Channel::Trades]);
        let subs = adapter.subscribe_messages();
        assert_eq!(
            subs.iter().map(|s| json(s)).collect::<Vec<_>>(),
            [json!({"method": "subscribe", "req_id": 1,
                "params": {"channel": "trade", "symbol": ["BTC/USD", "ETH/USD"], "snapshot": true}})]
        );
        let mut rec = Recorder::start(adapter, &venue.url, quiet(ClientPing::AppMessage));
        let mut conn = venue.next_conn().await;
        kraken_open(&mut conn, &subs, &[]).await;

        // One frame: good, zero price, unknown symbol, good.
        conn.send_text(kraken_trades(&[
            kraken_item("BTC/USD", 100, "buy", "65432.10", "0.00150000"),
            kraken_item("BTC/USD", 101, "sell", "0", "1.5"),
            kraken_item("DOGE/USD", 7, "buy", "0.1234", "100"),
            kraken_item("ETH/USD", 200, "sell", "3456.789", "2.5000"),
        ]))
        .await;
        // Truncated JSON.
        conn.send_text(r#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"bu"#)
            .await;
        // A binary frame (Kraken only sends text).
        let binary = vec![0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef];
        conn.send(Message::binary(binary.clone())).await;
        // A 2 MiB frame that would be a valid trade if the size limit were not enforced.
        let pad = "x".repeat(2 << 20);
        let big = kraken_trades(&[format!(
            r#"{{"symbol":"BTC/USD","side":"buy","price":1,"qty":1,"ord_type":"limit","trade_id":999,"timestamp":"{TRADE_TS}","pad":"{pad}"}}"#
        )]);
        assert!(big.len() > 2 << 20);
        conn.send_text(big).await;
        conn.send_text(KRAKEN_HEARTBEAT).await;
        // Good trades again.
        conn.send_text(kraken_trades(&[
            kraken_item("BTC/USD", 102, "buy", "65433.5", "0.01"),
            kraken_item("ETH/USD", 201, "buy", "3457", "0.00000001"),
        ]))
        .await;

        rec.wait_events(9).await;
        let (report, events, quality) = rec.stop_with_quality().await;
        assert_eq!(events.len(), 9, "exactly the expected events: {events:#?}");
        // The hole left by the rejected trade 101 is written down, and so is its failed repair.
        let kinds: Vec<_> = quality.iter().map(|q| (q.kind, q.from_id, q.to_id, q.count)).collect();
        assert_eq!(
            kinds,
            [
                (QualityKind::Gap, Some(101), Some(101), 1),
                (QualityKind::GapUnrepaired, Some(101), Some(101), 1),
            ],
            "{quality:#?}"
        );
        assert!(quality.iter().all(|q| q.symbol.as_deref() == Some("BTC/USD")));
        assert_trade(&events[0], "BTC/USD", 100, Side::Buy, "65432.10", "0.00150000");
        assert_reject(&events[1], RejectReason::NonPositivePrice, Some("BTC/USD"));
        let unknown = assert_reject(&events[2], RejectReason::UnknownSymbol, Some("DOGE/USD"));
        assert!(
            String::from_utf8_lossy(&unknown.raw).contains(r#""trade_id":7"#),
            "the reject keeps the offending item: {unknown:?}"
        );
        assert_trade(&events[3], "ETH/USD", 200, Side::Sell, "3456.789", "2.5000");
        assert_reject(&events[4], RejectReason::MalformedJson, None);
        let bin = assert_reject(&events[5], RejectReason::BinaryFrame, None);
        assert_eq!(bin.raw, binary);
        let over = assert_reject(&events[6], RejectReason::Oversized, None);
        assert_eq!(over.raw.len(), tickrec_model::MAX_REJECT_RAW_BYTES);
        assert_trade(&events[7], "BTC/USD", 102, Side::Buy, "65433.5", "0.01");
        assert_trade(&events[8], "ETH/USD", 201, Side::Buy, "3457", "0.00000001");

        assert_eq!(
            report,
            ConnectionReport {
                connects: 1,
                // status, 2 acks, mixed, truncated, binary, oversized, heartbeat, good
                frames: 9,
                events: 9,
                rejects: 5,
                // trade 101 was the rejected price-0 item: it is missing from the tape
                gaps: 1,
                missing_ids: 1,
                behind: 0,
                backfilled: 0,
                unrepaired: 1,
            }
        );
    })
    .await;
}

/// 2. Kraken refuses one symbol: the supervisor retries exactly that channel and symbol, first
///    after 1 s, then after 2 s; the connection stays up and the symbol flows once accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_refused_subscription_is_retried_for_that_symbol_with_backoff() {
    run_test(async {
        let mut venue = Venue::start().await;
        let adapter = kraken_adapter(&["BTC/USD", "NOPE/USD"], &[Channel::Trades]);
        let subs = adapter.subscribe_messages();
        let mut rec = Recorder::start(adapter, &venue.url, quiet(ClientPing::AppMessage));
        let mut conn = venue.next_conn().await;
        // The refusal is the last response (NOPE/USD is the second symbol).
        let refused_at = kraken_open(&mut conn, &subs, &["NOPE/USD"]).await;

        let retry = json!({"method": "subscribe", "req_id": 1,
            "params": {"channel": "trade", "symbol": ["NOPE/USD"], "snapshot": true}});
        let first = json(&conn.recv_text().await);
        let first_gap = refused_at.elapsed();
        assert_eq!(first, retry, "first retry");
        assert!(
            first_gap >= Duration::from_secs(1) && first_gap < Duration::from_secs(4),
            "first retry {first_gap:?} after the refusal, expected ~1 s"
        );

        let refused_again_at = Instant::now();
        conn.send_text(kraken_refusal(1, "NOPE/USD")).await;
        let second = json(&conn.recv_text().await);
        let second_gap = refused_again_at.elapsed();
        assert_eq!(second, retry, "second retry");
        assert!(
            second_gap >= Duration::from_secs(2) && second_gap < Duration::from_secs(5),
            "second retry {second_gap:?} after the refusal, expected ~2 s (backoff)"
        );

        conn.send_text(kraken_ack(1, &second["params"], "NOPE/USD"))
            .await;
        conn.send_text(kraken_trades(&[
            kraken_item("NOPE/USD", 1, "buy", "1.25", "10"),
            kraken_item("BTC/USD", 2, "sell", "65000.1", "0.5"),
        ]))
        .await;
        rec.wait_events(2).await;
        assert!(
            !venue.has_pending_conn(),
            "a refusal must not cost the connection"
        );
        let (report, events) = rec.stop().await;
        assert_eq!(events.len(), 2, "{events:#?}");
        assert_trade(&events[0], "NOPE/USD", 1, Side::Buy, "1.25", "10");
        assert_trade(&events[1], "BTC/USD", 2, Side::Sell, "65000.1", "0.5");
        assert_eq!(report.connects, 1);
        assert_eq!(report.rejects, 0);
    })
    .await;
}

/// 3a. Kraken application ping: the venue receives `{"method":"ping","req_id":N}`; answered with
///     pongs, the connection stays up well past the pong timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_app_ping_answered_keeps_the_connection() {
    run_test(async {
        let mut venue = Venue::start().await;
        let adapter = kraken_adapter(&["BTC/USD"], &[Channel::Trades]);
        let subs = adapter.subscribe_messages();
        let heartbeat = rules(ClientPing::AppMessage, 200, 600, 600_000);
        let mut rec = Recorder::start(adapter, &venue.url, heartbeat);
        let mut conn = venue.next_conn().await;
        kraken_open(&mut conn, &subs, &[]).await;

        // Pings are ≥ 200 ms apart, so ten of them span ≥ 1.8 s = 3 × the pong timeout: had a
        // pong been ignored, the supervisor would have dropped this connection meanwhile and
        // `recv_text` would fail.
        let mut ids = Vec::new();
        let mut first_ping = None;
        while ids.len() < 10 {
            let ping = json(&conn.recv_text().await);
            first_ping.get_or_insert_with(Instant::now);
            let id = ping["req_id"].as_u64().expect("ping req_id");
            assert_eq!(ping, json!({"method": "ping", "req_id": id}), "ping shape");
            ids.push(id);
            conn.send_text(
                json!({"method": "pong", "req_id": id, "time_in": T_IN, "time_out": T_OUT})
                    .to_string(),
            )
            .await;
        }
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ping ids increase: {ids:?}"
        );
        let span = first_ping.map(|t| t.elapsed()).unwrap_or_default();
        assert!(
            span >= Duration::from_millis(1800),
            "pings spanned {span:?}"
        );
        assert!(
            !venue.has_pending_conn(),
            "answered pings must not cause a reconnect"
        );

        conn.send_text(kraken_trades(&[kraken_item(
            "BTC/USD", 5, "buy", "1.0", "2",
        )]))
        .await;
        rec.wait_events(1).await;
        let (report, events) = rec.stop().await;
        assert_trade(&events[0], "BTC/USD", 5, Side::Buy, "1.0", "2");
        assert_eq!(report.connects, 1);
    })
    .await;
}

/// 3b. Kraken application ping never answered: the supervisor reconnects after the pong timeout
///     even though heartbeats keep arriving (the idle timeout is far away).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_app_ping_unanswered_forces_a_reconnect() {
    run_test(async {
        let mut venue = Venue::start().await;
        let adapter = kraken_adapter(&["BTC/USD"], &[Channel::Trades]);
        let subs = adapter.subscribe_messages();
        let (ping_ms, pong_ms) = (200, 500);
        let heartbeat = rules(ClientPing::AppMessage, ping_ms, pong_ms, 600_000);
        let mut rec = Recorder::start(adapter, &venue.url, heartbeat);
        let mut conn1 = venue.next_conn().await;
        kraken_open(&mut conn1, &subs, &[]).await;
        let opened1 = conn1.accepted_at;

        // Read pings without answering while pushing heartbeats, until the client goes away.
        let driver = tokio::spawn(async move {
            let mut pings = 0u32;
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    msg = conn1.ws.next() => match msg {
                        Some(Ok(Message::Text(t))) => {
                            let v = json(&t);
                            assert_eq!(v["method"], "ping", "only pings expected, got {t}");
                            pings += 1;
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => return pings,
                    },
                    _ = tick.tick() => {
                        if conn1.ws.send(Message::text(KRAKEN_HEARTBEAT)).await.is_err() {
                            return pings;
                        }
                    }
                }
            }
        });

        let mut conn2 = venue.next_conn().await;
        let gap = conn2.accepted_at.duration_since(opened1);
        assert!(
            gap >= Duration::from_millis(ping_ms + pong_ms),
            "reconnected {gap:?} after connecting: before a ping could time out"
        );
        assert!(gap < Duration::from_secs(5), "reconnect took {gap:?}");
        let pings = within("the first connection to close", driver)
            .await
            .expect("venue driver panicked");
        assert!(pings >= 1, "the venue saw no ping");

        kraken_open(&mut conn2, &subs, &[]).await;
        conn2
            .send_text(kraken_trades(&[kraken_item(
                "BTC/USD", 9, "sell", "2", "3",
            )]))
            .await;
        rec.wait_events(1).await;
        let (report, events) = rec.stop().await;
        assert_trade(&events[0], "BTC/USD", 9, Side::Sell, "2", "3");
        assert!(report.connects >= 2, "{report:?}");
    })
    .await;
}

/// 4. The venue acks and then goes silent with the socket open: the supervisor declares the
///    connection stale and reconnects within ~2 × idle timeout, replaying the same subscriptions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connection_is_replaced_and_subscriptions_replayed() {
    run_test(async {
        let mut venue = Venue::start().await;
        let adapter = kraken_adapter(&["BTC/USD", "ETH/USD"], &[Channel::Trades, Channel::Bbo]);
        let subs = adapter.subscribe_messages();
        assert_eq!(subs.len(), 2, "one request per channel");
        let idle = Duration::from_millis(1000);
        let heartbeat = rules(ClientPing::AppMessage, 600_000, 600_000, 1000);
        let mut rec = Recorder::start(adapter, &venue.url, heartbeat);

        let mut conn1 = venue.next_conn().await;
        let last_frame = kraken_open(&mut conn1, &subs, &[]).await;
        // conn1 stays open and silent.
        let mut conn2 = venue.next_conn().await;
        let gap = conn2.accepted_at.duration_since(last_frame);
        assert!(
            gap >= idle,
            "reconnected {gap:?} after the last frame: before the idle timeout"
        );
        assert!(
            gap < 2 * idle,
            "stale connection detected only after {gap:?}"
        );
        // Same subscribe requests (asserted inside) on the new connection.
        kraken_open(&mut conn2, &subs, &[]).await;
        conn2
            .send_text(kraken_trades(&[kraken_item(
                "ETH/USD", 3, "buy", "3000.00", "1",
            )]))
            .await;
        rec.wait_events(1).await;
        let (report, events, quality) = rec.stop_with_quality().await;
        assert_trade(&events[0], "ETH/USD", 3, Side::Buy, "3000.00", "1");
        assert!(report.connects >= 2, "{report:?}");
        // The silence and the outage it caused are both on the record, in that order.
        let stale = quality.iter().position(|q| q.kind == QualityKind::Stale);
        let back = quality
            .iter()
            .position(|q| q.kind == QualityKind::Reconnect);
        assert!(
            matches!((stale, back), (Some(s), Some(b)) if s < b),
            "{quality:#?}"
        );
        let s = &quality[stale.unwrap_or_default()];
        assert!(
            s.end_us - s.start_us >= 1_000_000,
            "silence of ≥ idle timeout: {s:?}"
        );
        drop(conn1);
    })
    .await;
}

/// 5. The venue closes (close frame), resets (RST) and drops (FIN) the connection in turn: the
///    supervisor reconnects each time after its backoff, replays the subscriptions, and every
///    session's events are delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_reset_and_dropped_connections_reconnect_with_backoff() {
    run_test(async {
        let mut venue = Venue::start().await;
        let adapter = kraken_adapter(&["BTC/USD"], &[Channel::Trades]);
        let subs = adapter.subscribe_messages();
        let mut rec = Recorder::start(adapter, &venue.url, quiet(ClientPing::AppMessage));

        // Session 1: trades, then a close frame.
        let mut conn = venue.next_conn().await;
        kraken_open(&mut conn, &subs, &[]).await;
        conn.send_text(kraken_trades(&[
            kraken_item("BTC/USD", 1, "buy", "100.5", "1"),
            kraken_item("BTC/USD", 2, "sell", "100.4", "2"),
        ]))
        .await;
        let ended = Instant::now();
        conn.ws
            .close(Some(CloseFrame {
                code: CloseCode::Away,
                reason: "maintenance".into(),
            }))
            .await
            .expect("close frame sent");
        drop(conn);

        // Session 2: trades, then a TCP reset once they were delivered.
        let mut conn = venue.next_conn().await;
        let gap = conn.accepted_at.duration_since(ended);
        assert!(gap >= BACKOFF_INITIAL, "first reconnect after {gap:?}");
        kraken_open(&mut conn, &subs, &[]).await;
        conn.send_text(kraken_trades(&[kraken_item(
            "BTC/USD", 3, "buy", "100.6", "3",
        )]))
        .await;
        rec.wait_events(3).await;
        conn.ws
            .get_ref()
            .set_zero_linger()
            .expect("SO_LINGER 0 for a reset");
        let ended = Instant::now();
        drop(conn);

        // Session 3: trades, then the socket is dropped without a close frame.
        let mut conn = venue.next_conn().await;
        let gap = conn.accepted_at.duration_since(ended);
        assert!(gap >= 2 * BACKOFF_INITIAL, "second reconnect after {gap:?}");
        kraken_open(&mut conn, &subs, &[]).await;
        conn.send_text(kraken_trades(&[kraken_item(
            "BTC/USD", 4, "sell", "100.7", "4",
        )]))
        .await;
        rec.wait_events(4).await;
        let ended = Instant::now();
        drop(conn);

        // Session 4: still replaying and delivering; the delay doubled again, up to its cap.
        let mut conn = venue.next_conn().await;
        let gap = conn.accepted_at.duration_since(ended);
        assert!(gap >= BACKOFF_MAX, "third reconnect after {gap:?}");
        kraken_open(&mut conn, &subs, &[]).await;
        conn.send_text(kraken_trades(&[kraken_item(
            "BTC/USD", 5, "buy", "100.8", "5",
        )]))
        .await;
        rec.wait_events(5).await;

        let (report, events) = rec.stop().await;
        assert_eq!(trade_ids(&events), [1, 2, 3, 4, 5]);
        assert_trade(&events[0], "BTC/USD", 1, Side::Buy, "100.5", "1");
        assert_trade(&events[4], "BTC/USD", 5, Side::Buy, "100.8", "5");
        assert_eq!(report.connects, 4, "{report:?}");
        assert_eq!(report.events, 5);
        assert_eq!(report.rejects, 0);
    })
    .await;
}

/// 6. Binance: streams in the URL, trades flow, server pings are answered with the same payload,
///    and `!serverShutdown` makes the supervisor reconnect to the same URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_url_trades_ping_pong_and_server_shutdown() {
    run_test(async {
        let mut venue = Venue::start().await;
        let adapter: Box<dyn VenueAdapter> = Box::new(
            BinanceAdapter::new(&markets(&["BTC/USDT"], &[Channel::Trades]))
                .expect("valid Binance market"),
        );
        assert!(adapter.subscribe_messages().is_empty());
        let base = format!("{}/binance", venue.url);
        let mut rec = Recorder::start(adapter, &base, quiet(ClientPing::WsFrame));

        let mut conn = venue.next_conn().await;
        assert_eq!(conn.uri, "/binance/stream?streams=btcusdt@trade");
        conn.send_text(binance_trade(
            5_000_001,
            "94123.45000000",
            "0.00012000",
            true,
        ))
        .await;
        conn.send_text(binance_trade(
            5_000_002,
            "94123.46000000",
            "1.50000000",
            false,
        ))
        .await;

        let payload = Bytes::from_static(b"tickrec-ping-1");
        conn.send(Message::Ping(payload.clone())).await;
        loop {
            match conn.next_msg().await {
                Some(Message::Pong(p)) => {
                    assert_eq!(p, payload, "pong carries the ping's payload");
                    break;
                }
                Some(Message::Ping(_)) => {}
                other => panic!("expected the pong, got {other:?}"),
            }
        }
        conn.send_text(binance_trade(
            5_000_003,
            "94120.00000000",
            "0.10000000",
            true,
        ))
        .await;
        rec.wait_events(3).await;

        conn.send_text(
            r#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}"#,
        )
        .await;
        let mut conn2 = venue.next_conn().await;
        assert_eq!(conn2.uri, "/binance/stream?streams=btcusdt@trade");
        conn2
            .send_text(binance_trade(
                5_000_004,
                "94121.01000000",
                "0.20000000",
                false,
            ))
            .await;
        rec.wait_events(4).await;

        let (report, events) = rec.stop().await;
        assert_eq!(events.len(), 4, "{events:#?}");
        assert_trade(
            &events[0],
            "BTC/USDT",
            5_000_001,
            Side::Sell,
            "94123.45000000",
            "0.00012000",
        );
        assert_trade(
            &events[1],
            "BTC/USDT",
            5_000_002,
            Side::Buy,
            "94123.46000000",
            "1.50000000",
        );
        assert_trade(
            &events[2],
            "BTC/USDT",
            5_000_003,
            Side::Sell,
            "94120.00000000",
            "0.10000000",
        );
        assert_trade(
            &events[3],
            "BTC/USDT",
            5_000_004,
            Side::Buy,
            "94121.01000000",
            "0.20000000",
        );
        assert_eq!(report.connects, 2, "{report:?}");
        assert_eq!(report.events, 4);
        assert_eq!(report.rejects, 0);
        drop(conn);
    })
    .await;
}

/// 7. Shutdown while frames are flowing: `run_connection` returns promptly and every frame it
///    parsed is in the channel — nothing parsed is lost, nothing is counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_while_streaming_delivers_everything_parsed() {
    run_test(async {
        let mut venue = Venue::start().await;
        let adapter = kraken_adapter(&["BTC/USD"], &[Channel::Trades]);
        let subs = adapter.subscribe_messages();
        let mut rec = Recorder::start(adapter, &venue.url, quiet(ClientPing::AppMessage));
        let mut conn = venue.next_conn().await;
        kraken_open(&mut conn, &subs, &[]).await;

        // Stream one trade per frame, ids 1, 2, 3…, until the client goes away.
        let streamer = tokio::spawn(async move {
            for id in 1u64.. {
                let frame = kraken_trades(&[kraken_item("BTC/USD", id, "buy", "50000.5", "0.001")]);
                if conn.ws.send(Message::text(frame)).await.is_err() {
                    return id - 1;
                }
            }
            0
        });

        rec.wait_events(300).await;
        let stopping = Instant::now();
        let (report, events) = rec.stop().await;
        let took = stopping.elapsed();
        streamer.abort();

        let n = events.len();
        assert!(n >= 300);
        assert_eq!(
            report.events, n as u64,
            "report.events vs events in the channel"
        );
        assert_eq!(
            trade_ids(&events),
            (1..=n as u64).collect::<Vec<_>>(),
            "every parsed trade, in order, once"
        );
        // status + ack + one frame per trade.
        assert_eq!(report.frames, n as u64 + 2, "{report:?}");
        assert_eq!(report.connects, 1);
        assert_eq!(report.rejects, 0);
        assert!(took < SHUTDOWN_TIMEOUT, "shutdown took {took:?}");
    })
    .await;
}

/// 8. Shutdown while the venue accepted TCP but never answers the WebSocket handshake: the
///    supervisor must not sit out its whole connect timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_during_a_hanging_connect_is_prompt() {
    run_test(async {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("ws://{}", listener.local_addr().expect("listener address"));
        let adapter = kraken_adapter(&["BTC/USD"], &[Channel::Trades]);
        let rec = Recorder::start(adapter, &url, quiet(ClientPing::AppMessage));
        // Accept the TCP connection and hold it without a handshake reply.
        let (_tcp, _) = within("the TCP connect", listener.accept())
            .await
            .expect("accept");
        let stopping = Instant::now();
        let (report, events) = rec.stop().await;
        let took = stopping.elapsed();
        assert!(took < CONNECT_TIMEOUT, "shutdown waited {took:?}");
        assert_eq!(report, ConnectionReport::default());
        assert!(events.is_empty());
    })
    .await;
}
