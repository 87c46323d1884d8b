//! Crash safety with real processes: `kill -9` the recorder at several moments of a busy tape,
//! restart it on the same files, and the stored tape must end equal to the venue's ground truth —
//! the journal replays what was received but not yet committed, backfill repairs the rest.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    assert_tape_equals_truth, count, sigterm_and_wait, start_recorder, start_simulator,
    write_config,
};

#[test]
fn kill_9_at_several_moments_then_restart_leaves_the_exact_tape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let per_market = 30_000u64; // 4 markets, 3 000 trades/s each → a 10 s tape
    let (mut sim, urls) = start_simulator(dir.path(), 3_000, per_market);
    let config = write_config(dir.path(), &urls);
    let db = dir.path().join("rec.db");
    // Fixed offsets (stored trades at the moment of the kill) — early, mid-burst, late.
    for (round, kill_at) in [2_000u64, 25_000, 60_000].into_iter().enumerate() {
        let mut rec = start_recorder(&config, &dir.path().join(format!("rec{round}.log")));
        let deadline = Instant::now() + Duration::from_secs(60);
        while count(&db) < kill_at {
            assert!(
                Instant::now() < deadline,
                "round {round}: stuck at {}",
                count(&db)
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let pid = rec.0.id().to_string();
        let st = Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .expect("kill");
        assert!(st.success());
        let _ = rec.0.wait();
    }
    // Final run: let the tape finish, then stop cleanly.
    let mut rec = start_recorder(&config, &dir.path().join("rec-final.log"));
    let deadline = Instant::now() + Duration::from_secs(180);
    while count(&db) < per_market * 4 {
        assert!(
            Instant::now() < deadline,
            "tape incomplete after restarts: {}",
            count(&db)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(sigterm_and_wait(&mut rec), 0);
    assert_eq!(sigterm_and_wait(&mut sim), 0);
    assert_tape_equals_truth(&db, &dir.path().join("truth.csv"));
}
