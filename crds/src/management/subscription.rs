//! `Subscription`: an Azure subscription registered with the RP through ARM's subscription lifecycle
//! (`PUT /subscriptions/{id}?api-version=2.0`).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// State of a subscription as ARM reported it. Object name: the lowercase subscription id.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "rp.aro.openshift.io",
    version = "v1",
    kind = "Subscription",
    plural = "subscriptions",
    singular = "subscription",
    status = "SubscriptionStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "azsub",
    category = "aro",
    doc = "An Azure subscription known to the resource provider and its ARM registration state.",
    printcolumn = r#"{"name":"State","type":"string","jsonPath":".spec.state"}"#,
    printcolumn = r#"{"name":"Tenant","type":"string","jsonPath":".spec.tenantId"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionSpec {
    /// Registration state: Registered, Unregistered, Warned, Suspended or Deleted.
    pub state: SubscriptionState,
    /// AAD tenant of the subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// When ARM registered the subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_date: Option<String>,
    /// AFEC features registered on the subscription.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registered_features: Vec<RegisteredFeature>,
}

/// An AFEC feature flag of a subscription.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredFeature {
    /// Feature name, e.g. `Microsoft.RedHatOpenShift/RedHatEngineering`.
    pub name: String,
    /// Feature state, e.g. `Registered`.
    pub state: String,
}

/// ARM subscription states.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SubscriptionState {
    /// All APIs allowed.
    #[default]
    Registered,
    /// Only GET allowed.
    Unregistered,
    /// GET and DELETE only.
    Warned,
    /// GET and DELETE only.
    Suspended,
    /// The RP deletes every resource of the subscription.
    Deleted,
}

/// What the RP did about the subscription state.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionStatus {
    /// True once the subscription is Deleted and its clusters are being deleted.
    #[serde(default)]
    pub deleting: bool,
    /// Clusters of the subscription still present while deleting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_clusters: Option<i32>,
}
