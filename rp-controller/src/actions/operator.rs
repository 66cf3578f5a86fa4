//! The ARO operator in the cluster: its chart values from the cluster document, its Azure
//! identity, its deployment through the cluster runtime, and the wait until it runs.

use std::time::Duration;

use crds::ArmError;
use serde_json::json;

use super::credentials::{customer_tenant, operator_credentials, put_operator_credentials};
use super::{CLIENT_SECRET_KEY, OPERATOR_CREDENTIALS_SECRET, StepEnv, runtime_outcome};
use crate::azure::StepResult;
use crate::steps::Outcome;
use crate::validation;

/// The operator chart values for this cluster.
fn operator_values(env: &StepEnv<'_>) -> StepResult<aro_operator::manifests::OperatorDeployValues> {
    let spec = &env.cluster.spec;
    let names = env.names()?;
    let vnet_id = validation::network::vnet_id_of(&spec.master_profile.subnet_id)
        .unwrap_or_default()
        .to_string();
    let mut cluster_spec = json!({
        "resourceId": spec.resource_id,
        "clusterResourceGroupId": spec.cluster_profile.resource_group_id,
        "domain": env.fqdn(),
        "location": spec.location,
        "infraId": names.infra_id,
        "storageSuffix": env.status.storage_suffix.clone().unwrap_or_default(),
        "architectureVersion": spec.architecture_version,
        "vnetId": vnet_id,
        "apiIntIP": env.status.apiserver_int_ip.clone().unwrap_or_default(),
        "ingressIP": env.status.ingress_ips.first().map(|i| i.ip.clone()).unwrap_or_default(),
    });
    if !spec.operator_flags.is_empty() {
        cluster_spec["operatorflags"] = json!(spec.operator_flags);
    }
    let mut overrides = json!({"cluster": {"spec": cluster_spec}});
    if let Some(version) = &spec.operator_version {
        overrides["image"] = json!({"tag": version});
    }
    aro_operator::manifests::OperatorDeployValues::with_overrides(&overrides).map_err(|e| {
        Outcome::Failed(ArmError::new(
            "InternalServerError",
            format!("The operator values are invalid: {e}"),
        ))
    })
}

pub(super) async fn install_operator(env: &mut StepEnv<'_>) -> StepResult<()> {
    let infra_id = env.infra_id()?;
    let mut values = operator_values(env)?;
    env.ctx
        .runtime
        .resume(&infra_id)
        .await
        .map_err(|e| runtime_outcome(&e))?;
    // The master operator's subnets controller acts as the cluster's service principal; its
    // identity is in place before the Deployment that reads it.
    if let Some(sp) = env.cluster.spec.service_principal_profile.clone() {
        let secret = env
            .customer_secret(CLIENT_SECRET_KEY)
            .await?
            .unwrap_or_default();
        let tenant = customer_tenant(env).await?;
        let identity = operator_credentials(env, &tenant, &sp.client_id, &secret);
        let client = env.cluster_client(&infra_id).await?;
        put_operator_credentials(&client, identity).await?;
        values.master.azure_credentials_secret = OPERATOR_CREDENTIALS_SECRET.into();
    }
    env.ctx
        .runtime
        .install_operator(&infra_id, &values)
        .await
        .map_err(|e| runtime_outcome(&e))
}

pub(super) async fn operator_ready(env: &mut StepEnv<'_>) -> StepResult<()> {
    let infra_id = env.infra_id()?;
    // A restarted controller brings the cluster (and its operator) back before asking.
    env.ctx
        .runtime
        .resume(&infra_id)
        .await
        .map_err(|e| runtime_outcome(&e))?;
    match env.ctx.runtime.operator_ready(&infra_id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(env.poll(Duration::from_millis(500))),
        Err(e) => Err(runtime_outcome(&e)),
    }
}

#[cfg(test)]
mod tests {
    use crate::actions::testing::{
        Harness, RuntimeCall, cluster, cluster_with_service_principal, installing,
    };
    use crate::actions::{CLIENT_SECRET_KEY, OPERATOR_CREDENTIALS_SECRET};
    use crate::steps::{Outcome, StepId};
    use arm_emulator::demo;

    fn deployed(h: &Harness) -> aro_operator::manifests::OperatorDeployValues {
        h.runtime_calls()
            .into_iter()
            .rev()
            .find_map(|c| match c {
                RuntimeCall::InstallOperator(values) => Some(*values),
                _ => None,
            })
            .expect("the operator was deployed")
    }

    #[tokio::test]
    async fn the_operator_is_deployed_with_the_clusters_values_and_awaited() {
        let h = Harness::arm_only().await;
        let mut cluster = cluster();
        cluster.spec.operator_version = Some("v2".into());
        let mut status = installing();
        status.apiserver_int_ip = Some("10.0.0.4".into());
        for step in [
            StepId::InstallAroOperator,
            StepId::UpdateOperatorSecrets,
            StepId::SyncClusterObject,
        ] {
            assert_eq!(h.run(step, &cluster, &mut status).await, Outcome::Done);
        }
        let values = deployed(&h);
        let spec = &values.cluster.spec;
        assert_eq!(spec["domain"], "demo.eastus.aro.example");
        assert_eq!(spec["infraId"], "demo-abcde");
        assert_eq!(spec["vnetId"], demo::vnet_id().as_str());
        assert_eq!(spec["apiIntIP"], "10.0.0.4");
        assert_eq!(values.image.tag, "v2");
        // Without a service principal the operator gets no Azure identity.
        assert_eq!(values.master.azure_credentials_secret, "");

        let outcome = h
            .run_once(StepId::AroDeploymentReady, &cluster, &mut status, None)
            .await;
        assert!(matches!(outcome, Outcome::InProgress { .. }), "{outcome:?}");
        *h.runtime.ready.lock().unwrap() = true;
        assert_eq!(
            h.run(StepId::AroDeploymentReady, &cluster, &mut status)
                .await,
            Outcome::Done
        );
    }

    #[tokio::test]
    async fn with_a_service_principal_the_operator_gets_its_identity_first() {
        let h = Harness::with_kube().await;
        h.register_subscription(demo::TENANT).await;
        h.put_customer_secret(&[(CLIENT_SECRET_KEY, demo::CLUSTER_CLIENT_SECRET)])
            .await;
        let cluster = cluster_with_service_principal();
        let mut status = installing();
        assert_eq!(
            h.run(StepId::InstallAroOperator, &cluster, &mut status)
                .await,
            Outcome::Done
        );
        assert_eq!(
            deployed(&h).master.azure_credentials_secret,
            OPERATOR_CREDENTIALS_SECRET
        );
        let identity = h
            .secret_data(
                aro_operator::OPERATOR_NAMESPACE,
                OPERATOR_CREDENTIALS_SECRET,
            )
            .await
            .expect("the operator's identity Secret");
        assert_eq!(identity["AZURE_TENANT_ID"], demo::TENANT);
        assert_eq!(identity["AZURE_CLIENT_ID"], demo::CLUSTER_CLIENT_ID);
        assert_eq!(identity["AZURE_CLIENT_SECRET"], demo::CLUSTER_CLIENT_SECRET);
        assert_eq!(identity["AZURE_SUBSCRIPTION_ID"], demo::SUBSCRIPTION);
    }
}
