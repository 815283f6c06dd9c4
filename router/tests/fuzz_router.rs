//! Deterministic, bounded fuzz harness for the router, run by `cargo test`
//! on `fuzz-corpus/router_sql/` plus seeded mutants of it (see
//! `fuzz-corpus/harness.rs` for the driver and the `SHARDWIRE_FUZZ_*`
//! knobs).
//!
//! Each input (bytes, read as UTF-8 with replacement, as the proxy reads a
//! query) goes through the lexer-based entry points, `statements`,
//! `session_effects` and `hint_setting`, and through planning and plan
//! application: `Router::route` (with no, key and shard session hints),
//! `Router::describe`, `Router::prepare` and `Router::route_bind` with
//! generated Bind parameters (text and binary integers, text and binary
//! arrays, NULLs, garbage, various type oids). The lexer itself
//! (`lexer::Lexer`) is private and is reached only through these.
//!
//! Properties checked besides "never panics": `statements` returns
//! non-empty, trimmed pieces of the input; decisions name existing shards
//! (`Shards` sorted, deduplicated, more than one) and merge only scatter
//! reads; errors carry the documented SQLSTATEs; `prepare` fails only for
//! bad hints, with the error `route` gives; and the plan cache never
//! changes a decision: a router that has seen other statements (a small
//! cache, so shapes are shared and evicted) decides like a fresh one.
//!
//! A failure that needs an earlier query (one that put a plan in the cache)
//! is traced to that query, shrunk, and saved as a sequence: queries
//! separated by the line `-- 8< next query, same router >8 --`, which
//! replays on a fresh router. NUL bytes never reach the router from the
//! wire (queries are C strings there), so texts holding them are only
//! checked for panics and plain properties; the cache checks see them with
//! the NULs removed.

mod common;
#[path = "../../fuzz-corpus/harness.rs"]
mod harness;

