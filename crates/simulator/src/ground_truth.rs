//! Ground truth: every published trade, as CSV, written by a dedicated thread.
//!
//! Format (one header line, then one line per trade in publication order per market):
//! `venue,symbol,trade_id,price,qty,side,ts_exchange_us`, e.g.
//! `binance,BTC/USDT,5000123000,60000.01000000,0.00060000,buy,1757522615939000`.
//! `price` and `qty` are the exact wire text; `ts_exchange_us` is what the recorder should store
//! (Binance milliseconds × 1000).
//!
//! The drivers hand over the same `Arc<Batch>` they broadcast, so the writer costs them one
//! channel send per tick; the thread formats into a `BufWriter` and keeps up with several hundred
//! thousand trades per second.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use tickrec_model::{Side, Venue};
use tokio::sync::oneshot;

use crate::format::{push_i64, push_u64};
use crate::market::{Batch, Market};
use crate::tape::{push_price, push_qty, TapeTrade};
use crate::SimError;

/// The CSV header line (without newline).
pub const GROUND_TRUTH_HEADER: &str = "venue,symbol,trade_id,price,qty,side,ts_exchange_us";

pub(crate) enum GtMsg {
    Batch(usize, Arc<Batch>),
    /// Flush and fsync, then report.
    Sync(oneshot::Sender<Result<(), String>>),
}

/// Cloneable handle to feed the writer.
#[derive(Clone, Debug)]
pub(crate) struct GtSender(mpsc::Sender<GtMsg>);

impl GtSender {
    pub(crate) fn batch(&self, idx: usize, batch: Arc<Batch>) {
        if self.0.send(GtMsg::Batch(idx, batch)).is_err() {
            tracing::error!("ground truth writer is gone; trades are missing from the file");
        }
    }

    /// Everything sent before this call is on disk (flushed and fsynced) when it returns.
    pub(crate) async fn sync(&self) -> Result<(), SimError> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send(GtMsg::Sync(tx))
            .map_err(|_| SimError::GroundTruthWriter("writer thread is gone".into()))?;
        match rx.await {
            Ok(r) => r.map_err(SimError::GroundTruthWriter),
            Err(_) => Err(SimError::GroundTruthWriter("writer thread is gone".into())),
        }
    }
}

/// The writer thread; it ends (after a final flush + fsync) when every [`GtSender`] is dropped.
#[derive(Debug)]
pub(crate) struct GtWriter {
    thread: JoinHandle<Result<(), String>>,
}

impl GtWriter {
    /// Creates (truncates) the file and writes the header, so that path errors surface at start.
    pub(crate) fn spawn(
        path: &Path,
        markets: Vec<Arc<Market>>,
    ) -> Result<(GtWriter, GtSender), SimError> {
        let file = File::create(path)
            .map_err(|e| SimError::io(format!("create {}", path.display()), e))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        w.write_all(GROUND_TRUTH_HEADER.as_bytes())
            .and_then(|()| w.write_all(b"\n"))
            .map_err(|e| SimError::io(format!("write {}", path.display()), e))?;
        let (tx, rx) = mpsc::channel();
        let shown = path.display().to_string();
        let thread = std::thread::Builder::new()
            .name("sim-ground-truth".into())
            .spawn(move || writer_loop(w, rx, markets, shown))
            .map_err(|e| SimError::io("spawn ground truth thread", e))?;
        Ok((GtWriter { thread }, GtSender(tx)))
    }

    /// Waits for the thread (all senders must be dropped first).
    pub(crate) async fn join(self) -> Result<(), SimError> {
        let r = tokio::task::spawn_blocking(move || self.thread.join())
            .await
            .map_err(|e| SimError::Task(e.to_string()))?;
        match r {
            Ok(r) => r.map_err(SimError::GroundTruthWriter),
            Err(_) => Err(SimError::Task("ground truth thread panicked".into())),
        }
    }
}

