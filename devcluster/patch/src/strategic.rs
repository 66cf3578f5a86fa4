//! Strategic merge patch of built-in kinds, as kube-apiserver applies it
//! (k8s.io/apimachinery/pkg/util/strategicpatch `StrategicMergeMapPatch`, with parallel-list
//! merging and unmatched nulls ignored).

use serde_json::{Map, Value};

use super::schema::{MERGE, Pos, REPLACE, SchemaStep, Ty, builtin_root, type_def};
use super::{KindKey, PatchError, accepted_patch_types};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Applies a strategic merge patch to `original` (an object of the built-in `kind`) and returns the
/// patched object.
///
/// Lists whose field has patch strategy `merge` merge by their merge key (containers, env, volumes,
/// ports, volumeMounts, conditions, ownerReferences, ...) or, for scalars, as a set (finalizers);
/// other lists are replaced; objects merge field by field, except fields with strategy `replace`.
/// Directives: `$patch: replace|delete` in objects, `{"$patch": "replace"}` and
/// `{"$patch": "delete", <key>: ...}` in lists, `$retainKeys`, `$deleteFromPrimitiveList/<field>`
/// and `$setElementOrder/<field>`.
///
/// Errors: 415 for a kind that is not built-in (custom resources do not support strategic merge
/// patch); 400 for a malformed patch (not an object, bad directive, item without its merge key,
/// invalid `$retainKeys`/`$setElementOrder`); 422 [`PatchError::NotApplicable`] for lists of lists
/// and content that does not match `$retainKeys`, as kube-apiserver answers.
pub fn strategic_merge_patch(
    original: &Value,
    patch: &Value,
    kind: &KindKey,
) -> Result<Value, PatchError> {
    let Some(root) = builtin_root(kind) else {
        return Err(PatchError::UnsupportedMediaType {
            accepted: accepted_patch_types(kind),
        });
    };
    let Value::Object(patch) = patch else {
        return Err(PatchError::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_type(patch)
        )));
    };
    let original = match original {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        _ => return Err(PatchError::BadRequest("invalid JSON document".into())),
    };
    merge_map(original, patch, Pos::root(root)).map(Value::Object)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn bad(message: impl Into<String>) -> PatchError {
    PatchError::BadRequest(message.into())
}

/// Patch strategy flags and merge key of the field at `pos`.
fn field_meta(pos: Pos) -> (u8, Option<&'static str>) {
    match pos {
        Pos::Ty(_, Some(field)) => (field.strategy, field.merge_key),
        _ => (0, None),
    }
}

fn type_name(pos: Pos) -> String {
    match pos {
        Pos::Ty(Ty::Struct(index), _) => type_def(index).name.to_string(),
        _ => "unknown".to_string(),
    }
}

/// Numbers compare by value, as Go's decoded float64s do.
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

fn no_merge_key(item: &Value, key: &str) -> PatchError {
    bad(format!(
        "map: {item} does not contain declared merge key: {key}"
    ))
}

/// A patch value taken where the original has nothing: merged into nothing, which drops nulls and
/// applies the directives inside it.
fn fresh(value: &Value, pos: Pos) -> Result<Value, PatchError> {
    match value {
        Value::Object(map) => merge_map(Map::new(), map, pos).map(Value::Object),
        Value::Array(items) => {
            let (strategy, merge_key) = field_meta(pos);
            if strategy & MERGE != 0 {
                // kube-apiserver takes a new list as sent; items it cannot merge (no merge key)
                // are left to validation, as there
                Ok(merge_slice(Vec::new(), items, pos, merge_key, false)
                    .map(Value::Array)
                    .unwrap_or_else(|_| discard_nulls(value)))
            } else {
                Ok(Value::Array(items.iter().map(discard_nulls).collect()))
            }
        }
        other => Ok(other.clone()),
    }
}

/// Drops null fields of objects, recursively.
fn discard_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), discard_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(discard_nulls).collect()),
        other => other.clone(),
    }
}

