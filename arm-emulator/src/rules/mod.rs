//! What each resource provider does beyond generic ARM: one file per provider, each implementing
//! [`ProviderRules`]. The engine (`engine`) handles every resource the same way (authorization,
//! preconditions, locations, long-running operations, storage) and asks the rules chosen by the
//! resource type ([`for_type`]) how this type behaves, to validate and complete a PUT body, whether
//! a delete is refused, which actions exist, what to add when rendering, and which
//! provider-specific routes (catalogs, filtered listings) exist. Rules read the emulated state
//! through a [`Context`]; they never write it, so the engine stays the one place that changes
//! state.

pub mod authorization;
pub mod compute;
pub mod dns;
pub mod managed_identity;
pub mod network;
pub mod storage;

use crate::authz::{self, Permission};
use crate::config::SkuRestriction;
use crate::error::ApiError;
use crate::path::ProviderPath;
use crate::request::{ArmRequest, Caller, Reply};
use crate::resources::{Resource, Resources};
use serde_json::Value;
use std::collections::BTreeMap;

/// Namespaces registered by default, with a few of their resource types (the provider listing).
pub const PROVIDERS: &[(&str, &[&str])] = &[
    (
        "Microsoft.Network",
        &[
            "virtualNetworks",
            "networkSecurityGroups",
            "routeTables",
            "loadBalancers",
            "publicIPAddresses",
            "privateEndpoints",
            "privateLinkServices",
            "natGateways",
            "networkInterfaces",
            "dnszones",
            "privateDnsZones",
        ],
    ),
    ("Microsoft.Compute", &["virtualMachines", "disks", "skus"]),
    ("Microsoft.Storage", &["storageAccounts"]),
    (
        "Microsoft.ManagedIdentity",
        &[
            "userAssignedIdentities",
            "userAssignedIdentities/federatedIdentityCredentials",
        ],
    ),
    (
        "Microsoft.Authorization",
        &[
            "roleAssignments",
            "roleDefinitions",
            "denyAssignments",
            "permissions",
        ],
    ),
    ("Microsoft.Resources", &["resourceGroups", "deployments"]),
];

/// How the engine treats a resource type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeTraits {
    /// PUT and DELETE run as long-running operations (otherwise they complete at once).
    pub long_running: bool,
    /// A top-level resource in a resource group carries a location (ARM's tracked resources).
    pub tracked: bool,
    /// A long-running create reports `Updating` (as Microsoft.Network does) rather than
    /// `Creating`.
    pub updating_on_create: bool,
    /// Every PUT and PATCH gives the resource a new etag.
    pub etag_per_write: bool,
    /// A synchronous delete answers 200 with the deleted resource rather than an empty 200.
    pub delete_answers_body: bool,
    /// The power state a new resource starts in (virtual machines).
    pub initial_power_state: Option<&'static str>,
}

impl Default for TypeTraits {
    fn default() -> Self {
        Self {
            long_running: true,
            tracked: true,
            updating_on_create: false,
            etag_per_write: false,
            delete_answers_body: false,
            initial_power_state: None,
        }
    }
}

/// The seeded capacity of the emulated cloud: locations, SKU restrictions, quotas.
#[derive(Clone, Debug, Default)]
pub struct Capacity {
    /// Offered locations.
    pub locations: Vec<String>,
    /// Restricted VM sizes.
    pub sku_restrictions: Vec<SkuRestriction>,
    /// Quota limits by usage name.
    pub quotas: BTreeMap<String, u64>,
}

/// What rules see of the emulated ARM: the resources, the caller, the capacity.
pub struct Context<'a> {
    /// Every stored resource.
    pub resources: &'a Resources,
    /// Who is calling.
    pub caller: &'a Caller,
    /// Locations, SKU restrictions and quotas.
    pub capacity: &'a Capacity,
}

