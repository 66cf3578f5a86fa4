//! Discovery documents: `/api`, `/api/v1`, `/apis`, `/apis/{group}`, `/apis/{group}/{version}`.

use serde_json::{Value, json};

use crate::auth::reviews;
use crate::registry::{GroupInfo, Registry, VIRTUAL_RESOURCES};

pub fn api_versions(server_url: &str) -> Value {
    let address = server_url
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    })
}

fn group_json(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(Value::Null)})
}

/// The served groups: the registry's and the create-only ones (access reviews).
fn groups(registry: &Registry) -> Vec<GroupInfo> {
    let mut groups = registry.groups();
    if !groups.iter().any(|g| g.name == reviews::GROUP) {
        groups.push(GroupInfo {
            name: reviews::GROUP.into(),
            versions: vec![reviews::VERSION.into()],
        });
    }
    groups
}

pub fn api_groups(registry: &Registry) -> Value {
    let groups: Vec<Value> = groups(registry)
        .iter()
        .map(|g| group_json(&g.name, &g.versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn api_group(registry: &Registry, name: &str) -> Option<Value> {
    let g = groups(registry).into_iter().find(|g| g.name == name)?;
    let mut v = group_json(&g.name, &g.versions);
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let types = registry.group_version(group, version);
    let virtual_resources: Vec<Value> = VIRTUAL_RESOURCES
        .iter()
        .filter(|v| v.group == group && v.version == version)
        .map(|v| v.discovery_entry())
        .collect();
    if types.is_empty() && virtual_resources.is_empty() {
        return None;
    }
    let resources: Vec<Value> = types
        .iter()
        .flat_map(|r| r.discovery_entries())
        .chain(virtual_resources)
        .collect();
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}
