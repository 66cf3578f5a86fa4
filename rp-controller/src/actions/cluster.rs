//! The cluster itself, through the cluster runtime: its infrastructure id, bringing it up from
//! what the install knows, waiting for its API server, tearing it down; and what status says of
//! it once installed (URLs, worker profiles, `provisionedBy`).

use std::time::Duration;

use aro_common::ResourceId;

use super::credentials::customer_tenant;
use super::{
    CLIENT_SECRET_KEY, PULL_SECRET_KEY, StepEnv, kube_outcome, random_suffix, runtime_outcome,
};
use crate::azure::StepResult;
use crate::cluster_runtime::{SeedInput, ServicePrincipalCredentials};
use crate::infra;

pub(super) fn ensure_infra_id(env: &mut StepEnv<'_>) -> StepResult<()> {
    if env.status.infra_id.is_none() {
        env.status.infra_id = Some(infra::infra_id(&env.cluster.spec.name, &random_suffix(5)));
    }
    if env.status.storage_suffix.is_none() {
        env.status.storage_suffix = Some(random_suffix(5));
    }
    Ok(())
}

async fn seed_input(env: &StepEnv<'_>) -> StepResult<SeedInput> {
    let spec = &env.cluster.spec;
    let names = env.names()?;
    let worker = spec.worker_profiles.first().cloned().unwrap_or_default();
    let version = version_spec(env).await?;
    let service_principal = match &spec.service_principal_profile {
        Some(sp) => Some(ServicePrincipalCredentials {
            tenant_id: customer_tenant(env).await?,
            client_id: sp.client_id.clone(),
            client_secret: env
                .customer_secret(CLIENT_SECRET_KEY)
                .await?
                .unwrap_or_default(),
        }),
        None => None,
    };
    // Validated at the start of the install, so the subnet ids parse.
    let master = ResourceId::parse(&spec.master_profile.subnet_id).ok();
    let subnet_name = |id: &str| {
        ResourceId::parse(id)
            .map(|id| id.name().to_string())
            .unwrap_or_default()
    };
    Ok(SeedInput {
        infra_id: names.infra_id.clone(),
        version: spec.cluster_profile.version.clone(),
        location: spec.location.clone(),
        domain: env.fqdn(),
        subscription_id: spec.subscription_id.clone(),
        cluster_resource_group: names.resource_group.clone(),
        vnet_resource_group: master
            .as_ref()
            .map(|m| m.resource_group.clone())
            .unwrap_or_default(),
        vnet: master
            .as_ref()
            .map(|m| m.top_name().to_string())
            .unwrap_or_default(),
        master_subnet: subnet_name(&spec.master_profile.subnet_id),
        worker_subnet: subnet_name(&worker.subnet_id),
        master_vm_size: spec.master_profile.vm_size.clone(),
        worker_vm_size: worker.vm_size.clone(),
        worker_count: worker.count.max(0) as u32,
        worker_disk_size_gb: worker.disk_size_gb,
        pull_secret: env
            .customer_secret(PULL_SECRET_KEY)
            .await?
            .unwrap_or_default(),
        release_pullspec: version
            .as_ref()
            .map(|v| v.open_shift_pullspec.clone())
            .unwrap_or_default(),
        installer_pullspec: version.map(|v| v.installer_pullspec).unwrap_or_default(),
        service_principal,
    })
}

/// The `OpenShiftVersion` of the cluster's version (object name: the version), when the RP has it.
async fn version_spec(
    env: &StepEnv<'_>,
) -> StepResult<Option<crds::management::OpenShiftVersionSpec>> {
    let api: kube::Api<crds::management::OpenShiftVersion> = kube::Api::all(env.ctx.client.clone());
    let version = api
        .get_opt(&env.cluster.spec.cluster_profile.version)
        .await
        .map_err(|e| kube_outcome(&e))?;
    Ok(version.map(|v| v.spec))
}

pub(super) async fn run_installer(env: &mut StepEnv<'_>) -> StepResult<()> {
    let input = seed_input(env).await?;
    env.ctx
        .runtime
        .ensure_cluster(&input.infra_id, &input)
        .await
        .map_err(|e| runtime_outcome(&e))?;
    Ok(())
}

pub(super) async fn api_servers_ready(env: &mut StepEnv<'_>) -> StepResult<()> {
    let infra_id = env.infra_id()?;
    // After a process restart a durable local cluster is started again here.
    env.ctx
        .runtime
        .resume(&infra_id)
        .await
        .map_err(|e| runtime_outcome(&e))?;
    match env.ctx.runtime.api_ready(&infra_id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(env.poll(Duration::from_secs(1))),
        Err(e) => Err(runtime_outcome(&e)),
    }
}

pub(super) fn update_cluster_data(env: &mut StepEnv<'_>) -> StepResult<()> {
    let fqdn = env.fqdn();
    env.status.apiserver_url = Some(infra::apiserver_url(&fqdn));
    env.status.console_url = Some(infra::console_url(&fqdn));
    env.status.worker_profiles_status = env.cluster.spec.worker_profiles.clone();
    env.status.provisioned_by = Some(env.ctx.settings.rp_version.clone());
    Ok(())
}

