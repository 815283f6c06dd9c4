//! The results and how they are printed: one table row per (query mode,
//! client count) with the three targets side by side, the verdict against
//! the design's performance targets, the idle-client memory lines, and the
//! details of anything that went wrong.

use crate::idle_clients::MemoryUse;
use crate::pgbench::{QueryMode, Summary};

/// shardwire must reach this multiple of pgbouncer's tps.
pub const TARGET_RATIO: f64 = 1.10;
/// shardwire may use at most this much CPU per transaction, in µs.
pub const TARGET_US_PER_TXN: f64 = 15.0;
/// shardwire's RSS with all idle clients logged in, at most (MiB).
pub const TARGET_IDLE_RSS_MIB: f64 = 100.0;

/// One target's result in one row.
#[derive(Clone, Debug)]
pub enum Cell {
    Measured {
        summary: Summary,
        /// The pooler's CPU per transaction (None for direct).
        cpu_us_per_txn: Option<f64>,
    },
    /// The run errored; the message says how.
    Failed(String),
    /// Not run, and why (e.g. pgbouncer not installed).
    NotApplicable(String),
}

impl Cell {
    fn tps(&self) -> Option<f64> {
        match self {
            Cell::Measured { summary, .. } => Some(summary.tps),
            _ => None,
        }
    }

    fn us_per_txn(&self) -> Option<f64> {
        match self {
            Cell::Measured { cpu_us_per_txn, .. } => *cpu_us_per_txn,
            _ => None,
        }
    }

    fn failed_txns(&self) -> u64 {
        match self {
            Cell::Measured { summary, .. } => summary.failed,
            _ => 0,
        }
    }

    fn show_tps(&self) -> String {
        match self {
            Cell::Measured { summary, .. } => format!("{:.0}", summary.tps),
            Cell::Failed(_) => "ERROR".into(),
            Cell::NotApplicable(_) => "n/a".into(),
        }
    }

    fn show_us(&self) -> String {
        match self {
            Cell::Measured {
                cpu_us_per_txn: Some(us),
                ..
            } => format!("{us:.1}"),
            Cell::Failed(_) => "ERROR".into(),
            _ => "n/a".into(),
        }
    }
}

/// One (mode, clients) row.
#[derive(Clone, Debug)]
pub struct Row {
    pub mode: QueryMode,
    pub clients: u32,
    pub direct: Cell,
    pub pgbouncer: Cell,
    pub shardwire: Cell,
}

