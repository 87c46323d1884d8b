//! Bybit liveness: the client sends `{"op":"ping"}` every 20 s as Bybit recommends; the server
//! cuts a connection after 10 minutes without ping or data.

use std::time::Duration;

use crate::{ClientPing, HeartbeatRules};

/// Bybit heartbeat rules.
pub fn rules() -> HeartbeatRules {
    HeartbeatRules {
        client_ping: ClientPing::AppMessage,
        ping_interval: Duration::from_secs(20),
        pong_timeout: Duration::from_secs(10),
        // Our pings are answered every 20 s even on a quiet market.
        idle_timeout: Duration::from_secs(45),
        max_connection_age: None,
    }
}

/// `{"req_id":"ping-N","op":"ping"}`.
pub fn ping(req_id: u64) -> String {
    format!(r#"{{"req_id":"ping-{req_id}","op":"ping"}}"#)
}
