//! Merge semantics of object fields: the built-in kinds' table (generated from the Kubernetes OpenAPI
//! definitions) and the [`ListTypeInfo`] trait through which server-side apply asks about any kind.

use serde_json::Value;

use super::builtin_schema::{KINDS, TYPES};

/// Patch strategy flag `merge` (`x-kubernetes-patch-strategy`).
pub(super) const MERGE: u8 = 1;
/// Patch strategy flag `retainKeys`.
pub(super) const RETAIN_KEYS: u8 = 2;
/// Patch strategy flag `replace`.
pub(super) const REPLACE: u8 = 4;

/// Type of a value in the built-in table.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ty {
    /// A scalar (or an atomic list of scalars).
    Scalar,
    /// Arbitrary JSON (`RawExtension`, `JSON`, `FieldsV1`): deduced from the value.
    Untyped,
    /// A struct: index into `TYPES`.
    Struct(u16),
    /// A map (`additionalProperties`) with granular entries.
    Map(&'static Ty),
    /// A map with `x-kubernetes-map-type: atomic`.
    AtomicMap(&'static Ty),
    /// A list.
    List(&'static ListDef),
}

/// A list type in the built-in table.
#[derive(Debug)]
pub(super) struct ListDef {
    pub items: Ty,
    pub kind: ListKind,
}

/// Structured-merge-diff list semantics.
#[derive(Debug)]
pub(super) enum ListKind {
    Atomic,
    Set,
    Map(&'static [&'static str]),
}

/// A field of a struct in the built-in table.
#[derive(Debug)]
pub(super) struct FieldDef {
    pub name: &'static str,
    pub ty: Ty,
    /// `MERGE | RETAIN_KEYS | REPLACE` flags of `x-kubernetes-patch-strategy`.
    pub strategy: u8,
    /// `x-kubernetes-patch-merge-key`.
    pub merge_key: Option<&'static str>,
    /// Server default of a list-map key field, used when an applied item omits it.
    pub key_default: Option<&'static str>,
}

/// A struct type in the built-in table.
#[derive(Debug)]
pub(super) struct TypeDef {
    pub name: &'static str,
    /// `x-kubernetes-map-type: atomic`.
    pub atomic: bool,
    /// Sorted by name.
    pub fields: &'static [FieldDef],
}

impl TypeDef {
    pub(super) fn field(&self, name: &str) -> Option<&'static FieldDef> {
        // `fields` is `'static`; re-borrow through the table to keep the lifetime.
        let fields: &'static [FieldDef] = self.fields;
        fields
            .binary_search_by(|f| f.name.cmp(name))
            .ok()
            .map(|i| &fields[i])
    }
}

pub(super) fn type_def(index: u16) -> &'static TypeDef {
    &TYPES[usize::from(index)]
}

/// Identifies a kind: API group (empty for the core group), version and kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KindKey {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl KindKey {
    /// A kind key from its parts.
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        KindKey {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
        }
    }

    /// A kind key from an `apiVersion` (`v1`, `apps/v1`) and a kind.
    pub fn from_api_version(api_version: &str, kind: &str) -> Self {
        match api_version.split_once('/') {
            Some((group, version)) => KindKey::new(group, version, kind),
            None => KindKey::new("", api_version, kind),
        }
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Root struct of a built-in kind.
pub(super) fn builtin_root(kind: &KindKey) -> Option<u16> {
    KINDS
        .binary_search_by(|(g, v, k, _)| {
            (*g, *v, *k).cmp(&(
                kind.group.as_str(),
                kind.version.as_str(),
                kind.kind.as_str(),
            ))
        })
        .ok()
        .map(|i| KINDS[i].3)
}

/// Whether `kind` is a built-in kind compiled into the server (Kubernetes v1.33 API), as opposed to a
/// custom resource. Only built-in kinds accept strategic merge patch.
pub fn is_builtin_kind(kind: &KindKey) -> bool {
    builtin_root(kind).is_some()
}

/// One step from a parent value to a child, as seen by the schema: a field (or map entry) name, or
/// "an item of the list".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaStep<'a> {
    Field(&'a str),
    Item,
}

/// How server-side apply treats a list (`x-kubernetes-list-type`).
#[derive(Debug, Clone, PartialEq)]
pub enum ListType {
    /// Replaced as a whole; owned as one field.
    Atomic,
    /// Items are scalars identified by value (`v:<value>`).
    Set,
    /// Items are objects identified by the key fields (`k:{...}`), with the defaults used for an
    /// item that omits a key field.
    Map {
        keys: Vec<String>,
        key_defaults: Vec<(String, Value)>,
    },
}

/// What the schema says about the value at a path.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeType {
    /// An object with declared properties; `atomic` for `x-kubernetes-map-type: atomic`.
    Struct { atomic: bool },
    /// An object whose entries are map entries (`additionalProperties`).
    Map { atomic: bool },
    /// A list.
    List(ListType),
    /// A declared scalar.
    Scalar,
    /// A declared value of any shape (`x-kubernetes-preserve-unknown-fields` without type, embedded
    /// raw JSON): objects are granular maps, lists atomic.
    Untyped,
    /// Not in the schema: treated like [`NodeType::Untyped`], but not a declared field.
    Unknown,
}

