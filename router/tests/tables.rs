//! `Router::describe`: whether a statement only reads, the tables it
//! names and its `route=` hint, which the proxy's route rules
//! (replica-cluster reads) match on before sharding.

mod common;

use common::*;

fn tables(sql: &str) -> Vec<String> {
    router().describe(sql).tables.to_vec()
}

#[test]
fn names_every_table_read_lowercased_without_ctes() {
    assert_eq!(
        tables("SELECT * FROM Leaderboard ORDER BY score DESC LIMIT 10"),
        vec!["leaderboard"]
    );
    assert_eq!(
        tables("SELECT l.* FROM leaderboard l JOIN public.leaderboard_weekly w ON w.user_id = l.user_id"),
        vec!["leaderboard", "leaderboard_weekly"]
    );
    assert_eq!(
        tables("WITH top AS (SELECT * FROM leaderboard) SELECT * FROM top WHERE score > (SELECT avg(points) FROM scores)"),
        vec!["leaderboard", "scores"]
    );
    assert!(tables("SELECT 1").is_empty());
}

#[test]
fn only_plain_reads_are_read_only() {
    let r = router();
    assert!(r.describe("SELECT * FROM leaderboard").read_only);
    assert!(r.describe("SELECT 1; SELECT * FROM leaderboard").read_only);
    assert!(!r.describe("SELECT * FROM leaderboard FOR UPDATE").read_only);
    assert!(
        !r.describe("UPDATE leaderboard SET score = 1 WHERE user_id = 3")
            .read_only
    );
    assert!(
        !r.describe("SELECT 1; DELETE FROM leaderboard WHERE user_id = 1")
            .read_only
    );
    assert!(
        !r.describe(
            "WITH d AS (DELETE FROM leaderboard WHERE user_id = 1 RETURNING *) SELECT * FROM d"
        )
        .read_only
    );
}

#[test]
fn the_cached_shape_keeps_its_tables() {
    let r = router();
    let a = r.describe("SELECT * FROM leaderboard WHERE score > 5");
    let b = r.describe("SELECT * FROM leaderboard WHERE score > 7");
    assert_eq!(a, b);
    assert_eq!(b.tables.to_vec(), vec!["leaderboard"]);
}

#[test]
fn route_hint_is_read_from_comments() {
    let r = router();
    let d = r.describe("/* shardwire: route=Replicas */ SELECT count(*) FROM users");
    assert_eq!(d.route_hint.as_deref(), Some("replicas"));
    assert_eq!(r.describe("SELECT count(*) FROM users").route_hint, None);
    let p = r
        .prepare("/* shardwire: route=replicas */ SELECT * FROM users WHERE name = $1")
        .expect("prepares");
    assert_eq!(p.describe().route_hint.as_deref(), Some("replicas"));
    assert!(p.describe().read_only);
}
