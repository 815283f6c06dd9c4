//! Teardown when the owning process dies: SIGINT with the Ctrl-C handler
//! installed, and SIGKILL followed by stale cleanup in the next `Rig`.
//!
//! Each test re-runs this test binary as a child that executes only the
//! ignored `child_holds_a_rig` "test": it starts a rig with one primary,
//! prints where it lives and waits to be signalled. Each test gives its child
//! a private rig root so rigs of other processes on the machine are never
//! touched and never interfere.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use shardwire_rig::{pid_alive, NodeOptions, Rig, TEARDOWN_EXIT_CODE};

const MODE_ENV: &str = "SHARDWIRE_RIG_TEST_CHILD";

/// Not a test of its own: the child process body for the tests below.
#[tokio::test]
#[ignore = "child process for the teardown tests"]
async fn child_holds_a_rig() -> anyhow::Result<()> {
    let Ok(mode) = std::env::var(MODE_ENV) else {
        return Ok(()); // run by hand with --ignored: nothing to do
    };
    let rig = Rig::new()?;
    if mode == "signal" {
        rig.install_ctrl_c_teardown()?;
    }
    let node = rig.start_primary("held", NodeOptions::default()).await?;
    let pid = node.postmaster_pid().unwrap_or(0);
    println!("RIG {} {pid}", rig.dir().display());
    tokio::time::sleep(Duration::from_secs(120)).await;
    anyhow::bail!("child was never signalled")
}

struct Held {
    child: Child,
    dir: PathBuf,
    postmaster: u32,
}

/// Starts the child with rig root `root` and waits for it to report.
fn spawn_child(mode: &str, root: &Path) -> anyhow::Result<Held> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["child_holds_a_rig", "--exact", "--ignored", "--nocapture"])
        .env(MODE_ENV, mode)
        .env("SHARDWIRE_RIG_ROOT", root)
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("RIG ") {
                let _ = tx.send(rest.to_owned());
            }
        }
    });
    let line = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => line,
        Err(e) => {
            let _ = child.kill();
            anyhow::bail!("child did not report its rig: {e}");
        }
    };
    let (dir, pid) = line
        .rsplit_once(' ')
        .ok_or_else(|| anyhow::anyhow!("bad report {line:?}"))?;
    Ok(Held {
        child,
        dir: PathBuf::from(dir),
        postmaster: pid.parse()?,
    })
}

fn wait_child(child: &mut Child, timeout: Duration) -> anyhow::Result<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            anyhow::bail!("child did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: u32, sig: &str) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()?;
    anyhow::ensure!(status.success(), "kill {sig} {pid} failed");
    Ok(())
}

fn test_root(tag: &str) -> PathBuf {
    PathBuf::from(format!("/tmp/swr-{}-{tag}", std::process::id()))
}

#[test]
fn sigint_tears_the_rig_down_and_exits_130() -> anyhow::Result<()> {
    let root = test_root("sig");
    let mut held = spawn_child("signal", &root)?;
    assert!(held.dir.starts_with(&root));
    assert!(pid_alive(held.postmaster), "child's postmaster not running");

    signal(held.child.id(), "-INT")?;
    let status = wait_child(&mut held.child, Duration::from_secs(60))?;
    assert_eq!(status.code(), Some(TEARDOWN_EXIT_CODE));
    assert!(!held.dir.exists(), "{} survived SIGINT", held.dir.display());
    assert!(!pid_alive(held.postmaster), "postmaster survived SIGINT");
    std::fs::remove_dir_all(&root)?;
    Ok(())
}

#[test]
fn next_rig_cleans_up_after_a_sigkilled_process() -> anyhow::Result<()> {
    let root = test_root("stale");
    let mut held = spawn_child("plain", &root)?;
    held.child.kill()?; // SIGKILL: no chance to tear down
    held.child.wait()?;
    assert!(held.dir.exists(), "the dead child's rig is left behind");
    assert!(
        pid_alive(held.postmaster),
        "the dead child's postmaster keeps running"
    );

    let rig = Rig::new_in(&root)?;
    assert!(
        !held.dir.exists(),
        "stale rig {} not removed",
        held.dir.display()
    );
    assert!(!pid_alive(held.postmaster), "stale postmaster not stopped");
    assert!(rig.dir().exists(), "the new rig is intact");
    drop(rig);
    std::fs::remove_dir_all(&root)?;
    Ok(())
}
