//! `--seed-demo`: what the README's sample cluster needs, with well-known ids.

use crate::config::{Principal, Seed, SeedResource};
use serde_json::json;

/// Subscription of the demo resources.
pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000001";
/// Tenant of the demo principals.
pub const TENANT: &str = "00000000-0000-0000-0000-00000000aaaa";
/// Location of the demo resources.
pub const LOCATION: &str = "eastus";
/// Customer resource group.
pub const RESOURCE_GROUP: &str = "demo-rg";
/// Customer virtual network.
pub const VNET: &str = "demo-vnet";

/// The resource provider's own identity (first party): unrestricted.
pub const RP_CLIENT_ID: &str = "00000000-0000-0000-0000-0000000000f1";
/// Secret of the RP identity.
pub const RP_CLIENT_SECRET: &str = "demo-rp-secret";
/// Object id of the RP identity.
pub const RP_OBJECT_ID: &str = "00000000-0000-0000-0000-0000000000f2";

/// The cluster's service principal: restricted to Network Contributor on the demo VNet.
pub const CLUSTER_CLIENT_ID: &str = "00000000-0000-0000-0000-0000000000c1";
/// Secret of the cluster service principal.
pub const CLUSTER_CLIENT_SECRET: &str = "demo-cluster-secret";
/// Object id of the cluster service principal.
pub const CLUSTER_OBJECT_ID: &str = "00000000-0000-0000-0000-0000000000c2";

/// A second service principal a cluster can rotate to (`az aro update --client-id`), with the
/// same Network Contributor grant on the demo VNet.
pub const ROTATED_CLIENT_ID: &str = "00000000-0000-0000-0000-0000000000c3";
/// Secret of the second cluster service principal.
pub const ROTATED_CLIENT_SECRET: &str = "demo-cluster-secret-2";
/// Object id of the second cluster service principal.
pub const ROTATED_OBJECT_ID: &str = "00000000-0000-0000-0000-0000000000c4";

/// Network Contributor role definition GUID.
pub const NETWORK_CONTRIBUTOR: &str = "4d97b98b-1d4f-4787-a291-c67834d212e7";

/// The RP's own resource group (its private endpoints into clusters).
pub const RP_RESOURCE_GROUP: &str = "aro-rp";
/// The RP's own virtual network.
pub const RP_VNET: &str = "rp-vnet";

/// Id of the subnet where the RP creates its private endpoints.
pub fn rp_private_endpoint_subnet_id() -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RP_RESOURCE_GROUP}/providers/Microsoft.Network/virtualNetworks/{RP_VNET}/subnets/rp-pe"
    )
}

/// Id of the RP's storage account serving the OIDC issuers of workload identity clusters (the
/// RP creates it on first use).
pub fn oidc_storage_account_id() -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RP_RESOURCE_GROUP}/providers/Microsoft.Storage/storageAccounts/arolocaloidc"
    )
}

/// Id of the demo resource group.
pub fn resource_group_id() -> String {
    format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}")
}

/// Id of the demo virtual network.
pub fn vnet_id() -> String {
    format!(
        "{}/providers/Microsoft.Network/virtualNetworks/{VNET}",
        resource_group_id()
    )
}

/// Id of a demo subnet (`master` or `worker`).
pub fn subnet_id(name: &str) -> String {
    format!("{}/subnets/{name}", vnet_id())
}

/// A restricted service principal (it holds only what role assignments grant it).
fn cluster_principal(client_id: &str, secret: &str, object_id: &str) -> Principal {
    Principal {
        client_id: client_id.into(),
        client_secret: Some(secret.into()),
        federated_token: None,
        object_id: object_id.into(),
        tenant_id: None,
        restricted: true,
    }
}

/// The demo seed.
pub fn seed() -> Seed {
    let role = |principal: &str, guid: &str| SeedResource {
        id: format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{guid}",
            vnet_id()
        ),
        body: json!({"properties": {
            "roleDefinitionId": format!("/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{NETWORK_CONTRIBUTOR}"),
            "principalId": principal,
            "principalType": "ServicePrincipal",
        }}),
    };
    Seed {
        principals: vec![
            Principal {
                client_id: RP_CLIENT_ID.into(),
                client_secret: Some(RP_CLIENT_SECRET.into()),
                federated_token: None,
                object_id: RP_OBJECT_ID.into(),
                tenant_id: None,
                restricted: false,
            },
            cluster_principal(CLUSTER_CLIENT_ID, CLUSTER_CLIENT_SECRET, CLUSTER_OBJECT_ID),
            cluster_principal(ROTATED_CLIENT_ID, ROTATED_CLIENT_SECRET, ROTATED_OBJECT_ID),
        ],
        resources: vec![
            SeedResource {
                id: resource_group_id(),
                body: json!({"location": LOCATION, "tags": {"purpose": "aro-demo"}}),
            },
            SeedResource {
                id: vnet_id(),
                body: json!({
                    "location": LOCATION,
                    "properties": {
                        "addressSpace": {"addressPrefixes": ["10.0.0.0/22"]},
                        "subnets": [
                            {"name": "master", "properties": {"addressPrefix": "10.0.0.0/23"}},
                            {"name": "worker", "properties": {"addressPrefix": "10.0.2.0/23"}},
                        ],
                    },
                }),
            },
            SeedResource {
                id: format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{RP_RESOURCE_GROUP}"),
                body: json!({"location": LOCATION, "tags": {"purpose": "aro-rp"}}),
            },
            SeedResource {
                id: format!(
                    "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RP_RESOURCE_GROUP}/providers/Microsoft.Network/virtualNetworks/{RP_VNET}"
                ),
                body: json!({
                    "location": LOCATION,
                    "properties": {
                        "addressSpace": {"addressPrefixes": ["10.255.0.0/16"]},
                        "subnets": [
                            {"name": "rp-pe", "properties": {"addressPrefix": "10.255.0.0/20",
                                "privateEndpointNetworkPolicies": "Disabled"}},
                        ],
                    },
                }),
            },
            role(CLUSTER_OBJECT_ID, "00000000-0000-0000-0000-0000000000a1"),
            role(RP_OBJECT_ID, "00000000-0000-0000-0000-0000000000a2"),
            role(ROTATED_OBJECT_ID, "00000000-0000-0000-0000-0000000000a3"),
        ],
        ..Default::default()
    }
}
