//! The Kubernetes REST semantics: create, get, list, update, patch, delete and deletecollection
//! of built-in and custom resources, with kube-apiserver's metadata rules and errors.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::error::{ApiError, Cause};
use crate::registry::{Registry, ResourceType};
use crate::store::{Expect, Store, Stored, WriteError, WriteOp};

/// How unknown or duplicate fields in a request body are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

/// Options shared by every write.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: String,
    pub field_validation: FieldValidation,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            dry_run: false,
            field_manager: "devcluster".into(),
            field_validation: FieldValidation::Warn,
        }
    }
}

/// The result of a write: the object (or Status), the HTTP code, and warnings for the client.
#[derive(Debug)]
pub struct Outcome {
    pub body: Value,
    pub code: u16,
    pub warnings: Vec<String>,
}

impl Outcome {
    fn ok(body: Value, code: u16, warnings: Vec<String>) -> Self {
        Outcome {
            body,
            code,
            warnings,
        }
    }
}

/// `DeleteOptions` from the body or query.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub propagation: Option<Propagation>,
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Orphan,
    Background,
    Foreground,
}

impl Propagation {
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        match s {
            "Orphan" => Ok(Propagation::Orphan),
            "Background" => Ok(Propagation::Background),
            "Foreground" => Ok(Propagation::Foreground),
            other => Err(ApiError::invalid(
                "",
                "DeleteOptions",
                "",
                vec![Cause::new(
                    "FieldValueNotSupported",
                    "propagationPolicy",
                    format!(
                        "Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                    ),
                )],
            )),
        }
    }
}

pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";
pub const FINALIZER_ORPHAN: &str = "orphan";
pub const FINALIZER_CRD_CLEANUP: &str = "customresourcecleanup.apiextensions.k8s.io";
pub const NAMESPACE_FINALIZER: &str = "kubernetes";

/// Hooks for the schema-driven parts of a write (CRD validation, defaulting and pruning;
/// managed fields), so the REST layer stays independent of how they are computed.
pub trait SchemaHooks: Send + Sync {
    /// Prune, default and validate a custom resource. Returns the unknown (pruned) field paths.
    fn custom_resource(
        &self,
        rt: &ResourceType,
        object: &mut Value,
    ) -> Result<Vec<String>, Vec<Cause>>;
    /// Validate a CustomResourceDefinition beyond its typed decoding (structural schema rules).
    fn crd(&self, crd: &Value) -> Vec<Cause>;
}

/// The REST layer over the store.
pub struct Api {
    pub store: Arc<Store>,
    pub registry: Arc<Registry>,
    pub hooks: Arc<dyn SchemaHooks>,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata is an object")
}

fn str_field<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = obj;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// Map a store error onto the Kubernetes status for this object.
pub fn storage_error(e: WriteError, rt: &ResourceType, name: &str) -> ApiError {
    match e {
        WriteError::AlreadyExists => ApiError::already_exists(&rt.group, &rt.plural, name),
        WriteError::NotFound => ApiError::not_found(&rt.group, &rt.plural, name),
        WriteError::Conflict { .. } => ApiError::conflict(
            &rt.group,
            &rt.plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ),
        WriteError::Storage(m) => ApiError::internal(m),
    }
}

