//! The listener, routing by HTTP path, and the handle owning every task.
//!
//! One TCP listener serves every venue: the request path picks the protocol. The request line is
//! peeked first: REST paths (`/binance/api/...`, `/kraken/0/...`) go to the HTTP server
//! ([`crate::http`]), everything else to the WebSocket handshake (`/binance/...`, `/kraken/v2`;
//! unknown paths get HTTP 404). Connection-level faults (refused connections, a rejected URL
//! subscription) are decided during the handshake.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use tickrec_model::now_us;
use tickrec_model::Venue;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, Uri};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{accept_hdr_async, WebSocketStream};

use crate::binance::{self, BinanceRoute};
use crate::book::{run_book_driver, BookFaultKind, BookTruth};
use crate::config::{check_fault, SimConfig, StartMode};
use crate::faults::{Fault, ScheduledFault, VenueFaults};
use crate::ground_truth::{GtSender, GtWriter};
use crate::market::{run_driver, Market, MarketSpec};
use crate::{bybit, coinbase, http, kraken, okx, upbit, SimError};

pub(crate) type WsSink = SplitSink<WebSocketStream<TcpStream>, Message>;

/// How long a client has to complete the WebSocket handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for connections to send their close frames.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Everything connections and drivers share.
#[derive(Debug)]
pub(crate) struct SimCore {
    pub markets: Vec<Arc<Market>>,
    /// Binance stream prefix (`btcusdt`) → market index.
    pub binance_by_stream: HashMap<String, usize>,
    /// Kraken symbol (`BTC/USD`) → market index.
    pub kraken_by_symbol: HashMap<String, usize>,
    /// OKX instrument id (`BTC-USDT`) → market index.
    pub okx_by_inst: HashMap<String, usize>,
    /// Upbit market code (`KRW-BTC`) → market index.
    pub upbit_by_code: HashMap<String, usize>,
    /// Bybit spot symbol (`BTCUSDT`) → market index.
    pub bybit_by_symbol: HashMap<String, usize>,
    /// Coinbase product id (`BTC-USD`) → market index.
    pub coinbase_by_product: HashMap<String, usize>,
    pub seed: u64,
    pub rate: f64,
    /// Book changes per second per market.
    pub book_rate: f64,
    /// Set by [`SimHandle::pause_books`]: no book changes until cleared.
    pub books_paused: AtomicBool,
    pub trades_per_market: Option<u64>,
    pub start_mode: StartMode,
    pub heartbeat: Duration,
    pub binance_ping: Duration,
    pub conn_counter: AtomicU64,
    pub published: AtomicU64,
    /// Fault state per venue (see [`SimCore::faults`]).
    faults: [VenueFaults; 6],
    /// Binance REST weight: (wall-clock minute, weight used in it).
    weight: Mutex<(i64, u32)>,
    /// Binance REST weight allowed per minute; 0 = unlimited.
    pub weight_limit: u32,
}

impl SimCore {
    /// The fault state of a venue.
    pub(crate) fn faults(&self, venue: Venue) -> &VenueFaults {
        // One state per venue, in `Venue::ALL` order.
        let i = Venue::ALL.iter().position(|v| *v == venue).unwrap_or(0);
        &self.faults[i]
    }

    /// The market `venue`/`symbol` (unified symbol).
    pub(crate) fn market(&self, venue: Venue, symbol: &str) -> Option<&Arc<Market>> {
        self.markets
            .iter()
            .find(|m| m.spec.venue == venue && m.spec.symbol == symbol)
    }

