//! `[auth_query]`: users not listed in `[[users]]` are looked up on the
//! servers at login (their SCRAM verifier), cached for a while.

use serde::Deserialize;
use std::time::Duration;

/// `[auth_query]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthQuerySection {
    /// The query; `$1` is the user name; it returns the stored password
    /// (a `SCRAM-SHA-256$…` verifier) in its first column, or no row.
    /// Unset: the feature is off.
    pub query: Option<String>,
    /// The user the lookup logs in as (it must be allowed to run the query).
    pub user: Option<String>,
    /// Its password.
    pub password: Option<String>,
    /// Database of the lookup (default: shard 0's database).
    pub database: Option<String>,
    /// How long a looked-up verifier is trusted before it is fetched again.
    #[serde(deserialize_with = "super::duration::deserialize")]
    pub cache_ttl: Duration,
}

impl Default for AuthQuerySection {
    fn default() -> Self {
        AuthQuerySection {
            query: None,
            user: None,
            password: None,
            database: None,
            cache_ttl: Duration::from_secs(60),
        }
    }
}
