//! `/openapi/v2` and `/openapi/v3` documents, rebuilt only when the served resources change.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use parking_lot::Mutex;
use serde_json::Value;

use crate::registry::Registry;
use devcluster_schema::{OpenApiDocs, PublishedResource, SchemaSource};

struct Built {
    generation: u64,
    v2: Bytes,
    v3_index: Bytes,
    v3: HashMap<String, Bytes>,
}

/// Cached OpenAPI documents.
#[derive(Default)]
pub struct OpenApiCache {
    built: Mutex<Option<Arc<Built>>>,
    builtin_schemas: OnceLock<HashMap<String, Value>>,
}

impl OpenApiCache {
    fn current(&self, registry: &Registry) -> Arc<Built> {
        let generation = registry.generation();
        let mut guard = self.built.lock();
        if let Some(b) = guard.as_ref().filter(|b| b.generation == generation) {
            return b.clone();
        }
        // schemars walks each built-in's whole type graph: do it once.
        let builtins = self.builtin_schemas.get_or_init(|| {
            registry
                .all()
                .iter()
                .filter_map(|r| {
                    r.builtin.map(|b| {
                        (
                            format!("{}/{}/{}", r.group, r.version, r.kind),
                            (b.schema)(),
                        )
                    })
                })
                .collect()
        });
        let resources: Vec<PublishedResource> = registry
            .all()
            .iter()
            .map(|r| {
                let mut subresources = Vec::new();
                if r.status_subresource {
                    subresources.push("status".to_string());
                }
                if r.scale.is_some() {
                    subresources.push("scale".to_string());
                }
                let schema = match (
                    &r.crd,
                    builtins.get(&format!("{}/{}/{}", r.group, r.version, r.kind)),
                ) {
                    (Some(crd), _) => {
                        SchemaSource::Crd(Box::new(crd.schema.clone().unwrap_or_default()))
                    }
                    (None, Some(s)) => SchemaSource::BuiltIn(s.clone()),
                    (None, None) => SchemaSource::Crd(Box::default()),
                };
                PublishedResource {
                    group: r.group.clone(),
                    version: r.version.clone(),
                    kind: r.kind.clone(),
                    plural: r.plural.clone(),
                    namespaced: r.namespaced,
                    subresources,
                    schema,
                }
            })
            .collect();
        let docs = OpenApiDocs::build(&resources);
        let built = Arc::new(Built {
            generation,
            v2: Bytes::from(serde_json::to_vec(&docs.v2).unwrap_or_default()),
            v3_index: Bytes::from(serde_json::to_vec(&docs.v3_index).unwrap_or_default()),
            v3: docs
                .v3
                .iter()
                .map(|(k, (doc, _))| {
                    (
                        k.clone(),
                        Bytes::from(serde_json::to_vec(doc).unwrap_or_default()),
                    )
                })
                .collect(),
        });
        *guard = Some(built.clone());
        built
    }

    pub fn v2(&self, registry: &Registry) -> Bytes {
        self.current(registry).v2.clone()
    }

    pub fn v3_index(&self, registry: &Registry) -> Bytes {
        self.current(registry).v3_index.clone()
    }

    /// The document of `api/v1` or `apis/{group}/{version}`.
    pub fn v3_group_version(&self, registry: &Registry, path: &str) -> Option<Bytes> {
        self.current(registry)
            .v3
            .get(path.trim_matches('/'))
            .cloned()
    }
}
