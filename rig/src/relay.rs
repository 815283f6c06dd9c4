//! A TCP relay in front of one node whose link can be cut and restored, to
//! simulate a network partition between a client (shardwire) and that node.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Pause after a failed `accept` (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The link's state, shared with the relay's tasks.
#[derive(Clone, Copy, Debug, Default)]
struct Link {
    /// Whether the link is cut now.
    cut: bool,
    /// How many cuts so far: a connection dies once this moves past the
    /// value it was accepted under, even if the link was restored since.
    cuts: u64,
}

/// Forwards connections from a free port on `127.0.0.1` to
/// `127.0.0.1:<target_port>` until [`cut`](TcpRelay::cut).
///
/// A cut is an abortive close: every relayed connection is reset (TCP `RST`
/// to both the client and the node) and, while cut, new connections are
/// accepted and reset at once. Clients thus see "connection reset" on their
/// next read or write, as after a middlebox or a rebooted host dropped the
/// link, instead of hanging until their own timeouts as they would behind a
/// silent blackhole. Dropping the relay closes its port and resets every
/// connection it still relays.
#[derive(Debug)]
pub struct TcpRelay {
    port: u16,
    target_port: u16,
    link: watch::Sender<Link>,
    accept_task: JoinHandle<()>,
}

impl TcpRelay {
    /// Binds a free port on `127.0.0.1` and starts relaying it to
    /// `127.0.0.1:<target_port>`. Must be called inside a tokio runtime
    /// with IO enabled.
    pub fn start(target_port: u16) -> anyhow::Result<TcpRelay> {
        let runtime = tokio::runtime::Handle::try_current()
            .context("TcpRelay::start must be called inside a tokio runtime")?;
        let context = || format!("starting a TCP relay to port {target_port}");
        let listener =
            std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).with_context(context)?;
        listener.set_nonblocking(true).with_context(context)?;
        let port = listener.local_addr().with_context(context)?.port();
        let listener = TcpListener::from_std(listener).with_context(context)?;
        let (link, watcher) = watch::channel(Link::default());
        let target = SocketAddr::from((Ipv4Addr::LOCALHOST, target_port));
        let accept_task = runtime.spawn(accept_loop(listener, target, watcher));
        tracing::debug!(port, target_port, "tcp relay started");
        Ok(TcpRelay {
            port,
            target_port,
            link,
            accept_task,
        })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The node port connections are relayed to.
    pub fn target_port(&self) -> u16 {
        self.target_port
    }

    /// Cuts the link: resets every relayed connection (each before relaying
    /// another byte) and resets new connections until [`restore`]. Calling it
    /// while cut is harmless.
    ///
    /// [`restore`]: TcpRelay::restore
    pub fn cut(&self) {
        self.link.send_modify(|link| {
            link.cut = true;
            link.cuts += 1;
        });
        tracing::debug!(
            port = self.port,
            target_port = self.target_port,
            "tcp relay cut"
        );
    }

    /// Restores the link: new connections are relayed again. Connections
    /// reset by the cut stay closed.
    pub fn restore(&self) {
        self.link.send_modify(|link| link.cut = false);
        tracing::debug!(
            port = self.port,
            target_port = self.target_port,
            "tcp relay restored"
        );
    }

    /// Whether the link is cut.
    pub fn is_cut(&self) -> bool {
        self.link.borrow().cut
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        // Stops accepting; relayed connections end once `link` is dropped.
        self.accept_task.abort();
    }
}

/// Accepts connections forever: relays them, or resets them while cut.
async fn accept_loop(listener: TcpListener, target: SocketAddr, link: watch::Receiver<Link>) {
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(e) => {
                tracing::warn!(error = %e, "tcp relay accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let now = *link.borrow();
        if now.cut {
            reset(client);
        } else {
            tokio::spawn(relay(client, target, link.clone(), now.cuts));
        }
    }
}

/// Relays one connection until either side closes it, the link is cut
/// after `cuts` cuts, or the relay is dropped.
async fn relay(
    mut client: TcpStream,
    target: SocketAddr,
    mut link: watch::Receiver<Link>,
    cuts: u64,
) {
    let cut = async move {
        // An error means the relay was dropped: end the connection too.
        let _ = link.wait_for(|l| l.cuts != cuts).await;
    };
    tokio::pin!(cut);
    let mut server = tokio::select! {
        biased;
        () = &mut cut => return reset(client),
        server = TcpStream::connect(target) => match server {
            Ok(server) => server,
            Err(e) => {
                tracing::debug!(%target, error = %e, "tcp relay could not reach its target");
                return reset(client);
            }
        },
    };
    tokio::select! {
        biased;
        () = &mut cut => {
            reset(client);
            reset(server);
        }
        done = tokio::io::copy_bidirectional(&mut client, &mut server) => {
            if let Err(e) = done {
                tracing::debug!(%target, error = %e, "tcp relay connection ended with an error");
            }
        }
    }
}

/// Closes `stream` with a TCP reset instead of an orderly shutdown.
fn reset(stream: TcpStream) {
    if let Err(e) = stream.set_zero_linger() {
        tracing::debug!(error = %e, "could not set SO_LINGER 0; closing normally");
    }
    drop(stream);
}
