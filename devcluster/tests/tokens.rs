//! Authentication end to end: ServiceAccount tokens from TokenRequest (kube-rs and the machine's
//! `kubectl create token`), TokenReview, static tokens from `--token-auth-file`, the anonymous
//! user, legacy token Secrets filled by the token controller, the `default` ServiceAccount and
//! `kube-root-ca.crt` in every namespace, and the issuer's discovery documents verifying a
//! token's signature. Token expiry is tested by the validator's unit tests with a clock.

mod common;

use std::process::Command;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{anonymous_client, expect_err, raw, start};
use devcluster::{AccessRecord, Devcluster, DevclusterConfig, UserInfo};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::wait::await_condition;
use serde_json::{Value, json};

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Wait (by watching) until `condition` holds for the object `name`.
async fn until<K>(api: &Api<K>, name: &str, condition: impl Fn(Option<&K>) -> bool)
where
    K: kube::Resource
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    tokio::time::timeout(
        Duration::from_secs(20),
        await_condition(api.clone(), name, condition),
    )
    .await
    .unwrap_or_else(|_| panic!("{name} did not reach the condition"))
    .expect("watch works");
}

async fn create_service_account(client: &kube::Client, ns: &str, name: &str) -> ServiceAccount {
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    sas.create(&PostParams::default(), &sa).await.unwrap()
}

/// Bind ClusterRole `role` to `subject` (`User` or `ServiceAccount` in `ns`): in `ns` by a
/// RoleBinding, or cluster-wide when `ns` is empty.
async fn bind(client: &kube::Client, ns: &str, kind: &str, name: &str, role: &str) {
    let subject = json!({"kind": kind, "name": name, "namespace": if kind == "ServiceAccount" { json!(ns) } else { Value::Null }});
    let binding = json!({
        "metadata": {"name": format!("{name}-{role}").replace(':', "-")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [subject],
    });
    let params = PostParams::default();
    if ns.is_empty() {
        Api::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>::all(client.clone())
            .create(&params, &serde_json::from_value(binding).unwrap())
            .await
            .unwrap();
    } else {
        Api::<k8s_openapi::api::rbac::v1::RoleBinding>::namespaced(client.clone(), ns)
            .create(&params, &serde_json::from_value(binding).unwrap())
            .await
            .unwrap();
    }
}

/// The claims of a JWT (unverified).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn whoami(client: &kube::Client) -> Value {
    let r = raw(
        client,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        Some("application/json"),
        serde_json::to_vec(
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
        )
        .unwrap(),
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.text);
    r.json()["status"]["userInfo"].clone()
}

