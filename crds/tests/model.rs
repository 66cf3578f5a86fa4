//! The internal model: serde round trips and the defaults of ARO-RP's pkg/api.

use crds::management::*;
use crds::operator::{Cluster, ClusterSpec, default_operator_flags};
use pretty_assertions::assert_eq;
use serde_json::json;

fn full_cluster_json() -> serde_json::Value {
    json!({
        "apiVersion": "rp.aro.openshift.io/v1",
        "kind": "OpenShiftCluster",
        "metadata": {"name": "c1-0123456789abcdef", "namespace": "aro-sub"},
        "spec": {
            "resourceId": "/subscriptions/sub/resourceGroups/RG/providers/Microsoft.RedHatOpenShift/openShiftClusters/C1",
            "subscriptionId": "sub",
            "resourceGroup": "RG",
            "name": "C1",
            "location": "eastus",
            "tags": {"env": "test"},
            "systemData": {"createdBy": "someone", "createdByType": "User", "createdAt": "2026-01-01T00:00:00Z"},
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {"/id": {"clientId": "c", "principalId": "p"}}},
            "architectureVersion": 2,
            "clusterProfile": {"domain": "example", "version": "4.15.35", "resourceGroupId": "/subscriptions/sub/resourceGroups/aro-x", "fipsValidatedModules": "Enabled"},
            "servicePrincipalProfile": {"clientId": "11111111-1111-1111-1111-111111111111"},
            "platformWorkloadIdentityProfile": {"platformWorkloadIdentities": {"CloudControllerManager": {"resourceId": "/id/ccm"}}, "upgradeableTo": "4.16.0"},
            "networkProfile": {"podCidr": "10.128.0.0/14", "serviceCidr": "172.30.0.0/16", "outboundType": "UserDefinedRouting", "preconfiguredNSG": "Enabled"},
            "masterProfile": {"vmSize": "Standard_D8s_v3", "subnetId": "/m", "encryptionAtHost": "Enabled", "diskEncryptionSetId": "/des"},
            "workerProfiles": [{"name": "worker", "vmSize": "Standard_D4s_v3", "diskSizeGB": 128, "subnetId": "/w", "count": 3, "encryptionAtHost": "Disabled"}],
            "apiserverProfile": {"visibility": "Private"},
            "ingressProfiles": [{"name": "default", "visibility": "Private"}],
            "featureProfile": {"gatewayEnabled": true},
            "maintenanceTask": "OperatorUpdate",
            "operatorFlags": {"aro.pullsecret.enabled": "false"},
            "operatorVersion": "abc",
            "secretsRef": {"name": "c1-secrets"}
        },
        "status": {
            "provisioningState": "AdminUpdating",
            "lastProvisioningState": "Succeeded",
            "asyncOperationId": "op",
            "observedGeneration": 3,
            "progress": {"operation": "AdminUpdate", "step": "ensureOperator", "completedSteps": ["a"], "attempts": 1},
            "error": {"code": "InvalidLinkedVNet", "message": "m", "target": "properties.masterProfile.subnetId"},
            "consoleUrl": "https://console", "apiserverUrl": "https://api", "apiserverIp": "1.2.3.4",
            "ingressIps": [{"name": "default", "ip": "1.2.3.5"}],
            "workerProfilesStatus": [{"name": "w1", "vmSize": "Standard_D4s_v3", "diskSizeGB": 128, "subnetId": "/w", "count": 1, "encryptionAtHost": "Disabled"}],
            "credentialsRef": {"name": "c1-credentials"}
        }
    })
}

#[test]
fn openshiftcluster_round_trips_losslessly() {
    let value = full_cluster_json();
    let cluster: OpenShiftCluster = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(
        cluster.spec.network_profile.outbound_type,
        OutboundType::UserDefinedRouting
    );
    assert_eq!(
        cluster.status.as_ref().unwrap().provisioning_state,
        Some(ProvisioningState::AdminUpdating)
    );
    let back = serde_json::to_value(&cluster).unwrap();
    assert_eq!(back, value);
}

#[test]
fn minimal_spec_gets_serde_defaults() {
    let spec: OpenShiftClusterSpec = serde_json::from_value(json!({
        "resourceId": "/x", "subscriptionId": "s", "resourceGroup": "rg", "name": "n", "location": "eastus"
    }))
    .unwrap();
    assert_eq!(spec.architecture_version, 2);
    assert_eq!(
        spec.cluster_profile.fips_validated_modules,
        Toggle::Disabled
    );
    assert_eq!(spec.master_profile.encryption_at_host, Toggle::Disabled);
    assert_eq!(spec.network_profile.preconfigured_nsg, Toggle::Disabled);
    assert_eq!(
        spec.network_profile.outbound_type,
        OutboundType::Loadbalancer
    );
    assert_eq!(spec.apiserver_profile.visibility, Visibility::Public);
    assert!(spec.operator_flags.is_empty());
    assert!(spec.network_profile.load_balancer_profile.is_none());
}

