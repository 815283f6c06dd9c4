//! Session parameters (GUCs) of a connection, keyed case-insensitively:
//! what a client wants and what a server connection currently has, and the
//! SQL that brings a server in line with a client.

/// One parameter's display name and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Name as first seen (e.g. `DateStyle`).
    pub name: String,
    /// Current value.
    pub value: String,
}

/// Parameters by lower-cased name. A connection has a dozen or so, so a
/// vector searched in order beats a hash map: no hashing on the per-
/// transaction comparison, and no bucket array held by every idle client.
#[derive(Debug, Clone, Default)]
pub struct ParamMap {
    entries: Vec<(String, Param)>,
    /// A digest of the entries, independent of their order: two maps with
    /// the same parameters and values have the same one.
    fingerprint: u64,
}

/// FNV-1a of the lower-cased name and the value of one parameter.
fn entry_digest(key: &str, value: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes().chain([0xff]).chain(value.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl ParamMap {
    /// The digest of the parameters and values (see [`ServerParams`]'s
    /// `synced_to`).
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    fn refresh_fingerprint(&mut self) {
        self.fingerprint = self.entries.iter().fold(0u64, |acc, (k, p)| {
            acc.wrapping_add(entry_digest(k, &p.value))
        });
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|(key, _)| key.eq_ignore_ascii_case(name))
    }

    /// Sets `name` to `value`.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.position(name) {
            Some(i) => {
                let p = &mut self.entries[i].1;
                if p.value == value {
                    return;
                }
                p.value.clear();
                p.value.push_str(value);
            }
            None => self.entries.push((
                name.to_ascii_lowercase(),
                Param {
                    name: name.to_string(),
                    value: value.to_string(),
                },
            )),
        }
        self.refresh_fingerprint();
    }

    /// The value of `name`, any case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.param_lower(name).map(|p| p.value.as_str())
    }

    /// The value by an already lower-cased key (any case works).
    pub fn get_lower(&self, key: &str) -> Option<&str> {
        self.get(key)
    }

    /// The parameter by an already lower-cased key (any case works).
    pub fn param_lower(&self, key: &str) -> Option<&Param> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) {
        if let Some(i) = self.position(name) {
            self.entries.swap_remove(i);
            self.refresh_fingerprint();
        }
    }

    /// Iterates (lower-cased key, param).
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Param)> {
        self.entries.iter().map(|(k, p)| (k, p))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Takes the server's spelling (name and value) of every parameter the
    /// server reports (e.g. `ISO, MDY` for `ISO`), so the next comparison
    /// with that server matches. Allocates only when a spelling differs.
    pub fn adopt_spelling(&mut self, server: &ServerParams) {
        for (key, p) in &mut self.entries {
            if !server.reported.contains(key) {
                continue;
            }
            if let Some(s) = server.values.param_lower(key) {
                if s.name != p.name {
                    p.name.clone_from(&s.name);
                }
                if s.value != p.value {
                    p.value.clone_from(&s.value);
                }
            }
        }
        self.refresh_fingerprint();
    }
}

/// A set of lower-cased parameter names, searched in order (a server
/// reports about fifteen).
#[derive(Debug, Clone, Default)]
pub struct NameSet {
    names: Vec<String>,
}

