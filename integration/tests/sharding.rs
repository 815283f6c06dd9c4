//! Shard routing end to end: six real primaries whose CHECK constraints
//! reject misrouted rows, keyed CRUD read back through the proxy and from
//! each shard directly, prepared statements with binary and text keys,
//! transactions over one shard and over several, hints, DDL broadcast, global tables,
//! scatter-gather compared with one unsharded server, and every refusal's
//! SQLSTATE.

mod support;

use support::raw::{self, Raw};
use support::sharded::{shard_of, Sharded};
use support::sqlstate;

use tokio_postgres::SimpleQueryMessage;

fn first_value(rows: &[SimpleQueryMessage]) -> Option<String> {
    rows.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_crud_lands_on_the_owning_shard() {
    let t = Sharded::start("transaction").await;
    let c = t.client().await;
    let ids: Vec<i64> = (-13..60).collect();
    // Simple protocol with literals.
    for id in &ids {
        c.simple_query(&format!(
            "INSERT INTO users (user_id, name) VALUES ({id}, 'user {id}')"
        ))
        .await
        .unwrap_or_else(|e| panic!("insert {id}: {e}"));
    }
    // Every row is on its shard and only there.
    for k in 0..6 {
        let direct = t.shard(k).await;
        let n: i64 = direct
            .query_one("SELECT count(*) FROM users", &[])
            .await
            .expect("count")
            .get(0);
        let expected = ids.iter().filter(|id| shard_of(**id) == k).count() as i64;
        assert_eq!(n, expected, "shard {k}");
    }
    // Read back through the proxy, extended protocol with a binary int8 key.
    let get = c
        .prepare("SELECT name FROM users WHERE user_id = $1")
        .await
        .expect("prepare");
    for id in &ids {
        let row = c
            .query_one(&get, &[id])
            .await
            .unwrap_or_else(|e| panic!("select {id}: {e}"));
        assert_eq!(row.get::<_, String>(0), format!("user {id}"));
    }
    // UPDATE and DELETE by key.
    for id in ids.iter().filter(|id| *id % 3 == 0) {
        let n = c
            .execute(
                "UPDATE users SET name = 'renamed' WHERE user_id = $1",
                &[id],
            )
            .await
            .expect("update");
        assert_eq!(n, 1);
    }
    for id in ids.iter().filter(|id| *id % 5 == 0) {
        c.simple_query(&format!("DELETE FROM users WHERE user_id = {id}"))
            .await
            .expect("delete");
    }
    for id in &ids {
        let rows = c.query(&get, &[id]).await.expect("select");
        if id % 5 == 0 {
            assert!(rows.is_empty(), "{id} should be deleted");
        } else if id % 3 == 0 {
            assert_eq!(rows[0].get::<_, String>(0), "renamed");
        }
    }
    // = ANY with keys of one shard, as a parameter: that shard alone.
    let rows = c
        .query(
            "SELECT user_id FROM users WHERE user_id = ANY($1) ORDER BY user_id",
            &[&vec![1i64, 7, 13]],
        )
        .await
        .expect("any");
    let got: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(got, vec![1, 7, 13]);
    // Keys of several shards, as a parameter: scattered to those shards
    // and merged in order, rows in the binary format tokio-postgres asks for.
    let rows = c
        .query(
            "SELECT user_id, name FROM users WHERE user_id = ANY($1) ORDER BY user_id DESC",
            &[&vec![1i64, 2, 8]],
        )
        .await
        .expect("multi-shard extended read");
    let got: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(got, vec![8, 2, 1]);
    // IN lists over several shards, simple protocol: merged in order.
    let rows = c
        .simple_query("SELECT user_id FROM users WHERE user_id IN (4, 11, 7) ORDER BY user_id")
        .await
        .expect("in");
    let got: Vec<String> = rows
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec!["4", "7", "11"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_and_text_key_parameters() {
    let t = Sharded::start("transaction").await;
    let c = t.client().await;
    c.execute(
        "INSERT INTO users (user_id, name) VALUES ($1, 'int8')",
        &[&10i64],
    )
    .await
    .expect("int8");
    c.execute(
        "INSERT INTO users (user_id, name) VALUES ($1::int4, 'int4')",
        &[&11i32],
    )
    .await
    .expect("int4");
    c.execute(
        "INSERT INTO users (user_id, name) VALUES ($1::int2, 'int2')",
        &[&13i16],
    )
    .await
    .expect("int2");
    // A text-format key parameter over the raw protocol.
    let mut r = Raw::login(t.proxy.addr.port()).await;
    let mut batch = raw::parse("", "INSERT INTO users (user_id, name) VALUES ($1, 'text')");
    batch.extend(raw::bind("", "", &["17"]));
    batch.extend(raw::execute(""));
    batch.extend(raw::sync());
    r.send(&batch).await;
    let msgs = r.until_ready().await;
    assert!(msgs.iter().all(|m| m.tag != b'E'), "{msgs:?}");
    // A key that is not an integer is refused before reaching a shard.
    let mut batch = raw::parse("", "SELECT name FROM users WHERE user_id = $1");
    batch.extend(raw::bind("", "", &["seventeen"]));
    batch.extend(raw::execute(""));
    batch.extend(raw::sync());
    r.send(&batch).await;
    let msgs = r.until_ready().await;
    assert_eq!(
        msgs.iter()
            .find(|m| m.tag == b'E')
            .and_then(|m| m.sqlstate())
            .as_deref(),
        Some("22P02"),
        "{msgs:?}"
    );
    for (id, name) in [(10i64, "int8"), (11, "int4"), (13, "int2"), (17, "text")] {
        let direct = t.shard(shard_of(id)).await;
        let got: String = direct
            .query_one("SELECT name FROM users WHERE user_id = $1", &[&id])
            .await
            .unwrap_or_else(|e| panic!("{id} not on shard {}: {e}", shard_of(id)))
            .get(0);
        assert_eq!(got, name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_row_inserts_go_to_their_shards() {
    let t = Sharded::start("transaction").await;
    let c = t.client().await;
    c.simple_query("INSERT INTO users (user_id, name) VALUES (1, 'a'), (7, 'b'), (13, 'c')")
        .await
        .expect("same shard");
    let n: i64 = t
        .shard(1)
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .expect("n")
        .get(0);
    assert_eq!(n, 3);
    // Rows for two shards: split, one INSERT per shard, atomically.
    c.simple_query("INSERT INTO users (user_id, name) VALUES (2, 'x'), (3, 'y')")
        .await
        .expect("rows for two shards");
    for k in [2, 3] {
        let n: i64 = t
            .shard(k)
            .await
            .query_one("SELECT count(*) FROM users", &[])
            .await
            .expect("n")
            .get(0);
        assert_eq!(n, 1, "shard {k} holds its row");
    }
    // Without a column list the key cannot be read: refused, nothing written.
    let err = c
        .simple_query("INSERT INTO users VALUES (4, 'x'), (5, 'y')")
        .await
        .expect_err("no column list");
    assert_eq!(sqlstate(&err).as_deref(), Some("0A000"), "{err}");
    for k in [4, 5] {
        let n: i64 = t
            .shard(k)
            .await
            .query_one("SELECT count(*) FROM users", &[])
            .await
            .expect("n")
            .get(0);
        assert_eq!(n, 0, "nothing may be written to shard {k}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_stay_on_their_shard() {
    let t = Sharded::start("transaction").await;
    let mut c = t.client().await;
    // BEGIN is held until the first statement picks shard 1.
    let tx = c.transaction().await.expect("begin");
    tx.execute(
        "INSERT INTO users (user_id, name) VALUES ($1, 'one')",
        &[&1i64],
    )
    .await
    .expect("insert 1");
    tx.execute(
        "INSERT INTO users (user_id, name) VALUES ($1, 'seven')",
        &[&7i64],
    )
    .await
    .expect("insert 7");
    tx.commit().await.expect("commit");
    let n: i64 = t
        .shard(1)
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .expect("n")
        .get(0);
    assert_eq!(n, 2);

    // A statement for another shard joins the transaction; ROLLBACK
    // undoes both shards' rows, COMMIT keeps both.
    c.batch_execute("BEGIN").await.expect("begin");
    c.batch_execute("INSERT INTO users (user_id, name) VALUES (2, 'two')")
        .await
        .expect("insert 2");
    c.batch_execute("INSERT INTO users (user_id, name) VALUES (3, 'three')")
        .await
        .expect("a statement for another shard");
    c.batch_execute("ROLLBACK").await.expect("rollback");
    for k in [2, 3] {
        let n: i64 = t
            .shard(k)
            .await
            .query_one("SELECT count(*) FROM users", &[])
            .await
            .expect("n")
            .get(0);
        assert_eq!(n, 0, "the rolled-back insert must not persist on shard {k}");
    }
    c.batch_execute("BEGIN").await.expect("begin");
    for id in [2, 3] {
        c.batch_execute(&format!(
            "INSERT INTO users (user_id, name) VALUES ({id}, 'kept')"
        ))
        .await
        .expect("insert");
    }
    c.batch_execute("COMMIT")
        .await
        .expect("commit over two shards");
    for k in [2, 3] {
        let n: i64 = t
            .shard(k)
            .await
            .query_one("SELECT count(*) FROM users WHERE name = 'kept'", &[])
            .await
            .expect("n")
            .get(0);
        assert_eq!(n, 1, "the committed insert persists on shard {k}");
    }

    // A rolled-back transaction on its shard leaves nothing behind.
    c.batch_execute("BEGIN; INSERT INTO users (user_id, name) VALUES (4, 'four'); ROLLBACK")
        .await
        .expect("rollback in one string");
    let n: i64 = t
        .shard(4)
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .expect("n")
        .get(0);
    assert_eq!(n, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_route_what_sql_cannot_say() {
    let t = Sharded::start("transaction").await;
    let c = t.client().await;
    let port = first_value(
        &c.simple_query("/* shardwire: shard=3 */ SHOW port")
            .await
            .expect("hint shard"),
    )
    .expect("port");
    assert_eq!(t.shard_with_port(&port), Some(3));
    let port = first_value(
        &c.simple_query("/* shardwire: user_id=10 */ SHOW port")
            .await
            .expect("hint user"),
    )
    .expect("port");
    assert_eq!(t.shard_with_port(&port), Some(4));
    c.batch_execute("SET shardwire.user_id = 11")
        .await
        .expect("set hint");
    let port = first_value(&c.simple_query("SHOW port").await.expect("show")).expect("port");
    assert_eq!(t.shard_with_port(&port), Some(5));
    c.batch_execute("RESET shardwire.user_id")
        .await
        .expect("reset hint");
    let err = c
        .batch_execute("SET shardwire.user_id = 'abc'")
        .await
        .expect_err("bad hint");
    assert_eq!(sqlstate(&err).as_deref(), Some("22P02"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unkeyed_inserts_and_key_changes_are_refused_unkeyed_updates_run_everywhere() {
    let t = Sharded::start("transaction").await;
    let c = t.client().await;
    c.simple_query("INSERT INTO users (user_id, name) VALUES (5, 'five')")
        .await
        .expect("insert");
    // An unkeyed UPDATE runs on every shard (atomically, see cross_shard.rs).
    let m = c
        .simple_query("UPDATE users SET name = 'x' WHERE name = 'five'")
        .await
        .expect("unkeyed update");
    assert!(
        m.iter()
            .any(|m| matches!(m, SimpleQueryMessage::CommandComplete(1))),
        "one row updated over all shards"
    );
    for sql in ["INSERT INTO users (name) VALUES ('nokey')"] {
        let err = c.simple_query(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&err).as_deref(), Some("0A000"), "{sql}: {err}");
        let db = err.as_db_error().expect("db error");
        let text = format!("{} {}", db.message(), db.hint().unwrap_or(""));
        assert!(
            text.contains("user_id"),
            "{sql}: the error must name the key: {text}"
        );
    }
    let err = c
        .simple_query("UPDATE users SET user_id = 6 WHERE user_id = 5")
        .await
        .expect_err("key change");
    assert_eq!(sqlstate(&err).as_deref(), Some("0A000"), "{err}");
    let n: i64 = t
        .shard(5)
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .expect("n")
        .get(0);
    assert_eq!(n, 1, "nothing was deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_is_broadcast_and_global_tables_are_everywhere() {
    let t = Sharded::start("transaction").await;
    let c = t.client().await;
    c.batch_execute("CREATE TABLE notes (user_id bigint, body text)")
        .await
        .expect("ddl");
    for k in 0..6 {
        let exists: bool = t
            .shard(k)
            .await
            .query_one("SELECT to_regclass('public.notes') IS NOT NULL", &[])
            .await
            .expect("regclass")
            .get(0);
        assert!(exists, "notes missing on shard {k}");
    }
    c.batch_execute("INSERT INTO countries VALUES ('fr', 'France'), ('jp', 'Japan')")
        .await
        .expect("global write");
    for k in 0..6 {
        let n: i64 = t
            .shard(k)
            .await
            .query_one("SELECT count(*) FROM countries", &[])
            .await
            .expect("n")
            .get(0);
        assert_eq!(n, 2, "shard {k}");
    }
    let name = first_value(
        &c.simple_query("SELECT name FROM countries WHERE code = 'jp'")
            .await
            .expect("read"),
    )
    .expect("row");
    assert_eq!(name, "Japan");
    // DDL that fails everywhere reports the server's error.
    let err = c
        .batch_execute("CREATE TABLE notes (x int)")
        .await
        .expect_err("exists");
    assert_eq!(sqlstate(&err).as_deref(), Some("42P07"), "{err}");
}

async fn load_scores(t: &Sharded) {
    let c = t.client().await;
    let reference = t.reference().await;
    let mut values = Vec::new();
    for i in 0..240i64 {
        let player = (i * 7919) % 97 - 20;
        let points = if i % 17 == 0 {
            "NULL".to_string()
        } else {
            ((i * 31) % 1000).to_string()
        };
        values.push(format!("({i}, {player}, {points})"));
    }
    for v in &values {
        let sql = format!("INSERT INTO scores (id, player_id, points) VALUES {v}");
        c.simple_query(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        reference
            .simple_query(&sql)
            .await
            .expect("reference insert");
    }
}

fn rows_text(rows: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    rows.iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scatter_gather_matches_one_unsharded_server() {
    let t = Sharded::start("transaction").await;
    load_scores(&t).await;
    let c = t.client().await;
    let reference = t.reference().await;
    let queries = [
        "SELECT id, player_id, points FROM scores ORDER BY id",
        "SELECT id, points FROM scores ORDER BY points DESC NULLS LAST, id LIMIT 7",
        "SELECT id, points FROM scores ORDER BY points, id LIMIT 5 OFFSET 3",
        "SELECT count(*), sum(points), min(points), max(points) FROM scores",
        "SELECT count(points) FROM scores",
        "SELECT player_id, count(*), sum(points), max(points) FROM scores GROUP BY player_id ORDER BY player_id",
        "SELECT player_id, sum(points) AS total FROM scores GROUP BY player_id ORDER BY total DESC NULLS LAST, player_id LIMIT 5",
    ];
    for sql in queries {
        let got = rows_text(
            &c.simple_query(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
        );
        let want = rows_text(&reference.simple_query(sql).await.expect("reference"));
        if sql.starts_with("SELECT id, player_id, points FROM scores ORDER BY id") {
            assert_eq!(got.len(), 240);
        }
        assert_eq!(got, want, "{sql}");
    }
    // The same reads with parameters (extended protocol, binary results).
    let checks: Vec<(&str, i32)> = vec![
        (
            "SELECT id, points FROM scores WHERE points > $1 ORDER BY points DESC, id LIMIT 6",
            100,
        ),
        (
            "SELECT count(*), sum(points), min(points), max(points) FROM scores WHERE points > $1",
            250,
        ),
    ];
    for (sql, threshold) in checks {
        let got = c
            .query(sql, &[&threshold])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let want = reference
            .query(sql, &[&threshold])
            .await
            .expect("reference");
        assert_eq!(got.len(), want.len(), "{sql}");
        for (g, w) in got.iter().zip(&want) {
            for i in 0..g.len() {
                let (gv, wv): (Option<i64>, Option<i64>) = match g.columns()[i].type_() {
                    &tokio_postgres::types::Type::INT4 => (
                        g.get::<_, Option<i32>>(i).map(i64::from),
                        w.get::<_, Option<i32>>(i).map(i64::from),
                    ),
                    &tokio_postgres::types::Type::INT8 => (g.get(i), w.get(i)),
                    other => panic!("{sql}: unexpected column type {other}"),
                };
                assert_eq!(gv, wv, "{sql} column {i}");
            }
        }
    }

    // avg: compare numerically.
    let sql = "SELECT avg(points) FROM scores";
    let got: f64 = first_value(&c.simple_query(sql).await.expect("avg"))
        .expect("v")
        .parse()
        .expect("f64");
    let want: f64 = first_value(&reference.simple_query(sql).await.expect("avg"))
        .expect("v")
        .parse()
        .expect("f64");
    assert!((got - want).abs() < 1e-9, "avg {got} vs {want}");
    // Forms that cannot be merged are refused, never answered partially.
    for sql in [
        "SELECT DISTINCT points FROM scores",
        "SELECT player_id, count(*) FROM scores GROUP BY player_id HAVING count(*) > 2",
    ] {
        let err = c.simple_query(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&err).as_deref(), Some("0A000"), "{sql}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_begin_survives_a_describe_before_the_first_statement() {
    let t = Sharded::start("transaction").await;
    let mut r = Raw::login(t.proxy.addr.port()).await;
    r.send(&raw::query("BEGIN")).await;
    let msgs = r.until_ready().await;
    assert_eq!(msgs.last().map(|m| m.body.clone()), Some(b"T".to_vec()));
    // Parse, Describe, Bind, Execute, Sync in one batch (as JDBC sends
    // it): the Describe must not start the transaction on another shard.
    for user_id in ["3", "9"] {
        let mut batch = raw::parse(
            "",
            "INSERT INTO users (user_id, name) VALUES ($1::bigint, 'tx')",
        );
        let mut describe = vec![b'S'];
        describe.push(0);
        batch.extend(raw::frame(b'D', &describe));
        batch.extend(raw::bind("", "", &[user_id]));
        batch.extend(raw::execute(""));
        batch.extend(raw::sync());
        r.send(&batch).await;
        let msgs = r.until_ready().await;
        assert!(msgs.iter().all(|m| m.tag != b'E'), "{user_id}: {msgs:?}");
        assert_eq!(
            msgs.last().map(|m| m.body.clone()),
            Some(b"T".to_vec()),
            "{msgs:?}"
        );
    }
    r.send(&raw::query("ROLLBACK")).await;
    r.until_ready().await;
    let n: i64 = t
        .shard(3)
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .expect("n")
        .get(0);
    assert_eq!(n, 0, "the rolled-back inserts must not persist");
}

/// A drain (SIGTERM, `SHUTDOWN WAIT_FOR_CLIENTS`) that begins while
/// clients' BEGINs are held back (no statement has chosen the shard yet)
/// lets those transactions run to their COMMIT, then ends the sessions.
/// Such a session must not wake on the drain signal again and again: two
/// of them spinning would hold both worker threads of this test's runtime
/// (which the proxy shares) and nothing would be read any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_lets_held_begins_finish_their_transactions() {
    let t = Sharded::start("transaction").await;
    let keys = [3i64, 4, 5];
    let mut clients = Vec::new();
    for _ in keys {
        let c = t.client().await;
        c.batch_execute("BEGIN").await.expect("begin (held)");
        clients.push(c);
    }
    let ctx = t.proxy.context.clone();
    let drain = tokio::spawn(async move { shardwire::drain::drain(&ctx).await });
    // The drain has begun and woken the sessions waiting between
    // transactions; these are inside theirs.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let limit = std::time::Duration::from_secs(10);
    for (c, key) in clients.iter().zip(keys) {
        tokio::time::timeout(
            limit,
            c.execute(
                "INSERT INTO users (user_id, name) VALUES ($1, 'drained')",
                &[&key],
            ),
        )
        .await
        .expect("the statement after the drain began is answered")
        .expect("insert");
        tokio::time::timeout(limit, c.batch_execute("COMMIT"))
            .await
            .expect("the COMMIT is answered")
            .expect("commit");
    }
    let closed = tokio::time::timeout(limit, drain)
        .await
        .expect("the drain ends once the transactions have")
        .expect("drain task");
    assert_eq!(closed, 0, "no session was left for the timeout to close");
    for c in &clients {
        assert!(
            c.batch_execute("SELECT 1").await.is_err(),
            "the session ended after its transaction"
        );
    }
    for key in keys {
        let n: i64 = t
            .shard(shard_of(key))
            .await
            .query_one(
                "SELECT count(*) FROM users WHERE name = 'drained' AND user_id = $1",
                &[&key],
            )
            .await
            .expect("count")
            .get(0);
        assert_eq!(n, 1, "the drained transaction of {key} committed");
    }
}
