//! `SHOW SERVERS`: one row per open server connection, with PgBouncer
//! 1.25's columns in its order, then its shard. Not recorded yet (NULL):
//! the local end, the last request time and the paired client.

use super::result::{text, Kind, ResultSet};
use super::show_clients::format_time;
use crate::context::Context;
use std::sync::atomic::Ordering;

/// `SHOW SERVERS`.
pub fn servers(ctx: &Context) -> ResultSet {
    let mut r = ResultSet::new(&[
        ("type", Kind::Text),
        ("user", Kind::Text),
        ("database", Kind::Text),
        ("replication", Kind::Text),
        ("state", Kind::Text),
        ("addr", Kind::Text),
        ("port", Kind::Int),
        ("local_addr", Kind::Text),
        ("local_port", Kind::Int),
        ("connect_time", Kind::Text),
        ("request_time", Kind::Text),
        ("wait", Kind::Int),
        ("wait_us", Kind::Int),
        ("close_needed", Kind::Int),
        ("ptr", Kind::Text),
        ("link", Kind::Text),
        ("remote_pid", Kind::Int),
        ("tls", Kind::Text),
        ("application_name", Kind::Text),
        ("prepared_statements", Kind::Int),
        ("id", Kind::Int),
        ("shard", Kind::Int),
    ]);
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
            // The local end and the paired client are not recorded.
            None,
            None,
            text(format_time(s.connected_at)),
            None,
            text(0),
            text(0),
            text(0),
            text(format!("{:x}", s.pid)),
            None,
            text(s.pid),
            text(""),
            text(""),
            text(0),
            text(s.pid),
            text(s.shard),
        ]);
    }
    r
}