#[tokio::test]
async fn a_token_request_token_authenticates_its_service_account() {
    let (dc, admin) = start().await;
    let robot = create_service_account(&admin, "default", "robot").await;
    let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), "default");
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            ..Default::default()
        },
        ..Default::default()
    };
    let before = chrono::Utc::now().timestamp();
    let issued = sas
        .create_token_request("robot", &PostParams::default(), &request)
        .await
        .expect("TokenRequest");
    assert_eq!(issued.spec.expiration_seconds, Some(3600));
    assert_eq!(issued.spec.audiences, vec![ISSUER.to_string()]);
    let status = issued.status.expect("a token");
    let lifetime = status.expiration_timestamp.0.as_second() - before;
    assert!((3600..3610).contains(&lifetime), "{lifetime}");
    let token = status.token;
    let c = claims(&token);
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["sub"], "system:serviceaccount:default:robot");
    assert_eq!(c["aud"], json!([ISSUER]));
    assert_eq!(c["kubernetes.io"]["namespace"], "default");
    assert_eq!(c["kubernetes.io"]["serviceaccount"]["name"], "robot");
    assert_eq!(
        c["kubernetes.io"]["serviceaccount"]["uid"].as_str(),
        robot.metadata.uid.as_deref()
    );

    bind(
        &dc.in_process_client(),
        "default",
        "ServiceAccount",
        "robot",
        "view",
    )
    .await;
    let as_robot = dc.client_with_token(&token).await.unwrap();
    Api::<ConfigMap>::namespaced(as_robot.clone(), "default")
        .list(&ListParams::default())
        .await
        .expect("the token authenticates");
    let user = whoami(&as_robot).await;
    assert_eq!(user["username"], "system:serviceaccount:default:robot");
    assert_eq!(user["uid"].as_str(), robot.metadata.uid.as_deref());
    assert_eq!(
        user["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ])
    );
    assert_eq!(
        user["extra"]["authentication.kubernetes.io/credential-id"],
        json!([format!("JTI={}", c["jti"].as_str().unwrap())])
    );

    // kube's validation and errors.
    let short = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(599),
            ..Default::default()
        },
        ..Default::default()
    };
    let e = expect_err(
        sas.create_token_request("robot", &PostParams::default(), &short)
            .await,
    );
    assert_eq!(e.code, 422);
    assert_eq!(
        e.message,
        "TokenRequest.authentication.k8s.io \"robot\" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"
    );
    let e = expect_err(
        sas.create_token_request("nobody", &PostParams::default(), &request)
            .await,
    );
    assert_eq!(
        (e.code, e.message.as_str()),
        (404, "serviceaccounts \"nobody\" not found")
    );
    let r = raw(
        &admin,
        "GET",
        "/api/v1/namespaces/default/serviceaccounts/robot/token",
        None,
        "",
    )
    .await;
    assert_eq!(r.code, 405);

    // The in-process API issues the same tokens.
    let same = dc
        .service_account_token("default", "robot", &["vault"], Duration::from_secs(600))
        .unwrap();
    let c = claims(&same);
    assert_eq!(c["aud"], json!(["vault"]));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);
    assert!(
        dc.service_account_token("default", "nobody", &[], Duration::from_secs(600))
            .is_err()
    );
    // A token for another audience is not one for the API server.
    let e = expect_err(
        Api::<ConfigMap>::namespaced(dc.client_with_token(&same).await.unwrap(), "default")
            .list(&ListParams::default())
            .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (401, "Unauthorized"));

    // Deleting the ServiceAccount ends its tokens.
    sas.delete("robot", &DeleteParams::default()).await.unwrap();
    let e = expect_err(
        Api::<ConfigMap>::namespaced(as_robot, "default")
            .list(&ListParams::default())
            .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (401, "Unauthorized"));
    dc.stop().await;
}

#[tokio::test]
async fn token_requests_and_reviews_are_authorized_as_kube_names_them() {
    let dc = Devcluster::start(DevclusterConfig {
        record_access: true,
        ..DevclusterConfig::in_memory()
    })
    .await
    .unwrap();
    let admin = dc.in_process_client();
    create_service_account(&admin, "default", "robot").await;
    // What kube grants for these: TokenRequest by an explicit grant, TokenReview by
    // system:auth-delegator, the issuer's keys by system:service-account-issuer-discovery.
    let token_requester = json!({
        "metadata": {"name": "token-requester"},
        "rules": [{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}],
    });
    Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(admin.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(token_requester).unwrap(),
        )
        .await
        .unwrap();
    bind(&admin, "default", "User", "alice", "token-requester").await;
    bind(&admin, "", "User", "alice", "system:auth-delegator").await;
    bind(
        &admin,
        "",
        "User",
        "alice",
        "system:service-account-issuer-discovery",
    )
    .await;
    let alice = dc.in_process_client_as(UserInfo::new("alice", vec![]));
    Api::<ServiceAccount>::namespaced(alice.clone(), "default")
        .create_token_request("robot", &PostParams::default(), &TokenRequest::default())
        .await
        .unwrap();
    let r = raw(
        &alice,
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        Some("application/json"),
        serde_json::to_vec(&json!({"spec": {"token": "t"}})).unwrap(),
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.text);
    assert_eq!(
        raw(&alice, "GET", "/openid/v1/jwks", None, "").await.code,
        200
    );
    let record = AccessRecord::resource;
    let jwks = AccessRecord {
        path: "/openid/v1/jwks".into(),
        ..record("get", "", "", "", "", "")
    };
    assert_eq!(
        dc.access_log()
            .of_user("alice")
            .into_iter()
            .collect::<Vec<_>>(),
        vec![
            record("create", "", "serviceaccounts", "token", "default", "robot"),
            record(
                "create",
                "authentication.k8s.io",
                "tokenreviews",
                "",
                "",
                ""
            ),
            jwks,
        ]
    );
    dc.stop().await;
}

