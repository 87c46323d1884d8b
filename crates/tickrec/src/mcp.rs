//! `tickrec mcp`: a Model Context Protocol tool server on stdin/stdout, so AI assistants can ask
//! the tape (seed 001's `get_volume_profile`, `get_liquidity_vacuums`, plus candles, trades and
//! features). JSON-RPC 2.0, one message per line; `initialize`, `ping`, `tools/list`,
//! `tools/call`. A tool's failure (unknown market, too few trades) is a tool result with
//! `isError: true` and the message, as MCP asks; protocol mistakes are JSON-RPC errors.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::{json, Map, Value};
use tickrec_query::{Kind, Request, Tape};

use crate::config::Config;
use crate::query_cli::{open_tape, Store};

/// The MCP protocol revision this server speaks when the client does not name one.
const PROTOCOL_VERSION: &str = "2025-06-18";
/// Revisions whose tool calls look the same; a client asking for one of these gets it back.
const SUPPORTED_VERSIONS: [&str; 3] = ["2024-11-05", "2025-03-26", "2025-06-18"];

/// Arguments of `tickrec mcp`.
#[derive(Args, Debug)]
pub struct McpArgs {
    /// SQLite file to read (default: the configured store).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Which configured store to read.
    #[arg(long, value_enum, default_value_t = Store::Sqlite)]
    pub store: Store,
}

/// One tool: its name, the query it runs, what it says about itself, and its own parameters.
struct Tool {
    name: &'static str,
    kind: Kind,
    description: &'static str,
    params: &'static [(&'static str, &'static str, &'static str)],
}

const TOOLS: [Tool; 5] = [
    Tool {
        name: "get_volume_profile",
        kind: Kind::VolumeProfile,
        description: "Volume per price bucket over a window (default the last 24 h), with buy/sell split, point of control and value area. Needs at least min_trades trades (default 1000).",
        params: &[
            ("bucket_size", "string", "Bucket size, a multiple of the tick (e.g. \"10\")"),
            ("buckets", "integer", "At most this many buckets (default 50); instead of bucket_size"),
            ("value_area", "integer", "Value area, percent of volume (default 70)"),
            ("min_trades", "integer", "Minimum trades in the window (default 1000)"),
        ],
    },
    Tool {
        name: "get_liquidity_vacuums",
        kind: Kind::Vacuums,
        description: "Price ranges inside the window's traded range whose volume is far below the median bucket (ranges price can move through fast), with bounds, volume and a score in (0, 1].",
        params: &[
            ("bucket_size", "string", "Bucket size, a multiple of the tick"),
            ("buckets", "integer", "At most this many buckets (default 50)"),
            ("min_trades", "integer", "Minimum trades in the window (default 1000)"),
            ("threshold", "integer", "Thin below this percent of the median bucket volume (default 20)"),
        ],
    },
    Tool {
        name: "get_candles",
        kind: Kind::Candles,
        description: "OHLC candles (1s..1d) aggregated from stored trades, with volume, buy/sell volume, trade count and VWAP; or the venue's own stored candles. Intervals without trades are listed as gaps, never filled.",
        params: &[
            ("interval", "string", "Interval: 1s, 1m, 15m, 1h, 1d (default 1m)"),
            ("candles", "string", "trades (default) or venue"),
        ],
    },
    Tool {
        name: "get_trades",
        kind: Kind::Trades,
        description: "Stored trades in a window, one bounded page at a time (exact prices and quantities, taker side). Pass the returned `next` as `after` for the following page.",
        params: &[
            ("limit", "integer", "Rows per page, 1..10000 (default 1000)"),
            ("after", "string", "Cursor from the previous page"),
        ],
    },
    Tool {
        name: "get_features",
        kind: Kind::Features,
        description: "Per-minute SMA/EMA, log return, realized volatility and z-score over 1-minute closes; minutes before warm-up are reported as not ready.",
        params: &[
            ("window", "integer", "Rolling window, minutes (default 60)"),
            ("warmup", "integer", "Consecutive candles needed first (default 60)"),
        ],
    },
];

