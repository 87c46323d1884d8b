//! Kraken REST backfill: `GET /0/public/Trades?pair=XBTUSD&since=<cursor>` returns up to 1000
//! trades after an exclusive nanosecond cursor, with the same `trade_id` the WebSocket sends.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use tickrec_model::{Decimal, RejectReason, Side, Trade, TradeId, TradeKind, Venue};

use crate::validate::{self, json_invalid, raw_number, Invalid};
use crate::{BackfillCursor, TradeGap};

/// Production REST base.
pub const DEFAULT_REST_URL: &str = "https://api.kraken.com";

/// The REST pair name for a v2 symbol: `BTC/USD` → `XBTUSD` (REST still uses the old codes).
pub fn rest_pair(symbol: &str) -> String {
    let code = |c: &str| match c {
        "BTC" => "XBT".to_string(),
        "DOGE" => "XDG".to_string(),
        other => other.to_string(),
    };
    match symbol.split_once('/') {
        Some((b, q)) => format!("{}{}", code(b), code(q)),
        None => symbol.to_string(),
    }
}

/// `GET {base}/0/public/Trades?pair=..&since=..` (`since` in nanoseconds; exclusive).
pub fn trades_url(base: &str, symbol: &str, since_ns: u64) -> String {
    format!(
        "{}/0/public/Trades?pair={}&since={since_ns}&count=1000",
        base.trim_end_matches('/'),
        rest_pair(symbol)
    )
}

#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow, default)]
    error: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    result: Option<HashMap<Cow<'a, str>, &'a RawValue>>,
}

type Row<'a> = (
    Cow<'a, str>, // price
    Cow<'a, str>, // volume
    &'a RawValue, // time, float seconds
    Cow<'a, str>, // side b/s
    Cow<'a, str>, // order type m/l
    &'a RawValue, // misc
    u64,          // trade_id
);

/// One page of trades and the cursor for the next call.
#[derive(Debug, Clone, PartialEq)]
pub struct TradesPage {
    /// Trades in venue order.
    pub trades: Vec<Trade>,
    /// `last`: pass as `since` to continue.
    pub last_ns: u64,
}

/// Float seconds text (`1688669597.8277369`) → µs, exactly (truncating below a microsecond).
fn seconds_text_to_us(text: &str) -> Result<i64, Invalid> {
    let d = Decimal::parse(text).map_err(|_| {
        Invalid::new(
            RejectReason::BadTimestamp,
            format!("time `{text}` is not a number"),
        )
    })?;
    let us = i128::from(d.mantissa()) * 1_000_000 / 10i128.pow(u32::from(d.scale()));
    let us = i64::try_from(us)
        .map_err(|_| Invalid::new(RejectReason::BadTimestamp, "time out of range"))?;
    validate::timestamp_us("time", us)
}

/// Parses a `Trades` reply.
///
/// # Errors
/// [`Invalid`] with `venue_error` when Kraken returned errors, or a parse/validation reason.
pub fn parse_trades(body: &str, symbol: &Arc<str>, ts_recv_us: i64) -> Result<TradesPage, Invalid> {
    let reply: Reply<'_> = serde_json::from_str(body).map_err(|e| json_invalid("Trades", &e))?;
    if !reply.error.is_empty() {
        return Err(Invalid::new(
            RejectReason::VenueError,
            format!("Trades: {}", reply.error.join("; ")),
        ));
    }
    let result = reply
        .result
        .ok_or_else(|| Invalid::new(RejectReason::MissingField, "Trades reply without `result`"))?;
    let mut last_ns = None;
    let mut rows: Option<&RawValue> = None;
    for (k, v) in &result {
        if k == "last" {
            last_ns = raw_number(v).parse::<u64>().ok();
        } else {
            rows = Some(v);
        }
    }
    let last_ns = last_ns
        .ok_or_else(|| Invalid::new(RejectReason::MissingField, "Trades reply without `last`"))?;
    let rows: Vec<Row<'_>> = match rows {
        Some(r) => serde_json::from_str(r.get()).map_err(|e| json_invalid("Trades rows", &e))?,
        None => Vec::new(),
    };
    let trades = rows
        .into_iter()
        .map(|(price, qty, time, side, _ord, _misc, id)| {
            Ok(Trade {
                venue: Venue::Kraken,
                symbol: symbol.clone(),
                trade_id: TradeId::Num(id),
                price: validate::price("price", &price)?,
                qty: validate::qty("volume", &qty)?,
                side: match &*side {
                    "b" => Side::Buy,
                    "s" => Side::Sell,
                    other => {
                        return Err(Invalid::new(
                            RejectReason::UnknownMessage,
                            format!("unknown side `{other}`"),
                        ))
                    }
                },
                ts_exchange_us: seconds_text_to_us(raw_number(time))?,
                ts_recv_us,
                kind: TradeKind::Single,
            })
        })
        .collect::<Result<Vec<_>, Invalid>>()?;
    Ok(TradesPage { trades, last_ns })
}

