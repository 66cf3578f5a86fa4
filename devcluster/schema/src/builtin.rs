//! Schemas of built-in kinds, generated from the k8s-openapi types, and unknown-field detection on them.

use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};
use std::sync::LazyLock;

/// The JSON schema of a k8s-openapi type as `{"$ref": "#/definitions/<name>", "definitions": {...}}`,
/// where `definitions` holds the type and everything it references, named like kube-apiserver names them
/// (`io.k8s.api.apps.v1.Deployment`, `io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`, ...).
///
/// This is the value to put in [`super::SchemaSource::BuiltIn`]. Generation walks the whole type graph;
/// call it once per kind at startup and keep the result.
pub fn builtin_schema<T: JsonSchema>() -> Value {
    let settings = SchemaSettings::draft07().with(|s| {
        s.definitions_path = "/definitions".into();
        s.meta_schema = None;
        s.transforms = Vec::new();
        s.inline_subschemas = false;
    });
    let mut generator = SchemaGenerator::new(settings);
    let root = generator.subschema_for::<T>();
    let definitions = generator.take_definitions(false);
    let root_ref = match root.get("$ref") {
        Some(r) => r.clone(),
        None => {
            // An inlined root (never the case for k8s-openapi types): store it under its own name.
            let name = T::schema_name().to_string();
            let mut definitions = definitions;
            definitions.insert(name.clone(), root.to_value());
            return json!({"$ref": format!("#/definitions/{name}"), "definitions": definitions});
        }
    };
    json!({"$ref": root_ref, "definitions": definitions})
}

/// A parsed [`builtin_schema`] value.
#[derive(Debug, Clone)]
pub struct BuiltinSchema {
    root: String,
    definitions: Map<String, Value>,
}

const DEF_PREFIX: &str = "#/definitions/";

impl BuiltinSchema {
    /// Parses a [`builtin_schema`] value; `None` if it does not have that shape.
    pub fn from_value(v: &Value) -> Option<Self> {
        let root = v
            .get("$ref")?
            .as_str()?
            .strip_prefix(DEF_PREFIX)?
            .to_string();
        let definitions = v.get("definitions")?.as_object()?.clone();
        definitions
            .contains_key(&root)
            .then_some(Self { root, definitions })
    }

    /// The definition name of the root type, e.g. `io.k8s.api.core.v1.Pod`.
    pub fn root_name(&self) -> &str {
        &self.root
    }

    /// The root type's definition and every definition it references.
    pub fn definitions(&self) -> &Map<String, Value> {
        &self.definitions
    }

    /// The paths of fields of `obj` the type does not know, sorted (`spec.foo`,
    /// `spec.containers[0].bar`): what a strict decode reports as `unknown field "spec.foo"`.
    pub fn unknown_fields(&self, obj: &Value) -> Vec<String> {
        let mut copy = obj.clone();
        self.prune_unknown_fields(&mut copy)
    }

    /// Removes the fields [`Self::unknown_fields`] reports and returns their paths.
    pub fn prune_unknown_fields(&self, obj: &mut Value) -> Vec<String> {
        let mut out = Vec::new();
        let root = json!({"$ref": format!("{DEF_PREFIX}{}", self.root)});
        self.walk(&root, obj, "", &mut out);
        out.sort();
        out
    }

    /// Like [`Self::prune_unknown_fields`] with every path prefixed by `prefix` (e.g. `metadata`).
    pub(crate) fn prune_at(&self, obj: &mut Value, prefix: &str, out: &mut Vec<String>) {
        let root = json!({"$ref": format!("{DEF_PREFIX}{}", self.root)});
        self.walk(&root, obj, prefix, out);
    }

    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..64 {
            let r = schema
                .get("$ref")
                .or_else(|| {
                    schema
                        .get("allOf")
                        .and_then(|a| a.get(0))
                        .and_then(|s| s.get("$ref"))
                })
                .and_then(Value::as_str)
                .and_then(|r| {
                    r.strip_prefix(DEF_PREFIX)
                        .or_else(|| r.strip_prefix("#/components/schemas/"))
                });
            match r.and_then(|name| self.definitions.get(name)) {
                Some(next) => schema = next,
                None => break,
            }
        }
        schema
    }

    fn walk(&self, schema: &Value, x: &mut Value, path: &str, out: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
            return;
        }
        match x {
            Value::Object(m) => {
                let props = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties").filter(|a| a.is_object());
                if props.is_none() && additional.is_none() {
                    // A free-form object (RawExtension, FieldsV1, JSON): anything goes.
                    return;
                }
                let keys: Vec<String> = m.keys().cloned().collect();
                for k in keys {
                    let child = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    let sub = props.and_then(|p| p.get(&k)).or(additional);
                    match sub {
                        Some(sub) => {
                            if let Some(v) = m.get_mut(&k) {
                                self.walk(sub, v, &child, out);
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
                if let Some(items) = schema.get("items") {
                    for (i, v) in a.iter_mut().enumerate() {
                        self.walk(items, v, &format!("{path}[{i}]"), out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The ObjectMeta schema, used to prune `metadata` of custom resources and embedded resources.
pub(crate) static OBJECT_META: LazyLock<BuiltinSchema> = LazyLock::new(|| {
    let v = builtin_schema::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>();
    match BuiltinSchema::from_value(&v) {
        Some(s) => s,
        None => BuiltinSchema {
            root: String::new(),
            definitions: Map::new(),
        },
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;

    #[test]
    fn builtin_schema_uses_kube_definition_names() {
        let v = builtin_schema::<Deployment>();
        assert_eq!(v["$ref"], "#/definitions/io.k8s.api.apps.v1.Deployment");
        let defs = v["definitions"].as_object().expect("definitions");
        for name in [
            "io.k8s.api.apps.v1.Deployment",
            "io.k8s.api.apps.v1.DeploymentSpec",
            "io.k8s.api.core.v1.PodTemplateSpec",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        ] {
            assert!(defs.contains_key(name), "missing {name}");
        }
    }

    #[test]
    fn unknown_fields_of_builtin_objects() {
        let s = BuiltinSchema::from_value(&builtin_schema::<Deployment>()).expect("schema");
        assert_eq!(s.root_name(), "io.k8s.api.apps.v1.Deployment");
        let obj = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "x", "labels": {"a": "b"}, "bogus": 1,
                         "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {}}}]},
            "spec": {"replicas": 1, "foo": true, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"spec": {"containers": [{"name": "c", "image": "i", "bar": 1}]}}}
        });
        assert_eq!(
            s.unknown_fields(&obj),
            vec![
                "metadata.bogus",
                "spec.foo",
                "spec.template.spec.containers[0].bar"
            ]
        );
        let mut pruned = obj.clone();
        s.prune_unknown_fields(&mut pruned);
        assert!(pruned["spec"].get("foo").is_none());
        assert_eq!(pruned["spec"]["replicas"], 1);
        assert!(s.unknown_fields(&pruned).is_empty());
    }
}
