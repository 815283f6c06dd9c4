//! Hostile and broken clients over real sockets: garbage, bad lengths,
//! unknown and truncated messages, oversized frames, wrong passwords, and
//! clients that vanish mid-transaction or mid-query. Each gets the right
//! ErrorResponse or a clean close, and a bystander client never notices.

mod support;

use std::time::Duration;
use support::raw::{self, Raw};
use support::{sqlstate, Options, Setup};

async fn assert_bystander_fine(setup: &Setup, bystander: &tokio_postgres::Client) {
    let row = bystander
        .query_one("SELECT 7", &[])
        .await
        .expect("bystander query");
    assert_eq!(row.get::<_, i32>(0), 7);
    // And new clients still get in.
    let fresh = setup.client().await;
    fresh.simple_query("SELECT 1").await.expect("fresh client");
}

fn fatal_with(msgs: &[raw::Msg], code: &str) -> bool {
    msgs.iter().any(|m| {
        m.tag == b'E'
            && m.sqlstate().as_deref() == Some(code)
            && m.field(b'S').as_deref() == Some("FATAL")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_before_startup_is_refused_with_08p01() {
    let setup = Setup::start(Options::default()).await;
    let bystander = setup.client().await;
    let mut r = Raw::connect(setup.port()).await;
    r.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let msgs = r.until_closed().await;
    assert!(fatal_with(&msgs, "08P01"), "{msgs:?}");
    assert_bystander_fine(&setup, &bystander).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_startup_and_unsupported_protocol() {
    let setup = Setup::start(Options {
        auth_timeout: "1s",
        ..Options::default()
    })
    .await;
    // Half a startup packet, then silence: closed after auth_timeout.
    let mut r = Raw::connect(setup.port()).await;
    r.send(&[0, 0, 0, 40, 0, 3, 0, 0, b'u', b's']).await;
    let msgs = r.until_closed().await;
    assert!(fatal_with(&msgs, "08P01"), "{msgs:?}");
    // Half a startup packet, then the client leaves: nothing breaks.
    let mut r = Raw::connect(setup.port()).await;
    r.send(&[0, 0, 0, 40, 0, 3]).await;
    drop(r);
    // Protocol 2.0.
    let mut r = Raw::connect(setup.port()).await;
    r.send(&[0, 0, 0, 8, 0, 2, 0, 0]).await;
    let msgs = r.until_closed().await;
    assert!(fatal_with(&msgs, "0A000"), "{msgs:?}");
    // Missing user name.
    let mut r = Raw::connect(setup.port()).await;
    r.send(&raw::startup_packet(&[("database", "app")])).await;
    let msgs = r.until_closed().await;
    assert!(fatal_with(&msgs, "28000"), "{msgs:?}");
    // Unknown database.
    let mut r = Raw::connect(setup.port()).await;
    r.send(&raw::startup_packet(&[
        ("user", "trustuser"),
        ("database", "nope"),
    ]))
    .await;
    let msgs = r.until_closed().await;
    assert!(fatal_with(&msgs, "3D000"), "{msgs:?}");
    let bystander = setup.client().await;
    assert_bystander_fine(&setup, &bystander).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_and_gssenc_requests_are_declined_then_login_proceeds() {
    let setup = Setup::start(Options::default()).await;
    let mut r = Raw::connect(setup.port()).await;
    for code in [80877104u32, 80877103] {
        let mut req = 8u32.to_be_bytes().to_vec();
        req.extend_from_slice(&code.to_be_bytes());
        r.send(&req).await;
        let mut answer = [0u8; 1];
        tokio::io::AsyncReadExt::read_exact(&mut r.stream, &mut answer)
            .await
            .expect("answer");
        assert_eq!(&answer, b"N");
    }
    r.send(&raw::startup_packet(&[
        ("user", "trustuser"),
        ("database", "app"),
    ]))
    .await;
    let msgs = r.until_ready().await;
    assert!(
        msgs.iter().any(|m| m.tag == b'K'),
        "no BackendKeyData: {msgs:?}"
    );
    assert!(
        msgs.iter().any(|m| m.tag == b'S'),
        "no ParameterStatus: {msgs:?}"
    );
    r.send(&raw::query("SELECT 1")).await;
    let msgs = r.until_ready().await;
    assert!(msgs.iter().any(|m| m.tag == b'D'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_after_login_get_08p01() {
    let setup = Setup::start(Options {
        max_message_size: 4096,
        ..Options::default()
    })
    .await;
    let bystander = setup.client().await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("length below 4", vec![b'Q', 0, 0, 0, 2]),
        ("unknown message type", raw::frame(b'z', b"junk")),
        ("oversized message", {
            let mut f = vec![b'Q'];
            f.extend_from_slice(&1_000_000u32.to_be_bytes());
            f.extend_from_slice(&[b'x'; 64]);
            f
        }),
        (
            "truncated Bind body",
            raw::frame(b'B', b"portal-without-terminator"),
        ),
        ("Parse with negative parameter count", {
            let mut body = b"\0SELECT 1\0".to_vec();
            body.extend_from_slice(&(-5i16).to_be_bytes());
            raw::frame(b'P', &body)
        }),
        ("Query without terminator", raw::frame(b'Q', b"SELECT 1")),
        ("Describe of unknown kind", raw::frame(b'D', b"Xname\0")),
    ];
    for (what, bytes) in cases {
        let mut r = Raw::login(setup.port()).await;
        r.send(&bytes).await;
        let msgs = r.until_closed().await;
        assert!(fatal_with(&msgs, "08P01"), "{what}: {msgs:?}");
        if what == "oversized message" {
            let text = msgs.iter().find_map(|m| m.field(b'M')).unwrap_or_default();
            assert!(text.contains("max_message_size"), "{text}");
        }
    }
    assert_bystander_fine(&setup, &bystander).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_protocol_pipeline_and_proxy_side_errors() {
    let setup = Setup::start(Options::default()).await;
    let mut r = Raw::login(setup.port()).await;
    // Many Parse/Bind/Execute before one Sync.
    let mut batch = raw::parse("s1", "SELECT $1::int + 1");
    for i in 0..50 {
        batch.extend(raw::bind("", "s1", &[&i.to_string()]));
        batch.extend(raw::execute(""));
    }
    batch.extend(raw::sync());
    r.send(&batch).await;
    let msgs = r.until_ready().await;
    let rows: Vec<i32> = msgs
        .iter()
        .filter(|m| m.tag == b'D')
        .map(|m| String::from_utf8_lossy(&m.body[6..]).parse().expect("int"))
        .collect();
    assert_eq!(rows, (1..=50).collect::<Vec<_>>());
    assert_eq!(msgs.iter().filter(|m| m.tag == b'1').count(), 1);
    assert_eq!(msgs.iter().filter(|m| m.tag == b'2').count(), 50);

    // Parsing an existing name is 42P05; the rest up to Sync is skipped.
    let mut batch = raw::parse("s1", "SELECT 2");
    batch.extend(raw::bind("", "s1", &["5"]));
    batch.extend(raw::execute(""));
    batch.extend(raw::sync());
    r.send(&batch).await;
    let msgs = r.until_ready().await;
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!(msgs[0].sqlstate().as_deref(), Some("42P05"));

    // Close frees the name; it can be prepared again with another text.
    let mut batch = raw::close_statement("s1");
    batch.extend(raw::parse("s1", "SELECT 'new'"));
    batch.extend(raw::bind("", "s1", &[]));
    batch.extend(raw::execute(""));
    batch.extend(raw::sync());
    r.send(&batch).await;
    let msgs = r.until_ready().await;
    let tags: Vec<u8> = msgs.iter().map(|m| m.tag).collect();
    assert_eq!(tags, b"312DCZ".to_vec(), "{msgs:?}");

    // Binding an unknown statement is the server's 26000.
    let mut batch = raw::bind("", "nope", &[]);
    batch.extend(raw::sync());
    r.send(&batch).await;
    let msgs = r.until_ready().await;
    assert_eq!(msgs[0].sqlstate().as_deref(), Some("26000"));

    // DEALLOCATE of a protocol-level statement is answered by the proxy.
    r.send(&raw::query("DEALLOCATE s1")).await;
    let msgs = r.until_ready().await;
    assert_eq!(msgs[0].tag, b'C', "{msgs:?}");
    let mut batch = raw::bind("", "s1", &[]);
    batch.extend(raw::sync());
    r.send(&batch).await;
    let msgs = r.until_ready().await;
    assert_eq!(msgs[0].sqlstate().as_deref(), Some("26000"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_and_unknown_users_get_28p01() {
    let setup = Setup::start(Options::default()).await;
    for (user, pw) in [
        ("app", "wrong"),
        ("md5user", "wrong"),
        ("ghost", "whatever"),
    ] {
        let Err(err) = setup.client_as(user, pw).await else {
            panic!("login as {user} with a wrong password must fail");
        };
        assert_eq!(sqlstate(&err).as_deref(), Some("28P01"), "{user}: {err}");
    }
    for (user, pw) in [
        ("app", "app"),
        ("md5user", "md5pw"),
        ("trustuser", "anything"),
    ] {
        let c = setup.client_as(user, pw).await.expect(user);
        let who: String = c
            .query_one("SELECT current_user::text", &[])
            .await
            .expect("q")
            .get(0);
        assert_eq!(who, user);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_vanishing_mid_transaction_releases_its_locks() {
    let setup = Setup::start(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let admin = setup.client().await;
    admin
        .batch_execute("CREATE TABLE acct (id int primary key, v int); INSERT INTO acct VALUES (1, 0); GRANT ALL ON acct TO trustuser")
        .await
        .expect("setup");
    let mut r = Raw::login(setup.port()).await;
    r.send(&raw::query("BEGIN; UPDATE acct SET v = 99 WHERE id = 1"))
        .await;
    let msgs = r.until_ready().await;
    assert_eq!(msgs.last().map(|m| m.body.clone()), Some(b"T".to_vec()));
    drop(r); // gone without Terminate, holding a row lock
    admin
        .batch_execute("SET lock_timeout = '5s'; UPDATE acct SET v = 1 WHERE id = 1")
        .await
        .expect("the vanished client's transaction must have been rolled back");
    let v: i32 = admin
        .query_one("SELECT v FROM acct WHERE id = 1", &[])
        .await
        .expect("v")
        .get(0);
    assert_eq!(
        v, 1,
        "the vanished client's uncommitted write must not persist"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_vanishing_mid_query_cancels_it() {
    let setup = Setup::start(Options::default()).await;
    let mut r = Raw::login(setup.port()).await;
    r.send(&raw::query("SELECT pg_sleep(120) /* vanishing */"))
        .await;
    let direct = setup.direct().await;
    let running = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%vanishing%' AND state = 'active' AND pid <> pg_backend_pid()";
    let mut seen = false;
    for _ in 0..100 {
        let n: i64 = direct
            .query_one(running, &[])
            .await
            .expect("activity")
            .get(0);
        if n == 1 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "the query never started");
    drop(r);
    for _ in 0..200 {
        let n: i64 = direct
            .query_one(running, &[])
            .await
            .expect("activity")
            .get(0);
        if n == 0 {
            let bystander = setup.client().await;
            assert_bystander_fine(&setup, &bystander).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the abandoned query is still running 10 s after its client left");
}
