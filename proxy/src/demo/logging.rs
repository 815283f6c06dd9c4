//! Where the demo's logs go. Everything (the rig's set-up, tokio-postgres'
//! NOTICE lines, the proxy) is written to the demo's log file, without
//! colour codes; the terminal gets only the demo's own progress lines and
//! banner (printed to stdout) and, once the banner is up, shardwire's
//! warnings and errors, coloured only when stderr is a terminal.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use tracing::subscriber::Interest;
use tracing::{Level, Metadata};
use tracing_subscriber::layer::{Context, Filter, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// Whether shardwire's warnings reach the terminal now (after the banner,
/// until the demo stops).
static TERMINAL: AtomicBool = AtomicBool::new(false);

/// The log file [`init`] opened, for the banner to name.
static FILE: OnceLock<PathBuf> = OnceLock::new();

/// The demo's log file, once [`init`] has opened it.
pub fn file() -> Option<&'static Path> {
    FILE.get().map(PathBuf::as_path)
}

/// The default log file of a demo listening on `port`: in the temp
/// directory, outside the rig's directory (which is removed on exit), so
/// it can be read after the demo stopped.
pub fn default_log_file(port: u16) -> PathBuf {
    std::env::temp_dir().join(format!("shardwire-demo-{port}.log"))
}

/// Sends every log line to `file` (created or truncated; `RUST_LOG` sets
/// the level, `info` by default) and shardwire's warnings to the terminal
/// once [`terminal`] allows them. `json`: one JSON object per line in the
/// file.
pub fn init(file: &Path, json: bool) -> std::io::Result<()> {
    let out = std::fs::File::create(file)?;
    let level = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let to_file = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(Mutex::new(out));
    let to_file = if json {
        to_file.json().with_filter(level).boxed()
    } else {
        to_file.with_filter(level).boxed()
    };
    let to_terminal = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_filter(TerminalFilter);
    tracing_subscriber::registry()
        .with(to_file)
        .with(to_terminal)
        .try_init()
        .map_err(std::io::Error::other)?;
    let _ = FILE.set(file.to_path_buf());
    Ok(())
}

/// Lets shardwire's warnings and errors through to the terminal (`true`,
/// after the banner) or keeps them in the file only (`false`).
pub fn terminal(on: bool) {
    TERMINAL.store(on, Ordering::Relaxed);
}

/// Warnings and errors of the proxy and its control plane (not the rig's),
/// while [`TERMINAL`] is on.
struct TerminalFilter;

impl TerminalFilter {
    fn ours(meta: &Metadata<'_>) -> bool {
        let target = meta.target();
        *meta.level() <= Level::WARN
            && (target == "shardwire"
                || target.starts_with("shardwire::")
                || target.starts_with("shardwire_control"))
    }
}

impl<S> Filter<S> for TerminalFilter {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        Self::ours(meta) && TERMINAL.load(Ordering::Relaxed)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        // `sometimes`: the answer changes when the banner is printed.
        if Self::ours(meta) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_is_outside_the_rig_and_names_the_port() {
        let f = default_log_file(6432);
        assert!(f.starts_with(std::env::temp_dir()));
        assert!(f.to_string_lossy().ends_with("shardwire-demo-6432.log"));
    }
}
