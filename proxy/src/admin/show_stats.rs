//! `SHOW STATS`, `SHOW STATS_TOTALS`, `SHOW STATS_AVERAGES`: traffic per
//! shard from the same counters `/metrics` exports. Averages are per second
//! over the proxy's uptime (times in microseconds, per transaction or
//! query), not over PgBouncer's 60 s window. PgBouncer 1.25's columns in
//! its order, then `shard`. Not measured yet, reported as 0: server
//! closes, server lifetimes and the prepared-statement counts; a server
//! assignment is counted per transaction (transaction pooling).

use super::result::{text, Kind, ResultSet};
use crate::context::Context;

struct Totals {
    xacts: u64,
    queries: u64,
    received: u64,
    sent: u64,
    xact_time: u64,
    wait_time: u64,
}

fn totals_of(ctx: &Context, shard: usize) -> Totals {
    let mut t = Totals {
        xacts: 0,
        queries: 0,
        received: 0,
        sent: 0,
        xact_time: 0,
        wait_time: 0,
    };
    for user in ctx.users.values() {
        if let Some(p) = user.shard_traffic.get(shard) {
            t.xacts += p.xacts.get();
            t.queries += p.queries.get();
            t.received += p.bytes_received.get();
            t.sent += p.bytes_sent.get();
            t.xact_time += p.xact_time_us.get();
            t.wait_time += p.wait_time_us.get();
        }
    }
    t
}

const TOTAL_COLUMNS: [(&str, Kind); 13] = [
    ("total_xact_count", Kind::Int),
    ("total_query_count", Kind::Int),
    ("total_server_assignment_count", Kind::Int),
    ("total_server_closed_count", Kind::Int),
    ("total_received", Kind::Int),
    ("total_sent", Kind::Int),
    ("total_xact_time", Kind::Int),
    ("total_query_time", Kind::Int),
    ("total_wait_time", Kind::Int),
    ("total_server_lifetime", Kind::Int),
    ("total_client_parse_count", Kind::Int),
    ("total_server_parse_count", Kind::Int),
    ("total_bind_count", Kind::Int),
];

const AVERAGE_COLUMNS: [(&str, Kind); 12] = [
    ("avg_xact_count", Kind::Int),
    ("avg_query_count", Kind::Int),
    ("avg_server_assignment_count", Kind::Int),
    ("avg_recv", Kind::Int),
    ("avg_sent", Kind::Int),
    ("avg_xact_time", Kind::Int),
    ("avg_query_time", Kind::Int),
    ("avg_wait_time", Kind::Int),
    ("avg_server_lifetime", Kind::Int),
    ("avg_client_parse_count", Kind::Int),
    ("avg_server_parse_count", Kind::Int),
    ("avg_bind_count", Kind::Int),
];

fn total_values(t: &Totals) -> Vec<Option<String>> {
    // Query time is not measured separately yet: report transaction time.
    [
        t.xacts,
        t.queries,
        t.xacts,
        0,
        t.received,
        t.sent,
        t.xact_time,
        t.xact_time,
        t.wait_time,
        0,
        0,
        0,
        0,
    ]
    .iter()
    .map(text)
    .collect()
}

fn average_values(t: &Totals, uptime_secs: u64) -> Vec<Option<String>> {
    let per_sec = |v: u64| v / uptime_secs.max(1);
    let per = |v: u64, n: u64| v.checked_div(n).unwrap_or(0);
    [
        per_sec(t.xacts),
        per_sec(t.queries),
        per_sec(t.xacts),
        per_sec(t.received),
        per_sec(t.sent),
        per(t.xact_time, t.xacts),
        per(t.xact_time, t.queries),
        per(t.wait_time, t.xacts),
        0,
        0,
        0,
        0,
    ]
    .iter()
    .map(text)
    .collect()
}

fn table(
    ctx: &Context,
    columns: &[(&'static str, Kind)],
    values: impl Fn(&Totals) -> Vec<Option<String>>,
) -> ResultSet {
    let mut all = vec![("database", Kind::Text)];
    all.extend_from_slice(columns);
    all.push(("shard", Kind::Int));
    let mut r = ResultSet::new(&all);
    for shard in 0..ctx.config.shards.len() {
        let t = totals_of(ctx, shard);
        let mut row = vec![text(&ctx.config.proxy.database)];
        row.extend(values(&t));
        row.push(text(shard));
        r.row(row);
    }
    r
}

/// `SHOW STATS`.
pub fn stats(ctx: &Context) -> ResultSet {
    let uptime = ctx.started.elapsed().as_secs();
    let mut columns = TOTAL_COLUMNS.to_vec();
    columns.extend_from_slice(&AVERAGE_COLUMNS);
    table(ctx, &columns, |t| {
        let mut v = total_values(t);
        v.extend(average_values(t, uptime));
        v
    })
}

/// `SHOW STATS_TOTALS`.
pub fn totals(ctx: &Context) -> ResultSet {
    table(ctx, &TOTAL_COLUMNS, total_values)
}

/// `SHOW TOTALS`: SHOW STATS over all databases (shards), one row per
/// statistic as PgBouncer prints it (`name`, `value`).
pub fn all_totals(ctx: &Context) -> ResultSet {
    let uptime = ctx.started.elapsed().as_secs();
    let mut sum = totals_of(ctx, 0);
    for shard in 1..ctx.config.shards.len() {
        let t = totals_of(ctx, shard);
        sum.xacts += t.xacts;
        sum.queries += t.queries;
        sum.received += t.received;
        sum.sent += t.sent;
        sum.xact_time += t.xact_time;
        sum.wait_time += t.wait_time;
    }
    let mut r = ResultSet::new(&[("name", Kind::Text), ("value", Kind::Int)]);
    let names = TOTAL_COLUMNS.iter().chain(AVERAGE_COLUMNS.iter());
    let values = total_values(&sum)
        .into_iter()
        .chain(average_values(&sum, uptime));
    for ((name, _), value) in names.zip(values) {
        r.row(vec![text(name), value]);
    }
    r
}

/// `SHOW STATS_AVERAGES`.
pub fn averages(ctx: &Context) -> ResultSet {
    let uptime = ctx.started.elapsed().as_secs();
    table(ctx, &AVERAGE_COLUMNS, |t| average_values(t, uptime))
}
