//! One request shape for every interface: the CLI, the HTTP API and the MCP server all turn their
//! input into [`Request`] (string parameters by name, unknown names refused), so validation and
//! defaults live here once and every interface answers a bad request the same way.

use tickrec_model::now_us;

use crate::candles::{candles_from_trades, venue_candles, TradeCandles, VenueCandles};
use crate::error::QueryError;
use crate::features::{features, FeatureParams, Features};
use crate::params::{parse_duration, parse_positive_decimal, Market, Source, Window};
use crate::profile::{volume_profile, Bucketing, ProfileParams, VolumeProfile};
use crate::tape::Tape;
use crate::trades::{trades_page, Cursor, TradePage, DEFAULT_PAGE};
use crate::vacuums::{liquidity_vacuums, Vacuums, DEFAULT_THRESHOLD_PCT};

/// Longest window any query accepts, seconds (31 days).
pub const MAX_WINDOW_S: i64 = 31 * 86_400;

/// Which question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A page of trades.
    Trades,
    /// Candles (from trades, or the venue's own with `candles=venue`).
    Candles,
    /// The volume profile.
    VolumeProfile,
    /// Liquidity vacuums.
    Vacuums,
    /// Model features.
    Features,
}

impl Kind {
    /// Parameter names this kind accepts beyond `venue`, `symbol`, `from`, `to`, `source`.
    fn extra(self) -> &'static [&'static str] {
        match self {
            Kind::Trades => &["limit", "after"],
            Kind::Candles => &["interval", "candles"],
            Kind::VolumeProfile => &["bucket_size", "buckets", "value_area", "min_trades"],
            Kind::Vacuums => &[
                "bucket_size",
                "buckets",
                "value_area",
                "min_trades",
                "threshold",
            ],
            Kind::Features => &["window", "warmup"],
        }
    }

    /// Default window length, seconds, when `from` is not given.
    fn default_span_s(self) -> i64 {
        match self {
            Kind::VolumeProfile | Kind::Vacuums => 86_400,
            Kind::Features => 3 * 3600,
            Kind::Trades | Kind::Candles => 3600,
        }
    }
}

/// A request: the kind and its parameters as text, by name.
#[derive(Clone, Debug)]
pub struct Request {
    kind: Kind,
    params: Vec<(String, String)>,
}

/// An answer, serialized as the inner result.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// [`Kind::Trades`].
    Trades(TradePage),
    /// [`Kind::Candles`] from trades.
    Candles(TradeCandles),
    /// [`Kind::Candles`] with `candles=venue`.
    VenueCandles(VenueCandles),
    /// [`Kind::VolumeProfile`].
    VolumeProfile(VolumeProfile),
    /// [`Kind::Vacuums`].
    Vacuums(Vacuums),
    /// [`Kind::Features`].
    Features(Features),
}

impl Request {
    /// A request of `kind` with `params` (name, value).
    ///
    /// # Errors
    /// [`QueryError::InvalidParam`] for a name this kind does not know or a repeated name.
    pub fn new(
        kind: Kind,
        params: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Request, QueryError> {
        let params: Vec<(String, String)> = params.into_iter().collect();
        for (i, (k, _)) in params.iter().enumerate() {
            let common = ["venue", "symbol", "from", "to", "source"];
            if !common.contains(&k.as_str()) && !kind.extra().contains(&k.as_str()) {
                return Err(QueryError::invalid(
                    "parameters",
                    format!("unknown parameter {k:?}"),
                ));
            }
            if params[..i].iter().any(|(p, _)| p == k) {
                return Err(QueryError::invalid(
                    "parameters",
                    format!("{k:?} given twice"),
                ));
            }
        }
        Ok(Request { kind, params })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &'static str) -> Result<&str, QueryError> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(QueryError::invalid(name, "is required")),
        }
    }

