//! Loopback order-book tests: every venue's book stream, read by that venue's adapter
//! (`tickrec-venues`) and applied with the recorder's book engine (`tickrec-book`) under the
//! venue's sequence rule, rebuilds exactly the simulator's ground truth with every checksum
//! verified; and every book fault is seen for what it is (a sequence gap, a checksum mismatch,
//! a stale snapshot), after which a resync (fresh snapshot) rebuilds the true book again.
//!
//! The simulator's checksums are computed from the texts it sends, independently of
//! `tickrec-book`, so agreement here is evidence, not an echo.

mod common;

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tickrec_book::{
    BinanceSync, BookSide, BookTracker, Checksum, Consecutive, PrevSeqChain, SnapshotError, Step,
    Verdict,
};
use tickrec_model::{BookKind, BookUpdate, Channel, Event, Venue};
use tickrec_simulator::{start, BookTruth, Fault, SimConfig, SimHandle, SimMarket};
use tickrec_venues::{adapter_for, Frame, FrameKind, MarketSub, VenueAdapter};
use tokio_tungstenite::tungstenite::Message;

use common::{connect, get, Ws, WAIT};

/// Book changes per second in these tests: fast, so a test needs well under a second of book.
const BOOK_RATE: f64 = 400.0;

fn symbol(venue: Venue) -> &'static str {
    match venue {
        Venue::Kraken | Venue::Coinbase => "BTC/USD",
        Venue::Upbit => "BTC/KRW",
        _ => "BTC/USDT",
    }
}

async fn sim(venue: Venue) -> SimHandle {
    let mut cfg = SimConfig::new(vec![SimMarket::new(venue, symbol(venue))]);
    cfg.book_updates_per_sec = BOOK_RATE;
    start(cfg).await.expect("simulator")
}

/// What the client saw go wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Trouble {
    /// The venue's sequence rule found a hole (Binance `U`, OKX `prevSeqId`, Bybit `u`,
    /// Coinbase `sequence_num`).
    Gap,
    /// A checksum did not match the book.
    ChecksumMismatch,
}

/// The venue's sequence rule for one book.
enum Rule {
    Binance(BinanceSync<BookUpdate>),
    PrevSeq(PrevSeqChain),
    Consecutive(Consecutive),
    /// Snapshots only, or a checksum-only venue.
    None,
}

/// A minimal recorder of one venue's book: adapter + sequence rule + book tracker.
struct Client {
    venue: Venue,
    symbol: Arc<str>,
    adapter: Box<dyn VenueAdapter>,
    ws: Ws,
    rest_base: String,
    tracker: BookTracker,
    rule: Rule,
    troubles: Vec<Trouble>,
    /// Book messages applied to a live book.
    applied: u64,
    /// Venue id of the last applied message.
    last_id: Option<u64>,
    /// Binance deltas buffered while waiting for a REST snapshot.
    buffered: u64,
    /// The last sequence gap: (expected, received).
    last_gap: Option<(u64, u64)>,
}

impl Client {
    async fn connect(sim: &SimHandle, venue: Venue) -> Client {
        let symbol: Arc<str> = Arc::from(symbol(venue));
        let adapter = adapter_for(
            venue,
            &[MarketSub {
                symbol: symbol.clone(),
                channels: vec![Channel::Book],
            }],
        )
        .expect("adapter");
        let base = match venue {
            Venue::Binance => sim.binance_ws_url(),
            Venue::Kraken => sim.kraken_ws_url(),
            Venue::Okx => sim.okx_ws_url(),
            Venue::Bybit => sim.bybit_ws_url(),
            Venue::Coinbase => sim.coinbase_ws_url(),
            Venue::Upbit => sim.upbit_ws_url(),
        };
        let mut ws = connect(&adapter.connect_url(&base)).await;
        adapter.on_connect();
        for m in adapter.subscribe_messages() {
            ws.send(Message::text(m)).await.expect("subscribe");
        }
        let (checksum, depth) = match venue {
            Venue::Kraken => (Checksum::Kraken, Some(10)),
            Venue::Okx => (Checksum::Okx, None),
            Venue::Bybit => (Checksum::None, Some(50)),
            _ => (Checksum::None, None),
        };
        let rule = match venue {
            Venue::Binance => Rule::Binance(BinanceSync::new(100_000)),
            Venue::Okx => Rule::PrevSeq(PrevSeqChain::new()),
            Venue::Bybit => Rule::Consecutive(Consecutive::new()),
            _ => Rule::None,
        };
        Client {
            venue,
            symbol,
            adapter,
            ws,
            rest_base: sim.binance_rest_url(),
            tracker: BookTracker::new(checksum, depth),
            rule,
            troubles: Vec::new(),
            applied: 0,
            last_id: None,
            buffered: 0,
            last_gap: None,
        }
    }

