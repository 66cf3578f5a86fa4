//! The cluster's identity and credentials: its SSH key, kubeadmin password and admin kubeconfig
//! in the credentials Secret of the management cluster, and the customer's service principal as
//! handed to the cluster (the cloud provider's `azure-credentials`, the operator's identity
//! Secret), authenticated in the customer's tenant.

use std::collections::BTreeMap;
use std::time::Duration;

use aro_common::{ResourceId, Secret as AroSecret};
use azure_clients::{AzureClients, AzureConfig, Credentials};
use base64::Engine;
use crds::ArmError;
use crds::SecretReference;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Resource, ResourceExt};

use super::{
    ADMIN_KUBECONFIG_KEY, CLIENT_SECRET_KEY, KUBEADMIN_PASSWORD_KEY, SSH_KEY_KEY, StepEnv,
    USER_ADMIN_KUBECONFIG_KEY, credentials_secret_name, kube_outcome, runtime_outcome,
};
use crate::azure::{self, StepResult};
use crate::cluster_runtime::USER_ADMIN_KUBECONFIG_VALIDITY;
use crate::cluster_runtime::seed::{
    AZURE_CREDENTIALS_NAMESPACE, AZURE_CREDENTIALS_SECRET, AzureCredentials,
    CLOUD_CREDENTIAL_OPERATOR_NAMESPACE, CLOUD_CREDENTIAL_OPERATOR_SELECTOR,
};
use crate::context::Context;
use crate::steps::Outcome;

/// The tenant of the cluster's subscription as ARM registered it (the `Subscription`'s
/// `tenantId`): the customer's directory, where the cluster's service principal must live. The
/// RP's own tenant is never used for it: a principal of the RP's directory (or of a third one) is
/// not the customer's to hand to a cluster.
pub(super) async fn customer_tenant(env: &StepEnv<'_>) -> StepResult<String> {
    use crds::management::Subscription;
    let subscription = env.cluster.spec.subscription_id.to_ascii_lowercase();
    let api: Api<Subscription> = Api::all(env.ctx.client.clone());
    let registered = api
        .get_opt(&subscription)
        .await
        .map_err(|e| kube_outcome(&e))?;
    registered
        .and_then(|s| s.spec.tenant_id)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            tracing::error!(%subscription, "the subscription has no registered tenant");
            Outcome::Failed(ArmError::new(
                "InvalidSubscriptionState",
                format!(
                    "The subscription '{subscription}' has no registered tenant, so the cluster's service principal cannot be validated."
                ),
            ))
        })
}

/// Clients acting as the cluster's service principal, authenticating in `tenant_id` (the
/// customer's).
pub(super) fn cluster_sp_clients(
    ctx: &Context,
    tenant_id: &str,
    client_id: &str,
    secret: &AroSecret,
) -> StepResult<AzureClients> {
    let base: &AzureConfig = ctx.azure.config();
    let mut config = AzureConfig::new(
        base.arm_endpoint.clone(),
        base.authority_host.clone(),
        tenant_id,
        Credentials::ClientSecret {
            client_id: client_id.to_string(),
            client_secret: secret.clone(),
        },
        base.subscription_id.clone(),
    );
    config.scope = base.scope.clone();
    config.retry = base.retry.clone();
    config.request_timeout = base.request_timeout;
    AzureClients::new(config).map_err(|e| azure::outcome_of(&e))
}

