//! The control plane's shared handle: its settings, the topology it
//! maintains, and the data path it notifies. Built once at start-up by the
//! proxy; every control task holds an `Arc<ControlPlane>`.

use crate::data_path::DataPath;
use crate::fleet::Fleet;
use crate::settings::ControlSettings;
use crate::topology::Topology;
use std::sync::Arc;

/// Settings, topology and data-path hooks of the control plane.
pub struct ControlPlane {
    /// What the configuration says.
    pub settings: ControlSettings,
    /// Current primaries, node health, failover history.
    pub topology: Arc<Topology>,
    /// Pools and metrics of the data path.
    pub data_path: Arc<dyn DataPath>,
    /// This instance's place in a fleet (None: a single instance).
    pub fleet: Option<Arc<Fleet>>,
}

impl ControlPlane {
    /// What the fleet may change on this instance.
    pub fn fleet_local(&self) -> crate::fleet::Local {
        crate::fleet::Local {
            topology: self.topology.clone(),
            data_path: self.data_path.clone(),
        }
    }

    /// Reads the topology from etcd before clients are served (a no-op
    /// without `[coordination]`); bounded by `limit`.
    pub async fn bootstrap_fleet(&self, limit: std::time::Duration) -> Result<(), String> {
        match &self.fleet {
            Some(fleet) => crate::fleet::bootstrap(fleet, &self.fleet_local(), limit).await,
            None => Ok(()),
        }
    }

    /// A control plane over `topology`.
    pub fn new(
        settings: ControlSettings,
        topology: Arc<Topology>,
        data_path: Arc<dyn DataPath>,
    ) -> ControlPlane {
        let fleet = settings
            .coordination
            .clone()
            .map(|c| Arc::new(Fleet::new(c)));
        ControlPlane {
            fleet,
            settings,
            topology,
            data_path,
        }
    }
}
