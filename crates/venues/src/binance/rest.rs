//! Binance REST backfill: request URLs and exact parsers for `aggTrades` and `historicalTrades`
//! (both page by `fromId`, inclusive, ascending, at most 1000 per call), and the `depth` book
//! snapshot the diff stream (`<symbol>@depth@100ms`) is synchronised against.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use tickrec_model::{BookKind, BookUpdate, Trade, TradeId, TradeKind, Venue};

use crate::validate::{self, json_invalid, Invalid};
use crate::{BackfillCursor, TradeGap};

/// Production REST base.
pub const DEFAULT_REST_URL: &str = "https://api.binance.com";

/// Most rows Binance returns per call.
pub const MAX_LIMIT: u32 = 1000;

/// Levels per side asked of `/api/v3/depth` (weight 50; deeper costs 250).
pub const DEPTH_LIMIT: u32 = 1000;

/// `GET /api/v3/depth?symbol=BTCUSDT&limit=1000`.
pub fn depth_snapshot_url(base: &str, native_upper: &str) -> String {
    format!(
        "{}/api/v3/depth?symbol={native_upper}&limit={DEPTH_LIMIT}",
        base.trim_end_matches('/')
    )
}

/// `{"lastUpdateId":N,"bids":[["p","q"],…],"asks":[…]}`.
#[derive(Deserialize)]
struct RestDepth<'a> {
    #[serde(rename = "lastUpdateId")]
    last_update_id: u64,
    #[serde(borrow)]
    bids: Vec<[&'a str; 2]>,
    #[serde(borrow)]
    asks: Vec<[&'a str; 2]>,
}

/// Parses a `/api/v3/depth` reply into a snapshot whose `last_update_id` is `lastUpdateId`.
///
/// # Errors
/// [`Invalid`] when the body is not a depth reply or a level is not an exact positive price
/// with a non-negative quantity.
pub fn parse_depth_snapshot(
    symbol: &Arc<str>,
    body: &[u8],
    ts_recv_us: i64,
) -> Result<BookUpdate, Invalid> {
    let m: RestDepth<'_> = serde_json::from_slice(body).map_err(|e| json_invalid("depth", &e))?;
    Ok(BookUpdate {
        venue: Venue::Binance,
        symbol: symbol.clone(),
        kind: BookKind::Snapshot,
        first_update_id: None,
        last_update_id: Some(m.last_update_id),
        bids: crate::binance::parse::levels("bids", &m.bids)?,
        asks: crate::binance::parse::levels("asks", &m.asks)?,
        checksum: None,
        ts_exchange_us: None,
        ts_recv_us,
        verified: false,
    })
}

/// `GET /api/v3/aggTrades?symbol=BTCUSDT&fromId=N&limit=L`.
pub fn agg_trades_url(base: &str, native_upper: &str, from_id: u64, limit: u32) -> String {
    format!(
        "{}/api/v3/aggTrades?symbol={native_upper}&fromId={from_id}&limit={}",
        base.trim_end_matches('/'),
        limit.min(MAX_LIMIT)
    )
}

/// `GET /api/v3/historicalTrades?symbol=BTCUSDT&fromId=N&limit=L`.
pub fn historical_trades_url(base: &str, native_upper: &str, from_id: u64, limit: u32) -> String {
    format!(
        "{}/api/v3/historicalTrades?symbol={native_upper}&fromId={from_id}&limit={}",
        base.trim_end_matches('/'),
        limit.min(MAX_LIMIT)
    )
}

#[derive(Deserialize)]
struct RestAggTrade<'a> {
    a: u64,
    #[serde(borrow)]
    p: Cow<'a, str>,
    #[serde(borrow)]
    q: Cow<'a, str>,
    f: u64,
    l: u64,
    #[serde(rename = "T")]
    time_ms: i64,
    m: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestTrade<'a> {
    id: u64,
    #[serde(borrow)]
    price: Cow<'a, str>,
    #[serde(borrow)]
    qty: Cow<'a, str>,
    time: i64,
    is_buyer_maker: bool,
}

