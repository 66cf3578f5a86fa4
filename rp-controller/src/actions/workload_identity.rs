//! Workload identity clusters (API 2024-08-12-preview and later): the platform workload
//! identities' ids read from Azure, the cluster's OIDC issuer (a signing key in the credentials
//! Secret, its discovery document and JWKS in the `$web` container of the RP's OIDC storage
//! account, served by that account's static website), one federated identity credential per
//! platform identity and ServiceAccount of the role set, and their removal at delete (ARO-RP's
//! pkg/cluster: platformWorkloadIdentityIDs, createOIDC, federateIdentityCredentials,
//! deleteFederatedCredentials and the OIDC cleanup of delete; pkg/util/oidcbuilder and
//! pkg/util/platformworkloadidentity). Every step does nothing for a service principal cluster.

use std::collections::{BTreeMap, BTreeSet};

use aro_common::ResourceId;
use base64::Engine as _;
use crds::ArmError;
use crds::management::protocol::BOUND_SA_SIGNING_KEY_KEY;
use crds::management::{
    OpenShiftClusterSpec, PlatformWorkloadIdentity, PlatformWorkloadIdentityRole,
    PlatformWorkloadIdentityRoleSet,
};
use kube::ResourceExt;
use kube::api::Api;
use serde_json::{Value, json};
use sha2::{Digest, Sha224, Sha256};

use super::credentials::{customer_tenant, put_secret, upsert_credentials};
use super::{StepEnv, credentials_secret_name, kube_outcome, rp_side};
use crate::azure::{self, StepResult};
use crate::steps::Outcome;

/// api-version of Microsoft.ManagedIdentity.
pub const MSI_API: &str = "2023-01-31";
/// api-version of Microsoft.Storage.
pub const STORAGE_API: &str = "2023-05-01";
/// The one audience of the federated credentials (what the cluster's projected tokens carry).
pub const AUDIENCE: &str = "openshift";
/// Where the discovery document lives under the issuer.
pub const DISCOVERY_DOCUMENT_KEY: &str = ".well-known/openid-configuration";
/// Where the JWKS lives under the issuer.
pub const JWKS_KEY: &str = "openid/v1/jwks";
/// The container a storage account's static website serves.
pub const WEB_CONTAINER: &str = "$web";
/// Azure's longest federated identity credential name.
const MAX_FEDERATED_CREDENTIAL_NAME: usize = 120;

/// Whether the cluster uses platform workload identities (not a service principal).
pub fn uses_workload_identity(spec: &OpenShiftClusterSpec) -> bool {
    spec.platform_workload_identity_profile.is_some()
}

/// `n` in base 36 (lowercase), as Go's `big.Int.Text(36)`.
fn base36(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = Vec::new();
    let mut number: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    while !number.is_empty() {
        let mut remainder = 0u32;
        let mut quotient = Vec::with_capacity(number.len());
        for byte in &number {
            let value = (remainder << 8) | u32::from(*byte);
            let q = (value / 36) as u8;
            remainder = value % 36;
            if !(quotient.is_empty() && q == 0) {
                quotient.push(q);
            }
        }
        digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[remainder as usize]);
        number = quotient;
    }
    if digits.is_empty() {
        return "0".into();
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// The name of the federated credential of `service_account` (`system:serviceaccount:ns:sa`) on
/// identity `identity_name` for cluster `cluster_name`: ARO-RP's
/// `GetPlatformWorkloadIdentityFederatedCredName` (the cluster and account names, then a base-36
/// SHA-224 of them and the identity, at most 120 characters).
pub fn federated_credential_name(
    cluster_name: &str,
    identity_name: &str,
    service_account: &str,
) -> String {
    let account = service_account.rsplit(':').next().unwrap_or_default();
    let cluster_key = format!("{cluster_name}_{account}");
    let name = format!("{cluster_key}-{account}-{identity_name}");
    let encoded = base36(&Sha224::digest(name.as_bytes()));
    let room = MAX_FEDERATED_CREDENTIAL_NAME - encoded.len() - 1;
    if room < cluster_key.len() {
        format!("{}_{encoded}", &cluster_key[..room])
    } else {
        format!("{cluster_key}_{encoded}")
    }
}

/// The body of a federated credential of the cluster's issuer for `subject`.
pub fn federated_credential_body(issuer: &str, subject: &str) -> Value {
    json!({"properties": {"issuer": issuer, "subject": subject, "audiences": [AUDIENCE]}})
}

/// Whether a federated credential (as ARM lists it) is the cluster's: its only audience is
/// [`AUDIENCE`] and its issuer the cluster's (ARO-RP's deleteFederatedCredentials rule).
pub fn credential_is_ours(credential: &Value, issuer: &str) -> bool {
    let props = &credential["properties"];
    let audiences = props["audiences"].as_array();
    audiences.is_some_and(|a| a.len() == 1 && a[0] == AUDIENCE) && props["issuer"] == issuer
}

/// The OIDC discovery document of `issuer` (oidcbuilder's, signing with ES256: see
/// [`signing_key`]).
pub fn discovery_document(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/{JWKS_KEY}"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "claims_supported": ["aud", "exp", "sub", "iat", "iss", "sub"],
    })
}

