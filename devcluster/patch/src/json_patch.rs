//! JSON patch (RFC 6902), as kube-apiserver applies it (evanphx/json-patch v4): same operations,
//! negative list indexes, error messages and status codes.

use serde_json::Value;

use super::PatchError;

/// kube-apiserver's limit on the operations of one JSON patch.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Applies a JSON patch to `target`. On error `target` is left unchanged.
///
/// Errors, as kube-apiserver answers them:
/// - the patch is not a list of operation objects: 400 `BadRequest`;
/// - more than [`MAX_JSON_PATCH_OPERATIONS`] operations: 413 `RequestEntityTooLarge`;
/// - an operation does not apply (failed `test`, missing path, bad index, unknown `op`): 422
///   `Invalid` ([`PatchError::NotApplicable`]) with evanphx/json-patch's message, e.g.
///   `testing value /spec/replicas failed: test failed`.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let ops = decode(patch)?;
    if ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations(ops.len()));
    }
    let mut doc = target.clone();
    for op in ops {
        apply_op(&mut doc, op).map_err(PatchError::NotApplicable)?;
    }
    *target = doc;
    Ok(())
}

fn decode(patch: &Value) -> Result<Vec<&serde_json::Map<String, Value>>, PatchError> {
    let type_name = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let Value::Array(items) = patch else {
        return Err(PatchError::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
            type_name(patch)
        )));
    };
    items
        .iter()
        .map(|item| match item {
            Value::Object(op) => Ok(op),
            other => Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                type_name(other)
            ))),
        })
        .collect()
}

fn apply_op(doc: &mut Value, op: &serde_json::Map<String, Value>) -> Result<(), String> {
    let kind = op.get("op").and_then(Value::as_str).unwrap_or("unknown");
    let path = || -> Result<&str, String> {
        match op.get("path") {
            Some(Value::String(p)) => Ok(p),
            _ => Err("error reading path: operation missing path field: missing value".to_string()),
        }
    };
    let from = || -> Result<&str, String> {
        match op.get("from") {
            Some(Value::String(p)) => Ok(p),
            _ => Err("error reading from: operation missing from field: missing value".to_string()),
        }
    };
    // a missing value is null, as in evanphx/json-patch v4
    let value = || -> Result<Value, String> { Ok(op.get("value").cloned().unwrap_or(Value::Null)) };
    match kind {
        "add" => {
            let path = path()?;
            let value = value()?;
            add(doc, path, value).map_err(|e| match e {
                Some(e) => format!("error in add for path: '{path}': {e}"),
                None => format!(
                    "add operation does not apply: doc is missing path: \"{path}\": missing value"
                ),
            })
        }
        "remove" => {
            let path = path()?;
            remove(doc, path).map(|_| ()).map_err(|e| match e {
                Some(e) => format!("error in remove for path: '{path}': {e}"),
                None => format!(
                    "remove operation does not apply: doc is missing path: \"{path}\": missing value"
                ),
            })
        }
        "replace" => {
            let path = path()?;
            let value = value()?;
            let Some((parent, key)) = find_parent(doc, path) else {
                return Err(format!(
                    "replace operation does not apply: doc is missing path: {path}: missing value"
                ));
            };
            match child_mut(parent, &key) {
                Some(slot) => {
                    *slot = value;
                    Ok(())
                }
                None => Err(format!(
                    "replace operation does not apply: doc is missing key: {path}: missing value"
                )),
            }
        }
        "move" => {
            let from = from()?;
            let path = path()?;
            let moved = remove(doc, from).map_err(|e| {
                e.unwrap_or_else(|| {
                    format!("move operation does not apply: doc is missing from path: {from}: missing value")
                })
            })?;
            add(doc, path, moved).map_err(|e| {
                e.unwrap_or_else(|| {
                    format!("move operation does not apply: doc is missing destination path: {path}: missing value")
                })
            })
        }
        "copy" => {
            let from = from()?;
            let path = path()?;
            let copied = find_parent(doc, from)
                .and_then(|(parent, key)| child_mut(parent, &key).map(|v| v.clone()))
                .ok_or_else(|| {
                    format!("copy operation does not apply: doc is missing from path: {from}: missing value")
                })?;
            add(doc, path, copied).map_err(|e| {
                e.unwrap_or_else(|| {
                    format!("copy operation does not apply: doc is missing destination path: {path}: missing value")
                })
            })
        }
        "test" => {
            let path = path()?;
            let expected = op.get("value").cloned().unwrap_or(Value::Null);
            let Some((parent, key)) = find_parent(doc, path) else {
                return Err(format!(
                    "test operation does not apply: is missing path: {path}: missing value"
                ));
            };
            let actual = child_mut(parent, &key).map(|v| v.clone());
            let passed = match actual {
                // a missing value equals an expected null
                None | Some(Value::Null) => expected.is_null(),
                Some(actual) => json_equal(&actual, &expected),
            };
            if passed {
                Ok(())
            } else {
                Err(format!("testing value {path} failed: test failed"))
            }
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

/// Numbers compare by value (Go decodes them all to float64).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Decodes one reference token (`~1` is `/`, `~0` is `~`).
fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// The container holding the last token of `path`, and that token. `None` when the path is empty
/// or a container on the way is missing (like evanphx/json-patch's `findObject`).
fn find_parent<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let rest = path.strip_prefix('/')?;
    let mut tokens: Vec<String> = rest.split('/').map(unescape).collect();
    let last = tokens.pop()?;
    let mut current = doc;
    for token in tokens {
        current = match current {
            Value::Object(map) => map.get_mut(&token)?,
            Value::Array(items) => {
                let index: usize = token.parse().ok()?;
                items.get_mut(index)?
            }
            _ => return None,
        };
        if !(current.is_object() || current.is_array()) {
            return None;
        }
    }
    if !(current.is_object() || current.is_array()) {
        return None;
    }
    Some((current, last))
}

/// Index into a list of `len` items, negative indexes counting from the end; `allow_end` for `add`.
fn list_index(token: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    let index: i64 = token
        .parse()
        .map_err(|_| format!("value was not a proper array index: '{token}': strconv.Atoi: parsing \"{token}\": invalid syntax"))?;
    let len_i = len as i64;
    let limit = if allow_end { len_i } else { len_i - 1 };
    if index > limit || index < -len_i {
        return Err(format!(
            "Unable to access invalid index: {index}: invalid index referenced"
        ));
    }
    Ok(if index < 0 {
        (index + len_i) as usize
    } else {
        index as usize
    })
}

fn child_mut<'a>(parent: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    match parent {
        Value::Object(map) => map.get_mut(key),
        Value::Array(items) => {
            let index = list_index(key, items.len(), false).ok()?;
            items.get_mut(index)
        }
        _ => None,
    }
}

