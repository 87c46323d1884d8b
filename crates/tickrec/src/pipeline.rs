//! The durable path between the readers and the sinks:
//!
//! ```text
//! readers ──mpsc──▶ appender thread ──append+fsync──▶ journal (disk)
//!                                                        │ read_from(acked+1)
//!                                   forwarder thread per sink ──mpsc──▶ sink writer ──commit
//!                                                        ▲                                │
//!                                   acker thread per sink ◀── batches_committed ──────────┘
//! ```
//!
//! A batch counts as received once it is fsynced in the journal; it leaves the journal only after
//! every sink has committed it. Sinks always read from the journal, so a slow or dead sink makes
//! the journal grow, never the readers stall; after a crash the unacknowledged records are
//! replayed (sinks are idempotent). When the journal reaches its size bound the appender holds
//! the batch, raises the back-pressure flag, and readers drop their connections
//! (`Back-pressure – reconnecting`); the gap is backfilled once they reconnect.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use tickrec_journal::{codec, Journal, JournalConfig, JournalError};
use tickrec_model::Event;
use tickrec_store::WriterStats;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

/// Batches taken from the input per fsync at most (group commit of the journal).
const MAX_BATCHES_PER_SYNC: usize = 4096;
/// Records read from the journal per forwarder step.
const READ_CHUNK: usize = 64;
/// Events per journal record at most.
const MAX_EVENTS_PER_RECORD: usize = 4096;

/// A sink as the pipeline sees it.
pub struct SinkPort {
    /// Name used for the journal cursor (`sqlite`, `postgres`).
    pub name: &'static str,
    /// Where its batches go.
    pub tx: mpsc::Sender<Vec<Event>>,
    /// Its live counters (`batches_committed` drives the acknowledgements).
    pub stats: Arc<WriterStats>,
}

/// Journal figures for `/health` and the status page (the same as the
/// `tickrec_journal_*` gauges), updated by the appender after every fsync.
#[derive(Debug, Default)]
pub struct JournalStats {
    /// Records not yet acknowledged by the slowest sink.
    pub depth_records: AtomicU64,
    /// Bytes of segment files on disk.
    pub bytes: AtomicU64,
    /// The configured bound on disk.
    pub max_bytes: AtomicU64,
}

struct Shared {
    journal: Mutex<Journal>,
    stats: Arc<JournalStats>,
    /// Wakes the forwarders when `durable` moves (no polling delay on the latency path).
    wake: (Mutex<()>, Condvar),
    durable: AtomicU64,
    closed: AtomicBool,
    backpressure: Arc<AtomicBool>,
}

impl Shared {
    fn publish_durable(&self, seq: u64) {
        self.durable.store(seq, Ordering::Release);
        let _guard = self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
        self.wake.1.notify_all();
    }

    /// Sleeps until `durable` may have moved past `seen` (or a short timeout, as a safety net).
    fn wait_durable(&self, seen: u64) {
        let guard = self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
        if self.durable.load(Ordering::Acquire) > seen || self.closed.load(Ordering::Acquire) {
            return;
        }
        let _ = self
            .wake
            .1
            .wait_timeout(guard, Duration::from_millis(50))
            .map(|(g, _)| drop(g));
    }

