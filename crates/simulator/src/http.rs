//! A minimal HTTP/1.1 server for the REST companions: `GET` requests with a query string, JSON
//! responses with `Content-Length`, keep-alive unless the client asks for `Connection: close`
//! (or speaks HTTP/1.0). Request bodies are read and ignored.
//!
//! The listener peeks at a new connection's request line: paths under `/binance/api/` and
//! `/kraken/0/` are REST, everything else goes to the WebSocket handshake.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::server::{percent_decode, stopped, SimCore};

/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest request body read (and ignored).
const MAX_BODY: usize = 1 << 20;
/// An idle keep-alive connection is closed after this long.
const IDLE: Duration = Duration::from_secs(60);

/// Whether a request path is served by a REST companion.
pub(crate) fn is_rest_path(path: &str) -> bool {
    path.starts_with("/binance/api/")
        || path.starts_with("/kraken/0/")
        || path.starts_with("/okx/api/")
        || path.starts_with("/upbit/v1/")
        || path.starts_with("/bybit/v5/market/")
        || path.starts_with("/coinbase/api/")
}

/// The request target of the first request line on `stream`, without consuming anything;
/// `None` when the peer closed (or failed) before sending a line. A line longer than the peek
/// window yields an empty target.
pub(crate) async fn peek_target(stream: &TcpStream) -> Option<String> {
    let mut buf = vec![0u8; 2048];
    let mut seen = 0;
    loop {
        let n = stream.peek(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        if let Some(end) = buf[..n].windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..end]);
            return Some(line.split(' ').nth(1).unwrap_or("").to_string());
        }
        if n == buf.len() {
            return Some(String::new());
        }
        if n == seen {
            // Part of a line: wait for the rest.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        seen = n;
    }
}

/// A parsed request.
#[derive(Debug)]
pub(crate) struct HttpRequest {
    pub method: String,
    /// Path without the query, not decoded.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The client wants the connection closed after the response.
    pub close: bool,
}

impl HttpRequest {
    /// The first value of a query parameter.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A response: status, extra headers, JSON body.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl HttpResponse {
    pub(crate) fn json(status: u16, body: String) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl ToString) -> HttpResponse {
        self.headers.push((name, value.to_string()));
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        418 => "I'm a teapot",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

fn render(resp: &HttpResponse, close: bool) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: {}\r\n",
        resp.status,
        reason(resp.status),
        resp.body.len()
    );
    for (k, v) in &resp.headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str(if close {
        "Connection: close\r\n\r\n"
    } else {
        "Connection: keep-alive\r\n\r\n"
    });
    let mut out = head.into_bytes();
    out.extend_from_slice(resp.body.as_bytes());
    out
}

/// Splits `a=1&b=%2F` into decoded pairs (`+` is a space).
pub(crate) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |s: &str| percent_decode(&s.replace('+', " "));
            (dec(k), dec(v))
        })
        .collect()
}

/// Why a request head could not be read.
enum HeadError {
    /// Clean end of stream between requests.
    Eof,
    Io,
    TooLarge,
    Malformed,
}

/// Reads one request (head and ignored body); leftover bytes stay in `buf`.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<HttpRequest, HeadError> {
    let end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) if buf.is_empty() => return Err(HeadError::Eof),
            Ok(0) | Err(_) => return Err(HeadError::Io),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    buf.drain(..end);
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version)) = (first.next(), first.next(), first.next())
    else {
        return Err(HeadError::Malformed);
    };
    if !version.starts_with("HTTP/1.") {
        return Err(HeadError::Malformed);
    }
    let mut close = version == "HTTP/1.0";
    let mut body_len = 0usize;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("connection") {
            if v.eq_ignore_ascii_case("close") {
                close = true;
            } else if v.eq_ignore_ascii_case("keep-alive") {
                close = false;
            }
        } else if k.eq_ignore_ascii_case("content-length") {
            body_len = v.parse().map_err(|_| HeadError::Malformed)?;
        }
    }
    if body_len > MAX_BODY {
        return Err(HeadError::TooLarge);
    }
    while buf.len() < body_len {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(HeadError::Io),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf.drain(..body_len);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(HttpRequest {
        method: method.to_string(),
        path: path.to_string(),
        query: parse_query(query),
        close,
    })
}

/// Serves REST requests on one connection until the client closes it, asks to, idles, or the
/// simulator stops.
pub(crate) async fn serve(
    mut stream: TcpStream,
    core: Arc<SimCore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buf = Vec::with_capacity(4096);
    loop {
        let read = tokio::select! {
            r = tokio::time::timeout(IDLE, read_request(&mut stream, &mut buf)) => r,
            _ = stopped(&mut shutdown) => return,
        };
        let (resp, close) = match read {
            Ok(Ok(req)) => (route(&core, &req), req.close),
            Ok(Err(HeadError::Eof | HeadError::Io)) | Err(_) => return,
            Ok(Err(HeadError::TooLarge)) => (
                HttpResponse::json(431, r#"{"error":"request too large"}"#.into()),
                true,
            ),
            Ok(Err(HeadError::Malformed)) => (
                HttpResponse::json(400, r#"{"error":"malformed request"}"#.into()),
                true,
            ),
        };
        if stream.write_all(&render(&resp, close)).await.is_err() {
            return;
        }
        if close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

fn route(core: &SimCore, req: &HttpRequest) -> HttpResponse {
    tracing::debug!(method = %req.method, path = %req.path, "rest request");
    if let Some(rest) = req.path.strip_prefix("/binance") {
        crate::binance::rest::handle(core, rest, req)
    } else if let Some(rest) = req.path.strip_prefix("/kraken") {
        crate::kraken::rest::handle(core, rest, req)
    } else if let Some(rest) = req.path.strip_prefix("/okx") {
        crate::okx::rest::handle(core, rest, req)
    } else if let Some(rest) = req.path.strip_prefix("/coinbase") {
        crate::coinbase::rest::handle(core, rest, req)
    } else if let Some(rest) = req.path.strip_prefix("/bybit") {
        crate::bybit::rest::handle(core, rest, req)
    } else if let Some(rest) = req.path.strip_prefix("/upbit") {
        crate::upbit::rest::handle(core, rest, req)
    } else {
        HttpResponse::json(404, r#"{"error":"not found"}"#.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_paths() {
        assert_eq!(
            parse_query("pair=BTC%2FUSD&since=&count=5&x"),
            vec![
                ("pair".to_string(), "BTC/USD".to_string()),
                ("since".to_string(), String::new()),
                ("count".to_string(), "5".to_string()),
                ("x".to_string(), String::new()),
            ]
        );
        assert_eq!(parse_query("symbols=%5B%22A%22%5D")[0].1, r#"["A"]"#);
        assert!(is_rest_path("/binance/api/v3/aggTrades"));
        assert!(is_rest_path("/kraken/0/public/Trades"));
        assert!(!is_rest_path("/binance/ws/btcusdt@trade"));
        assert!(!is_rest_path("/kraken/v2"));
        let r = render(
            &HttpResponse::json(429, "{}".into()).header("Retry-After", 3),
            true,
        );
        let r = String::from_utf8(r).unwrap();
        assert!(r.starts_with("HTTP/1.1 429 Too Many Requests\r\n"), "{r}");
        assert!(r.contains("Content-Length: 2\r\n"));
        assert!(r.contains("Retry-After: 3\r\n"));
        assert!(r.ends_with("Connection: close\r\n\r\n{}"));
    }
}
