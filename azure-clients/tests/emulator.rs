//! The real Azure SDK clients, built by the client layer, against an in-process arm-emulator on a
//! random port, authenticating through its token endpoint.

use arm_emulator::{
    ArmEmulator, EmulatorConfig, EmulatorHandle, FaultConfig, FaultRule, OpType, Seed, demo,
};
use azure_clients::azure_core::Url;
use azure_clients::{
    AzureClients, AzureConfig, Credentials, Error, OperationState, PendingOperation, RetrySettings,
    Started,
};
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const SUB: &str = demo::SUBSCRIPTION;
const RG: &str = demo::RESOURCE_GROUP;

async fn emulator(seed: Option<Seed>) -> EmulatorHandle {
    let mut seeds = vec![demo::seed()];
    seeds.extend(seed);
    ArmEmulator::start(EmulatorConfig {
        seeds,
        lro_delay: Duration::from_millis(20),
        lro_retry_after_secs: 0,
        ..Default::default()
    })
    .await
    .unwrap()
}

fn clients(emu: &EmulatorHandle, client_id: &str, secret: &str) -> AzureClients {
    let base = Url::parse(&emu.base_url).unwrap();
    let mut cfg = AzureConfig::new(
        base.clone(),
        base,
        demo::TENANT,
        Credentials::ClientSecret {
            client_id: client_id.into(),
            client_secret: secret.into(),
        },
        SUB,
    );
    cfg.retry = RetrySettings {
        max_retries: 8,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
    };
    AzureClients::new(cfg).unwrap()
}

fn rp(emu: &EmulatorHandle) -> AzureClients {
    clients(emu, demo::RP_CLIENT_ID, demo::RP_CLIENT_SECRET)
}

/// Follows an accepted operation to its end with the client layer's poller.
async fn complete(
    c: &AzureClients,
    method: &str,
    rsp: &azure_clients::azure_core::Response,
) -> OperationState {
    let Some(op) = PendingOperation::from_response(method, None, rsp) else {
        return OperationState::Succeeded { body: None };
    };
    // The handle is plain data: a controller stores it and polls after a restart.
    let op: PendingOperation = serde_json::from_str(&serde_json::to_string(&op).unwrap()).unwrap();
    let arm = c.arm();
    for _ in 0..500 {
        match arm.poll(&op).await.unwrap() {
            OperationState::InProgress { .. } => tokio::time::sleep(Duration::from_millis(5)).await,
            done => return done,
        }
    }
    panic!("operation never ended")
}

fn json_of<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

fn model<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn rg_id() -> String {
    demo::resource_group_id()
}

fn net_id(kind: &str, name: &str) -> String {
    format!("{}/providers/Microsoft.Network/{kind}/{name}", rg_id())
}

/// Create, get, list and delete one Microsoft.Network resource type through its SDK client.
macro_rules! network_crud {
    ($c:expr, $client:ident, $model:ident, $name:expr, $body:expr) => {{
        let net = $c.network();
        let client = net.$client();
        let rsp = client
            .create_or_update(
                RG,
                $name,
                model::<azure_clients::azure_mgmt_network::models::$model>($body),
                SUB,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            u16::from(rsp.as_raw_response().status()),
            201,
            "{} create",
            $name
        );
        assert!(matches!(
            complete(&$c, "PUT", rsp.as_raw_response()).await,
            OperationState::Succeeded { .. }
        ));
        let got = json_of(&client.get(RG, $name, SUB).await.unwrap());
        assert_eq!(got["name"], $name);
        assert_eq!(got["properties"]["provisioningState"], "Succeeded");
        let mut names = Vec::new();
        let mut pages = client.list(RG, SUB).into_stream();
        while let Some(page) = pages.next().await {
            for item in page.unwrap().value {
                names.push(json_of(&item)["name"].as_str().unwrap().to_string());
            }
        }
        assert!(
            names.contains(&$name.to_string()),
            "{} listed in {names:?}",
            $name
        );
        got
    }};
}

macro_rules! network_delete {
    ($c:expr, $client:ident, $name:expr) => {{
        let net = $c.network();
        let client = net.$client();
        let rsp = client.delete(RG, $name, SUB).send().await.unwrap();
        assert_eq!(u16::from(rsp.as_raw_response().status()), 202);
        assert!(matches!(
            complete(&$c, "DELETE", rsp.as_raw_response()).await,
            OperationState::Succeeded { .. }
        ));
        let err = Error::from(client.get(RG, $name, SUB).await.unwrap_err());
        assert!(err.is_not_found(), "{err}");
    }};
}