#[tokio::test]
async fn a_pod_bound_token_lives_as_long_as_the_pod() {
    let (dc, admin) = start().await;
    create_service_account(&admin, "default", "runner").await;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(admin.clone(), "default");
    let pod = pods
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "p"},
                "spec": {"serviceAccountName": "runner", "containers": [{"name": "c", "image": "i"}]},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let r = raw(
        &admin,
        "POST",
        "/api/v1/namespaces/default/serviceaccounts/runner/token",
        Some("application/json"),
        serde_json::to_vec(
            &json!({"spec": {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "p"}}}),
        )
        .unwrap(),
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.text);
    let token = r.json()["status"]["token"].as_str().unwrap().to_string();
    assert_eq!(
        claims(&token)["kubernetes.io"]["pod"]["uid"].as_str(),
        pod.metadata.uid.as_deref()
    );
    let as_pod = dc.client_with_token(&token).await.unwrap();
    let user = whoami(&as_pod).await;
    assert_eq!(
        user["extra"]["authentication.kubernetes.io/pod-name"],
        json!(["p"])
    );
    // Another ServiceAccount's pod, or another kind, cannot be bound.
    let r = raw(
        &admin,
        "POST",
        "/api/v1/namespaces/default/serviceaccounts/default/token",
        Some("application/json"),
        serde_json::to_vec(
            &json!({"spec": {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "p"}}}),
        )
        .unwrap(),
    )
    .await;
    assert_eq!(r.code, 400, "{}", r.text);
    assert_eq!(
        r.json()["message"],
        "cannot bind token for serviceaccount \"default\" to pod running with different serviceaccount name."
    );
    pods.delete("p", &DeleteParams::default()).await.unwrap();
    let e = expect_err(
        Api::<ConfigMap>::namespaced(as_pod, "default")
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(e.code, 401);
    dc.stop().await;
}

#[tokio::test]
async fn token_review_answers_as_kube() {
    let (dc, admin) = start().await;
    create_service_account(&admin, "default", "robot").await;
    let review = |token: &str, audiences: Value| {
        let admin = admin.clone();
        let body = json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": token, "audiences": audiences},
        });
        async move {
            raw(
                &admin,
                "POST",
                "/apis/authentication.k8s.io/v1/tokenreviews",
                Some("application/json"),
                serde_json::to_vec(&body).unwrap(),
            )
            .await
        }
    };
    let token = dc
        .service_account_token("default", "robot", &[], Duration::from_secs(3600))
        .unwrap();
    let r = review(&token, json!([])).await;
    assert_eq!(r.code, 201, "{}", r.text);
    let status = &r.json()["status"];
    assert_eq!(status["authenticated"], true);
    assert_eq!(
        status["user"]["username"],
        "system:serviceaccount:default:robot"
    );
    assert_eq!(status["audiences"], json!([ISSUER]));

    let vault = dc
        .service_account_token("default", "robot", &["vault"], Duration::from_secs(3600))
        .unwrap();
    let status = review(&vault, json!(["vault", "other"])).await.json()["status"].clone();
    assert_eq!(
        (status["authenticated"].clone(), status["audiences"].clone()),
        (json!(true), json!(["vault"]))
    );
    let status = review(&vault, json!([])).await.json()["status"].clone();
    assert_eq!(status["authenticated"], Value::Null);
    assert_eq!(
        status["error"],
        format!(
            "[invalid bearer token, token audiences [\"vault\"] is invalid for the target audiences [\"{ISSUER}\"]]"
        )
    );
    let status = review("not-a-token", json!([])).await.json()["status"].clone();
    assert_eq!(status, json!({"user": {}, "error": "invalid bearer token"}));
    let r = review("", json!([])).await;
    assert_eq!(r.code, 400);
    assert_eq!(
        r.json()["message"],
        "token is required for TokenReview in authentication"
    );

    // Discovery lists the subresource and the review resources.
    let core = raw(&admin, "GET", "/api/v1", None, "").await.json();
    let token_resource = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "serviceaccounts/token")
        .expect("serviceaccounts/token is discovered")
        .clone();
    assert_eq!(token_resource["verbs"], json!(["create"]));
    assert_eq!(token_resource["kind"], "TokenRequest");
    let groups = raw(&admin, "GET", "/apis", None, "").await.json();
    assert!(
        groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "authentication.k8s.io"),
        "{groups}"
    );
    let authentication = raw(&admin, "GET", "/apis/authentication.k8s.io/v1", None, "")
        .await
        .json();
    let names: Vec<&str> = authentication["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["selfsubjectreviews", "tokenreviews"]);
    dc.stop().await;
}

