//! `/openapi/v2` and `/openapi/v3` documents for built-in kinds and CRDs, shaped like kube-apiserver's.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha512};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use super::builtin::{BuiltinSchema, OBJECT_META, builtin_schema};

/// The schema of a published kind.
#[derive(Debug, Clone)]
pub enum SchemaSource {
    /// A built-in kind: the value returned by [`builtin_schema`] for its k8s-openapi type.
    BuiltIn(Value),
    /// A CRD version: its `schema.openAPIV3Schema` (wrapped with `apiVersion`, `kind` and `metadata` like
    /// kube-apiserver does).
    Crd(Box<JSONSchemaProps>),
}

/// One served kind (one group/version/resource).
#[derive(Debug, Clone)]
pub struct PublishedResource {
    /// API group, empty for the core group.
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Resource (plural), e.g. `deployments`.
    pub plural: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Served subresources: `status`, `scale` (others are ignored).
    pub subresources: Vec<String>,
    /// The kind's schema.
    pub schema: SchemaSource,
}

impl PublishedResource {
    /// The openapi/v3 path key of the group version: `api/v1` or `apis/<group>/<version>`.
    fn v3_path(&self) -> String {
        if self.group.is_empty() {
            format!("api/{}", self.version)
        } else {
            format!("apis/{}/{}", self.group, self.version)
        }
    }

    fn url_prefix(&self) -> String {
        format!("/{}", self.v3_path())
    }

    fn gvk(&self, kind: &str) -> Value {
        json!({"group": self.group, "kind": kind, "version": self.version})
    }
}

