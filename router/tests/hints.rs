//! Routing hints: comment hints win over everything, session hints route
//! what carries no key of its own.

mod common;

use common::*;
use shardwire_router::{RouteError, SessionHints, StatementKind, Target};

#[test]
fn comment_hints_win() {
    let r = router();
    assert_eq!(
        target(&r, "/* shardwire: user_id=8 */ UPDATE users SET x = 1"),
        Target::Shard(2)
    );
    assert_eq!(
        target(&r, "SELECT count(*) FROM users /* shardwire: shard=4 */"),
        Target::Shard(4)
    );
    assert_eq!(
        target(
            &r,
            "-- shardwire: user_id=8\nSELECT * FROM users WHERE user_id = 1"
        ),
        Target::Shard(2)
    );
    assert_eq!(
        target(&r, "/* shardwire: shard=1 user_id=2 */ SELECT 1"),
        Target::Shard(1)
    );
    let d = route(&r, "/* shardwire: shard=1 */ CREATE INDEX ON users (x)").unwrap();
    assert_eq!((d.target, d.kind), (Target::Shard(1), StatementKind::Ddl));
    // Hints do not change the shape: the cached plan is reused.
    let before = r.cache_stats();
    assert_eq!(
        target(&r, "/* shardwire: user_id=9 */ UPDATE users SET x = 1"),
        Target::Shard(3)
    );
    assert_eq!(r.cache_stats().hits, before.hits + 1);
}

#[test]
fn session_hints_route_unkeyed_statements() {
    let r = router();
    let h = SessionHints {
        user_id: Some(10),
        shard: None,
    };
    let go = |sql: &str| r.route(sql, &h);
    assert_eq!(
        go("UPDATE users SET x = 1").map(|d| d.target),
        Ok(Target::Shard(4))
    );
    assert_eq!(
        go("SELECT count(*) FROM users").map(|d| (d.target, d.merge)),
        Ok((Target::Shard(4), None))
    );
    assert_eq!(
        go("SELECT DISTINCT x FROM users").map(|d| d.target),
        Ok(Target::Shard(4))
    );
    assert_eq!(
        go("SELECT my_function()").map(|d| d.target),
        Ok(Target::Shard(4))
    );
    assert_eq!(go("CALL p()").map(|d| d.target), Ok(Target::Shard(4)));
    // The statement's own key wins; DDL and session statements are unaffected.
    assert_eq!(
        go("SELECT * FROM users WHERE user_id = 1").map(|d| d.target),
        Ok(Target::Shard(1))
    );
    assert_eq!(
        go("CREATE TABLE t (a int)").map(|d| d.target),
        Ok(Target::AllShards)
    );
    assert_eq!(go("SET x = 1").map(|d| d.target), Ok(Target::AnyShard));
    // Changing the key is refused all the same.
    assert!(matches!(
        go("UPDATE users SET user_id = 1"),
        Err(RouteError::KeyChange { .. })
    ));
    let h = SessionHints {
        user_id: Some(10),
        shard: Some(0),
    };
    assert_eq!(
        r.route("DELETE FROM users", &h).map(|d| d.target),
        Ok(Target::Shard(0))
    );
    let h = SessionHints {
        user_id: None,
        shard: Some(6),
    };
    assert!(matches!(
        r.route("DELETE FROM users", &h),
        Err(RouteError::BadKey { .. })
    ));
}
