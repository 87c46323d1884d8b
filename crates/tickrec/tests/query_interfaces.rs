//! The query interfaces end to end: `tickrec mcp` spoken to over its stdio, the `/api/v1` routes
//! on a real loopback server, and `tickrec query` output — each compared with the library's
//! answer (which `crates/query/tests/known_tape.rs` checks against independent computation).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde_json::{json, Value};
use tickrec_model::{Event, Venue};
use tickrec_query::synthetic::{synthetic_trades, SyntheticSpec};
use tickrec_query::{Kind, Request, Tape};
use tickrec_store::{SqliteConfig, SqliteWriter};

/// 2026-11-30T00:00:00Z.
const T0: i64 = 1_796_000_000_000_000 - 1_796_000_000_000_000 % 86_400_000_000;
const FROM: &str = "2026-11-30T00:00:00Z";
const TO: &str = "2026-11-30T02:00:00Z";

fn tape(dir: &Path) -> PathBuf {
    let cfg = SqliteConfig {
        path: dir.join("tape.db"),
        ..SqliteConfig::default()
    };
    let spec = SyntheticSpec {
        venue: Venue::Binance,
        symbol: Arc::from("BTC/USDT"),
        seed: 3,
        start_us: T0,
        count: 6_000,
        spacing_us: 1_000_000,
        hole: Some((T0 + 600_000_000, T0 + 720_000_000)),
        mixed_scales: false,
    };
    let events: Vec<Event> = synthetic_trades(&spec).map(Event::Trade).collect();
    let mut w = SqliteWriter::open(&cfg).unwrap();
    w.write_batch(&events).unwrap();
    cfg.path
}

fn library(db: &Path, kind: Kind, params: &[(&str, &str)]) -> Value {
    let req = Request::new(
        kind,
        params.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap();
    // Through text, like the interfaces' answers (serde_json's float parsing is not exact).
    let text = serde_json::to_string(&req.run(&Tape::open(db).unwrap()).unwrap()).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn market() -> Vec<(&'static str, &'static str)> {
    vec![
        ("venue", "binance"),
        ("symbol", "BTC/USDT"),
        ("from", FROM),
        ("to", TO),
    ]
}

#[test]
fn mcp_server_lists_and_calls_the_tools() {
    let dir = tempfile::tempdir().unwrap();
    let db = tape(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickrec"))
        .args(["mcp", "--db"])
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut ask = |msg: Value| -> Value {
        writeln!(stdin, "{msg}").unwrap();
        if msg.get("id").is_none() {
            // A notification: nothing comes back; send a ping and return its answer instead.
            writeln!(
                stdin,
                "{}",
                json!({"jsonrpc": "2.0", "id": "ping", "method": "ping"})
            )
            .unwrap();
        }
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    };
    let init = ask(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}}));
    assert_eq!(init["id"], 1);
    assert_eq!(init["result"]["serverInfo"]["name"], "tickrec");
    assert!(init["result"]["capabilities"]["tools"].is_object());

    // A notification gets no reply: the next line read answers the ping sent after it.
    let ping = ask(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    assert_eq!(ping, json!({"jsonrpc": "2.0", "id": "ping", "result": {}}));
    let list = ask(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for n in [
        "get_volume_profile",
        "get_liquidity_vacuums",
        "get_candles",
        "get_trades",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }

    let call = ask(
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "get_volume_profile",
        "arguments": {"venue": "binance", "symbol": "BTC/USDT", "from": FROM, "to": TO, "buckets": 20}}}),
    );
    assert_eq!(call["result"]["isError"], false, "{call}");
    let mut p = market();
    p.push(("buckets", "20"));
    let expected = library(&db, Kind::VolumeProfile, &p);
    assert_eq!(call["result"]["structuredContent"], expected);
    let text: Value =
        serde_json::from_str(call["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, expected);

    let candles = ask(
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
        "name": "get_candles",
        "arguments": {"venue": "binance", "symbol": "BTC/USDT", "from": FROM, "to": TO, "interval": "5m"}}}),
    );
    let mut p = market();
    p.push(("interval", "5m"));
    assert_eq!(
        candles["result"]["structuredContent"],
        library(&db, Kind::Candles, &p)
    );
    // The 2-minute hole lies inside one 5-minute candle; only the tape's end is a gap.
    let gaps = &candles["result"]["structuredContent"]["gaps"];
    assert_eq!(gaps.as_array().unwrap().len(), 1, "{gaps}");
    assert_eq!(gaps[0]["from"], "2026-11-30T01:20:00.000000Z");

    let unknown = ask(
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
        "name": "get_trades", "arguments": {"venue": "binance", "symbol": "DOGE/USDT", "from": FROM, "to": TO}}}),
    );
    assert_eq!(unknown["result"]["isError"], true);
    assert!(unknown["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("unknown market"));
    let few = ask(
        json!({"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {
        "name": "get_liquidity_vacuums", "arguments": {"venue": "binance", "symbol": "BTC/USDT", "from": FROM, "to": "2026-11-30T00:01:00Z"}}}),
    );
    assert_eq!(few["result"]["isError"], true);
    assert!(
        few["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("need ≥1000 trades"),
        "{few}"
    );
    let bad_tool = ask(
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "rm_rf"}}),
    );
    assert_eq!(bad_tool["error"]["code"], -32602);
    let bad_method = ask(json!({"jsonrpc": "2.0", "id": 8, "method": "resources/list"}));
    assert_eq!(bad_method["error"]["code"], -32601);
    writeln!(stdin, "not json").unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&line).unwrap()["error"]["code"],
        -32700
    );

    drop(stdin);
    assert!(child.wait().unwrap().success());
}

