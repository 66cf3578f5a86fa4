//! The cluster itself, through the cluster runtime: its infrastructure id, bringing it up from
//! what the install knows, waiting for its API server, tearing it down; and what status says of
//! it once installed (URLs, worker profiles, `provisionedBy`).

use std::time::Duration;

use aro_common::ResourceId;

use crds::ArmError;
use crds::management::{OpenShiftClusterSpec, Toggle};
use kube::ResourceExt;

use super::credentials::customer_tenant;
use super::{
    CLIENT_SECRET_KEY, PULL_SECRET_KEY, SSH_KEY_KEY, StepEnv, credentials_secret_name,
    kube_outcome, random_suffix, runtime_outcome,
};
use crate::azure::StepResult;
use crate::cluster_runtime::installer::openssh_public_key;
use crate::cluster_runtime::{SeedInput, ServicePrincipalCredentials, WorkerPool};
use crate::infra;
use crate::steps::Outcome;

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
    // Validated at the start of the install: the resource group id parses.
    let names = env.names()?;
    let mut seed = seed_from_spec(
        spec,
        &names.infra_id,
        &env.ctx.settings.parent_domain,
        &env.ctx.settings.dns_resource_group_id,
    );
    let version = version_spec(env).await?;
    seed.service_principal = match &spec.service_principal_profile {
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
    seed.pull_secret = env
        .customer_secret(PULL_SECRET_KEY)
        .await?
        .unwrap_or_default();
    if let Some(version) = version {
        seed.release_pullspec = version.open_shift_pullspec;
        seed.installer_pullspec = version.installer_pullspec;
    }
    let ssh_key = env
        .secret_value(
            &credentials_secret_name(&env.cluster.name_any()),
            SSH_KEY_KEY,
        )
        .await?;
    if let Some(key) = ssh_key.filter(|k| !k.is_blank()) {
        seed.ssh_public_key = openssh_public_key(key.expose()).map_err(|e| {
            Outcome::Failed(ArmError::new(
                "InternalServerError",
                format!("The cluster's SSH key cannot be read: {e}"),
            ))
        })?;
    }
    Ok(seed)
}

