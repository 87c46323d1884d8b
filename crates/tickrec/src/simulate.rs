//! `tickrec simulate`: the exchange simulator as a process, for manual runs and process-level
//! tests. It prints one JSON line with its URLs on stdout, then serves until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use tickrec_model::Venue;
use tickrec_simulator::{SimConfig, SimMarket, StartMode};

/// Arguments of `tickrec simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Seed of the trade tape.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Trades per second per market.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Stop each market's tape after this many trades (default: never).
    #[arg(long)]
    pub trades: Option<u64>,
    /// Markets as venue:SYMBOL, repeatable (default: binance and kraken, BTC/USDT and ETH/USDT;
    /// coinbase, okx, bybit and upbit are simulated for trades).
    #[arg(long = "market")]
    pub markets: Vec<String>,
    /// Write every published trade to this CSV file.
    #[arg(long)]
    pub ground_truth: Option<PathBuf>,
    /// When each market's tape starts.
    #[arg(long, value_enum, default_value_t = Start::OnSubscribe)]
    pub start: Start,
}

/// Tape start mode.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Start {
    /// When the first connection subscribes to the market's trades.
    OnSubscribe,
    /// At once, like a real venue.
    Immediately,
}

fn parse_market(s: &str) -> anyhow::Result<SimMarket> {
    let (v, sym) = s
        .split_once(':')
        .with_context(|| format!("market `{s}` must be venue:SYMBOL, e.g. binance:BTC/USDT"))?;
    Ok(SimMarket {
        venue: v.parse::<Venue>()?,
        symbol: sym.to_string(),
    })
}

/// Runs the simulator until a signal arrives.
///
/// # Errors
/// Bad arguments or a failure to bind.
pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let markets = if args.markets.is_empty() {
        let mut v = Vec::new();
        for venue in [Venue::Binance, Venue::Kraken] {
            for s in ["BTC/USDT", "ETH/USDT"] {
                v.push(SimMarket {
                    venue,
                    symbol: s.to_string(),
                });
            }
        }
        v
    } else {
        args.markets
            .iter()
            .map(|m| parse_market(m))
            .collect::<anyhow::Result<_>>()?
    };
    let mut cfg = SimConfig::new(markets);
    cfg.listen = args.listen;
    cfg.seed = args.seed;
    cfg.rate_per_market = args.rate;
    cfg.trades_per_market = args.trades;
    cfg.ground_truth = args.ground_truth;
    cfg.start = match args.start {
        Start::OnSubscribe => StartMode::OnSubscribe,
        Start::Immediately => StartMode::Immediately,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let handle = tickrec_simulator::start(cfg).await?;
        println!(
            "{}",
            serde_json::json!({
                "addr": handle.addr().to_string(),
                "binance_ws_url": handle.binance_ws_url(),
                "kraken_ws_url": handle.kraken_ws_url(),
                "binance_rest_url": handle.binance_rest_url(),
                "kraken_rest_url": handle.kraken_rest_url(),
                "coinbase_ws_url": handle.coinbase_ws_url(),
                "coinbase_rest_url": handle.coinbase_rest_url(),
                "okx_ws_url": handle.okx_ws_url(),
                "okx_rest_url": handle.okx_rest_url(),
                "bybit_ws_url": handle.bybit_ws_url(),
                "bybit_rest_url": handle.bybit_rest_url(),
                "upbit_ws_url": handle.upbit_ws_url(),
                "upbit_rest_url": handle.upbit_rest_url(),
            })
        );
        crate::app::shutdown_signal().await;
        tracing::info!(published = handle.published(), "simulator stopping");
        handle.shutdown().await?;
        anyhow::Ok(())
    })
}