fn writer_loop(
    mut w: BufWriter<File>,
    rx: mpsc::Receiver<GtMsg>,
    markets: Vec<Arc<Market>>,
    path: String,
) -> Result<(), String> {
    let mut failed: Option<String> = None;
    let mut line = String::with_capacity(64 * 1024);
    let fail = |failed: &mut Option<String>, what: &str, e: std::io::Error| {
        if failed.is_none() {
            tracing::error!(path, error = %e, "ground truth {what} failed");
            *failed = Some(format!("{what} {path}: {e}"));
        }
    };
    let sync = |w: &mut BufWriter<File>| w.flush().and_then(|()| w.get_ref().sync_all());
    while let Ok(msg) = rx.recv() {
        match msg {
            GtMsg::Batch(idx, batch) => {
                if failed.is_some() {
                    continue;
                }
                let Some(m) = markets.get(idx).map(|m| &m.spec) else {
                    continue;
                };
                line.clear();
                for t in &batch.trades {
                    line.push_str(m.venue.as_str());
                    line.push(',');
                    line.push_str(&m.symbol);
                    line.push(',');
                    push_u64(&mut line, t.trade_id);
                    line.push(',');
                    push_price(&mut line, &m.profile, t.price);
                    line.push(',');
                    push_qty(&mut line, m.venue, u128::from(t.qty));
                    line.push(',');
                    line.push_str(t.side().as_str());
                    line.push(',');
                    push_i64(&mut line, t.ts_us);
                    line.push('\n');
                }
                if let Err(e) = w.write_all(line.as_bytes()) {
                    fail(&mut failed, "write", e);
                }
            }
            GtMsg::Sync(ack) => {
                if failed.is_none() {
                    if let Err(e) = sync(&mut w) {
                        fail(&mut failed, "fsync", e);
                    }
                }
                let _ = ack.send(failed.clone().map_or(Ok(()), Err));
            }
        }
    }
    if failed.is_none() {
        if let Err(e) = sync(&mut w) {
            fail(&mut failed, "fsync", e);
        }
    }
    failed.map_or(Ok(()), Err)
}

/// Reads a ground-truth file back (tests compare it with what a client or the recorder got).
///
/// # Errors
/// [`SimError::Io`] when the file cannot be read, [`SimError::GroundTruthParse`] on a bad header
/// or line.
pub fn read_ground_truth(path: &Path) -> Result<Vec<TapeTrade>, SimError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SimError::io(format!("read {}", path.display()), e))?;
    let err = |line: usize, msg: String| SimError::GroundTruthParse {
        path: PathBuf::from(path),
        line,
        msg,
    };
    let mut lines = text.lines();
    match lines.next() {
        Some(h) if h == GROUND_TRUTH_HEADER => {}
        other => return Err(err(1, format!("bad header {other:?}"))),
    }
    let mut out = Vec::new();
    for (i, l) in lines.enumerate() {
        let n = i + 2;
        let f: Vec<&str> = l.split(',').collect();
        let [venue, symbol, id, price, qty, side, ts] = f[..] else {
            return Err(err(n, format!("expected 7 fields, got {}", f.len())));
        };
        let venue: Venue = venue.parse().map_err(|e| err(n, format!("{e}")))?;
        let side = match side {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            s => return Err(err(n, format!("bad side `{s}`"))),
        };
        out.push(TapeTrade {
            venue,
            symbol: symbol.to_string(),
            trade_id: id
                .parse()
                .map_err(|e| err(n, format!("trade_id `{id}`: {e}")))?,
            price: price.to_string(),
            qty: qty.to_string(),
            side,
            ts_exchange_us: ts
                .parse()
                .map_err(|e| err(n, format!("ts_exchange_us `{ts}`: {e}")))?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::{MarketSpec, Stats};
    use crate::tape::{Profile, TapeGen};

    #[tokio::test]
    async fn writes_syncs_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gt.csv");
        let market = Arc::new(Market::new(MarketSpec::new(0, 1, Venue::Kraken, "BTC/USD")));
        let (w, tx) = GtWriter::spawn(&path, vec![market]).unwrap();
        let mut g = TapeGen::new(Profile::new(1, Venue::Kraken, "BTC/USD"), 1_000_000, 100.0);
        let trades: Vec<_> = (0..25).map(|_| g.next_raw()).collect();
        let stats = Stats::new(0);
        tx.batch(
            0,
            Arc::new(Batch {
                trades: trades.clone(),
                ws_skip: 0,
                candles: vec![],
                stats,
            }),
        );
        tx.sync().await.unwrap();
        let back = read_ground_truth(&path).unwrap();
        let expect: Vec<_> = crate::Tape::new(1, Venue::Kraken, "BTC/USD", 1_000_000, 100.0)
            .take(25)
            .collect();
        assert_eq!(back, expect);
        drop(tx);
        w.join().await.unwrap();

        std::fs::write(&path, "nope\n").unwrap();
        assert!(matches!(
            read_ground_truth(&path),
            Err(SimError::GroundTruthParse { line: 1, .. })
        ));
        std::fs::write(
            &path,
            format!("{GROUND_TRUTH_HEADER}\nbinance,X/Y,1,2,3,up,4\n"),
        )
        .unwrap();
        assert!(matches!(
            read_ground_truth(&path),
            Err(SimError::GroundTruthParse { line: 2, .. })
        ));
    }
}
