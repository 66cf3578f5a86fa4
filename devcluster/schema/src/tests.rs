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

#[test]
fn required_enum_length_pattern_items_properties() {
    let s = schema(
        json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 3, "maxLength": 5, "pattern": "^[a-z]+$"},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "list": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer", "minimum": 1, "maximum": 10}},
            "labels": {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}},
            "ratio": {"type": "number", "multipleOf": 0.5, "exclusiveMaximum": true, "maximum": 2}
        }}}}),
    );
    let errs = validate_custom_resource(
        &s,
        &json!({"spec": {"mode": "x", "list": [0, 11, 5], "labels": {"a": "1", "b": "2"}, "ratio": 2}}),
    );
    let m = messages(&errs);
    assert!(
        m.contains(
            &"spec.mode: Unsupported value: \"x\": supported values: \"a\", \"b\"".to_string()
        ),
        "{m:?}"
    );
    assert!(m.contains(&"spec.list[0]: Invalid value: 0: spec.list[0] in body should be greater than or equal to 1".to_string()), "{m:?}");
    assert!(m.contains(&"spec.list[1]: Invalid value: 11: spec.list[1] in body should be less than or equal to 10".to_string()), "{m:?}");
    assert!(
        m.contains(&"spec.list: Too many: 3: must have at most 2 items".to_string()),
        "{m:?}"
    );
    assert!(
        m.contains(&"spec.labels: Too many: 2: must have at most 1 items".to_string()),
        "{m:?}"
    );
    assert!(
        m.contains(
            &"spec.ratio: Invalid value: 2: spec.ratio in body should be less than 2".to_string()
        ),
        "{m:?}"
    );
    assert!(
        m.contains(&"spec.name: Required value".to_string()),
        "{m:?}"
    );
    let reasons: Vec<&str> = errs.iter().map(|e| e.error_type.reason()).collect();
    assert!(reasons.contains(&"FieldValueNotSupported") && reasons.contains(&"FieldValueRequired"));

    let m = messages(&validate_custom_resource(
        &s,
        &json!({"spec": {"name": "ab"}}),
    ));
    assert_eq!(
        m,
        vec!["spec.name: Invalid value: \"ab\": spec.name in body should be at least 3 chars long"]
    );
    let m = messages(&validate_custom_resource(
        &s,
        &json!({"spec": {"name": "abcdef"}}),
    ));
    assert_eq!(m, vec!["spec.name: Too long: may not be more than 5 bytes"]);
    let m = messages(&validate_custom_resource(
        &s,
        &json!({"spec": {"name": "AB1"}}),
    ));
    assert_eq!(
        m,
        vec!["spec.name: Invalid value: \"AB1\": spec.name in body should match '^[a-z]+$'"]
    );
    let m = messages(&validate_custom_resource(
        &s,
        &json!({"spec": {"name": "abc", "list": []}}),
    ));
    assert_eq!(
        m,
        vec!["spec.list: Invalid value: 0: spec.list in body should have at least 1 items"]
    );
    let m = messages(&validate_custom_resource(
        &s,
        &json!({"spec": {"name": "abc", "ratio": 0.7}}),
    ));
    assert_eq!(
        m,
        vec!["spec.ratio: Invalid value: 0.7: spec.ratio in body should be a multiple of 0.5"]
    );
    assert!(
        validate_custom_resource(
            &s,
            &json!({"spec": {"name": "abc", "mode": "a", "list": [1, 2], "ratio": 1.5}})
        )
        .is_empty()
    );
}

#[test]
fn root_required_nullable_formats_and_int_or_string() {
    let s = schema(
        json!({"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object", "properties": {
            "when": {"type": "string", "format": "date-time"},
            "count": {"type": "integer", "format": "int32"},
            "opt": {"type": "string", "nullable": true},
            "req": {"type": "string"},
            "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}
        }}}}),
    );
    assert_eq!(
        messages(&validate_custom_resource(&s, &json!({}))),
        vec!["spec: Required value"]
    );
    let errs = validate_custom_resource(
        &s,
        &json!({"spec": {"when": "yesterday", "count": 5000000000i64, "opt": null, "req": null, "port": 80}}),
    );
    assert_eq!(
        messages(&errs),
        vec![
            "spec.req: Invalid value: \"null\": spec.req in body must be of type string: \"null\"",
            "spec.when: Invalid value: \"yesterday\": spec.when in body must be of type date-time: \"yesterday\"",
        ]
    );
    let m = messages(&validate_custom_resource(
        &s,
        &json!({"spec": {"port": true}}),
    ));
    assert_eq!(
        m[0],
        "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\""
    );
    assert!(
        m.contains(
            &"<nil>: Invalid value: \"\": \"spec.port\" must validate at least one schema (anyOf)"
                .to_string()
        ),
        "{m:?}"
    );
    assert!(
        validate_custom_resource(
            &s,
            &json!({"spec": {"port": "http", "when": "2024-01-01T00:00:00Z"}})
        )
        .is_empty()
    );
    // A float that is an integer is an integer.
    assert!(validate_custom_resource(&s, &json!({"spec": {"count": 5.0}})).is_empty());
}