#[tokio::test]
async fn network_resources_create_get_list_delete() {
    let emu = emulator(None).await;
    let c = rp(&emu);
    let nsg = network_crud!(
        c,
        network_security_groups_client,
        NetworkSecurityGroup,
        "nsg1",
        json!({"location": "eastus", "properties": {"securityRules": [
        {"name": "allow-https", "properties": {"protocol": "Tcp", "access": "Allow", "direction": "Inbound", "priority": 100,
         "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "443"}}]}})
    );
    assert_eq!(nsg["properties"]["securityRules"][0]["name"], "allow-https");
    network_crud!(
        c,
        route_tables_client,
        RouteTable,
        "rt1",
        json!({"location": "eastus", "properties": {"routes": [
        {"name": "default", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "Internet"}}]}})
    );
    network_crud!(
        c,
        nat_gateways_client,
        NatGateway,
        "natgw1",
        json!({"location": "eastus", "sku": {"name": "Standard"}})
    );
    network_crud!(
        c,
        public_ip_addresses_client,
        PublicIpAddress,
        "pip1",
        json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}})
    );
    let vnet = network_crud!(
        c,
        virtual_networks_client,
        VirtualNetwork,
        "vnet2",
        json!({"location": "eastus", "properties": {
        "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
        "subnets": [{"name": "a", "properties": {"addressPrefix": "10.1.0.0/24"}}]}})
    );
    assert_eq!(vnet["properties"]["subnets"][0]["name"], "a");

    // A subnet with NSG, route table, NAT gateway, service endpoints and network policies.
    let subnets = c.network().subnets_client();
    let body = json!({"properties": {
        "addressPrefix": "10.1.1.0/24",
        "networkSecurityGroup": {"id": net_id("networkSecurityGroups", "nsg1")},
        "routeTable": {"id": net_id("routeTables", "rt1")},
        "natGateway": {"id": net_id("natGateways", "natgw1")},
        "serviceEndpoints": [{"service": "Microsoft.Storage"}, {"service": "Microsoft.ContainerRegistry"}],
        "privateLinkServiceNetworkPolicies": "Disabled",
    }});
    let rsp = subnets
        .create_or_update(
            RG,
            "vnet2",
            "b",
            model::<azure_clients::azure_mgmt_network::models::Subnet>(body),
            SUB,
        )
        .send()
        .await
        .unwrap();
    complete(&c, "PUT", rsp.as_raw_response()).await;
    let b = json_of(&subnets.get(RG, "vnet2", "b", SUB).await.unwrap());
    assert_eq!(
        b["properties"]["routeTable"]["id"],
        net_id("routeTables", "rt1")
    );
    assert_eq!(
        b["properties"]["serviceEndpoints"][1]["service"],
        "Microsoft.ContainerRegistry"
    );
    assert_eq!(
        b["properties"]["privateEndpointNetworkPolicies"],
        "Disabled"
    );
    let mut listed = 0;
    let mut pages = subnets.list(RG, "vnet2", SUB).into_stream();
    while let Some(page) = pages.next().await {
        listed += page.unwrap().value.len();
    }
    assert_eq!(listed, 2);
    let nsg = json_of(
        &c.network()
            .network_security_groups_client()
            .get(RG, "nsg1", SUB)
            .await
            .unwrap(),
    );
    assert_eq!(
        nsg["properties"]["subnets"][0]["id"],
        format!("{}/subnets/b", net_id("virtualNetworks", "vnet2"))
    );

    // A reference to a missing route table is refused with ARM's code.
    let missing = json!({"properties": {"addressPrefix": "10.1.2.0/24", "routeTable": {"id": net_id("routeTables", "nope")}}});
    let err = Error::from(
        subnets
            .create_or_update(
                RG,
                "vnet2",
                "c",
                model::<azure_clients::azure_mgmt_network::models::Subnet>(missing),
                SUB,
            )
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(err.cloud_error().unwrap().code, "InvalidResourceReference");
    assert!(!err.is_retryable());

    // Load balancer fronted by the public IP, private link service and private endpoint on subnet b.
    let subnet_b = format!("{}/subnets/b", net_id("virtualNetworks", "vnet2"));
    network_crud!(
        c,
        load_balancers_client,
        LoadBalancer,
        "lb1",
        json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {
        "frontendIPConfigurations": [{"name": "public", "properties": {"publicIPAddress": {"id": net_id("publicIPAddresses", "pip1")}}},
                                     {"name": "internal", "properties": {"subnet": {"id": subnet_b}}}],
        "backendAddressPools": [{"name": "pool"}]}})
    );
    network_crud!(
        c,
        private_link_services_client,
        PrivateLinkService,
        "pls1",
        json!({"location": "eastus", "properties": {
        "loadBalancerFrontendIpConfigurations": [{"id": format!("{}/frontendIPConfigurations/internal", net_id("loadBalancers", "lb1"))}],
        "ipConfigurations": [{"name": "ipc", "properties": {"subnet": {"id": subnet_b}}}]}})
    );
    network_crud!(
        c,
        private_endpoints_client,
        PrivateEndpoint,
        "pe1",
        json!({"location": "eastus", "properties": {
        "subnet": {"id": subnet_b},
        "privateLinkServiceConnections": [{"name": "conn", "properties": {"privateLinkServiceId": net_id("privateLinkServices", "pls1")}}]}})
    );

    // Subnet-in-use protection: the subnet and the NSG attached to it cannot go.
    let err = Error::from(
        subnets
            .delete(RG, "vnet2", "b", SUB)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(
        err.cloud_error().unwrap().code,
        "InUseSubnetCannotBeDeleted"
    );
    assert_eq!(err.status(), Some(400));
    let err = Error::from(
        c.network()
            .network_security_groups_client()
            .delete(RG, "nsg1", SUB)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(
        err.cloud_error().unwrap().code,
        "InUseNetworkSecurityGroupCannotBeDeleted"
    );

    network_delete!(c, private_endpoints_client, "pe1");
    network_delete!(c, private_link_services_client, "pls1");
    network_delete!(c, load_balancers_client, "lb1");
    let rsp = subnets.delete(RG, "vnet2", "b", SUB).send().await.unwrap();
    complete(&c, "DELETE", rsp.as_raw_response()).await;
    network_delete!(c, network_security_groups_client, "nsg1");
    network_delete!(c, route_tables_client, "rt1");
    network_delete!(c, nat_gateways_client, "natgw1");
    network_delete!(c, public_ip_addresses_client, "pip1");
    network_delete!(c, virtual_networks_client, "vnet2");
}

#[tokio::test]
async fn sdk_long_running_operation_poller_completes() {
    let emu = emulator(None).await;
    let c = rp(&emu);
    // The SDK's own IntoFuture poller follows Azure-AsyncOperation to the final resource.
    let vnet = c
        .network()
        .virtual_networks_client()
        .create_or_update(RG, "awaited", model::<azure_clients::azure_mgmt_network::models::VirtualNetwork>(json!({"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]}}})), SUB)
        .await
        .unwrap();
    assert_eq!(
        json_of(&vnet)["properties"]["provisioningState"],
        "Succeeded"
    );
}

#[tokio::test]
async fn resource_groups_providers_and_cascade_delete() {
    let emu = emulator(None).await;
    let c = rp(&emu);
    let groups = c.resources().resource_groups_client();
    let created = groups
        .create_or_update("cluster-rg", model::<azure_clients::azure_mgmt_resources::models::ResourceGroup>(json!({"location": "eastus", "managedBy": "/subscriptions/x/resourceGroups/demo-rg/providers/Microsoft.RedHatOpenShift/openShiftClusters/demo", "tags": {"a": "b"}})), SUB)
        .await
        .unwrap();
    let created = json_of(&created);
    assert_eq!(created["properties"]["provisioningState"], "Succeeded");
    let got = json_of(&groups.get("cluster-rg", SUB).await.unwrap());
    assert!(
        got["managedBy"]
            .as_str()
            .unwrap()
            .ends_with("/openShiftClusters/demo")
    );
    assert_eq!(got["tags"]["a"], "b");
    let mut names = Vec::new();
    let mut pages = groups.list(SUB).into_stream();
    while let Some(page) = pages.next().await {
        names.extend(
            page.unwrap()
                .value
                .into_iter()
                .map(|g| json_of(&g)["name"].as_str().unwrap().to_string()),
        );
    }
    assert!(names.contains(&"cluster-rg".to_string()) && names.contains(&"demo-rg".to_string()));
    assert!(
        groups
            .check_existence("cluster-rg", SUB)
            .send()
            .await
            .is_ok()
    );

    let providers = c.resources().providers_client();
    let network = json_of(&providers.get("Microsoft.Network", SUB).await.unwrap());
    assert_eq!(network["registrationState"], "Registered");
    let registered = json_of(&providers.register("Microsoft.Storage", SUB).await.unwrap());
    assert_eq!(registered["registrationState"], "Registered");

    // Resources inside the group go with it.
    let net = c.network();
    let rsp = net
        .network_security_groups_client()
        .create_or_update(
            "cluster-rg",
            "inner-nsg",
            model::<azure_clients::azure_mgmt_network::models::NetworkSecurityGroup>(
                json!({"location": "eastus"}),
            ),
            SUB,
        )
        .send()
        .await
        .unwrap();
    complete(&c, "PUT", rsp.as_raw_response()).await;
    let rsp = groups.delete("cluster-rg", SUB).send().await.unwrap();
    assert_eq!(u16::from(rsp.as_raw_response().status()), 202);
    assert!(matches!(
        complete(&c, "DELETE", rsp.as_raw_response()).await,
        OperationState::Succeeded { .. }
    ));
    let err = Error::from(groups.get("cluster-rg", SUB).await.unwrap_err());
    assert_eq!(err.cloud_error().unwrap().code, "ResourceGroupNotFound");
    let err = Error::from(
        net.network_security_groups_client()
            .get("cluster-rg", "inner-nsg", SUB)
            .await
            .unwrap_err(),
    );
    assert!(err.is_not_found());
    assert!(
        !emu.resources()
            .iter()
            .any(|r| r["id"].as_str().unwrap().contains("cluster-rg"))
    );
}

#[tokio::test]
async fn virtual_machines_skus_and_usages() {
    let seed = Seed {
        sku_restrictions: vec![arm_emulator::compute::SkuRestriction {
            name: "Standard_D16s_v3".into(),
            location: "eastus".into(),
            zones: vec![],
            reason_code: "NotAvailableForSubscription".into(),
        }],
        ..Default::default()
    };
    let emu = emulator(Some(seed)).await;
    let c = rp(&emu);
    let nic = network_crud!(
        c,
        network_interfaces_client,
        NetworkInterface,
        "vm1-nic",
        json!({"location": "eastus", "properties": {"ipConfigurations": [
        {"name": "ipc", "properties": {"subnet": {"id": demo::subnet_id("master")}, "privateIPAllocationMethod": "Dynamic"}}]}})
    );
    let compute = c.compute();
    let vms = compute.virtual_machines_client();
    let vm_body = |size: &str| {
        json!({"location": "eastus", "zones": ["1"], "properties": {
            "hardwareProfile": {"vmSize": size},
            "storageProfile": {"osDisk": {"createOption": "FromImage", "diskSizeGB": 128}},
            "networkProfile": {"networkInterfaces": [{"id": nic["id"]}]}}})
    };
    let err = Error::from(
        vms.create_or_update(
            RG,
            "vm0",
            model::<azure_clients::azure_mgmt_compute::models::VirtualMachine>(vm_body(
                "Standard_D16s_v3",
            )),
            SUB,
        )
        .send()
        .await
        .unwrap_err(),
    );
    assert_eq!(err.cloud_error().unwrap().code, "SkuNotAvailable");

    let rsp = vms
        .create_or_update(
            RG,
            "vm1",
            model::<azure_clients::azure_mgmt_compute::models::VirtualMachine>(vm_body(
                "Standard_D8s_v3",
            )),
            SUB,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(u16::from(rsp.as_raw_response().status()), 201);
    complete(&c, "PUT", rsp.as_raw_response()).await;
    let vm = json_of(
        &vms.get(RG, "vm1", SUB)
            .expand("instanceView")
            .await
            .unwrap(),
    );
    assert_eq!(vm["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        vm["properties"]["instanceView"]["statuses"][1]["code"],
        "PowerState/running"
    );
    let mut count = 0;
    let mut pages = vms.list(RG, SUB).into_stream();
    while let Some(page) = pages.next().await {
        count += page.unwrap().value.len();
    }
    assert_eq!(count, 1);

    for (action, state) in [
        ("deallocate", "deallocated"),
        ("start", "running"),
        ("redeploy", "running"),
    ] {
        let rsp = match action {
            "deallocate" => vms
                .deallocate(RG, "vm1", SUB)
                .send()
                .await
                .unwrap()
                .into_raw_response(),
            "start" => vms
                .start(RG, "vm1", SUB)
                .send()
                .await
                .unwrap()
                .into_raw_response(),
            _ => vms
                .redeploy(RG, "vm1", SUB)
                .send()
                .await
                .unwrap()
                .into_raw_response(),
        };
        assert_eq!(u16::from(rsp.status()), 202);
        assert!(matches!(
            complete(&c, "POST", &rsp).await,
            OperationState::Succeeded { .. }
        ));
        let vm = json_of(
            &vms.get(RG, "vm1", SUB)
                .expand("instanceView")
                .await
                .unwrap(),
        );
        assert_eq!(
            vm["properties"]["instanceView"]["statuses"][1]["code"],
            format!("PowerState/{state}"),
            "after {action}"
        );
    }

    let mut skus = Vec::new();
    let mut pages = compute
        .resource_skus_client()
        .list(SUB)
        .filter("location eq 'eastus'")
        .into_stream();
    while let Some(page) = pages.next().await {
        skus.extend(page.unwrap().value.into_iter().map(|s| json_of(&s)));
    }
    let d16 = skus
        .iter()
        .find(|s| s["name"] == "Standard_D16s_v3")
        .unwrap();
    assert_eq!(
        d16["restrictions"][0]["reasonCode"],
        "NotAvailableForSubscription"
    );
    assert!(
        skus.iter()
            .find(|s| s["name"] == "Standard_D8s_v3")
            .unwrap()["restrictions"]
            .as_array()
            .is_none_or(|r| r.is_empty())
    );

    let mut usages = Vec::new();
    let mut pages = compute.usage_client().list("eastus", SUB).into_stream();
    while let Some(page) = pages.next().await {
        usages.extend(page.unwrap().value.into_iter().map(|u| json_of(&u)));
    }
    let family = usages
        .iter()
        .find(|u| u["name"]["value"] == "standardDSv3Family")
        .unwrap();
    assert_eq!(family["currentValue"], 8);

    let rsp = vms.delete(RG, "vm1", SUB).send().await.unwrap();
    complete(&c, "DELETE", rsp.as_raw_response()).await;
    assert!(Error::from(vms.get(RG, "vm1", SUB).await.unwrap_err()).is_not_found());
}

#[tokio::test]
async fn role_assignments_permissions_and_denial() {
    let emu = emulator(None).await;
    let c = rp(&emu);
    let cluster = clients(&emu, demo::CLUSTER_CLIENT_ID, demo::CLUSTER_CLIENT_SECRET);
    // The cluster principal may use the vnet, but not create things in the group yet.
    let err = Error::from(
        cluster
            .network()
            .route_tables_client()
            .create_or_update(
                RG,
                "rt-by-cluster",
                model::<azure_clients::azure_mgmt_network::models::RouteTable>(
                    json!({"location": "eastus"}),
                ),
                SUB,
            )
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.cloud_error().unwrap().code, "AuthorizationFailed");
    assert!(err.is_authorization_failure() && !err.is_retryable());
    let subnet = json_of(
        &cluster
            .network()
            .subnets_client()
            .get(RG, demo::VNET, "master", SUB)
            .await
            .unwrap(),
    );
    assert_eq!(subnet["properties"]["addressPrefix"], "10.0.0.0/23");

    // The permissions API answers per principal and scope.
    let auth = cluster.authorization();
    let mut perms = Vec::new();
    let mut pages = auth
        .permissions_client()
        .list_for_resource(
            RG,
            "Microsoft.Network",
            "",
            "virtualNetworks",
            demo::VNET,
            SUB,
        )
        .into_stream();
    while let Some(page) = pages.next().await {
        perms.extend(page.unwrap().value.into_iter().map(|p| json_of(&p)));
    }
    assert!(perms.iter().any(|p| {
        p["actions"]
            .as_array()
            .unwrap()
            .contains(&json!("Microsoft.Network/*"))
    }));
    let mut group_perms = 0;
    let mut pages = auth
        .permissions_client()
        .list_for_resource_group(RG, SUB)
        .into_stream();
    while let Some(page) = pages.next().await {
        group_perms += page.unwrap().value.len();
    }
    assert_eq!(group_perms, 0);

    // The RP grants Contributor on the group; now the cluster principal may write there.
    let scope = format!("subscriptions/{SUB}/resourceGroups/{RG}");
    let assignment = json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"),
        "principalId": demo::CLUSTER_OBJECT_ID, "principalType": "ServicePrincipal"}});
    let ras = c.authorization().role_assignments_client();
    let name = "11111111-2222-3333-4444-555555555555";
    let created =
        json_of(
            &ras.create(
                &scope,
                name,
                model::<
                    azure_clients::azure_mgmt_authorization::models::RoleAssignmentCreateParameters,
                >(assignment.clone()),
            )
            .await
            .unwrap(),
        );
    assert_eq!(created["properties"]["scope"], rg_id());
    let again =
        Error::from(
            ras.create(
                &scope,
                "66666666-2222-3333-4444-555555555555",
                model::<
                    azure_clients::azure_mgmt_authorization::models::RoleAssignmentCreateParameters,
                >(assignment),
            )
            .await
            .unwrap_err(),
        );
    assert_eq!(again.cloud_error().unwrap().code, "RoleAssignmentExists");
    assert_eq!(json_of(&ras.get(&scope, name).await.unwrap())["name"], name);
    let mut listed = Vec::new();
    let mut pages = ras.list_for_scope(&scope).into_stream();
    while let Some(page) = pages.next().await {
        listed.extend(
            page.unwrap()
                .value
                .into_iter()
                .map(|r| json_of(&r)["name"].as_str().unwrap().to_string()),
        );
    }
    assert!(listed.contains(&name.to_string()));

    let rsp = cluster
        .network()
        .route_tables_client()
        .create_or_update(
            RG,
            "rt-by-cluster",
            model::<azure_clients::azure_mgmt_network::models::RouteTable>(
                json!({"location": "eastus"}),
            ),
            SUB,
        )
        .send()
        .await
        .unwrap();
    complete(&cluster, "PUT", rsp.as_raw_response()).await;
    // Contributor cannot hand out roles.
    let err = Error::from(
        cluster
            .authorization()
            .role_assignments_client()
            .create(&scope, "77777777-2222-3333-4444-555555555555", model::<azure_clients::azure_mgmt_authorization::models::RoleAssignmentCreateParameters>(json!({"properties": {
                "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "principalId": demo::CLUSTER_OBJECT_ID}})))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.cloud_error().unwrap().code, "AuthorizationFailed");

    ras.delete(&scope, name).await.unwrap();
    assert!(Error::from(ras.get(&scope, name).await.unwrap_err()).is_not_found());
}

#[tokio::test]
async fn dns_zones_record_sets_and_private_dns_with_the_generic_client() {
    let emu = emulator(None).await;
    let c = rp(&emu);
    let dns = c.dns();
    let zone = json_of(
        &dns.zones_client()
            .create_or_update(
                RG,
                "eastus.aroapp.test",
                model::<azure_clients::azure_mgmt_dns::package_2018_05::models::Zone>(
                    json!({"location": "global"}),
                ),
                SUB,
            )
            .await
            .unwrap(),
    );
    assert!(
        !zone["properties"]["nameServers"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let record = json!({"properties": {"TTL": 300, "ARecords": [{"ipv4Address": "10.0.0.10"}]}});
    dns.record_sets_client()
        .create_or_update(
            RG,
            "eastus.aroapp.test",
            "api.demo",
            "A",
            model::<azure_clients::azure_mgmt_dns::package_2018_05::models::RecordSet>(record),
            SUB,
        )
        .await
        .unwrap();
    let got = json_of(
        &dns.record_sets_client()
            .get(RG, "eastus.aroapp.test", "api.demo", "A", SUB)
            .await
            .unwrap(),
    );
    assert_eq!(got["properties"]["ARecords"][0]["ipv4Address"], "10.0.0.10");
    let mut count = 0;
    let mut pages = dns
        .record_sets_client()
        .list_by_type(RG, "eastus.aroapp.test", "A", SUB)
        .into_stream();
    while let Some(page) = pages.next().await {
        count += page.unwrap().value.len();
    }
    assert_eq!(count, 1);
    dns.record_sets_client()
        .delete(RG, "eastus.aroapp.test", "api.demo", "A", SUB)
        .send()
        .await
        .unwrap();
    assert!(
        Error::from(
            dns.record_sets_client()
                .get(RG, "eastus.aroapp.test", "api.demo", "A", SUB)
                .await
                .unwrap_err()
        )
        .is_not_found()
    );

    // Private DNS (no SDK crate here): the generic client with pollable handles.
    let arm = c.arm();
    let zone_id = format!(
        "{}/providers/Microsoft.Network/privateDnsZones/privatelink.test",
        rg_id()
    );
    let started = arm
        .put(&zone_id, "2024-06-01", &json!({"location": "global"}))
        .await
        .unwrap();
    let Started::Pending {
        status: 201,
        operation,
        ..
    } = started.clone()
    else {
        panic!("expected an accepted create, got {started:?}")
    };
    assert!(operation.async_operation_url.is_some());
    let body = arm
        .wait(started, Duration::from_millis(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body["properties"]["provisioningState"], "Succeeded");
    let record_id = format!("{zone_id}/A/api");
    let started = arm
        .put(
            &record_id,
            "2024-06-01",
            &json!({"properties": {"ttl": 10, "aRecords": [{"ipv4Address": "10.0.0.4"}]}}),
        )
        .await
        .unwrap();
    assert!(matches!(started, Started::Done { status: 201, .. }));
    assert_eq!(
        arm.list(&format!("{zone_id}/A"), "2024-06-01")
            .await
            .unwrap()
            .len(),
        1
    );
    let started = arm.delete(&zone_id, "2024-06-01").await.unwrap();
    assert!(started.pending().is_some());
    arm.wait(started, Duration::from_millis(10)).await.unwrap();
    assert_eq!(arm.get(&zone_id, "2024-06-01").await.unwrap(), None);
    assert_eq!(arm.get(&record_id, "2024-06-01").await.unwrap(), None);
    assert!(matches!(
        arm.delete(&zone_id, "2024-06-01").await.unwrap(),
        Started::Done { status: 204, .. }
    ));
}

#[tokio::test]
async fn throttling_is_retried_honouring_retry_after() {
    let emu = emulator(None).await;
    let c = rp(&emu);
    let vnets = c.network().virtual_networks_client();
    vnets.get(RG, demo::VNET, SUB).await.unwrap(); // token fetched before timing
    emu.clear_requests();
    emu.set_faults(FaultConfig {
        rules: vec![FaultRule {
            operations: vec![OpType::Read],
            throttle_rate: 1.0,
            retry_after_secs: 1,
            max_faults: Some(2),
            ..Default::default()
        }],
        seed: Some(7),
    })
    .unwrap();
    let started = Instant::now();
    let vnet = json_of(&vnets.get(RG, demo::VNET, SUB).await.unwrap());
    assert_eq!(vnet["name"], demo::VNET);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "waited {:?}",
        started.elapsed()
    );
    let statuses: Vec<u16> = emu.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 429, 200]);

    // A Retry-After longer than the client waits in-process comes back as a retryable error
    // carrying the delay, for the caller to requeue.
    emu.clear_requests();
    emu.set_faults(FaultConfig {
        rules: vec![FaultRule {
            throttle_rate: 1.0,
            retry_after_secs: 30,
            max_faults: Some(1),
            ..Default::default()
        }],
        seed: None,
    })
    .unwrap();
    let err = Error::from(vnets.get(RG, demo::VNET, SUB).await.unwrap_err());
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(emu.requests().len(), 1);

    // Server errors: idempotent calls are retried, POST is not; 429 is retried for POST too.
    emu.clear_requests();
    emu.set_faults(FaultConfig {
        rules: vec![FaultRule {
            operations: vec![OpType::Action],
            error_rate: 1.0,
            error_status: 500,
            max_faults: Some(1),
            ..Default::default()
        }],
        seed: None,
    })
    .unwrap();
    let arm = c.arm();
    let nsg = net_id("networkSecurityGroups", "post-target");
    arm.wait(
        arm.put(&nsg, "2024-03-01", &json!({"location": "eastus"}))
            .await
            .unwrap(),
        Duration::from_millis(10),
    )
    .await
    .unwrap();
    let err = arm
        .post(
            &format!(
                "{}/providers/Microsoft.Compute/virtualMachines/none/start",
                rg_id()
            ),
            "2024-07-01",
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(
        emu.requests().iter().filter(|r| r.method == "POST").count(),
        1
    );
    emu.set_faults(FaultConfig {
        rules: vec![FaultRule {
            operations: vec![OpType::Action],
            throttle_rate: 1.0,
            retry_after_secs: 0,
            max_faults: Some(1),
            ..Default::default()
        }],
        seed: None,
    })
    .unwrap();
    emu.clear_requests();
    let err = arm
        .post(
            &format!(
                "{}/providers/Microsoft.Compute/virtualMachines/none/start",
                rg_id()
            ),
            "2024-07-01",
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.status(),
        Some(404),
        "after the throttled attempt the real answer comes back"
    );
    let statuses: Vec<u16> = emu.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 404]);
}

#[tokio::test]
async fn fifty_operations_under_twenty_percent_faults_create_nothing_twice() {
    let emu = emulator(None).await;
    let c = rp(&emu);
    let net = c.network();
    net.virtual_networks_client()
        .get(RG, demo::VNET, SUB)
        .await
        .unwrap();
    emu.clear_requests();
    // 10% throttling and 10% server errors on every ARM call; half of the server errors hit
    // after the request took effect (the answer is lost), the worst case for idempotency.
    emu.set_faults(FaultConfig {
        rules: vec![
            // Deterministically lose the answer of one creation, on top of the random faults.
            FaultRule {
                operations: vec![OpType::Write],
                path_contains: Some("networkSecurityGroups/nsg-1".into()),
                error_rate: 1.0,
                after_processing: true,
                max_faults: Some(1),
                ..Default::default()
            },
            FaultRule {
                throttle_rate: 0.1,
                error_rate: 0.05,
                error_status: 503,
                retry_after_secs: 0,
                ..Default::default()
            },
            FaultRule {
                error_rate: 0.05 / 0.85,
                error_status: 500,
                after_processing: true,
                ..Default::default()
            },
        ],
        seed: Some(2024),
    })
    .unwrap();
    let mut operations = 0;
    let nsgs = net.network_security_groups_client();
    let rts = net.route_tables_client();
    for i in 0..10 {
        let rsp = nsgs
            .create_or_update(
                RG,
                format!("nsg-{i}"),
                model::<azure_clients::azure_mgmt_network::models::NetworkSecurityGroup>(
                    json!({"location": "eastus"}),
                ),
                SUB,
            )
            .send()
            .await
            .unwrap();
        complete(&c, "PUT", rsp.as_raw_response()).await;
        let rsp = rts
            .create_or_update(
                RG,
                format!("rt-{i}"),
                model::<azure_clients::azure_mgmt_network::models::RouteTable>(
                    json!({"location": "eastus"}),
                ),
                SUB,
            )
            .send()
            .await
            .unwrap();
        complete(&c, "PUT", rsp.as_raw_response()).await;
        operations += 2;
    }
    for i in 0..10 {
        let got = json_of(&nsgs.get(RG, format!("nsg-{i}"), SUB).await.unwrap());
        assert_eq!(got["properties"]["provisioningState"], "Succeeded");
        operations += 1;
    }
    for i in 0..10 {
        let subnet = json!({"properties": {"addressPrefix": format!("10.0.3.{}/28", i * 16), "routeTable": {"id": net_id("routeTables", &format!("rt-{i}"))}}});
        // Extra subnets need room: grow the address space once, idempotently.
        if i == 0 {
            let vnet = json!({"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/22", "10.0.3.0/24"]},
                "subnets": [{"name": "master", "properties": {"addressPrefix": "10.0.0.0/23"}}, {"name": "worker", "properties": {"addressPrefix": "10.0.2.0/24"}}]}});
            let rsp = net
                .virtual_networks_client()
                .create_or_update(
                    RG,
                    demo::VNET,
                    model::<azure_clients::azure_mgmt_network::models::VirtualNetwork>(vnet),
                    SUB,
                )
                .send()
                .await
                .unwrap();
            complete(&c, "PUT", rsp.as_raw_response()).await;
            operations += 1;
        }
        let rsp = net
            .subnets_client()
            .create_or_update(
                RG,
                demo::VNET,
                format!("extra-{i}"),
                model::<azure_clients::azure_mgmt_network::models::Subnet>(subnet),
                SUB,
            )
            .send()
            .await
            .unwrap();
        complete(&c, "PUT", rsp.as_raw_response()).await;
        operations += 1;
    }
    for i in 0..9 {
        let rsp = nsgs
            .delete(RG, format!("nsg-{i}"), SUB)
            .send()
            .await
            .unwrap();
        complete(&c, "DELETE", rsp.as_raw_response()).await;
        operations += 1;
    }
    assert_eq!(operations, 50);
    emu.set_faults(FaultConfig::default()).unwrap();

    let log = emu.requests();

    assert!(
        log.iter().filter(|r| r.injected).count() >= 10,
        "faults were injected"
    );
    assert!(
        log.iter()
            .any(|r| r.injected && r.processed_status == Some(201)),
        "some creations lost their answer"
    );
    let mut creates: HashMap<String, usize> = HashMap::new();
    // `processedStatus` is what the emulator did, even when a fault replaced the answer.
    for r in log
        .iter()
        .filter(|r| r.method == "PUT" && r.processed_status == Some(201))
    {
        *creates.entry(r.path.to_ascii_lowercase()).or_default() += 1;
    }
    assert_eq!(
        creates.len(),
        30,
        "10 NSGs, 10 route tables, 10 subnets: {creates:?}"
    );
    assert!(
        creates.values().all(|n| *n == 1),
        "a resource was created twice: {creates:?}"
    );
    let state = emu.resources();
    let count = |t: &str| state.iter().filter(|r| r["type"] == t).count();
    assert_eq!(count("Microsoft.Network/networkSecurityGroups"), 1);
    assert_eq!(count("Microsoft.Network/routeTables"), 10);
    // The 10 created, plus the demo VNet's master and worker subnets and the RP's subnet.
    assert_eq!(count("Microsoft.Network/virtualNetworks/subnets"), 13);
}

#[tokio::test]
async fn failed_operations_keep_the_arm_error() {
    let emu = emulator(None).await;
    let c = rp(&emu);
    emu.set_faults(FaultConfig {
        rules: vec![FaultRule {
            operation_failure_rate: 1.0,
            max_faults: Some(1),
            ..Default::default()
        }],
        seed: None,
    })
    .unwrap();
    let arm = c.arm();
    let id = net_id("routeTables", "doomed");
    let started = arm
        .put(&id, "2024-03-01", &json!({"location": "eastus"}))
        .await
        .unwrap();
    let op = started.pending().unwrap().clone();
    let err = arm
        .wait(started, Duration::from_millis(10))
        .await
        .unwrap_err();
    let Error::OperationFailed(cloud) = &err else {
        panic!("expected a failed operation, got {err}")
    };
    assert_eq!(cloud.code, "InternalServerError");
    assert!(!err.is_retryable());
    assert!(matches!(
        arm.poll(&op).await.unwrap(),
        OperationState::Failed(_)
    ));
    assert_eq!(
        arm.get(&id, "2024-03-01").await.unwrap().unwrap()["properties"]["provisioningState"],
        "Failed"
    );
    // Trying again (the fault was one-shot) repairs it.
    let body = arm
        .wait(
            arm.put(&id, "2024-03-01", &json!({"location": "eastus"}))
                .await
                .unwrap(),
            Duration::from_millis(10),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body["properties"]["provisioningState"], "Succeeded");
}

#[tokio::test]
async fn workload_identity_federated_token_is_exchanged_at_the_token_endpoint() {
    let emu = emulator(Some(Seed {
        principals: vec![arm_emulator::Principal {
            client_id: "wi-client".into(),
            client_secret: None,
            federated_token: Some("projected-service-account-token".into()),
            object_id: "wi-object".into(),
            tenant_id: Some(demo::TENANT.into()),
            restricted: false,
        }],
        ..Default::default()
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "projected-service-account-token\n").unwrap();
    let base = Url::parse(&emu.base_url).unwrap();
    let cfg = AzureConfig::new(
        base.clone(),
        base,
        demo::TENANT,
        Credentials::WorkloadIdentity {
            client_id: "wi-client".into(),
            token_file,
        },
        SUB,
    );
    let c = AzureClients::new(cfg).unwrap();
    let group = json_of(
        &c.resources()
            .resource_groups_client()
            .get(RG, SUB)
            .await
            .unwrap(),
    );
    assert_eq!(group["name"], RG);
    assert_eq!(
        emu.requests().last().unwrap().principal.as_deref(),
        Some("wi-object")
    );

    // A wrong secret is a credential error, not retryable.
    let bad = clients(&emu, demo::RP_CLIENT_ID, "wrong");
    let err = Error::from(
        bad.resources()
            .resource_groups_client()
            .get(RG, SUB)
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, Error::Credential(_)), "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn workload_identity_reads_the_rotated_token_file_at_each_token_request() {
    // Access tokens that live less than the credential's renewal margin: every call asks the
    // token endpoint again, as an hour-old process does when its cached token runs out.
    let emu = ArmEmulator::start(EmulatorConfig {
        seeds: vec![
            demo::seed(),
            Seed {
                principals: vec![arm_emulator::Principal {
                    client_id: "wi-client".into(),
                    client_secret: None,
                    federated_token: Some("projected-token-1".into()),
                    object_id: "wi-object".into(),
                    tenant_id: Some(demo::TENANT.into()),
                    restricted: false,
                }],
                ..Default::default()
            },
        ],
        token_lifetime: Duration::from_secs(5),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "projected-token-1\n").unwrap();
    let base = Url::parse(&emu.base_url).unwrap();
    let c = AzureClients::new(AzureConfig::new(
        base.clone(),
        base,
        demo::TENANT,
        Credentials::WorkloadIdentity {
            client_id: "wi-client".into(),
            token_file: token_file.clone(),
        },
        SUB,
    ))
    .unwrap();
    let get_group = || async {
        c.resources()
            .resource_groups_client()
            .get(RG, SUB)
            .await
            .map_err(Error::from)
    };
    assert_eq!(json_of(&get_group().await.unwrap())["name"], RG);

    // The identity provider now expects the next projected token; the file still holds the old.
    emu.set_federated_token("wi-client", "projected-token-2")
        .unwrap();
    let err = get_group().await.unwrap_err();
    assert!(matches!(err, Error::Credential(_)), "{err}");
    assert!(err.to_string().contains("AADSTS700213"), "{err}");

    // The kubelet rewrites the file: the same credential object picks it up, no restart.
    std::fs::write(&token_file, "projected-token-2\n").unwrap();
    assert_eq!(json_of(&get_group().await.unwrap())["name"], RG);
    assert_eq!(
        emu.requests().last().unwrap().principal.as_deref(),
        Some("wi-object")
    );
    let scope = c.config().token_scope();
    c.credential().get_token(&[scope.as_str()]).await.unwrap();

    // A file that disappears is a clear credential error naming it.
    std::fs::remove_file(&token_file).unwrap();
    let err = get_group().await.unwrap_err();
    assert!(err.to_string().contains("federated token file"), "{err}");
}

#[tokio::test]
async fn workload_identity_tokens_are_cached_until_close_to_their_expiry() {
    let emu = emulator(Some(Seed {
        principals: vec![arm_emulator::Principal {
            client_id: "wi-client".into(),
            client_secret: None,
            federated_token: Some("projected-token".into()),
            object_id: "wi-object".into(),
            tenant_id: Some(demo::TENANT.into()),
            restricted: false,
        }],
        ..Default::default()
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "projected-token").unwrap();
    let base = Url::parse(&emu.base_url).unwrap();
    let c = AzureClients::new(AzureConfig::new(
        base.clone(),
        base,
        demo::TENANT,
        Credentials::WorkloadIdentity {
            client_id: "wi-client".into(),
            token_file: token_file.clone(),
        },
        SUB,
    ))
    .unwrap();
    let scope = c.config().token_scope();
    let first = c.credential().get_token(&[scope.as_str()]).await.unwrap();
    // An hour-long token is reused: the file is not needed again until it nears its expiry.
    std::fs::remove_file(&token_file).unwrap();
    let second = c.credential().get_token(&[scope.as_str()]).await.unwrap();
    assert_eq!(first.token.secret(), second.token.secret());
    c.credential().clear_cache().await.unwrap();
    assert!(c.credential().get_token(&[scope.as_str()]).await.is_err());
}

#[tokio::test]
async fn https_endpoint_trusted_through_an_extra_ca() {
    let emu = ArmEmulator::start(EmulatorConfig {
        seeds: vec![demo::seed()],
        tls: true,
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(emu.base_url.starts_with("https://"));
    let base = Url::parse(&emu.base_url).unwrap();
    let credentials = Credentials::ClientSecret {
        client_id: demo::RP_CLIENT_ID.into(),
        client_secret: demo::RP_CLIENT_SECRET.into(),
    };
    let mut cfg = AzureConfig::new(
        base.clone(),
        base.clone(),
        demo::TENANT,
        credentials.clone(),
        SUB,
    );
    cfg.extra_ca_pem = emu.ca_pem.clone();
    let c = AzureClients::new(cfg).unwrap();
    let vnet = json_of(
        &c.network()
            .virtual_networks_client()
            .get(RG, demo::VNET, SUB)
            .await
            .unwrap(),
    );
    assert_eq!(vnet["name"], demo::VNET);

    // Without the CA the TLS handshake fails before any token is issued.
    let mut untrusted = AzureConfig::new(base.clone(), base, demo::TENANT, credentials, SUB);
    untrusted.retry.max_retries = 0;
    let err = Error::from(
        AzureClients::new(untrusted)
            .unwrap()
            .resources()
            .resource_groups_client()
            .get(RG, SUB)
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(err, Error::Credential(_) | Error::Transport(_)),
        "{err}"
    );
    emu.stop().await.unwrap();
}

#[tokio::test]
async fn conditional_record_set_writes_and_deletes() {
    use azure_clients::Precondition;
    use azure_clients::azure_mgmt_dns::package_2018_05::models::{RecordSet, Zone};
    let emu = emulator(None).await;
    let c = rp(&emu);
    let dns = c.dns();
    dns.zones_client()
        .create_or_update(
            RG,
            "eastus.aroapp.test",
            model::<Zone>(json!({"location": "global"})),
            SUB,
        )
        .await
        .unwrap();
    let owned = |owner: &str| {
        json!({"properties": {"TTL": 300, "metadata": {"owner": owner},
            "ARecords": [{"ipv4Address": "10.0.0.10"}]}})
    };
    // The SDK's create-only option.
    dns.record_sets_client()
        .create_or_update(
            RG,
            "eastus.aroapp.test",
            "api.a",
            "A",
            model::<RecordSet>(owned("a")),
            SUB,
        )
        .if_none_match("*")
        .await
        .unwrap();
    let second = dns
        .record_sets_client()
        .create_or_update(
            RG,
            "eastus.aroapp.test",
            "api.a",
            "A",
            model::<RecordSet>(owned("b")),
            SUB,
        )
        .if_none_match("*")
        .await
        .unwrap_err();
    assert!(Error::from(second).is_precondition_failed());

    // The generic client: the same conditions.
    let arm = c.arm();
    let id = format!(
        "{}/providers/Microsoft.Network/dnszones/eastus.aroapp.test/A/api.a",
        rg_id()
    );
    let err = arm
        .put_if(&id, "2018-05-01", &owned("b"), &Precondition::Absent)
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err}");
    let current = arm.get(&id, "2018-05-01").await.unwrap().unwrap();
    assert_eq!(current["properties"]["metadata"]["owner"], "a");
    let etag = current["etag"].as_str().unwrap().to_string();
    let replaced = arm
        .put_if(
            &id,
            "2018-05-01",
            &owned("a"),
            &Precondition::Etag(etag.clone()),
        )
        .await
        .unwrap();
    assert!(matches!(replaced, Started::Done { status: 200, .. }));
    // A delete under the etag read before that replacement deletes nothing.
    let err = arm
        .delete_if(&id, "2018-05-01", &Precondition::Etag(etag))
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err}");
    let current = arm.get(&id, "2018-05-01").await.unwrap().unwrap();
    let etag = current["etag"].as_str().unwrap().to_string();
    arm.delete_if(&id, "2018-05-01", &Precondition::Etag(etag))
        .await
        .unwrap();
    assert_eq!(arm.get(&id, "2018-05-01").await.unwrap(), None);
    let created = arm
        .put_if(&id, "2018-05-01", &owned("b"), &Precondition::Absent)
        .await
        .unwrap();
    assert!(matches!(created, Started::Done { status: 201, .. }));
}