/// Pages `Trades` by its time cursor from just before the gap until the gap's last id is passed.
#[derive(Debug, Clone)]
pub struct KrakenBackfill {
    base: String,
    symbol: Arc<str>,
    since_ns: u64,
    from: u64,
    to: u64,
    total: u64,
    found: u64,
    done: bool,
}

impl KrakenBackfill {
    /// A cursor for `gap`. Kraken pages by time, not id: start one second before the last trade
    /// we have (the cursor is exclusive and trades can share a timestamp) and filter by id.
    pub fn new(gap: &TradeGap, base: &str) -> Self {
        let start_us = gap.after_ts_us.saturating_sub(1_000_000).max(0);
        KrakenBackfill {
            base: base.to_string(),
            symbol: gap.symbol.clone(),
            since_ns: (start_us as u64).saturating_mul(1000),
            from: gap.from,
            to: gap.to,
            total: gap.to.saturating_sub(gap.from) + 1,
            found: 0,
            done: false,
        }
    }
}

impl BackfillCursor for KrakenBackfill {
    fn next_url(&self) -> Option<String> {
        (!self.done).then(|| trades_url(&self.base, &self.symbol, self.since_ns))
    }

    fn on_page(&mut self, body: &str, ts_recv_us: i64) -> Result<Vec<Trade>, Invalid> {
        let page = parse_trades(body, &self.symbol, ts_recv_us)?;
        let mut max_id = None;
        let mut out = Vec::new();
        for t in page.trades {
            if let TradeId::Num(id) = t.trade_id {
                max_id = Some(max_id.map_or(id, |m: u64| m.max(id)));
                if (self.from..=self.to).contains(&id) {
                    out.push(t);
                }
            }
        }
        self.found += out.len() as u64;
        let advanced = page.last_ns > self.since_ns;
        self.since_ns = page.last_ns.max(self.since_ns);
        if max_id.is_none_or(|m| m >= self.to) || !advanced {
            self.done = true;
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

    const DOC_REPLY: &str = r#"{"error":[],"result":{"XXBTZUSD":[["30243.40000","0.34507674",1688669597.8277369,"b","m","",61044952],["30243.30000","0.00376960",1688669598.2804112,"s","l","",61044953]],"last":"1688671969993150842"}}"#;

    #[test]
    fn documented_reply_parses_exactly() {
        let sym: Arc<str> = Arc::from("BTC/USD");
        let page = parse_trades(DOC_REPLY, &sym, 1).expect("page");
        assert_eq!(page.last_ns, 1_688_671_969_993_150_842);
        assert_eq!(page.trades.len(), 2);
        let t = &page.trades[0];
        assert_eq!(t.trade_id, TradeId::Num(61_044_952));
        assert_eq!(t.price.to_string(), "30243.40000");
        assert_eq!(t.qty.to_string(), "0.34507674");
        assert_eq!(t.side, Side::Buy);
        assert_eq!(t.ts_exchange_us, 1_688_669_597_827_736);
        assert_eq!(page.trades[1].side, Side::Sell);
    }

    #[test]
    fn cursor_filters_the_gap_and_stops_past_it() {
        let gap = TradeGap {
            symbol: Arc::from("BTC/USD"),
            aggregate: false,
            from: 61_044_953,
            to: 61_044_953,
            after_ts_us: 1_688_669_597_827_736,
            before_ts_us: 0,
        };
        let mut c = KrakenBackfill::new(&gap, "http://h/kraken");
        assert_eq!(
            c.next_url().as_deref(),
            Some(
                "http://h/kraken/0/public/Trades?pair=XBTUSD&since=1688669596827736000&count=1000"
            )
        );
        let got = c.on_page(DOC_REPLY, 1).expect("page");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].trade_id, TradeId::Num(61_044_953));
        assert_eq!(c.missing(), 0);
        assert_eq!(c.next_url(), None);
    }

    #[test]
    fn errors_and_urls() {
        let sym: Arc<str> = Arc::from("BTC/USD");
        let e = parse_trades(r#"{"error":["EQuery:Unknown asset pair"]}"#, &sym, 1).unwrap_err();
        assert_eq!(e.reason, RejectReason::VenueError);
        assert!(parse_trades("<html>", &sym, 1).is_err());
        assert_eq!(rest_pair("BTC/USD"), "XBTUSD");
        assert_eq!(rest_pair("DOGE/USDT"), "XDGUSDT");
        assert_eq!(
            trades_url("http://h/kraken", "ETH/USD", 5),
            "http://h/kraken/0/public/Trades?pair=ETHUSD&since=5&count=1000"
        );
    }
}
