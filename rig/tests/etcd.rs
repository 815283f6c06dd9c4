//! A real three-member etcd cluster: writes survive losing one member, a
//! killed member rejoins, and data survives killing and restarting them all.
//! Also: teardown on drop, given directories, and cleanup after a process
//! that was SIGKILLed while holding a cluster (re-running this test binary as
//! a child, with a private rig root).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use shardwire_rig::{pid_alive, EtcdCluster};

/// Runs `etcdctl` against `endpoints` with short timeouts.
async fn etcdctl(endpoints: &[String], args: &[&str]) -> anyhow::Result<Output> {
    let mut cmd = Command::new("etcdctl");
    for (name, _) in std::env::vars() {
        if name.starts_with("ETCDCTL_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", endpoints.join(",")))
        .args(["--dial-timeout=1s", "--command-timeout=3s"])
        .args(args);
    tokio::process::Command::from(cmd)
        .output()
        .await
        .context("running etcdctl")
}

/// `etcdctl put key value`, which must succeed.
async fn put(endpoints: &[String], key: &str, value: &str) -> anyhow::Result<()> {
    let out = etcdctl(endpoints, &["put", key, value]).await?;
    if !out.status.success() {
        bail!("put {key} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// The value of `key` (`None` if absent); fails if etcdctl fails.
async fn get(endpoints: &[String], key: &str) -> anyhow::Result<Option<String>> {
    let out = etcdctl(endpoints, &["get", "--print-value-only", key]).await?;
    if !out.status.success() {
        bail!("get {key} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8(out.stdout)?;
    Ok(text.lines().next().map(str::to_owned))
}

#[tokio::test]
async fn three_members_survive_kills_and_restarts() -> anyhow::Result<()> {
    let started = Instant::now();
    let etcd = EtcdCluster::start(3).await?;
    assert_eq!(etcd.len(), 3);
    let all = etcd.endpoints();
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|e| e.starts_with("http://127.0.0.1:")));
    assert!((0..3).all(|i| etcd.member_running(i)));
    assert!(!etcd.member_running(3));

    put(&all, "/shardwire/a", "one").await?;
    assert_eq!(get(&all, "/shardwire/a").await?.as_deref(), Some("one"));

    // Two of three members keep quorum.
    etcd.kill_member(0)?;
    assert!(!etcd.member_running(0));
    assert!(!etcd.member_healthy(0).await);
    // If member 0 led, the others elect a new leader first.
    etcd.wait_healthy().await?;
    let others = &all[1..];
    put(others, "/shardwire/b", "two").await?;
    assert_eq!(get(others, "/shardwire/a").await?.as_deref(), Some("one"));
    assert_eq!(get(others, "/shardwire/b").await?.as_deref(), Some("two"));

    // The killed member rejoins and catches up.
    etcd.restart_member(0).await?;
    assert!(etcd.member_running(0));
    assert!(etcd.member_healthy(0).await);
    assert!(etcd.restart_member(0).await.is_err(), "already running");
    let first = &all[..1];
    assert_eq!(get(first, "/shardwire/b").await?.as_deref(), Some("two"));

    // No member, no answer.
    etcd.kill_all();
    assert!((0..3).all(|i| !etcd.member_running(i)));
    assert!(get(&all, "/shardwire/a").await.is_err());

    // Everything written before is still there after a full restart.
    etcd.restart_all().await?;
    assert!((0..3).all(|i| etcd.member_running(i)));
    assert_eq!(get(&all, "/shardwire/a").await?.as_deref(), Some("one"));
    assert_eq!(get(&all, "/shardwire/b").await?.as_deref(), Some("two"));

    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn drop_kills_members_and_removes_the_dir() -> anyhow::Result<()> {
    let etcd = EtcdCluster::start(1).await?;
    let dir = etcd.dir().to_owned();
    assert!(etcd.log_path(0)?.is_file());
    let pids = etcd_pids_under(&dir);
    assert_eq!(pids.len(), 1, "one etcd process in {}", dir.display());
    drop(etcd);
    assert!(!dir.exists(), "{} removed", dir.display());
    assert!(pids.iter().all(|&p| !pid_alive(p)));
    Ok(())
}

#[tokio::test]
async fn given_dir_is_kept_and_not_reused() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("etcd");
    let etcd = EtcdCluster::start_in(&dir, 1).await?;
    assert_eq!(etcd.dir(), dir);
    put(&etcd.endpoints(), "k", "v").await?;
    drop(etcd);
    assert!(dir.join("m0").is_dir() && dir.join("m0.log").is_file());
    let again = EtcdCluster::start_in(&dir, 1).await;
    assert!(again.is_err(), "member data already there");
    assert!(EtcdCluster::start(0).await.is_err());
    Ok(())
}

const CHILD_ENV: &str = "SHARDWIRE_RIG_ETCD_CHILD";

/// Not a test of its own: the child process body for the stale test. Starts
/// a one-member cluster under `$SHARDWIRE_RIG_ROOT`, prints its directory and,
/// in `hold` mode, waits to be killed.
#[tokio::test]
#[ignore = "child process for the stale cleanup test"]
async fn child_holds_a_cluster() -> anyhow::Result<()> {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return Ok(()); // run by hand with --ignored: nothing to do
    };
    let etcd = EtcdCluster::start(1).await?;
    println!("ETCD {}", etcd.dir().display());
    if mode == "hold" {
        tokio::time::sleep(Duration::from_secs(120)).await;
        bail!("child was never killed");
    }
    Ok(())
}

/// Runs the child in `mode` under rig root `root`, returning it and the
/// cluster directory it reported.
fn spawn_child(mode: &str, root: &Path) -> anyhow::Result<(std::process::Child, PathBuf)> {
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "child_holds_a_cluster",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, mode)
        .env("SHARDWIRE_RIG_ROOT", root)
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("no child stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(dir) = line.strip_prefix("ETCD ") {
                let _ = tx.send(PathBuf::from(dir));
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(dir) => Ok((child, dir)),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            bail!("child did not report its cluster: {e}")
        }
    }
}

