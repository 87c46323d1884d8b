//! Throughput benchmark (ignored by default). Run in release:
//!
//! ```text
//! cargo test -p tickrec-journal --release -- --ignored --nocapture bench_
//! ```

use std::time::Instant;

use super::{config, payload};
use crate::Journal;

#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn bench_append_1m_records_of_120_bytes_sync_every_5000() {
    const RECORDS: u64 = 1_000_000;
    const LEN: usize = 120;
    const SYNC_EVERY: u64 = 5000;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 64 << 20, 2 << 30);
    let (mut j, _) = Journal::open(cfg.clone(), &["bench"]).unwrap();
    let payloads: Vec<Vec<u8>> = (0..64).map(|i| payload(i, LEN)).collect();

    let start = Instant::now();
    for i in 0..RECORDS {
        j.append(&payloads[(i % 64) as usize]).unwrap();
        if (i + 1) % SYNC_EVERY == 0 {
            j.sync().unwrap();
        }
    }
    j.sync().unwrap();
    let secs = start.elapsed().as_secs_f64();
    let bytes = j.bytes_on_disk() as f64;
    println!(
        "append: {RECORDS} records x {LEN} B, sync every {SYNC_EVERY}: {:.2} s, {:.0} records/s, \
         {:.1} MB/s on disk ({} segments)",
        secs,
        RECORDS as f64 / secs,
        bytes / secs / 1e6,
        j.segment_count()
    );

    let start = Instant::now();
    let mut next = 1;
    let mut n = 0u64;
    loop {
        let chunk = j.read_from(next, 10_000).unwrap();
        let Some(last) = chunk.last() else { break };
        next = last.0 + 1;
        n += chunk.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(n, RECORDS);
    println!(
        "read_from (chunks of 10000, CRC verified): {:.2} s, {:.0} records/s, {:.1} MB/s",
        secs,
        n as f64 / secs,
        bytes / secs / 1e6
    );

    drop(j);
    let start = Instant::now();
    let (_j, rec) = Journal::open(cfg, &["bench"]).unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(rec.records, RECORDS);
    println!(
        "recovery scan at open: {:.2} s for {} records, {:.1} MB/s",
        secs,
        rec.records,
        bytes / secs / 1e6
    );
}
