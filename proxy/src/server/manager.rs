//! The pool manager for server connections: how the generic pool opens,
//! health-checks and decides to keep a `ServerConn`. A shard primary's
//! manager asks the topology for the current primary at every connect, and
//! refuses to keep connections opened under an older primary.

use super::conn::{ServerConn, ServerConnError, ServerTarget};
use super::registry::{OpenedUnder, ServerEntry, ServerRegistry};
use crate::topology::ShardState;
use shardwire_pool::Manager;
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// Opens connections to one server (or one shard's current primary) as one
/// user.
pub struct ServerManager {
    target: ServerTarget,
    shard: Option<Arc<ShardState>>,
    registry: Arc<ServerRegistry>,
}

impl ServerManager {
    /// A manager for the fixed server `target`.
    pub fn new(target: ServerTarget, registry: Arc<ServerRegistry>) -> Self {
        ServerManager {
            target,
            shard: None,
            registry,
        }
    }

    /// A manager for whichever node is `shard`'s primary; `target` supplies
    /// the login (its host and port are replaced at each connect).
    pub fn for_shard(
        target: ServerTarget,
        shard: Arc<ShardState>,
        registry: Arc<ServerRegistry>,
    ) -> Self {
        ServerManager {
            target,
            shard: Some(shard),
            registry,
        }
    }

    /// The target connections go to now, and the primary generation.
    pub fn target(&self) -> ServerTarget {
        let mut target = self.target.clone();
        if let Some(shard) = &self.shard {
            let primary = shard.primary();
            target.label = format!("shard {} primary {primary}", shard.index);
            target.host = primary.host;
            target.port = primary.port;
        }
        target
    }

    fn generation(&self) -> u64 {
        self.shard.as_ref().map_or(0, |s| s.generation())
    }
}

impl Manager for ServerManager {
    type Conn = ServerConn;
    type Error = ServerConnError;

    async fn connect(&self) -> Result<ServerConn, ServerConnError> {
        let generation = self.generation();
        let target = self.target();
        let mut conn = ServerConn::connect(&target).await?;
        conn.generation = generation;
        conn.registration = Some(
            self.registry.register(ServerEntry {
                user: target.user.clone(),
                database: target.database.clone(),
                shard: target.shard,
                addr: conn.addr,
                local_addr: match &conn.stream {
                    crate::socket::Socket::Tcp(s) => s.local_addr().ok(),
                    crate::socket::Socket::Bridged(_) => None,
                },
                pid: conn.backend_pid,
                connected_at: std::time::SystemTime::now(),
                in_use: std::sync::atomic::AtomicBool::new(false),
                opened_under: self
                    .shard
                    .clone()
                    .map(|shard| OpenedUnder { shard, generation }),
                fd: Some(match &conn.stream {
                    crate::socket::Socket::Tcp(s) => s.as_raw_fd(),
                    crate::socket::Socket::Bridged(s) => s.as_raw_fd(),
                }),
            }),
        );
        Ok(conn)
    }

    async fn check(&self, conn: &mut ServerConn) -> Result<(), ServerConnError> {
        if conn.generation != self.generation() {
            return Err(ServerConnError::Retired);
        }
        conn.simple_query("", false).await.map(|_| ())
    }

    fn is_reusable(&self, conn: &ServerConn) -> bool {
        conn.is_clean() && conn.generation == self.generation()
    }
}
