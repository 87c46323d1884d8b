//! Order books through storage, on real venue frames: OKX's captured `books` stream → the OKX
//! parser → the book keeper the feed runs → the SQLite writer → read back → `rebuild`. The book
//! rebuilt from the stored rows equals the book the recorder held (digest for digest), every
//! checksum OKX sent verified, and the last stored top carries the same digest.

use std::path::Path;
use std::sync::Arc;

use tickrec_book::{rebuild, BookKeeper, KeeperSettings};
use tickrec_model::{Channel, Event, Venue};
use tickrec_store::{read_book_deltas, SqliteConfig, SqliteWriter};
use tickrec_venues::{adapter_for, Frame, MarketSub};

const SYMBOLS: [&str; 3] = ["BTC/USDT", "BTC/USD:BTC-220527", "UNI/USD:UNI"];

fn frames() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/tests/fixtures/OKX.ws.1.0");
    std::fs::read_to_string(path)
        .expect("fixture")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("wss://"))
        .map(|l| l.split_once(": ").map_or(l, |(_, p)| p).to_string())
        .collect()
}

#[test]
fn okx_real_books_stored_and_rebuilt_equal_the_recorders_books() {
    let markets: Vec<MarketSub> = SYMBOLS
        .iter()
        .map(|s| MarketSub {
            symbol: Arc::from(*s),
            channels: vec![Channel::Trades],
        })
        .collect();
    let adapter = adapter_for(Venue::Okx, &markets).expect("adapter");
    let mut keeper = BookKeeper::new(
        Venue::Okx,
        KeeperSettings {
            top_levels: 5,
            top_interval_us: 0,
            ..KeeperSettings::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = SqliteConfig {
        path: dir.path().join("books.db"),
        ..SqliteConfig::default()
    };
    let mut w = SqliteWriter::open(&cfg).expect("open");
    let (mut books, mut verified, mut tops) = (0u64, 0u64, 0u64);
    // (receive time, digest of the BTC/USDT book after that frame)
    let mut history: Vec<(i64, u64)> = Vec::new();
    for (i, f) in frames().iter().enumerate() {
        let ts = 1_652_400_000_000_000 + i as i64 * 1_000;
        let mut batch = Vec::new();
        adapter.parse(Frame::Text(f), ts, &mut batch);
        let needs = keeper.process(&mut batch, ts);
        assert!(needs.is_empty(), "frame {i}: {needs:?}");
        for e in &batch {
            match e {
                Event::Book(b) => {
                    books += 1;
                    verified += u64::from(b.verified);
                }
                Event::Quality(q) => panic!("the capture is clean: {q:?}"),
                Event::BookTop(_) => tops += 1,
                _ => {}
            }
        }
        w.write_batch(&batch).expect("write");
        if let Some(d) = keeper.digest("BTC/USDT") {
            history.push((ts, d));
        }
    }
    assert!(books > 250, "{books} book messages");
    assert_eq!(verified, books, "every book message verified");
    assert!(tops > 0);

    let conn = tickrec_store::open_read_only(&cfg.path).expect("read");
    let mut rebuilt_markets = 0;
    for s in SYMBOLS {
        let stored = read_book_deltas(&conn, Venue::Okx, s).expect("read back");
        if stored.is_empty() {
            continue;
        }
        rebuilt_markets += 1;
        assert!(stored.iter().all(|b| b.verified), "{s}: stored flags");
        let held = keeper.digest(s).expect("live at the end");
        let rebuilt = rebuild(Venue::Okx, stored);
        assert_eq!(rebuilt[&Arc::<str>::from(s)], Some(held), "{s}");
        let last_top: i64 = conn
            .query_row(
                "SELECT digest FROM book_snapshots WHERE venue = 'okx' AND symbol = ?1 \
                 ORDER BY ts_recv_us DESC LIMIT 1",
                [s],
                |r| r.get(0),
            )
            .expect("a top");
        assert_eq!(last_top as u64, held, "{s}: stored top digest");
    }
    assert!(rebuilt_markets >= 1);

    // The book at any past moment: from the last verified snapshot before it, replayed.
    assert!(history.len() > 100);
    for &(ts, digest) in history.iter().step_by(history.len() / 10) {
        let rows = tickrec_store::read_book_at(&conn, Venue::Okx, "BTC/USDT", ts).expect("read");
        let k = tickrec_book::replay(Venue::Okx, rows);
        assert_eq!(k.digest("BTC/USDT"), Some(digest), "at {ts}");
    }

    // `tickrec book` prints the same book.
    let config = dir.path().join("tickrec.toml");
    std::fs::write(
        &config,
        format!(
            "[storage.sqlite]\npath = {:?}\n[http]\nenabled = false\n[[markets]]\nvenue = \"okx\"\nsymbols = [\"BTC/USDT\"]\n",
            cfg.path
        ),
    )
    .expect("config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tickrec"))
        .args(["--config"])
        .arg(&config)
        .args([
            "book", "--venue", "okx", "--symbol", "BTC/USDT", "--levels", "3", "--format", "json",
        ])
        .output()
        .expect("run tickrec book");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let held = keeper.book("BTC/USDT").expect("live");
    assert_eq!(v["verified"], true);
    assert_eq!(v["digest"], format!("{:016x}", held.digest()));
    let best = held.best_bid().expect("bid");
    assert_eq!(v["bids"][0][0], best.price.to_string());
    assert_eq!(v["bids"][0][1], best.qty.to_string());
    assert_eq!(v["bids"].as_array().map(Vec::len), Some(3));
}
