//! What routing costs per keyed transaction, measured in this process with
//! shardwire's router (the same plan cache the proxy uses): the five
//! statements of the keyed transaction as simple-protocol text, and as
//! Binds of prepared statements.

use std::hint::black_box;
use std::time::Instant;

use shardwire_router::{BindParam, Router, SessionHints, ShardingRules};

use crate::workload::KEYED_STATEMENTS;

const ROUNDS: u32 = 50_000;

/// Nanoseconds of routing per keyed transaction: (simple, prepared).
pub fn per_transaction_ns() -> anyhow::Result<(f64, f64)> {
    let router = Router::new(ShardingRules::default());
    let hints = SessionHints::default();
    let texts: Vec<Vec<String>> = (0..256u32)
        .map(|k| {
            KEYED_STATEMENTS
                .iter()
                .map(|s| s.replace("4242", &(k * 7 + 1).to_string()))
                .collect()
        })
        .collect();
    let simple = time(|i| {
        for sql in &texts[(i % 256) as usize] {
            let _ = black_box(router.route(black_box(sql), &hints));
        }
    });
    let prepared_texts: Vec<String> = KEYED_STATEMENTS
        .iter()
        .map(|s| {
            s.replace("4242", "$1")
                .replace("'player $1'", "'player ' || $1::text")
        })
        .collect();
    // (plan, whether its Bind carries the key): BEGIN and END take none.
    let mut plans = Vec::new();
    for sql in &prepared_texts {
        let plan = router
            .prepare(sql)
            .map_err(|e| anyhow::anyhow!("preparing {sql:?}: {e}"))?;
        plans.push((plan, sql.contains("$1")));
    }
    let keys: Vec<[u8; 8]> = (0..256i64).map(|k| (k * 7 + 1).to_be_bytes()).collect();
    let prepared = time(|i| {
        let key = &keys[(i % 256) as usize];
        for (plan, keyed) in &plans {
            let params = [BindParam {
                value: Some(key),
                binary: true,
                type_oid: 20,
            }];
            let params: &[BindParam] = if *keyed { &params } else { &[] };
            let _ = black_box(router.route_bind(plan, params, &hints));
        }
    });
    Ok((simple, prepared))
}

fn time(mut round: impl FnMut(u32)) -> f64 {
    for i in 0..1_000 {
        round(i);
    }
    let start = Instant::now();
    for i in 0..ROUNDS {
        round(i);
    }
    start.elapsed().as_nanos() as f64 / f64::from(ROUNDS)
}
