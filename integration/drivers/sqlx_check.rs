//! sqlx (its own protocol implementation) through shardwire: keyed writes
//! checked on their shard, the statement cache of a pool of clients sharing
//! few server connections, binary results (also through scatter-gather),
//! transactions, a refused unkeyed write, the replica read and COPY. sqlx
//! has no query cancel; a dropped query future closes the connection.
//!
//! Environment: SHARDWIRE_URL, SHARD_URLS (space-separated, shard order),
//! SHARDS, REPLICA_PORT. Exits non-zero with a message on the first failed
//! check.

use sqlx::postgres::{PgConnection, PgPoolOptions};
use sqlx::types::chrono::{DateTime, TimeZone, Utc};
use sqlx::types::BigDecimal;
use sqlx::{Connection, Row};
use std::str::FromStr;

const DRIVER: &str = "sqlx";
const COLS: &str = "n, amount, name, at, flag, blob, tags, note";

type Values = (
    i32,
    BigDecimal,
    String,
    DateTime<Utc>,
    bool,
    Vec<u8>,
    Vec<i32>,
    Option<String>,
);

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5)
        .single()
        .unwrap_or_default()
}

fn expected(u: i64, offset: i32) -> Values {
    let amount = BigDecimal::from_str(&format!("{u}.25")).unwrap_or_default();
    (
        u as i32 + offset,
        amount,
        format!("user {u}"),
        Utc.timestamp_opt(t0().timestamp() + u, 0)
            .single()
            .unwrap_or_default(),
        u % 2 == 0,
        vec![0, 255, u as u8],
        vec![u as i32, -(u as i32)],
        (u % 2 == 1).then(|| format!("note {u}")),
    )
}

fn check(cond: bool, what: impl std::fmt::Display) {
    if !cond {
        println!("FAILED [{DRIVER}]: {what}");
        std::process::exit(1);
    }
    println!("ok: {what}");
}

fn must<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => {
            println!("FAILED [{DRIVER}]: {what}: {e}");
            std::process::exit(1);
        }
    }
}

fn sqlstate<T>(r: Result<T, sqlx::Error>) -> String {
    match r {
        Ok(_) => "no error".into(),
        Err(e) => e
            .as_database_error()
            .and_then(|d| d.code().map(|c| c.into_owned()))
            .unwrap_or_else(|| format!("no SQLSTATE ({e})")),
    }
}

