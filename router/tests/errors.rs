//! Statements the router refuses, with their SQLSTATEs.

mod common;

use common::*;
use shardwire_router::RouteError;

#[test]
fn unkeyed_writes() {
    let r = router();
    for (sql, table, key) in [
        ("UPDATE users SET name = 'x'", "users", "user_id"),
        ("DELETE FROM users WHERE name = 'x'", "users", "user_id"),
        ("INSERT INTO users (name) VALUES ('x')", "users", "user_id"),
        ("INSERT INTO users VALUES (1, 'x')", "users", "user_id"),
        ("INSERT INTO users DEFAULT VALUES", "users", "user_id"),
        (
            "INSERT INTO users (user_id) VALUES (DEFAULT)",
            "users",
            "user_id",
        ),
        (
            "INSERT INTO users (user_id) SELECT user_id FROM other",
            "users",
            "user_id",
        ),
        (
            "UPDATE scores SET score = 1 WHERE user_id = 5",
            "scores",
            "player_id",
        ),
        ("SELECT * FROM users FOR UPDATE", "users", "user_id"),
        ("COPY users FROM STDIN", "users", "user_id"),
        (
            "UPDATE users SET x = 1 WHERE user_id = 1 OR name = 'a'",
            "users",
            "user_id",
        ),
    ] {
        let e = error(&r, sql);
        assert_eq!(
            e,
            RouteError::UnkeyedWrite {
                table: table.into(),
                key_column: key.into()
            },
            "{sql}"
        );
        assert_eq!(e.sqlstate(), "0A000");
        let hint = e.hint().unwrap_or_default();
        assert!(
            hint.contains(key) && hint.contains("/* shardwire:"),
            "{hint}"
        );
    }
}

#[test]
fn key_changes() {
    let r = router();
    for sql in [
        "UPDATE users SET user_id = 8 WHERE user_id = 7",
        "UPDATE users SET (name, user_id) = ('a', 8) WHERE user_id = 7",
        "INSERT INTO users (user_id) VALUES (1) ON CONFLICT (id) DO UPDATE SET user_id = 2",
        "UPDATE scores SET player_id = 1 WHERE player_id = 2",
    ] {
        let e = error(&r, sql);
        assert!(matches!(e, RouteError::KeyChange { .. }), "{sql}: {e:?}");
        assert_eq!(e.sqlstate(), "0A000");
    }
}

#[test]
fn cross_shard_insert_is_refused() {
    let r = router();
    let e = error(
        &r,
        "INSERT INTO users (user_id, name) VALUES (1, 'a'), (2, 'b'), (7, 'c')",
    );
    assert_eq!(e, RouteError::CrossShardInsert { shards: vec![1, 2] });
    assert_eq!(e.sqlstate(), "0A000");
}

#[test]
fn mixed_targets() {
    let r = router();
    let e = error(
        &r,
        "SELECT * FROM users WHERE user_id = 1; SELECT * FROM users WHERE user_id = 2",
    );
    assert_eq!(e, RouteError::MixedTargets);
    assert_eq!(e.sqlstate(), "0A000");
    let e = error(
        &r,
        "INSERT INTO users (user_id) VALUES (1); CREATE TABLE x (a int)",
    );
    assert_eq!(e, RouteError::MixedTargets);
    // Statements that agree, or touch no sharded table, are fine.
    assert_eq!(
        target(&r, "BEGIN; UPDATE users SET x = 1 WHERE user_id = 3; INSERT INTO users (user_id) VALUES (9); COMMIT"),
        shardwire_router::Target::Shard(3)
    );
}

