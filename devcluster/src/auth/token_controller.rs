//! The ServiceAccount controllers clients rely on, as kube-controller-manager runs them: every
//! active namespace has a `default` ServiceAccount (serviceaccount controller) and the
//! `kube-root-ca.crt` ConfigMap with the cluster CA (root-ca-cert-publisher); a
//! `kubernetes.io/service-account-token` Secret gets its legacy token, `ca.crt` and `namespace`,
//! and is deleted with its ServiceAccount (token controller). Driven by the store's events from
//! `controllers::run` (no task or list of its own: devcluster runs hundreds of servers in one
//! process).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::service_accounts::{
    ObjectRef, SA_NAME_ANNOTATION, SA_UID_ANNOTATION, ServiceAccountTokens, TOKEN_SECRET_TYPE,
};
use crate::error::ApiError;
use crate::registry::ResourceType;
use crate::rest::{DeleteOptions, Rest, WriteOptions};
use crate::storage::Stored;

/// The ConfigMap with the cluster CA in every namespace, and its key.
pub const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";
const ROOT_CA_KEY: &str = "ca.crt";
const DEFAULT_SERVICE_ACCOUNT: &str = "default";
const FIELD_MANAGER: &str = "devcluster-controllers";

/// The controllers' configuration: the token issuer and the CA published to namespaces.
pub struct ServiceAccountController {
    tokens: Arc<ServiceAccountTokens>,
    ca_pem: String,
}

fn core(rest: &Rest, plural: &str) -> Arc<ResourceType> {
    rest.registry
        .find("", "v1", plural)
        .expect("core resources are built in")
}

fn namespace_active(rest: &Rest, namespace: &str) -> bool {
    rest.store
        .get(&format!("/namespaces//{namespace}"))
        .is_some_and(|ns| ns.value()["metadata"]["deletionTimestamp"].is_null())
}

/// Whether `key` is `/<plural>/<namespace>/<name>` of a core resource; its namespace and name.
fn core_key<'k>(key: &'k str, plural: &str) -> Option<(&'k str, &'k str)> {
    let rest = key
        .strip_prefix('/')?
        .strip_prefix(plural)?
        .strip_prefix('/')?;
    rest.split_once('/')
}

/// A failure a later event retries; conflicts and races with deletion are expected.
fn log(what: &str, key: &str, result: Result<(), ApiError>) {
    if let Err(e) = result
        && !matches!(e.code, 403 | 404 | 409)
    {
        tracing::warn!(%key, error = %e, "{what}");
    }
}

impl ServiceAccountController {
    pub fn new(tokens: Arc<ServiceAccountTokens>, ca_pem: String) -> Self {
        ServiceAccountController { tokens, ca_pem }
    }

    /// The `default` ServiceAccount and the root CA ConfigMap of an active namespace.
    pub async fn populate_namespace(&self, rest: &Rest, namespace: &str) {
        let key = format!("/namespaces//{namespace}");
        log(
            "creating the default service account",
            &key,
            self.ensure_default_service_account(rest, namespace).await,
        );
        log(
            "publishing the root CA",
            &key,
            self.ensure_root_ca(rest, namespace).await,
        );
    }

    /// An object was added or modified.
    pub async fn reconcile(&self, rest: &Rest, s: &Stored) {
        if let Some(("", namespace)) = core_key(&s.key, "namespaces") {
            if s.value()["metadata"]["deletionTimestamp"].is_null() {
                self.populate_namespace(rest, namespace).await;
            }
        } else if let Some((namespace, ROOT_CA_CONFIGMAP)) = core_key(&s.key, "configmaps") {
            log(
                "publishing the root CA",
                &s.key,
                self.ensure_root_ca(rest, namespace).await,
            );
        } else if let Some((namespace, name)) = core_key(&s.key, "secrets") {
            let secret = s.value();
            if secret["type"] == TOKEN_SECRET_TYPE
                && secret["metadata"]["deletionTimestamp"].is_null()
            {
                log(
                    "filling a service account token secret",
                    &s.key,
                    self.fill_token_secret(rest, namespace, name, &secret).await,
                );
            }
        }
    }

    /// An object was deleted.
    pub async fn deleted(&self, rest: &Rest, s: &Stored) {
        if let Some((namespace, name)) = core_key(&s.key, "serviceaccounts") {
            if name == DEFAULT_SERVICE_ACCOUNT && namespace_active(rest, namespace) {
                log(
                    "recreating the default service account",
                    &s.key,
                    self.ensure_default_service_account(rest, namespace).await,
                );
            }
            self.delete_token_secrets(rest, namespace, name).await;
        } else if let Some((namespace, ROOT_CA_CONFIGMAP)) = core_key(&s.key, "configmaps")
            && namespace_active(rest, namespace)
        {
            log(
                "publishing the root CA",
                &s.key,
                self.ensure_root_ca(rest, namespace).await,
            );
        }
    }

