//! Primaries against real PostgreSQL: users, databases, auth methods,
//! kill/stop/start, and teardown on drop.

use shardwire_rig::{pid_alive, AuthMethod, NodeOptions, Rig, SUPERUSER, SUPERUSER_PASSWORD};

#[tokio::test]
async fn primary_with_user_and_database_answers_queries() -> anyhow::Result<()> {
    let rig = Rig::new()?;
    let node = rig.start_primary("p", NodeOptions::default()).await?;
    assert!(node.is_running());
    assert_eq!(node.host(), "127.0.0.1");
    rig.create_user(&node, "app", "s3cret'pw").await?;
    rig.create_database(&node, "appdb", "app").await?;

    let client = node.connect("app", "s3cret'pw", "appdb").await?;
    let row = client
        .query_one(
            "SELECT current_user::text, current_database()::text, 40 + 2",
            &[],
        )
        .await?;
    assert_eq!(row.get::<_, String>(0), "app");
    assert_eq!(row.get::<_, String>(1), "appdb");
    assert_eq!(row.get::<_, i32>(2), 42);

    // SCRAM really checks the password.
    let wrong = node.connect("app", "nope", "appdb").await;
    assert!(wrong.is_err(), "wrong password must be refused");

    // The rig's settings are in effect.
    let su = node.connect_superuser().await?;
    let show = |name: &'static str| {
        let su = &su;
        async move {
            let row = su.query_one(&format!("SHOW {name}"), &[]).await?;
            anyhow::Ok(row.get::<_, String>(0))
        }
    };
    assert_eq!(show("max_connections").await?, "300");
    assert_eq!(show("wal_level").await?, "logical");
    assert_eq!(show("fsync").await?, "off");
    assert_eq!(show("cluster_name").await?, "p");
    assert_eq!(show("port").await?, node.port().to_string());
    Ok(())
}

#[tokio::test]
async fn md5_and_trust_auth_work() -> anyhow::Result<()> {
    let rig = Rig::new()?;
    let md5 = rig
        .start_primary("md5", NodeOptions::default().with_auth(AuthMethod::Md5))
        .await?;
    let trust = rig
        .start_primary(
            "trust",
            NodeOptions::default()
                .with_auth(AuthMethod::Trust)
                .with_max_connections(20)
                .with_setting("application_name", "from-settings"),
        )
        .await?;

    rig.create_user(&md5, "m", "mpw").await?;
    let client = md5.connect("m", "mpw", "postgres").await?;
    let row = client.query_one("SELECT current_user::text", &[]).await?;
    assert_eq!(row.get::<_, String>(0), "m");
    assert!(md5.connect("m", "bad", "postgres").await.is_err());

    // Both the new user and the superuser have MD5-hashed passwords.
    let su = md5.connect_superuser().await?;
    for role in ["m", SUPERUSER] {
        let row = su
            .query_one(
                "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
                &[&role],
            )
            .await?;
        let hash: String = row.get(0);
        assert!(hash.starts_with("md5"), "{role}: {hash}");
    }

    // Trust ignores the password; extra settings and max_connections apply.
    rig.create_user(&trust, "t", "tpw").await?;
    let client = trust.connect("t", "anything", "postgres").await?;
    let row = client
        .query_one(
            "SELECT current_setting('max_connections'), current_setting('application_name')",
            &[],
        )
        .await?;
    assert_eq!(row.get::<_, String>(0), "20");
    assert_eq!(row.get::<_, String>(1), "from-settings");
    Ok(())
}

#[tokio::test]
async fn kill_stop_and_start() -> anyhow::Result<()> {
    let rig = Rig::new()?;
    let node = rig.start_primary("k", NodeOptions::default()).await?;
    let pid = node.postmaster_pid().expect("running node has a pid");
    node.connect_superuser()
        .await?
        .batch_execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)")
        .await?;

    node.kill()?;
    assert!(!node.is_running());
    assert!(!pid_alive(pid));
    assert!(node.connect_superuser().await.is_err());
    node.kill()?; // idempotent

    node.start()?;
    assert!(node.is_running());
    let client = node.connect_superuser().await?;
    let row = client.query_one("SELECT v FROM kept", &[]).await?;
    assert_eq!(row.get::<_, i32>(0), 7, "committed data survives a crash");

    node.stop()?;
    assert!(!node.is_running());
    node.stop()?; // idempotent
    node.start()?;
    assert!(node.is_running());

    rig.stop_all();
    assert!(!node.is_running());
    rig.stop_all(); // idempotent
    assert!(rig.dir().exists(), "stop_all keeps the directory");
    Ok(())
}

#[tokio::test]
async fn drop_removes_dir_and_postmaster() -> anyhow::Result<()> {
    let rig = Rig::new()?;
    let node = rig.start_primary("d", NodeOptions::default()).await?;
    let pid = node.postmaster_pid().expect("running node has a pid");
    let dir = rig.dir().to_owned();
    assert!(pid_alive(pid));
    assert!(node.data_dir().starts_with(&dir));
    assert!(node.log_file().exists());

    drop(rig);
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(!pid_alive(pid), "postmaster {pid} survived the drop");
    assert!(!node.is_running());
    Ok(())
}

#[tokio::test]
async fn errors_carry_the_server_log() -> anyhow::Result<()> {
    let rig = Rig::new()?;
    let bad = rig
        .start_primary(
            "bad",
            NodeOptions::default().with_setting("shared_buffers", "not-a-size"),
        )
        .await;
    let err = format!(
        "{:#}",
        bad.expect_err("invalid setting must fail the start")
    );
    assert!(err.contains("pg_ctl start"), "{err}");
    assert!(err.contains("shared_buffers"), "log tail missing: {err}");

    let node = rig.start_primary("ok", NodeOptions::default()).await?;
    let dup = rig.start_primary("ok", NodeOptions::default()).await;
    assert!(dup.is_err(), "duplicate node names are refused");
    assert!(rig
        .start_primary("no/slash", NodeOptions::default())
        .await
        .is_err());
    assert!(node
        .connect(SUPERUSER, SUPERUSER_PASSWORD, "postgres")
        .await
        .is_ok());
    Ok(())
}
