//! What /proc says about a process: CPU time used (user + system, all
//! threads) and resident memory.

use anyhow::{bail, Context};

/// CPU seconds (utime + stime of every thread) process `pid` has used.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let ticks = utime_plus_stime(&stat).with_context(|| format!("parsing {path}: {stat:?}"))?;
    Ok(ticks as f64 / clock_ticks_per_second()?)
}

/// Resident set size of process `pid` in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .with_context(|| format!("no VmRSS line in {path}"))?;
    // "VmRSS:	   12345 kB"
    let kib = line
        .split_whitespace()
        .nth(1)
        .with_context(|| format!("malformed {line:?} in {path}"))?;
    kib.parse()
        .with_context(|| format!("malformed {line:?} in {path}"))
}

/// Fields 14 (utime) and 15 (stime) of `/proc/<pid>/stat`, in clock ticks.
/// Field 2, the command name, is in parentheses and may contain spaces, so
/// counting starts after its closing parenthesis (at field 3).
fn utime_plus_stime(stat: &str) -> anyhow::Result<u64> {
    let after_comm = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .context("no ')' after the command name")?;
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // fields[0] is field 3 (state), so field n is fields[n - 3].
    let (Some(utime), Some(stime)) = (fields.get(11), fields.get(12)) else {
        bail!("fewer than 15 fields");
    };
    Ok(utime.parse::<u64>()? + stime.parse::<u64>()?)
}

fn clock_ticks_per_second() -> anyhow::Result<f64> {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks <= 0 {
        bail!("sysconf(_SC_CLK_TCK) returned {ticks}");
    }
    Ok(ticks as f64)
}