    /// Applies a fault now.
    pub(crate) fn inject(&self, fault: &Fault) -> Result<(), SimError> {
        check_fault(fault, |v, s| self.market(v, s).is_some()).map_err(SimError::Config)?;
        match fault {
            Fault::SkipTradeIds {
                venue,
                symbol,
                count,
            } => {
                if let Some(m) = self.market(*venue, symbol) {
                    m.skip_trades(*count);
                    tracing::info!(?fault, "fault injected");
                }
            }
            Fault::Burst {
                venue,
                symbol,
                trades,
                rate,
            } => {
                if let Some(m) = self.market(*venue, symbol) {
                    m.burst(*trades, *rate);
                    tracing::info!(?fault, "fault injected");
                }
            }
            Fault::DropBookDelta {
                venue,
                symbol,
                after,
            }
            | Fault::CorruptBookChecksum {
                venue,
                symbol,
                after,
            }
            | Fault::ReorderBookDeltas {
                venue,
                symbol,
                after,
            } => {
                if let Some(m) = self.market(*venue, symbol) {
                    let kind = match fault {
                        Fault::DropBookDelta { .. } => BookFaultKind::Drop,
                        Fault::CorruptBookChecksum { .. } => BookFaultKind::CorruptChecksum,
                        _ => BookFaultKind::Reorder,
                    };
                    m.book.arm(kind, *after);
                    tracing::info!(?fault, "fault injected");
                }
            }
            Fault::StaleBookSnapshot { venue, symbol, lag } => {
                if let Some(m) = self.market(*venue, symbol) {
                    m.book.stale_snapshot(*lag);
                    tracing::info!(?fault, "fault injected");
                }
            }
            Fault::DropConnections { venue: None } => {
                for v in crate::SIMULATED_VENUES {
                    self.faults(v).apply(fault);
                }
            }
            Fault::DropConnections { venue: Some(v) }
            | Fault::Silence { venue: v, .. }
            | Fault::Malformed { venue: v, .. }
            | Fault::Duplicate { venue: v, .. }
            | Fault::Reorder { venue: v, .. }
            | Fault::RejectNextSubscription { venue: v }
            | Fault::RateLimitRest { venue: v, .. }
            | Fault::RefuseConnections { venue: v, .. } => self.faults(*v).apply(fault),
        }
        Ok(())
    }

    /// Charges Binance REST weight: `Ok(used this minute)`, or `Err((used, seconds to the next
    /// minute))` when the request would exceed the limit.
    pub(crate) fn charge_weight(&self, w: u32) -> Result<u32, (u32, u64)> {
        let now = now_us();
        let minute = now.div_euclid(60_000_000);
        let mut g = self.weight.lock().unwrap_or_else(|e| e.into_inner());
        if g.0 != minute {
            *g = (minute, 0);
        }
        if self.weight_limit > 0 && g.1.saturating_add(w) > self.weight_limit {
            let left_us = 60_000_000 - now.rem_euclid(60_000_000);
            return Err((g.1, (left_us as u64).div_ceil(1_000_000)));
        }
        g.1 = g.1.saturating_add(w);
        Ok(g.1)
    }

    /// Binance REST weight used in the current minute.
    pub(crate) fn weight_used(&self) -> u32 {
        let minute = now_us().div_euclid(60_000_000);
        let g = self.weight.lock().unwrap_or_else(|e| e.into_inner());
        if g.0 == minute {
            g.1
        } else {
            0
        }
    }
}

/// Resolves once shutdown is requested (or the handle is gone).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

/// Sends queued messages with one flush, the cheap way to push many small frames.
pub(crate) async fn send_all(
    sink: &mut WsSink,
    out: &mut Vec<Message>,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    for m in out.drain(..) {
        sink.feed(m).await?;
    }
    sink.flush().await
}

/// Why a connection loop must end.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Interrupt {
    /// The simulator is stopping: send a close frame.
    Shutdown,
    /// [`Fault::DropConnections`]: drop the socket without a close frame.
    Dropped,
}

/// Keeps a connection completely silent while its venue is ([`Fault::Silence`]): nothing is
/// sent or read; `discard` is called every millisecond to drain (and drop) the data published
/// meanwhile, so that the connection does not fall behind.
pub(crate) async fn stay_silent(
    faults: &VenueFaults,
    shutdown: &mut watch::Receiver<bool>,
    drops: &mut watch::Receiver<u64>,
    mut discard: impl FnMut(),
) -> Option<Interrupt> {
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while let Some(until) = faults.silent_until() {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            _ = stopped(shutdown) => return Some(Interrupt::Shutdown),
            Ok(()) = drops.changed() => return Some(Interrupt::Dropped),
            _ = tick.tick() => discard(),
        }
    }
    None
}

