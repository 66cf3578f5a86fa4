//! A transition's writes against a failing management cluster: faults injected in the frontend's
//! kube transport (support::faults) at the claim, after it, after the secrets and during the
//! status write, for PUT (create), PATCH and DELETE. Whatever fails, what the client is told
//! matches the final state once the claim is repaired (as the controller does after its grace
//! period): an accepted answer means the operation record exists and the transition runs with
//! its secrets; an error means nothing changed (no cluster, operation record, claim or secret).

mod support;

use std::collections::BTreeMap;

use crds::management::naming::{cluster_object_name, subscription_namespace};
use crds::management::{AsyncOperation, AsyncOperationStatus, OpenShiftCluster, ProvisioningState};
use http::Method;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};
use reqwest::StatusCode;
use rp_frontend::server::management::{self, ClusterCache};
use rp_frontend::{Frontend, FrontendConfig};
use serde_json::{Value, json};
use support::SUB;
use support::faults::{Fault, Faults, client_with_faults, is_write, matching};

const NS: &str = "Microsoft.RedHatOpenShift";
const RG: &str = "rg-faults";
const VERSION: &str = "2023-11-22";

fn path(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/{NS}/openShiftClusters/{name}")
}

fn body(n: usize) -> Value {
    let subnet = |s: &str| {
        format!(
            "/subscriptions/{SUB}/resourceGroups/vnet/providers/Microsoft.Network/virtualNetworks/vnet/subnets/{s}"
        )
    };
    json!({
        "location": "eastus",
        "properties": {
            "clusterProfile": {"pullSecret": format!("{{\"auths\":{{\"n{n}\":{{}}}}}}"), "domain": format!("faults{n}"), "resourceGroupId": format!("/subscriptions/{SUB}/resourceGroups/aro-faults-{n}")},
            "servicePrincipalProfile": {"clientId": format!("{n:08x}-2222-4222-8222-222222222222"), "clientSecret": "secret-0"},
            "networkProfile": {"podCidr": "10.128.0.0/14", "serviceCidr": "172.30.0.0/16"},
            "masterProfile": {"vmSize": "Standard_D8s_v3", "subnetId": subnet("master")},
            "workerProfiles": [{"name": "worker", "vmSize": "Standard_D2s_v3", "diskSizeGB": 128, "subnetId": subnet("worker"), "count": 3}],
            "apiserverProfile": {"visibility": "Public"},
            "ingressProfiles": [{"name": "default", "visibility": "Public"}],
        }
    })
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Request {
    Create,
    Patch,
    Delete,
}

impl Request {
    fn state(self) -> ProvisioningState {
        match self {
            Request::Create => ProvisioningState::Creating,
            Request::Patch => ProvisioningState::Updating,
            Request::Delete => ProvisioningState::Deleting,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Where {
    /// Staging the customer secrets (before the claim) fails.
    SecretsRefused,
    /// The claim write is refused (500, never reaches the server).
    ClaimRefused,
    /// The claim write lands but its answer is lost.
    ClaimAnswerLost,
    /// Every write after the claim fails (secrets, status, claim release, cleanup).
    EveryWriteAfterTheClaim,
    /// The status write fails once (after the secrets are in).
    StatusWriteOnce,
    /// Every status write fails: the retries run out.
    StatusWritesExhausted,
}

/// The write that claims the cluster: POST of a new one, the first merge PATCH of an existing one
/// (the claim release, a later PATCH of the object, comes after it).
fn is_claim(method: &Method, path: &str) -> bool {
    (method == Method::POST && path.ends_with("/openshiftclusters"))
        || (method == Method::PATCH
            && path.contains("/openshiftclusters/")
            && !path.ends_with("/status"))
}

fn arm(faults: &Faults, at: Where) {
    match at {
        Where::SecretsRefused => faults.add(
            None,
            matching(|m, p| is_write(m) && p.contains("/secrets")),
            0,
            1,
            Fault::ServerError,
        ),
        Where::ClaimRefused => faults.add(None, matching(is_claim), 0, 1, Fault::ServerError),
        Where::ClaimAnswerLost => faults.add(None, matching(is_claim), 0, 1, Fault::LoseResponse),
        Where::EveryWriteAfterTheClaim => faults.add(
            Some(matching(is_claim)),
            matching(|m, _| is_write(m)),
            0,
            usize::MAX,
            Fault::ServerError,
        ),
        Where::StatusWriteOnce | Where::StatusWritesExhausted => faults.add(
            None,
            matching(|m, p| {
                m == Method::PATCH && p.contains("/openshiftclusters/") && p.ends_with("/status")
            }),
            0,
            if matches!(at, Where::StatusWriteOnce) {
                1
            } else {
                usize::MAX
            },
            Fault::ServerError,
        ),
    }
}

struct Env {
    client: kube::Client,
    faults: Faults,
    base: String,
    http: reqwest::Client,
    cache: ClusterCache,
}

/// What the management cluster holds of one cluster.
#[derive(Debug, PartialEq)]
struct Snapshot {
    exists: bool,
    state: Option<ProvisioningState>,
    operation: Option<String>,
    claimed: bool,
    operations: Vec<String>,
    secret: Option<BTreeMap<String, String>>,
}

impl Env {
    async fn send(
        &self,
        method: reqwest::Method,
        name: &str,
        body: Option<Value>,
    ) -> (StatusCode, Option<String>, String) {
        let p = path(name);
        let mut req = self
            .http
            .request(method, format!("{}{p}?api-version={VERSION}", self.base))
            .header("referer", format!("https://arm.example.com{p}"));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let op = resp
            .headers()
            .get("azure-asyncoperation")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split('?').next())
            .and_then(|v| v.rsplit('/').next())
            .map(str::to_string);
        (status, op, resp.text().await.unwrap())
    }

    fn clusters(&self) -> Api<OpenShiftCluster> {
        Api::namespaced(self.client.clone(), &subscription_namespace(SUB))
    }

    async fn snapshot(&self, name: &str) -> Snapshot {
        let ns = subscription_namespace(SUB);
        let object = cluster_object_name(RG, name);
        let cluster = self.clusters().get_opt(&object).await.unwrap();
        let ops: Api<AsyncOperation> = Api::namespaced(self.client.clone(), &ns);
        let mut operations: Vec<String> = ops
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|o| o.spec.cluster_name == object)
            .map(|o| o.name_any())
            .collect();
        operations.sort();
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &ns);
        let secret = secrets
            .get_opt(&format!("{object}-customer"))
            .await
            .unwrap()
            .map(|s| {
                s.data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, String::from_utf8(v.0).unwrap()))
                    .collect()
            });
        let status = cluster
            .as_ref()
            .and_then(|c| c.status.clone())
            .unwrap_or_default();
        Snapshot {
            exists: cluster.is_some(),
            state: status.provisioning_state,
            operation: status.async_operation_id,
            claimed: cluster.as_ref().is_some_and(|c| {
                c.annotations()
                    .contains_key(crds::management::protocol::PENDING_OPERATION)
            }),
            operations,
            secret,
        }
    }

    /// What the controller does with a claim its writer left: complete it.
    async fn repair(&self, name: &str) {
        if let Some(cluster) = self
            .clusters()
            .get_opt(&cluster_object_name(RG, name))
            .await
            .unwrap()
        {
            management::repair_claim(&self.client, &self.cache, &cluster, "test")
                .await
                .unwrap();
        }
    }

    /// Play the controller: end the cluster's operation Succeeded.
    async fn succeed(&self, name: &str) {
        let ns = subscription_namespace(SUB);
        let object = cluster_object_name(RG, name);
        let mut c = self.clusters().get(&object).await.unwrap();
        let mut status = c.status.clone().unwrap();
        let op_id = status.async_operation_id.clone().unwrap();
        status.provisioning_state = Some(ProvisioningState::Succeeded);
        c.status = Some(status);
        self.clusters()
            .replace_status(&object, &PostParams::default(), &c)
            .await
            .unwrap();
        let ops: Api<AsyncOperation> = Api::namespaced(self.client.clone(), &ns);
        let mut op = ops.get(&op_id).await.unwrap();
        op.status = Some(AsyncOperationStatus {
            status: Some(ProvisioningState::Succeeded),
            end_time: Some("2026-01-01T00:00:00Z".into()),
            percent_complete: Some(100),
            error: None,
            resource_deleted: false,
        });
        ops.replace_status(&op_id, &PostParams::default(), &op)
            .await
            .unwrap();
    }
}

