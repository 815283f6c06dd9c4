//! What the fleet hands the controller: the failovers an earlier
//! controller left unfinished, putting a shard back on its old primary
//! when nothing was promoted, and the SWITCHOVER requests made on other
//! instances. The control loops (`monitor::takeover`) act on them; the
//! fleet itself never reaches into the control loops.

use super::records::{IntentRecord, ShardRecord, SwitchoverRequest};
use super::Fleet;

impl Fleet {
    /// Waits until this instance becomes the controller.
    pub async fn became_controller(&self) {
        self.took_role.notified().await
    }

    /// Unfinished failovers recorded in etcd.
    pub async fn unfinished(&self) -> Result<Vec<IntentRecord>, String> {
        let (kvs, _) = self.store.list("intents/").await?;
        Ok(kvs
            .iter()
            .filter_map(|kv| serde_json::from_slice(kv.value()).ok())
            .collect())
    }

    /// The unfinished failover of `shard`, read again (None: finished).
    pub async fn unfinished_of(&self, shard: u32) -> Result<Option<IntentRecord>, String> {
        let kv = self.store.get(&format!("intents/{shard}")).await?;
        Ok(kv.and_then(|kv| serde_json::from_slice(kv.value()).ok()))
    }

    /// Puts the shard of `intent` back on its old primary and clears the
    /// intent (nothing was promoted; the checks decide again).
    pub async fn abandon(&self, intent: &IntentRecord) -> Result<(), String> {
        let (record, revision) = self.shard_record(intent.shard).await?;
        let back = ShardRecord {
            shard: intent.shard,
            primary: Some(intent.old_primary.clone()),
            standbys: intent.standbys.clone(),
            fenced: intent.fenced.clone(),
            generation: record.generation + 1,
        };
        self.swap_record(&back, revision, None).await
    }

    /// Takes the SWITCHOVER requests addressed to the controller (each is
    /// removed from etcd as it is taken).
    pub async fn take_switchover_requests(&self) -> Vec<SwitchoverRequest> {
        let Ok((kvs, _)) = self.store.list("requests/switchover/").await else {
            return Vec::new();
        };
        let mut taken = Vec::new();
        for kv in kvs {
            let key = kv.key_str().unwrap_or_default().to_owned();
            let deleted = self
                .store
                .txn(etcd_client::Txn::new().and_then([etcd_client::TxnOp::delete(key, None)]))
                .await;
            if deleted.is_err() {
                continue;
            }
            if let Ok(request) = serde_json::from_slice::<SwitchoverRequest>(kv.value()) {
                taken.push(request);
            }
        }
        taken
    }
}
