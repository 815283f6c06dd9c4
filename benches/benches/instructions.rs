//! Instruction-count bench: the user-space instructions a pooler executes
//! per transaction of `pgbench -S`, counted by valgrind's callgrind for
//! shardwire and for pgbouncer in the same run — a figure that, unlike
//! wall-clock time, does not move with what else the machine is doing.
//!
//! `bash scripts/bench.sh --instructions` (or `cargo bench -p
//! shardwire-benches --bench instructions`):
//!
//! - `SHARDWIRE_BENCH_TXNS` (default 1000): transactions per client in the
//!   measured window (20 clients);
//! - `SHARDWIRE_BENCH_TOP` (default 15): functions listed per pooler;
//! - `SHARDWIRE_BENCH_POOLERS` (default `shardwire,pgbouncer`): which to
//!   measure (one alone while working on it).
//!
//! Each pooler runs under `valgrind --tool=callgrind` in front of one rig
//! PostgreSQL; after a warm-up (pools filled, statements prepared) its
//! counters are zeroed, pgbench runs a fixed number of transactions, and
//! the counters are dumped. Clients log in with `trust` so that the window
//! holds transactions, not SCRAM's key derivation. Ends with one line per
//! protocol: `instructions per transaction (simple, 20 clients): shardwire N
//! pgbouncer M ratio R`.

#[path = "instructions/callgrind.rs"]
mod callgrind;
#[allow(dead_code)]
#[path = "load/pgbench.rs"]
mod pgbench;
#[allow(dead_code)]
#[path = "load/pgbouncer.rs"]
mod pgbouncer;
#[allow(dead_code)]
#[path = "load/postgres.rs"]
mod postgres;
#[allow(dead_code)]
#[path = "load/process.rs"]
mod process;
#[allow(dead_code)]
#[path = "load/proxy_child.rs"]
mod proxy_child;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use shardwire_rig::Rig;

use callgrind::{Callgrind, FunctionCost};
use pgbench::{Endpoint, QueryMode};
use pgbouncer::{Launch, Pgbouncer};
use proxy_child::{ProxyChild, POOL_SIZE};