/// Best-effort close frame.
pub(crate) async fn close(sink: &mut WsSink, code: CloseCode, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = sink.send(Message::Close(Some(frame))).await;
}

/// A running simulator. Dropping it stops the tasks too, but only [`SimHandle::shutdown`] waits
/// for the ground-truth file to be complete.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    core: Arc<SimCore>,
    shutdown: watch::Sender<bool>,
    finished: watch::Receiver<bool>,
    /// Kept so that `finished` never reports "closed" for an endless tape.
    _finished_tx: Option<watch::Sender<bool>>,
    tasks: Vec<JoinHandle<()>>,
    gt: Option<(GtWriter, GtSender)>,
}

impl SimHandle {
    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The WebSocket base of `venue` (the `*_ws_url` of that venue).
    pub fn ws_url(&self, venue: Venue) -> String {
        match venue {
            Venue::Binance => self.binance_ws_url(),
            Venue::Kraken => self.kraken_ws_url(),
            Venue::Okx => self.okx_ws_url(),
            Venue::Coinbase => self.coinbase_ws_url(),
            Venue::Bybit => self.bybit_ws_url(),
            Venue::Upbit => self.upbit_ws_url(),
        }
    }

    /// The REST base of `venue` (backfill, instruments, book snapshots).
    pub fn rest_url(&self, venue: Venue) -> String {
        match venue {
            Venue::Binance => self.binance_rest_url(),
            Venue::Kraken => self.kraken_rest_url(),
            Venue::Okx => self.okx_rest_url(),
            Venue::Coinbase => self.coinbase_rest_url(),
            Venue::Bybit => self.bybit_rest_url(),
            Venue::Upbit => self.upbit_rest_url(),
        }
    }

    /// Base URL of the Binance endpoint; append `/stream?streams=...` or `/ws/<stream>`.
    pub fn binance_ws_url(&self) -> String {
        format!("ws://{}/binance", self.addr)
    }

    /// URL of the Kraken v2 endpoint.
    pub fn kraken_ws_url(&self) -> String {
        format!("ws://{}/kraken/v2", self.addr)
    }

    /// Base URL of the OKX endpoints; append `/ws/v5/business` (tickrec's OKX adapter does).
    pub fn okx_ws_url(&self) -> String {
        format!("ws://{}/okx", self.addr)
    }

    /// Base URL of the OKX REST companion; append `/api/v5/market/history-trades?...`.
    pub fn okx_rest_url(&self) -> String {
        format!("http://{}/okx", self.addr)
    }

    /// URL of the Coinbase Advanced Trade market-data endpoint.
    pub fn coinbase_ws_url(&self) -> String {
        format!("ws://{}/coinbase", self.addr)
    }

    /// Base URL of the Coinbase REST companion; append `/api/v3/brokerage/market/...`.
    pub fn coinbase_rest_url(&self) -> String {
        format!("http://{}/coinbase", self.addr)
    }

    /// Base URL of the Bybit endpoints; append `/v5/public/spot` (tickrec's Bybit adapter does).
    pub fn bybit_ws_url(&self) -> String {
        format!("ws://{}/bybit", self.addr)
    }

    /// Base URL of the Bybit REST companion; append `/v5/market/recent-trade?...`.
    pub fn bybit_rest_url(&self) -> String {
        format!("http://{}/bybit", self.addr)
    }

    /// URL of the Upbit quotation WebSocket.
    pub fn upbit_ws_url(&self) -> String {
        format!("ws://{}/upbit/websocket/v1", self.addr)
    }

    /// Base URL of the Upbit REST companion; append `/v1/trades/ticks?...`.
    pub fn upbit_rest_url(&self) -> String {
        format!("http://{}/upbit", self.addr)
    }