    fn journal(&self) -> MutexGuard<'_, Journal> {
        // A poisoned lock means a pipeline thread panicked mid-call; the journal's own state is
        // still consistent (every method leaves it so), so keep going.
        self.journal.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The running pipeline.
pub struct Pipeline {
    shared: Arc<Shared>,
    appender: JoinHandle<()>,
    forwarders: Vec<JoinHandle<()>>,
    ackers: Vec<(JoinHandle<()>, Arc<AtomicBool>)>,
}

/// Opens the journal (replaying what the sinks had not acknowledged) and starts the threads.
///
/// # Errors
/// When the journal cannot be opened (bad config, locked by another process, I/O).
pub fn start(
    cfg: JournalConfig,
    input: mpsc::Receiver<Vec<Event>>,
    sinks: Vec<SinkPort>,
    backpressure: Arc<AtomicBool>,
) -> anyhow::Result<Pipeline> {
    let names: Vec<&str> = sinks.iter().map(|s| s.name).collect();
    let (journal, recovered) = Journal::open(cfg.clone(), &names)
        .with_context(|| format!("opening journal {}", cfg.dir.display()))?;
    info!(
        dir = %cfg.dir.display(),
        records = recovered.records,
        torn_records_discarded = recovered.torn_records_discarded,
        lost_records = recovered.lost_records(),
        "journal open"
    );
    if recovered.lost_records() > 0 {
        error!(
            lost = recovered.lost_records(),
            "journal records were corrupt and are lost; backfill repairs the trade tape"
        );
    }
    let stats = Arc::new(JournalStats::default());
    stats.max_bytes.store(cfg.max_bytes, Ordering::Relaxed);
    let shared = Arc::new(Shared {
        stats,
        wake: (Mutex::new(()), Condvar::new()),
        durable: AtomicU64::new(journal.durable_seq()),
        journal: Mutex::new(journal),
        closed: AtomicBool::new(false),
        backpressure,
    });
    let appender = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("journal-append".into())
            .spawn(move || append_loop(&shared, input))?
    };
    let mut forwarders = Vec::new();
    let mut ackers = Vec::new();
    for sink in sinks {
        let queue = Arc::new(Mutex::new(VecDeque::<(u64, u64)>::new()));
        let start = shared.journal().acked(sink.name).unwrap_or(0) + 1;
        {
            let (shared, queue, tx, name) = (shared.clone(), queue.clone(), sink.tx, sink.name);
            forwarders.push(
                std::thread::Builder::new()
                    .name(format!("forward-{name}"))
                    .spawn(move || forward_loop(&shared, name, start, tx, &queue))?,
            );
        }
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let (shared, stats, name, stop) = (shared.clone(), sink.stats, sink.name, stop.clone());
            std::thread::Builder::new()
                .name(format!("ack-{name}"))
                .spawn(move || ack_loop(&shared, name, &stats, &queue, &stop))?
        };
        ackers.push((handle, stop));
    }
    Ok(Pipeline {
        shared,
        appender,
        forwarders,
        ackers,
    })
}

impl Pipeline {
    /// Waits until the input is closed and everything durable was handed to the sinks (the
    /// forwarders then close the sink channels, so the writers finish).
    pub fn drain(&mut self) {
        let appender = std::mem::replace(&mut self.appender, std::thread::spawn(|| {}));
        if appender.join().is_err() {
            error!("journal appender panicked");
        }
        for f in self.forwarders.drain(..) {
            if f.join().is_err() {
                error!("journal forwarder panicked");
            }
        }
    }

    /// After the writers have finished: final acknowledgements, then close the journal.
    pub fn finish(self) {
        for (h, stop) in self.ackers {
            stop.store(true, Ordering::Release);
            if h.join().is_err() {
                error!("journal acker panicked");
            }
        }
        let j = self.shared.journal();
        info!(
            depth = j.depth(),
            bytes = j.bytes_on_disk(),
            "journal closed"
        );
    }

    /// Live journal figures.
    pub fn stats(&self) -> Arc<JournalStats> {
        self.shared.stats.clone()
    }

    /// Records not yet acknowledged by the slowest sink.
    pub fn depth(&self) -> u64 {
        self.shared.journal().depth()
    }
}

fn append_loop(shared: &Shared, mut input: mpsc::Receiver<Vec<Event>>) {
    let mut buf = Vec::with_capacity(64 * 1024);
    let depth_gauge = metrics::gauge!("tickrec_journal_depth_records");
    metrics::counter!("tickrec_journal_full_total").absolute(0);
    let bytes_gauge = metrics::gauge!("tickrec_journal_bytes");
    while let Some(first) = input.blocking_recv() {
        let mut pending = vec![first];
        while pending.len() < MAX_BATCHES_PER_SYNC {
            match input.try_recv() {
                Ok(b) => pending.push(b),
                Err(_) => break,
            }
        }
        // One record per group (bounded): per-record costs (header, checksum, a sink channel
        // message, an ack) are paid per group, not per frame.
        let mut group: Vec<Event> = Vec::new();
        for batch in pending {
            group.extend(batch);
            if group.len() >= MAX_EVENTS_PER_RECORD {
                buf.clear();
                codec::encode_batch(&group, &mut buf);
                append_holding(shared, &buf);
                group.clear();
            }
        }
        if !group.is_empty() {
            buf.clear();
            codec::encode_batch(&group, &mut buf);
            append_holding(shared, &buf);
        }
        let synced = shared.journal().sync();
        match synced {
            Ok(seq) => {
                shared.publish_durable(seq);
                let j = shared.journal();
                depth_gauge.set(j.depth() as f64);
                bytes_gauge.set(j.bytes_on_disk() as f64);
                shared
                    .stats
                    .depth_records
                    .store(j.depth(), Ordering::Relaxed);
                shared
                    .stats
                    .bytes
                    .store(j.bytes_on_disk(), Ordering::Relaxed);
            }
            Err(e) => {
                // The journal refuses writes after a failed fsync: nothing more can be made
                // durable, so stop loudly; readers see the closed channel and stop.
                error!(error = %e, "journal fsync failed; recording stops (data already synced is safe)");
                break;
            }
        }
    }
    let last = shared.journal().sync();
    shared.closed.store(true, Ordering::Release);
    match last {
        Ok(seq) => shared.publish_durable(seq),
        Err(_) => shared.publish_durable(shared.durable.load(Ordering::Acquire)),
    }
}

