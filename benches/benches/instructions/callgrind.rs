//! Counting a running pooler's instructions with valgrind's callgrind: the
//! command line that starts a process under it, zeroing its counters after
//! the warm-up (`callgrind_control -z`), dumping what the measured window
//! cost (`callgrind_control -d`), and reading a dump's total and its most
//! expensive functions (`callgrind_annotate --inclusive=yes`).
//!
//! Callgrind counts the instructions the process executes in user space
//! (its own code and the libraries it calls, not the kernel's), the same
//! count whatever else the machine is doing.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use tempfile::TempDir;

/// Where the dumps go; removed with the bench.
pub struct Callgrind {
    dir: TempDir,
}

/// One function's inclusive cost in a dump.
pub struct FunctionCost {
    pub instructions: u64,
    pub name: String,
}

impl Callgrind {
    /// Checks valgrind is installed and makes the dump folder (writable by
    /// every user: pgbouncer runs as `postgres` when the bench is root).
    pub fn new() -> anyhow::Result<Callgrind> {
        for tool in ["valgrind", "callgrind_control", "callgrind_annotate"] {
            let found = Command::new(tool).arg("--version").output().is_ok();
            if !found {
                bail!("{tool} is not installed (apt-get install -y valgrind)");
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("shardwire-bench-callgrind-")
            .tempdir()
            .context("creating a folder for callgrind's dumps")?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777))
            .context("opening the dump folder to the pooler's user")?;
        Ok(Callgrind { dir })
    }

    /// The program and arguments that run a process named `name` under
    /// callgrind, its dumps written as `<name>.<pid>.<n>`.
    pub fn wrapper(&self, name: &str) -> Vec<String> {
        vec![
            "valgrind".into(),
            "--tool=callgrind".into(),
            "--quiet".into(),
            format!(
                "--callgrind-out-file={}/{name}.%p",
                self.dir.path().display()
            ),
        ]
    }

    /// Zeroes the counters of the process `pid` runs under callgrind.
    pub fn zero(&self, pid: u32) -> anyhow::Result<()> {
        control(pid, "-z")
    }

    /// Dumps what process `pid` (named `name`) executed since the last
    /// zero or dump, and returns the dump file.
    pub fn dump(&self, pid: u32, name: &str) -> anyhow::Result<PathBuf> {
        let before = self.dumps_of(name, pid)?;
        control(pid, "-d")?;
        let after = self.dumps_of(name, pid)?;
        after
            .into_iter()
            .find(|f| !before.contains(f))
            .with_context(|| format!("callgrind wrote no new dump for {name} (pid {pid})"))
    }

    fn dumps_of(&self, name: &str, pid: u32) -> anyhow::Result<Vec<PathBuf>> {
        let prefix = format!("{name}.{pid}.");
        let mut files = Vec::new();
        let entries = std::fs::read_dir(self.dir.path())
            .with_context(|| format!("reading {}", self.dir.path().display()))?;
        for entry in entries {
            let path = entry?.path();
            let is_dump = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix));
            if is_dump {
                files.push(path);
            }
        }
        Ok(files)
    }
}

/// Runs `callgrind_control <flag> <pid>` as the user the process runs as:
/// valgrind's gdb server reaches a process blocked in a system call with
/// ptrace, which only its own user may use without CAP_SYS_PTRACE.
fn control(pid: u32, flag: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    let owner = std::fs::metadata(format!("/proc/{pid}"))
        .with_context(|| format!("process {pid} is gone"))?;
    let mut cmd = Command::new("callgrind_control");
    cmd.args([flag, &pid.to_string()]);
    // SAFETY: geteuid has no preconditions and cannot fail.
    if owner.uid() != unsafe { libc::geteuid() } {
        cmd.uid(owner.uid()).gid(owner.gid());
    }
    let out = cmd.output().context("running callgrind_control")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !text.contains("OK") {
        bail!(
            "callgrind_control {flag} {pid} failed: {}{}",
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The instructions a dump counted (its `summary:` line).
pub fn total(dump: &Path) -> anyhow::Result<u64> {
    let text =
        std::fs::read_to_string(dump).with_context(|| format!("reading {}", dump.display()))?;
    let line = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .with_context(|| format!("no summary line in {}", dump.display()))?;
    line.split_whitespace()
        .next()
        .unwrap_or("")
        .parse()
        .with_context(|| format!("reading the summary {line:?} of {}", dump.display()))
}

/// The `count` functions with the highest inclusive cost in a dump.
pub fn top_inclusive(dump: &Path, count: usize) -> anyhow::Result<Vec<FunctionCost>> {
    let out = Command::new("callgrind_annotate")
        .args(["--inclusive=yes", "--threshold=100"])
        .arg(dump)
        .output()
        .context("running callgrind_annotate")?;
    if !out.status.success() {
        bail!(
            "callgrind_annotate failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut functions = Vec::new();
    // After the header, lines read "1,234,567 (12.34%)  file:function [object]".
    for line in text.lines() {
        let Some((number, rest)) = line.trim_start().split_once(' ') else {
            continue;
        };
        let Ok(instructions) = number.replace(',', "").parse::<u64>() else {
            continue;
        };
        let name = rest
            .trim_start()
            .strip_prefix('(')
            .and_then(|r| r.split_once(')'))
            .map_or(rest, |(_, name)| name)
            .trim();
        if name.is_empty() || name.starts_with("PROGRAM TOTALS") {
            continue;
        }
        functions.push(FunctionCost {
            instructions,
            name: shorten(name),
        });
        if functions.len() == count {
            break;
        }
    }
    Ok(functions)
}

/// "file.rs:path::to::function [/usr/bin/x]" → "path::to::function".
fn shorten(name: &str) -> String {
    let without_object = name.split(" [").next().unwrap_or(name);
    let function = without_object
        .split_once(':')
        .filter(|(file, _)| !file.contains("::"))
        .map_or(without_object, |(_, f)| f);
    let mut short: String = function.chars().take(110).collect();
    if short.len() < function.len() {
        short.push('…');
    }
    short
}
