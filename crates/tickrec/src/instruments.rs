//! Instrument metadata at start-up: for every configured venue, fetch its REST instruments
//! endpoint once (the requests and parsers live in `tickrec_venues::<venue>::instruments`),
//! refuse a symbol the venue does not list (naming close matches), cache what was fetched in a
//! JSON file, and fall back to that cache when the venue cannot be reached — so that recording
//! offline still starts (with a warning) unless `[instruments] check = "require"`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tickrec_model::{now_us, Decimal, Event, Venue};
use tickrec_venues::instrument::{self, close_matches, is_multiple};
use tickrec_venues::{
    BackfillCursor, Frame, FrameKind, HeartbeatRules, Instrument, SubRejection, TradeGap,
    VenueAdapter,
};
use tracing::{info, warn};

use crate::config::Config;

/// `[instruments]`: the start-up check of the configured symbols against the venues' lists.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct InstrumentsConfig {
    /// `warn-offline` (default): fetch each venue's instrument list; a symbol the venue does not
    /// list stops start-up; a venue that cannot be reached is a warning (the cache is used when
    /// present). `require`: an unreachable venue without a cached list stops start-up too, and
    /// so does a symbol missing from a cached list. `off`: no requests at all.
    pub check: InstrumentCheck,
    /// The cache file. Default: next to the SQLite database, `<db file>.instruments.json`.
    pub cache: Option<PathBuf>,
    /// Time allowed for one instruments request, milliseconds (connect included).
    pub timeout_ms: u64,
}

impl Default for InstrumentsConfig {
    fn default() -> Self {
        InstrumentsConfig {
            check: InstrumentCheck::WarnOffline,
            cache: None,
            timeout_ms: 10_000,
        }
    }
}

/// How strictly start-up checks the configured symbols.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum InstrumentCheck {
    /// No requests, no check.
    Off,
    /// Unlisted symbols are errors; an unreachable venue is a warning.
    WarnOffline,
    /// Unlisted symbols and unreachable venues without a cache are errors.
    Require,
}

/// Why start-up refuses the configuration.
#[derive(Debug, thiserror::Error)]
pub enum InstrumentsError {
    /// The venue does not list a configured symbol.
    #[error("markets[{index}] ({venue}): {venue} does not list `{symbol}`{hint}")]
    Unlisted {
        /// Index of the `[[markets]]` entry.
        index: usize,
        /// Venue.
        venue: Venue,
        /// The configured symbol.
        symbol: String,
        /// Close matches, or why there are none.
        hint: String,
    },
    /// `check = "require"` and the list could be neither fetched nor read from the cache.
    #[error("{venue}: instrument list unavailable ({detail}) and not cached in {cache}; [instruments] check = \"require\" needs one")]
    Unavailable {
        /// Venue.
        venue: Venue,
        /// Why the fetch failed.
        detail: String,
        /// The cache file looked at.
        cache: String,
    },
}

/// Where a venue's list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Fetched from the venue now.
    Venue,
    /// Read from the cache file (the venue could not be reached).
    Cache,
    /// Neither: the symbols were not checked.
    Unavailable,
}

impl Source {
    /// `venue`, `cache` or `unavailable` (as in `/api/v1/instruments`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Venue => "venue",
            Source::Cache => "cache",
            Source::Unavailable => "unavailable",
        }
    }
}

/// The instruments of the configured markets, with where each venue's list came from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InstrumentSet {
    /// One entry per configured (venue, symbol) that the venue lists.
    pub instruments: Vec<Instrument>,
    /// Per venue (and REST base): the list's origin.
    pub sources: BTreeMap<String, Source>,
}

impl InstrumentSet {
    /// The instrument of `venue` `symbol`, if known.
    pub fn get(&self, venue: Venue, symbol: &str) -> Option<&Instrument> {
        self.instruments
            .iter()
            .find(|i| i.venue == venue && i.symbol == symbol)
    }
}

/// The cache file: every venue's whole list, by venue and REST base.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheFile {
    /// Entries keyed `venue rest_base`.
    venues: BTreeMap<String, CacheEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheEntry {
    /// When it was fetched, µs since the epoch.
    fetched_at_us: i64,
    instruments: Vec<Instrument>,
}

/// The cache path in force.
pub fn cache_path(cfg: &Config) -> PathBuf {
    cfg.instruments.cache.clone().unwrap_or_else(|| {
        let mut p = cfg.sqlite.path.clone().into_os_string();
        p.push(".instruments.json");
        PathBuf::from(p)
    })
}

