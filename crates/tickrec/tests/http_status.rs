//! Operating the recorder: `/metrics` holds every documented metric during a simulator run,
//! `/health` turns `degraded` while a venue is silent and `healthy` again when it resumes,
//! `/ready` waits for the subscriptions, and the status page — opened in a real headless
//! Chromium — shows every simulated stream with a non-zero rate (a screenshot is saved).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tickrec::app::{self, Hooks};
use tickrec::config::{Config, HttpConfig, MarketConfig};
use tickrec_model::{Channel, Venue};
use tickrec_simulator::{Fault, SimConfig, SimMarket, StartMode};
use tickrec_store::{BatchConfig, SqliteConfig};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A minimal HTTP/1.1 GET (the server is ours, on loopback): status and body.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    // Read until the body is complete: by Content-Length when given (Chromium's DevTools
    // server keeps the connection open), else to the end of the stream.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = s.read(&mut buf).expect("read");
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            });
            if len.is_some_and(|len| body.len() >= len) {
                break;
            }
        }
        if n == 0 {
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

async fn get_async(addr: SocketAddr, path: &'static str) -> (u16, String) {
    tokio::task::spawn_blocking(move || get(addr, path))
        .await
        .expect("get")
}

async fn health(addr: SocketAddr) -> Value {
    let (_, body) = get_async(addr, "/health").await;
    serde_json::from_str(&body).expect("health json")
}

async fn wait_for(what: &str, limit: Duration, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Metric names documented in the README's metrics table.
fn documented_metrics() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .expect("README.md");
    let table = readme
        .split("<!-- metrics:begin -->")
        .nth(1)
        .and_then(|t| t.split("<!-- metrics:end -->").next())
        .expect("metrics table markers in README.md");
    table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(String::from)
        .collect()
}

fn chromium() -> Option<PathBuf> {
    let dirs: Vec<PathBuf> =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|b| dirs.iter().map(move |d| d.join(b)))
        .find(|p| p.is_file())
}

struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Opens `url` in headless Chromium, lets the page poll for `settle`, then returns the stream
/// rows it shows and a PNG screenshot, through the DevTools protocol.
async fn open_in_browser(exe: &Path, url: &str, settle: Duration) -> (Vec<Value>, Vec<u8>) {
    let profile = tempfile::tempdir().expect("profile dir");
    let port = free_port();
    let _browser = Browser(
        Command::new(exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1400,1000",
                &format!("--remote-debugging-port={port}"),
                &format!("--user-data-dir={}", profile.path().display()),
                url,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium"),
    );
    let devtools = SocketAddr::from(([127, 0, 0, 1], port));
    let mut ws_url = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while ws_url.is_none() {
        assert!(
            Instant::now() < deadline,
            "chromium DevTools did not come up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        if TcpStream::connect(devtools).is_err() {
            continue;
        }
        let (_, body) = get_async(devtools, "/json/list").await;
        let targets: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        ws_url = targets
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .map(String::from);
    }
    tokio::time::sleep(settle).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.expect("page target"))
        .await
        .expect("devtools websocket");
    let mut call = async |id: u64, method: &str, params: Value| -> Value {
        ws.send(Message::text(
            json!({ "id": id, "method": method, "params": params }).to_string(),
        ))
        .await
        .expect("devtools send");
        loop {
            let msg = ws
                .next()
                .await
                .expect("devtools open")
                .expect("devtools read");
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).expect("devtools json");
                if v["id"] == id {
                    return v["result"].clone();
                }
            }
        }
    };
    let rows = call(
        1,
        "Runtime.evaluate",
        json!({
            "expression": "JSON.stringify([...document.querySelectorAll('#streams tbody tr')].map(r => ({venue: r.dataset.venue, symbol: r.dataset.symbol, channel: r.dataset.channel, rate: r.dataset.rate, state: r.children[3].textContent})))",
            "returnByValue": true,
        }),
    )
    .await;
    let rows: Vec<Value> =
        serde_json::from_str(rows["result"]["value"].as_str().expect("rows string")).expect("rows");
    let shot = call(2, "Page.captureScreenshot", json!({ "format": "png" })).await;
    let png = base64_decode(shot["data"].as_str().expect("screenshot data"));
    (rows, png)
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_health_ready_and_the_status_page_in_a_real_browser() {
    // The process-wide metrics recorder, as `tickrec record` installs it.
    let _ = tickrec::http::prometheus();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sim_cfg = SimConfig::new(vec![
        SimMarket::new(Venue::Binance, "BTC/USDT"),
        SimMarket::new(Venue::Binance, "ETH/USDT"),
        SimMarket::new(Venue::Kraken, "BTC/USD"),
        SimMarket::new(Venue::Kraken, "ETH/USD"),
    ]);
    sim_cfg.rate_per_market = 200.0;
    sim_cfg.trades_per_market = None;
    sim_cfg.start = StartMode::OnSubscribe;
    let sim = tickrec_simulator::start(sim_cfg).await.expect("simulator");
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let market = |venue, symbols: [&str; 2], ws: String, rest: String| MarketConfig {
        venue,
        symbols: symbols.map(String::from).to_vec(),
        // Binance books too: their streams, verified state and metrics are reported.
        channels: if venue == Venue::Binance {
            vec![Channel::Trades, Channel::Book]
        } else {
            vec![Channel::Trades]
        },
        ws_url: Some(ws),
        rest_url: Some(rest),
        message_timeout_ms: None,
        book: None,
    };
    let cfg = Config {
        sqlite: SqliteConfig {
            path: dir.path().join("rec.db"),
            ..SqliteConfig::default()
        },
        batch: BatchConfig::default(),
        http: HttpConfig {
            listen: addr,
            enabled: true,
            stale_after_s: 2,
        },
        markets: vec![
            market(
                Venue::Binance,
                ["BTC/USDT", "ETH/USDT"],
                sim.binance_ws_url(),
                sim.binance_rest_url(),
            ),
            market(
                Venue::Kraken,
                ["BTC/USD", "ETH/USD"],
                sim.kraken_ws_url(),
                sim.kraken_rest_url(),
            ),
        ],
        journal: None,
        postgres: None,
        archive: None,
        retention: None,
        instruments: Default::default(),
    };
    let (stop, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(app::record(
        cfg,
        async {
            let _ = stop_rx.await;
        },
        Hooks::default(),
    ));

    wait_for("/ready", Duration::from_secs(30), async || {
        TcpStream::connect(addr).is_ok() && get_async(addr, "/ready").await.0 == 200
    })
    .await;
    // Garbage frames (reject counters) and a short silence (data-quality counters) make the
    // lazily created series exist too.
    sim.inject(Fault::Malformed {
        venue: Venue::Binance,
        count: 3,
    })
    .expect("inject");
    wait_for("healthy", Duration::from_secs(30), async || {
        health(addr).await["status"] == "healthy"
    })
    .await;
    let h = health(addr).await;
    assert_eq!(h["connections"]["up"], 2, "{h:#}");
    assert_eq!(h["connections"]["total"], 2, "{h:#}");
    // The instruments checked at start-up, from the simulator's exchangeInfo and AssetPairs.
    let (code, body) = get_async(addr, "/api/v1/instruments").await;
    assert_eq!(code, 200, "{body}");
    let inst: serde_json::Value = serde_json::from_str(&body).expect("instruments json");
    let ticks: Vec<(String, String, String)> = inst["instruments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap_or_default().to_string();
            (s("venue"), s("symbol"), s("tick_size"))
        })
        .collect();
    assert_eq!(
        ticks,
        [
            ("binance".into(), "BTC/USDT".into(), "0.01000000".into()),
            ("binance".into(), "ETH/USDT".into(), "0.01000000".into()),
            ("kraken".into(), "BTC/USD".into(), "0.1".into()),
            ("kraken".into(), "ETH/USD".into(), "0.01".into()),
        ],
        "{inst:#}"
    );
    assert!(
        inst["sources"]
            .as_object()
            .is_some_and(|m| m.len() == 2 && m.values().all(|v| v == "venue")),
        "{inst:#}"
    );
    assert_eq!(h["streams"].as_array().map(Vec::len), Some(6), "{h:#}");
    wait_for("verified books", Duration::from_secs(10), async || {
        let h = health(addr).await;
        h["streams"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["channel"] == "book" && s["book"]["live"] == true)
            .count()
            == 2
    })
    .await;
    let h = health(addr).await;
    for s in h["streams"].as_array().into_iter().flatten() {
        assert_eq!(s["state"], "ok", "{s}");
        assert!(
            s["seconds_since_last_message"]
                .as_f64()
                .is_some_and(|a| a < 2.0),
            "{s}"
        );
        assert!(s["messages"].as_u64().is_some_and(|n| n > 0), "{s}");
    }
    assert!(
        h["memory"]["rss_bytes"].as_u64().is_some_and(|b| b > 0),
        "{h:#}"
    );
    assert_eq!(h["sinks"]["sqlite"]["connected"], true, "{h:#}");

    // The status page, in a real browser.
    match chromium() {
        Some(exe) => {
            let (rows, png) =
                open_in_browser(&exe, &format!("http://{addr}/"), Duration::from_secs(6)).await;
            assert_eq!(rows.len(), 6, "{rows:#?}");
            for (venue, symbol) in [
                ("binance", "BTC/USDT"),
                ("binance", "ETH/USDT"),
                ("kraken", "BTC/USD"),
                ("kraken", "ETH/USD"),
            ] {
                let row = rows
                    .iter()
                    .find(|r| r["venue"] == venue && r["symbol"] == symbol)
                    .unwrap_or_else(|| panic!("{venue} {symbol} missing: {rows:#?}"));
                let rate: f64 = row["rate"]
                    .as_str()
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(0.0);
                assert!(rate > 0.0, "{venue} {symbol} shows no rate: {row}");
                assert_eq!(row["state"], "ok", "{row}");
            }
            assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
            let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
            std::fs::write(&out, &png).expect("write screenshot");
            if let Some(docs) = std::env::var_os("TICKREC_SCREENSHOT_OUT") {
                std::fs::write(docs, &png).expect("write screenshot copy");
            }
            println!("status page screenshot: {}", out.display());
        }
        None if std::env::var_os("CI").is_some() => {
            panic!("chromium is required in CI (apt-get install chromium)")
        }
        None => eprintln!("SKIPPED browser check: chromium not installed"),
    }

    // A silent venue: degraded within the stale window, healthy again once it talks.
    sim.inject(Fault::Silence {
        venue: Venue::Kraken,
        duration: Duration::from_secs(6),
    })
    .expect("silence");
    wait_for("degraded", Duration::from_secs(10), async || {
        health(addr).await["status"] == "degraded"
    })
    .await;
    let h = health(addr).await;
    let reasons = h["reasons"].to_string();
    assert!(reasons.contains("kraken"), "{h:#}");
    assert!(!reasons.contains("binance"), "only the silent venue: {h:#}");
    let kraken_stale = h["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["venue"] == "kraken" && s["state"] == "stale")
        .count();
    assert_eq!(kraken_stale, 2, "{h:#}");
    wait_for("healthy again", Duration::from_secs(30), async || {
        health(addr).await["status"] == "healthy"
    })
    .await;

    // Every documented metric is exported.
    let (code, metrics) = get_async(addr, "/metrics").await;
    assert_eq!(code, 200);
    let documented = documented_metrics();
    assert!(documented.len() >= 30, "{documented:?}");
    let missing: Vec<&String> = documented
        .iter()
        .filter(|m| {
            !metrics
                .lines()
                .any(|l| !l.starts_with('#') && l.starts_with(m.as_str()))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "documented but not exported: {missing:?}\n{metrics}"
    );
    for line in [
        "ws_msgs_total{venue=\"kraken\",symbol=\"BTC/USD\",channel=\"trades\"}",
        "# TYPE ws_lag_ms histogram",
        "# TYPE tickrec_receive_to_commit_ms histogram",
        "tickrec_sink_up{sink=\"sqlite\"} 1",
    ] {
        assert!(metrics.contains(line), "missing {line}\n{metrics}");
    }

    let _ = stop.send(());
    task.await.expect("recorder task").expect("recorder");
    sim.shutdown().await.expect("sim shutdown");
}

/// The alert rules and the Grafana dashboard only use documented (hence exported) metrics.
#[test]
fn deploy_files_use_only_documented_metrics() {
    let documented = documented_metrics();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let mut used = 0;
    for file in ["prometheus-alerts.yml", "grafana-dashboard.json"] {
        let text = std::fs::read_to_string(root.join(file)).expect("deploy file");
        let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        for w in words {
            let looks_like_metric = ["ws_", "collector_", "tickrec_", "db_", "process_"]
                .iter()
                .any(|p| w.starts_with(p))
                && w.contains('_')
                && w != "tickrec_"
                && !w.starts_with("Tickrec");
            if !looks_like_metric {
                continue;
            }
            let base = w
                .strip_suffix("_bucket")
                .or_else(|| w.strip_suffix("_sum"))
                .or_else(|| w.strip_suffix("_count"))
                .unwrap_or(w);
            assert!(
                documented.iter().any(|d| d == base),
                "{file} uses `{w}`, which the README does not document"
            );
            used += 1;
        }
    }
    assert!(used > 20, "found only {used} metric references");
}
