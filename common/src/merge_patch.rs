//! Writes of shared custom resources as JSON merge patches of what the writer changed
//! (docs/decisions/0002): a typed read-modify-write never sends the whole object back, so the
//! fields a newer replica wrote that this version's structs do not declare stay on the server.
//!
//! [`diff`] is the RFC 7386 merge patch from the object as read to the object as wanted; only
//! the keys that differ are in it (a removed key as `null`). [`guarded`] adds the read
//! `metadata.resourceVersion` as a precondition: the API server answers 409 Conflict when the
//! object changed since, as a `replace` did. Arrays are replaced whole by a merge patch: an
//! array this writer changes loses what a newer writer put inside its items.

use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The merge patch that turns `old` into `new` (`Value::Object` of the differing keys;
/// an empty object when they are equal).
pub fn diff(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = Map::new();
            for (key, value) in new {
                match old.get(key) {
                    Some(previous) if previous == value => {}
                    Some(previous @ Value::Object(_)) if value.is_object() => {
                        let nested = diff(previous, value);
                        if nested.as_object().is_some_and(|o| !o.is_empty()) {
                            patch.insert(key.clone(), nested);
                        }
                    }
                    _ => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            for key in old.keys() {
                if !new.contains_key(key) {
                    patch.insert(key.clone(), Value::Null);
                }
            }
            Value::Object(patch)
        }
        _ => new.clone(),
    }
}

/// The merge patch from `old` (as read) to `new`, with `old`'s resourceVersion as precondition;
/// `None` when nothing changed.
pub fn guarded<K: Serialize + kube::Resource>(
    old: &K,
    new: &K,
) -> Result<Option<Value>, serde_json::Error> {
    let mut patch = diff(&serde_json::to_value(old)?, &serde_json::to_value(new)?);
    let Some(fields) = patch.as_object_mut() else {
        return Ok(Some(patch));
    };
    // Status writes see the spec unchanged and vice versa; the resourceVersion is no change.
    if let Some(Value::Object(meta)) = fields.get_mut("metadata") {
        meta.remove("resourceVersion");
        if meta.is_empty() {
            fields.remove("metadata");
        }
    }
    if fields.is_empty() {
        return Ok(None);
    }
    if let Some(version) = old.meta().resource_version.clone() {
        let meta = fields
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(meta) = meta {
            meta.insert("resourceVersion".into(), Value::String(version));
        }
    }
    Ok(Some(patch))
}

/// Which part of an object a write goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The object (spec, metadata).
    Main,
    /// The status subresource.
    Status,
}

/// Write `new` over `old` (as read) as a guarded merge patch of the changed fields; `old` back
/// when nothing changed. A 409 means the object changed since `old` was read.
pub async fn write<K>(api: &Api<K>, old: &K, new: &K, part: Part) -> kube::Result<K>
where
    K: kube::Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let Some(patch) = guarded(old, new).map_err(kube::Error::SerdeError)? else {
        return Ok(old.clone());
    };
    let name = old.meta().name.clone().unwrap_or_default();
    let params = PatchParams::default();
    match part {
        Part::Main => api.patch(&name, &params, &Patch::Merge(&patch)).await,
        Part::Status => {
            api.patch_status(&name, &params, &Patch::Merge(&patch))
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use serde_json::json;

    #[test]
    fn only_changed_keys_are_in_the_patch() {
        let old = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2], "gone": "x"});
        let new = json!({"a": 1, "b": {"c": 2, "d": 4}, "e": [1], "added": {"f": true}});
        assert_eq!(
            diff(&old, &new),
            json!({"b": {"d": 4}, "e": [1], "added": {"f": true}, "gone": null})
        );
        assert_eq!(diff(&old, &old), json!({}));
        // A value that becomes an object, or an object that becomes a value, is replaced.
        assert_eq!(
            diff(&json!({"a": 1}), &json!({"a": {"b": 1}})),
            json!({"a": {"b": 1}})
        );
    }

    #[test]
    fn typed_patches_carry_the_read_resource_version_and_nothing_unchanged() {
        let mut old: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "c", "resourceVersion": "7", "labels": {"keep": "1"}},
            "data": {"a": "1"}
        }))
        .unwrap();
        assert_eq!(guarded(&old, &old.clone()).unwrap(), None);
        let mut new = old.clone();
        new.data.as_mut().unwrap().insert("b".into(), "2".into());
        assert_eq!(
            guarded(&old, &new).unwrap(),
            Some(json!({"data": {"b": "2"}, "metadata": {"resourceVersion": "7"}}))
        );
        // Without a resourceVersion read, no precondition.
        old.metadata.resource_version = None;
        new.metadata.resource_version = None;
        assert_eq!(
            guarded(&old, &new).unwrap(),
            Some(json!({"data": {"b": "2"}}))
        );
    }
}
