//! Generic apply of desired objects given as JSON: compare with what the server has and, only when
//! something the operator owns differs, server-side apply it (field manager `aro-operator`).

use aro_common::drift::is_subset;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::Value;

use crate::kinds::{Kind, lookup};
use crate::{Error, FIELD_MANAGER, Result, is_not_found};

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