fn merge_map(
    mut original: Map<String, Value>,
    patch: &Map<String, Value>,
    pos: Pos,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                let mut rest = patch.clone();
                rest.remove(DIRECTIVE);
                merge_map(Map::new(), &rest, pos)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(bad(format!(
                "unknown patch type: {} in map: {}",
                directive_text(directive),
                Value::Object(patch.clone())
            ))),
        };
    }
    apply_retain_keys(&mut original, patch)?;
    let ordered = merge_set_element_order(&mut original, patch, pos)?;

    for (key, patch_value) in patch {
        if key == RETAIN_KEYS || key.starts_with(SET_ELEMENT_ORDER) || ordered.contains(key) {
            continue;
        }
        let (key, is_delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            Some(field) => (field, true),
            None => (key.as_str(), false),
        };
        let child_pos = pos.step(SchemaStep::Field(key));
        if patch_value.is_null() {
            original.remove(key);
            continue;
        }
        let Some(current) = original.get(key) else {
            if !is_delete_list {
                original.insert(key.to_string(), fresh(patch_value, child_pos)?);
            }
            continue;
        };
        let merged = match (current, patch_value) {
            (Value::Object(current), Value::Object(patch_map)) => {
                let (strategy, _) = field_meta(child_pos);
                if strategy & REPLACE != 0 {
                    Value::Object(patch_map.clone())
                } else {
                    Value::Object(merge_map(current.clone(), patch_map, child_pos)?)
                }
            }
            (Value::Array(current), Value::Array(patch_items)) => {
                let (strategy, merge_key) = field_meta(child_pos);
                if strategy & MERGE != 0 {
                    Value::Array(merge_slice(
                        current.clone(),
                        patch_items,
                        child_pos,
                        merge_key,
                        is_delete_list,
                    )?)
                } else {
                    discard_nulls(patch_value)
                }
            }
            _ if same_kind(current, patch_value) => patch_value.clone(),
            _ => {
                if is_delete_list {
                    continue;
                }
                fresh(patch_value, child_pos)?
            }
        };
        original.insert(key.to_string(), merged);
    }
    Ok(original)
}

fn directive_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn same_kind(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// `$retainKeys`: fields of the original not listed are cleared; every field of the patch must be
/// listed.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.get(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(bad("invalid patch format of retainKeys"));
    };
    let listed = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (key, value) in patch {
        if key == RETAIN_KEYS
            || value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !listed(key) {
            return Err(bad("invalid patch format of retainKeys"));
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// `$setElementOrder/<field>`: merges the field's patch list (if any) and orders the result by the
/// directive. Returns the fields it handled.
fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    pos: Pos,
) -> Result<Vec<String>, PatchError> {
    let mut handled = Vec::new();
    for (key, order) in patch {
        let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(bad(format!(
                "expected a []interface {{}}, but received a {}",
                json_type(order)
            )));
        };
        let child_pos = pos.step(SchemaStep::Field(field));
        let (strategy, merge_key) = field_meta(child_pos);
        let original_list = match original.get(field) {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(other) => {
                return Err(bad(format!(
                    "expected a []interface {{}}, but received a {}",
                    json_type(other)
                )));
            }
        };
        let patch_list = match patch.get(field) {
            None => None,
            Some(Value::Array(items)) => Some(items),
            Some(other) => {
                return Err(bad(format!(
                    "expected a []interface {{}}, but received a {}",
                    json_type(other)
                )));
            }
        };
        validate_patch_with_set_order(
            patch_list.map(Vec::as_slice).unwrap_or(&[]),
            order,
            merge_key,
        )?;
        let merged = match (&original_list, patch_list) {
            (Some(current), None) => current.clone(),
            (None, Some(items)) => match fresh(&Value::Array(items.clone()), child_pos)? {
                Value::Array(items) => items,
                _ => Vec::new(),
            },
            (Some(current), Some(items)) => {
                if strategy & MERGE != 0 {
                    merge_slice(current.clone(), items, child_pos, merge_key, false)?
                } else {
                    items.iter().map(discard_nulls).collect()
                }
            }
            (None, None) => continue,
        };
        let original_order = original_list.unwrap_or_default();
        let (patch_items, server_only) = partition(merged, order, merge_key)?;
        let kind_is_map = original_order
            .iter()
            .chain(patch_list.into_iter().flatten())
            .any(Value::is_object);
        let key = if kind_is_map { merge_key } else { None };
        let both = normalize_element_order(patch_items, server_only, order, &original_order, key)?;
        original.insert(field.to_string(), Value::Array(both));
        handled.push(field.to_string());
    }
    Ok(handled)
}