    async fn create_if_missing(
        &self,
        rest: &Rest,
        rt: &ResourceType,
        namespace: &str,
        object: Value,
    ) -> Result<bool, ApiError> {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        if rest.store.get(&rt.key(namespace, name)).is_some() {
            return Ok(false);
        }
        let opts = WriteOptions {
            field_manager: FIELD_MANAGER.into(),
            ..Default::default()
        };
        match rest.create(rt, namespace, object, &opts).await {
            Ok(_) => Ok(true),
            Err(e) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn ensure_default_service_account(
        &self,
        rest: &Rest,
        namespace: &str,
    ) -> Result<(), ApiError> {
        let sa = json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": namespace},
        });
        self.create_if_missing(rest, &core(rest, "serviceaccounts"), namespace, sa)
            .await
            .map(|_| ())
    }

    /// The ConfigMap exists and holds exactly the CA (kube's publisher rewrites any change).
    async fn ensure_root_ca(&self, rest: &Rest, namespace: &str) -> Result<(), ApiError> {
        let rt = core(rest, "configmaps");
        let data = json!({ROOT_CA_KEY: self.ca_pem});
        let configmap = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ROOT_CA_CONFIGMAP, "namespace": namespace},
            "data": data,
        });
        if self
            .create_if_missing(rest, &rt, namespace, configmap)
            .await?
        {
            return Ok(());
        }
        rest.modify(&rt, namespace, ROOT_CA_CONFIGMAP, None, |cm| {
            if cm["data"] == data && cm["binaryData"].is_null() {
                return false;
            }
            cm["data"] = data.clone();
            if let Some(m) = cm.as_object_mut() {
                m.remove("binaryData");
            }
            true
        })
        .await
    }

    /// Give a token Secret its token, or delete it when its ServiceAccount is gone (kube's
    /// token controller).
    async fn fill_token_secret(
        &self,
        rest: &Rest,
        namespace: &str,
        name: &str,
        secret: &Value,
    ) -> Result<(), ApiError> {
        let annotations = &secret["metadata"]["annotations"];
        let sa_name = annotations[SA_NAME_ANNOTATION].as_str().unwrap_or_default();
        let sa = rest
            .store
            .get(&core(rest, "serviceaccounts").key(namespace, sa_name))
            .filter(|_| !sa_name.is_empty());
        let wanted_uid = annotations[SA_UID_ANNOTATION].as_str().unwrap_or_default();
        let rt = core(rest, "secrets");
        let Some(sa) = sa.filter(|sa| wanted_uid.is_empty() || sa.uid == wanted_uid) else {
            let opts = DeleteOptions {
                precondition_uid: secret["metadata"]["uid"].as_str().map(str::to_string),
                ..Default::default()
            };
            return rest.delete(&rt, namespace, name, &opts).await.map(|_| ());
        };
        let has = |key: &str| secret["data"][key].as_str().is_some_and(|v| !v.is_empty());
        if has("token") && has(ROOT_CA_KEY) && has("namespace") && !wanted_uid.is_empty() {
            return Ok(());
        }
        let service_account = ObjectRef {
            name: sa_name.into(),
            uid: sa.uid.clone(),
        };
        let token = self
            .tokens
            .issue_legacy(namespace, &service_account, name)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let (token, ca, ns) = (
            STANDARD.encode(token),
            STANDARD.encode(&self.ca_pem),
            STANDARD.encode(namespace),
        );
        let sa_uid = sa.uid.clone();
        rest.modify(&rt, namespace, name, None, |s| {
            if s["metadata"]["annotations"][SA_NAME_ANNOTATION] != sa_name
                || s["metadata"]["deletionTimestamp"].is_string()
            {
                return false;
            }
            s["metadata"]["annotations"][SA_UID_ANNOTATION] = json!(sa_uid);
            if !s["data"].is_object() {
                s["data"] = json!({});
            }
            let data = &mut s["data"];
            if data["token"].as_str().is_none_or(str::is_empty) {
                data["token"] = json!(token);
            }
            data[ROOT_CA_KEY] = json!(ca);
            data["namespace"] = json!(ns);
            true
        })
        .await
    }

    /// Delete the token Secrets of a deleted ServiceAccount.
    async fn delete_token_secrets(&self, rest: &Rest, namespace: &str, sa_name: &str) {
        let rt = core(rest, "secrets");
        let (secrets, _, _) = rest.store.list(
            &rt.list_prefix(Some(namespace)),
            None,
            |s| {
                let v = s.value();
                v["type"] == TOKEN_SECRET_TYPE
                    && v["metadata"]["annotations"][SA_NAME_ANNOTATION] == sa_name
            },
            None,
        );
        for secret in secrets {
            let result = rest
                .delete(&rt, namespace, &secret.name, &DeleteOptions::default())
                .await
                .map(|_| ());
            log(
                "deleting a service account token secret",
                &secret.key,
                result,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::core_key;

    #[test]
    fn core_keys() {
        assert_eq!(core_key("/secrets/ns/s", "secrets"), Some(("ns", "s")));
        assert_eq!(core_key("/namespaces//ns", "namespaces"), Some(("", "ns")));
        assert_eq!(core_key("apps/secrets/ns/s", "secrets"), None);
        assert_eq!(core_key("/secretsx/ns/s", "secrets"), None);
    }
}