#[test]
fn apply_defaults_fills_lb_profile_and_operator_flags() {
    let mut spec = OpenShiftClusterSpec::default();
    spec.apply_defaults();
    let lb = spec.network_profile.load_balancer_profile.as_ref().unwrap();
    assert_eq!(lb.managed_outbound_ips.as_ref().unwrap().count, 1);
    assert_eq!(spec.operator_flags, default_operator_flags());
    assert_eq!(spec.architecture_version, 2);

    // Idempotent.
    let once = spec.clone();
    spec.apply_defaults();
    assert_eq!(spec, once);
}

#[test]
fn apply_defaults_keeps_what_the_customer_set() {
    let mut spec = OpenShiftClusterSpec::default();
    spec.network_profile.outbound_type = OutboundType::UserDefinedRouting;
    spec.operator_flags
        .insert("aro.pullsecret.enabled".into(), "false".into());
    spec.architecture_version = 1;
    spec.apply_defaults();
    assert_eq!(spec.architecture_version, 1);
    // UDR clusters have no load balancer profile.
    assert!(spec.network_profile.load_balancer_profile.is_none());
    assert_eq!(spec.operator_flags.len(), 1);

    let mut spec = OpenShiftClusterSpec::default();
    spec.network_profile.load_balancer_profile = Some(LoadBalancerProfile {
        managed_outbound_ips: Some(ManagedOutboundIps { count: 5 }),
        ..Default::default()
    });
    spec.apply_defaults();
    assert_eq!(
        spec.network_profile
            .load_balancer_profile
            .unwrap()
            .managed_outbound_ips
            .unwrap()
            .count,
        5
    );
}

#[test]
fn admin_update_without_task_means_everything() {
    let mut spec = OpenShiftClusterSpec::default();
    assert_eq!(
        spec.effective_maintenance_task(),
        MaintenanceTask::Everything
    );
    spec.maintenance_task = Some(MaintenanceTask::SyncClusterObject);
    assert_eq!(
        spec.effective_maintenance_task(),
        MaintenanceTask::SyncClusterObject
    );
    assert!(MaintenanceTask::OperatorUpdate.runs_work());
    assert!(!MaintenanceTask::Pending.runs_work());
}

#[test]
fn terminal_states() {
    use ProvisioningState::*;
    for s in [Succeeded, Failed, Canceled] {
        assert!(s.is_terminal(), "{s}");
    }
    for s in [Creating, Updating, AdminUpdating, Deleting] {
        assert!(!s.is_terminal(), "{s}");
    }
}

#[test]
fn unknown_enum_values_are_rejected_with_a_clear_error() {
    let err = serde_json::from_value::<OpenShiftClusterSpec>(json!({
        "resourceId": "/x", "subscriptionId": "s", "resourceGroup": "rg", "name": "n", "location": "l",
        "apiserverProfile": {"visibility": "Internal"}
    }))
    .unwrap_err();
    assert!(
        err.to_string().contains("unknown variant `Internal`"),
        "{err}"
    );
}

#[test]
fn operator_cluster_uses_the_original_json_names() {
    let cluster: Cluster = serde_json::from_value(json!({
        "apiVersion": "aro.openshift.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": "cluster"},
        "spec": {
            "resourceId": "/r", "infraId": "infra", "apiIntIP": "10.0.0.4", "ingressIP": "10.0.0.5",
            "gatewayDomains": ["a.example"], "gatewayPrivateEndpointIP": "10.0.0.6", "vnetId": "/vnet",
            "genevalogging": {"configVersion": "1.0", "monitoringGCSAccount": "acct"},
            "internetChecker": {"urls": ["https://example.com"]},
            "operatorflags": {"aro.dnsmasq.enabled": "TRUE", "aro.routefix.enabled": "yes"}
        },
        "status": {"operatorVersion": "v1", "redHatKeysPresent": ["registry.redhat.io"],
                   "conditions": [{"type": "DnsmasqControllerDegraded", "status": "False"}]}
    }))
    .unwrap();
    assert_eq!(cluster.spec.api_int_ip, "10.0.0.4");
    assert_eq!(cluster.spec.geneva_logging.monitoring_gcs_account, "acct");
    assert!(cluster.spec.flag_enabled("aro.dnsmasq.enabled"));
    assert!(
        !cluster.spec.flag_enabled("aro.routefix.enabled"),
        "only \"true\" enables"
    );
    assert!(!cluster.spec.flag_enabled("aro.missing"));
    let back = serde_json::to_value(&cluster.spec).unwrap();
    assert_eq!(back["operatorflags"]["aro.dnsmasq.enabled"], "TRUE");
    assert_eq!(back["apiIntIP"], "10.0.0.4");
    let _ = ClusterSpec::default();
}