/// RFC 1123 subdomain (most names).
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// RFC 1123 label (namespaces, services).
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A Kubernetes qualified name: `[prefix/]name`, the prefix a DNS subdomain, the name at most
/// 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric.
pub fn is_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if prefix.is_some_and(|p| !is_dns_subdomain(p)) {
        return false;
    }
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn validate_name(rt: &ResourceType, name: &str) -> Option<Cause> {
    let label_kinds = rt.group.is_empty() && (rt.plural == "namespaces" || rt.plural == "services");
    let path_segment_kinds = rt.group == "rbac.authorization.k8s.io";
    if path_segment_kinds {
        if name.is_empty()
            || name == "."
            || name == ".."
            || name.contains('/')
            || name.contains('%')
        {
            return Some(Cause::new(
                "FieldValueInvalid",
                "metadata.name",
                format!(
                    "Invalid value: \"{name}\": may not contain '/' or '%' and may not be '.' or '..'"
                ),
            ));
        }
        return None;
    }
    if label_kinds && !is_dns_label(name) {
        return Some(Cause::new(
            "FieldValueInvalid",
            "metadata.name",
            format!(
                "Invalid value: \"{name}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            ),
        ));
    }
    if !label_kinds && !is_dns_subdomain(name) {
        return Some(Cause::new(
            "FieldValueInvalid",
            "metadata.name",
            format!(
                "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ),
        ));
    }
    None
}

fn validate_metadata(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let meta = &obj["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "metadata.name",
            "Required value: name or generateName is required",
        ));
    } else if let Some(c) = validate_name(rt, name) {
        causes.push(c);
    }
    for (field, map) in [
        ("metadata.labels", &meta["labels"]),
        ("metadata.annotations", &meta["annotations"]),
    ] {
        if let Some(m) = map.as_object() {
            for (k, v) in m {
                if !v.is_string() {
                    causes.push(Cause::new(
                        "FieldValueTypeInvalid",
                        format!("{field}.{k}"),
                        "Invalid value: must be a string",
                    ));
                }
                if field == "metadata.labels"
                    && let Some(v) = v.as_str()
                    && crate::selectors::LabelSelector::parse(&format!("{k}={v}")).is_err()
                {
                    causes.push(Cause::new(
                                "FieldValueInvalid",
                                "metadata.labels".to_string(),
                                format!("Invalid value: \"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
                            ));
                }
            }
        }
    }
    // Like apimachinery's ValidateFinalizers: any qualified name (a domain-less name such as
    // the CRD cleanup finalizer is valid; apiserver only warns about it).
    if let Some(fins) = meta["finalizers"].as_array() {
        for (i, f) in fins.iter().enumerate() {
            let f = f.as_str().unwrap_or_default();
            if !is_qualified_name(f) {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    format!("metadata.finalizers[{i}]"),
                    format!("Invalid value: \"{f}\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"),
                ));
            }
        }
    }
    causes
}

/// Paths present in `input` but absent from `output` (unknown fields dropped by decoding).
pub fn dropped_fields(input: &Value, output: &Value, path: &str, out: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (k, v) in i {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match o.get(k) {
                    Some(ov) => dropped_fields(v, ov, &p, out),
                    None if v.is_null() => {}
                    None => out.push(p),
                }
            }
        }
        (Value::Array(i), Value::Array(o)) => {
            for (n, (iv, ov)) in i.iter().zip(o).enumerate() {
                dropped_fields(iv, ov, &format!("{path}[{n}]"), out);
            }
        }
        _ => {}
    }
}

