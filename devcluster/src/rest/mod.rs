//! REST semantics: create, get, update, patch, delete of built-in and custom resources, with
//! kube-apiserver's metadata rules and errors. The HTTP layer parses requests into these calls;
//! nothing here reads a request or builds a response. A write goes through admission (kind,
//! apiVersion, namespace, typed decoding, the schema steps), the metadata rules, managed fields,
//! the store, and its after-write step (serving the resources of a written CRD).

mod crds;
mod delete;
mod managed_fields;
mod names;
mod patch;
mod scale;
mod schema_steps;

use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::registry::{Registry, ResourceType};
use crate::storage::{Expect, Store, Stored, WriteError, WriteOp};

pub use crds::CRD_PREFIX;
pub use delete::{DeleteOptions, Propagation};
pub use patch::{PatchRequest, PatchType, check_patch_type};

/// How unknown or duplicate fields in a request body are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

/// A check of a create's, update's or patch's final object by a layer above this one (the
/// requesting user's RBAC escalation check), with the object's type and namespace.
pub type AdmissionFn = dyn Fn(&ResourceType, &str, &Value) -> Result<(), ApiError> + Send + Sync;

/// An [`AdmissionFn`] as a write option.
#[derive(Clone)]
pub struct AdmissionCheck(pub Arc<AdmissionFn>);

impl std::fmt::Debug for AdmissionCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdmissionCheck")
    }
}

/// Options shared by every write.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: String,
    pub field_validation: FieldValidation,
    /// Run on the final object before it is stored (`None`: the API machinery's own writes).
    pub admission: Option<AdmissionCheck>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            dry_run: false,
            field_manager: "devcluster".into(),
            field_validation: FieldValidation::Warn,
            admission: None,
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

pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";
pub const FINALIZER_ORPHAN: &str = "orphan";
pub const FINALIZER_CRD_CLEANUP: &str = "customresourcecleanup.apiextensions.k8s.io";
pub const NAMESPACE_FINALIZER: &str = "kubernetes";

/// The REST layer over the store: every client write and the API machinery's own writes go
/// through it.
pub struct Rest {
    pub store: Arc<Store>,
    pub registry: Arc<Registry>,
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

impl Rest {
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
                let causes = schema_steps::check_crd(obj);
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
            unknown = schema_steps::custom_resource(rt, obj)
                .map_err(|causes| ApiError::invalid(&rt.group, &rt.kind, &name, causes))?;
        }
        if let Some(check) = &opts.admission {
            (check.0)(rt, namespace, obj)?;
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
        let out = self.create_object(rt, namespace, obj, opts, false).await?;
        self.after_write(rt, &out, opts);
        Ok(out)
    }

    /// The after-write step of a client's create, update or patch: a written CRD is served (or
    /// its changed versions are) right away, before the client's next request, rather than when
    /// the controllers see its event.
    fn after_write(&self, rt: &ResourceType, out: &Outcome, opts: &WriteOptions) {
        if rt.group == "apiextensions.k8s.io" && !opts.dry_run {
            self.register_crd(&out.body);
        }
    }

