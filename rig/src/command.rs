//! Runs PostgreSQL's command-line tools as the server user and turns their
//! failures into errors that carry stderr and the node's log tail.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use anyhow::{anyhow, Context};

use crate::log_tail;
use crate::os_user::{self, OsUser};

/// Environment variables that would silently redirect the tools.
const SCRUBBED_ENV: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGDATABASE",
    "PGDATA",
    "PGOPTIONS",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGAPPNAME",
    "PGSSLMODE",
    "PGTARGETSESSIONATTRS",
];

/// A command for `<bindir>/<program>` that runs as `user`, in `cwd` (which
/// that user must be able to enter), with a clean `PG*` environment and no
/// stdin.
pub(crate) fn pg(bindir: &Path, program: &str, user: Option<OsUser>, cwd: &Path) -> Command {
    let mut cmd = Command::new(bindir.join(program));
    os_user::run_as(&mut cmd, user);
    cmd.current_dir(cwd).env("HOME", cwd).stdin(Stdio::null());
    for var in SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `cmd` to completion; on failure the error names `what`, the exit
/// status, the tool's output and the tail of `log` if given.
pub(crate) fn run(mut cmd: Command, what: &str, log: Option<&Path>) -> anyhow::Result<Output> {
    let output = cmd
        .output()
        .with_context(|| format!("{what}: cannot run {:?}", cmd.get_program()))?;
    check(output, what, log)
}

/// Async [`run`], for callers on a tokio runtime.
pub(crate) async fn run_async(
    cmd: Command,
    what: &str,
    log: Option<&Path>,
) -> anyhow::Result<Output> {
    let program = cmd.get_program().to_owned();
    let output = tokio::process::Command::from(cmd)
        .output()
        .await
        .with_context(|| format!("{what}: cannot run {program:?}"))?;
    check(output, what, log)
}

fn check(output: Output, what: &str, log: Option<&Path>) -> anyhow::Result<Output> {
    if output.status.success() {
        return Ok(output);
    }
    let mut msg = format!("{what} failed ({})", output.status);
    for stream in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(stream);
        if !text.trim().is_empty() {
            msg.push('\n');
            msg.push_str(text.trim_end());
        }
    }
    if let Some(log) = log {
        msg = log_tail::with_tail(&msg, log);
    }
    Err(anyhow!(msg))
}
