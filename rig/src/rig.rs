//! The `Rig`: one temp directory and every node started in it, stopped and
//! removed on drop.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;

use crate::admin;
use crate::conf::NodeOptions;
use crate::layout;
use crate::node::Node;
use crate::os_user::{self, OsUser};
use crate::primary;
use crate::stale;
use crate::standby;
use crate::teardown::{self, TeardownRegistry};

/// Where and as whom a rig runs PostgreSQL.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    /// This rig's directory.
    pub dir: PathBuf,
    /// PostgreSQL's bin directory.
    pub bindir: PathBuf,
    /// The user server-side binaries run as (`None`: ourselves).
    pub user: Option<OsUser>,
}

/// A set of PostgreSQL nodes in one temp directory.
///
/// Dropping the rig stops every node (`pg_ctl stop -m immediate`, SIGKILL if
/// that fails) and deletes the directory.
pub struct Rig {
    state: Arc<RigState>,
}

/// What a rig owns, shared (weakly) with the signal teardown task.
pub(crate) struct RigState {
    site: Site,
    nodes: Mutex<Vec<Node>>,
    /// Sync standby names per primary name, for `synchronous_standby_names`.
    sync_standbys: Mutex<HashMap<String, Vec<String>>>,
}

impl Rig {
    /// Creates an empty rig in a fresh directory under the rig root
    /// (`$SHARDWIRE_RIG_ROOT`, else `<temp>/shardwire-rig`), after removing
    /// rigs left behind by dead processes.
    pub fn new() -> anyhow::Result<Rig> {
        Rig::new_in(&layout::rig_root())
    }