    /// Base URL of the Binance REST companion; append `/api/v3/aggTrades?...`.
    pub fn binance_rest_url(&self) -> String {
        format!("http://{}/binance", self.addr)
    }

    /// Base URL of the Kraken REST companion; append `/0/public/Trades?...`.
    pub fn kraken_rest_url(&self) -> String {
        format!("http://{}/kraken", self.addr)
    }

    /// Injects a fault now (see [`Fault`]).
    ///
    /// # Errors
    /// [`SimError::Config`] when the fault names a market that is not simulated or a burst rate
    /// outside `MIN_RATE..=MAX_RATE`.
    pub fn inject(&self, fault: Fault) -> Result<(), SimError> {
        self.core.inject(&fault)
    }

    /// The venue's true order book of a market right now — every level the venue's stream shows
    /// (Kraken 10, Bybit 50, Upbit 15, the whole book elsewhere), exact values, and the venue's
    /// sequence number of its last message — to compare a recorder's book with. `None` for an
    /// unknown market. Dropped messages ([`Fault::DropBookDelta`]) are part of the truth.
    pub fn book(&self, venue: Venue, symbol: &str) -> Option<BookTruth> {
        self.core
            .market(venue, symbol)
            .map(|m| m.book.truth(&m.spec))
    }

    /// Stops every market's book from changing (trades go on). When this returns, no book
    /// changes any more, so a client that has read everything sent holds exactly
    /// [`SimHandle::book`].
    pub fn pause_books(&self) {
        self.core.books_paused.store(true, Ordering::Release);
        for m in &self.core.markets {
            // A change in progress holds the lock; every later one sees the flag.
            drop(m.book.lock());
        }
    }

    /// Lets the books change again, at the configured pace from now on.
    pub fn resume_books(&self) {
        self.core.books_paused.store(false, Ordering::Release);
    }

    /// Trades one market has published so far (REST serves exactly these); `None` for an unknown
    /// market.
    pub fn market_published(&self, venue: Venue, symbol: &str) -> Option<u64> {
        self.core
            .market(venue, symbol)
            .map(|m| m.lock().history.published())
    }

    /// Trades published so far, all markets (due trades of started tapes, whether or not any
    /// connection has sent them yet).
    pub fn published(&self) -> u64 {
        self.core.published.load(Ordering::Acquire)
    }

    /// Wall-clock µs at which a market's tape started (its trade 0's timestamp before Binance's
    /// millisecond truncation); `None` if not started or unknown. Feed it to `tape_trade`.
    pub fn tape_start_us(&self, venue: Venue, symbol: &str) -> Option<i64> {
        self.core.market(venue, symbol).and_then(|m| m.start_us())
    }

    /// Resolves once every market has published `trades_per_market` trades and the ground-truth
    /// file holds them all (flushed and fsynced). Never resolves for an endless tape, nor for an
    /// `OnSubscribe` market nobody subscribes to.
    pub async fn wait_finished(&self) {
        let mut rx = self.finished.clone();
        let _ = rx.wait_for(|v| *v).await;
    }

    /// Stops every task, closes connections (close code 1001), flushes and fsyncs the ground
    /// truth.
    ///
    /// # Errors
    /// [`SimError::GroundTruthWriter`] if the file could not be completely written,
    /// [`SimError::Task`] if a task panicked.
    pub async fn shutdown(self) -> Result<(), SimError> {
        let _ = self.shutdown.send(true);
        let mut result = Ok(());
        for t in self.tasks {
            if let Err(e) = t.await {
                if e.is_panic() && result.is_ok() {
                    result = Err(SimError::Task(e.to_string()));
                }
            }
        }
        if let Some((writer, tx)) = self.gt {
            let synced = tx.sync().await;
            drop(tx);
            let joined = writer.join().await;
            result = result.and(synced).and(joined);
        }
        result
    }
}