    /// Reads one frame (waiting at most `wait`) and applies its book events; false on timeout.
    async fn pump(&mut self, wait: Duration) -> bool {
        let msg = match tokio::time::timeout(wait, self.ws.next()).await {
            Err(_) => return false,
            Ok(Some(Ok(m))) => m,
            Ok(other) => panic!("{} connection ended: {other:?}", self.venue),
        };
        let mut out = Vec::new();
        let kind = match &msg {
            Message::Text(t) => self.adapter.parse(Frame::Text(t.as_str()), 0, &mut out),
            Message::Binary(b) => self.adapter.parse(Frame::Binary(b), 0, &mut out),
            _ => return true,
        };
        if let FrameKind::SequenceGap { .. } = kind {
            // Coinbase: messages were lost on this connection; the book cannot be trusted.
            self.troubles.push(Trouble::Gap);
            self.tracker.on_gap(0);
        }
        for e in out {
            match e {
                Event::Book(u) => self.on_book(u),
                Event::Reject(r) => panic!("{}: reject {r:?}", self.venue),
                _ => {}
            }
        }
        true
    }

    fn verdict(&mut self, v: Verdict) {
        match v {
            Verdict::ChecksumMismatch { .. } => self.troubles.push(Trouble::ChecksumMismatch),
            Verdict::NotLive => {}
            Verdict::Verified | Verdict::Unchecked => {
                assert!(!self.tracker.book().is_crossed(), "{} crossed", self.venue);
            }
        }
    }

    fn on_book(&mut self, u: BookUpdate) {
        assert_eq!(u.symbol, self.symbol);
        if u.kind == BookKind::Snapshot {
            match &mut self.rule {
                Rule::PrevSeq(r) => r.on_snapshot(u.last_update_id.expect("seqId") as i64),
                Rule::Consecutive(r) => r.on_snapshot(u.last_update_id.expect("u")),
                Rule::Binance(_) => panic!("Binance sends no stream snapshot"),
                Rule::None => {}
            }
            self.last_id = u.last_update_id;
            // Upbit sends nothing but snapshots: each one counts as an applied message.
            self.applied += 1;
            let v = self.tracker.on_snapshot(&u.bids, &u.asks, u.checksum, 0);
            return self.verdict(v);
        }
        let step = match &mut self.rule {
            Rule::Binance(r) => {
                let (first, last) = (u.first_update_id.expect("U"), u.last_update_id.expect("u"));
                match r.on_delta(first, last, u) {
                    Step::Apply(u) => Step::Apply(u),
                    Step::Buffered => {
                        self.buffered += 1;
                        Step::Buffered
                    }
                    Step::Ignore => Step::Ignore,
                    Step::Gap { expected, got } => Step::Gap { expected, got },
                }
            }
            Rule::PrevSeq(r) => {
                let prev = u.first_update_id.map_or(-1, |p| p as i64);
                match r.on_update(prev, u.last_update_id.expect("seqId") as i64) {
                    Step::Apply(()) => Step::Apply(u),
                    Step::Gap { expected, got } => Step::Gap { expected, got },
                    _ => Step::Ignore,
                }
            }
            Rule::Consecutive(r) => match r.on_delta(u.last_update_id.expect("u")) {
                Step::Apply(()) => Step::Apply(u),
                Step::Gap { expected, got } => Step::Gap { expected, got },
                Step::Ignore => Step::Ignore,
                Step::Buffered => Step::Buffered,
            },
            Rule::None => Step::Apply(u),
        };
        match step {
            Step::Apply(u) => {
                if !self.tracker.is_live() {
                    return;
                }
                self.last_id = u.last_update_id;
                self.applied += 1;
                let v = self.tracker.on_delta(&u.bids, &u.asks, u.checksum, 0);
                self.verdict(v);
            }
            Step::Gap { expected, got } => {
                self.last_gap = Some((expected, got));
                self.troubles.push(Trouble::Gap);
                self.tracker.on_gap(0);
            }
            Step::Buffered | Step::Ignore => {}
        }
    }

