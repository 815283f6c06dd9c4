//! Key extraction: where a statement's sharding key comes from, for every
//! construct the router understands.

mod common;

use common::*;
use shardwire_router::{StatementKind, Target};

#[test]
fn equality_in_and_any() {
    let r = router();
    assert_eq!(
        target(&r, "SELECT * FROM users WHERE user_id = 7"),
        Target::Shard(1)
    );
    assert_eq!(
        target(&r, "select * from users where 7 = user_id"),
        Target::Shard(1)
    );
    assert_eq!(
        target(&r, "SELECT * FROM users WHERE user_id = '8'"),
        Target::Shard(2)
    );
    assert_eq!(
        target(&r, "SELECT * FROM users WHERE user_id = 9::bigint"),
        Target::Shard(3)
    );
    assert_eq!(
        target(&r, "SELECT * FROM users WHERE user_id = CAST('10' AS int8)"),
        Target::Shard(4)
    );
    assert_eq!(
        target(&r, "SELECT * FROM users WHERE user_id = bigint '11'"),
        Target::Shard(5)
    );
    assert_eq!(
        target(&r, "SELECT * FROM users WHERE user_id = -1"),
        Target::Shard(5)
    );
    assert_eq!(
        target(&r, "SELECT * FROM users WHERE user_id = 5000000003"),
        Target::Shard(s(5000000003))
    );
    assert_eq!(
        target(&r, "SELECT * FROM users WHERE user_id IN (1, 7, 13)"),
        Target::Shard(1)
    );
    assert_eq!(
        target(&r, "SELECT name FROM users WHERE user_id IN (1, 2)"),
        shards(&[1, 2])
    );
    assert_eq!(
        target(&r, "SELECT name FROM users WHERE user_id = ANY('{3,9}')"),
        Target::Shard(3)
    );
    assert_eq!(
        target(
            &r,
            "SELECT name FROM users WHERE user_id = ANY('{3,4}'::bigint[])"
        ),
        shards(&[3, 4])
    );
    assert_eq!(
        target(
            &r,
            "SELECT name FROM users WHERE user_id = ANY(ARRAY[5, 11])"
        ),
        Target::Shard(5)
    );
    assert_eq!(
        target(
            &r,
            "SELECT * FROM users u WHERE u.user_id = 4 AND u.name = 'x'"
        ),
        Target::Shard(4)
    );
    assert_eq!(
        target(
            &r,
            "SELECT * FROM public.users WHERE public.users.user_id = 4"
        ),
        Target::Shard(4)
    );
    assert_eq!(
        target(&r, "SELECT * FROM \"users\" WHERE \"user_id\" = 4"),
        Target::Shard(4)
    );
}

#[test]
fn and_or_combinations() {
    let r = router();
    assert_eq!(
        target(&r, "SELECT * FROM users WHERE user_id = 1 OR user_id = 2"),
        shards(&[1, 2])
    );
    assert_eq!(
        target(
            &r,
            "SELECT * FROM users WHERE (user_id = 1 OR user_id = 7) AND x > 3"
        ),
        Target::Shard(1)
    );
    assert_eq!(
        target(
            &r,
            "SELECT * FROM users WHERE user_id IN (1,2,3) AND user_id IN (2,3,4)"
        ),
        shards(&[2, 3])
    );
    assert_eq!(
        target(&r, "SELECT * FROM users WHERE user_id = 1 AND user_id = 2"),
        Target::AnyShard
    );
    assert_eq!(
        target(&r, "SELECT * FROM users WHERE user_id = 1 OR x = 2"),
        Target::AllShards
    );
    assert_eq!(
        target(&r, "SELECT * FROM users WHERE NOT (user_id = 1)"),
        Target::AllShards
    );
    assert_eq!(
        target(&r, "SELECT * FROM users WHERE user_id <> 1"),
        Target::AllShards
    );
    assert_eq!(
        target(
            &r,
            "SELECT * FROM users WHERE (user_id = 1 AND a = 1) OR (user_id = 8 AND b = 2)"
        ),
        shards(&[1, 8])
    );
}

#[test]
fn per_table_key_columns_and_global_tables() {
    let r = router();
    assert_eq!(
        target(&r, "SELECT * FROM scores WHERE player_id = 3"),
        Target::Shard(3)
    );
    assert_eq!(
        target(&r, "SELECT * FROM scores WHERE user_id = 3"),
        Target::AllShards
    );
    assert_eq!(target(&r, "SELECT * FROM countries"), Target::AnyShard);
    assert_eq!(
        target(&r, "SELECT * FROM games g JOIN countries c ON g.c = c.id"),
        Target::AnyShard
    );
    assert_eq!(
        target(&r, "SELECT * FROM pg_catalog.pg_class"),
        Target::AnyShard
    );
    assert_eq!(
        target(&r, "SELECT * FROM information_schema.tables"),
        Target::AnyShard
    );
    assert_eq!(
        target(
            &r,
            "SELECT * FROM users u JOIN countries c ON c.id = u.country WHERE u.user_id = 2"
        ),
        Target::Shard(2)
    );
    assert_eq!(target(&r, "SELECT 1"), Target::AnyShard);
    assert_eq!(target(&r, "SELECT now(), version()"), Target::AnyShard);
}