/// The JWKS publishing the public half of `key_pem` (an ECDSA P-256 key), its key id the
/// base64url SHA-256 of its DER public key as Kubernetes derives it.
pub fn jwks(key_pem: &str) -> Result<Value, String> {
    let key = rcgen::KeyPair::from_pem(key_pem).map_err(|e| e.to_string())?;
    let point = key.public_key_raw();
    // An uncompressed P-256 point: 0x04, then 32 bytes of x and 32 of y.
    if point.len() != 65 || point[0] != 4 {
        return Err("the signing key is not an ECDSA P-256 key".into());
    }
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    Ok(json!({"keys": [{
        "use": "sig",
        "kty": "EC",
        "kid": b64(&Sha256::digest(rcgen::PublicKeyData::subject_public_key_info(&key))),
        "crv": "P-256",
        "alg": "ES256",
        "x": b64(&point[1..33]),
        "y": b64(&point[33..]),
    }]}))
}

/// A new service account signing key (PKCS#8 PEM). ECDSA P-256 where ARO-RP uses RSA: ring,
/// this workspace's only crypto provider, cannot generate RSA keys; Kubernetes accepts both.
fn signing_key() -> StepResult<String> {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map(|k| k.serialize_pem())
        .map_err(|e| {
            internal(format!(
                "Generating the service account signing key failed: {e}"
            ))
        })
}

fn internal(message: String) -> Outcome {
    Outcome::Failed(ArmError::new("InternalServerError", message))
}

/// The roles of the cluster's role sets by operator name: its own minor version's and, for an
/// `upgradeableTo` of a later minor, that one's too (ARO-RP's
/// `GetPlatformWorkloadIdentityRolesByRoleName`).
pub(super) async fn roles_by_operator(
    env: &StepEnv<'_>,
) -> StepResult<BTreeMap<String, Vec<PlatformWorkloadIdentityRole>>> {
    let spec = &env.cluster.spec;
    let minor = |v: &str| -> Option<String> {
        let v = semver::Version::parse(v).ok()?;
        Some(format!("{}.{}", v.major, v.minor))
    };
    let mut minors: Vec<String> = minor(&spec.cluster_profile.version).into_iter().collect();
    if let Some(to) = spec
        .platform_workload_identity_profile
        .as_ref()
        .and_then(|p| p.upgradeable_to.as_deref())
        .and_then(minor)
        && !minors.contains(&to)
    {
        minors.push(to);
    }
    let api: Api<PlatformWorkloadIdentityRoleSet> = Api::all(env.ctx.client.clone());
    let mut roles: BTreeMap<String, Vec<PlatformWorkloadIdentityRole>> = BTreeMap::new();
    for m in &minors {
        let Some(set) = api.get_opt(m).await.map_err(|e| kube_outcome(&e))? else {
            return Err(Outcome::Failed(ArmError::new(
                "InvalidParameter",
                format!(
                    "No PlatformWorkloadIdentityRoleSet found for the requested or upgradeable OpenShift minor version '{m}'. Please retry with different OpenShift version, and if the issue persists, raise an Azure support ticket"
                ),
            )));
        };
        for role in set.spec.platform_workload_identity_roles {
            roles
                .entry(role.operator_name.clone())
                .or_default()
                .push(role);
        }
    }
    Ok(roles)
}

