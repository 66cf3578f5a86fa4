//! `ClusterUniqueKey`: the claim of a value that at most one cluster may use (its cluster resource
//! group, its service principal client id or cluster identity, its managed domain label). The object
//! name is the key, so the API server's create-if-absent makes the claim atomic: of two clusters
//! created at once with the same key, one gets `DuplicateClientID`, `DuplicateResourceGroup` or
//! `DuplicateDomain` (ARO-RP has Cosmos DB's unique-key policy for the first two and its DNS zone
//! for the domain).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Who holds a unique key. Object name: `<kind>-<hash of the value>`, e.g. `clientid-1a2b3c4d5e6f7a8b`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "rp.aro.openshift.io",
    version = "v1",
    kind = "ClusterUniqueKey",
    plural = "clusteruniquekeys",
    singular = "clusteruniquekey",
    derive = "PartialEq",
    derive = "Default",
    shortname = "cuk",
    category = "aro",
    doc = "A cluster resource group, client id or managed domain label held by one OpenShiftCluster.",
    printcolumn = r#"{"name":"Kind","type":"string","jsonPath":".spec.kind"}"#,
    printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".spec.clusterResourceId","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterUniqueKeySpec {
    /// What the key is: `clusterresourcegroup`, `clientid` or `domain`.
    pub kind: String,
    /// ARM resource id (lowercase) of the cluster holding the key.
    pub cluster_resource_id: String,
    /// When the holder claimed it (RFC 3339): a claim whose holder does not hold the key is taken
    /// over only after a grace period, so a create still in flight keeps its claim.
    pub claimed_at: String,
}
