//! Managed identities and their federated credentials, storage accounts' Blob service and static
//! website, and deny assignments, over real HTTP.

use arm_emulator::{ArmEmulator, EmulatorConfig, EmulatorHandle, Principal, Seed, demo};
use serde_json::{Value, json};

const OWNER_CLIENT_ID: &str = "00000000-0000-0000-0000-0000000000d1";
const OWNER_SECRET: &str = "owner-secret";
const OWNER_OBJECT_ID: &str = "00000000-0000-0000-0000-0000000000d2";

async fn emulator() -> EmulatorHandle {
    let emulator = ArmEmulator::start(EmulatorConfig {
        seeds: vec![demo::seed()],
        lro_delay: std::time::Duration::ZERO,
        lro_retry_after_secs: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    // A customer allowed everything by its roles (an Owner).
    emulator
        .seed(&Seed {
            principals: vec![Principal {
                client_id: OWNER_CLIENT_ID.into(),
                client_secret: Some(OWNER_SECRET.into()),
                federated_token: None,
                object_id: OWNER_OBJECT_ID.into(),
                tenant_id: None,
                restricted: false,
            }],
            ..Default::default()
        })
        .unwrap();
    emulator
}

async fn token(base: &str, client_id: &str, secret: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{base}/{}/oauth2/v2.0/token", demo::TENANT))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    async fn as_principal(e: &EmulatorHandle, client_id: &str, secret: &str) -> Self {
        Self {
            base: e.base_url.clone(),
            token: token(&e.base_url, client_id, secret).await,
            http: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        api: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}?api-version={api}", self.base);
        let mut req = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let rsp = req.send().await.unwrap();
        let status = rsp.status().as_u16();
        let text = rsp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

const MSI_API: &str = "2023-01-31";

fn identity(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
        demo::resource_group_id()
    )
}

#[tokio::test]
async fn identities_get_stable_ids_and_federated_credentials_are_validated() {
    let e = emulator().await;
    let rp = Client::as_principal(&e, demo::RP_CLIENT_ID, demo::RP_CLIENT_SECRET).await;
    let id = identity("ccm");
    let (status, created) = rp
        .call(
            reqwest::Method::PUT,
            &id,
            MSI_API,
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let props = &created["properties"];
    assert!(uuid::Uuid::parse_str(props["clientId"].as_str().unwrap()).is_ok());
    assert!(uuid::Uuid::parse_str(props["principalId"].as_str().unwrap()).is_ok());
    assert_eq!(props["tenantId"], demo::TENANT);
    // A second PUT keeps the ids.
    let (_, again) = rp
        .call(
            reqwest::Method::PUT,
            &id,
            MSI_API,
            Some(json!({"location": "eastus", "tags": {"a": "b"}})),
        )
        .await;
    assert_eq!(again["properties"]["clientId"], props["clientId"]);
    assert_eq!(again["properties"]["principalId"], props["principalId"]);

    let fic = |name: &str| format!("{id}/federatedIdentityCredentials/{name}");
    let body = |issuer: &str, subject: &str, audiences: Value| json!({"properties": {"issuer": issuer, "subject": subject, "audiences": audiences}});
    let good = body(
        "https://oidc.example/t/c",
        "system:serviceaccount:ns:sa",
        json!(["openshift"]),
    );
    let (status, stored) = rp
        .call(
            reqwest::Method::PUT,
            &fic("one"),
            MSI_API,
            Some(good.clone()),
        )
        .await;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(
        stored["properties"]["subject"],
        "system:serviceaccount:ns:sa"
    );
    for bad in [
        body("http://oidc.example/t/c", "s", json!(["openshift"])),
        body("https://oidc.example/t/c", "", json!(["openshift"])),
        body("https://oidc.example/t/c", "s", json!(["a", "b"])),
        body("https://oidc.example/t/c", "s", json!([])),
        // The same issuer and subject as "one".
        good.clone(),
    ] {
        let (status, error) = rp
            .call(
                reqwest::Method::PUT,
                &fic("two"),
                MSI_API,
                Some(bad.clone()),
            )
            .await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (400, Some("BadRequest")),
            "{bad}: {error}"
        );
    }
    let (status, listed) = rp
        .call(
            reqwest::Method::GET,
            &format!("{id}/federatedIdentityCredentials"),
            MSI_API,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["value"].as_array().unwrap().len(), 1);
    let (status, _) = rp
        .call(reqwest::Method::GET, &fic("missing"), MSI_API, None)
        .await;
    assert_eq!(status, 404);
    // Deleting the identity deletes its credentials.
    let (status, _) = rp.call(reqwest::Method::DELETE, &id, MSI_API, None).await;
    assert!(matches!(status, 200 | 204), "{status}");
    assert!(e.resources().iter().all(|r| {
        !r["id"]
            .as_str()
            .unwrap()
            .contains("federatedIdentityCredentials")
    }));
}

#[tokio::test]
async fn a_storage_accounts_blobs_are_written_with_a_token_and_its_website_serves_web() {
    let e = emulator().await;
    let rp = Client::as_principal(&e, demo::RP_CLIENT_ID, demo::RP_CLIENT_SECRET).await;
    let account = format!(
        "{}/providers/Microsoft.Storage/storageAccounts/oidcacct",
        demo::resource_group_id()
    );
    let (status, _) = rp
        .call(
            reqwest::Method::PUT,
            &account,
            "2023-05-01",
            Some(json!({"location": "eastus", "kind": "StorageV2"})),
        )
        .await;
    assert!((200..=202).contains(&status), "{status}");
    let mut stored = Value::Null;
    for _ in 0..100 {
        stored = rp
            .call(reqwest::Method::GET, &account, "2023-05-01", None)
            .await
            .1;
        if stored["properties"]["provisioningState"] == "Succeeded" {
            break;
        }
        tokio::task::yield_now().await;
    }
    let blob = stored["properties"]["primaryEndpoints"]["blob"]
        .as_str()
        .unwrap()
        .to_string();
    let web = stored["properties"]["primaryEndpoints"]["web"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(blob, format!("{}/_blob/oidcacct/", e.base_url));
    let http = reqwest::Client::new();
    let url = format!("{blob}$web/t/c/.well-known/openid-configuration");
    // Without a token, or without the blob type: refused.
    let anonymous = http
        .put(&url)
        .header("x-ms-blob-type", "BlockBlob")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let untyped = http
        .put(&url)
        .bearer_auth(&rp.token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(untyped.status(), 400);
    assert_eq!(
        untyped.headers()["x-ms-error-code"],
        "MissingRequiredHeader"
    );
    let put = http
        .put(&url)
        .bearer_auth(&rp.token)
        .header("x-ms-blob-type", "BlockBlob")
        .header("content-type", "application/json")
        .body(r#"{"issuer":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    // The static website serves it anonymously, with its content type.
    let served = http
        .get(format!("{web}t/c/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "application/json");
    assert_eq!(served.text().await.unwrap(), r#"{"issuer":"x"}"#);
    assert_eq!(
        e.blob_names("oidcacct"),
        vec!["$web/t/c/.well-known/openid-configuration".to_string()]
    );
    let deleted = http
        .delete(&url)
        .bearer_auth(&rp.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 202);
    let again = http
        .delete(&url)
        .bearer_auth(&rp.token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    assert_eq!(again.headers()["x-ms-error-code"], "BlobNotFound");
    let gone = http
        .get(format!("{web}t/c/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    // An account that does not exist has no data plane.
    let none = http
        .get(format!("{}/_web/nosuchacct/x", e.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 404);
}

#[tokio::test]
async fn a_deny_assignment_refuses_writes_to_everyone_but_its_excluded_principals() {
    let e = emulator().await;
    let rp = Client::as_principal(&e, demo::RP_CLIENT_ID, demo::RP_CLIENT_SECRET).await;
    let owner = Client::as_principal(&e, OWNER_CLIENT_ID, OWNER_SECRET).await;
    let group = format!(
        "/subscriptions/{}/resourceGroups/locked",
        demo::SUBSCRIPTION
    );
    let (status, _) = rp
        .call(
            reqwest::Method::PUT,
            &group,
            "2021-04-01",
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert_eq!(status, 201);
    let deny = format!(
        "{group}/providers/Microsoft.Authorization/denyAssignments/00000000-0000-0000-0000-00000000dddd"
    );
    let body = json!({"properties": {
        "denyAssignmentName": "locked group",
        "permissions": [{"actions": ["*/write", "*/delete", "*/action"], "notActions": ["Microsoft.Resources/tags/*"]}],
        "principals": [{"id": "00000000-0000-0000-0000-000000000000", "type": "SystemDefined"}],
        "excludePrincipals": [{"id": demo::RP_OBJECT_ID, "type": "ServicePrincipal"}],
        "isSystemProtected": true,
    }});
    // Malformed: no principals.
    let mut bad = body.clone();
    bad["properties"]["principals"] = json!([]);
    let (status, error) = rp
        .call(reqwest::Method::PUT, &deny, "2022-04-01", Some(bad))
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("InvalidDenyAssignment"))
    );
    let (status, stored) = rp
        .call(reqwest::Method::PUT, &deny, "2022-04-01", Some(body))
        .await;
    assert!(matches!(status, 200 | 201), "{stored}");
    assert_eq!(stored["properties"]["scope"], group.as_str());

    let nsg =
        |name: &str| format!("{group}/providers/Microsoft.Network/networkSecurityGroups/{name}");
    let (status, error) = owner
        .call(
            reqwest::Method::PUT,
            &nsg("customer"),
            "2024-03-01",
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert_eq!(status, 403, "{error}");
    assert_eq!(error["error"]["code"], "DenyAssignmentAuthorizationFailed");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(OWNER_OBJECT_ID) && message.contains("locked group"),
        "{message}"
    );
    // The excluded RP writes; the owner still reads, and is still refused deletes.
    let (status, _) = rp
        .call(
            reqwest::Method::PUT,
            &nsg("rp"),
            "2024-03-01",
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert!(matches!(status, 200 | 201), "{status}");
    let (status, _) = owner
        .call(reqwest::Method::GET, &group, "2021-04-01", None)
        .await;
    assert_eq!(status, 200);
    for path in [nsg("rp"), group.clone(), deny.clone()] {
        let (status, error) = owner
            .call(reqwest::Method::DELETE, &path, "2022-04-01", None)
            .await;
        assert_eq!(status, 403, "{path}: {error}");
    }
    // Outside the scope nothing is denied.
    let elsewhere = format!(
        "{}/providers/Microsoft.Network/networkSecurityGroups/free",
        demo::resource_group_id()
    );
    let (status, _) = owner
        .call(
            reqwest::Method::PUT,
            &elsewhere,
            "2024-03-01",
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert!(matches!(status, 200 | 201), "{status}");
    // The RP deletes the group, and the lock with it.
    let (status, _) = rp
        .call(reqwest::Method::DELETE, &group, "2021-04-01", None)
        .await;
    assert!(matches!(status, 200 | 202), "{status}");
}
