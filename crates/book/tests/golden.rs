//! Books rebuilt from real venue frames must verify against the venue's own checksums and agree
//! with the venue's own best bid/offer.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;
use tickrec_book::{BinanceSync, BookTracker, Checksum, PrevSeqChain, Step, Verdict};
use tickrec_model::{Decimal, Level};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect("fixture")
}

/// The JSON payloads of a cryptofeed capture (`<url> <- ts: {json}` / `<url> -> ts: {json}`).
fn frames(capture: &str) -> Vec<Value> {
    capture
        .lines()
        .filter_map(|l| l.split_once(": {").map(|(_, j)| format!("{{{j}")))
        .filter_map(|j| serde_json::from_str(&j).ok())
        .collect()
}

/// `[["price","qty",…],…]` with string numbers → levels, exact.
fn string_levels(v: &Value) -> Vec<Level> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|l| Level {
            price: Decimal::parse(l[0].as_str().expect("price")).expect("price"),
            qty: Decimal::parse(l[1].as_str().expect("qty")).expect("qty"),
        })
        .collect()
}

#[test]
fn kraken_v2_documented_snapshot_verifies_and_a_bad_update_forces_a_resync() {
    // protocols.md §2.2 / §2.4: the snapshot's checksum is 3310070434. Kraken sends JSON numbers;
    // their exact text (e.g. 45281.0, 0.10000000) is what the checksum covers.
    let raw = r#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,"qty":0.10000000},{"price":45283.4,"qty":1.54582015},{"price":45282.1,"qty":0.10000000},{"price":45281.0,"qty":0.10000000},{"price":45280.3,"qty":1.54592586},{"price":45279.0,"qty":0.07990000},{"price":45277.6,"qty":0.03310103},{"price":45277.5,"qty":0.30000000},{"price":45277.3,"qty":1.54602737},{"price":45276.6,"qty":0.15445238}],"asks":[{"price":45285.2,"qty":0.00100000},{"price":45286.4,"qty":1.54571953},{"price":45286.6,"qty":1.54571109},{"price":45289.6,"qty":1.54560911},{"price":45290.2,"qty":0.15890660},{"price":45291.8,"qty":1.54553491},{"price":45294.7,"qty":0.04454749},{"price":45296.1,"qty":0.35380000},{"price":45297.5,"qty":0.09945542},{"price":45299.5,"qty":0.18772827}],"checksum":3310070434}]}"#;
    // Pull the number texts out without going through f64.
    let side = |name: &str| -> Vec<Level> {
        let start = raw.find(&format!("\"{name}\":[")).expect("side") + name.len() + 4;
        let end = start + raw[start..].find(']').expect("end");
        raw[start..end]
            .split("},{")
            .map(|l| {
                let l = l.trim_matches(|c| c == '{' || c == '}');
                let mut it = l.split(',').map(|kv| kv.split_once(':').expect("kv").1);
                Level {
                    price: Decimal::parse(it.next().expect("price")).expect("price"),
                    qty: Decimal::parse(it.next().expect("qty")).expect("qty"),
                }
            })
            .collect()
    };
    let (bids, asks) = (side("bids"), side("asks"));
    assert_eq!((bids.len(), asks.len()), (10, 10));
    let mut t = BookTracker::new(Checksum::Kraken, Some(10));
    assert_eq!(
        t.on_snapshot(&bids, &asks, Some(3_310_070_434), 0),
        Verdict::Verified
    );
    assert_eq!(
        t.book().best_bid().map(|l| l.price.to_string()),
        Some("45283.5".into())
    );
    // An update whose checksum does not match what we hold: drop the book, never stitch.
    let upd = [Level {
        price: Decimal::parse("45283.5").expect("p"),
        qty: Decimal::parse("0.2").expect("q"),
    }];
    let v = t.on_delta(&upd, &[], Some(3_310_070_434), 1_000_000);
    assert!(
        matches!(
            v,
            Verdict::ChecksumMismatch {
                expected: 3_310_070_434,
                ..
            }
        ),
        "{v:?}"
    );
    assert!(!t.is_live());
    assert_eq!(t.on_delta(&upd, &[], None, 2_000_000), Verdict::NotLive);
    assert_eq!(
        t.on_snapshot(&bids, &asks, Some(3_310_070_434), 3_000_000),
        Verdict::Verified
    );
    let s = t.stats(4_000_000);
    assert_eq!((s.checksum_ok, s.checksum_failed, s.resyncs), (2, 1, 1));
    assert_eq!((s.verified_us, s.unverified_us), (2_000_000, 2_000_000));
    assert_eq!(s.verified_fraction(), Some(0.5));
}

