//! `metadata.managedFields`: the schema a kind's field ownership is tracked with, the fields the
//! endpoint resets (so never owned), and the `Update` entries of non-apply writes (create,
//! update, patch): the fields a write sets or changes become owned by its field manager.

use devcluster_patch::{
    self as patch, FieldManager, FieldPath, KindKey, set_managed_fields, update_managed_fields,
};
use serde_json::Value;

use crate::registry::ResourceType;

/// Record an `Update` by `manager` of `new` (replacing `old`) in `new.metadata.managedFields`.
pub(super) fn record_update(
    rt: &ResourceType,
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
) {
    let schema = list_info(rt);
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let ignored = ignored_fields(rt, subresource);
    let fm = FieldManager {
        manager,
        api_version: &rt.api_version(),
        subresource,
        time: &time,
        schema: schema.as_ref(),
        ignored_fields: &ignored,
    };
    let entries = update_managed_fields(old, new, &fm);
    set_managed_fields(new, &entries);
}

/// The kind as the patch library names it.
pub(super) fn kind_key(rt: &ResourceType) -> KindKey {
    KindKey::new(&rt.group, &rt.version, &rt.kind)
}

/// Paths whose ownership the endpoint does not track (reset by the endpoint).
pub(super) fn ignored_fields(rt: &ResourceType, subresource: Option<&str>) -> Vec<FieldPath> {
    match subresource {
        Some("status") => ["spec", "metadata", "data", "rules", "subsets", "webhooks"]
            .iter()
            .map(|f| FieldPath::fields(&[f]))
            .collect(),
        None if rt.status_subresource => vec![FieldPath::fields(&["status"])],
        _ => Vec::new(),
    }
}

/// The schema of a kind for server-side apply.
pub(super) fn list_info(rt: &ResourceType) -> Box<dyn patch::ListTypeInfo> {
    if let Some(info) = patch::builtin_list_type_info(&kind_key(rt)) {
        return Box::new(info);
    }
    match rt.crd.as_ref().and_then(|c| c.schema.clone()) {
        Some(schema) => Box::new(patch::CustomResourceListTypeInfo::new(
            &serde_json::to_value(&schema).unwrap_or_default(),
        )),
        None => Box::new(patch::UntypedListTypeInfo),
    }
}