fn read_cache(path: &Path) -> CacheFile {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            warn!(path = %path.display(), error = %e, "instruments cache unreadable; ignoring it");
            CacheFile::default()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => CacheFile::default(),
        Err(e) => {
            warn!(path = %path.display(), error = %e, "instruments cache unreadable; ignoring it");
            CacheFile::default()
        }
    }
}

/// Writes the cache atomically (temp file, fsync, rename): a crash never leaves half a file.
fn write_cache(path: &Path, cache: &CacheFile) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(cache).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// One venue endpoint and the configured symbols on it.
#[derive(Clone)]
struct Target {
    venue: Venue,
    rest_base: String,
    /// (markets index, symbol).
    symbols: Vec<(usize, String)>,
}

impl Target {
    fn key(&self) -> String {
        format!("{} {}", self.venue, self.rest_base)
    }
}

fn targets(cfg: &Config) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    for (i, m) in cfg.markets.iter().enumerate() {
        let rest_base = match &m.rest_url {
            Some(u) => u.clone(),
            None => match crate::app::adapter_for_market(m) {
                Ok(a) => a.default_rest_url().to_string(),
                // Config validation already refused such a market.
                Err(_) => continue,
            },
        };
        let t = match out
            .iter_mut()
            .position(|t| t.venue == m.venue && t.rest_base == rest_base)
        {
            Some(p) => &mut out[p],
            None => {
                out.push(Target {
                    venue: m.venue,
                    rest_base,
                    symbols: Vec::new(),
                });
                out.last_mut().expect("just pushed")
            }
        };
        for s in &m.symbols {
            let s = s.trim().to_string();
            if !t.symbols.iter().any(|(_, x)| *x == s) {
                t.symbols.push((i, s));
            }
        }
    }
    out
}

/// Fetches one venue's list: every query in order; a failed supplement only loses its fields.
async fn fetch(client: &reqwest::Client, t: &Target) -> Result<Vec<Instrument>, String> {
    let symbols: Vec<Arc<str>> = t
        .symbols
        .iter()
        .map(|(_, s)| Arc::from(s.as_str()))
        .collect();
    let queries =
        instrument::queries(t.venue, &t.rest_base, &symbols).map_err(|e| e.to_string())?;
    let mut parts = Vec::with_capacity(queries.len());
    for q in queries {
        let got = async {
            let resp = client.get(&q.url).send().await.map_err(|e| chain(&e))?;
            let status = resp.status();
            let body = resp.text().await.map_err(|e| chain(&e))?;
            match instrument::parse(t.venue, q.part, &body) {
                Ok(v) => Ok(v),
                Err(e) if status.is_success() => Err(e.to_string()),
                Err(e) => Err(format!("HTTP {status}: {e}")),
            }
        }
        .await;
        match got {
            Ok(v) => parts.push(v),
            Err(e) if q.supplement => {
                warn!(venue = %t.venue, url = %q.url, error = %e, "instrument details unavailable; continuing without them");
            }
            Err(e) => return Err(format!("{}: {e}", q.url)),
        }
    }
    Ok(instrument::merge(parts))
}

/// An error with its causes (`error sending request: … dns error: …`): reqwest's own text
/// leaves out why.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// Checks every configured symbol of `t` against `listed`: the listed ones go to `out`; the
/// first unlisted one is the error (the others are still checked and kept).
fn check(
    t: &Target,
    listed: &[Instrument],
    out: &mut Vec<Instrument>,
) -> Result<(), InstrumentsError> {
    let mut first = None;
    for (index, symbol) in &t.symbols {
        match listed.iter().find(|i| i.symbol == *symbol) {
            Some(i) => {
                if !i.trading {
                    warn!(venue = %t.venue, symbol = %symbol, status = %i.status, "the venue lists the symbol but it is not trading now");
                }
                out.push(i.clone());
            }
            None if first.is_some() => {}
            None => {
                let near = close_matches(listed, symbol, 8);
                let hint = if near.is_empty() {
                    format!(
                        " (nothing close among its {} symbols; `tickrec instruments --venue {} --cached` lists them)",
                        listed.len(),
                        t.venue
                    )
                } else {
                    format!("; close matches: {}", near.join(", "))
                };
                first = Some(InstrumentsError::Unlisted {
                    index: *index,
                    venue: t.venue,
                    symbol: symbol.clone(),
                    hint,
                });
            }
        }
    }
    first.map_or(Ok(()), Err)
}

