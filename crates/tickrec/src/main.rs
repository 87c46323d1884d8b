//! `tickrec` — the loss-less market-data recorder binary.

use tickrec::{
    app, archive_cli, bench, book_cli, config, export, gaps, http, instruments, mcp, query_cli,
    simulate,
};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use crate::config::Config;

#[derive(Parser)]
#[command(
    name = "tickrec",
    version,
    about = "Loss-less crypto market-data recorder"
)]
struct Cli {
    /// Configuration file (TOML). Without one, `record` records Kraken and Binance
    /// BTC/USDT + ETH/USDT trades into data/tickrec.db.
    #[arg(long, short, global = true, env = "TICKREC_CONFIG")]
    config: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct CheckConfigArgs {
    /// Also fetch every venue's instrument list and check the symbols against it (exit 1 on a
    /// symbol the venue does not list).
    #[arg(long)]
    online: bool,
}

#[derive(clap::Args)]
struct InstrumentsArgs {
    /// Only this venue.
    #[arg(long)]
    venue: Option<tickrec_model::Venue>,
    /// Print the whole cached list (every symbol the venue listed at the last fetch) instead of
    /// fetching the configured markets.
    #[arg(long)]
    cached: bool,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    /// One JSON object per line (for log shippers).
    Json,
    /// Human-readable lines.
    Pretty,
}

#[derive(Subcommand)]
enum Command {
    /// Record the configured markets until SIGINT/SIGTERM, then flush and exit 0.
    Record,
    /// Validate a configuration file and print what would be recorded.
    CheckConfig(CheckConfigArgs),
    /// List the venues and the channels each offers.
    Venues,
    /// Fetch the configured markets' instrument metadata (tick/lot size, minimums, status) from
    /// the venues — or the cache — and print it.
    Instruments(InstrumentsArgs),
    /// Create or upgrade the schema of every configured store, then exit (also done at start-up).
    Migrate,
    /// Report what the stored trade tape is missing, per market (id holes and their times).
    Gaps(gaps::GapsArgs),
    /// A market's order book as it was at a time, rebuilt from the stored book messages.
    Book(book_cli::BookArgs),
    /// Ask the stored tape: trades, candles, volume profile, liquidity vacuums, features.
    Query(query_cli::QueryArgs),
    /// Serve the query tools to AI assistants over MCP (JSON-RPC on stdin/stdout).
    Mcp(mcp::McpArgs),
    /// Archive completed intervals to Parquet (S3 or a directory), verify, apply retention.
    Archive(archive_cli::ArchiveArgs),
    /// Export a time range of the local store to Parquet or Tardis-style CSV.
    Export(export::ExportArgs),
    /// Run the exchange simulator (Binance + Kraken v2 protocols on loopback).
    Simulate(simulate::SimulateArgs),
    /// Measure parser speed and end-to-end simulator → SQLite throughput and latency.
    Bench(bench::BenchArgs),
}

/// `record` logs to stdout (what log shippers and `docker logs` read); commands whose stdout is
/// their output (`gaps --format json`, `simulate`'s URL line, `bench`) log to stderr.
fn init_logs(format: LogFormat, to_stdout: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt().with_env_filter(filter);
    match (format, to_stdout) {
        (LogFormat::Json, true) => b
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(std::io::stdout)
            .init(),
        (LogFormat::Json, false) => b
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(std::io::stderr)
            .init(),
        (LogFormat::Pretty, true) => b.with_writer(std::io::stdout).init(),
        (LogFormat::Pretty, false) => b.with_writer(std::io::stderr).init(),
    }
}

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    Ok(match path {
        Some(p) => Config::load(p)?,
        None => Config::default_recording(),
    })
}

