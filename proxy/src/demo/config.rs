//! The proxy configuration for the demo topology: the shards with their
//! standbys, the replica cluster with a `leaderboards` route, the control
//! plane (as the rig's superuser), the admin console and /metrics.

use super::topology::DemoTopology;
use super::{DEMO_DATABASE, DEMO_PASSWORD, DEMO_USER};
use crate::config::{parse_str, Config};
use shardwire_rig::Node;

fn endpoint(node: &Node) -> String {
    format!("{{ host = \"127.0.0.1\", port = {} }}", node.port())
}

/// The demo's configuration.
pub fn demo_config(
    listen_port: u16,
    pool_mode: &str,
    topo: &DemoTopology,
) -> anyhow::Result<Config> {
    Ok(parse_str(&demo_config_text(
        listen_port,
        pool_mode,
        topo,
        "127.0.0.1:0",
    ))?)
}

/// The demo's configuration file, with `/metrics` on `metrics_listen`.
pub fn demo_config_text(
    listen_port: u16,
    pool_mode: &str,
    topo: &DemoTopology,
    metrics_listen: &str,
) -> String {
    let mut text = format!(
        r#"
[proxy]
listen = "127.0.0.1:{listen_port}"
database = "{DEMO_DATABASE}"
pool_mode = "{pool_mode}"

[pool]
size = 20

[sharding]
key_columns = ["user_id"]
shards = {shards}

[[users]]
name = "{DEMO_USER}"
password = "{DEMO_PASSWORD}"

[admin]
users = ["{DEMO_USER}"]

[metrics]
listen = "{metrics_listen}"

[replication]
user = "{su}"
password = "{su_password}"
"#,
        shards = topo.shards.len(),
        su = shardwire_rig::SUPERUSER,
        su_password = shardwire_rig::SUPERUSER_PASSWORD,
    );
    if !topo.replicas.is_empty() {
        let nodes: Vec<String> = topo.replicas.iter().map(endpoint).collect();
        text.push_str(&format!(
            r#"
[replica_cluster]
nodes = [{}]
max_lag = "2s"

[[routes]]
name = "leaderboards"
tables = ["leaderboard*"]
"#,
            nodes.join(", ")
        ));
    }
    for shard in &topo.shards {
        let standbys: Vec<String> = shard.standbys.iter().map(endpoint).collect();
        text.push_str(&format!(
            "\n[[shards]]\nprimary = {}\nstandbys = [{}]\n",
            endpoint(&shard.primary),
            standbys.join(", ")
        ));
    }
    text
}