/// A stable hash of a resource set (hex SHA-256): cache the documents under it and rebuild them only when
/// it changes.
pub fn resource_set_hash(resources: &[PublishedResource]) -> String {
    let mut h = Sha256::new();
    for r in resources {
        for part in [&r.group, &r.version, &r.kind, &r.plural] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.update([u8::from(r.namespaced)]);
        for s in &r.subresources {
            h.update(s.as_bytes());
            h.update([0]);
        }
        let schema = match &r.schema {
            SchemaSource::BuiltIn(v) => v.to_string(),
            SchemaSource::Crd(p) => serde_json::to_string(p).unwrap_or_default(),
        };
        h.update(schema.as_bytes());
        h.update([1]);
    }
    hex_upper(&h.finalize())
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// All OpenAPI documents of a resource set, built once.
#[derive(Debug, Clone)]
pub struct OpenApiDocs {
    /// The `/openapi/v2` swagger 2.0 document.
    pub v2: Value,
    /// The `/openapi/v3` discovery document.
    pub v3_index: Value,
    /// Per group version (`api/v1`, `apis/apps/v1`): the `/openapi/v3/<path>` document and its hash
    /// (the `hash` query parameter of `serverRelativeURL`, also a good `ETag`).
    pub v3: BTreeMap<String, (Value, String)>,
}

impl OpenApiDocs {
    /// Builds every document for the resource set. Serve `v3` documents for `/openapi/v3/<path>` whatever
    /// the `hash` query parameter is (kube-apiserver redirects stale hashes; serving the current document is
    /// what clients end up with).
    pub fn build(resources: &[PublishedResource]) -> Self {
        let model = Model::new(resources);
        let v2 = model.v2();
        let mut v3 = BTreeMap::new();
        let mut index = Map::new();
        for path in model.group_versions.keys() {
            let doc = model.v3(path);
            let bytes = serde_json::to_vec(&doc).unwrap_or_default();
            let hash = hex_upper(&Sha512::digest(&bytes));
            index.insert(
                path.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
            );
            v3.insert(path.clone(), (doc, hash));
        }
        Self {
            v2,
            v3_index: json!({ "paths": index }),
            v3,
        }
    }

    /// The document for `/openapi/v3/<path>`, e.g. `apis/apps/v1`.
    pub fn v3_group_version(&self, path: &str) -> Option<&Value> {
        self.v3.get(path.trim_start_matches('/')).map(|(d, _)| d)
    }
}

/// The `/openapi/v2` document (swagger 2.0).
pub fn openapi_v2(resources: &[PublishedResource]) -> Value {
    Model::new(resources).v2()
}

/// The `/openapi/v3` discovery document: `{"paths": {"apis/apps/v1": {"serverRelativeURL": ...}}}`.
pub fn openapi_v3_index(resources: &[PublishedResource]) -> Value {
    OpenApiDocs::build(resources).v3_index
}

/// The `/openapi/v3/<group_version>` document; `group_version` is `v1` (core), `apps/v1`, or the path
/// form `api/v1` / `apis/apps/v1`. `None` if no resource is published in it.
pub fn openapi_v3_group_version(
    resources: &[PublishedResource],
    group_version: &str,
) -> Option<Value> {
    let gv = group_version.trim_start_matches('/');
    let path = if gv.starts_with("api/") || gv.starts_with("apis/") {
        gv.to_string()
    } else if gv.contains('/') {
        format!("apis/{gv}")
    } else {
        format!("api/{gv}")
    };
    let model = Model::new(resources);
    model
        .group_versions
        .contains_key(&path)
        .then(|| model.v3(&path))
}

const DEF: &str = "#/definitions/";
const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.";

fn def_ref(name: &str) -> Value {
    json!({ "$ref": format!("{DEF}{name}") })
}

/// Definitions every document may reference (list metadata, status, delete options, ...).
static COMMON_DEFINITIONS: LazyLock<Map<String, Value>> = LazyLock::new(|| {
    use k8s_openapi::api::autoscaling::v1::Scale;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
    let mut defs = Map::new();
    for v in [
        builtin_schema::<meta::ListMeta>(),
        builtin_schema::<meta::Status>(),
        builtin_schema::<meta::DeleteOptions>(),
        builtin_schema::<meta::APIResourceList>(),
        builtin_schema::<Scale>(),
    ] {
        if let Some(s) = BuiltinSchema::from_value(&v) {
            defs.extend(s.definitions().clone());
        }
    }
    defs.extend(OBJECT_META.definitions().clone());
    defs.insert(
        format!("{META}Patch"),
        json!({"description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.", "type": "object"}),
    );
    defs.insert(
        format!("{META}WatchEvent"),
        json!({
            "description": "Event represents a single event to a watched resource.",
            "type": "object",
            "required": ["type", "object"],
            "properties": {
                "object": {"description": "Object is:\n * If Type is Added or Modified: the new state of the object.\n * If Type is Deleted: the state of the object immediately before deletion.\n * If Type is Error: *Status is recommended; other types may make sense\n   depending on context.", "type": "object"},
                "type": {"type": "string"}
            }
        }),
    );
    if let Some(gvk) = defs
        .get_mut("io.k8s.api.autoscaling.v1.Scale")
        .and_then(Value::as_object_mut)
    {
        gvk.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{"group": "autoscaling", "kind": "Scale", "version": "v1"}]),
        );
    }
    defs
});

const API_VERSION_DESC: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESC: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DESC: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const LIST_METADATA_DESC: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// The definition name kube-apiserver gives a CRD kind: reversed group, version, kind
/// (`com.example.stable.v1.CronTab`).
fn crd_definition_name(group: &str, version: &str, kind: &str) -> String {
    let mut parts: Vec<&str> = group.split('.').collect();
    parts.reverse();
    format!("{}.{version}.{kind}", parts.join("."))
}

