//! Mapping of ARM identities onto Kubernetes object names.
//!
//! ARM ids are case-insensitive and case-preserving; Kubernetes names are lowercase DNS names. The
//! mapping is deterministic and injective: the readable part is a sanitised prefix, the hash of the
//! lowercased identity makes it unique. The original-case ARM id lives in the object's spec.

use sha2::{Digest, Sha256};

/// Label on every namespaced RP object: lowercase subscription id.
pub const LABEL_SUBSCRIPTION: &str = "rp.aro.openshift.io/subscription";
/// Label on clusters and their objects: hash of the lowercase resource group name.
pub const LABEL_RESOURCE_GROUP_HASH: &str = "rp.aro.openshift.io/resource-group-hash";
/// Label on clusters and their objects: hash of the lowercase ARM resource id.
pub const LABEL_RESOURCE_ID_HASH: &str = "rp.aro.openshift.io/resource-id-hash";
/// Label on a cluster: hash of its lowercase cluster resource group id (uniqueness key).
pub const LABEL_CLUSTER_RESOURCE_GROUP_HASH: &str =
    "rp.aro.openshift.io/cluster-resource-group-hash";
/// Label on a cluster: hash of its lowercase service principal client id or identity (uniqueness key).
pub const LABEL_CLIENT_ID_HASH: &str = "rp.aro.openshift.io/client-id-hash";
/// Label on a cluster: hash of its managed domain label (uniqueness key; see [`managed_domain_label`]).
pub const LABEL_DOMAIN_HASH: &str = "rp.aro.openshift.io/domain-hash";
/// Label on an AsyncOperation: the Kubernetes name of its cluster.
pub const LABEL_CLUSTER_NAME: &str = "rp.aro.openshift.io/cluster";

/// Namespace holding the objects of one subscription.
pub fn subscription_namespace(subscription_id: &str) -> String {
    format!("aro-{}", subscription_id.to_ascii_lowercase())
}

/// First 16 hex digits of the SHA-256 of the lowercased input: a valid label value and name part.
pub fn short_hash(input: &str) -> String {
    let digest = Sha256::digest(input.to_lowercase().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Kubernetes name of the OpenShiftCluster for (resource group, resource name), unique within the
/// subscription namespace.
pub fn cluster_object_name(resource_group: &str, name: &str) -> String {
    let readable = sanitize(name, 40);
    let hash = short_hash(&format!(
        "{}/{}",
        resource_group.to_lowercase(),
        name.to_lowercase()
    ));
    if readable.is_empty() {
        format!("cluster-{hash}")
    } else {
        format!("{readable}-{hash}")
    }
}

/// Lowercase the input, keep `[a-z0-9-]`, map everything else to `-`, trim dashes, cap the length.
fn sanitize(input: &str, max_len: usize) -> String {
    let mapped: String = input
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches('-');
    let capped: String = trimmed.chars().take(max_len).collect();
    capped.trim_end_matches('-').to_string()
}

/// The lowercase ARM id of a cluster.
pub fn cluster_resource_id(subscription_id: &str, resource_group: &str, name: &str) -> String {
    format!(
        "/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.RedHatOpenShift/openShiftClusters/{name}"
    )
}

/// The label of a managed cluster domain, lowercase: the RP's DNS zone serves a managed domain
/// as `<label>.<location>.<parent domain>`, and a cluster names it by its label alone or written
/// out in full. `None` for a custom domain (one the customer's own DNS serves).
pub fn managed_domain_label(
    domain: &str,
    location: &str,
    parent_domain: Option<&str>,
) -> Option<String> {
    let domain = domain.to_ascii_lowercase();
    if domain.is_empty() {
        return None;
    }
    if !domain.contains('.') {
        return Some(domain);
    }
    let suffix = format!(
        ".{}.{}",
        location.to_ascii_lowercase(),
        parent_domain?.to_ascii_lowercase()
    );
    domain
        .strip_suffix(&suffix)
        .filter(|label| !label.is_empty() && !label.contains('.'))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_valid() {
        let a = cluster_object_name("My-RG", "Cluster1");
        let b = cluster_object_name("my-rg", "CLUSTER1");
        assert_eq!(a, b);
        assert!(a.starts_with("cluster1-"));
        assert!(a.len() <= 63);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }

    #[test]
    fn names_are_injective_over_group_and_name() {
        // Same readable prefix, different identity.
        assert_ne!(
            cluster_object_name("rg1", "a.b"),
            cluster_object_name("rg1", "a-b")
        );
        assert_ne!(
            cluster_object_name("rg1", "x"),
            cluster_object_name("rg2", "x")
        );
        // A split that concatenates identically still differs.
        assert_ne!(
            cluster_object_name("ab", "c"),
            cluster_object_name("a", "bc")
        );
    }

    #[test]
    fn odd_names_still_give_valid_names() {
        let n = cluster_object_name("rg", "___");
        assert!(n.starts_with("cluster-"));
        let long = "A".repeat(200);
        assert!(cluster_object_name(&long, &long).len() <= 63);
    }

    #[test]
    fn namespace_per_subscription() {
        assert_eq!(
            subscription_namespace("0F0F0F0F-0000-0000-0000-000000000000"),
            "aro-0f0f0f0f-0000-0000-0000-000000000000"
        );
    }

    #[test]
    fn managed_domains_are_keyed_by_their_label() {
        let parent = Some("aroapp.io");
        assert_eq!(
            managed_domain_label("Demo", "eastus", parent).as_deref(),
            Some("demo")
        );
        assert_eq!(
            managed_domain_label("demo.EastUS.aroapp.io", "eastus", parent).as_deref(),
            Some("demo")
        );
        assert_eq!(
            managed_domain_label("demo.example.com", "eastus", parent),
            None
        );
        assert_eq!(
            managed_domain_label("demo.westus.aroapp.io", "eastus", parent),
            None
        );
        assert_eq!(
            managed_domain_label("demo.eastus.aroapp.io", "eastus", None),
            None
        );
        assert_eq!(managed_domain_label("", "eastus", parent), None);
    }
}
