//! The resource table of the emulated ARM, indexed so that requests cost the same with ten
//! resources or a hundred thousand: resources by type, the resources within an id (a range of the
//! sorted keys), and who references whom (`{"id": ...}` links in bodies).

use crate::error::ApiError;
use crate::path::{self, ProviderPath, is_within, key, normalize_location};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::{Deref, DerefMut};

/// A stored resource.
#[derive(Clone, Debug, Serialize)]
pub struct Resource {
    /// Id with the casing of the last write.
    pub id: String,
    /// Stored body (computed fields are added when rendering).
    pub body: Value,
    /// Power state (`running`, `deallocated`, ...) of the resources that have one (virtual
    /// machines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power_state: Option<String>,
}

impl Resource {
    /// The lowercase resource type, the key rules and indexes use.
    pub fn type_lower(&self) -> String {
        self.body["type"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase()
    }

    /// `properties.provisioningState` (`Succeeded` when absent).
    pub fn provisioning_state(&self) -> &str {
        self.body
            .pointer("/properties/provisioningState")
            .and_then(Value::as_str)
            .unwrap_or("Succeeded")
    }

    /// The normalised location, if the resource has one.
    pub fn location(&self) -> Option<String> {
        self.body["location"].as_str().map(normalize_location)
    }
}

/// A new weak etag.
pub fn new_etag() -> String {
    format!("W/\"{}\"", uuid::Uuid::new_v4())
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

/// Resources by key (the lowercase id), with their indexes.
#[derive(Default)]
pub struct Resources {
    map: BTreeMap<String, Resource>,
    /// Lowercase type -> keys of that type.
    by_type: HashMap<String, BTreeSet<String>>,
    /// Referenced key -> keys of the resources whose bodies reference it.
    referrers: HashMap<String, BTreeSet<String>>,
    /// Key -> the keys its body references (to unindex it).
    references: HashMap<String, Vec<String>>,
}

/// Index entries of one resource.
struct IndexEntry {
    type_key: String,
    references: Vec<String>,
}

fn index_entry(resource: &Resource) -> IndexEntry {
    let mut links: Vec<String> = references(&resource.body)
        .iter()
        .map(|id| key(id))
        .collect();
    links.sort();
    links.dedup();
    IndexEntry {
        type_key: resource.type_lower(),
        references: links,
    }
}

/// The indexes, borrowed apart from the map so a [`ResourceMut`] can hold both.
struct Indexes<'a> {
    by_type: &'a mut HashMap<String, BTreeSet<String>>,
    referrers: &'a mut HashMap<String, BTreeSet<String>>,
    references: &'a mut HashMap<String, Vec<String>>,
}

impl Indexes<'_> {
    fn add(&mut self, k: &str, entry: IndexEntry) {
        self.by_type
            .entry(entry.type_key)
            .or_default()
            .insert(k.to_string());
        for target in &entry.references {
            self.referrers
                .entry(target.clone())
                .or_default()
                .insert(k.to_string());
        }
        self.references.insert(k.to_string(), entry.references);
    }

    fn remove(&mut self, k: &str, type_key: &str) {
        if let Some(keys) = self.by_type.get_mut(type_key) {
            keys.remove(k);
            if keys.is_empty() {
                self.by_type.remove(type_key);
            }
        }
        for target in self.references.remove(k).unwrap_or_default() {
            if let Some(users) = self.referrers.get_mut(&target) {
                users.remove(k);
                if users.is_empty() {
                    self.referrers.remove(&target);
                }
            }
        }
    }
}

impl Resources {
    fn indexes(&mut self) -> Indexes<'_> {
        Indexes {
            by_type: &mut self.by_type,
            referrers: &mut self.referrers,
            references: &mut self.references,
        }
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// The resource stored under `k` (a [`key`]).
    pub fn get(&self, k: &str) -> Option<&Resource> {
        self.map.get(k)
    }

    /// Whether a resource is stored under `k`.
    pub fn contains_key(&self, k: &str) -> bool {
        self.map.contains_key(k)
    }