/// Fetches (or reads from the cache) the instruments of every configured market and checks the
/// symbols, as `[instruments]` says. Logs each instrument at INFO.
///
/// # Errors
/// [`InstrumentsError`] for an unlisted symbol, or (with `check = "require"`) a venue whose list
/// is unavailable.
pub async fn load(cfg: &Config) -> Result<InstrumentSet, InstrumentsError> {
    let mut set = InstrumentSet::default();
    let mode = cfg.instruments.check;
    if mode == InstrumentCheck::Off {
        return Ok(set);
    }
    tickrec_feed::tls::install_crypto_provider();
    let timeout = Duration::from_millis(cfg.instruments.timeout_ms.max(1));
    let client = reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .user_agent(concat!("tickrec/", env!("CARGO_PKG_VERSION")))
        .build();
    let targets = targets(cfg);
    // Every venue at once: an offline start waits for one timeout, not one per venue.
    let fetched: Vec<Result<Vec<Instrument>, String>> = match &client {
        Ok(client) => {
            let mut tasks = tokio::task::JoinSet::new();
            for (n, t) in targets.iter().enumerate() {
                let (client, t) = (client.clone(), t.clone());
                tasks.spawn(async move { (n, fetch(&client, &t).await) });
            }
            let mut out: Vec<Result<Vec<Instrument>, String>> = targets
                .iter()
                .map(|_| Err("not fetched".to_string()))
                .collect();
            while let Some(r) = tasks.join_next().await {
                // A panicked fetch stays "not fetched": the venue is treated as unreachable.
                if let Ok((n, r)) = r {
                    out[n] = r;
                }
            }
            out
        }
        Err(e) => targets
            .iter()
            .map(|_| Err(format!("HTTP client: {e}")))
            .collect(),
    };
    let path = cache_path(cfg);
    let mut cache = read_cache(&path);
    let mut cache_dirty = false;
    // The first refusal; every venue is still looked at so that the cache gets every list.
    let mut refused: Option<InstrumentsError> = None;
    for (t, got) in targets.iter().zip(fetched) {
        match got {
            Ok(listed) => {
                if let Err(e) = check(t, &listed, &mut set.instruments) {
                    refused.get_or_insert(e);
                }
                set.sources.insert(t.key(), Source::Venue);
                cache.venues.insert(
                    t.key(),
                    CacheEntry {
                        fetched_at_us: now_us(),
                        instruments: listed,
                    },
                );
                cache_dirty = true;
            }
            Err(detail) => match cache.venues.get(&t.key()) {
                Some(entry) => {
                    warn!(venue = %t.venue, error = %detail, cache = %path.display(), fetched_at_us = entry.fetched_at_us, "instrument list unreachable; using the cached one");
                    let mut found = Vec::new();
                    match check(t, &entry.instruments, &mut found) {
                        Ok(()) => {}
                        Err(e) if mode == InstrumentCheck::Require => {
                            refused.get_or_insert(e);
                        }
                        Err(e) => {
                            warn!(error = %e, "per the cached instrument list (the venue may have listed it since)")
                        }
                    }
                    set.instruments.extend(found);
                    set.sources.insert(t.key(), Source::Cache);
                }
                None if mode == InstrumentCheck::Require => {
                    refused.get_or_insert(InstrumentsError::Unavailable {
                        venue: t.venue,
                        detail,
                        cache: path.display().to_string(),
                    });
                }
                None => {
                    warn!(venue = %t.venue, error = %detail, "instrument list unreachable and not cached; symbols not checked");
                    set.sources.insert(t.key(), Source::Unavailable);
                }
            },
        }
    }
    if cache_dirty {
        if let Err(e) = write_cache(&path, &cache) {
            warn!(path = %path.display(), error = %e, "instruments cache not written");
        }
    }
    if let Some(e) = refused {
        return Err(e);
    }
    for i in &set.instruments {
        info!(
            venue = %i.venue,
            symbol = %i.symbol,
            native = %i.native,
            tick_size = %opt(&i.tick_size),
            lot_size = %opt(&i.lot_size),
            min_qty = %opt(&i.min_qty),
            min_notional = %opt(&i.min_notional),
            status = %i.status,
            "instrument"
        );
    }
    Ok(set)
}

/// A venue adapter whose live trades are checked against their instrument's tick size: a price
/// that is not a whole number of ticks is counted (`tickrec_off_tick_trades_total{venue,
/// symbol}`) and logged (the 1st, 2nd, 4th, 8th… per market, so a misbehaving feed cannot flood
/// the log); the trade itself is stored as the venue sent it — the venue's number is the fact,
/// the tick size only a claim about it.
struct TickChecked {
    inner: Box<dyn VenueAdapter>,
    ticks: HashMap<Arc<str>, OffTick>,
}