/// Binds, starts every market driver and the accept loop.
///
/// # Errors
/// [`SimError::Config`] for an invalid configuration, [`SimError::Io`] when the address cannot be
/// bound or the ground-truth file cannot be created.
pub async fn start(cfg: SimConfig) -> Result<SimHandle, SimError> {
    cfg.validate()?;
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| SimError::io(format!("bind {}", cfg.listen), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| SimError::io("local_addr", e))?;

    let mut markets = Vec::with_capacity(cfg.markets.len());
    let mut binance_by_stream = HashMap::new();
    let mut kraken_by_symbol = HashMap::new();
    let mut okx_by_inst = HashMap::new();
    let mut upbit_by_code = HashMap::new();
    let mut bybit_by_symbol = HashMap::new();
    let mut coinbase_by_product = HashMap::new();
    for (idx, m) in cfg.markets.iter().enumerate() {
        let spec = MarketSpec::new(idx, cfg.seed, m.venue, &m.symbol);
        let clash = match m.venue {
            Venue::Kraken => kraken_by_symbol.insert(spec.native.clone(), idx),
            Venue::Okx => okx_by_inst.insert(spec.native.clone(), idx),
            Venue::Upbit => upbit_by_code.insert(spec.native.clone(), idx),
            Venue::Bybit => bybit_by_symbol.insert(spec.native.clone(), idx),
            Venue::Coinbase => coinbase_by_product.insert(spec.native.clone(), idx),
            _ => binance_by_stream.insert(spec.stream.clone(), idx),
        };
        if clash.is_some() {
            return Err(SimError::Config(format!(
                "{} {} maps to the same native symbol as another market",
                m.venue, m.symbol
            )));
        }
        markets.push(Arc::new(Market::new(spec)));
    }
    let gt = match &cfg.ground_truth {
        Some(path) => Some(GtWriter::spawn(path, markets.clone())?),
        None => None,
    };
    let core = Arc::new(SimCore {
        markets,
        binance_by_stream,
        kraken_by_symbol,
        okx_by_inst,
        upbit_by_code,
        bybit_by_symbol,
        coinbase_by_product,
        seed: cfg.seed,
        rate: cfg.rate_per_market,
        book_rate: cfg.book_updates_per_sec,
        books_paused: AtomicBool::new(false),
        trades_per_market: cfg.trades_per_market,
        start_mode: cfg.start,
        heartbeat: cfg.heartbeat_interval,
        binance_ping: cfg.binance_ping_interval,
        conn_counter: AtomicU64::new(0),
        published: AtomicU64::new(0),
        faults: Venue::ALL.map(|v| VenueFaults::new(v, Instant::now())),
        weight: Mutex::new((0, 0)),
        weight_limit: cfg.binance_weight_limit,
    });
    let t0 = Instant::now();

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (finished_tx, finished_rx) = watch::channel(false);
    let gt_tx = gt.as_ref().map(|(_, tx)| tx.clone());
    let mut tasks = Vec::new();
    let (done_tx, done_rx) = match cfg.trades_per_market {
        Some(_) => {
            let (tx, rx) = mpsc::unbounded_channel();
            (Some(tx), Some(rx))
        }
        None => (None, None),
    };
    for idx in 0..core.markets.len() {
        tasks.push(tokio::spawn(run_driver(
            Arc::clone(&core),
            idx,
            gt_tx.clone(),
            done_tx.clone(),
            shutdown_rx.clone(),
        )));
    }
    for idx in 0..core.markets.len() {
        tasks.push(tokio::spawn(run_book_driver(
            Arc::clone(&core),
            idx,
            shutdown_rx.clone(),
        )));
    }
    drop(done_tx);
    let finished_keep = match done_rx {
        Some(rx) => {
            tasks.push(tokio::spawn(supervise(
                core.markets.len(),
                rx,
                gt_tx,
                finished_tx,
                shutdown_rx.clone(),
            )));
            None
        }
        None => Some(finished_tx),
    };
    // Faults due at once are in force before `start` returns (no race with the first client).
    let (now, later): (Vec<ScheduledFault>, Vec<ScheduledFault>) =
        cfg.faults.iter().cloned().partition(|f| f.at.is_zero());
    for f in &now {
        core.inject(&f.fault)?;
    }
    if !later.is_empty() {
        tasks.push(tokio::spawn(run_schedule(
            Arc::clone(&core),
            later,
            t0,
            shutdown_rx.clone(),
        )));
    }
    tasks.push(tokio::spawn(accept_loop(
        listener,
        Arc::clone(&core),
        shutdown_rx,
    )));
    tracing::info!(%addr, markets = core.markets.len(), "simulator listening");
    Ok(SimHandle {
        addr,
        core,
        shutdown: shutdown_tx,
        finished: finished_rx,
        _finished_tx: finished_keep,
        tasks,
        gt,
    })
}

