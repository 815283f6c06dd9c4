//! A fleet for the fleet drills: shard primaries with synchronous
//! standbys, a three-member etcd cluster, and shardwire instances as
//! separate processes (so one can be killed with SIGKILL or sent SIGTERM),
//! each with its own control-plane login (so one instance alone can be cut
//! off from a primary) and, optionally, its own TCP relays to etcd (so one
//! instance alone can be cut off from etcd).

use super::replicated::{admin_rows, shard_entries, start_shards};
use shardwire_rig::{free_port, EtcdCluster, Node, Rig, TcpRelay};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls};

/// What to start.
pub struct FleetLayout {
    pub shards: usize,
    pub standbys: usize,
    pub instances: usize,
    /// `[coordination] failsafe`.
    pub failsafe: bool,
    /// Instance i reaches etcd through relays (cut-able) when true.
    pub relayed_etcd: Vec<bool>,
}

impl Default for FleetLayout {
    fn default() -> Self {
        FleetLayout {
            shards: 2,
            standbys: 1,
            instances: 2,
            failsafe: false,
            relayed_etcd: Vec::new(),
        }
    }
}

/// The lease and contact timings the drills run with.
pub const LEASE_TTL: &str = "4s";
pub const COORDINATION_TIMEOUT: &str = "2s";

/// One shardwire process.
pub struct Instance {
    pub name: String,
    pub port: u16,
    pub metrics_port: u16,
    pub config_path: PathBuf,
    pub log_path: PathBuf,
    child: Option<tokio::process::Child>,
    /// Relays between this instance and the etcd members, if any.
    pub etcd_relays: Vec<TcpRelay>,
}

impl Instance {
    /// Starts the process and waits until its admin console answers.
    pub async fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("log file");
        let child = tokio::process::Command::new(shardwire_binary())
            .arg("run")
            .arg("--config")
            .arg(&self.config_path)
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start shardwire");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.try_admin("SHOW VERSION").await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "instance {} did not start; log:\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// SIGKILL, and wait for the process to go.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// SIGTERM, and wait (bounded) for the process to exit by itself.
    pub async fn sigterm(&mut self, limit: Duration) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        if let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        let exited = tokio::time::timeout(limit, child.wait()).await.is_ok();
        if !exited {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        exited
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn conn_str(&self, db: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=app password=app dbname={db} connect_timeout=5",
            self.port
        )
    }

    pub async fn try_client(&self) -> Result<Client, tokio_postgres::Error> {
        let (client, conn) = tokio_postgres::connect(&self.conn_str("app"), NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }

    pub async fn try_admin(
        &self,
        command: &str,
    ) -> Result<Vec<Vec<Option<String>>>, tokio_postgres::Error> {
        let (client, conn) = tokio_postgres::connect(&self.conn_str("shardwire"), NoTls).await?;
        tokio::spawn(conn);
        admin_rows(&client, command).await
    }

    /// Rows of an admin command (panics with the log on failure).
    pub async fn admin(&self, command: &str) -> Vec<Vec<Option<String>>> {
        match self.try_admin(command).await {
            Ok(rows) => rows,
            Err(e) => panic!(
                "{command} on {} failed: {e}; log:\n{}",
                self.name,
                self.log_tail()
            ),
        }
    }

    /// The primary port SHOW SHARDS gives for `shard`.
    pub async fn primary_port(&self, shard: usize) -> Option<u16> {
        let rows = self.try_admin("SHOW SHARDS").await.ok()?;
        let primary = rows.get(shard)?.get(1).cloned().flatten()?;
        primary.rsplit_once(':')?.1.parse().ok()
    }

    /// The instance SHOW FLEET names as the controller.
    pub async fn controller(&self) -> Option<String> {
        let rows = self.try_admin("SHOW FLEET").await.ok()?;
        rows.iter()
            .find(|r| r.get(2).cloned().flatten().as_deref() == Some("controller"))
            .and_then(|r| r.first().cloned().flatten())
    }

    /// `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.http_get("/metrics").await
    }

    /// The whole HTTP response of a GET on the metrics listener.
    pub async fn http_get(&self, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", self.metrics_port)).await
        else {
            return String::new();
        };
        let _ = s
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await;
        let mut out = String::new();
        let _ = s.read_to_string(&mut out).await;
        out
    }
}

/// The shardwire binary of this build (tests run from
/// `target/<profile>/deps/`; the binary sits in `target/<profile>/`).
pub fn shardwire_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let bin = profile_dir.join("shardwire");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace (cargo build / cargo nextest run --workspace) first",
        bin.display()
    );
    bin
}

pub struct Fleet {
    pub instances: Vec<Instance>,
    pub etcd: EtcdCluster,
    pub primaries: Vec<Node>,
    pub standbys: Vec<Vec<Node>>,
    pub rig: Rig,
    _dir: tempfile_dir::Dir,
}

/// A temporary directory removed on drop (no extra dependency).
mod tempfile_dir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            // SHARDWIRE_KEEP_FLEET=1 keeps the instances' configs and logs.
            if std::env::var_os("SHARDWIRE_KEEP_FLEET").is_none() {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
}

