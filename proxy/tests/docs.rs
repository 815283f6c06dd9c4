//! The documentation cannot drift from the code: every relative link in
//! README.md and docs/*.md points at a file that exists (and at a heading
//! that exists, when it names one); every console command `SHOW HELP`
//! lists has its own section in docs/admin-console.md; every key of
//! config.example.toml (commented-out ones included) is on
//! docs/configuration.md; the Debian package's configuration passes
//! `check-config`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// README.md and every page of docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// Text outside fenced code blocks and inline code spans.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// The targets of the markdown links `[text](target)` in `text`, code
/// excepted (a link whose text is code, [`x`](target), still counts).
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            found.push(after[..end].trim().to_owned());
            rest = &after[end..];
        }
    }
    found
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces
/// to hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut set = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced && line.starts_with('#') {
            set.insert(anchor(line.trim_start_matches('#')));
        }
    }
    set
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = read(&page);
        let dir = page.parent().map(Path::to_path_buf).unwrap_or_default();
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (file, fragment) = match link.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (link.as_str(), None),
            };
            let target = if file.is_empty() {
                page.clone()
            } else {
                dir.join(file)
            };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", page.display()));
                continue;
            }
            if let Some(fragment) = fragment {
                let is_md = target.extension().is_some_and(|x| x == "md");
                if is_md && !anchors(&read(&target)).contains(fragment) {
                    broken.push(format!("{}: {link} (no such heading)", page.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_links_every_page() {
    let readme = read(&root().join("README.md"));
    let index = read(&root().join("docs/README.md"));
    let linked: BTreeSet<String> = links(&index).into_iter().collect();
    for page in pages().iter().skip(1) {
        let name = page
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == "README.md" {
            continue;
        }
        assert!(
            linked.contains(&name),
            "docs/README.md does not list {name}"
        );
    }
    assert!(
        readme.contains("](docs/README.md)"),
        "README.md links docs/README.md"
    );
    assert!(
        readme.contains("\n## Pooling and session state\n"),
        "README.md keeps its section on pooling and session state"
    );
}

#[test]
fn every_console_command_is_documented() {
    let page = read(&root().join("docs/admin-console.md"));
    let sections: BTreeSet<&str> = page
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(str::trim)
        .collect();
    let missing: Vec<&str> = shardwire::admin::COMMANDS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !sections.contains(name))
        .collect();
    assert!(
        missing.is_empty(),
        "SHOW HELP lists commands with no `### ` section in docs/admin-console.md: {missing:?}"
    );
}

/// The keys of a TOML file: every table's keys, inline tables and arrays
/// of tables included, and the keys of commented-out settings
/// (`# name = value`).
fn config_keys(text: &str) -> BTreeSet<String> {
    fn walk(value: &toml::Value, keys: &mut BTreeSet<String>) {
        match value {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    keys.insert(k.clone());
                    walk(v, keys);
                }
            }
            toml::Value::Array(a) => a.iter().for_each(|v| walk(v, keys)),
            _ => {}
        }
    }
    let mut keys = BTreeSet::new();
    let parsed: toml::Value = toml::from_str(text).expect("config.example.toml parses");
    walk(&parsed, &mut keys);
    for line in text.lines() {
        let Some(commented) = line.trim_start().strip_prefix('#') else {
            continue;
        };
        let setting = commented.trim_start();
        // A commented-out setting parses as TOML on its own; prose does not.
        if let Ok(value) = toml::from_str::<toml::Value>(setting) {
            walk(&value, &mut keys);
        } else if let Some((key, _)) = setting.split_once(" = ") {
            if !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                keys.insert(key.to_owned());
            }
        }
    }
    keys
}

/// Whether docs/configuration.md (`reference`) documents `key`.
fn documented(reference: &str, key: &str) -> bool {
    reference.contains(&format!("`{key}`")) || reference.contains(&format!("\n## {key}\n"))
}

#[test]
fn every_example_key_is_in_the_configuration_reference() {
    let example = read(&root().join("config.example.toml"));
    let reference = read(&root().join("docs/configuration.md"));
    // A key is in backticks; a section's name (`proxy` of `[proxy]`) may
    // be its heading instead.
    let missing: Vec<String> = config_keys(&example)
        .into_iter()
        .filter(|k| !documented(&reference, k))
        .collect();
    assert!(
        missing.is_empty(),
        "keys of config.example.toml missing from docs/configuration.md: {missing:?}"
    );
    // The sections too, as headings or in text.
    let prose = prose(&reference).to_lowercase();
    for line in example.lines() {
        let header = line.trim_start_matches('#').trim();
        if header.starts_with('[') && header.ends_with(']') && !header.contains(' ') {
            let name = header.trim_matches(|c| c == '[' || c == ']');
            let top = name.split('.').next().unwrap_or(name);
            assert!(
                reference.contains(&format!("`{header}`")) || prose.contains(&format!("## {top}")),
                "section {header} is not in docs/configuration.md"
            );
        }
    }
}

#[test]
fn the_packaged_configuration_passes_check_config() {
    let path = root().join("packaging/shardwire.toml");
    let config =
        shardwire::config::load_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(config.shards.len(), 1);
    assert_eq!(config.users.len(), 1);
    // Every key it sets is documented too.
    let reference = read(&root().join("docs/configuration.md"));
    for key in config_keys(&read(&path)) {
        assert!(documented(&reference, &key), "{key}");
    }
}