    /// Binance: fetches the REST snapshot and applies the buffered deltas it leaves.
    async fn binance_snapshot(&mut self) -> Result<(), SnapshotError> {
        let url = self
            .adapter
            .book_snapshot_url(&self.symbol, &self.rest_base)
            .expect("depth url");
        let r = get(&url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let snap = self
            .adapter
            .parse_book_snapshot(&self.symbol, r.body.as_bytes(), 0)
            .expect("depth reply");
        let Rule::Binance(sync) = &mut self.rule else {
            panic!("not Binance")
        };
        let pending = sync.on_snapshot(snap.last_update_id.expect("lastUpdateId"))?;
        self.last_id = snap.last_update_id;
        let v = self.tracker.on_snapshot(&snap.bids, &snap.asks, None, 0);
        self.verdict(v);
        for u in pending {
            self.last_id = u.last_update_id;
            self.applied += 1;
            let v = self.tracker.on_delta(&u.bids, &u.asks, None, 0);
            self.verdict(v);
        }
        Ok(())
    }

    /// Starts (or restarts) the book: Binance waits for a buffered delta and fetches the REST
    /// snapshot; the others have their snapshot on the stream. Troubles seen on the way (deltas
    /// of the broken book still arriving) are forgotten.
    async fn sync(&mut self) {
        if self.venue == Venue::Binance {
            self.buffered = 0;
            while self.buffered == 0 {
                assert!(self.pump(WAIT).await, "no depth event");
            }
            self.binance_snapshot()
                .await
                .expect("a fresh snapshot syncs");
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.tracker.is_live() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: no snapshot",
                self.venue
            );
            self.pump(WAIT).await;
        }
        self.troubles.clear();
    }

    /// Applies messages until `n` more were applied to a live book.
    async fn apply(&mut self, n: u64) {
        let target = self.applied + n;
        while self.applied < target {
            assert!(self.pump(WAIT).await, "{}: stream stalled", self.venue);
            assert!(
                self.troubles.is_empty(),
                "{}: {:?}",
                self.venue,
                self.troubles
            );
        }
    }

    /// Reads until something goes wrong; returns what.
    async fn until_trouble(&mut self) -> Trouble {
        match self.trouble_within(u64::MAX).await {
            Some(t) => t,
            None => panic!("{}: nothing went wrong", self.venue),
        }
    }

