//! A sink that cannot write for a minute costs nothing: with another process holding an
//! exclusive lock on the SQLite file for 60 s at 10 k msg/s, the recorder keeps reading, the
//! journal grows on disk (not in memory), and once the lock is gone every trade arrives exactly
//! once.

mod common;

use std::time::{Duration, Instant};

use common::{
    assert_tape_equals_truth, count, sigterm_and_wait, start_recorder, start_simulator,
    write_config,
};

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn writer_blocked_for_60_s_loses_nothing_and_memory_stays_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let per_market = 200_000u64; // 4 × 2 500 trades/s = 10 k msg/s for 80 s
    let (mut sim, urls) = start_simulator(dir.path(), 2_500, per_market);
    let config = write_config(dir.path(), &urls);
    let db = dir.path().join("rec.db");
    let mut rec = start_recorder(&config, &dir.path().join("rec.log"));
    let pid = rec.0.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&db) < 10_000 {
        assert!(Instant::now() < deadline, "recorder did not start");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Block the writer: an exclusive transaction from another connection.
    let blocker = rusqlite::Connection::open(&db).expect("open blocker");
    blocker
        .execute_batch("BEGIN EXCLUSIVE")
        .expect("exclusive lock");
    let blocked_at = count_uncached(&blocker);
    let mut max_rss = 0;
    let mut max_journal = 0;
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        max_rss = max_rss.max(rss_kib(pid));
        max_journal = max_journal.max(dir_bytes(&dir.path().join("journal")));
        std::thread::sleep(Duration::from_millis(250));
    }
    blocker.execute_batch("ROLLBACK").expect("release");
    drop(blocker);

    let deadline = Instant::now() + Duration::from_secs(180);
    while count(&db) < per_market * 4 {
        max_rss = max_rss.max(rss_kib(pid));
        assert!(
            Instant::now() < deadline,
            "only {} stored after the block",
            count(&db)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(sigterm_and_wait(&mut rec), 0);
    assert_eq!(sigterm_and_wait(&mut sim), 0);
    assert_tape_equals_truth(&db, &dir.path().join("truth.csv"));
    // ~600 000 trades arrived while the writer was blocked: they waited on disk.
    assert!(
        max_journal > 10 << 20,
        "journal grew to only {max_journal} bytes while the sink was blocked (blocked at {blocked_at})"
    );
    assert!(
        max_rss < 300 * 1024,
        "recorder RSS reached {max_rss} KiB while the sink was blocked"
    );
    println!(
        "blocked at {blocked_at} trades; journal peak {max_journal} B; RSS peak {max_rss} KiB"
    );
}

fn count_uncached(c: &rusqlite::Connection) -> i64 {
    c.query_row("SELECT count(*) FROM trades", [], |r| r.get(0))
        .unwrap_or(-1)
}
