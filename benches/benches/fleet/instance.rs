//! The fleet bench's parts: a rig topology (shards, each a primary with
//! standbys), a three-member etcd, and shardwire instances as release
//! processes with their consoles and `/metrics`.

use shardwire_rig::{free_port, EtcdCluster, Node, NodeOptions, Rig};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_postgres::{NoTls, SimpleQueryMessage};

/// Registration TTL the bench runs with.
pub const LEASE_TTL: &str = "4s";

const SCHEMA: &str = "CREATE TABLE writes (user_id bigint NOT NULL, seq bigint NOT NULL, \
     PRIMARY KEY (user_id, seq)); \
     CREATE TABLE shardwire_heartbeat (shard int PRIMARY KEY, beat timestamptz NOT NULL);";

/// Shards and etcd.
pub struct Topo {
    pub primaries: Vec<Node>,
    pub standbys: Vec<Vec<Node>>,
    pub etcd: EtcdCluster,
    /// Keeps the PostgreSQL nodes running.
    _rig: Rig,
    dir: tempfile::TempDir,
}

impl Topo {
    /// `shards` shards, each with one synchronous standby.
    pub async fn start(shards: usize) -> anyhow::Result<Topo> {
        Topo::start_with(shards, 1, true).await
    }

    /// `shards` shards with `standbys` standbys each.
    pub async fn start_with(shards: usize, standbys: usize, sync: bool) -> anyhow::Result<Topo> {
        let rig = Rig::new()?;
        let options =
            || NodeOptions::default().with_setting("wal_retrieve_retry_interval", "200ms");
        let mut primaries = Vec::new();
        let mut all_standbys = Vec::new();
        for k in 0..shards {
            let primary = rig.start_primary(&format!("shard{k}"), options()).await?;
            rig.create_user(&primary, "app", "app").await?;
            rig.create_database(&primary, "app", "app").await?;
            primary
                .connect("app", "app", "app")
                .await?
                .batch_execute(SCHEMA)
                .await?;
            let mut mine = Vec::new();
            for i in 1..=standbys {
                mine.push(
                    rig.start_standby(&format!("shard{k}_s{i}"), &primary, sync)
                        .await?,
                );
            }
            primaries.push(primary);
            all_standbys.push(mine);
        }
        let etcd = EtcdCluster::start(3).await?;
        Ok(Topo {
            primaries,
            standbys: all_standbys,
            etcd,
            _rig: rig,
            dir: tempfile::tempdir()?,
        })
    }

    pub fn kill_primary(&self, shard: usize) -> anyhow::Result<()> {
        self.primaries[shard].kill()
    }
}

/// One shardwire process.
pub struct Instance {
    pub name: String,
    pub port: u16,
    pub metrics_port: u16,
    child: Option<tokio::process::Child>,
}

/// The shardwire binary next to this bench (`target/<profile>/`).
fn binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .ok_or_else(|| anyhow::anyhow!("no target dir"))?;
    let bin = dir.join("shardwire");
    anyhow::ensure!(
        bin.exists(),
        "{} is missing: cargo build --release -p shardwire first (scripts/bench.sh does)",
        bin.display()
    );
    Ok(bin)
}