async fn start() -> (devcluster::Devcluster, Env) {
    let (dc, client) = support::management_cluster().await;
    let faults = Faults::default();
    // The frontend runs as its ServiceAccount under deploy/rp's grants: the clean-ups of failed
    // writes are paths no other test takes.
    let identity = support::frontend_identity(&dc, &client).await;
    let faulty = client_with_faults(&identity, &faults).await;
    let app = Frontend::router(faulty, FrontendConfig::insecure_for_loopback("eastus"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let env = Env {
        cache: ClusterCache::start(client.clone()),
        client,
        faults,
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    };
    support::register_subscription(&env.http, &env.base).await;
    (dc, env)
}

/// One request with a fault; returns a description of each way the answer and the final state
/// disagree.
async fn run(env: &Env, n: usize, request: Request, at: Where) -> Vec<String> {
    let name = format!("c{n}");
    if request != Request::Create {
        let (s, _, text) = env.send(reqwest::Method::PUT, &name, Some(body(n))).await;
        assert_eq!(s, StatusCode::CREATED, "setup create: {text}");
        env.succeed(&name).await;
    }
    let before = env.snapshot(&name).await;

    arm(&env.faults, at);
    let (status, told_op, text) = match request {
        Request::Create => env.send(reqwest::Method::PUT, &name, Some(body(n))).await,
        Request::Patch => {
            let patch =
                json!({"properties": {"servicePrincipalProfile": {"clientSecret": "secret-1"}}});
            env.send(reqwest::Method::PATCH, &name, Some(patch)).await
        }
        Request::Delete => env.send(reqwest::Method::DELETE, &name, None).await,
    };
    let injected = env.faults.injected().len();
    env.faults.clear();
    env.repair(&name).await;
    let after = env.snapshot(&name).await;
    eprintln!("{request:?} with {at:?}: told {status}, {injected} faults injected");

    let case =
        format!("{request:?} with {at:?} (told {status} {text}; {injected} faults injected)");
    let mut problems = Vec::new();
    let mut expect = |ok: bool, what: &str| {
        if !ok {
            problems.push(format!(
                "{case}: {what}; before {before:?}, after {after:?}"
            ));
        }
    };
    expect(injected > 0, "no fault was injected");
    if status.is_success() {
        // Accepted: the transition runs, its record exists, its secrets are in place.
        let op = told_op.clone().unwrap_or_default();
        expect(after.exists, "accepted, but no cluster");
        expect(
            after.state == Some(request.state()),
            "accepted, but not in the operation's state",
        );
        expect(
            after.operation.as_deref() == Some(op.as_str()),
            "status does not name the told operation",
        );
        expect(!after.claimed, "the claim is still there after the repair");
        expect(
            after.operations.contains(&op),
            "the told operation has no record",
        );
        let new_records = after
            .operations
            .iter()
            .filter(|o| !before.operations.contains(o))
            .count();
        expect(new_records == 1, "other operation records were left");
        let secret = after.secret.clone().unwrap_or_default();
        let want = match request {
            Request::Create | Request::Delete => "secret-0",
            Request::Patch => "secret-1",
        };
        expect(
            secret
                .get("servicePrincipalClientSecret")
                .map(String::as_str)
                == Some(want),
            "the transition runs without the client secret it was given",
        );
        expect(
            secret.contains_key("pullSecret"),
            "the transition runs without its pull secret",
        );
        expect(secret.len() == 2, "staged secret values were left");
    } else {
        // Refused: nothing changed.
        expect(status.is_server_error(), "an unexpected refusal");
        expect(
            after == before,
            "the request failed, yet the cluster changed",
        );
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_client_is_told_matches_the_final_state_whatever_write_fails() {
    let (dc, env) = start().await;
    let mut problems = Vec::new();
    let mut n = 0;
    for request in [Request::Create, Request::Patch, Request::Delete] {
        for at in [
            Where::SecretsRefused,
            Where::ClaimRefused,
            Where::ClaimAnswerLost,
            Where::EveryWriteAfterTheClaim,
            Where::StatusWriteOnce,
            Where::StatusWritesExhausted,
        ] {
            if matches!((request, at), (Request::Delete, Where::SecretsRefused)) {
                continue;
            }
            n += 1;
            problems.extend(run(&env, n, request, at).await);
        }
    }
    // The clean-ups used the frontend's own grants, and nothing was denied (deploy/rp's
    // frontend-rbac.yaml: e2e/tests/lifecycle.rs exempts these as paths it does not take).
    let (namespace, account) = support::FRONTEND_ACCOUNT;
    let user = devcluster::UserInfo::service_account(namespace, account).name;
    let denied = dc.access_log().denied_to(&user);
    let used = dc.access_log().of_user(&user);
    dc.stop().await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(denied.is_empty(), "the frontend was denied: {denied:?}");
    for (group, resource) in [
        ("rp.aro.openshift.io", "asyncoperations"),
        ("rp.aro.openshift.io", "clusteruniquekeys"),
        ("", "secrets"),
    ] {
        assert!(
            used.iter()
                .any(|r| r.verb == "delete" && r.group == group && r.resource == resource),
            "the frontend never deleted {resource}"
        );
    }
}

/// The failure of the old write path: a DELETE whose status write failed answered 500, deleted
/// its operation record and left its claim, which a repair then completed, so the "failed"
/// DELETE deleted the cluster anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_whose_status_write_fails_is_accepted_and_keeps_its_record() {
    let (dc, env) = start().await;
    let problems = run(&env, 1, Request::Delete, Where::StatusWritesExhausted).await;
    dc.stop().await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