/// Create the credentials Secret if needed and set the given keys (those in `only_if_absent`
/// are kept when already present).
pub(super) async fn upsert_credentials(
    env: &mut StepEnv<'_>,
    values: Vec<(&str, AroSecret)>,
    only_if_absent: bool,
) -> StepResult<()> {
    let name = credentials_secret_name(&env.cluster.name_any());
    let ns = env.namespace();
    let api: Api<Secret> = Api::namespaced(env.ctx.client.clone(), &ns);
    for _ in 0..5 {
        let existing = api.get_opt(&name).await.map_err(|e| kube_outcome(&e))?;
        let mut secret = existing.clone().unwrap_or_else(|| Secret {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                owner_references: env.cluster.controller_owner_ref(&()).map(|o| vec![o]),
                labels: Some(env.cluster.labels().clone()),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            ..Default::default()
        });
        let data = secret.data.get_or_insert_with(BTreeMap::new);
        let mut changed = existing.is_none();
        for (key, value) in &values {
            if only_if_absent && data.contains_key(*key) {
                continue;
            }
            let bytes = ByteString(value.expose().clone().into_bytes());
            if data.get(*key) != Some(&bytes) {
                data.insert(key.to_string(), bytes);
                changed = true;
            }
        }
        if !changed {
            break;
        }
        let result = if existing.is_some() {
            api.replace(&name, &PostParams::default(), &secret).await
        } else {
            api.create(&PostParams::default(), &secret).await
        };
        match result {
            Ok(_) => break,
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(e) => return Err(kube_outcome(&e)),
        }
    }
    env.status.credentials_ref = Some(SecretReference { name });
    Ok(())
}

/// The cluster's SSH private key (PKCS#8 PEM, ECDSA P-256, what rcgen generates), made once;
/// the install-config's `sshKey` is its OpenSSH public key
/// ([`crate::cluster_runtime::installer::openssh_public_key`]).
pub(super) async fn ensure_ssh_key(env: &mut StepEnv<'_>) -> StepResult<()> {
    let key = rcgen::KeyPair::generate().map_err(|e| {
        Outcome::Failed(ArmError::new(
            "InternalServerError",
            format!("Generating the cluster's SSH key failed: {e}"),
        ))
    })?;
    upsert_credentials(env, vec![(SSH_KEY_KEY, key.serialize_pem().into())], true).await
}

/// The kubeadmin password the runtime reports, the RP's admin kubeconfig and a fresh user-admin
/// kubeconfig (listAdminCredentials') in the credentials Secret. Also the certificates renewal
/// task's step: it issues a new user-admin kubeconfig each time.
pub(super) async fn generate_kubeconfigs(env: &mut StepEnv<'_>) -> StepResult<()> {
    let infra_id = env.infra_id()?;
    let runtime = env.ctx.runtime.clone();
    let access = runtime
        .resume(&infra_id)
        .await
        .map_err(|e| runtime_outcome(&e))?
        .ok_or_else(|| env.poll(Duration::from_secs(1)))?;
    // listCredentials hands out the cluster's own password, never one the RP made up.
    let password = access.kubeadmin_password.ok_or_else(|| {
        runtime_outcome(&crate::Error::Runtime(format!(
            "the {} runtime has not reported the cluster's kubeadmin password",
            runtime.name()
        )))
    })?;
    let user_admin = runtime
        .user_admin_kubeconfig(&infra_id, USER_ADMIN_KUBECONFIG_VALIDITY)
        .await
        .map_err(|e| runtime_outcome(&e))?
        .ok_or_else(|| env.poll(Duration::from_secs(1)))?;
    upsert_credentials(
        env,
        vec![
            (KUBEADMIN_PASSWORD_KEY, password),
            (ADMIN_KUBECONFIG_KEY, access.admin_kubeconfig),
            (USER_ADMIN_KUBECONFIG_KEY, user_admin),
        ],
        false,
    )
    .await
}

/// The field manager of what the RP applies inside a cluster (ARO-RP's).
const FIELD_MANAGER: &str = "aro-rp";
/// The ARO operator's CredentialsRequest.
pub const ARO_CREDENTIALS_REQUEST: &str = "openshift-azure-operator";

fn credentials_request_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cloudcredential.openshift.io", "v1", "CredentialsRequest"),
        "credentialsrequests",
    )
}

