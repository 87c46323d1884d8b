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
            dropped: counter!("collector_messages_dropped_total", "venue" => v),
            gaps: counter!("collector_sequence_gaps_total", "venue" => v),
            gap_size: histogram!("collector_sequence_gap_size", "venue" => v),
            behind: counter!("collector_sequence_duplicates_total", "venue" => v),
        }
    }

    /// Counts the reject rows of one frame. (Data messages are counted per stream, with their
    /// symbol, by [`crate::streams`]; data-quality events where they are made.)
    pub fn count(&self, events: &[Event]) {
        for e in events {
            if let Event::Reject(r) = e {
                self.reject(r.reason);
            }
        }
    }

    fn reject(&self, reason: RejectReason) {
        // Rejects are rare: a lookup per reject is fine.
        counter!("tickrec_rejects_total", "venue" => self.venue.as_str(), "reason" => reason.as_str())
            .increment(1);
    }
}
