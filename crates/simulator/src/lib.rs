//! Exchange simulator: serves six venues' public WebSocket and REST protocols on loopback with a
//! deterministic, seeded trade tape and order books, and records its ground truth (every trade
//! it published, every market's true book) so tests and benchmarks can prove the recorder lost
//! nothing.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tickrec_simulator::SimError> {
//! use tickrec_model::Venue;
//! use tickrec_simulator::{start, SimConfig, SimMarket};
//! let mut cfg = SimConfig::new(vec![SimMarket::new(Venue::Binance, "BTC/USDT")]);
//! cfg.trades_per_market = Some(10_000);
//! cfg.ground_truth = Some("/tmp/gt.csv".into());
//! let sim = start(cfg).await?;
//! // connect to format!("{}/stream?streams=btcusdt@trade", sim.binance_ws_url()) ...
//! sim.wait_finished().await;
//! sim.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`config`]: [`SimConfig`], [`SimMarket`], [`StartMode`].
//! - [`tape`]: the deterministic tape ([`tape_trade`], [`Tape`], [`TapeTrade`]) — a pure function
//!   of seed, venue, symbol, index, start time and rate.
//! - `market`: per-market driver task publishing due trades every ~1 ms as one shared batch, plus
//!   the state snapshots are taken from (recent trades, candle, ticker statistics).
//! - `candles`: each venue's candle streams built from the tape, with its push cadence and
//!   end-of-bar rule.
//! - [`ground_truth`]: CSV writer thread fed by the drivers, and [`read_ground_truth`].
//! - `server`: the single listener routing by request path, [`start`] and [`SimHandle`].
//! - `binance`: `/binance/ws/<stream>` and `/binance/stream?streams=` (trade, aggTrade,
//!   bookTicker, kline_1m; live SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / properties;
//!   server ping frames).
//! - `kraken`: `/kraken/v2` (status, trade, ticker, ohlc, ping/pong, heartbeat).
//! - `okx`: `/okx/ws/v5/business` (`trades-all`, per-arg acks, text ping/pong) and the
//!   `history-trades` REST companion.
//! - `coinbase`: `/coinbase` (Advanced Trade `market_trades` with snapshot, `heartbeats`,
//!   `subscriptions` acks, connection-wide `sequence_num`) and the market `ticker` REST companion.
//! - `bybit`: `/bybit/v5/public/spot` (`publicTrade`, per-request acks, the 10-topic limit,
//!   JSON ping) and the `recent-trade` REST companion (last 60 trades only).
//! - `upbit`: `/upbit/websocket/v1` (`trade` in binary frames, no acks, `PING`) and the
//!   `trades/ticks` REST companion.
//! - `format`: allocation-free number and RFC 3339 formatting for the hot path.
//! - [`error`]: the [`SimError`] enum.
//!
//! - `http`: the minimal HTTP/1.1 server of the REST companions (`binance::rest`:
//!   `/binance/api/v3/{aggTrades,historicalTrades,trades,klines,exchangeInfo}`; `kraken::rest`:
//!   `/kraken/0/public/{Trades,OHLC,AssetPairs}`), served from each market's `history` (trades
//!   are regenerated from walk checkpoints, bit-identical to what was published).
//! - Candle streams: Coinbase `candles` (5 m), OKX `candle1m` (`/business` only), Bybit
//!   `kline.1`, Upbit `candle.1s`/`candle.1m` (`<venue>/candles.rs`), built by `candles`.
//! - Instruments endpoints (`<venue>/instruments.rs`; Binance `exchangeInfo` and Kraken
//!   `AssetPairs` in their `rest.rs`): Coinbase `market/products`, OKX `public/instruments`,
//!   Bybit `instruments-info`, Upbit `market/all` and `orderbook/instruments`, listing the
//!   simulated markets with their exact tick and quantity step.
//! - [`faults`]: [`Fault`] injection ([`SimHandle::inject`], [`SimConfig::faults`]).
//! - `book`: one seeded, evolving L2 book per market, published as each venue publishes it
//!   (Binance `<sym>@depth[@100ms]` + REST `/api/v3/depth`, Kraken `book` depth 10, OKX `books`,
//!   Bybit `orderbook.50`, Coinbase `level2`, Upbit full `orderbook`) with the venue's sequence
//!   numbers and checksums; book faults ([`Fault::DropBookDelta`],
//!   [`Fault::CorruptBookChecksum`], [`Fault::ReorderBookDeltas`],
//!   [`Fault::StaleBookSnapshot`]); the venue's true book ([`SimHandle::book`] → [`BookTruth`]),
//!   held still by [`SimHandle::pause_books`] for comparisons.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tickrec_simulator::SimError> {
//! use tickrec_model::Venue;
//! use tickrec_simulator::{start, Fault, SimConfig, SimMarket};
//! let mut cfg = SimConfig::new(vec![SimMarket::new(Venue::Okx, "BTC/USDT")]);
//! cfg.book_updates_per_sec = 200.0;
//! let sim = start(cfg).await?;
//! // subscribe {"channel":"books","instId":"BTC-USDT"} on format!("{}/ws/v5/public", sim.okx_ws_url())
//! sim.inject(Fault::DropBookDelta { venue: Venue::Okx, symbol: "BTC/USDT".into(), after: 10 })?;
//! // ... the 11th next message never arrives: prevSeqId no longer chains.
//! sim.pause_books();
//! let truth = sim.book(Venue::Okx, "BTC/USDT").expect("market");
//! // ... read until the client's book has seqId == truth.last_update_id, compare levels.
//! sim.resume_books();
//! # Ok(()) }
//! ```

pub mod config;
pub mod error;
pub mod faults;
pub mod ground_truth;
pub mod tape;

mod binance;
mod book;
mod bybit;
mod candles;
mod coinbase;
mod format;
mod history;
mod http;
mod kraken;
mod market;
mod okx;
mod server;
mod upbit;

pub use book::{BookTruth, UNDO_KEPT as BOOK_UNDO_KEPT};
pub use bybit::trade_id as bybit_trade_id;
pub use config::{
    SimConfig, SimMarket, StartMode, MAX_BOOK_RATE, MAX_RATE, MIN_BOOK_RATE, MIN_RATE,
    SIMULATED_VENUES,
};
pub use error::SimError;
pub use faults::{Fault, ScheduledFault, OVERSIZED_FRAME_BYTES};
pub use ground_truth::{read_ground_truth, GROUND_TRUTH_HEADER};
pub use server::{start, SimHandle};
pub use tape::{first_trade_id, tape_trade, Tape, TapeTrade};
pub use upbit::sequential_id as upbit_sequential_id;
