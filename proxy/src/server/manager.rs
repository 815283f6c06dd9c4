//! The pool manager for server connections: how the generic pool opens,
//! health-checks and decides to keep a `ServerConn`.

use super::conn::{ServerConn, ServerConnError, ServerTarget};
use super::registry::{ServerEntry, ServerRegistry};
use shardwire_pool::Manager;
use std::sync::Arc;

/// Opens connections to one server as one user.
pub struct ServerManager {
    target: ServerTarget,
    registry: Arc<ServerRegistry>,
}

impl ServerManager {
    /// A manager for `target`, registering its connections in `registry`.
    pub fn new(target: ServerTarget, registry: Arc<ServerRegistry>) -> Self {
        ServerManager { target, registry }
    }

    /// The target this manager connects to.
    pub fn target(&self) -> &ServerTarget {
        &self.target
    }
}

impl Manager for ServerManager {
    type Conn = ServerConn;
    type Error = ServerConnError;

    async fn connect(&self) -> Result<ServerConn, ServerConnError> {
        let mut conn = ServerConn::connect(&self.target).await?;
        conn.registration = Some(self.registry.register(ServerEntry {
            user: self.target.user.clone(),
            database: self.target.database.clone(),
            shard: self.target.shard,
            addr: conn.addr,
            pid: conn.backend_pid,
            connected_at: std::time::SystemTime::now(),
            in_use: std::sync::atomic::AtomicBool::new(false),
        }));
        Ok(conn)
    }

    async fn check(&self, conn: &mut ServerConn) -> Result<(), ServerConnError> {
        conn.simple_query("", false).await.map(|_| ())
    }

    fn is_reusable(&self, conn: &ServerConn) -> bool {
        conn.is_clean()
    }
}