/// Appends one record; while the journal is full, holds it and raises back-pressure.
fn append_holding(shared: &Shared, payload: &[u8]) {
    let mut warned = false;
    loop {
        let r = shared.journal().append(payload);
        match r {
            Ok(_) => {
                if warned {
                    info!("journal has room again; back-pressure released");
                }
                shared.backpressure.store(false, Ordering::Release);
                return;
            }
            Err(JournalError::Full { .. }) => {
                if !warned {
                    warn!("journal full: sinks are behind; readers drop their connections (Back-pressure – reconnecting)");
                    metrics::counter!("tickrec_journal_full_total").increment(1);
                    warned = true;
                }
                shared.backpressure.store(true, Ordering::Release);
                // Make what was appended durable so the sinks can drain it and free space.
                let synced = shared.journal().sync();
                if let Ok(seq) = synced {
                    shared.publish_durable(seq);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                error!(error = %e, "journal append failed; retrying");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

fn forward_loop(
    shared: &Shared,
    name: &'static str,
    mut next: u64,
    tx: mpsc::Sender<Vec<Event>>,
    queue: &Mutex<VecDeque<(u64, u64)>>,
) {
    let mut sent: u64 = 0;
    loop {
        let durable = shared.durable.load(Ordering::Acquire);
        if next > durable {
            if shared.closed.load(Ordering::Acquire)
                && next > shared.durable.load(Ordering::Acquire)
            {
                break;
            }
            shared.wait_durable(durable);
            continue;
        }
        let read = shared.journal().read_from(next, READ_CHUNK);
        let records = match read {
            Ok(r) => r,
            Err(JournalError::Corrupt { resume_at, seq, .. }) => {
                error!(
                    sink = name,
                    seq, resume_at, "corrupt journal record skipped; backfill repairs trades"
                );
                next = resume_at.max(next + 1);
                continue;
            }
            Err(e) => {
                error!(sink = name, error = %e, "journal read failed; retrying");
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        if records.is_empty() {
            // Nothing readable at `next` (a range lost in recovery): skip to what is durable.
            next = durable + 1;
            continue;
        }
        for (seq, bytes) in records {
            next = seq + 1;
            match codec::decode_batch(&bytes) {
                Ok(events) if !events.is_empty() => {
                    if tx.blocking_send(events).is_err() {
                        error!(sink = name, "sink stopped; its records stay in the journal");
                        return;
                    }
                    sent += 1;
                    queue
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push_back((seq, sent));
                }
                Ok(_) => {}
                Err(e) => {
                    error!(sink = name, seq, error = %e, "undecodable journal record skipped")
                }
            }
        }
    }
}

fn ack_loop(
    shared: &Shared,
    name: &'static str,
    stats: &WriterStats,
    queue: &Mutex<VecDeque<(u64, u64)>>,
    stop: &AtomicBool,
) {
    loop {
        let last = stop.load(Ordering::Acquire);
        let committed = stats.batches_committed.load(Ordering::Acquire);
        let mut ackable = None;
        {
            let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
            while let Some(&(seq, n)) = q.front() {
                if n > committed {
                    break;
                }
                ackable = Some(seq);
                q.pop_front();
            }
        }
        if let Some(seq) = ackable {
            let r = shared.journal().ack(name, seq);
            if let Err(e) = r {
                warn!(sink = name, seq, error = %e, "journal ack failed");
            }
        }
        if last {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