struct OffTick {
    tick: Decimal,
    counter: metrics::Counter,
    seen: AtomicU64,
}

/// Wraps `adapter` in the tick check when `set` knows a tick size for one of its symbols;
/// otherwise returns it unchanged (nothing to check, nothing to pay).
pub fn with_tick_check(
    adapter: Box<dyn VenueAdapter>,
    set: &InstrumentSet,
) -> Box<dyn VenueAdapter> {
    match TickChecked::new(adapter, set) {
        Ok(checked) => Box::new(checked),
        Err(plain) => plain,
    }
}

impl TickChecked {
    /// The wrapper, or the adapter back when no tick size of its symbols is known.
    fn new(
        adapter: Box<dyn VenueAdapter>,
        set: &InstrumentSet,
    ) -> Result<Self, Box<dyn VenueAdapter>> {
        let venue = adapter.venue();
        let ticks: HashMap<Arc<str>, OffTick> = adapter
            .symbols()
            .into_iter()
            .filter_map(|symbol| {
                let tick = set.get(venue, &symbol)?.tick_size?;
                let counter = metrics::counter!(
                    "tickrec_off_tick_trades_total",
                    "venue" => venue.as_str(),
                    "symbol" => symbol.to_string()
                );
                counter.absolute(0);
                Some((
                    symbol,
                    OffTick {
                        tick,
                        counter,
                        seen: AtomicU64::new(0),
                    },
                ))
            })
            .collect();
        if ticks.is_empty() {
            return Err(adapter);
        }
        Ok(TickChecked {
            inner: adapter,
            ticks,
        })
    }

    fn check(&self, events: &[Event]) {
        for e in events {
            let Event::Trade(t) = e else { continue };
            let Some(o) = self.ticks.get(&*t.symbol) else {
                continue;
            };
            if is_multiple(t.price, o.tick) {
                continue;
            }
            o.counter.increment(1);
            let n = o.seen.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                warn!(venue = %t.venue, symbol = %t.symbol, price = %t.price, tick_size = %o.tick, trade_id = ?t.trade_id, off_tick_trades = n, "trade price is not a multiple of the tick size (kept as sent)");
            }
        }
    }
}

impl VenueAdapter for TickChecked {
    fn venue(&self) -> Venue {
        self.inner.venue()
    }
    fn default_ws_url(&self) -> &'static str {
        self.inner.default_ws_url()
    }
    fn default_rest_url(&self) -> &'static str {
        self.inner.default_rest_url()
    }
    fn connect_url(&self, base: &str) -> String {
        self.inner.connect_url(base)
    }
    fn on_connect(&self) {
        self.inner.on_connect();
    }
    fn subscribe_messages(&self) -> Vec<String> {
        self.inner.subscribe_messages()
    }
    fn expected_acks(&self) -> usize {
        self.inner.expected_acks()
    }
    fn resubscribe_message(&self, rejection: &SubRejection) -> Option<String> {
        self.inner.resubscribe_message(rejection)
    }
    fn heartbeat(&self) -> HeartbeatRules {
        self.inner.heartbeat()
    }
    fn ping_message(&self, req_id: u64) -> Option<String> {
        self.inner.ping_message(req_id)
    }
    fn parse(&self, frame: Frame<'_>, ts_recv_us: i64, out: &mut Vec<Event>) -> FrameKind {
        let before = out.len();
        let kind = self.inner.parse(frame, ts_recv_us, out);
        self.check(&out[before..]);
        kind
    }
    fn symbols(&self) -> Vec<Arc<str>> {
        self.inner.symbols()
    }
    fn backfill(&self, gap: &TradeGap, rest_base: &str) -> Option<Box<dyn BackfillCursor>> {
        self.inner.backfill(gap, rest_base)
    }
    fn book_snapshot_url(&self, symbol: &str, rest_base: &str) -> Option<String> {
        self.inner.book_snapshot_url(symbol, rest_base)
    }
    fn parse_book_snapshot(
        &self,
        symbol: &Arc<str>,
        body: &[u8],
        ts_recv_us: i64,
    ) -> Result<tickrec_model::BookUpdate, String> {
        self.inner.parse_book_snapshot(symbol, body, ts_recv_us)
    }
    fn book_resync_messages(&self, symbol: &str) -> Vec<String> {
        self.inner.book_resync_messages(symbol)
    }
}

