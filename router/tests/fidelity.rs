//! The router fidelity suite: a few hundred statements, simple and tricky
//! (comments, quoted identifiers, dollar quotes, casts, schema-qualified
//! names, CTEs, RETURNING, case), each with its expected route. Every
//! template runs with several key values and spellings, so the cached plan
//! of a shape is checked against fresh literals too.

mod common;

use common::*;
use shardwire_router::{RouteError, StatementKind as K, Target};

/// What a template should route to, for key `k`.
#[derive(Clone, Copy)]
enum Want {
    /// The shard of `k`.
    Key,
    /// The shards of `k` and `k + d`.
    Two(i64),
    /// Every shard.
    All,
    /// Any shard.
    Any,
    /// A refusal with this SQLSTATE and error variant name.
    Err(&'static str, &'static str),
}

use Want::*;

const TEMPLATES: &[(&str, Want, K)] = &[
    // Plain keyed reads.
    ("SELECT * FROM users WHERE user_id = {k}", Key, K::Read),
    ("select * from users where user_id = {k}", Key, K::Read),
    ("SELECT * FROM USERS WHERE USER_ID = {k}", Key, K::Read),
    ("SELECT name FROM users WHERE user_id = '{k}'", Key, K::Read),
    ("SELECT name FROM users WHERE user_id = {k}::bigint", Key, K::Read),
    ("SELECT name FROM users WHERE user_id = '{k}'::int8", Key, K::Read),
    ("SELECT name FROM users WHERE user_id = CAST({k} AS bigint)", Key, K::Read),
    ("SELECT name FROM users WHERE user_id = $${k}$$", Key, K::Read),
    ("SELECT name FROM users WHERE user_id = $tag${k}$tag$", Key, K::Read),
    ("SELECT name FROM users WHERE user_id = E'{k}'", Key, K::Read),
    ("SELECT name FROM users WHERE {k} = user_id", Key, K::Read),
    ("SELECT name FROM users WHERE (user_id = {k})", Key, K::Read),
    ("SELECT name FROM users WHERE user_id = ({k})", Key, K::Read),
    ("SELECT name FROM users WHERE user_id = {k} AND name = 'a;b'", Key, K::Read),
    ("SELECT name FROM users WHERE name = 'user_id = 1' AND user_id = {k}", Key, K::Read),
    ("SELECT \"name\" FROM \"users\" WHERE \"user_id\" = {k}", Key, K::Read),
    ("SELECT u.name FROM users u WHERE u.user_id = {k}", Key, K::Read),
    ("SELECT u.name FROM users AS u WHERE u.user_id = {k}", Key, K::Read),
    ("SELECT users.name FROM users WHERE users.user_id = {k}", Key, K::Read),
    ("SELECT name FROM public.users WHERE user_id = {k}", Key, K::Read),
    ("SELECT name FROM app.users u WHERE u.user_id = {k}", Key, K::Read),
    ("SELECT name FROM users WHERE user_id = {k} /* ; */ -- ;", Key, K::Read),
    ("SELECT name FROM users WHERE user_id = {k};", Key, K::Read),
    ("SELECT name FROM users WHERE user_id = {k} ORDER BY name LIMIT 10", Key, K::Read),
    ("SELECT count(*) FROM users WHERE user_id = {k}", Key, K::Read),
    ("SELECT DISTINCT name FROM users WHERE user_id = {k}", Key, K::Read),
    ("SELECT name, row_number() OVER () FROM users WHERE user_id = {k}", Key, K::Read),
    ("SELECT * FROM users WHERE user_id = {k} FOR UPDATE", Key, K::Write),
    ("SELECT * FROM users WHERE user_id = {k} FOR SHARE SKIP LOCKED", Key, K::Write),
    ("SELECT * FROM scores WHERE player_id = {k}", Key, K::Read),
    ("SELECT * FROM scores s WHERE s.player_id = {k} AND s.user_id = 1", Key, K::Read),
    // IN, ANY, OR, AND.
    ("SELECT * FROM users WHERE user_id IN ({k})", Key, K::Read),
    ("SELECT * FROM users WHERE user_id IN ({k}, {k})", Key, K::Read),
    ("SELECT * FROM users WHERE user_id IN ({k}, {k} + 0)", All, K::Read),
    ("SELECT * FROM users WHERE user_id = ANY('{{{k}}}')", Key, K::Read),
    ("SELECT * FROM users WHERE user_id = ANY('{{{k}}}'::bigint[])", Key, K::Read),
    ("SELECT * FROM users WHERE user_id = ANY(ARRAY[{k}])", Key, K::Read),
    ("SELECT * FROM users WHERE user_id = ANY(ARRAY[{k}]::int8[])", Key, K::Read),
    ("SELECT * FROM users WHERE user_id = {k} OR user_id = {k}", Key, K::Read),
    ("SELECT * FROM users WHERE user_id = {k} AND flag", Key, K::Read),
    ("SELECT * FROM users WHERE flag AND (user_id = {k} OR user_id = {k})", Key, K::Read),
    ("SELECT * FROM users WHERE user_id = {k} AND user_id IN ({k}, 0, 1, 2, 3, 4, 5)", Key, K::Read),
    ("SELECT * FROM users WHERE user_id = {k} OR flag", All, K::Read),
    ("SELECT * FROM users WHERE user_id > {k}", All, K::Read),
    ("SELECT * FROM users WHERE user_id BETWEEN {k} AND {k}", All, K::Read),
    ("SELECT * FROM users WHERE user_id IS NOT DISTINCT FROM {k}", All, K::Read),
    ("SELECT * FROM users WHERE user_id NOT IN ({k})", All, K::Read),
    ("SELECT * FROM users WHERE user_id::text = '{k}'", All, K::Read),
    ("SELECT * FROM users WHERE user_id + 0 = {k}", All, K::Read),
    ("SELECT * FROM users WHERE user_id = {k} + 0", All, K::Read),
    ("SELECT * FROM users WHERE user_id = abs({k})", All, K::Read),
    ("SELECT * FROM users WHERE user_id IN ({k}, 1)", Two(1), K::Read),
    ("SELECT * FROM users WHERE user_id = {k} OR user_id = 1", Two(1), K::Read),
    ("SELECT * FROM users WHERE user_id = ANY('{{{k},1}}')", Two(1), K::Read),
    // Joins, subqueries, CTEs.
    ("SELECT * FROM users u JOIN orders o ON o.user_id = u.user_id WHERE u.user_id = {k}", Key, K::Read),
    ("SELECT * FROM users u JOIN orders o USING (user_id) WHERE user_id = {k}", Key, K::Read),
    ("SELECT * FROM users u INNER JOIN orders o ON u.user_id = o.user_id AND o.user_id = {k}", Key, K::Read),
    ("SELECT * FROM users u LEFT JOIN orders o ON o.user_id = u.user_id WHERE u.user_id = {k}", Key, K::Read),
    ("SELECT * FROM users u RIGHT JOIN orders o ON o.user_id = u.user_id WHERE o.user_id = {k}", Key, K::Read),
    ("SELECT * FROM users u LEFT JOIN orders o ON o.user_id = u.user_id AND o.user_id = {k}", All, K::Read),
    ("SELECT * FROM users u, orders o WHERE u.user_id = o.user_id AND o.user_id = {k}", Key, K::Read),
    ("SELECT * FROM users u, orders o WHERE u.user_id = {k} AND o.user_id = {k}", Key, K::Read),
    ("SELECT * FROM users u JOIN countries c ON c.id = u.country_id WHERE u.user_id = {k}", Key, K::Read),
    ("SELECT * FROM users u JOIN scores s ON s.player_id = u.user_id WHERE u.user_id = {k}", Key, K::Read),
    ("SELECT * FROM users u WHERE u.user_id = {k} AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.user_id)", Key, K::Read),
    ("SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.user_id AND o.user_id = {k})", Key, K::Read),
    ("SELECT * FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.user_id AND o.user_id = {k})", All, K::Read),
    ("SELECT * FROM users WHERE user_id IN (SELECT user_id FROM orders WHERE user_id = {k})", Key, K::Read),
    ("SELECT * FROM users WHERE user_id = {k} AND name IN (SELECT name FROM orders WHERE user_id = {k})", Key, K::Read),
    ("SELECT *, (SELECT max(total) FROM orders o WHERE o.user_id = u.user_id) FROM users u WHERE u.user_id = {k}", Key, K::Read),
    ("SELECT * FROM (SELECT * FROM users WHERE user_id = {k}) s", Key, K::Read),
    ("SELECT * FROM (SELECT user_id AS id, name FROM users) s WHERE s.id = {k}", Key, K::Read),
    ("SELECT * FROM (SELECT user_id, count(*) FROM orders GROUP BY user_id) c WHERE c.user_id = {k}", Key, K::Read),
    ("SELECT * FROM (SELECT count(*) FROM orders WHERE user_id = {k}) c", Key, K::Read),
    ("WITH x AS (SELECT * FROM users WHERE user_id = {k}) SELECT * FROM x", Key, K::Read),
    ("WITH x AS (SELECT * FROM users) SELECT * FROM x WHERE x.user_id = {k}", Key, K::Read),
    ("WITH x AS MATERIALIZED (SELECT * FROM users) SELECT * FROM x WHERE user_id = {k}", Key, K::Read),
    ("WITH x AS (SELECT user_id FROM users WHERE user_id = {k}), y AS (SELECT * FROM orders WHERE user_id = {k}) SELECT * FROM x, y", Key, K::Read),
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT * FROM users, t WHERE user_id = {k}", Key, K::Read),
    ("SELECT * FROM users WHERE user_id = {k} UNION ALL SELECT * FROM users WHERE user_id = {k}", Key, K::Read),
    ("SELECT * FROM users u JOIN LATERAL (SELECT * FROM orders o WHERE o.user_id = u.user_id) l ON true WHERE u.user_id = {k}", Key, K::Read),
    ("SELECT * FROM users u CROSS JOIN generate_series(1, 3) g WHERE u.user_id = {k}", Key, K::Read),
    // Inserts.
    ("INSERT INTO users (user_id, name) VALUES ({k}, 'a')", Key, K::Write),
    ("insert into users (name, user_id) values ('a', {k})", Key, K::Write),
    ("INSERT INTO public.users AS u (user_id) VALUES ({k}) RETURNING u.*", Key, K::Write),
    ("INSERT INTO users (user_id, name) VALUES ({k}, 'a'), ({k}, 'b')", Key, K::Write),
    ("INSERT INTO users (user_id, name) VALUES ('{k}', $$x;y$$)", Key, K::Write),
    ("INSERT INTO users (user_id, n) VALUES ({k}::bigint, 1::int)", Key, K::Write),
    ("INSERT INTO users (user_id, n) VALUES ({k}, 1) ON CONFLICT (user_id) DO NOTHING", Key, K::Write),
    ("INSERT INTO users (user_id, n) VALUES ({k}, 1) ON CONFLICT (user_id) DO UPDATE SET n = users.n + excluded.n RETURNING n", Key, K::Write),
    ("INSERT INTO users (user_id, n) VALUES ({k}, 1) ON CONFLICT ON CONSTRAINT users_pkey DO UPDATE SET n = 2 WHERE users.n < 5", Key, K::Write),
    ("INSERT INTO users (user_id, created) VALUES ({k}, now())", Key, K::Write),
    ("INSERT INTO users (user_id, tags) VALUES ({k}, ARRAY['a','b'])", Key, K::Write),
    ("INSERT INTO users (user_id, doc) VALUES ({k}, '{{\"a\": 1}}'::jsonb)", Key, K::Write),
    ("INSERT INTO users (user_id) SELECT {k}", Key, K::Write),
    ("INSERT INTO users (user_id, name) SELECT user_id, name FROM staging WHERE user_id = {k}", Key, K::Write),
    ("INSERT INTO orders (user_id, total) SELECT u.user_id, 1 FROM users u WHERE u.user_id = {k}", Key, K::Write),
    ("WITH v AS (SELECT 1 AS x) INSERT INTO users (user_id, x) SELECT {k}, x FROM v", Key, K::Write),
    ("INSERT INTO scores (player_id, score) VALUES ({k}, 100)", Key, K::Write),
    ("INSERT INTO users (user_id, name) VALUES ({k}, 'a'), (2, 'b')", Err("0A000", "CrossShardInsert"), K::Write),
    ("INSERT INTO users (name) VALUES ('{k}')", Err("0A000", "UnkeyedWrite"), K::Write),
    ("INSERT INTO users VALUES ({k}, 'a')", Err("0A000", "UnkeyedWrite"), K::Write),
    ("INSERT INTO users (user_id) VALUES ({k} + 1)", Err("0A000", "UnkeyedWrite"), K::Write),
    ("INSERT INTO users (user_id) VALUES ((SELECT {k}))", Err("0A000", "UnkeyedWrite"), K::Write),
    ("INSERT INTO users (user_id) SELECT user_id FROM staging", Err("0A000", "UnkeyedWrite"), K::Write),
    ("INSERT INTO users (user_id, total) SELECT {k}, count(*) FROM orders", Err("0A000", "Unsupported"), K::Write),
    ("INSERT INTO users (user_id) VALUES ({k}) ON CONFLICT (user_id) DO UPDATE SET user_id = excluded.user_id", Err("0A000", "KeyChange"), K::Write),
    ("INSERT INTO scores (score) VALUES ({k})", Err("0A000", "UnkeyedWrite"), K::Write),
    ("INSERT INTO countries (id, name) VALUES ({k}, 'x')", All, K::Write),
    ("INSERT INTO countries (id) SELECT user_id FROM users WHERE user_id = {k}", Err("0A000", "Unsupported"), K::Write),
    // Updates and deletes.
    ("UPDATE users SET name = 'x' WHERE user_id = {k}", Key, K::Write),
    ("update users set name = 'x' where user_id = {k} returning *", Key, K::Write),
    ("UPDATE users u SET n = u.n + 1 WHERE u.user_id = {k} AND u.n < 10", Key, K::Write),
    ("UPDATE public.users SET n = n + 1 WHERE user_id IN ({k})", Key, K::Write),
    ("UPDATE users SET n = o.total FROM orders o WHERE o.user_id = users.user_id AND users.user_id = {k}", Key, K::Write),
    ("UPDATE users SET n = (SELECT count(*) FROM orders o WHERE o.user_id = users.user_id) WHERE user_id = {k}", Key, K::Write),
    ("UPDATE users SET (a, b) = (1, 2) WHERE user_id = {k}", Key, K::Write),
    ("UPDATE users SET name = 'x' WHERE user_id = {k} OR user_id = 1", Two(1), K::Write),
    ("UPDATE scores SET score = 1 WHERE player_id = {k}", Key, K::Write),
    ("UPDATE users SET user_id = {k} WHERE user_id = {k}", Err("0A000", "KeyChange"), K::Write),
    ("UPDATE users SET name = 'x' WHERE name = '{k}'", Err("0A000", "UnkeyedWrite"), K::Write),
    ("UPDATE users SET name = 'x' WHERE user_id > {k}", Err("0A000", "UnkeyedWrite"), K::Write),
    ("UPDATE users SET name = 'x' WHERE user_id = {k} OR name = 'y'", Err("0A000", "UnkeyedWrite"), K::Write),
    ("UPDATE users SET n = 1 FROM orders o WHERE users.user_id = {k} AND o.flag", Err("0A000", "Unsupported"), K::Write),
    ("UPDATE countries SET name = 'x' WHERE id = {k}", All, K::Write),
    ("DELETE FROM users WHERE user_id = {k}", Key, K::Write),
    ("delete from users where user_id = {k} returning user_id", Key, K::Write),
    ("DELETE FROM users u USING orders o WHERE o.user_id = u.user_id AND u.user_id = {k}", Key, K::Write),
    ("DELETE FROM users WHERE user_id = {k} AND name IN (SELECT name FROM countries)", Key, K::Write),
    ("DELETE FROM users WHERE user_id = ANY('{{{k},1}}')", Two(1), K::Write),
    ("DELETE FROM users WHERE created < now() - interval '{k} days'", Err("0A000", "UnkeyedWrite"), K::Write),
    ("DELETE FROM countries WHERE id = {k}", All, K::Write),
    ("WITH d AS (DELETE FROM users WHERE user_id = {k} RETURNING *) SELECT * FROM d", Key, K::Write),
    ("WITH d AS (DELETE FROM users WHERE user_id = {k} RETURNING *) INSERT INTO archive (user_id, name) SELECT user_id, name FROM d", Key, K::Write),
    ("WITH u AS (UPDATE users SET n = 1 WHERE user_id = {k} RETURNING user_id) SELECT count(*) FROM u", Key, K::Write),
    // Scatter reads.
    ("SELECT * FROM users WHERE name = 'x{k}'", All, K::Read),
    ("SELECT user_id, name FROM users WHERE n <> {k} ORDER BY name LIMIT 10", All, K::Read),
    ("SELECT count(*) FROM users WHERE n > {k}", All, K::Read),
    ("SELECT country_id, count(*), sum(n), avg(n) FROM users WHERE n > {k} GROUP BY country_id", All, K::Read),
    ("SELECT * FROM users u JOIN orders o ON o.user_id = u.user_id WHERE o.total > {k}", All, K::Read),
    ("SELECT * FROM users u JOIN countries c ON c.id = u.country_id WHERE c.id = {k}", All, K::Read),
    ("SELECT max(n) FROM scores WHERE score > {k}", All, K::Read),
    ("SELECT DISTINCT name FROM users WHERE n = {k}", Err("0A000", "Unsupported"), K::Read),
    ("SELECT name FROM users WHERE n <> {k} ORDER BY lower(name) LIMIT 5", Err("0A000", "Unsupported"), K::Read),
    ("SELECT * FROM users u JOIN orders o ON o.id = u.order_id WHERE u.n = {k}", Err("0A000", "Unsupported"), K::Read),
    ("SELECT * FROM users u, orders o WHERE u.user_id = {k} AND o.user_id = {k} + 1", Err("0A000", "Unsupported"), K::Read),
    // Global tables and no tables.
    ("SELECT * FROM countries WHERE id = {k}", Any, K::Read),
    ("SELECT * FROM games g JOIN countries c ON c.id = g.country_id WHERE g.id = {k}", Any, K::Read),
    ("SELECT {k}", Any, K::Read),
    ("SELECT {k} AS user_id", Any, K::Read),
    ("SELECT now() - interval '{k} seconds'", Any, K::Read),
    ("SELECT * FROM pg_class WHERE oid = {k}", Any, K::Read),
    ("SELECT * FROM pg_catalog.pg_namespace WHERE oid = {k}", Any, K::Read),
    ("SELECT * FROM information_schema.columns WHERE ordinal_position = {k}", Any, K::Read),
    ("SELECT * FROM generate_series(1, {k}) g", Any, K::Read),
    ("VALUES ({k}), ({k})", Any, K::Read),
    ("SELECT pg_sleep(0.{k})", Any, K::Read),
    ("SHOW statement_timeout", Any, K::Session),
    ("SET statement_timeout = {k}", Any, K::Session),
    ("SET LOCAL lock_timeout = '{k}ms'", Any, K::Session),
    ("SET shardwire.user_id = {k}", Any, K::Session),
    ("RESET statement_timeout", Any, K::Session),
    ("BEGIN ISOLATION LEVEL REPEATABLE READ", Any, K::Begin),
    ("SAVEPOINT sp1", Any, K::TransactionOther),
    ("COMMIT", Any, K::Commit),
    ("ROLLBACK", Any, K::Rollback),
    // Hints.
    ("/* shardwire: user_id={k} */ SELECT * FROM users", Key, K::Read),
    ("SELECT count(*) FROM users /* shardwire: user_id={k} */", Key, K::Read),
    ("/* shardwire: user_id={k} */ UPDATE users SET n = 0", Key, K::Write),
    ("-- shardwire: user_id={k}\nDELETE FROM users WHERE name = 'x'", Key, K::Write),
    ("/* shardwire: user_id={k} */ SELECT do_something()", Key, K::Read),
    ("/* shardwire: user_id={k} */ CALL maintain()", Key, K::Write),
    // DDL and utility.
    ("CREATE TABLE t1 (user_id bigint PRIMARY KEY)", All, K::Ddl),
    ("ALTER TABLE users ADD COLUMN c1 int DEFAULT {k}", All, K::Ddl),
    ("CREATE INDEX CONCURRENTLY i1 ON users (name)", All, K::Ddl),
    ("DROP TABLE IF EXISTS t1", All, K::Ddl),
    ("TRUNCATE users, orders", All, K::Ddl),
    ("COMMENT ON COLUMN users.name IS 'x{k}'", All, K::Ddl),
    ("GRANT SELECT ON users TO role1", All, K::Ddl),
    ("CREATE FUNCTION f1() RETURNS int LANGUAGE sql AS $$ SELECT {k} $$", All, K::Ddl),
    ("CREATE VIEW v1 AS SELECT * FROM users WHERE user_id = {k}", All, K::Ddl),
    ("VACUUM ANALYZE users", All, K::Utility),
    ("EXPLAIN SELECT * FROM users WHERE user_id = {k}", Key, K::Utility),
    ("EXPLAIN (ANALYZE, BUFFERS) DELETE FROM users WHERE user_id = {k}", Key, K::Utility),
    ("EXPLAIN ANALYZE DELETE FROM users WHERE n = {k}", Err("0A000", "UnkeyedWrite"), K::Utility),
    ("EXPLAIN SELECT count(*) FROM users WHERE n = {k}", Any, K::Utility),
    ("COPY (SELECT * FROM users WHERE user_id = {k}) TO STDOUT", Key, K::Read),
    ("COPY users (user_id, name) FROM STDIN /* shardwire: user_id={k} */", Key, K::Write),
    ("DECLARE c1 CURSOR FOR SELECT * FROM users WHERE user_id = {k}", Key, K::Read),
    // Multi-statement strings.
    ("BEGIN; UPDATE users SET n = 1 WHERE user_id = {k}; COMMIT", Key, K::Write),
    ("SELECT * FROM users WHERE user_id = {k}; SELECT 1", Key, K::Read),
    ("SELECT * FROM users WHERE user_id = {k}; SELECT * FROM users WHERE user_id = {k} + 1", Err("0A000", "Unsupported"), K::Read),
    // Syntax errors go to any shard for the server to report.
    ("SELEC * FROM users WHERE user_id = {k}", Any, K::Read),
    ("SELECT * FROM users WHERE user_id = {k} AND", Any, K::Read),
    ("UPDATE users SET WHERE user_id = {k}", Any, K::Write),
];

