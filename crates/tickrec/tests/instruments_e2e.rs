//! Instrument metadata at start-up, through the simulator's instruments endpoints: a symbol the
//! venue does not list stops `record` (and `check-config --online`) with a clear message naming
//! close matches; a listed one records, its metadata is cached and the cache stands in when the
//! venue cannot be reached.

mod common;

use common::in_process::{sqlite_config, start_recorder};

use std::path::{Path, PathBuf};
use std::time::Duration;

use tickrec::config::MarketConfig;
use tickrec::instruments::{self, InstrumentCheck, Source};
use tickrec_model::{Channel, Venue};
use tickrec_simulator::{SimConfig, SimHandle, SimMarket, StartMode};

async fn simulator(markets: &[(Venue, &str)], trades: u64) -> SimHandle {
    let mut cfg = SimConfig::new(
        markets
            .iter()
            .map(|(v, s)| SimMarket::new(*v, *s))
            .collect(),
    );
    cfg.rate_per_market = 500.0;
    cfg.trades_per_market = Some(trades);
    cfg.start = StartMode::OnSubscribe;
    tickrec_simulator::start(cfg).await.expect("simulator")
}

fn market(sim: &SimHandle, venue: Venue, symbols: &[&str]) -> MarketConfig {
    let (ws, rest) = (sim.ws_url(venue), sim.rest_url(venue));
    MarketConfig {
        venue,
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        channels: vec![Channel::Trades],
        ws_url: Some(ws),
        rest_url: Some(rest),
        message_timeout_ms: None,
        book: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlisted_symbol_stops_start_up_on_every_venue() {
    let listed = [
        (Venue::Binance, "BTC/USDT"),
        (Venue::Kraken, "BTC/USD"),
        (Venue::Coinbase, "BTC/USD"),
        (Venue::Okx, "BTC/USDT"),
        (Venue::Bybit, "BTC/USDT"),
        (Venue::Upbit, "BTC/KRW"),
    ];
    let sim = simulator(&listed, 10).await;
    let dir = tempfile::tempdir().expect("tempdir");
    for (venue, symbol) in listed {
        // Same base asset, a quote the simulated venue does not list.
        let cfg = sqlite_config(
            dir.path().join(format!("{venue}.db")),
            vec![market(&sim, venue, &[symbol, "BTC/EUR"])],
        );
        let err = tickrec::app::record(cfg.clone(), async {}, Default::default())
            .await
            .expect_err("an unlisted symbol must stop start-up");
        let msg = format!("{err:#}");
        assert!(
            msg.contains(&format!(
                "markets[0] ({venue}): {venue} does not list `BTC/EUR`"
            )) && msg.contains(&format!("close matches: {symbol}")),
            "{msg}"
        );
        assert!(
            !dir.path().join(format!("{venue}.db")).exists(),
            "{venue}: nothing opened before the check"
        );
        // The venue's whole list is cached all the same, for `tickrec instruments --cached`.
        let cached = instruments::cached(&cfg, Some(venue));
        assert_eq!(
            cached.iter().map(|i| i.symbol.as_str()).collect::<Vec<_>>(),
            [symbol],
            "{venue}"
        );
    }
    sim.shutdown().await.expect("sim shutdown");
}

fn cache_file(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".instruments.json");
    PathBuf::from(p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_symbol_records_and_its_metadata_is_cached_for_offline_starts() {
    let sim = simulator(&[(Venue::Okx, "BTC/USDT"), (Venue::Upbit, "ETH/KRW")], 300).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("rec.db");
    let cfg = sqlite_config(
        db.clone(),
        vec![
            market(&sim, Venue::Okx, &["BTC/USDT"]),
            market(&sim, Venue::Upbit, &["ETH/KRW"]),
        ],
    );
    let set = instruments::load(&cfg).await.expect("listed");
    let okx = set.get(Venue::Okx, "BTC/USDT").expect("okx instrument");
    assert_eq!(okx.native, "BTC-USDT");
    assert_eq!(
        okx.tick_size.map(|d| d.to_string()).as_deref(),
        Some("0.01")
    );
    assert_eq!(
        okx.lot_size.map(|d| d.to_string()).as_deref(),
        Some("0.00001")
    );
    let upbit = set.get(Venue::Upbit, "ETH/KRW").expect("upbit instrument");
    assert_eq!(upbit.native, "KRW-ETH");
    assert_eq!(
        upbit.tick_size.map(|d| d.to_string()).as_deref(),
        Some("0.01")
    );
    assert!(
        set.sources.values().all(|s| *s == Source::Venue),
        "{:?}",
        set.sources
    );

    let rec = start_recorder(cfg.clone()).await;
    sim.wait_finished().await;
    rec.wait_trades(600, Duration::from_secs(60)).await;
    rec.stop().await;
    assert_eq!(common::count(&db), 600);
    sim.shutdown().await.expect("sim shutdown");
    assert!(
        cache_file(&db).exists(),
        "cache written next to the database"
    );

    // The venue is gone: the cached list stands in (a warning, not an error) ...
    let set = instruments::load(&cfg).await.expect("cached");
    assert!(
        set.sources.values().all(|s| *s == Source::Cache),
        "{:?}",
        set.sources
    );
    assert_eq!(
        set.get(Venue::Okx, "BTC/USDT").map(|i| i.native.as_str()),
        Some("BTC-USDT")
    );
    // ... without a cache it is a warning by default and an error with `require`.
    let mut bare = cfg.clone();
    bare.instruments.cache = Some(dir.path().join("none.json"));
    let set = instruments::load(&bare).await.expect("unchecked");
    assert!(set.instruments.is_empty());
    assert!(set.sources.values().all(|s| *s == Source::Unavailable));
    bare.instruments.check = InstrumentCheck::Require;
    let e = instruments::load(&bare)
        .await
        .expect_err("require")
        .to_string();
    assert!(
        e.contains("instrument list unavailable") && e.contains("require"),
        "{e}"
    );
    bare.instruments.check = InstrumentCheck::Off;
    assert!(instruments::load(&bare)
        .await
        .expect("off")
        .sources
        .is_empty());
}

#[test]
fn check_config_online_exits_non_zero_on_an_unlisted_symbol() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sim = rt.block_on(simulator(&[(Venue::Bybit, "BTC/USDT")], 10));
    let dir = tempfile::tempdir().expect("tempdir");
    let (ws, rest) = (sim.ws_url(Venue::Bybit), sim.rest_url(Venue::Bybit));
    let toml = |symbol: &str| {
        format!(
            "[storage.sqlite]\npath = \"{}\"\n[[markets]]\nvenue = \"bybit\"\nsymbols = [\"{symbol}\"]\nws_url = \"{ws}\"\nrest_url = \"{rest}\"\n",
            dir.path().join("x.db").display()
        )
    };
    let run = |symbol: &str| {
        let path = dir.path().join("tickrec.toml");
        std::fs::write(&path, toml(symbol)).expect("write config");
        std::process::Command::new(env!("CARGO_BIN_EXE_tickrec"))
            .args(["check-config", "--online", "--config"])
            .arg(&path)
            .output()
            .expect("run tickrec")
    };
    let bad = run("SOL/USDT");
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("bybit does not list `SOL/USDT`; close matches: BTC/USDT"),
        "{stderr}"
    );
    let good = run("BTC/USDT");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(
        stdout.contains(&format!("instruments bybit {rest}: venue")),
        "{stdout}"
    );
    rt.block_on(sim.shutdown()).expect("sim shutdown");
}
