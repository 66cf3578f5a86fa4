//! Dynamic validation (ARO-RP's pkg/validate): checks of the customer's Azure resources that static
//! validation cannot do, run at the start of install and update. Everything here is pure: callers
//! fetch the virtual network and the permissions through the Azure client layer and pass them in,
//! so the rules are unit-tested without Azure.

pub mod network;
pub mod permissions;

pub use network::{NetworkFacts, Subnet, VirtualNetwork, validate_network};
pub use permissions::{
    LinkedResource, Permission, Principal, can_do_action, validate_network_permissions,
};
