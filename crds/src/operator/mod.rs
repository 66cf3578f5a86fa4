//! Custom resources of the in-cluster ARO operator (API group `aro.openshift.io/v1alpha1`).

pub mod cluster;
pub mod flags;

pub use cluster::*;
pub use flags::{ENABLED_IN_ARO_ONLY, default_operator_flags};
