//! The plan cache: one plan per shape, reused across literal values.

mod common;

use common::*;
use shardwire_router::{Router, Target};

#[test]
fn same_shape_different_literals_routes_each_correctly() {
    let r = router();
    for k in 0..60i64 {
        let sql = format!("SELECT * FROM users WHERE user_id = {k} AND name = 'n{k}'");
        assert_eq!(target(&r, &sql), Target::Shard(s(k)), "{sql}");
    }
    let st = r.cache_stats();
    assert_eq!((st.misses, st.hits, st.entries), (1, 59, 1));
    // Case, spacing and comments do not change the shape.
    assert_eq!(
        target(
            &r,
            "select *  from USERS where user_id=61 /* c */ and name='x'"
        ),
        Target::Shard(1)
    );
    assert_eq!(r.cache_stats().misses, 1);
}

#[test]
fn pinned_positions_replan() {
    let r = router();
    let a = route(&r, "SELECT user_id, name FROM users ORDER BY 1 LIMIT 5").unwrap();
    let b = route(&r, "SELECT user_id, name FROM users ORDER BY 2 LIMIT 7").unwrap();
    assert_eq!(
        a.merge.as_ref().map(|m| (m.order_by[0].column, m.limit)),
        Some((0, Some(5)))
    );
    assert_eq!(
        b.merge.as_ref().map(|m| (m.order_by[0].column, m.limit)),
        Some((1, Some(7)))
    );
    let c = route(&r, "SELECT user_id, name FROM users ORDER BY 2 LIMIT 9").unwrap();
    assert_eq!(
        c.merge.as_ref().map(|m| (m.order_by[0].column, m.limit)),
        Some((1, Some(9)))
    );
    assert_eq!(r.cache_stats().hits, 1);
}

#[test]
fn bounded() {
    let r = Router::with_cache_capacity(rules(), 8);
    for i in 0..100 {
        let sql = format!(
            "SELECT * FROM users WHERE user_id = 1{}",
            " AND x = 1".repeat(i % 20)
        );
        assert_eq!(target(&r, &sql), Target::Shard(s(1)));
    }
    assert!(r.cache_stats().entries <= 8);
}

#[test]
fn router_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Router>();
    check::<shardwire_router::PreparedPlan>();
}

#[test]
fn text_the_parser_rejects_does_not_poison_its_shape() {
    // An unterminated literal lexes like a terminated one: same shape.
    let r = router();
    let bad = r.route(
        "UPDATE users SET name = 'x' WHERE user_id = '5",
        &shardwire_router::SessionHints::default(),
    );
    assert!(bad.is_ok(), "{bad:?}");
    let good = r
        .route(
            "UPDATE users SET name = 'x' WHERE user_id = '7'",
            &shardwire_router::SessionHints::default(),
        )
        .expect("routes");
    assert_eq!(good.target, shardwire_router::Target::Shard(s(7)));
}
