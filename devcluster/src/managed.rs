//! `metadata.managedFields` for non-apply writes (create, update, patch): the fields a write
//! sets or changes become owned by its field manager (operation `Update`).

use serde_json::Value;

use crate::patch::{FieldManager, set_managed_fields, update_managed_fields};
use crate::registry::ResourceType;

/// Record an `Update` by `manager` of `new` (replacing `old`) in `new.metadata.managedFields`.
pub fn record_update(
    rt: &ResourceType,
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
) {
    let schema = crate::patching::list_info(rt);
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let ignored = crate::patching::ignored_fields(rt, subresource);
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