fn opt(d: &Option<Decimal>) -> String {
    d.map_or_else(|| "-".to_string(), |d| d.to_string())
}

/// The instruments of the cache file for `venue` (all venues when `None`), for `tickrec
/// instruments --cached`.
pub fn cached(cfg: &Config, venue: Option<Venue>) -> Vec<Instrument> {
    read_cache(&cache_path(cfg))
        .venues
        .into_values()
        .flat_map(|e| e.instruments)
        .filter(|i| venue.is_none_or(|v| i.venue == v))
        .collect()
}

/// Prints instruments as a table (or JSON lines).
pub fn print(list: &[Instrument], json: bool) {
    if json {
        for i in list {
            println!("{}", serde_json::to_string(i).unwrap_or_default());
        }
        return;
    }
    println!(
        "{:<9} {:<16} {:<16} {:>14} {:>14} {:>12} {:>12} {:>5} {:>5}  status",
        "venue", "symbol", "native", "tick", "lot", "min_qty", "min_notional", "px_dp", "qty_dp"
    );
    for i in list {
        let dp = |d: Option<u8>| d.map_or_else(|| "-".to_string(), |d| d.to_string());
        println!(
            "{:<9} {:<16} {:<16} {:>14} {:>14} {:>12} {:>12} {:>5} {:>5}  {}{}",
            i.venue.as_str(),
            i.symbol,
            i.native,
            opt(&i.tick_size),
            opt(&i.lot_size),
            opt(&i.min_qty),
            opt(&i.min_notional),
            dp(i.price_scale),
            dp(i.qty_scale),
            i.status,
            if i.trading { "" } else { " (not trading)" }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_defaults_and_names() {
        let c: InstrumentsConfig = toml::from_str("").unwrap();
        assert_eq!(c, InstrumentsConfig::default());
        let c: InstrumentsConfig =
            toml::from_str("check = \"require\"\ncache = \"/x/i.json\"\ntimeout_ms = 500").unwrap();
        assert_eq!(c.check, InstrumentCheck::Require);
        assert!(toml::from_str::<InstrumentsConfig>("check = \"maybe\"").is_err());
        assert!(toml::from_str::<InstrumentsConfig>("chek = \"off\"").is_err());
    }

    #[test]
    fn off_tick_trades_are_counted_and_kept() {
        let subs = [tickrec_venues::MarketSub {
            symbol: Arc::from("BTC/USDT"),
            channels: vec![tickrec_model::Channel::Trades],
        }];
        let inst = |tick: &str| Instrument {
            venue: Venue::Binance,
            symbol: "BTC/USDT".into(),
            native: "BTCUSDT".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            tick_size: Some(Decimal::parse(tick).unwrap()),
            lot_size: None,
            min_qty: None,
            min_notional: None,
            price_scale: None,
            qty_scale: None,
            status: "TRADING".into(),
            trading: true,
        };
        let frame = r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1672515782136,"s":"BTCUSDT","t":12345,"p":"60000.015","q":"0.001","T":1672515782136,"m":true,"M":true}}"#;
        for (tick, off) in [("0.01", 1), ("0.001", 0)] {
            let set = InstrumentSet {
                instruments: vec![inst(tick)],
                sources: BTreeMap::new(),
            };
            let adapter = tickrec_venues::adapter_for(Venue::Binance, &subs).unwrap();
            let ticks = TickChecked::new(adapter, &set)
                .map_err(|_| "no tick")
                .unwrap();
            let mut out = Vec::new();
            ticks.parse(Frame::Text(frame), 1, &mut out);
            assert!(matches!(&out[..], [Event::Trade(t)] if t.price.to_string() == "60000.015"));
            assert_eq!(
                ticks.ticks["BTC/USDT"].seen.load(Ordering::Relaxed),
                off,
                "tick {tick}"
            );
        }
        // Nothing known, nothing wrapped.
        let adapter = tickrec_venues::adapter_for(Venue::Binance, &subs).unwrap();
        assert!(TickChecked::new(adapter, &InstrumentSet::default()).is_err());
    }

    #[test]
    fn default_cache_sits_next_to_the_database() {
        let mut cfg = Config::default_recording();
        cfg.sqlite.path = PathBuf::from("/data/tickrec.db");
        assert_eq!(
            cache_path(&cfg),
            PathBuf::from("/data/tickrec.db.instruments.json")
        );
    }
}
