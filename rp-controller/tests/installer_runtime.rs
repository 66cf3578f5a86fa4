//! The installer runtime against a stand-in installer: a shell script that behaves like
//! `openshift-install` (checks install-config.yaml, writes metadata.json and auth/, the kubeconfig
//! pointing at an in-process devcluster) so the whole runtime runs without Azure. The script also
//! checks the environment it gets (cleared: nothing of the test process's), and prints the
//! secrets a real installer may print, which the runtime's log must not keep.
#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aro_operator::manifests::OperatorDeployValues;
use devcluster::{Devcluster, DevclusterConfig};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::ApiResource;
use rp_controller::cluster_runtime::installer::{
    AZURE_CREDENTIALS_FILE, COMPLETE_MARKER, HOME_DIR, INSTALL_CONFIG_FILE, INSTALLER_LOG_FILE,
    LOG_FILE,
};
use rp_controller::cluster_runtime::{
    ClusterRuntime, InstallerConfig, InstallerRuntime, SeedInput, ServicePrincipalCredentials,
};
use serde_json::json;

const PULL_SECRET: &str = r#"{"auths":{"quay.io":{"auth":"c3VwZXItc2VjcmV0LXRva2Vu"}}}"#;
const PULL_SECRET_TOKEN: &str = "c3VwZXItc2VjcmV0LXRva2Vu";
const CLIENT_SECRET: &str = "sp-client-secret-Q7w";
const KUBEADMIN_PASSWORD: &str = "Abcde-Fghij-Klmno-Pqrst";
const RELEASE_IMAGE: &str = "quay.io/openshift-release-dev/ocp-release@sha256:0123456789abcdef";
const SSH_PUBLIC_KEY: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY=";
/// Set in every process `cargo test` runs, so in this one: the installer must not see it.
const CANARY: &str = "CARGO_MANIFEST_DIR";

fn seed(infra_id: &str) -> SeedInput {
    SeedInput {
        infra_id: infra_id.into(),
        pull_secret: PULL_SECRET.into(),
        release_pullspec: RELEASE_IMAGE.into(),
        installer_pullspec: "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:fedcba".into(),
        service_principal: Some(ServicePrincipalCredentials {
            tenant_id: "tenant-1".into(),
            client_id: "client-1".into(),
            client_secret: CLIENT_SECRET.into(),
        }),
        ssh_public_key: SSH_PUBLIC_KEY.into(),
        ..SeedInput::example()
    }
}

/// A stand-in `openshift-install`: records each invocation in `<scripts>/invocations`.
fn fake_installer(scripts: &Path, kubeconfig: &Path) -> PathBuf {
    let script = format!(
        r#"#!/bin/sh
set -e
echo "$*" >> "{calls}"
verb="$1 $2"
dir="$4"
case "$verb" in
"create cluster")
    test "$3" = "--dir"
    # A cleared environment: the test process's variables are not inherited.
    env | cut -d= -f1 | sort > "{env_names}"
    if [ -n "${{{canary}+set}}" ]; then echo "inherited {canary}" >&2; exit 9; fi
    test "$HOME" = "$dir/{home}"
    test "$OPENSHIFT_INSTALL_RELEASE_IMAGE_OVERRIDE" = "{release}"
    test "$AZURE_CLIENT_ID" = client-1
    test "$AZURE_AUTH_LOCATION" = "$HOME/{credentials}"
    grep -q '"clientSecret":"{client_secret}"' "$HOME/{credentials}"
    grep -q '"tenantId":"tenant-1"' "$HOME/{credentials}"
    grep -q 'baseDomain: eastus.aroapp.io' "$dir/install-config.yaml"
    grep -q 'name: demo' "$dir/install-config.yaml"
    grep -q 'sshKey: {ssh_key}' "$dir/install-config.yaml"
    grep -q 'publish: External' "$dir/install-config.yaml"
    echo 'level=info msg="Creating infrastructure resources..."'
    echo "level=debug msg=\"fetched pull secret {{\\\"auths\\\":{{\\\"quay.io\\\":{{\\\"auth\\\":\\\"{token}\\\"}}}}}}\""
    echo "level=debug msg=\"authenticating with client secret $AZURE_CLIENT_SECRET\"" >&2
    mkdir -p "$dir/auth"
    printf '%s' '{{"clusterName":"demo","infraID":"demo-x7k2p","azure":{{"region":"eastus"}}}}' > "$dir/metadata.json"
    printf '%s' '{password}' > "$dir/auth/kubeadmin-password"
    cp "{kubeconfig}" "$dir/auth/kubeconfig"
    rm "$dir/install-config.yaml"
    echo 'level=info msg="Install complete!"' >&2
    echo 'level=info msg="Login to the console with user: \"kubeadmin\", and password: \"{password}\""' >&2
    echo 'level=info msg="Login to the console with user: \"kubeadmin\", and password: \"{password}\""' >> "$dir/{installer_log}"
    ;;
"destroy cluster")
    test -f "$dir/metadata.json"
    # Destroying uses the credentials of the install.
    test "$HOME" = "$dir/{home}"
    grep -q '"clientSecret":"{client_secret}"' "$HOME/{credentials}"
    test "$AZURE_CLIENT_SECRET" = "{client_secret}"
    echo destroyed > "{destroyed}"
    ;;