/// The published schema of a CRD version: the user schema plus `apiVersion`, `kind` and `metadata`.
fn crd_definition(props: &JSONSchemaProps) -> Value {
    let mut schema = serde_json::to_value(props).unwrap_or_else(|_| json!({}));
    let Some(obj) = schema.as_object_mut() else {
        return json!({"type": "object"});
    };
    obj.entry("type").or_insert_with(|| json!("object"));
    let props = obj.entry("properties").or_insert_with(|| json!({}));
    if let Some(p) = props.as_object_mut() {
        p.insert(
            "apiVersion".into(),
            json!({"description": API_VERSION_DESC, "type": "string"}),
        );
        p.insert(
            "kind".into(),
            json!({"description": KIND_DESC, "type": "string"}),
        );
        let mut meta = def_ref(&format!("{META}ObjectMeta"));
        if let Some(m) = meta.as_object_mut() {
            m.insert("description".into(), json!(METADATA_DESC));
        }
        p.insert("metadata".into(), meta);
    }
    schema
}

fn list_definition(kind: &str, item_def: &str, gvk: Value) -> Value {
    json!({
        "description": format!("{kind}List is a list of {kind}"),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": API_VERSION_DESC, "type": "string"},
            "items": {"description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md", kind.to_lowercase()), "type": "array", "items": def_ref(item_def)},
            "kind": {"description": KIND_DESC, "type": "string"},
            "metadata": {"$ref": format!("{DEF}{META}ListMeta"), "description": LIST_METADATA_DESC}
        },
        "x-kubernetes-group-version-kind": [gvk]
    })
}

struct Published<'a> {
    r: &'a PublishedResource,
    def: String,
}

struct Model<'a> {
    definitions: Map<String, Value>,
    /// v3 path -> resources of that group version.
    group_versions: BTreeMap<String, Vec<Published<'a>>>,
}

impl<'a> Model<'a> {
    fn new(resources: &'a [PublishedResource]) -> Self {
        let mut definitions = COMMON_DEFINITIONS.clone();
        let mut group_versions: BTreeMap<String, Vec<Published<'a>>> = BTreeMap::new();
        for r in resources {
            let def = match &r.schema {
                SchemaSource::BuiltIn(v) => {
                    match BuiltinSchema::from_value(v) {
                        Some(s) => {
                            for (k, v) in s.definitions() {
                                definitions.entry(k.clone()).or_insert_with(|| v.clone());
                            }
                            s.root_name().to_string()
                        }
                        None => {
                            let name = crd_definition_name(&r.group, &r.version, &r.kind);
                            definitions.insert(name.clone(), json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
                            name
                        }
                    }
                }
                SchemaSource::Crd(props) => {
                    let name = crd_definition_name(&r.group, &r.version, &r.kind);
                    definitions.insert(name.clone(), crd_definition(props));
                    name
                }
            };
            if let Some(d) = definitions.get_mut(&def).and_then(Value::as_object_mut) {
                let list = d
                    .entry("x-kubernetes-group-version-kind")
                    .or_insert_with(|| json!([]));
                if let Some(a) = list.as_array_mut()
                    && !a.contains(&r.gvk(&r.kind))
                {
                    a.push(r.gvk(&r.kind));
                }
            }
            let list_name = format!("{def}List");
            let list_kind = format!("{}List", r.kind);
            definitions
                .entry(list_name)
                .or_insert_with(|| list_definition(&r.kind, &def, r.gvk(&list_kind)));
            group_versions
                .entry(r.v3_path())
                .or_default()
                .push(Published { r, def });
        }
        Self {
            definitions,
            group_versions,
        }
    }

    fn v2(&self) -> Value {
        let mut paths = Map::new();
        for (gv_path, resources) in &self.group_versions {
            add_paths(&mut paths, gv_path, resources);
        }
        let mut definitions = Map::new();
        for (k, v) in &self.definitions {
            definitions.insert(k.clone(), to_v2(v));
        }
        let paths = Value::Object(paths);
        json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": operations_v2(&paths),
            "definitions": definitions,
            "securityDefinitions": {"BearerToken": {"description": "Bearer Token authentication", "type": "apiKey", "name": "authorization", "in": "header"}},
            "security": [{"BearerToken": []}]
        })
    }

    fn v3(&self, gv_path: &str) -> Value {
        let mut paths = Map::new();
        if let Some(resources) = self.group_versions.get(gv_path) {
            add_paths(&mut paths, gv_path, resources);
        }
        let paths = operations_v3(&Value::Object(paths));
        let mut needed = BTreeSet::new();
        collect_refs(&paths, &mut needed);
        let mut schemas = Map::new();
        let mut queue: Vec<String> = needed.iter().cloned().collect();
        while let Some(name) = queue.pop() {
            if schemas.contains_key(&name) {
                continue;
            }
            let Some(def) = self.definitions.get(&name) else {
                continue;
            };
            let mut refs = BTreeSet::new();
            collect_refs(def, &mut refs);
            queue.extend(refs.into_iter().filter(|r| !schemas.contains_key(r)));
            schemas.insert(name, to_v3(def));
        }
        json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}}
            }
        })
    }
}

