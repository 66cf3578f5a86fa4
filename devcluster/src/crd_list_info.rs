//! Server-side apply's view of a CRD's structural schema (list types, map keys, map types).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};

use crate::patch::{ListType, ListTypeInfo, NodeType, SchemaStep};

/// [`ListTypeInfo`] from a CRD version's `openAPIV3Schema`.
pub struct CrdListTypeInfo {
    root: JSONSchemaProps,
}

impl CrdListTypeInfo {
    pub fn new(root: JSONSchemaProps) -> Self {
        CrdListTypeInfo { root }
    }
}

fn child<'a>(s: &'a JSONSchemaProps, step: SchemaStep<'_>) -> Option<&'a JSONSchemaProps> {
    match step {
        SchemaStep::Field(name) => {
            if let Some(p) = s.properties.as_ref().and_then(|p| p.get(name)) {
                return Some(p);
            }
            match &s.additional_properties {
                Some(JSONSchemaPropsOrBool::Schema(schema)) => Some(schema),
                _ => None,
            }
        }
        SchemaStep::Item => match &s.items {
            Some(JSONSchemaPropsOrArray::Schema(schema)) => Some(schema),
            Some(JSONSchemaPropsOrArray::Schemas(list)) => list.first(),
            None => None,
        },
    }
}

impl ListTypeInfo for CrdListTypeInfo {
    fn node(&self, path: &[SchemaStep<'_>]) -> NodeType {
        let mut cur = &self.root;
        let mut untyped = false;
        for (i, step) in path.iter().enumerate() {
            // metadata is ObjectMeta: granular, like built-ins.
            if i == 0 && *step == SchemaStep::Field("metadata") {
                return if path.len() == 1 {
                    NodeType::Struct { atomic: false }
                } else {
                    NodeType::Untyped
                };
            }
            match child(cur, *step) {
                Some(next) => cur = next,
                None if cur.x_kubernetes_preserve_unknown_fields == Some(true) => {
                    untyped = true;
                    break;
                }
                None => return NodeType::Unknown,
            }
        }
        if untyped {
            return NodeType::Untyped;
        }
        let atomic_map = cur.x_kubernetes_map_type.as_deref() == Some("atomic");
        match cur.type_.as_deref() {
            Some("object") if cur.properties.is_some() => NodeType::Struct { atomic: atomic_map },
            Some("object") if cur.additional_properties.is_some() => {
                NodeType::Map { atomic: atomic_map }
            }
            Some("object") => NodeType::Untyped,
            Some("array") => NodeType::List(match cur.x_kubernetes_list_type.as_deref() {
                Some("set") => ListType::Set,
                Some("map") => ListType::Map {
                    keys: cur.x_kubernetes_list_map_keys.clone().unwrap_or_default(),
                    key_defaults: Vec::new(),
                },
                _ => ListType::Atomic,
            }),
            Some(_) => NodeType::Scalar,
            None if cur.x_kubernetes_int_or_string == Some(true) => NodeType::Scalar,
            None => NodeType::Untyped,
        }
    }
}
