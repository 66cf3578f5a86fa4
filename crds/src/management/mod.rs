//! Custom resources of the management cluster (API group `rp.aro.openshift.io/v1`).

pub mod asyncoperation;
pub mod claim;
pub mod naming;
pub mod openshiftcluster;
pub mod openshiftversion;
pub mod protocol;
pub mod roleset;
pub mod subscription;
pub mod uniquekey;

pub use asyncoperation::*;
pub use openshiftcluster::*;
pub use openshiftversion::*;
pub use roleset::*;
pub use subscription::*;
pub use uniquekey::*;
