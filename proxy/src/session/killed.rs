//! The last word of a session the console's `KILL_CLIENT` ended: its task
//! is aborted, and as the session is dropped it tells the client why
//! (FATAL 57P01) when the client's stream is at a message boundary — a
//! non-blocking write, never waited for.

use super::Session;
use crate::protocol::{ErrorResponse, SqlState};
use bytes::BytesMut;

impl Session {
    /// Writes the KILL_CLIENT error if it can go out whole, now.
    pub(super) fn say_killed(&mut self) {
        if !self.to_client.is_empty() || self.passthrough != 0 {
            // Mid-message: the client only sees the connection close.
            return;
        }
        let mut out = BytesMut::new();
        ErrorResponse::fatal(
            SqlState::AdminShutdown,
            "terminating connection due to administrator command (KILL_CLIENT)",
        )
        .with_hint("an administrator ended this session; reconnect to continue")
        .encode(&mut out);
        let _ = self.client.try_write(&out);
    }
}