fn identity_target(operator: &str) -> String {
    format!("properties.platformWorkloadIdentityProfile.platformWorkloadIdentities[\"{operator}\"]")
}

/// Validation: read each platform workload identity (and the cluster's managed identity) from
/// Azure and record the identities' client and object ids in status; identities the cluster no
/// longer uses are kept aside until their federated credentials are gone.
pub(super) async fn platform_workload_identity_ids(env: &mut StepEnv<'_>) -> StepResult<()> {
    let Some(profile) = env.cluster.spec.platform_workload_identity_profile.clone() else {
        return Ok(());
    };
    let arm = env.arm();
    for (id, _) in env
        .cluster
        .spec
        .identity
        .as_ref()
        .map(|i| i.user_assigned_identities.clone())
        .unwrap_or_default()
    {
        if azure::get(&arm, &id, MSI_API).await?.is_none() {
            return Err(Outcome::Failed(
                ArmError::new(
                    "InvalidClusterMSI",
                    format!("The provided cluster managed identity '{id}' could not be found."),
                )
                .with_target("identity.userAssignedIdentities"),
            ));
        }
    }
    let mut read = BTreeMap::new();
    for (operator, identity) in &profile.platform_workload_identities {
        let invalid = |why: &str| {
            Outcome::Failed(
                ArmError::new(
                    "InvalidPlatformWorkloadIdentity",
                    format!(
                        "The platform workload identity '{operator}' ({}) {why}.",
                        identity.resource_id
                    ),
                )
                .with_target(identity_target(operator)),
            )
        };
        if ResourceId::parse(&identity.resource_id).is_err() {
            return Err(invalid("is not a valid resource id"));
        }
        let found = match env.arm().get(&identity.resource_id, MSI_API).await {
            Ok(found) => found,
            Err(e) if e.is_authorization_failure() => return Err(invalid("cannot be read")),
            Err(e) => return Err(azure::outcome_of(&e)),
        };
        let Some(found) = found else {
            return Err(invalid("does not exist"));
        };
        let props = &found["properties"];
        read.insert(
            operator.clone(),
            PlatformWorkloadIdentity {
                resource_id: identity.resource_id.clone(),
                client_id: props["clientId"].as_str().map(str::to_string),
                object_id: props["principalId"].as_str().map(str::to_string),
            },
        );
    }
    let in_use: BTreeSet<String> = read
        .values()
        .map(|i| i.resource_id.to_ascii_lowercase())
        .collect();
    let status = &mut *env.status;
    for old in std::mem::take(&mut status.platform_workload_identities).into_values() {
        let lower = old.resource_id.to_ascii_lowercase();
        if !in_use.contains(&lower)
            && !status
                .retired_workload_identities
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&lower))
        {
            status.retired_workload_identities.push(old.resource_id);
        }
    }
    status
        .retired_workload_identities
        .retain(|r| !in_use.contains(&r.to_ascii_lowercase()));
    status.platform_workload_identities = read;
    Ok(())
}

/// The RP's OIDC storage account, made on first use; `(blob endpoint, web endpoint)`.
async fn oidc_storage(env: &StepEnv<'_>) -> StepResult<(String, String)> {
    let account_id = env.ctx.settings.oidc_storage_account_id.clone();
    if ResourceId::parse(&account_id).is_err() {
        return Err(internal(format!(
            "The RP has no OIDC storage account (--oidc-storage-account-id '{account_id}')."
        )));
    }
    let arm = env.arm();
    azure::poll_pending(&arm, env.pending).await?;
    let body = json!({
        "location": env.ctx.settings.dns_location,
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS"},
        "properties": {"allowBlobPublicAccess": false, "minimumTlsVersion": "TLS1_2"},
    });
    let account = azure::ensure_resource(&arm, &account_id, STORAGE_API, &body).await?;
    let endpoint = |kind: &str| {
        account["properties"]["primaryEndpoints"][kind]
            .as_str()
            .map(|e| format!("{}/", e.trim_end_matches('/')))
            .ok_or_else(|| internal(format!("The OIDC storage account has no {kind} endpoint.")))
    };
    Ok((endpoint("blob")?, endpoint("web")?))
}

