//! Microsoft.Network: virtual networks and their subnets (address space, inline subnets, network
//! policies), links between network resources (they must exist, and linking needs `join/action`
//! on the target), in-use protection on delete, back-references shown on GET, per-write etags,
//! and public IP usages. DNS zones, though in this namespace, are in `dns`.

use super::{Children, Context, ProviderRules, Put, TypeTraits};
use crate::error::ApiError;
use crate::path::{is_within, key, last_segment, normalize_location};
use crate::resources::{Resource, Resources, new_etag, references};
use aro_common::ResourceId;
use ipnet::IpNet;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const VIRTUAL_NETWORK: &str = "microsoft.network/virtualnetworks";
const SUBNET: &str = "microsoft.network/virtualnetworks/subnets";
const PRIVATE_LINK_SERVICE: &str = "microsoft.network/privatelinkservices";
const PUBLIC_IP_ADDRESS: &str = "microsoft.network/publicipaddresses";

/// Types whose references must exist when another resource links to them.
const VALIDATED_REFERENCES: &[&str] = &[
    "microsoft.network/virtualnetworks",
    "microsoft.network/virtualnetworks/subnets",
    "microsoft.network/networksecuritygroups",
    "microsoft.network/routetables",
    "microsoft.network/natgateways",
    "microsoft.network/publicipaddresses",
    "microsoft.network/networkinterfaces",
    "microsoft.network/loadbalancers",
    "microsoft.network/privatelinkservices",
];

/// Types a linking resource needs `join/action` on.
const JOINABLE: &[&str] = &[
    "microsoft.network/virtualnetworks/subnets",
    "microsoft.network/networksecuritygroups",
    "microsoft.network/routetables",
    "microsoft.network/natgateways",
    "microsoft.network/publicipaddresses",
];

/// Types that get a `resourceGuid`, kept across updates.
const WITH_RESOURCE_GUID: &[&str] = &[
    "microsoft.network/virtualnetworks",
    "microsoft.network/networksecuritygroups",
    "microsoft.network/routetables",
    "microsoft.network/natgateways",
    "microsoft.network/publicipaddresses",
    "microsoft.network/loadbalancers",
    "microsoft.network/privatelinkservices",
    "microsoft.network/privateendpoints",
];

/// The traits every Microsoft.Network type shares: creates report `Updating`, writes get etags.
pub(crate) fn network_traits() -> TypeTraits {
    TypeTraits {
        updating_on_create: true,
        etag_per_write: true,
        ..TypeTraits::default()
    }
}

/// The rules of Microsoft.Network (but DNS).
pub(crate) struct Network;

impl ProviderRules for Network {
    fn traits(&self, _type_lower: &str) -> TypeTraits {
        network_traits()
    }

    fn prepare_put(
        &self,
        cx: &Context<'_>,
        put: &Put<'_>,
        body: &mut Value,
    ) -> Result<Children, ApiError> {
        let mut children = Children::default();
        match put.resource_type.to_ascii_lowercase().as_str() {
            VIRTUAL_NETWORK => children = prepare_vnet(cx, put.id, body)?,
            // A subnet checks its links itself, as the write of a subnet.
            SUBNET => return prepare_subnet(cx, put, body).map(|()| children),
            PRIVATE_LINK_SERVICE => check_pls_subnets(cx.resources, body)?,
            _ => {}
        }
        check_links(cx, &put.write_action(), put.id, body)?;
        Ok(children)
    }

    fn complete(&self, put: &Put<'_>, stored: &mut Value) {
        let type_lower = put.resource_type.to_ascii_lowercase();
        if WITH_RESOURCE_GUID.contains(&type_lower.as_str()) {
            let kept = put
                .existing
                .and_then(|e| e.body.pointer("/properties/resourceGuid").cloned());
            stored["properties"]["resourceGuid"] =
                kept.unwrap_or_else(|| uuid::Uuid::new_v4().to_string().into());
        }
    }

    fn check_delete(&self, cx: &Context<'_>, type_lower: &str, id: &str) -> Result<(), ApiError> {
        check_not_in_use(cx.resources, type_lower, id)
    }

