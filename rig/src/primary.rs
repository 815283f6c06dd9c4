//! Creating a primary: node directory, `initdb`, configuration, first start.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;

use crate::admin;
use crate::command;
use crate::conf::{self, AuthMethod, NodeOptions};
use crate::node::Node;
use crate::node_files;
use crate::os_user::{self, OsUser};
use crate::rig::Site;
use crate::SUPERUSER;

/// Creates the node directory, runs `initdb` and writes the configuration.
/// The returned node is not started yet.
pub(crate) async fn prepare(site: &Site, name: &str, opts: &NodeOptions) -> anyhow::Result<Node> {
    let shared = conf::shared_conf(opts)?;
    let (paths, port) = node_files::create_dir(site, name)?;

    let pwfile = paths.dir.join("pwfile");
    write_private(
        &pwfile,
        &format!("{}\n", crate::SUPERUSER_PASSWORD),
        site.user,
    )?;
    let mut initdb = command::pg(&site.bindir, "initdb", site.user, &paths.dir);
    initdb
        .arg("-D")
        .arg(&paths.data)
        .args(["-U", SUPERUSER])
        .arg(format!("--pwfile={}", pwfile.display()))
        .args([
            "-A",
            "scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]);
    command::run_async(initdb, &format!("initdb of node {name}"), None).await?;
    std::fs::remove_file(&pwfile).with_context(|| format!("removing {}", pwfile.display()))?;

    append(&paths.data.join("postgresql.conf"), &shared)?;
    node_files::write_node_conf(&paths, port, name, site.user)?;
    std::fs::write(paths.data.join("pg_hba.conf"), conf::hba(opts.auth))
        .context("writing pg_hba.conf")?;

    Ok(Node::new(
        name,
        port,
        paths,
        &site.bindir,
        site.user,
        opts.auth,
    ))
}

/// First start of a prepared primary; for MD5 nodes, re-stores the
/// superuser password as an MD5 hash.
pub(crate) async fn launch(node: &Node) -> anyhow::Result<()> {
    node.start_async().await?;
    if node.auth() == AuthMethod::Md5 {
        admin::reset_superuser_password(node).await?;
    }
    Ok(())
}

fn write_private(path: &Path, text: &str, user: Option<OsUser>) -> anyhow::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))?;
    os_user::give(path, user)
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(format!("\n{text}").as_bytes()))
        .with_context(|| format!("appending to {}", path.display()))
}
