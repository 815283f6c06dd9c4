//! The control connections of one shard's nodes, kept between check
//! rounds and shared by the failover and switchover steps.

use super::control::{ControlConn, ControlLogin};
use crate::Endpoint;
use std::collections::HashMap;

/// Control connections of one shard's nodes, by endpoint.
#[derive(Default)]
pub struct Conns {
    login: Option<ControlLogin>,
    by_node: HashMap<Endpoint, ControlConn>,
}

impl Conns {
    /// Connections logging in with `login`.
    pub fn new(login: ControlLogin) -> Conns {
        Conns {
            login: Some(login),
            by_node: HashMap::new(),
        }
    }

    /// Takes the connection to `node` out (new if none), for concurrent use.
    pub fn take(&mut self, node: &Endpoint) -> Option<ControlConn> {
        let login = self.login.clone()?;
        Some(
            self.by_node
                .remove(node)
                .unwrap_or_else(|| ControlConn::new(node.clone(), login)),
        )
    }

    /// Puts a connection back.
    pub fn put(&mut self, conn: ControlConn) {
        self.by_node.insert(conn.endpoint.clone(), conn);
    }

    /// The connection to `node`.
    pub fn get(&mut self, node: &Endpoint) -> Option<&mut ControlConn> {
        if !self.by_node.contains_key(node) {
            let conn = self.take(node)?;
            self.put(conn);
        }
        self.by_node.get_mut(node)
    }
}
