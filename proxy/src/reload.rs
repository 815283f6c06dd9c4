//! RELOAD / SIGHUP: re-read the configuration file. Pool settings apply at
//! once to every pool, without dropping a client; anything else that
//! changed is reported as needing a restart; an invalid file changes
//! nothing and the error names the problem.

use crate::config::{load_file, Config};
use crate::context::{pool_config, Context};

/// What a reload did.
#[derive(Debug, Default)]
pub struct ReloadReport {
    /// Settings applied, e.g. `pool.size 20 -> 40`.
    pub applied: Vec<String>,
    /// Changed settings that take effect only after a restart.
    pub need_restart: Vec<String>,
}

/// Re-reads the file the proxy was started from and applies it.
pub fn reload(ctx: &Context) -> Result<ReloadReport, String> {
    let path = ctx
        .config_path
        .get()
        .ok_or("the proxy was not started from a configuration file; nothing to reload")?;
    let new = load_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut report = ReloadReport::default();
    let old_pool = ctx
        .pool_settings
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let p = &new.pool;
    for (key, before, after) in [
        ("pool.size", old_pool.size.to_string(), p.size.to_string()),
        (
            "pool.min_idle",
            old_pool.min_idle.to_string(),
            p.min_idle.to_string(),
        ),
        (
            "pool.idle_timeout",
            format!("{:?}", old_pool.idle_timeout),
            format!("{:?}", p.idle_timeout),
        ),
        (
            "pool.max_lifetime",
            format!("{:?}", old_pool.max_lifetime),
            format!("{:?}", p.max_lifetime),
        ),
        (
            "pool.checkout_timeout",
            format!("{:?}", old_pool.checkout_timeout),
            format!("{:?}", p.checkout_timeout),
        ),
        (
            "pool.health_check_after",
            format!("{:?}", old_pool.health_check_after),
            format!("{:?}", p.health_check_after),
        ),
    ] {
        if before != after {
            report.applied.push(format!("{key} {before} -> {after}"));
        }
    }
    if !report.applied.is_empty() {
        let settings = pool_config(p);
        for user in ctx.users.values() {
            for pool in &user.shard_pools {
                pool.reconfigure(settings.clone());
            }
        }
        *ctx.pool_settings.write().unwrap_or_else(|e| e.into_inner()) = p.clone();
    }
    report.need_restart = restart_only_changes(&ctx.config, &new);
    Ok(report)
}

fn restart_only_changes(old: &Config, new: &Config) -> Vec<String> {
    let mut changed = Vec::new();
    let mut check = |key: &str, a: String, b: String| {
        if a != b {
            changed.push(format!("{key} (needs a restart)"));
        }
    };
    check(
        "proxy.listen",
        old.proxy.listen.clone(),
        new.proxy.listen.clone(),
    );
    check(
        "proxy.database",
        old.proxy.database.clone(),
        new.proxy.database.clone(),
    );
    check(
        "proxy.pool_mode",
        old.proxy.pool_mode.to_string(),
        new.proxy.pool_mode.to_string(),
    );
    check(
        "pool.connect_timeout",
        format!("{:?}", old.pool.connect_timeout),
        format!("{:?}", new.pool.connect_timeout),
    );
    check(
        "users",
        format!("{:?}", old.users),
        format!("{:?}", new.users),
    );
    check(
        "shards",
        format!("{:?}", old.shards),
        format!("{:?}", new.shards),
    );
    check(
        "sharding",
        format!("{:?}", old.sharding),
        format!("{:?}", new.sharding),
    );
    check(
        "admin",
        format!("{:?}", old.admin),
        format!("{:?}", new.admin),
    );
    check(
        "metrics.listen",
        format!("{:?}", old.metrics.listen),
        format!("{:?}", new.metrics.listen),
    );
    changed
}
