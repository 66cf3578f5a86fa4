//! API version 2022-09-04: the cluster types of 2022-04-01 unchanged, plus the OpenShift versions
//! list (its retired child resources, syncSets and friends, are not served).
//!
//! This module holds only the version's wire types; its rules live in the shared modules:
//! * what it knows: [`super::ApiVersion::features`], which turns on `openshift_versions`;
//! * parsing a body and rendering a response: [`super::parse_cluster`],
//!   [`super::parse_cluster_update`], [`super::render_cluster`];
//! * conversion to and from the stored cluster: [`super::convert`];
//! * static validation: [`super::validate`];
//! * what an update may change: [`super::immutability`];
//! * its OpenAPI document: [`super::openapi`].
//!
//! Its swagger is `rp-frontend/testdata/specs/redhatopenshift/2022-09-04`.

pub use super::common::{OpenShiftVersion, OpenShiftVersionProperties};
pub use super::v2022_04_01::*;
