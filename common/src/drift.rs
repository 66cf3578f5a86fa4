//! Drift: whether an object on the server still has every field its writer wants. Writers compare
//! first and write only on drift, so a reconcile of an object in shape writes nothing.

use serde_json::Value;

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
}