/// Injects the scheduled faults at their time.
async fn run_schedule(
    core: Arc<SimCore>,
    mut faults: Vec<ScheduledFault>,
    t0: Instant,
    mut shutdown: watch::Receiver<bool>,
) {
    faults.sort_by_key(|f| f.at);
    for f in faults {
        tokio::select! {
            _ = tokio::time::sleep_until(t0 + f.at) => {}
            _ = stopped(&mut shutdown) => return,
        }
        if let Err(e) = core.inject(&f.fault) {
            tracing::warn!(error = %e, "scheduled fault not injected");
        }
    }
}

/// Reports completion once every finite tape is published and on disk.
async fn supervise(
    n: usize,
    mut done: mpsc::UnboundedReceiver<usize>,
    gt: Option<GtSender>,
    finished: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut remaining: HashSet<usize> = (0..n).collect();
    while !remaining.is_empty() {
        tokio::select! {
            d = done.recv() => match d {
                Some(i) => { remaining.remove(&i); }
                None => return,
            },
            _ = stopped(&mut shutdown) => return,
        }
    }
    if let Some(gt) = &gt {
        if let Err(e) = gt.sync().await {
            tracing::error!(error = %e, "ground truth sync after the tape finished");
        }
    }
    drop(gt);
    let _ = finished.send(true);
    stopped(&mut shutdown).await;
}

async fn accept_loop(
    listener: TcpListener,
    core: Arc<SimCore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => break,
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    tracing::debug!(%peer, "connection");
                    conns.spawn(handle_conn(stream, Arc::clone(&core), shutdown.clone()));
                }
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(CLOSE_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
}

/// The venue protocol a connection speaks, from its request path.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Binance(BinanceRoute),
    Kraken,
    Okx(okx::Endpoint),
    Upbit,
    Bybit,
    Coinbase,
}

impl Route {
    fn venue(&self) -> Venue {
        match self {
            Route::Binance(_) => Venue::Binance,
            Route::Kraken => Venue::Kraken,
            Route::Okx(_) => Venue::Okx,
            Route::Upbit => Venue::Upbit,
            Route::Bybit => Venue::Bybit,
            Route::Coinbase => Venue::Coinbase,
        }
    }
}

pub(crate) fn route_of(uri: &Uri) -> Option<Route> {
    let path = uri.path();
    if let Some(rest) = path.strip_prefix("/binance") {
        return binance::parse_path(rest, uri.query()).map(Route::Binance);
    }
    if let Some(rest) = path.strip_prefix("/bybit") {
        return bybit::is_spot_path(rest).then_some(Route::Bybit);
    }
    if let Some(rest) = path.strip_prefix("/okx") {
        return okx::parse_path(rest).map(Route::Okx);
    }
    match path {
        "/kraken/v2" | "/kraken/v2/" => Some(Route::Kraken),
        "/upbit/websocket/v1" | "/upbit/websocket/v1/" => Some(Route::Upbit),
        "/coinbase" | "/coinbase/" => Some(Route::Coinbase),
        _ => None,
    }
}