impl Context<'_> {
    /// 403 unless the caller may perform `action` at `scope`.
    pub fn authorize(&self, action: &str, scope: &str) -> Result<(), ApiError> {
        authz::authorize(self.resources, self.caller, action, scope)
    }

    /// 403 unless the caller, writing `id` with `write_action`, may perform `join_action` on the
    /// `linked` resource.
    pub fn authorize_linked(
        &self,
        write_action: &str,
        id: &str,
        join_action: &str,
        linked: &str,
    ) -> Result<(), ApiError> {
        authz::authorize_linked(
            self.resources,
            self.caller,
            write_action,
            id,
            join_action,
            linked,
        )
    }

    /// The caller's permissions at `scope`.
    pub fn permissions(&self, scope: &str) -> Vec<Permission> {
        authz::permissions(self.resources, self.caller, scope)
    }

    /// The resource under key `k` as GET shows it.
    pub fn render(&self, k: &str, expand_instance_view: bool) -> Option<Value> {
        render(self.resources, k, expand_instance_view)
    }
}

/// A PUT of an instance, before anything is stored.
pub struct Put<'a> {
    /// The request path.
    pub path: &'a ProviderPath,
    /// Id of the instance (casing of the request).
    pub id: &'a str,
    /// `Namespace/type[/subtype]` (casing of the request).
    pub resource_type: &'a str,
    /// The resource as stored before this PUT.
    pub existing: Option<&'a Resource>,
    /// The normalised location of a tracked resource.
    pub location: Option<&'a str>,
    /// Public base URL of the emulator (scheme://host:port): where data-plane endpoints live.
    pub base_url: &'a str,
    /// Tenant of the emulated subscriptions (managed identities live in it).
    pub tenant_id: &'a str,
}

impl Put<'_> {
    /// The write action the caller was authorized for.
    pub fn write_action(&self) -> String {
        format!("{}/write", self.resource_type)
    }
}

/// Child resources a PUT writes or removes along with its resource (a VNet's inline subnets).
#[derive(Debug, Default)]
pub struct Children {
    /// Children to write, as (id, body).
    pub written: Vec<(String, Value)>,
    /// Keys of existing children to remove.
    pub removed: Vec<String>,
}

/// A power action: the state while it runs and the state it ends in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PowerChange {
    /// State while the operation runs.
    pub transient: &'static str,
    /// State once it completes.
    pub target: &'static str,
}

/// The behaviour of one provider's resource types. Every method has the generic default, so a
/// provider implements only what differs.
pub trait ProviderRules: Sync {
    /// How the engine treats the type (`type_lower`: `namespace/type[/subtype]`, lowercase).
    fn traits(&self, _type_lower: &str) -> TypeTraits {
        TypeTraits::default()
    }

    /// Validates a PUT body, normalising it where the service does; returns the children the PUT
    /// writes or removes along with the resource.
    fn prepare_put(
        &self,
        _cx: &Context<'_>,
        _put: &Put<'_>,
        _body: &mut Value,
    ) -> Result<Children, ApiError> {
        Ok(Children::default())
    }