use std::collections::{HashSet, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use harness::{
    assert_clean, fuzz, is_within, on_worker_stack, set_repro, take_last_panic, tally, Mutations,
    Rng,
};
use shardwire_router::{
    hint_setting, session_effects, statements, BindParam, Decision, RouteError, Router,
    SessionHints, StatementKind, Target,
};

const SHARDS: u32 = 6;

const SQL_DICTIONARY: &[&[u8]] = &[
    b"'",
    b"''",
    b"\"",
    b"$$",
    b"$q$",
    b"$1",
    b"$2",
    b"$0",
    b"E'\\'",
    b"U&'\\",
    b"/*",
    b"*/",
    b"--",
    b"\n",
    b";",
    b"(",
    b")",
    b",",
    b"::bigint",
    b"::int8[]",
    b" user_id = ",
    b" player_id = ",
    b" = ANY(",
    b" IN (",
    b"'{1,2}'",
    b" SELECT ",
    b" FROM users ",
    b" FROM scores ",
    b" FROM countries ",
    b" WHERE ",
    b" AND ",
    b" OR ",
    b" NOT ",
    b" JOIN orders USING (user_id) ",
    b" ORDER BY 1 ",
    b" GROUP BY 1 ",
    b" LIMIT 1 ",
    b" OFFSET 2 ",
    b" avg(x) ",
    b" count(*) ",
    b" FOR UPDATE ",
    b" RETURNING * ",
    b"INSERT INTO users (user_id) VALUES (",
    b"UPDATE users SET ",
    b"DELETE FROM users ",
    b"WITH x AS (",
    b"BEGIN;",
    b"COMMIT;",
    b"SET shardwire.user_id = ",
    b"SET LOCAL shardwire.shard = ",
    b"RESET shardwire.user_id",
    b"/* shardwire: user_id=",
    b"/* shardwire: shard=",
    b"/* shardwire: route=",
    b"shardwire:",
    b"-9223372036854775808",
    b"9223372036854775808",
    b"\0",
    b"\xc3\xbc",
    b"\xf0\x9f\x90\x98",
    b"\xff",
];

/// A Bind parameter value worth trying as a key.
fn param_value(rng: &mut Rng, out: &mut Vec<u8>) -> Option<(bool, u32)> {
    const TEXT: [&[u8]; 16] = [
        b"42",
        b"-1",
        b" 7 ",
        b"0",
        b"9223372036854775807",
        b"-9223372036854775808",
        b"9223372036854775808",
        b"",
        b"abc",
        b"1e3",
        b"{1,2,3}",
        b"{{1,2},{3,4}}",
        b"{NULL,5}",
        b"{",
        b"{\"1\",  2 }",
        b"\xff\xfe",
    ];
    const OIDS: [u32; 12] = [0, 20, 21, 23, 25, 705, 1043, 1700, 1005, 1007, 1016, 16];
    let oid = if rng.one_in(8) {
        rng.next_u64() as u32
    } else {
        *rng.pick(&OIDS)
    };
    match rng.below(7) {
        0 => None,
        1 | 2 => {
            let text = *rng.pick(&TEXT);
            out.extend_from_slice(text);
            Some((false, oid))
        }
        3 => {
            let k = rng.next_u64() as i64 % 1000;
            match rng.below(3) {
                0 => out.extend_from_slice(&(k as i16).to_be_bytes()),
                1 => out.extend_from_slice(&(k as i32).to_be_bytes()),
                _ => out.extend_from_slice(&k.to_be_bytes()),
            }
            Some((true, oid))
        }
        4 => {
            // A binary array: ndim, flags, element type, dimensions, elements.
            let ndim = *rng.pick(&[0i32, 1, 1, 2, 6, 7, -1]);
            let elem = *rng.pick(&[20u32, 21, 23, 25, 0, 1700]);
            out.extend_from_slice(&ndim.to_be_bytes());
            out.extend_from_slice(&0i32.to_be_bytes());
            out.extend_from_slice(&elem.to_be_bytes());
            let mut count = 1usize;
            for _ in 0..ndim.clamp(0, 7) {
                let size = *rng.pick(&[0i32, 1, 2, 3, -1, i32::MAX]);
                out.extend_from_slice(&size.to_be_bytes());
                out.extend_from_slice(&1i32.to_be_bytes());
                count = count.saturating_mul(usize::try_from(size).unwrap_or(0));
            }
            for _ in 0..count.min(8) {
                match rng.below(4) {
                    0 => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    1 => {
                        out.extend_from_slice(&8i32.to_be_bytes());
                        out.extend_from_slice(&(rng.next_u64() as i64).to_be_bytes());
                    }
                    2 => {
                        out.extend_from_slice(&2i32.to_be_bytes());
                        out.extend_from_slice(b"17");
                    }
                    _ => out.extend_from_slice(&i32::MAX.to_be_bytes()),
                }
            }
            if rng.one_in(3) {
                out.truncate(rng.below(out.len() + 1));
            }
            Some((true, *rng.pick(&[1016u32, 1005, 1007, 1009, 0, 20])))
        }
        _ => {
            let n = rng.below(12);
            out.extend((0..n).map(|_| rng.next_u64() as u8));
            Some((rng.one_in(2), oid))
        }
    }
}

/// Up to five generated parameters (owned values, then borrowed).
/// A generated parameter: its bytes, and (binary, type oid) unless NULL.
type OwnedParam = (Vec<u8>, Option<(bool, u32)>);

fn param_sets(rng: &mut Rng) -> Vec<OwnedParam> {
    let n = rng.below(6);
    (0..n)
        .map(|_| {
            let mut v = Vec::new();
            let kind = param_value(rng, &mut v);
            (v, kind)
        })
        .collect()
}

fn bind_params(owned: &[OwnedParam]) -> Vec<BindParam<'_>> {
    owned
        .iter()
        .map(|(v, kind)| match kind {
            None => BindParam {
                value: None,
                binary: false,
                type_oid: 20,
            },
            Some((binary, oid)) => BindParam {
                value: Some(v),
                binary: *binary,
                type_oid: *oid,
            },
        })
        .collect()
}

