//! API version 2022-09-04: the cluster types of 2022-04-01 unchanged, plus the OpenShift versions
//! list (its retired child resources, syncSets and friends, are not served).

pub use super::common::{OpenShiftVersion, OpenShiftVersionProperties};
pub use super::v2022_04_01::*;
