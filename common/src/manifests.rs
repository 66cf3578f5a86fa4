//! Applying YAML manifests as `kubectl apply --server-side -f` does: `aro local` applies
//! deploy/rp's namespace, ServiceAccounts and RBAC this way, and tests that run a component
//! under deploy/'s grants apply the very same files.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::Scope;
use serde::Deserialize;

use crate::{Error, Result};

/// Server-side apply (forced, as `field_manager`) every document of `text`, a multi-document
/// YAML file named `source` in errors; the kinds are resolved by discovery. Returns how many
/// objects were applied.
pub async fn apply_yaml(
    client: &kube::Client,
    field_manager: &str,
    source: &str,
    text: &str,
) -> Result<usize> {
    let invalid = |reason: String| Error::InvalidManifest {
        source_name: source.to_string(),
        reason,
    };
    let mut applied = 0;
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = serde_json::Value::deserialize(document).map_err(|e| invalid(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let object: DynamicObject = serde_json::from_value(value)?;
        let types = object
            .types
            .as_ref()
            .ok_or_else(|| invalid("a document without apiVersion and kind".into()))?;
        let (group, version) = match types.api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", types.api_version.as_str()),
        };
        let gvk = GroupVersionKind::gvk(group, version, &types.kind);
        let (resource, capabilities) = kube::discovery::pinned_kind(client, &gvk).await?;
        let name = object
            .metadata
            .name
            .as_deref()
            .ok_or_else(|| invalid(format!("a {} without a name", types.kind)))?;
        let api: Api<DynamicObject> = match (capabilities.scope, &object.metadata.namespace) {
            (Scope::Namespaced, Some(namespace)) => {
                Api::namespaced_with(client.clone(), namespace, &resource)
            }
            (Scope::Namespaced, None) => {
                return Err(invalid(format!("{} {name} has no namespace", types.kind)));
            }
            (Scope::Cluster, _) => Api::all_with(client.clone(), &resource),
        };
        api.patch(
            name,
            &PatchParams::apply(field_manager).force(),
            &Patch::Apply(&object),
        )
        .await?;
        applied += 1;
    }
    Ok(applied)
}
