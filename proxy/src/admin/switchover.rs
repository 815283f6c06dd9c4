//! `SWITCHOVER <shard> [<host:port>]`: a planned change of a shard's
//! primary to one of its standbys (the most advanced one when none is
//! named). Clients wait while it runs; none gets an error.

use super::result::{text, Kind, ResultSet};
use crate::config::Endpoint;
use crate::context::Context;
use crate::protocol::{ErrorResponse, SqlState};

/// `SWITCHOVER shard [host:port]`.
pub async fn switchover(
    ctx: &Context,
    shard: &str,
    target: Option<&str>,
) -> Result<ResultSet, ErrorResponse> {
    let usage = || {
        ErrorResponse::error(
            SqlState::FromServer(*b"42601"),
            "usage: SWITCHOVER <shard number> [<standby host:port>]",
        )
    };
    let shard: u32 = shard.parse().map_err(|_| usage())?;
    let target = match target {
        Some(t) => {
            let (host, port) = t.rsplit_once(':').ok_or_else(usage)?;
            Some(Endpoint {
                host: host.to_owned(),
                port: port.parse().map_err(|_| usage())?,
            })
        }
        None => None,
    };
    let record = crate::monitor::switchover(&ctx.control, shard, target)
        .await
        .map_err(|e| {
            ErrorResponse::error(
                SqlState::FromServer(*b"55000"),
                format!("switchover failed: {e}"),
            )
            .with_hint("SHOW NODES shows the standbys and their lag")
        })?;
    let mut r = ResultSet::new(&[
        ("shard", Kind::Int),
        ("old_primary", Kind::Text),
        ("new_primary", Kind::Text),
        ("paused_seconds", Kind::Text),
        ("detail", Kind::Text),
    ]);
    r.row(vec![
        text(record.shard),
        text(&record.old_primary),
        record.new_primary.clone(),
        text(format!("{:.3}", record.paused.as_secs_f64())),
        text(&record.detail),
    ]);
    Ok(r)
}