/// Answers server-side apply's questions about the schema of one kind. Paths are the steps from the
/// root of the object; list items are [`SchemaStep::Item`].
///
/// Built-in kinds: [`builtin_list_type_info`]. Custom resources: implemented by the server from the
/// CRD's structural schema (`properties`, `additionalProperties`, `items`, `x-kubernetes-list-type`,
/// `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`, `x-kubernetes-preserve-unknown-fields`).
pub trait ListTypeInfo {
    /// The schema of the value at `path`.
    fn node(&self, path: &[SchemaStep<'_>]) -> NodeType;

    /// Whether the kind is compiled into the server (built-in): its top-level structs exist even
    /// in an empty object, which shows in the `managedFields` a create records.
    fn is_builtin(&self) -> bool {
        false
    }
}

/// Schema of a kind nobody knows anything about: every object is a granular map, every list atomic.
#[derive(Debug, Clone, Copy, Default)]
pub struct UntypedListTypeInfo;

impl ListTypeInfo for UntypedListTypeInfo {
    fn node(&self, _path: &[SchemaStep<'_>]) -> NodeType {
        NodeType::Untyped
    }
}

/// [`ListTypeInfo`] of a built-in kind, from the generated table.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinListTypeInfo {
    root: u16,
}

/// The [`ListTypeInfo`] of a built-in kind, `None` for a custom resource.
pub fn builtin_list_type_info(kind: &KindKey) -> Option<BuiltinListTypeInfo> {
    builtin_root(kind).map(|root| BuiltinListTypeInfo { root })
}

/// Where a walk of the built-in table stands.
#[derive(Debug, Clone, Copy)]
pub(super) enum Pos {
    /// At a value of this type; `field` is the field that led here (for its patch metadata).
    Ty(Ty, Option<&'static FieldDef>),
    /// Outside the schema (unknown field, or inside untyped JSON).
    Unknown,
}

impl Pos {
    pub(super) fn root(index: u16) -> Pos {
        Pos::Ty(Ty::Struct(index), None)
    }

    /// The position of a child.
    pub(super) fn step(self, step: SchemaStep<'_>) -> Pos {
        let Pos::Ty(ty, _) = self else {
            return Pos::Unknown;
        };
        match (ty, step) {
            (Ty::Struct(index), SchemaStep::Field(name)) => match type_def(index).field(name) {
                Some(field) => Pos::Ty(field.ty, Some(field)),
                None => Pos::Unknown,
            },
            (Ty::Map(value) | Ty::AtomicMap(value), SchemaStep::Field(_)) => Pos::Ty(*value, None),
            (Ty::List(list), SchemaStep::Item) => Pos::Ty(list.items, None),
            (Ty::Untyped, _) => Pos::Ty(Ty::Untyped, None),
            _ => Pos::Unknown,
        }
    }

    pub(super) fn node(self) -> NodeType {
        match self {
            Pos::Unknown => NodeType::Unknown,
            Pos::Ty(ty, _) => match ty {
                Ty::Scalar => NodeType::Scalar,
                Ty::Untyped => NodeType::Untyped,
                Ty::Struct(index) => NodeType::Struct {
                    atomic: type_def(index).atomic,
                },
                Ty::Map(_) => NodeType::Map { atomic: false },
                Ty::AtomicMap(_) => NodeType::Map { atomic: true },
                Ty::List(list) => NodeType::List(match list.kind {
                    ListKind::Atomic => ListType::Atomic,
                    ListKind::Set => ListType::Set,
                    ListKind::Map(keys) => {
                        let key_defaults = match list.items {
                            Ty::Struct(index) => keys
                                .iter()
                                .filter_map(|key| {
                                    let field = type_def(index).field(key)?;
                                    Some((key.to_string(), Value::from(field.key_default?)))
                                })
                                .collect(),
                            _ => Vec::new(),
                        };
                        ListType::Map {
                            keys: keys.iter().map(|k| k.to_string()).collect(),
                            key_defaults,
                        }
                    }
                }),
            },
        }
    }
}

impl ListTypeInfo for BuiltinListTypeInfo {
    fn node(&self, path: &[SchemaStep<'_>]) -> NodeType {
        path.iter()
            .fold(Pos::root(self.root), |pos, step| pos.step(*step))
            .node()
    }

    fn is_builtin(&self) -> bool {
        true
    }
}

/// Index of `ObjectMeta` in the built-in table.
fn object_meta_type() -> Option<u16> {
    TYPES
        .iter()
        .position(|t| t.name == "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
        .and_then(|i| u16::try_from(i).ok())
}

/// [`ListTypeInfo`] of a custom resource, from the structural OpenAPI v3 schema of its version
/// (`spec.versions[].schema.openAPIV3Schema` of the CRD). `metadata` is `ObjectMeta`, as
/// kube-apiserver types it for custom resources (ownerReferences keyed by uid, finalizers a set).
#[derive(Debug, Clone)]
pub struct CustomResourceListTypeInfo {
    schema: Value,
}

impl CustomResourceListTypeInfo {
    /// From the `openAPIV3Schema` (a JSON object).
    pub fn new(open_api_v3_schema: &Value) -> Self {
        CustomResourceListTypeInfo {
            schema: open_api_v3_schema.clone(),
        }
    }
}

/// Where a walk of a CRD schema stands.
enum CrdPos<'s> {
    Schema(&'s Value),
    Untyped,
    Builtin(Pos),
    Unknown,
}

fn preserves_unknown(schema: &Value) -> bool {
    schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
}

fn crd_step<'s>(schema: &'s Value, step: SchemaStep<'_>, at_root: bool) -> CrdPos<'s> {
    if at_root && step == SchemaStep::Field("metadata") {
        return match object_meta_type() {
            Some(meta) => CrdPos::Builtin(Pos::Ty(Ty::Struct(meta), None)),
            None => CrdPos::Unknown,
        };
    }
    let embedded = schema.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true));
    match step {
        SchemaStep::Field(name) => {
            if embedded && name == "metadata" {
                return match object_meta_type() {
                    Some(meta) => CrdPos::Builtin(Pos::Ty(Ty::Struct(meta), None)),
                    None => CrdPos::Unknown,
                };
            }
            if let Some(child) = schema.get("properties").and_then(|p| p.get(name)) {
                return CrdPos::Schema(child);
            }
            match schema.get("additionalProperties") {
                Some(Value::Bool(true)) => CrdPos::Untyped,
                Some(child @ Value::Object(_)) => CrdPos::Schema(child),
                _ => CrdPos::Unknown,
            }
        }
        SchemaStep::Item => match schema.get("items") {
            Some(child @ Value::Object(_)) => CrdPos::Schema(child),
            _ => CrdPos::Unknown,
        },
    }
}

fn crd_node(schema: &Value) -> NodeType {
    let atomic_map = schema.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic");
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            if schema.get("properties").is_some() {
                NodeType::Struct { atomic: atomic_map }
            } else if schema.get("additionalProperties").is_some() {
                NodeType::Map { atomic: atomic_map }
            } else if preserves_unknown(schema) {
                NodeType::Untyped
            } else {
                NodeType::Struct { atomic: atomic_map }
            }
        }
        Some("array") => NodeType::List(
            match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => ListType::Set,
                Some("map") => {
                    let keys: Vec<String> = schema
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|keys| {
                            keys.iter()
                                .filter_map(|k| k.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    let key_defaults = keys
                        .iter()
                        .filter_map(|key| {
                            let default = schema
                                .get("items")?
                                .get("properties")?
                                .get(key)?
                                .get("default")?;
                            Some((key.clone(), default.clone()))
                        })
                        .collect();
                    ListType::Map { keys, key_defaults }
                }
                _ => ListType::Atomic,
            },
        ),
        Some(_) => NodeType::Scalar,
        None if preserves_unknown(schema)
            || schema.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true)) =>
        {
            if schema.get("properties").is_some() {
                NodeType::Struct { atomic: atomic_map }
            } else {
                NodeType::Untyped
            }
        }
        None if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) => {
            NodeType::Scalar
        }
        None => NodeType::Untyped,
    }
}

