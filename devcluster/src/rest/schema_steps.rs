//! The schema-driven steps of admission, backed by [`devcluster_schema`]: pruning, defaulting
//! and validation of custom resources; the structural checks of CRDs.

use devcluster_schema::{self as schema, CrdSchema};
use serde_json::Value;

use crate::error::Cause;
use crate::registry::ResourceType;

fn cause(e: &schema::FieldError) -> Cause {
    let c = e.to_status_cause();
    Cause::new(
        c["reason"].as_str().unwrap_or("FieldValueInvalid"),
        c["field"].as_str().unwrap_or_default(),
        c["message"].as_str().unwrap_or_default(),
    )
}

/// Prune, default and validate a custom resource. Returns the unknown (pruned) field paths.
pub(super) fn custom_resource(
    rt: &ResourceType,
    object: &mut Value,
) -> Result<Vec<String>, Vec<Cause>> {
    let fallback;
    let compiled: &CrdSchema = match &rt.crd {
        Some(c) => &c.compiled,
        None => {
            fallback = CrdSchema::preserve_unknown_fields();
            &fallback
        }
    };
    let unknown = schema::prune(compiled, object);
    schema::apply_defaults(compiled, object);
    let errors = schema::validate_custom_resource(compiled, object);
    if errors.is_empty() {
        Ok(unknown)
    } else {
        Err(errors.iter().map(cause).collect())
    }
}

/// Validate a CustomResourceDefinition beyond its typed decoding (structural schema rules).
pub(super) fn check_crd(crd: &Value) -> Vec<Cause> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let Ok(typed) = serde_json::from_value::<CustomResourceDefinition>(crd.clone()) else {
        return vec![Cause::new(
            "FieldValueInvalid",
            "spec",
            "Invalid value: cannot decode the CustomResourceDefinition",
        )];
    };
    let spec = &typed.spec;
    let mut causes = Vec::new();
    let name = typed.metadata.name.clone().unwrap_or_default();
    let expected = format!("{}.{}", spec.names.plural, spec.group);
    if name != expected {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    if spec.group.is_empty() || !spec.group.contains('.') {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "spec.group",
            format!(
                "Invalid value: \"{}\": should be a domain with at least one dot",
                spec.group
            ),
        ));
    }
    if !matches!(spec.scope.as_str(), "Namespaced" | "Cluster") {
        causes.push(Cause::new(
            "FieldValueNotSupported",
            "spec.scope",
            format!(
                "Unsupported value: \"{}\": supported values: \"Cluster\", \"Namespaced\"",
                spec.scope
            ),
        ));
    }
    if spec.names.kind.is_empty() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.names.kind",
            "Required value",
        ));
    }
    let storage = spec.versions.iter().filter(|v| v.storage).count();
    if spec.versions.is_empty() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.versions",
            "Required value: must have exactly one version marked as storage version",
        ));
    } else if storage != 1 {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "spec.versions",
            format!(
                "Invalid value: {}: must have exactly one version marked as storage version",
                storage
            ),
        ));
    }
    for (i, v) in spec.versions.iter().enumerate() {
        let status = v.subresources.as_ref().is_some_and(|s| s.status.is_some());
        match v
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
        {
            Some(s) => causes.extend(
                schema::validate_crd_schema(s, &format!("spec.versions[{i}].schema"), status)
                    .iter()
                    .map(cause),
            ),
            None => causes.push(Cause::new(
                "FieldValueRequired",
                format!("spec.versions[{i}].schema.openAPIV3Schema"),
                "Required value: schemas are required",
            )),
        }
    }
    causes
}
