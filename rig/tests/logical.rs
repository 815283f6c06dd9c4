//! Logical replication between rig nodes, and catch-up waits, against real
//! PostgreSQL.

use std::time::{Duration, Instant};

use shardwire_rig::logical::{
    publish, subscribe, wait_standby_caught_up, wait_subscription_caught_up,
};
use shardwire_rig::{Node, NodeOptions, Rig, SUPERUSER, SUPERUSER_PASSWORD};

const DB: &str = "game";

/// Starts primary `name` with database [`DB`] holding `leaderboard` = `rows`.
async fn leaderboard_node(rig: &Rig, name: &str, rows: &[(i64, i32)]) -> anyhow::Result<Node> {
    // The launcher waits this long before restarting an apply worker that
    // exited (5 s by default), e.g. after DISABLE / ENABLE.
    let opts = NodeOptions::default().with_setting("wal_retrieve_retry_interval", "200ms");
    let node = rig.start_primary(name, opts).await?;
    rig.create_database(&node, DB, SUPERUSER).await?;
    sql(
        &node,
        "CREATE TABLE leaderboard (user_id bigint PRIMARY KEY, score int)",
    )
    .await?;
    for (user_id, score) in rows {
        insert(&node, *user_id, *score).await?;
    }
    Ok(node)
}

async fn client(node: &Node) -> anyhow::Result<tokio_postgres::Client> {
    node.connect(SUPERUSER, SUPERUSER_PASSWORD, DB).await
}

async fn sql(node: &Node, sql: &str) -> anyhow::Result<()> {
    Ok(client(node).await?.batch_execute(sql).await?)
}

async fn insert(node: &Node, user_id: i64, score: i32) -> anyhow::Result<()> {
    client(node)
        .await?
        .execute(
            "INSERT INTO leaderboard VALUES ($1, $2)",
            &[&user_id, &score],
        )
        .await?;
    Ok(())
}

async fn leaderboard(node: &Node) -> anyhow::Result<Vec<(i64, i32)>> {
    let rows = client(node)
        .await?
        .query(
            "SELECT user_id, score FROM leaderboard ORDER BY user_id",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Waits until `publisher` has no walsender for `subscription`.
async fn wait_walsender_gone(publisher: &Node, subscription: &str) -> anyhow::Result<()> {
    let client = publisher.connect_superuser().await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = client
            .query_one(
                "SELECT count(*) FROM pg_stat_replication WHERE application_name = $1",
                &[&subscription],
            )
            .await?;
        if row.get::<_, i64>(0) == 0 {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{subscription} still streaming");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn subscriber_of_two_primaries_gets_both_and_follows_enable() -> anyhow::Result<()> {
    let rig = Rig::new()?;
    let p1 = leaderboard_node(&rig, "p1", &[(1, 10), (2, 20)]).await?;
    let p2 = leaderboard_node(&rig, "p2", &[(101, 1010), (102, 1020)]).await?;
    publish(&p1, DB, "lb", &["leaderboard"]).await?;
    publish(&p2, DB, "lb", &["public.leaderboard"]).await?;
    let r = leaderboard_node(&rig, "r", &[]).await?;

    subscribe(&r, DB, "r_p1", &p1, "lb").await?;
    subscribe(&r, DB, "r_p2", &p2, "lb").await?;
    assert_eq!(
        leaderboard(&r).await?,
        [(1, 10), (2, 20), (101, 1010), (102, 1020)]
    );

    insert(&p1, 3, 30).await?;
    wait_subscription_caught_up(&p1, "r_p1").await?;
    assert!(leaderboard(&r).await?.contains(&(3, 30)));

    // Disabled: changes stay on the publisher.
    sql(&r, "ALTER SUBSCRIPTION r_p2 DISABLE").await?;
    wait_walsender_gone(&p2, "r_p2").await?;
    insert(&p2, 103, 1030).await?;
    let err = wait_subscription_caught_up_briefly(&p2, "r_p2").await;
    assert!(err.is_err(), "a disabled subscription cannot catch up");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!leaderboard(&r).await?.contains(&(103, 1030)));

    // Enabled again: the backlog arrives.
    sql(&r, "ALTER SUBSCRIPTION r_p2 ENABLE").await?;
    wait_subscription_caught_up(&p2, "r_p2").await?;
    assert_eq!(
        leaderboard(&r).await?,
        [
            (1, 10),
            (2, 20),
            (3, 30),
            (101, 1010),
            (102, 1020),
            (103, 1030)
        ]
    );
    Ok(())
}

/// [`wait_subscription_caught_up`] cut short after a second.
async fn wait_subscription_caught_up_briefly(
    publisher: &Node,
    subscription: &str,
) -> anyhow::Result<()> {
    tokio::time::timeout(
        Duration::from_secs(1),
        wait_subscription_caught_up(publisher, subscription),
    )
    .await?
}

#[tokio::test]
async fn subscribe_fails_fast_on_a_missing_publication() -> anyhow::Result<()> {
    let rig = Rig::new()?;
    let p = leaderboard_node(&rig, "p", &[]).await?;
    let r = leaderboard_node(&rig, "r", &[]).await?;
    let err = subscribe(&r, DB, "r_p", &p, "nope")
        .await
        .expect_err("no such publication");
    let err = format!("{err:#}");
    assert!(err.contains("r_p"), "{err}");
    assert!(err.contains("nope"), "{err}");
    Ok(())
}

#[tokio::test]
async fn standby_caught_up_sees_every_prior_commit() -> anyhow::Result<()> {
    let rig = Rig::new()?;
    let primary = leaderboard_node(&rig, "p", &[(1, 10)]).await?;
    let standby = rig.start_standby("p_s1", &primary, false).await?;
    for i in 2..=50 {
        insert(&primary, i, 10 * i as i32).await?;
    }
    wait_standby_caught_up(&primary, &standby).await?;
    assert_eq!(leaderboard(&standby).await?.len(), 50);
    Ok(())
}