impl Row {
    fn cells(&self) -> [(&'static str, &Cell); 3] {
        [
            ("direct", &self.direct),
            ("pgbouncer", &self.pgbouncer),
            ("shardwire", &self.shardwire),
        ]
    }

    fn ratio(&self) -> Option<f64> {
        Some(self.shardwire.tps()? / self.pgbouncer.tps()?)
    }

    /// "pass", or what missed.
    fn verdict(&self) -> String {
        if matches!(self.shardwire, Cell::Failed(_)) {
            return "ERROR".into();
        }
        let mut misses = Vec::new();
        match self.ratio() {
            Some(r) if r < TARGET_RATIO => misses.push(format!("ratio {r:.2} < {TARGET_RATIO:.2}")),
            Some(_) => {}
            None => misses.push("ratio n/a".into()),
        }
        match self.shardwire.us_per_txn() {
            Some(us) if us > TARGET_US_PER_TXN => {
                misses.push(format!("{us:.1} µs > {TARGET_US_PER_TXN:.0} µs"))
            }
            Some(_) => {}
            None => misses.push("µs n/a".into()),
        }
        let real_misses: Vec<&String> = misses.iter().filter(|m| !m.ends_with("n/a")).collect();
        match (real_misses.is_empty(), misses.is_empty()) {
            (true, true) => "pass".into(),
            (true, false) => format!("pass ({})", misses.join(", ")),
            (false, _) => format!("MISS ({})", misses.join(", ")),
        }
    }

    fn failed_txns(&self) -> u64 {
        self.cells().iter().map(|(_, c)| c.failed_txns()).sum()
    }
}

/// Facts printed above the table.
pub struct Header {
    pub postgres: String,
    pub pgbouncer: String,
    pub secs: u64,
}

/// Prints the whole report to stdout.
pub fn print(
    header: &Header,
    rows: &[Row],
    logins: &[(&str, Result<f64, String>)],
    memory: &[(&str, Result<MemoryUse, String>)],
    problems: &[String],
) {
    println!();
    println!(
        "== shardwire load bench: pgbench -S -j 2 -T {}, pool size 20, transaction pooling ==",
        header.secs
    );
    println!(
        "PostgreSQL {} | {} | {} CPUs",
        header.postgres,
        header.pgbouncer,
        cpus()
    );
    println!(
        "targets: shardwire/pgbouncer tps >= {TARGET_RATIO:.2}, shardwire <= {TARGET_US_PER_TXN:.0} µs CPU/txn"
    );
    println!();
    println!(
        "{:<9} {:>7} {:>10} {:>10} {:>10} {:>7} {:>9} {:>9} {:>7}  verdict",
        "mode",
        "clients",
        "direct",
        "pgbouncer",
        "shardwire",
        "sw/pgb",
        "pgb µs",
        "sw µs",
        "failed"
    );
    println!(
        "{:<9} {:>7} {:>10} {:>10} {:>10} {:>7} {:>9} {:>9} {:>7}",
        "", "", "tps", "tps", "tps", "", "/txn", "/txn", "txns"
    );
    for row in rows {
        let ratio = row.ratio().map_or("n/a".into(), |r| format!("{r:.2}x"));
        println!(
            "{:<9} {:>7} {:>10} {:>10} {:>10} {:>7} {:>9} {:>9} {:>7}  {}",
            row.mode.as_str(),
            row.clients,
            row.direct.show_tps(),
            row.pgbouncer.show_tps(),
            row.shardwire.show_tps(),
            ratio,
            row.pgbouncer.show_us(),
            row.shardwire.show_us(),
            row.failed_txns(),
            row.verdict()
        );
    }
    println!("(µs/txn = pooler CPU time, user+system, over the run incl. client logins, / transactions processed)");

    let costs: Vec<String> = logins
        .iter()
        .map(|(who, cost)| match cost {
            Ok(ms) => format!("{who} {ms:.2} ms"),
            Err(_) => format!("{who} ERROR"),
        })
        .collect();
    if !costs.is_empty() {
        println!(
            "(login cost, pgbench -c {} -t 1: {} of pooler CPU per client login; part of the µs/txn above)",
            crate::runs::LOGIN_CLIENTS,
            costs.join(", ")
        );
    }

    println!();
    println!("idle clients (resident memory of the pooler; shardwire target <= {TARGET_IDLE_RSS_MIB:.0} MiB with them):");
    for (who, result) in memory {
        match result {
            Ok(m) => println!("  {who:<10} {}", memory_line(who, m)),
            Err(e) => println!("  {who:<10} ERROR: {e}"),
        }
    }

    let mut details = problems.to_vec();
    for row in rows {
        for (who, cell) in row.cells() {
            let what = format!("{} -c {} {who}", row.mode.as_str(), row.clients);
            match cell {
                Cell::Failed(e) => details.push(format!("ERROR {what}: {e}")),
                Cell::Measured { summary, .. } if summary.failed > 0 => {
                    details.push(format!("FAILED TRANSACTIONS {what}: {}", summary.failed))
                }
                _ => {}
            }
        }
    }
    for (who, cost) in logins {
        if let Err(e) = cost {
            details.push(format!("ERROR login cost {who}: {e}"));
        }
    }
    for (who, result) in memory {
        if let Ok(m) = result {
            for e in &m.errors {
                details.push(format!("ERROR idle clients {who}: {e}"));
            }
        }
    }
    let na: Vec<String> = rows
        .iter()
        .flat_map(|r| r.cells().into_iter().map(move |(who, c)| (r, who, c)))
        .filter_map(|(r, who, c)| match c {
            Cell::NotApplicable(why) => Some(format!(
                "{} -c {} {who}: n/a ({why})",
                r.mode.as_str(),
                r.clients
            )),
            _ => None,
        })
        .collect();
    if !na.is_empty() {
        println!();
        println!("notes:");
        for line in &na {
            println!("  {line}");
        }
    }
    if !details.is_empty() {
        println!();
        println!("problems:");
        for line in &details {
            println!("  {}", line.replace('\n', "\n    "));
        }
    }
}

fn memory_line(who: &str, m: &MemoryUse) -> String {
    let mib = |kib: u64| kib as f64 / 1024.0;
    let per = m
        .per_client_kib()
        .map_or("n/a".into(), |k| format!("{k:.2} KiB/client"));
    let mut line = format!(
        "{}/{} clients: RSS {:.1} MiB -> {:.1} MiB (+{:.1} MiB, {per}), logged in within {:.2} s",
        m.opened,
        m.requested,
        mib(m.rss_before_kib),
        mib(m.rss_after_kib),
        mib(m.rss_after_kib.saturating_sub(m.rss_before_kib)),
        m.accept_time.as_secs_f64(),
    );
    if who == "shardwire" {
        let ok = mib(m.rss_after_kib) <= TARGET_IDLE_RSS_MIB && m.failed == 0;
        line.push_str(if ok { "  pass" } else { "  MISS" });
    }
    if m.failed > 0 {
        line.push_str(&format!("  ({} logins failed)", m.failed));
    }
    line
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}
