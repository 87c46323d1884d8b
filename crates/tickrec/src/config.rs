//! The configuration file (TOML). Two shapes are accepted:
//!
//! - the native one: `[storage.sqlite]`, `[batch]`, `[http]`, `[[markets]]`;
//! - seed 000's single-venue one: `[db] uri`, `[exchange] venue pairs`, `[batch]`,
//!   so a user of that spec can start from their file.
//!
//! Unknown keys are errors (with the line), defaults live in the `Default` impls below, and every
//! field's doc comment is its user documentation.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tickrec_journal::JournalConfig;
use tickrec_model::{Channel, Venue};
use tickrec_store::{BatchConfig, SqliteConfig};

/// A configuration error, naming the file and, for syntax/shape errors, the line and key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// TOML syntax or shape error (the message carries line, column and key).
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// File.
        path: PathBuf,
        /// toml's message.
        message: String,
    },
    /// A semantic error after parsing.
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Where data is stored.
    #[serde(default)]
    pub storage: Option<StorageConfig>,
    /// Batching of writes.
    #[serde(default)]
    pub batch: Option<BatchConfig>,
    /// The HTTP server (metrics, health).
    #[serde(default)]
    pub http: Option<HttpConfig>,
    /// Markets to record; each entry is one connection.
    #[serde(default)]
    pub markets: Vec<MarketConfig>,
    /// The durable journal between readers and sinks.
    #[serde(default)]
    pub journal: Option<JournalConfig>,
    /// `[archive]`: Parquet files uploaded to S3 or a directory (builds with `--features parquet`).
    #[serde(default)]
    pub archive: Option<ArchiveSection>,
    /// `[retention]`: how long rows stay in the local store (builds with `--features parquet`).
    #[serde(default)]
    pub retention: Option<RetentionSection>,
    /// `[instruments]`: the start-up check of symbols against the venues' instrument lists.
    #[serde(default)]
    pub instruments: Option<crate::instruments::InstrumentsConfig>,
    /// Seed 000 compatibility: `[db] uri`.
    #[serde(default)]
    pub db: Option<DbConfig>,
    /// Seed 000 compatibility: `[exchange] venue pairs`.
    #[serde(default)]
    pub exchange: Option<ExchangeConfig>,
}

/// `[storage]`: the sinks. SQLite is always on (the embedded default, and the local copy that
/// `tickrec gaps` and the restart resume read); PostgreSQL is an additional sink.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// `[storage.sqlite]`: the embedded SQLite store.
    #[serde(default)]
    pub sqlite: Option<SqliteConfig>,
    /// `[storage.postgres]`: PostgreSQL / TimescaleDB (builds with `--features postgres`).
    #[serde(default)]
    pub postgres: Option<PostgresSection>,
}

/// The `[storage.postgres]` section: the sink's config when built with the `postgres` feature.
#[cfg(feature = "postgres")]
pub type PostgresSection = tickrec_store::postgres::PostgresConfig;
/// The `[storage.postgres]` section: kept as raw TOML in builds without the `postgres` feature,
/// so that such a build can refuse it with a clear message instead of "unknown field".
#[cfg(not(feature = "postgres"))]
pub type PostgresSection = toml::Table;

/// The `[archive]` section (feature `parquet`).
#[cfg(feature = "parquet")]
pub type ArchiveSection = tickrec_store::parquet::ArchiveConfig;
/// The `[archive]` section: raw TOML without the `parquet` feature, refused with a clear message.
#[cfg(not(feature = "parquet"))]
pub type ArchiveSection = toml::Table;
/// The `[retention]` section (feature `parquet`).
#[cfg(feature = "parquet")]
pub type RetentionSection = tickrec_store::parquet::RetentionConfig;
/// The `[retention]` section: raw TOML without the `parquet` feature, refused with a clear message.
#[cfg(not(feature = "parquet"))]
pub type RetentionSection = toml::Table;

