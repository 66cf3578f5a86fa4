//! A workload identity cluster (API 2025-07-25) from create to delete, as ARO provisions one: its
//! OIDC issuer serves the discovery document and JWKS over HTTP, each platform identity gets one
//! federated credential per ServiceAccount of its role and its roles on the cluster resource
//! group, the group is locked by a deny assignment (a customer's write there is refused with
//! ARM's 403, the RP's own work goes on), an update that re-points an identity moves its
//! credentials and roles, and the delete leaves no credentials and no issuer documents.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use arm_emulator::{EmulatorHandle, Principal, Seed, SeedResource, demo};
use aro_local::{LocalConfig, LocalSystem};
use crds::management::PlatformWorkloadIdentityRoleSet;
use e2e::{Arm, cluster_body, cluster_resource_group_id, demo_network};
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(90);
const API: &str = "2025-07-25";
const NAME: &str = "wi";

/// An unrestricted principal of the customer's (an Owner of the subscription, say).
const CUSTOMER_CLIENT_ID: &str = "00000000-0000-0000-0000-0000000000e1";
const CUSTOMER_SECRET: &str = "customer-secret";
const CUSTOMER_OBJECT_ID: &str = "00000000-0000-0000-0000-0000000000e2";

fn msi(name: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/msi-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
        demo::SUBSCRIPTION
    )
}

fn emulator(system: &LocalSystem) -> &EmulatorHandle {
    system.emulator.as_ref().expect("an in-process emulator")
}

/// Resources of the emulator whose type is `type_` (case-insensitive).
fn of_type(emulator: &EmulatorHandle, type_: &str) -> Vec<Value> {
    emulator
        .resources()
        .into_iter()
        .filter(|r| {
            r["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(type_))
        })
        .collect()
}

/// Federated credentials by identity id (lowercase): their (subject, issuer).
type Credentials = BTreeMap<String, Vec<(String, String)>>;
/// (principal, role GUID) pairs.
type Grants = BTreeSet<(String, String)>;

/// The emulator's federated credentials.
fn federated_credentials(emulator: &EmulatorHandle) -> Credentials {
    let mut out = Credentials::new();
    for c in of_type(
        emulator,
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
    ) {
        let id = c["id"].as_str().unwrap().to_ascii_lowercase();
        let identity = id.split("/federatedidentitycredentials/").next().unwrap();
        assert_eq!(c["properties"]["audiences"], json!(["openshift"]), "{c}");
        out.entry(identity.to_string()).or_default().push((
            c["properties"]["subject"].as_str().unwrap().to_string(),
            c["properties"]["issuer"].as_str().unwrap().to_string(),
        ));
    }
    out
}

/// The role set of the local version: operator -> (role GUID, ServiceAccounts).
async fn role_set(system: &LocalSystem) -> BTreeMap<String, (String, Vec<String>)> {
    let api: Api<PlatformWorkloadIdentityRoleSet> = Api::all(system.client.clone());
    let sets = api.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(sets.len(), 1, "aro local seeds one role set");
    sets[0]
        .spec
        .platform_workload_identity_roles
        .iter()
        .map(|r| {
            let guid = r
                .role_definition_id
                .rsplit('/')
                .next()
                .unwrap()
                .to_ascii_lowercase();
            (r.operator_name.clone(), (guid, r.service_accounts.clone()))
        })
        .collect()
}

/// Principal ids of the identities, by resource id (lowercase).
fn principal_ids(emulator: &EmulatorHandle) -> BTreeMap<String, String> {
    of_type(emulator, "Microsoft.ManagedIdentity/userAssignedIdentities")
        .into_iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_ascii_lowercase(),
                i["properties"]["principalId"]
                    .as_str()
                    .unwrap()
                    .to_ascii_lowercase(),
            )
        })
        .collect()
}

