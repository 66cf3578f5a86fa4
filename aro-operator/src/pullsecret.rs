//! pullsecret: the ARO registry credentials (operator Secret openshift-azure-operator/cluster, key
//! `.dockerconfigjson`) are merged into the global pull secret openshift-config/pull-secret when
//! `aro.pullsecret.managed` is on; customer registries are kept, the secret is recreated when it is
//! missing or of the wrong type, and invalid JSON is replaced. `status.redHatKeysPresent` lists the
//! Red Hat registries the global pull secret has credentials for (ARO-RP's
//! pkg/operator/controllers).

use std::collections::BTreeMap;

use aro_common::Secret as AroSecret;
use crds::operator::Cluster;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::{Map, Value, json};

use crate::apply::resource_version;
use crate::conditions::update_status;
use crate::{Error, FIELD_MANAGER, OPERATOR_NAMESPACE, Result, is_not_found};

/// Name in conditions: `PullSecretController*`.
pub const NAME: &str = "PullSecret";
/// Flag gating the controller.
pub const FLAG_ENABLED: &str = "aro.pullsecret.enabled";
/// Flag allowing the controller to write the global pull secret.
pub const FLAG_MANAGED: &str = "aro.pullsecret.managed";
/// Namespace of the global pull secret.
pub const PULL_SECRET_NAMESPACE: &str = "openshift-config";
/// Name of the global pull secret.
pub const PULL_SECRET_NAME: &str = "pull-secret";
/// Name of the operator's secret holding the ARO pull secret.
pub const OPERATOR_SECRET_NAME: &str = "cluster";
/// Key of the docker config in a `kubernetes.io/dockerconfigjson` secret.
pub const DOCKER_CONFIG_KEY: &str = ".dockerconfigjson";
/// Type of a docker config secret.
pub const DOCKER_CONFIG_TYPE: &str = "kubernetes.io/dockerconfigjson";
/// Red Hat registries reported in `status.redHatKeysPresent`, in this order.
pub const RED_HAT_KEYS: &[&str] = &[
    "cloud.openshift.com",
    "registry.connect.redhat.com",
    "registry.redhat.io",
];

/// The global pull secret with the operator's registries merged in, and whether that changed it.
/// Invalid user JSON is dropped (the operator's keys alone remain); every `auths` entry of the
/// operator replaces the user's entry of the same registry; other user registries and other
/// top-level fields are kept.
pub fn merge(user: &str, operator: &str) -> Result<(String, bool)> {
    // An operator secret without credentials adds nothing but still repairs a broken pull secret.
    let operator = if operator.trim().is_empty() {
        r#"{"auths":{}}"#
    } else {
        operator
    };
    let operator: Value = serde_json::from_str(operator).map_err(|e| {
        Error::invalid(
            "pullsecret",
            format!("the operator pull secret is not JSON: {e}"),
        )
    })?;
    let operator_auths = operator
        .get("auths")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut changed = false;
    let mut merged = match serde_json::from_str::<Value>(user) {
        Ok(Value::Object(object)) => object,
        _ => {
            changed = true;
            Map::new()
        }
    };
    if !merged.get("auths").is_some_and(Value::is_object) {
        merged.insert("auths".into(), json!({}));
        changed = true;
    }
    let auths = merged["auths"]
        .as_object_mut()
        .expect("auths was just made an object");
    for (registry, credentials) in operator_auths {
        if auths.get(&registry) != Some(&credentials) {
            auths.insert(registry, credentials);
            changed = true;
        }
    }
    Ok((Value::Object(merged).to_string(), changed))
}

/// The Red Hat registries present in a docker config, in `RED_HAT_KEYS` order. Unparsable JSON has
/// none.
pub fn red_hat_keys(docker_config: &str) -> Vec<String> {
    let Ok(config) = serde_json::from_str::<Value>(docker_config) else {
        return Vec::new();
    };
    let Some(auths) = config.get("auths").and_then(Value::as_object) else {
        return Vec::new();
    };
    RED_HAT_KEYS
        .iter()
        .filter(|k| auths.contains_key(**k))
        .map(|k| k.to_string())
        .collect()
}

/// What to do with the global pull secret. The docker configs are secrets: `Debug` shows only the
/// action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PullSecretAction {
    /// It is as it should be.
    Keep,
    /// Create it (it is missing).
    Create(AroSecret),
    /// Update its docker config in place.
    Update(AroSecret),
    /// Delete and recreate it (it has the wrong type, which cannot be changed in place).
    Recreate(AroSecret),
}

impl PullSecretAction {
    /// The action's name, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            PullSecretAction::Keep => "keep",
            PullSecretAction::Create(_) => "create",
            PullSecretAction::Update(_) => "update",
            PullSecretAction::Recreate(_) => "recreate",
        }
    }
}

