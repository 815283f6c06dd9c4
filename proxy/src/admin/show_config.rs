//! `SHOW CONFIG`: the settings in force, as key/value/default/changeable
//! (changeable = applied by RELOAD without a restart).

use super::result::{text, Kind, ResultSet};
use crate::config::{PoolSection, ProxySection};
use crate::context::Context;

fn duration(d: Option<std::time::Duration>) -> String {
    d.map_or_else(|| "off".to_string(), |d| format!("{}ms", d.as_millis()))
}

/// `SHOW CONFIG`.
pub fn config(ctx: &Context) -> ResultSet {
    let c = &ctx.config;
    let pool = ctx
        .pool_settings
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let (dp, dpool) = (ProxySection::default(), PoolSection::default());
    let mut r = ResultSet::new(&[
        ("key", Kind::Text),
        ("value", Kind::Text),
        ("default", Kind::Text),
        ("changeable", Kind::Text),
    ]);
    let some = |d| duration(Some(d));
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
            some(c.proxy.auth_timeout),
            some(dp.auth_timeout),
            "no",
        ),
        (
            "pool.size",
            pool.size.to_string(),
            dpool.size.to_string(),
            "yes",
        ),
        (
            "pool.min_idle",
            pool.min_idle.to_string(),
            dpool.min_idle.to_string(),
            "yes",
        ),
        (
            "pool.idle_timeout",
            duration(pool.idle_timeout),
            duration(dpool.idle_timeout),
            "yes",
        ),
        (
            "pool.max_lifetime",
            duration(pool.max_lifetime),
            duration(dpool.max_lifetime),
            "yes",
        ),
        (
            "pool.checkout_timeout",
            some(pool.checkout_timeout),
            some(dpool.checkout_timeout),
            "yes",
        ),
        (
            "pool.health_check_after",
            some(pool.health_check_after),
            some(dpool.health_check_after),
            "yes",
        ),
        (
            "pool.connect_timeout",
            some(c.pool.connect_timeout),
            some(dpool.connect_timeout),
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