#[test]
fn bad_keys() {
    let r = router();
    for sql in [
        "SELECT * FROM users WHERE user_id = 'abc'",
        "SELECT * FROM users WHERE user_id = 1.5",
        "SELECT * FROM users WHERE user_id = 99999999999999999999",
        "SELECT * FROM users WHERE user_id = ANY('{1,x}')",
        "INSERT INTO users (user_id) VALUES (NULL)",
        "SELECT 1 /* shardwire: user_id=abc */",
        "SELECT 1 /* shardwire: shard=6 */",
    ] {
        let e = error(&r, sql);
        assert!(matches!(e, RouteError::BadKey { .. }), "{sql}: {e:?}");
        assert_eq!(e.sqlstate(), "22P02");
    }
}

#[test]
fn unsupported_constructs() {
    let r = router();
    for (sql, construct) in [
        ("SELECT DISTINCT name FROM users", "DISTINCT"),
        ("SELECT DISTINCT ON (name) name FROM users", "DISTINCT"),
        (
            "SELECT name, count(*) FROM users GROUP BY name HAVING count(*) > 1",
            "HAVING",
        ),
        (
            "SELECT name, row_number() OVER () FROM users",
            "window function",
        ),
        (
            "SELECT name FROM users ORDER BY length(name) LIMIT 3",
            "ORDER BY expression that is not an output column",
        ),
        (
            "SELECT count(DISTINCT name) FROM users",
            "count(DISTINCT …)",
        ),
        (
            "SELECT string_agg(name, ',') FROM users",
            "aggregate string_agg()",
        ),
        (
            "SELECT count(*) + 1 FROM users",
            "expression over an aggregate",
        ),
        (
            "SELECT name, count(*) FROM users GROUP BY lower(name)",
            "GROUP BY expression that is not an output column",
        ),
        (
            "SELECT (SELECT count(*) FROM users)",
            "subquery in scatter read",
        ),
        (
            "SELECT * FROM (SELECT count(*) FROM users) s",
            "subquery in scatter read",
        ),
        (
            "SELECT * FROM (SELECT * FROM users LIMIT 5) s",
            "subquery in scatter read",
        ),
        (
            "SELECT * FROM users a JOIN orders b ON a.x = b.x",
            "unkeyed join of sharded tables",
        ),
        (
            "SELECT * FROM users a, orders b WHERE a.user_id = 1 AND b.user_id = 2",
            "join of sharded tables on different shards",
        ),
        (
            "SELECT * FROM users a WHERE a.user_id = 1 AND a.x IN (SELECT x FROM orders)",
            "unkeyed join of sharded tables",
        ),
        (
            "SELECT name FROM users UNION SELECT name FROM users",
            "unkeyed join of sharded tables",
        ),
        (
            "SELECT * FROM users ORDER BY name",
            "ORDER BY expression that is not an output column",
        ),
        (
            "SELECT count(*) FROM users; SELECT 1",
            "scatter read in a multi-statement query string",
        ),
        (
            "INSERT INTO countries SELECT * FROM users",
            "a write to a global table that reads a sharded table",
        ),
        (
            "MERGE INTO users u USING x ON u.user_id = x.user_id WHEN MATCHED THEN DELETE",
            "MERGE into a sharded table",
        ),
        ("DO $$ BEGIN PERFORM 1; END $$", "DO block"),
        ("CALL p(1)", "CALL"),
        ("EXECUTE p(1)", "EXECUTE of an SQL-level prepared statement"),
        ("LOCK TABLE users", "LOCK of a sharded table"),
        (
            "COPY users TO STDOUT",
            "COPY … TO of a sharded table from several shards",
        ),
        (
            "SELECT name FROM users ORDER BY name FETCH FIRST 3 ROWS WITH TIES",
            "FETCH … WITH TIES",
        ),
        (
            "SELECT name FROM users GROUP BY ROLLUP (name)",
            "GROUPING SETS/ROLLUP/CUBE",
        ),
    ] {
        let e = error(&r, sql);
        assert_eq!(
            e,
            RouteError::Unsupported {
                construct: construct.into()
            },
            "{sql}"
        );
        assert_eq!(e.sqlstate(), "0A000");
        assert!(e.message().contains(construct));
    }
}
