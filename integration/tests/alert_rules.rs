//! The shipped alert rules, unit-tested with `promtool test rules` on
//! synthetic series (monitoring/alert-tests.yml): the failover alert fires
//! on a shard's first failover, the copies alerts at 2 of 3 and at 1, lag,
//! node down and lost coordination. promtool comes from Debian's
//! `prometheus` package (scripts/setup.sh installs it).

use std::path::PathBuf;
use std::process::Command;

fn monitoring_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("monitoring")
}

fn promtool(args: &[&str]) -> std::process::Output {
    Command::new("promtool")
        .args(args)
        .current_dir(monitoring_dir())
        .output()
        .expect("promtool is missing: run scripts/setup.sh (Debian's prometheus package)")
}

#[test]
fn alert_rules_are_valid() {
    let out = promtool(&["check", "rules", "prometheus-alerts.yml"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn alert_rules_fire_on_synthetic_series() {
    let out = promtool(&["test", "rules", "alert-tests.yml"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