impl NameSet {
    /// Whether `name` (any case) is in the set.
    pub fn contains(&self, name: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Adds `name` (lower-cased); false if it was there.
    pub fn insert(&mut self, name: String) -> bool {
        if self.contains(&name) {
            return false;
        }
        let mut name = name;
        name.make_ascii_lowercase();
        self.names.push(name);
        true
    }

    /// Removes `name` (any case); false if it was not there.
    pub fn remove(&mut self, name: &str) -> bool {
        match self.names.iter().position(|n| n.eq_ignore_ascii_case(name)) {
            Some(i) => {
                self.names.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// The names.
    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.names.iter()
    }

    /// Empties the set, yielding its names.
    pub fn drain(&mut self) -> std::vec::Drain<'_, String> {
        self.names.drain(..)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Parameters a server also reports when its own configuration changes
/// (PostgreSQL 14+ reports `default_transaction_read_only`, e.g. when a
/// fenced former primary is made read-only): such a report is the node's
/// state, not the client's choice, so it is not carried to other server
/// connections; a client's own `SET` of it is tracked when it settles.
pub fn is_node_state(name: &str) -> bool {
    name.eq_ignore_ascii_case("default_transaction_read_only")
}

/// Parameters the server reports that describe the server itself and cannot
/// (or must not) be set by a client.
pub fn is_server_owned(name: &str) -> bool {
    [
        "server_version",
        "server_encoding",
        "integer_datetimes",
        "is_superuser",
        "in_hot_standby",
        "session_authorization",
        "user",
        "database",
        "replication",
        "options",
    ]
    .iter()
    .any(|owned| owned.eq_ignore_ascii_case(name))
}

/// What a server connection has: current values, the names reported by
/// ParameterStatus, and the names changed from the connection's defaults.
#[derive(Debug, Default)]
pub struct ServerParams {
    /// Known current values.
    pub values: ParamMap,
    /// Lower-cased names the server reports with ParameterStatus.
    pub reported: NameSet,
    /// Lower-cased names a client changed (must be reset for another client).
    pub modified: NameSet,
    /// The fingerprint of the client parameters this session was last
    /// brought in line with (`None` once anything changed since): a client
    /// whose parameters have this fingerprint needs no comparison.
    pub synced_to: Option<u64>,
}

impl ServerParams {
    /// Records a ParameterStatus from the server.
    pub fn on_status(&mut self, name: &str, value: &str, from_client: bool) {
        self.synced_to = None;
        if from_client && !is_server_owned(name) && !self.modified.contains(name) {
            self.modified.insert(name.to_ascii_lowercase());
        }
        if !self.reported.contains(name) {
            self.reported.insert(name.to_ascii_lowercase());
        }
        self.values.set(name, value);
    }

    /// SQL that makes this server's session match `wanted`, or `None` when
    /// it already does. Call `applied` after it succeeded.
    pub fn sync_sql(&self, wanted: &ParamMap) -> Option<String> {
        let mut resets = String::new();
        for key in self.modified.iter() {
            if wanted.get_lower(key).is_none() {
                resets.push_str("RESET ");
                resets.push_str(&quote_ident(key));
                resets.push_str("; ");
            }
        }
        let mut sets = String::new();
        for (key, p) in wanted.iter() {
            if is_server_owned(key) || self.values.get_lower(key) == Some(p.value.as_str()) {
                continue;
            }
            sets.push_str(if sets.is_empty() { "SELECT " } else { ", " });
            sets.push_str("set_config(");
            sets.push_str(&quote_literal(&p.name));
            sets.push_str(", ");
            sets.push_str(&quote_literal(&p.value));
            sets.push_str(", false)");
        }
        if resets.is_empty() && sets.is_empty() {
            return None;
        }
        Some(resets + &sets)
    }

    /// Whether this session is known to match `wanted` (it was last
    /// synced to parameters with the same fingerprint and nothing changed
    /// since), so `sync_sql` need not compare.
    pub fn known_in_sync(&self, wanted: &ParamMap) -> bool {
        self.synced_to == Some(wanted.fingerprint())
    }

    /// Records that `sync_sql(wanted)` succeeded.
    pub fn applied(&mut self, wanted: &ParamMap) {
        let stale: Vec<String> = self
            .modified
            .iter()
            .filter(|k| wanted.get_lower(k).is_none())
            .cloned()
            .collect();
        for key in stale {
            self.modified.remove(&key);
            if !self.reported.contains(&key) {
                self.values.remove(&key);
            }
        }
        for (key, p) in wanted.iter() {
            if is_server_owned(key) {
                continue;
            }
            // A reported parameter's normalized value arrived as
            // ParameterStatus during the sync; keep the client's spelling
            // only for the others.
            if !self.reported.contains(key) || self.values.get_lower(key).is_none() {
                self.values.set(&p.name, &p.value);
            }
            if !self.modified.contains(key) {
                self.modified.insert(key.clone());
            }
        }
        self.synced_to = Some(wanted.fingerprint());
    }

    /// Forgets every client change (after `DISCARD ALL` / `RESET ALL`).
    pub fn reset_all(&mut self) {
        self.synced_to = None;
        for key in self.modified.drain() {
            if !self.reported.contains(&key) {
                self.values.remove(&key);
            }
        }
    }
}

pub use shardwire_control::sql::{quote_ident, quote_literal};

#[cfg(test)]
mod tests;
