//! Upbit REST backfill: `GET /v1/trades/ticks?market=KRW-BTC&count=500[&cursor=<sequential_id>]`
//! returns trades newest first; `cursor` continues with trades older than that id. Trade ids are
//! not contiguous, so a gap is a window of time: page back until a trade older than the window
//! start is seen. Only the last 7 days are served (and without `days_ago`, the current UTC day).

use std::sync::Arc;

use tickrec_model::Trade;

use crate::upbit::messages::RestTrade;
use crate::upbit::parse::{side, trade_id};
use crate::validate::{self, json_invalid, raw_number, Invalid};
use crate::{BackfillCursor, TradeGap};

/// Production REST base.
pub const DEFAULT_REST_URL: &str = "https://api.upbit.com";

/// Rows per call.
pub const MAX_COUNT: u32 = 500;

/// `GET {base}/v1/trades/ticks?market=..&count=500[&cursor=..]`.
pub fn ticks_url(base: &str, market: &str, cursor: Option<&str>) -> String {
    let mut url = format!(
        "{}/v1/trades/ticks?market={market}&count={MAX_COUNT}",
        base.trim_end_matches('/')
    );
    if let Some(c) = cursor {
        url.push_str("&cursor=");
        url.push_str(c);
    }
    url
}

/// Parses a `trades/ticks` reply, in the venue's order (newest first).
///
/// # Errors
/// [`Invalid`] when the body is not the documented array (an error object included) or a value
/// fails validation.
pub fn parse_ticks(body: &str, symbol: &Arc<str>, ts_recv_us: i64) -> Result<Vec<Trade>, Invalid> {
    let rows: Vec<RestTrade<'_>> =
        serde_json::from_str(body).map_err(|e| json_invalid("trades/ticks", &e))?;
    rows.iter()
        .map(|r| {
            Ok(Trade {
                venue: tickrec_model::Venue::Upbit,
                symbol: symbol.clone(),
                trade_id: trade_id(r.sequential_id)?,
                price: validate::price("trade_price", raw_number(r.trade_price))?,
                qty: validate::qty("trade_volume", raw_number(r.trade_volume))?,
                side: side(&r.ask_bid)?,
                ts_exchange_us: validate::timestamp_ms("timestamp", r.timestamp)?,
                ts_recv_us,
                kind: tickrec_model::TradeKind::Single,
            })
        })
        .collect()
}

/// Pages `trades/ticks` back from the newest trade until the window start is passed.
#[derive(Debug, Clone)]
pub struct UpbitBackfill {
    base: String,
    market: String,
    symbol: Arc<str>,
    cursor: Option<String>,
    after_us: i64,
    before_us: i64,
    reached: bool,
    done: bool,
}

impl UpbitBackfill {
    /// A cursor for the window `(gap.after_ts_us, gap.before_ts_us)`; trades on the boundaries
    /// are fetched again and collapse onto their natural key.
    pub fn new(gap: &TradeGap, base: &str, market: String) -> Self {
        UpbitBackfill {
            base: base.to_string(),
            market,
            symbol: gap.symbol.clone(),
            cursor: None,
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

impl BackfillCursor for UpbitBackfill {
    fn next_url(&self) -> Option<String> {
        (!self.done).then(|| ticks_url(&self.base, &self.market, self.cursor.as_deref()))
    }

    fn on_page(&mut self, body: &str, ts_recv_us: i64) -> Result<Vec<Trade>, Invalid> {
        let page = parse_ticks(body, &self.symbol, ts_recv_us)?;
        let mut out: Vec<Trade> = page
            .iter()
            .filter(|t| (self.after_us..=self.before_us).contains(&t.ts_exchange_us))
            .cloned()
            .collect();
        out.reverse();
        match page.last() {
            Some(oldest) if oldest.ts_exchange_us < self.after_us => {
                self.reached = true;
                self.done = true;
            }
            Some(oldest) => {
                let next = oldest.trade_id.to_string();
                if self.cursor.as_deref() == Some(next.as_str()) {
                    self.done = true;
                }
                self.cursor = Some(next);
            }
            // Nothing older is served: the rest of the window is out of reach.
            None => self.done = true,
        }
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

    /// Real reply (protocols.md §7.5, captured 2026-07-30), exponent form included.
    const REPLY: &str = r#"[{"market":"KRW-BTC","trade_date_utc":"2026-07-30","trade_time_utc":"07:41:00","timestamp":1785397260660,"trade_price":91200000.0,"trade_volume":0.00010971,"prev_closing_price":91424000.0,"change_price":-224000.0,"ask_bid":"BID","sequential_id":17853972606600000},{"market":"KRW-BTC","trade_date_utc":"2026-07-30","trade_time_utc":"07:41:00","timestamp":1785397260652,"trade_price":91200000.0,"trade_volume":5.485e-05,"prev_closing_price":91424000.0,"change_price":-224000.0,"ask_bid":"BID","sequential_id":17853972606520000}]"#;

    #[test]
    fn real_reply_parses_exactly() {
        let sym: Arc<str> = Arc::from("BTC/KRW");
        let t = parse_ticks(REPLY, &sym, 1).expect("page");
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].trade_id, TradeId::Text("17853972606600000".into()));
        assert_eq!(t[0].price.to_string(), "91200000.0");
        assert_eq!(t[0].qty.to_string(), "0.00010971");
        assert_eq!(t[0].side, Side::Buy);
        assert_eq!(t[0].ts_exchange_us, 1_785_397_260_660_000);
        // 5.485e-05 exactly, never through f64.
        assert_eq!(t[1].qty.normalized().to_string(), "0.00005485");
        assert!(parse_ticks(
            r#"{"error":{"name":"404","message":"Code not found"}}"#,
            &sym,
            1
        )
        .is_err());
    }

    #[test]
    fn cursor_pages_back_past_the_window() {
        let gap = TradeGap {
            symbol: Arc::from("BTC/KRW"),
            aggregate: false,
            from: 0,
            to: 0,
            after_ts_us: 1_785_397_260_655_000,
            before_ts_us: 1_785_397_260_700_000,
        };
        let mut c = UpbitBackfill::new(&gap, "http://h/upbit", "KRW-BTC".into());
        assert_eq!(
            c.next_url().as_deref(),
            Some("http://h/upbit/v1/trades/ticks?market=KRW-BTC&count=500")
        );
        let got = c.on_page(REPLY, 1).expect("page");
        assert_eq!(got.len(), 1, "only the trade inside the window");
        assert_eq!(c.missing(), 0, "a trade older than the window was seen");
        assert_eq!(c.next_url(), None);

        let mut c = UpbitBackfill::new(
            &TradeGap {
                after_ts_us: 1_785_397_260_000_000,
                ..gap
            },
            "http://h/upbit",
            "KRW-BTC".into(),
        );
        assert_eq!(c.on_page(REPLY, 1).expect("page").len(), 2);
        assert_eq!(
            c.next_url().as_deref(),
            Some(
                "http://h/upbit/v1/trades/ticks?market=KRW-BTC&count=500&cursor=17853972606520000"
            )
        );
        assert!(c.on_page("[]", 1).expect("empty").is_empty());
        assert_eq!(c.next_url(), None);
        assert_eq!(c.missing(), 1, "the window start was never reached");
    }
}
