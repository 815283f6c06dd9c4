//! Registration, views and the election, one etcd transaction per
//! heartbeat: this instance's record (with its view of every shard and its
//! acknowledged generations) is written under its lease, the members are
//! read back, and the controller key is taken if nobody holds it. The
//! controller key lives under the holder's lease: when the holder stops
//! renewing it, the key expires and the next heartbeat of another
//! instance takes it.

use super::records::{epoch_now, MemberRecord};
use super::Fleet;
use etcd_client::{Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp, TxnOpResponse};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Runs until aborted.
pub async fn run(fleet: Arc<Fleet>) {
    let mut ticks = tokio::time::interval(fleet.settings.heartbeat());
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(e) = heartbeat(&fleet).await {
            tracing::warn!(error = %e, "fleet heartbeat failed");
        }
    }
}

/// Renews the lease, publishes this instance's record, reads the members
/// and the controller, and campaigns if the controller key is free.
async fn heartbeat(fleet: &Fleet) -> Result<(), String> {
    let current = fleet.state().lease;
    let lease = match current {
        Some(lease) => match expired_as_zero(fleet.store.keep_alive(lease).await)? {
            0 => {
                tracing::warn!("the fleet registration expired; registering again");
                fleet.state().lease = None;
                fleet.is_controller.store(false, Ordering::Release);
                fleet.store.grant().await?
            }
            _ => lease,
        },
        None => fleet.store.grant().await?,
    };
    fleet.state().lease = Some(lease);

    let record = {
        let state = fleet.state();
        MemberRecord {
            name: fleet.settings.name.clone(),
            listen: fleet.settings.listen.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started: fleet.started,
            heartbeat: epoch_now(),
            views: state.views.clone(),
            acks: state.acks.clone(),
        }
    };
    let value = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
    let member_key = fleet.store.key(&format!("members/{}", fleet.settings.name));
    let controller_key = fleet.store.key("controller");
    let with_lease = || Some(PutOptions::new().with_lease(lease));
    let common = vec![
        TxnOp::put(member_key.clone(), value.clone(), with_lease()),
        TxnOp::get(
            fleet.store.key("members/"),
            Some(GetOptions::new().with_prefix()),
        ),
        TxnOp::get(controller_key.clone(), None),
    ];
    let mut campaign = vec![TxnOp::put(
        controller_key.clone(),
        fleet.settings.name.clone(),
        with_lease(),
    )];
    campaign.extend(common.iter().cloned());
    let txn = Txn::new()
        .when([Compare::create_revision(
            controller_key,
            CompareOp::Equal,
            0,
        )])
        .and_then(campaign)
        .or_else(common);
    let resp = fleet.store.txn(txn).await?;

    let mut members = Vec::new();
    let mut controller = None;
    for op in resp.op_responses() {
        if let TxnOpResponse::Get(get) = op {
            for kv in get.kvs() {
                let key = kv.key_str().unwrap_or_default();
                if key.ends_with("/controller") {
                    controller = kv.value_str().ok().map(str::to_owned);
                } else if let Ok(m) = serde_json::from_slice::<MemberRecord>(kv.value()) {
                    members.push(m);
                }
            }
        }
    }
    let is_controller = controller.as_deref() == Some(fleet.settings.name.as_str());
    {
        let mut state = fleet.state();
        if state.controller != controller {
            tracing::info!(
                controller = controller.as_deref().unwrap_or("(none)"),
                "fleet controller"
            );
        }
        state.controller = controller;
        state.members = members;
    }
    let was = fleet.is_controller.swap(is_controller, Ordering::AcqRel);
    if is_controller && !was {
        fleet.controller_changes.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(instance = %fleet.settings.name, "this instance is now the fleet's controller");
        fleet.took_role.notify_one();
    }
    Ok(())
}

/// A keep-alive of a lease etcd no longer knows is an expired lease (TTL
/// 0), not a failure: the instance registers again.
fn expired_as_zero(result: Result<i64, String>) -> Result<i64, String> {
    match result {
        Err(e) if e.contains("lease not found") => Ok(0),
        other => other,
    }
}