*)
    echo "unexpected: $*" >&2
    exit 2
    ;;
esac
"#,
        calls = scripts.join("invocations").display(),
        destroyed = scripts.join("destroyed").display(),
        kubeconfig = kubeconfig.display(),
        env_names = scripts.join("env-names").display(),
        canary = CANARY,
        home = HOME_DIR,
        credentials = AZURE_CREDENTIALS_FILE,
        release = RELEASE_IMAGE,
        client_secret = CLIENT_SECRET,
        ssh_key = SSH_PUBLIC_KEY,
        token = PULL_SECRET_TOKEN,
        password = KUBEADMIN_PASSWORD,
        installer_log = INSTALLER_LOG_FILE,
    );
    write_script(&scripts.join("openshift-install"), &script)
}

fn failing_installer(scripts: &Path) -> PathBuf {
    write_script(
        &scripts.join("failing-install"),
        &format!(
            "#!/bin/sh\necho \"$*\" >> \"{}\"\necho 'level=info msg=\"Consuming Install Config\"'\necho 'pull secret was {PULL_SECRET}' >&2\necho \"secret $AZURE_CLIENT_SECRET\" >&2\necho boom >&2\nexit 3\n",
            scripts.join("invocations").display()
        ),
    )
}

fn write_script(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

fn invocations(scripts: &Path) -> Vec<String> {
    std::fs::read_to_string(scripts.join("invocations"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn runtime(binary: PathBuf, work_dir: &Path) -> InstallerRuntime {
    let mut config = InstallerConfig::new(binary, work_dir);
    config.timeout = Duration::from_secs(60);
    config.extra_env = vec![("OPENSHIFT_INSTALL_TEST".into(), "1".into())];
    InstallerRuntime::new(config)
}

#[tokio::test]
async fn installs_deploys_the_operator_and_destroys() {
    let devcluster = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .expect("devcluster starts");
    support::create_openshift_namespaces(&devcluster.client().await.unwrap()).await;
    let scripts = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let kubeconfig = scripts.path().join("cluster-kubeconfig");
    std::fs::write(&kubeconfig, devcluster.kubeconfig_yaml()).unwrap();
    let binary = fake_installer(scripts.path(), &kubeconfig);
    let rt = runtime(binary, work.path());
    let infra_id = "demo-abcde";
    let dir = work.path().join(infra_id);

    assert_eq!(rt.name(), "installer");
    assert_eq!(rt.resume(infra_id).await.unwrap(), None);
    assert!(!rt.api_ready(infra_id).await.unwrap());
    assert!(rt.client(infra_id).await.unwrap().is_none());

    let access = rt.ensure_cluster(infra_id, &seed(infra_id)).await.unwrap();
    assert_eq!(access.api_url, devcluster.url);
    assert_eq!(
        access.admin_kubeconfig.expose(),
        devcluster.kubeconfig_yaml()
    );
    assert_eq!(
        invocations(scripts.path()),
        vec![format!(
            "create cluster --dir {} --log-level info",
            dir.display()
        )]
    );
    assert!(dir.join(COMPLETE_MARKER).exists());
    assert!(
        !dir.join(INSTALL_CONFIG_FILE).exists(),
        "the installer consumes it"
    );
    let log = std::fs::read_to_string(dir.join(LOG_FILE)).unwrap();
    assert!(log.contains("Install complete!"), "{log}");
    // The installer's output is in the log, without its secrets.
    assert!(log.contains("Creating infrastructure resources"), "{log}");
    assert!(log.contains("fetched pull secret"), "{log}");
    assert!(log.contains("and password: \\\"<redacted>\\\""), "{log}");
    for secret in [PULL_SECRET_TOKEN, CLIENT_SECRET, KUBEADMIN_PASSWORD] {
        assert!(!log.contains(secret), "the log keeps a secret:\n{log}");
    }
    let own_log = std::fs::read_to_string(dir.join(INSTALLER_LOG_FILE)).unwrap();
    assert!(own_log.contains("Login to the console"), "{own_log}");
    assert!(!own_log.contains(KUBEADMIN_PASSWORD), "{own_log}");
    assert_eq!(
        aro_common::fs::mode_of(&dir.join(INSTALLER_LOG_FILE)),
        0o600
    );
    // The environment was only what the runtime sets.
    assert!(std::env::var_os(CANARY).is_some(), "cargo sets {CANARY}");
    let names: Vec<String> = std::fs::read_to_string(scripts.path().join("env-names"))
        .unwrap()
        .lines()
        .filter(|n| !["PWD", "OLDPWD", "SHLVL", "_"].contains(n))
        .map(str::to_string)
        .collect();
    assert_eq!(
        names,
        [
            "AZURE_AUTH_LOCATION",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_SUBSCRIPTION_ID",
            "AZURE_TENANT_ID",
            "HOME",
            "OPENSHIFT_INSTALL_RELEASE_IMAGE_OVERRIDE",
            "OPENSHIFT_INSTALL_TEST",
            "PATH",
        ]
    );
    assert_eq!(
        aro_common::fs::mode_of(&dir.join(HOME_DIR).join(AZURE_CREDENTIALS_FILE)),
        0o600
    );
    // The install directory holds the pull secret, kubeconfig and password: owner-only, and
    // so are the files the runtime writes.
    assert_eq!(aro_common::fs::mode_of(&dir), 0o700);
    assert_eq!(aro_common::fs::mode_of(&dir.join(LOG_FILE)), 0o600);
    assert_eq!(aro_common::fs::mode_of(&dir.join(COMPLETE_MARKER)), 0o600);
    assert_eq!(
        rt.kubeadmin_password(infra_id)
            .await
            .unwrap()
            .as_ref()
            .map(|p| p.expose_str()),
        Some("Abcde-Fghij-Klmno-Pqrst")
    );
    let metadata = rt.metadata(infra_id).await.unwrap().unwrap();
    assert_eq!(metadata.infra_id, "demo-x7k2p");

    // Idempotent: a finished install is not run again.
    let again = rt.ensure_cluster(infra_id, &seed(infra_id)).await.unwrap();
    assert_eq!(again, access);
    assert_eq!(invocations(scripts.path()).len(), 1);

    // A restarted controller (a new runtime) finds the cluster from its files.
    let restarted = runtime(scripts.path().join("openshift-install"), work.path());
    assert_eq!(restarted.resume(infra_id).await.unwrap(), Some(access));
    assert!(restarted.api_ready(infra_id).await.unwrap());
    assert!(rt.api_ready(infra_id).await.unwrap());

    // The operator is deployed through the cluster's API.
    rt.install_operator(infra_id, &OperatorDeployValues::defaults())
        .await
        .unwrap();
    let client = rt.client(infra_id).await.unwrap().expect("installed");
    let deployments: Api<Deployment> =
        Api::namespaced(client.clone(), aro_operator::OPERATOR_NAMESPACE);
    let master = deployments
        .get("aro-operator-master")
        .await
        .expect("operator deployment");
    assert!(
        deployments
            .get_opt("aro-operator-worker")
            .await
            .unwrap()
            .is_some()
    );
    let clusters: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::erase::<crds::operator::Cluster>(&()),
    );
    assert!(clusters.get_opt("cluster").await.unwrap().is_some());

    // No kubelet runs the operator here: not ready until its Deployments roll out and it reports.
    assert!(!rt.operator_ready(infra_id).await.unwrap());
    let rolled_out = |generation: Option<i64>| {
        json!({"status": {"observedGeneration": generation, "replicas": 1, "updatedReplicas": 1,
                          "readyReplicas": 1, "availableReplicas": 1}})
    };
    for name in ["aro-operator-master", "aro-operator-worker"] {
        let generation = deployments.get(name).await.unwrap().metadata.generation;
        deployments
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(rolled_out(generation)),
            )
            .await
            .unwrap();
    }
    assert!(!rt.operator_ready(infra_id).await.unwrap());
    clusters
        .patch_status(
            "cluster",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": [{"type": "Available", "status": "True",
                "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "AsExpected", "message": ""}]}})),
        )
        .await
        .unwrap();
    assert!(rt.operator_ready(infra_id).await.unwrap());
    assert_eq!(
        master.metadata.namespace.as_deref(),
        Some("openshift-azure-operator")
    );

    // Delete destroys the cluster and forgets it; a second delete has nothing to do.
    rt.delete(infra_id).await.unwrap();
    assert!(scripts.path().join("destroyed").exists());
    assert!(!dir.exists());
    let calls = invocations(scripts.path());
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1], format!("destroy cluster --dir {}", dir.display()));
    rt.delete(infra_id).await.unwrap();
    assert_eq!(invocations(scripts.path()).len(), 2);
    assert_eq!(rt.resume(infra_id).await.unwrap(), None);
    assert!(!rt.api_ready(infra_id).await.unwrap());
    rt.shutdown().await;
    devcluster.stop().await;
}

