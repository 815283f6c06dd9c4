//! Re-attaching a former primary as a streaming standby of the current
//! primary with `pg_rewind`, the way an operator does after a failover:
//! finish its crash recovery in single-user mode (pg_rewind wants a
//! cleanly shut down target), rewind it to the new primary's timeline,
//! drop the settings it had as a primary, point it at the new primary and
//! start it. Needs `wal_log_hints` (on in every rig node).

use std::process::Stdio;

use anyhow::Context;

use crate::command;
use crate::conf;
use crate::node::Node;
use crate::standby;
use crate::{HOST, SUPERUSER, SUPERUSER_PASSWORD};

/// Settings a former primary must not keep as a standby (or when it is
/// promoted again later).
const PRIMARY_ONLY: [&str; 2] = ["synchronous_standby_names", "default_transaction_read_only"];

/// Rewinds `old` (stopped or killed) onto `new_primary` and starts it as
/// its streaming standby; returns when `new_primary` sees it streaming.
pub(crate) async fn rejoin(old: &Node, new_primary: &Node) -> anyhow::Result<()> {
    old.stop()?;
    let mut single = old.pg("postgres");
    single
        .arg("--single")
        .arg("-D")
        .arg(old.data_dir())
        .arg("postgres")
        .stdin(Stdio::null());
    command::run_async(
        single,
        &format!("crash recovery of {} in single-user mode", old.name()),
        Some(&old.log_file()),
    )
    .await?;
    // A just-promoted primary records its new timeline in its control file
    // at its next checkpoint; until then pg_rewind sees no fork and does
    // nothing.
    new_primary
        .connect_superuser()
        .await?
        .batch_execute("CHECKPOINT")
        .await
        .with_context(|| format!("CHECKPOINT on {}", new_primary.name()))?;
    let source = format!(
        "host={HOST} port={} user={SUPERUSER} password={SUPERUSER_PASSWORD} dbname=postgres",
        new_primary.port()
    );
    // pg_rewind copies the source's configuration files over the
    // target's, this node's own settings (port, cluster_name) among them.
    let node_conf = old.data_dir().join(conf::NODE_CONF);
    let own_settings =
        std::fs::read(&node_conf).with_context(|| format!("reading {}", node_conf.display()))?;
    let mut rewind = old.pg("pg_rewind");
    rewind
        .arg("--target-pgdata")
        .arg(old.data_dir())
        .arg("--source-server")
        .arg(&source);
    command::run_async(
        rewind,
        &format!("pg_rewind of {} onto {}", old.name(), new_primary.name()),
        Some(&old.log_file()),
    )
    .await?;
    std::fs::write(&node_conf, own_settings)
        .with_context(|| format!("writing {}", node_conf.display()))?;
    let auto_conf = old.data_dir().join("postgresql.auto.conf");
    let text = std::fs::read_to_string(&auto_conf)
        .with_context(|| format!("reading {}", auto_conf.display()))?;
    let mut out: String = text
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            !l.starts_with("primary_conninfo")
                && !l.starts_with("primary_slot_name")
                && !PRIMARY_ONLY.iter().any(|p| l.starts_with(p))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let conninfo = format!(
        "host={HOST} port={} user={SUPERUSER} password={SUPERUSER_PASSWORD} application_name={}",
        new_primary.port(),
        old.name()
    );
    out.push_str(&format!("primary_conninfo = {}\n", conf::quote(&conninfo)));
    std::fs::write(&auto_conf, out).with_context(|| format!("writing {}", auto_conf.display()))?;
    let signal = old.data_dir().join("standby.signal");
    std::fs::write(&signal, "").with_context(|| format!("writing {}", signal.display()))?;
    crate::os_user::give(&signal, old.os_user())?;
    old.start_async().await?;
    standby::wait_streaming(new_primary, old, false).await
}
