//! Regressions found by the driver matrix (tests/drivers.rs), replayed
//! over the raw protocol against the six-shard rig in transaction pooling:
//! - a statement prepared and described (Parse, Describe, Flush) before its
//!   key is bound does not pin a shard, inside a transaction or not
//!   (asyncpg got 0A000 on its first keyed Bind);
//! - a portal executed in pieces inside a transaction (Execute with a row
//!   limit, PortalSuspended, more Executes; asyncpg's cursor hung);
//! - a batch the proxy refuses part-way commits nothing, and a transaction
//!   with a refused statement cannot be committed (both used to commit the
//!   statements before the refusal).

mod support;

use support::raw::{self, Msg, Raw};
use support::sharded::{shard_of, Sharded};

fn describe_statement(name: &str) -> Vec<u8> {
    let mut body = vec![b'S'];
    body.extend_from_slice(name.as_bytes());
    body.push(0);
    raw::frame(b'D', &body)
}

fn flush() -> Vec<u8> {
    raw::frame(b'H', &[])
}

fn execute_limit(portal: &str, rows: i32) -> Vec<u8> {
    let mut body = portal.as_bytes().to_vec();
    body.push(0);
    body.extend_from_slice(&rows.to_be_bytes());
    raw::frame(b'E', &body)
}

fn tags(msgs: &[Msg]) -> String {
    msgs.iter().map(|m| m.tag as char).collect()
}

fn errors(msgs: &[Msg]) -> Vec<String> {
    msgs.iter()
        .filter(|m| m.tag == b'E')
        .map(|m| format!("{:?} {:?}", m.sqlstate(), m.field(b'M')))
        .collect()
}

