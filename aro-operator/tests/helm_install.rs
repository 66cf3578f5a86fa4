//! `helm install` of the chart into devcluster with real Helm (v4, through the helm-python-sdk
//! library that scripts/chart-check installs): every object lands, the Cluster is valid for the
//! generated CRD, and `kubectl auth can-i --as` the operator's ServiceAccount answers as the
//! chart's RBAC says (RBAC enforced).

use std::process::Command;

use crds::operator::Cluster;
use devcluster::{Devcluster, DevclusterConfig};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;

const INSTALL: &str = r#"
import sys, helm_python as helm
# Release records in memory: devcluster does not decode protobuf request bodies yet, which the
# Secret storage driver sends; the chart's own objects go as JSON.
cfg = helm.Config(kubeconfig_path=sys.argv[1], namespace="openshift-azure-operator", storage_driver="memory")
rel = cfg.install(sys.argv[2], "aro-operator", {"image": {"tag": "test"}}, namespace="openshift-azure-operator",
                  create_namespace=False, timeout=60)
print(rel["info"]["status"] if isinstance(rel, dict) and "info" in rel else rel)
"#;

#[tokio::test]
async fn helm_installs_the_chart_into_devcluster() {
    let dc = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .unwrap();
    let client = dc.client().await.unwrap();
    // OpenShift's own namespaces, where the chart binds the operator's Secret Roles.
    let namespaces = Api::<Namespace>::all(client.clone());
    for name in ["openshift-config", "openshift-monitoring"] {
        let namespace = Namespace {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        namespaces
            .create(&Default::default(), &namespace)
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, dc.kubeconfig_yaml()).unwrap();
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/aro-operator");

    let cfg = kubeconfig.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg("-c")
            .arg(INSTALL)
            .arg(&cfg)
            .arg(chart)
            .output()
    })
    .await
    .unwrap()
    .expect("python3 runs");
    assert!(
        output.status.success(),
        "helm install failed (scripts/prereqs installs helm-python-sdk from e2e/requirements.txt):\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    let deployments = Api::<Deployment>::namespaced(client.clone(), "openshift-azure-operator");
    for name in ["aro-operator-master", "aro-operator-worker"] {
        let d = deployments.get(name).await.unwrap();
        let image = d.spec.unwrap().template.spec.unwrap().containers[0]
            .image
            .clone();
        assert_eq!(image.as_deref(), Some("arosvc.azurecr.io/aro:test"));
    }
    let cluster = Api::<Cluster>::all(client).get("cluster").await.unwrap();
    assert_eq!(
        cluster.spec.operator_flags,
        crds::operator::default_operator_flags()
    );

    // What the master may do: Secrets only in its four namespaces (create only the pull
    // secret's), its own namespaces and binding by name, no creates through server-side apply.
    // (OpenShift's kinds, such as MachineSets, are not served here: e2e/tests/operator.rs
    // proves those grants in a local cluster.)
    let master = "--as=system:serviceaccount:openshift-azure-operator:aro-operator-master";
    for (args, expected) in [
        (&["list", "secrets", "-A"][..], "no"),
        (&["get", "secrets", "-n", "kube-system"][..], "no"),
        (&["create", "secrets", "-n", "kube-system"][..], "no"),
        (&["get", "secrets", "-n", "openshift-monitoring"][..], "yes"),
        (
            &["create", "secrets", "-n", "openshift-monitoring"][..],
            "no",
        ),
        (&["create", "secrets", "-n", "openshift-config"][..], "yes"),
        (&["delete", "secrets", "-n", "openshift-config"][..], "yes"),
        (
            &["watch", "secrets", "-n", "openshift-azure-logging"][..],
            "yes",
        ),
        (
            &["delete", "namespaces/openshift-azure-routefix"][..],
            "yes",
        ),
        (&["delete", "namespaces/openshift-azure-logging"][..], "no"),
        (&["delete", "namespaces/kube-system"][..], "no"),
        (&["patch", "clusterrolebindings/routefix"][..], "yes"),
        (&["patch", "clusterrolebindings/cluster-admin"][..], "no"),
        (
            &["create", "daemonsets", "-n", "openshift-azure-logging"][..],
            "no",
        ),
        (
            &[
                "update",
                "clusters.aro.openshift.io/cluster",
                "--subresource=status",
            ][..],
            "yes",
        ),
        (
            &[
                "update",
                "leases/aro-operator-master",
                "-n",
                "openshift-azure-operator",
            ][..],
            "yes",
        ),
    ] {
        // Asynchronously: the server answering kubectl runs on this test's runtime.
        let output = tokio::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .args(["auth", "can-i"])
            .args(args)
            .arg(master)
            .output()
            .await
            .expect("kubectl runs (scripts/prereqs requires it)");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            expected,
            "aro-operator-master can-i {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    dc.stop().await;
}
