//! `tickrec query trades|candles|volume-profile|vacuums|features`: ask the stored tape from the
//! shell. Parameters go through the same [`Request`] as the HTTP API and the MCP server; output
//! is an aligned table (summary, rows, gaps), CSV (the rows only) or the API's JSON.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;
use tickrec_query::{Kind, Request, Tape};

use crate::config::Config;

/// Arguments of `tickrec query`.
#[derive(Args, Debug)]
pub struct QueryArgs {
    /// The question.
    #[command(subcommand)]
    pub what: What,
}

/// The questions.
#[derive(Subcommand, Debug)]
pub enum What {
    /// A page of trades (paged by time + id; pass the printed `next` as --after).
    Trades {
        #[command(flatten)]
        common: Common,
        /// Rows per page (1..=10000).
        #[arg(long)]
        limit: Option<u32>,
        /// Cursor from the previous page.
        #[arg(long)]
        after: Option<String>,
    },
    /// Candles aggregated from trades (or the venue's own with --venue-candles), gaps listed.
    Candles {
        #[command(flatten)]
        common: Common,
        /// Interval: 1s … 1d (`15m`, `4h`).
        #[arg(long, default_value = "1m")]
        interval: String,
        /// Read the venue's stored candles instead of aggregating trades.
        #[arg(long)]
        venue_candles: bool,
    },
    /// Volume per price bucket, point of control and value area.
    VolumeProfile {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// Price ranges with far less traded volume than a typical bucket.
    Vacuums {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        profile: ProfileArgs,
        /// A bucket is thin below this percent of the median bucket volume.
        #[arg(long)]
        threshold: Option<u8>,
    },
    /// SMA/EMA, returns, realized volatility and z-score over 1-minute closes.
    Features {
        #[command(flatten)]
        common: Common,
        /// Rolling window, minutes.
        #[arg(long)]
        window: Option<u32>,
        /// Consecutive candles needed before a minute is ready.
        #[arg(long)]
        warmup: Option<u32>,
    },
}

/// Options every question takes.
#[derive(Args, Debug)]
pub struct Common {
    /// Venue (`binance`, `kraken`).
    #[arg(long)]
    venue: String,
    /// Unified symbol (`BTC/USDT`).
    #[arg(long)]
    symbol: String,
    /// Window start: RFC 3339, epoch ms, `now-<n>[smhd]` (default: a span before --to).
    #[arg(long, allow_hyphen_values = true)]
    from: Option<String>,
    /// Window end, exclusive (default `now`).
    #[arg(long, allow_hyphen_values = true)]
    to: Option<String>,
    /// Trade table: auto, trades, agg_trades.
    #[arg(long)]
    source: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// SQLite file to read (default: the configured store).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Which configured store to read.
    #[arg(long, value_enum, default_value_t = Store::Sqlite)]
    store: Store,
}

/// Which store a query reads.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Store {
    /// The SQLite file (`[storage.sqlite]` or `--db`).
    Sqlite,
    /// The `[storage.postgres]` database (builds with `--features postgres`).
    Postgres,
}

/// Opens the chosen store read-only.
///
/// # Errors
/// A store that cannot be opened, or PostgreSQL that is not configured or not built in.
pub fn open_tape(cfg: &Config, store: Store, db: Option<&PathBuf>) -> anyhow::Result<Tape> {
    match store {
        Store::Sqlite => {
            let path = db.unwrap_or(&cfg.sqlite.path);
            Tape::open(path).with_context(|| format!("opening {}", path.display()))
        }
        #[cfg(feature = "postgres")]
        Store::Postgres => {
            let pg = cfg
                .postgres
                .as_ref()
                .context("--store postgres needs [storage.postgres] in the configuration")?;
            Tape::connect_postgres(pg)
                .with_context(|| format!("connecting to {}", pg.redacted_uri()))
        }
        #[cfg(not(feature = "postgres"))]
        Store::Postgres => anyhow::bail!(
            "this build has no PostgreSQL support: rebuild with `--features postgres`"
        ),
    }
}

