//! Helpers shared by the REST and fault tests: a tiny HTTP client, WebSocket helpers, and
//! conversions of REST rows into ground-truth rows. Every wait is for a condition with a
//! generous timeout, never a fixed sleep.
#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::value::RawValue;
use serde_json::Value;
use tickrec_model::{Side, Venue};
use tickrec_simulator::{SimConfig, SimHandle, SimMarket, TapeTrade};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const WAIT: Duration = Duration::from_secs(60);

/// An HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Parses one response from `buf` (head + `Content-Length` body); returns it and the bytes used.
pub fn parse_response(buf: &[u8]) -> Option<(Resp, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).expect("utf-8 head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().expect("content-length"))
        .expect("content-length header");
    if buf.len() < end + len {
        return None;
    }
    let body = String::from_utf8(buf[end..end + len].to_vec()).expect("utf-8 body");
    Some((
        Resp {
            status,
            headers,
            body,
        },
        end + len,
    ))
}

/// `GET url` on a fresh connection (`Connection: close`).
pub async fn get(url: &str) -> Resp {
    let rest = url.strip_prefix("http://").expect("http url");
    let slash = rest.find('/').expect("path");
    let (host, path) = rest.split_at(slash);
    let fut = async {
        let mut s = TcpStream::connect(host).await.expect("connect");
        let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.expect("read");
        let (resp, used) = parse_response(&buf)
            .unwrap_or_else(|| panic!("incomplete response: {}", String::from_utf8_lossy(&buf)));
        assert_eq!(used, buf.len(), "nothing after the response");
        resp
    };
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("GET {url} timed out"))
}

/// `GET url`, expecting 200 and JSON.
pub async fn get_json(url: &str) -> Value {
    let r = get(url).await;
    assert_eq!(r.status, 200, "{url}: {}", r.body);
    r.json()
}

pub async fn connect(url: &str) -> Ws {
    let (ws, _) = tokio::time::timeout(WAIT, connect_async(url))
        .await
        .expect("connect timeout")
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    ws
}

/// Next frame of any kind; `None` when the connection ended (closed, reset or error).
pub async fn next_frame(ws: &mut Ws) -> Option<Message> {
    match tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("timed out waiting for a frame")
    {
        Some(Ok(m)) => Some(m),
        Some(Err(_)) | None => None,
    }
}

/// Next text frame (control frames skipped), raw.
pub async fn next_text(ws: &mut Ws) -> String {
    loop {
        match next_frame(ws).await.expect("connection ended") {
            Message::Text(t) => return t.to_string(),
            Message::Close(c) => panic!("closed by server: {c:?}"),
            _ => {}
        }
    }
}

pub fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

/// Next text frame satisfying `pred`, as JSON.
pub async fn next_where(ws: &mut Ws, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let v = parse(&next_text(ws).await);
        if pred(&v) {
            return v;
        }
    }
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// A Binance WebSocket trade payload as a ground-truth row.
pub fn binance_ws_trade(d: &Value, symbol: &str) -> TapeTrade {
    TapeTrade {
        venue: Venue::Binance,
        symbol: symbol.into(),
        trade_id: d["t"].as_u64().unwrap(),
        price: d["p"].as_str().unwrap().into(),
        qty: d["q"].as_str().unwrap().into(),
        side: if d["m"].as_bool().unwrap() {
            Side::Sell
        } else {
            Side::Buy
        },
        ts_exchange_us: d["T"].as_i64().unwrap() * 1000,
    }
}

/// A Binance `historicalTrades`/`trades` row as a ground-truth row.
pub fn binance_rest_trade(r: &Value, symbol: &str) -> TapeTrade {
    TapeTrade {
        venue: Venue::Binance,
        symbol: symbol.into(),
        trade_id: r["id"].as_u64().unwrap(),
        price: r["price"].as_str().unwrap().into(),
        qty: r["qty"].as_str().unwrap().into(),
        side: if r["isBuyerMaker"].as_bool().unwrap() {
            Side::Sell
        } else {
            Side::Buy
        },
        ts_exchange_us: r["time"].as_i64().unwrap() * 1000,
    }
}

