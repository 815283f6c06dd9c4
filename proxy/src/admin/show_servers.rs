//! `SHOW SERVERS`: one row per open server connection, with PgBouncer's
//! main columns plus its shard.

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
        ("state", Kind::Text),
        ("addr", Kind::Text),
        ("port", Kind::Int),
        ("connect_time", Kind::Text),
        ("remote_pid", Kind::Int),
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
            text(state),
            text(s.addr.ip()),
            text(s.addr.port()),
            text(format_time(s.connected_at)),
            text(s.pid),
            text(s.shard),
        ]);
    }
    r
}