/// (principal, role GUID) of every role assignment at the cluster resource group.
fn grants_at_cluster_group(emulator: &EmulatorHandle) -> Grants {
    let scope = cluster_resource_group_id(NAME).to_ascii_lowercase();
    of_type(emulator, "Microsoft.Authorization/roleAssignments")
        .into_iter()
        .filter(|a| {
            a["properties"]["scope"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase()
                == scope
        })
        .map(|a| {
            let role = a["properties"]["roleDefinitionId"].as_str().unwrap();
            (
                a["properties"]["principalId"]
                    .as_str()
                    .unwrap()
                    .to_ascii_lowercase(),
                role.rsplit('/').next().unwrap().to_ascii_lowercase(),
            )
        })
        .collect()
}

/// What the role set asks for, given which identity each operator uses.
fn expected(
    roles: &BTreeMap<String, (String, Vec<String>)>,
    identities: &BTreeMap<String, String>,
    principals: &BTreeMap<String, String>,
    issuer: &str,
) -> (Credentials, Grants) {
    let mut credentials = BTreeMap::new();
    let mut grants = BTreeSet::new();
    for (operator, (guid, accounts)) in roles {
        let identity = identities[operator].to_ascii_lowercase();
        let mut subjects: Vec<(String, String)> = accounts
            .iter()
            .map(|a| (a.clone(), issuer.to_string()))
            .collect();
        subjects.sort();
        credentials.insert(identity.clone(), subjects);
        grants.insert((principals[&identity].clone(), guid.clone()));
    }
    (credentials, grants)
}

fn sorted(mut m: Credentials) -> Credentials {
    m.values_mut().for_each(|v| v.sort());
    m
}

async fn customer_token(emulator: &EmulatorHandle) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            emulator.base_url,
            demo::TENANT
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CUSTOMER_CLIENT_ID),
            ("client_secret", CUSTOMER_SECRET),
            ("scope", "https://management.azure.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_workload_identity_cluster_gets_its_issuer_credentials_roles_and_lock_and_delete_removes_them()
 {
    let system = LocalSystem::start(LocalConfig {
        settings: e2e::fast_settings(),
        lease_duration: Duration::from_secs(3),
        ..Default::default()
    })
    .await
    .expect("the local system starts");
    let emulator = emulator(&system);
    let roles = role_set(&system).await;

    // The customer's identities: one per platform operator, a spare, and the cluster's own.
    let mut names: Vec<String> = roles.keys().map(|o| o.to_ascii_lowercase()).collect();
    names.extend(["spare".to_string(), "cluster".to_string()]);
    let mut resources = vec![SeedResource {
        id: format!(
            "/subscriptions/{}/resourceGroups/msi-rg",
            demo::SUBSCRIPTION
        ),
        body: json!({"location": demo::LOCATION}),
    }];
    resources.extend(names.iter().map(|n| SeedResource {
        id: msi(n),
        body: json!({"location": demo::LOCATION}),
    }));
    emulator
        .seed(&Seed {
            principals: vec![Principal {
                client_id: CUSTOMER_CLIENT_ID.into(),
                client_secret: Some(CUSTOMER_SECRET.into()),
                federated_token: None,
                object_id: CUSTOMER_OBJECT_ID.into(),
                tenant_id: None,
                restricted: false,
            }],
            resources,
            ..Default::default()
        })
        .unwrap();

    let mut identities: BTreeMap<String, String> = roles
        .keys()
        .map(|o| (o.clone(), msi(&o.to_ascii_lowercase())))
        .collect();
    let mut body = cluster_body(NAME, &demo_network());
    body["properties"]
        .as_object_mut()
        .unwrap()
        .remove("servicePrincipalProfile");
    body["properties"]["platformWorkloadIdentityProfile"] = json!({
        "platformWorkloadIdentities": identities
            .iter()
            .map(|(o, id)| (o.clone(), json!({"resourceId": id})))
            .collect::<serde_json::Map<_, _>>(),
    });
    body["identity"] =
        json!({"type": "UserAssigned", "userAssignedIdentities": {msi("cluster"): {}}});

    let arm = Arm::new(&system.frontend_url);
    let accepted = arm.put_version(NAME, &body, API).await.unwrap();
    assert_eq!(accepted.status, 201, "{}", accepted.body);
    arm.until_succeeded(NAME, T).await;

    // The issuer: on GET, and serving its documents over plain HTTP GET.
    let cluster = arm.get_version(NAME, API).await.unwrap().body;
    let issuer = cluster["properties"]["clusterProfile"]["oidcIssuer"]
        .as_str()
        .unwrap_or_else(|| panic!("no oidcIssuer: {cluster}"))
        .to_string();
    assert!(
        issuer.starts_with(&format!("{}/_web/", emulator.base_url)),
        "{issuer}"
    );
    let http = reqwest::Client::new();
    let discovery: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], issuer.as_str());
    let jwks: Value = http
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1, "{jwks}");
    assert_eq!(jwks["keys"][0]["use"], "sig");

    // One credential per identity and ServiceAccount; the role set's roles on the group.
    let principals = principal_ids(emulator);
    let (credentials, grants) = expected(&roles, &identities, &principals, &issuer);
    assert_eq!(sorted(federated_credentials(emulator)), credentials);
    assert_eq!(grants_at_cluster_group(emulator), grants);

    // Each identity's Secret in the cluster, where the role set says its operator reads it.
    let admin = arm.action(NAME, "listAdminCredentials").await.unwrap();
    let kubeconfig =
        rp_controller::actions::decode_kubeconfig(admin.body["kubeconfig"].as_str().unwrap())
            .unwrap();
    let in_cluster = e2e::kube_client_from(&kubeconfig).await.unwrap();
    let client_ids: BTreeMap<String, String> =
        of_type(emulator, "Microsoft.ManagedIdentity/userAssignedIdentities")
            .into_iter()
            .map(|i| {
                (
                    i["id"].as_str().unwrap().to_ascii_lowercase(),
                    i["properties"]["clientId"].as_str().unwrap().to_string(),
                )
            })
            .collect();
    // GET shows each platform identity's client and object id, as Azure gave them.
    for (operator, shown) in
        cluster["properties"]["platformWorkloadIdentityProfile"]["platformWorkloadIdentities"]
            .as_object()
            .unwrap_or_else(|| panic!("no platform identities: {cluster}"))
    {
        let id = shown["resourceId"].as_str().unwrap().to_ascii_lowercase();
        assert_eq!(shown["clientId"], client_ids[&id].as_str(), "{operator}");
        assert_eq!(
            shown["objectId"].as_str().map(str::to_ascii_lowercase),
            Some(principals[&id].clone()),
            "{operator}: {shown}"
        );
    }
    let secret: k8s_openapi::api::core::v1::Secret =
        Api::namespaced(in_cluster, "openshift-cloud-controller-manager")
            .get("azure-cloud-credentials")
            .await
            .unwrap();
    let data = secret.data.unwrap_or_default();
    let value = |k: &str| String::from_utf8(data[k].0.clone()).unwrap();
    assert_eq!(
        value("azure_client_id"),
        client_ids[&msi("cloudcontrollermanager").to_ascii_lowercase()]
    );
    assert_eq!(value("azure_tenant_id"), demo::TENANT);
    assert_eq!(
        value("azure_federated_token_file"),
        "/var/run/secrets/openshift/serviceaccount/token"
    );

    // The lock: the customer (allowed everything by roles) may not write or delete in the group.
    let token = customer_token(emulator).await;
    let nsg = format!(
        "{}/providers/Microsoft.Network/networkSecurityGroups/customer-nsg?api-version=2024-03-01",
        cluster_resource_group_id(NAME)
    );
    let refused = http
        .put(format!("{}{nsg}", emulator.base_url))
        .bearer_auth(&token)
        .json(&json!({"location": demo::LOCATION}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(
        error["error"]["code"], "DenyAssignmentAuthorizationFailed",
        "{error}"
    );
    let group_delete = http
        .delete(format!(
            "{}{}?api-version=2021-04-01",
            emulator.base_url,
            cluster_resource_group_id(NAME)
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(group_delete.status(), 403);
    // ... but may read there, and write elsewhere.
    let read = http
        .get(format!(
            "{}{}?api-version=2021-04-01",
            emulator.base_url,
            cluster_resource_group_id(NAME)
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);

    // Update: an operator's identity re-pointed to the spare one moves its credentials and roles.
    let moved = roles.keys().next().unwrap().clone();
    identities.insert(moved.clone(), msi("spare"));
    let patch = json!({"properties": {"platformWorkloadIdentityProfile": {
        "platformWorkloadIdentities": {moved.clone(): {"resourceId": msi("spare")}}}}});
    let accepted = arm.patch_version(NAME, &patch, API).await.unwrap();
    assert!(matches!(accepted.status, 200 | 202), "{}", accepted.body);
    arm.until_succeeded(NAME, T).await;
    let (credentials, grants) = expected(&roles, &identities, &principals, &issuer);
    assert_eq!(sorted(federated_credentials(emulator)), credentials);
    assert_eq!(grants_at_cluster_group(emulator), grants);
    assert!(!credentials.contains_key(&msi(&moved.to_ascii_lowercase()).to_ascii_lowercase()));

    // Delete: the RP deletes what the lock keeps from everyone else, then nothing is left.
    let accepted = arm.delete(NAME).await.unwrap();
    assert!(matches!(accepted.status, 200 | 202), "{}", accepted.body);
    arm.wait_gone(NAME, T).await.unwrap();
    assert_eq!(federated_credentials(emulator), BTreeMap::new());
    assert!(
        emulator.blob_names("arolocaloidc").is_empty(),
        "{:?}",
        emulator.blob_names("arolocaloidc")
    );
    let gone = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert!(e2e::cluster_resources(emulator, NAME).is_empty());
}
