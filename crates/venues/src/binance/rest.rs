//! Binance REST backfill: request URLs and exact parsers for `aggTrades` and `historicalTrades`
//! (both page by `fromId`, inclusive, ascending, at most 1000 per call).

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use tickrec_model::{Trade, TradeId, TradeKind, Venue};

use crate::validate::{self, json_invalid, Invalid};

/// Production REST base.
pub const DEFAULT_REST_URL: &str = "https://api.binance.com";

/// Most rows Binance returns per call.
pub const MAX_LIMIT: u32 = 1000;

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

#[cfg(test)]
mod tests {
    use super::*;
    use tickrec_model::Side;

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