fn validate_patch_with_set_order(
    patch_list: &[Value],
    order: &[Value],
    merge_key: Option<&str>,
) -> Result<(), PatchError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<&Value> = match merge_key {
        Some(_) => patch_list
            .iter()
            .filter(|item| item.get(DIRECTIVE).and_then(Value::as_str) != Some("delete"))
            .collect(),
        None => patch_list.iter().collect(),
    };
    let (mut p, mut o) = (0, 0);
    while p < non_delete.len() && o < order.len() {
        if non_delete[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        let equal = match merge_key {
            Some(key) => {
                let a = non_delete[p]
                    .get(key)
                    .ok_or_else(|| no_merge_key(non_delete[p], key))?;
                let b = order[o]
                    .get(key)
                    .ok_or_else(|| no_merge_key(&order[o], key))?;
                values_equal(a, b)
            }
            None => values_equal(non_delete[p], &order[o]),
        };
        if equal {
            p += 1;
        }
        o += 1;
    }
    if p < non_delete.len() && o >= order.len() {
        return Err(bad(format!(
            "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}\n",
            Value::Array(patch_list.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

/// Merges a list whose field has patch strategy `merge`.
fn merge_slice(
    original: Vec<Value>,
    patch: &[Value],
    pos: Pos,
    merge_key: Option<&str>,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let mut kind: Option<&Value> = None;
    for item in original.iter().chain(patch) {
        if item.is_array() {
            return Err(PatchError::NotApplicable(
                "lists of lists are not supported".into(),
            ));
        }
        match kind {
            None => kind = Some(item),
            Some(first) if !same_kind(first, item) => {
                return Err(bad(format!(
                    "expected a {}, but received a {}",
                    json_type(first),
                    json_type(item)
                )));
            }
            Some(_) => {}
        }
    }
    let is_map = kind.is_some_and(Value::is_object);
    if !is_map {
        if is_delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.iter().any(|d| values_equal(v, d)))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::new();
        for item in original.iter().chain(patch) {
            if !merged.iter().any(|m| values_equal(m, item)) {
                merged.push(item.clone());
            }
        }
        let (patch_items, server_only) = partition(merged, patch, None)?;
        return normalize_element_order(patch_items, server_only, patch, &original, None);
    }
    let Some(key) = merge_key else {
        return Err(bad(format!(
            "cannot merge lists without merge key for {}",
            type_name(pos.step(SchemaStep::Item))
        )));
    };
    let item_pos = pos.step(SchemaStep::Item);
    let (original, patch) = merge_slice_with_special_elements(original, patch, key)?;
    let mut merged = original.clone();
    for item in &patch {
        let Value::Object(item_map) = item else {
            return Err(no_merge_key(item, key));
        };
        let value = item_map.get(key).ok_or_else(|| no_merge_key(item, key))?;
        let found = merged
            .iter()
            .position(|m| m.get(key).is_some_and(|v| values_equal(v, value)));
        match found {
            Some(i) => {
                let current = match &merged[i] {
                    Value::Object(map) => map.clone(),
                    _ => Map::new(),
                };
                merged[i] = Value::Object(merge_map(current, item_map, item_pos)?);
            }
            None => merged.push(fresh(item, item_pos)?),
        }
    }
    let (patch_items, server_only) = partition(merged, &patch, Some(key))?;
    normalize_element_order(patch_items, server_only, &patch, &original, Some(key))
}

/// Handles `{"$patch": "delete", key: v}` (removes matching items) and `{"$patch": "replace"}`
/// (the list becomes the other patch items). Returns the original and patch to merge.
fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::new();
    let mut replace = false;
    for item in patch {
        match item.get(DIRECTIVE) {
            None => plain.push(item.clone()),
            Some(directive) => match directive.as_str() {
                Some("delete") => {
                    let value = item.get(key).ok_or_else(|| no_merge_key(item, key))?;
                    original.retain(|o| !o.get(key).is_some_and(|v| values_equal(v, value)));
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(bad("merging lists cannot yet be specified in the patch"));
                }
                _ => {
                    return Err(bad(format!(
                        "unknown patch type: {} in map: {}",
                        directive_text(directive),
                        item
                    )));
                }
            },
        }
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

/// Position of `item` in `list`: by merge key value for objects, by value otherwise.
fn index_of(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    match key {
        Some(key) => {
            let value = item.get(key)?;
            list.iter()
                .position(|v| v.get(key).is_some_and(|w| values_equal(w, value)))
        }
        None => list.iter().position(|v| values_equal(v, item)),
    }
}

/// Splits `merged` into the items present in `order` and the others.
fn partition(
    merged: Vec<Value>,
    order: &[Value],
    key: Option<&str>,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut present = Vec::new();
    let mut others = Vec::new();
    for item in merged {
        if let Some(key) = key
            && item.get(key).is_none()
        {
            return Err(no_merge_key(&item, key));
        }
        if index_of(order, &item, key).is_some() {
            present.push(item);
        } else {
            others.push(item);
        }
    }
    Ok((present, others))
}

/// Sorts `items` by their position in `order` (stable; items not in `order` stay put relative to
/// each other), after dropping items that `order` deletes.
fn normalize_slice_order(
    items: Vec<Value>,
    order: &[Value],
    key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    if let Some(key) = key {
        for item in items.iter().chain(order) {
            if item.get(key).is_none() {
                return Err(no_merge_key(item, key));
            }
        }
    }
    let deleted: Vec<&Value> = order
        .iter()
        .filter(|item| item.get(DIRECTIVE).and_then(Value::as_str) == Some("delete"))
        .collect();
    let mut items: Vec<Value> = items
        .into_iter()
        .filter(|item| match key {
            Some(key) => !deleted.iter().any(|d| {
                d.get(key)
                    .zip(item.get(key))
                    .is_some_and(|(a, b)| values_equal(a, b))
            }),
            None => true,
        })
        .collect();
    items.sort_by_key(|item| index_of(order, item, key).unwrap_or(usize::MAX));
    Ok(items)
}

/// Orders the merged list: patch items by the patch (or `$setElementOrder`) order, server-only
/// items by the original order, interleaved where the original order relates them.
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    let right = normalize_slice_order(patch_items, patch_order, key)?;
    let left = normalize_slice_order(server_only, server_order, key)?;
    let less = |l: &Value, r: &Value| -> bool {
        match (
            index_of(server_order, l, key),
            index_of(server_order, r, key),
        ) {
            (Some(li), Some(ri)) => li < ri,
            _ => false,
        }
    };
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() || j < right.len() {
        if i >= left.len() {
            out.push(right[j].clone());
            j += 1;
        } else if j >= right.len() || less(&left[i], &right[j]) {
            out.push(left[i].clone());
            i += 1;
        } else {
            out.push(right[j].clone());
            j += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> KindKey {
        KindKey::new("", "v1", "Pod")
    }

    fn deployment() -> KindKey {
        KindKey::new("apps", "v1", "Deployment")
    }

    fn smp(original: Value, patch: Value, kind: &KindKey) -> Value {
        strategic_merge_patch(&original, &patch, kind).unwrap()
    }

    #[test]
    fn containers_merge_by_name_and_env_by_name() {
        let original = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
            {"name": "b", "image": "b:1"}
        ]}});
        let patch = json!({"spec": {"containers": [
            {"name": "a", "env": [{"name": "Y", "value": "3"}, {"name": "Z", "value": "4"}]}
        ]}});
        assert_eq!(
            smp(original, patch, &pod()),
            json!({"spec": {"containers": [
                {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "3"}, {"name": "Z", "value": "4"}]},
                {"name": "b", "image": "b:1"}
            ]}})
        );
    }

    #[test]
    fn pod_template_of_workloads_merges_like_a_pod() {
        let original = json!({"spec": {"replicas": 1, "template": {"spec": {
            "containers": [{"name": "a", "image": "a:1", "ports": [{"containerPort": 80}], "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
            "volumes": [{"name": "v", "emptyDir": {}}],
            "tolerations": [{"key": "k1", "operator": "Exists"}]
        }}}});
        let patch = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "a", "image": "a:2", "ports": [{"containerPort": 443}], "volumeMounts": [{"name": "w", "mountPath": "/w"}]}],
            "volumes": [{"name": "w", "configMap": {"name": "cm"}}],
            "tolerations": [{"key": "k2", "operator": "Exists"}]
        }}}});
        for kind in ["Deployment", "DaemonSet", "StatefulSet", "ReplicaSet"] {
            let result = smp(
                original.clone(),
                patch.clone(),
                &KindKey::new("apps", "v1", kind),
            );
            let spec = &result["spec"]["template"]["spec"];
            assert_eq!(spec["containers"][0]["image"], json!("a:2"), "{kind}");
            assert_eq!(
                spec["containers"][0]["ports"],
                json!([{"containerPort": 443}, {"containerPort": 80}]),
                "{kind}"
            );
            assert_eq!(
                spec["containers"][0]["volumeMounts"]
                    .as_array()
                    .unwrap()
                    .len(),
                2
            );
            assert_eq!(spec["volumes"].as_array().unwrap().len(), 2);
            // no merge key: replaced
            assert_eq!(
                spec["tolerations"],
                json!([{"key": "k2", "operator": "Exists"}])
            );
            assert_eq!(result["spec"]["replicas"], json!(1));
        }
        let job = smp(
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a:1"}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:1"}]}}}}),
            &KindKey::new("batch", "v1", "Job"),
        );
        assert_eq!(
            job["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let cron = smp(
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}}}),
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "b"}]}}}}}}),
            &KindKey::new("batch", "v1", "CronJob"),
        );
        assert_eq!(
            cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"],
            json!([{"name": "b"}, {"name": "a"}])
        );
    }

    #[test]
    fn service_ports_merge_by_port_and_rbac_rules_are_replaced() {
        let svc = smp(
            json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"a": "b"}}}),
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}}),
            &KindKey::new("", "v1", "Service"),
        );
        assert_eq!(
            svc,
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}], "selector": {"a": "b"}}})
        );
        let role = smp(
            json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
            json!({"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]}),
            &KindKey::new("rbac.authorization.k8s.io", "v1", "ClusterRole"),
        );
        assert_eq!(
            role,
            json!({"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]})
        );
    }

    #[test]
    fn metadata_lists_finalizers_owner_references_and_labels() {
        let original = json!({"metadata": {
            "labels": {"a": "1", "b": "2"},
            "finalizers": ["x", "y"],
            "ownerReferences": [{"uid": "u1", "name": "o1", "kind": "K", "apiVersion": "v1"}]
        }});
        let patch = json!({"metadata": {
            "labels": {"a": null, "c": "3"},
            "finalizers": ["z", "x"],
            "ownerReferences": [{"uid": "u2", "name": "o2", "kind": "K", "apiVersion": "v1"}]
        }});
        assert_eq!(
            smp(original, patch, &KindKey::new("", "v1", "ConfigMap")),
            json!({"metadata": {
                "labels": {"b": "2", "c": "3"},
                "finalizers": ["z", "x", "y"],
                // new items come before the server-only ones, as in kube-apiserver
                "ownerReferences": [
                    {"uid": "u2", "name": "o2", "kind": "K", "apiVersion": "v1"},
                    {"uid": "u1", "name": "o1", "kind": "K", "apiVersion": "v1"}
                ]
            }})
        );
    }

    #[test]
    fn delete_from_primitive_list_and_patch_delete_items() {
        let original = json!({"metadata": {"finalizers": ["a", "b", "c"]}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let patch = json!({
            "metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]},
            "spec": {"containers": [{"$patch": "delete", "name": "a"}]}
        });
        assert_eq!(
            smp(original, patch, &pod()),
            json!({"metadata": {"finalizers": ["a", "c"]}, "spec": {"containers": [{"name": "b"}]}})
        );
    }

    #[test]
    fn patch_replace_and_delete_directives() {
        let original = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}], "nodeSelector": {"k": "v"}}});
        let replaced = smp(
            original.clone(),
            json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "c"}]}}),
            &pod(),
        );
        assert_eq!(replaced["spec"]["containers"], json!([{"name": "c"}]));
        let map_replaced = smp(
            original.clone(),
            json!({"spec": {"nodeSelector": {"$patch": "replace", "n": "m"}}}),
            &pod(),
        );
        assert_eq!(map_replaced["spec"]["nodeSelector"], json!({"n": "m"}));
        let map_deleted = smp(
            original.clone(),
            json!({"spec": {"nodeSelector": {"$patch": "delete"}}}),
            &pod(),
        );
        assert_eq!(map_deleted["spec"]["nodeSelector"], json!({}));
        let err = strategic_merge_patch(
            &original,
            &json!({"spec": {"containers": [{"$patch": "merge"}]}}),
            &pod(),
        )
        .unwrap_err();
        assert_eq!(err.code(), 400);
    }

    #[test]
    fn retain_keys_clears_the_other_union_members() {
        let original = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        assert_eq!(
            smp(original.clone(), patch, &deployment()),
            json!({"spec": {"strategy": {"type": "Recreate"}}})
        );
        let bad = json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}});
        let err = strategic_merge_patch(&original, &bad, &deployment()).unwrap_err();
        assert_eq!(
            err,
            PatchError::BadRequest("invalid patch format of retainKeys".into())
        );
    }

    #[test]
    fn set_element_order_orders_the_merged_list() {
        let original =
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}});
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "image": "new"}]
        }});
        assert_eq!(
            smp(original.clone(), patch, &pod()),
            json!({"spec": {"containers": [{"name": "c"}, {"name": "a", "image": "new"}, {"name": "b"}]}})
        );
        let reorder_only =
            json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}});
        assert_eq!(
            smp(original, reorder_only, &pod())["spec"]["containers"],
            json!([{"name": "b"}, {"name": "a"}, {"name": "c"}])
        );
        let finalizers = smp(
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            json!({"metadata": {"$setElementOrder/finalizers": ["b", "c", "a"], "finalizers": ["c"]}}),
            &pod(),
        );
        assert_eq!(finalizers["metadata"]["finalizers"], json!(["b", "c", "a"]));
    }

    #[test]
    fn conditions_merge_by_type() {
        let original = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}});
        let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(
            smp(original, patch, &pod())["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}])
        );
    }

    #[test]
    fn errors_match_kube_apiserver() {
        let original = json!({"spec": {"volumes": [{"name": "v"}]}});
        let err = strategic_merge_patch(
            &original,
            &json!({"spec": {"volumes": [{"hostPath": {"path": "/x"}}]}}),
            &pod(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            PatchError::BadRequest(
                "map: {\"hostPath\":{\"path\":\"/x\"}} does not contain declared merge key: name"
                    .into()
            )
        );
        let err = strategic_merge_patch(&original, &json!([1]), &pod()).unwrap_err();
        assert_eq!(err.code(), 400);
        let cr = KindKey::new("example.com", "v1", "Widget");
        let err = strategic_merge_patch(&original, &json!({}), &cr).unwrap_err();
        assert_eq!(err.code(), 415);
        let err = strategic_merge_patch(
            &json!({"metadata": {"finalizers": ["a"]}}),
            &json!({"metadata": {"finalizers": [["b"]]}}),
            &pod(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            PatchError::NotApplicable("lists of lists are not supported".into())
        );
    }

    #[test]
    fn new_values_drop_nulls_and_unknown_fields_merge_as_maps() {
        let result = smp(
            json!({"spec": {}}),
            json!({"spec": {"containers": [{"name": "a", "resources": null}], "unknownField": {"x": null, "y": 1}}}),
            &pod(),
        );
        assert_eq!(
            result,
            json!({"spec": {"containers": [{"name": "a"}], "unknownField": {"y": 1}}})
        );
    }

    #[test]
    fn a_new_list_with_an_item_missing_its_merge_key_is_left_to_validation() {
        let result = smp(
            json!({"spec": {}}),
            json!({"spec": {"volumes": [{"hostPath": {"path": "/x"}}]}}),
            &pod(),
        );
        assert_eq!(
            result,
            json!({"spec": {"volumes": [{"hostPath": {"path": "/x"}}]}})
        );
    }

    #[test]
    fn pdb_selector_is_replaced_not_merged() {
        let result = smp(
            json!({"spec": {"selector": {"matchLabels": {"a": "1"}}}}),
            json!({"spec": {"selector": {"matchLabels": {"b": "2"}}}}),
            &KindKey::new("policy", "v1", "PodDisruptionBudget"),
        );
        assert_eq!(
            result["spec"]["selector"],
            json!({"matchLabels": {"b": "2"}})
        );
        // a Deployment's selector has no strategy: merged
        let result = smp(
            json!({"spec": {"selector": {"matchLabels": {"a": "1"}}}}),
            json!({"spec": {"selector": {"matchLabels": {"b": "2"}}}}),
            &deployment(),
        );
        assert_eq!(
            result["spec"]["selector"],
            json!({"matchLabels": {"a": "1", "b": "2"}})
        );
    }

    #[test]
    fn empty_patch_is_identity_and_patching_twice_is_idempotent() {
        // property over a few objects and patches
        let objects = [
            json!({"metadata": {"name": "p", "labels": {"a": "1"}, "finalizers": ["f"]}, "spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}]}}),
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}], "volumes": [{"name": "v"}]}}),
        ];
        let patches = [
            json!({"metadata": {"labels": {"b": "2"}}}),
            json!({"spec": {"containers": [{"name": "b", "image": "i"}, {"name": "c"}]}}),
            json!({"metadata": {"finalizers": ["g", "f"]}}),
            json!({"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}]}}),
        ];
        for object in &objects {
            assert_eq!(&smp(object.clone(), json!({}), &pod()), object);
            for patch in &patches {
                let once = smp(object.clone(), patch.clone(), &pod());
                let twice = smp(once.clone(), patch.clone(), &pod());
                assert_eq!(once, twice, "{object} + {patch}");
            }
        }
    }
}
