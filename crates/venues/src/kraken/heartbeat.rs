//! Kraken v2 liveness: the server sends `{"channel":"heartbeat"}` about once a second when no
//! other data flows, and answers our `{"method":"ping"}` with a `pong`.

use std::time::Duration;

use crate::{ClientPing, HeartbeatRules};

/// Kraken v2 heartbeat rules.
pub fn rules() -> HeartbeatRules {
    HeartbeatRules {
        client_ping: ClientPing::AppMessage,
        ping_interval: Duration::from_secs(15),
        pong_timeout: Duration::from_secs(5),
        // Heartbeats arrive ~1/s; ten silent seconds is a dead connection.
        idle_timeout: Duration::from_secs(10),
        max_connection_age: None,
    }
}

/// `{"method":"ping","req_id":N}`.
pub fn ping(req_id: u64) -> String {
    format!(r#"{{"method":"ping","req_id":{req_id}}}"#)
}
