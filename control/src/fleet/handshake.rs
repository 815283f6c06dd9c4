//! The controller's side of changing a shard's primary, and every
//! instance's acknowledgement. Before anything is promoted the controller
//! records its intent and publishes the shard with no primary and a new
//! generation (one transaction that checks it still holds the controller
//! key and that the record did not move); every live instance closes the
//! shard's gate and acknowledges that generation in its registration;
//! only when all have (or their registrations expired) is the standby
//! promoted, and the new primary is published with the next generation.

use super::records::{epoch_now, IntentRecord, MemberRecord, ShardRecord, Step};
use super::Fleet;
use crate::topology::ShardState;
use crate::Endpoint;
use etcd_client::{Compare, CompareOp, PutOptions, Txn, TxnOp};
use std::time::{Duration, Instant};

/// Pushes this instance's acknowledgements to etcd at once (rather than
/// at the next heartbeat).
pub async fn publish_ack(fleet: &Fleet) {
    let (lease, record) = {
        let state = fleet.state();
        let Some(lease) = state.lease else {
            return;
        };
        let mine = state
            .members
            .iter()
            .find(|m| m.name == fleet.settings.name)
            .cloned();
        let Some(mut record) = mine else {
            return;
        };
        record.acks = state.acks.clone();
        record.views = state.views.clone();
        record.heartbeat = epoch_now();
        (lease, record)
    };
    let Ok(value) = serde_json::to_vec(&record) else {
        return;
    };
    let _ = fleet
        .store
        .put(
            &format!("members/{}", fleet.settings.name),
            value,
            Some(lease),
        )
        .await;
}

impl Fleet {
    /// A transaction that runs `ops` only while this instance holds the
    /// controller key and `extra` holds; true if it ran.
    async fn as_controller(&self, extra: Vec<Compare>, ops: Vec<TxnOp>) -> Result<bool, String> {
        let mut compares = vec![Compare::value(
            self.store.key("controller"),
            CompareOp::Equal,
            self.settings.name.clone(),
        )];
        compares.extend(extra);
        let resp = self
            .store
            .txn(Txn::new().when(compares).and_then(ops))
            .await?;
        Ok(resp.succeeded())
    }

    /// The shard's record and its key revision.
    pub(super) async fn shard_record(&self, shard: u32) -> Result<(ShardRecord, i64), String> {
        let kv = self
            .store
            .get(&format!("topology/{shard}"))
            .await?
            .ok_or_else(|| format!("shard {shard} has no record in etcd"))?;
        let record = serde_json::from_slice(kv.value())
            .map_err(|e| format!("shard {shard}'s record: {e}"))?;
        Ok((record, kv.mod_revision()))
    }

    /// Writes the shard's record if it is still at `revision`, as the
    /// controller; `intent` is written or (None) deleted with it.
    pub(super) async fn swap_record(
        &self,
        record: &ShardRecord,
        revision: i64,
        intent: Option<&IntentRecord>,
    ) -> Result<(), String> {
        let key = self.store.key(&format!("topology/{}", record.shard));
        let intent_key = self.store.key(&format!("intents/{}", record.shard));
        let mut ops = vec![TxnOp::put(
            key.clone(),
            serde_json::to_vec(record).map_err(|e| e.to_string())?,
            None,
        )];
        ops.push(match intent {
            Some(i) => TxnOp::put(
                intent_key,
                serde_json::to_vec(i).map_err(|e| e.to_string())?,
                None,
            ),
            None => TxnOp::delete(intent_key, None),
        });
        let compares = vec![Compare::mod_revision(key, CompareOp::Equal, revision)];
        if self.as_controller(compares, ops).await? {
            Ok(())
        } else {
            Err(format!(
                "shard {}'s record changed or this instance is no longer the controller",
                record.shard
            ))
        }
    }

    /// Moves an intent to `step` (as the controller).
    pub(crate) async fn set_step(
        &self,
        intent: &mut IntentRecord,
        step: Step,
    ) -> Result<(), String> {
        intent.step = step;
        let value = serde_json::to_vec(&*intent).map_err(|e| e.to_string())?;
        let key = self.store.key(&format!("intents/{}", intent.shard));
        if self
            .as_controller(Vec::new(), vec![TxnOp::put(key, value, None::<PutOptions>)])
            .await?
        {
            Ok(())
        } else {
            Err("this instance is no longer the controller".into())
        }
    }