    /// Reads until something goes wrong or `n` more messages applied cleanly (`None`), within
    /// [`WAIT`] either way.
    async fn trouble_within(&mut self, n: u64) -> Option<Trouble> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let target = self.applied.saturating_add(n);
        while self.troubles.is_empty() && self.applied < target {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: timed out",
                self.venue
            );
            assert!(self.pump(WAIT).await, "{}: stream stalled", self.venue);
        }
        (!self.troubles.is_empty()).then(|| self.troubles.remove(0))
    }

    fn equals(&self, truth: &BookTruth) -> bool {
        let book = self.tracker.book();
        self.tracker.is_live()
            && book.top(BookSide::Bid, usize::MAX) == truth.bids
            && book.top(BookSide::Ask, usize::MAX) == truth.asks
            && (truth.last_update_id.is_none() || self.last_id == truth.last_update_id)
    }

    /// Pauses the venue's books and reads until this client holds exactly the true book.
    async fn converge(&mut self, sim: &SimHandle) -> BookTruth {
        let truth = self.converge_paused(sim).await;
        sim.resume_books();
        truth
    }

    /// As [`Client::converge`], leaving the books paused.
    async fn converge_paused(&mut self, sim: &SimHandle) -> BookTruth {
        sim.pause_books();
        let truth = sim.book(self.venue, &self.symbol).expect("market");
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.equals(&truth) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: book never matched the truth: live {} last id {:?} vs {:?}, bids {:?} vs {:?}",
                self.venue,
                self.tracker.is_live(),
                self.last_id,
                truth.last_update_id,
                self.tracker.book().top(BookSide::Bid, 3),
                &truth.bids[..3],
            );
            self.pump(Duration::from_millis(50)).await;
        }
        truth
    }

    /// Asks the venue for a fresh snapshot on this connection (Binance: a new REST snapshot).
    async fn resync(&mut self) {
        if self.venue == Venue::Binance {
            if let Rule::Binance(s) = &mut self.rule {
                s.reset();
            }
            return self.sync().await;
        }
        let msgs = self.adapter.book_resync_messages(&self.symbol);
        assert_eq!(msgs.len(), 2, "{}: unsubscribe + subscribe", self.venue);
        for m in msgs {
            self.ws.send(Message::text(m)).await.expect("resync");
        }
        self.sync().await;
    }
}

/// The depth at which each venue shows its book.
fn shown_depth(venue: Venue) -> Option<usize> {
    match venue {
        Venue::Kraken => Some(10),
        Venue::Bybit => Some(50),
        Venue::Upbit => Some(15),
        _ => None,
    }
}

