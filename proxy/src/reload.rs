//! RELOAD / SIGHUP: re-read the configuration file. Pool settings, users
//! (added, changed, removed), route rules and replica lag bounds apply at
//! once, without dropping a client (sessions keep the user entry they
//! logged in with); anything else that changed is reported as needing a
//! restart; an invalid file changes nothing and the error names the
//! problem. Every attempt is counted on /metrics.

use crate::config::{load_file, Config};
use crate::context::{pool_config, Context};
use crate::replicas::ReplicaSettings;
use crate::users::{build_entry, PoolParts, UserEntry};
use std::collections::HashMap;

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
    let result = reload_file(ctx);
    let outcome = if result.is_ok() { "ok" } else { "failed" };
    ctx.metrics.reloads.with_label_values(&[outcome]).inc();
    result
}

fn reload_file(ctx: &Context) -> Result<ReloadReport, String> {
    let path = ctx
        .config_path
        .get()
        .ok_or("the proxy was not started from a configuration file; nothing to reload")?;
    let new = load_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Certificates are re-read even when the paths did not change (a
    // rotated file applies to the next handshake); a bad one refuses the
    // whole reload before anything is applied.
    let client_tls = crate::tls::load_acceptor(&new.tls)?;
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
        apply_pool_settings(ctx, p);
    }
    if new.tls.mode != crate::config::ClientTlsMode::Disable || ctx.config.tls != new.tls {
        report
            .applied
            .push("[tls]: certificates re-read".to_owned());
    }
    *ctx.client_tls.write().unwrap_or_else(|e| e.into_inner()) = client_tls;
    apply_users(ctx, &new, &mut report);
    let replica = ReplicaSettings::from_config(&new);
    if *ctx.replica_settings() != replica {
        report
            .applied
            .push("[[routes]] and replica_cluster lag bounds".to_owned());
        *ctx.replica_settings
            .write()
            .unwrap_or_else(|e| e.into_inner()) = std::sync::Arc::new(replica);
    }
    report.need_restart = restart_only_changes(&ctx.config, &new);
    Ok(report)
}

/// Applies `p` to every shard pool and records it as the settings in force
/// (RELOAD, and the console's SET).
pub fn apply_pool_settings(ctx: &Context, p: &crate::config::PoolSection) {
    let settings = pool_config(p);
    for user in ctx.users.values() {
        for pool in &user.shard_pools {
            pool.reconfigure(settings.clone());
        }
    }
    *ctx.pool_settings.write().unwrap_or_else(|e| e.into_inner()) = p.clone();
}

/// Installs the users of `new`: unchanged ones keep their entry (and
/// pools), added and changed ones get new entries; sessions already logged
/// in keep theirs until they leave.
fn apply_users(ctx: &Context, new: &Config, report: &mut ReloadReport) {
    let current: HashMap<String, std::sync::Arc<UserEntry>> = ctx
        .users
        .values()
        .map(|u| (u.name.to_string(), u))
        .collect();
    // New entries are built against the running topology with the new
    // users and pool settings.
    let mut config = ctx.config.clone();
    config.users = new.users.clone();
    config.pool = new.pool.clone();
    let parts = PoolParts {
        config: &config,
        metrics: &ctx.metrics,
        servers: &ctx.servers,
        topology: &ctx.topology,
        server_tls: &ctx.server_tls,
    };
    let (mut added, mut changed) = (Vec::new(), Vec::new());
    let entries: Vec<_> = new
        .users
        .iter()
        .map(|u| match current.get(&u.name) {
            Some(e) if format!("{:?}", e.source) == format!("{u:?}") => e.clone(),
            Some(_) => {
                changed.push(u.name.clone());
                build_entry(u, &parts)
            }
            None => {
                added.push(u.name.clone());
                build_entry(u, &parts)
            }
        })
        .collect();
    // Users looked up by [auth_query] are not in the file: keep them.
    let mut entries = entries;
    entries.extend(
        current
            .values()
            .filter(|e| ctx.auth_query_cache.knows(&e.name))
            .filter(|e| !new.users.iter().any(|u| *u.name == *e.name))
            .cloned(),
    );
    let removed: Vec<String> = current
        .keys()
        .filter(|name| !new.users.iter().any(|u| &u.name == *name))
        .filter(|name| !ctx.auth_query_cache.knows(name))
        .cloned()
        .collect();
    for u in &new.users {
        // Listed now: no longer an [auth_query] user.
        ctx.auth_query_cache.forget(&u.name);
    }
    if added.is_empty() && changed.is_empty() && removed.is_empty() {
        return;
    }
    ctx.users.replace(entries);
    report.applied.push(format!(
        "users: added {added:?}, changed {changed:?}, removed {removed:?}"
    ));
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
        "proxy limits (max_client_connections, max_unauthenticated, auth_timeout)",
        format!(
            "{} {} {:?}",
            old.proxy.max_client_connections, old.proxy.max_unauthenticated, old.proxy.auth_timeout
        ),
        format!(
            "{} {} {:?}",
            new.proxy.max_client_connections, new.proxy.max_unauthenticated, new.proxy.auth_timeout
        ),
    );
    check(
        "auth_query",
        format!("{:?}", old.auth_query),
        format!("{:?}", new.auth_query),
    );
    check(
        "server_tls",
        format!("{:?}", old.server_tls),
        format!("{:?}", new.server_tls),
    );
    check(
        "replication",
        format!("{:?}", old.replication),
        format!("{:?}", new.replication),
    );
    check(
        "replica_cluster.nodes",
        format!("{:?}", old.replica_cluster.nodes),
        format!("{:?}", new.replica_cluster.nodes),
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