/// A decimal text without trailing zeros (`"740.00000"` → `"740"`, `"0.5147"` stays): equal
/// values give equal texts.
pub fn norm(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// Float seconds text → µs, exactly.
pub fn seconds_text_us(s: &str) -> i64 {
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    assert!(f.len() <= 6, "{s}");
    let frac: i64 = format!("{f:0<6}").parse().unwrap();
    i.parse::<i64>().unwrap() * 1_000_000 + frac
}

/// A Kraken REST `Trades` body → (pair key, rows as ground-truth rows with normalised numbers,
/// `last` cursor). Times are read from the raw number text, exactly.
pub fn kraken_trades_page(body: &str, symbol: &str) -> (String, Vec<TapeTrade>, u64) {
    #[derive(serde::Deserialize)]
    struct Reply<'a> {
        error: Vec<String>,
        #[serde(borrow)]
        result: std::collections::BTreeMap<String, &'a RawValue>,
    }
    let r: Reply<'_> = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(r.error.is_empty(), "{body}");
    assert_eq!(r.result.len(), 2, "{body}");
    let last: String = serde_json::from_str(r.result["last"].get()).expect("last is a string");
    let (key, rows) = r
        .result
        .iter()
        .find(|(k, _)| *k != "last")
        .expect("pair key");
    let rows: Vec<Vec<&RawValue>> = serde_json::from_str(rows.get()).unwrap();
    let trades = rows
        .iter()
        .map(|a| {
            assert_eq!(a.len(), 7);
            let s = |i: usize| -> String { serde_json::from_str(a[i].get()).unwrap() };
            assert!(s(4) == "m" || s(4) == "l");
            assert_eq!(s(5), "");
            let price = s(0);
            assert_eq!(price.split_once('.').unwrap().1.len(), 5, "{price}");
            let qty = s(1);
            assert_eq!(qty.split_once('.').unwrap().1.len(), 8, "{qty}");
            TapeTrade {
                venue: Venue::Kraken,
                symbol: symbol.into(),
                trade_id: a[6].get().parse().unwrap(),
                price: norm(&price),
                qty: norm(&qty),
                side: match s(3).as_str() {
                    "b" => Side::Buy,
                    "s" => Side::Sell,
                    x => panic!("side {x}"),
                },
                ts_exchange_us: seconds_text_us(a[2].get()),
            }
        })
        .collect();
    (key.clone(), trades, last.parse().expect("numeric last"))
}

/// A ground-truth row with normalised numbers (compare with [`kraken_rest_trade`]).
pub fn normalised(t: &TapeTrade) -> TapeTrade {
    TapeTrade {
        price: norm(&t.price),
        qty: norm(&t.qty),
        ..t.clone()
    }
}

/// Waits (polling) until `cond` holds.
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = std::time::Instant::now();
    while !cond() {
        assert!(t0.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub async fn finished(sim: &SimHandle) {
    tokio::time::timeout(WAIT, sim.wait_finished())
        .await
        .expect("tape did not finish");
}

/// A finite tape with a ground-truth file.
pub fn cfg(markets: Vec<SimMarket>, rate: f64, n: u64, dir: &tempfile::TempDir) -> SimConfig {
    let mut c = SimConfig::new(markets);
    c.seed = 11;
    c.rate_per_market = rate;
    c.trades_per_market = Some(n);
    c.ground_truth = Some(dir.path().join("gt.csv"));
    c
}

/// Extracts every trade id from a raw frame (Binance `"t":`, Kraken `"trade_id":`).
pub fn ids_in(raw: &str, venue: Venue) -> Vec<u64> {
    let key = match venue {
        Venue::Binance => "\"t\":",
        Venue::Kraken => "\"trade_id\":",
        v => unreachable!("{v} is not simulated"),
    };
    raw.split(key)
        .skip(1)
        .map(|p| {
            p.split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}
