//! The pool manager for server connections: how the generic pool opens,
//! health-checks and decides to keep a `ServerConn`.

use super::conn::{ServerConn, ServerConnError, ServerTarget};
use shardwire_pool::Manager;

/// Opens connections to one server as one user.
pub struct ServerManager {
    target: ServerTarget,
}

impl ServerManager {
    /// A manager for `target`.
    pub fn new(target: ServerTarget) -> Self {
        ServerManager { target }
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
        ServerConn::connect(&self.target).await
    }

    async fn check(&self, conn: &mut ServerConn) -> Result<(), ServerConnError> {
        conn.simple_query("", false).await.map(|_| ())
    }

    fn is_reusable(&self, conn: &ServerConn) -> bool {
        conn.is_clean()
    }
}
