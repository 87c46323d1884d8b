//! Reads stored book messages back, exactly, in the order they were stored — what
//! `tickrec_book::rebuild` replays to prove the stored book equals the one the recorder held.

use std::sync::Arc;

use rusqlite::Connection;
use tickrec_model::{BookKind, BookUpdate, Decimal, Level, Venue};

use crate::error::StoreError;

/// Every `book_deltas` row of one market, in stored (arrival) order.
///
/// # Errors
/// [`StoreError::BadRow`] for a row this build cannot read back exactly; SQLite errors otherwise.
pub fn read_book_deltas(
    conn: &Connection,
    venue: Venue,
    symbol: &str,
) -> Result<Vec<BookUpdate>, StoreError> {
    read_rows(conn, venue, symbol, 0, i64::MAX)
}

/// The rows that rebuild one market's book as it was at `at_us` (receive time): from the last
/// verified snapshot at or before `at_us` — and the unverified messages stored just before it,
/// which a Binance book applies on top of its REST snapshot — up to `at_us`. Empty when no
/// verified snapshot is that old.
///
/// # Errors
/// As [`read_book_deltas`].
pub fn read_book_at(
    conn: &Connection,
    venue: Venue,
    symbol: &str,
    at_us: i64,
) -> Result<Vec<BookUpdate>, StoreError> {
    let snap: Option<i64> = conn.query_row(
        "SELECT max(id) FROM book_deltas WHERE venue = ?1 AND symbol = ?2 \
         AND kind = 'snapshot' AND verified = 1 AND ts_recv_us <= ?3",
        rusqlite::params![venue.as_str(), symbol, at_us],
        |r| r.get(0),
    )?;
    let Some(snap) = snap else {
        return Ok(Vec::new());
    };
    let start: Option<i64> = conn.query_row(
        "SELECT max(id) FROM book_deltas WHERE venue = ?1 AND symbol = ?2 AND id < ?3 \
         AND verified = 1",
        rusqlite::params![venue.as_str(), symbol, snap],
        |r| r.get(0),
    )?;
    // Rows stored after `at_us` are not read (a REST snapshot's receive time may be earlier
    // than rows stored before it, hence the filter below as well).
    let end: i64 = conn.query_row(
        "SELECT coalesce(max(id), 0) FROM book_deltas WHERE venue = ?1 AND symbol = ?2 \
         AND ts_recv_us <= ?3",
        rusqlite::params![venue.as_str(), symbol, at_us],
        |r| r.get(0),
    )?;
    // Before the snapshot only Binance needs anything (the deltas buffered while its REST
    // snapshot was fetched); elsewhere replay starts at the snapshot.
    let from = if venue == Venue::Binance {
        start.map_or(0, |s| s + 1)
    } else {
        snap
    };
    let rows = read_rows(conn, venue, symbol, from, end)?;
    Ok(rows.into_iter().filter(|b| b.ts_recv_us <= at_us).collect())
}

fn read_rows(
    conn: &Connection,
    venue: Venue,
    symbol: &str,
    from_id: i64,
    to_id: i64,
) -> Result<Vec<BookUpdate>, StoreError> {
    let sym: Arc<str> = Arc::from(symbol);
    let mut stmt = conn.prepare(
        "SELECT id, kind, first_update_id, last_update_id, bids, asks, checksum, ts_exchange_us, \
         ts_recv_us, verified FROM book_deltas WHERE venue = ?1 AND symbol = ?2 \
         AND id BETWEEN ?3 AND ?4 ORDER BY id",
    )?;
    let mut rows = stmt.query(rusqlite::params![venue.as_str(), symbol, from_id, to_id])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let bad = |detail: String| StoreError::BadRow {
            table: "book_deltas",
            id,
            detail,
        };
        let kind = match r.get_ref(1)?.as_str().unwrap_or_default() {
            "snapshot" => BookKind::Snapshot,
            "delta" => BookKind::Delta,
            other => return Err(bad(format!("kind {other:?}"))),
        };
        let id_of = |v: Option<i64>, what: &str| {
            v.map(|v| u64::try_from(v).map_err(|_| bad(format!("{what} {v}"))))
                .transpose()
        };
        let checksum: Option<i64> = r.get(6)?;
        out.push(BookUpdate {
            venue,
            symbol: sym.clone(),
            kind,
            first_update_id: id_of(r.get(2)?, "first_update_id")?,
            last_update_id: id_of(r.get(3)?, "last_update_id")?,
            bids: parse_levels(r.get_ref(4)?.as_str().unwrap_or_default())
                .ok_or_else(|| bad("bids".into()))?,
            asks: parse_levels(r.get_ref(5)?.as_str().unwrap_or_default())
                .ok_or_else(|| bad("asks".into()))?,
            checksum: checksum
                .map(|c| u32::try_from(c).map_err(|_| bad(format!("checksum {c}"))))
                .transpose()?,
            ts_exchange_us: r.get(7)?,
            ts_recv_us: r.get(8)?,
            verified: r.get::<_, Option<i64>>(9)? == Some(1),
        });
    }
    Ok(out)
}

/// `[["price","qty"],…]` as the writers store it (exact decimal strings; JSON spacing ignored).
pub fn parse_levels(text: &str) -> Option<Vec<Level>> {
    let mut strings = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        let end = after.find('"')?;
        strings.push(&after[..end]);
        rest = &after[end + 1..];
    }
    if strings.len() % 2 != 0 {
        return None;
    }
    strings
        .chunks(2)
        .map(|pq| {
            Some(Level {
                price: Decimal::parse(pq[0]).ok()?,
                qty: Decimal::parse(pq[1]).ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_text_round_trips_exactly() {
        assert!(parse_levels(r#"[["30000.10", "0.5"],["abc","0"]]"#).is_none());
        let l = parse_levels(r#"[["30000.10", "0.50000000"],["30001","0.0"]]"#).unwrap();
        assert_eq!(l[0].price.to_string(), "30000.10");
        assert_eq!(l[1].qty.to_string(), "0.0");
        assert_eq!(parse_levels("[]").unwrap(), vec![]);
        assert!(parse_levels(r#"[["1"]]"#).is_none());
    }
}
