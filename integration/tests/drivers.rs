//! The driver matrix: the six-shard rig with a leaderboard replica node,
//! shardwire in front in transaction pooling with small pools (so many
//! clients share few server connections), and one program per client
//! driver (`integration/drivers/`) run as a child process: psycopg 3,
//! asyncpg, pgJDBC, ruby-pg, Go pgx and Rust sqlx. Each program checks
//! keyed writes against the shard they must land on, its driver's
//! prepared-statement cache, binary results (also through scatter-gather),
//! transactions, refusals by SQLSTATE, the replica read, and cancel / COPY /
//! pipelining where the driver has them, and exits non-zero on any failed
//! check. A missing toolchain fails the test (scripts/setup.sh installs
//! them). `SHARDWIRE_DRIVERS=asyncpg,pgx` runs only the named drivers.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::sharded::{Sharded, ShardedOptions, SHARDS};

/// Longest a driver program may run before it is taken as hung.
const HANG_GUARD: Duration = Duration::from_secs(300);

fn drivers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("drivers")
}

/// A driver program: how to check its toolchain, build and run it.
struct Driver {
    name: &'static str,
    /// Commands that must succeed before the program can run (toolchain
    /// present, compile); a failure names what setup.sh installs.
    prepare: Vec<(Command, &'static str)>,
    run: Command,
}

fn cmd(program: &str, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args);
    c
}

fn python(script: &str, module: &str) -> (Vec<(Command, &'static str)>, Command) {
    let dir = drivers_dir();
    let check = cmd("/usr/bin/python3", &["-c", &format!("import {module}")]);
    let hint = if module == "psycopg" {
        "python3-psycopg for /usr/bin/python3 (scripts/setup.sh installs it)"
    } else {
        "python3-asyncpg for /usr/bin/python3 (scripts/setup.sh installs it)"
    };
    let run = cmd(
        "/usr/bin/python3",
        &[dir.join(script).to_str().unwrap_or_default()],
    );
    (vec![(check, hint)], run)
}

fn drivers(build: &Path) -> Vec<Driver> {
    let dir = drivers_dir();
    let build_s = build.to_str().unwrap_or_default().to_owned();
    let (prepare, run) = python("psycopg_check.py", "psycopg");
    let psycopg = Driver {
        name: "psycopg",
        prepare,
        run,
    };
    let (prepare, run) = python("asyncpg_check.py", "asyncpg");
    let asyncpg = Driver {
        name: "asyncpg",
        prepare,
        run,
    };
    let jar = "/usr/share/java/postgresql.jar";
    let jdbc = Driver {
        name: "pgjdbc",
        prepare: vec![
            (
                cmd("test", &["-f", jar]),
                "libpostgresql-jdbc-java (scripts/setup.sh installs it)",
            ),
            (
                cmd(
                    "javac",
                    &[
                        "-d",
                        &build_s,
                        "-cp",
                        jar,
                        dir.join("Jdbc.java").to_str().unwrap_or_default(),
                    ],
                ),
                "a JDK with javac (default-jdk-headless, scripts/setup.sh installs it)",
            ),
        ],
        run: cmd("java", &["-cp", &format!("{build_s}:{jar}"), "Jdbc"]),
    };
    let ruby = Driver {
        name: "ruby-pg",
        prepare: vec![(
            cmd("ruby", &["-e", "require 'pg'"]),
            "ruby-pg (scripts/setup.sh installs it)",
        )],
        run: cmd(
            "ruby",
            &[dir.join("pg_check.rb").to_str().unwrap_or_default()],
        ),
    };
    let pgx_bin = build.join("pgx_check");
    let mut go_build = cmd(
        "go",
        &[
            "build",
            "-o",
            pgx_bin.to_str().unwrap_or_default(),
            dir.join("pgx/main.go").to_str().unwrap_or_default(),
        ],
    );
    // Offline, against Debian's packaged pgx v4 in /usr/share/gocode.
    go_build
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOFLAGS", "")
        .env("GOCACHE", build.join("gocache"));
    let pgx = Driver {
        name: "pgx",
        prepare: vec![(
            go_build,
            "golang-go and golang-github-jackc-pgx-v4-dev (scripts/setup.sh installs them)",
        )],
        run: Command::new(pgx_bin),
    };
    let sqlx = Driver {
        name: "sqlx",
        prepare: vec![],
        run: Command::new(env!("CARGO_BIN_EXE_sqlx_check")),
    };
    vec![psycopg, asyncpg, jdbc, ruby, pgx, sqlx]
}

/// Runs `c` to completion (killed after the hang guard); returns whether
/// it succeeded and its output.
async fn run(mut c: Command) -> (bool, String) {
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let described = format!("{c:?}");
    let child = match tokio::process::Command::from(c).kill_on_drop(true).spawn() {
        Ok(child) => child,
        Err(e) => return (false, format!("cannot start {described}: {e}")),
    };
    match tokio::time::timeout(HANG_GUARD, child.wait_with_output()).await {
        Err(_) => (false, format!("{described} hung (killed)")),
        Ok(Err(e)) => (false, format!("{described}: {e}")),
        Ok(Ok(out)) => (
            out.status.success(),
            format!(
                "{described}: {}\n--- stdout\n{}--- stderr\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_driver_passes_its_checks_through_shardwire() {
    let wanted: Option<Vec<String>> = std::env::var("SHARDWIRE_DRIVERS")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect());
    let build = tempfile_dir();
    let t = Sharded::start_with(ShardedOptions {
        pool_mode: "transaction",
        pool_size: 2,
        replica_cluster: true,
        ..ShardedOptions::default()
    })
    .await;
    let shard_urls: Vec<String> = t
        .shards
        .iter()
        .map(|n| format!("postgres://app:app@127.0.0.1:{}/app", n.port()))
        .collect();
    let replica_port = t.replica.as_ref().map(|n| n.port()).unwrap_or(0);
    let mut failures = Vec::new();
    for mut d in drivers(&build) {
        if wanted
            .as_ref()
            .is_some_and(|w| !w.iter().any(|n| n == d.name))
        {
            continue;
        }
        let mut ready = true;
        for (c, needs) in std::mem::take(&mut d.prepare) {
            let (ok, output) = run(c).await;
            if !ok {
                failures.push(format!(
                    "driver {}: toolchain missing or program does not build; needs {needs}\n{output}",
                    d.name
                ));
                ready = false;
                break;
            }
        }
        if !ready {
            continue;
        }
        d.run
            .env("SHARDWIRE_URL", t.url())
            .env("SHARD_URLS", shard_urls.join(" "))
            .env("SHARDS", SHARDS.to_string())
            .env("REPLICA_PORT", replica_port.to_string());
        let (ok, output) = run(d.run).await;
        println!("==== driver {} ====\n{output}", d.name);
        if !ok {
            failures.push(format!("driver {} failed:\n{output}", d.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} driver(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// A build directory for compiled driver programs, under the target dir.
fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shardwire-drivers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("build dir");
    dir
}
