//! Named prepared statements in transaction pooling. A client's statement
//! names are private to it; the proxy maps each (query text, parameter
//! types) to one proxy-wide name `sw_<id>` and prepares it on whichever
//! server connection the client lands on, once per connection.

use crate::protocol::builder;
use crate::protocol::reader::BodyReader;
use bytes::{BufMut, Bytes, BytesMut};
use shardwire_router::PreparedPlan;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Proxy-wide ids for statement texts.
#[derive(Debug, Default)]
pub struct StatementRegistry {
    ids: Mutex<HashMap<Box<[u8]>, u64>>,
}

impl StatementRegistry {
    /// The id for `key` (query text and parameter types), allocating one.
    pub fn id_for(&self, key: &[u8]) -> u64 {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = ids.get(key) {
            return *id;
        }
        let id = ids.len() as u64 + 1;
        ids.insert(key.into(), id);
        id
    }

    /// Every statement seen, by id: id, text and parameter type OIDs (for
    /// the console's SHOW PREPARED_STATEMENTS).
    pub fn list(&self) -> Vec<(u64, String, Vec<u32>)> {
        let ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = ids
            .iter()
            .map(|(key, id)| {
                let (sql, types) = parse_tail(key);
                (*id, sql, types)
            })
            .collect();
        drop(ids);
        out.sort_by_key(|s| s.0);
        out
    }

    /// Number of distinct statements seen.
    pub fn len(&self) -> usize {
        self.ids.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none were seen.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A statement a client prepared, as the proxy prepares it on servers.
#[derive(Debug)]
pub struct PreparedStatement {
    /// Proxy-wide id.
    pub id: u64,
    /// Proxy-wide name, `sw_<id>`.
    pub server_name: String,
    /// The Parse frame with the proxy-wide name.
    pub parse_frame: Bytes,
    /// The routing plan, when the proxy routes between shards.
    pub plan: Option<Arc<PreparedPlan>>,
    /// Parameter type OIDs given at Parse (0 = unspecified).
    pub param_types: Vec<u32>,
    /// The statement text.
    pub sql: String,
    /// Executing it creates or ends state that outlives the transaction
    /// (a temporary table, an advisory lock…): each Bind re-applies it.
    pub leaves_state: bool,
}

impl PreparedStatement {
    /// Builds the statement from the Parse body after its name:
    /// `query\0 nparams:i16 types...`.
    pub fn new(
        registry: &StatementRegistry,
        after_name: &[u8],
        plan: Option<Arc<PreparedPlan>>,
    ) -> PreparedStatement {
        let (sql, param_types) = parse_tail(after_name);
        let id = registry.id_for(after_name);
        let server_name = format!("sw_{id}");
        let mut frame = BytesMut::with_capacity(after_name.len() + server_name.len() + 6);
        builder::frame(&mut frame, b'P', |b| {
            builder::put_cstr(b, server_name.as_bytes());
            b.put_slice(after_name);
        });
        PreparedStatement {
            id,
            server_name,
            parse_frame: frame.freeze(),
            plan,
            param_types,
            leaves_state: !shardwire_router::state_effects(&sql).is_empty(),
            sql,
        }
    }
}

/// The query text and parameter types of a Parse body after the name.
pub fn parse_tail(after_name: &[u8]) -> (String, Vec<u32>) {
    let mut r = BodyReader::new(after_name);
    let sql = r
        .cstr()
        .map(|q| String::from_utf8_lossy(q).into_owned())
        .unwrap_or_default();
    let n = r.i16().unwrap_or(0).max(0);
    let types = (0..n).map_while(|_| r.i32().map(|t| t as u32)).collect();
    (sql, types)
}

/// One client's statements by its own names. The map is allocated at the
/// first named Parse: most clients (and every idle one that never
/// prepared a statement) hold one pointer.
#[derive(Debug, Default)]
pub struct ClientStatements {
    by_name: Option<Box<StatementsByName>>,
}

/// A client's statement names and what they stand for.
type StatementsByName = HashMap<Box<[u8]>, Arc<PreparedStatement>>;

impl ClientStatements {
    /// Looks a name up.
    pub fn get(&self, name: &[u8]) -> Option<&Arc<PreparedStatement>> {
        self.by_name.as_ref()?.get(name)
    }

    /// Adds a statement under the client's name.
    pub fn insert(&mut self, name: &[u8], stmt: Arc<PreparedStatement>) {
        self.by_name
            .get_or_insert_with(Default::default)
            .insert(name.into(), stmt);
    }

    /// Removes a name; true when it existed.
    pub fn remove(&mut self, name: &[u8]) -> bool {
        self.by_name
            .as_mut()
            .is_some_and(|m| m.remove(name).is_some())
    }

    /// Removes a name only if it still maps to statement `id`.
    pub fn remove_if(&mut self, name: &[u8], id: u64) {
        if let Some(map) = self.by_name.as_mut() {
            if map.get(name).is_some_and(|s| s.id == id) {
                map.remove(name);
            }
        }
    }

    /// Forgets everything (`DEALLOCATE ALL`, `DISCARD ALL`).
    pub fn clear(&mut self) {
        if let Some(map) = self.by_name.as_mut() {
            map.clear();
        }
    }
}

/// The client's unnamed statement: its last unnamed Parse (re-sent when
/// the session moves to another server connection) and, when sharded, its
/// routing plan. Allocated at the first unnamed Parse and reused after, so
/// a client that sends one per query copies it into the same buffer.
#[derive(Debug, Default)]
pub struct UnnamedStatement {
    /// The Parse message (empty: none to re-send, after DISCARD ALL).
    pub parse: Vec<u8>,
    /// Its routing plan, when sharded.
    pub statement: Option<Arc<PreparedStatement>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_id_and_parse_frame_is_well_formed() {
        let reg = StatementRegistry::default();
        let a = PreparedStatement::new(&reg, b"SELECT 1\0\0\0", None);
        let b = PreparedStatement::new(&reg, b"SELECT 1\0\0\0", None);
        let c = PreparedStatement::new(&reg, b"SELECT 2\0\0\x01\0\0\0\x14", None);
        assert_eq!(c.param_types, vec![20]);
        assert_eq!(c.sql, "SELECT 2");
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        let len = u32::from_be_bytes([
            a.parse_frame[1],
            a.parse_frame[2],
            a.parse_frame[3],
            a.parse_frame[4],
        ]) as usize;
        assert_eq!(len + 1, a.parse_frame.len());
        assert!(a.parse_frame[5..].starts_with(b"sw_1\0SELECT 1\0"));
    }
}