#[test]
fn additional_properties_false_and_one_of_not() {
    let s = schema(
        json!({"type": "object", "properties": {"spec": {"type": "object", "additionalProperties": false},
        "x": {"type": "string", "oneOf": [{"pattern": "^a"}, {"pattern": "b$"}], "not": {"enum": ["zzz"]}}}}),
    );
    let m = messages(&validate_custom_resource(
        &s,
        &json!({"spec": {"foo": 1}, "x": "ab"}),
    ));
    assert!(
        m.contains(
            &"spec: Invalid value: \"foo\": spec.foo in body is a forbidden property".to_string()
        ),
        "{m:?}"
    );
    assert!(m.contains(&"<nil>: Invalid value: \"\": \"x\" must validate one and only one schema (oneOf). Found 2 valid alternatives".to_string()), "{m:?}");
    let m = messages(&validate_custom_resource(&s, &json!({"x": "zzz"})));
    assert!(
        m.contains(
            &"<nil>: Invalid value: \"\": \"x\" must not validate the schema (not)".to_string()
        ),
        "{m:?}"
    );
}

#[test]
fn list_type_set_and_map_uniqueness() {
    let s = schema(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                      "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}}
        }}}}),
    );
    let errs = validate_custom_resource(
        &s,
        &json!({"spec": {"tags": ["a", "b", "a", "a"], "ports": [{"name": "x", "port": 1}, {"name": "x", "port": 2}]}}),
    );
    assert_eq!(
        messages(&errs),
        vec![
            "spec.ports[1]: Duplicate value: {\"name\":\"x\"}",
            "spec.tags[2]: Duplicate value: \"a\""
        ]
    );
    assert!(
        errs.iter()
            .all(|e| e.error_type.reason() == "FieldValueDuplicate")
    );
}

#[test]
fn embedded_resource_checks() {
    let s = schema(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}
        }}}}),
    );
    let m = messages(&validate_custom_resource(
        &s,
        &json!({"spec": {"template": {"kind": "Bad_Kind", "metadata": {"name": "a/b"}}}}),
    ));
    assert!(
        m.contains(&"spec.template.apiVersion: Required value".to_string()),
        "{m:?}"
    );
    assert!(m.iter().any(|x| x.starts_with("spec.template.kind: Invalid value: \"Bad_Kind\": may have mixed case, but should otherwise match: a DNS-1035 label")), "{m:?}");
    assert!(
        m.contains(
            &"spec.template.metadata.name: Invalid value: \"a/b\": may not contain '/'".to_string()
        ),
        "{m:?}"
    );
    assert!(validate_custom_resource(&s, &json!({"spec": {"template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}})).is_empty());
}

#[test]
fn pruning_reports_unknown_fields() {
    let s = schema(json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "keep": {"type": "string"},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"inner": {"type": "object", "properties": {"a": {"type": "string"}}}}},
            "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
            "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}},
            "embedded": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}
        }},
        "status": {"type": "object"}
    }}));
    let mut obj = json!({
        "apiVersion": "example.com/v1", "kind": "Thing",
        "metadata": {"name": "t", "labels": {"a": "b"}, "bogus": true},
        "spec": {"keep": "x", "foo": 1, "free": {"anything": 1, "inner": {"a": "x", "drop": 2}},
                 "items": [{"name": "a", "bar": 1}], "map": {"k": {"v": "1", "w": "2"}},
                 "embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "junk": 1}, "spec": {"any": 1}}},
        "status": {"x": 1}
    });
    let pruned = prune(&s, &mut obj);
    assert_eq!(
        pruned,
        vec![
            "metadata.bogus",
            "spec.foo",
            "spec.free.inner.drop",
            "spec.items[0].bar",
            "spec.map.k.w",
            "status.x",
            "spec.embedded.metadata.junk",
        ]
    );
    assert_eq!(obj["spec"]["free"]["anything"], 1);
    assert_eq!(obj["spec"]["embedded"]["spec"]["any"], 1);
    assert_eq!(obj["metadata"]["labels"]["a"], "b");
    assert_eq!(obj["apiVersion"], "example.com/v1");
    assert_eq!(
        strict_decoding_message(&pruned[..2]),
        "strict decoding error: unknown field \"metadata.bogus\", unknown field \"spec.foo\""
    );
    assert_eq!(
        unknown_field_warning("spec.foo"),
        "unknown field \"spec.foo\""
    );
    // Pruning is idempotent.
    assert!(prune(&s, &mut obj).is_empty());
}

