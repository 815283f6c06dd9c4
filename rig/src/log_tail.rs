//! Reads the end of a node's server log for error messages.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How many log lines an error message carries.
pub(crate) const TAIL_LINES: usize = 30;

const TAIL_BYTES: u64 = 16 * 1024;

/// The last `lines` lines of the file at `path`, or a note saying why there
/// are none.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    match read_end(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            if all.is_empty() {
                format!("({} is empty)", path.display())
            } else {
                all[start..].join("\n")
            }
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// `what` followed by the tail of the log at `path`, for error context.
pub(crate) fn with_tail(what: &str, path: &Path) -> String {
    format!(
        "{what}\n--- last lines of {} ---\n{}",
        path.display(),
        tail(path, TAIL_LINES)
    )
}

fn read_end(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        assert_eq!(tail(&path, 2), "line 98\nline 99");
        assert!(tail(&dir.path().join("missing"), 2).contains("cannot read"));
    }
}
