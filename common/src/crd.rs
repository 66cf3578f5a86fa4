//! Installing CustomResourceDefinitions: the management CRDs (rp-controller, `aro local`), the
//! operator's CRDs (its deployment) and the OpenShift CRDs of a local cluster all go through
//! [`apply_crds`], which writes only drifted CRDs and returns once each is established.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::ApiResource;
use serde_json::{Value, json};

use crate::drift::is_subset;
use crate::{Error, Result};

/// How long [`apply_crds`] waits for a CRD to be established (as ARO-RP's deployer does).
pub const CRD_ESTABLISHED_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether a CRD (as JSON) reports `Established=True`.
pub fn crd_established(crd: &Value) -> bool {
    crd["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
    })
}

/// Create or repair `crds` with server-side apply as `field_manager` (forced: the CRDs are this
/// writer's) and wait until each is established. Returns how many were written.
pub async fn apply_crds(
    client: &kube::Client,
    crds: &[CustomResourceDefinition],
    field_manager: &str,
) -> Result<usize> {
    let mut written = 0;
    let crd_api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::erase::<CustomResourceDefinition>(&()),
    );
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let mut desired = serde_json::to_value(crd)?;
        desired["apiVersion"] = json!("apiextensions.k8s.io/v1");
        desired["kind"] = json!("CustomResourceDefinition");
        let in_shape = match crd_api.get_opt(&name).await? {
            Some(existing) => is_subset(&desired, &serde_json::to_value(&existing)?),
            None => false,
        };
        if !in_shape {
            crd_api
                .patch(
                    &name,
                    &PatchParams::apply(field_manager).force(),
                    &Patch::Apply(&desired),
                )
                .await?;
            tracing::info!(kind = "CustomResourceDefinition", name = %name, "applied");
            written += 1;
        }
        let deadline = tokio::time::Instant::now() + CRD_ESTABLISHED_TIMEOUT;
        loop {
            let current = serde_json::to_value(crd_api.get(&name).await?)?;
            if crd_established(&current) {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::CrdNotEstablished {
                    name,
                    timeout: CRD_ESTABLISHED_TIMEOUT,
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn established_crds_are_recognised() {
        assert!(crd_established(&json!({"status": {"conditions": [
            {"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True"}]}})));
        assert!(!crd_established(
            &json!({"status": {"conditions": [{"type": "Established", "status": "False"}]}})
        ));
        assert!(!crd_established(&json!({})));
    }
}