/// What the global pull secret needs, given its type and docker config (None when missing) and the
/// operator's docker config.
pub fn plan(existing: Option<(&str, &str)>, operator_config: &str) -> Result<PullSecretAction> {
    match existing {
        None => Ok(PullSecretAction::Create(
            merge("", operator_config)?.0.into(),
        )),
        Some((type_, config)) => {
            let (merged, changed) = merge(config, operator_config)?;
            if type_ != DOCKER_CONFIG_TYPE {
                Ok(PullSecretAction::Recreate(merged.into()))
            } else if changed {
                Ok(PullSecretAction::Update(merged.into()))
            } else {
                Ok(PullSecretAction::Keep)
            }
        }
    }
}

fn docker_config(secret: &Secret) -> String {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(DOCKER_CONFIG_KEY))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        .unwrap_or_default()
}

fn new_pull_secret(config: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(PULL_SECRET_NAME.into()),
            namespace: Some(PULL_SECRET_NAMESPACE.into()),
            ..Default::default()
        },
        type_: Some(DOCKER_CONFIG_TYPE.into()),
        data: Some(BTreeMap::from([(
            DOCKER_CONFIG_KEY.to_string(),
            ByteString(config.as_bytes().to_vec()),
        )])),
        ..Default::default()
    }
}

