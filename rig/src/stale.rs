//! Cleans up after processes that died without tearing their rig down
//! (e.g. a test binary killed with SIGKILL): their postmasters keep running
//! and their directories stay behind.
//!
//! A rig directory is stale when the pid in its name is no longer alive.

use std::path::Path;

use crate::conf::AuthMethod;
use crate::layout::{self, NodePaths};
use crate::node::Node;
use crate::os_user::OsUser;
use crate::process;

/// Stops the postmasters of every stale rig under `root` and removes those
/// rigs. Best effort: problems are logged, never returned.
pub(crate) fn clean(root: &Path, bindir: &Path, user: Option<OsUser>) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(layout::rig_dir_pid) else {
            continue;
        };
        if pid == std::process::id() || process::pid_alive(pid) {
            continue;
        }
        let dir = entry.path();
        stop_nodes(&dir, bindir, user);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => tracing::info!(dir = %dir.display(), pid, "removed stale rig"),
            // Another process cleaning at the same time got there first.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "could not remove stale rig")
            }
        }
    }
}

/// Stops every node directory in rig directory `dir` that has a live postmaster.
fn stop_nodes(dir: &Path, bindir: &Path, user: Option<OsUser>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let paths = NodePaths::new(dir, &name);
        if process::running_postmaster(&paths.data).is_none() {
            continue;
        }
        tracing::info!(node = %name, dir = %dir.display(), "stopping node of a stale rig");
        // The port only matters for connecting; stopping goes by data dir.
        Node::new(&name, 0, paths, bindir, user, AuthMethod::Trust).stop_immediate();
    }
}
