//! `DISABLE db` / `ENABLE db`: close a database to new client logins and
//! open it again. Sessions already logged in are untouched; a new login
//! gets FATAL 57P03 saying why; SHOW DATABASES's `disabled` column shows
//! the state. shardwire serves one logical database (`proxy.database`),
//! so that is the one name these take.

use super::result::ResultSet;
use crate::context::Context;
use crate::protocol::{ErrorResponse, SqlState};

/// The served database `name` means (case-insensitive), or why not.
pub fn served_database<'a>(ctx: &'a Context, name: &str) -> Result<&'a str, ErrorResponse> {
    let served = ctx.config.proxy.database.as_str();
    if super::is_admin_database(name) {
        return Err(ErrorResponse::error(
            SqlState::FromServer(*b"55000"),
            format!("\"{name}\" is the admin console, not a database shardwire serves"),
        )
        .with_hint(format!("name the served database, \"{served}\"")));
    }
    if !served.eq_ignore_ascii_case(name) {
        return Err(ErrorResponse::error(
            SqlState::FromServer(*b"3D000"),
            format!("no database \"{name}\""),
        )
        .with_hint(format!(
            "shardwire serves one database, \"{served}\" (SHOW DATABASES)"
        )));
    }
    Ok(served)
}

/// `DISABLE db` (`disabled` true) or `ENABLE db`.
pub fn set(ctx: &Context, name: &str, disabled: bool) -> Result<ResultSet, ErrorResponse> {
    let db = served_database(ctx, name)?;
    ctx.sessions.set_disabled(db, disabled);
    if disabled {
        tracing::warn!(database = db, "DISABLE: new client logins are refused");
        Ok(ResultSet::command("DISABLE"))
    } else {
        tracing::info!(database = db, "ENABLE: client logins accepted again");
        Ok(ResultSet::command("ENABLE"))
    }
}

/// The missing-argument error of DISABLE / ENABLE / KILL_CLIENT.
pub fn needs_argument(command: &str, what: &str) -> ErrorResponse {
    ErrorResponse::error(
        SqlState::FromServer(*b"42601"),
        format!("{command} needs {what}"),
    )
    .with_hint(format!("write {command} <{what}>"))
}