#[test]
fn okx_real_books_verify_every_checksum() {
    let mut books: HashMap<String, (BookTracker, PrevSeqChain)> = HashMap::new();
    let mut checked = 0;
    for f in frames(&fixture("OKX.ws.1.0")) {
        if f["arg"]["channel"] != "books" {
            continue;
        }
        // Subscription acknowledgements carry the channel too, but no action.
        let Some(action) = f["action"].as_str() else {
            continue;
        };
        let inst = f["arg"]["instId"].as_str().expect("instId").to_string();
        for d in f["data"].as_array().into_iter().flatten() {
            let (bids, asks) = (string_levels(&d["bids"]), string_levels(&d["asks"]));
            let checksum = d["checksum"].as_i64().map(|c| c as i32 as u32);
            let (t, chain) = books
                .entry(inst.clone())
                .or_insert_with(|| (BookTracker::new(Checksum::Okx, None), PrevSeqChain::new()));
            let verdict = if action == "snapshot" {
                // This 2022 capture predates seqId; when present the chain is checked too.
                if let Some(seq) = d["seqId"].as_i64() {
                    chain.on_snapshot(seq);
                }
                t.on_snapshot(&bids, &asks, checksum, 0)
            } else {
                if let (Some(prev), Some(seq)) = (d["prevSeqId"].as_i64(), d["seqId"].as_i64()) {
                    assert_eq!(chain.on_update(prev, seq), Step::Apply(()), "{inst}");
                }
                t.on_delta(&bids, &asks, checksum, 0)
            };
            assert_eq!(verdict, Verdict::Verified, "{inst} {action}");
            assert!(!t.book().is_crossed(), "{inst}");
            checked += 1;
        }
    }
    assert_eq!(books.len(), 3, "BTC-USDT, BTC-USD-220527, UNI-USD-SWAP");
    assert_eq!(checked, 290, "every books message of the capture");
}

#[test]
fn binance_real_diff_stream_syncs_to_the_rest_snapshot_and_matches_book_ticker() {
    let http = fixture("BINANCE.http.0.0");
    let snap: Value = frames(&http)
        .into_iter()
        .find(|v| v.get("lastUpdateId").is_some())
        .expect("depth snapshot");
    let last_update_id = snap["lastUpdateId"].as_u64().expect("lastUpdateId");
    assert_eq!(last_update_id, 499_869_752);
    let mut sync: BinanceSync<(Vec<Level>, Vec<Level>, u64)> = BinanceSync::new(1000);
    let mut t = BookTracker::new(Checksum::None, None);
    let mut snapshot_applied = false;
    let mut tickers: Vec<(u64, String, String, String, String)> = Vec::new();
    let (mut agreed, mut applied) = (0, 0);
    for f in frames(&fixture("BINANCE.ws.1.0")) {
        let stream = f["stream"].as_str().unwrap_or_default();
        let d = &f["data"];
        if stream == "nknusdt@depth@100ms" {
            let (first, last) = (d["U"].as_u64().expect("U"), d["u"].as_u64().expect("u"));
            let payload = (string_levels(&d["b"]), string_levels(&d["a"]), last);
            match sync.on_delta(first, last, payload) {
                Step::Buffered => {
                    // The capture fetched the snapshot right after the first event arrived.
                    if !snapshot_applied {
                        let pending = sync.on_snapshot(last_update_id).expect("snapshot aligns");
                        t.on_snapshot(
                            &string_levels(&snap["bids"]),
                            &string_levels(&snap["asks"]),
                            None,
                            0,
                        );
                        for (b, a, _) in pending {
                            t.on_delta(&b, &a, None, 0);
                        }
                        snapshot_applied = true;
                    }
                }
                Step::Apply((b, a, u)) => {
                    assert_eq!(t.on_delta(&b, &a, None, 0), Verdict::Unchecked);
                    applied += 1;
                    // bookTicker updates arrive before the 100 ms diff batch holding them. One
                    // stamped with the batch's last id describes the book as it is now, exactly.
                    for (tu, tb, tbq, ta, taq) in tickers.iter().filter(|x| x.0 == u) {
                        let bb = t.book().best_bid().expect("bid");
                        let ba = t.book().best_ask().expect("ask");
                        assert_eq!(
                            (
                                bb.price.to_string(),
                                bb.qty.to_string(),
                                ba.price.to_string(),
                                ba.qty.to_string()
                            ),
                            (tb.clone(), tbq.clone(), ta.clone(), taq.clone()),
                            "book vs bookTicker at u={tu}"
                        );
                        agreed += 1;
                    }
                }
                Step::Ignore => {}
                Step::Gap { expected, got } => panic!("gap in a clean capture: {expected} → {got}"),
            }
        } else if stream == "nknusdt@bookTicker" {
            let s = |k: &str| d[k].as_str().expect("ticker field").to_string();
            tickers.push((d["u"].as_u64().expect("u"), s("b"), s("B"), s("a"), s("A")));
        }
    }
    assert!(snapshot_applied && sync.is_live());
    assert!(applied > 100, "applied {applied} live events");
    println!("book equal to bookTicker at {agreed} update ids");
    assert!(
        agreed >= 10,
        "the book was compared with bookTicker only {agreed} times"
    );
    assert!(!t.book().is_crossed());
}