/// Reconcile once: repair the global pull secret (when managed) and refresh
/// `status.redHatKeysPresent`. Returns the action taken on the pull secret.
pub async fn reconcile(client: &Client, cluster: &Cluster) -> Result<PullSecretAction> {
    tracing::debug!(
        enabled = cluster.spec.flag_enabled(FLAG_ENABLED),
        managed = cluster.spec.flag_enabled(FLAG_MANAGED),
        resource_version = ?cluster.metadata.resource_version,
        "pullsecret reconcile"
    );
    if !cluster.spec.flag_enabled(FLAG_ENABLED) {
        return Ok(PullSecretAction::Keep);
    }
    let secrets = Api::<Secret>::namespaced(client.clone(), PULL_SECRET_NAMESPACE);
    let mut user = secrets.get_opt(PULL_SECRET_NAME).await?;
    let mut action = PullSecretAction::Keep;

    if cluster.spec.flag_enabled(FLAG_MANAGED) {
        let operator_secret = Api::<Secret>::namespaced(client.clone(), OPERATOR_NAMESPACE)
            .get_opt(OPERATOR_SECRET_NAME)
            .await?
            .ok_or_else(|| {
                Error::invalid(
                    "pullsecret",
                    format!("secret {OPERATOR_NAMESPACE}/{OPERATOR_SECRET_NAME} is missing"),
                )
            })?;
        let operator_config = docker_config(&operator_secret);
        let existing = user
            .as_ref()
            .map(|s| (s.type_.clone().unwrap_or_default(), docker_config(s)));
        action = plan(
            existing.as_ref().map(|(t, c)| (t.as_str(), c.as_str())),
            &operator_config,
        )?;
        match &action {
            PullSecretAction::Keep => {}
            PullSecretAction::Create(config) => {
                user = Some(
                    secrets
                        .create(&PostParams::default(), &new_pull_secret(config.expose()))
                        .await?,
                );
            }
            PullSecretAction::Update(config) => {
                let current = user.as_ref().expect("Update implies an existing secret");
                let patch = json!({
                    "metadata": {"resourceVersion": resource_version(current)?},
                    "data": {DOCKER_CONFIG_KEY: ByteString(config.expose().as_bytes().to_vec())},
                });
                user = Some(
                    secrets
                        .patch(
                            PULL_SECRET_NAME,
                            &PatchParams {
                                field_manager: Some(FIELD_MANAGER.into()),
                                ..Default::default()
                            },
                            &Patch::Merge(&patch),
                        )
                        .await?,
                );
            }
            PullSecretAction::Recreate(config) => {
                let current = user.as_ref().expect("Recreate implies an existing secret");
                let dp = DeleteParams {
                    preconditions: Some(Preconditions {
                        resource_version: current.metadata.resource_version.clone(),
                        uid: current.metadata.uid.clone(),
                    }),
                    ..Default::default()
                };
                match secrets.delete(PULL_SECRET_NAME, &dp).await {
                    Ok(_) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(e.into()),
                }
                // Keep the customer's labels and annotations on the recreated secret.
                let mut fresh = new_pull_secret(config.expose());
                fresh.metadata.labels = current.metadata.labels.clone();
                fresh.metadata.annotations = current.metadata.annotations.clone();
                user = Some(secrets.create(&PostParams::default(), &fresh).await?);
            }
        }
        if action != PullSecretAction::Keep {
            // The action's name only: its payload is the merged pull secret.
            tracing::info!(action = action.kind(), cluster_resource_version = ?cluster.metadata.resource_version, "repaired the global pull secret");
        }
    }

    let keys = user
        .as_ref()
        .map(|s| red_hat_keys(&docker_config(s)))
        .unwrap_or_default();
    update_status(client, |status| {
        status.red_hat_keys_present = keys.clone();
    })
    .await?;
    Ok(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARO: &str = r#"{"auths":{"arosvc.azurecr.io":{"auth":"YXJvOnNlY3JldA=="}}}"#;

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn merge_adds_aro_registry_and_keeps_customer_keys() {
        let user = r#"{"auths":{"registry.redhat.io":{"auth":"cmg="},"quay.io":{"auth":"cQ==","email":"a@b"}}}"#;
        let (merged, changed) = merge(user, ARO).unwrap();
        assert!(changed);
        let v = parse(&merged);
        assert_eq!(v["auths"]["arosvc.azurecr.io"]["auth"], "YXJvOnNlY3JldA==");
        assert_eq!(v["auths"]["registry.redhat.io"]["auth"], "cmg=");
        assert_eq!(v["auths"]["quay.io"]["email"], "a@b");
    }

    #[test]
    fn merge_is_idempotent() {
        let (once, _) = merge(r#"{"auths":{"quay.io":{"auth":"cQ=="}}}"#, ARO).unwrap();
        let (twice, changed) = merge(&once, ARO).unwrap();
        assert!(!changed);
        assert_eq!(parse(&twice), parse(&once));
    }

    #[test]
    fn merge_replaces_a_tampered_aro_entry() {
        let tampered = r#"{"auths":{"arosvc.azurecr.io":{"auth":"d3Jvbmc="}}}"#;
        let (merged, changed) = merge(tampered, ARO).unwrap();
        assert!(changed);
        assert_eq!(parse(&merged), parse(ARO));
    }

    #[test]
    fn merge_drops_invalid_json_and_fixes_missing_auths() {
        for broken in ["", "not json", "[]", "{\"auths\": 3}", "{}"] {
            let (merged, changed) = merge(broken, ARO).unwrap();
            assert!(changed, "{broken:?}");
            assert_eq!(parse(&merged)["auths"], parse(ARO)["auths"], "{broken:?}");
        }
    }

    #[test]
    fn merge_keeps_other_top_level_fields() {
        let (merged, _) = merge(r#"{"auths":{},"credsStore":"x"}"#, ARO).unwrap();
        assert_eq!(parse(&merged)["credsStore"], "x");
    }

    #[test]
    fn merge_rejects_an_invalid_operator_secret() {
        assert!(merge("{}", "nope").is_err());
        let (merged, changed) = merge("broken", "").unwrap();
        assert!(changed);
        assert_eq!(parse(&merged), json!({"auths": {}}));
    }

    #[test]
    fn a_planned_action_never_prints_the_pull_secret() {
        let action = plan(None, ARO).unwrap();
        let shown = format!("{action:?} {}", action.kind());
        assert!(!shown.contains("YXJvOnNlY3JldA=="), "{shown}");
        assert!(!shown.contains("arosvc"), "{shown}");
        assert_eq!(action.kind(), "create");
    }

    #[test]
    fn red_hat_keys_lists_present_registries_in_order() {
        let config = r#"{"auths":{"registry.redhat.io":{},"quay.io":{},"cloud.openshift.com":{}}}"#;
        assert_eq!(
            red_hat_keys(config),
            ["cloud.openshift.com", "registry.redhat.io"]
        );
        assert!(red_hat_keys("garbage").is_empty());
        assert!(red_hat_keys(r#"{"auths":{"quay.io":{}}}"#).is_empty());
    }

    #[test]
    fn plan_creates_missing_recreates_wrong_type_and_keeps_good() {
        assert!(
            matches!(plan(None, ARO).unwrap(), PullSecretAction::Create(c) if parse(c.expose()) == parse(ARO))
        );
        let good = merge(r#"{"auths":{"quay.io":{}}}"#, ARO).unwrap().0;
        assert_eq!(
            plan(Some((DOCKER_CONFIG_TYPE, &good)), ARO).unwrap(),
            PullSecretAction::Keep
        );
        match plan(Some(("Opaque", &good)), ARO).unwrap() {
            PullSecretAction::Recreate(c) => assert_eq!(parse(c.expose()), parse(&good)),
            other => panic!("expected Recreate, got {other:?}"),
        }
        match plan(Some((DOCKER_CONFIG_TYPE, "{corrupt")), ARO).unwrap() {
            PullSecretAction::Update(c) => assert_eq!(parse(c.expose()), parse(ARO)),
            other => panic!("expected Update, got {other:?}"),
        }
    }
}