fn tool_list() -> Value {
    let tools: Vec<Value> = TOOLS
        .iter()
        .map(|t| {
            let mut props = Map::new();
            for (name, ty, desc) in [
                ("venue", "string", "Venue, e.g. binance or kraken"),
                ("symbol", "string", "Unified symbol, e.g. BTC/USDT"),
                (
                    "from",
                    "string",
                    "Window start: RFC 3339, epoch ms, or now-<n>[smhd]",
                ),
                ("to", "string", "Window end (exclusive), default now"),
                (
                    "source",
                    "string",
                    "Trade table: auto (default), trades, agg_trades",
                ),
            ]
            .iter()
            .chain(t.params)
            {
                props.insert(name.to_string(), json!({ "type": ty, "description": desc }));
            }
            json!({
                "name": t.name,
                "description": t.description,
                "inputSchema": {
                    "type": "object",
                    "properties": props,
                    "required": ["venue", "symbol"],
                    "additionalProperties": false,
                },
            })
        })
        .collect();
    json!({ "tools": tools })
}

/// Runs one tool call; the `Err` side is a JSON-RPC error (unknown tool, malformed arguments).
fn call(open: &dyn Fn() -> anyhow::Result<Tape>, params: &Value) -> Result<Value, (i64, String)> {
    let name = params.get("name").and_then(Value::as_str).unwrap_or("");
    let tool = TOOLS
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| (-32602, format!("unknown tool {name:?}")))?;
    let mut pairs = Vec::new();
    if let Some(args) = params.get("arguments") {
        let obj = args
            .as_object()
            .ok_or_else(|| (-32602, "arguments must be an object".to_string()))?;
        for (k, v) in obj {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => continue,
                _ => return Err((-32602, format!("argument {k:?} must be a string or number"))),
            };
            pairs.push((k.clone(), text));
        }
    }
    let request = match Request::new(tool.kind, pairs) {
        Ok(r) => r,
        Err(e) => return Ok(tool_error(&format!("{e} ({})", e.code()))),
    };
    let tape = match open() {
        Ok(t) => t,
        Err(e) => return Ok(tool_error(&format!("{e:#} (store_error)"))),
    };
    Ok(match request.run(&tape).map(serde_json::to_value) {
        Ok(Ok(v)) => json!({
            "content": [{ "type": "text", "text": v.to_string() }],
            "structuredContent": v,
            "isError": false,
        }),
        Ok(Err(e)) => tool_error(&e.to_string()),
        Err(e) => tool_error(&format!("{e} ({})", e.code())),
    })
}

fn tool_error(message: &str) -> Value {
    json!({ "content": [{ "type": "text", "text": message }], "isError": true })
}

/// Answers one incoming line; `None` for notifications (nothing to send back).
pub fn handle_line(open: &dyn Fn() -> anyhow::Result<Tape>, line: &str) -> Option<Value> {
    let msg: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            return Some(json!({ "jsonrpc": "2.0", "id": null,
                "error": { "code": -32700, "message": format!("parse error: {e}") } }))
        }
    };
    let id = msg.get("id").cloned();
    let method = msg.get("method").and_then(Value::as_str);
    let (Some(id), Some(method)) = (id, method) else {
        // A notification (no id) or a response: nothing to answer.
        return match (msg.get("id"), method) {
            (Some(id), None) if msg.get("result").is_none() && msg.get("error").is_none() => {
                Some(json!({ "jsonrpc": "2.0", "id": id,
                    "error": { "code": -32600, "message": "invalid request: no method" } }))
            }
            _ => None,
        };
    };
    let params = msg.get("params").cloned().unwrap_or(Value::Null);
    let result = match method {
        "initialize" => Ok(json!({
            "protocolVersion": params
                .get("protocolVersion")
                .and_then(Value::as_str)
                .filter(|v| SUPPORTED_VERSIONS.contains(v))
                .unwrap_or(PROTOCOL_VERSION),
            "capabilities": { "tools": { "listChanged": false } },
            "serverInfo": { "name": "tickrec", "version": env!("CARGO_PKG_VERSION") },
        })),
        "ping" => Ok(json!({})),
        "tools/list" => Ok(tool_list()),
        "tools/call" => call(open, &params),
        other => Err((-32601, format!("method not found: {other}"))),
    };
    Some(match result {
        Ok(r) => json!({ "jsonrpc": "2.0", "id": id, "result": r }),
        Err((code, message)) => {
            json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
        }
    })
}

/// Serves MCP on stdin/stdout until stdin closes.
///
/// # Errors
/// When stdin or stdout fail.
pub fn run(cfg: &Config, args: &McpArgs) -> anyhow::Result<()> {
    tracing::info!(store = ?args.store, "mcp server on stdio");
    // The store is opened per call, so the server starts (and says why) even when it is down.
    let open = || open_tape(cfg, args.store, args.db.as_ref());
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(reply) = handle_line(&open, &line) {
            writeln!(stdout, "{reply}").context("writing stdout")?;
            stdout.flush().context("writing stdout")?;
        }
    }
    Ok(())
}