#[cfg(feature = "postgres")]
fn migrate_postgres(cfg: &Config) -> anyhow::Result<()> {
    let Some(pg) = &cfg.postgres else {
        return Ok(());
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let m = rt.block_on(async {
        let client = tickrec_store::postgres::connect(pg).await?;
        tickrec_store::postgres::migrate(&client).await
    })?;
    println!("postgres {}: {m:?}", pg.redacted_uri());
    Ok(())
}

#[cfg(not(feature = "postgres"))]
fn migrate_postgres(_cfg: &Config) -> anyhow::Result<()> {
    Ok(())
}

fn main() -> ExitCode {
    // Secrets may come from a .env file; a missing file is fine.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    init_logs(cli.log_format, matches!(cli.command, Command::Record));
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "fatal");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Record => {
            let cfg = load_config(cli.config.as_ref())?;
            let _ = http::prometheus();
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(app::record(
                cfg,
                app::shutdown_signal(),
                app::Hooks::default(),
            ))?;
            Ok(())
        }
        Command::CheckConfig(args) => {
            let cfg = load_config(cli.config.as_ref())?;
            if args.online {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let set = rt.block_on(instruments::load(&cfg))?;
                for (venue, source) in &set.sources {
                    println!("  instruments {venue}: {}", source.as_str());
                }
            }
            println!("config OK");
            println!("  sqlite: {}", cfg.sqlite.path.display());
            println!(
                "  batch: max_rows={} max_ms={}",
                cfg.batch.max_rows, cfg.batch.max_ms
            );
            if cfg.http.enabled {
                println!("  http: {}", cfg.http.listen);
            }
            for (i, m) in cfg.markets.iter().enumerate() {
                let a = app::adapter_for_market(m)?;
                let url = m
                    .ws_url
                    .clone()
                    .unwrap_or_else(|| a.default_ws_url().to_string());
                let channels: Vec<String> = m.channels.iter().map(|c| c.name()).collect();
                println!(
                    "  markets[{i}]: {} {} [{}] via {}",
                    m.venue,
                    m.symbols.join(","),
                    channels.join(","),
                    url
                );
            }
            Ok(())
        }
        Command::Venues => {
            for v in tickrec_model::Venue::ALL {
                let info = tickrec_venues::describe(v);
                println!("{v}");
                println!("  channels:    {}", info.channels);
                println!("  symbols:     {}", info.symbols);
                println!("  websocket:   {}", info.ws_url);
                println!("  rest:        {}", info.rest_url);
                println!("  instruments: {}", info.instruments);
                println!("  gaps:        {}", info.gap_repair);
            }
            Ok(())
        }
        Command::Instruments(args) => {
            let mut cfg = load_config(cli.config.as_ref())?;
            // Asked for explicitly: fetch even when start-up checks are off.
            if cfg.instruments.check == instruments::InstrumentCheck::Off {
                cfg.instruments.check = instruments::InstrumentCheck::WarnOffline;
            }
            let list = if args.cached {
                instruments::cached(&cfg, args.venue)
            } else {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(instruments::load(&cfg))?
                    .instruments
                    .into_iter()
                    .filter(|i| args.venue.is_none_or(|v| i.venue == v))
                    .collect()
            };
            instruments::print(&list, args.json);
            Ok(())
        }
        Command::Migrate => {
            let cfg = load_config(cli.config.as_ref())?;
            tickrec_store::SqliteWriter::open(&cfg.sqlite)?;
            println!(
                "sqlite {}: schema version {}",
                cfg.sqlite.path.display(),
                tickrec_store::SCHEMA_VERSION
            );
            migrate_postgres(&cfg)?;
            Ok(())
        }
        Command::Gaps(args) => gaps::run(&load_config(cli.config.as_ref())?, &args),
        Command::Book(args) => book_cli::run(&load_config(cli.config.as_ref())?, &args),
        Command::Query(args) => query_cli::run(&load_config(cli.config.as_ref())?, &args),
        Command::Mcp(args) => mcp::run(&load_config(cli.config.as_ref())?, &args),
        Command::Archive(args) => archive_cli::run(&load_config(cli.config.as_ref())?, &args),
        Command::Export(args) => export::run(&load_config(cli.config.as_ref())?, &args),
        Command::Simulate(args) => simulate::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
