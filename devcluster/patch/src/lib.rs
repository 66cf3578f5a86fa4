//! Patch machinery of the API server, on `serde_json::Value`, independent of the server: JSON merge
//! patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch for the built-in kinds, and
//! server-side apply with `managedFields`, each matching kube-apiserver's behaviour and error codes.
//!
//! | content type | function | kinds |
//! | --- | --- | --- |
//! | `application/merge-patch+json` | [`merge_patch`] | all |
//! | `application/json-patch+json` | [`json_patch`] | all |
//! | `application/strategic-merge-patch+json` | [`strategic_merge_patch`] | built-in only ([`check_patch_type`]) |
//! | `application/apply-patch+yaml` | [`apply`] | all |
//!
//! Every write also records ownership: [`update_managed_fields`] for create, update and the
//! non-apply patches.
//!
//! What the server does around these functions:
//! - PATCH: [`check_patch_type`] on the `Content-Type` (415 for strategic merge patch of a custom
//!   resource), decode the body (invalid JSON/YAML: 400), apply the patch to the stored object,
//!   then treat the result like an update (validation, resourceVersion precondition, status
//!   reset, [`update_managed_fields`]). Every error converts to a `metav1.Status` through
//!   [`PatchError::code`], [`PatchError::reason`], [`PatchError::status_message`] and
//!   [`PatchError::causes`] (or [`PatchError::to_status`]).
//! - Apply: check `kind` and `metadata.name` of the body against the URL first, pass the stored
//!   object (`None` if absent: apply creates), `force` and a [`FieldManager`] whose `manager` is
//!   the required `fieldManager` query parameter (kube-apiserver answers 422 without it); store
//!   [`ApplyOutcome::object`] when it differs from the stored object (managedFields included).
//! - Create/update/patch: the writer is `fieldManager` or, when absent, the User-Agent up to its
//!   first `/`; call [`update_managed_fields`] with the stored object (`None` on create) and the new
//!   one, and store the result with [`set_managed_fields`].
//! - Status-subresource kinds: pass `status` as ignored field on the main resource, and the other
//!   top-level fields on `/status`, so that reset fields are never owned.

mod apply;
mod builtin_schema;
mod fieldpath;
mod json_patch;
mod merge_patch;
mod schema;
mod strategic;

pub use apply::{
    ApplyConflicts, ApplyOutcome, Conflict, FieldManager, ManagedFieldsEntry, Operation, apply,
    managed_fields_of, set_managed_fields, update_managed_fields,
};
pub use fieldpath::{FieldPath, FieldSet, PathElement};
pub use json_patch::{MAX_JSON_PATCH_OPERATIONS, json_patch};
pub use merge_patch::merge_patch;
pub use schema::{
    BuiltinListTypeInfo, CustomResourceListTypeInfo, KindKey, ListType, ListTypeInfo, NodeType,
    SchemaStep, UntypedListTypeInfo, builtin_list_type_info, is_builtin_kind,
};
pub use strategic::strategic_merge_patch;

/// Content type of a JSON patch.
pub const JSON_PATCH: &str = "application/json-patch+json";
/// Content type of a JSON merge patch.
pub const MERGE_PATCH: &str = "application/merge-patch+json";
/// Content type of a strategic merge patch.
pub const STRATEGIC_MERGE_PATCH: &str = "application/strategic-merge-patch+json";
/// Content type of a server-side apply patch.
pub const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// A patch that cannot be applied, with the status kube-apiserver answers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatchError {
    /// 400 `BadRequest`: the patch document is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 422 `Invalid` with the message "the server rejected our request due to an error in our
    /// request" and one cause `{reason: UnexpectedServerResponse, message}`: kube-apiserver's answer
    /// when a well-formed patch does not apply (failed `test`, missing path, ...).
    #[error("{0}")]
    NotApplicable(String),
    /// 413 `RequestEntityTooLarge`: a JSON patch with more than [`MAX_JSON_PATCH_OPERATIONS`]
    /// operations.
    /// 409 `Conflict` of a server-side apply, with `FieldManagerConflict` causes.
    #[error("{}", .0.message())]
    Conflict(ApplyConflicts),
    #[error(
        "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {0}"
    )]
    TooManyOperations(usize),
    /// 415 `UnsupportedMediaType`: the patch type is not accepted for this kind (strategic merge
    /// patch of a custom resource) or is unknown.
    #[error(
        "the body of the request was in an unknown format - accepted media types include: {}",
        .accepted.join(", ")
    )]
    UnsupportedMediaType { accepted: Vec<&'static str> },
}

