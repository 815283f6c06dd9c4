//! Scatter reads: merge specs and the SQL the shards run.

mod common;

use common::*;
use shardwire_router::{
    Aggregate, AggregateKind::*, Decision, MergeSpec, SortKey, StatementKind, Target,
};

fn scatter(sql: &str) -> Decision {
    let d = route(&router(), sql).unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    assert_eq!(d.kind, StatementKind::Read);
    assert!(
        matches!(d.target, Target::AllShards | Target::Shards(_)),
        "{d:?}"
    );
    d
}

fn spec(d: &Decision) -> MergeSpec {
    d.merge
        .clone()
        .unwrap_or_else(|| panic!("no merge spec: {d:?}"))
}

/// The rewritten SQL with runs of whitespace collapsed.
fn sql(d: &Decision) -> Option<String> {
    d.rewritten_sql
        .as_ref()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn key(column: usize, descending: bool) -> SortKey {
    SortKey {
        column,
        descending,
        nulls_first: descending,
    }
}

#[test]
fn concatenation() {
    let d = scatter("SELECT user_id, name FROM users WHERE name LIKE 'a%'");
    let m = spec(&d);
    assert!(m.is_plain_concat());
    assert_eq!(m.output_columns, 2);
    assert_eq!(d.rewritten_sql, None);
    assert_eq!(
        spec(&scatter("SELECT * FROM users")).output_columns,
        usize::MAX
    );
    let d = scatter("SELECT * FROM users WHERE user_id IN (1, 2)");
    assert_eq!(d.target, Target::Shards(vec![1, 2]));
    assert!(spec(&d).is_plain_concat());
}

#[test]
fn order_by_limit_offset() {
    let d = scatter("SELECT user_id, score AS s FROM users ORDER BY s DESC, 1 LIMIT 10");
    let m = spec(&d);
    assert_eq!(m.order_by, vec![key(1, true), key(0, false)]);
    assert_eq!((m.limit, m.offset), (Some(10), None));
    assert_eq!(d.rewritten_sql, None);

    let d =
        scatter("SELECT user_id, score FROM users ORDER BY score NULLS FIRST LIMIT 10 OFFSET 20");
    let m = spec(&d);
    assert_eq!(
        m.order_by,
        vec![SortKey {
            column: 1,
            descending: false,
            nulls_first: true
        }]
    );
    assert_eq!((m.limit, m.offset), (Some(10), Some(20)));
    assert_eq!(
        sql(&d).as_deref(),
        Some("SELECT user_id, score FROM users ORDER BY score NULLS FIRST LIMIT 30")
    );

    let d = scatter("select name from users order by users.name offset 5");
    assert_eq!((spec(&d).limit, spec(&d).offset), (None, Some(5)));
    assert_eq!(
        sql(&d).as_deref(),
        Some("select name from users order by users.name")
    );

    let d = scatter("SELECT name FROM users ORDER BY name OFFSET 2 ROWS FETCH FIRST 3 ROWS ONLY");
    assert_eq!((spec(&d).limit, spec(&d).offset), (Some(3), Some(2)));
    assert_eq!(
        sql(&d).as_deref(),
        Some("SELECT name FROM users ORDER BY name LIMIT 5")
    );

    // Positions after `*` are known by number.
    let d = scatter("SELECT * FROM users ORDER BY 2 DESC LIMIT 3");
    assert_eq!(spec(&d).order_by, vec![key(1, true)]);
}

#[test]
fn aggregates() {
    let d = scatter("SELECT count(*), sum(x), min(x), max(x) FROM users");
    let m = spec(&d);
    assert_eq!(
        m.aggregates,
        vec![
            Aggregate {
                column: 0,
                kind: Count
            },
            Aggregate {
                column: 1,
                kind: Sum
            },
            Aggregate {
                column: 2,
                kind: Min
            },
            Aggregate {
                column: 3,
                kind: Max
            },
        ]
    );
    assert!(m.group_by.is_empty());
    assert_eq!(d.rewritten_sql, None);

    let d = scatter("SELECT avg(score) AS a, count(*) FROM users");
    let m = spec(&d);
    assert_eq!(m.output_columns, 2);
    assert_eq!(
        m.aggregates,
        vec![
            Aggregate {
                column: 0,
                kind: Avg { count_column: 2 }
            },
            Aggregate {
                column: 1,
                kind: Count
            }
        ]
    );
    assert_eq!(
        sql(&d).as_deref(),
        Some("SELECT sum(score) AS a, count(*), count(score) FROM users")
    );
}

#[test]
fn group_by() {
    let d = scatter("SELECT country, count(*) AS n, avg(score) FROM users GROUP BY country ORDER BY n DESC LIMIT 5 OFFSET 1");
    let m = spec(&d);
    assert_eq!(m.group_by, vec![0]);
    assert_eq!(m.order_by, vec![key(1, true)]);
    assert_eq!((m.limit, m.offset), (Some(5), Some(1)));
    assert_eq!(
        m.aggregates[1],
        Aggregate {
            column: 2,
            kind: Avg { count_column: 3 }
        }
    );
    assert_eq!(
        sql(&d).as_deref(),
        Some("SELECT country, count(*) AS n, sum(score), count(score) FROM users GROUP BY country ORDER BY n DESC")
    );
    let m = spec(&scatter(
        "SELECT date_trunc('day', ts) AS d, max(x) FROM users GROUP BY 1 ORDER BY 1",
    ));
    assert_eq!((m.group_by, m.order_by), (vec![0], vec![key(0, false)]));
    let m = spec(&scatter(
        "SELECT u.country, count(*) FROM users u GROUP BY country ORDER BY count(*)",
    ));
    assert_eq!((m.group_by, m.order_by), (vec![0], vec![key(1, false)]));
}

#[test]
fn co_located_joins_and_subqueries_scatter() {
    let d = scatter("SELECT a.user_id, b.total FROM users a JOIN orders b ON a.user_id = b.user_id ORDER BY 2 LIMIT 3");
    assert_eq!(spec(&d).limit, Some(3));
    let d = scatter("SELECT count(*) FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.user_id)");
    assert_eq!(spec(&d).aggregates.len(), 1);
    scatter("SELECT * FROM (SELECT user_id, name FROM users WHERE x > 1) s");
    scatter("SELECT * FROM users u JOIN countries c ON c.id = u.country");
}

#[test]
fn keyed_reads_need_no_merge() {
    let r = router();
    let d = route(
        &r,
        "SELECT count(DISTINCT x) FROM users WHERE user_id = 3 ORDER BY 1 LIMIT 1 OFFSET 2",
    )
    .unwrap();
    assert_eq!(d.target, Target::Shard(3));
    assert_eq!((d.merge, d.rewritten_sql), (None, None));
}