/// Spellings of a template that must not change its route.
fn spellings(sql: &str) -> Vec<String> {
    vec![
        sql.to_string(),
        format!("/* app: web, request: {} */ {sql}", sql.len()),
        format!("  \n{sql}\n  -- trailing comment"),
    ]
}

#[test]
fn fidelity() {
    let r = router();
    let mut checked = 0;
    for &(template, want, kind) in TEMPLATES {
        for k in [7i64, -3, 4_000_000_003] {
            for sql in spellings(
                &template
                    .replace("{k}", &k.to_string())
                    .replace("{{", "{")
                    .replace("}}", "}"),
            ) {
                let got = route(&r, &sql);
                match want {
                    Err(state, variant) => {
                        let e = got
                            .err()
                            .unwrap_or_else(|| panic!("{sql}: expected {variant}"));
                        assert_eq!(e.sqlstate(), state, "{sql}");
                        assert!(format!("{e:?}").starts_with(variant), "{sql}: {e:?}");
                    }
                    _ => {
                        let d = got.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
                        let expected = match want {
                            Key => Target::Shard(s(k)),
                            Two(d) => shards(&[k, d]),
                            All => Target::AllShards,
                            Any => Target::AnyShard,
                            Err(..) => unreachable!(),
                        };
                        assert_eq!((d.target, d.kind), (expected, kind), "{sql}");
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(TEMPLATES.len() >= 100 && checked >= 900, "{checked}");
    let stats = r.cache_stats();
    assert!(stats.hits > stats.misses, "{stats:?}");
}

#[test]
fn key_change_hint_and_message() {
    let r = router();
    let e = error(&r, "UPDATE users SET user_id = 1 WHERE user_id = 2");
    assert!(matches!(e, RouteError::KeyChange { .. }));
    assert!(e.message().contains("user_id"));
}
