//! Bybit REST backfill: `GET /v5/market/recent-trade?category=..&symbol=..&limit=..` returns only
//! the most recent trades (spot: 60, linear: 1000) with no paging. Trade ids are not contiguous,
//! so a gap is a window of time; it is repaired only when that one page reaches back past the
//! window start — otherwise what the page holds is kept and the window is reported unrepaired.

use std::sync::Arc;

use tickrec_model::{RejectReason, Trade, TradeKind, Venue};

use crate::bybit::messages::RestReply;
use crate::bybit::parse::{side, trade_id};
use crate::bybit::symbols::Category;
use crate::validate::{self, json_invalid, Invalid};
use crate::{BackfillCursor, TradeGap};

/// Production REST base.
pub const DEFAULT_REST_URL: &str = "https://api.bybit.com";

/// Most rows per call (a venue limit: spot keeps only the last 60).
pub const fn max_limit(category: Category) -> u32 {
    match category {
        Category::Spot => 60,
        Category::Linear => 1000,
    }
}

/// `GET {base}/v5/market/recent-trade?category=..&symbol=..&limit=..`.
pub fn recent_trade_url(base: &str, category: Category, native: &str) -> String {
    format!(
        "{}/v5/market/recent-trade?category={}&symbol={native}&limit={}",
        base.trim_end_matches('/'),
        category.as_str(),
        max_limit(category)
    )
}

/// Parses a `recent-trade` reply, in the venue's order (newest first).
///
/// # Errors
/// [`Invalid`] with `venue_error` when `retCode` is not 0, or a parse/validation reason.
pub fn parse_recent(body: &str, symbol: &Arc<str>, ts_recv_us: i64) -> Result<Vec<Trade>, Invalid> {
    let reply: RestReply<'_> =
        serde_json::from_str(body).map_err(|e| json_invalid("recent-trade", &e))?;
    if reply.ret_code != 0 {
        return Err(Invalid::new(
            RejectReason::VenueError,
            format!(
                "recent-trade: retCode {}: {}",
                reply.ret_code, reply.ret_msg
            ),
        ));
    }
    let rows = reply.result.map(|r| r.list).unwrap_or_default();
    rows.iter()
        .map(|r| {
            let ms: i64 = r.time.parse().map_err(|_| {
                Invalid::new(
                    RejectReason::BadTimestamp,
                    format!("time `{}` is not an integer", r.time),
                )
            })?;
            Ok(Trade {
                venue: Venue::Bybit,
                symbol: symbol.clone(),
                trade_id: trade_id(&r.exec_id)?,
                price: validate::price("price", &r.price)?,
                qty: validate::qty("size", &r.size)?,
                side: side(&r.side)?,
                ts_exchange_us: validate::timestamp_ms("time", ms)?,
                ts_recv_us,
                kind: TradeKind::Single,
            })
        })
        .collect()
}

/// Fetches the one page Bybit serves and keeps the trades of the window.
#[derive(Debug, Clone)]
pub struct BybitBackfill {
    url: String,
    symbol: Arc<str>,
    after_us: i64,
    before_us: i64,
    reached: bool,
    done: bool,
}

impl BybitBackfill {
    /// A cursor for the window `(gap.after_ts_us, gap.before_ts_us)`.
    pub fn new(gap: &TradeGap, base: &str, category: Category, native: &str) -> Self {
        BybitBackfill {
            url: recent_trade_url(base, category, native),
            symbol: gap.symbol.clone(),
            after_us: gap.after_ts_us,
            before_us: if gap.before_ts_us > 0 {
                gap.before_ts_us
            } else {
                i64::MAX
            },
            reached: false,
            done: false,
        }
    }
}

impl BackfillCursor for BybitBackfill {
    fn next_url(&self) -> Option<String> {
        (!self.done).then(|| self.url.clone())
    }

    fn on_page(&mut self, body: &str, ts_recv_us: i64) -> Result<Vec<Trade>, Invalid> {
        let page = parse_recent(body, &self.symbol, ts_recv_us)?;
        self.done = true;
        // Repaired only if the page reaches back to the last trade we had (or before it).
        self.reached = page.iter().any(|t| t.ts_exchange_us <= self.after_us);
        let mut out: Vec<Trade> = page
            .into_iter()
            .filter(|t| (self.after_us..=self.before_us).contains(&t.ts_exchange_us))
            .collect();
        out.reverse();
        Ok(out)
    }

    fn missing(&self) -> u64 {
        u64::from(!self.reached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickrec_model::{Side, TradeId};

    /// The documented reply (protocols.md §6.5) plus an older row.
    const REPLY: &str = r#"{"retCode":0,"retMsg":"OK","result":{"category":"spot","list":[{"execId":"2100000000007764263","symbol":"BTCUSDT","price":"16618.49","size":"0.00012","side":"Buy","time":"1672052955758","isBlockTrade":false,"isRPITrade":true,"seq":"123456"},{"execId":"2100000000007764262","symbol":"BTCUSDT","price":"16618.50","size":"0.5","side":"Sell","time":"1672052955000","isBlockTrade":false}]},"retExtInfo":{},"time":1672053054358}"#;

    #[test]
    fn documented_reply_parses_exactly() {
        let sym: Arc<str> = Arc::from("BTC/USDT");
        let t = parse_recent(REPLY, &sym, 1).expect("page");
        assert_eq!(t[0].trade_id, TradeId::Text("2100000000007764263".into()));
        assert_eq!(t[0].price.to_string(), "16618.49");
        assert_eq!(t[0].qty.to_string(), "0.00012");
        assert_eq!(t[0].side, Side::Buy);
        assert_eq!(t[0].ts_exchange_us, 1_672_052_955_758_000);
        assert_eq!(t[1].price.to_string(), "16618.50");
        let e = parse_recent(
            r#"{"retCode":10001,"retMsg":"params error","result":{}}"#,
            &sym,
            1,
        )
        .unwrap_err();
        assert_eq!(e.reason, RejectReason::VenueError);
        assert_eq!(
            recent_trade_url("http://h/bybit/", Category::Spot, "BTCUSDT"),
            "http://h/bybit/v5/market/recent-trade?category=spot&symbol=BTCUSDT&limit=60"
        );
    }

    #[test]
    fn one_page_repairs_a_short_window_and_reports_a_long_one() {
        let gap = TradeGap {
            symbol: Arc::from("BTC/USDT"),
            aggregate: false,
            from: 0,
            to: 0,
            after_ts_us: 1_672_052_955_000_000,
            before_ts_us: 1_672_052_956_000_000,
        };
        let mut c = BybitBackfill::new(&gap, "http://h", Category::Spot, "BTCUSDT");
        assert_eq!(c.on_page(REPLY, 1).expect("page").len(), 2);
        assert_eq!(c.next_url(), None, "no paging on Bybit");
        assert_eq!(c.missing(), 0);

        // The window starts before the oldest of the last 60 trades: beyond repair.
        let mut c = BybitBackfill::new(
            &TradeGap {
                after_ts_us: 1_672_052_900_000_000,
                ..gap
            },
            "http://h",
            Category::Spot,
            "BTCUSDT",
        );
        assert_eq!(
            c.on_page(REPLY, 1).expect("page").len(),
            2,
            "what exists is kept"
        );
        assert_eq!(c.missing(), 1, "the rest is reported, not pretended");
    }
}
