//! API version 2025-07-25: the TypeSpec-generated successor of 2024-08-12-preview. Its wire types
//! are those of 2024-08-12-preview (VM sizes are plain strings in both here, `oidcIssuer` is
//! read-only in both); immutability follows an explicit policy, which our shared immutability
//! check already implements.
//!
//! This module holds only the version's wire types; its rules live in the shared modules:
//! * what it knows: [`super::ApiVersion::features`], which turns on what 2024-08-12-preview has;
//! * parsing a body and rendering a response: [`super::parse_cluster`],
//!   [`super::parse_cluster_update`], [`super::render_cluster`];
//! * conversion to and from the stored cluster: [`super::convert`];
//! * static validation: [`super::validate`];
//! * the workload identity checks against role sets and ARM's identity headers:
//!   `crate::server::workload_identity`;
//! * what an update may change: [`super::immutability`];
//! * its OpenAPI document: [`super::openapi`].
//!
//! Its swagger is `rp-frontend/testdata/specs/redhatopenshift/2025-07-25` and its examples, which
//! the tests replay, are `rp-frontend/testdata/examples/2025-07-25`.

pub use super::v2024_08_12_preview::*;
