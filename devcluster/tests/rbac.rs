//! RBAC as kube-apiserver enforces it, through real clients: kube-rs as users authenticated by
//! client certificates, and the machine's kubectl (`auth can-i`, `--list`, `--as`,
//! `--as-group`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::expect_err;
use devcluster::{Devcluster, DevclusterConfig};
use k8s_openapi::api::authorization::v1::{
    LocalSubjectAccessReview, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, Role, RoleBinding};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::wait::await_condition;
use serde_json::json;

async fn create<K>(api: &Api<K>, value: serde_json::Value) -> Result<K, kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    api.create(
        &PostParams::default(),
        &serde_json::from_value(value).unwrap(),
    )
    .await
}

fn role(name: &str, rules: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name}, "rules": rules})
}

fn binding(name: &str, kind: &str, role: &str, subjects: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role}, "subjects": subjects})
}

fn user(name: &str) -> serde_json::Value {
    json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}])
}

fn denied<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> u16 {
    expect_err(result).code
}

async fn start_with_namespace() -> (Devcluster, kube::Client) {
    let (dc, admin) = common::start().await;
    create(
        &Api::<k8s_openapi::api::core::v1::Namespace>::all(admin.clone()),
        json!({"metadata": {"name": "team"}}),
    )
    .await
    .unwrap();
    (dc, admin)
}

