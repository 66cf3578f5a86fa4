//! Behaviour tests of the schema machinery against kube-apiserver's observable results.

use super::*;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::{Value, json};

fn props(v: Value) -> JSONSchemaProps {
    serde_json::from_value(v).expect("valid JSONSchemaProps")
}

fn schema(v: Value) -> CrdSchema {
    CrdSchema::new(&props(v))
}

fn messages(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(FieldError::message).collect()
}

#[test]
fn type_mismatch_matches_apiserver_message() {
    let s = schema(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}),
    );
    let errs = validate_custom_resource(&s, &json!({"spec": {"replicas": "string"}}));
    assert_eq!(
        messages(&errs),
        vec![
            "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\""
        ]
    );
    assert_eq!(errs[0].error_type.reason(), "FieldValueTypeInvalid");
}
