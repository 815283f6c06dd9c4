//! `SHOW STATS`, `SHOW STATS_TOTALS`, `SHOW STATS_AVERAGES` and `SHOW
//! TOTALS`: traffic per shard from the same counters `/metrics` exports,
//! with the column names, order and types (numeric) PgBouncer 1.25 sends —
//! which differ from its documentation: `SHOW STATS` starts with the
//! server assignment count, and `STATS_TOTALS` / `STATS_AVERAGES` name
//! their columns without the `total_` / `avg_` prefix. Then `shard`.
//!
//! Averages are per second over the proxy's uptime (times in
//! microseconds, per transaction or query), not over PgBouncer's 60 s
//! window. A server assignment is counted per transaction (transaction
//! pooling); query time is not measured apart from transaction time; the
//! prepared-statement counts (parse, bind) are not counted: 0.

use super::result::{text, Kind, ResultSet};
use crate::context::Context;

/// The eleven statistics, in PgBouncer's order.
#[derive(Default)]
struct Totals {
    xacts: u64,
    queries: u64,
    received: u64,
    sent: u64,
    xact_time: u64,
    wait_time: u64,
}

impl Totals {
    fn add(&mut self, o: &Totals) {
        self.xacts += o.xacts;
        self.queries += o.queries;
        self.received += o.received;
        self.sent += o.sent;
        self.xact_time += o.xact_time;
        self.wait_time += o.wait_time;
    }

    /// The totals in PgBouncer's order.
    fn totals(&self) -> [u64; 11] {
        [
            self.xacts,
            self.xacts,
            self.queries,
            self.received,
            self.sent,
            self.xact_time,
            self.xact_time,
            self.wait_time,
            0,
            0,
            0,
        ]
    }

    /// The averages in PgBouncer's order.
    fn averages(&self, uptime_secs: u64) -> [u64; 11] {
        let per_sec = |v: u64| v / uptime_secs.max(1);
        let per = |v: u64, n: u64| v.checked_div(n).unwrap_or(0);
        [
            per_sec(self.xacts),
            per_sec(self.xacts),
            per_sec(self.queries),
            per_sec(self.received),
            per_sec(self.sent),
            per(self.xact_time, self.xacts),
            per(self.xact_time, self.queries),
            per(self.wait_time, self.xacts),
            0,
            0,
            0,
        ]
    }
}

fn totals_of(ctx: &Context, shard: usize) -> Totals {
    let mut t = Totals::default();
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

/// SHOW STATS's totals.
const STATS_TOTAL: [&str; 11] = [
    "total_server_assignment_count",
    "total_xact_count",
    "total_query_count",
    "total_received",
    "total_sent",
    "total_xact_time",
    "total_query_time",
    "total_wait_time",
    "total_client_parse_count",
    "total_server_parse_count",
    "total_bind_count",
];

/// SHOW STATS's averages.
const STATS_AVERAGE: [&str; 11] = [
    "avg_server_assignment_count",
    "avg_xact_count",
    "avg_query_count",
    "avg_recv",
    "avg_sent",
    "avg_xact_time",
    "avg_query_time",
    "avg_wait_time",
    "avg_client_parse_count",
    "avg_server_parse_count",
    "avg_bind_count",
];

/// SHOW STATS_TOTALS's columns.
const TOTALS_ONLY: [&str; 11] = [
    "server_assignment_count",
    "xact_count",
    "query_count",
    "bytes_received",
    "bytes_sent",
    "xact_time",
    "query_time",
    "wait_time",
    "client_parse_count",
    "server_parse_count",
    "bind_count",
];

/// SHOW STATS_AVERAGES's columns.
const AVERAGES_ONLY: [&str; 11] = [
    "server_assignment_count",
    "xact_count",
    "query_count",
    "bytes_received",
    "bytes_sent",
    "xact_time",
    "query_time",
    "wait_time",
    "avg_client_parse_count",
    "avg_server_parse_count",
    "avg_bind_count",
];

/// SHOW TOTALS's row names (the counters' own names in PgBouncer).
const TOTALS_ROWS: [&str; 11] = [
    "server_assignment_count",
    "xact_count",
    "query_count",
    "client_bytes",
    "server_bytes",
    "xact_time",
    "query_time",
    "wait_time",
    "ps_client_parse_count",
    "ps_server_parse_count",
    "ps_bind_count",
];

fn table<'a>(
    ctx: &Context,
    names: impl Iterator<Item = &'a &'static str>,
    values: impl Fn(&Totals) -> Vec<u64>,
) -> ResultSet {
    let mut all = vec![("database", Kind::Text)];
    all.extend(names.map(|n| (*n, Kind::Numeric)));
    all.push(("shard", Kind::Int4));
    let mut r = ResultSet::new(&all);
    for shard in 0..ctx.config.shards.len() {
        let t = totals_of(ctx, shard);
        let mut row = vec![text(&ctx.config.proxy.database)];
        row.extend(values(&t).iter().map(text));
        row.push(text(shard));
        r.row(row);
    }
    r
}

/// `SHOW STATS`.
pub fn stats(ctx: &Context) -> ResultSet {
    let uptime = ctx.started.elapsed().as_secs();
    table(ctx, STATS_TOTAL.iter().chain(&STATS_AVERAGE), |t| {
        let mut v = t.totals().to_vec();
        v.extend(t.averages(uptime));
        v
    })
}

/// `SHOW STATS_TOTALS`.
pub fn totals(ctx: &Context) -> ResultSet {
    table(ctx, TOTALS_ONLY.iter(), |t| t.totals().to_vec())
}

/// `SHOW STATS_AVERAGES`.
pub fn averages(ctx: &Context) -> ResultSet {
    let uptime = ctx.started.elapsed().as_secs();
    table(ctx, AVERAGES_ONLY.iter(), |t| t.averages(uptime).to_vec())
}

/// `SHOW TOTALS`: SHOW STATS over all databases (shards), one row per
/// statistic as PgBouncer prints it (`name`, `value`).
pub fn all_totals(ctx: &Context) -> ResultSet {
    let uptime = ctx.started.elapsed().as_secs();
    let mut sum = Totals::default();
    for shard in 0..ctx.config.shards.len() {
        sum.add(&totals_of(ctx, shard));
    }
    let mut r = ResultSet::new(&[("name", Kind::Text), ("value", Kind::Numeric)]);
    let totals = TOTALS_ROWS.iter().map(|n| format!("total_{n}"));
    let averages = TOTALS_ROWS.iter().map(|n| format!("avg_{n}"));
    let values = sum.totals().into_iter().chain(sum.averages(uptime));
    for (name, value) in totals.chain(averages).zip(values) {
        r.row(vec![text(name), text(value)]);
    }
    r
}