fn check_decision(d: &Decision) {
    match &d.target {
        Target::Shard(s) => assert!(*s < SHARDS, "shard {s} of {SHARDS}"),
        Target::Shards(v) => {
            assert!(v.len() > 1, "Shards with {} entries", v.len());
            assert!(
                v.windows(2).all(|w| w[0] < w[1]),
                "shards not sorted: {v:?}"
            );
            assert!(v.iter().all(|s| *s < SHARDS), "shards {v:?} of {SHARDS}");
        }
        Target::AllShards | Target::AnyShard => {}
    }
    let scatter_read =
        matches!(d.target, Target::AllShards | Target::Shards(_)) && d.kind == StatementKind::Read;
    if d.merge.is_some() {
        assert!(scatter_read, "merge spec on a non-scatter decision {d:?}");
    }
    if d.rewritten_sql.is_some() {
        assert!(
            scatter_read,
            "rewritten SQL for a non-scatter decision {d:?}"
        );
    }
}

fn check_error(e: &RouteError) {
    let state = e.sqlstate();
    match e {
        RouteError::BadKey { .. } => assert_eq!(state, "22P02"),
        _ => assert_eq!(state, "0A000"),
    }
    let _ = (e.message(), e.hint(), e.to_string());
}

fn check_result(r: &Result<Decision, RouteError>) {
    match r {
        Ok(d) => check_decision(d),
        Err(e) => check_error(e),
    }
}

fn check_statements(sql: &str) -> SessionHints {
    let mut hints = SessionHints::default();
    for piece in statements(sql) {
        assert!(
            is_within(sql.as_bytes(), piece.as_bytes()),
            "statement {piece:?} is not a piece of the input"
        );
        assert!(!piece.is_empty(), "empty statement");
        assert_eq!(piece, piece.trim(), "statement not trimmed");
        match hint_setting(piece) {
            Some(Ok(setting)) => hints.apply(&setting),
            Some(Err(e)) => check_error(&e),
            None => {}
        }
    }
    let _ = session_effects(sql);
    hints
}

/// Separates queries sent one after the other through the same router in
/// one input (a regression that needs an earlier query in the plan cache).
const NEXT: &[u8] = b"\n-- 8< next query, same router >8 --\n";

/// Earlier queries kept to find the one a history-dependent failure needs.
const HISTORY: usize = 256;
/// Router checks at most spent shrinking one failure.
const SHRINK_BUDGET: usize = 3000;
/// Wall time at most spent shrinking one failure.
const SHRINK_TIME: Duration = Duration::from_secs(2);

fn split_queries(input: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = input;
    while let Some(at) = rest.windows(NEXT.len()).position(|w| w == NEXT) {
        out.push(&rest[..at]);
        rest = &rest[at + NEXT.len()..];
    }
    out.push(rest);
    out
}

fn new_router() -> Router {
    // Small: shapes are shared and evicted.
    Router::with_cache_capacity(common::rules(), 64)
}

/// The session hints an input runs with: chosen by its bytes, so a saved
/// input replays with the same ones.
fn hints_for(from_set: SessionHints, rng: &mut Rng) -> SessionHints {
    match rng.below(4) {
        0 => SessionHints::default(),
        1 => from_set,
        2 => SessionHints {
            user_id: Some(rng.next_u64() as i64 % 100),
            shard: None,
        },
        _ => SessionHints {
            user_id: None,
            shard: Some(rng.below(SHARDS as usize + 2) as u32),
        },
    }
}

