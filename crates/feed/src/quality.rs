//! Data-quality events written by the feed itself: what it detected (trade-id gaps, reconnects,
//! silent sockets), what it repaired from REST and what it could not. They travel with the data
//! (through the journal into every sink's `data_quality_events` table) so that the stored tape
//! says where it is incomplete, and each one bumps `tickrec_data_quality_events_total`.

use std::sync::Arc;

use metrics::counter;
use tickrec_model::{now_us, Event, QualityEvent, QualityKind, Venue};
use tickrec_venues::TradeGap;

fn event(
    venue: Venue,
    symbol: Option<Arc<str>>,
    kind: QualityKind,
    (start_us, end_us): (i64, i64),
    count: u64,
    ids: Option<(u64, u64)>,
    detail: String,
) -> Event {
    counter!("tickrec_data_quality_events_total", "venue" => venue.as_str(), "kind" => kind.as_str())
        .increment(1);
    Event::Quality(QualityEvent {
        venue,
        symbol,
        kind,
        start_us,
        // Clocks of two machines: never let a window run backwards (sinks check end ≥ start).
        end_us: end_us.max(start_us),
        count,
        from_id: ids.map(|(from, _)| from),
        to_id: ids.map(|(_, to)| to),
        detail,
        ts_recv_us: now_us(),
    })
}

/// Trade ids `from..=to` of `symbol` never arrived on the live feed. The window runs from the
/// exchange time of the last trade before the hole to that of the first trade after it.
pub fn gap(venue: Venue, symbol: Arc<str>, gap: &TradeGap, next_ts_us: i64) -> Event {
    if ids(gap).is_none() {
        // Text ids (Bybit, Upbit) cannot be counted: the outage is a window of time.
        return event(
            venue,
            Some(symbol),
            QualityKind::Gap,
            (gap.after_ts_us, next_ts_us),
            1,
            None,
            "trades may be missing across a reconnect (ids are not contiguous: a time window)"
                .to_string(),
        );
    }
    let missing = gap.to - gap.from + 1;
    let space = if gap.aggregate {
        "aggregate trade"
    } else {
        "trade"
    };
    event(
        venue,
        Some(symbol),
        QualityKind::Gap,
        (gap.after_ts_us, next_ts_us),
        missing,
        Some((gap.from, gap.to)),
        format!("{missing} {space} ids missing from the live feed"),
    )
}

/// The id range of a gap; `None` for a time-window gap (`from == to == 0`).
fn ids(gap: &TradeGap) -> Option<(u64, u64)> {
    (gap.from != 0 || gap.to != 0).then_some((gap.from, gap.to))
}

/// `found` trades of `gap` were recovered from the venue's REST API (`last_ts_us`: exchange time
/// of the newest one).
pub fn backfilled(venue: Venue, gap: &TradeGap, found: u64, pages: u32, last_ts_us: i64) -> Event {
    event(
        venue,
        Some(gap.symbol.clone()),
        QualityKind::GapBackfilled,
        (gap.after_ts_us, last_ts_us),
        found,
        ids(gap),
        format!("{found} trades recovered from REST in {pages} pages"),
    )
}

/// `missing` trade ids of `gap` could not be recovered (the venue no longer serves them, has no
/// REST history, or kept failing).
pub fn unrepaired(venue: Venue, gap: &TradeGap, missing: u64, why: &str) -> Event {
    event(
        venue,
        Some(gap.symbol.clone()),
        QualityKind::GapUnrepaired,
        (gap.after_ts_us, gap.after_ts_us),
        missing,
        ids(gap),
        why.to_string(),
    )
}

/// The connection was down from `since_us` until now (`attempts` connects tried), for `reason`.
pub fn reconnect(
    venue: Venue,
    connection: &str,
    since_us: i64,
    attempts: u32,
    reason: &str,
) -> Event {
    event(
        venue,
        None,
        QualityKind::Reconnect,
        (since_us, now_us()),
        u64::from(attempts),
        None,
        format!("{connection}: {reason}"),
    )
}

/// The socket sent nothing from `silent_since_us` until now; the connection is being replaced.
pub fn stale(venue: Venue, connection: &str, silent_since_us: i64) -> Event {
    event(
        venue,
        None,
        QualityKind::Stale,
        (silent_since_us, now_us()),
        1,
        None,
        format!("{connection}: no frame received; reconnecting"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap_of(from: u64, to: u64) -> TradeGap {
        TradeGap {
            symbol: Arc::from("BTC/USDT"),
            aggregate: false,
            from,
            to,
            after_ts_us: 1_000,
            before_ts_us: 2_000,
        }
    }

    #[test]
    fn events_carry_the_gap_and_never_run_backwards() {
        let g = gap_of(10, 14);
        let Event::Quality(q) = gap(Venue::Binance, g.symbol.clone(), &g, 500) else {
            panic!("not a quality event");
        };
        assert_eq!(q.kind, QualityKind::Gap);
        assert_eq!((q.count, q.from_id, q.to_id), (5, Some(10), Some(14)));
        assert_eq!(
            (q.start_us, q.end_us),
            (1_000, 1_000),
            "end clamped to start"
        );
        let Event::Quality(q) = backfilled(Venue::Binance, &g, 5, 1, 2_000) else {
            panic!("not a quality event");
        };
        assert_eq!(
            (q.kind, q.count, q.end_us),
            (QualityKind::GapBackfilled, 5, 2_000)
        );
        let Event::Quality(q) = unrepaired(Venue::Kraken, &g, 3, "gone") else {
            panic!("not a quality event");
        };
        assert_eq!(
            (q.kind, q.count, q.detail.as_str()),
            (QualityKind::GapUnrepaired, 3, "gone")
        );
        let Event::Quality(q) = reconnect(Venue::Kraken, "kraken#0", 7, 2, "stream ended") else {
            panic!("not a quality event");
        };
        assert_eq!(q.symbol, None);
        assert!(q.end_us >= 7 && q.detail.contains("stream ended"));
    }
}