fn values(r: &sqlx::postgres::PgRow, first: usize) -> Result<Values, sqlx::Error> {
    Ok((
        r.try_get(first)?,
        r.try_get(first + 1)?,
        r.try_get(first + 2)?,
        r.try_get(first + 3)?,
        r.try_get(first + 4)?,
        r.try_get(first + 5)?,
        r.try_get(first + 6)?,
        r.try_get(first + 7)?,
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let url = env("SHARDWIRE_URL");
    let shard_urls: Vec<String> = env("SHARD_URLS")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let shards: i64 = env("SHARDS").parse().unwrap_or(6);
    let replica_port: i32 = env("REPLICA_PORT").parse().unwrap_or(0);
    let ids: Vec<i64> = (0..2 * shards).collect();
    println!("driver: sqlx 0.8 (crates.io, runtime-tokio + postgres)");
    let mut conn = must(PgConnection::connect(&url).await, "connect");
    let insert = format!(
        "INSERT INTO driver_rows (driver, user_id, {COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    );
    let select = format!("SELECT {COLS} FROM driver_rows WHERE driver = $1 AND user_id = $2");
    for &u in &ids {
        must(
            sqlx::query("DELETE FROM driver_rows WHERE driver = $1 AND user_id = $2")
                .bind(DRIVER)
                .bind(u)
                .execute(&mut conn)
                .await,
            "delete",
        );
        let e = expected(u, 0);
        must(
            sqlx::query(&insert)
                .bind(DRIVER)
                .bind(u)
                .bind(e.0)
                .bind(e.1)
                .bind(e.2)
                .bind(e.3)
                .bind(e.4)
                .bind(e.5)
                .bind(e.6)
                .bind(e.7)
                .execute(&mut conn)
                .await,
            "keyed insert",
        );
        must(
            sqlx::query("UPDATE driver_rows SET n = n + 100 WHERE driver = $1 AND user_id = $2")
                .bind(DRIVER)
                .bind(u)
                .execute(&mut conn)
                .await,
            "keyed update",
        );
    }
    for &u in &ids {
        let row = must(
            sqlx::query(&select)
                .bind(DRIVER)
                .bind(u)
                .fetch_one(&mut conn)
                .await,
            "keyed select",
        );
        let got = must(values(&row, 0), "decode");
        check(
            got == expected(u, 100),
            format!("keyed read-back of user {u} (binary): {got:?}"),
        );
    }
    for (k, su) in shard_urls.iter().enumerate() {
        let mut d = must(PgConnection::connect(su).await, "connect to shard");
        let got: Vec<i64> = must(
            sqlx::query_scalar(
                "SELECT user_id FROM driver_rows WHERE driver = $1 ORDER BY user_id",
            )
            .bind(DRIVER)
            .fetch_all(&mut d)
            .await,
            "direct read",
        );
        let want: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|u| u % shards == k as i64)
            .collect();
        check(
            got == want,
            format!("shard {k} holds exactly its users: {got:?}"),
        );
    }

    let pool = must(
        PgPoolOptions::new().max_connections(8).connect(&url).await,
        "pool",
    );
    let mut tasks = Vec::new();
    for c in 0..8usize {
        let pool = pool.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let u = ids[(c + i) % ids.len()];
                let n: Result<i32, _> = sqlx::query_scalar(
                    "SELECT n FROM driver_rows WHERE driver = $1 AND user_id = $2",
                )
                .bind(DRIVER)
                .bind(u)
                .fetch_one(&pool)
                .await;
                match n {
                    Ok(n) if i64::from(n) == u + 100 => {}
                    other => return Err(format!("client {c} user {u}: {other:?}")),
                }
            }
            Ok(())
        }));
    }
    let mut failures = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(e.to_string()),
        }
    }
    check(
        failures.is_empty(),
        format!(
            "8 pooled clients x 20 cached statements over shared server connections {failures:?}"
        ),
    );

    let rows = must(
        sqlx::query(&format!(
            "SELECT user_id, {COLS} FROM driver_rows WHERE driver = $1 ORDER BY user_id DESC LIMIT 5"
        ))
        .bind(DRIVER)
        .fetch_all(&mut conn)
        .await,
        "scatter read",
    );
    let mut order = Vec::new();
    for r in &rows {
        let u: i64 = must(r.try_get(0), "user_id");
        order.push(u);
        let got = must(values(r, 1), "decode scatter row");
        check(got == expected(u, 100), format!("scatter row {u} (binary)"));
    }
    check(
        order == vec![11, 10, 9, 8, 7],
        format!("scatter ORDER BY/LIMIT ids {order:?}"),
    );
    let agg = must(
        sqlx::query(
            "SELECT count(*), sum(n), max(amount), min(at) FROM driver_rows WHERE driver = $1",
        )
        .bind(DRIVER)
        .fetch_one(&mut conn)
        .await,
        "scatter aggregate",
    );
    let (count, sum, max, min): (i64, i64, BigDecimal, DateTime<Utc>) = must(
        (|| {
            Ok::<_, sqlx::Error>((
                agg.try_get(0)?,
                agg.try_get(1)?,
                agg.try_get(2)?,
                agg.try_get(3)?,
            ))
        })(),
        "decode aggregate",
    );
    check(
        count == 12 && sum == 1266 && max == expected(11, 0).1 && min == t0(),
        format!("scatter aggregate {count} {sum} {max} {min}"),
    );

    let u = 5i64;
    let rename = "UPDATE driver_rows SET name = $1 WHERE driver = $2 AND user_id = $3";
    let mut tx = must(conn.begin().await, "begin");
    must(
        sqlx::query(rename)
            .bind("committed")
            .bind(DRIVER)
            .bind(u)
            .execute(&mut *tx)
            .await,
        "update in transaction",
    );
    must(tx.commit().await, "commit");
    let mut tx = must(conn.begin().await, "begin");
    must(
        sqlx::query(rename)
            .bind("rolled back")
            .bind(DRIVER)
            .bind(u)
            .execute(&mut *tx)
            .await,
        "update in transaction",
    );
    must(tx.rollback().await, "rollback");
    let name: String = must(
        sqlx::query_scalar("SELECT name FROM driver_rows WHERE driver = $1 AND user_id = $2")
            .bind(DRIVER)
            .bind(u)
            .fetch_one(&mut conn)
            .await,
        "read",
    );
    check(
        name == "committed",
        format!("committed transaction kept, rolled-back one undone: {name}"),
    );

    let state = sqlstate(
        sqlx::query("UPDATE driver_rows SET n = 0 WHERE driver = $1")
            .bind(DRIVER)
            .execute(&mut conn)
            .await,
    );
    check(state == "0A000", format!("unkeyed UPDATE refused: {state}"));

    let (port, count): (i32, i64) = must(
        sqlx::query_as("SELECT inet_server_port(), count(*) FROM leaderboard")
            .fetch_one(&mut conn)
            .await,
        "leaderboard",
    );
    check(
        port == replica_port && count == shards,
        format!("leaderboard read on replica port {port}, {count} rows"),
    );

    let mut out = must(
        conn.copy_out_raw(
            "COPY (SELECT user_id, name FROM driver_rows WHERE driver = 'sqlx' AND user_id = 4) TO STDOUT",
        )
        .await,
        "COPY out",
    );
    let mut data = Vec::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut out).await {
        data.extend_from_slice(&must(chunk, "COPY out chunk"));
    }
    drop(out);
    check(data == b"4\tuser 4\n", format!("COPY out: {data:?}"));
    must(
        sqlx::query("DELETE FROM driver_rows WHERE driver = 'sqlx-copy' AND user_id = 4")
            .execute(&mut conn)
            .await,
        "delete",
    );
    let mut copy = must(
        conn.copy_in_raw(
            "/* shardwire: user_id=4 */ COPY driver_rows (driver, user_id, n) FROM STDIN",
        )
        .await,
        "COPY in",
    );
    must(
        copy.send(b"sqlx-copy\t4\t7\n".as_slice()).await,
        "COPY data",
    );
    let copied = must(copy.finish().await, "COPY finish");
    check(copied == 1, "COPY in to the user's shard");
    conn.close().await.ok();
    println!("sqlx: all checks passed");
}