/// Decodes `%XX` escapes (clients may encode `@` and `/` in stream lists); malformed escapes are
/// kept literally.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An HTTP error response to a WebSocket handshake.
fn handshake_error(status: StatusCode, body: String) -> ErrorResponse {
    let mut e = ErrorResponse::new(Some(body));
    *e.status_mut() = status;
    e
}

async fn handle_conn(stream: TcpStream, core: Arc<SimCore>, shutdown: watch::Receiver<bool>) {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, http::peek_target(&stream)).await {
        Ok(Some(target)) => {
            let path = target.split('?').next().unwrap_or("");
            if http::is_rest_path(path) {
                return http::serve(stream, core, shutdown).await;
            }
        }
        Ok(None) => return,
        Err(_) => {
            tracing::debug!("no request line in time");
            return;
        }
    }
    let mut route = None;
    // The callback's signature is tungstenite's.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        match route_of(req.uri()) {
            Some(r) => {
                let faults = core.faults(r.venue());
                if let Some(secs) = faults.refusing() {
                    tracing::debug!(venue = %r.venue(), "connection refused (fault)");
                    let mut e = handshake_error(
                        StatusCode::TOO_MANY_REQUESTS,
                        "connection refused: too many connection attempts".into(),
                    );
                    e.headers_mut()
                        .insert("Retry-After", HeaderValue::from(secs.max(1)));
                    return Err(e);
                }
                if let Route::Binance(b) = &r {
                    if !b.streams.is_empty() && faults.take_reject() {
                        tracing::debug!("URL subscription rejected (fault)");
                        return Err(handshake_error(
                            StatusCode::BAD_REQUEST,
                            r#"{"code":-1,"msg":"Subscription refused; retry later."}"#.into(),
                        ));
                    }
                }
                route = Some(r);
                Ok(resp)
            }
            None => {
                tracing::debug!(uri = %req.uri(), "no venue at this path");
                Err(handshake_error(
                    StatusCode::NOT_FOUND,
                    format!("no venue at {}", req.uri().path()),
                ))
            }
        }
    };
    let ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept_hdr_async(stream, callback)).await
    {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "websocket handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("websocket handshake timed out");
            return;
        }
    };
    match route {
        Some(Route::Binance(r)) => binance::serve(ws, core, r, shutdown).await,
        Some(Route::Kraken) => kraken::serve(ws, core, shutdown).await,
        Some(Route::Okx(endpoint)) => okx::serve(ws, core, endpoint, shutdown).await,
        Some(Route::Upbit) => upbit::serve(ws, core, shutdown).await,
        Some(Route::Bybit) => bybit::serve(ws, core, shutdown).await,
        Some(Route::Coinbase) => coinbase::serve(ws, core, shutdown).await,
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(s: &str) -> Option<Route> {
        route_of(&s.parse::<Uri>().unwrap())
    }

    #[test]
    fn routes() {
        assert_eq!(route("/kraken/v2"), Some(Route::Kraken));
        assert_eq!(route("/kraken/v1"), None);
        assert_eq!(route("/"), None);
        assert_eq!(
            route("/binance/stream?streams=btcusdt@trade/ethusdt%40aggTrade"),
            Some(Route::Binance(BinanceRoute {
                combined: true,
                streams: vec!["btcusdt@trade".into(), "ethusdt@aggTrade".into()],
            }))
        );
        assert_eq!(
            route("/binance/ws/btcusdt@trade"),
            Some(Route::Binance(BinanceRoute {
                combined: false,
                streams: vec!["btcusdt@trade".into()],
            }))
        );
        assert_eq!(
            route("/binance/ws"),
            Some(Route::Binance(BinanceRoute {
                combined: false,
                streams: vec![],
            }))
        );
        assert_eq!(route("/binance/nope"), None);
    }

    #[test]
    fn percent() {
        assert_eq!(percent_decode("a%40b%2Fc"), "a@b/c");
        assert_eq!(percent_decode("a%4"), "a%4");
        assert_eq!(percent_decode("%zz%"), "%zz%");
    }
}
