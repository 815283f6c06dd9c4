//! Finds the directory holding the PostgreSQL server binaries.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// Environment variable that, when set, names the PostgreSQL bin directory.
pub const BINDIR_ENV: &str = "SHARDWIRE_PG_BINDIR";

const PACKAGED_ROOT: &str = "/usr/lib/postgresql";

/// The directory holding `initdb`, `pg_ctl`, `postgres` and `pg_basebackup`.
///
/// In order: the `SHARDWIRE_PG_BINDIR` environment variable; `pg_config
/// --bindir` if that directory has `initdb`; the highest-versioned
/// `/usr/lib/postgresql/*/bin` that has `initdb`.
pub fn pg_bindir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BINDIR_ENV) {
        let dir = PathBuf::from(dir);
        if !has_initdb(&dir) {
            bail!("{BINDIR_ENV}={} has no initdb", dir.display());
        }
        return Ok(dir);
    }
    if let Some(dir) = from_pg_config().filter(|d| has_initdb(d)) {
        return Ok(dir);
    }
    highest_packaged(Path::new(PACKAGED_ROOT)).with_context(|| {
        format!(
            "no PostgreSQL binaries found: set {BINDIR_ENV}, put pg_config on PATH, \
             or install postgresql under {PACKAGED_ROOT}"
        )
    })
}

fn has_initdb(dir: &Path) -> bool {
    dir.join("initdb").is_file()
}

fn from_pg_config() -> Option<PathBuf> {
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let dir = text.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// The `<root>/<version>/bin` with `initdb` whose version sorts highest
/// numerically (so 16 beats 9.6).
fn highest_packaged(root: &Path) -> anyhow::Result<PathBuf> {
    let mut best: Option<(Vec<u64>, PathBuf)> = None;
    for entry in std::fs::read_dir(root).with_context(|| format!("reading {}", root.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(version) = name.to_str().and_then(parse_version) else {
            continue;
        };
        let bin = entry.path().join("bin");
        if has_initdb(&bin) && best.as_ref().is_none_or(|(v, _)| version > *v) {
            best = Some((version, bin));
        }
    }
    best.map(|(_, bin)| bin)
        .with_context(|| format!("no {}/*/bin/initdb", root.display()))
}

fn parse_version(name: &str) -> Option<Vec<u64>> {
    name.split('.').map(|p| p.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(parse_version("16").unwrap() > parse_version("9.6").unwrap());
        assert!(parse_version("15").unwrap() > parse_version("9").unwrap());
        assert_eq!(parse_version("main"), None);
    }

    #[test]
    fn finds_highest_packaged_bindir() {
        let root = tempfile::tempdir().unwrap();
        for v in ["9.6", "15", "13"] {
            let bin = root.path().join(v).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::write(bin.join("initdb"), "").unwrap();
        }
        // A higher version without initdb does not count.
        std::fs::create_dir_all(root.path().join("17").join("bin")).unwrap();
        let found = highest_packaged(root.path()).unwrap();
        assert_eq!(found, root.path().join("15").join("bin"));
    }
}
