//! `TcpRelay` in front of a real PostgreSQL node: relaying, cut, restore
//! and drop.

use std::time::Duration;

use shardwire_rig::{NodeOptions, Rig, TcpRelay, SUPERUSER, SUPERUSER_PASSWORD};
use tokio_postgres::{Client, NoTls};

/// How long a failure may take to show: a cut must be noticed at once, not
/// after a client timeout.
const NOTICE: Duration = Duration::from_secs(5);

async fn connect(port: u16) -> anyhow::Result<Client> {
    let conn = format!(
        "host=127.0.0.1 port={port} user={SUPERUSER} password={SUPERUSER_PASSWORD} \
         dbname=postgres connect_timeout=10"
    );
    let (client, connection) =
        tokio::time::timeout(NOTICE, tokio_postgres::connect(&conn, NoTls)).await??;
    tokio::spawn(connection);
    Ok(client)
}

async fn select_one(client: &Client) -> anyhow::Result<i32> {
    let row = tokio::time::timeout(NOTICE, client.query_one("SELECT 1", &[])).await??;
    Ok(row.get(0))
}

#[tokio::test]
async fn cut_resets_connections_until_restored() -> anyhow::Result<()> {
    let rig = Rig::new()?;
    let node = rig.start_primary("p", NodeOptions::default()).await?;
    let relay = TcpRelay::start(node.port())?;
    assert_ne!(relay.port(), node.port());
    assert_eq!(relay.target_port(), node.port());
    assert!(!relay.is_cut());

    let before = connect(relay.port()).await?;
    assert_eq!(select_one(&before).await?, 1);

    relay.cut();
    assert!(relay.is_cut());
    let err = select_one(&before)
        .await
        .expect_err("query over a cut link");
    assert!(
        err.downcast_ref::<tokio::time::error::Elapsed>().is_none(),
        "the cut must be noticed at once"
    );
    assert!(before.is_closed());
    let err = connect(relay.port())
        .await
        .expect_err("connect over a cut link");
    assert!(
        err.downcast_ref::<tokio::time::error::Elapsed>().is_none(),
        "the cut must be noticed at once"
    );

    relay.restore();
    assert!(!relay.is_cut());
    let after = connect(relay.port()).await?;
    assert_eq!(select_one(&after).await?, 1);
    assert!(before.is_closed(), "a cut connection stays closed");

    // A second cut also takes connections made after a restore.
    relay.cut();
    relay.restore();
    assert!(select_one(&after).await.is_err());
    let again = connect(relay.port()).await?;
    assert_eq!(select_one(&again).await?, 1);
    Ok(())
}

#[tokio::test]
async fn dropping_the_relay_closes_its_port_and_connections() -> anyhow::Result<()> {
    let rig = Rig::new()?;
    let node = rig.start_primary("p", NodeOptions::default()).await?;
    let relay = TcpRelay::start(node.port())?;
    let port = relay.port();
    let client = connect(port).await?;
    assert_eq!(select_one(&client).await?, 1);

    drop(relay);
    assert!(select_one(&client).await.is_err());
    assert!(connect(port).await.is_err());
    // The node itself is untouched.
    assert_eq!(select_one(&node.connect_superuser().await?).await?, 1);
    Ok(())
}

#[test]
fn start_outside_a_runtime_is_an_error() {
    let err = TcpRelay::start(1).expect_err("no runtime");
    assert!(format!("{err:#}").contains("tokio runtime"), "{err:#}");
}
