//! Static validation of a CRD version's `openAPIV3Schema` on CRD create/update: the structural-schema
//! rules, the OpenAPI subset CRDs may use, and the validity of `default` values.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool, JSONSchemaPropsOrStringArray,
};
use serde_json::Value;

use super::field::{FieldError, FieldPath};
use super::structural::Node;
use super::validate::validate_node_at;

const OPENAPI_V3_TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];
const META_FIELDS: [&str; 3] = ["metadata", "kind", "apiVersion"];
const ALLOWED_AT_ROOT_WITH_STATUS: [&str; 22] = [
    "Description",
    "Type",
    "Format",
    "Title",
    "Maximum",
    "ExclusiveMaximum",
    "Minimum",
    "ExclusiveMinimum",
    "MaxLength",
    "MinLength",
    "Pattern",
    "MaxItems",
    "MinItems",
    "UniqueItems",
    "MultipleOf",
    "Required",
    "Items",
    "Properties",
    "ExternalDocs",
    "Example",
    "XPreserveUnknownFields",
    "XValidations",
];

/// Validates the `openAPIV3Schema` of one CRD version like kube-apiserver does on CRD create/update.
///
/// `schema_path` is the path of the version's `schema` field, e.g. `spec.versions[0].schema`; errors are
/// reported below `<schema_path>.openAPIV3Schema` with kube-apiserver's messages, e.g.
/// `spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for
/// specified object fields`. `status_subresource` is whether that version enables the status subresource
/// (it restricts what the root may specify). Any error means the CRD must be rejected with 422 Invalid.
pub fn validate_crd_schema(
    schema: &JSONSchemaProps,
    schema_path: &str,
    status_subresource: bool,
) -> Vec<FieldError> {
    let base = FieldPath::new(schema_path);
    let root_path = base.child("openAPIV3Schema");
    let mut errs = Vec::new();

    if status_subresource {
        if schema.type_.as_deref().is_some_and(|t| t != "object") {
            errs.push(FieldError::invalid(
                base.child("openAPIV3Schema.type").to_string(),
                Value::String(schema.type_.clone().unwrap_or_default()),
                "only \"object\" is allowed as the type at the root of the schema if the status subresource is enabled",
            ));
        } else if !root_fields_set(schema)
            .iter()
            .all(|f| ALLOWED_AT_ROOT_WITH_STATUS.contains(f))
        {
            errs.push(FieldError::invalid(
                root_path.to_string(),
                serde_json::to_value(schema).unwrap_or(Value::Null),
                format!(
                    "only [{}] fields are allowed at the root of the schema if the status subresource is enabled",
                    ALLOWED_AT_ROOT_WITH_STATUS.join(" ")
                ),
            ));
        }
    }
    if schema.nullable == Some(true) {
        errs.push(FieldError::forbidden(
            base.child("openAPIV3Schema.nullable").to_string(),
            "nullable cannot be true at the root",
        ));
    }

    let mut structural = Vec::new();
    structural_invariants(schema, Level::Root, &root_path, &mut structural);
    completeness_value_validation(
        schema,
        Some(schema),
        &root_path,
        &root_path,
        &mut structural,
    );
    structural.sort_by_key(FieldError::message);
    if structural.is_empty() {
        validate_defaults(schema, &root_path, true, &mut errs);
    } else {
        errs.extend(structural);
    }

    let ctx = Ctx {
        allow_defaults: true,
        disallow_reason: String::new(),
        inside_meta: false,
    };
    openapi_schema(schema, &root_path, &ctx, true, &mut errs);
    errs
}

