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
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};

use super::{
    ADMIN_KUBECONFIG_KEY, CLIENT_SECRET_KEY, KUBEADMIN_PASSWORD_KEY, SSH_KEY_KEY, StepEnv,
    credentials_secret_name, kube_outcome, random_suffix, runtime_outcome,
};
use crate::azure::{self, StepResult};
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
async fn upsert_credentials(
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

pub(super) async fn generate_kubeconfigs(env: &mut StepEnv<'_>) -> StepResult<()> {
    let infra_id = env.infra_id()?;
    let access = env
        .ctx
        .runtime
        .resume(&infra_id)
        .await
        .map_err(|e| runtime_outcome(&e))?
        .ok_or_else(|| env.poll(Duration::from_secs(1)))?;
    upsert_credentials(
        env,
        vec![(KUBEADMIN_PASSWORD_KEY, kubeadmin_password())],
        true,
    )
    .await?;
    upsert_credentials(
        env,
        vec![(ADMIN_KUBECONFIG_KEY, access.admin_kubeconfig)],
        false,
    )
    .await
}

/// A kubeadmin password like the installer's: 23 characters in four dash-separated groups.
fn kubeadmin_password() -> AroSecret {
    let raw = random_suffix(20);
    format!(
        "{}-{}-{}-{}",
        &raw[0..5],
        &raw[5..10],
        &raw[10..15],
        &raw[15..20]
    )
    .chars()
    .enumerate()
    .map(|(i, c)| {
        if i % 3 == 0 {
            c.to_ascii_uppercase()
        } else {
            c
        }
    })
    .collect::<String>()
    .into()
}

/// Update: hand the cluster the customer's current service principal secret (what the in-cluster
/// cloud provider and operators authenticate with).
pub(super) async fn rotate_credentials(env: &mut StepEnv<'_>) -> StepResult<()> {
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
    let operator_identity = operator_credentials(env, &tenant, &sp.client_id, &secret);
    let resource_group = env.names()?.resource_group;
    put_secret(
        &client,
        "kube-system",
        "azure-credentials",
        BTreeMap::from([
            ("azure_client_id".to_string(), sp.client_id),
            ("azure_client_secret".to_string(), secret.into_exposed()),
            ("azure_resourcegroup".to_string(), resource_group),
            (
                "azure_region".to_string(),
                env.cluster.spec.location.clone(),
            ),
        ]),
    )
    .await?;
    put_operator_credentials(&client, operator_identity).await
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
async fn put_secret(
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
        Harness, NAMESPACE, cluster, cluster_with_service_principal, installing,
    };
    use crate::steps::StepId;
    use arm_emulator::demo;

    #[test]
    fn kubeadmin_passwords_have_the_installer_shape() {
        let p = kubeadmin_password();
        assert_eq!(p.expose().len(), 23);
        assert_eq!(p.expose().split('-').count(), 4);
        assert_ne!(p, kubeadmin_password());
    }

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
        assert_eq!(second[KUBEADMIN_PASSWORD_KEY].len(), 23);

        // A renewal keeps the password and rewrites the kubeconfig.
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
    async fn rotation_hands_the_cluster_the_customers_current_secret() {
        let h = Harness::with_kube().await;
        h.register_subscription(demo::TENANT).await;
        h.put_customer_secret(&[(CLIENT_SECRET_KEY, "rotated-secret")])
            .await;
        let cluster = cluster_with_service_principal();
        let mut status = installing();
        assert_eq!(
            h.run(StepId::RotateCredentials, &cluster, &mut status)
                .await,
            Outcome::Done
        );
        let cloud = h
            .secret_data("kube-system", "azure-credentials")
            .await
            .expect("the cloud provider's credentials");
        assert_eq!(cloud["azure_client_id"], demo::CLUSTER_CLIENT_ID);
        assert_eq!(cloud["azure_client_secret"], "rotated-secret");
        assert_eq!(cloud["azure_resourcegroup"], "aro-demo");
        assert_eq!(cloud["azure_region"], demo::LOCATION);
        let operator = h
            .secret_data(
                aro_operator::OPERATOR_NAMESPACE,
                OPERATOR_CREDENTIALS_SECRET,
            )
            .await
            .expect("the operator's identity");
        assert_eq!(operator["AZURE_CLIENT_SECRET"], "rotated-secret");
        assert_eq!(operator["AZURE_TENANT_ID"], demo::TENANT);
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
