//! Tenants cannot touch each other: a domain whose DNS record sets another cluster holds, an RP
//! private endpoint name another cluster holds, and a cluster service principal that lives in the
//! customer's tenant rather than the RP's.

use std::time::Duration;

use arm_emulator::{Principal, Seed, SeedResource, demo};
use aro_local::{LocalConfig, LocalSystem};
use e2e::{Arm, cluster_body, seed_network};
use kube::api::{Api, ListParams, Patch, PatchParams};
use rp_controller::actions::{OWNER_TAG, private_endpoint_name};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(60);

async fn system() -> LocalSystem {
    LocalSystem::start(LocalConfig {
        settings: e2e::fast_settings(),
        lease_duration: Duration::from_secs(3),
        ..Default::default()
    })
    .await
    .expect("the local system starts")
}

/// The emulator's resource with this id (case-insensitive), as GET renders it.
fn resource(system: &LocalSystem, id: &str) -> Option<Value> {
    system
        .emulator
        .as_ref()
        .unwrap()
        .resources()
        .into_iter()
        .find(|r| r["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
}

/// The error the cluster's last operation failed with (from its status).
async fn cluster_error(system: &LocalSystem, arm: &Arm, name: &str) -> crds::ArmError {
    let ns = crds::management::naming::subscription_namespace(&arm.subscription);
    let api: Api<crds::management::OpenShiftCluster> = Api::namespaced(system.client.clone(), &ns);
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|c| c.spec.name == name)
        .and_then(|c| c.status?.error)
        .unwrap_or_else(|| panic!("{name} has no error"))
}

/// The detail of an internal failure, kept for SREs (`status.internalError`).
async fn internal_error(system: &LocalSystem, arm: &Arm, name: &str) -> String {
    let ns = crds::management::naming::subscription_namespace(&arm.subscription);
    let api: Api<crds::management::OpenShiftCluster> = Api::namespaced(system.client.clone(), &ns);
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|c| c.spec.name == name)
        .and_then(|c| c.status?.internal_error)
        .unwrap_or_else(|| panic!("{name} has no internal error"))
}