#[tokio::test]
async fn static_tokens_and_the_anonymous_user() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.csv");
    std::fs::write(&file, "alice-token,alice,uid-alice,\"dev,ops\"\n").unwrap();
    let dc = Devcluster::start(DevclusterConfig {
        token_auth_file: Some(file),
        ..DevclusterConfig::in_memory()
    })
    .await
    .unwrap();
    let alice = dc.client_with_token("alice-token").await.unwrap();
    let user = whoami(&alice).await;
    assert_eq!(
        user,
        json!({"username": "alice", "uid": "uid-alice", "groups": ["dev", "ops", "system:authenticated"]})
    );
    let e = expect_err(
        Api::<ConfigMap>::namespaced(
            dc.client_with_token("alice-token2").await.unwrap(),
            "default",
        )
        .list(&ListParams::default())
        .await,
    );
    assert_eq!((e.code, e.message.as_str()), (401, "Unauthorized"));

    // No credentials: the anonymous user, denied until RBAC grants it something.
    let anonymous = anonymous_client(&dc).await;
    let e = expect_err(
        Api::<ConfigMap>::namespaced(anonymous.clone(), "default")
            .list(&ListParams::default())
            .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        e.message,
        "configmaps is forbidden: User \"system:anonymous\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\""
    );
    let r = raw(
        &anonymous,
        "GET",
        "/.well-known/openid-configuration",
        None,
        "",
    )
    .await;
    assert_eq!(r.code, 403);
    let r = raw(&anonymous, "GET", "/readyz", None, "").await;
    assert_eq!(r.code, 200);

    // An in-process client with any identity.
    let bob = UserInfo::new("bob", vec!["team".into()]);
    let user = whoami(&dc.in_process_client_as(bob)).await;
    assert_eq!(user["username"], "bob");
    assert_eq!(user["groups"], json!(["team", "system:authenticated"]));
    dc.stop().await;
}