    fn render(
        &self,
        resources: &Resources,
        k: &str,
        resource: &Resource,
        body: &mut Value,
        _expand_instance_view: bool,
    ) {
        match resource.type_lower().as_str() {
            VIRTUAL_NETWORK => {
                let subnets: Vec<Value> = resources
                    .within(k)
                    .filter(|(ck, c)| *ck != k && c.type_lower() == SUBNET)
                    .map(|(_, c)| c.body.clone())
                    .collect();
                body["properties"]["subnets"] = Value::Array(subnets);
            }
            "microsoft.network/networksecuritygroups"
            | "microsoft.network/routetables"
            | "microsoft.network/natgateways" => {
                let subnets: Vec<Value> = resources
                    .linked_from(k)
                    .into_iter()
                    .filter(|rid| {
                        resources
                            .get(&key(rid))
                            .is_some_and(|c| c.type_lower() == SUBNET)
                    })
                    .map(|rid| json!({"id": rid}))
                    .collect();
                body["properties"]["subnets"] = Value::Array(subnets);
            }
            SUBNET => {
                let configs: Vec<Value> = resources
                    .linked_from(k)
                    .into_iter()
                    .map(|rid| json!({"id": rid}))
                    .collect();
                if !configs.is_empty() {
                    body["properties"]["ipConfigurations"] = Value::Array(configs);
                }
            }
            _ => {}
        }
    }

    fn usages(&self, cx: &Context<'_>, subscription: &str, location: &str) -> Option<Vec<Value>> {
        let public_ips = cx
            .resources
            .of_type(PUBLIC_IP_ADDRESS)
            .filter(|(k, r)| {
                is_within(k, &format!("/subscriptions/{subscription}"))
                    && r.location().as_deref() == Some(normalize_location(location).as_str())
            })
            .count() as u64;
        Some(network_usages(
            subscription,
            location,
            public_ips,
            &cx.capacity.quotas,
        ))
    }
}

/// Links from a body to Microsoft.Network resources: the validated types must exist, and the
/// joinable ones need `join/action` of the caller, who writes `id` with `write_action`.
pub(crate) fn check_links(
    cx: &Context<'_>,
    write_action: &str,
    id: &str,
    body: &Value,
) -> Result<(), ApiError> {
    for reference in references(body) {
        if is_within(&reference, id) {
            continue;
        }
        // Only links that are resource ids in a resource group, written out in full, are checked.
        let Ok(target) = ResourceId::parse(&reference) else {
            continue;
        };
        if key(&target.to_string()) != key(&reference) {
            continue;
        }
        let target_type = target.resource_type().to_ascii_lowercase();
        if VALIDATED_REFERENCES.contains(&target_type.as_str())
            && !cx.resources.contains_key(&key(&reference))
        {
            return Err(ApiError::bad_request(
                "InvalidResourceReference",
                format!(
                    "Resource {reference} referenced by resource {id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."
                ),
            ));
        }
        if JOINABLE.contains(&target_type.as_str()) {
            cx.authorize_linked(
                write_action,
                id,
                &format!("{}/join/action", target.resource_type()),
                &reference,
            )?;
        }
    }
    Ok(())
}

fn subnet_ranges_of(
    resources: &Resources,
    vnet_key: &str,
    except: &str,
) -> Vec<(String, Vec<IpNet>)> {
    let except = key(except);
    resources
        .within(vnet_key)
        .filter(|(k, r)| r.type_lower() == SUBNET && **k != except)
        .filter_map(|(_, r)| {
            subnet_prefixes(&r.body, &r.id)
                .ok()
                .map(|p| (r.id.clone(), p))
        })
        .collect()
}

fn prepare_subnet(cx: &Context<'_>, put: &Put<'_>, body: &mut Value) -> Result<(), ApiError> {
    let pp = put.path;
    let vnet_id = pp.id_of(pp.segments.len() - 2);
    let vnet = cx
        .resources
        .get(&key(&vnet_id))
        .ok_or_else(|| ApiError::not_found_at(pp, pp.segments.len() - 2))?;
    let space = vnet_prefixes(&vnet.body, &vnet_id)?;
    let prefixes = subnet_prefixes(body, put.id)?;
    check_subnet_ranges(
        put.id,
        &vnet_id,
        &prefixes,
        &space,
        &subnet_ranges_of(cx.resources, &key(&vnet_id), put.id),
    )?;
    default_subnet_policies(body);
    check_links(
        cx,
        "Microsoft.Network/virtualNetworks/subnets/write",
        put.id,
        body,
    )
}

