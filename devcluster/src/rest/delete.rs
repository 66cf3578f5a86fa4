//! DELETE: preconditions, propagation (background, foreground, orphan finalizers), graceful
//! deletion of objects with finalizers, and the Status body of an immediate deletion.

use serde_json::{Value, json};

use super::{
    FINALIZER_FOREGROUND, FINALIZER_ORPHAN, Outcome, Rest, finalizers, meta_mut, now,
    set_finalizers, storage_error, str_field,
};
use crate::error::{ApiError, Cause};
use crate::registry::ResourceType;
use crate::storage::{Expect, WriteError, WriteOp};

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

/// Status body of a successful immediate deletion of a built-in object.
fn success_status(rt: &ResourceType, name: &str, uid: &str) -> Value {
    let mut details = json!({"name": name, "kind": rt.plural, "uid": uid});
    if !rt.group.is_empty() {
        details["group"] = json!(rt.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

impl Rest {
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
}