#[test]
fn next_start_cleans_up_after_a_sigkilled_process() -> anyhow::Result<()> {
    let root = PathBuf::from(format!("/tmp/swr-{}-etcd", std::process::id()));
    let (mut held, stale) = spawn_child("hold", &root)?;
    held.kill()?; // SIGKILL: no chance to drop the cluster
    held.wait()?;
    let orphans = etcd_pids_under(&stale);
    assert_eq!(orphans.len(), 1, "the dead child's etcd keeps running");

    let (mut next, fresh) = spawn_child("exit", &root)?;
    let status = next.wait()?;
    assert!(status.success(), "second child failed: {status}");
    assert!(
        !stale.exists(),
        "stale cluster {} not removed",
        stale.display()
    );
    assert!(
        orphans.iter().all(|&p| !pid_alive(p)),
        "stale etcd not killed"
    );
    assert!(!fresh.exists(), "the second child's cluster was dropped");
    std::fs::remove_dir_all(&root)?;
    Ok(())
}

#[test]
fn a_member_that_exits_fails_the_start_with_its_log() -> anyhow::Result<()> {
    let root = PathBuf::from(format!("/tmp/swr-{}-etcd-false", std::process::id()));
    let out = Command::new(std::env::current_exe()?)
        .args([
            "child_holds_a_cluster",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, "exit")
        .env("SHARDWIRE_RIG_ROOT", &root)
        .env(shardwire_rig::ETCD_ENV, "/bin/false")
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "start with /bin/false succeeded: {text}"
    );
    assert!(text.contains("etcd member m0 exited"), "{text}");
    assert!(text.contains("m0.log"), "error names the log: {text}");
    let leftovers = std::fs::read_dir(&root)?.count();
    assert_eq!(leftovers, 0, "the failed cluster's dir was removed");
    std::fs::remove_dir_all(&root)?;
    Ok(())
}

/// Pids of `etcd` processes whose command line mentions `dir`.
fn etcd_pids_under(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let path = PathBuf::from(format!("/proc/{pid}/cmdline"));
            std::fs::read(path).is_ok_and(|c| {
                let cmdline = String::from_utf8_lossy(&c).replace('\0', " ");
                cmdline.contains("etcd") && cmdline.contains(&needle)
            })
        })
        .filter(|&pid| pid_alive(pid))
        .collect()
}
