//! Runs the recorder in-process (as `tickrec record` would) and waits on its progress; shared
//! by the end-to-end tests that drive the simulator.

#![allow(dead_code)] // not every test binary uses every helper

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::path::PathBuf;
use tickrec::app::{self, Hooks, RecordSummary};

use tickrec::config::{Config, HttpConfig, MarketConfig};
use tickrec_simulator::SimHandle;
use tickrec_store::WriterStats;
use tickrec_store::{BatchConfig, SqliteConfig};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A recorder of `markets` into the SQLite file `db`, nothing else (no HTTP, no journal
/// override, no other sink; instrument checks at their default).
pub fn sqlite_config(db: PathBuf, markets: Vec<MarketConfig>) -> Config {
    Config {
        sqlite: SqliteConfig {
            path: db,
            ..SqliteConfig::default()
        },
        batch: BatchConfig::default(),
        http: HttpConfig {
            enabled: false,
            ..HttpConfig::default()
        },
        markets,
        journal: None,
        postgres: None,
        archive: None,
        retention: None,
        instruments: Default::default(),
    }
}

/// A recorder running in this process.
pub struct Recorder {
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<RecordSummary>>,
    stats: Arc<WriterStats>,
}

/// Starts recording `cfg`; returns once the store is open.
pub async fn start_recorder(cfg: Config) -> Recorder {
    let (stats_tx, stats_rx) = oneshot::channel();
    let (stop, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(app::record(
        cfg,
        async {
            let _ = stop_rx.await;
        },
        Hooks {
            writer_stats: Some(stats_tx),
            ..Hooks::default()
        },
    ));
    let stats = stats_rx.await.expect("recorder started");
    Recorder { stop, task, stats }
}

impl Recorder {
    /// Waits until `n` trades are committed (fails after `limit`).
    pub async fn wait_trades(&self, n: u64, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.stats.snapshot().trades < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} trades committed",
                self.stats.snapshot().trades
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the recorder and returns its summary.
    pub async fn stop(self) -> RecordSummary {
        let _ = self.stop.send(());
        self.task
            .await
            .expect("recorder task")
            .expect("recorder result")
    }
}

/// Waits until the simulator has published `n` trades.
pub async fn wait_published(sim: &SimHandle, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.published() < n {
        assert!(Instant::now() < deadline, "simulator stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