/// Volume-profile options.
#[derive(Args, Debug)]
pub struct ProfileArgs {
    /// Bucket size (a multiple of the tick), e.g. `10` or `0.5`.
    #[arg(long, conflicts_with = "buckets")]
    bucket_size: Option<String>,
    /// At most this many buckets (default 50).
    #[arg(long)]
    buckets: Option<u32>,
    /// Value area, percent of volume (default 70).
    #[arg(long)]
    value_area: Option<u8>,
    /// Fewer trades in the window is an error (default 1000).
    #[arg(long)]
    min_trades: Option<u64>,
}

/// Output format.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for people.
    Table,
    /// The HTTP API's JSON.
    Json,
    /// The rows as CSV with a header.
    Csv,
}

fn push<T: ToString>(p: &mut Vec<(String, String)>, k: &str, v: Option<T>) {
    if let Some(v) = v {
        p.push((k.to_string(), v.to_string()));
    }
}

impl ProfileArgs {
    fn push(&self, p: &mut Vec<(String, String)>) {
        push(p, "bucket_size", self.bucket_size.as_ref());
        push(p, "buckets", self.buckets);
        push(p, "value_area", self.value_area);
        push(p, "min_trades", self.min_trades);
    }
}

impl What {
    /// The request, its main row set and the columns printed for it.
    fn request(&self) -> anyhow::Result<(Request, &Common)> {
        let mut p = Vec::new();
        let (kind, common) = match self {
            What::Trades {
                common,
                limit,
                after,
            } => {
                push(&mut p, "limit", *limit);
                push(&mut p, "after", after.as_ref());
                (Kind::Trades, common)
            }
            What::Candles {
                common,
                interval,
                venue_candles,
            } => {
                push(&mut p, "interval", Some(interval));
                push(&mut p, "candles", venue_candles.then_some("venue"));
                (Kind::Candles, common)
            }
            What::VolumeProfile { common, profile } => {
                profile.push(&mut p);
                (Kind::VolumeProfile, common)
            }
            What::Vacuums {
                common,
                profile,
                threshold,
            } => {
                profile.push(&mut p);
                push(&mut p, "threshold", *threshold);
                (Kind::Vacuums, common)
            }
            What::Features {
                common,
                window,
                warmup,
            } => {
                push(&mut p, "window", *window);
                push(&mut p, "warmup", *warmup);
                (Kind::Features, common)
            }
        };
        push(&mut p, "venue", Some(&common.venue));
        push(&mut p, "symbol", Some(&common.symbol));
        push(&mut p, "from", common.from.as_ref());
        push(&mut p, "to", common.to.as_ref());
        push(&mut p, "source", common.source.as_ref());
        Ok((Request::new(kind, p)?, common))
    }
}

/// The array of rows in an answer and the columns shown for it.
fn layout(answer: &Value) -> (&'static str, &'static [&'static str]) {
    let has = |k: &str| answer.get(k).is_some();
    if has("trades") && answer.get("trades").is_some_and(Value::is_array) {
        ("trades", &["time", "id", "price", "qty", "side"])
    } else if has("candles") && !has("table") {
        (
            "candles",
            &[
                "open_time",
                "open",
                "high",
                "low",
                "close",
                "volume",
                "quote_volume",
                "trades",
                "closed",
            ],
        )
    } else if has("candles") {
        (
            "candles",
            &[
                "open_time",
                "open",
                "high",
                "low",
                "close",
                "volume",
                "buy_volume",
                "sell_volume",
                "trades",
                "vwap",
            ],
        )
    } else if has("buckets") {
        (
            "buckets",
            &[
                "low",
                "high",
                "volume",
                "buy_volume",
                "sell_volume",
                "trades",
            ],
        )
    } else if has("vacuums") {
        (
            "vacuums",
            &["low", "high", "volume", "trades", "buckets", "score"],
        )
    } else {
        (
            "rows",
            &[
                "time",
                "close",
                "ready",
                "run_length",
                "sma",
                "ema",
                "ret",
                "realized_vol",
                "zscore",
            ],
        )
    }
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => match n.as_f64() {
            // Small statistics (returns, volatility) keep their significant digits.
            Some(f) if n.is_f64() && f != 0.0 && f.abs() < 0.01 => format!("{f:.4e}"),
            Some(f) if n.is_f64() => format!("{f:.6}"),
            _ => n.to_string(),
        },
        Some(other) => other.to_string(),
    }
}

