//! Ready-made topologies built from [`Rig`] calls.

use crate::conf::NodeOptions;
use crate::node::Node;
use crate::rig::Rig;

/// Starts primary `name` and `standbys` streaming standbys of it named
/// `<name>_s1`, `<name>_s2`, ... With `sync`, every standby is synchronous
/// (`ANY 1` of them must confirm a commit).
pub async fn primary_with_standbys(
    rig: &Rig,
    name: &str,
    standbys: usize,
    sync: bool,
    opts: NodeOptions,
) -> anyhow::Result<(Node, Vec<Node>)> {
    let primary = rig.start_primary(name, opts).await?;
    let mut nodes = Vec::with_capacity(standbys);
    for i in 1..=standbys {
        nodes.push(
            rig.start_standby(&format!("{name}_s{i}"), &primary, sync)
                .await?,
        );
    }
    Ok((primary, nodes))
}
