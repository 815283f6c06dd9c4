//! More hostile clients over real sockets, each with a bystander session
//! that must see nothing: a 100 MB declared message (refused before any
//! of it is buffered), garbage interleaved with valid queries after a
//! good startup, and a client vanishing in the middle of COPY FROM STDIN
//! (the COPY is aborted, nothing is half-loaded, its locks are released).

mod support;

use support::raw::{self, Raw};
use support::{Options, Setup};

async fn bystander_fine(setup: &Setup, bystander: &tokio_postgres::Client) {
    let row = bystander
        .query_one("SELECT 6 * 7", &[])
        .await
        .expect("the bystander is unaffected");
    assert_eq!(row.get::<_, i32>(0), 42);
    setup
        .client()
        .await
        .simple_query("SELECT 1")
        .await
        .expect("new clients are welcome");
}

fn fatal(msgs: &[raw::Msg], code: &str) -> bool {
    msgs.iter()
        .any(|m| m.tag == b'E' && m.sqlstate().as_deref() == Some(code))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_declared_message_is_refused_without_buffering_it() {
    let setup = Setup::start(Options::default()).await;
    let bystander = setup.client().await;
    let mut r = Raw::login(setup.port()).await;
    let mut header = vec![b'Q'];
    header.extend_from_slice(&(100u32 * 1024 * 1024).to_be_bytes());
    header.extend_from_slice(b"SELECT ");
    r.send(&header).await;
    let msgs = r.until_closed().await;
    assert!(fatal(&msgs, "08P01"), "{msgs:?}");
    let text = msgs.iter().find_map(|m| m.field(b'M')).unwrap_or_default();
    assert!(text.contains("max_message_size"), "{text}");
    bystander_fine(&setup, &bystander).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_between_valid_queries_closes_only_that_client() {
    let setup = Setup::start(Options::default()).await;
    let bystander = setup.client().await;
    let mut r = Raw::login(setup.port()).await;
    r.send(&raw::query("SELECT 1")).await;
    let msgs = r.until_ready().await;
    assert!(msgs.iter().any(|m| m.tag == b'D'), "{msgs:?}");
    // A valid query glued to random bytes in one write.
    let mut bytes = raw::query("SELECT 2");
    bytes.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0x00, 0x13, 0x37, 0xff, 0x01]);
    r.send(&bytes).await;
    let msgs = r.until_closed().await;
    // The proxy checks every frame header in what it read before acting,
    // so the query glued to the garbage may or may not have run; the
    // garbage always ends the session with 08P01 and nothing else.
    assert!(fatal(&msgs, "08P01"), "the garbage closed it: {msgs:?}");
    assert!(
        msgs.iter()
            .all(|m| matches!(m.tag, b'T' | b'D' | b'C' | b'Z' | b'E')),
        "{msgs:?}"
    );
    bystander_fine(&setup, &bystander).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_vanishing_mid_copy_loads_nothing_and_releases_locks() {
    let setup = Setup::start(Options::default()).await;
    let direct = setup
        .primary
        .connect("app", "app", "app")
        .await
        .expect("direct");
    direct
        .batch_execute("CREATE TABLE copied (v int); GRANT ALL ON copied TO trustuser")
        .await
        .expect("table");
    let bystander = setup.client().await;
    let mut r = Raw::login(setup.port()).await;
    r.send(&raw::query("COPY copied FROM STDIN")).await;
    let reply = r.recv().await.expect("CopyInResponse");
    assert_eq!(reply.tag, b'G', "{reply:?}");
    for i in 0..1000 {
        r.send(&raw::frame(b'd', format!("{i}\n").as_bytes())).await;
    }
    drop(r); // gone, without CopyDone or CopyFail
             // The COPY was aborted: no rows, and the table's lock is free again
             // (an ACCESS EXCLUSIVE lock would wait behind a live COPY).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let locked = direct
            .query_one(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'copied'",
                &[],
            )
            .await
            .expect("locks")
            .get::<_, i64>(0);
        if locked == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the COPY still holds its lock"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    direct
        .batch_execute("SET lock_timeout = '2s'; ALTER TABLE copied ADD COLUMN w int")
        .await
        .expect("no lock left behind");
    let n: i64 = direct
        .query_one("SELECT count(*) FROM copied", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 0, "nothing half-loaded");
    bystander_fine(&setup, &bystander).await;
}