    /// Stores a resource under `k`, replacing (and unindexing) what was there.
    pub fn insert(&mut self, k: String, resource: Resource) {
        self.remove(&k);
        let entry = index_entry(&resource);
        self.indexes().add(&k, entry);
        self.map.insert(k, resource);
    }

    /// Removes the resource under `k`.
    pub fn remove(&mut self, k: &str) -> Option<Resource> {
        let old = self.map.remove(k)?;
        let type_key = old.type_lower();
        self.indexes().remove(k, &type_key);
        Some(old)
    }

    /// The resource under `k`, to change in place; the indexes follow the change when the
    /// returned guard is dropped.
    pub fn get_mut(&mut self, k: &str) -> Option<ResourceMut<'_>> {
        let resource = self.map.get_mut(k)?;
        let type_key = resource.type_lower();
        Some(ResourceMut {
            key: k.to_string(),
            type_key,
            resource,
            indexes: Indexes {
                by_type: &mut self.by_type,
                referrers: &mut self.referrers,
                references: &mut self.references,
            },
        })
    }

    /// Every key, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.map.keys()
    }

    /// The resource at `outer` (a key) and every resource below it, on segment boundaries.
    pub fn within<'a>(&'a self, outer: &str) -> impl Iterator<Item = (&'a String, &'a Resource)> {
        let outer = outer.trim_end_matches('/');
        // Keys below `outer` start with `outer/`; '0' is the character after '/', so the range
        // holds exactly them (a sibling such as `outer-x` sorts before `outer/`).
        let below = self.map.range(format!("{outer}/")..format!("{outer}0"));
        self.map.get_key_value(outer).into_iter().chain(below)
    }

    /// Every resource of a type (lowercase), by sorted key.
    pub fn of_type<'a>(
        &'a self,
        type_key: &str,
    ) -> impl Iterator<Item = (&'a String, &'a Resource)> {
        self.by_type
            .get(type_key)
            .into_iter()
            .flatten()
            .filter_map(|k| self.map.get_key_value(k))
    }

    /// Keys of the resources whose bodies reference `target` (a key), sorted.
    pub fn referrers<'a>(&'a self, target: &str) -> impl Iterator<Item = &'a String> {
        self.referrers.get(target).into_iter().flatten()
    }

    /// Ids of the resources (outside `target`) that link to `target` with an `{"id": ...}`
    /// reference.
    pub fn linked_from(&self, target: &str) -> Vec<String> {
        let target = key(target);
        self.referrers(&target)
            .filter(|k| !is_within(k, &target))
            .filter_map(|k| self.get(k))
            .map(|r| r.id.clone())
            .collect()
    }

    /// Whether resource group `name` exists in subscription `sub`.
    pub fn group_exists(&self, sub: &str, name: &str) -> bool {
        self.contains_key(&key(&path::resource_group_id(sub, name)))
    }

    /// 404 unless the scope of a provider path (its resource group, or the resource an extension
    /// resource hangs off) exists.
    pub fn scope_exists(&self, path: &ProviderPath) -> Result<(), ApiError> {
        if let Some(rg) = &path.scope.resource_group
            && !self.group_exists(&path.scope.subscription, rg)
        {
            return Err(ApiError::group_not_found(rg));
        }
        if path.scope.is_resource && !self.contains_key(&key(&path.scope.path)) {
            return Err(ApiError::new(
                404,
                "ResourceNotFound",
                format!("The Resource '{}' was not found.", path.scope.path),
            ));
        }
        Ok(())
    }
}

/// A resource being changed in place; dropping it re-indexes the resource.
pub struct ResourceMut<'a> {
    key: String,
    type_key: String,
    resource: &'a mut Resource,
    indexes: Indexes<'a>,
}

impl Deref for ResourceMut<'_> {
    type Target = Resource;
    fn deref(&self) -> &Resource {
        self.resource
    }
}

impl DerefMut for ResourceMut<'_> {
    fn deref_mut(&mut self) -> &mut Resource {
        self.resource
    }
}

