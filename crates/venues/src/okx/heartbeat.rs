//! OKX liveness: the server closes a connection that received nothing for 30 s (close code 4004),
//! so the client sends the text frame `ping` well inside that and expects the text `pong`.

use std::time::Duration;

use crate::{ClientPing, HeartbeatRules};

/// The keep-alive message: a bare text frame, not JSON and not a WebSocket ping.
pub const PING: &str = "ping";
/// The server's reply to [`PING`].
pub const PONG: &str = "pong";

/// OKX heartbeat rules.
pub fn rules() -> HeartbeatRules {
    HeartbeatRules {
        client_ping: ClientPing::AppMessage,
        // Below the 30 s server limit with room for a slow pong.
        ping_interval: Duration::from_secs(20),
        pong_timeout: Duration::from_secs(5),
        // Our own pings make the server answer every 20 s even on a quiet market.
        idle_timeout: Duration::from_secs(30),
        max_connection_age: None,
    }
}