const fn side(buyer_is_maker: bool) -> tickrec_model::Side {
    if buyer_is_maker {
        tickrec_model::Side::Sell
    } else {
        tickrec_model::Side::Buy
    }
}

/// Parses an `aggTrades` reply into aggregate trades (ascending by id).
///
/// # Errors
/// [`Invalid`] when the body is not the documented array or a value fails validation; the
/// caller keeps the page as a reject and retries or reports the gap.
pub fn parse_agg_trades(
    body: &str,
    symbol: &Arc<str>,
    ts_recv_us: i64,
) -> Result<Vec<Trade>, Invalid> {
    let rows: Vec<RestAggTrade<'_>> =
        serde_json::from_str(body).map_err(|e| json_invalid("aggTrades", &e))?;
    rows.into_iter()
        .map(|r| {
            Ok(Trade {
                venue: Venue::Binance,
                symbol: symbol.clone(),
                trade_id: TradeId::Num(r.a),
                price: validate::price("p", &r.p)?,
                qty: validate::qty("q", &r.q)?,
                side: side(r.m),
                ts_exchange_us: validate::timestamp_ms("T", r.time_ms)?,
                ts_recv_us,
                kind: TradeKind::Aggregate {
                    first_id: r.f,
                    last_id: r.l,
                },
            })
        })
        .collect()
}

/// Parses a `historicalTrades` (or `trades`) reply into single trades.
///
/// # Errors
/// As [`parse_agg_trades`].
pub fn parse_trades(body: &str, symbol: &Arc<str>, ts_recv_us: i64) -> Result<Vec<Trade>, Invalid> {
    let rows: Vec<RestTrade<'_>> =
        serde_json::from_str(body).map_err(|e| json_invalid("historicalTrades", &e))?;
    rows.into_iter()
        .map(|r| {
            Ok(Trade {
                venue: Venue::Binance,
                symbol: symbol.clone(),
                trade_id: TradeId::Num(r.id),
                price: validate::price("price", &r.price)?,
                qty: validate::qty("qty", &r.qty)?,
                side: side(r.is_buyer_maker),
                ts_exchange_us: validate::timestamp_ms("time", r.time)?,
                ts_recv_us,
                kind: TradeKind::Single,
            })
        })
        .collect()
}

/// Pages `aggTrades` or `historicalTrades` by `fromId` until the gap is covered.
#[derive(Debug, Clone)]
pub struct BinanceBackfill {
    base: String,
    native_upper: String,
    symbol: Arc<str>,
    aggregate: bool,
    next_id: u64,
    to: u64,
    total: u64,
    found: u64,
    exhausted: bool,
}

impl BinanceBackfill {
    /// A cursor for `gap` against the REST base.
    pub fn new(gap: &TradeGap, base: &str, native_upper: String) -> Self {
        BinanceBackfill {
            base: base.to_string(),
            native_upper,
            symbol: gap.symbol.clone(),
            aggregate: gap.aggregate,
            next_id: gap.from,
            to: gap.to,
            total: gap.to.saturating_sub(gap.from) + 1,
            found: 0,
            exhausted: false,
        }
    }
}

impl BackfillCursor for BinanceBackfill {
    fn next_url(&self) -> Option<String> {
        if self.exhausted || self.next_id > self.to {
            return None;
        }
        let limit = (self.to - self.next_id + 1).min(u64::from(MAX_LIMIT)) as u32;
        Some(if self.aggregate {
            agg_trades_url(&self.base, &self.native_upper, self.next_id, limit)
        } else {
            historical_trades_url(&self.base, &self.native_upper, self.next_id, limit)
        })
    }