/// One `metav1.StatusCause`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCause {
    pub reason: &'static str,
    pub message: String,
    pub field: String,
}

impl PatchError {
    /// HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::NotApplicable(_) => 422,
            PatchError::TooManyOperations(_) => 413,
            PatchError::Conflict(_) => 409,
            PatchError::UnsupportedMediaType { .. } => 415,
        }
    }

    /// `metav1.Status.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            PatchError::BadRequest(_) => "BadRequest",
            PatchError::NotApplicable(_) => "Invalid",
            PatchError::TooManyOperations(_) => "RequestEntityTooLarge",
            PatchError::Conflict(_) => "Conflict",
            PatchError::UnsupportedMediaType { .. } => "UnsupportedMediaType",
        }
    }

    /// `metav1.Status.message`.
    pub fn status_message(&self) -> String {
        match self {
            PatchError::NotApplicable(_) => {
                "the server rejected our request due to an error in our request".to_string()
            }
            other => other.to_string(),
        }
    }

    /// `metav1.Status.details.causes`.
    pub fn causes(&self) -> Vec<StatusCause> {
        match self {
            PatchError::NotApplicable(message) => vec![StatusCause {
                reason: "UnexpectedServerResponse",
                message: message.clone(),
                field: String::new(),
            }],
            PatchError::Conflict(conflicts) => conflicts.causes(),
            _ => Vec::new(),
        }
    }

    /// The whole `metav1.Status` body.
    pub fn to_status(&self) -> serde_json::Value {
        let mut status = serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.status_message(),
            "reason": self.reason(),
            "code": self.code(),
        });
        let causes = self.causes();
        if !causes.is_empty() {
            status["details"] = serde_json::json!({ "causes": causes_json(&causes) });
        }
        status
    }
}

pub(crate) fn causes_json(causes: &[StatusCause]) -> Vec<serde_json::Value> {
    causes
        .iter()
        .map(|c| {
            let mut cause = serde_json::Map::new();
            cause.insert("reason".into(), c.reason.into());
            cause.insert("message".into(), c.message.clone().into());
            if !c.field.is_empty() {
                cause.insert("field".into(), c.field.clone().into());
            }
            serde_json::Value::Object(cause)
        })
        .collect()
}

/// Patch types accepted for a kind, in kube-apiserver's order: built-in kinds accept all four,
/// custom resources all but strategic merge patch.
pub fn accepted_patch_types(kind: &KindKey) -> Vec<&'static str> {
    if is_builtin_kind(kind) {
        vec![JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH]
    } else {
        vec![JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
    }
}

/// Checks the `Content-Type` of a PATCH request (without parameters such as `; charset=utf-8`)
/// against the kind: a 415 [`PatchError::UnsupportedMediaType`] for strategic merge patch of a
/// custom resource, or an unknown patch type.
pub fn check_patch_type(kind: &KindKey, content_type: &str) -> Result<(), PatchError> {
    let accepted = accepted_patch_types(kind);
    if accepted.contains(&content_type) {
        Ok(())
    } else {
        Err(PatchError::UnsupportedMediaType { accepted })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merge_patch_of_a_custom_resource_is_unsupported_media_type() {
        let cr = KindKey::new("aro.openshift.io", "v1alpha1", "Cluster");
        let err = check_patch_type(&cr, STRATEGIC_MERGE_PATCH).unwrap_err();
        assert_eq!(err.code(), 415);
        assert_eq!(
            err.to_status(),
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                "reason": "UnsupportedMediaType", "code": 415
            })
        );
        assert!(check_patch_type(&cr, MERGE_PATCH).is_ok());
        let pod = KindKey::new("", "v1", "Pod");
        assert!(check_patch_type(&pod, STRATEGIC_MERGE_PATCH).is_ok());
        assert_eq!(
            check_patch_type(&pod, "application/json")
                .unwrap_err()
                .code(),
            415
        );
    }

    #[test]
    fn not_applicable_is_invalid_with_an_unexpected_server_response_cause() {
        let err = PatchError::NotApplicable("testing value /a failed: test failed".into());
        assert_eq!(
            err.to_status(),
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "the server rejected our request due to an error in our request",
                "reason": "Invalid", "code": 422,
                "details": {"causes": [{"reason": "UnexpectedServerResponse", "message": "testing value /a failed: test failed"}]}
            })
        );
    }
}