pub(super) async fn delete_runtime(env: &mut StepEnv<'_>) -> StepResult<()> {
    let Some(infra_id) = env.status.infra_id.clone() else {
        return Ok(());
    };
    env.ctx
        .runtime
        .delete(&infra_id)
        .await
        .map_err(|e| runtime_outcome(&e))
}

#[cfg(test)]
mod tests {
    use crate::actions::PULL_SECRET_KEY;
    use crate::actions::testing::{Harness, RuntimeCall, cluster, installing};
    use crate::steps::{Outcome, StepId};
    use crds::management::OpenShiftClusterStatus;

    #[tokio::test]
    async fn the_infra_id_is_made_once() {
        let h = Harness::arm_only().await;
        let cluster = cluster();
        let mut status = OpenShiftClusterStatus::default();
        assert_eq!(
            h.run(StepId::EnsureInfraId, &cluster, &mut status).await,
            Outcome::Done
        );
        let infra_id = status.infra_id.clone().unwrap();
        assert!(
            infra_id.starts_with("demo-") && infra_id.len() == 10,
            "{infra_id}"
        );
        let suffix = status.storage_suffix.clone().unwrap();
        assert_eq!(suffix.len(), 5);
        h.run(StepId::EnsureInfraId, &cluster, &mut status).await;
        assert_eq!(
            (status.infra_id, status.storage_suffix),
            (Some(infra_id), Some(suffix))
        );
    }

    #[tokio::test]
    async fn the_runtime_gets_the_cluster_as_the_install_knows_it_then_waits_and_tears_down() {
        let h = Harness::with_kube().await;
        h.put_customer_secret(&[(PULL_SECRET_KEY, r#"{"auths":{}}"#)])
            .await;
        let cluster = cluster();
        let mut status = installing();
        assert_eq!(
            h.run(StepId::RunInstaller, &cluster, &mut status).await,
            Outcome::Done
        );
        let calls = h.runtime_calls();
        let [RuntimeCall::EnsureCluster(seed)] = calls.as_slice() else {
            panic!("{calls:?}");
        };
        assert_eq!(seed.infra_id, "demo-abcde");
        assert_eq!(seed.domain, "demo.eastus.aro.example");
        assert_eq!(seed.cluster_resource_group, "aro-demo");
        assert_eq!(
            (
                seed.vnet_resource_group.as_str(),
                seed.vnet.as_str(),
                seed.master_subnet.as_str(),
                seed.worker_subnet.as_str()
            ),
            ("demo-rg", "demo-vnet", "master", "worker")
        );
        assert_eq!((seed.worker_count, seed.worker_disk_size_gb), (3, 128));
        assert_eq!(seed.pull_secret.expose(), r#"{"auths":{}}"#);

        // Not ready yet: polled again; then done.
        let outcome = h
            .run_once(StepId::ApiServersReady, &cluster, &mut status, None)
            .await;
        assert!(matches!(outcome, Outcome::InProgress { .. }), "{outcome:?}");
        *h.runtime.ready.lock().unwrap() = true;
        assert_eq!(
            h.run(StepId::ApiServersReady, &cluster, &mut status).await,
            Outcome::Done
        );

        assert_eq!(
            h.run(StepId::DeleteClusterRuntime, &cluster, &mut status)
                .await,
            Outcome::Done
        );
        assert!(matches!(
            h.runtime_calls().last(),
            Some(RuntimeCall::Delete)
        ));
    }

    #[tokio::test]
    async fn a_cluster_never_installed_has_no_runtime_to_delete() {
        let h = Harness::arm_only().await;
        let mut status = OpenShiftClusterStatus::default();
        assert_eq!(
            h.run(StepId::DeleteClusterRuntime, &cluster(), &mut status)
                .await,
            Outcome::Done
        );
        assert!(h.runtime_calls().is_empty());
    }

    #[tokio::test]
    async fn cluster_data_names_the_urls_workers_and_this_rp() {
        let h = Harness::arm_only().await;
        let cluster = cluster();
        for step in [StepId::UpdateClusterData, StepId::UpdateProvisionedBy] {
            let mut status = installing();
            assert_eq!(h.run(step, &cluster, &mut status).await, Outcome::Done);
            assert_eq!(
                status.apiserver_url.as_deref(),
                Some("https://api.demo.eastus.aro.example:6443/")
            );
            assert!(
                status
                    .console_url
                    .as_deref()
                    .is_some_and(|u| u.contains("console-openshift-console.apps.demo")),
                "{:?}",
                status.console_url
            );
            assert_eq!(status.worker_profiles_status, cluster.spec.worker_profiles);
            assert_eq!(
                status.provisioned_by.as_deref(),
                Some(env!("CARGO_PKG_VERSION"))
            );
        }
    }
}
