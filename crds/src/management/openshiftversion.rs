//! `OpenShiftVersion`: an OpenShift version the RP can install.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An installable OpenShift version (admin API `/admin/versions`). Object name: the version with
/// dots, e.g. `4.15.35`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "rp.aro.openshift.io",
    version = "v1",
    kind = "OpenShiftVersion",
    plural = "openshiftversions",
    singular = "openshiftversion",
    derive = "PartialEq",
    derive = "Default",
    shortname = "osv",
    category = "aro",
    doc = "An OpenShift version the resource provider can install.",
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".spec.version"}"#,
    printcolumn = r#"{"name":"Enabled","type":"boolean","jsonPath":".spec.enabled"}"#,
    printcolumn = r#"{"name":"Default","type":"boolean","jsonPath":".spec.default"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct OpenShiftVersionSpec {
    /// Semantic version, e.g. `4.15.35`.
    pub version: String,
    /// Release image pull spec.
    pub open_shift_pullspec: String,
    /// Installer image pull spec.
    pub installer_pullspec: String,
    /// Whether customers may install it.
    #[serde(default)]
    pub enabled: bool,
    /// Whether it is the version used when a create names none (exactly one should be).
    #[serde(default)]
    pub default: bool,
}