    /// Adds the fields the service assigns to a body about to be stored (after the engine set
    /// `id`, `name`, `type`, `location`, the provisioning state and the etag).
    fn complete(&self, _put: &Put<'_>, _stored: &mut Value) {}

    /// Refuses the delete of a resource (e.g. one still in use).
    fn check_delete(
        &self,
        _cx: &Context<'_>,
        _type_lower: &str,
        _id: &str,
    ) -> Result<(), ApiError> {
        Ok(())
    }

    /// The power change of POST action `action_lower` on a resource of the type; `None`: no such
    /// action.
    fn action(&self, _type_lower: &str, _action_lower: &str) -> Option<PowerChange> {
        None
    }

    /// Adds computed fields to a rendered body (`key`: the resource's key).
    fn render(
        &self,
        _resources: &Resources,
        _key: &str,
        _resource: &Resource,
        _body: &mut Value,
        _expand_instance_view: bool,
    ) {
    }

    /// Answers a provider-specific route (a catalog, a filtered listing); `None`: the generic
    /// handling applies.
    fn route(
        &self,
        _cx: &Context<'_>,
        _req: &ArmRequest<'_>,
        _path: &ProviderPath,
    ) -> Option<Result<Reply, ApiError>> {
        None
    }

    /// The usages (`locations/{location}/usages`) of the namespace in a subscription and location;
    /// `None`: the namespace has none.
    fn usages(
        &self,
        _cx: &Context<'_>,
        _subscription: &str,
        _location: &str,
    ) -> Option<Vec<Value>> {
        None
    }
}

/// Resources with nothing beyond generic ARM behaviour.
struct Generic;

impl ProviderRules for Generic {}

/// The rules of a resource type (`namespace/type[/subtype]`, any casing).
pub fn for_type(resource_type: &str) -> &'static dyn ProviderRules {
    let lower = resource_type.to_ascii_lowercase();
    let mut parts = lower.split('/');
    let namespace = parts.next().unwrap_or_default();
    let top_type = parts.next().unwrap_or_default();
    match namespace {
        "microsoft.network" if dns::TOP_TYPES.contains(&top_type) => &dns::Dns,
        "microsoft.network" => &network::Network,
        "microsoft.compute" => &compute::Compute,
        "microsoft.authorization" => &authorization::Authorization,
        "microsoft.managedidentity" => &managed_identity::ManagedIdentity,
        "microsoft.storage" => &storage::Storage,
        _ => &Generic,
    }
}

/// The resource under key `k` as GET shows it: the stored body plus what its rules compute.
pub fn render(resources: &Resources, k: &str, expand_instance_view: bool) -> Option<Value> {
    let r = resources.get(k)?;
    let mut body = r.body.clone();
    let type_lower = r.type_lower();
    for_type(&type_lower).render(resources, k, r, &mut body, expand_instance_view);
    Some(body)
}

/// Builders for the rules' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::path::key;
    use serde_json::json;

    /// A resource table holding `(id, type, properties)`.
    pub fn store(resources: &[(&str, &str, Value)]) -> Resources {
        let mut store = Resources::default();
        for (id, kind, properties) in resources {
            store.insert(
                key(id),
                Resource {
                    id: id.to_string(),
                    body: json!({"id": id, "type": kind, "properties": properties}),
                    power_state: None,
                },
            );
        }
        store
    }

    /// A caller limited by (here: no) role assignments.
    pub fn restricted() -> Caller {
        Caller {
            restricted: true,
            ..Caller::system()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long_running(t: &str) -> bool {
        for_type(t).traits(&t.to_ascii_lowercase()).long_running
    }

    #[test]
    fn lro_types() {
        assert!(long_running("microsoft.network/virtualnetworks"));
        assert!(!long_running("microsoft.authorization/roleassignments"));
        assert!(!long_running("microsoft.network/dnszones/a"));
        assert!(long_running("microsoft.network/privatednszones"));
        assert!(!long_running("microsoft.network/privatednszones/a"));
        assert!(long_running(
            "microsoft.network/privatednszones/virtualnetworklinks"
        ));
        assert!(long_running("Microsoft.Storage/storageAccounts"));
    }

    #[test]
    fn network_types_report_updating_and_carry_etags() {
        for t in [
            "microsoft.network/virtualnetworks",
            "microsoft.network/privatednszones",
        ] {
            let traits = for_type(t).traits(t);
            assert!(traits.updating_on_create && traits.etag_per_write, "{t}");
        }
        let vm = for_type("microsoft.compute/virtualmachines")
            .traits("microsoft.compute/virtualmachines");
        assert_eq!(vm.initial_power_state, Some("starting"));
        assert!(!vm.updating_on_create && !vm.etag_per_write);
        let ra = for_type("Microsoft.Authorization/roleAssignments")
            .traits("microsoft.authorization/roleassignments");
        assert!(!ra.tracked && ra.delete_answers_body);
    }
}
