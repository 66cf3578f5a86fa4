//! Server-independent schema machinery with kube-apiserver's observable behaviour:
//!
//! - [`validate_custom_resource`]: OpenAPI v3 validation of custom resources against their CRD schema,
//!   returning [`FieldError`]s with kube-apiserver's reasons, messages and field paths;
//! - [`prune`] and [`apply_defaults`]: pruning of unknown fields (with the pruned paths for
//!   `fieldValidation` warnings or strict errors) and defaulting;
//! - [`validate_crd_schema`]: the structural-schema and CRD-schema rules checked on CRD create/update;
//! - [`OpenApiDocs`] ([`openapi_v2`], [`openapi_v3_index`], [`openapi_v3_group_version`]): the
//!   `/openapi/v2` and `/openapi/v3` documents kubectl needs, for built-in kinds ([`builtin_schema`])
//!   and CRDs.

mod builtin;
mod crd_check;
mod field;
mod formats;
mod openapi;
mod prune;
mod structural;
mod validate;

pub use builtin::{BuiltinSchema, builtin_schema};
pub use crd_check::validate_crd_schema;
pub use field::{
    BadValue, FieldError, FieldErrorType, FieldPath, aggregate_message, go_json, go_quote,
    invalid_status_message,
};
pub use openapi::{
    OpenApiDocs, PublishedResource, SchemaSource, openapi_v2, openapi_v3_group_version,
    openapi_v3_index, resource_set_hash,
};
pub use prune::{apply_defaults, prune, strict_decoding_message, unknown_field_warning};
pub use structural::CrdSchema;
pub use validate::{
    validate_custom_resource, validate_embedded_resources, validate_list_sets_and_maps,
    validate_value,
};

#[cfg(test)]
mod tests;