#[tokio::test]
async fn a_failed_install_reports_its_output_without_the_pull_secret() {
    let scripts = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let rt = runtime(failing_installer(scripts.path()), work.path());
    let infra_id = "demo-fail1";

    let error = rt
        .ensure_cluster(infra_id, &seed(infra_id))
        .await
        .expect_err("the installer fails")
        .to_string();
    assert!(error.contains("boom"), "{error}");
    assert!(error.contains("create cluster"), "{error}");
    assert!(!error.contains(PULL_SECRET_TOKEN), "{error}");
    assert!(!error.contains(CLIENT_SECRET), "{error}");
    let log = std::fs::read_to_string(work.path().join(infra_id).join(LOG_FILE)).unwrap();
    assert!(
        log.contains("boom") && !log.contains(PULL_SECRET_TOKEN),
        "{log}"
    );
    assert_eq!(rt.resume(infra_id).await.unwrap(), None);
    assert!(
        rt.install_operator(infra_id, &OperatorDeployValues::defaults())
            .await
            .is_err()
    );

    // A retry runs the installer again (nothing was finished).
    assert!(rt.ensure_cluster(infra_id, &seed(infra_id)).await.is_err());
    assert_eq!(invocations(scripts.path()).len(), 2);

    // No metadata.json: delete only removes the directory.
    rt.delete(infra_id).await.unwrap();
    assert!(!work.path().join(infra_id).exists());
    assert_eq!(invocations(scripts.path()).len(), 2);
}

