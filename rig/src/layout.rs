//! Where things live on disk: the rig root, rig directories named after
//! their creating pid, and each node's files.
//!
//! ```text
//! /tmp/shardwire-rig/                 rig root (mode 1777, shared by processes)
//!   <pid>-<random>/                   one Rig, created by process <pid>
//!     <node>/                         node dir, owned by the server user;
//!                                     also its unix socket directory
//!       data/                         PGDATA
//!       postgres.log                  server log (pg_ctl -l)
//! ```
//!
//! Unix socket paths are limited to ~107 bytes, so the root stays short.

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure};

/// Environment variable overriding the rig root directory.
pub const ROOT_ENV: &str = "SHARDWIRE_RIG_ROOT";

const ROOT_NAME: &str = "shardwire-rig";
const FALLBACK_TEMP: &str = "/tmp";
/// Longest temp dir we put the root under before falling back to /tmp.
const MAX_TEMP_LEN: usize = 40;
/// Longest node name; keeps socket paths short and slot names valid.
const MAX_NAME_LEN: usize = 32;
/// `sizeof(sun_path)` minus the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// The directory holding every rig directory on this machine.
pub(crate) fn rig_root() -> PathBuf {
    if let Some(root) = std::env::var_os(ROOT_ENV) {
        return PathBuf::from(root);
    }
    let temp = std::env::temp_dir();
    let base = if temp.as_os_str().len() <= MAX_TEMP_LEN {
        temp
    } else {
        PathBuf::from(FALLBACK_TEMP)
    };
    base.join(ROOT_NAME)
}

/// The prefix of rig directories created by process `pid`.
pub(crate) fn rig_dir_prefix(pid: u32) -> String {
    format!("{pid}-")
}

/// The creating pid encoded in a rig directory name.
pub(crate) fn rig_dir_pid(dir_name: &str) -> Option<u32> {
    let (pid, rest) = dir_name.split_once('-')?;
    if rest.is_empty() {
        return None;
    }
    pid.parse().ok()
}

/// Paths of one node inside a rig directory.
#[derive(Clone, Debug)]
pub(crate) struct NodePaths {
    /// The node directory; also the unix socket directory.
    pub dir: PathBuf,
    /// PGDATA.
    pub data: PathBuf,
    /// The server log.
    pub log: PathBuf,
}

impl NodePaths {
    pub(crate) fn new(rig_dir: &Path, name: &str) -> Self {
        let dir = rig_dir.join(name);
        NodePaths {
            data: dir.join("data"),
            log: dir.join("postgres.log"),
            dir,
        }
    }

    /// Fails if the unix socket for `port` would not fit in `sun_path`.
    pub(crate) fn check_socket_len(&self, port: u16) -> anyhow::Result<()> {
        let socket = self.dir.join(format!(".s.PGSQL.{port}"));
        let len = socket.as_os_str().len();
        ensure!(
            len <= MAX_SOCKET_PATH,
            "unix socket path {} is {len} bytes, over the {MAX_SOCKET_PATH}-byte limit; \
             set {ROOT_ENV} to a shorter directory",
            socket.display()
        );
        Ok(())
    }
}

/// Node names become directory, cluster and replication slot names: ASCII
/// letters, digits, `_` and `-`, at most 32 characters.
pub(crate) fn validate_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        bail!("invalid node name {name:?}: use 1-{MAX_NAME_LEN} ASCII letters, digits, '_' or '-'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rig_dir_names_round_trip_the_pid() {
        let name = format!("{}abc123", rig_dir_prefix(4242));
        assert_eq!(rig_dir_pid(&name), Some(4242));
        assert_eq!(rig_dir_pid("4242-"), None);
        assert_eq!(rig_dir_pid("notes-abc"), None);
        assert_eq!(rig_dir_pid("4242"), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("shard_0-a").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("a/b").is_err());
        assert!(validate_name(&"x".repeat(33)).is_err());
    }

    #[test]
    fn long_socket_paths_are_refused() {
        let short = NodePaths::new(Path::new("/tmp/shardwire-rig/1-abc"), "n");
        assert!(short.check_socket_len(65535).is_ok());
        let long = NodePaths::new(&Path::new("/tmp").join("d".repeat(100)), "n");
        assert!(long.check_socket_len(65535).is_err());
    }
}