/// The ARO operator's CredentialsRequest, as ARO-RP's operator deployer ensures it
/// (pkg/operator/deploy/staticresources/credentialsrequest.yaml): the permissions the operator's
/// controllers use, its Secret in the operator's namespace. Pure.
pub fn aro_credentials_request() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "cloudcredential.openshift.io/v1",
        "kind": "CredentialsRequest",
        "metadata": {
            "name": ARO_CREDENTIALS_REQUEST,
            "namespace": CLOUD_CREDENTIAL_OPERATOR_NAMESPACE,
            "labels": {"controller-tools.k8s.io": "1.0"},
            "annotations": {
                "exclude.release.openshift.io/internal-openshift-hosted": "true",
                "include.release.openshift.io/self-managed-high-availability": "true",
            },
        },
        "spec": {
            "providerSpec": {
                "apiVersion": "cloudcredential.openshift.io/v1",
                "kind": "AzureProviderSpec",
                "permissions": [
                    "Microsoft.Storage/storageAccounts/listKeys/action",
                    "Microsoft.Storage/storageAccounts/read",
                    "Microsoft.Network/virtualNetworks/subnets/read",
                    "Microsoft.Network/virtualNetworks/subnets/write",
                    "Microsoft.Network/natGateways/join/action",
                    "Microsoft.Network/routeTables/join/action",
                    "Microsoft.Network/networkSecurityGroups/join/action",
                    "Microsoft.Network/serviceEndpointPolicies/join/action",
                    "Microsoft.Network/networkIntentPolicies/join/action",
                    "Microsoft.Network/networkManagers/ipamPools/associateResourcesToPool/action",
                ],
            },
            "secretRef": {"name": "azure-cloud-credentials", "namespace": aro_operator::OPERATOR_NAMESPACE},
            "serviceAccountNames": ["aro-operator-master"],
        },
    })
}

/// Update: the ARO operator's CredentialsRequest exists as ARO-RP defines it.
pub(super) async fn ensure_credentials_request(env: &mut StepEnv<'_>) -> StepResult<()> {
    if env.cluster.spec.service_principal_profile.is_none() {
        return Ok(());
    }
    let infra_id = env.infra_id()?;
    let client = env.cluster_client(&infra_id).await?;
    let api: Api<DynamicObject> = Api::namespaced_with(
        client,
        CLOUD_CREDENTIAL_OPERATOR_NAMESPACE,
        &credentials_request_resource(),
    );
    api.patch(
        ARO_CREDENTIALS_REQUEST,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(aro_credentials_request()),
    )
    .await
    .map(|_| ())
    .map_err(|e| kube_outcome(&e))
}

/// Update (ARO-RP's `updateOpenShiftSecret`): hand the cluster the customer's current service
/// principal: `kube-system/azure-credentials` with all seven keys, by server-side apply (the
/// installer's other fields are kept), then restart the cloud-credential-operator so that it
/// passes the new credential through to every CredentialsRequest's Secret.
pub(super) async fn update_openshift_secret(env: &mut StepEnv<'_>) -> StepResult<()> {
    let infra_id = env.infra_id()?;
    let Some(sp) = env.cluster.spec.service_principal_profile.clone() else {
        return Ok(());
    };
    let secret = env
        .customer_secret(CLIENT_SECRET_KEY)
        .await?
        .unwrap_or_default();
    let client = env.cluster_client(&infra_id).await?;
    let tenant = customer_tenant(env).await?;
    let resource_group = env.names()?.resource_group;
    let applied = AzureCredentials {
        subscription_id: &env.cluster.spec.subscription_id,
        tenant_id: &tenant,
        resource_prefix: &infra_id,
        resource_group: &resource_group,
        region: &env.cluster.spec.location,
        client_id: &sp.client_id,
        client_secret: secret.expose_str(),
    }
    .secret();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), AZURE_CREDENTIALS_NAMESPACE);
    secrets
        .patch(
            AZURE_CREDENTIALS_SECRET,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(applied),
        )
        .await
        .map_err(|e| kube_outcome(&e))?;
    // Edge-triggered, as in ARO-RP: a failed restart is logged, not fatal (the operator still
    // syncs on its own resync, and the next step waits for it).
    let pods: Api<Pod> = Api::namespaced(client, CLOUD_CREDENTIAL_OPERATOR_NAMESPACE);
    if let Err(error) = pods
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels(CLOUD_CREDENTIAL_OPERATOR_SELECTOR),
        )
        .await
    {
        tracing::warn!(%error, infra_id, "restarting the cloud-credential-operator failed");
    }
    Ok(())
}