fn blob_url(blob_endpoint: &str, path: &str) -> StepResult<azure_clients::azure_core::Url> {
    azure_clients::azure_core::Url::parse(&format!("{blob_endpoint}{WEB_CONTAINER}/{path}"))
        .map_err(|e| internal(format!("The OIDC blob URL is invalid: {e}")))
}

/// Install: the cluster's OIDC issuer: the signing key (made once), the discovery document and
/// JWKS under `{tenant}/{infra id}/` of the static website, and `status.oidcIssuer`.
pub(super) async fn create_oidc(env: &mut StepEnv<'_>) -> StepResult<()> {
    if !uses_workload_identity(&env.cluster.spec) {
        return Ok(());
    }
    let infra_id = env.infra_id()?;
    let tenant = customer_tenant(env).await?;
    let (blob, web) = match oidc_storage(env).await {
        Ok(endpoints) => endpoints,
        Err(outcome) => return rp_side(Err(outcome)),
    };
    let secret = credentials_secret_name(&env.cluster.name_any());
    if env
        .secret_value(&secret, BOUND_SA_SIGNING_KEY_KEY)
        .await?
        .is_none()
    {
        upsert_credentials(
            env,
            vec![(BOUND_SA_SIGNING_KEY_KEY, signing_key()?.into())],
            true,
        )
        .await?;
    }
    // Read back: a racing writer's key wins everywhere.
    let key = env
        .secret_value(&secret, BOUND_SA_SIGNING_KEY_KEY)
        .await?
        .ok_or_else(|| internal("The service account signing key vanished.".into()))?;
    let directory = format!("{tenant}/{infra_id}");
    let issuer = format!("{web}{directory}");
    let jwks =
        jwks(key.expose()).map_err(|e| internal(format!("The signing key is unusable: {e}")))?;
    let blobs = env.ctx.azure.blobs();
    for (name, document) in [
        (DISCOVERY_DOCUMENT_KEY, discovery_document(&issuer)),
        (JWKS_KEY, jwks),
    ] {
        let url = blob_url(&blob, &format!("{directory}/{name}"))?;
        let bytes = serde_json::to_vec_pretty(&document).unwrap_or_default();
        let uploaded = blobs
            .put_block_blob(&url, "application/json", bytes)
            .await
            .map_err(|e| azure::outcome_of(&e));
        rp_side(uploaded)?;
    }
    env.status.oidc_issuer = Some(issuer);
    Ok(())
}

/// Delete: the issuer's documents (the storage account is the RP's and stays).
pub(super) async fn delete_oidc(env: &mut StepEnv<'_>) -> StepResult<()> {
    let Some(issuer) = env.status.oidc_issuer.clone() else {
        return Ok(());
    };
    let account_id = env.ctx.settings.oidc_storage_account_id.clone();
    let Some(account) = azure::get(&env.arm(), &account_id, STORAGE_API).await? else {
        return Ok(());
    };
    let props = &account["properties"]["primaryEndpoints"];
    let (Some(blob), Some(web)) = (props["blob"].as_str(), props["web"].as_str()) else {
        return Ok(());
    };
    let web = format!("{}/", web.trim_end_matches('/'));
    let blob = format!("{}/", blob.trim_end_matches('/'));
    let Some(directory) = issuer.strip_prefix(&web) else {
        tracing::warn!(%issuer, "the issuer is not on the OIDC storage account; nothing to delete");
        return Ok(());
    };
    let blobs = env.ctx.azure.blobs();
    for name in [DISCOVERY_DOCUMENT_KEY, JWKS_KEY] {
        let url = blob_url(&blob, &format!("{directory}/{name}"))?;
        let deleted = blobs.delete_blob(&url).await.map(|_| ());
        rp_side(deleted.map_err(|e| azure::outcome_of(&e)))?;
    }
    Ok(())
}

