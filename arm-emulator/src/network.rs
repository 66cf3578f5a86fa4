//! Address-space rules of virtual networks and subnets (pure).

use crate::error::ApiError;
use ipnet::IpNet;
use serde_json::Value;

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
                    crate::path::last_segment(subnet_id),
                    crate::path::last_segment(vnet_id)
                ),
            ));
        }
        for (sibling, ranges) in siblings {
            if ranges.iter().any(|r| r.contains(p) || p.contains(r)) {
                return Err(ApiError::bad_request(
                    "NetcfgSubnetRangesOverlap",
                    format!(
                        "Subnet '{}' is not valid because its IP address range {p} overlaps with that of an existing subnet '{}' in virtual network '{}'.",
                        crate::path::last_segment(subnet_id),
                        crate::path::last_segment(sibling),
                        crate::path::last_segment(vnet_id)
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
                e["locations"] = serde_json::json!(["*"]);
            }
        }
    }
}

/// Every `{"id": ...}` reference inside a body (not the body's own top-level id).
pub fn references(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(obj) = body.as_object() {
        for (k, v) in obj {
            if k != "id" {
                collect_refs(v, &mut out);
            }
        }
    }
    out
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(id) = map.get("id").and_then(Value::as_str) {
                out.push(id.to_string());
            }
            for (k, child) in map {
                if k != "id" {
                    collect_refs(child, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn references_skip_own_id() {
        let body = json!({"id": "self", "properties": {"networkSecurityGroup": {"id": "nsg"},
            "ipConfigurations": [{"id": "self/ipc", "properties": {"subnet": {"id": "sub"}}}]}});
        let mut refs = references(&body);
        refs.sort();
        assert_eq!(refs, vec!["nsg", "self/ipc", "sub"]);
        let e = subnet_prefixes(&json!({"properties": {}}), "s").unwrap_err();
        assert_eq!(e.code, "NetcfgInvalidSubnet");
    }
}