impl Fleet {
    pub async fn start(layout: FleetLayout) -> Fleet {
        let rig = Rig::new().expect("rig");
        let (primaries, standbys) = start_shards(&rig, layout.shards, layout.standbys, true).await;
        for i in 0..layout.instances {
            for p in &primaries {
                p.connect_superuser()
                    .await
                    .expect("superuser")
                    .batch_execute(&format!(
                        "CREATE ROLE ctl{i} LOGIN SUPERUSER PASSWORD 'ctl{i}'"
                    ))
                    .await
                    .expect("control role");
            }
        }
        let etcd = EtcdCluster::start(3).await.expect("etcd");
        let dir = std::env::temp_dir().join(format!(
            "shardwire-fleet-{}-{}",
            std::process::id(),
            free_port().expect("port")
        ));
        std::fs::create_dir_all(&dir).expect("fleet dir");
        let mut instances = Vec::new();
        for i in 0..layout.instances {
            let relayed = layout.relayed_etcd.get(i).copied().unwrap_or(false);
            let mut relays = Vec::new();
            let endpoints: Vec<String> = if relayed {
                etcd.endpoints()
                    .iter()
                    .map(|e| {
                        let port: u16 = e
                            .rsplit(':')
                            .next()
                            .and_then(|p| p.parse().ok())
                            .expect("etcd port");
                        let relay = TcpRelay::start(port).expect("etcd relay");
                        let url = format!("http://127.0.0.1:{}", relay.port());
                        relays.push(relay);
                        url
                    })
                    .collect()
            } else {
                etcd.endpoints()
            };
            let port = free_port().expect("port");
            let metrics_port = free_port().expect("port");
            let name = format!("sw{i}");
            let config = config_text(
                port,
                metrics_port,
                &name,
                i,
                &endpoints,
                layout.failsafe,
                &primaries,
                &standbys,
            );
            let config_path = dir.join(format!("{name}.toml"));
            std::fs::write(&config_path, config).expect("config");
            let mut instance = Instance {
                name,
                port,
                metrics_port,
                config_path,
                log_path: dir.join(format!("sw{i}.log")),
                child: None,
                etcd_relays: relays,
            };
            instance.start().await;
            instances.push(instance);
        }
        let fleet = Fleet {
            instances,
            etcd,
            primaries,
            standbys,
            rig,
            _dir: tempfile_dir::Dir(dir),
        };
        fleet.wait_formed().await;
        fleet
    }

    /// Waits until every running instance sees every other one and the
    /// same controller.
    pub async fn wait_formed(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let running = self.instances.iter().filter(|i| i.is_running()).count();
        loop {
            let mut controllers = Vec::new();
            let mut complete = true;
            for i in self.instances.iter().filter(|i| i.is_running()) {
                let rows = i.try_admin("SHOW FLEET").await.unwrap_or_default();
                if rows.len() < running {
                    complete = false;
                }
                controllers.push(i.controller().await);
            }
            if complete
                && controllers.iter().all(|c| c.is_some())
                && controllers.windows(2).all(|w| w[0] == w[1])
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "fleet never formed: controllers {controllers:?}; log of sw0:\n{}",
                self.instances[0].log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The running instance that is the controller.
    pub async fn controller_index(&self) -> usize {
        let mut name = None;
        for i in self.instances.iter().filter(|i| i.is_running()) {
            name = i.controller().await;
            if name.is_some() {
                break;
            }
        }
        let name = name.expect("a controller");
        self.instances
            .iter()
            .position(|i| i.name == name)
            .expect("controller among the instances")
    }

    /// Waits until every running instance routes `shard` to `port`.
    pub async fn wait_primary(&self, shard: usize, port: u16, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let mut all = true;
            for i in self.instances.iter().filter(|i| i.is_running()) {
                if i.primary_port(shard).await != Some(port) {
                    all = false;
                }
            }
            if all {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "shard {shard} never moved to {port} on every instance; logs:\n{}\n---\n{}",
                self.instances[0].log_tail(),
                self.instances
                    .get(1)
                    .map(|i| i.log_tail())
                    .unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Rows of `user_id` on `node`, read directly.
    pub async fn rows_on(&self, node: &Node, user_id: i64) -> Vec<i64> {
        let c = node.connect("app", "app", "app").await.expect("direct");
        c.query("SELECT seq FROM writes WHERE user_id = $1", &[&user_id])
            .await
            .expect("read")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
}

#[allow(clippy::too_many_arguments)]
fn config_text(
    port: u16,
    metrics_port: u16,
    name: &str,
    index: usize,
    endpoints: &[String],
    failsafe: bool,
    primaries: &[Node],
    standbys: &[Vec<Node>],
) -> String {
    let shards = shard_entries(primaries, standbys, |_, primary| primary.port());
    let endpoints: Vec<String> = endpoints.iter().map(|e| format!("\"{e}\"")).collect();
    format!(
        r#"
[proxy]
listen = "127.0.0.1:{port}"
database = "app"
shutdown_timeout = "20s"

[pool]
size = 8
checkout_timeout = "10s"
connect_timeout = "2s"

[admin]
users = ["app"]

[metrics]
listen = "127.0.0.1:{metrics_port}"

[replication]
user = "ctl{index}"
password = "ctl{index}"
pause_timeout = "40s"

[coordination]
endpoints = [{endpoints}]
cluster = "drill"
name = "{name}"
lease_ttl = "{LEASE_TTL}"
coordination_timeout = "{COORDINATION_TIMEOUT}"
failsafe = {failsafe}

[[users]]
name = "app"
password = "app"

{shards}
"#,
        endpoints = endpoints.join(", ")
    )
}
