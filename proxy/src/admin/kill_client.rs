//! `KILL_CLIENT id`: ends one client session at once — the `id` SHOW
//! CLIENTS lists — as PgBouncer's does; its transaction, if any, rolls
//! back, the client is told FATAL 57P01 when its stream is at a message
//! boundary, and the other sessions are untouched.

use super::result::ResultSet;
use crate::context::Context;
use crate::protocol::{ErrorResponse, SqlState};
use std::sync::atomic::Ordering;

fn not_found(text: &str) -> ErrorResponse {
    ErrorResponse::error(
        SqlState::FromServer(*b"42704"),
        format!("no client session with id {text}"),
    )
    .with_hint("SHOW CLIENTS lists each client's id; the session may have ended already")
}

/// `KILL_CLIENT id`.
pub fn kill_client(ctx: &Context, text: &str) -> Result<ResultSet, ErrorResponse> {
    let Ok(id) = text.parse::<i64>() else {
        return Err(ErrorResponse::error(
            SqlState::FromServer(*b"22023"),
            format!("\"{text}\" is not a client id"),
        )
        .with_hint("give the number from the id column of SHOW CLIENTS"));
    };
    let slot = ctx
        .cancels
        .clients()
        .into_iter()
        .find(|((pid, _), _)| i64::from(*pid) == id)
        .map(|(_, slot)| slot)
        .ok_or_else(|| not_found(text))?;
    let conn = slot.info.conn;
    if conn == 0 {
        return Err(not_found(text));
    }
    slot.killed.store(true, Ordering::Relaxed);
    if !ctx.sessions.kill_one(conn - 1) {
        return Err(not_found(text));
    }
    tracing::warn!(
        client = id,
        user = %slot.info.user,
        "KILL_CLIENT: client session ended"
    );
    Ok(ResultSet::command("KILL_CLIENT"))
}
