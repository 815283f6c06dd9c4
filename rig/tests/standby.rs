//! Streaming standbys against real PostgreSQL.

use std::time::{Duration, Instant};

use shardwire_rig::{primary_with_standbys, Node, NodeOptions, Rig};

async fn wait_for_row(node: &Node, expected: &str) -> anyhow::Result<()> {
    let client = node.connect_superuser().await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = match client.query_opt("SELECT v FROM t", &[]).await {
            Ok(Some(row)) => Some(row.get::<_, String>(0)),
            _ => None, // table not replayed yet
        };
        if seen.as_deref() == Some(expected) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} never showed {expected:?} (last {seen:?})",
            node.name()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn in_recovery(node: &Node) -> anyhow::Result<bool> {
    let row = node
        .connect_superuser()
        .await?
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await?;
    Ok(row.get(0))
}

#[tokio::test]
async fn primary_with_sync_and_async_standby_replicates() -> anyhow::Result<()> {
    let rig = Rig::new()?;
    let primary = rig.start_primary("p", NodeOptions::default()).await?;
    let sync = rig.start_standby("p_sync", &primary, true).await?;
    let asyn = rig.start_standby("p-async", &primary, false).await?;
    assert_ne!(sync.port(), primary.port());
    assert_ne!(asyn.port(), sync.port());

    primary
        .connect_superuser()
        .await?
        .batch_execute("CREATE TABLE t (v text); INSERT INTO t VALUES ('hello')")
        .await?;
    wait_for_row(&sync, "hello").await?;
    wait_for_row(&asyn, "hello").await?;

    assert!(!in_recovery(&primary).await?);
    assert!(in_recovery(&sync).await?);
    assert!(in_recovery(&asyn).await?);

    let su = primary.connect_superuser().await?;
    let rows = su
        .query(
            "SELECT application_name, state, sync_state FROM pg_stat_replication \
             ORDER BY application_name",
            &[],
        )
        .await?;
    let got: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, "p-async");
    assert_eq!(got[0].2, "async");
    assert_eq!(got[1].0, "p_sync");
    assert!(matches!(got[1].2.as_str(), "sync" | "quorum"), "{got:?}");
    assert!(got.iter().all(|g| g.1 == "streaming"), "{got:?}");

    let slots = su
        .query(
            "SELECT slot_name::text FROM pg_replication_slots WHERE active ORDER BY 1",
            &[],
        )
        .await?;
    let slots: Vec<String> = slots.iter().map(|r| r.get(0)).collect();
    assert_eq!(slots, ["p_async", "p_sync"]);

    let ssn = su.query_one("SHOW synchronous_standby_names", &[]).await?;
    assert_eq!(ssn.get::<_, String>(0), r#"ANY 1 ("p_sync")"#);
    Ok(())
}

#[tokio::test]
async fn primary_with_standbys_builds_a_sync_pair() -> anyhow::Result<()> {
    let rig = Rig::new()?;
    let (primary, standbys) =
        primary_with_standbys(&rig, "q", 1, true, NodeOptions::default()).await?;
    assert_eq!(standbys.len(), 1);
    assert_eq!(standbys[0].name(), "q_s1");
    assert!(in_recovery(&standbys[0]).await?);

    // A synchronous commit returns only once the standby has it.
    primary
        .connect_superuser()
        .await?
        .batch_execute("CREATE TABLE t (v text); INSERT INTO t VALUES ('synced')")
        .await?;
    wait_for_row(&standbys[0], "synced").await?;
    assert_eq!(rig.nodes().len(), 2);
    assert_eq!(rig.node("q_s1").map(|n| n.port()), Some(standbys[0].port()));
    Ok(())
}
