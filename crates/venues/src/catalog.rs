//! What each venue offers, for `tickrec venues`: channels, endpoints and how far a trade gap
//! can be repaired. Kept next to the adapters so that a new venue is described where it is built.

use tickrec_model::Venue;

/// A venue's capabilities in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueInfo {
    /// Venue.
    pub venue: Venue,
    /// Channels a `[[markets]]` entry may ask for.
    pub channels: &'static str,
    /// Symbol forms accepted.
    pub symbols: &'static str,
    /// Default WebSocket endpoint.
    pub ws_url: &'static str,
    /// Default REST endpoint used for backfill.
    pub rest_url: &'static str,
    /// The REST instruments endpoint(s) read at start-up (tick/lot sizes, status).
    pub instruments: &'static str,
    /// How gaps are detected and how far they can be repaired.
    pub gap_repair: &'static str,
}

/// The description of one venue.
pub const fn describe(venue: Venue) -> VenueInfo {
    match venue {
        Venue::Binance => VenueInfo {
            venue,
            channels: "trades, agg_trades, bbo, book (depth@100ms + REST /api/v3/depth), candles_<1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w>",
            symbols: "BTC/USDT",
            ws_url: crate::binance::subscribe::DEFAULT_WS_URL,
            rest_url: crate::binance::rest::DEFAULT_REST_URL,
            instruments: "GET /api/v3/exchangeInfo",
            gap_repair: "trade and aggTrade ids are contiguous: every gap is measured and backfilled \
                         (historicalTrades / aggTrades by fromId, no depth limit)",
        },
        Venue::Kraken => VenueInfo {
            venue,
            channels: "trades, bbo, book (depth 10, CRC32 checked), candles_<1m|5m|15m|30m|1h|4h|1d|1w|15d>",
            symbols: "BTC/USD",
            ws_url: crate::kraken::subscribe::DEFAULT_WS_URL,
            rest_url: crate::kraken::rest::DEFAULT_REST_URL,
            instruments: "GET /0/public/AssetPairs",
            gap_repair: "trade_id is contiguous per pair: every gap is measured and backfilled \
                         (public Trades, paged by time)",
        },
        Venue::Coinbase => VenueInfo {
            venue,
            channels: "trades, bbo, book (level2), candles_5m",
            symbols: "BTC/USD",
            ws_url: crate::coinbase::subscribe::DEFAULT_WS_URL,
            rest_url: crate::coinbase::rest::DEFAULT_REST_URL,
            instruments: "GET /api/v3/brokerage/market/products",
            gap_repair: "sequence_num gap ⇒ reconnect; trade_id is contiguous per product: gaps are \
                         measured and backfilled (market ticker trades, paged back by time)",
        },
        Venue::Okx => VenueInfo {
            venue,
            channels: "trades (trades-all), candles_<1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|12h|1d|1w> on \
                       /ws/v5/business; bbo (bbo-tbt), book (books, seqId chain) on /ws/v5/public — one endpoint per [[markets]] entry",
            symbols: "BTC/USDT, BTC/USDT:USDT (swap), BTC/USD:BTC-220527 (future)",
            ws_url: crate::okx::subscribe::DEFAULT_WS_URL,
            rest_url: crate::okx::rest::DEFAULT_REST_URL,
            instruments: "GET /api/v5/public/instruments?instType=SPOT|SWAP|FUTURES",
            gap_repair: "trades-all ids are contiguous: gaps are measured and backfilled \
                         (history-trades by id, last 3 months)",
        },
        Venue::Bybit => VenueInfo {
            venue,
            channels: "trades, bbo (orderbook.1), book (orderbook.50), candles_<1m|3m|5m|15m|30m|1h|2h|4h|6h|12h|1d|1w>",
            symbols: "BTC/USDT (spot), BTC/USDT:USDT (linear) — one category per [[markets]] entry",
            ws_url: crate::bybit::subscribe::DEFAULT_WS_URL,
            rest_url: crate::bybit::rest::DEFAULT_REST_URL,
            instruments: "GET /v5/market/instruments-info?category=spot|linear",
            gap_repair: "trade ids are not contiguous: no id gap can be measured; a window handed \
                         to backfill is repaired only within the last 60 spot / 1000 linear trades \
                         (recent-trade), the rest is reported unrepaired",
        },
        Venue::Upbit => VenueInfo {
            venue,
            channels: "trades, bbo (orderbook, 1 level), book (orderbook, full snapshots), candles_<1s|1m|3m|5m|10m|15m|30m|1h|4h>",
            symbols: "BTC/KRW (sent as KRW-BTC)",
            ws_url: crate::upbit::subscribe::DEFAULT_WS_URL,
            rest_url: crate::upbit::rest::DEFAULT_REST_URL,
            instruments: "GET /v1/market/all + /v1/orderbook/instruments (tick sizes)",
            gap_repair: "sequential_id is unique but not contiguous: no id gap can be measured; a \
                         window handed to backfill is repaired from trades/ticks (current UTC day)",
        },
    }
}