/// What the install knows of a cluster from its spec alone (no secrets, no version images):
/// names, network, visibility, FIPS and machine pools. Pure.
pub fn seed_from_spec(
    spec: &OpenShiftClusterSpec,
    infra_id: &str,
    parent_domain: &str,
    dns_resource_group_id: &str,
) -> SeedInput {
    let toggle = |t: Toggle| t == Toggle::Enabled;
    let subnet_name = |id: &str| {
        ResourceId::parse(id)
            .map(|id| id.name().to_string())
            .unwrap_or_default()
    };
    let master = ResourceId::parse(&spec.master_profile.subnet_id).ok();
    let pools: Vec<WorkerPool> = spec
        .worker_profiles
        .iter()
        .map(|w| WorkerPool {
            name: w.name.clone(),
            vm_size: w.vm_size.clone(),
            disk_size_gb: w.disk_size_gb,
            count: w.count.max(0) as u32,
            subnet: subnet_name(&w.subnet_id),
            encryption_at_host: toggle(w.encryption_at_host),
            disk_encryption_set_id: w.disk_encryption_set_id.clone(),
        })
        .collect();
    let worker = pools.first().cloned().unwrap_or_default();
    let fqdn = infra::cluster_fqdn(spec, parent_domain);
    // openshift-install writes the public records into the base domain's zone, found in this
    // resource group of the cluster's subscription: so the RP's zone must be reachable there
    // with the cluster's credentials. A custom domain's zone is the customer's, unknown here.
    let base_domain_resource_group = ResourceId::parse_resource_group(dns_resource_group_id)
        .ok()
        .filter(|_| infra::in_rp_zone(spec, parent_domain))
        .map(|(_, rg)| rg)
        .unwrap_or_default();
    SeedInput {
        infra_id: infra_id.to_string(),
        version: spec.cluster_profile.version.clone(),
        location: spec.location.clone(),
        domain: fqdn,
        subscription_id: spec.subscription_id.clone(),
        cluster_resource_group: ResourceId::parse_resource_group(
            &spec.cluster_profile.resource_group_id,
        )
        .map(|(_, rg)| rg)
        .unwrap_or_default(),
        vnet_resource_group: master
            .as_ref()
            .map(|m| m.resource_group.clone())
            .unwrap_or_default(),
        vnet: master
            .as_ref()
            .map(|m| m.top_name().to_string())
            .unwrap_or_default(),
        master_subnet: subnet_name(&spec.master_profile.subnet_id),
        worker_subnet: worker.subnet.clone(),
        master_vm_size: spec.master_profile.vm_size.clone(),
        worker_vm_size: worker.vm_size.clone(),
        worker_count: worker.count,
        worker_disk_size_gb: worker.disk_size_gb,
        pod_cidr: spec.network_profile.pod_cidr.clone(),
        service_cidr: spec.network_profile.service_cidr.clone(),
        network_type: spec
            .network_profile
            .software_defined_network
            .clone()
            .unwrap_or_default(),
        outbound_type: spec.network_profile.outbound_type,
        apiserver_visibility: spec.apiserver_profile.visibility,
        ingress_visibility: spec
            .ingress_profiles
            .first()
            .map(|i| i.visibility)
            .unwrap_or_default(),
        fips: toggle(spec.cluster_profile.fips_validated_modules),
        master_encryption_at_host: toggle(spec.master_profile.encryption_at_host),
        master_disk_encryption_set_id: spec.master_profile.disk_encryption_set_id.clone(),
        worker_pools: pools,
        base_domain_resource_group,
        ..Default::default()
    }
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
        // The cluster's SSH key, as the install makes it before the cluster comes up.
        assert_eq!(
            h.run(StepId::EnsureSshKey, &cluster, &mut status).await,
            Outcome::Done
        );
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
        assert!(
            seed.ssh_public_key
                .starts_with("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY"),
            "{}",
            seed.ssh_public_key
        );
        assert_eq!(seed.worker_pools.len(), 1);
        assert_eq!(
            (
                seed.worker_pools[0].name.as_str(),
                seed.worker_pools[0].subnet.as_str()
            ),
            ("worker", "worker")
        );

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

/// The install-config of a cluster created through each API version that can express its
/// settings, compared with golden files: `testdata/installer/clusters/<version>.json` (a PUT body
/// of that version) -> the frontend's conversion -> [`seed_from_spec`] ->
/// `install-config-<version>.yaml`. `UPDATE_GOLDEN=1` rewrites the golden files.
#[cfg(test)]
mod install_config_golden {
    use super::seed_from_spec;
    use crate::cluster_runtime::installer::{check_installable, install_config};
    use crds::management::OpenShiftClusterSpec;
    use rp_frontend::api::{ApiVersion, convert, parse_cluster};
    use std::path::PathBuf;

    const PARENT_DOMAIN: &str = "aroapp.example";
    const DNS_RESOURCE_GROUP_ID: &str =
        "/subscriptions/99999999-9999-9999-9999-999999999999/resourceGroups/rp-dns";

    fn testdata() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/installer")
    }

    fn install_config_yaml(version: ApiVersion) -> String {
        let body =
            std::fs::read(testdata().join(format!("clusters/{}.json", version.as_str()))).unwrap();
        let external = parse_cluster(version, &body).unwrap();
        let mut spec = OpenShiftClusterSpec {
            subscription_id: "00000000-0000-0000-0000-000000000001".into(),
            resource_group: "customer-rg".into(),
            name: "cluster".into(),
            ..Default::default()
        };
        let secrets = convert::apply(&external, &version.features(), &mut spec);
        let mut seed = seed_from_spec(&spec, "cluster-x7k2p", PARENT_DOMAIN, DNS_RESOURCE_GROUP_ID);
        seed.pull_secret = secrets.pull_secret.unwrap_or_default();
        seed.ssh_public_key = std::fs::read_to_string(testdata().join("ssh-key.pub"))
            .unwrap()
            .trim()
            .to_string();
        check_installable(&seed).unwrap();
        serde_yaml::to_string(&install_config(&seed)).unwrap()
    }

    #[test]
    fn install_configs_match_the_golden_files_per_api_version() {
        let update = std::env::var_os("UPDATE_GOLDEN").is_some();
        let versions = [
            ApiVersion::V2020_04_30,
            ApiVersion::V2021_09_01Preview,
            ApiVersion::V2023_04_01,
            ApiVersion::V2025_07_25,
        ];
        let mut configs = Vec::new();
        for version in versions {
            let yaml = install_config_yaml(version);
            let golden = testdata().join(format!("install-config-{}.yaml", version.as_str()));
            if update {
                std::fs::write(&golden, &yaml).unwrap();
            }
            let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
                panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", golden.display())
            });
            pretty_assertions::assert_eq!(yaml, expected, "{}", golden.display());
            configs.push(yaml);
        }
        // Each fixture says something the others do not.
        for (i, a) in configs.iter().enumerate() {
            for b in &configs[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn each_api_version_gets_what_it_can_express() {
        let parsed = |v: ApiVersion| -> serde_json::Value {
            serde_yaml::from_str(&install_config_yaml(v)).unwrap()
        };
        // 2020-04-30: public, load balancer, no FIPS; the RP's zone publishes the records.
        let oldest = parsed(ApiVersion::V2020_04_30);
        assert_eq!(oldest["publish"], "External");
        assert_eq!(oldest["fips"], false);
        assert_eq!(
            oldest["platform"]["azure"]["baseDomainResourceGroupName"],
            "rp-dns"
        );
        assert_eq!(oldest["baseDomain"], "eastus.aroapp.example");
        assert!(
            oldest["sshKey"]
                .as_str()
                .unwrap()
                .starts_with("ecdsa-sha2-nistp256 AAAA")
        );
        assert!(
            !oldest["pullSecret"]
                .as_str()
                .unwrap()
                .contains("cloud.openshift.com")
        );
        // 2021-09-01-preview: OpenShiftSDN, encryption at host, private ingress only.
        let sdn = parsed(ApiVersion::V2021_09_01Preview);
        assert_eq!(sdn["networking"]["networkType"], "OpenShiftSDN");
        assert_eq!(sdn["publish"], "Mixed");
        assert_eq!(sdn["operatorPublishingStrategy"]["ingress"], "Internal");
        assert_eq!(sdn["operatorPublishingStrategy"]["apiserver"], "External");
        assert_eq!(
            sdn["compute"][0]["platform"]["azure"]["encryptionAtHost"],
            true
        );
        // 2023-04-01: FIPS, disk encryption sets, private API server only.
        let middle = parsed(ApiVersion::V2023_04_01);
        assert_eq!(middle["fips"], true);
        assert_eq!(
            middle["operatorPublishingStrategy"]["apiserver"],
            "Internal"
        );
        assert_eq!(
            middle["controlPlane"]["platform"]["azure"]["osDisk"]["diskEncryptionSet"]["name"],
            "beta-des"
        );
        // 2025-07-25: everything private, user-defined routing, a custom domain.
        let newest = parsed(ApiVersion::V2025_07_25);
        assert_eq!(newest["publish"], "Internal");
        assert!(newest.get("operatorPublishingStrategy").is_none());
        assert_eq!(
            newest["platform"]["azure"]["outboundType"],
            "UserDefinedRouting"
        );
        assert!(
            newest["platform"]["azure"]
                .get("baseDomainResourceGroupName")
                .is_none()
        );
        assert_eq!(newest["metadata"]["name"], "gamma");
        assert_eq!(newest["baseDomain"], "contoso.com");
        assert_eq!(newest["platform"]["azure"]["computeSubnet"], "nodes");
    }
}
