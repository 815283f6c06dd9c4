//! Decides which OS user runs PostgreSQL and hands files over to that user.
//!
//! PostgreSQL refuses to run as root. When this process's effective uid is 0
//! the server-side binaries run as the `postgres` system user (override the
//! name with `SHARDWIRE_PG_OS_USER`); otherwise they run as the current user
//! and nothing changes hands.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

/// Environment variable naming the OS user to run PostgreSQL as when root.
pub const OS_USER_ENV: &str = "SHARDWIRE_PG_OS_USER";

const DEFAULT_OS_USER: &str = "postgres";

/// A uid/gid pair to run PostgreSQL binaries as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OsUser {
    pub uid: u32,
    pub gid: u32,
}

/// The user to switch to for server-side binaries: `Some` when running as
/// root, `None` when the current user can run PostgreSQL itself.
pub(crate) fn server_user() -> anyhow::Result<Option<OsUser>> {
    if effective_uid()? != 0 {
        return Ok(None);
    }
    let name = std::env::var(OS_USER_ENV).unwrap_or_else(|_| DEFAULT_OS_USER.to_owned());
    let user = lookup(&name).with_context(|| {
        format!("running as root, PostgreSQL must run as another user, and `{name}` was not found")
    })?;
    if user.uid == 0 {
        bail!("{OS_USER_ENV}={name} is root; PostgreSQL refuses to run as root");
    }
    Ok(Some(user))
}

/// Makes `cmd` run as `user` (no-op for `None`).
pub(crate) fn run_as(cmd: &mut Command, user: Option<OsUser>) {
    if let Some(user) = user {
        cmd.gid(user.gid).uid(user.uid);
    }
}

/// Hands `path` over to `user` (no-op for `None`).
pub(crate) fn give(path: &Path, user: Option<OsUser>) -> anyhow::Result<()> {
    if let Some(user) = user {
        std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
            .with_context(|| format!("chown {} to uid {}", path.display(), user.uid))?;
    }
    Ok(())
}

fn effective_uid() -> anyhow::Result<u32> {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(uid) = euid_from_status(&status) {
            return Ok(uid);
        }
    }
    id_number(&["-u"])
}

/// The effective uid from `/proc/<pid>/status` (`Uid: real effective saved fs`).
fn euid_from_status(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn lookup(name: &str) -> anyhow::Result<OsUser> {
    if let Ok(passwd) = std::fs::read_to_string("/etc/passwd") {
        if let Some(user) = from_passwd(&passwd, name) {
            return Ok(user);
        }
    }
    Ok(OsUser {
        uid: id_number(&["-u", name])?,
        gid: id_number(&["-g", name])?,
    })
}

/// Finds `name` in `/etc/passwd` text (`name:x:uid:gid:...`).
fn from_passwd(passwd: &str, name: &str) -> Option<OsUser> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != name {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some(OsUser { uid, gid })
    })
}

fn id_number(args: &[&str]) -> anyhow::Result<u32> {
    let out = Command::new("id")
        .args(args)
        .output()
        .context("running `id`")?;
    if !out.status.success() {
        bail!(
            "`id {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .with_context(|| format!("`id {}` printed {text:?}", args.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd_lines() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      postgres:x:101:104:PostgreSQL administrator:/var/lib/postgresql:/bin/bash\n";
        assert_eq!(
            from_passwd(passwd, "postgres"),
            Some(OsUser { uid: 101, gid: 104 })
        );
        assert_eq!(from_passwd(passwd, "post"), None);
    }

    #[test]
    fn parses_effective_uid() {
        let status = "Name:\tcat\nUid:\t1000\t0\t0\t0\nGid:\t5\t5\t5\t5\n";
        assert_eq!(euid_from_status(status), Some(0));
    }
}
