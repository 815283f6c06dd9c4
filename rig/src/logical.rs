//! Replication between rig nodes beyond streaming standbys: logical
//! publications and subscriptions, and waiting until a subscriber or a
//! physical standby has caught up with its upstream.
//!
//! Everything runs as the superuser over TCP. A subscription's replication
//! slot on the publisher takes the subscription's name, so subscription
//! names must be unique per publisher and valid slot names (lowercase
//! letters, digits, `_`): name them like `<replica>_<shard>`.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};

use crate::admin::{quote_ident, quote_literal};
use crate::log_tail;
use crate::node::Node;
use crate::{SUPERUSER, SUPERUSER_PASSWORD};

/// How long a new subscription's initial table copy may take.
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a subscriber or standby may take to catch up.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Runs `CREATE PUBLICATION <publication> FOR TABLE <tables>` in database
/// `db` of `primary`. A table may be schema-qualified as `schema.table`.
pub async fn publish(
    primary: &Node,
    db: &str,
    publication: &str,
    tables: &[&str],
) -> anyhow::Result<()> {
    let context = || {
        format!(
            "creating publication {publication:?} of {tables:?} on node {} in database {db}",
            primary.name()
        )
    };
    ensure!(!tables.is_empty(), "{}: no tables given", context());
    let tables: Vec<String> = tables.iter().map(|t| quote_table(t)).collect();
    let sql = format!(
        "CREATE PUBLICATION {} FOR TABLE {}",
        quote_ident(publication),
        tables.join(", ")
    );
    let client = superuser(primary, db).await?;
    client.batch_execute(&sql).await.with_context(context)
}

/// Subscribes `subscriber` (database `db`) to `publication` of `publisher`
/// (same database name) as `subscription`, copying existing rows, and waits
/// until every table of the subscription is ready (`r` in
/// `pg_subscription_rel`), i.e. its initial copy is done.
///
/// The publication must exist and its tables must already exist on the
/// subscriber. On timeout the error carries both nodes' log tails.
pub async fn subscribe(
    subscriber: &Node,
    db: &str,
    subscription: &str,
    publisher: &Node,
    publication: &str,
) -> anyhow::Result<()> {
    let what = format!(
        "subscription {subscription:?} of node {} to publication {publication:?} of node {} \
         in database {db}",
        subscriber.name(),
        publisher.name()
    );
    // PostgreSQL only warns about a missing publication, then copies nothing.
    let published = superuser(publisher, db)
        .await?
        .query_opt(
            "SELECT 1 FROM pg_publication WHERE pubname::text = $1",
            &[&publication],
        )
        .await
        .with_context(|| format!("looking up the publication for {what}"))?;
    ensure!(
        published.is_some(),
        "{what}: node {} has no such publication",
        publisher.name()
    );
    let conninfo = publisher.conn_string(SUPERUSER, SUPERUSER_PASSWORD, db);
    let sql = format!(
        "CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {}",
        quote_ident(subscription),
        quote_literal(&conninfo),
        quote_ident(publication)
    );
    let client = superuser(subscriber, db).await?;
    // A statement of its own: CREATE SUBSCRIPTION refuses transaction blocks.
    client.batch_execute(&sql).await.with_context(|| {
        log_tail::with_tail(&format!("creating {what}"), &subscriber.log_file())
    })?;

    let (client, what) = (&client, &what);
    let not_ready = poll_until(SYNC_TIMEOUT, || async move {
        let row = client
            .query_one(
                "SELECT count(*) FILTER (WHERE sr.srsubstate <> 'r'), \
                        string_agg(sr.srrelid::regclass::text || '=' || sr.srsubstate::text, ', ') \
                 FROM pg_subscription s JOIN pg_subscription_rel sr ON sr.srsubid = s.oid \
                 WHERE s.subname::text = $1 \
                   AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[&subscription],
            )
            .await
            .with_context(|| format!("reading pg_subscription_rel for {what}"))?;
        let pending: i64 = row.get(0);
        let states: Option<String> = row.get(1);
        Ok((pending > 0).then(|| format!("table states: {}", states.unwrap_or_default())))
    })
    .await?;
    if let Some(last) = not_ready {
        bail!(
            "{}\n{}",
            log_tail::with_tail(
                &format!("{what}: tables not ready after {SYNC_TIMEOUT:?} ({last})"),
                &subscriber.log_file()
            ),
            log_tail::with_tail("publisher:", &publisher.log_file())
        );
    }
    Ok(())
}

