//! The client messages of an ordinary transaction handled without a
//! future: a simple Query, or Bind/Describe/Execute/Sync/Flush, on one shard, when a
//! server connection is attached or one is ready in the pool. Most reads
//! take this path; the full handler (`client_messages`, a boxed future
//! that can wait for a checkout, a failover, a parameter sync) takes over
//! at the first message this path does not settle, which it leaves
//! unread. Both paths share the steps (`query_prelude`, `forward_bind`,
//! …), so a message is handled the same way whichever path takes it.

use super::{Session, SessionEnd};
use crate::protocol::frame::peek_header;
use crate::protocol::reader::BodyReader;

/// A Describe body naming a statement or a portal, NUL-terminated.
fn well_formed_describe(body: &[u8]) -> bool {
    matches!(body.first(), Some(b'S' | b'P')) && memchr::memchr(0, &body[1..]).is_some()
}

impl Session {
    /// Handles the complete messages at the head of the client's input
    /// while each can be handled at once. `Ok(true)`: none is left (an
    /// incomplete one may follow); `Ok(false)`: the rest needs the full
    /// handler.
    pub(super) fn process_client_input_now(&mut self) -> Result<bool, SessionEnd> {
        if self.stalled.is_some() || self.sharded() {
            return Ok(false);
        }
        loop {
            let limit = self.ctx.config.proxy.max_message_size;
            let header = match peek_header(&self.client_in, limit) {
                Ok(Some(h)) => h,
                Ok(None) => return Ok(true),
                // The full handler reports it.
                Err(_) => return Ok(false),
            };
            if self.client_in.len() < header.frame_len
                || self.skip_until_sync
                || !self.settles_now(header.tag, &self.client_in[5..header.frame_len])
                || !self.attach_now()
            {
                return Ok(false);
            }
            let frame = self.client_in.split_to(header.frame_len);
            let body = &frame[5..];
            match header.tag {
                b'Q' => {
                    if self.query_prelude(body)?.is_some() {
                        self.forward_query(&frame);
                    }
                }
                b'B' => {
                    if let Some(bind) = self.bind_prelude(body)? {
                        let (name, name_at) = (bind.statement, bind.statement_at);
                        self.forward_bind(&frame, name, name_at);
                    }
                }
                b'D' => {
                    let mut r = BodyReader::new(body);
                    let kind = r.u8().unwrap_or(0);
                    let name_at = r.position();
                    let name = r.cstr().unwrap_or_default();
                    self.forward_describe(&frame, kind, name, name_at)?;
                }
                b'E' => self.forward_execute(&frame),
                b'S' => {
                    self.portal_result = None;
                    self.local_execute = None;
                    self.forward_sync(&frame);
                }
                // Flush: `settles_now` admits nothing else.
                _ => self.forward(&frame),
            }
        }
    }

    /// Whether a message with `tag` and `body` is one this path handles in
    /// the session's present state: nothing answered locally, held or
    /// pending that the full handler would deal with first; for a Sync or
    /// a Flush a server already attached (without one the full handler
    /// answers a Sync itself and drops a Flush, checking nothing out); and
    /// a Query or a Bind that would check a connection out only if the
    /// full handler would too (it refuses one over the user's statement
    /// rate, and answers a `DEALLOCATE` itself, before checking out).
    fn settles_now(&self, tag: u8, body: &[u8]) -> bool {
        let attached = self.server.is_some();
        match tag {
            b'Q' => {
                attached
                    || (self.user.rate.is_none()
                        && !super::client_messages::starts_with_deallocate(body))
            }
            b'B' => attached || self.user.rate.is_none(),
            // A Describe the full handler would not answer itself: not of
            // a portal it holds the result of, well formed.
            b'D' | b'E' => {
                self.portal_result.is_none()
                    && self.local_execute.is_none()
                    && (tag == b'E' || well_formed_describe(body))
            }
            b'S' => attached && self.pending_describe.is_none(),
            b'H' => attached,
            _ => false,
        }
    }
}