/// Delete the cluster's federated credentials on identity `identity_id` (none when the identity is
/// gone); `keep` names those to leave.
async fn delete_credentials(
    env: &StepEnv<'_>,
    identity_id: &str,
    issuer: &str,
    keep: &BTreeSet<String>,
) -> StepResult<()> {
    let arm = env.arm();
    let path = format!("{identity_id}/federatedIdentityCredentials");
    let listed = match arm.list(&path, MSI_API).await {
        Ok(listed) => listed,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(azure::outcome_of(&e)),
    };
    for credential in listed {
        let name = credential["name"].as_str().unwrap_or_default();
        if credential_is_ours(&credential, issuer) && !keep.contains(name) {
            azure::ensure_deleted(&arm, &format!("{path}/{name}"), MSI_API).await?;
        }
    }
    Ok(())
}

/// Install and update: one federated credential per platform identity and ServiceAccount of its
/// role, none left on identities the cluster no longer uses or for accounts no longer in the role.
pub(super) async fn federate_identity_credentials(env: &mut StepEnv<'_>) -> StepResult<()> {
    let Some(profile) = env.cluster.spec.platform_workload_identity_profile.clone() else {
        return Ok(());
    };
    let issuer = env
        .status
        .oidc_issuer
        .clone()
        .ok_or_else(|| internal("The cluster has no OIDC issuer yet.".into()))?;
    for retired in env.status.retired_workload_identities.clone() {
        delete_credentials(env, &retired, &issuer, &BTreeSet::new()).await?;
        env.status
            .retired_workload_identities
            .retain(|r| !r.eq_ignore_ascii_case(&retired));
    }
    let roles = roles_by_operator(env).await?;
    let arm = env.arm();
    let cluster_name = env.cluster.spec.name.clone();
    for (operator, identity) in &profile.platform_workload_identities {
        let Some(role) = roles.get(operator).and_then(|r| r.first()) else {
            return Err(Outcome::Failed(
                ArmError::new(
                    "PlatformWorkloadIdentityMismatch",
                    format!("The platform workload identity '{operator}' is not in the role set of the cluster's version."),
                )
                .with_target(identity_target(operator)),
            ));
        };
        let identity_name = ResourceId::parse(&identity.resource_id)
            .map(|r| r.name().to_string())
            .unwrap_or_default();
        let mut wanted = BTreeSet::new();
        for subject in &role.service_accounts {
            let name = federated_credential_name(&cluster_name, &identity_name, subject);
            let id = format!(
                "{}/federatedIdentityCredentials/{name}",
                identity.resource_id
            );
            let body = federated_credential_body(&issuer, subject);
            let current = azure::get(&arm, &id, MSI_API).await?;
            let same = current.as_ref().is_some_and(|c| {
                credential_is_ours(c, &issuer) && c["properties"]["subject"] == subject.as_str()
            });
            if !same {
                azure::put(&arm, &id, MSI_API, &body).await?;
            }
            wanted.insert(name);
        }
        delete_credentials(env, &identity.resource_id, &issuer, &wanted).await?;
    }
    Ok(())
}

/// Where ARO points each operator's federated token file (the projected ServiceAccount token).
pub const FEDERATED_TOKEN_FILE: &str = "/var/run/secrets/openshift/serviceaccount/token";