#[test]
fn inserts() {
    let r = router();
    let d = route(&r, "INSERT INTO users (user_id, name) VALUES (7, 'a')").unwrap();
    assert_eq!((d.target, d.kind), (Target::Shard(1), StatementKind::Write));
    assert_eq!(
        target(
            &r,
            "INSERT INTO users (name, user_id) VALUES ('a', 7), ('b', 13)"
        ),
        Target::Shard(1)
    );
    assert_eq!(
        target(
            &r,
            "insert into users as u (user_id) values (-7) returning *"
        ),
        Target::Shard(5)
    );
    assert_eq!(
        target(&r, "INSERT INTO users (user_id, n) VALUES (2, 1) ON CONFLICT (user_id) DO UPDATE SET n = users.n + 1"),
        Target::Shard(2)
    );
    assert_eq!(
        target(
            &r,
            "INSERT INTO users (user_id) VALUES (2) ON CONFLICT DO NOTHING"
        ),
        Target::Shard(2)
    );
    assert_eq!(
        target(&r, "INSERT INTO scores (player_id, score) VALUES (4, 10)"),
        Target::Shard(4)
    );
    assert_eq!(
        target(&r, "INSERT INTO countries (id, name) VALUES (1, 'x')"),
        Target::AllShards
    );
    assert_eq!(
        target(&r, "INSERT INTO users (user_id, x) SELECT 8, 'y'"),
        Target::Shard(2)
    );
    assert_eq!(
        target(
            &r,
            "INSERT INTO users (user_id, x) SELECT user_id, x FROM archive WHERE user_id = 9"
        ),
        Target::Shard(3)
    );
}

#[test]
fn updates_and_deletes() {
    let r = router();
    let d = route(
        &r,
        "UPDATE users SET name = 'x' WHERE user_id = 3 RETURNING *",
    )
    .unwrap();
    assert_eq!((d.target, d.kind), (Target::Shard(3), StatementKind::Write));
    assert_eq!(
        target(&r, "DELETE FROM users WHERE user_id IN (1, 2)"),
        shards(&[1, 2])
    );
    assert_eq!(
        target(
            &r,
            "DELETE FROM users u USING countries c WHERE u.country = c.id AND u.user_id = 4"
        ),
        Target::Shard(4)
    );
    assert_eq!(
        target(&r, "UPDATE users u SET n = o.n FROM orders o WHERE o.user_id = u.user_id AND u.user_id = 5"),
        Target::Shard(5)
    );
    assert_eq!(
        target(&r, "UPDATE countries SET name = 'x' WHERE id = 1"),
        Target::AllShards
    );
    assert_eq!(target(&r, "DELETE FROM countries"), Target::AllShards);
}

#[test]
fn joins_subqueries_and_ctes() {
    let r = router();
    for sql in [
        "SELECT * FROM users a JOIN orders b ON a.user_id = b.user_id WHERE a.user_id = 5",
        "SELECT * FROM users a JOIN orders b ON a.user_id = b.user_id WHERE b.user_id = 5",
        "SELECT * FROM users a, orders b WHERE a.user_id = b.user_id AND a.user_id = 5",
        "SELECT * FROM users a JOIN orders b USING (user_id) WHERE user_id = 5",
        "SELECT * FROM users a LEFT JOIN orders b ON a.user_id = b.user_id WHERE a.user_id = 5",
        "SELECT * FROM users a WHERE a.user_id = 5 AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = a.user_id)",
        "SELECT * FROM users a WHERE a.user_id = 5 AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = a.user_id)",
        "SELECT * FROM users WHERE user_id IN (SELECT user_id FROM orders WHERE user_id = 5)",
        "SELECT *, (SELECT count(*) FROM orders o WHERE o.user_id = u.user_id) FROM users u WHERE u.user_id = 5",
        "SELECT * FROM (SELECT * FROM users WHERE user_id = 5) s",
        "SELECT * FROM (SELECT user_id, name FROM users) s WHERE s.user_id = 5",
        "WITH x AS (SELECT * FROM users WHERE user_id = 5) SELECT * FROM x",
        "WITH x AS (SELECT * FROM users) SELECT * FROM x WHERE user_id = 5",
        "WITH x AS (SELECT * FROM users WHERE user_id = 5) SELECT * FROM x JOIN orders o ON o.user_id = x.user_id WHERE o.user_id = 5",
        "SELECT * FROM users a, orders b WHERE a.user_id = 5 AND b.user_id = 11",
        "SELECT * FROM users WHERE user_id = 5 AND x IN (SELECT x FROM orders WHERE user_id = 5)",
        "SELECT * FROM scores s JOIN users u ON u.user_id = s.player_id WHERE s.player_id = 5",
    ] {
        assert_eq!(target(&r, sql), Target::Shard(5), "{sql}");
    }
    // Co-located joins scatter.
    for sql in [
        "SELECT * FROM users a JOIN orders b ON a.user_id = b.user_id",
        "SELECT * FROM users a WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = a.user_id AND o.user_id = 5)",
        "SELECT * FROM users a LEFT JOIN orders b ON a.user_id = b.user_id AND b.user_id = 5",
    ] {
        assert_eq!(target(&r, sql), Target::AllShards, "{sql}");
    }
    let d = route(
        &r,
        "WITH d AS (DELETE FROM users WHERE user_id = 5 RETURNING *) SELECT * FROM d",
    )
    .unwrap();
    assert_eq!((d.target, d.kind), (Target::Shard(5), StatementKind::Write));
}

