//! Upbit liveness: the server closes a connection after about 120 s without traffic in either
//! direction; it answers WebSocket pings (and the text `PING`, with `{"status":"UP"}`).

use std::time::Duration;

use crate::{ClientPing, HeartbeatRules};

/// Upbit heartbeat rules.
pub fn rules() -> HeartbeatRules {
    HeartbeatRules {
        // A WebSocket ping frame counts as traffic and needs no application parsing.
        client_ping: ClientPing::WsFrame,
        ping_interval: Duration::from_secs(30),
        pong_timeout: Duration::from_secs(10),
        // Quiet markets can go a minute without a trade; our pongs arrive every 30 s.
        idle_timeout: Duration::from_secs(75),
        max_connection_age: None,
    }
}
