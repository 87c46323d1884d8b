//! Binance liveness: the server pings every 20 s and drops us after 60 s without a pong
//! (tungstenite answers pings automatically); connections are cut at 24 h, so we leave first.

use std::time::Duration;

use crate::{ClientPing, HeartbeatRules};

/// Binance spot heartbeat rules.
pub fn rules() -> HeartbeatRules {
    HeartbeatRules {
        // An unsolicited ping every 15 s lets us notice a dead TCP path ourselves; it counts
        // towards the 5 messages/s budget, which this stays far below.
        client_ping: ClientPing::WsFrame,
        ping_interval: Duration::from_secs(15),
        pong_timeout: Duration::from_secs(5),
        // The server pings every 20 s even on a quiet stream.
        idle_timeout: Duration::from_secs(45),
        max_connection_age: Some(Duration::from_secs(23 * 3600 + 50 * 60)),
    }
}
