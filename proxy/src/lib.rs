//! shardwire: a shard-aware PostgreSQL wire-protocol proxy and pooler.
//!
//! Layout, from the outside in:
//! - `config`: the TOML configuration and its checks;
//! - `listener`: accepts clients, one task each;
//! - `session`: a client's life: handshake, relay loop, message handling;
//! - `crossshard`: transactions that write on several shards, atomic
//!   through two-phase commit, and the resolver of in-doubt ones;
//! - `isolation`: session state (temp tables, held cursors, advisory
//!   locks…) kept from crossing clients under transaction pooling;
//! - `server`: server connections, their tracked state and pool manager;
//! - `auth`: SCRAM-SHA-256 / MD5 for clients and towards servers;
//! - `auth_query`: looking up users that are not configured on the servers;
//! - `protocol`: framing and the messages the proxy builds itself;
//! - `tls`, `socket`: TLS both ways (rustls), and the plain-or-bridged socket;
//! - `cancel`: routing cancel requests to the right backend;
//! - `limits`: connection limits and per-user statement rates;
//! - `sessions`: every connection's task, for KILL and SHUTDOWN;
//! - `metrics`: Prometheus counters and the `/metrics` HTTP listener;
//! - `topology`, `monitor`: the control plane (crate `shardwire-control`),
//!   re-exported: each shard's primary, node health, failover log, and the
//!   loops that check nodes and fail shards over;
//! - `control_link`: the control plane's settings and its hooks into pools
//!   and metrics;
//! - `replicas`: which reads go to the replica cluster, and to which node;
//! - `admin`: the admin console (`psql … shardwire`, `SHOW POOLS`, …);
//! - `context`: the shared state built at start-up;
//! - `users`: the users that may log in, with their pools (RELOAD swaps them);
//! - `proxy`: starting and stopping a proxy instance (used by the CLI,
//!   the demo and the tests);
//! - `reload`: RELOAD / SIGHUP;
//! - `drain`: leaving cleanly on SIGTERM (sessions end at a transaction
//!   boundary, the fleet registration is given up);
//! - `runtime`: the tokio runtime for a worker count;
//! - `demo`: `shardwire demo`.

pub mod admin;
pub mod auth;
pub mod auth_query;
pub mod cancel;
pub mod config;
pub mod context;
pub mod control_link;
pub mod crossshard;
pub mod demo;
pub mod drain;
pub mod isolation;
pub mod limits;
pub mod listener;
pub mod metrics;
pub use shardwire_control::monitor;
pub mod protocol;
pub mod proxy;
pub mod reload;
pub mod replicas;
pub mod runtime;
pub mod scatter;
pub mod server;
pub mod session;
pub mod sessions;
pub mod signals;
pub mod socket;
pub mod tls;
pub use shardwire_control::topology;
pub mod users;
pub mod wire;
