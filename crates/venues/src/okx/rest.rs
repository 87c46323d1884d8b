//! OKX REST backfill: `GET /api/v5/market/history-trades` pages backwards by trade id (`type=1`,
//! `after` = "records earlier than this id", newest first, at most 100 per call, last 3 months).

use std::sync::Arc;

use tickrec_model::{RejectReason, Trade, TradeId};

use crate::okx::messages::RestReply;
use crate::okx::parse::trade_from;
use crate::validate::{json_invalid, Invalid};
use crate::{BackfillCursor, TradeGap};

/// Production REST base.
pub const DEFAULT_REST_URL: &str = "https://www.okx.com";

/// Most rows OKX returns per call.
pub const MAX_LIMIT: u32 = 100;

/// `GET {base}/api/v5/market/history-trades?instId=..&type=1&after=<id>&limit=100`.
pub fn history_trades_url(base: &str, inst_id: &str, after_id: u64) -> String {
    format!(
        "{}/api/v5/market/history-trades?instId={inst_id}&type=1&after={after_id}&limit={MAX_LIMIT}",
        base.trim_end_matches('/'),
    )
}

/// Parses a `history-trades` (or `trades`) reply, in the venue's order (newest first).
///
/// # Errors
/// [`Invalid`] with `venue_error` when `code` is not `"0"`, or a parse/validation reason.
pub fn parse_trades(body: &str, symbol: &Arc<str>, ts_recv_us: i64) -> Result<Vec<Trade>, Invalid> {
    let reply: RestReply<'_> =
        serde_json::from_str(body).map_err(|e| json_invalid("history-trades", &e))?;
    if reply.code != "0" {
        return Err(Invalid::new(
            RejectReason::VenueError,
            format!("history-trades: code {}: {}", reply.code, reply.msg),
        ));
    }
    reply
        .data
        .iter()
        .map(|m| trade_from(symbol, m, ts_recv_us))
        .collect()
}

/// Pages `history-trades` backwards from just after the gap until its first id is passed.
#[derive(Debug, Clone)]
pub struct OkxBackfill {
    base: String,
    inst_id: String,
    symbol: Arc<str>,
    /// Exclusive upper bound of the next page.
    after: u64,
    from: u64,
    to: u64,
    total: u64,
    found: u64,
    done: bool,
}

impl OkxBackfill {
    /// A cursor for `gap` against the REST base.
    pub fn new(gap: &TradeGap, base: &str, inst_id: String) -> Self {
        OkxBackfill {
            base: base.to_string(),
            inst_id,
            symbol: gap.symbol.clone(),
            after: gap.to.saturating_add(1),
            from: gap.from,
            to: gap.to,
            total: gap.to.saturating_sub(gap.from) + 1,
            found: 0,
            done: false,
        }
    }
}

impl BackfillCursor for OkxBackfill {
    fn next_url(&self) -> Option<String> {
        (!self.done).then(|| history_trades_url(&self.base, &self.inst_id, self.after))
    }

    fn on_page(&mut self, body: &str, ts_recv_us: i64) -> Result<Vec<Trade>, Invalid> {
        let page = parse_trades(body, &self.symbol, ts_recv_us)?;
        let mut min_id = None;
        let mut out = Vec::with_capacity(page.len());
        // Newest first on the wire; hand them on oldest first.
        for t in page.into_iter().rev() {
            if let TradeId::Num(id) = t.trade_id {
                min_id = Some(min_id.map_or(id, |m: u64| m.min(id)));
                if (self.from..=self.to).contains(&id) {
                    out.push(t);
                }
            }
        }
        self.found += out.len() as u64;
        match min_id {
            Some(m) if m > self.from && m < self.after => self.after = m,
            // Passed the start of the gap, an empty page (older than 3 months) or no progress.
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

    /// The documented reply (protocols.md §5.5).
    const DOC_REPLY: &str = r#"{"code":"0","msg":"","data":[{"instId":"BTC-USDT","side":"sell","sz":"0.00001","source":"0","px":"29963.2","tradeId":"242720720","ts":"1654161646974"},{"instId":"BTC-USDT","side":"sell","sz":"0.00001","source":"0","px":"29964.1","tradeId":"242720719","ts":"1654161641568"}]}"#;

    #[test]
    fn documented_reply_parses_exactly() {
        let sym: Arc<str> = Arc::from("BTC/USDT");
        let t = parse_trades(DOC_REPLY, &sym, 1).expect("page");
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].trade_id, TradeId::Num(242_720_720));
        assert_eq!(t[0].price.to_string(), "29963.2");
        assert_eq!(t[0].qty.to_string(), "0.00001");
        assert_eq!(t[0].side, Side::Sell);
        assert_eq!(t[0].ts_exchange_us, 1_654_161_646_974_000);
        let e = parse_trades(
            r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#,
            &sym,
            1,
        )
        .unwrap_err();
        assert_eq!(e.reason, RejectReason::VenueError);
        assert!(parse_trades("<html>", &sym, 1).is_err());
    }

    #[test]
    fn cursor_pages_backwards_until_the_gap_start() {
        let gap = TradeGap {
            symbol: Arc::from("BTC/USDT"),
            aggregate: false,
            from: 242_720_718,
            to: 242_720_720,
            after_ts_us: 0,
            before_ts_us: 0,
        };
        let mut c = OkxBackfill::new(&gap, "http://h/okx/", "BTC-USDT".into());
        assert_eq!(
            c.next_url().as_deref(),
            Some("http://h/okx/api/v5/market/history-trades?instId=BTC-USDT&type=1&after=242720721&limit=100")
        );
        let got = c.on_page(DOC_REPLY, 1).expect("page");
        assert_eq!(
            got.iter().map(|t| t.trade_id.clone()).collect::<Vec<_>>(),
            [TradeId::Num(242_720_719), TradeId::Num(242_720_720)],
            "oldest first"
        );
        assert_eq!(c.missing(), 1);
        assert!(c.next_url().expect("more").contains("after=242720719&"));
        assert!(c
            .on_page(r#"{"code":"0","msg":"","data":[]}"#, 1)
            .expect("empty")
            .is_empty());
        assert_eq!(c.next_url(), None, "an empty page ends the cursor");
        assert_eq!(c.missing(), 1, "id 242720718 stays unrepaired");
    }
}
