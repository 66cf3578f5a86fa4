//! Defaults of the internal model (ARO-RP's pkg/api defaults), applied on every accepted PUT and
//! PATCH.

use crate::management::{
    LoadBalancerProfile, MaintenanceTask, ManagedOutboundIps, OpenShiftClusterSpec, OutboundType,
};
use crate::operator::default_operator_flags;

impl OpenShiftClusterSpec {
    /// Fill in what the customer may omit. Toggles (encryptionAtHost, fipsValidatedModules,
    /// preconfiguredNSG) and outboundType already default through serde; what remains is the
    /// load balancer profile, the operator flags, the architecture version (new clusters are
    /// version 2: two load balancers, one NSG) and the admin task.
    pub fn apply_defaults(&mut self) {
        if self.architecture_version == 0 {
            self.architecture_version = 2;
        }
        if self.network_profile.outbound_type == OutboundType::Loadbalancer
            && self.network_profile.load_balancer_profile.is_none()
        {
            self.network_profile.load_balancer_profile = Some(LoadBalancerProfile {
                managed_outbound_ips: Some(ManagedOutboundIps { count: 1 }),
                ..Default::default()
            });
        }
        if self.operator_flags.is_empty() {
            self.operator_flags = default_operator_flags();
        }
    }

    /// The maintenance task an admin update runs: the requested one, else Everything.
    pub fn effective_maintenance_task(&self) -> MaintenanceTask {
        self.maintenance_task.unwrap_or(MaintenanceTask::Everything)
    }
}
