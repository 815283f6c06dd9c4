//! Creating streaming standbys: `pg_basebackup` from the upstream node,
//! per-node configuration, synchronous replication settings, and waiting
//! until the upstream sees the standby streaming.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::admin::quote_literal;
use crate::command;
use crate::conf;
use crate::log_tail;
use crate::node::Node;
use crate::node_files;
use crate::rig::Site;
use crate::{HOST, SUPERUSER, SUPERUSER_PASSWORD};

/// How long a new standby may take to show up as streaming.
const STREAMING_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Creates the standby's node directory and data directory (a base backup of
/// `upstream` with a replication slot) and configures it. Not started yet.
pub(crate) async fn prepare(site: &Site, name: &str, upstream: &Node) -> anyhow::Result<Node> {
    let (paths, port) = node_files::create_dir(site, name)?;
    let mut backup = command::pg(&site.bindir, "pg_basebackup", site.user, &paths.dir);
    backup
        .args([
            "-h",
            HOST,
            "-p",
            &upstream.port().to_string(),
            "-U",
            SUPERUSER,
            "-D",
        ])
        .arg(&paths.data)
        .args(["-R", "-X", "stream", "-C", "-S", &slot_name(name)])
        .args(["--checkpoint=fast", "--no-sync"])
        .env("PGPASSWORD", SUPERUSER_PASSWORD);
    command::run_async(
        backup,
        &format!("pg_basebackup of standby {name} from {}", upstream.name()),
        Some(&upstream.log_file()),
    )
    .await?;
    node_files::write_node_conf(&paths, port, name, site.user)?;
    set_primary_conninfo(&paths.data.join("postgresql.auto.conf"), upstream, name)?;
    let node = Node::new(name, port, paths, &site.bindir, site.user, upstream.auth());
    // The base backup copied pg_hba.conf (and the TLS files and settings).
    node.set_tls_required(upstream.tls_required());
    Ok(node)
}

/// Sets `synchronous_standby_names = 'ANY 1 (<names>)'` on `primary` and
/// reloads its configuration.
pub(crate) async fn set_sync_standbys(primary: &Node, names: &[String]) -> anyhow::Result<()> {
    // ALTER SYSTEM refuses to run in a (even implicit) transaction block, so
    // it gets a query of its own.
    let alter = format!(
        "ALTER SYSTEM SET synchronous_standby_names = {}",
        quote_literal(&sync_standby_names(names))
    );
    let client = primary.connect_superuser().await?;
    let context = || format!("setting synchronous_standby_names on {}", primary.name());
    client.batch_execute(&alter).await.with_context(context)?;
    client
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .with_context(context)
}

/// Polls `pg_stat_replication` on `upstream` until `standby` is streaming
/// (and, if `sync`, in sync state `sync` or `quorum`).
pub(crate) async fn wait_streaming(
    upstream: &Node,
    standby: &Node,
    sync: bool,
) -> anyhow::Result<()> {
    let client = upstream.connect_superuser().await?;
    let deadline = Instant::now() + STREAMING_TIMEOUT;
    let mut last = String::from("no row in pg_stat_replication");
    loop {
        let row = client
            .query_opt(
                "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = $1",
                &[&standby.name()],
            )
            .await
            .with_context(|| format!("reading pg_stat_replication on {}", upstream.name()))?;
        if let Some(row) = row {
            let state: Option<String> = row.get(0);
            let sync_state: Option<String> = row.get(1);
            let streaming = state.as_deref() == Some("streaming");
            let synced = matches!(sync_state.as_deref(), Some("sync" | "quorum"));
            if streaming && (!sync || synced) {
                return Ok(());
            }
            last = format!("state={state:?} sync_state={sync_state:?}");
        }
        if Instant::now() >= deadline {
            let msg = format!(
                "standby {} not {} on {} after {STREAMING_TIMEOUT:?} ({last})",
                standby.name(),
                if sync {
                    "streaming synchronously"
                } else {
                    "streaming"
                },
                upstream.name(),
            );
            bail!(
                "{}\n{}",
                log_tail::with_tail(&msg, &standby.log_file()),
                log_tail::with_tail("upstream:", &upstream.log_file())
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The physical replication slot of standby `name`: slot names allow only
/// lowercase letters, digits and `_`.
pub(crate) fn slot_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

/// `ANY 1 ("a", "b")`.
fn sync_standby_names(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!("ANY 1 ({})", quoted.join(", "))
}

/// Replaces the `primary_conninfo` that `pg_basebackup -R` wrote with one
/// that names the standby as `application_name`.
fn set_primary_conninfo(auto_conf: &Path, upstream: &Node, name: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(auto_conf)
        .with_context(|| format!("reading {}", auto_conf.display()))?;
    let conninfo = format!(
        "host={HOST} port={} user={SUPERUSER} password={SUPERUSER_PASSWORD} application_name={name}",
        upstream.port()
    );
    let mut out: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("primary_conninfo"))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(&format!("primary_conninfo = {}\n", conf::quote(&conninfo)));
    std::fs::write(auto_conf, out).with_context(|| format!("writing {}", auto_conf.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names_are_valid() {
        assert_eq!(slot_name("Shard-0_s1"), "shard_0_s1");
    }

    #[test]
    fn sync_names_quote_every_standby() {
        let names = vec!["a".to_owned(), "b-1".to_owned()];
        assert_eq!(sync_standby_names(&names), r#"ANY 1 ("a", "b-1")"#);
    }
}
