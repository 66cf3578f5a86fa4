//! alertwebhook: the `null` and `Default` receivers of Alertmanager (Secret
//! openshift-monitoring/alertmanager-main, key `alertmanager.yaml`) send to the operator's webhook
//! sink, so alerts routed there are swallowed instead of piling up. Writes only on change; reports no
//! conditions (ARO-RP's pkg/operator/controllers).

use std::collections::BTreeMap;

use crds::operator::Cluster;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::apply::resource_version;
use crate::{Error, FIELD_MANAGER, Result};

/// Flag gating the controller.
pub const FLAG_ENABLED: &str = "aro.alertwebhook.enabled";
/// Namespace of the Alertmanager secret.
pub const NAMESPACE: &str = "openshift-monitoring";
/// Name of the Alertmanager secret.
pub const SECRET_NAME: &str = "alertmanager-main";
/// Key of the Alertmanager configuration in the secret.
pub const CONFIG_KEY: &str = "alertmanager.yaml";
/// Where the `null` and `Default` receivers send: the operator master's webhook sink.
pub const WEBHOOK_URL: &str =
    "http://aro-operator-master.openshift-azure-operator.svc.cluster.local:8080/healthz/ready";
/// Receivers redirected to the sink.
pub const RECEIVERS: &[&str] = &["null", "Default"];

/// The Alertmanager configuration with the `null`/`Default` receivers pointing at `url`, or `None`
/// when it already does (nothing to write). Each such receiver becomes exactly
/// `{name, webhook_configs: [{url}]}`; everything else in the configuration is kept.
pub fn desired_config(current: &str, url: &str) -> Result<Option<String>> {
    let mut config: serde_yaml::Value = serde_yaml::from_str(current).map_err(|e| {
        Error::invalid(
            "alertwebhook",
            format!("{SECRET_NAME} {CONFIG_KEY} is not YAML: {e}"),
        )
    })?;
    let Some(receivers) = config
        .get_mut("receivers")
        .and_then(serde_yaml::Value::as_sequence_mut)
    else {
        return Ok(None);
    };
    let mut changed = false;
    for receiver in receivers.iter_mut() {
        let Some(name) = receiver
            .get("name")
            .and_then(serde_yaml::Value::as_str)
            .filter(|n| RECEIVERS.contains(n))
            .map(str::to_string)
        else {
            continue;
        };
        let wanted: serde_yaml::Value =
            serde_yaml::to_value(json!({"name": name, "webhook_configs": [{"url": url}]}))
                .expect("a JSON literal converts to YAML");
        if *receiver != wanted {
            *receiver = wanted;
            changed = true;
        }
    }
    if !changed {
        return Ok(None);
    }
    serde_yaml::to_string(&config)
        .map(Some)
        .map_err(|e| Error::invalid("alertwebhook", format!("cannot render YAML: {e}")))
}

/// Reconcile once: rewrite the secret if its configuration needs it. Returns whether it wrote.
pub async fn reconcile(client: &Client, cluster: &Cluster) -> Result<bool> {
    if !cluster.spec.flag_enabled(FLAG_ENABLED) {
        return Ok(false);
    }
    let api = Api::<Secret>::namespaced(client.clone(), NAMESPACE);
    let Some(secret) = api.get_opt(SECRET_NAME).await? else {
        // Nothing to redirect until the monitoring stack creates its configuration.
        return Ok(false);
    };
    let current = secret
        .data
        .as_ref()
        .and_then(|d| d.get(CONFIG_KEY))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        .unwrap_or_default();
    let Some(desired) = desired_config(&current, WEBHOOK_URL)? else {
        return Ok(false);
    };
    let data: BTreeMap<String, ByteString> =
        BTreeMap::from([(CONFIG_KEY.to_string(), ByteString(desired.into_bytes()))]);
    let patch = json!({
        "metadata": {"resourceVersion": resource_version(&secret)?},
        "data": data,
    });
    api.patch(
        SECRET_NAME,
        &PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        },
        &Patch::Merge(&patch),
    )
    .await?;
    tracing::info!("pointed the null and Default Alertmanager receivers at the operator");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENSHIFT_DEFAULT: &str = r#"global:
  resolve_timeout: 5m
receivers:
- name: Default
- name: Watchdog
- name: Critical
  pagerduty_configs:
  - routing_key: abc
- name: "null"
route:
  receiver: Default
  routes:
  - matchers:
    - alertname = Watchdog
    receiver: Watchdog
"#;

    fn receivers(yaml: &str) -> Vec<serde_json::Value> {
        let v: serde_json::Value = serde_yaml::from_str(yaml).unwrap();
        v["receivers"].as_array().unwrap().clone()
    }

    #[test]
    fn points_null_and_default_at_the_webhook_and_keeps_the_rest() {
        let out = desired_config(OPENSHIFT_DEFAULT, WEBHOOK_URL)
            .unwrap()
            .unwrap();
        let r = receivers(&out);
        assert_eq!(
            r[0],
            json!({"name": "Default", "webhook_configs": [{"url": WEBHOOK_URL}]})
        );
        assert_eq!(r[1], json!({"name": "Watchdog"}));
        assert_eq!(
            r[2],
            json!({"name": "Critical", "pagerduty_configs": [{"routing_key": "abc"}]})
        );
        assert_eq!(
            r[3],
            json!({"name": "null", "webhook_configs": [{"url": WEBHOOK_URL}]})
        );
        let v: serde_json::Value = serde_yaml::from_str(&out).unwrap();
        assert_eq!(v["global"]["resolve_timeout"], "5m");
        assert_eq!(v["route"]["routes"][0]["receiver"], "Watchdog");
    }

    #[test]
    fn unchanged_configuration_is_not_rewritten() {
        let once = desired_config(OPENSHIFT_DEFAULT, WEBHOOK_URL)
            .unwrap()
            .unwrap();
        assert_eq!(desired_config(&once, WEBHOOK_URL).unwrap(), None);
    }

    #[test]
    fn customer_changes_to_the_redirected_receivers_are_replaced() {
        let custom = "receivers:\n- name: Default\n  email_configs:\n  - to: a@b.c\n";
        let out = desired_config(custom, WEBHOOK_URL).unwrap().unwrap();
        assert_eq!(
            receivers(&out)[0],
            json!({"name": "Default", "webhook_configs": [{"url": WEBHOOK_URL}]})
        );
    }

    #[test]
    fn configuration_without_receivers_is_left_alone() {
        assert_eq!(desired_config("global: {}\n", WEBHOOK_URL).unwrap(), None);
        assert_eq!(desired_config("", WEBHOOK_URL).unwrap(), None);
    }

    #[test]
    fn invalid_yaml_is_an_error() {
        assert!(desired_config("receivers: [", WEBHOOK_URL).is_err());
    }
}