/// Every check of one query, on `warm` (which may have planned other
/// queries before) against a fresh router.
fn check_query(warm: &Router, input: &[u8]) {
    let sql = String::from_utf8_lossy(input);
    let sql: &str = &sql;
    let from_set = check_statements(sql);
    let mut rng = Rng::from_bytes(input);
    let hints = hints_for(from_set, &mut rng);

    let routed = warm.route(sql, &hints);
    tally(match &routed {
        Ok(d) => match d.target {
            Target::Shard(_) => "route: one shard",
            Target::Shards(_) => "route: several shards",
            Target::AllShards => "route: all shards",
            Target::AnyShard => "route: any shard",
        },
        Err(RouteError::BadKey { .. }) => "route: bad key",
        Err(RouteError::Unsupported { .. }) => "route: unsupported",
        Err(_) => "route: other refusal",
    });
    check_result(&routed);
    let again = warm.route(sql, &hints);
    assert_eq!(routed, again, "routing the same text twice differs");
    // Text PostgreSQL cannot parse fails on whichever server it reaches;
    // its plan is never cached (so it cannot poison a valid shape), but it
    // may itself reuse the cached plan of a valid text of the same shape.
    // Only parseable text must decide the same warm and cold.
    let parses = pg_query::parse(sql).is_ok();
    let cold = Router::with_cache_capacity(common::rules(), 1);
    let fresh = cold.route(sql, &hints);
    if parses {
        assert_eq!(routed, fresh, "a cached plan changed the decision");
    }

    let described = warm.describe(sql);
    if parses {
        assert_eq!(
            described,
            cold.describe(sql),
            "a cached plan changed describe"
        );
    }

    let params = param_sets(&mut rng);
    let params = bind_params(&params);
    match (warm.prepare(sql), cold.prepare(sql)) {
        (Ok(plan), Ok(cold_plan)) => {
            assert_eq!(plan.sql(), sql);
            assert_eq!(plan.describe(), described, "prepare and describe disagree");
            let _ = plan.kind();
            for n in 0..=params.len() {
                let bound = warm.route_bind(&plan, &params[..n], &hints);
                tally(if bound.is_ok() {
                    "route_bind: decision"
                } else {
                    "route_bind: error"
                });
                check_result(&bound);
                let fresh = cold.route_bind(&cold_plan, &params[..n], &hints);
                if parses {
                    assert_eq!(bound, fresh, "a cached plan changed a Bind's decision");
                }
            }
        }
        (Err(e), Err(cold_e)) => {
            assert_eq!(e, cold_e);
            assert!(
                matches!(e, RouteError::BadKey { .. }),
                "prepare failed with {e:?}; it only fails for bad hints"
            );
            assert_eq!(routed, Err(e), "prepare and route disagree on a bad hint");
        }
        (a, b) => panic!("prepare differs with a cached plan: {a:?} vs {b:?}"),
    }
}

fn fails(f: impl FnOnce()) -> bool {
    panic::catch_unwind(AssertUnwindSafe(f)).is_err()
}

/// Whether `query` fails on a fresh router.
fn fails_alone(query: &[u8]) -> bool {
    fails(|| check_query(&new_router(), query))
}

/// The first line of a panic message: what kind of failure it is.
fn kind_of(message: &str) -> String {
    message.lines().next().unwrap_or("").to_string()
}

/// Whether `query` fails on a fresh router right after `earlier` with a
/// failure of `kind` (and passes alone).
fn fails_after(earlier: &[u8], query: &[u8], kind: &str) -> bool {
    let router = new_router();
    let _ = fails(|| check_query(&router, earlier));
    fails(|| check_query(&router, query))
        && take_last_panic().is_some_and(|m| kind_of(&m) == kind)
        && !fails_alone(query)
}