/// Validates a VNet PUT; returns inline subnets to write and existing subnets to remove.
fn prepare_vnet(cx: &Context<'_>, id: &str, body: &mut Value) -> Result<Children, ApiError> {
    let space = vnet_prefixes(body, id)?;
    let inline = body["properties"]
        .as_object_mut()
        .and_then(|p| p.remove("subnets"))
        .and_then(|s| s.as_array().cloned())
        .unwrap_or_default();
    let mut children: Vec<(String, Value)> = Vec::new();
    let mut ranges: Vec<(String, Vec<IpNet>)> = Vec::new();
    for s in inline {
        let name = s["name"]
            .as_str()
            .map(str::to_string)
            .or_else(|| s["id"].as_str().map(|i| last_segment(i).to_string()))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "InvalidRequestFormat",
                    "Every subnet in properties.subnets needs a name.",
                )
                .with_target("properties.subnets")
            })?;
        let child_id = format!("{id}/subnets/{name}");
        let mut child = json!({
            "id": child_id,
            "name": name,
            "type": "Microsoft.Network/virtualNetworks/subnets",
            "properties": s.get("properties").cloned().filter(Value::is_object).unwrap_or_else(|| json!({})),
            "etag": new_etag(),
        });
        let prefixes = subnet_prefixes(&child, &child_id)?;
        check_subnet_ranges(&child_id, id, &prefixes, &space, &ranges)?;
        default_subnet_policies(&mut child);
        check_links(
            cx,
            "Microsoft.Network/virtualNetworks/subnets/write",
            &child_id,
            &child,
        )?;
        ranges.push((child_id.clone(), prefixes));
        children.push((child_id, child));
    }
    let kept: Vec<String> = children.iter().map(|(c, _)| key(c)).collect();
    let mut removed = Vec::new();
    for (k, r) in cx.resources.within(&key(id)) {
        if r.type_lower() == SUBNET && !kept.contains(k) {
            check_not_in_use(cx.resources, SUBNET, &r.id)?;
            removed.push(k.clone());
        }
    }
    Ok(Children {
        written: children,
        removed,
    })
}

