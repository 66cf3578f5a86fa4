//! Pruning of unknown fields and defaulting of custom resources (apiextensions' structural pruning,
//! ObjectMeta coercion and defaulting).

use serde_json::{Map, Value};

use super::builtin::OBJECT_META;
use super::structural::{AdditionalProperties, CrdSchema, Node};

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Removes every field the schema does not specify, like kube-apiserver does when decoding a custom
/// resource, and returns the removed field paths (`spec.foo`, `spec.items[0].bar`, `metadata.bogus`).
///
/// - `x-kubernetes-preserve-unknown-fields: true` keeps unknown fields of that node (known ones are still
///   pruned below it);
/// - at the root and in `x-kubernetes-embedded-resource` objects, `apiVersion`, `kind` and `metadata`
///   are kept and `metadata` is pruned to the ObjectMeta fields.
///
/// The server reports the paths as warnings `unknown field "<path>"` (`fieldValidation=Warn`, the default),
/// rejects with 400 `strict decoding error: unknown field "<path>", ...` (`Strict`, see
/// [`strict_decoding_message`]) or ignores them (`Ignore`). Data read from storage is pruned too (the
/// paths are then dropped).
pub fn prune(schema: &CrdSchema, obj: &mut Value) -> Vec<String> {
    let mut meta_paths = Vec::new();
    if let Some(meta) = obj.get_mut("metadata")
        && meta.is_object()
    {
        OBJECT_META.prune_at(meta, "metadata", &mut meta_paths);
        meta_paths.sort();
    }
    let mut pruned = Vec::new();
    prune_node(obj, Some(&schema.root), true, "", &mut pruned);
    pruned.sort();
    let mut embedded = Vec::new();
    prune_embedded_metadata(obj, Some(&schema.root), "", &mut embedded);
    embedded.sort();
    meta_paths.extend(pruned);
    meta_paths.extend(embedded);
    meta_paths
}

/// The message of the 400 BadRequest kube-apiserver returns for `fieldValidation=Strict`:
/// `strict decoding error: unknown field "spec.foo", unknown field "spec.bar"`.
pub fn strict_decoding_message(unknown_fields: &[String]) -> String {
    let fields: Vec<String> = unknown_fields
        .iter()
        .map(|f| unknown_field_warning(f))
        .collect();
    format!("strict decoding error: {}", fields.join(", "))
}

