//! `SET key = value`: changes a setting that applies live — the ones SHOW
//! CONFIG marks changeable, which RELOAD also applies at once — until the
//! next RELOAD or restart (as in PgBouncer, the file is not written). Keys
//! are SHOW CONFIG's (`pool.size`) or PgBouncer's names for the same
//! setting (`default_pool_size`); a bare number of a duration is seconds,
//! `0` or `off` turns an optional timeout off. Other keys are refused:
//! 42704 when unknown, 55P02 when they need a restart, 22023 for a bad
//! value.

use super::result::ResultSet;
use crate::config::{parse_duration, PoolSection};
use crate::context::Context;
use crate::protocol::{ErrorResponse, SqlState};
use std::time::Duration;

/// The live settings: SHOW CONFIG's key and PgBouncer's name for it.
const LIVE: &[(&str, &str)] = &[
    ("pool.size", "default_pool_size"),
    ("pool.min_idle", "min_pool_size"),
    ("pool.idle_timeout", "server_idle_timeout"),
    ("pool.max_lifetime", "server_lifetime"),
    ("pool.checkout_timeout", "query_wait_timeout"),
    ("pool.health_check_after", "server_check_delay"),
];

/// Settings SHOW CONFIG lists that only a restart changes.
const RESTART_ONLY: &[&str] = &[
    "proxy.listen",
    "proxy.database",
    "proxy.pool_mode",
    "pool_mode",
    "proxy.max_message_size",
    "proxy.workers",
    "proxy.auth_timeout",
    "pool.connect_timeout",
    "server_connect_timeout",
    "sharding.key_columns",
    "sharding.shards",
    "sharding.global_tables",
    "metrics.listen",
    "listen_addr",
    "listen_port",
];

/// Splits `SET key = value` / `SET key TO value` (original case kept for
/// the value); None when it is not that shape.
pub fn parse(sql: &str) -> Option<(String, String)> {
    let text = sql.trim().trim_end_matches(';').trim();
    if !text.get(..3)?.eq_ignore_ascii_case("set") {
        return None;
    }
    let body = text.get(3..)?;
    if !body.starts_with(char::is_whitespace) {
        return None;
    }
    let body = body.trim();
    let (key, value) = if let Some((k, v)) = body.split_once('=') {
        (k.trim(), v.trim())
    } else {
        let (k, v) = body.split_once(char::is_whitespace)?;
        let v = v.trim();
        let v = v
            .get(..2)
            .filter(|w| w.eq_ignore_ascii_case("to"))
            .and_then(|_| v.get(2..))?;
        (k.trim(), v.trim())
    };
    let value = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(value);
    if key.is_empty() || value.is_empty() {
        return None;
    }
    Some((key.to_ascii_lowercase(), value.to_string()))
}

fn bad_value(key: &str, value: &str, why: impl std::fmt::Display) -> ErrorResponse {
    ErrorResponse::error(
        SqlState::FromServer(*b"22023"),
        format!("invalid value for {key}: \"{value}\": {why}"),
    )
    .with_hint(
        "sizes are whole numbers (pool.min_idle at most pool.size); durations are like 250ms, 5s, 10m, 1h or a number of seconds, 0 or off for none",
    )
}

fn count(key: &str, value: &str) -> Result<usize, ErrorResponse> {
    value
        .parse()
        .map_err(|_| bad_value(key, value, "expected a whole number"))
}

fn duration(key: &str, value: &str) -> Result<Duration, ErrorResponse> {
    parse_duration(value).map_err(|e| bad_value(key, value, e))
}

fn optional(key: &str, value: &str) -> Result<Option<Duration>, ErrorResponse> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let d = duration(key, value)?;
    Ok((!d.is_zero()).then_some(d))
}