#[test]
fn statement_kinds() {
    use StatementKind::*;
    let r = router();
    for (sql, kind, t) in [
        ("BEGIN", Begin, Target::AnyShard),
        (
            "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            Begin,
            Target::AnyShard,
        ),
        ("COMMIT", Commit, Target::AnyShard),
        ("END", Commit, Target::AnyShard),
        ("ROLLBACK", Rollback, Target::AnyShard),
        ("SAVEPOINT a", TransactionOther, Target::AnyShard),
        (
            "ROLLBACK TO SAVEPOINT a",
            TransactionOther,
            Target::AnyShard,
        ),
        ("RELEASE a", TransactionOther, Target::AnyShard),
        (
            "PREPARE TRANSACTION 'x'",
            TransactionOther,
            Target::AnyShard,
        ),
        ("SET search_path = a", Session, Target::AnyShard),
        ("SET shardwire.user_id = 42", Session, Target::AnyShard),
        ("RESET ALL", Session, Target::AnyShard),
        ("SHOW work_mem", Session, Target::AnyShard),
        ("DISCARD ALL", Session, Target::AnyShard),
        ("DEALLOCATE ALL", Session, Target::AnyShard),
        ("LISTEN x", Session, Target::AnyShard),
        ("CREATE TABLE t (user_id bigint)", Ddl, Target::AllShards),
        ("ALTER TABLE users ADD COLUMN x int", Ddl, Target::AllShards),
        ("DROP TABLE users", Ddl, Target::AllShards),
        ("TRUNCATE users", Ddl, Target::AllShards),
        ("CREATE INDEX ON users (name)", Ddl, Target::AllShards),
        ("COMMENT ON TABLE users IS 'x'", Ddl, Target::AllShards),
        ("GRANT SELECT ON users TO app", Ddl, Target::AllShards),
        ("REVOKE SELECT ON users FROM app", Ddl, Target::AllShards),
        (
            "CREATE TABLE t2 AS SELECT * FROM users",
            Ddl,
            Target::AllShards,
        ),
        ("VACUUM users", Utility, Target::AllShards),
        ("ANALYZE users", Utility, Target::AllShards),
        (
            "EXPLAIN SELECT * FROM users WHERE user_id = 3",
            Utility,
            Target::Shard(3),
        ),
        ("EXPLAIN SELECT * FROM users", Utility, Target::AnyShard),
        ("EXPLAIN UPDATE users SET x = 1", Utility, Target::AnyShard),
        (
            "EXPLAIN ANALYZE UPDATE users SET x = 1 WHERE user_id = 4",
            Utility,
            Target::Shard(4),
        ),
        (
            "SELECT * FROM users WHERE user_id = 3 FOR UPDATE",
            Write,
            Target::Shard(3),
        ),
        (
            "COPY users FROM STDIN /* shardwire: user_id=3 */",
            Write,
            Target::Shard(3),
        ),
        ("COPY countries FROM STDIN", Write, Target::AllShards),
        (
            "COPY (SELECT * FROM users WHERE user_id = 2) TO STDOUT",
            Read,
            Target::Shard(2),
        ),
        ("COPY countries TO STDOUT", Read, Target::AnyShard),
        ("SELEC broken syntax", Read, Target::AnyShard),
        ("INSERT INTO users VALUES (", Write, Target::AnyShard),
        ("", Session, Target::AnyShard),
    ] {
        let d = route(&r, sql).unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        assert_eq!((d.kind, d.target), (kind, t), "{sql}");
    }
}