fn collect_refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref"
                    && let Some(name) = x.as_str().and_then(|r| {
                        r.strip_prefix(DEF)
                            .or_else(|| r.strip_prefix("#/components/schemas/"))
                    })
                {
                    out.insert(name.to_string());
                } else {
                    collect_refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// v3 form of a schema: refs point to `#/components/schemas/`, and a `$ref` with siblings (such as a
/// description) becomes `allOf: [{$ref}]` next to them, as kube-apiserver publishes it.
fn to_v3(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                if k == "$ref" {
                    let r = x
                        .as_str()
                        .map(|r| r.replacen(DEF, "#/components/schemas/", 1))
                        .unwrap_or_default();
                    out.insert(k.clone(), Value::String(r));
                } else if k == "properties" || k == "definitions" || k == "patternProperties" {
                    // Keys of these maps are names, not keywords.
                    let inner = x
                        .as_object()
                        .map(|p| p.iter().map(|(n, s)| (n.clone(), to_v3(s))).collect());
                    out.insert(k.clone(), inner.map_or_else(|| x.clone(), Value::Object));
                } else {
                    out.insert(k.clone(), to_v3(x));
                }
            }
            if out.len() > 1
                && let Some(r) = out.remove("$ref")
            {
                out.insert("allOf".into(), json!([{ "$ref": r }]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(to_v3).collect()),
        other => other.clone(),
    }
}

/// v2 form of a schema: no `nullable` (a nullable node loses its type), no logic junctors, no CEL rules.
fn to_v2(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            let nullable = m.get("nullable") == Some(&Value::Bool(true));
            for (k, x) in m {
                match k.as_str() {
                    "nullable"
                    | "allOf"
                    | "anyOf"
                    | "oneOf"
                    | "not"
                    | "x-kubernetes-validations" => {}
                    "type" | "items" | "properties" if nullable => {}
                    "properties" => {
                        let inner = x
                            .as_object()
                            .map(|p| p.iter().map(|(n, s)| (n.clone(), to_v2(s))).collect());
                        out.insert(k.clone(), inner.map_or_else(|| x.clone(), Value::Object));
                    }
                    _ => {
                        out.insert(k.clone(), to_v2(x));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(to_v2).collect()),
        other => other.clone(),
    }
}

fn op_group_name(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    let g = group.strip_suffix(".k8s.io").unwrap_or(group);
    g.split(['.', '-']).map(capitalize).collect()
}

fn tag_name(group: &str, version: &str) -> String {
    let g = op_group_name(group);
    let mut c = g.chars();
    let lower = c
        .next()
        .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
        .unwrap_or_default();
    format!("{lower}_{version}")
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// A query or path parameter in a neutral form; rendered per OpenAPI version.
struct Param {
    name: &'static str,
    location: &'static str,
    ty: &'static str,
    description: &'static str,
}

const P_PRETTY: Param = Param {
    name: "pretty",
    location: "query",
    ty: "string",
    description: "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
};
const P_NAMESPACE: Param = Param {
    name: "namespace",
    location: "path",
    ty: "string",
    description: "object name and auth scope, such as for teams and projects",
};
const P_DRY_RUN: Param = Param {
    name: "dryRun",
    location: "query",
    ty: "string",
    description: "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
};
const P_FIELD_MANAGER: Param = Param {
    name: "fieldManager",
    location: "query",
    ty: "string",
    description: "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
};
const P_FIELD_VALIDATION: Param = Param {
    name: "fieldValidation",
    location: "query",
    ty: "string",
    description: "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.",
};
const P_FORCE: Param = Param {
    name: "force",
    location: "query",
    ty: "boolean",
    description: "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
};
const P_GRACE: Param = Param {
    name: "gracePeriodSeconds",
    location: "query",
    ty: "integer",
    description: "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.",
};
const P_ORPHAN: Param = Param {
    name: "orphanDependents",
    location: "query",
    ty: "boolean",
    description: "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both.",
};
const P_PROPAGATION: Param = Param {
    name: "propagationPolicy",
    location: "query",
    ty: "string",
    description: "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",
};
const P_ALLOW_BOOKMARKS: Param = Param {
    name: "allowWatchBookmarks",
    location: "query",
    ty: "boolean",
    description: "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored.",
};
const P_CONTINUE: Param = Param {
    name: "continue",
    location: "query",
    ty: "string",
    description: "The continue option should be set when retrieving more results from the server.",
};
const P_FIELD_SELECTOR: Param = Param {
    name: "fieldSelector",
    location: "query",
    ty: "string",
    description: "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
};
const P_LABEL_SELECTOR: Param = Param {
    name: "labelSelector",
    location: "query",
    ty: "string",
    description: "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
};
const P_LIMIT: Param = Param {
    name: "limit",
    location: "query",
    ty: "integer",
    description: "limit is a maximum number of responses to return for a list call.",
};
const P_RV: Param = Param {
    name: "resourceVersion",
    location: "query",
    ty: "string",
    description: "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
};
const P_RV_MATCH: Param = Param {
    name: "resourceVersionMatch",
    location: "query",
    ty: "string",
    description: "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
};
const P_SEND_INITIAL: Param = Param {
    name: "sendInitialEvents",
    location: "query",
    ty: "boolean",
    description: "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection.",
};
const P_TIMEOUT: Param = Param {
    name: "timeoutSeconds",
    location: "query",
    ty: "integer",
    description: "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
};
const P_WATCH: Param = Param {
    name: "watch",
    location: "query",
    ty: "boolean",
    description: "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
};

const LIST_PARAMS: &[&Param] = &[
    &P_ALLOW_BOOKMARKS,
    &P_CONTINUE,
    &P_FIELD_SELECTOR,
    &P_LABEL_SELECTOR,
    &P_LIMIT,
    &P_RV,
    &P_RV_MATCH,
    &P_SEND_INITIAL,
    &P_TIMEOUT,
    &P_WATCH,
];
const WRITE_PARAMS: &[&Param] = &[&P_DRY_RUN, &P_FIELD_MANAGER, &P_FIELD_VALIDATION];
const PATCH_PARAMS: &[&Param] = &[&P_DRY_RUN, &P_FIELD_MANAGER, &P_FIELD_VALIDATION, &P_FORCE];
const DELETE_PARAMS: &[&Param] = &[&P_DRY_RUN, &P_GRACE, &P_ORPHAN, &P_PROPAGATION];
const DELETE_COLLECTION_PARAMS: &[&Param] = &[
    &P_CONTINUE,
    &P_DRY_RUN,
    &P_FIELD_SELECTOR,
    &P_GRACE,
    &P_LABEL_SELECTOR,
    &P_LIMIT,
    &P_ORPHAN,
    &P_PROPAGATION,
    &P_RV,
    &P_RV_MATCH,
    &P_SEND_INITIAL,
    &P_TIMEOUT,
];

const PATCH_TYPES: [&str; 4] = [
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

/// Operations are first built in a neutral intermediate form (the `x-body`, `x-params` and `x-responses`
/// keys), then rendered to v2 or v3.
#[allow(clippy::too_many_arguments)] // one argument per field of the operation object
fn operation(
    action: &str,
    op_id: String,
    description: String,
    tag: &str,
    params: &[&Param],
    body: Option<(&str, bool)>,
    responses: &[(&str, &str, Option<&str>)],
    gvk: Value,
) -> Value {
    let params: Vec<Value> = params.iter().map(|p| json!({"name": p.name, "in": p.location, "type": p.ty, "description": p.description})).collect();
    let responses: Vec<Value> = responses
        .iter()
        .map(|(code, desc, schema)| json!({"code": code, "description": desc, "schema": schema}))
        .collect();
    json!({
        "tags": [tag],
        "description": description,
        "operationId": op_id,
        "x-params": params,
        "x-body": body.map(|(schema, patch)| json!({"schema": schema, "patch": patch})),
        "x-responses": responses,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    })
}

fn add_paths(paths: &mut Map<String, Value>, gv_path: &str, resources: &[Published<'_>]) {
    let Some(first) = resources.first() else {
        return;
    };
    let tag = tag_name(&first.r.group, &first.r.version);
    let gname = format!(
        "{}{}",
        op_group_name(&first.r.group),
        capitalize(&first.r.version)
    );
    paths.insert(
        format!("/{gv_path}/"),
        json!({"get": {
            "tags": [tag], "description": "get available resources", "operationId": format!("get{gname}APIResources"),
            "x-params": [], "x-body": null,
            "x-responses": [{"code": "200", "description": "OK", "schema": format!("{META}APIResourceList")}, {"code": "401", "description": "Unauthorized", "schema": null}]
        }}),
    );
    for p in resources {
        let r = p.r;
        let def = p.def.as_str();
        let list_def = format!("{def}List");
        let status = format!("{META}Status");
        let gvk = r.gvk(&r.kind);
        let prefix = r.url_prefix();
        let (ns, scope_word) = if r.namespaced {
            ("/namespaces/{namespace}", "Namespaced")
        } else {
            ("", "")
        };
        let kind = &r.kind;
        let collection = format!("{prefix}{ns}/{}", r.plural);
        let item = format!("{collection}/{{name}}");
        let mut path_params = vec![&P_PRETTY];
        if r.namespaced {
            path_params.insert(0, &P_NAMESPACE);
        }
        let name_param = json!({"name": "name", "in": "path", "type": "string", "description": format!("name of the {kind}")});
        let render_params = |extra_name: bool| -> Value {
            let mut v: Vec<Value> = Vec::new();
            if extra_name {
                v.push(name_param.clone());
            }
            v.extend(path_params.iter().map(|p| json!({"name": p.name, "in": p.location, "type": p.ty, "description": p.description})));
            Value::Array(v)
        };
        paths.insert(
            collection.clone(),
            json!({
                "get": operation("list", format!("list{gname}{scope_word}{kind}"), format!("list or watch objects of kind {kind}"), &tag, LIST_PARAMS, None,
                    &[("200", "OK", Some(&list_def)), ("401", "Unauthorized", None)], gvk.clone()),
                "post": operation("post", format!("create{gname}{scope_word}{kind}"), format!("create a {kind}"), &tag, WRITE_PARAMS, Some((def, false)),
                    &[("200", "OK", Some(def)), ("201", "Created", Some(def)), ("202", "Accepted", Some(def)), ("401", "Unauthorized", None)], gvk.clone()),
                "delete": operation("deletecollection", format!("delete{gname}Collection{scope_word}{kind}"), format!("delete collection of {kind}"), &tag, DELETE_COLLECTION_PARAMS,
                    Some((&format!("{META}DeleteOptions"), false)), &[("200", "OK", Some(&status)), ("401", "Unauthorized", None)], gvk.clone()),
                "parameters": render_params(false),
            }),
        );
        paths.insert(
            item.clone(),
            json!({
                "get": operation("get", format!("read{gname}{scope_word}{kind}"), format!("read the specified {kind}"), &tag, &[], None,
                    &[("200", "OK", Some(def)), ("401", "Unauthorized", None)], gvk.clone()),
                "put": operation("put", format!("replace{gname}{scope_word}{kind}"), format!("replace the specified {kind}"), &tag, WRITE_PARAMS, Some((def, false)),
                    &[("200", "OK", Some(def)), ("201", "Created", Some(def)), ("401", "Unauthorized", None)], gvk.clone()),
                "patch": operation("patch", format!("patch{gname}{scope_word}{kind}"), format!("partially update the specified {kind}"), &tag, PATCH_PARAMS,
                    Some((&format!("{META}Patch"), true)), &[("200", "OK", Some(def)), ("201", "Created", Some(def)), ("401", "Unauthorized", None)], gvk.clone()),
                "delete": operation("delete", format!("delete{gname}{scope_word}{kind}"), format!("delete a {kind}"), &tag, DELETE_PARAMS,
                    Some((&format!("{META}DeleteOptions"), false)), &[("200", "OK", Some(&status)), ("202", "Accepted", Some(&status)), ("401", "Unauthorized", None)], gvk.clone()),
                "parameters": render_params(true),
            }),
        );
        if r.namespaced {
            paths.insert(
                format!("{prefix}/{}", r.plural),
                json!({
                    "get": operation("list", format!("list{gname}{kind}ForAllNamespaces"), format!("list or watch objects of kind {kind}"), &tag, LIST_PARAMS, None,
                        &[("200", "OK", Some(&list_def)), ("401", "Unauthorized", None)], gvk.clone()),
                    "parameters": [{"name": P_PRETTY.name, "in": "query", "type": "string", "description": P_PRETTY.description}],
                }),
            );
        }
        for sub in &r.subresources {
            let (schema, sub_gvk, word) = match sub.as_str() {
                "status" => (def.to_string(), gvk.clone(), "Status"),
                "scale" => (
                    "io.k8s.api.autoscaling.v1.Scale".to_string(),
                    json!({"group": "autoscaling", "kind": "Scale", "version": "v1"}),
                    "Scale",
                ),
                _ => continue,
            };
            paths.insert(
                format!("{item}/{sub}"),
                json!({
                    "get": operation("get", format!("read{gname}{scope_word}{kind}{word}"), format!("read {sub} of the specified {kind}"), &tag, &[], None,
                        &[("200", "OK", Some(&schema)), ("401", "Unauthorized", None)], sub_gvk.clone()),
                    "put": operation("put", format!("replace{gname}{scope_word}{kind}{word}"), format!("replace {sub} of the specified {kind}"), &tag, WRITE_PARAMS, Some((&schema, false)),
                        &[("200", "OK", Some(&schema)), ("201", "Created", Some(&schema)), ("401", "Unauthorized", None)], sub_gvk.clone()),
                    "patch": operation("patch", format!("patch{gname}{scope_word}{kind}{word}"), format!("partially update {sub} of the specified {kind}"), &tag, PATCH_PARAMS,
                        Some((&format!("{META}Patch"), true)), &[("200", "OK", Some(&schema)), ("201", "Created", Some(&schema)), ("401", "Unauthorized", None)], sub_gvk.clone()),
                    "parameters": render_params(true),
                }),
            );
        }
    }
}

const PRODUCES: [&str; 3] = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

fn for_each_operation(
    paths: &Value,
    f: impl Fn(&str, &Map<String, Value>) -> Value,
    params: impl Fn(&Value) -> Value,
) -> Value {
    let mut out = Map::new();
    for (path, item) in paths.as_object().into_iter().flatten() {
        let mut rendered = Map::new();
        for (method, op) in item.as_object().into_iter().flatten() {
            if method == "parameters" {
                rendered.insert(
                    method.clone(),
                    Value::Array(op.as_array().into_iter().flatten().map(&params).collect()),
                );
            } else if let Some(op) = op.as_object() {
                rendered.insert(method.clone(), f(method, op));
            }
        }
        out.insert(path.clone(), Value::Object(rendered));
    }
    Value::Object(out)
}

fn common_op_fields(op: &Map<String, Value>) -> Map<String, Value> {
    op.iter()
        .filter(|(k, v)| !k.starts_with("x-") || (k.starts_with("x-kubernetes") && !v.is_null()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn param_v2(p: &Value) -> Value {
    let mut v = json!({"name": p["name"], "in": p["in"], "type": p["type"], "description": p["description"], "uniqueItems": true});
    if p["in"] == "path" {
        v["required"] = json!(true);
        if let Some(o) = v.as_object_mut() {
            o.remove("uniqueItems");
        }
    }
    v
}

fn param_v3(p: &Value) -> Value {
    let mut v = json!({"name": p["name"], "in": p["in"], "description": p["description"], "schema": {"type": p["type"], "uniqueItems": true}});
    if p["in"] == "path" {
        v["required"] = json!(true);
        v["schema"] = json!({"type": p["type"]});
    }
    v
}

fn operations_v2(paths: &Value) -> Value {
    for_each_operation(
        paths,
        |_, op| {
            let mut out = common_op_fields(op);
            let mut params: Vec<Value> = Vec::new();
            let mut consumes = json!(["*/*"]);
            if let Some(body) = op.get("x-body").filter(|b| !b.is_null()) {
                let schema = body["schema"].as_str().unwrap_or_default();
                params.push(json!({"name": "body", "in": "body", "required": true, "schema": def_ref(schema)}));
                if body["patch"] == json!(true) {
                    consumes = json!(PATCH_TYPES);
                }
            }
            params.extend(
                op.get("x-params")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(param_v2),
            );
            let mut responses = Map::new();
            for r in op
                .get("x-responses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let mut resp = json!({"description": r["description"]});
                if let Some(s) = r["schema"].as_str() {
                    resp["schema"] = def_ref(s);
                }
                responses.insert(r["code"].as_str().unwrap_or("200").to_string(), resp);
            }
            out.insert("consumes".into(), consumes);
            out.insert("produces".into(), json!(PRODUCES));
            out.insert("schemes".into(), json!(["https"]));
            out.insert("parameters".into(), Value::Array(params));
            out.insert("responses".into(), Value::Object(responses));
            Value::Object(out)
        },
        param_v2,
    )
}

fn operations_v3(paths: &Value) -> Value {
    let schema_ref = |s: &str| json!({"$ref": format!("#/components/schemas/{s}")});
    for_each_operation(
        paths,
        |_, op| {
            let mut out = common_op_fields(op);
            if let Some(body) = op.get("x-body").filter(|b| !b.is_null()) {
                let schema = schema_ref(body["schema"].as_str().unwrap_or_default());
                let types: Vec<&str> = if body["patch"] == json!(true) {
                    PATCH_TYPES.to_vec()
                } else {
                    vec!["*/*"]
                };
                let content: Map<String, Value> = types
                    .iter()
                    .map(|t| (t.to_string(), json!({"schema": schema})))
                    .collect();
                out.insert(
                    "requestBody".into(),
                    json!({"content": content, "required": true}),
                );
            }
            let params: Vec<Value> = op
                .get("x-params")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(param_v3)
                .collect();
            if !params.is_empty() {
                out.insert("parameters".into(), Value::Array(params));
            }
            let mut responses = Map::new();
            for r in op
                .get("x-responses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let mut resp = json!({"description": r["description"]});
                if let Some(s) = r["schema"].as_str() {
                    let content: Map<String, Value> = PRODUCES
                        .iter()
                        .map(|t| (t.to_string(), json!({"schema": schema_ref(s)})))
                        .collect();
                    resp["content"] = Value::Object(content);
                }
                responses.insert(r["code"].as_str().unwrap_or("200").to_string(), resp);
            }
            out.insert("responses".into(), Value::Object(responses));
            Value::Object(out)
        },
        param_v3,
    )
}