#[tokio::test]
async fn an_unfinished_attempt_is_destroyed_before_the_retry() {
    let devcluster = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .expect("devcluster starts");
    let scripts = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let kubeconfig = scripts.path().join("cluster-kubeconfig");
    std::fs::write(&kubeconfig, devcluster.kubeconfig_yaml()).unwrap();
    let rt = runtime(fake_installer(scripts.path(), &kubeconfig), work.path());
    let infra_id = "demo-retry";
    let dir = work.path().join(infra_id);

    // What an installer killed after writing its assets leaves: metadata.json and auth/, no marker.
    std::fs::create_dir_all(dir.join("auth")).unwrap();
    std::fs::write(
        dir.join("metadata.json"),
        r#"{"clusterName":"demo","infraID":"demo-old00"}"#,
    )
    .unwrap();
    std::fs::write(dir.join("auth/kubeconfig"), "stale").unwrap();
    std::fs::write(dir.join(".openshift_install_state.json"), "{}").unwrap();
    assert_eq!(rt.resume(infra_id).await.unwrap(), None);

    let access = rt.ensure_cluster(infra_id, &seed(infra_id)).await.unwrap();
    assert_eq!(access.api_url, devcluster.url);
    let calls = invocations(scripts.path());
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].starts_with("destroy cluster"));
    assert!(calls[1].starts_with("create cluster"));
    assert!(!dir.join(".openshift_install_state.json").exists());
    devcluster.stop().await;
}

#[tokio::test]
async fn clusters_the_runtime_cannot_install_are_refused_before_it_runs() {
    let scripts = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let binaries = tempfile::tempdir().unwrap();
    let mut config = InstallerConfig::new(failing_installer(scripts.path()), work.path());
    config.binaries_dir = Some(binaries.path().to_path_buf());
    let rt = InstallerRuntime::new(config);
    // A workload identity cluster (no service principal) is not for this runtime.
    let mut workload_identity = seed("demo-nobin");
    workload_identity.service_principal = None;
    let error = rt
        .ensure_cluster("demo-nobin", &workload_identity)
        .await
        .expect_err("no service principal")
        .to_string();
    assert!(error.contains("service principal clusters only"), "{error}");
    let error = rt
        .ensure_cluster("demo-nobin", &seed("demo-nobin"))
        .await
        .expect_err("no binary for 4.15.35")
        .to_string();
    assert!(error.contains("\"4.15.35\""), "{error}");
    assert!(error.contains("ocp-v4.0-art-dev@sha256:fedcba"), "{error}");
    assert!(invocations(scripts.path()).is_empty());

    // With the version's binary in place, that one runs.
    let dir = binaries.path().join("4.15.35");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(
        scripts.path().join("failing-install"),
        dir.join("openshift-install"),
    )
    .unwrap();
    assert!(
        rt.ensure_cluster("demo-nobin", &seed("demo-nobin"))
            .await
            .is_err()
    );
    assert_eq!(invocations(scripts.path()).len(), 1);
}
