//! A node's directory and per-node configuration file, shared by primaries
//! and standbys.

use std::os::unix::fs::DirBuilderExt;

use anyhow::Context;

use crate::conf;
use crate::layout::{self, NodePaths};
use crate::os_user::{self, OsUser};
use crate::ports;
use crate::rig::Site;

/// Validates `name`, picks a port and creates the node directory owned by
/// the server user.
pub(crate) fn create_dir(site: &Site, name: &str) -> anyhow::Result<(NodePaths, u16)> {
    layout::validate_name(name)?;
    let paths = NodePaths::new(&site.dir, name);
    let port = ports::free_port()?;
    paths.check_socket_len(port)?;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&paths.dir)
        .with_context(|| {
            format!(
                "creating {} (is node name {name:?} already used?)",
                paths.dir.display()
            )
        })?;
    os_user::give(&paths.dir, site.user)?;
    Ok((paths, port))
}

/// Writes the per-node include file into the data directory.
pub(crate) fn write_node_conf(
    paths: &NodePaths,
    port: u16,
    cluster_name: &str,
    user: Option<OsUser>,
) -> anyhow::Result<()> {
    let file = paths.data.join(conf::NODE_CONF);
    std::fs::write(&file, conf::node_conf(port, &paths.dir, cluster_name))
        .with_context(|| format!("writing {}", file.display()))?;
    os_user::give(&file, user)
}
