//! Router micro-bench: time per routing decision for cached statement
//! shapes (simple-protocol text with literals, and Bind parameters), and
//! for a shape seen for the first time (a full pg_query parse). Prints
//! nanoseconds per decision against the design's 1 µs budget for a cached
//! shape. `cargo bench -p shardwire-benches --bench router`

use shardwire_router::{BindParam, Router, SessionHints, ShardingRules};
use std::hint::black_box;
use std::time::Instant;

const ITERATIONS: u32 = 200_000;

/// A labelled generator of statement texts that share one shape.
type Case = (&'static str, fn(u32) -> String);

fn per_op(label: &str, iterations: u32, mut op: impl FnMut(u32)) -> f64 {
    // Warm up (fills the plan cache), then measure.
    for i in 0..1_000 {
        op(i);
    }
    let start = Instant::now();
    for i in 0..iterations {
        op(i);
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(iterations);
    println!("{label:<58} {ns:>9.0} ns");
    ns
}

fn main() {
    let router = Router::new(ShardingRules::default());
    let hints = SessionHints::default();
    println!(
        "router bench: {} shards, modulo on user_id; {ITERATIONS} decisions each",
        router.rules().shard_count
    );
    let mut worst_cached: f64 = 0.0;
    let cached: [Case; 4] = [
        ("SELECT by key (literal)", |i| {
            format!("SELECT name, score FROM users WHERE user_id = {i}")
        }),
        ("UPDATE by key (literal)", |i| {
            format!("UPDATE users SET score = score + 1 WHERE user_id = {i}")
        }),
        ("INSERT one row, five literals", |i| {
            format!("INSERT INTO events (user_id, kind, amount, note, at) VALUES ({i}, 'buy', 12.5, 'x', now())")
        }),
        ("join on the key", |i| {
            format!("SELECT u.name, s.points FROM users u JOIN scores s ON s.user_id = u.user_id WHERE u.user_id = {i}")
        }),
    ];
    for (label, make) in cached {
        let texts: Vec<String> = (0..1024).map(make).collect();
        let ns = per_op(&format!("cached shape: {label}"), ITERATIONS, |i| {
            let sql = &texts[(i % 1024) as usize];
            let _ = black_box(router.route(black_box(sql), &hints));
        });
        worst_cached = worst_cached.max(ns);
    }
    let plan = match router.prepare("SELECT name FROM users WHERE user_id = $1") {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("prepare failed: {e}");
            std::process::exit(1);
        }
    };
    let keys: Vec<[u8; 8]> = (0..1024i64).map(|k| k.to_be_bytes()).collect();
    per_op(
        "prepared statement: route a Bind (binary int8 key)",
        ITERATIONS,
        |i| {
            let params = [BindParam {
                value: Some(&keys[(i % 1024) as usize]),
                binary: true,
                type_oid: 20,
            }];
            let _ = black_box(router.route_bind(&plan, &params, &hints));
        },
    );
    per_op("new shape every time (pg_query parse + plan)", 2_000, |i| {
        let sql = format!("SELECT c{i} FROM users WHERE user_id = 1");
        let _ = black_box(router.route(&sql, &hints));
    });
    let stats = router.cache_stats();
    println!(
        "plan cache: {} entries, {} hits, {} misses",
        stats.entries, stats.hits, stats.misses
    );
    println!(
        "worst cached shape: {worst_cached:.0} ns (design budget 1000 ns): {}",
        if worst_cached <= 1000.0 {
            "within budget"
        } else {
            "OVER budget"
        }
    );
}