    /// Create an object; `keep_managed_fields` when server-side apply computed them.
    async fn create_object(
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
        // A generated name that turns out taken is generated again, as kube-apiserver does.
        let generate_from = (!has_name)
            .then(|| meta.get("generateName").and_then(Value::as_str))
            .flatten()
            .map(str::to_string);
        if let Some(prefix) = &generate_from {
            meta.insert("name".into(), json!(names::generate_name(prefix)));
        }
        let name = str_field(&obj, &["metadata", "name"])
            .unwrap_or_default()
            .to_string();
        let causes = names::validate_metadata(rt, &obj);
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
            managed_fields::record_update(rt, None, &mut obj, &opts.field_manager, None);
        }
        if opts.dry_run {
            return Ok(Outcome::ok(obj, 201, warnings));
        }
        let namespace = if rt.namespaced { namespace } else { "" };
        let stored = match &generate_from {
            Some(prefix) => {
                self.write_new_generated(rt, namespace, obj, || names::generate_name(prefix))
                    .await?
            }
            None => self
                .store
                .write(WriteOp::Put {
                    key: rt.key(namespace, &name),
                    object: obj,
                    expect: Expect::Absent,
                })
                .await
                .map_err(|e| storage_error(e, rt, &name))?,
        };
        Ok(Outcome::ok(stored.value(), 201, warnings))
    }

    /// Store a new object under its generated name, or under the next name of `next_name` while
    /// the name is taken, up to [`names::GENERATE_NAME_ATTEMPTS`] names in all.
    async fn write_new_generated(
        &self,
        rt: &ResourceType,
        namespace: &str,
        mut obj: Value,
        mut next_name: impl FnMut() -> String,
    ) -> Result<Arc<Stored>, ApiError> {
        let mut attempt = 1;
        loop {
            let name = str_field(&obj, &["metadata", "name"])
                .unwrap_or_default()
                .to_string();
            let written = self
                .store
                .write(WriteOp::Put {
                    key: rt.key(namespace, &name),
                    object: obj.clone(),
                    expect: Expect::Absent,
                })
                .await;
            match written {
                Err(WriteError::AlreadyExists) if attempt < names::GENERATE_NAME_ATTEMPTS => {
                    attempt += 1;
                    meta_mut(&mut obj).insert("name".into(), json!(next_name()));
                }
                other => return other.map_err(|e| storage_error(e, rt, &name)),
            }
        }
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
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Outcome, ApiError> {
        let out = self
            .update_object(rt, namespace, name, subresource, obj, opts)
            .await?;
        self.after_write(rt, &out, opts);
        Ok(out)
    }

    async fn update_object(
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
        // Without a resourceVersion the update is unconditional: like kube-apiserver's
        // GuaranteedUpdate, it is re-applied to the latest object until it lands (last writer
        // wins), never answered with a 409.
        loop {
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
        let causes = names::validate_metadata(rt, &new);
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
        managed_fields::record_update(rt, Some(old), &mut new, &opts.field_manager, subresource);
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

    #[tokio::test]
    async fn a_taken_generated_name_is_generated_again_up_to_kube_apiservers_limit() {
        let rest = Rest {
            store: Store::in_memory(Default::default()),
            registry: Arc::new(Registry::new()),
        };
        let rt = rest.registry.find("", "v1", "configmaps").unwrap();
        let object = |name: &str| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": name, "namespace": "default"}})
        };
        for taken in ["x-aaaaa", "x-bbbbb"] {
            rest.store
                .write(WriteOp::Put {
                    key: rt.key("default", taken),
                    object: object(taken),
                    expect: Expect::Absent,
                })
                .await
                .unwrap();
        }
        // The first name and the next are taken: the third is stored.
        let mut names = ["x-bbbbb", "x-ccccc"].into_iter().map(str::to_string);
        let stored = rest
            .write_new_generated(&rt, "default", object("x-aaaaa"), || names.next().unwrap())
            .await
            .unwrap();
        assert_eq!(stored.value()["metadata"]["name"], "x-ccccc");
        // Every name taken: after kube-apiserver's eight attempts, its AlreadyExists.
        let mut calls = 0;
        let error = rest
            .write_new_generated(&rt, "default", object("x-aaaaa"), || {
                calls += 1;
                "x-bbbbb".to_string()
            })
            .await
            .unwrap_err();
        assert_eq!(
            (error.code, calls),
            (409, names::GENERATE_NAME_ATTEMPTS - 1)
        );
    }

    #[test]
    fn generated_names_are_kube_apiservers() {
        let name = names::generate_name("web-");
        assert_eq!(name.len(), 9);
        assert!(name.starts_with("web-"));
        assert!(
            name[4..]
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
        );
        let long = "p".repeat(70);
        assert_eq!(names::generate_name(&long).len(), 63);
    }

    #[test]
    fn generation_ignores_metadata_and_status() {
        let a = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"x": 1}, "status": {"y": 1}});
        let b = json!({"metadata": {}, "spec": {"x": 1}, "status": {"y": 2}});
        assert_eq!(generation_relevant(&a), generation_relevant(&b));
    }
}