impl Drop for ResourceMut<'_> {
    fn drop(&mut self) {
        let entry = index_entry(self.resource);
        self.indexes.remove(&self.key, &self.type_key);
        self.indexes.add(&self.key, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(id: &str, kind: &str, body_extra: serde_json::Value) -> Resource {
        let mut body = json!({"id": id, "type": kind});
        if let Some(extra) = body_extra.as_object() {
            for (k, v) in extra {
                body[k] = v.clone();
            }
        }
        Resource {
            id: id.to_string(),
            body,
            power_state: None,
        }
    }

    fn put(store: &mut Resources, r: Resource) {
        store.insert(key(&r.id), r);
    }

    const VNET: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet";

    /// A store with the VNet `VNET` and one subnet of it.
    fn vnet_with_subnet(subnet: &str) -> Resources {
        let mut store = Resources::default();
        put(
            &mut store,
            resource(VNET, "Microsoft.Network/virtualNetworks", json!({})),
        );
        put(
            &mut store,
            resource(
                &format!("{VNET}/subnets/{subnet}"),
                "Microsoft.Network/virtualNetworks/subnets",
                json!({}),
            ),
        );
        store
    }

    #[test]
    fn within_holds_the_resource_and_what_is_below_it_but_no_sibling() {
        let mut store = vnet_with_subnet("a");
        put(
            &mut store,
            resource(
                &format!("{VNET}-x"),
                "Microsoft.Network/virtualNetworks",
                json!({}),
            ),
        );
        put(
            &mut store,
            resource(
                &format!("{VNET}-x/subnets/b"),
                "Microsoft.Network/virtualNetworks/subnets",
                json!({}),
            ),
        );
        let within: Vec<&String> = store.within(&key(VNET)).map(|(k, _)| k).collect();
        assert_eq!(within, vec![&key(VNET), &key(&format!("{VNET}/subnets/a"))]);
        assert_eq!(store.within(&format!("{}/", key(VNET))).count(), 2);
        assert_eq!(store.within("/subscriptions/none").count(), 0);
    }

    #[test]
    fn referrers_follow_inserts_changes_and_removals() {
        let nsg = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/NSG";
        let subnet = format!("{VNET}/subnets/a");
        let mut store = Resources::default();
        put(
            &mut store,
            resource(
                &subnet,
                "Microsoft.Network/virtualNetworks/subnets",
                json!({"properties": {"networkSecurityGroup": {"id": nsg}}}),
            ),
        );
        let users: Vec<&String> = store.referrers(&key(nsg)).collect();
        assert_eq!(users, vec![&key(&subnet)]);

        if let Some(mut r) = store.get_mut(&key(&subnet)) {
            r.body["properties"] = json!({});
        }
        assert_eq!(store.referrers(&key(nsg)).count(), 0);

        if let Some(mut r) = store.get_mut(&key(&subnet)) {
            r.body["properties"]["networkSecurityGroup"] = json!({"id": nsg});
        }
        assert_eq!(store.referrers(&key(nsg)).count(), 1);
        store.remove(&key(&subnet));
        assert_eq!(store.referrers(&key(nsg)).count(), 0);
        assert!(store.referrers.is_empty() && store.references.is_empty());
    }

    #[test]
    fn references_skip_own_id() {
        let body = json!({"id": "self", "properties": {"networkSecurityGroup": {"id": "nsg"},
            "ipConfigurations": [{"id": "self/ipc", "properties": {"subnet": {"id": "sub"}}}]}});
        let mut refs = references(&body);
        refs.sort();
        assert_eq!(refs, vec!["nsg", "self/ipc", "sub"]);
    }

    #[test]
    fn of_type_lists_one_type_case_insensitively_stored() {
        let mut store = vnet_with_subnet("a");
        assert_eq!(
            store.of_type("microsoft.network/virtualnetworks").count(),
            1
        );
        assert_eq!(
            store
                .of_type("microsoft.network/virtualnetworks/subnets")
                .count(),
            1
        );
        store.remove(&key(VNET));
        assert_eq!(
            store.of_type("microsoft.network/virtualnetworks").count(),
            0
        );
        assert!(
            !store
                .by_type
                .contains_key("microsoft.network/virtualnetworks")
        );
        store.clear();
        assert_eq!(store.keys().count(), 0);
    }
}