#[tokio::test]
async fn a_user_without_grants_gets_kube_apiservers_403() {
    let (dc, _admin) = start_with_namespace().await;
    let bob = dc.client_as("bob", &[]).await.unwrap();
    let status = expect_err(
        Api::<ConfigMap>::namespaced(bob.clone(), "team")
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(status.code, 403);
    assert_eq!(status.reason, "Forbidden");
    assert_eq!(
        status.message,
        "configmaps is forbidden: User \"bob\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"team\""
    );
    let status = expect_err(
        Api::<ClusterRole>::all(bob.clone())
            .get("cluster-admin")
            .await,
    );
    assert_eq!(
        status.message,
        "clusterroles.rbac.authorization.k8s.io \"cluster-admin\" is forbidden: User \"bob\" cannot get resource \"clusterroles\" in API group \"rbac.authorization.k8s.io\" at the cluster scope"
    );
    // system:discovery and system:basic-user are bound to every authenticated user.
    bob.list_api_groups().await.expect("discovery is allowed");
    bob.list_core_api_versions()
        .await
        .expect("discovery is allowed");
    let who: serde_json::Value = bob
        .request(
            http::Request::post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
                .body(
                    br#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#
                        .to_vec(),
                )
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(who["status"]["userInfo"]["username"], "bob");
    dc.stop().await;
}

#[tokio::test]
async fn a_role_binding_grants_exactly_what_it_says() {
    let (dc, admin) = start_with_namespace().await;
    let roles = Api::<Role>::namespaced(admin.clone(), "team");
    let bindings = Api::<RoleBinding>::namespaced(admin.clone(), "team");
    create(
        &roles,
        role(
            "reader",
            json!([
                {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps"]},
                {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s1"]},
            ]),
        ),
    )
    .await
    .unwrap();
    create(
        &bindings,
        binding("bob-reads", "Role", "reader", user("bob")),
    )
    .await
    .unwrap();
    create(
        &bindings,
        binding(
            "devs-view",
            "ClusterRole",
            "view",
            json!([{"kind": "Group", "name": "devs"}, {"kind": "ServiceAccount", "name": "robot"}]),
        ),
    )
    .await
    .unwrap();
    let secrets = Api::<Secret>::namespaced(admin.clone(), "team");
    for name in ["s1", "s2"] {
        create(
            &secrets,
            json!({"metadata": {"name": name}, "stringData": {"k": "v"}}),
        )
        .await
        .unwrap();
    }

    let bob = dc.client_as("bob", &[]).await.unwrap();
    Api::<ConfigMap>::namespaced(bob.clone(), "team")
        .list(&ListParams::default())
        .await
        .expect("the Role grants list");
    assert_eq!(
        denied(
            Api::<ConfigMap>::namespaced(bob.clone(), "default")
                .list(&ListParams::default())
                .await
        ),
        403,
        "a RoleBinding grants in its namespace only"
    );
    assert_eq!(
        denied(
            create(
                &Api::<ConfigMap>::namespaced(bob.clone(), "team"),
                json!({"metadata": {"name": "c"}})
            )
            .await
        ),
        403
    );
    let bob_secrets = Api::<Secret>::namespaced(bob.clone(), "team");
    bob_secrets.get("s1").await.expect("s1 is named");
    let status = expect_err(bob_secrets.get("s2").await);
    assert_eq!(
        status.message,
        "secrets \"s2\" is forbidden: User \"bob\" cannot get resource \"secrets\" in API group \"\" in the namespace \"team\""
    );
    // resourceNames never match a list without a name, but do match one pinned to the name.
    assert_eq!(denied(bob_secrets.list(&ListParams::default()).await), 403);
    let pinned = bob_secrets
        .list(&ListParams::default().fields("metadata.name=s1"))
        .await
        .expect("a list pinned to s1 is a request for s1");
    assert_eq!(pinned.items.len(), 1);

    // A RoleBinding to a ClusterRole: view in `team` for the group and the ServiceAccount.
    let carol = dc.client_as("carol", &["devs"]).await.unwrap();
    Api::<Pod>::namespaced(carol.clone(), "team")
        .list(&ListParams::default())
        .await
        .expect("view lists pods");
    assert_eq!(
        denied(
            Api::<Pod>::all(carol.clone())
                .list(&ListParams::default())
                .await
        ),
        403
    );
    assert_eq!(
        denied(Api::<Secret>::namespaced(carol, "team").get("s1").await),
        403,
        "view does not read secrets"
    );
    let robot = dc
        .client_as(
            "system:serviceaccount:team:robot",
            &["system:serviceaccounts"],
        )
        .await
        .unwrap();
    Api::<ConfigMap>::namespaced(robot, "team")
        .list(&ListParams::default())
        .await
        .expect("the ServiceAccount subject is the binding namespace's");

    // Removing the grant takes effect on the next request.
    bindings
        .delete("bob-reads", &Default::default())
        .await
        .unwrap();
    assert_eq!(
        denied(
            Api::<ConfigMap>::namespaced(bob, "team")
                .list(&ListParams::default())
                .await
        ),
        403
    );
    dc.stop().await;
}

#[tokio::test]
async fn aggregation_reacts_to_a_new_labelled_cluster_role() {
    let (dc, admin) = common::start().await;
    let cluster_roles = Api::<ClusterRole>::all(admin.clone());
    let view = cluster_roles.get("view").await.unwrap();
    assert!(
        view.rules.unwrap().iter().any(|r| r
            .resources
            .as_ref()
            .is_some_and(|r| r.contains(&"pods".to_string()))),
        "view starts with the default rules"
    );
    create(
        &cluster_roles,
        json!({"metadata": {"name": "crontabs-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
               "rules": [{"verbs": ["get"], "apiGroups": ["stable.example.com"], "resources": ["crontabs"]}]}),
    )
    .await
    .unwrap();
    let has_crontabs = |role: Option<&ClusterRole>| {
        role.and_then(|r| r.rules.as_ref()).is_some_and(|rules| {
            rules.iter().any(|r| {
                r.resources
                    .as_ref()
                    .is_some_and(|r| r.contains(&"crontabs".to_string()))
            })
        })
    };
    for aggregated in ["view", "edit", "admin"] {
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            await_condition(cluster_roles.clone(), aggregated, has_crontabs),
        )
        .await
        .unwrap_or_else(|_| panic!("{aggregated} aggregates crontabs-view"))
        .unwrap();
    }
    cluster_roles
        .delete("crontabs-view", &Default::default())
        .await
        .unwrap();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        await_condition(cluster_roles.clone(), "admin", |r: Option<&ClusterRole>| {
            !has_crontabs(r)
        }),
    )
    .await
    .expect("admin loses the rule with its source")
    .unwrap();
    dc.stop().await;
}

#[tokio::test]
async fn escalation_is_denied_then_allowed_with_escalate_and_bind() {
    let (dc, admin) = start_with_namespace().await;
    let admin_roles = Api::<Role>::namespaced(admin.clone(), "team");
    let admin_bindings = Api::<RoleBinding>::namespaced(admin.clone(), "team");
    create(
        &admin_roles,
        role(
            "rbac-manager",
            json!([
                {"verbs": ["create", "get", "update"], "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"]},
                {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]},
            ]),
        ),
    )
    .await
    .unwrap();
    create(
        &admin_bindings,
        binding("bob-manages", "Role", "rbac-manager", user("bob")),
    )
    .await
    .unwrap();
    let bob = dc.client_as("bob", &[]).await.unwrap();
    let roles = Api::<Role>::namespaced(bob.clone(), "team");
    let bindings = Api::<RoleBinding>::namespaced(bob.clone(), "team");

    create(
        &roles,
        role(
            "cm-getter",
            json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}]),
        ),
    )
    .await
    .expect("bob holds what the role grants");
    let secrets_deleter = role(
        "secrets-deleter",
        json!([{"verbs": ["delete", "get"], "apiGroups": [""], "resources": ["secrets"]}]),
    );
    let status = expect_err(create(&roles, secrets_deleter.clone()).await);
    assert_eq!(status.code, 403);
    assert_eq!(
        status.message,
        "roles.rbac.authorization.k8s.io \"secrets-deleter\" is forbidden: user \"bob\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"delete\" \"get\"]}"
    );

    // Binding a role bob does not hold is an escalation too, unless bob may `bind` it.
    let status = expect_err(
        create(
            &bindings,
            binding("carol-admin", "ClusterRole", "admin", user("carol")),
        )
        .await,
    );
    assert_eq!(status.code, 403);
    assert!(
        status.message.starts_with("rolebindings.rbac.authorization.k8s.io \"carol-admin\" is forbidden: user \"bob\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n"),
        "{}",
        status.message
    );
    create(
        &bindings,
        binding("carol-gets", "Role", "cm-getter", user("carol")),
    )
    .await
    .expect("bob holds cm-getter's rules");

    create(
        &admin_roles,
        role(
            "delegation",
            json!([
                {"verbs": ["escalate"], "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"]},
                {"verbs": ["bind"], "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "resourceNames": ["admin"]},
            ]),
        ),
    )
    .await
    .unwrap();
    create(
        &admin_bindings,
        binding("bob-delegates", "Role", "delegation", user("bob")),
    )
    .await
    .unwrap();
    create(&roles, secrets_deleter)
        .await
        .expect("escalate allows granting more");
    create(
        &bindings,
        binding("carol-admin", "ClusterRole", "admin", user("carol")),
    )
    .await
    .expect("bind allows binding admin");
    let status = expect_err(
        create(
            &bindings,
            binding("carol-edit", "ClusterRole", "edit", user("carol")),
        )
        .await,
    );
    assert_eq!(status.code, 403, "bind is granted on admin only");
    let status = expect_err(
        create(
            &bindings,
            binding("ghost", "ClusterRole", "no-such-role", user("carol")),
        )
        .await,
    );
    assert_eq!(status.code, 404);
    assert_eq!(
        status.message,
        "clusterrole.rbac.authorization.k8s.io \"no-such-role\" not found"
    );
    dc.stop().await;
}

