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
}