/// Reads `n` messages (for replies to a Flush, which has no ReadyForQuery).
async fn read_n(c: &mut Raw, n: usize) -> Vec<Msg> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(c.recv().await.expect("reply"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_before_bind_and_portals_in_pieces_inside_transactions() {
    let t = Sharded::start("transaction").await;
    let setup = t.client().await;
    for u in 0..12i64 {
        setup
            .execute(
                "INSERT INTO users (user_id, name) VALUES ($1, $2)",
                &[&u, &format!("user {u}")],
            )
            .await
            .expect("insert");
    }
    let port = t.proxy.addr.port();
    let mut c = Raw::login(port).await;

    // Inside a transaction: the first statement is prepared and described
    // before its key is bound; every shard in turn.
    for u in 0..6i64 {
        c.send(&raw::query("BEGIN")).await;
        let r = c.until_ready().await;
        assert!(errors(&r).is_empty(), "{r:?}");
        let name = format!("s{u}");
        c.send(&raw::parse(
            &name,
            "SELECT name FROM users WHERE user_id = $1",
        ))
        .await;
        c.send(&describe_statement(&name)).await;
        c.send(&flush()).await;
        let r = read_n(&mut c, 3).await;
        assert_eq!(tags(&r), "1tT", "Parse/Describe/Flush answered: {r:?}");
        c.send(&raw::bind("", &name, &[&u.to_string()])).await;
        c.send(&raw::execute("")).await;
        c.send(&raw::sync()).await;
        let r = c.until_ready().await;
        assert!(
            errors(&r).is_empty(),
            "keyed Bind after Describe on shard {}: {:?}",
            shard_of(u),
            errors(&r)
        );
        assert_eq!(tags(&r), "2DCZ", "{r:?}");
        assert_eq!(r[1].body[6..], *format!("user {u}").as_bytes());
        c.send(&raw::query("COMMIT")).await;
        let r = c.until_ready().await;
        assert!(errors(&r).is_empty(), "{r:?}");
    }

    // Outside a transaction, with Sync instead of Flush, then Binds for
    // two different shards.
    c.send(&raw::parse(
        "any",
        "SELECT name FROM users WHERE user_id = $1",
    ))
    .await;
    c.send(&describe_statement("any")).await;
    c.send(&raw::sync()).await;
    let r = c.until_ready().await;
    assert_eq!(tags(&r), "1tTZ", "{r:?}");
    for u in [7i64, 8] {
        c.send(&raw::bind("", "any", &[&u.to_string()])).await;
        c.send(&raw::execute("")).await;
        c.send(&raw::sync()).await;
        let r = c.until_ready().await;
        assert_eq!(tags(&r), "2DCZ", "user {u}: {r:?}");
    }

    // A portal fetched three rows at a time inside a transaction.
    c.send(&raw::query("BEGIN")).await;
    c.send(&raw::parse(
        "series",
        "SELECT g FROM users, generate_series(1, 10) g WHERE user_id = $1",
    ))
    .await;
    c.send(&describe_statement("series")).await;
    c.send(&flush()).await;
    let r = c.until_ready().await;
    assert_eq!(tags(&r), "CZ", "BEGIN: {r:?}");
    let r = read_n(&mut c, 3).await;
    assert_eq!(tags(&r), "1tT", "{r:?}");
    c.send(&raw::bind("cur", "series", &["5"])).await;
    c.send(&execute_limit("cur", 3)).await;
    c.send(&raw::sync()).await;
    let r = c.until_ready().await;
    assert_eq!(tags(&r), "2DDDsZ", "first piece: {r:?}");
    c.send(&execute_limit("cur", 3)).await;
    c.send(&raw::sync()).await;
    let r = c.until_ready().await;
    assert_eq!(tags(&r), "DDDsZ", "second piece: {r:?}");
    c.send(&execute_limit("cur", 0)).await;
    c.send(&raw::sync()).await;
    let r = c.until_ready().await;
    assert_eq!(tags(&r), "DDDDCZ", "the rest: {r:?}");
    c.send(&raw::query("COMMIT")).await;
    let r = c.until_ready().await;
    assert!(errors(&r).is_empty(), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_statement_commits_nothing_before_it() {
    let t = Sharded::start("transaction").await;
    let setup = t.client().await;
    for u in [0i64, 1] {
        setup
            .execute(
                "INSERT INTO users (user_id, name) VALUES ($1, 'before')",
                &[&u],
            )
            .await
            .expect("insert");
    }
    let shard0 = t.shard(shard_of(0)).await;
    let name_of_0 = || async {
        shard0
            .query_one("SELECT name FROM users WHERE user_id = 0", &[])
            .await
            .expect("read shard 0")
            .get::<_, String>(0)
    };
    let mut c = Raw::login(t.proxy.addr.port()).await;

    // A pipelined batch (one Sync): user 0, then user 1 on another shard.
    c.send(&raw::parse(
        "upd",
        "UPDATE users SET name = $2 WHERE user_id = $1",
    ))
    .await;
    c.send(&raw::bind("", "upd", &["0", "batch"])).await;
    c.send(&raw::execute("")).await;
    c.send(&raw::bind("", "upd", &["1", "batch"])).await;
    c.send(&raw::execute("")).await;
    c.send(&raw::sync()).await;
    let r = c.until_ready().await;
    let errs: Vec<Option<String>> = r
        .iter()
        .filter(|m| m.tag == b'E')
        .map(Msg::sqlstate)
        .collect();
    assert_eq!(errs, vec![Some("0A000".to_string())], "one refusal: {r:?}");
    assert_eq!(
        r.last().map(|m| m.body.clone()),
        Some(b"I".to_vec()),
        "{r:?}"
    );
    assert_eq!(
        name_of_0().await,
        "before",
        "the refused batch committed its first statement"
    );

    // An explicit transaction: a refused statement (an INSERT without its
    // key) fails it, COMMIT rolls back.
    c.send(&raw::query("BEGIN")).await;
    c.until_ready().await;
    c.send(&raw::query(
        "UPDATE users SET name = 'txn' WHERE user_id = 0",
    ))
    .await;
    let r = c.until_ready().await;
    assert!(errors(&r).is_empty(), "{r:?}");
    c.send(&raw::query("INSERT INTO users (name) VALUES ('no key')"))
        .await;
    let r = c.until_ready().await;
    assert_eq!(
        r.iter()
            .find(|m| m.tag == b'E')
            .and_then(Msg::sqlstate)
            .as_deref(),
        Some("0A000"),
        "{r:?}"
    );
    assert_eq!(
        r.last().map(|m| m.body.clone()),
        Some(b"E".to_vec()),
        "transaction failed: {r:?}"
    );
    c.send(&raw::query("COMMIT")).await;
    let r = c.until_ready().await;
    let tag = r
        .iter()
        .find(|m| m.tag == b'C')
        .map(|m| String::from_utf8_lossy(&m.body).into_owned());
    assert_eq!(tag.as_deref(), Some("ROLLBACK\0"), "{r:?}");
    assert_eq!(
        r.last().map(|m| m.body.clone()),
        Some(b"I".to_vec()),
        "{r:?}"
    );
    assert_eq!(
        name_of_0().await,
        "before",
        "COMMIT after a refusal committed"
    );

    // The session goes on normally.
    c.send(&raw::query(
        "UPDATE users SET name = 'after' WHERE user_id = 0",
    ))
    .await;
    let r = c.until_ready().await;
    assert!(errors(&r).is_empty(), "{r:?}");
    assert_eq!(name_of_0().await, "after");
}