#[test]
fn defaulting_fills_missing_and_non_nullable_nulls() {
    let s = schema(
        json!({"type": "object", "properties": {"spec": {"type": "object", "default": {}, "properties": {
            "replicas": {"type": "integer", "default": 1},
            "mode": {"type": "string", "default": "auto"},
            "nullable": {"type": "string", "nullable": true, "default": "d"},
            "gone": {"type": "string"},
            "items": {"type": "array", "items": {"type": "object", "properties": {"p": {"type": "integer", "default": 80}}}}
        }}}}),
    );
    let mut obj = json!({});
    apply_defaults(&s, &mut obj);
    assert_eq!(
        obj,
        json!({"spec": {"replicas": 1, "mode": "auto", "nullable": "d"}})
    );
    let mut obj = json!({"spec": {"replicas": 3, "mode": null, "nullable": null, "gone": null, "items": [{}, {"p": 1}]}});
    apply_defaults(&s, &mut obj);
    assert_eq!(
        obj,
        json!({"spec": {"replicas": 3, "mode": "auto", "nullable": null, "items": [{"p": 80}, {"p": 1}]}})
    );
}

fn crd_errors(v: Value) -> Vec<String> {
    messages(&validate_crd_schema(
        &props(v),
        "spec.versions[0].schema",
        false,
    ))
}