    /// Like [`Rig::new`] but under rig root `root` (keep it short: unix
    /// socket paths are limited to ~107 bytes). Stale rigs are only looked
    /// for under `root`.
    pub fn new_in(root: &Path) -> anyhow::Result<Rig> {
        let bindir = crate::pg_bindir()?;
        let user = os_user::server_user()?;
        prepare_root(root)?;
        stale::clean(root, &bindir, user);
        let dir = tempfile::Builder::new()
            .prefix(&layout::rig_dir_prefix(std::process::id()))
            .rand_bytes(6)
            .tempdir_in(root)
            .with_context(|| format!("creating a rig directory in {}", root.display()))?
            .keep();
        // The server user must be able to reach its node directories.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("chmod {}", dir.display()))?;
        tracing::debug!(dir = %dir.display(), "rig created");
        Ok(Rig {
            state: Arc::new(RigState {
                site: Site { dir, bindir, user },
                nodes: Mutex::new(Vec::new()),
                sync_standbys: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// [`Rig::new`], registered with `registry` for signal teardown.
    pub fn new_registered(registry: &TeardownRegistry) -> anyhow::Result<Rig> {
        let rig = Rig::new()?;
        registry.register(&rig);
        Ok(rig)
    }

    /// Tears this rig down on SIGINT/SIGTERM, then exits the process; see
    /// [`install_ctrl_c_teardown`](crate::install_ctrl_c_teardown). Must be
    /// called on a tokio runtime.
    pub fn install_ctrl_c_teardown(&self) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let registry = TeardownRegistry::new();
        registry.register(self);
        teardown::install_ctrl_c_teardown(&registry)
    }

    /// The rig's directory.
    pub fn dir(&self) -> &Path {
        &self.state.site.dir
    }

    /// PostgreSQL's bin directory used by this rig.
    pub fn bindir(&self) -> &Path {
        &self.state.site.bindir
    }

    /// Every node started so far, in start order.
    pub fn nodes(&self) -> Vec<Node> {
        self.state.nodes().clone()
    }

    /// The node called `name`, if started.
    pub fn node(&self, name: &str) -> Option<Node> {
        self.state
            .nodes()
            .iter()
            .find(|n| n.name() == name)
            .cloned()
    }

    /// Initialises and starts a primary called `name` on a free port.
    pub async fn start_primary(&self, name: &str, opts: NodeOptions) -> anyhow::Result<Node> {
        let node = primary::prepare(&self.state.site, name, &opts).await?;
        self.state.add(node.clone());
        primary::launch(&node).await?;
        Ok(node)
    }

    /// Starts a streaming standby called `name` of `primary`.
    ///
    /// `pg_basebackup -R -X stream` with a physical replication slot named
    /// after the standby (lowercased, `-` as `_`); `cluster_name` and the
    /// walreceiver's `application_name` are `name`. With `sync`, the standby
    /// joins `synchronous_standby_names = 'ANY 1 (...)'` on the primary.
    /// Returns once `pg_stat_replication` on the primary shows it streaming
    /// (and `sync`/`quorum` if `sync`).
    pub async fn start_standby(
        &self,
        name: &str,
        primary: &Node,
        sync: bool,
    ) -> anyhow::Result<Node> {
        let node = standby::prepare(&self.state.site, name, primary).await?;
        self.state.add(node.clone());
        node.start_async().await?;
        if sync {
            let names = self.state.add_sync_standby(primary.name(), name);
            standby::set_sync_standbys(primary, &names).await?;
        }
        standby::wait_streaming(primary, &node, sync).await?;
        Ok(node)
    }

    /// Re-attaches `old` (a former primary, stopped or killed) as a
    /// streaming standby of `new_primary` with pg_rewind; returns when it
    /// streams.
    pub async fn rejoin_with_rewind(&self, old: &Node, new_primary: &Node) -> anyhow::Result<()> {
        crate::rewind::rejoin(old, new_primary).await
    }

    /// Creates a LOGIN role on `node` with its password stored for the
    /// node's auth method (`SET password_encryption = 'md5'` first for MD5).
    pub async fn create_user(&self, node: &Node, name: &str, password: &str) -> anyhow::Result<()> {
        admin::create_user(node, name, password).await
    }

    /// Creates database `name` owned by `owner` on `node`.
    pub async fn create_database(
        &self,
        node: &Node,
        name: &str,
        owner: &str,
    ) -> anyhow::Result<()> {
        admin::create_database(node, name, owner).await
    }

    /// Stops every node immediately. Idempotent; never fails (problems are
    /// logged). Nodes can be started again with [`Node::start`].
    pub fn stop_all(&self) {
        self.state.stop_all();
    }

    pub(crate) fn state(&self) -> &Arc<RigState> {
        &self.state
    }
}

impl std::fmt::Debug for Rig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rig")
            .field("dir", &self.state.site.dir)
            .field("nodes", &*self.state.nodes())
            .finish()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.state.teardown();
    }
}

impl RigState {
    fn nodes(&self) -> MutexGuard<'_, Vec<Node>> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, node: Node) {
        self.nodes().push(node);
    }

    /// Records `standby` as a sync standby of `primary`; returns all of them.
    fn add_sync_standby(&self, primary: &str, standby: &str) -> Vec<String> {
        let mut map = self.sync_standbys.lock().unwrap_or_else(|p| p.into_inner());
        let list = map.entry(primary.to_owned()).or_default();
        if !list.iter().any(|s| s == standby) {
            list.push(standby.to_owned());
        }
        list.clone()
    }

    /// Stops every node, standbys first (newest first).
    pub(crate) fn stop_all(&self) {
        let nodes = self.nodes().clone();
        for node in nodes.iter().rev() {
            node.stop_immediate();
        }
    }

    /// Stops every node and removes the rig directory. Idempotent.
    pub(crate) fn teardown(&self) {
        self.stop_all();
        let dir = &self.site.dir;
        match std::fs::remove_dir_all(dir) {
            Ok(()) => tracing::debug!(dir = %dir.display(), "rig removed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(dir = %dir.display(), error = %e, "could not remove rig dir"),
        }
    }
}

/// Creates the rig root, world-writable with the sticky bit like /tmp so
/// every user's rigs can share it.
fn prepare_root(root: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let mode = std::fs::metadata(root)?.permissions().mode() & 0o7777;
    if mode != 0o1777 {
        // Fails harmlessly if another user owns it.
        let _ = std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o1777));
    }
    Ok(())
}