/// The parts of an object that count for `metadata.generation`: everything but metadata and
/// status.
fn generation_relevant(obj: &Value) -> Value {
    match obj {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn has_generation(rt: &ResourceType, obj: &Value) -> bool {
    rt.crd.is_some() || obj.get("spec").is_some() || (rt.group == "apiextensions.k8s.io")
}

fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn set_finalizers(obj: &mut Value, fins: &[String]) {
    let meta = meta_mut(obj);
    if fins.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert("finalizers".into(), json!(fins));
    }
}

/// Status body of a successful immediate deletion of a built-in object.
fn success_status(rt: &ResourceType, name: &str, uid: &str) -> Value {
    let mut details = json!({"name": name, "kind": rt.plural, "uid": uid});
    if !rt.group.is_empty() {
        details["group"] = json!(rt.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

impl Api {
    /// The stored object, with its apiVersion as served by `rt`.
    pub fn read(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Stored>, ApiError> {
        self.store
            .get(&rt.key(namespace, name))
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))
    }

    /// Rewrite apiVersion for the served version (CRD versions share storage, conversion None).
    pub fn for_version(rt: &ResourceType, mut obj: Value) -> Value {
        if rt.crd.is_some() {
            obj["apiVersion"] = json!(rt.api_version());
        }
        obj
    }

    /// Set apiVersion and kind, check the namespace, decode and validate the body, returning
    /// warnings (unknown fields) or the matching error.
    pub(crate) fn admit(
        &self,
        rt: &ResourceType,
        namespace: &str,
        obj: &mut Value,
        opts: &WriteOptions,
    ) -> Result<Vec<String>, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        match obj.get("kind").and_then(Value::as_str) {
            Some(k) if k != rt.kind => {
                return Err(ApiError::bad_request(format!(
                    "the kind of the provided object ({k}) does not match the expected kind ({})",
                    rt.kind
                )));
            }
            _ => obj["kind"] = json!(rt.kind),
        }
        match obj.get("apiVersion").and_then(Value::as_str) {
            Some(v) if v != rt.api_version() => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({})",
                    rt.api_version()
                )));
            }
            _ => obj["apiVersion"] = json!(rt.api_version()),
        }
        if obj
            .get("metadata")
            .is_some_and(|m| !m.is_object() && !m.is_null())
        {
            return Err(ApiError::bad_request("metadata must be an object"));
        }
        let meta = meta_mut(obj);
        if rt.namespaced {
            match meta.get("namespace").and_then(Value::as_str) {
                Some(ns) if !ns.is_empty() && ns != namespace => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => {
                    meta.insert("namespace".into(), json!(namespace));
                }
            }
        } else {
            meta.remove("namespace");
        }
        let mut unknown = Vec::new();
        if let Some(b) = rt.builtin {
            let normalized = (b.normalize)(obj.clone()).map_err(|e| {
                ApiError::bad_request(format!("{} in body is invalid: {e}", rt.kind))
            })?;
            dropped_fields(obj, &normalized, "", &mut unknown);
            *obj = normalized;
            if rt.group.is_empty() && rt.plural == "secrets" {
                fold_string_data(obj);
            }
            if rt.group == "apiextensions.k8s.io" {
                let causes = self.hooks.crd(obj);
                if !causes.is_empty() {
                    let name = str_field(obj, &["metadata", "name"])
                        .unwrap_or_default()
                        .to_string();
                    return Err(ApiError::invalid(&rt.group, &rt.kind, &name, causes));
                }
            }
        } else {
            let name = str_field(obj, &["metadata", "name"])
                .unwrap_or_default()
                .to_string();
            unknown = self
                .hooks
                .custom_resource(rt, obj)
                .map_err(|causes| ApiError::invalid(&rt.group, &rt.kind, &name, causes))?;
        }
        match opts.field_validation {
            FieldValidation::Strict if !unknown.is_empty() => {
                let list: Vec<String> = unknown
                    .iter()
                    .map(|p| format!("unknown field \"{p}\""))
                    .collect();
                Err(ApiError::bad_request(format!(
                    "strict decoding error: {}",
                    list.join(", ")
                )))
            }
            FieldValidation::Warn => Ok(unknown
                .iter()
                .map(|p| format!("unknown field \"{p}\""))
                .collect()),
            _ => Ok(Vec::new()),
        }
    }

    fn check_namespace_writable(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        if !rt.namespaced {
            return Ok(());
        }
        let ns = self
            .store
            .get(&format!("/namespaces//{namespace}"))
            .ok_or_else(|| ApiError::not_found("", "namespaces", namespace))?;
        let ns = ns.value();
        if ns["metadata"]["deletionTimestamp"].is_string() {
            return Err(ApiError::forbidden(format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                crate::error::qualified(&rt.group, &rt.plural)
            ))
            .with_details(&rt.group, &rt.plural, name));
        }
        Ok(())
    }

    /// POST: create an object.
    pub async fn create(
        &self,
        rt: &ResourceType,
        namespace: &str,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Outcome, ApiError> {
        self.create_inner(rt, namespace, obj, opts, false).await
    }

    /// Create an object whose managedFields were computed by server-side apply.
    pub async fn create_with_managed_fields(
        &self,
        rt: &ResourceType,
        namespace: &str,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Outcome, ApiError> {
        self.create_inner(rt, namespace, obj, opts, true).await
    }

    async fn create_inner(
        &self,
        rt: &ResourceType,
        namespace: &str,
        mut obj: Value,
        opts: &WriteOptions,
        keep_managed_fields: bool,
    ) -> Result<Outcome, ApiError> {
        let warnings = self.admit(rt, namespace, &mut obj, opts)?;
        let meta = meta_mut(&mut obj);
        let has_name = meta
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        if !has_name && let Some(prefix) = meta.get("generateName").and_then(Value::as_str) {
            let suffix: String = (0..5)
                .map(|_| {
                    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
                    ALPHABET[rand::random_range(0..ALPHABET.len())] as char
                })
                .collect();
            let prefix = &prefix[..prefix.len().min(58)];
            meta.insert("name".into(), json!(format!("{prefix}{suffix}")));
        }
        let name = str_field(&obj, &["metadata", "name"])
            .unwrap_or_default()
            .to_string();
        let causes = validate_metadata(rt, &obj);
        if !causes.is_empty() {
            return Err(ApiError::invalid(&rt.group, &rt.kind, &name, causes));
        }
        self.check_namespace_writable(rt, namespace, &name)?;
        let meta = meta_mut(&mut obj);
        for k in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            meta.remove(k);
        }
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(now()));
        if rt.status_subresource && rt.crd.is_some() {
            obj.as_object_mut().map(|o| o.remove("status"));
        }
        self.defaults_on_create(rt, &mut obj);
        if has_generation(rt, &obj) {
            meta_mut(&mut obj).insert("generation".into(), json!(1));
        }
        if !keep_managed_fields {
            crate::managed::record_update(rt, None, &mut obj, &opts.field_manager, None);
        }
        if opts.dry_run {
            return Ok(Outcome::ok(obj, 201, warnings));
        }
        let key = rt.key(if rt.namespaced { namespace } else { "" }, &name);
        let stored = self
            .store
            .write(WriteOp::Put {
                key,
                object: obj,
                expect: Expect::Absent,
            })
            .await
            .map_err(|e| storage_error(e, rt, &name))?;
        Ok(Outcome::ok(stored.value(), 201, warnings))
    }

    fn defaults_on_create(&self, rt: &ResourceType, obj: &mut Value) {
        match (rt.group.as_str(), rt.plural.as_str()) {
            ("", "namespaces") => {
                let fins = obj["spec"]["finalizers"].clone();
                if !fins.is_array() {
                    obj["spec"]["finalizers"] = json!([NAMESPACE_FINALIZER]);
                }
                obj["status"] = json!({"phase": "Active"});
                let name = str_field(obj, &["metadata", "name"])
                    .unwrap_or_default()
                    .to_string();
                let labels = meta_mut(obj).entry("labels").or_insert_with(|| json!({}));
                if let Some(l) = labels.as_object_mut() {
                    l.insert("kubernetes.io/metadata.name".into(), json!(name));
                }
            }
            ("apiextensions.k8s.io", "customresourcedefinitions") => {
                let mut fins = finalizers(obj);
                if !fins.iter().any(|f| f == FINALIZER_CRD_CLEANUP) {
                    fins.push(FINALIZER_CRD_CLEANUP.into());
                }
                set_finalizers(obj, &fins);
                obj.as_object_mut().map(|o| o.remove("status"));
            }
            ("", "pods") if !obj["status"]["phase"].is_string() => {
                obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
            }
            ("", "services") if !obj["spec"]["type"].is_string() => {
                obj["spec"]["type"] = json!("ClusterIP");
            }
            ("", "secrets") if !obj["type"].is_string() => {
                obj["type"] = json!("Opaque");
            }
            ("apps", "deployments") | ("apps", "statefulsets") | ("apps", "replicasets")
                if obj["spec"]["replicas"].is_null() =>
            {
                obj["spec"]["replicas"] = json!(1);
            }
            _ => {}
        }
    }

    /// PUT: replace an object (or its status / scale).
    pub async fn update(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        subresource: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Outcome, ApiError> {
        if subresource == Some("scale") {
            return self.update_scale(rt, namespace, name, obj, opts).await;
        }
        let warnings = self.admit(rt, namespace, &mut obj, opts)?;
        let body_name = str_field(&obj, &["metadata", "name"])
            .unwrap_or_default()
            .to_string();
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        meta_mut(&mut obj).insert("name".into(), json!(name));
        let client_rv =
            match str_field(&obj, &["metadata", "resourceVersion"]) {
                Some(rv) if !rv.is_empty() => Some(rv.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resourceVersion {rv:?}"))
                })?),
                _ => None,
            };
        for _attempt in 0..16 {
            let current = self.read(rt, namespace, name)?;
            if client_rv.is_some_and(|rv| rv != current.rev) {
                return Err(storage_error(
                    WriteError::Conflict {
                        current: current.rev,
                    },
                    rt,
                    name,
                ));
            }
            let old = current.value();
            let new = self.merge_update(rt, &old, obj.clone(), subresource, opts)?;
            match self
                .commit_update(rt, namespace, name, &current, new, opts)
                .await
            {
                Err(ApiError {
                    code: 409,
                    reason: "Conflict",
                    ..
                }) if client_rv.is_none() => continue,
                other => return other.map(|(body, code)| Outcome::ok(body, code, warnings)),
            }
        }
        Err(ApiError::conflict(
            &rt.group,
            &rt.plural,
            name,
            "too many concurrent writers; try again",
        ))
    }

    /// Combine the old object and the submitted one per subresource rules and metadata rules.
    pub fn merge_update(
        &self,
        rt: &ResourceType,
        old: &Value,
        mut new: Value,
        subresource: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let name = str_field(old, &["metadata", "name"])
            .unwrap_or_default()
            .to_string();
        if subresource == Some("status") {
            let mut merged = old.clone();
            match new.get("status") {
                Some(s) => merged["status"] = s.clone(),
                None => {
                    merged.as_object_mut().map(|o| o.remove("status"));
                }
            }
            // Labels and annotations on the status endpoint are ignored like apiserver does.
            new = merged;
        } else if rt.status_subresource {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    new.as_object_mut().map(|o| o.remove("status"));
                }
            }
        }
        {
            let old_meta = &old["metadata"];
            let meta = meta_mut(&mut new);
            for k in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match old_meta.get(k) {
                    Some(v) => meta.insert(k.into(), v.clone()),
                    None => meta.remove(k),
                };
            }
            meta.remove("selfLink");
        }
        if rt.group == "apiextensions.k8s.io" && subresource != Some("status") {
            // The cleanup finalizer stays until the controller removes it; status is kept.
            if old["metadata"]["deletionTimestamp"].is_null() {
                let mut fins = finalizers(&new);
                if !fins.iter().any(|f| f == FINALIZER_CRD_CLEANUP) {
                    fins.push(FINALIZER_CRD_CLEANUP.into());
                    set_finalizers(&mut new, &fins);
                }
            }
            new["status"] = old["status"].clone();
        }
        if rt.group.is_empty() && rt.plural == "namespaces" && subresource != Some("finalize") {
            new["spec"] = old["spec"].clone();
            if subresource != Some("status") {
                new["status"] = old["status"].clone();
            }
        }
        if subresource == Some("finalize") {
            let mut merged = old.clone();
            merged["spec"]["finalizers"] = new["spec"]["finalizers"].clone();
            new = merged;
        }
        let causes = validate_metadata(rt, &new);
        if !causes.is_empty() {
            return Err(ApiError::invalid(&rt.group, &rt.kind, &name, causes));
        }
        // A deleting object may only lose finalizers, never gain new ones.
        if old["metadata"]["deletionTimestamp"].is_string() {
            let before = finalizers(old);
            let added: Vec<String> = finalizers(&new)
                .into_iter()
                .filter(|f| !before.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(ApiError::forbidden(format!(
                    "{} \"{name}\" is forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}",
                    crate::error::qualified(&rt.group, &rt.plural)
                )));
            }
        }
        if has_generation(rt, &new) {
            let old_gen = old["metadata"]["generation"].as_i64().unwrap_or(1);
            let bump = generation_relevant(old) != generation_relevant(&new);
            meta_mut(&mut new).insert(
                "generation".into(),
                json!(if bump { old_gen + 1 } else { old_gen }),
            );
        }
        crate::managed::record_update(rt, Some(old), &mut new, &opts.field_manager, subresource);
        Ok(new)
    }

    /// Write `new` over `current`; a deleting object whose last finalizer is gone is removed.
    pub async fn commit_update(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        current: &Stored,
        mut new: Value,
        opts: &WriteOptions,
    ) -> Result<(Value, u16), ApiError> {
        let key = rt.key(if rt.namespaced { namespace } else { "" }, name);
        let deleting = new["metadata"]["deletionTimestamp"].is_string();
        let no_finalizers = finalizers(&new).is_empty()
            && !(rt.group.is_empty()
                && rt.plural == "namespaces"
                && new["spec"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty()));
        meta_mut(&mut new).insert("resourceVersion".into(), json!(current.rev.to_string()));
        let unchanged = serde_json::to_vec(&new).ok().as_deref() == Some(current.raw.as_ref());
        if opts.dry_run || (unchanged && !(deleting && no_finalizers)) {
            // No-op updates do not bump the resourceVersion, like apiserver.
            return Ok((Self::for_version(rt, new), 200));
        }
        let op = if deleting && no_finalizers {
            WriteOp::Delete {
                key,
                expect: Expect::Revision(current.rev),
                final_state: Some(new),
            }
        } else {
            WriteOp::Put {
                key,
                object: new,
                expect: Expect::Revision(current.rev),
            }
        };
        let stored = self
            .store
            .write(op)
            .await
            .map_err(|e| storage_error(e, rt, name))?;
        Ok((Self::for_version(rt, stored.value()), 200))
    }

    /// The `autoscaling/v1` Scale of an object.
    pub fn scale_of(rt: &ResourceType, obj: &Value) -> Result<Value, ApiError> {
        let spec = rt.scale.as_ref().ok_or_else(ApiError::not_found_path)?;
        let get = |path: &str| {
            let mut cur = obj;
            for p in path.trim_start_matches('.').split('.') {
                cur = &cur[p];
            }
            cur.clone()
        };
        let meta = &obj["metadata"];
        let mut status = json!({"replicas": get(&spec.status_replicas_path).as_i64().unwrap_or(0)});
        if let Some(sel) = &spec.label_selector_path {
            let s = get(sel);
            if let Some(s) = s.as_str() {
                status["selector"] = json!(s);
            } else if let Some(labels) = obj["spec"]["selector"]["matchLabels"].as_object() {
                let sel: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect();
                status["selector"] = json!(sel.join(","));
            }
        }
        Ok(json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
            },
            "spec": {"replicas": get(&spec.spec_replicas_path).as_i64().unwrap_or(0)},
            "status": status,
        }))
    }

    async fn update_scale(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        scale: Value,
        opts: &WriteOptions,
    ) -> Result<Outcome, ApiError> {
        let spec = rt.scale.clone().ok_or_else(ApiError::not_found_path)?;
        let replicas = scale["spec"]["replicas"].as_i64().ok_or_else(|| {
            ApiError::invalid(
                "autoscaling",
                "Scale",
                name,
                vec![Cause::new(
                    "FieldValueRequired",
                    "spec.replicas",
                    "Required value",
                )],
            )
        })?;
        if replicas < 0 {
            return Err(ApiError::invalid(
                "autoscaling",
                "Scale",
                name,
                vec![Cause::new(
                    "FieldValueInvalid",
                    "spec.replicas",
                    format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                )],
            ));
        }
        let client_rv =
            str_field(&scale, &["metadata", "resourceVersion"]).and_then(|s| s.parse::<u64>().ok());
        for _ in 0..16 {
            let current = self.read(rt, namespace, name)?;
            if client_rv.is_some_and(|rv| rv != current.rev) {
                return Err(storage_error(
                    WriteError::Conflict {
                        current: current.rev,
                    },
                    rt,
                    name,
                ));
            }
            let old = current.value();
            let mut new = old.clone();
            let parts: Vec<&str> = spec
                .spec_replicas_path
                .trim_start_matches('.')
                .split('.')
                .collect();
            let mut cur = &mut new;
            for p in &parts[..parts.len() - 1] {
                if !cur.get(*p).is_some_and(Value::is_object) {
                    cur[*p] = json!({});
                }
                cur = &mut cur[*p];
            }
            cur[parts[parts.len() - 1]] = json!(replicas);
            let new = self.merge_update(rt, &old, new, Some("scale"), opts)?;
            match self
                .commit_update(rt, namespace, name, &current, new, opts)
                .await
            {
                Err(ApiError { code: 409, .. }) if client_rv.is_none() => continue,
                Err(e) => return Err(e),
                Ok((obj, code)) => {
                    return Ok(Outcome::ok(Self::scale_of(rt, &obj)?, code, Vec::new()));
                }
            }
        }
        Err(ApiError::conflict(
            &rt.group,
            &rt.plural,
            name,
            "too many concurrent writers; try again",
        ))
    }

    /// DELETE one object.
    pub async fn delete(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Outcome, ApiError> {
        for _ in 0..16 {
            let current = self.read(rt, namespace, name)?;
            let old = current.value();
            if let Some(uid) = &opts.precondition_uid
                && old["metadata"]["uid"].as_str() != Some(uid)
            {
                return Err(ApiError::conflict(
                    &rt.group,
                    &rt.plural,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        old["metadata"]["uid"].as_str().unwrap_or_default()
                    ),
                ));
            }
            if let Some(rv) = &opts.precondition_resource_version
                && rv != &current.rev.to_string()
            {
                return Err(ApiError::conflict(
                    &rt.group,
                    &rt.plural,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        current.rev
                    ),
                ));
            }
            let mut fins = finalizers(&old);
            let propagation = opts.propagation.unwrap_or(Propagation::Background);
            match propagation {
                Propagation::Foreground if !fins.iter().any(|f| f == FINALIZER_FOREGROUND) => {
                    fins.push(FINALIZER_FOREGROUND.into())
                }
                Propagation::Orphan if !fins.iter().any(|f| f == FINALIZER_ORPHAN) => {
                    fins.push(FINALIZER_ORPHAN.into())
                }
                _ => {}
            }
            let namespace_pending = rt.group.is_empty()
                && rt.plural == "namespaces"
                && old["spec"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty());
            let already_deleting = old["metadata"]["deletionTimestamp"].is_string();
            if fins.is_empty() && !namespace_pending {
                if opts.dry_run {
                    return Ok(Outcome::ok(self.deleted_body(rt, &old), 200, Vec::new()));
                }
                let key = rt.key(if rt.namespaced { namespace } else { "" }, name);
                match self
                    .store
                    .write(WriteOp::Delete {
                        key,
                        expect: Expect::Revision(current.rev),
                        final_state: None,
                    })
                    .await
                {
                    Ok(last) => {
                        return Ok(Outcome::ok(
                            self.deleted_body(rt, &last.value()),
                            200,
                            Vec::new(),
                        ));
                    }
                    Err(WriteError::Conflict { .. }) => continue,
                    Err(e) => return Err(storage_error(e, rt, name)),
                }
            }
            // Graceful: mark for deletion, finalizers (and the API machinery) finish it.
            let mut new = old.clone();
            set_finalizers(&mut new, &fins);
            if !already_deleting {
                let meta = meta_mut(&mut new);
                meta.insert("deletionTimestamp".into(), json!(now()));
                meta.insert(
                    "deletionGracePeriodSeconds".into(),
                    json!(opts.grace_period_seconds.unwrap_or(0)),
                );
                if rt.group.is_empty() && rt.plural == "namespaces" {
                    new["status"]["phase"] = json!("Terminating");
                }
            }
            if opts.dry_run {
                return Ok(Outcome::ok(Self::for_version(rt, new), 200, Vec::new()));
            }
            if new == old {
                return Ok(Outcome::ok(Self::for_version(rt, old), 200, Vec::new()));
            }
            let key = rt.key(if rt.namespaced { namespace } else { "" }, name);
            match self
                .store
                .write(WriteOp::Put {
                    key,
                    object: new,
                    expect: Expect::Revision(current.rev),
                })
                .await
            {
                Ok(s) => {
                    return Ok(Outcome::ok(
                        Self::for_version(rt, s.value()),
                        200,
                        Vec::new(),
                    ));
                }
                Err(WriteError::Conflict { .. }) => continue,
                Err(e) => return Err(storage_error(e, rt, name)),
            }
        }
        Err(ApiError::conflict(
            &rt.group,
            &rt.plural,
            name,
            "too many concurrent writers; try again",
        ))
    }

    pub(crate) fn deleted_body(&self, rt: &ResourceType, last: &Value) -> Value {
        if rt.crd.is_some() {
            Self::for_version(rt, last.clone())
        } else {
            let name = str_field(last, &["metadata", "name"]).unwrap_or_default();
            let uid = str_field(last, &["metadata", "uid"]).unwrap_or_default();
            success_status(rt, name, uid)
        }
    }

    /// Apply `f` to the current object and write the result, retrying on conflicts: the internal
    /// controllers' read-modify-write.
    pub async fn modify(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        subresource: Option<&str>,
        f: impl Fn(&mut Value) -> bool,
    ) -> Result<(), ApiError> {
        let opts = WriteOptions {
            field_manager: "devcluster-controllers".into(),
            ..Default::default()
        };
        for _ in 0..16 {
            let current = match self.read(rt, namespace, name) {
                Ok(c) => c,
                Err(e) if e.code == 404 => return Ok(()),
                Err(e) => return Err(e),
            };
            let old = current.value();
            let mut new = old.clone();
            if !f(&mut new) {
                return Ok(());
            }
            let merged = self.merge_update(rt, &old, new, subresource, &opts)?;
            match self
                .commit_update(rt, namespace, name, &current, merged, &opts)
                .await
            {
                Err(ApiError { code: 409, .. }) => continue,
                Err(e) if e.code == 404 => return Ok(()),
                other => return other.map(|_| ()),
            }
        }
        Err(ApiError::conflict(
            &rt.group,
            &rt.plural,
            name,
            "too many concurrent writers",
        ))
    }
}

