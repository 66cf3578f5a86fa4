//! JSON merge patch (RFC 7386), as kube-apiserver applies it (evanphx/json-patch `MergePatch`).

use serde_json::Value;

use super::PatchError;

/// Applies a JSON merge patch to `target` in place.
///
/// `null` removes a field, objects merge recursively, anything else (including lists) replaces.
/// Nulls inside values that replace are dropped from objects (also objects inside lists), as
/// kube-apiserver does. A patch that is not a JSON object is a 400 `BadRequest` ("Invalid JSON
/// Patch"), as is a target that is not an object.
pub fn merge_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::BadRequest("Invalid JSON Patch".into()));
    };
    let Value::Object(target) = target else {
        return Err(PatchError::BadRequest("Invalid JSON Document".into()));
    };
    merge_docs(target, patch);
    Ok(())
}

fn merge_docs(doc: &mut serde_json::Map<String, Value>, patch: &serde_json::Map<String, Value>) {
    for (key, value) in patch {
        if value.is_null() {
            doc.remove(key);
            continue;
        }
        match doc.get_mut(key) {
            Some(Value::Object(current)) => {
                if let Value::Object(patch) = value {
                    merge_docs(current, patch);
                } else {
                    doc.insert(key.clone(), value.clone());
                }
            }
            _ => {
                let mut value = value.clone();
                prune_nulls(&mut value);
                doc.insert(key.clone(), value);
            }
        }
    }
}

/// Removes null fields of objects, recursively (also inside lists; nulls in lists stay).
fn prune_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(prune_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merged(target: Value, patch: Value) -> Value {
        let mut target = target;
        merge_patch(&mut target, &patch).unwrap();
        target
    }

    #[test]
    fn rfc7386_appendix_a_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (target, patch, want) in cases {
            assert_eq!(
                merged(target.clone(), patch.clone()),
                want,
                "{target} + {patch}"
            );
        }
    }

    #[test]
    fn nulls_inside_objects_of_new_lists_are_pruned() {
        assert_eq!(
            merged(json!({}), json!({"a": [{"x": null, "y": 1}, null]})),
            json!({"a": [{"y": 1}, null]})
        );
    }

    #[test]
    fn a_list_replacing_an_object_is_taken_as_is() {
        // evanphx/json-patch prunes nulls only when the current value is not an object
        assert_eq!(
            merged(json!({"a": {"x": 1}}), json!({"a": [{"b": null}]})),
            json!({"a": [{"b": null}]})
        );
        assert_eq!(
            merged(json!({"a": 1}), json!({"a": [{"b": null}]})),
            json!({"a": [{}]})
        );
    }

    #[test]
    fn non_object_patch_is_bad_request() {
        for patch in [json!(null), json!(5), json!("x"), json!([1])] {
            let err = merge_patch(&mut json!({}), &patch).unwrap_err();
            assert_eq!(err, PatchError::BadRequest("Invalid JSON Patch".into()));
            assert_eq!(err.code(), 400);
        }
    }

    #[test]
    fn merging_a_patch_twice_is_idempotent() {
        // property: merge patches without nulls inside lists are idempotent
        let values = [
            json!(null),
            json!(1),
            json!("s"),
            json!([1, {"a": 2}]),
            json!({"a": {"b": null, "c": [1]}}),
            json!({"x": 1}),
        ];
        for t in &values {
            for p in &values {
                let target = json!({"k": t, "other": {"z": t}});
                let patch = json!({"k": p, "other": {"z": p, "n": null}});
                let once = merged(target.clone(), patch.clone());
                let twice = merged(once.clone(), patch.clone());
                assert_eq!(once, twice, "{target} + {patch}");
            }
        }
    }
}