/// `[http]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address of the metrics/health server; loopback by default. Set `enabled = false` to turn it off.
    pub listen: SocketAddr,
    /// Serve HTTP at all.
    pub enabled: bool,
    /// A subscribed stream with no message for this many seconds makes `/health` report
    /// `degraded` (a connected but silent feed must be as visible as a dead one). Raise it for
    /// illiquid markets whose trades are minutes apart.
    pub stale_after_s: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9187)),
            enabled: true,
            stale_after_s: 60,
        }
    }
}

/// `[[markets]]`: one connection to one venue.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MarketConfig {
    /// Venue: `binance`, `kraken`, `coinbase`, `okx`, `bybit` or `upbit` (`tickrec venues`).
    pub venue: Venue,
    /// Unified symbols: `BASE/QUOTE` for spot (`BTC/USDT`, `BTC/KRW`), `BASE/QUOTE:SETTLE` for
    /// perpetual swaps (`BTC/USDT:USDT`).
    pub symbols: Vec<String>,
    /// Channels: `trades`, `agg_trades` (Binance), `bbo`, `candles_1m` … Default: `["trades"]`.
    /// Venues serve different sets; `tickrec venues` lists them.
    #[serde(default = "default_channels")]
    pub channels: Vec<Channel>,
    /// WebSocket endpoint override (simulator, testnet, regional endpoint, proxy). `ws://` or `wss://`.
    #[serde(default)]
    pub ws_url: Option<String>,
    /// REST endpoint override, used by backfill.
    #[serde(default)]
    pub rest_url: Option<String>,
    /// Stale-stream detection: no frame at all for this many milliseconds means the socket is
    /// dead although open — reconnect, record the silence, backfill the hole. Default: the
    /// venue's rule (Binance 60 s — it pings every 20 s; Kraken 15 s — it sends a heartbeat
    /// every second). Lower it for liquid markets to notice silence sooner.
    #[serde(default)]
    pub message_timeout_ms: Option<u64>,
    /// Order-book settings for the `book` channel (`book = { levels = 20, snapshot_ms = 1000 }`).
    #[serde(default)]
    pub book: Option<BookConfig>,
}

/// `book = { … }` of a market: how the recorder snapshots the books it keeps.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct BookConfig {
    /// Levels per side written to `book_snapshots` (default 20; 0: no snapshots, deltas only).
    pub levels: usize,
    /// A market's book is snapshotted at most this often, in milliseconds (default 1000).
    pub snapshot_ms: u64,
}

impl Default for BookConfig {
    fn default() -> Self {
        BookConfig {
            levels: 20,
            snapshot_ms: 1000,
        }
    }
}

fn default_channels() -> Vec<Channel> {
    vec![Channel::Trades]
}

/// Seed 000's `[db]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DbConfig {
    /// `sqlite://path/to/file.db` or a plain file path. (PostgreSQL URIs arrive with the Postgres sink.)
    pub uri: String,
}

/// Seed 000's `[exchange]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExchangeConfig {
    /// Venue name.
    pub venue: Venue,
    /// Unified pairs, e.g. `["BTC/USDT", "ETH/USDT"]`.
    pub pairs: Vec<String>,
    /// WebSocket endpoint override.
    #[serde(default)]
    pub ws_url: Option<String>,
}

/// The resolved configuration the recorder runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// SQLite store.
    pub sqlite: SqliteConfig,
    /// Batching.
    pub batch: BatchConfig,
    /// HTTP server.
    pub http: HttpConfig,
    /// Markets (one connection each).
    pub markets: Vec<MarketConfig>,
    /// Journal; `None` puts it in `journal/` beside the SQLite file.
    pub journal: Option<JournalConfig>,
    /// PostgreSQL sink, when configured.
    pub postgres: Option<PostgresSection>,
    /// Parquet archive, when configured.
    pub archive: Option<ArchiveSection>,
    /// Local retention, when configured.
    pub retention: Option<RetentionSection>,
    /// Instrument metadata check and cache.
    pub instruments: crate::instruments::InstrumentsConfig,
}