/// The Go field names of `JSONSchemaProps` that are set (non-zero) at the root.
fn root_fields_set(s: &JSONSchemaProps) -> Vec<&'static str> {
    let mut f = Vec::new();
    let mut add = |set: bool, name: &'static str| {
        if set {
            f.push(name);
        }
    };
    add(s.id.as_deref().is_some_and(|x| !x.is_empty()), "ID");
    add(s.schema.as_deref().is_some_and(|x| !x.is_empty()), "Schema");
    add(s.ref_path.is_some(), "Ref");
    add(
        s.description.as_deref().is_some_and(|x| !x.is_empty()),
        "Description",
    );
    add(s.type_.as_deref().is_some_and(|x| !x.is_empty()), "Type");
    add(s.format.as_deref().is_some_and(|x| !x.is_empty()), "Format");
    add(s.title.as_deref().is_some_and(|x| !x.is_empty()), "Title");
    add(s.default.is_some(), "Default");
    add(s.maximum.is_some(), "Maximum");
    add(s.exclusive_maximum == Some(true), "ExclusiveMaximum");
    add(s.minimum.is_some(), "Minimum");
    add(s.exclusive_minimum == Some(true), "ExclusiveMinimum");
    add(s.max_length.is_some(), "MaxLength");
    add(s.min_length.is_some(), "MinLength");
    add(
        s.pattern.as_deref().is_some_and(|x| !x.is_empty()),
        "Pattern",
    );
    add(s.max_items.is_some(), "MaxItems");
    add(s.min_items.is_some(), "MinItems");
    add(s.unique_items == Some(true), "UniqueItems");
    add(s.multiple_of.is_some(), "MultipleOf");
    add(s.enum_.as_ref().is_some_and(|e| !e.is_empty()), "Enum");
    add(s.max_properties.is_some(), "MaxProperties");
    add(s.min_properties.is_some(), "MinProperties");
    add(
        s.required.as_ref().is_some_and(|e| !e.is_empty()),
        "Required",
    );
    add(s.items.is_some(), "Items");
    add(s.all_of.as_ref().is_some_and(|e| !e.is_empty()), "AllOf");
    add(s.one_of.as_ref().is_some_and(|e| !e.is_empty()), "OneOf");
    add(s.any_of.as_ref().is_some_and(|e| !e.is_empty()), "AnyOf");
    add(s.not.is_some(), "Not");
    add(
        s.properties.as_ref().is_some_and(|e| !e.is_empty()),
        "Properties",
    );
    add(s.additional_properties.is_some(), "AdditionalProperties");
    add(
        s.pattern_properties.as_ref().is_some_and(|e| !e.is_empty()),
        "PatternProperties",
    );
    add(
        s.dependencies.as_ref().is_some_and(|e| !e.is_empty()),
        "Dependencies",
    );
    add(s.additional_items.is_some(), "AdditionalItems");
    add(
        s.definitions.as_ref().is_some_and(|e| !e.is_empty()),
        "Definitions",
    );
    add(s.external_docs.is_some(), "ExternalDocs");
    add(s.example.is_some(), "Example");
    add(s.nullable == Some(true), "Nullable");
    add(
        s.x_kubernetes_preserve_unknown_fields.is_some(),
        "XPreserveUnknownFields",
    );
    add(
        s.x_kubernetes_embedded_resource == Some(true),
        "XEmbeddedResource",
    );
    add(s.x_kubernetes_int_or_string == Some(true), "XIntOrString");
    add(
        s.x_kubernetes_list_map_keys
            .as_ref()
            .is_some_and(|e| !e.is_empty()),
        "XListMapKeys",
    );
    add(s.x_kubernetes_list_type.is_some(), "XListType");
    add(s.x_kubernetes_map_type.is_some(), "XMapType");
    add(
        s.x_kubernetes_validations
            .as_ref()
            .is_some_and(|e| !e.is_empty()),
        "XValidations",
    );
    f
}

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Root,
    Item,
    Field,
}

fn ty(s: &JSONSchemaProps) -> &str {
    s.type_.as_deref().unwrap_or("")
}

fn flag(b: Option<bool>) -> bool {
    b.unwrap_or(false)
}

fn items_schema(s: &JSONSchemaProps) -> Option<&JSONSchemaProps> {
    match &s.items {
        Some(JSONSchemaPropsOrArray::Schema(i)) => Some(i),
        _ => None,
    }
}

fn ap_schema(s: &JSONSchemaProps) -> Option<&JSONSchemaProps> {
    match &s.additional_properties {
        Some(JSONSchemaPropsOrBool::Schema(i)) => Some(i),
        _ => None,
    }
}

fn list<T>(v: &Option<Vec<T>>) -> &[T] {
    v.as_deref().unwrap_or(&[])
}

/// Whether `anyOf` is exactly `[{type: integer}, {type: string}]` (the int-or-string exception).
fn is_int_or_string_any_of(any_of: &[JSONSchemaProps]) -> bool {
    let only_type = |s: &JSONSchemaProps, t: &str| {
        *s == JSONSchemaProps {
            type_: Some(t.to_string()),
            ..Default::default()
        }
    };
    any_of.len() == 2 && only_type(&any_of[0], "integer") && only_type(&any_of[1], "string")
}