/// Labels of a stored object as a map (for selectors on values not yet stored).
pub fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// A Secret's `stringData` is write-only: the API server merges it into `data` (base64, its keys
/// winning) and never stores it.
fn fold_string_data(secret: &mut Value) {
    use base64::Engine;
    let Some(object) = secret.as_object_mut() else {
        return;
    };
    let Some(Value::Object(strings)) = object.remove("stringData") else {
        return;
    };
    let data = object.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    if let Some(data) = data.as_object_mut() {
        for (key, value) in strings {
            let text = value.as_str().map(str::to_string).unwrap_or_default();
            data.insert(
                key,
                json!(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rfc1123() {
        assert!(is_dns_subdomain("a.b-c.d"));
        assert!(!is_dns_subdomain("A"));
        assert!(!is_dns_subdomain("-a"));
        assert!(!is_dns_subdomain("a..b"));
        assert!(is_dns_label("kube-system"));
        assert!(!is_dns_label("a.b"));
    }

    #[test]
    fn finalizer_names_are_qualified_names() {
        assert!(is_qualified_name(
            "customresourcecleanup.apiextensions.k8s.io"
        ));
        assert!(is_qualified_name("example.com/hold"));
        assert!(is_qualified_name("hold"));
        assert!(!is_qualified_name("a/b/c"));
        assert!(!is_qualified_name("Bad Name"));
        assert!(!is_qualified_name("UPPER.com/x"));
        assert!(!is_qualified_name("example.com/"));
    }

    #[test]
    fn dropped_fields_reports_unknown_paths() {
        let input = json!({"spec": {"a": 1, "x": 2, "list": [{"k": 1, "bad": 2}]}, "n": null});
        let output = json!({"spec": {"a": 1, "list": [{"k": 1}]}});
        let mut out = Vec::new();
        dropped_fields(&input, &output, "", &mut out);
        assert_eq!(
            out,
            vec!["spec.list[0].bad".to_string(), "spec.x".to_string()]
        );
    }

    #[test]
    fn generation_ignores_metadata_and_status() {
        let a = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"x": 1}, "status": {"y": 1}});
        let b = json!({"metadata": {}, "spec": {"x": 1}, "status": {"y": 2}});
        assert_eq!(generation_relevant(&a), generation_relevant(&b));
    }
}
