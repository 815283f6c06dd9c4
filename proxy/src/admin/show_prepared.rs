//! `SHOW PREPARED_STATEMENTS`: the proxy-wide statement registry — each
//! distinct (text, parameter types) a client prepared, under the name the
//! proxy prepares it with on server connections (`sw_<id>`). PgBouncer
//! 1.25 has no such command (it counts prepared statements per connection
//! in SHOW CLIENTS / SERVERS), so the columns are shardwire's own.

use super::result::{text, Kind, ResultSet};
use crate::context::Context;

/// `SHOW PREPARED_STATEMENTS`.
pub fn prepared_statements(ctx: &Context) -> ResultSet {
    let mut r = ResultSet::new(&[
        ("name", Kind::Text),
        ("sql", Kind::Text),
        ("parameter_types", Kind::Text),
        ("id", Kind::Int),
    ]);
    for (id, sql, types) in ctx.statements.list() {
        let types: Vec<String> = types.iter().map(u32::to_string).collect();
        r.row(vec![
            text(format!("sw_{id}")),
            text(sql),
            text(types.join(",")),
            text(id),
        ]);
    }
    r
}
