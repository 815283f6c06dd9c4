//! `SHOW CLIENTS`: one row per client session, with PgBouncer 1.25's
//! columns and types in its order, then `server_pid` (the backend in use).
//! `id` is what KILL_CLIENT takes; `link` is the backend's pid in hex;
//! `local_addr`/`local_port` are the proxy's end of the connection;
//! `application_name` is the one sent at login; `tls` says `TLS` for an
//! encrypted client (the version is not recorded). Not recorded: the time
//! of the latest request (NULL) and its prepared statements (0; SHOW
//! PREPARED_STATEMENTS lists them all). `wait`/`wait_us` are how long a
//! client in state `waiting` has waited for a server connection (0 for the
//! others). `pinned` names the session state (temp tables, held cursors,
//! advisory locks…) that keeps the client's server connection under
//! transaction pooling.

use super::result::{text, Kind, ResultSet};
use crate::context::Context;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DD HH:MM:SS UTC` for a time (civil-from-days, proleptic
/// Gregorian calendar).
pub fn format_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// PgBouncer 1.25's columns of SHOW CLIENTS and SHOW SERVERS, with its
/// types (the two times are text, as PgBouncer sends them).
pub const SOCKET_COLUMNS: [(&str, Kind); 21] = [
    ("type", Kind::Text),
    ("user", Kind::Text),
    ("database", Kind::Text),
    ("replication", Kind::Text),
    ("state", Kind::Text),
    ("addr", Kind::Text),
    ("port", Kind::Int4),
    ("local_addr", Kind::Text),
    ("local_port", Kind::Int4),
    ("connect_time", Kind::Text),
    ("request_time", Kind::Text),
    ("wait", Kind::Int4),
    ("wait_us", Kind::Int4),
    ("close_needed", Kind::Int4),
    ("ptr", Kind::Text),
    ("link", Kind::Text),
    ("remote_pid", Kind::Int4),
    ("tls", Kind::Text),
    ("application_name", Kind::Text),
    ("prepared_statements", Kind::Int4),
    ("id", Kind::Int4),
];

/// `SHOW CLIENTS`.
pub fn clients(ctx: &Context) -> ResultSet {
    let mut columns = SOCKET_COLUMNS.to_vec();
    columns.extend([
        // shardwire's own: the backend pid of the server in use.
        ("server_pid", Kind::Int4),
        // … and the session state that keeps that server for this client
        // under transaction pooling (temp_table, hold_cursor, …; empty: none).
        ("pinned", Kind::Text),
    ]);
    let mut r = ResultSet::new(&columns);
    let mut clients = ctx.cancels.clients();
    clients.sort_by_key(|(_, slot)| slot.info.connected_at_micros);
    for ((pid, _), slot) in clients {
        let target = slot.get();
        let state = if slot.waiting.load(Ordering::Relaxed) {
            "waiting"
        } else if target.is_some() {
            "active"
        } else {
            "idle"
        };
        let wait = slot.waiting.waited().unwrap_or_default();
        let info = &slot.info;
        let (peer, local) = (info.peer.get(), info.local.get());
        r.row(vec![
            text("C"),
            text(&slot.info.user),
            text(&slot.info.database),
            text("none"),
            text(state),
            peer.map(|a| a.ip().to_string()),
            peer.map(|a| a.port().to_string()),
            local.map(|a| a.ip().to_string()),
            local.map(|a| a.port().to_string()),
            text(format_time(info.connected_at())),
            // The time of the latest request is not tracked per client.
            None,
            // PgBouncer's wait/wait_us: the current wait for a server.
            text(wait.as_secs()),
            text(wait.subsec_micros()),
            text(0),
            text(format!("{pid:x}")),
            target.map(|t| format!("{:x}", t.pid)),
            text(0),
            text(if info.tls { "TLS" } else { "" }),
            text(&info.application_name),
            text(0),
            text(pid),
            target.map(|t| t.pid.to_string()),
            text(crate::isolation::describe_bits(
                slot.pinned.load(Ordering::Relaxed),
            )),
        ]);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_time(UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_369_825);
        assert_eq!(format_time(t), "2026-11-22 17:50:25 UTC");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(format_time(leap), "2000-02-29 00:00:00 UTC");
    }
}