/// `Err(None)`: the generic "missing path" message of the caller.
fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), Option<String>> {
    let (parent, key) = find_parent(doc, path).ok_or(None)?;
    match parent {
        Value::Object(map) => {
            map.insert(key, value);
            Ok(())
        }
        Value::Array(items) => {
            if key == "-" {
                items.push(value);
                return Ok(());
            }
            let index = list_index(&key, items.len(), true).map_err(Some)?;
            items.insert(index, value);
            Ok(())
        }
        _ => Err(None),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, Option<String>> {
    let (parent, key) = find_parent(doc, path).ok_or(None)?;
    match parent {
        Value::Object(map) => map.remove(&key).ok_or_else(|| {
            Some(format!(
                "Unable to remove nonexistent key: {key}: missing value"
            ))
        }),
        Value::Array(items) => {
            let index = list_index(&key, items.len(), false).map_err(Some)?;
            Ok(items.remove(index))
        }
        _ => Err(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(doc: Value, patch: Value) -> Result<Value, PatchError> {
        let mut doc = doc;
        json_patch(&mut doc, &patch)?;
        Ok(doc)
    }

    #[test]
    fn add_remove_replace_move_copy() {
        let doc = json!({"a": {"b": [1, 2]}, "c": "x"});
        assert_eq!(
            patched(
                doc.clone(),
                json!([{"op": "add", "path": "/a/b/1", "value": 9}])
            )
            .unwrap(),
            json!({"a": {"b": [1, 9, 2]}, "c": "x"})
        );
        assert_eq!(
            patched(
                doc.clone(),
                json!([{"op": "add", "path": "/a/b/-", "value": 3}])
            )
            .unwrap(),
            json!({"a": {"b": [1, 2, 3]}, "c": "x"})
        );
        assert_eq!(
            patched(
                doc.clone(),
                json!([{"op": "add", "path": "/a/b/-1", "value": 0}])
            )
            .unwrap(),
            json!({"a": {"b": [1, 0, 2]}, "c": "x"})
        );
        assert_eq!(
            patched(doc.clone(), json!([{"op": "remove", "path": "/a/b/0"}])).unwrap(),
            json!({"a": {"b": [2]}, "c": "x"})
        );
        assert_eq!(
            patched(
                doc.clone(),
                json!([{"op": "replace", "path": "/c", "value": {"d": 1}}])
            )
            .unwrap(),
            json!({"a": {"b": [1, 2]}, "c": {"d": 1}})
        );
        assert_eq!(
            patched(
                doc.clone(),
                json!([{"op": "move", "from": "/c", "path": "/a/c"}])
            )
            .unwrap(),
            json!({"a": {"b": [1, 2], "c": "x"}})
        );
        assert_eq!(
            patched(
                doc.clone(),
                json!([{"op": "copy", "from": "/a/b", "path": "/d"}])
            )
            .unwrap(),
            json!({"a": {"b": [1, 2]}, "c": "x", "d": [1, 2]})
        );
        assert_eq!(
            patched(json!({"metadata": {"annotations": {}}}), json!([{"op": "add", "path": "/metadata/annotations/example.com~1x~0y", "value": "v"}])).unwrap(),
            json!({"metadata": {"annotations": {"example.com/x~y": "v"}}})
        );
    }

    #[test]
    fn test_op_passes_or_fails_with_kube_message_and_leaves_target_unchanged() {
        let doc = json!({"spec": {"replicas": 1}});
        assert!(
            patched(
                doc.clone(),
                json!([{"op": "test", "path": "/spec/replicas", "value": 1.0}])
            )
            .is_ok()
        );
        assert!(
            patched(
                doc.clone(),
                json!([{"op": "test", "path": "/spec/missing", "value": null}])
            )
            .is_ok()
        );
        let mut target = doc.clone();
        let err = json_patch(
            &mut target,
            &json!([
                {"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "test", "path": "/spec/replicas", "value": 2}
            ]),
        )
        .unwrap_err();
        assert_eq!(
            err,
            PatchError::NotApplicable("testing value /spec/replicas failed: test failed".into())
        );
        assert_eq!(err.code(), 422);
        assert_eq!(target, doc);
    }

    #[test]
    fn inapplicable_operations_are_422_with_evanphx_messages() {
        let doc = json!({"a": {"b": [1]}});
        let cases = [
            (
                json!([{"op": "add", "path": "/x/y", "value": 1}]),
                "add operation does not apply: doc is missing path: \"/x/y\": missing value",
            ),
            (
                json!([{"op": "remove", "path": "/a/zz"}]),
                "error in remove for path: '/a/zz': Unable to remove nonexistent key: zz: missing value",
            ),
            (
                json!([{"op": "replace", "path": "/a/zz", "value": 1}]),
                "replace operation does not apply: doc is missing key: /a/zz: missing value",
            ),
            (
                json!([{"op": "add", "path": "/a/b/5", "value": 1}]),
                "error in add for path: '/a/b/5': Unable to access invalid index: 5: invalid index referenced",
            ),
            (
                json!([{"op": "frobnicate", "path": "/a"}]),
                "Unexpected kind: frobnicate",
            ),
            (json!([{"path": "/a"}]), "Unexpected kind: unknown"),
            (
                json!([{"op": "remove"}]),
                "error reading path: operation missing path field: missing value",
            ),
        ];
        for (patch, message) in cases {
            assert_eq!(
                patched(doc.clone(), patch.clone()).unwrap_err(),
                PatchError::NotApplicable(message.into()),
                "{patch}"
            );
        }
    }

    #[test]
    fn malformed_patches_are_400_and_huge_ones_413() {
        assert_eq!(
            patched(json!({}), json!({"op": "add"})).unwrap_err().code(),
            400
        );
        assert_eq!(patched(json!({}), json!([1])).unwrap_err().code(), 400);
        let ops: Vec<Value> = (0..=MAX_JSON_PATCH_OPERATIONS)
            .map(|_| json!({"op": "test", "path": "/a", "value": null}))
            .collect();
        let err = patched(json!({}), Value::Array(ops)).unwrap_err();
        assert_eq!(err, PatchError::TooManyOperations(10_001));
        assert_eq!(err.code(), 413);
        assert_eq!(
            err.to_string(),
            "The allowed maximum operations in a JSON patch is 10000, got 10001"
        );
    }

    #[test]
    fn add_then_remove_restores_the_document() {
        // property: for every path of a document, add followed by remove of a new key is identity
        let doc = json!({"a": {"b": [1, {"c": 2}]}, "d": {}});
        for path in ["/new", "/a/new", "/a/b/1/new", "/d/new"] {
            let back = patched(
                doc.clone(),
                json!([{"op": "add", "path": path, "value": [1]}, {"op": "remove", "path": path}]),
            )
            .unwrap();
            assert_eq!(back, doc, "{path}");
        }
    }
}