impl Config {
    /// The journal settings in force.
    pub fn journal_config(&self) -> JournalConfig {
        self.journal.clone().unwrap_or_else(|| JournalConfig {
            dir: self
                .sqlite
                .path
                .parent()
                .map(|p| p.join("journal"))
                .unwrap_or_else(|| PathBuf::from("journal")),
            ..JournalConfig::default()
        })
    }
}

impl Config {
    /// What `tickrec record` runs with no config file: Kraken v2 and Binance, BTC/USDT and
    /// ETH/USDT trades, into `data/tickrec.db`.
    pub fn default_recording() -> Config {
        let pairs = vec!["BTC/USDT".to_string(), "ETH/USDT".to_string()];
        let market = |venue| MarketConfig {
            venue,
            symbols: pairs.clone(),
            channels: default_channels(),
            ws_url: None,
            rest_url: None,
            message_timeout_ms: None,
            book: None,
        };
        Config {
            sqlite: SqliteConfig::default(),
            batch: BatchConfig::default(),
            http: HttpConfig::default(),
            markets: vec![market(Venue::Kraken), market(Venue::Binance)],
            journal: None,
            postgres: None,
            archive: None,
            retention: None,
            instruments: crate::instruments::InstrumentsConfig::default(),
        }
    }

    /// Loads and validates a file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, line and key where toml can tell.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates config text.
    ///
    /// # Errors
    /// [`ConfigError`].
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            message: e.to_string(),
        })?;
        file.resolve()
    }
}

impl FileConfig {
    /// Turns the file into a runnable config, merging the seed-000 shape.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`].
    pub fn resolve(self) -> Result<Config, ConfigError> {
        let (sqlite, mut postgres) = match self.storage {
            Some(s) => (s.sqlite, s.postgres),
            None => (None, None),
        };
        let mut sqlite = sqlite.unwrap_or_default();
        if let Some(db) = self.db {
            match sink_from_uri(&db.uri)? {
                DbUri::Sqlite(path) => sqlite.path = path,
                DbUri::Postgres(uri) => postgres = Some(postgres_from_uri(uri)?),
            }
        }
        #[cfg(not(feature = "postgres"))]
        if postgres.is_some() {
            return Err(ConfigError::Invalid(
                "PostgreSQL is configured, but this build has no PostgreSQL support: rebuild with `cargo build --release --features postgres`".into(),
            ));
        }
        #[cfg(not(feature = "parquet"))]
        if self.archive.is_some() || self.retention.is_some() {
            return Err(ConfigError::Invalid(
                "[archive]/[retention] are configured, but this build has no archive support: rebuild with `cargo build --release --features parquet`".into(),
            ));
        }
        #[cfg(feature = "parquet")]
        if let Some(a) = &self.archive {
            a.validate().map_err(ConfigError::Invalid)?;
        }
        let mut markets = self.markets;
        if let Some(ex) = self.exchange {
            markets.push(MarketConfig {
                venue: ex.venue,
                symbols: ex.pairs,
                channels: default_channels(),
                ws_url: ex.ws_url,
                rest_url: None,
                message_timeout_ms: None,
                book: None,
            });
        }
        if markets.is_empty() {
            return Err(ConfigError::Invalid(
                "no markets: add a [[markets]] section (or seed 000's [exchange])".into(),
            ));
        }
        let batch = self.batch.unwrap_or_default();
        if batch.max_rows == 0 || batch.max_ms == 0 {
            return Err(ConfigError::Invalid(
                "batch.max_rows and batch.max_ms must be > 0".into(),
            ));
        }
        let cfg = Config {
            sqlite,
            batch,
            http: self.http.unwrap_or_default(),
            markets,
            journal: self.journal,
            postgres,
            archive: self.archive,
            retention: self.retention,
            instruments: self.instruments.unwrap_or_default(),
        };
        // Build every adapter once so that a bad symbol or channel fails here, not at run time.
        for (i, m) in cfg.markets.iter().enumerate() {
            crate::app::adapter_for_market(m)
                .map_err(|e| ConfigError::Invalid(format!("markets[{i}] ({}): {e}", m.venue)))?;
            if let Some(url) = &m.ws_url {
                if !(url.starts_with("ws://") || url.starts_with("wss://")) {
                    return Err(ConfigError::Invalid(format!(
                        "markets[{i}].ws_url `{url}` must start with ws:// or wss://"
                    )));
                }
            }
            if let Some(b) = &m.book {
                if b.levels > 1000 || !(10..=3_600_000).contains(&b.snapshot_ms) {
                    return Err(ConfigError::Invalid(format!(
                        "markets[{i}].book: levels must be at most 1000 and snapshot_ms between 10 and 3600000"
                    )));
                }
            }
            if m.message_timeout_ms
                .is_some_and(|ms| !(100..=3_600_000).contains(&ms))
            {
                return Err(ConfigError::Invalid(format!(
                    "markets[{i}].message_timeout_ms must be between 100 and 3600000"
                )));
            }
        }
        Ok(cfg)
    }
}