    /// Starts a change of `shard`'s primary from `old` to `candidate`:
    /// records the intent, publishes the shard with no primary, and waits
    /// until every live instance acknowledged. Returns the intent (for
    /// the next steps); on error nothing was promoted and the shard's
    /// record is back on `old`.
    pub async fn begin_change(
        &self,
        shard: &ShardState,
        old: &Endpoint,
        candidate: &Endpoint,
        kind: &str,
    ) -> Result<IntentRecord, String> {
        if !self.is_controller() {
            return Err("this instance is not the fleet's controller (or lost etcd)".into());
        }
        let (record, revision) = self.shard_record(shard.index).await?;
        if record.primary.as_ref() != Some(old) {
            return Err(format!(
                "etcd says shard {}'s primary is {}, not {old}",
                shard.index,
                record
                    .primary
                    .as_ref()
                    .map_or("(none)".into(), |p| p.to_string())
            ));
        }
        let mut intent = IntentRecord {
            shard: shard.index,
            kind: kind.to_owned(),
            step: Step::Fencing,
            old_primary: old.clone(),
            candidate: candidate.clone(),
            standbys: record.standbys.clone(),
            fenced: record.fenced.clone(),
            generation: record.generation + 1,
            controller: self.settings.name.clone(),
            started: epoch_now(),
        };
        let fenced_record = ShardRecord {
            primary: None,
            generation: intent.generation,
            ..record.clone()
        };
        self.swap_record(&fenced_record, revision, Some(&intent))
            .await?;
        tracing::info!(
            shard = shard.index,
            generation = intent.generation,
            "published shard without a primary; waiting for every instance to acknowledge"
        );
        if let Err(e) = self.wait_acks(shard.index, intent.generation).await {
            // Nothing promoted: put the old primary back.
            if let Ok((_, rev)) = self.shard_record(shard.index).await {
                let back = ShardRecord {
                    generation: intent.generation + 1,
                    ..record
                };
                let _ = self.swap_record(&back, rev, None).await;
            }
            return Err(e);
        }
        self.set_step(&mut intent, Step::Promoting).await?;
        Ok(intent)
    }

    /// Waits until every registered instance acknowledged `generation` of
    /// `shard` (an instance whose registration expires stops counting).
    pub(crate) async fn wait_acks(&self, shard: u32, generation: u64) -> Result<(), String> {
        let limit = self.settings.lease_ttl * 2 + Duration::from_secs(1);
        let deadline = Instant::now() + limit;
        loop {
            let (kvs, _) = self.store.list("members/").await?;
            let missing: Vec<String> = kvs
                .iter()
                .filter_map(|kv| serde_json::from_slice::<MemberRecord>(kv.value()).ok())
                .filter(|m| m.acks.get(&shard).copied().unwrap_or(0) < generation)
                .map(|m| m.name)
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "instance(s) {} did not acknowledge shard {shard}'s generation {generation} within {limit:?}; nothing promoted",
                    missing.join(", ")
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Publishes the shard's new roles (after the promotion) and clears
    /// the intent.
    pub async fn finish_change(
        &self,
        shard: &ShardState,
        intent: &IntentRecord,
    ) -> Result<(), String> {
        let (record, revision) = self.shard_record(shard.index).await?;
        let published = ShardRecord {
            shard: shard.index,
            primary: Some(shard.primary()),
            standbys: shard.standbys(),
            fenced: shard.fenced(),
            generation: record.generation.max(intent.generation) + 1,
        };
        self.swap_record(&published, revision, None).await?;
        shard.set_fleet_generation(published.generation);
        tracing::info!(shard = shard.index, primary = %shard.primary(), generation = published.generation,
            "published the shard's new primary to the fleet");
        Ok(())
    }

    /// Publishes the shard's standbys and fenced nodes when they changed
    /// without a change of primary (a node adopted back).
    pub async fn publish_roles(&self, shard: &ShardState) -> Result<(), String> {
        let (record, revision) = self.shard_record(shard.index).await?;
        if record.primary.as_ref() != Some(&shard.primary()) {
            return Err(format!(
                "etcd's record of shard {} names another primary; not changed",
                shard.index
            ));
        }
        let published = ShardRecord {
            standbys: shard.standbys(),
            fenced: shard.fenced(),
            generation: record.generation + 1,
            ..record
        };
        self.swap_record(&published, revision, None).await?;
        shard.set_fleet_generation(published.generation);
        Ok(())
    }

    /// Records that the intent's candidate left recovery.
    pub async fn promoted(&self, intent: &mut IntentRecord) {
        if let Err(e) = self.set_step(intent, Step::Promoted).await {
            tracing::warn!(shard = intent.shard, error = %e, "could not record the promotion step");
        }
    }
}