const TXNS_ENV: &str = "SHARDWIRE_BENCH_TXNS";
const TOP_ENV: &str = "SHARDWIRE_BENCH_TOP";
const POOLERS_ENV: &str = "SHARDWIRE_BENCH_POOLERS";
/// pgbench clients, as in the load bench's main row.
const CLIENTS: u32 = 20;
/// Transactions per client before the counters are zeroed.
const WARM_UP_PER_CLIENT: u32 = 50;
/// How long a pooler may take to listen under valgrind.
const LISTEN_WITHIN: Duration = Duration::from_secs(120);

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
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("instructions bench: cannot build a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("instructions bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One pooler's measured window for one protocol.
struct Measured {
    pooler: &'static str,
    mode: QueryMode,
    transactions: u64,
    instructions: u64,
    top: Vec<FunctionCost>,
}

impl Measured {
    fn per_transaction(&self) -> f64 {
        self.instructions as f64 / self.transactions.max(1) as f64
    }
}

async fn bench() -> anyhow::Result<()> {
    let per_client = env_number(TXNS_ENV, 1_000)?;
    let top = usize::try_from(env_number(TOP_ENV, 15)?).context("too many functions")?;
    let pgbench_bin = pgbench::binary()?;
    let cg = Callgrind::new()?;
    let rig = Rig::new().context("creating the PostgreSQL rig")?;
    let _teardown = rig.install_ctrl_c_teardown()?;
    eprintln!("starting PostgreSQL and running pgbench -i ...");
    let node = postgres::start(&rig, &pgbench_bin).await?;
    // The measured clients log in as the trust user: let it read the tables.
    let owner = node
        .connect(pgbench::USER, pgbench::PASSWORD, pgbench::DATABASE)
        .await
        .context("connecting as the bench user")?;
    owner
        .batch_execute(&format!(
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}",
            postgres::IDLE_USER
        ))
        .await
        .context("granting the trust user SELECT on pgbench's tables")?;

    let poolers = std::env::var(POOLERS_ENV).unwrap_or_else(|_| "shardwire,pgbouncer".into());
    let wanted = |name: &str| poolers.split(',').any(|p| p.trim() == name);
    let mut results = Vec::new();
    if wanted("shardwire") {
        eprintln!("shardwire under callgrind ...");
        let shardwire =
            ProxyChild::start_under(node.port(), &cg.wrapper("shardwire"), LISTEN_WITHIN).await?;
        for mode in [QueryMode::Simple, QueryMode::Prepared] {
            let m = measure(
                &cg,
                &node,
                &pgbench_bin,
                "shardwire",
                shardwire.pid(),
                shardwire.port(),
                mode,
                per_client,
                top,
            )
            .await
            .with_context(|| {
                format!(
                    "shardwire, {} protocol; its log: {}",
                    mode.as_str(),
                    shardwire.log_tail(20)
                )
            })?;
            results.push(m);
        }
        drop(shardwire);
    }

    let mut bouncer_note = None;
    if !wanted("pgbouncer") {
        bouncer_note = Some(format!("pgbouncer not measured ({POOLERS_ENV}={poolers})"));
    } else {
        match pgbouncer::installed()? {
            None => {
                bouncer_note =
                    Some("pgbouncer is not installed (apt-get install -y pgbouncer)".to_string())
            }
            Some(installed) => {
                eprintln!("{} under callgrind ...", installed.version);
                let launch = Launch {
                    wrapper: &cg.wrapper("pgbouncer"),
                    listen_within: LISTEN_WITHIN,
                };
                let bouncer =
                    Pgbouncer::start_under(&installed, node.port(), 1_000, &launch).await?;
                let mut modes = vec![QueryMode::Simple];
                match &bouncer.prepared_unsupported {
                    None => modes.push(QueryMode::Prepared),
                    Some(why) => bouncer_note = Some(format!("prepared: {why}; shardwire alone")),
                }
                for mode in modes {
                    let m = measure(
                        &cg,
                        &node,
                        &pgbench_bin,
                        "pgbouncer",
                        bouncer.pid(),
                        bouncer.port(),
                        mode,
                        per_client,
                        top,
                    )
                    .await
                    .with_context(|| format!("pgbouncer, {} protocol", mode.as_str()))?;
                    results.push(m);
                }
            }
        }
    }
    print(&results, bouncer_note.as_deref());
    Ok(())
}

/// Warm-up, zero, the measured run, dump.
#[allow(clippy::too_many_arguments)]
async fn measure(
    cg: &Callgrind,
    node: &shardwire_rig::Node,
    pgbench_bin: &Path,
    pooler: &'static str,
    pid: u32,
    port: u16,
    mode: QueryMode,
    per_client: u32,
    top: usize,
) -> anyhow::Result<Measured> {
    let at = Endpoint { port };
    let user = postgres::IDLE_USER;
    // Warm up until the pool holds all its server connections: a server
    // login in the window would add a SCRAM key derivation (millions of
    // instructions) to a transaction count it has nothing to do with.
    let mut rounds = 0;
    loop {
        rounds += 1;
        eprintln!("  {pooler} {}: warm-up {rounds}", mode.as_str());
        let warm =
            pgbench::fixed_count(pgbench_bin, at, user, mode, CLIENTS, WARM_UP_PER_CLIENT).await?;
        if warm.failed > 0 {
            bail!("{} transactions failed in the warm-up", warm.failed);
        }
        let open = server_connections(node).await?;
        if open >= u64::from(POOL_SIZE) {
            break;
        }
        if rounds == 20 {
            bail!("the pool opened only {open} of {POOL_SIZE} server connections in {rounds} warm-ups");
        }
    }
    let before = server_connections(node).await?;
    cg.zero(pid)?;
    eprintln!(
        "  {pooler} {}: {} transactions",
        mode.as_str(),
        u64::from(CLIENTS) * u64::from(per_client)
    );
    let run = pgbench::fixed_count(pgbench_bin, at, user, mode, CLIENTS, per_client).await?;
    let dump = cg.dump(pid, pooler)?;
    if run.failed > 0 {
        bail!("{} transactions failed", run.failed);
    }
    let after = server_connections(node).await?;
    if after != before {
        bail!("the pool went from {before} to {after} server connections during the measured run");
    }
    let kept = keep(&dump, pooler, mode)?;
    eprintln!(
        "  {pooler} {}: dump kept in {}",
        mode.as_str(),
        kept.display()
    );
    Ok(Measured {
        pooler,
        mode,
        transactions: run.transactions,
        instructions: callgrind::total(&dump)?,
        top: callgrind::top_inclusive(&dump, top)?,
    })
}

