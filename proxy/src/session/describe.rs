//! Describe of a prepared statement while the session holds no server
//! (sharded clusters, transaction pooling). Drivers such as asyncpg and pgx
//! prepare and describe a statement (Parse, Describe, then Flush or Sync)
//! before they bind its parameters; the shard is known only at Bind. So the
//! Describe must neither attach the session to a shard nor open the held
//! transaction there: it is answered from a connection of any shard (they
//! share the schema), borrowed for the one round trip, and the session
//! stays unattached until the Bind routes it.

use super::Session;
use crate::protocol::builder;
use crate::protocol::{ErrorResponse, SqlState};
use crate::scatter::execute::run_on_shards;
use bytes::{BufMut, BytesMut};

impl Session {
    /// Answers Describe('S') of the client's statement `name` (empty: the
    /// unnamed one) from any shard: ParameterDescription, then
    /// RowDescription or NoData, or the server's error.
    pub(super) async fn describe_unattached(&mut self, name: &[u8]) {
        let stmt = if name.is_empty() {
            self.unnamed.as_ref().and_then(|u| u.statement.clone())
        } else {
            self.statements.get(name).cloned()
        };
        let Some(stmt) = stmt else {
            self.refuse_extended(ErrorResponse::error(
                SqlState::FromServer(*b"26000"),
                format!(
                    "prepared statement \"{}\" does not exist",
                    String::from_utf8_lossy(name)
                ),
            ));
            return;
        };
        let mut request = BytesMut::new();
        builder::frame(&mut request, b'P', |b| {
            builder::put_cstr(b, b"");
            builder::put_cstr(b, stmt.sql.as_bytes());
            b.put_i16(stmt.param_types.len() as i16);
            for t in &stmt.param_types {
                b.put_u32(*t);
            }
        });
        builder::frame(&mut request, b'D', |b| {
            b.put_u8(b'S');
            builder::put_cstr(b, b"");
        });
        builder::frame(&mut request, b'S', |_| {});
        let shard = self.any_shard();
        let reply = match run_on_shards(&self.ctx, &self.user, &[shard], &request, &self.wanted)
            .await
            .map(|mut replies| replies.pop())
        {
            Ok(Some(r)) => r.reply,
            Ok(None) => {
                return self.refuse_extended(ErrorResponse::error(
                    SqlState::SystemError,
                    format!("shard {shard} gave no answer to a Describe"),
                ))
            }
            Err(e) => return self.refuse_extended(e),
        };
        if let Some((_, frame)) = reply.error {
            self.emit(frame);
            self.skip_until_sync = true;
            return;
        }
        let mut out = BytesMut::new();
        if let Some(t) = &reply.param_description {
            out.extend_from_slice(t);
        }
        match &reply.row_description {
            Some(rd) => out.extend_from_slice(rd),
            None => builder::frame(&mut out, b'n', |_| {}),
        }
        self.emit(out.freeze());
    }
}