/// Wait (ARO-RP's `aroCredentialsRequestReconciled`): the cloud-credential-operator synced the ARO
/// operator's CredentialsRequest from the current `azure-credentials`. ARO-RP accepts a sync in
/// the last five minutes; the CredentialsRequest's `lastSyncCloudCredsSecretResourceVersion`
/// (which ARO-RP calls the neater check) says exactly whether it saw this version.
pub(super) async fn credentials_request_reconciled(env: &mut StepEnv<'_>) -> StepResult<()> {
    if env.cluster.spec.service_principal_profile.is_none() {
        return Ok(());
    }
    let infra_id = env.infra_id()?;
    let client = env.cluster_client(&infra_id).await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), AZURE_CREDENTIALS_NAMESPACE);
    let current = secrets
        .get_opt(AZURE_CREDENTIALS_SECRET)
        .await
        .map_err(|e| kube_outcome(&e))?
        .and_then(|s| s.metadata.resource_version);
    let requests: Api<DynamicObject> = Api::namespaced_with(
        client,
        CLOUD_CREDENTIAL_OPERATOR_NAMESPACE,
        &credentials_request_resource(),
    );
    let synced = requests
        .get_opt(ARO_CREDENTIALS_REQUEST)
        .await
        .map_err(|e| kube_outcome(&e))?
        .and_then(|r| {
            r.data["status"]["lastSyncCloudCredsSecretResourceVersion"]
                .as_str()
                .map(str::to_string)
        });
    if current.is_some() && synced == current {
        Ok(())
    } else {
        Err(env.poll(Duration::from_secs(2)))
    }
}

/// Name of the Secret in the operator's namespace holding its Azure identity (`AZURE_*`
/// variables, the master Deployment's `envFrom`).
pub const OPERATOR_CREDENTIALS_SECRET: &str = "aro-operator-azure-credentials";

/// The operator's Azure identity: the cluster's service principal in the customer's tenant,
/// against the RP's Azure endpoints.
pub(super) fn operator_credentials(
    env: &StepEnv<'_>,
    tenant_id: &str,
    client_id: &str,
    client_secret: &AroSecret,
) -> BTreeMap<String, String> {
    let azure = env.ctx.azure.config();
    let subscription =
        ResourceId::parse_resource_group(&env.cluster.spec.cluster_profile.resource_group_id)
            .map(|(sub, _)| sub)
            .unwrap_or_else(|_| azure.subscription_id.clone());
    BTreeMap::from([
        (
            "AZURE_ARM_ENDPOINT".to_string(),
            azure.arm_endpoint.to_string(),
        ),
        (
            "AZURE_AUTHORITY_HOST".to_string(),
            azure.authority_host.to_string(),
        ),
        ("AZURE_TENANT_ID".to_string(), tenant_id.to_string()),
        ("AZURE_SUBSCRIPTION_ID".to_string(), subscription),
        ("AZURE_CLIENT_ID".to_string(), client_id.to_string()),
        (
            "AZURE_CLIENT_SECRET".to_string(),
            client_secret.expose().clone(),
        ),
    ])
}

/// Write the operator's identity Secret (its namespace created if needed).
pub(super) async fn put_operator_credentials(
    client: &kube::Client,
    identity: BTreeMap<String, String>,
) -> StepResult<()> {
    use k8s_openapi::api::core::v1::Namespace;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(aro_operator::OPERATOR_NAMESPACE.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match namespaces.create(&PostParams::default(), &namespace).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(kube_outcome(&e)),
    }
    put_secret(
        client,
        aro_operator::OPERATOR_NAMESPACE,
        OPERATOR_CREDENTIALS_SECRET,
        identity,
    )
    .await
}

/// Create or replace a Secret with exactly `string_data`.
pub(super) async fn put_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    string_data: BTreeMap<String, String>,
) -> StepResult<()> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let result = match api.get_opt(name).await.map_err(|e| kube_outcome(&e))? {
        Some(mut current) => {
            current.string_data = Some(string_data);
            current.data = None;
            api.replace(name, &PostParams::default(), &current).await
        }
        None => {
            let desired = Secret {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    namespace: Some(namespace.into()),
                    ..Default::default()
                },
                string_data: Some(string_data),
                ..Default::default()
            };
            api.create(&PostParams::default(), &desired).await
        }
    };
    result.map(|_| ()).map_err(|e| kube_outcome(&e))
}