fn seed(system: &LocalSystem, resources: Vec<SeedResource>) {
    system
        .emulator
        .as_ref()
        .unwrap()
        .seed(&Seed {
            resources,
            ..Default::default()
        })
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_domain_held_by_another_subscriptions_cluster_is_neither_overwritten_nor_deleted() {
    let system = system().await;
    let arm = Arm::new(&system.frontend_url);
    let emulator = system.emulator.as_ref().unwrap();

    // The winner: a cluster of another subscription whose install created the domain's record
    // sets first (the frontend's own domain claim is bypassed: this is the race it can lose).
    let winner = "/subscriptions/00000000-0000-0000-0000-0000000000b2/resourceGroups/other/providers/Microsoft.RedHatOpenShift/openShiftClusters/winner";
    let zone = format!(
        "{}/providers/Microsoft.Network/dnszones/eastus.{}",
        system.settings.dns_resource_group_id,
        aro_local::LOCAL_PARENT_DOMAIN
    );
    let record = |name: &str, ip: &str| SeedResource {
        id: format!("{zone}/A/{name}"),
        body: json!({"properties": {"TTL": 300, "metadata": {OWNER_TAG: winner},
            "ARecords": [{"ipv4Address": ip}]}}),
    };
    seed(
        &system,
        vec![
            SeedResource {
                id: system.settings.dns_resource_group_id.clone(),
                body: json!({"location": "eastus"}),
            },
            SeedResource {
                id: zone.clone(),
                body: json!({"location": "global"}),
            },
            record("api.shared", "20.1.1.1"),
            record("*.apps.shared", "20.1.1.2"),
        ],
    );
    let api_record = format!("{zone}/A/api.shared");
    let apps_record = format!("{zone}/A/*.apps.shared");
    let before = [
        resource(&system, &api_record).unwrap(),
        resource(&system, &apps_record).unwrap(),
    ];

    // The loser: same domain label in the demo subscription.
    let network = seed_network(emulator, "shared-vnet", 3, true).unwrap();
    let created = arm
        .put("shared", &cluster_body("shared", &network))
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    let cluster = arm
        .wait_for_state("shared", &["Succeeded", "Failed"], T)
        .await
        .unwrap();
    assert_eq!(
        cluster["properties"]["provisioningState"], "Failed",
        "{cluster}"
    );
    let error = cluster_error(&system, &arm, "shared").await;
    assert_eq!(error.code, "DuplicateDomain", "{error:?}");
    assert_eq!(
        error.target.as_deref(),
        Some("properties.clusterProfile.domain")
    );
    assert!(
        error.message.contains("shared.eastus.aro.local") && !error.message.contains(winner),
        "{error:?}"
    );
    // The winner's record sets are untouched (same addresses, owner and etag).
    let after = [
        resource(&system, &api_record).unwrap(),
        resource(&system, &apps_record).unwrap(),
    ];
    assert_eq!(after, before);

    // Deleting the loser leaves them in place.
    assert_eq!(arm.delete("shared").await.unwrap().status, 202);
    arm.wait_gone("shared", T).await.unwrap();
    let after_delete = [
        resource(&system, &api_record).unwrap(),
        resource(&system, &apps_record).unwrap(),
    ];
    assert_eq!(after_delete, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_rp_private_endpoint_of_another_cluster_is_neither_adopted_nor_deleted() {
    let system = system().await;
    let arm = Arm::new(&system.frontend_url);
    let emulator = system.emulator.as_ref().unwrap();

    // A first cluster gets its endpoint, tagged for it and connected to its private link service.
    let first_net = seed_network(emulator, "first-vnet", 4, true).unwrap();
    assert_eq!(
        arm.put("first", &cluster_body("first", &first_net))
            .await
            .unwrap()
            .status,
        201
    );
    let cluster = arm
        .wait_for_state("first", &["Succeeded", "Failed"], T)
        .await
        .unwrap();
    assert_eq!(
        cluster["properties"]["provisioningState"], "Succeeded",
        "{cluster}"
    );
    let endpoint_id = |cluster: &str| {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/privateEndpoints/{}",
            demo::SUBSCRIPTION,
            demo::RP_RESOURCE_GROUP,
            private_endpoint_name(&arm.cluster_id(cluster))
        )
    };
    let first_endpoint = resource(&system, &endpoint_id("first")).expect("first's endpoint");
    assert_eq!(first_endpoint["tags"][OWNER_TAG], arm.cluster_id("first"));

    // An endpoint of the first cluster sits where the second cluster's would go.
    let squatter_id = endpoint_id("second");
    let mut body = first_endpoint.clone();
    for field in ["id", "name", "etag"] {
        body.as_object_mut().unwrap().remove(field);
    }
    seed(
        &system,
        vec![SeedResource {
            id: squatter_id.clone(),
            body,
        }],
    );
    let squatter = resource(&system, &squatter_id).unwrap();

    // The second cluster's install does not adopt it.
    let second_net = seed_network(emulator, "second-vnet", 5, true).unwrap();
    assert_eq!(
        arm.put("second", &cluster_body("second", &second_net))
            .await
            .unwrap()
            .status,
        201
    );
    let cluster = arm
        .wait_for_state("second", &["Succeeded", "Failed"], T)
        .await
        .unwrap();
    assert_eq!(
        cluster["properties"]["provisioningState"], "Failed",
        "{cluster}"
    );
    // An RP-side failure: the customer sees the generic error, SREs the detail.
    let error = cluster_error(&system, &arm, "second").await;
    assert_eq!(error.message, "Internal server error.", "{error:?}");
    let detail = internal_error(&system, &arm, "second").await;
    assert!(
        detail.contains("private endpoint") && !detail.contains("first"),
        "{detail}"
    );
    assert_eq!(resource(&system, &squatter_id).unwrap(), squatter);

    // Nor does its delete remove it; the first cluster's own endpoint is untouched too.
    assert_eq!(arm.delete("second").await.unwrap().status, 202);
    arm.wait_gone("second", T).await.unwrap();
    assert_eq!(resource(&system, &squatter_id).unwrap(), squatter);
    assert_eq!(
        resource(&system, &endpoint_id("first")).unwrap(),
        first_endpoint
    );

    // The first cluster's delete removes its own endpoint only.
    assert_eq!(arm.delete("first").await.unwrap().status, 202);
    arm.wait_gone("first", T).await.unwrap();
    assert!(resource(&system, &endpoint_id("first")).is_none());
    assert_eq!(resource(&system, &squatter_id).unwrap(), squatter);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cluster_service_principal_is_validated_in_the_subscriptions_tenant() {
    let system = system().await;
    let arm = Arm::new(&system.frontend_url);
    let emulator = system.emulator.as_ref().unwrap();

    // ARM registered the subscription under tenant A; the RP itself lives in another tenant.
    let tenant_a = "00000000-0000-0000-0000-0000000a0a0a";
    assert_ne!(system.azure.tenant_id, tenant_a);
    let subscriptions: Api<crds::management::Subscription> = Api::all(system.client.clone());
    subscriptions
        .patch(
            demo::SUBSCRIPTION,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"tenantId": tenant_a}})),
        )
        .await
        .unwrap();
    // The cluster's service principal is an application of tenant A only.
    let network = seed_network(emulator, "tenant-vnet", 6, true).unwrap();
    emulator
        .add_principal(Principal {
            client_id: network.client_id.clone(),
            client_secret: Some(network.client_secret.clone().into()),
            federated_token: None,
            object_id: format!("00000000-0000-0000-00c2-{:012}", 6 * 64),
            tenant_id: Some(tenant_a.into()),
            restricted: true,
        })
        .unwrap();

    assert_eq!(
        arm.put("tenant", &cluster_body("tenant", &network))
            .await
            .unwrap()
            .status,
        201
    );
    let cluster = arm
        .wait_for_state("tenant", &["Succeeded", "Failed"], T)
        .await
        .unwrap();
    assert_eq!(
        cluster["properties"]["provisioningState"], "Succeeded",
        "{cluster}"
    );
    // Every token of the cluster's principal was asked of tenant A, and issued.
    let asked: Vec<_> = emulator
        .token_requests()
        .into_iter()
        .filter(|r| r.client_id.eq_ignore_ascii_case(&network.client_id))
        .collect();
    assert!(!asked.is_empty());
    assert!(
        asked
            .iter()
            .all(|r| r.tenant.eq_ignore_ascii_case(tenant_a) && r.status == 200),
        "{asked:?}"
    );
    // The RP's own tokens still come from its tenant.
    assert!(
        emulator
            .token_requests()
            .iter()
            .any(|r| r.client_id == demo::RP_CLIENT_ID && r.tenant == system.azure.tenant_id)
    );
}