/// Waits until subscription `subscription` has applied everything
/// `publisher` had written when the wait began: its row in the publisher's
/// `pg_stat_replication` shows `replay_lsn >= pg_current_wal_lsn()` as of
/// the start.
///
/// Fails after a minute, e.g. while the subscription is disabled. After
/// `ALTER SUBSCRIPTION ... ENABLE` the subscriber's launcher may take
/// `wal_retrieve_retry_interval` (5 s by default) to restart the worker.
pub async fn wait_subscription_caught_up(
    publisher: &Node,
    subscription: &str,
) -> anyhow::Result<()> {
    let client = publisher.connect_superuser().await?;
    let target = current_wal_lsn(&client, publisher).await?;
    let client = &client;
    let target = target.as_str();
    let behind = poll_until(CATCH_UP_TIMEOUT, || async move {
        let rows = client
            .query(
                "SELECT replay_lsn::text, coalesce(replay_lsn >= $2::text::pg_lsn, false) \
                 FROM pg_stat_replication WHERE application_name = $1",
                &[&subscription, &target],
            )
            .await
            .with_context(|| format!("reading pg_stat_replication on {}", publisher.name()))?;
        let caught_up = !rows.is_empty() && rows.iter().all(|r| r.get::<_, bool>(1));
        let seen: Vec<Option<String>> = rows.iter().map(|r| r.get(0)).collect();
        Ok((!caught_up).then(|| format!("replay_lsn {seen:?}, target {target}")))
    })
    .await?;
    if let Some(last) = behind {
        let what = format!(
            "subscription {subscription:?} not caught up with node {} after \
             {CATCH_UP_TIMEOUT:?} ({last})",
            publisher.name()
        );
        bail!("{}", log_tail::with_tail(&what, &publisher.log_file()));
    }
    Ok(())
}

/// Waits until physical standby `standby` has replayed everything `primary`
/// had written when the wait began: `pg_last_wal_replay_lsn()` on the
/// standby reaches the primary's `pg_current_wal_lsn()` as of the start.
/// Afterwards reads on the standby see every commit made before the call.
pub async fn wait_standby_caught_up(primary: &Node, standby: &Node) -> anyhow::Result<()> {
    let target = current_wal_lsn(&primary.connect_superuser().await?, primary).await?;
    let client = standby.connect_superuser().await?;
    let client = &client;
    let target = target.as_str();
    let behind = poll_until(CATCH_UP_TIMEOUT, || async move {
        let row = client
            .query_one(
                "SELECT pg_last_wal_replay_lsn()::text, \
                        coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)",
                &[&target],
            )
            .await
            .with_context(|| format!("reading the replay LSN of standby {}", standby.name()))?;
        let replayed: Option<String> = row.get(0);
        let caught_up: bool = row.get(1);
        Ok((!caught_up).then(|| format!("replayed {replayed:?}, target {target}")))
    })
    .await?;
    if let Some(last) = behind {
        bail!(
            "{}\n{}",
            log_tail::with_tail(
                &format!(
                    "standby {} not caught up with node {} after {CATCH_UP_TIMEOUT:?} ({last})",
                    standby.name(),
                    primary.name()
                ),
                &standby.log_file()
            ),
            log_tail::with_tail("primary:", &primary.log_file())
        );
    }
    Ok(())
}

/// Polls `check` every [`POLL_INTERVAL`] until it returns `Ok(None)` (the
/// condition holds) or `timeout` passes. `check` returns `Some(state)` while
/// the condition does not hold yet; on timeout the last state is returned
/// as `Ok(Some(state))`. Errors from `check` end the wait at once.
async fn poll_until<F, Fut>(timeout: Duration, mut check: F) -> anyhow::Result<Option<String>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<String>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let Some(state) = check().await? else {
            return Ok(None);
        };
        if Instant::now() >= deadline {
            return Ok(Some(state));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Connects to database `db` of `node` as the superuser.
async fn superuser(node: &Node, db: &str) -> anyhow::Result<tokio_postgres::Client> {
    node.connect_superuser_to(db).await
}

/// `pg_current_wal_lsn()` of `node`, as text.
async fn current_wal_lsn(client: &tokio_postgres::Client, node: &Node) -> anyhow::Result<String> {
    let row = client
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .with_context(|| format!("reading pg_current_wal_lsn() on node {}", node.name()))?;
    Ok(row.get(0))
}

/// A table name, each `.`-separated part quoted as an identifier.
fn quote_table(name: &str) -> String {
    let parts: Vec<String> = name.split('.').map(quote_ident).collect();
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_quoted_per_part() {
        assert_eq!(quote_table("leaderboard"), r#""leaderboard""#);
        assert_eq!(quote_table("game.Scores"), r#""game"."Scores""#);
    }
}