/// Server connections the poolers hold to PostgreSQL (as the trust user).
async fn server_connections(node: &shardwire_rig::Node) -> anyhow::Result<u64> {
    let client = node.connect_superuser().await?;
    let row = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = $1",
            &[&postgres::IDLE_USER],
        )
        .await
        .context("counting the poolers' server connections")?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

/// Copies a dump to `target/bench-instructions/<pooler>-<mode>.callgrind`
/// for `callgrind_annotate` after the run.
fn keep(dump: &Path, pooler: &str, mode: QueryMode) -> anyhow::Result<std::path::PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("bench-instructions");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let kept = dir.join(format!("{pooler}-{}.callgrind", mode.as_str()));
    std::fs::copy(dump, &kept).with_context(|| format!("copying {}", dump.display()))?;
    Ok(kept)
}

fn print(results: &[Measured], bouncer_note: Option<&str>) {
    for m in results {
        println!();
        println!(
            "== {} ({} protocol): {} transactions, {} instructions, {:.0} per transaction",
            m.pooler,
            m.mode.as_str(),
            m.transactions,
            m.instructions,
            m.per_transaction()
        );
        println!("   top functions by inclusive instructions per transaction:");
        for f in &m.top {
            println!(
                "   {:>10.0}  {}",
                f.instructions as f64 / m.transactions.max(1) as f64,
                f.name
            );
        }
    }
    println!();
    if let Some(note) = bouncer_note {
        println!("note: {note}");
    }
    for mode in [QueryMode::Simple, QueryMode::Prepared] {
        let find = |pooler: &str| {
            results
                .iter()
                .find(|m| m.pooler == pooler && m.mode == mode)
        };
        let Some(sw) = find("shardwire") else {
            continue;
        };
        match find("pgbouncer") {
            Some(pb) => println!(
                "instructions per transaction ({}, {CLIENTS} clients): shardwire {:.0} pgbouncer {:.0} ratio {:.2}",
                mode.as_str(),
                sw.per_transaction(),
                pb.per_transaction(),
                sw.per_transaction() / pb.per_transaction().max(1.0)
            ),
            None => println!(
                "instructions per transaction ({}, {CLIENTS} clients): shardwire {:.0} pgbouncer n/a",
                mode.as_str(),
                sw.per_transaction()
            ),
        }
    }
}

fn env_number(name: &str, default: u32) -> anyhow::Result<u32> {
    match std::env::var(name) {
        Ok(v) => {
            let n: u32 = v
                .trim()
                .parse()
                .with_context(|| format!("{name}={v:?} is not a whole number"))?;
            if n == 0 {
                bail!("{name} must be at least 1");
            }
            Ok(n)
        }
        Err(std::env::VarError::NotPresent) => Ok(default),
        Err(e) => Err(e).with_context(|| format!("reading {name}")),
    }
}
