//! `SHOW CONFIG`: the settings in force, as key/value/default/changeable.

use super::result::{text, Kind, ResultSet};
use crate::config::{PoolSection, ProxySection};
use crate::context::Context;

fn duration(d: Option<std::time::Duration>) -> String {
    d.map_or_else(|| "off".to_string(), |d| format!("{}ms", d.as_millis()))
}

/// `SHOW CONFIG`.
pub fn config(ctx: &Context) -> ResultSet {
    let c = &ctx.config;
    let (dp, dpool) = (ProxySection::default(), PoolSection::default());
    let mut r = ResultSet::new(&[
        ("key", Kind::Text),
        ("value", Kind::Text),
        ("default", Kind::Text),
        ("changeable", Kind::Text),
    ]);
    let rows: Vec<(&str, String, String, &str)> = vec![
        (
            "proxy.listen",
            c.proxy.listen.clone(),
            dp.listen.clone(),
            "no",
        ),
        (
            "proxy.database",
            c.proxy.database.clone(),
            dp.database.clone(),
            "no",
        ),
        (
            "proxy.pool_mode",
            c.proxy.pool_mode.to_string(),
            dp.pool_mode.to_string(),
            "no",
        ),
        (
            "proxy.max_message_size",
            c.proxy.max_message_size.to_string(),
            dp.max_message_size.to_string(),
            "no",
        ),
        (
            "proxy.workers",
            c.proxy.workers.to_string(),
            dp.workers.to_string(),
            "no",
        ),
        (
            "proxy.auth_timeout",
            duration(Some(c.proxy.auth_timeout)),
            duration(Some(dp.auth_timeout)),
            "no",
        ),
        (
            "pool.size",
            c.pool.size.to_string(),
            dpool.size.to_string(),
            "no",
        ),
        (
            "pool.min_idle",
            c.pool.min_idle.to_string(),
            dpool.min_idle.to_string(),
            "no",
        ),
        (
            "pool.idle_timeout",
            duration(c.pool.idle_timeout),
            duration(dpool.idle_timeout),
            "no",
        ),
        (
            "pool.max_lifetime",
            duration(c.pool.max_lifetime),
            duration(dpool.max_lifetime),
            "no",
        ),
        (
            "pool.checkout_timeout",
            duration(Some(c.pool.checkout_timeout)),
            duration(Some(dpool.checkout_timeout)),
            "no",
        ),
        (
            "pool.health_check_after",
            duration(Some(c.pool.health_check_after)),
            duration(Some(dpool.health_check_after)),
            "no",
        ),
        (
            "pool.connect_timeout",
            duration(Some(c.pool.connect_timeout)),
            duration(Some(dpool.connect_timeout)),
            "no",
        ),
        (
            "sharding.key_columns",
            c.sharding.key_columns.join(","),
            "user_id".into(),
            "no",
        ),
        (
            "sharding.shards",
            c.shards.len().to_string(),
            "".into(),
            "no",
        ),
        (
            "sharding.global_tables",
            c.sharding.global_tables.join(","),
            "".into(),
            "no",
        ),
        (
            "metrics.listen",
            c.metrics.listen.clone().unwrap_or_default(),
            "".into(),
            "no",
        ),
    ];
    for (key, value, default, changeable) in rows {
        r.row(vec![
            text(key),
            text(value),
            text(default),
            text(changeable),
        ]);
    }
    r
}