fn check_pls_subnets(resources: &Resources, body: &Value) -> Result<(), ApiError> {
    let configs = body
        .pointer("/properties/ipConfigurations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in configs {
        let Some(subnet) = c.pointer("/properties/subnet/id").and_then(Value::as_str) else {
            continue;
        };
        if let Some(s) = resources.get(&key(subnet))
            && s.body
                .pointer("/properties/privateLinkServiceNetworkPolicies")
                .and_then(Value::as_str)
                != Some("Disabled")
        {
            return Err(ApiError::bad_request(
                "PrivateLinkServiceNetworkPoliciesCannotBeEnabledOnPrivateLinkServiceSubnet",
                format!(
                    "Private link service network policies cannot be enabled on private link service subnet {subnet}."
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses to delete a resource other resources still link to (a VNet: any of its subnets).
fn check_not_in_use(resources: &Resources, type_lower: &str, id: &str) -> Result<(), ApiError> {
    let (code, kind) = match type_lower {
        VIRTUAL_NETWORK => {
            for (_, r) in resources.within(&key(id)) {
                if r.type_lower() == SUBNET {
                    check_not_in_use(resources, SUBNET, &r.id)?;
                }
            }
            return Ok(());
        }
        SUBNET => ("InUseSubnetCannotBeDeleted", "Subnet"),
        "microsoft.network/networksecuritygroups" => (
            "InUseNetworkSecurityGroupCannotBeDeleted",
            "Network security group",
        ),
        "microsoft.network/routetables" => ("InUseRouteTableCannotBeDeleted", "Route table"),
        "microsoft.network/natgateways" => ("InUseNatGatewayCannotBeDeleted", "NAT gateway"),
        PUBLIC_IP_ADDRESS => ("PublicIPAddressCannotBeDeleted", "Public IP address"),
        _ => return Ok(()),
    };
    let users = resources.linked_from(id);
    match users.first() {
        None => Ok(()),
        Some(user) => Err(ApiError::bad_request(
            code,
            format!(
                "{kind} {} is in use by {user} and cannot be deleted. In order to delete it, remove all references to it first.",
                last_segment(id)
            ),
        )),
    }
}

/// Network usages for a location (public IP quota is what the RP checks).
pub fn network_usages(
    subscription: &str,
    location: &str,
    public_ips: u64,
    quotas: &BTreeMap<String, u64>,
) -> Vec<Value> {
    let loc = normalize_location(location);
    ["PublicIPAddresses", "StandardSkuPublicIpAddresses"]
        .into_iter()
        .map(|name| {
            json!({
                "id": format!("/subscriptions/{subscription}/providers/Microsoft.Network/locations/{loc}/usages/{name}"),
                "unit": "Count",
                "currentValue": public_ips,
                "limit": quotas.get(name).copied().unwrap_or(1000),
                "name": {"value": name, "localizedValue": name},
            })
        })
        .collect()
}

/// Parses a CIDR that must be a network address (Azure rejects host bits).
pub fn parse_prefix(prefix: &str, resource_id: &str) -> Result<IpNet, ApiError> {
    let net: IpNet = prefix.trim().parse().map_err(|_| {
        ApiError::bad_request(
            "InvalidCIDRNotation",
            format!("The address prefix {prefix} in resource {resource_id} has an invalid CIDR notation."),
        )
    })?;
    if net.trunc() != net {
        return Err(ApiError::bad_request(
            "InvalidCIDRNotation",
            format!(
                "The address prefix {prefix} in resource {resource_id} has an invalid CIDR notation. For the given prefix length, the address prefix should be {}.",
                net.trunc()
            ),
        ));
    }
    Ok(net)
}

/// The prefixes of a subnet body (`addressPrefix` or `addressPrefixes`).
pub fn subnet_prefixes(body: &Value, subnet_id: &str) -> Result<Vec<IpNet>, ApiError> {
    let props = &body["properties"];
    let mut raw: Vec<String> = Vec::new();
    if let Some(p) = props["addressPrefix"].as_str() {
        raw.push(p.to_string());
    }
    if let Some(list) = props["addressPrefixes"].as_array() {
        raw.extend(list.iter().filter_map(|v| v.as_str().map(str::to_string)));
    }
    if raw.is_empty() {
        return Err(ApiError::bad_request(
            "NetcfgInvalidSubnet",
            format!("Subnet {subnet_id} is not valid: it has no addressPrefix."),
        )
        .with_target("properties.addressPrefix"));
    }
    raw.iter().map(|p| parse_prefix(p, subnet_id)).collect()
}

/// The address space of a virtual network body.
pub fn vnet_prefixes(body: &Value, vnet_id: &str) -> Result<Vec<IpNet>, ApiError> {
    let list = body
        .pointer("/properties/addressSpace/addressPrefixes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if list.is_empty() {
        return Err(ApiError::bad_request(
            "InvalidAddressSpace",
            format!("Virtual network {vnet_id} must have at least one address prefix in properties.addressSpace.addressPrefixes."),
        )
        .with_target("properties.addressSpace.addressPrefixes"));
    }
    list.iter()
        .map(|p| parse_prefix(p.as_str().unwrap_or_default(), vnet_id))
        .collect()
}

/// Checks a subnet's prefixes against the vnet's address space and the sibling subnets.
pub fn check_subnet_ranges(
    subnet_id: &str,
    vnet_id: &str,
    prefixes: &[IpNet],
    vnet_space: &[IpNet],
    siblings: &[(String, Vec<IpNet>)],
) -> Result<(), ApiError> {
    for p in prefixes {
        if !vnet_space.iter().any(|space| space.contains(p)) {
            return Err(ApiError::bad_request(
                "NetcfgSubnetRangeOutsideVnet",
                format!(
                    "Subnet '{}' is not valid because its IP address range {p} is outside the IP address range of virtual network '{}'.",
                    last_segment(subnet_id),
                    last_segment(vnet_id)
                ),
            ));
        }
        for (sibling, ranges) in siblings {
            if ranges.iter().any(|r| r.contains(p) || p.contains(r)) {
                return Err(ApiError::bad_request(
                    "NetcfgSubnetRangesOverlap",
                    format!(
                        "Subnet '{}' is not valid because its IP address range {p} overlaps with that of an existing subnet '{}' in virtual network '{}'.",
                        last_segment(subnet_id),
                        last_segment(sibling),
                        last_segment(vnet_id)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Fills the defaults Azure reports for a subnet's network policies.
pub fn default_subnet_policies(body: &mut Value) {
    let props = &mut body["properties"];
    if props.get("privateEndpointNetworkPolicies").is_none() {
        props["privateEndpointNetworkPolicies"] = "Disabled".into();
    }
    if props.get("privateLinkServiceNetworkPolicies").is_none() {
        props["privateLinkServiceNetworkPolicies"] = "Enabled".into();
    }
    if let Some(endpoints) = props
        .get_mut("serviceEndpoints")
        .and_then(Value::as_array_mut)
    {
        for e in endpoints {
            if e.get("provisioningState").is_none() {
                e["provisioningState"] = "Succeeded".into();
            }
            if e.get("locations").is_none() {
                e["locations"] = json!(["*"]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Caller;
    use crate::rules::Capacity;
    use crate::rules::testing::{restricted, store};

    const VNET: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v";
    const NSG: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg";

    fn context<'a>(resources: &'a Resources, caller: &'a Caller) -> Context<'a> {
        static CAPACITY: std::sync::LazyLock<Capacity> =
            std::sync::LazyLock::new(Capacity::default);
        Context {
            resources,
            caller,
            capacity: &CAPACITY,
        }
    }

    fn linking(id: &str) -> Value {
        json!({"properties": {"networkSecurityGroup": {"id": id}}})
    }

    #[test]
    fn links_must_name_existing_resources_and_joinable_ones_need_join() {
        let resources = store(&[(NSG, "Microsoft.Network/networkSecurityGroups", json!({}))]);
        let (system, limited) = (Caller::system(), restricted());
        let cx = context(&resources, &system);
        assert!(check_links(&cx, "w", "/x", &linking(NSG)).is_ok());
        let missing = NSG.replace("/nsg", "/missing");
        let e = check_links(&cx, "w", "/x", &linking(&missing)).unwrap_err();
        assert_eq!(e.code, "InvalidResourceReference");
        // Only full resource ids in a resource group are checked.
        for unchecked in [
            missing.trim_start_matches('/'),
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups",
            "/subscriptions/s/resourceGroups/rg",
        ] {
            assert!(
                check_links(&cx, "w", "/x", &linking(unchecked)).is_ok(),
                "{unchecked}"
            );
        }
        let e = check_links(&context(&resources, &limited), "w", "/x", &linking(NSG)).unwrap_err();
        assert_eq!(e.code, "LinkedAuthorizationFailed");
        assert!(
            e.message
                .contains("'Microsoft.Network/networkSecurityGroups/join/action'"),
            "{}",
            e.message
        );
    }

    #[test]
    fn linked_resources_cannot_be_deleted_and_show_their_subnets() {
        let subnet = format!("{VNET}/subnets/a");
        let resources = store(&[
            (VNET, "Microsoft.Network/virtualNetworks", json!({})),
            (
                &subnet,
                "Microsoft.Network/virtualNetworks/subnets",
                json!({"networkSecurityGroup": {"id": NSG}}),
            ),
            (NSG, "Microsoft.Network/networkSecurityGroups", json!({})),
        ]);
        let system = Caller::system();
        let cx = context(&resources, &system);
        let e = Network
            .check_delete(&cx, "microsoft.network/networksecuritygroups", NSG)
            .unwrap_err();
        assert_eq!(e.code, "InUseNetworkSecurityGroupCannotBeDeleted");
        assert!(
            e.message
                .starts_with("Network security group nsg is in use by")
        );
        // The VNet and its subnet are not linked from outside.
        assert!(Network.check_delete(&cx, VIRTUAL_NETWORK, VNET).is_ok());
        let nsg = cx.render(&key(NSG), false).unwrap();
        assert_eq!(nsg["properties"]["subnets"], json!([{"id": subnet}]));
        let vnet = cx.render(&key(VNET), false).unwrap();
        assert_eq!(vnet["properties"]["subnets"][0]["id"], json!(subnet));
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn host_bits_are_rejected() {
        assert_eq!(
            parse_prefix("10.0.0.0/23", "x").unwrap().to_string(),
            "10.0.0.0/23"
        );
        let e = parse_prefix("10.0.0.1/23", "x").unwrap_err();
        assert_eq!(e.code, "InvalidCIDRNotation");
        assert!(e.message.contains("10.0.0.0/23"));
        assert!(parse_prefix("nonsense", "x").is_err());
    }

    #[test]
    fn subnet_ranges_inside_and_disjoint() {
        let space = nets(&["10.0.0.0/22"]);
        let siblings = vec![("master".to_string(), nets(&["10.0.0.0/23"]))];
        assert!(
            check_subnet_ranges("s/worker", "v", &nets(&["10.0.2.0/23"]), &space, &siblings)
                .is_ok()
        );
        let e = check_subnet_ranges("s/worker", "v", &nets(&["10.0.1.0/24"]), &space, &siblings)
            .unwrap_err();
        assert_eq!(e.code, "NetcfgSubnetRangesOverlap");
        let e = check_subnet_ranges("s/worker", "v", &nets(&["10.0.4.0/24"]), &space, &siblings)
            .unwrap_err();
        assert_eq!(e.code, "NetcfgSubnetRangeOutsideVnet");
    }

    #[test]
    fn a_subnet_needs_a_prefix() {
        let e = subnet_prefixes(&json!({"properties": {}}), "s").unwrap_err();
        assert_eq!(e.code, "NetcfgInvalidSubnet");
    }
}