enum DbUri {
    Sqlite(PathBuf),
    Postgres(String),
}

fn sink_from_uri(uri: &str) -> Result<DbUri, ConfigError> {
    if let Some(p) = uri.strip_prefix("sqlite://") {
        return Ok(DbUri::Sqlite(PathBuf::from(p)));
    }
    if uri.starts_with("postgres://") || uri.starts_with("postgresql://") {
        return Ok(DbUri::Postgres(uri.to_string()));
    }
    if uri.contains("://") {
        return Err(ConfigError::Invalid(format!(
            "[db] uri: unsupported scheme in `{}`",
            uri.split("://").next().unwrap_or("")
        )));
    }
    Ok(DbUri::Sqlite(PathBuf::from(uri)))
}

#[cfg(feature = "postgres")]
fn postgres_from_uri(uri: String) -> Result<PostgresSection, ConfigError> {
    Ok(tickrec_store::postgres::PostgresConfig {
        uri,
        ..Default::default()
    })
}

#[cfg(not(feature = "postgres"))]
fn postgres_from_uri(_uri: String) -> Result<PostgresSection, ConfigError> {
    // The URI (and its password) is deliberately not echoed.
    Ok(PostgresSection::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../config/example.toml");

    #[test]
    fn example_config_parses() {
        let cfg = Config::parse(EXAMPLE).expect("example parses");
        assert_eq!(cfg.markets.len(), 2);
        assert_eq!(cfg.batch.max_rows, 5000);
        assert_eq!(cfg.http.listen.port(), 9187);
    }

    #[test]
    fn postgres_example_parses_with_the_feature_and_is_refused_clearly_without() {
        let r = Config::parse(include_str!("../../../examples/postgres.toml"));
        #[cfg(feature = "postgres")]
        assert!(r.expect("postgres example").postgres.is_some());
        #[cfg(not(feature = "postgres"))]
        assert!(r.unwrap_err().to_string().contains("--features postgres"));
    }

    #[test]
    fn every_venue_is_configurable_and_bad_combinations_are_clear() {
        let cfg = Config::parse(
            r#"
[[markets]]
venue = "coinbase"
symbols = ["BTC/USD"]
channels = ["trades", "bbo", "candles_5m"]
[[markets]]
venue = "okx"
symbols = ["BTC/USDT", "BTC/USDT:USDT"]
channels = ["trades", "candles_1m"]
[[markets]]
venue = "okx"
symbols = ["BTC/USDT"]
channels = ["bbo"]
[[markets]]
venue = "bybit"
symbols = ["BTC/USDT"]
channels = ["trades", "bbo", "candles_1m"]
[[markets]]
venue = "bybit"
symbols = ["BTC/USDT:USDT"]
[[markets]]
venue = "upbit"
symbols = ["BTC/KRW"]
channels = ["trades", "bbo"]
"#,
        )
        .expect("six venues");
        assert_eq!(cfg.markets.len(), 6);
        let err = |toml: &str| Config::parse(toml).unwrap_err().to_string();
        let e = err("[[markets]]\nvenue = \"okx\"\nsymbols = [\"BTC/USDT\"]\nchannels = [\"trades\", \"bbo\"]\n");
        assert!(
            e.contains("/ws/v5/public") && e.contains("separate [[markets]]"),
            "{e}"
        );
        let e =
            err("[[markets]]\nvenue = \"bybit\"\nsymbols = [\"BTC/USDT\", \"ETH/USDT:USDT\"]\n");
        assert!(e.contains("different sockets"), "{e}");
        let e = err("[[markets]]\nvenue = \"upbit\"\nsymbols = [\"BTC/USDT:USDT\"]\n");
        assert!(e.contains("spot markets only"), "{e}");
        let e = err("[[markets]]\nvenue = \"coinbase\"\nsymbols = [\"BTC/USD\"]\nchannels = [\"candles_1m\"]\n");
        assert!(e.contains("candles_5m"), "{e}");
    }

    #[test]
    fn archive_example_parses_with_the_feature_and_is_refused_clearly_without() {
        let r = Config::parse(include_str!("../../../examples/archive.toml"));
        #[cfg(feature = "parquet")]
        {
            let cfg = r.expect("archive example");
            let a = cfg.archive.expect("[archive]");
            assert_eq!(a.destination.bucket.as_deref(), Some("market-data"));
            assert_eq!(cfg.retention.and_then(|r| r.max_age_hours), Some(168));
        }
        #[cfg(not(feature = "parquet"))]
        assert!(r.unwrap_err().to_string().contains("--features parquet"));
        #[cfg(feature = "parquet")]
        {
            let e = Config::parse("[[markets]]\nvenue = \"binance\"\nsymbols = [\"BTC/USDT\"]\n[archive]\ninterval_s = 7\n[archive.destination]\nlocal_dir = \"x\"\n")
                .unwrap_err()
                .to_string();
            assert!(e.contains("interval_s"), "{e}");
        }
    }

    #[test]
    fn default_recording_is_valid() {
        let cfg = Config::default_recording();
        for m in &cfg.markets {
            assert!(crate::app::adapter_for_market(m).is_ok());
        }
        assert_eq!(cfg.sqlite.path, PathBuf::from("data/tickrec.db"));
    }

    #[test]
    fn seed_000_shape_is_accepted() {
        let cfg = Config::parse(
            "[db]\nuri = \"sqlite://x/y.db\"\n[exchange]\nvenue = \"kraken\"\npairs = [\"BTC/USDT\", \"ETH/USDT\"]\n[batch]\nmax_rows = 100\nmax_ms = 50\n",
        )
        .expect("seed 000 config");
        assert_eq!(cfg.sqlite.path, PathBuf::from("x/y.db"));
        assert_eq!(cfg.markets[0].venue, Venue::Kraken);
        assert_eq!(cfg.markets[0].symbols.len(), 2);
        assert_eq!(cfg.batch.max_ms, 50);
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let e = Config::parse("[batch]\nmax_rows = 10\nmax_rowz = 5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_rowz") && e.contains("line 3"), "{e}");
        let e = Config::parse("[[markets]]\nvenue = \"bitfinex\"\nsymbols = [\"BTC/USD\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bitfinex") && e.contains("line 2"), "{e}");
        let e = Config::parse("[[markets]]\nvenue = \"binance\"\nsymbols = [\"BTCUSDT\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("markets[0]") && e.contains("BASE/QUOTE"), "{e}");
        let e = Config::parse("[[markets]]\nvenue = \"kraken\"\nsymbols = [\"BTC/USD\"]\nchannels = [\"agg_trades\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("agg_trades"), "{e}");
        let pg = Config::parse("[db]\nuri = \"postgres://u:secret@h/db\"\n[exchange]\nvenue = \"kraken\"\npairs = [\"BTC/USD\"]\n");
        match pg {
            Ok(cfg) => assert!(cfg.postgres.is_some() && !format!("{cfg:?}").contains("secret")),
            Err(e) => assert!(
                !e.to_string().contains("secret") && e.to_string().contains("--features postgres"),
                "{e}"
            ),
        }
        assert!(Config::parse("").is_err());
        assert!(Config::parse("this is not toml").is_err());
    }
}
