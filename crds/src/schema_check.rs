//! A structural-schema check for generated CRDs: every schema node must declare a `type`, unless it
//! preserves unknown fields or is an int-or-string (the Kubernetes structural schema rules).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};

/// Paths (like `spec.versions[0].schema.openAPIV3Schema.properties.spec`) of schema nodes that
/// break the structural rules checked here; empty when the CRD is fine.
pub fn non_structural_nodes(crd: &CustomResourceDefinition) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, version) in crd.spec.versions.iter().enumerate() {
        let path = format!("spec.versions[{i}].schema.openAPIV3Schema");
        match version
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
        {
            Some(schema) => check(schema, &path, &mut problems),
            None => problems.push(format!("{path}: missing")),
        }
    }
    problems
}

fn check(node: &JSONSchemaProps, path: &str, problems: &mut Vec<String>) {
    let typed = node.type_.as_deref().is_some_and(|t| !t.is_empty());
    let exempt = node.x_kubernetes_preserve_unknown_fields == Some(true)
        || node.x_kubernetes_int_or_string == Some(true);
    if !typed && !exempt {
        problems.push(format!("{path}: no type"));
    }
    for forbidden in [&node.one_of, &node.any_of, &node.all_of] {
        // Value validations are allowed in these, but they must not introduce types or properties.
        for sub in forbidden.iter().flatten() {
            if sub.type_.is_some() || sub.properties.is_some() {
                problems.push(format!(
                    "{path}: type or properties inside a logical junctor"
                ));
            }
        }
    }
    if node.properties.is_some()
        && matches!(
            node.additional_properties,
            Some(JSONSchemaPropsOrBool::Schema(_))
        )
    {
        problems.push(format!("{path}: both properties and additionalProperties"));
    }
    for (name, child) in node.properties.iter().flatten() {
        check(child, &format!("{path}.properties.{name}"), problems);
    }
    if let Some(JSONSchemaPropsOrBool::Schema(child)) = &node.additional_properties {
        check(child, &format!("{path}.additionalProperties"), problems);
    }
    match &node.items {
        Some(JSONSchemaPropsOrArray::Schema(child)) => {
            check(child, &format!("{path}.items"), problems)
        }
        Some(JSONSchemaPropsOrArray::Schemas(children)) => {
            for (i, child) in children.iter().enumerate() {
                check(child, &format!("{path}.items[{i}]"), problems);
            }
        }
        None => {}
    }
}