    fn number<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, QueryError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| QueryError::invalid(name, format!("{v:?} is not a valid number"))),
        }
    }

    /// The market this request names.
    ///
    /// # Errors
    /// [`QueryError::InvalidParam`] for a missing venue/symbol or a bad source.
    pub fn market(&self) -> Result<Market, QueryError> {
        Ok(Market {
            venue: self.required("venue")?.to_string(),
            symbol: self.required("symbol")?.to_string(),
            source: Source::parse(self.get("source").unwrap_or("auto"))?,
        })
    }

    /// The window: `to` defaults to now, `from` to a kind-specific span before `to`.
    ///
    /// # Errors
    /// As [`Window::parse`]; [`QueryError::WindowTooLong`] beyond [`MAX_WINDOW_S`].
    pub fn window(&self, now_us: i64) -> Result<Window, QueryError> {
        let to = crate::params::parse_time("to", self.get("to").unwrap_or("now"), now_us)?;
        let from = match self.get("from") {
            Some(f) => crate::params::parse_time("from", f, now_us)?,
            None => to - self.kind.default_span_s() * 1_000_000,
        };
        let w = Window::new(from, to)?;
        w.check_max(MAX_WINDOW_S)?;
        Ok(w)
    }

    /// Answers the request from `tape`.
    ///
    /// # Errors
    /// Any [`QueryError`]; `is_client_error()` tells the caller's mistakes from store failures.
    pub fn run(&self, tape: &Tape) -> Result<Answer, QueryError> {
        let m = self.market()?;
        let w = self.window(now_us())?;
        match self.kind {
            Kind::Trades => {
                let after = self.get("after").map(Cursor::decode).transpose()?;
                let limit = self.number("limit", DEFAULT_PAGE)?;
                Ok(Answer::Trades(trades_page(
                    tape,
                    &m,
                    w,
                    after.as_ref(),
                    limit,
                )?))
            }
            Kind::Candles => {
                let interval = parse_duration("interval", self.get("interval").unwrap_or("1m"))?;
                match self.get("candles").unwrap_or("trades") {
                    "trades" => Ok(Answer::Candles(candles_from_trades(tape, &m, w, interval)?)),
                    "venue" => Ok(Answer::VenueCandles(venue_candles(tape, &m, w, interval)?)),
                    other => Err(QueryError::invalid(
                        "candles",
                        format!("{other:?} is not trades or venue"),
                    )),
                }
            }
            Kind::VolumeProfile => Ok(Answer::VolumeProfile(volume_profile(
                tape,
                &m,
                w,
                &self.profile_params()?,
            )?)),
            Kind::Vacuums => {
                let threshold = self.number("threshold", DEFAULT_THRESHOLD_PCT)?;
                let p = volume_profile(tape, &m, w, &self.profile_params()?)?;
                Ok(Answer::Vacuums(liquidity_vacuums(&p, threshold)?))
            }
            Kind::Features => {
                let d = FeatureParams::default();
                let params = FeatureParams {
                    window: self.number("window", d.window)?,
                    warmup: self.number("warmup", d.warmup)?,
                };
                Ok(Answer::Features(features(tape, &m, w, &params)?))
            }
        }
    }

    fn profile_params(&self) -> Result<ProfileParams, QueryError> {
        let d = ProfileParams::default();
        let bucketing = match (self.get("bucket_size"), self.get("buckets")) {
            (Some(_), Some(_)) => {
                return Err(QueryError::invalid(
                    "bucket_size",
                    "give bucket_size or buckets, not both",
                ))
            }
            (Some(s), None) => Bucketing::Size(parse_positive_decimal("bucket_size", s)?),
            (None, Some(_)) => Bucketing::Count(self.number("buckets", 0)?),
            (None, None) => d.bucketing,
        };
        Ok(ProfileParams {
            bucketing,
            value_area_pct: self.number("value_area", d.value_area_pct)?,
            min_trades: self.number("min_trades", d.min_trades)?,
        })
    }
}
