//! The run matrix: for each query mode a warm-up per target, then for each
//! client count one pgbench run per target (direct, pgbouncer, shardwire),
//! side by side, with the pooler's CPU time read from /proc around each run.

use std::path::Path;

use crate::pgbench::{self, Endpoint, QueryMode, RunSpec};
use crate::pgbouncer::Pgbouncer;
use crate::procstat;
use crate::proxy_child::ProxyChild;
use crate::report::{Cell, Row};

pub const MODES: [QueryMode; 2] = [QueryMode::Simple, QueryMode::Prepared];
pub const CLIENTS: [u32; 2] = [20, 200];
/// Clients in a warm-up run.
const WARM_UP_CLIENTS: u32 = 20;

/// What the runs go through.
pub struct Targets<'a> {
    pub pgbench: &'a Path,
    pub pg_port: u16,
    /// `Err` says why there is no pgbouncer (not installed, failed to start).
    pub pgbouncer: Result<&'a mut Pgbouncer, String>,
    pub shardwire: &'a mut ProxyChild,
}

/// Runs every (mode, clients) row. `warm_up_errors` collects failed warm-ups.
pub async fn run_all(
    t: &mut Targets<'_>,
    secs: u64,
    warm_up_secs: u64,
    warm_up_errors: &mut Vec<String>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for mode in MODES {
        let warm = RunSpec {
            mode,
            clients: WARM_UP_CLIENTS,
            secs: warm_up_secs,
        };
        for (who, cell) in [
            ("direct", direct(t, warm).await),
            ("pgbouncer", pgbouncer(t, warm).await),
            ("shardwire", shardwire(t, warm).await),
        ] {
            if let Cell::Failed(e) = cell {
                warm_up_errors.push(format!("warm-up {} {who}: {e}", mode.as_str()));
            }
        }
        for clients in CLIENTS {
            let spec = RunSpec {
                mode,
                clients,
                secs,
            };
            eprintln!(
                "running pgbench -S -M {} -c {clients} -T {secs} ...",
                mode.as_str()
            );
            rows.push(Row {
                mode,
                clients,
                direct: direct(t, spec).await,
                pgbouncer: pgbouncer(t, spec).await,
                shardwire: shardwire(t, spec).await,
            });
        }
    }
    rows
}

async fn direct(t: &Targets<'_>, spec: RunSpec) -> Cell {
    match pgbench::select_only(t.pgbench, Endpoint { port: t.pg_port }, spec).await {
        Ok(summary) => Cell::Measured {
            summary,
            cpu_us_per_txn: None,
        },
        Err(e) => Cell::Failed(format!("{e:#}")),
    }
}

async fn pgbouncer(t: &mut Targets<'_>, spec: RunSpec) -> Cell {
    let bouncer = match &mut t.pgbouncer {
        Ok(b) => b,
        Err(why) => return Cell::NotApplicable(why.clone()),
    };
    if spec.mode == QueryMode::Prepared {
        if let Some(why) = &bouncer.prepared_unsupported {
            return Cell::NotApplicable(why.clone());
        }
    }
    if let Err(e) = bouncer.ensure_running() {
        return Cell::Failed(format!("{e:#}"));
    }
    let cell = pooler_run(t.pgbench, bouncer.port(), bouncer.pid(), spec).await;
    if let (Cell::Failed(e), Err(dead)) = (&cell, bouncer.ensure_running()) {
        return Cell::Failed(format!("{e}\n{dead:#}"));
    }
    cell
}

async fn shardwire(t: &mut Targets<'_>, spec: RunSpec) -> Cell {
    let proxy = &mut *t.shardwire;
    if let Err(e) = proxy.ensure_running() {
        return Cell::Failed(format!("{e:#}"));
    }
    match pooler_run(t.pgbench, proxy.port(), proxy.pid(), spec).await {
        Cell::Failed(e) => match proxy.ensure_running() {
            Err(dead) => Cell::Failed(format!("{e}\n{dead:#}")),
            Ok(()) => {
                let log = proxy.log_tail(10);
                if log.is_empty() {
                    Cell::Failed(e)
                } else {
                    Cell::Failed(format!("{e}\nend of the shardwire child's log:\n{log}"))
                }
            }
        },
        cell => cell,
    }
}

/// One pgbench run through a pooler whose CPU time is read around it.
async fn pooler_run(pgbench_bin: &Path, port: u16, pid: u32, spec: RunSpec) -> Cell {
    let before = match procstat::cpu_seconds(pid) {
        Ok(s) => s,
        Err(e) => return Cell::Failed(format!("{e:#}")),
    };
    let summary = match pgbench::select_only(pgbench_bin, Endpoint { port }, spec).await {
        Ok(s) => s,
        Err(e) => return Cell::Failed(format!("{e:#}")),
    };
    let cpu_us_per_txn = procstat::cpu_seconds(pid)
        .ok()
        .filter(|_| summary.transactions > 0)
        .map(|after| (after - before) * 1e6 / summary.transactions as f64);
    Cell::Measured {
        summary,
        cpu_us_per_txn,
    }
}

/// Clients in the login-cost run.
pub const LOGIN_CLIENTS: u32 = 200;

/// CPU milliseconds the pooler `pid` spends per client login (with SCRAM,
/// plus the client's one transaction): `pgbench -c LOGIN_CLIENTS -t 1`.
/// This cost is part of every row's µs/txn, most visibly at 200 clients.
pub async fn login_cpu_ms(pgbench_bin: &Path, port: u16, pid: u32) -> anyhow::Result<f64> {
    let before = procstat::cpu_seconds(pid)?;
    let summary = pgbench::logins(pgbench_bin, Endpoint { port }, LOGIN_CLIENTS).await?;
    let after = procstat::cpu_seconds(pid)?;
    if summary.failed > 0 {
        anyhow::bail!("{} of the login run's transactions failed", summary.failed);
    }
    Ok((after - before) * 1e3 / f64::from(LOGIN_CLIENTS))
}
