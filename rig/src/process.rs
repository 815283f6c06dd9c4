//! Looks at, kills, stops and continues PostgreSQL processes through
//! `/proc` and `kill(1)`.
//!
//! The postmaster's pid is the first line of `postmaster.pid` in its data
//! directory. Its parent (`pg_ctl`) exits right after starting it, so once it
//! dies it may linger as a zombie of an init that does not reap; "alive" here
//! therefore means "exists and is not a zombie".

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Whether process `pid` exists and is not a zombie (Linux `/proc`).
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(parse_stat(&stat), Some(('Z' | 'X', _))),
        Err(_) => false,
    }
}

/// The postmaster pid recorded in `<data_dir>/postmaster.pid`, if any.
pub(crate) fn postmaster_pid(data_dir: &Path) -> Option<u32> {
    lock_file_pid(&data_dir.join("postmaster.pid"))
}

/// The pid on the first line of a PostgreSQL lock file (`postmaster.pid`,
/// `.s.PGSQL.<port>.lock`), if the file exists.
pub(crate) fn lock_file_pid(path: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// The live postgres postmaster of `data_dir`, if one is running.
pub(crate) fn running_postmaster(data_dir: &Path) -> Option<u32> {
    postmaster_pid(data_dir).filter(|&pid| pid_alive(pid) && is_postgres(pid))
}

/// Live postgres processes whose working directory is `dir`. PostgreSQL processes
/// chdir into their data directory, so this finds a data directory's
/// backends even after their postmaster died and they were reparented.
pub(crate) fn pids_with_cwd(dir: &Path) -> Vec<u32> {
    let Ok(dir) = dir.canonicalize() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir))
        .filter(|&pid| pid_alive(pid) && is_postgres(pid))
        .collect()
}

/// SIGKILLs `pid` and all its descendants (a postmaster's backends and
/// auxiliary processes), then waits up to `timeout` for all of them to go.
pub(crate) fn kill_tree(pid: u32, timeout: Duration) -> anyhow::Result<()> {
    let mut pids = vec![pid];
    pids.extend(descendants(pid));
    kill_all(&pids, timeout)
}

/// SIGKILLs every pid in `pids` and waits up to `timeout` for them to go.
pub(crate) fn kill_all(pids: &[u32], timeout: Duration) -> anyhow::Result<()> {
    let args: Vec<String> = pids.iter().map(u32::to_string).collect();
    // Some pids may already be gone; kill(1) then fails for those only.
    let status = Command::new("kill")
        .arg("-KILL")
        .args(&args)
        .stderr(std::process::Stdio::null())
        .status()
        .context("running kill(1)")?;
    let still: Vec<u32> = wait_gone(pids, timeout);
    if !still.is_empty() {
        bail!("pids {still:?} still alive {timeout:?} after SIGKILL (kill exit {status})");
    }
    Ok(())
}

/// Every live process of the PostgreSQL instance in `data_dir`: its
/// postmaster, the postmaster's descendants and any stray backend.
pub(crate) fn instance_pids(data_dir: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    if let Some(pid) = running_postmaster(data_dir) {
        pids.push(pid);
        pids.extend(descendants(pid));
    }
    for pid in pids_with_cwd(data_dir) {
        if !pids.contains(&pid) {
            pids.push(pid);
        }
    }
    pids
}

/// Sends `signal` (a kill(1) name such as `STOP`) to every pid in `pids`.
pub(crate) fn signal_all(pids: &[u32], signal: &str) -> anyhow::Result<()> {
    if pids.is_empty() {
        return Ok(());
    }
    let args: Vec<String> = pids.iter().map(u32::to_string).collect();
    // Some pids may be gone; kill(1) then fails for those only.
    Command::new("kill")
        .arg(format!("-{signal}"))
        .args(&args)
        .stderr(std::process::Stdio::null())
        .status()
        .context("running kill(1)")?;
    Ok(())
}

/// Polls until none of `pids` is alive or `timeout` passes; returns the
/// survivors.
pub(crate) fn wait_gone(pids: &[u32], timeout: Duration) -> Vec<u32> {
    let deadline = Instant::now() + timeout;
    loop {
        let alive: Vec<u32> = pids.iter().copied().filter(|&p| pid_alive(p)).collect();
        if alive.is_empty() || Instant::now() >= deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_postgres(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        Ok(comm) => {
            let comm = comm.trim();
            comm.starts_with("postgres") || comm.starts_with("postmaster")
        }
        // Unreadable but present: give it the benefit of the doubt.
        Err(_) => true,
    }
}

/// All live descendants of `root`, from one scan of `/proc`.
fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            if let Some((_, ppid)) = parse_stat(&stat) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        if let Some(kids) = children.get(&p) {
            out.extend(kids);
            todo.extend(kids);
        }
    }
    out
}

/// State letter and parent pid from `/proc/<pid>/stat` (`pid (comm) S ppid ...`;
/// comm may contain spaces and parentheses, so split after the last `)`).
fn parse_stat(stat: &str) -> Option<(char, u32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_comm() {
        let stat = "4242 (postgres: a) b) S 17 4242 4242 0 -1 4194560";
        assert_eq!(parse_stat(stat), Some(('S', 17)));
        assert_eq!(parse_stat("1 (init) Z 0 1"), Some(('Z', 0)));
    }

    #[test]
    fn own_pid_is_alive_and_reaped_child_is_not() {
        assert!(pid_alive(std::process::id()));
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!pid_alive(pid));
    }

    #[test]
    fn kill_tree_kills_children() {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .spawn()
            .unwrap();
        let pid = child.id();
        // Let the shell fork its sleeps.
        let deadline = Instant::now() + Duration::from_secs(5);
        while descendants(pid).len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let kids = descendants(pid);
        assert_eq!(kids.len(), 2, "expected two sleeps under {pid}");
        // The shell is our child: reap it concurrently so it does not stay a zombie.
        let reaper = std::thread::spawn(move || child.wait());
        kill_tree(pid, Duration::from_secs(5)).unwrap();
        reaper.join().unwrap().unwrap();
        assert!(kids.iter().all(|&k| !pid_alive(k)));
    }
}
