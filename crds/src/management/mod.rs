//! Custom resources of the management cluster (API group `rp.aro.openshift.io/v1`), and the
//! contract of rp-frontend and rp-controller over them: [`protocol`] (annotations, Secret names,
//! the effective provisioning state), [`claim`] (how a transition's claim completes) and
//! [`provisioning`] (the state machine's start and end rules).

pub mod asyncoperation;
pub mod claim;
pub mod naming;
pub mod openshiftcluster;
pub mod openshiftversion;
pub mod protocol;
pub mod provisioning;
pub mod roleset;
pub mod subscription;
pub mod uniquekey;

pub use asyncoperation::*;
pub use openshiftcluster::*;
pub use openshiftversion::*;
pub use roleset::*;
pub use subscription::*;
pub use uniquekey::*;