async fn rebuilds_the_true_book(venue: Venue) {
    let sim = sim(venue).await;
    let mut c = Client::connect(&sim, venue).await;
    c.sync().await;
    c.apply(80).await;
    let truth = c.converge(&sim).await;
    assert!(truth.deltas >= 80 && truth.messages >= 80, "{truth:?}");
    match shown_depth(venue) {
        // A side holds 30..=90 levels: the window is full for Kraken and Upbit, often not for
        // Bybit's 50.
        Some(d) => {
            for n in [truth.bids.len(), truth.asks.len()] {
                assert!((d.min(30)..=d).contains(&n), "{venue}: {n}");
            }
        }
        None => assert!(truth.bids.len() >= 30 && truth.asks.len() >= 30, "{venue}"),
    }
    assert!(truth.bids[0].price < truth.asks[0].price);
    let stats = c.tracker.stats(0);
    assert_eq!(
        (stats.gaps, stats.checksum_failed, stats.crossed),
        (0, 0, 0),
        "{venue}"
    );
    if matches!(venue, Venue::Kraken | Venue::Okx) {
        assert!(stats.checksum_ok >= 80, "{venue}: {stats:?}");
    }
    // And it keeps matching after the books resume.
    c.apply(40).await;
    c.converge(&sim).await;
    assert!(c.troubles.is_empty());
    sim.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn binance_rebuilds_the_true_book() {
    rebuilds_the_true_book(Venue::Binance).await;
}

#[tokio::test]
async fn kraken_rebuilds_the_true_book() {
    rebuilds_the_true_book(Venue::Kraken).await;
}

#[tokio::test]
async fn okx_rebuilds_the_true_book() {
    rebuilds_the_true_book(Venue::Okx).await;
}

#[tokio::test]
async fn bybit_rebuilds_the_true_book() {
    rebuilds_the_true_book(Venue::Bybit).await;
}

#[tokio::test]
async fn coinbase_rebuilds_the_true_book() {
    rebuilds_the_true_book(Venue::Coinbase).await;
}

#[tokio::test]
async fn upbit_rebuilds_the_true_book() {
    rebuilds_the_true_book(Venue::Upbit).await;
}

/// Injects `fault` once the book is live, expects `seen` (`None`: the venue cannot see it),
/// then resyncs and rebuilds the true book.
async fn fault_is_seen_and_resync_repairs(venue: Venue, fault: Fault, seen: Option<Trouble>) {
    let sim = sim(venue).await;
    let mut c = Client::connect(&sim, venue).await;
    c.sync().await;
    c.apply(20).await;
    sim.inject(fault.clone()).expect("fault");
    if venue == Venue::Kraken && matches!(fault, Fault::DropBookDelta { .. }) {
        // Kraken has no sequence numbers: a lost message whose every change the next message
        // overwrites leaves the book right, and no checksum can (or needs to) tell. Then the
        // book must still be the true one, and the next drop is tried.
        for _ in 0..5 {
            if let Some(t) = c.trouble_within(40).await {
                c.troubles.insert(0, t);
                break;
            }
            c.converge(&sim).await;
            sim.inject(fault.clone()).expect("fault");
        }
    }
    match &seen {
        Some(t) => {
            assert_eq!(&c.until_trouble().await, t, "{venue}: {fault:?}");
            assert!(!c.tracker.is_live(), "the book is dropped, never stitched");
            c.resync().await;
        }
        None => c.apply(20).await,
    }
    c.converge(&sim).await;
    assert!(c.troubles.is_empty(), "{venue}: {:?}", c.troubles);
    sim.shutdown().await.expect("shutdown");
}

fn drop_delta(venue: Venue) -> Fault {
    Fault::DropBookDelta {
        venue,
        symbol: symbol(venue).into(),
        after: 3,
    }
}

#[tokio::test]
async fn dropped_delta_is_a_gap_on_binance() {
    let v = Venue::Binance;
    fault_is_seen_and_resync_repairs(v, drop_delta(v), Some(Trouble::Gap)).await;
}

#[tokio::test]
async fn dropped_delta_is_a_checksum_mismatch_on_kraken() {
    let v = Venue::Kraken;
    fault_is_seen_and_resync_repairs(v, drop_delta(v), Some(Trouble::ChecksumMismatch)).await;
}

#[tokio::test]
async fn dropped_delta_is_a_gap_on_okx() {
    let v = Venue::Okx;
    fault_is_seen_and_resync_repairs(v, drop_delta(v), Some(Trouble::Gap)).await;
}

#[tokio::test]
async fn dropped_delta_is_a_gap_on_bybit() {
    let v = Venue::Bybit;
    fault_is_seen_and_resync_repairs(v, drop_delta(v), Some(Trouble::Gap)).await;
}

#[tokio::test]
async fn dropped_delta_is_a_gap_on_coinbase() {
    let v = Venue::Coinbase;
    fault_is_seen_and_resync_repairs(v, drop_delta(v), Some(Trouble::Gap)).await;
}

#[tokio::test]
async fn dropped_snapshot_is_harmless_on_upbit() {
    let v = Venue::Upbit;
    fault_is_seen_and_resync_repairs(v, drop_delta(v), None).await;
}

#[tokio::test]
async fn corrupted_checksum_is_seen_on_kraken_and_okx() {
    for v in [Venue::Kraken, Venue::Okx] {
        let f = Fault::CorruptBookChecksum {
            venue: v,
            symbol: symbol(v).into(),
            after: 5,
        };
        fault_is_seen_and_resync_repairs(v, f, Some(Trouble::ChecksumMismatch)).await;
    }
}

#[tokio::test]
async fn out_of_order_deltas_are_gaps() {
    for v in [Venue::Binance, Venue::Okx, Venue::Bybit, Venue::Coinbase] {
        let f = Fault::ReorderBookDeltas {
            venue: v,
            symbol: symbol(v).into(),
            after: 2,
        };
        fault_is_seen_and_resync_repairs(v, f, Some(Trouble::Gap)).await;
    }
}

#[tokio::test]
async fn stale_binance_snapshot_is_refused_then_refetched() {
    let v = Venue::Binance;
    let sim = sim(v).await;
    let mut c = Client::connect(&sim, v).await;
    while c.buffered == 0 {
        assert!(c.pump(WAIT).await, "no depth event");
    }
    sim.inject(Fault::StaleBookSnapshot {
        venue: v,
        symbol: symbol(v).into(),
        lag: 1_000_000,
    })
    .expect("fault");
    match c.binance_snapshot().await {
        Err(SnapshotError::TooOld {
            last_update_id,
            first,
        }) => assert!(last_update_id < first),
        other => panic!("a stale snapshot was accepted: {other:?}"),
    }
    assert!(!c.tracker.is_live());
    // The next one is current.
    c.binance_snapshot().await.expect("fresh snapshot");
    c.apply(20).await;
    c.converge(&sim).await;
    sim.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn faults_are_refused_where_they_cannot_apply() {
    let sim = sim(Venue::Bybit).await;
    let sym = symbol(Venue::Bybit).to_string();
    assert!(sim
        .inject(Fault::CorruptBookChecksum {
            venue: Venue::Bybit,
            symbol: sym.clone(),
            after: 0
        })
        .is_err());
    assert!(sim
        .inject(Fault::StaleBookSnapshot {
            venue: Venue::Bybit,
            symbol: sym,
            lag: 1
        })
        .is_err());
    assert!(sim
        .inject(Fault::DropBookDelta {
            venue: Venue::Bybit,
            symbol: "ETH/USDT".into(),
            after: 0
        })
        .is_err());
    assert!(sim.book(Venue::Bybit, "ETH/USDT").is_none());
    sim.shutdown().await.expect("shutdown");
}

/// A fault armed while the book stands still hits exactly the chosen message: with `after: 3`,
/// three more messages arrive, the fourth is dropped, the fifth reveals the hole.
#[tokio::test]
async fn book_faults_hit_the_chosen_message() {
    for v in [Venue::Bybit, Venue::Binance] {
        let sim = sim(v).await;
        let mut c = Client::connect(&sim, v).await;
        c.sync().await;
        c.apply(10).await;
        let truth = c.converge_paused(&sim).await;
        let last = truth.last_update_id.expect("venue id");
        sim.inject(drop_delta(v)).expect("fault");
        sim.resume_books();
        assert_eq!(c.until_trouble().await, Trouble::Gap);
        let (expected, got) = c.last_gap.expect("gap");
        let applied_after = expected - 1;
        match v {
            // `u` +1 per message: messages last+1..=last+3 applied, last+4 dropped.
            Venue::Bybit => assert_eq!((applied_after, got), (last + 3, last + 5), "{v}"),
            // One update id per changed level: the hole is one whole message wide.
            _ => assert!(
                applied_after > last && got > expected,
                "{v}: {last} {expected} {got}"
            ),
        }
        sim.shutdown().await.expect("shutdown");
    }
}

/// A book fault scheduled at start counts from the book's first message: with `after: 5`, the
/// sixth update never arrives and the seventh names a `prevSeqId` the client never saw.
#[tokio::test]
async fn scheduled_book_fault_counts_from_the_first_message() {
    let v = Venue::Okx;
    let mut cfg = SimConfig::new(vec![SimMarket::new(v, symbol(v))]);
    cfg.book_updates_per_sec = BOOK_RATE;
    cfg.faults.push(tickrec_simulator::ScheduledFault {
        at: Duration::ZERO,
        fault: Fault::DropBookDelta {
            venue: v,
            symbol: symbol(v).into(),
            after: 5,
        },
    });
    let sim = start(cfg).await.expect("simulator");
    let mut c = Client::connect(&sim, v).await;
    c.sync().await;
    assert_eq!(c.until_trouble().await, Trouble::Gap);
    assert_eq!(c.applied, 1 + 5, "the snapshot and five updates");
    c.resync().await;
    c.converge(&sim).await;
    assert_eq!(sim.book(v, symbol(v)).map(|t| t.messages > 6), Some(true));
    sim.shutdown().await.expect("shutdown");
}
