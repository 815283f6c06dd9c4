//! `shardwire demo --instances N`: a three-member etcd cluster (local
//! processes, like the rig's PostgreSQL), and N shardwire processes on
//! consecutive ports in front of the demo topology, coordinated through
//! etcd; prints the multi-host connection string, each instance's console
//! and `/metrics`, and how to kill a primary and then the controller.

use super::config::demo_config_text;
use super::topology::DemoTopology;
use super::workload::write_pgbench_scripts;
use super::{DemoArgs, DEMO_DATABASE, DEMO_PASSWORD, DEMO_USER};
use anyhow::Context as _;
use shardwire_rig::{free_port, EtcdCluster, Rig};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One shardwire process of the demo fleet.
struct DemoInstance {
    name: String,
    port: u16,
    metrics_port: u16,
    log: PathBuf,
    child: tokio::process::Child,
}

/// Runs the fleet demo until Ctrl-C.
pub async fn run(rig: &Rig, topo: &DemoTopology, args: &DemoArgs) -> anyhow::Result<()> {
    println!("starting a three-member etcd cluster...");
    let etcd = EtcdCluster::start_in(&rig.dir().join("etcd"), 3)
        .await
        .context("starting etcd (Debian's etcd-server; scripts/setup.sh installs it)")?;
    println!("  etcd up: three members");
    let endpoints: Vec<String> = etcd
        .endpoints()
        .iter()
        .map(|e| format!("\"{e}\""))
        .collect();
    let exe = std::env::current_exe().context("locating the shardwire binary")?;
    let mut instances = Vec::new();
    for i in 0..args.instances {
        let port = args.port + i as u16;
        let metrics_port = free_port()?;
        let name = format!("sw{i}");
        let mut text = demo_config_text(
            port,
            &args.pool_mode,
            topo,
            &format!("127.0.0.1:{metrics_port}"),
        );
        text.push_str(&format!(
            "\n[coordination]\nendpoints = [{}]\ncluster = \"demo\"\nname = \"{name}\"\n",
            endpoints.join(", ")
        ));
        let config_path = rig.dir().join(format!("{name}.toml"));
        std::fs::write(&config_path, text).context("writing an instance's configuration")?;
        let log = rig.dir().join(format!("{name}.log"));
        let out = std::fs::File::create(&log).context("creating an instance's log")?;
        let child = tokio::process::Command::new(&exe)
            .arg("run")
            .arg("--config")
            .arg(&config_path)
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .context("starting a shardwire instance")?;
        instances.push(DemoInstance {
            name,
            port,
            metrics_port,
            log,
            child,
        });
    }
    for instance in &instances {
        wait_listening(instance).await?;
        println!(
            "  instance {} up on 127.0.0.1:{}",
            instance.name, instance.port
        );
    }
    let scripts = write_pgbench_scripts(rig.dir(), topo)?;
    print_guide(rig, topo, &etcd, &instances, &scripts);
    super::logging::terminal(true);
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    super::logging::terminal(false);
    println!("stopping...");
    for instance in &mut instances {
        let _ = instance.child.start_kill();
        let _ = instance.child.wait().await;
    }
    drop(etcd);
    rig.stop_all();
    println!("stopped.");
    Ok(())
}

async fn wait_listening(instance: &DemoInstance) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", instance.port))
        .await
        .is_err()
    {
        if Instant::now() >= deadline {
            anyhow::bail!(
                "instance {} did not start listening on {}; see {}",
                instance.name,
                instance.port,
                instance.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn print_guide(
    rig: &Rig,
    topo: &DemoTopology,
    etcd: &EtcdCluster,
    instances: &[DemoInstance],
    scripts: &super::workload::Scripts,
) {
    let env = format!("PGPASSWORD={DEMO_PASSWORD}");
    let hosts: Vec<String> = instances
        .iter()
        .map(|i| format!("127.0.0.1:{}", i.port))
        .collect();
    let url = format!(
        "postgresql://{DEMO_USER}@{}/{DEMO_DATABASE}",
        hosts.join(",")
    );
    println!();
    println!(
        "shardwire fleet demo is running (data, configs and instance logs in {}{}).",
        rig.dir().display(),
        super::logging::file().map_or(String::new(), |f| format!(
            "; this process's log {}",
            f.display()
        ))
    );
    super::workload::print_shards(topo);
    println!("  etcd:    {}", etcd.endpoints().join(", "));
    for i in instances {
        println!(
            "  {}: 127.0.0.1:{} (pid {}), metrics http://127.0.0.1:{}/metrics, log {}",
            i.name,
            i.port,
            i.child.id().map_or("?".into(), |p| p.to_string()),
            i.metrics_port,
            i.log.display()
        );
    }
    println!();
    println!("connect through any instance (libpq tries the next host if one is down):");
    println!("  {env} psql '{url}'");
    println!("each instance's console (SHOW FLEET names the controller):");
    for i in instances {
        println!(
            "  {env} psql -h 127.0.0.1 -p {} -U {DEMO_USER} shardwire -c 'SHOW FLEET' -c 'SHOW SHARDS'",
            i.port
        );
    }
    println!("load through both instances:");
    println!(
        "  {env} pgbench '{url}' -n -c 8 -j 2 -T 120 -P 5 -f {}@9 -f {}@1",
        scripts.play.display(),
        scripts.top10.display()
    );
    if let Some(pid) = topo.shards.get(2).and_then(|s| s.primary.postmaster_pid()) {
        println!("failover drill: kill shard 2's primary, then the controller instance:");
        println!("  kill -9 {pid}");
        println!("  kill -9 <pid of the instance SHOW FLEET calls controller>");
        println!("  then SHOW FAILOVERS on the surviving instance: one promotion, the other instance took over");
        println!("rolling restart: kill -TERM <pid of an instance> drains it (clients move at a transaction boundary);");
        println!(
            "  start it again with: {} run --config {}",
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "shardwire".into()),
            rig.dir().join("sw0.toml").display()
        );
    }
    println!();
    println!("press Ctrl-C to stop everything.");
}
