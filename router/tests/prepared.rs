//! Prepared statements: planned once at Parse, routed per Bind from text
//! or binary parameters.

mod common;

use common::*;
use shardwire_router::{BindParam, RouteError, SessionHints, StatementKind, Target};

fn text(v: &str) -> BindParam<'_> {
    BindParam {
        value: Some(v.as_bytes()),
        binary: false,
        type_oid: 0,
    }
}

fn int8(v: &[u8; 8]) -> BindParam<'_> {
    BindParam {
        value: Some(v),
        binary: true,
        type_oid: 20,
    }
}

#[test]
fn binds_route_by_parameter() {
    let r = router();
    let h = SessionHints::default();
    let p = r.prepare("SELECT * FROM users WHERE user_id = $1").unwrap();
    assert_eq!(p.kind(), StatementKind::Read);
    for k in [0i64, 1, 5, 7, -3, 1 << 40] {
        let b = k.to_be_bytes();
        assert_eq!(
            r.route_bind(&p, &[int8(&b)], &h).map(|d| d.target),
            Ok(Target::Shard(s(k)))
        );
        let t = k.to_string();
        assert_eq!(
            r.route_bind(&p, &[text(&t)], &h).map(|d| d.target),
            Ok(Target::Shard(s(k)))
        );
    }
    let four = 9i32.to_be_bytes();
    let p4 = BindParam {
        value: Some(&four),
        binary: true,
        type_oid: 23,
    };
    assert_eq!(
        r.route_bind(&p, &[p4], &h).map(|d| d.target),
        Ok(Target::Shard(3))
    );
    let two = 8i16.to_be_bytes();
    let p2 = BindParam {
        value: Some(&two),
        binary: true,
        type_oid: 0,
    };
    assert_eq!(
        r.route_bind(&p, &[p2], &h).map(|d| d.target),
        Ok(Target::Shard(2))
    );
    // Bad keys.
    let e = r.route_bind(&p, &[text("x1")], &h).unwrap_err();
    assert_eq!(e.sqlstate(), "22P02");
    let odd = [1u8, 2, 3];
    let e = r
        .route_bind(
            &p,
            &[BindParam {
                value: Some(&odd),
                binary: true,
                type_oid: 0,
            }],
            &h,
        )
        .unwrap_err();
    assert!(matches!(e, RouteError::BadKey { .. }));
    // NULL key matches no row.
    let null = BindParam {
        value: None,
        binary: false,
        type_oid: 0,
    };
    assert_eq!(
        r.route_bind(&p, &[null], &h).map(|d| d.target),
        Ok(Target::AnyShard)
    );
    // Missing parameter: unconstrained.
    assert_eq!(
        r.route_bind(&p, &[], &h).map(|d| d.target),
        Ok(Target::AllShards)
    );
}

#[test]
fn inserts_updates_and_arrays() {
    let r = router();
    let h = SessionHints::default();
    let ins = r
        .prepare("INSERT INTO users (name, user_id) VALUES ($1, $2), ($3, $4::bigint)")
        .unwrap();
    let d = r
        .route_bind(&ins, &[text("a"), text("7"), text("b"), text("13")], &h)
        .unwrap();
    assert_eq!((d.target, d.kind), (Target::Shard(1), StatementKind::Write));
    let e = r
        .route_bind(&ins, &[text("a"), text("7"), text("b"), text("8")], &h)
        .unwrap_err();
    assert_eq!(e, RouteError::CrossShardInsert { shards: vec![1, 2] });
    let upd = r
        .prepare("UPDATE users SET n = n + $2 WHERE user_id = $1")
        .unwrap();
    assert_eq!(
        r.route_bind(&upd, &[text("4"), text("1")], &h)
            .map(|d| d.target),
        Ok(Target::Shard(4))
    );
    let any = r
        .prepare("SELECT * FROM users WHERE user_id = ANY($1)")
        .unwrap();
    assert_eq!(
        r.route_bind(&any, &[text("{1,7}")], &h).map(|d| d.target),
        Ok(Target::Shard(1))
    );
    assert_eq!(
        r.route_bind(&any, &[text("{1,2}")], &h).map(|d| d.target),
        Ok(Target::Shards(vec![1, 2]))
    );
    let mut arr = Vec::new();
    for v in [1i32, 0, 20, 2, 1] {
        arr.extend_from_slice(&v.to_be_bytes());
    }
    for k in [3i64, 9] {
        arr.extend_from_slice(&8i32.to_be_bytes());
        arr.extend_from_slice(&k.to_be_bytes());
    }
    let bin = BindParam {
        value: Some(&arr),
        binary: true,
        type_oid: 1016,
    };
    assert_eq!(
        r.route_bind(&any, &[bin], &h).map(|d| d.target),
        Ok(Target::Shard(3))
    );
}

#[test]
fn prepared_scatter_with_parameter_limits() {
    let r = router();
    let h = SessionHints::default();
    let p = r
        .prepare("SELECT user_id, score FROM users ORDER BY score DESC LIMIT $1 OFFSET $2")
        .unwrap();
    let d = r.route_bind(&p, &[text("10"), text("5")], &h).unwrap();
    let m = d.merge.clone().unwrap();
    assert_eq!((m.limit, m.offset), (Some(10), Some(5)));
    let sql = d.rewritten_sql.unwrap_or_default();
    assert!(
        sql.contains("LIMIT ($1::bigint + $2::bigint)") && !sql.contains("OFFSET"),
        "{sql}"
    );
}

#[test]
fn comment_hints_in_prepared_statements() {
    let r = router();
    let p = r
        .prepare("/* shardwire: user_id=5 */ SELECT * FROM users")
        .unwrap();
    let d = r.route_bind(&p, &[], &SessionHints::default()).unwrap();
    assert_eq!(d.target, Target::Shard(5));
    assert!(r.prepare("/* shardwire: user_id=x */ SELECT 1").is_err());
}