impl Instance {
    /// Starts instance `index` in front of `topo` and waits until it answers.
    pub async fn start(topo: &Topo, index: usize) -> anyhow::Result<Instance> {
        let port = free_port()?;
        let metrics_port = free_port()?;
        let name = format!("sw{index}");
        let mut shards = String::new();
        for (k, p) in topo.primaries.iter().enumerate() {
            let standbys: Vec<String> = topo.standbys[k]
                .iter()
                .map(|s| format!("{{ host = \"127.0.0.1\", port = {} }}", s.port()))
                .collect();
            shards.push_str(&format!(
                "[[shards]]\nprimary = {{ host = \"127.0.0.1\", port = {} }}\nstandbys = [{}]\n",
                p.port(),
                standbys.join(", ")
            ));
        }
        let endpoints: Vec<String> = topo
            .etcd
            .endpoints()
            .iter()
            .map(|e| format!("\"{e}\""))
            .collect();
        let config = format!(
            r#"
[proxy]
listen = "127.0.0.1:{port}"
database = "app"
workers = 1

[pool]
size = 4

[admin]
users = ["app"]

[metrics]
listen = "127.0.0.1:{metrics_port}"

[replication]
user = "{su}"
password = "{pw}"

[coordination]
endpoints = [{endpoints}]
cluster = "bench"
name = "{name}"
lease_ttl = "{LEASE_TTL}"
coordination_timeout = "3s"

[[users]]
name = "app"
password = "app"

{shards}
"#,
            su = shardwire_rig::SUPERUSER,
            pw = shardwire_rig::SUPERUSER_PASSWORD,
            endpoints = endpoints.join(", ")
        );
        let path = topo.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, config)?;
        let log = std::fs::File::create(topo.dir.path().join(format!("{name}.log")))?;
        let child = tokio::process::Command::new(binary()?)
            .arg("run")
            .arg("--config")
            .arg(&path)
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        let instance = Instance {
            name,
            port,
            metrics_port,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while instance.admin("SHOW VERSION").await.is_err() {
            anyhow::ensure!(Instant::now() < deadline, "{} did not start", instance.name);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(instance)
    }

    pub fn conn_str(&self, db: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=app password=app dbname={db} connect_timeout=5",
            self.port
        )
    }

    /// Rows of an admin command.
    pub async fn admin(&self, command: &str) -> anyhow::Result<Vec<Vec<Option<String>>>> {
        let (client, conn) = tokio_postgres::connect(&self.conn_str("shardwire"), NoTls).await?;
        tokio::spawn(conn);
        let messages = client.simple_query(command).await.map_err(|e| {
            let text = e
                .as_db_error()
                .map_or(e.to_string(), |d| d.message().to_owned());
            anyhow::anyhow!("{command} on {}: {text}", self.name)
        })?;
        Ok(messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
                }
                _ => None,
            })
            .collect())
    }

    /// The controller SHOW FLEET names.
    pub async fn controller(&self) -> Option<String> {
        let rows = self.admin("SHOW FLEET").await.ok()?;
        rows.iter()
            .find(|r| r.get(2).cloned().flatten().as_deref() == Some("controller"))
            .and_then(|r| r.first().cloned().flatten())
    }

    /// Waits until SHOW SHARDS routes `shard` to `port`; returns when.
    pub async fn wait_primary(
        &self,
        shard: usize,
        port: u16,
        limit: Duration,
    ) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + limit;
        let want = format!("127.0.0.1:{port}");
        loop {
            let rows = self.admin("SHOW SHARDS").await.unwrap_or_default();
            if rows
                .get(shard)
                .and_then(|r| r.get(1).cloned().flatten())
                .as_deref()
                == Some(want.as_str())
            {
                return Ok(Instant::now());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} never routed shard {shard} to {port}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGKILL.
    pub async fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
    }

    /// `shardwire_etcd_requests_total` from /metrics.
    pub async fn etcd_requests(&self) -> u64 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", self.metrics_port)).await
        else {
            return 0;
        };
        let _ = s
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let mut out = String::new();
        let _ = s.read_to_string(&mut out).await;
        out.lines()
            .find_map(|l| l.strip_prefix("shardwire_etcd_requests_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    }
}

/// The sum of every instance's etcd requests so far.
pub async fn etcd_requests(fleet: &[Instance]) -> u64 {
    let mut total = 0;
    for i in fleet {
        total += i.etcd_requests().await;
    }
    total
}

/// Waits until every instance names the same controller.
pub async fn wait_formed(fleet: &[Instance]) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut names = Vec::new();
        for i in fleet {
            names.push(i.controller().await);
        }
        if names.iter().all(|n| n.is_some()) && names.windows(2).all(|w| w[0] == w[1]) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the fleet never agreed on a controller: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The index of the controller.
pub async fn controller_index(fleet: &[Instance]) -> anyhow::Result<usize> {
    let name = fleet[0]
        .controller()
        .await
        .ok_or_else(|| anyhow::anyhow!("no controller"))?;
    fleet
        .iter()
        .position(|i| i.name == name)
        .ok_or_else(|| anyhow::anyhow!("controller {name} is not one of ours"))
}
