//! Coinbase REST backfill: `GET /api/v3/brokerage/market/products/{id}/ticker?limit=N&end=<unix>`
//! returns the most recent trades before `end`, newest first (public, no key). Trade ids rise by
//! one per product, so the gap's ids are known; pages walk back in time until the gap's first id
//! is passed. `end` has second resolution: a second holding more trades than one page cannot be
//! walked through, and what lies behind it is reported unrepaired.

use std::sync::Arc;

use tickrec_model::{Trade, TradeId};

use crate::coinbase::messages::RestTicker;
use crate::coinbase::parse::trade_from;
use crate::validate::{json_invalid, Invalid};
use crate::{BackfillCursor, TradeGap};

/// Production REST base.
pub const DEFAULT_REST_URL: &str = "https://api.coinbase.com";

/// Trades asked for per call.
pub const PAGE_LIMIT: u32 = 1000;

/// `GET {base}/api/v3/brokerage/market/products/{id}/ticker?limit=..&end=<unix seconds>`.
pub fn ticker_url(base: &str, product_id: &str, end_s: i64) -> String {
    format!(
        "{}/api/v3/brokerage/market/products/{product_id}/ticker?limit={PAGE_LIMIT}&end={end_s}",
        base.trim_end_matches('/')
    )
}

/// Parses a `ticker` reply's trades, in the venue's order (newest first).
///
/// # Errors
/// [`Invalid`] when the body is not the documented object or a value fails validation.
pub fn parse_ticker_trades(
    body: &str,
    symbol: &Arc<str>,
    ts_recv_us: i64,
) -> Result<Vec<Trade>, Invalid> {
    let reply: RestTicker<'_> =
        serde_json::from_str(body).map_err(|e| json_invalid("market ticker", &e))?;
    reply
        .trades
        .iter()
        .map(|m| trade_from(symbol, m, ts_recv_us))
        .collect()
}

/// Pages back in time from the first trade after the gap until the gap's first id is passed.
#[derive(Debug, Clone)]
pub struct CoinbaseBackfill {
    base: String,
    product_id: String,
    symbol: Arc<str>,
    end_s: i64,
    from: u64,
    to: u64,
    total: u64,
    found: u64,
    done: bool,
}

impl CoinbaseBackfill {
    /// A cursor for `gap`; `end` starts one second after the first trade past the gap (the
    /// parameter has second resolution), and overlap is filtered by id.
    pub fn new(gap: &TradeGap, base: &str, product_id: String) -> Self {
        let end_us = if gap.before_ts_us > 0 {
            gap.before_ts_us
        } else {
            tickrec_model::now_us()
        };
        CoinbaseBackfill {
            base: base.to_string(),
            product_id,
            symbol: gap.symbol.clone(),
            end_s: end_us.div_euclid(1_000_000) + 1,
            from: gap.from,
            to: gap.to,
            total: gap.to.saturating_sub(gap.from) + 1,
            found: 0,
            done: false,
        }
    }
}

impl BackfillCursor for CoinbaseBackfill {
    fn next_url(&self) -> Option<String> {
        (!self.done).then(|| ticker_url(&self.base, &self.product_id, self.end_s))
    }

    fn on_page(&mut self, body: &str, ts_recv_us: i64) -> Result<Vec<Trade>, Invalid> {
        let page = parse_ticker_trades(body, &self.symbol, ts_recv_us)?;
        let mut out: Vec<Trade> = Vec::new();
        let mut oldest: Option<(u64, i64)> = None;
        for t in page {
            if let TradeId::Num(id) = t.trade_id {
                if oldest.is_none_or(|(o, _)| id < o) {
                    oldest = Some((id, t.ts_exchange_us));
                }
                if (self.from..=self.to).contains(&id) {
                    out.push(t);
                }
            }
        }
        out.sort_by(|a, b| a.trade_id.cmp(&b.trade_id));
        self.found += out.len() as u64;
        match oldest {
            Some((id, ts_us)) if id > self.from => {
                // Continue just after the oldest trade's second (trades of that second are seen
                // again and filtered); a page that cannot move further back ends the cursor.
                let next = ts_us.div_euclid(1_000_000) + 1;
                if next >= self.end_s {
                    self.done = true;
                } else {
                    self.end_s = next;
                }
            }
            _ => self.done = true,
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

    /// Reply shape of protocols.md §4B.5.
    const REPLY: &str = r#"{"trades":[{"trade_id":"995098663","product_id":"BTC-USD","price":"68923.67","size":"0.00064","time":"2026-04-07T00:28:58.544778Z","side":"SELL","bid":"","ask":"","exchange":"coinbase"},{"trade_id":"995098662","product_id":"BTC-USD","price":"68923.67","size":"0.00123858","time":"2026-04-07T00:28:58.250358Z","side":"SELL","bid":"","ask":"","exchange":"coinbase"},{"trade_id":"995098661","product_id":"BTC-USD","price":"68924.94","size":"0.01450854","time":"2026-04-07T00:28:57.296283Z","side":"BUY","bid":"","ask":"","exchange":"coinbase"}],"best_bid":"68923.66","best_ask":"68923.67"}"#;

    #[test]
    fn documented_reply_parses_exactly() {
        let sym: Arc<str> = Arc::from("BTC/USD");
        let t = parse_ticker_trades(REPLY, &sym, 1).expect("page");
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].trade_id, TradeId::Num(995_098_663));
        assert_eq!(t[0].price.to_string(), "68923.67");
        assert_eq!(t[0].qty.to_string(), "0.00064");
        assert_eq!(t[0].side, Side::Sell);
        assert_eq!(t[0].ts_exchange_us, 1_775_521_738_544_778);
        assert_eq!(t[2].side, Side::Buy);
        assert!(parse_ticker_trades(r#"{"error":"NOT_FOUND"}"#, &sym, 1).is_err());
    }

    #[test]
    fn cursor_walks_back_until_the_gap_start() {
        let gap = TradeGap {
            symbol: Arc::from("BTC/USD"),
            aggregate: false,
            from: 995_098_660,
            to: 995_098_662,
            after_ts_us: 0,
            before_ts_us: 1_775_521_738_544_778,
        };
        let mut c = CoinbaseBackfill::new(&gap, "http://h/coinbase/", "BTC-USD".into());
        assert_eq!(
            c.next_url().as_deref(),
            Some("http://h/coinbase/api/v3/brokerage/market/products/BTC-USD/ticker?limit=1000&end=1775521739")
        );
        let got = c.on_page(REPLY, 1).expect("page");
        assert_eq!(
            got.iter().map(|t| t.trade_id.clone()).collect::<Vec<_>>(),
            [TradeId::Num(995_098_661), TradeId::Num(995_098_662)]
        );
        assert_eq!(c.missing(), 1);
        assert!(c.next_url().expect("more").ends_with("&end=1775521738"));
        assert!(c.on_page(r#"{"trades":[]}"#, 1).expect("empty").is_empty());
        assert_eq!(c.next_url(), None);
        assert_eq!(c.missing(), 1, "id 995098660 stays unrepaired");
    }
}
