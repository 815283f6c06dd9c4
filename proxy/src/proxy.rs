//! Starting a proxy instance from a configuration: bind the listener, build
//! the shared context, run the accept loop. The CLI, the demo and the
//! integration tests all start the proxy through here.

use crate::config::Config;
use crate::context::Context;
use crate::listener::accept_loop;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running proxy.
pub struct RunningProxy {
    /// The address it listens on (the actual port when configured as 0).
    pub addr: SocketAddr,
    /// Shared state, e.g. for pool statistics.
    pub context: Arc<Context>,
    /// The monitoring HTTP address, when `[metrics] listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    accept: JoinHandle<()>,
    monitoring: Option<JoinHandle<()>>,
    control_plane: Vec<JoinHandle<()>>,
}

impl RunningProxy {
    /// Binds `config.proxy.listen` and starts accepting clients.
    pub async fn start(config: Config) -> std::io::Result<RunningProxy> {
        let listener = TcpListener::bind(&config.proxy.listen).await?;
        let addr = listener.local_addr()?;
        let metrics_listener = match &config.metrics.listen {
            Some(listen) => Some(TcpListener::bind(listen).await?),
            None => None,
        };
        let client_tls = crate::tls::load_acceptor(&config.tls).map_err(std::io::Error::other)?;
        let server_tls = std::sync::Arc::new(
            crate::tls::ServerTls::from_config(&config).map_err(std::io::Error::other)?,
        );
        let mut config = config;
        if let Some(co) = config.coordination.as_mut() {
            co.bound = Some(addr.to_string());
        }
        let context = Context::new(config, client_tls, server_tls);
        if context.control.fleet.is_some() {
            // Take the topology from etcd before serving anyone, so a
            // restart after a failover routes to the new primary at once.
            match context
                .control
                .bootstrap_fleet(std::time::Duration::from_secs(10))
                .await
            {
                Ok(()) => tracing::info!("topology read from etcd"),
                Err(e) => tracing::error!(error = %e,
                    "etcd not reachable at start: serving the configured topology; writes are refused until etcd answers"),
            }
        }
        let accept = tokio::spawn(accept_loop(listener, context.clone()));
        let mut control_plane = crate::monitor::spawn(&context.control);
        if context.config.shards.len() > 1 {
            control_plane.push(tokio::spawn(crate::crossshard::recovery::run(
                context.clone(),
            )));
        }
        let mut metrics_addr = None;
        let monitoring = match metrics_listener {
            Some(l) => {
                metrics_addr = Some(l.local_addr()?);
                Some(tokio::spawn(crate::metrics::http::serve(
                    l,
                    context.clone(),
                )))
            }
            None => None,
        };
        tracing::info!(%addr, metrics = ?metrics_addr, "shardwire listening");
        Ok(RunningProxy {
            addr,
            context,
            metrics_addr,
            accept,
            monitoring,
            control_plane,
        })
    }

    /// Starts from a configuration file, which RELOAD and SIGHUP re-read.
    pub async fn start_from_file(path: &std::path::Path) -> Result<RunningProxy, String> {
        let config =
            crate::config::load_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let proxy = RunningProxy::start(config)
            .await
            .map_err(|e| format!("cannot listen: {e}"))?;
        let _ = proxy.context.config_path.set(path.to_path_buf());
        Ok(proxy)
    }

    /// Leaves cleanly: the listener closes, sessions end at their next
    /// transaction boundary (see [`crate::drain`]), then everything stops.
    pub async fn drain(&self) {
        self.accept.abort();
        crate::drain::drain(&self.context).await;
        self.stop();
    }

    /// Stops accepting clients and closes the pools.
    pub fn stop(&self) {
        self.accept.abort();
        if let Some(m) = &self.monitoring {
            m.abort();
        }
        for task in &self.control_plane {
            task.abort();
        }
        for user in self.context.users.values() {
            for pool in user.shard_pools.iter().chain(&user.replica_pools) {
                pool.close();
            }
        }
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        self.stop();
    }
}