#[tokio::test]
async fn legacy_token_secrets_are_filled_and_die_with_their_service_account() {
    let (dc, admin) = start().await;
    let builder = create_service_account(&admin, "default", "builder").await;
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), "default");
    let token_secret = |name: &str| -> Secret {
        serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": {"kubernetes.io/service-account.name": "builder"}},
            "type": "kubernetes.io/service-account-token",
        }))
        .unwrap()
    };
    secrets
        .create(&PostParams::default(), &token_secret("builder-token"))
        .await
        .unwrap();
    until(&secrets, "builder-token", |s| {
        s.and_then(|s| s.data.as_ref())
            .is_some_and(|d| d.contains_key("token"))
    })
    .await;
    let secret = secrets.get("builder-token").await.unwrap();
    let data = secret.data.unwrap();
    let text = |key: &str| String::from_utf8(data[key].0.clone()).unwrap();
    assert_eq!(text("namespace"), "default");
    let kubeconfig: Value = serde_yaml::from_str(dc.kubeconfig_yaml()).unwrap();
    let ca = STANDARD
        .decode(
            kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(text("ca.crt").as_bytes(), ca.as_slice());
    assert_eq!(
        secret.metadata.annotations.unwrap()["kubernetes.io/service-account.uid"],
        builder.metadata.uid.clone().unwrap()
    );
    let token = text("token");
    let c = claims(&token);
    assert_eq!(c["iss"], "kubernetes/serviceaccount");
    assert_eq!(
        c["kubernetes.io/serviceaccount/secret.name"],
        "builder-token"
    );
    assert!(c["exp"].is_null());
    let as_builder = dc.client_with_token(&token).await.unwrap();
    assert_eq!(
        whoami(&as_builder).await["username"],
        "system:serviceaccount:default:builder"
    );

    // Deleting the Secret ends its token.
    secrets
        .delete("builder-token", &DeleteParams::default())
        .await
        .unwrap();
    let e = expect_err(whoami_result(&as_builder).await);
    assert_eq!(e.code, 401);

    // Deleting the ServiceAccount deletes its token Secrets.
    secrets
        .create(&PostParams::default(), &token_secret("second"))
        .await
        .unwrap();
    until(&secrets, "second", |s| {
        s.and_then(|s| s.data.as_ref())
            .is_some_and(|d| d.contains_key("token"))
    })
    .await;
    Api::<ServiceAccount>::namespaced(admin.clone(), "default")
        .delete("builder", &DeleteParams::default())
        .await
        .unwrap();
    until(&secrets, "second", |s| s.is_none()).await;
    dc.stop().await;
}

/// SelfSubjectReview through the typed path (to see a 401 as a Status).
async fn whoami_result(client: &kube::Client) -> Result<Value, kube::Error> {
    let request = http::Request::builder()
        .method("POST")
        .uri("/apis/authentication.k8s.io/v1/selfsubjectreviews")
        .header("content-type", "application/json")
        .body(
            serde_json::to_vec(
                &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
            )
            .unwrap(),
        )
        .unwrap();
    client.request::<Value>(request).await
}

#[tokio::test]
async fn every_namespace_has_a_default_service_account_and_the_root_ca() {
    let (dc, admin) = start().await;
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap(),
        )
        .await
        .unwrap();
    for ns in ["default", "kube-system", "team"] {
        let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), ns);
        until(&sas, "default", |sa| sa.is_some()).await;
        let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), ns);
        until(&cms, "kube-root-ca.crt", |cm| {
            cm.and_then(|cm| cm.data.as_ref())
                .is_some_and(|d| d["ca.crt"].starts_with("-----BEGIN CERTIFICATE-----"))
        })
        .await;
    }
    // Deleted or changed, they come back.
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), "team");
    let old = cms.get("kube-root-ca.crt").await.unwrap();
    cms.delete("kube-root-ca.crt", &DeleteParams::default())
        .await
        .unwrap();
    until(&cms, "kube-root-ca.crt", |cm| {
        cm.is_some_and(|cm| cm.metadata.uid != old.metadata.uid)
    })
    .await;
    let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), "team");
    let old = sas.get("default").await.unwrap();
    sas.delete("default", &DeleteParams::default())
        .await
        .unwrap();
    until(&sas, "default", |sa| {
        sa.is_some_and(|sa| sa.metadata.uid != old.metadata.uid)
    })
    .await;
    // A deleted namespace goes away with them.
    namespaces
        .delete("team", &DeleteParams::default())
        .await
        .unwrap();
    until(&namespaces, "team", |ns| ns.is_none()).await;
    dc.stop().await;
}

