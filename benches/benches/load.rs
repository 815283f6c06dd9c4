//! Load bench: pgbench `-S` through shardwire vs pgbouncer vs direct
//! PostgreSQL, side by side in one run, plus the memory cost of idle
//! clients — printed against DESIGN.md's performance targets.
//!
//! `cargo bench -p shardwire-benches --bench load`
//!
//! - `SHARDWIRE_BENCH_SECS` (default 15): length of each pgbench run;
//! - `SHARDWIRE_BENCH_IDLE_CLIENTS` (default 10000): idle clients for the
//!   memory lines;
//! - pgbouncer must be on PATH (`apt-get install -y pgbouncer`), else its
//!   columns are n/a.
//!
//! A miss against a target is printed, not fatal; the bench exits non-zero
//! only if a run errored, a transaction failed, or an idle client could not
//! log in. shardwire runs as a child process (this binary re-executed with
//! `--proxy-child <config>`) so its CPU and memory are its own; every child
//! and the PostgreSQL rig are stopped on the way out, errors included.

#[path = "load/idle_clients.rs"]
mod idle_clients;
#[path = "load/pgbench.rs"]
mod pgbench;
#[path = "load/pgbouncer.rs"]
mod pgbouncer;
#[path = "load/postgres.rs"]
mod postgres;
#[path = "load/process.rs"]
mod process;
#[path = "load/procstat.rs"]
mod procstat;
#[path = "load/proxy_child.rs"]
mod proxy_child;
#[path = "load/report.rs"]
mod report;
#[path = "load/runs.rs"]
mod runs;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use shardwire_rig::Rig;

use pgbouncer::Pgbouncer;
use proxy_child::ProxyChild;
use report::Cell;

const SECS_ENV: &str = "SHARDWIRE_BENCH_SECS";
const IDLE_ENV: &str = "SHARDWIRE_BENCH_IDLE_CLIENTS";

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == proxy_child::CHILD_ARG) {
        return match args.get(2) {
            Some(config) => proxy_child::run(Path::new(config)),
            None => {
                eprintln!("{} needs a configuration file", proxy_child::CHILD_ARG);
                ExitCode::from(2)
            }
        };
    }
    // Everything the bench itself does runs on the main thread, which is
    // also the thread that spawns (and so parents) the children.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("load bench: cannot build a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("load bench: some runs errored or had failed transactions (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("load bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What the environment asks for.
struct Settings {
    secs: u64,
    idle_clients: usize,
}

impl Settings {
    fn from_env() -> anyhow::Result<Settings> {
        let secs = env_number(SECS_ENV, 15)?;
        if secs == 0 {
            bail!("{SECS_ENV} must be at least 1");
        }
        Ok(Settings {
            secs,
            idle_clients: usize::try_from(env_number(IDLE_ENV, 10_000)?)
                .with_context(|| format!("{IDLE_ENV} is too large"))?,
        })
    }
}

fn env_number(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("{name}={v:?} is not a whole number")),
        Err(std::env::VarError::NotPresent) => Ok(default),
        Err(e) => Err(e).with_context(|| format!("reading {name}")),
    }
}