/// The pool section with `key` set to `value`.
pub fn apply(current: &PoolSection, key: &str, value: &str) -> Result<PoolSection, ErrorResponse> {
    let Some((name, _)) = LIVE.iter().find(|(k, alias)| *k == key || *alias == key) else {
        let live: Vec<&str> = LIVE.iter().map(|(k, _)| *k).collect();
        if RESTART_ONLY.contains(&key) {
            return Err(ErrorResponse::error(
                SqlState::FromServer(*b"55P02"),
                format!("{key} cannot be changed while shardwire runs"),
            )
            .with_hint(format!(
                "change it in the configuration file and restart; SET changes only {}",
                live.join(", ")
            )));
        }
        return Err(ErrorResponse::error(
            SqlState::FromServer(*b"42704"),
            format!("unrecognized configuration parameter \"{key}\""),
        )
        .with_hint(format!(
            "SET changes {} (or PgBouncer's names for them); SHOW CONFIG lists every setting",
            live.join(", ")
        )));
    };
    let mut p = current.clone();
    match *name {
        "pool.size" => p.size = count(name, value)?,
        "pool.min_idle" => p.min_idle = count(name, value)?,
        "pool.idle_timeout" => p.idle_timeout = optional(name, value)?,
        "pool.max_lifetime" => p.max_lifetime = optional(name, value)?,
        "pool.checkout_timeout" => p.checkout_timeout = duration(name, value)?,
        _ => p.health_check_after = duration(name, value)?,
    }
    if p.size == 0 {
        return Err(bad_value(name, value, "pool.size must be at least 1"));
    }
    if p.min_idle > p.size {
        return Err(bad_value(
            name,
            value,
            format!(
                "pool.min_idle ({}) would be larger than pool.size ({})",
                p.min_idle, p.size
            ),
        ));
    }
    Ok(p)
}

/// `SET key = value`.
pub fn set(ctx: &Context, sql: &str) -> Result<ResultSet, ErrorResponse> {
    let Some((key, value)) = parse(sql) else {
        return Err(ErrorResponse::error(
            SqlState::FromServer(*b"42601"),
            format!("cannot parse \"{}\"", sql.trim()),
        )
        .with_hint("write SET key = value, e.g. SET pool.size = 40"));
    };
    let current = ctx
        .pool_settings
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let new = apply(&current, &key, &value)?;
    crate::reload::apply_pool_settings(ctx, &new);
    tracing::info!(%key, %value, "SET: applied until the next RELOAD or restart");
    Ok(ResultSet::command("SET"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_spellings() {
        assert_eq!(
            parse("SET pool.size = 40;"),
            Some(("pool.size".into(), "40".into()))
        );
        assert_eq!(
            parse("set Default_Pool_Size to '7'"),
            Some(("default_pool_size".into(), "7".into()))
        );
        assert_eq!(parse("SET pool.size"), None);
        assert_eq!(parse("SET = 3"), None);
    }

    #[test]
    fn applies_live_settings_and_refuses_others() {
        let p = PoolSection::default();
        assert_eq!(apply(&p, "pool.size", "40").map(|p| p.size).ok(), Some(40));
        assert_eq!(
            apply(&p, "query_wait_timeout", "2")
                .map(|p| p.checkout_timeout)
                .ok(),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            apply(&p, "pool.idle_timeout", "off")
                .map(|p| p.idle_timeout)
                .ok(),
            Some(None)
        );
        let code =
            |r: Result<PoolSection, ErrorResponse>| r.err().map(|e| e.state.code().to_string());
        assert_eq!(code(apply(&p, "pool.size", "0")).as_deref(), Some("22023"));
        assert_eq!(
            code(apply(&p, "pool.size", "many")).as_deref(),
            Some("22023")
        );
        assert_eq!(
            code(apply(&p, "pool.min_idle", "99")).as_deref(),
            Some("22023")
        );
        assert_eq!(
            code(apply(&p, "proxy.listen", "x")).as_deref(),
            Some("55P02")
        );
        assert_eq!(
            code(apply(&p, "no_such_thing", "1")).as_deref(),
            Some("42704")
        );
    }
}