/// Decode a base64 kubeconfig (as listAdminCredentials returns it).
pub fn decode_kubeconfig(b64: &str) -> Option<String> {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::{
        Harness, NAMESPACE, RECORDED_KUBEADMIN_PASSWORD, RECORDED_USER_ADMIN_KUBECONFIG,
        RuntimeCall, cluster, cluster_with_service_principal, installing,
    };
    use crate::steps::StepId;
    use arm_emulator::demo;

    #[test]
    fn kubeconfigs_decode_from_base64() {
        assert_eq!(
            decode_kubeconfig("a2luZDogQ29uZmln").as_deref(),
            Some("kind: Config")
        );
        assert_eq!(decode_kubeconfig("not base64!"), None);
    }

    #[tokio::test]
    async fn the_credentials_secret_gets_a_key_once_and_a_fresh_kubeconfig_each_time() {
        let h = Harness::with_kube().await;
        let cluster = cluster();
        let mut status = installing();
        let name = credentials_secret_name("demo");
        assert_eq!(
            h.run(StepId::EnsureSshKey, &cluster, &mut status).await,
            Outcome::Done
        );
        assert_eq!(
            status.credentials_ref.as_ref().map(|r| r.name.as_str()),
            Some(name.as_str())
        );
        let first = h.secret_data(NAMESPACE, &name).await.unwrap();
        assert!(first[SSH_KEY_KEY].contains("PRIVATE KEY"));

        for step in [StepId::EnsureSshKey, StepId::GenerateKubeconfigs] {
            assert_eq!(h.run(step, &cluster, &mut status).await, Outcome::Done);
        }
        let second = h.secret_data(NAMESPACE, &name).await.unwrap();
        assert_eq!(second[SSH_KEY_KEY], first[SSH_KEY_KEY], "the key is kept");
        assert_eq!(
            second[ADMIN_KUBECONFIG_KEY],
            "apiVersion: v1\nkind: Config\n"
        );
        // The runtime's password and a user-admin kubeconfig for a year, not the RP's own.
        assert_eq!(second[KUBEADMIN_PASSWORD_KEY], RECORDED_KUBEADMIN_PASSWORD);
        assert_eq!(
            second[USER_ADMIN_KUBECONFIG_KEY],
            RECORDED_USER_ADMIN_KUBECONFIG
        );
        assert!(h.runtime_calls().iter().any(|c| matches!(
            c,
            RuntimeCall::UserAdminKubeconfig(v) if *v == USER_ADMIN_KUBECONFIG_VALIDITY
        )));
        assert_eq!(USER_ADMIN_KUBECONFIG_VALIDITY.as_secs(), 365 * 24 * 3600);

        // A renewal keeps the password and issues the user-admin kubeconfig again.
        assert_eq!(
            h.run(StepId::RenewCertificates, &cluster, &mut status)
                .await,
            Outcome::Done
        );
        let third = h.secret_data(NAMESPACE, &name).await.unwrap();
        assert_eq!(
            third[KUBEADMIN_PASSWORD_KEY],
            second[KUBEADMIN_PASSWORD_KEY]
        );
    }

    #[tokio::test]
    async fn rotation_applies_all_seven_keys_restarts_the_cco_and_waits_for_its_sync() {
        let h = Harness::with_kube().await;
        h.register_subscription(demo::TENANT).await;
        h.put_customer_secret(&[(CLIENT_SECRET_KEY, "rotated-secret")])
            .await;
        h.install_openshift_kind(
            "cloudcredential.openshift.io",
            "v1",
            "CredentialsRequest",
            "credentialsrequests",
        )
        .await;
        let cluster = cluster_with_service_principal();
        let mut status = installing();
        let kube = h.kube();
        // What the installer left: the Secret with a key of another writer, and the CCO's pod.
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(kube.clone());
        for ns in [
            CLOUD_CREDENTIAL_OPERATOR_NAMESPACE,
            AZURE_CREDENTIALS_NAMESPACE,
        ] {
            let _ = namespaces
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap(),
                )
                .await;
        }
        let secrets: Api<Secret> = Api::namespaced(kube.clone(), AZURE_CREDENTIALS_NAMESPACE);
        secrets
            .create(
                &PostParams::default(),
                &serde_json::from_value(serde_json::json!({
                    "metadata": {"name": AZURE_CREDENTIALS_SECRET},
                    "stringData": {"azure_client_id": "old", "installer_only": "kept"}
                }))
                .unwrap(),
            )
            .await
            .unwrap();
        let pods: Api<Pod> = Api::namespaced(kube.clone(), CLOUD_CREDENTIAL_OPERATOR_NAMESPACE);
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": "cloud-credential-operator-0",
                             "labels": {"app": "cloud-credential-operator"}},
                "spec": {"containers": [{"name": "cco", "image": "cco"}]}
            }))
            .unwrap(),
        )
        .await
        .unwrap();

        for step in [StepId::EnsureCredentialsRequest, StepId::RotateCredentials] {
            assert_eq!(
                h.run(step, &cluster, &mut status).await,
                Outcome::Done,
                "{step}"
            );
        }
        let cloud = h
            .secret_data(AZURE_CREDENTIALS_NAMESPACE, AZURE_CREDENTIALS_SECRET)
            .await
            .expect("the cloud credentials");
        assert_eq!(cloud["azure_client_id"], demo::CLUSTER_CLIENT_ID);
        assert_eq!(cloud["azure_client_secret"], "rotated-secret");
        assert_eq!(cloud["azure_tenant_id"], demo::TENANT);
        assert_eq!(cloud["azure_subscription_id"], cluster.spec.subscription_id);
        assert_eq!(cloud["azure_resource_prefix"], "demo-abcde");
        assert_eq!(cloud["azure_resourcegroup"], "aro-demo");
        assert_eq!(cloud["azure_region"], demo::LOCATION);
        assert_eq!(
            cloud["installer_only"], "kept",
            "server-side apply keeps other keys"
        );
        assert_eq!(cloud.len(), 8);
        assert!(
            pods.list(&Default::default())
                .await
                .unwrap()
                .items
                .is_empty(),
            "the cloud-credential-operator was restarted"
        );
        let requests: Api<DynamicObject> = Api::namespaced_with(
            kube.clone(),
            CLOUD_CREDENTIAL_OPERATOR_NAMESPACE,
            &credentials_request_resource(),
        );
        let request = requests.get(ARO_CREDENTIALS_REQUEST).await.unwrap();
        assert_eq!(
            request.data["spec"]["secretRef"]["namespace"],
            aro_operator::OPERATOR_NAMESPACE
        );

        // Until the CCO synced this version of the Secret, the update waits.
        let outcome = h
            .run_once(
                StepId::AroCredentialsRequestReconciled,
                &cluster,
                &mut status,
                None,
            )
            .await;
        assert!(matches!(outcome, Outcome::InProgress { .. }), "{outcome:?}");
        let version = secrets
            .get(AZURE_CREDENTIALS_SECRET)
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap();
        requests
            .patch_status(
                ARO_CREDENTIALS_REQUEST,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"status": {
                    "provisioned": true,
                    "lastSyncCloudCredsSecretResourceVersion": version,
                    "lastSyncTimestamp": "2026-12-07T00:00:00Z",
                }})),
            )
            .await
            .unwrap();
        assert_eq!(
            h.run(
                StepId::AroCredentialsRequestReconciled,
                &cluster,
                &mut status
            )
            .await,
            Outcome::Done
        );
    }

    #[tokio::test]
    async fn without_a_registered_tenant_the_service_principal_is_not_handed_over() {
        let h = Harness::with_kube().await;
        h.install_crd::<crds::management::Subscription>().await;
        h.put_customer_secret(&[(CLIENT_SECRET_KEY, "s")]).await;
        let mut status = installing();
        let Outcome::Failed(e) = h
            .run(
                StepId::RotateCredentials,
                &cluster_with_service_principal(),
                &mut status,
            )
            .await
        else {
            panic!("no tenant, no rotation");
        };
        assert_eq!(e.code, "InvalidSubscriptionState");
        // Without a service principal there is nothing to rotate.
        assert_eq!(
            h.run(StepId::RotateCredentials, &cluster(), &mut status)
                .await,
            Outcome::Done
        );
        assert_eq!(
            h.secret_data("kube-system", "azure-credentials").await,
            None
        );
    }
}
