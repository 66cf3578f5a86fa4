//! A compiled, owned form of a CRD `openAPIV3Schema` used by validation, pruning and defaulting.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use regex::Regex;
use serde_json::Value;
use std::collections::BTreeMap;

use super::formats;

/// `additionalProperties` of a node.
#[derive(Debug, Clone)]
pub(crate) enum AdditionalProperties {
    /// `additionalProperties: true|false` without a schema.
    Bool(bool),
    /// `additionalProperties: {schema}`.
    Schema(Box<Node>),
}

/// One compiled schema node. Logic junctors (`allOf`, ...) are kept as nested nodes; structural algorithms
/// (pruning, defaulting) only look at `properties`, `items` and `additional_properties` of the node itself,
/// like apiextensions' `Structural`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    /// `type` as written (empty if unset).
    pub type_: String,
    /// The types the value validator accepts (`[integer, string]` for int-or-string).
    pub types: Vec<&'static str>,
    /// `format` after stripping formats kube-apiserver does not validate.
    pub format: String,
    pub nullable: bool,
    pub maximum: Option<f64>,
    pub exclusive_maximum: bool,
    pub minimum: Option<f64>,
    pub exclusive_minimum: bool,
    pub multiple_of: Option<f64>,
    pub max_length: Option<i64>,
    pub min_length: Option<i64>,
    /// The pattern and its compiled regex (or the compile error).
    pub pattern: Option<(String, Result<Regex, String>)>,
    pub max_items: Option<i64>,
    pub min_items: Option<i64>,
    pub unique_items: bool,
    pub max_properties: Option<i64>,
    pub min_properties: Option<i64>,
    pub required: Vec<String>,
    pub enum_: Option<Vec<Value>>,
    pub properties: BTreeMap<String, Node>,
    pub additional_properties: Option<AdditionalProperties>,
    pub items: Option<Box<Node>>,
    pub all_of: Vec<Node>,
    pub any_of: Vec<Node>,
    pub one_of: Vec<Node>,
    pub not: Option<Box<Node>>,
    pub default: Option<Value>,
    pub preserve_unknown_fields: bool,
    pub embedded_resource: bool,
    pub int_or_string: bool,
    pub list_type: Option<String>,
    pub list_map_keys: Vec<String>,
}

fn static_type(t: &str) -> Option<&'static str> {
    Some(match t {
        "object" => "object",
        "array" => "array",
        "string" => "string",
        "integer" => "integer",
        "number" => "number",
        "boolean" => "boolean",
        "null" => "null",
        _ => return None,
    })
}

impl Node {
    /// Compiles a `JSONSchemaProps` tree.
    pub(crate) fn compile(s: &JSONSchemaProps) -> Node {
        let type_ = s.type_.clone().unwrap_or_default();
        let int_or_string = s.x_kubernetes_int_or_string.unwrap_or(false);
        let types = if int_or_string {
            vec!["integer", "string"]
        } else if type_.is_empty() {
            vec![]
        } else {
            // An unknown type name can never match a value; keep it visible in messages.
            vec![static_type(&type_).unwrap_or("unknown")]
        };
        let format = s
            .format
            .clone()
            .filter(|f| formats::is_supported(f))
            .unwrap_or_default();
        let pattern = s.pattern.clone().map(|p| {
            let re = Regex::new(&p).map_err(|e| e.to_string());
            (p, re)
        });
        let additional_properties = s.additional_properties.as_ref().map(|ap| match ap {
            JSONSchemaPropsOrBool::Bool(b) => AdditionalProperties::Bool(*b),
            JSONSchemaPropsOrBool::Schema(s) => {
                AdditionalProperties::Schema(Box::new(Node::compile(s)))
            }
        });
        let items = s.items.as_ref().and_then(|i| match i {
            JSONSchemaPropsOrArray::Schema(s) => Some(Box::new(Node::compile(s))),
            // Arrays of item schemas are rejected for CRDs; use the first so that nothing panics.
            JSONSchemaPropsOrArray::Schemas(v) => v.first().map(|s| Box::new(Node::compile(s))),
        });
        let compile_all = |v: &Option<Vec<JSONSchemaProps>>| {
            v.iter().flatten().map(Node::compile).collect::<Vec<_>>()
        };
        Node {
            type_,
            types,
            format,
            nullable: s.nullable.unwrap_or(false),
            maximum: s.maximum,
            exclusive_maximum: s.exclusive_maximum.unwrap_or(false),
            minimum: s.minimum,
            exclusive_minimum: s.exclusive_minimum.unwrap_or(false),
            multiple_of: s.multiple_of,
            max_length: s.max_length,
            min_length: s.min_length,
            pattern,
            max_items: s.max_items,
            min_items: s.min_items,
            unique_items: s.unique_items.unwrap_or(false),
            max_properties: s.max_properties,
            min_properties: s.min_properties,
            required: s.required.clone().unwrap_or_default(),
            enum_: s
                .enum_
                .as_ref()
                .map(|e| e.iter().map(|j| j.0.clone()).collect()),
            properties: s
                .properties
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), Node::compile(v)))
                .collect(),
            additional_properties,
            items,
            all_of: compile_all(&s.all_of),
            any_of: compile_all(&s.any_of),
            one_of: compile_all(&s.one_of),
            not: s.not.as_ref().map(|n| Box::new(Node::compile(n))),
            default: s.default.as_ref().map(|d| d.0.clone()),
            preserve_unknown_fields: s.x_kubernetes_preserve_unknown_fields.unwrap_or(false),
            embedded_resource: s.x_kubernetes_embedded_resource.unwrap_or(false),
            int_or_string,
            list_type: s.x_kubernetes_list_type.clone(),
            list_map_keys: s.x_kubernetes_list_map_keys.clone().unwrap_or_default(),
        }
    }

    /// The structural schema of the value of key `k` of an object (`properties[k]`, else
    /// `additionalProperties`). `Some(None)` means "allowed, but without schema".
    pub(crate) fn field_schema(&self, k: &str) -> Option<Option<&Node>> {
        if let Some(p) = self.properties.get(k) {
            return Some(Some(p));
        }
        match &self.additional_properties {
            Some(AdditionalProperties::Schema(s)) => Some(Some(s)),
            Some(AdditionalProperties::Bool(_)) => Some(None),
            None => None,
        }
    }
}

/// A compiled CRD version schema (`spec.versions[*].schema.openAPIV3Schema`), cheap to share and reuse
/// for validation, pruning and defaulting of every object of that version.
#[derive(Debug, Clone)]
pub struct CrdSchema {
    pub(crate) root: Node,
}

impl CrdSchema {
    /// Compiles the schema. Compilation never fails: problems (such as an invalid `pattern`) surface as
    /// validation errors, and a CRD with such a schema is rejected by [`super::validate_crd_schema`].
    pub fn new(schema: &JSONSchemaProps) -> Self {
        Self {
            root: Node::compile(schema),
        }
    }

    /// A schema that accepts and preserves anything (a CRD version without a schema).
    pub fn preserve_unknown_fields() -> Self {
        Self {
            root: Node {
                type_: "object".into(),
                types: vec!["object"],
                preserve_unknown_fields: true,
                ..Node::default()
            },
        }
    }
}