#[tokio::test]
async fn subject_access_reviews_answer_for_any_user() {
    let (dc, admin) = start_with_namespace().await;
    create(
        &Api::<RoleBinding>::namespaced(admin.clone(), "team"),
        binding("bob-edits", "ClusterRole", "edit", user("bob")),
    )
    .await
    .unwrap();
    let review = |user: &str, verb: &str, resource: &str, ns: &str| SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.into()),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                resource: Some(resource.into()),
                namespace: Some(ns.into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let sars = Api::<SubjectAccessReview>::all(admin.clone());
    let allowed = sars
        .create(
            &PostParams::default(),
            &review("bob", "create", "deployments", "team"),
        )
        .await
        .unwrap()
        .status
        .unwrap();
    // deployments in the core group: edit grants them in apps only.
    assert!(!allowed.allowed);
    let allowed = sars
        .create(
            &PostParams::default(),
            &review("bob", "delete", "configmaps", "team"),
        )
        .await
        .unwrap()
        .status
        .unwrap();
    assert!(allowed.allowed);
    assert_eq!(
        allowed.reason.as_deref(),
        Some(
            "RBAC: allowed by RoleBinding \"bob-edits/team\" of ClusterRole \"edit\" to User \"bob\""
        )
    );
    let local = Api::<LocalSubjectAccessReview>::namespaced(admin.clone(), "team");
    let mut lsar: LocalSubjectAccessReview = serde_json::from_value(
        json!({"metadata": {"namespace": "team"}, "spec": {"user": "bob",
            "resourceAttributes": {"verb": "get", "resource": "configmaps", "namespace": "team"}}}),
    )
    .unwrap();
    let answer = local.create(&PostParams::default(), &lsar).await.unwrap();
    assert!(answer.status.unwrap().allowed);
    lsar.spec.resource_attributes.as_mut().unwrap().namespace = Some("default".into());
    assert_eq!(
        expect_err(local.create(&PostParams::default(), &lsar).await).code,
        422
    );
    // Creating a SubjectAccessReview needs a grant (system:auth-delegator's).
    let bob = dc.client_as("bob", &[]).await.unwrap();
    let status = expect_err(
        Api::<SubjectAccessReview>::all(bob)
            .create(
                &PostParams::default(),
                &review("carol", "get", "pods", "team"),
            )
            .await,
    );
    assert_eq!(
        status.message,
        "subjectaccessreviews.authorization.k8s.io is forbidden: User \"bob\" cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope"
    );
    dc.stop().await;
}