#[test]
fn structural_schema_rules() {
    assert!(crd_errors(json!({"type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}})).is_empty());
    let p = "spec.versions[0].schema.openAPIV3Schema";
    let m = crd_errors(
        json!({"type": "object", "properties": {"spec": {"properties": {"a": {"type": "array"}}}}}),
    );
    assert_eq!(
        m,
        vec![
            format!("{p}.properties[spec].properties[a].items: Required value: must be specified"),
            format!(
                "{p}.properties[spec].type: Required value: must not be empty for specified object fields"
            ),
        ]
    );
    let m = crd_errors(
        json!({"properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}}),
    );
    assert!(
        m.contains(&format!(
            "{p}.type: Required value: must not be empty at the root"
        )),
        "{m:?}"
    );
    assert!(m.contains(&format!("{p}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified")), "{m:?}");
    let m = crd_errors(
        json!({"type": "object", "properties": {"a": {"type": "string", "anyOf": [{"type": "string", "description": "x"}]}}}),
    );
    assert!(
        m.contains(&format!(
            "{p}.properties[a].anyOf[0].type: Forbidden: must be empty to be structural"
        )),
        "{m:?}"
    );
    assert!(
        m.contains(&format!(
            "{p}.properties[a].anyOf[0].description: Forbidden: must be empty to be structural"
        )),
        "{m:?}"
    );
    let m =
        crd_errors(json!({"type": "object", "allOf": [{"properties": {"x": {"minLength": 1}}}]}));
    assert_eq!(
        m,
        vec![format!(
            "{p}.properties[x]: Required value: because it is defined in {p}.allOf[0].properties[x]"
        )]
    );
    // The int-or-string pattern is allowed.
    assert!(crd_errors(json!({"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}}})).is_empty());
}

#[test]
fn crd_openapi_rules_and_defaults() {
    let p = "spec.versions[0].schema.openAPIV3Schema";
    let m = crd_errors(json!({"type": "object", "properties": {
        "u": {"type": "array", "uniqueItems": true, "items": {"type": "string"}},
        "m": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}},
        "l": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
        "t": {"type": "foo"},
        "d": {"type": "integer", "default": "x"}
    }}));
    for want in [
        format!(
            "{p}.properties[u].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"
        ),
        format!(
            "{p}.properties[m].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"
        ),
        format!(
            "{p}.properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map"
        ),
        format!(
            "{p}.properties[t].type: Unsupported value: \"foo\": supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\""
        ),
        format!(
            "{p}.properties[d].default: Invalid value: \"string\":  in body must be of type integer: \"string\""
        ),
    ] {
        assert!(m.contains(&want), "missing {want}\nin {m:#?}");
    }
    let m = crd_errors(
        json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"name": {"type": "string", "default": "x"}}},
        "spec": {"type": "object", "properties": {"a": {"type": "string"}}, "default": {"a": "x", "b": 1}}}}),
    );
    assert!(m.contains(&format!("{p}.properties[metadata].properties[name].default: Forbidden: must not be set in top-level metadata")), "{m:?}");
    assert!(m.contains(&format!("{p}.properties[spec].default: Invalid value: {{\"a\":\"x\",\"b\":1}}: must not have unknown fields")), "{m:?}");
    let m = messages(&validate_crd_schema(
        &props(json!({"type": "object", "additionalProperties": true, "nullable": true})),
        "spec.versions[0].schema",
        true,
    ));
    assert!(m.iter().any(|x| x.starts_with(&format!("{p}: Invalid value: ")) && x.contains("fields are allowed at the root of the schema if the status subresource is enabled")), "{m:?}");
    assert!(m.contains(&"spec.versions[0].schema.openAPIV3Schema.nullable: Forbidden: nullable cannot be true at the root".to_string()), "{m:?}");
}

fn resources() -> Vec<PublishedResource> {
    vec![
        PublishedResource {
            group: "apps".into(),
            version: "v1".into(),
            kind: "Deployment".into(),
            plural: "deployments".into(),
            namespaced: true,
            subresources: vec!["status".into(), "scale".into()],
            schema: SchemaSource::BuiltIn(
                builtin_schema::<k8s_openapi::api::apps::v1::Deployment>(),
            ),
        },
        PublishedResource {
            group: String::new(),
            version: "v1".into(),
            kind: "Namespace".into(),
            plural: "namespaces".into(),
            namespaced: false,
            subresources: vec!["status".into()],
            schema: SchemaSource::BuiltIn(builtin_schema::<k8s_openapi::api::core::v1::Namespace>()),
        },
        PublishedResource {
            group: "stable.example.com".into(),
            version: "v1".into(),
            kind: "CronTab".into(),
            plural: "crontabs".into(),
            namespaced: true,
            subresources: vec![],
            schema: SchemaSource::Crd(Box::new(props(
                json!({"type": "object", "properties": {"spec": {"type": "object",
                "description": "the spec", "properties": {"cronSpec": {"type": "string", "nullable": true}}}}}),
            ))),
        },
    ]
}

fn patch_supports_field_validation(doc: &Value, group: &str, version: &str, kind: &str) -> bool {
    // kubectl's supportsQueryParamV3: a PATCH operation tagged with the GVK that has an inline
    // `fieldValidation` query parameter.
    doc["paths"].as_object().expect("paths").values().any(|p| {
        let op = &p["patch"];
        op["x-kubernetes-group-version-kind"]
            == json!({"group": group, "version": version, "kind": kind})
            && op["parameters"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|x| x["name"] == "fieldValidation" && x["in"] == "query")
            })
    })
}

fn find_schema_by_gvk<'a>(
    doc: &'a Value,
    group: &str,
    version: &str,
    kind: &str,
) -> Option<(&'a String, &'a Value)> {
    doc["components"]["schemas"]
        .as_object()?
        .iter()
        .find(|(_, s)| {
            s["x-kubernetes-group-version-kind"]
                .as_array()
                .is_some_and(|a| {
                    a.contains(&json!({"group": group, "version": version, "kind": kind}))
                })
        })
}