/// The warning text for one unknown field with `fieldValidation=Warn`: `unknown field "spec.foo"`.
pub fn unknown_field_warning(path: &str) -> String {
    format!("unknown field {}", super::field::go_quote(path))
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

fn prune_node(x: &mut Value, s: Option<&Node>, embedded: bool, path: &str, out: &mut Vec<String>) {
    if let Some(s) = s
        && s.preserve_unknown_fields
    {
        skip_prune(x, s, embedded, path, out);
        return;
    }
    match x {
        Value::Object(m) => {
            let Some(s) = s else {
                for k in m.keys() {
                    out.push(join(path, k));
                }
                m.clear();
                return;
            };
            let embedded = embedded || s.embedded_resource;
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                let child = join(path, &k);
                match s.field_schema(&k) {
                    Some(sub) => {
                        if let Some(v) = m.get_mut(&k) {
                            prune_node(v, sub, false, &child, out);
                        }
                    }
                    None => {
                        m.remove(&k);
                        out.push(child);
                    }
                }
            }
        }
        Value::Array(a) => {
            let items = s.and_then(|s| s.items.as_deref());
            for (i, v) in a.iter_mut().enumerate() {
                prune_node(v, items, false, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn skip_prune(x: &mut Value, s: &Node, embedded: bool, path: &str, out: &mut Vec<String>) {
    match x {
        Value::Object(m) => {
            let embedded = embedded || s.embedded_resource;
            for (k, v) in m.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(p) = s.properties.get(k) {
                    prune_node(v, Some(p), false, &join(path, k), out);
                } else if let Some(ap) = &s.additional_properties {
                    let sub = match ap {
                        AdditionalProperties::Schema(n) => Some(n.as_ref()),
                        AdditionalProperties::Bool(_) => None,
                    };
                    prune_node(v, sub, false, &join(path, k), out);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = s.items.as_deref() {
                for (i, v) in a.iter_mut().enumerate() {
                    skip_prune(v, items, false, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

/// Prunes `metadata` of embedded resources to ObjectMeta (apiextensions' `objectmeta.Coerce`).
fn prune_embedded_metadata(x: &mut Value, s: Option<&Node>, path: &str, out: &mut Vec<String>) {
    let Some(s) = s else { return };
    match x {
        Value::Object(m) => {
            if s.embedded_resource
                && let Some(meta) = m.get_mut("metadata")
                && meta.is_object()
            {
                OBJECT_META.prune_at(meta, &join(path, "metadata"), out);
            }
            for (k, v) in m.iter_mut() {
                if s.embedded_resource && k == "metadata" {
                    continue;
                }
                let sub = match s.field_schema(k) {
                    Some(sub) => sub,
                    None => continue,
                };
                prune_embedded_metadata(v, sub, &join(path, k), out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter_mut().enumerate() {
                prune_embedded_metadata(v, s.items.as_deref(), &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Applies the schema's `default`s, as kube-apiserver does on every decode of a custom resource (request
/// bodies in the request version, and objects read from storage in the storage version; defaults applied
/// on read are not written back until the next write).
///
/// First `null` values of non-nullable fields without a default are removed, then missing fields and
/// `null` values of non-nullable fields get their default (deep-copied). Run it after [`prune`].
pub fn apply_defaults(schema: &CrdSchema, obj: &mut Value) {
    prune_non_nullable_nulls(obj, Some(&schema.root));
    default(obj, &schema.root);
}

fn schema_for_field<'a>(s: Option<&'a Node>, k: &str) -> Option<&'a Node> {
    s.and_then(|s| s.field_schema(k)).flatten()
}

fn prune_non_nullable_nulls(x: &mut Value, s: Option<&Node>) {
    match x {
        Value::Object(m) => {
            let drop: Vec<String> = m
                .iter()
                .filter(|(k, v)| {
                    v.is_null()
                        && schema_for_field(s, k)
                            .is_some_and(|f| !f.nullable && f.default.is_none())
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in drop {
                m.remove(&k);
            }
            for (k, v) in m.iter_mut() {
                prune_non_nullable_nulls(v, schema_for_field(s, k));
            }
        }
        Value::Array(a) => {
            let items = s.and_then(|s| s.items.as_deref());
            for v in a {
                prune_non_nullable_nulls(v, items);
            }
        }
        _ => {}
    }
}

fn is_non_nullable_null(v: &Value, s: &Node) -> bool {
    v.is_null() && !s.nullable
}

fn default(x: &mut Value, s: &Node) {
    match x {
        Value::Object(m) => default_object(m, s),
        Value::Array(a) => {
            if let Some(items) = s.items.as_deref() {
                for v in a.iter_mut() {
                    if is_non_nullable_null(v, items)
                        && let Some(d) = &items.default
                    {
                        *v = d.clone();
                    }
                    default(v, items);
                }
            }
        }
        _ => {}
    }
}

fn default_object(m: &mut Map<String, Value>, s: &Node) {
    for (k, prop) in &s.properties {
        let Some(d) = &prop.default else { continue };
        match m.get(k) {
            Some(v) if !is_non_nullable_null(v, prop) => {}
            _ => {
                m.insert(k.clone(), d.clone());
            }
        }
    }
    for (k, v) in m.iter_mut() {
        if let Some(prop) = s.properties.get(k) {
            default(v, prop);
        } else if let Some(AdditionalProperties::Schema(ap)) = &s.additional_properties {
            if is_non_nullable_null(v, ap)
                && let Some(d) = &ap.default
            {
                *v = d.clone();
            }
            default(v, ap);
        }
    }
}