/// Install (once the API server answers) and update: each platform identity's Secret in the
/// cluster, where its role set says its operator reads it, naming its client id, the
/// subscription, tenant and region and the federated token file (ARO-RP's
/// deployPlatformWorkloadIdentitySecrets; namespaces created when missing).
pub(super) async fn deploy_platform_workload_identity_secrets(
    env: &mut StepEnv<'_>,
) -> StepResult<()> {
    if !uses_workload_identity(&env.cluster.spec) {
        return Ok(());
    }
    let infra_id = env.infra_id()?;
    let client = env.cluster_client(&infra_id).await?;
    let tenant = customer_tenant(env).await?;
    let roles = roles_by_operator(env).await?;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    for (operator, identity) in &env.status.platform_workload_identities {
        let Some(location) = roles
            .get(operator)
            .and_then(|r| r.first())
            .and_then(|r| r.secret_location.clone())
        else {
            continue;
        };
        let namespace = k8s_openapi::api::core::v1::Namespace {
            metadata: kube::api::ObjectMeta {
                name: Some(location.namespace.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        match namespaces
            .create(&kube::api::PostParams::default(), &namespace)
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(kube_outcome(&e)),
        }
        let data = BTreeMap::from([
            (
                "azure_client_id".to_string(),
                identity.client_id.clone().unwrap_or_default(),
            ),
            (
                "azure_subscription_id".to_string(),
                env.cluster.spec.subscription_id.clone(),
            ),
            ("azure_tenant_id".to_string(), tenant.clone()),
            (
                "azure_region".to_string(),
                env.cluster.spec.location.clone(),
            ),
            (
                "azure_federated_token_file".to_string(),
                FEDERATED_TOKEN_FILE.to_string(),
            ),
        ]);
        put_secret(&client, &location.namespace, &location.name, data).await?;
    }
    Ok(())
}

/// Delete: every federated credential of the cluster's issuer on the identities it used.
pub(super) async fn delete_federated_credentials(env: &mut StepEnv<'_>) -> StepResult<()> {
    let Some(issuer) = env.status.oidc_issuer.clone() else {
        return Ok(());
    };
    let mut identities: BTreeSet<String> = env
        .cluster
        .spec
        .platform_workload_identity_profile
        .iter()
        .flat_map(|p| p.platform_workload_identities.values())
        .chain(env.status.platform_workload_identities.values())
        .map(|i| i.resource_id.clone())
        .collect();
    identities.extend(env.status.retired_workload_identities.iter().cloned());
    for identity in identities {
        delete_credentials(env, &identity, &issuer, &BTreeSet::new()).await?;
    }
    env.status.retired_workload_identities.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base36_matches_gos_big_int_text() {
        assert_eq!(base36(&[0]), "0");
        assert_eq!(base36(&[35]), "z");
        assert_eq!(base36(&[36]), "10");
        assert_eq!(base36(&[1, 0]), "74"); // 256
        assert_eq!(base36(&[0, 0, 1, 0]), "74");
    }

    #[test]
    fn credential_names_follow_aros_rule() {
        let name = federated_credential_name(
            "demo",
            "ccm",
            "system:serviceaccount:openshift-cloud-controller-manager:cloud-controller-manager",
        );
        assert!(name.starts_with("demo_cloud-controller-manager_"), "{name}");
        assert!(name.len() <= MAX_FEDERATED_CREDENTIAL_NAME);
        assert_ne!(
            name,
            federated_credential_name(
                "demo",
                "other",
                "system:serviceaccount:a:cloud-controller-manager"
            )
        );
        let long = federated_credential_name(&"c".repeat(100), "i", "system:serviceaccount:n:sa");
        assert_eq!(long.len(), MAX_FEDERATED_CREDENTIAL_NAME);
    }

    #[test]
    fn the_jwks_publishes_the_signing_keys_public_half() {
        let pem = signing_key().unwrap();
        let set = jwks(&pem).unwrap();
        let key = &set["keys"][0];
        assert_eq!(
            (key["kty"].as_str(), key["alg"].as_str()),
            (Some("EC"), Some("ES256"))
        );
        assert_eq!(key["x"].as_str().unwrap().len(), 43);
        assert_eq!(set, jwks(&pem).unwrap(), "stable for one key");
        assert_ne!(set, jwks(&signing_key().unwrap()).unwrap());
        assert!(jwks("not a key").is_err());
        let doc = discovery_document("https://o.example/t/c");
        assert_eq!(doc["jwks_uri"], "https://o.example/t/c/openid/v1/jwks");
    }

    #[test]
    fn only_credentials_of_the_issuer_and_audience_are_the_clusters() {
        let ours = federated_credential_body("https://i/x", "system:serviceaccount:a:b");
        assert!(credential_is_ours(&ours, "https://i/x"));
        assert!(!credential_is_ours(&ours, "https://i/y"));
        let mut other = ours.clone();
        other["properties"]["audiences"] = json!(["api://AzureADTokenExchange"]);
        assert!(!credential_is_ours(&other, "https://i/x"));
    }
}