#[tokio::test]
async fn the_issuer_discovery_documents_verify_tokens() {
    let (dc, admin) = start().await;
    create_service_account(&admin, "default", "robot").await;
    let token = dc
        .service_account_token("default", "robot", &[], Duration::from_secs(3600))
        .unwrap();
    let as_robot = dc.client_with_token(&token).await.unwrap();
    let config = raw(
        &as_robot,
        "GET",
        "/.well-known/openid-configuration",
        None,
        "",
    )
    .await;
    assert_eq!(config.code, 200, "{}", config.text);
    let config = config.json();
    assert_eq!(config["issuer"], ISSUER);
    assert_eq!(config["jwks_uri"], format!("{}/openid/v1/jwks", dc.url));
    assert_eq!(
        config["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let jwks = raw(&as_robot, "GET", "/openid/v1/jwks", None, "").await;
    assert_eq!(jwks.code, 200);
    assert_eq!(jwks.headers["content-type"], "application/jwk-set+json");
    assert_eq!(jwks.headers["cache-control"], "public, max-age=3600");
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&jwks.text).unwrap();

    let header = jsonwebtoken::decode_header(&token).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().expect("the token names its key"))
        .expect("the JWKS has the token's key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[ISSUER]);
    let verified = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .expect("the served key verifies the token");
    assert_eq!(
        verified.claims["sub"],
        "system:serviceaccount:default:robot"
    );
    // A token of another server does not verify.
    let (other, other_admin) = start().await;
    create_service_account(&other_admin, "default", "robot").await;
    let foreign = other
        .service_account_token("default", "robot", &[], Duration::from_secs(3600))
        .unwrap();
    assert!(
        jsonwebtoken::decode::<Value>(
            &foreign,
            &jsonwebtoken::DecodingKey::from_jwk(&jwks.keys[0]).unwrap(),
            &validation,
        )
        .is_err()
    );
    other.stop().await;
    dc.stop().await;
}

fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .arg("--request-timeout=20s")
        .args(args)
        .output()
        .expect("kubectl runs (scripts/prereqs checks it is installed)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_token_and_whoami() {
    let dir = tempfile::tempdir().unwrap();
    let dc = Devcluster::start(DevclusterConfig::durable(dir.path().join("data")))
        .await
        .unwrap();
    let admin_kubeconfig = dc.kubeconfig_path.clone().unwrap();
    let (ok, _, err) = kubectl(&admin_kubeconfig, &["create", "serviceaccount", "robot"]);
    assert!(ok, "{err}");
    let (ok, _, err) = kubectl(
        &admin_kubeconfig,
        &[
            "create",
            "rolebinding",
            "robot-view",
            "--clusterrole=view",
            "--serviceaccount=default:robot",
        ],
    );
    assert!(ok, "{err}");

    let (ok, token, err) = kubectl(&admin_kubeconfig, &["create", "token", "robot"]);
    assert!(ok, "{err}");
    let token = token.trim().to_string();
    let c = claims(&token);
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        3600
    );
    let (ok, token_20m, err) = kubectl(
        &admin_kubeconfig,
        &[
            "create",
            "token",
            "robot",
            "-n",
            "default",
            "--duration",
            "20m",
            "--audience",
            "vault",
        ],
    );
    assert!(ok, "{err}");
    let c = claims(token_20m.trim());
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        1200
    );
    assert_eq!(c["aud"], json!(["vault"]));
    let (ok, _, err) = kubectl(
        &admin_kubeconfig,
        &["create", "token", "robot", "--duration", "5m"],
    );
    assert!(!ok);
    assert!(
        err.contains("may not specify a duration less than 10 minutes"),
        "{err}"
    );

    let token_kubeconfig = dir.path().join("robot.kubeconfig");
    std::fs::write(&token_kubeconfig, dc.token_kubeconfig(&token)).unwrap();
    let (ok, out, err) = kubectl(&token_kubeconfig, &["auth", "whoami", "-o", "json"]);
    assert!(ok, "{err}");
    let review: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        review["status"]["userInfo"]["username"],
        "system:serviceaccount:default:robot"
    );
    assert_eq!(
        review["status"]["userInfo"]["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ])
    );
    let (ok, out, err) = kubectl(&token_kubeconfig, &["get", "configmaps", "-o", "name"]);
    assert!(ok, "{err}");
    assert!(out.contains("configmap/kube-root-ca.crt"), "{out}");
    dc.stop().await;
}
