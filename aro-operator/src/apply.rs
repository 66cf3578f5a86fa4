//! Generic apply of desired objects given as JSON: compare with what the server has and, only when
//! something the operator owns differs, server-side apply it (field manager `aro-operator`).

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::Value;

use crate::kinds::{Kind, lookup};
use crate::{Error, FIELD_MANAGER, Result, is_not_found};

/// Whether every field set in `desired` has the same value in `actual` (objects: per key, recursively;
/// arrays: same length and element-wise). Fields the server or others added are ignored, so a
/// freshly applied object compares equal to its desired form and only real drift triggers a write.
pub fn is_subset(desired: &Value, actual: &Value) -> bool {
    match (desired, actual) {
        (Value::Object(d), Value::Object(a)) => d.iter().all(|(key, dv)| match a.get(key) {
            Some(av) => is_subset(dv, av),
            // An empty map or list in the desired object may be dropped by the server.
            None => is_empty_collection(dv),
        }),
        (Value::Array(d), Value::Array(a)) => {
            d.len() == a.len() && d.iter().zip(a).all(|(dv, av)| is_subset(dv, av))
        }
        (Value::Number(d), Value::Number(a)) => d.as_f64() == a.as_f64(),
        _ => desired == actual,
    }
}

fn is_empty_collection(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

/// Identity of an object given as JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectId {
    pub kind: Kind,
    pub namespace: Option<String>,
    pub name: String,
}

/// The identity of `obj`, or an error naming what is missing.
pub fn object_id(obj: &Value) -> Result<ObjectId> {
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let kind_name = obj["kind"].as_str().unwrap_or_default();
    let kind = lookup(api_version, kind_name).ok_or_else(|| {
        Error::invalid(
            "apply",
            format!("unknown kind {kind_name:?} of apiVersion {api_version:?}"),
        )
    })?;
    let name = obj["metadata"]["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::invalid("apply", format!("a {kind_name} has no metadata.name")))?
        .to_string();
    let namespace = obj["metadata"]["namespace"].as_str().map(str::to_string);
    if kind.namespaced && namespace.is_none() {
        return Err(Error::invalid(
            "apply",
            format!("{kind_name} {name} has no metadata.namespace"),
        ));
    }
    Ok(ObjectId {
        kind,
        namespace: if kind.namespaced { namespace } else { None },
        name,
    })
}

/// The dynamic API of an object's kind (namespaced where the kind is).
pub fn dynamic_api(client: &Client, kind: &Kind, namespace: Option<&str>) -> Api<DynamicObject> {
    let resource = kind.api_resource();
    match namespace {
        Some(ns) if kind.namespaced => Api::namespaced_with(client.clone(), ns, &resource),
        _ => Api::all_with(client.clone(), &resource),
    }
}

/// Make the server's object match `desired` (create it when missing, repair drifted fields). Returns
/// whether anything was written.
pub async fn ensure(client: &Client, desired: &Value) -> Result<bool> {
    let id = object_id(desired)?;
    let api = dynamic_api(client, &id.kind, id.namespace.as_deref());
    if let Some(existing) = api.get_opt(&id.name).await? {
        let actual = serde_json::to_value(&existing)?;
        if is_subset(desired, &actual) {
            return Ok(false);
        }
    }
    api.patch(
        &id.name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(desired),
    )
    .await?;
    tracing::info!(kind = id.kind.kind, namespace = ?id.namespace, name = %id.name, "applied");
    Ok(true)
}

/// Ensure every object of `desired`, in order. Returns how many were written.
pub async fn ensure_all(client: &Client, desired: &[Value]) -> Result<usize> {
    let mut written = 0;
    for obj in desired {
        if ensure(client, obj).await? {
            written += 1;
        }
    }
    Ok(written)
}

/// Delete an object if it exists. Returns whether a delete was issued.
pub async fn ensure_absent(
    client: &Client,
    kind: &Kind,
    namespace: Option<&str>,
    name: &str,
) -> Result<bool> {
    let api = dynamic_api(client, kind, namespace);
    match api.get_opt(name).await? {
        Some(existing) if existing.metadata.deletion_timestamp.is_none() => {
            match api.delete(name, &DeleteParams::background()).await {
                Ok(_) => {
                    tracing::info!(kind = kind.kind, ?namespace, name, "deleted");
                    Ok(true)
                }
                Err(e) if is_not_found(&e) => Ok(false),
                Err(e) => Err(e.into()),
            }
        }
        _ => Ok(false),
    }
}

/// The resourceVersion of an object, for merge patches that must not overwrite a newer write.
pub fn resource_version<K: ResourceExt>(obj: &K) -> Result<String> {
    obj.resource_version().ok_or_else(|| {
        Error::invalid(
            "apply",
            format!("{} has no resourceVersion", obj.name_any()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_ignores_fields_added_by_the_server() {
        let desired = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"k": "v"}});
        let actual = json!({"metadata": {"name": "a", "uid": "u", "resourceVersion": "3", "labels": {"x": "1", "y": "2"}},
                            "data": {"k": "v", "other": "w"}});
        assert!(is_subset(&desired, &actual));
    }

    #[test]
    fn subset_detects_changed_and_missing_fields() {
        let desired = json!({"data": {"k": "v"}});
        assert!(!is_subset(&desired, &json!({"data": {"k": "changed"}})));
        assert!(!is_subset(&desired, &json!({"data": {}})));
        assert!(!is_subset(&desired, &json!({})));
    }

    #[test]
    fn subset_compares_arrays_element_wise() {
        let desired = json!({"containers": [{"name": "a", "image": "x"}]});
        assert!(is_subset(
            &desired,
            &json!({"containers": [{"name": "a", "image": "x", "imagePullPolicy": "IfNotPresent"}]})
        ));
        assert!(!is_subset(
            &desired,
            &json!({"containers": [{"name": "a", "image": "x"}, {"name": "b"}]})
        ));
        assert!(!is_subset(&desired, &json!({"containers": []})));
    }

    #[test]
    fn subset_accepts_dropped_empty_collections_and_equal_numbers() {
        assert!(is_subset(&json!({"emptyDir": {}, "args": []}), &json!({})));
        assert!(is_subset(&json!({"n": 1}), &json!({"n": 1.0})));
        assert!(!is_subset(&json!({"n": 1}), &json!({"n": 2})));
    }

    #[test]
    fn object_id_requires_known_kind_name_and_namespace() {
        let id = object_id(&json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
                                   "metadata": {"name": "d", "namespace": "ns"}}))
        .unwrap();
        assert_eq!(id.name, "d");
        assert_eq!(id.namespace.as_deref(), Some("ns"));
        let cluster_scoped = object_id(&json!({"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": "n", "namespace": "ignored"}}))
        .unwrap();
        assert_eq!(cluster_scoped.namespace, None);
        assert!(
            object_id(
                &json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"}})
            )
            .is_err()
        );
        assert!(object_id(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"}})).is_err());
        assert!(
            object_id(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {}})).is_err()
        );
    }
}