fn structural_invariants(
    s: &JSONSchemaProps,
    lvl: Level,
    path: &FieldPath,
    out: &mut Vec<FieldError>,
) {
    if ty(s) == "array" && s.items.is_none() {
        out.push(FieldError::required(
            path.child("items").to_string(),
            "must be specified",
        ));
    }
    if let Some(items) = items_schema(s) {
        structural_invariants(items, Level::Item, &path.child("items"), out);
    }
    for (k, v) in s.properties.iter().flatten() {
        structural_invariants(v, Level::Field, &path.child("properties").key(k), out);
    }
    if s.additional_properties.is_some() {
        if lvl == Level::Root {
            out.push(FieldError::forbidden(
                path.child("additionalProperties").to_string(),
                "must not be used at the root",
            ));
        }
        if let Some(ap) = ap_schema(s) {
            structural_invariants(ap, Level::Field, &path.child("additionalProperties"), out);
        }
    }
    let int_or_string = flag(s.x_kubernetes_int_or_string);
    let preserve = flag(s.x_kubernetes_preserve_unknown_fields);
    let embedded = flag(s.x_kubernetes_embedded_resource);
    if int_or_string && preserve {
        out.push(FieldError::invalid(
            path.child("x-kubernetes-preserve-unknown-fields")
                .to_string(),
            Value::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if int_or_string && embedded {
        out.push(FieldError::invalid(
            path.child("x-kubernetes-embedded-resource").to_string(),
            Value::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    let skip_any_of = is_int_or_string_any_of(list(&s.any_of));
    let skip_first_all_of_any_of = list(&s.all_of)
        .first()
        .is_some_and(|a| is_int_or_string_any_of(list(&a.any_of)));
    value_validation(s, skip_any_of, skip_first_all_of_any_of, path, out);

    let check_metadata = lvl == Level::Root || embedded;
    if embedded && ty(s) != "object" {
        let p = path.child("type").to_string();
        let msg = "must be object if x-kubernetes-embedded-resource is true";
        out.push(if ty(s).is_empty() {
            FieldError::required(p, msg)
        } else {
            FieldError::invalid(p, Value::String(ty(s).into()), msg)
        });
    } else if ty(s).is_empty() && !int_or_string && !preserve {
        let msg = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        out.push(FieldError::required(path.child("type").to_string(), msg));
    }
    if embedded && s.additional_properties.is_some() {
        out.push(FieldError::forbidden(
            path.child("additionalProperties").to_string(),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if lvl == Level::Root && !ty(s).is_empty() && ty(s) != "object" {
        out.push(FieldError::invalid(
            path.child("type").to_string(),
            Value::String(ty(s).into()),
            "must be object at the root",
        ));
    }
    let props = s.properties.as_ref();
    for k in ["kind", "apiVersion"] {
        if let Some(p) = props.and_then(|p| p.get(k))
            && check_metadata
            && ty(p) != "string"
        {
            out.push(FieldError::invalid(
                path.child("properties").key(k).child("type").to_string(),
                Value::String(ty(p).into()),
                "must be string",
            ));
        }
    }
    if let Some(meta) = props.and_then(|p| p.get("metadata")) {
        metadata_invariants(
            meta,
            check_metadata,
            lvl,
            &path.child("properties").key("metadata"),
            out,
        );
    }
    if embedded && !preserve && props.is_none_or(|p| p.is_empty()) {
        out.push(FieldError::required(
            path.child("properties").to_string(),
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
}

fn metadata_invariants(
    s: &JSONSchemaProps,
    check_metadata: bool,
    lvl: Level,
    path: &FieldPath,
    out: &mut Vec<FieldError>,
) {
    if check_metadata && ty(s) != "object" {
        out.push(FieldError::invalid(
            path.child("type").to_string(),
            Value::String(ty(s).into()),
            "must be object",
        ));
    }
    if lvl == Level::Root {
        let mut rest = s.clone();
        let props = rest.properties.take().unwrap_or_default();
        let only_names = props.keys().all(|k| k == "name" || k == "generateName");
        if !only_names {
            rest.properties = Some(props);
        }
        rest.type_ = None;
        rest.default = None;
        if rest != JSONSchemaProps::default() {
            out.push(FieldError::forbidden(
                path.to_string(),
                "must not specify anything other than name and generateName, but metadata is implicitly specified",
            ));
        }
    }
}

fn value_validation(
    s: &JSONSchemaProps,
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    path: &FieldPath,
    out: &mut Vec<FieldError>,
) {
    if !skip_any_of {
        for (i, v) in list(&s.any_of).iter().enumerate() {
            nested_value_validation(v, false, false, &path.child("anyOf").index(i), out);
        }
    }
    for (i, v) in list(&s.all_of).iter().enumerate() {
        nested_value_validation(
            v,
            skip_first_all_of_any_of && i == 0,
            false,
            &path.child("allOf").index(i),
            out,
        );
    }
    for (i, v) in list(&s.one_of).iter().enumerate() {
        nested_value_validation(v, false, false, &path.child("oneOf").index(i), out);
    }
    if let Some(not) = &s.not {
        nested_value_validation(not, false, false, &path.child("not"), out);
    }
    if let Some(p) = s.pattern.as_deref().filter(|p| !p.is_empty())
        && let Err(e) = regex::Regex::new(p)
    {
        out.push(FieldError::invalid(
            path.child("pattern").to_string(),
            Value::String(p.into()),
            format!("must be a valid regular expression, but isn't: {e}"),
        ));
    }
}

fn nested_value_validation(
    v: &JSONSchemaProps,
    skip_any_of: bool,
    skip_all_of_any_of: bool,
    path: &FieldPath,
    out: &mut Vec<FieldError>,
) {
    value_validation(v, skip_any_of, skip_all_of_any_of, path, out);
    if let Some(items) = items_schema(v) {
        nested_value_validation(items, false, false, &path.child("items"), out);
    }
    for (k, f) in v.properties.iter().flatten() {
        nested_value_validation(f, false, false, &path.child("properties").key(k), out);
    }
    let forbid = |out: &mut Vec<FieldError>, cond: bool, field: &str, msg: &str| {
        if cond {
            out.push(FieldError::forbidden(path.child(field).to_string(), msg));
        }
    };
    forbid(
        out,
        !ty(v).is_empty(),
        "type",
        "must be empty to be structural",
    );
    forbid(
        out,
        v.additional_properties.is_some(),
        "additionalProperties",
        "must be undefined to be structural",
    );
    forbid(
        out,
        v.default.is_some(),
        "default",
        "must be undefined to be structural",
    );
    forbid(
        out,
        v.title.as_deref().is_some_and(|t| !t.is_empty()),
        "title",
        "must be empty to be structural",
    );
    forbid(
        out,
        v.description.as_deref().is_some_and(|t| !t.is_empty()),
        "description",
        "must be empty to be structural",
    );
    forbid(
        out,
        flag(v.nullable),
        "nullable",
        "must be false to be structural",
    );
    forbid(
        out,
        flag(v.x_kubernetes_preserve_unknown_fields),
        "x-kubernetes-preserve-unknown-fields",
        "must be false to be structural",
    );
    forbid(
        out,
        flag(v.x_kubernetes_embedded_resource),
        "x-kubernetes-embedded-resource",
        "must be false to be structural",
    );
    forbid(
        out,
        flag(v.x_kubernetes_int_or_string),
        "x-kubernetes-int-or-string",
        "must be false to be structural",
    );
    forbid(
        out,
        !list(&v.x_kubernetes_list_map_keys).is_empty(),
        "x-kubernetes-list-map-keys",
        "must be empty to be structural",
    );
    forbid(
        out,
        v.x_kubernetes_list_type.is_some(),
        "x-kubernetes-list-type",
        "must be undefined to be structural",
    );
    forbid(
        out,
        v.x_kubernetes_map_type.is_some(),
        "x-kubernetes-map-type",
        "must be undefined to be structural",
    );
    forbid(
        out,
        !list(&v.x_kubernetes_validations).is_empty(),
        "x-kubernetes-validations",
        "must be empty to be structural",
    );
    if v.properties
        .as_ref()
        .is_some_and(|p| p.contains_key("metadata"))
    {
        out.push(FieldError::forbidden(
            path.child("properties").key("metadata").to_string(),
            "must not be specified in a nested context",
        ));
    }
}

/// Every field or array specified in a logic junctor of the root must also be specified structurally.
fn completeness_value_validation(
    v: &JSONSchemaProps,
    s: Option<&JSONSchemaProps>,
    s_path: &FieldPath,
    v_path: &FieldPath,
    out: &mut Vec<FieldError>,
) {
    let Some(s) = s else {
        out.push(FieldError::required(
            s_path.to_string(),
            format!("because it is defined in {v_path}"),
        ));
        return;
    };
    if let Some(not) = &v.not {
        completeness_nested(not, Some(s), s_path, &v_path.child("not"), out);
    }
    for (name, junctor) in [
        ("allOf", &v.all_of),
        ("anyOf", &v.any_of),
        ("oneOf", &v.one_of),
    ] {
        for (i, j) in list(junctor).iter().enumerate() {
            completeness_nested(j, Some(s), s_path, &v_path.child(name).index(i), out);
        }
    }
}

fn completeness_nested(
    v: &JSONSchemaProps,
    s: Option<&JSONSchemaProps>,
    s_path: &FieldPath,
    v_path: &FieldPath,
    out: &mut Vec<FieldError>,
) {
    let Some(s) = s else {
        out.push(FieldError::required(
            s_path.to_string(),
            format!("because it is defined in {v_path}"),
        ));
        return;
    };
    completeness_value_validation(v, Some(s), s_path, v_path, out);
    if let Some(items) = items_schema(v) {
        completeness_nested(
            items,
            items_schema(s),
            &s_path.child("items"),
            &v_path.child("items"),
            out,
        );
    }
    for (k, vf) in v.properties.iter().flatten() {
        let sp = s_path.child("properties").key(k);
        let vp = v_path.child("properties").key(k);
        match s.properties.as_ref().and_then(|p| p.get(k)) {
            Some(sf) => completeness_nested(vf, Some(sf), &sp, &vp, out),
            None => out.push(FieldError::required(
                sp.to_string(),
                format!("because it is defined in {vp}"),
            )),
        }
    }
}

/// `default` values must validate against their schema and must not contain pruned fields.
fn validate_defaults(
    s: &JSONSchemaProps,
    path: &FieldPath,
    is_root: bool,
    out: &mut Vec<FieldError>,
) {
    if let Some(d) = &s.default
        && !is_root
    {
        let node = Node::compile(s);
        let default_path = path.child("default");
        let mut pruned = d.0.clone();
        let schema = super::structural::CrdSchema { root: node.clone() };
        let unknown = if node.embedded_resource {
            super::prune::prune(&schema, &mut pruned)
        } else {
            let mut paths = Vec::new();
            prune_plain(&mut pruned, &node, &mut paths);
            paths
        };
        if !unknown.is_empty() {
            out.push(FieldError::invalid(
                default_path.to_string(),
                d.0.clone(),
                "must not have unknown fields",
            ));
        }
        out.extend(validate_node_at(&node, default_path.as_str(), &d.0));
    }
    if let Some(items) = items_schema(s) {
        validate_defaults(items, &path.child("items"), false, out);
    }
    for (k, v) in s.properties.iter().flatten() {
        validate_defaults(v, &path.child("properties").key(k), false, out);
    }
    if let Some(ap) = ap_schema(s) {
        validate_defaults(ap, &path.child("additionalProperties"), false, out);
    }
}

/// Prunes a non-root value: it is wrapped in a synthetic root so that root metadata handling does not apply.
fn prune_plain(x: &mut Value, node: &Node, out: &mut Vec<String>) {
    let root = super::structural::CrdSchema {
        root: Node {
            type_: "object".into(),
            types: vec!["object"],
            properties: [("v".to_string(), node.clone())].into_iter().collect(),
            ..Node::default()
        },
    };
    let mut obj = serde_json::json!({ "v": x.take() });
    out.extend(super::prune::prune(&root, &mut obj));
    if let Some(v) = obj.get_mut("v") {
        *x = v.take();
    }
}

#[derive(Clone)]
struct Ctx {
    allow_defaults: bool,
    disallow_reason: String,
    inside_meta: bool,
}

impl Ctx {
    fn forbid_defaults(&self, reason: &str) -> Ctx {
        Ctx {
            allow_defaults: false,
            disallow_reason: reason.to_string(),
            ..self.clone()
        }
    }
}

/// apiextensions' `ValidateCustomResourceDefinitionOpenAPISchema` (without CEL compilation).
fn openapi_schema(
    s: &JSONSchemaProps,
    path: &FieldPath,
    ctx: &Ctx,
    is_root: bool,
    out: &mut Vec<FieldError>,
) {
    spec_standard(s, path, ctx, out);
    if flag(s.unique_items) {
        out.push(FieldError::forbidden(
            path.child("uniqueItems").to_string(),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    if let Some(ap) = &s.additional_properties {
        if s.properties.as_ref().is_some_and(|p| !p.is_empty())
            && matches!(
                ap,
                JSONSchemaPropsOrBool::Bool(false) | JSONSchemaPropsOrBool::Schema(_)
            )
        {
            out.push(FieldError::forbidden(
                path.child("additionalProperties").to_string(),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        let sub = if ctx.inside_meta {
            ctx.forbid_defaults("inside additionalProperties applying to object metadata")
        } else {
            ctx.clone()
        };
        if let Some(aps) = ap_schema(s) {
            openapi_schema(aps, &path.child("additionalProperties"), &sub, false, out);
        }
    }
    for (k, v) in s.properties.iter().flatten() {
        let mut sub = ctx.clone();
        if (is_root || flag(s.x_kubernetes_embedded_resource)) && META_FIELDS.contains(&k.as_str())
        {
            sub.inside_meta = true;
            if is_root {
                sub = sub.forbid_defaults(&format!("in top-level {k}"));
            }
        }
        openapi_schema(v, &path.child("properties").key(k), &sub, false, out);
    }
    if let Some(not) = &s.not {
        openapi_schema(not, &path.child("not"), ctx, false, out);
    }
    for (name, junctor) in [
        ("allOf", &s.all_of),
        ("oneOf", &s.one_of),
        ("anyOf", &s.any_of),
    ] {
        for (i, j) in list(junctor).iter().enumerate() {
            openapi_schema(j, &path.child(name).index(i), ctx, false, out);
        }
    }
    for (k, d) in s.definitions.iter().flatten() {
        openapi_schema(d, &path.child("definitions").key(k), ctx, false, out);
    }
    match &s.items {
        Some(JSONSchemaPropsOrArray::Schema(i)) => {
            openapi_schema(i, &path.child("items"), ctx, false, out)
        }
        Some(JSONSchemaPropsOrArray::Schemas(v)) => {
            for (i, item) in v.iter().enumerate() {
                openapi_schema(item, &path.child("items").index(i), ctx, false, out);
            }
        }
        None => {}
    }
    for (k, d) in s.dependencies.iter().flatten() {
        if let JSONSchemaPropsOrStringArray::Schema(d) = d {
            openapi_schema(d, &path.child("dependencies").key(k), ctx, false, out);
        }
    }
    if s.x_kubernetes_preserve_unknown_fields == Some(false) {
        out.push(FieldError::invalid(
            path.child("x-kubernetes-preserve-unknown-fields")
                .to_string(),
            Value::Bool(false),
            "must be true or undefined",
        ));
    }
    if let Some(map_type) = &s.x_kubernetes_map_type {
        if ty(s) != "object" {
            let msg = "must be object if x-kubernetes-map-type is specified";
            out.push(if ty(s).is_empty() {
                FieldError::required(path.child("type").to_string(), msg)
            } else {
                FieldError::invalid(
                    path.child("type").to_string(),
                    Value::String(ty(s).into()),
                    msg,
                )
            });
        }
        if map_type != "atomic" && map_type != "granular" {
            out.push(FieldError::not_supported(
                path.child("x-kubernetes-map-type").to_string(),
                Value::String(map_type.clone()),
                &["atomic".into(), "granular".into()],
            ));
        }
    }
    list_type_rules(s, path, out);
    validations_rules(s, path, out);
}

fn spec_standard(s: &JSONSchemaProps, path: &FieldPath, ctx: &Ctx, out: &mut Vec<FieldError>) {
    let t = ty(s);
    if !t.is_empty() && !OPENAPI_V3_TYPES.contains(&t) {
        let supported: Vec<String> = OPENAPI_V3_TYPES.iter().map(|s| s.to_string()).collect();
        out.push(FieldError::not_supported(
            path.child("type").to_string(),
            Value::String(t.into()),
            &supported,
        ));
    }
    if s.default.is_some() && !ctx.allow_defaults {
        let mut detail = "must not be set".to_string();
        if !ctx.disallow_reason.is_empty() {
            detail = format!("{detail} {}", ctx.disallow_reason);
        }
        out.push(FieldError::forbidden(
            path.child("default").to_string(),
            detail,
        ));
    }
    let mut forbid = |cond: bool, field: &str, msg: &str| {
        if cond {
            out.push(FieldError::forbidden(path.child(field).to_string(), msg));
        }
    };
    forbid(
        s.id.as_deref().is_some_and(|i| !i.is_empty()),
        "id",
        "id is not supported",
    );
    forbid(
        s.additional_items.is_some(),
        "additionalItems",
        "additionalItems is not supported",
    );
    forbid(
        s.pattern_properties.as_ref().is_some_and(|p| !p.is_empty()),
        "patternProperties",
        "patternProperties is not supported",
    );
    forbid(
        s.definitions.as_ref().is_some_and(|p| !p.is_empty()),
        "definitions",
        "definitions is not supported",
    );
    forbid(
        s.dependencies.is_some(),
        "dependencies",
        "dependencies is not supported",
    );
    forbid(s.ref_path.is_some(), "$ref", "$ref is not supported");
    forbid(
        t == "null",
        "type",
        "type cannot be set to null, use nullable as an alternative",
    );
    forbid(
        matches!(&s.items, Some(JSONSchemaPropsOrArray::Schemas(v)) if !v.is_empty()),
        "items",
        "items must be a schema object and not an array",
    );
    forbid(
        ctx.inside_meta && flag(s.x_kubernetes_embedded_resource),
        "x-kubernetes-embedded-resource",
        "must not be used inside of resource meta",
    );
}

fn list_type_rules(s: &JSONSchemaProps, path: &FieldPath, out: &mut Vec<FieldError>) {
    let list_type = s.x_kubernetes_list_type.as_deref();
    let keys = list(&s.x_kubernetes_list_map_keys);
    if list_type.is_some() && ty(s) != "array" {
        let msg = "must be array if x-kubernetes-list-type is specified";
        out.push(if ty(s).is_empty() {
            FieldError::required(path.child("type").to_string(), msg)
        } else {
            FieldError::invalid(
                path.child("type").to_string(),
                Value::String(ty(s).into()),
                msg,
            )
        });
    } else if list_type == Some("set")
        && let Some(is) = items_schema(s)
    {
        let msg = "must be atomic as item of a list with x-kubernetes-list-type=set";
        match ty(is) {
            "array"
                if is
                    .x_kubernetes_list_type
                    .as_deref()
                    .is_some_and(|t| t != "atomic") =>
            {
                out.push(FieldError::invalid(
                    path.child("items")
                        .child("x-kubernetes-list-type")
                        .to_string(),
                    Value::String(is.x_kubernetes_list_type.clone().unwrap_or_default()),
                    msg,
                ))
            }
            "object" if is.x_kubernetes_map_type.as_deref() != Some("atomic") => {
                out.push(FieldError::invalid(
                    path.child("items")
                        .child("x-kubernetes-map-type")
                        .to_string(),
                    is.x_kubernetes_list_type
                        .clone()
                        .map_or(Value::Null, Value::String),
                    msg,
                ))
            }
            _ => {}
        }
    }
    if let Some(lt) = list_type
        && !["atomic", "set", "map"].contains(&lt)
    {
        out.push(FieldError::not_supported(
            path.child("x-kubernetes-list-type").to_string(),
            Value::String(lt.into()),
            &["atomic".into(), "set".into(), "map".into()],
        ));
    }
    if !keys.is_empty() {
        let msg = "must be map if x-kubernetes-list-map-keys is non-empty";
        match list_type {
            None => out.push(FieldError::required(
                path.child("x-kubernetes-list-type").to_string(),
                msg,
            )),
            Some("map") => {}
            Some(lt) => out.push(FieldError::invalid(
                path.child("x-kubernetes-list-type").to_string(),
                Value::String(lt.into()),
                msg,
            )),
        }
    }
    let keys_value = || Value::Array(keys.iter().cloned().map(Value::String).collect());
    if list_type == Some("map") {
        if keys.is_empty() {
            out.push(FieldError::required(
                path.child("x-kubernetes-list-map-keys").to_string(),
                "must not be empty if x-kubernetes-list-type is map",
            ));
        }
        match &s.items {
            None => out.push(FieldError::required(
                path.child("items").to_string(),
                "must have a schema if x-kubernetes-list-type is map",
            )),
            Some(JSONSchemaPropsOrArray::Schemas(v)) => out.push(FieldError::invalid(
                path.child("items").to_string(),
                serde_json::to_value(v).unwrap_or(Value::Null),
                "must only have a single schema if x-kubernetes-list-type is map",
            )),
            Some(JSONSchemaPropsOrArray::Schema(is)) if ty(is) != "object" => {
                out.push(FieldError::invalid(
                    path.child("items").child("type").to_string(),
                    Value::String(ty(is).into()),
                    "must be object if parent array's x-kubernetes-list-type is map",
                ))
            }
            Some(JSONSchemaPropsOrArray::Schema(is)) => {
                let mut seen = std::collections::HashSet::new();
                for k in keys {
                    match is.properties.as_ref().and_then(|p| p.get(k)) {
                        Some(p) if ty(p) == "array" || ty(p) == "object" => out.push(FieldError::invalid(
                            path.child("items").child("properties").key(k).child("type").to_string(),
                            Value::String(ty(is).into()),
                            "must be a scalar type if parent array's x-kubernetes-list-type is map",
                        )),
                        Some(_) => {}
                        None => out.push(FieldError::invalid(
                            path.child("x-kubernetes-list-map-keys").to_string(),
                            keys_value(),
                            "entries must all be names of item properties",
                        )),
                    }
                    if !seen.insert(k) {
                        out.push(FieldError::invalid(
                            path.child("x-kubernetes-list-map-keys").to_string(),
                            keys_value(),
                            "must not contain duplicate entries",
                        ));
                    }
                }
            }
        }
    }
    // validateMapListKeysMapSet
    if let (Some(lt @ ("set" | "map")), Some(is)) = (list_type, items_schema(s)) {
        if flag(is.nullable) {
            out.push(FieldError::forbidden(
                path.child("items").child("nullable").to_string(),
                format!("cannot be nullable when x-kubernetes-list-type is {lt}"),
            ));
        }
        if lt == "map" {
            let required = list(&is.required);
            for k in keys {
                let Some(p) = is.properties.as_ref().and_then(|p| p.get(k)) else {
                    continue;
                };
                if !required.contains(k) && p.default.is_none() {
                    out.push(FieldError::required(
                        path.child("items").child("properties").key(k).child("default").to_string(),
                        "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                    ));
                }
                if flag(p.nullable) {
                    out.push(FieldError::forbidden(
                        path.child("items")
                            .child("properties")
                            .key(k)
                            .child("nullable")
                            .to_string(),
                        "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                    ));
                }
            }
        }
    }
}

/// The static checks of `x-kubernetes-validations` entries (CEL rules are not compiled or evaluated).
fn validations_rules(s: &JSONSchemaProps, path: &FieldPath, out: &mut Vec<FieldError>) {
    for (i, rule) in list(&s.x_kubernetes_validations).iter().enumerate() {
        let p = path.child("x-kubernetes-validations").index(i);
        let message = rule.message.clone().unwrap_or_default();
        let trimmed_rule = rule.rule.trim();
        let trimmed_msg = message.trim();
        let has_newlines = |s: &str| s.contains('\n') || s.contains('\r');
        if trimmed_rule.is_empty() {
            out.push(FieldError::required(
                p.child("rule").to_string(),
                "rule is not specified",
            ));
        } else if !message.is_empty() && trimmed_msg.is_empty() {
            out.push(FieldError::invalid(
                p.child("message").to_string(),
                Value::String(message.clone()),
                "message must be non-empty if specified",
            ));
        } else if has_newlines(trimmed_msg) {
            out.push(FieldError::invalid(
                p.child("message").to_string(),
                Value::String(message.clone()),
                "message must not contain line breaks",
            ));
        } else if has_newlines(trimmed_rule) && trimmed_msg.is_empty() {
            out.push(FieldError::required(
                p.child("message").to_string(),
                "message must be specified if rule contains line breaks",
            ));
        }
        if let Some(reason) = &rule.reason {
            let supported = [
                "FieldValueDuplicate",
                "FieldValueForbidden",
                "FieldValueInvalid",
                "FieldValueRequired",
            ];
            if !supported.contains(&reason.as_str()) {
                let supported: Vec<String> = supported.iter().map(|s| s.to_string()).collect();
                out.push(FieldError::not_supported(
                    p.child("reason").to_string(),
                    Value::String(reason.clone()),
                    &supported,
                ));
            }
        }
    }
}