fn get(addr: std::net::SocketAddr, path: &str) -> (u16, Value) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status: u16 = raw[9..12].parse().unwrap();
    let body = &raw[raw.find("\r\n\r\n").unwrap() + 4..];
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn encode(p: &[(&str, &str)]) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={}", v.replace('/', "%2F").replace(':', "%3A")))
        .collect::<Vec<_>>()
        .join("&")
}

#[test]
fn http_api_answers_and_refuses_with_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let db = tape(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app: axum::Router = tickrec::api::routes(tickrec::api::ApiState::new(db.clone()));
    rt.spawn(async move { axum::serve(listener, app).await });

    for (route, kind, extra) in [
        ("trades", Kind::Trades, vec![("limit", "50")]),
        ("candles", Kind::Candles, vec![("interval", "15m")]),
        (
            "volume-profile",
            Kind::VolumeProfile,
            vec![("bucket_size", "5")],
        ),
        ("vacuums", Kind::Vacuums, vec![("buckets", "40")]),
        ("features", Kind::Features, vec![("window", "30")]),
    ] {
        let mut p = market();
        p.extend(extra);
        let (status, body) = get(addr, &format!("/api/v1/{route}?{}", encode(&p)));
        assert_eq!(status, 200, "{route}: {body}");
        assert_eq!(body, library(&db, kind, &p), "{route}");
    }

    let cases: [(&str, u16, &str); 7] = [
        ("/api/v1/trades?venue=binance&symbol=DOGE%2FUSDT&from=now-1h", 404, "unknown_market"),
        ("/api/v1/trades?venue=binance&symbol=BTC%2FUSDT&from=2026-11-30T02%3A00%3A00Z&to=2026-11-30T00%3A00%3A00Z", 400, "invalid_param"),
        ("/api/v1/candles?venue=binance&symbol=BTC%2FUSDT&from=2025-01-01T00%3A00%3A00Z&to=2026-01-01T00%3A00%3A00Z", 400, "window_too_long"),
        ("/api/v1/candles?venue=binance&symbol=BTC%2FUSDT&interval=2w", 400, "invalid_param"),
        ("/api/v1/trades?venue=binance&symbol=BTC%2FUSDT&colour=red", 400, "invalid_param"),
        ("/api/v1/trades?symbol=BTC%2FUSDT", 400, "invalid_param"),
        ("/api/v1/volume-profile?venue=binance&symbol=BTC%2FUSDT&from=2026-11-30T00%3A00%3A00Z&to=2026-11-30T00%3A05%3A00Z", 422, "insufficient_trades"),
    ];
    for (path, status, code) in cases {
        let (got, body) = get(addr, path);
        assert_eq!(
            (got, body["error"].as_str().unwrap_or("")),
            (status, code),
            "{path}: {body}"
        );
        assert!(!body["message"].as_str().unwrap_or("").is_empty());
    }
}

#[test]
fn cli_prints_csv_rows_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let db = tape(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_tickrec"))
        .args([
            "query", "candles", "--venue", "binance", "--symbol", "BTC/USDT", "--from", FROM,
            "--to", TO,
        ])
        .args(["--interval", "10m", "--format", "csv", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut p = market();
    p.push(("interval", "10m"));
    let expected = library(&db, Kind::Candles, &p);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "open_time,open,high,low,close,volume,buy_volume,sell_volume,trades,vwap"
    );
    let candles = expected["candles"].as_array().unwrap();
    assert_eq!(lines.len(), candles.len() + 1);
    for (line, c) in lines[1..].iter().zip(candles) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[0], c["open_time"]);
        assert_eq!(f[1], c["open"]);
        assert_eq!(f[5], c["volume"]);
        assert_eq!(f[8], c["trades"].to_string());
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_tickrec"))
        .args([
            "query", "trades", "--venue", "binance", "--symbol", "BTC/USDT", "--from", TO, "--to",
            FROM, "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not after from"));
}