/// The machine's kubectl with a kubeconfig; `run` gives stdout and whether it succeeded
/// (`auth can-i` exits 1 for "no").
struct Kubectl {
    kubeconfig: PathBuf,
}

impl Kubectl {
    fn new(dir: &Path, name: &str, yaml: &str) -> Self {
        let kubeconfig = dir.join(name);
        std::fs::write(&kubeconfig, yaml).unwrap();
        Kubectl { kubeconfig }
    }

    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new("kubectl")
            .env("KUBECONFIG", &self.kubeconfig)
            .arg("--request-timeout=20s")
            .args(args)
            .output()
            .expect("kubectl runs (scripts/prereqs checks it is installed)");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )
    }

    fn can_i(&self, args: &[&str]) -> String {
        let mut all = vec!["auth", "can-i"];
        all.extend(args);
        let (ok, stdout, stderr) = self.run(&all);
        assert!(
            (ok && stdout == "yes") || (!ok && stdout == "no"),
            "kubectl {all:?}: {stdout} {stderr}"
        );
        stdout
    }
}

// kubectl is a blocking process: the server runs on the multi-threaded runtime's workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_can_i_answers_as_kube_apiserver() {
    let (dc, admin) = start_with_namespace().await;
    let bindings = Api::<RoleBinding>::namespaced(admin.clone(), "team");
    create(
        &Api::<Role>::namespaced(admin.clone(), "team"),
        role(
            "cm-reader",
            json!([{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps"]},
                   {"verbs": ["update"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"]}]),
        ),
    )
    .await
    .unwrap();
    create(
        &bindings,
        binding("bob-reads", "Role", "cm-reader", user("bob")),
    )
    .await
    .unwrap();
    create(
        &bindings,
        binding(
            "view",
            "ClusterRole",
            "view",
            json!([{"kind": "ServiceAccount", "name": "robot", "namespace": "team"}, {"kind": "Group", "name": "devs"}]),
        ),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bob = Kubectl::new(
        dir.path(),
        "bob",
        &dc.client_certificate_kubeconfig("bob", &[], None).unwrap(),
    );
    let root = Kubectl::new(dir.path(), "admin", dc.kubeconfig_yaml());

    assert_eq!(bob.can_i(&["list", "configmaps", "-n", "team"]), "yes");
    assert_eq!(bob.can_i(&["list", "configmaps", "-n", "default"]), "no");
    assert_eq!(bob.can_i(&["delete", "configmaps", "-n", "team"]), "no");
    assert_eq!(
        bob.can_i(&["update", "configmaps/settings", "-n", "team"]),
        "yes"
    );
    assert_eq!(
        bob.can_i(&["update", "configmaps/other", "-n", "team"]),
        "no"
    );
    assert_eq!(bob.can_i(&["update", "configmaps", "-n", "team"]), "no");
    assert_eq!(bob.can_i(&["get", "/apis"]), "yes");
    assert_eq!(bob.can_i(&["get", "/metrics"]), "no");
    assert_eq!(root.can_i(&["delete", "nodes"]), "yes");

    let (ok, list, stderr) = bob.run(&["auth", "can-i", "--list", "-n", "team"]);
    assert!(ok, "{stderr}");
    let rows: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        vec![
            "Resources",
            "Non-Resource",
            "URLs",
            "Resource",
            "Names",
            "Verbs"
        ]
    );
    for expected in [
        vec!["configmaps", "[]", "[]", "[get", "list]"],
        vec!["configmaps", "[]", "[settings]", "[update]"],
        vec![
            "selfsubjectaccessreviews.authorization.k8s.io",
            "[]",
            "[]",
            "[create]",
        ],
        vec!["[/api/*]", "[]", "[get]"],
    ] {
        assert!(
            rows.contains(&expected),
            "{expected:?} missing from:\n{list}"
        );
    }
    let (_, default_list, _) = bob.run(&["auth", "can-i", "--list", "-n", "default"]);
    assert!(!default_list.contains("configmaps"), "{default_list}");

    // As a ServiceAccount and as a group member, through impersonation by the admin.
    let robot = "--as=system:serviceaccount:team:robot";
    assert_eq!(root.can_i(&[robot, "list", "pods", "-n", "team"]), "yes");
    assert_eq!(
        root.can_i(&[robot, "get", "pods", "--subresource=log", "-n", "team"]),
        "yes"
    );
    assert_eq!(root.can_i(&[robot, "get", "secrets", "-n", "team"]), "no");
    assert_eq!(root.can_i(&[robot, "list", "pods", "-n", "default"]), "no");
    assert_eq!(
        root.can_i(&[
            "--as=dave",
            "--as-group=devs",
            "watch",
            "deployments.apps",
            "-n",
            "team"
        ]),
        "yes"
    );
    assert_eq!(
        root.can_i(&["--as=dave", "watch", "deployments.apps", "-n", "team"]),
        "no"
    );
    dc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impersonation_needs_the_impersonate_verb() {
    let (dc, admin) = start_with_namespace().await;
    let dir = tempfile::tempdir().unwrap();
    let bob = Kubectl::new(
        dir.path(),
        "bob",
        &dc.client_certificate_kubeconfig("bob", &[], None).unwrap(),
    );
    // (kubectl's `auth whoami` and discovery hide a 403's message: a raw request shows it.)
    let configmaps = "/api/v1/namespaces/team/configmaps";
    let (ok, _, stderr) = bob.run(&["--as=alice", "get", "--raw", configmaps]);
    assert!(!ok);
    assert!(
        stderr.contains("users \"alice\" is forbidden: User \"bob\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"),
        "{stderr}"
    );
    create(
        &Api::<ClusterRole>::all(admin.clone()),
        json!({"metadata": {"name": "impersonate-alice"}, "rules": [
            {"verbs": ["impersonate"], "apiGroups": [""], "resources": ["users"], "resourceNames": ["alice"]},
            {"verbs": ["impersonate"], "apiGroups": [""], "resources": ["groups"], "resourceNames": ["readers"]},
        ]}),
    )
    .await
    .unwrap();
    create(
        &Api::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>::all(admin.clone()),
        json!({"metadata": {"name": "bob-impersonates"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "impersonate-alice"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]}),
    )
    .await
    .unwrap();
    let (ok, who, stderr) = bob.run(&[
        "--as=alice",
        "--as-group=readers",
        "auth",
        "whoami",
        "-o",
        "json",
    ]);
    assert!(ok, "{stderr}");
    let who: serde_json::Value = serde_json::from_str(&who).unwrap();
    assert_eq!(who["status"]["userInfo"]["username"], "alice");
    assert_eq!(
        who["status"]["userInfo"]["groups"],
        json!(["readers", "system:authenticated"])
    );
    let (ok, _, stderr) = bob.run(&[
        "--as=alice",
        "--as-group=admins",
        "get",
        "--raw",
        configmaps,
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("groups \"admins\" is forbidden: User \"bob\" cannot impersonate resource \"groups\" in API group \"\" at the cluster scope"),
        "{stderr}"
    );
    // Alice has no grants of her own: the request runs as her.
    let (ok, _, stderr) = bob.run(&["--as=alice", "get", "configmaps", "-n", "team", "-v=8"]);
    assert!(!ok);
    assert!(
        stderr.contains("User \"alice\" cannot list resource \"configmaps\""),
        "{stderr}"
    );
    dc.stop().await;
}

#[tokio::test]
async fn the_default_policy_is_created_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let dc = Devcluster::start(DevclusterConfig::durable(dir.path()))
        .await
        .unwrap();
    let admin = dc.client().await.unwrap();
    let cluster_roles = Api::<ClusterRole>::all(admin.clone());
    for name in [
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
        "system:service-account-issuer-discovery",
        "system:auth-delegator",
        "system:monitoring",
    ] {
        let role = cluster_roles.get(name).await.unwrap();
        assert_eq!(
            role.metadata.annotations.unwrap()["rbac.authorization.kubernetes.io/autoupdate"],
            "true"
        );
    }
    // A default opted out of updates keeps what it was given; the others get back what is
    // missing.
    let mut basic_user = cluster_roles.get("system:basic-user").await.unwrap();
    basic_user.metadata.annotations.as_mut().unwrap().insert(
        "rbac.authorization.kubernetes.io/autoupdate".into(),
        "false".into(),
    );
    basic_user.rules = Some(vec![]);
    cluster_roles
        .replace("system:basic-user", &PostParams::default(), &basic_user)
        .await
        .unwrap();
    let mut discovery = cluster_roles.get("system:discovery").await.unwrap();
    discovery.rules = Some(vec![]);
    cluster_roles
        .replace("system:discovery", &PostParams::default(), &discovery)
        .await
        .unwrap();
    dc.stop().await;

    let dc = Devcluster::start(DevclusterConfig::durable(dir.path()))
        .await
        .unwrap();
    let cluster_roles = Api::<ClusterRole>::all(dc.client().await.unwrap());
    let basic_user = cluster_roles.get("system:basic-user").await.unwrap();
    assert_eq!(basic_user.rules.unwrap_or_default().len(), 0);
    // Each missing permission comes back (as kube's reconcile adds them: one rule per URL).
    let discovery = cluster_roles.get("system:discovery").await.unwrap();
    let urls: Vec<String> = discovery
        .rules
        .unwrap()
        .into_iter()
        .flat_map(|r| r.non_resource_urls.unwrap_or_default())
        .collect();
    for url in ["/api", "/api/*", "/apis", "/apis/*", "/version"] {
        assert!(urls.iter().any(|u| u == url), "{url} missing: {urls:?}");
    }
    dc.stop().await;
}