fn table(out: &mut String, cols: &[&str], rows: &[Value]) {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| cols.iter().map(|c| cell(r.get(*c))).collect())
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].len())
                .max()
                .unwrap_or(0)
                .max(c.len())
        })
        .collect();
    let line = |vals: Vec<&str>| {
        let parts: Vec<String> = vals
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:>w$}"))
            .collect();
        parts.join("  ").trim_end().to_string() + "\n"
    };
    out.push_str(&line(cols.to_vec()));
    for r in &cells {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
}

/// For a volume profile, the bucket rows with a `mark` column: `POC`, or `VA` inside the value area.
fn mark_profile(answer: &Value, rows: &[Value]) -> Option<Vec<Value>> {
    let poc = answer.get("poc_index")?.as_u64()?;
    let va_low = answer.get("value_area_low")?.as_str()?;
    let va_high = answer.get("value_area_high")?.as_str()?;
    let mut inside = false;
    Some(
        rows.iter()
            .enumerate()
            .map(|(i, r)| {
                if r.get("low").and_then(Value::as_str) == Some(va_low) {
                    inside = true;
                }
                let mark = match (i as u64 == poc, inside) {
                    (true, _) => "POC",
                    (false, true) => "VA",
                    _ => "",
                };
                if r.get("high").and_then(Value::as_str) == Some(va_high) {
                    inside = false;
                }
                let mut r = r.clone();
                if let Some(o) = r.as_object_mut() {
                    o.insert("mark".into(), Value::from(mark));
                }
                r
            })
            .collect(),
    )
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Renders an answer (as JSON value) in `format`.
pub fn render(answer: &Value, format: Format) -> anyhow::Result<String> {
    if format == Format::Json {
        return Ok(serde_json::to_string_pretty(answer)? + "\n");
    }
    let (key, cols) = layout(answer);
    let rows = answer
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut out = String::new();
    if format == Format::Csv {
        out.push_str(&cols.join(","));
        out.push('\n');
        for r in rows {
            let line: Vec<String> = cols.iter().map(|c| csv_field(&cell(r.get(*c)))).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        return Ok(out);
    }
    if let Some(obj) = answer.as_object() {
        for (k, v) in obj {
            if !v.is_array() && !v.is_object() {
                out.push_str(&format!("{k}: {}\n", cell(Some(v))));
            }
        }
    }
    out.push('\n');
    let marked;
    let (cols, rows) = match mark_profile(answer, rows) {
        Some(m) => {
            marked = m;
            (&[&["mark"][..], cols].concat()[..], marked.as_slice())
        }
        None => (cols, rows),
    };
    table(&mut out, cols, rows);
    if let Some(gaps) = answer.get("gaps").and_then(Value::as_array) {
        if !gaps.is_empty() {
            out.push_str(&format!("\ngaps ({}):\n", gaps.len()));
            table(&mut out, &["from", "to", "missing"], gaps);
        }
    }
    Ok(out)
}

/// Runs `tickrec query …` and prints the answer.
///
/// # Errors
/// Bad parameters, a missing store, query failures.
pub fn run(cfg: &Config, args: &QueryArgs) -> anyhow::Result<()> {
    let (request, common) = args.what.request()?;
    let tape = open_tape(cfg, common.store, common.db.as_ref())?;
    let answer = serde_json::to_value(request.run(&tape)?)?;
    print!("{}", render(&answer, common.format)?);
    Ok(())
}
