//! [`SubnetsApi`] over Azure Resource Manager through the `azure-clients` crate: a subnet is read
//! with GET and repaired with a PUT of the whole subnet as read, only the NSG reference and the
//! service endpoints changed, so every other property (address prefixes, route table, NAT gateway,
//! delegations, policies) is kept. The PUT is a long-running operation; the call returns once it
//! finished.

use std::time::Duration;

use azure_clients::ArmClient;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::subnets::{ServiceEndpoint, SubnetChange, SubnetState, SubnetsApi};
use crate::{Error, Result};

/// API version of `Microsoft.Network/virtualNetworks/subnets`.
pub use azure_clients::NETWORK_API_VERSION;
/// Longest wait between two polls of a subnet PUT.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The subnets adapter over ARM.
pub struct ArmSubnets {
    arm: ArmClient,
}

impl ArmSubnets {
    /// Subnets reached through `arm` (the cluster's or the operator's identity).
    pub fn new(arm: ArmClient) -> Self {
        Self { arm }
    }
}

fn azure_error(e: azure_clients::Error) -> Error {
    Error::Azure(e.to_string())
}

/// What the controller reads of an ARM subnet body.
pub fn subnet_state(subnet: &Value) -> SubnetState {
    let properties = &subnet["properties"];
    SubnetState {
        network_security_group_id: properties["networkSecurityGroup"]["id"]
            .as_str()
            .map(str::to_string),
        service_endpoints: properties["serviceEndpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| ServiceEndpoint {
                service: e["service"].as_str().unwrap_or_default().to_string(),
                locations: e["locations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l.as_str().map(str::to_string))
                    .collect(),
                provisioning_state: e["provisioningState"].as_str().map(str::to_string),
            })
            .collect(),
    }
}

/// The subnet body to PUT: `subnet` as read, with `change` applied and read-only fields dropped.
pub fn subnet_with_change(subnet: &Value, change: &SubnetChange) -> Value {
    let mut body = subnet.clone();
    if let Some(map) = body.as_object_mut() {
        map.remove("etag");
    }
    if !body["properties"].is_object() {
        body["properties"] = json!({});
    }
    let properties = body["properties"]
        .as_object_mut()
        .expect("properties is an object");
    properties.remove("provisioningState");
    if let Some(nsg) = &change.network_security_group_id {
        properties.insert("networkSecurityGroup".into(), json!({ "id": nsg }));
    }
    if let Some(endpoints) = &change.service_endpoints {
        let endpoints: Vec<Value> = endpoints
            .iter()
            .map(|e| json!({"service": e.service, "locations": e.locations}))
            .collect();
        properties.insert("serviceEndpoints".into(), Value::Array(endpoints));
    }
    body
}

impl SubnetsApi for ArmSubnets {
    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<SubnetState>>> {
        Box::pin(async move {
            let subnet = self
                .arm
                .get(id, NETWORK_API_VERSION)
                .await
                .map_err(azure_error)?;
            Ok(subnet.as_ref().map(subnet_state))
        })
    }

    fn update<'a>(&'a self, id: &'a str, change: &'a SubnetChange) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let Some(subnet) = self
                .arm
                .get(id, NETWORK_API_VERSION)
                .await
                .map_err(azure_error)?
            else {
                return Err(Error::Azure(format!("subnet {id} does not exist")));
            };
            let started = self
                .arm
                .put(
                    id,
                    NETWORK_API_VERSION,
                    &subnet_with_change(&subnet, change),
                )
                .await
                .map_err(azure_error)?;
            self.arm
                .wait(started, MAX_POLL_INTERVAL)
                .await
                .map_err(azure_error)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet() -> Value {
        json!({
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/worker",
            "name": "worker",
            "etag": "W/\"1\"",
            "properties": {
                "provisioningState": "Succeeded",
                "addressPrefix": "10.0.2.0/23",
                "routeTable": {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/routeTables/rt"},
                "serviceEndpoints": [
                    {"service": "Microsoft.Storage", "locations": ["*"], "provisioningState": "Succeeded"}
                ]
            }
        })
    }

    #[test]
    fn reads_nsg_and_service_endpoints() {
        let mut s = subnet();
        let state = subnet_state(&s);
        assert_eq!(state.network_security_group_id, None);
        assert_eq!(state.service_endpoints.len(), 1);
        assert_eq!(state.service_endpoints[0].service, "Microsoft.Storage");
        assert_eq!(state.service_endpoints[0].locations, vec!["*".to_string()]);
        assert_eq!(
            state.service_endpoints[0].provisioning_state.as_deref(),
            Some("Succeeded")
        );
        s["properties"]["networkSecurityGroup"] = json!({"id": "nsg-id"});
        assert_eq!(
            subnet_state(&s).network_security_group_id.as_deref(),
            Some("nsg-id")
        );
        assert_eq!(
            subnet_state(&json!({})),
            SubnetState {
                network_security_group_id: None,
                service_endpoints: vec![],
            }
        );
    }

    #[test]
    fn a_change_keeps_every_other_property() {
        let change = SubnetChange {
            network_security_group_id: Some("nsg-id".into()),
            service_endpoints: Some(vec![ServiceEndpoint {
                service: "Microsoft.ContainerRegistry".into(),
                locations: vec!["*".into()],
                provisioning_state: None,
            }]),
        };
        let body = subnet_with_change(&subnet(), &change);
        assert_eq!(body["properties"]["networkSecurityGroup"]["id"], "nsg-id");
        assert_eq!(body["properties"]["addressPrefix"], "10.0.2.0/23");
        assert_eq!(
            body["properties"]["routeTable"]["id"],
            subnet()["properties"]["routeTable"]["id"]
        );
        assert_eq!(
            body["properties"]["serviceEndpoints"],
            json!([{"service": "Microsoft.ContainerRegistry", "locations": ["*"]}])
        );
        assert!(body.get("etag").is_none());
        assert!(body["properties"].get("provisioningState").is_none());
    }

    #[test]
    fn an_empty_change_changes_nothing_but_read_only_fields() {
        let body = subnet_with_change(&subnet(), &SubnetChange::default());
        let mut expected = subnet();
        expected.as_object_mut().unwrap().remove("etag");
        expected["properties"]
            .as_object_mut()
            .unwrap()
            .remove("provisioningState");
        assert_eq!(body, expected);
    }
}