    fn on_page(&mut self, body: &str, ts_recv_us: i64) -> Result<Vec<Trade>, Invalid> {
        let page = if self.aggregate {
            parse_agg_trades(body, &self.symbol, ts_recv_us)?
        } else {
            parse_trades(body, &self.symbol, ts_recv_us)?
        };
        let mut out = Vec::with_capacity(page.len());
        let mut max_seen = None;
        for t in page {
            if let TradeId::Num(id) = t.trade_id {
                max_seen = Some(max_seen.map_or(id, |m: u64| m.max(id)));
                if (self.next_id..=self.to).contains(&id) {
                    out.push(t);
                }
            }
        }
        self.found += out.len() as u64;
        match max_seen {
            // The venue answered from `fromId`; continue after what it gave.
            Some(m) if m >= self.next_id => self.next_id = m + 1,
            // An empty page (or one that does not advance) means the venue has no more.
            _ => self.exhausted = true,
        }
        Ok(out)
    }

    fn missing(&self) -> u64 {
        self.total.saturating_sub(self.found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickrec_model::Side;

    #[test]
    fn cursor_pages_by_from_id_until_covered() {
        let gap = TradeGap {
            symbol: Arc::from("BTC/USDT"),
            aggregate: false,
            from: 10,
            to: 12,
            after_ts_us: 0,
            before_ts_us: 0,
        };
        let mut c = BinanceBackfill::new(&gap, "http://h/binance", "BTCUSDT".into());
        assert_eq!(
            c.next_url().as_deref(),
            Some("http://h/binance/api/v3/historicalTrades?symbol=BTCUSDT&fromId=10&limit=3")
        );
        let row = |id: u64| {
            format!(
                r#"{{"id":{id},"price":"1.5","qty":"2","quoteQty":"3","time":1700000000000,"isBuyerMaker":true,"isBestMatch":true}}"#
            )
        };
        let page = format!("[{},{}]", row(10), row(11));
        assert_eq!(c.on_page(&page, 1).expect("page").len(), 2);
        assert_eq!(c.missing(), 1);
        assert!(c.next_url().expect("more").contains("fromId=12&limit=1"));
        assert!(c.on_page("[]", 1).expect("empty page").is_empty());
        assert_eq!(c.next_url(), None, "an empty page ends the cursor");
        assert_eq!(c.missing(), 1, "id 12 stays unrepaired");
    }

    #[test]
    fn documented_replies_parse_exactly() {
        let sym: Arc<str> = Arc::from("BTC/USDT");
        let agg = r#"[{"a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,"T":1498793709153,"m":true,"M":true}]"#;
        let t = parse_agg_trades(agg, &sym, 7).expect("agg");
        assert_eq!(t[0].trade_id, TradeId::Num(26129));
        assert_eq!(t[0].price.to_string(), "0.01633102");
        assert_eq!(t[0].side, Side::Sell);
        assert_eq!(t[0].ts_exchange_us, 1_498_793_709_153_000);
        assert_eq!(
            t[0].kind,
            TradeKind::Aggregate {
                first_id: 27781,
                last_id: 27781
            }
        );
        let hist = r#"[{"id":28457,"price":"4.00000100","qty":"12.00000000","quoteQty":"48.000012","time":1499865549590,"isBuyerMaker":false,"isBestMatch":true}]"#;
        let t = parse_trades(hist, &sym, 7).expect("trades");
        assert_eq!(t[0].trade_id, TradeId::Num(28457));
        assert_eq!(t[0].qty.to_string(), "12.00000000");
        assert_eq!(t[0].side, Side::Buy);
        assert!(parse_trades(r#"{"code":-1121,"msg":"Invalid symbol."}"#, &sym, 7).is_err());
        assert_eq!(
            agg_trades_url("http://h/binance/", "BTCUSDT", 5, 5000),
            "http://h/binance/api/v3/aggTrades?symbol=BTCUSDT&fromId=5&limit=1000"
        );
    }
}
