//! Starts real PostgreSQL topologies on this machine and tears them down.
//!
//! The rig runs the machine's own PostgreSQL binaries (see [`pg_bindir`]) on
//! free loopback ports inside a short temp directory: primaries
//! ([`Rig::start_primary`]) and streaming standbys ([`Rig::start_standby`],
//! sync or async). PostgreSQL refuses to run as root, so when this process is
//! root every server-side binary runs as the `postgres` system user, which
//! owns the data directories.
//!
//! [`logical`] sets up logical replication between nodes and waits for
//! subscribers and standbys to catch up; a [`TcpRelay`] in front of a node
//! simulates a network partition between a client and that node.
//! [`enable_ssl`] turns TLS on for a node and [`require_ssl`] makes TCP
//! clients use it (see [`ssl`]).
//!
//! An [`EtcdCluster`] runs real `etcd` members on free loopback ports, which
//! can be killed and restarted one by one (see [`etcd`]).
//!
//! Everything a [`Rig`] started is stopped and its directory removed when the
//! rig is dropped, on Ctrl-C / SIGTERM once [`install_ctrl_c_teardown`] is
//! installed, and — for rigs of processes that died without either — by the
//! next [`Rig::new`] on the machine.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use shardwire_rig::{primary_with_standbys, NodeOptions, Rig};
//! let rig = Rig::new()?;
//! let (primary, standbys) =
//!     primary_with_standbys(&rig, "shard0", 1, true, NodeOptions::default()).await?;
//! rig.create_user(&primary, "app", "secret").await?;
//! rig.create_database(&primary, "appdb", "app").await?;
//! let client = primary.connect("app", "secret", "appdb").await?;
//! client.simple_query("SELECT 1").await?;
//! # drop(standbys);
//! # Ok(())
//! # }
//! ```

mod admin;
mod bindir;
mod command;
mod conf;
pub mod etcd;
mod layout;
mod log_tail;
pub mod logical;
mod node;
mod node_files;
mod os_user;
mod ports;
mod primary;
mod process;
mod relay;
mod rewind;
mod rig;
pub mod ssl;
mod stale;
mod standby;
mod teardown;
mod topology;

pub use bindir::{pg_bindir, BINDIR_ENV};
pub use conf::{AuthMethod, NodeOptions};
pub use etcd::{EtcdCluster, ETCD_ENV};
pub use layout::ROOT_ENV;
pub use node::Node;
pub use os_user::OS_USER_ENV;
pub use ports::free_port;
pub use process::pid_alive;
pub use relay::TcpRelay;
pub use rig::Rig;
pub use ssl::{enable_ssl, require_ssl};
pub use teardown::{install_ctrl_c_teardown, TeardownRegistry, TEARDOWN_EXIT_CODE};
pub use topology::primary_with_standbys;

/// The bootstrap superuser every node is created with.
pub const SUPERUSER: &str = "postgres";

/// The bootstrap superuser's password on every node.
pub const SUPERUSER_PASSWORD: &str = "postgres";

/// The loopback address every node listens on.
pub const HOST: &str = "127.0.0.1";
