//! A refusal by the proxy must fail on the server too. When the proxy
//! refuses a statement while the session holds a server (say the third
//! statement of a pipelined batch routes to another shard), the client sees
//! an error, as if PostgreSQL had raised it; but the server saw the earlier
//! statements succeed, so at the next Sync it would commit the implicit
//! transaction, and a COMMIT of an explicit one would commit it. PostgreSQL
//! aborts both after an error. So the proxy sends the server a request that
//! fails (an Execute of a portal that does not exist, or a simple query
//! raising an error) and swallows that error: the server then discards the
//! batch at Sync, or marks the transaction failed (COMMIT answers ROLLBACK).

use super::expect::Expect;
use super::Session;
use crate::protocol::builder;
use bytes::{BufMut, BytesMut};

/// A portal name no client statement uses.
const NO_SUCH_PORTAL: &[u8] = b"shardwire refused a statement";

/// A simple query that always fails, with a message naming the cause in
/// the server's log.
const FAILING_QUERY: &str =
    "DO $shardwire$ BEGIN RAISE EXCEPTION 'shardwire refused a statement in this transaction'; END $shardwire$";

impl Session {
    /// After an extended-protocol refusal: makes the attached server fail
    /// before the client's Sync, so nothing since the last Sync commits.
    pub(super) fn fail_server_batch(&mut self) {
        if self.copy_in_active {
            return;
        }
        let Some(a) = self.server.as_mut() else {
            return;
        };
        let mut out = BytesMut::new();
        builder::frame(&mut out, b'E', |b| {
            builder::put_cstr(b, NO_SUCH_PORTAL);
            b.put_i32(0);
        });
        a.conn.send(&out);
        a.conn.in_sync = false;
        self.expect.push(Expect::InjectedFailure);
    }

    /// After a simple-query refusal inside a transaction on the attached
    /// server: fails the transaction there. Returns whether it did (the
    /// client's ReadyForQuery must then say 'E').
    pub(super) fn fail_server_transaction(&mut self) -> bool {
        let Some(a) = self.server.as_mut() else {
            return false;
        };
        if a.conn.status != b'T' || self.copy_in_active {
            return false;
        }
        let mut out = BytesMut::new();
        builder::query(&mut out, FAILING_QUERY);
        a.conn.send(&out);
        a.conn.in_sync = false;
        self.expect.push(Expect::InjectedQuery);
        true
    }
}
