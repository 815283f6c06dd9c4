//! `SHOW SERVERS`: one row per open server connection, with PgBouncer
//! 1.25's columns and types in its order, then its shard. `close_needed`
//! is 1 once RECONNECT (or a failover) made the connection one to close
//! when its client releases it (see WAIT_CLOSE). `local_addr`/`local_port`
//! are the proxy's end (NULL over TLS). Not recorded (NULL): the last
//! request time and the paired client.

use super::result::{text, Kind, ResultSet};
use super::show_clients::{format_time, SOCKET_COLUMNS};
use crate::context::Context;
use std::sync::atomic::Ordering;

/// `SHOW SERVERS`.
pub fn servers(ctx: &Context) -> ResultSet {
    let mut columns = SOCKET_COLUMNS.to_vec();
    columns.extend([("shard", Kind::Int4)]);
    let mut r = ResultSet::new(&columns);
    let mut servers = ctx.servers.entries();
    servers.sort_by_key(|s| (s.shard, s.connected_at));
    for s in servers {
        let state = if s.in_use.load(Ordering::Relaxed) {
            "active"
        } else {
            "idle"
        };
        r.row(vec![
            text("S"),
            text(&s.user),
            text(&s.database),
            text("none"),
            text(state),
            text(s.addr.ip()),
            text(s.addr.port()),
            s.local_addr.map(|a| a.ip().to_string()),
            s.local_addr.map(|a| a.port().to_string()),
            text(format_time(s.connected_at)),
            None,
            text(0),
            text(0),
            text(i32::from(s.close_needed())),
            text(format!("{:x}", s.pid)),
            None,
            text(s.pid),
            // TLS details and the server's application_name are not kept.
            text(""),
            text(""),
            text(0),
            text(s.pid),
            text(s.shard),
        ]);
    }
    r
}
