//! Coinbase Advanced Trade liveness: the `heartbeats` channel (subscribed on every connection)
//! pushes one message per second and keeps quiet channels from being closed after 60–90 s. The
//! server does not answer application pings; WebSocket ping frames are answered.

use std::time::Duration;

use crate::{ClientPing, HeartbeatRules};

/// Coinbase heartbeat rules.
pub fn rules() -> HeartbeatRules {
    HeartbeatRules {
        client_ping: ClientPing::WsFrame,
        ping_interval: Duration::from_secs(20),
        pong_timeout: Duration::from_secs(10),
        // Heartbeats arrive every second; ten silent seconds is a dead connection.
        idle_timeout: Duration::from_secs(10),
        max_connection_age: None,
    }
}