/// Removes chunks of `pair` while it still fails with `kind`.
fn shrink(mut pair: [Vec<u8>; 2], kind: &str) -> [Vec<u8>; 2] {
    let started = Instant::now();
    let mut budget = SHRINK_BUDGET;
    for side in 0..2 {
        let mut chunk = pair[side].len().div_ceil(2).max(1);
        loop {
            let mut at = 0;
            while at < pair[side].len() && budget > 0 && started.elapsed() < SHRINK_TIME {
                let mut candidate = pair.clone();
                let end = (at + chunk).min(candidate[side].len());
                candidate[side].drain(at..end);
                budget -= 1;
                if fails_after(&candidate[0], &candidate[1], kind) {
                    pair = candidate;
                } else {
                    at += chunk;
                }
            }
            if chunk == 1 || budget == 0 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
    }
    pair
}

struct Fixture {
    /// Shared by every input: it has planned many other queries.
    warm: Router,
    /// The latest queries, newest first.
    history: VecDeque<Vec<u8>>,
    /// Kinds of history-dependent failure already traced to a query.
    explained: HashSet<String>,
}

/// Text with NUL bytes never reaches the router from the wire (queries are
/// C strings there): it must not panic, but plan-cache consistency is only
/// checked on what the proxy can pass.
fn check_nul_query(input: &[u8]) {
    let sql = String::from_utf8_lossy(input);
    let router = Router::with_cache_capacity(common::rules(), 1);
    let hints = check_statements(&sql);
    check_result(&router.route(&sql, &hints));
    let _ = router.describe(&sql);
    if let Ok(plan) = router.prepare(&sql) {
        let params = param_sets(&mut Rng::from_bytes(input));
        check_result(&router.route_bind(&plan, &bind_params(&params), &hints));
    }
}

/// Checks an input: one query on the shared router, or a sequence of
/// queries (separated by [`NEXT`], as saved regressions are) on a fresh
/// router, so a sequence replays the same whatever ran before it.
fn check_input(fx: &mut Fixture, input: &[u8]) {
    let queries: Vec<Vec<u8>> = split_queries(input)
        .into_iter()
        .map(|query| {
            if query.contains(&0) {
                check_nul_query(query);
            }
            query.iter().copied().filter(|&b| b != 0).collect()
        })
        .collect();
    if queries.len() > 1 {
        let mut own = Fixture {
            warm: new_router(),
            history: VecDeque::new(),
            explained: HashSet::new(),
        };
        check_queries(&mut own, &queries, false);
    } else {
        check_queries(fx, &queries, true);
    }
}

/// Checks queries in turn on `fx.warm`. A failure that needs an earlier
/// query is reported with that query; with `minimize`, the pair is shrunk
/// and saved as the regression.
fn check_queries(fx: &mut Fixture, queries: &[Vec<u8>], minimize: bool) {
    for query in queries {
        let query = &query[..];
        if fails(|| check_query(&fx.warm, query)) {
            let message = take_last_panic().unwrap_or_else(|| "panic".to_string());
            if fails_alone(query) {
                let message = take_last_panic().unwrap_or(message);
                panic!("{message}");
            }
            let (message, explanation) = explain(fx, query, message, minimize);
            panic!("{message}\n{explanation}");
        }
        fx.history.push_front(query.to_vec());
        fx.history.truncate(HISTORY);
    }
}

/// For a failure of `query` that depends on what the router planned
/// before: the earlier query it needs (shrunk with the query and saved as
/// the regression when `minimize`). Tracing and shrinking are slow, so they
/// are done once per kind of failure (the driver keeps one example of each
/// kind anyway).
fn explain(fx: &mut Fixture, query: &[u8], message: String, minimize: bool) -> (String, String) {
    let kind = kind_of(&message);
    if !fx.explained.insert(kind.clone()) {
        return (message, "(depends on the router's history)".to_string());
    }
    let culprit = fx
        .history
        .iter()
        .find(|e| fails_after(e, query, &kind))
        .cloned();
    let Some(earlier) = culprit else {
        return (
            message,
            "(depends on the router's history; no single earlier query reproduces it)".to_string(),
        );
    };
    let [earlier, query] = if minimize {
        let [earlier, query] = shrink([earlier, query.to_vec()], &kind);
        set_repro([&earlier[..], NEXT, &query[..]].concat());
        [earlier, query]
    } else {
        [earlier, query.to_vec()]
    };
    let router = new_router();
    let _ = fails(|| check_query(&router, &earlier));
    let _ = fails(|| check_query(&router, &query));
    let message = take_last_panic().unwrap_or(message);
    let explanation = format!(
        "after the router planned {:?}\nthe query {:?} is decided differently from a fresh router",
        String::from_utf8_lossy(&earlier),
        String::from_utf8_lossy(&query)
    );
    (message, explanation)
}

#[test]
fn fuzz_router() {
    let report = on_worker_stack(|| {
        let mut fx = Fixture {
            warm: new_router(),
            history: VecDeque::new(),
            explained: HashSet::new(),
        };
        fuzz(
            "router_sql",
            Mutations {
                dictionary: SQL_DICTIONARY,
                length_offsets: &[],
                max_len: 8 * 1024,
            },
            |input| check_input(&mut fx, input),
        )
    });
    assert_clean(&report);
}
