//! `[auth_query]`: a user not listed in `[[users]]` is looked up at login
//! on shard 0's current primary through a dedicated connection (the
//! query returns the stored SCRAM verifier). A found user gets an entry
//! like a configured verifier-only user (SCRAM passthrough logs it in to
//! the servers) and is cached for `cache_ttl`; then it is looked up again
//! at its next login. A user the query does not find gets the same
//! failed exchange and `28P01` as any unknown user.

use crate::config::{AuthMethod, User};
use crate::context::Context;
use crate::users::{build_entry, PoolParts, UserEntry};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bound on one lookup (connect + query).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// When each looked-up user was fetched.
#[derive(Default)]
pub struct AuthQueryCache {
    fetched: Mutex<HashMap<String, Instant>>,
    /// Names the query did not find, and when (no lookup again until the
    /// TTL passes: unknown names cannot make shardwire hammer shard 0).
    missing: Mutex<HashMap<String, Instant>>,
}

impl AuthQueryCache {
    fn fresh(&self, user: &str, ttl: Duration) -> bool {
        self.fetched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(user)
            .is_some_and(|t| t.elapsed() < ttl)
    }

    fn mark(&self, user: &str) {
        self.fetched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.to_owned(), Instant::now());
    }

    fn missing_recently(&self, user: &str, ttl: Duration) -> bool {
        let mut missing = self.missing.lock().unwrap_or_else(|p| p.into_inner());
        if missing.len() > 10_000 {
            missing.retain(|_, t| t.elapsed() < ttl);
        }
        missing.get(user).is_some_and(|t| t.elapsed() < ttl)
    }

    fn mark_missing(&self, user: &str) {
        self.missing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.to_owned(), Instant::now());
    }

    /// Forgets `user` (RELOAD listed it in `[[users]]`); true if it was
    /// looked up before.
    pub fn forget(&self, user: &str) -> bool {
        self.fetched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(user)
            .is_some()
    }

    /// Whether `user` came from the auth query (not from `[[users]]`).
    pub fn knows(&self, user: &str) -> bool {
        self.fetched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(user)
    }
}

/// The entry for `name`: a configured user, a cached looked-up one, or a
/// fresh lookup. None: unknown (the caller runs the failing exchange).
pub async fn resolve(ctx: &Context, name: &str) -> Option<Arc<UserEntry>> {
    let cached = ctx.users.get(name);
    let aq = &ctx.config.auth_query;
    let Some(query) = aq.query.as_deref() else {
        return cached;
    };
    let looked_up = ctx.auth_query_cache.knows(name);
    if cached.is_some() && (!looked_up || ctx.auth_query_cache.fresh(name, aq.cache_ttl)) {
        return cached;
    }
    if cached.is_none() && ctx.auth_query_cache.missing_recently(name, aq.cache_ttl) {
        return None;
    }
    match tokio::time::timeout(LOOKUP_TIMEOUT, lookup(ctx, query, name)).await {
        Ok(Ok(Some(verifier))) => {
            if let Some(entry) =
                cached.filter(|e| e.source.scram_verifier.as_deref() == Some(&verifier))
            {
                ctx.auth_query_cache.mark(name);
                return Some(entry);
            }
            let user = User {
                name: name.to_owned(),
                password: None,
                scram_verifier: Some(verifier),
                server_password: None,
                auth: AuthMethod::ScramSha256,
                max_connections: None,
                rate_limit: None,
            };
            if crate::auth::scram::ScramVerifier::parse(
                user.scram_verifier.as_deref().unwrap_or(""),
            )
            .is_err()
            {
                tracing::warn!(
                    user = name,
                    "auth_query returned a password that is not a SCRAM verifier; login refused"
                );
                return None;
            }
            let parts = PoolParts {
                config: &ctx.config,
                metrics: &ctx.metrics,
                servers: &ctx.servers,
                topology: &ctx.topology,
                server_tls: &ctx.server_tls,
            };
            let entry = build_entry(&user, &parts);
            ctx.users.update(|users| {
                // A RELOAD may have listed the user meanwhile: it wins.
                if !users.contains_key(name) || ctx.auth_query_cache.knows(name) {
                    users.insert(name.to_owned(), entry.clone());
                }
            });
            ctx.auth_query_cache.mark(name);
            tracing::info!(user = name, "user looked up with auth_query");
            Some(entry)
        }
        Ok(Ok(None)) => {
            ctx.auth_query_cache.mark_missing(name);
            if ctx.auth_query_cache.forget(name) {
                // Dropped on the server: forget it here too.
                ctx.users.update(|users| {
                    users.remove(name);
                });
            }
            None
        }
        Ok(Err(e)) => {
            tracing::warn!(user = name, error = %e, "auth_query lookup failed");
            cached
        }
        Err(_) => {
            tracing::warn!(user = name, "auth_query lookup timed out");
            cached
        }
    }
}

/// Runs the query on shard 0's current primary.
async fn lookup(ctx: &Context, query: &str, name: &str) -> Result<Option<String>, String> {
    let aq = &ctx.config.auth_query;
    let primary = ctx
        .topology
        .shard(0)
        .map(|s| s.primary())
        .ok_or("no shard 0")?;
    let database = aq.database.clone().unwrap_or_else(|| {
        ctx.config
            .shards
            .first()
            .and_then(|s| s.database.clone())
            .unwrap_or_else(|| ctx.config.proxy.database.clone())
    });
    let mut config = tokio_postgres::Config::new();
    config
        .host(&primary.host)
        .port(primary.port)
        .dbname(&database)
        .user(aq.user.as_deref().unwrap_or_default())
        .application_name("shardwire-auth-query")
        .connect_timeout(LOOKUP_TIMEOUT);
    if let Some(p) = &aq.password {
        config.password(p);
    }
    let tls = ctx
        .control
        .settings
        .shards
        .first()
        .and_then(|s| s.tls.as_ref());
    let client = crate::monitor::open_control_connection(config, tls)
        .await
        .map_err(|e| e.to_string())?;
    let row = client
        .query_opt(query, &[&name])
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.and_then(|r| r.try_get::<_, Option<String>>(0).ok().flatten()))
}
