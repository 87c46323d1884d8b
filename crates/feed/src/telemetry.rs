//! Metric handles of one connection, resolved once so the hot path only bumps atomics.
//! Names follow the seeds (`collector_*` from seed 002, `ws_*` from seed 000).

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};
use tickrec_model::{Event, RejectReason, Venue};

/// Cached handles.
#[derive(Clone)]
pub struct ConnectionMetrics {
    venue: Venue,
    /// Frames received.
    pub frames: Counter,
    /// 1 while connected.
    pub connected: Gauge,
    /// Reconnects.
    pub reconnects: Counter,
    /// Silent sockets detected.
    pub timeouts: Counter,
    /// Trades parsed.
    pub trades: Counter,
    /// Quotes parsed.
    pub quotes: Counter,
    /// Candle updates parsed.
    pub candles: Counter,
    /// Book messages parsed.
    pub books: Counter,
    /// Frames dropped because the journal was full (repaired by backfill).
    pub dropped: Counter,
    /// Trade-id gaps detected.
    pub gaps: Counter,
    /// Size of each gap, in trade ids.
    pub gap_size: Histogram,
    /// Trades at or below the last id (re-deliveries, late arrivals).
    pub behind: Counter,
}

impl ConnectionMetrics {
    /// Handles for a venue.
    pub fn new(venue: Venue) -> Self {
        let v = venue.as_str();
        ConnectionMetrics {
            venue,
            frames: counter!("collector_messages_received_total", "venue" => v),
            connected: gauge!("collector_websocket_connected", "venue" => v),
            reconnects: counter!("collector_websocket_reconnects_total", "venue" => v),
            timeouts: counter!("collector_message_timeouts_total", "venue" => v),
            trades: counter!("ws_msgs_total", "venue" => v, "channel" => "trades"),
            quotes: counter!("ws_msgs_total", "venue" => v, "channel" => "bbo"),
            candles: counter!("ws_msgs_total", "venue" => v, "channel" => "candles"),
            books: counter!("ws_msgs_total", "venue" => v, "channel" => "book"),
            dropped: counter!("collector_messages_dropped_total", "venue" => v),
            gaps: counter!("collector_sequence_gaps_total", "venue" => v),
            gap_size: histogram!("collector_sequence_gap_size", "venue" => v),
            behind: counter!("collector_sequence_duplicates_total", "venue" => v),
        }
    }

    /// Counts the events of one frame.
    pub fn count(&self, events: &[Event]) {
        for e in events {
            match e {
                Event::Trade(_) => self.trades.increment(1),
                Event::Quote(_) => self.quotes.increment(1),
                Event::Candle(_) => self.candles.increment(1),
                Event::Book(_) => self.books.increment(1),
                Event::Reject(r) => self.reject(r.reason),
                // Counted where they are made (`crate::quality`).
                Event::Quality(_) => {}
            }
        }
    }

    fn reject(&self, reason: RejectReason) {
        // Rejects are rare: a lookup per reject is fine.
        counter!("tickrec_rejects_total", "venue" => self.venue.as_str(), "reason" => reason.as_str())
            .increment(1);
    }
}