impl ListTypeInfo for CustomResourceListTypeInfo {
    fn node(&self, path: &[SchemaStep<'_>]) -> NodeType {
        let mut pos = CrdPos::Schema(&self.schema);
        for (i, step) in path.iter().enumerate() {
            pos = match pos {
                CrdPos::Schema(schema) if i > 0 && crd_node(schema) == NodeType::Untyped => {
                    CrdPos::Untyped
                }
                CrdPos::Schema(schema) => crd_step(schema, *step, i == 0),
                CrdPos::Builtin(p) => CrdPos::Builtin(p.step(*step)),
                CrdPos::Untyped => CrdPos::Untyped,
                CrdPos::Unknown => CrdPos::Unknown,
            };
        }
        match pos {
            CrdPos::Schema(schema) if path.is_empty() => match crd_node(schema) {
                NodeType::Untyped => NodeType::Struct { atomic: false },
                other => other,
            },
            CrdPos::Schema(schema) => crd_node(schema),
            CrdPos::Builtin(p) => p.node(),
            CrdPos::Untyped => NodeType::Untyped,
            CrdPos::Unknown => NodeType::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: &KindKey, path: &[SchemaStep<'_>]) -> NodeType {
        builtin_list_type_info(kind).unwrap().node(path)
    }

    use SchemaStep::{Field as F, Item};

    #[test]
    fn builtin_kinds_are_known_and_custom_ones_are_not() {
        assert!(is_builtin_kind(&KindKey::new("", "v1", "Pod")));
        assert!(is_builtin_kind(&KindKey::new("apps", "v1", "Deployment")));
        assert!(is_builtin_kind(&KindKey::new(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition"
        )));
        assert!(is_builtin_kind(&KindKey::from_api_version(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole"
        )));
        assert!(!is_builtin_kind(&KindKey::new(
            "aro.openshift.io",
            "v1alpha1",
            "Cluster"
        )));
        assert!(!is_builtin_kind(&KindKey::new("", "v1", "PodList")));
    }

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(
            KINDS
                .windows(2)
                .all(|w| (w[0].0, w[0].1, w[0].2) < (w[1].0, w[1].1, w[1].2))
        );
        for t in TYPES {
            assert!(
                t.fields.windows(2).all(|w| w[0].name < w[1].name),
                "{}",
                t.name
            );
        }
    }

    #[test]
    fn pod_containers_are_a_map_list_keyed_by_name() {
        let pod = KindKey::new("", "v1", "Pod");
        assert_eq!(
            node(&pod, &[F("spec"), F("containers")]),
            NodeType::List(ListType::Map {
                keys: vec!["name".into()],
                key_defaults: vec![]
            })
        );
        assert_eq!(
            node(&pod, &[F("spec"), F("containers"), Item, F("ports")]),
            NodeType::List(ListType::Map {
                keys: vec!["containerPort".into(), "protocol".into()],
                key_defaults: vec![("protocol".into(), Value::from("TCP"))]
            })
        );
        // atomic lists without patch strategy merge like unknown values: left out of the table
        assert_eq!(
            node(&pod, &[F("spec"), F("tolerations")]),
            NodeType::Unknown
        );
        assert_eq!(
            node(&pod, &[F("spec"), F("volumes")]),
            NodeType::List(ListType::Map {
                keys: vec!["name".into()],
                key_defaults: vec![]
            })
        );
        assert_eq!(
            node(&pod, &[F("spec"), F("nodeSelector")]),
            NodeType::Map { atomic: true }
        );
        assert_eq!(
            node(&pod, &[F("metadata"), F("finalizers")]),
            NodeType::List(ListType::Set)
        );
        assert_eq!(
            node(&pod, &[F("metadata"), F("labels")]),
            NodeType::Map { atomic: false }
        );
        assert_eq!(
            node(&pod, &[F("spec"), F("nosuchfield")]),
            NodeType::Unknown
        );
    }

    #[test]
    fn deployment_selector_is_an_atomic_struct() {
        let d = KindKey::new("apps", "v1", "Deployment");
        assert_eq!(
            node(&d, &[F("spec"), F("selector")]),
            NodeType::Struct { atomic: true }
        );
        assert_eq!(
            node(&d, &[F("spec"), F("template")]),
            NodeType::Struct { atomic: false }
        );
        assert_eq!(
            node(&d, &[F("metadata"), F("ownerReferences")]),
            NodeType::List(ListType::Map {
                keys: vec!["uid".into()],
                key_defaults: vec![]
            })
        );
    }

    #[test]
    fn custom_resource_schemas_answer_list_and_map_types() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "ports": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["port", "protocol"],
                            "items": {"type": "object", "properties": {
                                "port": {"type": "integer"},
                                "protocol": {"type": "string", "default": "TCP"}
                            }}
                        },
                        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                        "args": {"type": "array", "items": {"type": "string"}},
                        "selector": {"type": "object", "x-kubernetes-map-type": "atomic", "properties": {"a": {"type": "string"}}},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "raw": {"x-kubernetes-preserve-unknown-fields": true},
                        "count": {"x-kubernetes-int-or-string": true}
                    }
                }
            }
        });
        let info = CustomResourceListTypeInfo::new(&schema);
        assert_eq!(info.node(&[]), NodeType::Struct { atomic: false });
        assert_eq!(info.node(&[F("spec")]), NodeType::Struct { atomic: false });
        assert_eq!(
            info.node(&[F("spec"), F("ports")]),
            NodeType::List(ListType::Map {
                keys: vec!["port".into(), "protocol".into()],
                key_defaults: vec![("protocol".into(), Value::from("TCP"))]
            })
        );
        assert_eq!(
            info.node(&[F("spec"), F("ports"), Item, F("port")]),
            NodeType::Scalar
        );
        assert_eq!(
            info.node(&[F("spec"), F("tags")]),
            NodeType::List(ListType::Set)
        );
        assert_eq!(
            info.node(&[F("spec"), F("args")]),
            NodeType::List(ListType::Atomic)
        );
        assert_eq!(
            info.node(&[F("spec"), F("selector")]),
            NodeType::Struct { atomic: true }
        );
        assert_eq!(
            info.node(&[F("spec"), F("labels")]),
            NodeType::Map { atomic: false }
        );
        assert_eq!(
            info.node(&[F("spec"), F("labels"), F("x")]),
            NodeType::Scalar
        );
        assert_eq!(info.node(&[F("spec"), F("raw")]), NodeType::Untyped);
        assert_eq!(
            info.node(&[F("spec"), F("raw"), F("deep"), Item]),
            NodeType::Untyped
        );
        assert_eq!(info.node(&[F("spec"), F("count")]), NodeType::Scalar);
        assert_eq!(info.node(&[F("spec"), F("nope")]), NodeType::Unknown);
        assert_eq!(
            info.node(&[F("metadata"), F("ownerReferences")]),
            NodeType::List(ListType::Map {
                keys: vec!["uid".into()],
                key_defaults: vec![]
            })
        );
        assert_eq!(
            info.node(&[F("metadata"), F("finalizers")]),
            NodeType::List(ListType::Set)
        );
        assert!(!info.is_builtin());
    }

    #[test]
    fn job_conditions_are_atomic_for_apply() {
        // patch strategy merge by type, but x-kubernetes-list-type atomic wins for apply
        let job = KindKey::new("batch", "v1", "Job");
        assert_eq!(
            node(&job, &[F("status"), F("conditions")]),
            NodeType::List(ListType::Atomic)
        );
    }
}
