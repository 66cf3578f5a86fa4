//! What the cluster-runtime tests share.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};

/// Make the namespaces an OpenShift install leaves that the operator's chart binds Roles in
/// (`openshift-config`, `openshift-monitoring`), in a bare devcluster standing in for an
/// installed cluster.
pub async fn create_openshift_namespaces(cluster: &kube::Client) {
    let namespaces: Api<Namespace> = Api::all(cluster.clone());
    for name in ["openshift-config", "openshift-monitoring"] {
        let namespace: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
    }
}