/// The whole bench. `Ok(false)`: it ran, but something errored or failed.
async fn bench() -> anyhow::Result<bool> {
    let settings = Settings::from_env()?;
    raise_open_files_limit(settings.idle_clients)?;
    let pgbench_bin = pgbench::binary()?;
    let installed = pgbouncer::installed()?;
    if installed.is_none() {
        eprintln!(
            "pgbouncer is not on PATH: its columns will be n/a. \
             Install it with `apt-get install -y pgbouncer` to compare."
        );
    }

    // Declared first so it is dropped last: PostgreSQL outlives the poolers.
    let rig = Rig::new().context("creating the PostgreSQL rig")?;
    let _teardown = rig.install_ctrl_c_teardown()?;
    eprintln!("starting PostgreSQL and running pgbench -i -s 10 ...");
    let node = postgres::start(&rig, &pgbench_bin).await?;
    let pg_version = postgres::version(&node)
        .await
        .unwrap_or_else(|e| format!("? ({e:#})"));

    let mut shardwire = ProxyChild::start(node.port())
        .await
        .context("starting the shardwire child")?;
    let max_clients = settings.idle_clients.max(1_000) + 200;
    let mut bouncer: Result<Pgbouncer, String> = match &installed {
        Some(i) => Pgbouncer::start(i, node.port(), max_clients)
            .await
            .map_err(|e| format!("pgbouncer did not start: {e:#}")),
        None => Err("pgbouncer not installed (apt-get install -y pgbouncer)".into()),
    };
    let bouncer_failed_to_start = installed.is_some() && bouncer.is_err();

    let warm_up_secs = settings.secs.min(3);
    let mut warm_up_errors = Vec::new();
    let rows = {
        let mut targets = runs::Targets {
            pgbench: &pgbench_bin,
            pg_port: node.port(),
            pgbouncer: bouncer.as_mut().map_err(|e| e.clone()),
            shardwire: &mut shardwire,
        };
        runs::run_all(
            &mut targets,
            settings.secs,
            warm_up_secs,
            &mut warm_up_errors,
        )
        .await
    };

    eprintln!("measuring login cost ...");
    let mut logins = Vec::new();
    if shardwire.ensure_running().is_ok() {
        let cost = runs::login_cpu_ms(&pgbench_bin, shardwire.port(), shardwire.pid()).await;
        logins.push(("shardwire", cost.map_err(|e| format!("{e:#}"))));
    }
    if let Ok(b) = &mut bouncer {
        if b.ensure_running().is_ok() {
            let cost = runs::login_cpu_ms(&pgbench_bin, b.port(), b.pid()).await;
            logins.push(("pgbouncer", cost.map_err(|e| format!("{e:#}"))));
        }
    }

    eprintln!("opening {} idle clients ...", settings.idle_clients);
    let mut memory = Vec::new();
    memory.push((
        "shardwire",
        idle_memory(
            shardwire
                .ensure_running()
                .map(|()| (shardwire.pid(), shardwire.port())),
            settings.idle_clients,
        )
        .await,
    ));
    if let Ok(b) = &mut bouncer {
        memory.push((
            "pgbouncer",
            idle_memory(
                b.ensure_running().map(|()| (b.pid(), b.port())),
                settings.idle_clients,
            )
            .await,
        ));
    }

    let header = report::Header {
        postgres: pg_version,
        pgbouncer: installed
            .as_ref()
            .map_or("pgbouncer not installed".into(), |i| i.version.clone()),
        secs: settings.secs,
    };
    // Runs that are n/a say why in the report's notes; these are errors.
    let mut problems = warm_up_errors.clone();
    if let (true, Err(e)) = (bouncer_failed_to_start, &bouncer) {
        problems.push(e.clone());
    }
    report::print(&header, &rows, &logins, &memory, &problems);

    let runs_clean = rows.iter().all(|row| {
        [&row.direct, &row.pgbouncer, &row.shardwire]
            .iter()
            .all(|c| match c {
                Cell::Measured { summary, .. } => summary.failed == 0,
                Cell::Failed(_) => false,
                Cell::NotApplicable(_) => true,
            })
    });
    let logins_clean = logins.iter().all(|(_, cost)| cost.is_ok());
    let memory_clean = memory
        .iter()
        .all(|(_, m)| m.as_ref().is_ok_and(|m| m.failed == 0));
    // Children first, then the rig (by declaration order).
    drop(bouncer);
    drop(shardwire);
    Ok(runs_clean
        && logins_clean
        && memory_clean
        && warm_up_errors.is_empty()
        && !bouncer_failed_to_start)
}

/// The idle-client memory measurement of the pooler at (pid, port).
async fn idle_memory(
    pooler: anyhow::Result<(u32, u16)>,
    count: usize,
) -> Result<idle_clients::MemoryUse, String> {
    let (pid, port) = pooler.map_err(|e| format!("{e:#}"))?;
    idle_clients::measure(pid, port, postgres::IDLE_USER, pgbench::DATABASE, count)
        .await
        .map_err(|e| format!("{e:#}"))
}

/// Raises RLIMIT_NOFILE so this process can hold the idle clients and the
/// children (which inherit it) can accept them.
fn raise_open_files_limit(idle_clients: usize) -> anyhow::Result<()> {
    let wanted = u64::try_from(idle_clients)
        .unwrap_or(u64::MAX)
        .saturating_add(4_096)
        .max(65_536);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error()).context("getrlimit(RLIMIT_NOFILE)");
    }
    if limit.rlim_cur >= wanted {
        return Ok(());
    }
    let raised = libc::rlimit {
        rlim_cur: wanted,
        rlim_max: limit.rlim_max.max(wanted),
    };
    // SAFETY: setrlimit only reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return Ok(());
    }
    // Without CAP_SYS_RESOURCE (not root, or a container that drops it)
    // the hard limit cannot be raised: go as high as it allows.
    let capped = libc::rlimit {
        rlim_cur: limit.rlim_max,
        rlim_max: limit.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &capped) } != 0 {
        return Err(std::io::Error::last_os_error()).context("setrlimit(RLIMIT_NOFILE)");
    }
    let needed = u64::try_from(idle_clients)
        .unwrap_or(u64::MAX)
        .saturating_add(1_024);
    if limit.rlim_max < needed {
        eprintln!(
            "warning: open files are limited to {} (hard limit); {idle_clients} idle clients \
             need about {needed}, so some idle logins may fail",
            limit.rlim_max
        );
    }
    Ok(())
}