fn assert_refs_resolve(doc: &Value, prefix: &str, defs: &serde_json::Map<String, Value>) {
    match doc {
        Value::Object(m) => {
            for (k, v) in m {
                if k == "$ref" {
                    let name = v
                        .as_str()
                        .and_then(|r| r.strip_prefix(prefix))
                        .unwrap_or_else(|| panic!("bad ref {v}"));
                    assert!(defs.contains_key(name), "unresolved ref {name}");
                } else {
                    assert_refs_resolve(v, prefix, defs);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| assert_refs_resolve(v, prefix, defs)),
        _ => {}
    }
}

#[test]
fn openapi_v3_index_and_group_version_documents() {
    let rs = resources();
    let docs = OpenApiDocs::build(&rs);
    let paths = docs.v3_index["paths"].as_object().expect("paths");
    assert_eq!(
        paths.keys().collect::<Vec<_>>(),
        vec!["api/v1", "apis/apps/v1", "apis/stable.example.com/v1"]
    );
    let url = paths["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .expect("url");
    assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
    assert_eq!(
        url.rsplit('=').next(),
        Some(docs.v3["apis/apps/v1"].1.as_str())
    );
    assert_eq!(openapi_v3_index(&rs), docs.v3_index);

    let apps = openapi_v3_group_version(&rs, "apps/v1").expect("apps/v1");
    assert_eq!(
        &apps,
        docs.v3_group_version("apis/apps/v1").expect("apps doc")
    );
    assert_eq!(apps["openapi"], "3.0.0");
    assert!(patch_supports_field_validation(
        &apps,
        "apps",
        "v1",
        "Deployment"
    ));
    let (name, dep) =
        find_schema_by_gvk(&apps, "apps", "v1", "Deployment").expect("Deployment schema");
    assert_eq!(name, "io.k8s.api.apps.v1.Deployment");
    assert_eq!(
        dep["properties"]["spec"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"
    );
    let schemas = apps["components"]["schemas"].as_object().expect("schemas");
    assert!(schemas.contains_key("io.k8s.api.apps.v1.DeploymentList"));
    assert!(schemas.contains_key("io.k8s.api.autoscaling.v1.Scale"));
    assert!(
        !schemas.contains_key("io.k8s.api.core.v1.Namespace"),
        "only this group version's schemas"
    );
    assert_refs_resolve(&apps, "#/components/schemas/", schemas);
    assert!(
        apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
            .is_object()
    );

    let core = openapi_v3_group_version(&rs, "v1").expect("core");
    assert!(patch_supports_field_validation(
        &core,
        "",
        "v1",
        "Namespace"
    ));
    assert!(core["paths"]["/api/v1/namespaces/{name}"]["get"].is_object());

    let crd = openapi_v3_group_version(&rs, "apis/stable.example.com/v1").expect("crd");
    assert!(patch_supports_field_validation(
        &crd,
        "stable.example.com",
        "v1",
        "CronTab"
    ));
    let (name, ct) =
        find_schema_by_gvk(&crd, "stable.example.com", "v1", "CronTab").expect("CronTab schema");
    assert_eq!(name, "com.example.stable.v1.CronTab");
    assert_eq!(
        ct["properties"]["spec"]["properties"]["cronSpec"]["nullable"],
        true
    );
    assert_eq!(
        ct["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert_eq!(ct["properties"]["apiVersion"]["type"], "string");
    assert_refs_resolve(
        &crd,
        "#/components/schemas/",
        crd["components"]["schemas"].as_object().expect("schemas"),
    );
    assert!(openapi_v3_group_version(&rs, "batch/v1").is_none());
}

#[test]
fn openapi_v2_is_a_swagger_document_kubectl_can_use() {
    let rs = resources();
    let doc = openapi_v2(&rs);
    assert_eq!(doc["swagger"], "2.0");
    let defs = doc["definitions"].as_object().expect("definitions");
    for (name, gvk) in [
        (
            "io.k8s.api.apps.v1.Deployment",
            json!({"group": "apps", "kind": "Deployment", "version": "v1"}),
        ),
        (
            "io.k8s.api.core.v1.Namespace",
            json!({"group": "", "kind": "Namespace", "version": "v1"}),
        ),
        (
            "com.example.stable.v1.CronTab",
            json!({"group": "stable.example.com", "kind": "CronTab", "version": "v1"}),
        ),
        (
            "com.example.stable.v1.CronTabList",
            json!({"group": "stable.example.com", "kind": "CronTabList", "version": "v1"}),
        ),
    ] {
        let gvks = defs[name]["x-kubernetes-group-version-kind"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} gvk"));
        assert!(gvks.contains(&gvk), "{name}: {gvks:?}");
    }
    // v2 has no nullable; a nullable field loses its type.
    assert!(
        defs["com.example.stable.v1.CronTab"]["properties"]["spec"]["properties"]["cronSpec"]
            .get("type")
            .is_none()
    );
    assert_refs_resolve(&doc, "#/definitions/", defs);
    let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(patch["x-kubernetes-action"], "patch");
    assert!(
        patch["consumes"]
            .as_array()
            .expect("consumes")
            .contains(&json!("application/apply-patch+yaml"))
    );
    assert!(
        patch["parameters"]
            .as_array()
            .expect("params")
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["type"] == "string")
    );
    assert_eq!(
        patch["responses"]["200"]["schema"]["$ref"],
        "#/definitions/io.k8s.api.apps.v1.Deployment"
    );
    assert!(
        doc["paths"]["/apis/apps/v1/deployments"]["get"].is_object(),
        "all-namespaces list"
    );
    // The document parses as generic JSON without loss and is stable for equal input.
    assert_eq!(openapi_v2(&rs), doc);
    assert_eq!(resource_set_hash(&rs), resource_set_hash(&resources()));
    assert_ne!(resource_set_hash(&rs), resource_set_hash(&rs[..1]));
}
