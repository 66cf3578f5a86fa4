//! Unit tests of conversion, validation rules and immutability.

use serde_json::{Value, json};

use super::convert::{apply, to_external};
use super::external::Cluster;
use super::validate::{ValidationContext, to_arm_error, validate};
use super::{ApiVersion, immutability, parse_cluster, render_cluster};
use crds::management::{OpenShiftClusterSpec, Toggle};

const SUB: &str = "00000000-0000-0000-0000-000000000000";
const ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.RedHatOpenShift/openShiftClusters/c1";

fn subnet(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/vnet-rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/{name}"
    )
}

/// A valid service principal create body for any version.
fn valid_body() -> Value {
    json!({
        "location": "eastus",
        "tags": {"a": "b"},
        "properties": {
            "clusterProfile": {
                "pullSecret": "{\"auths\":{\"x\":{\"auth\":\"\"}}}",
                "domain": "mycluster",
                "version": "4.15.35",
                "resourceGroupId": format!("/subscriptions/{SUB}/resourceGroups/aro-cluster"),
            },
            "servicePrincipalProfile": {"clientId": "11111111-1111-1111-1111-111111111111", "clientSecret": "s3cret"},
            "networkProfile": {"podCidr": "10.128.0.0/14", "serviceCidr": "172.30.0.0/16"},
            "masterProfile": {"vmSize": "Standard_D8s_v3", "subnetId": subnet("master")},
            "workerProfiles": [{"name": "worker", "vmSize": "Standard_D4s_v3", "diskSizeGB": 128, "subnetId": subnet("worker"), "count": 3}],
            "apiserverProfile": {"visibility": "Public"},
            "ingressProfiles": [{"name": "default", "visibility": "Public"}],
        }
    })
}

fn ctx(version: ApiVersion, is_create: bool) -> ValidationContext<'static> {
    ValidationContext {
        features: version.features(),
        resource_id: ID,
        subscription_id: SUB,
        resource_group: "rg",
        resource_name: "c1",
        location: "eastus",
        is_create,
        parent_domain: Some("aroapp.io"),
        architecture_version: 2,
        require_d2s_workers: false,
    }
}

fn errors_for(version: ApiVersion, body: Value) -> Vec<(String, String)> {
    let doc = parse_cluster(version, &serde_json::to_vec(&body).unwrap()).unwrap();
    validate(&doc, &ctx(version, true))
        .into_iter()
        .map(|e| (e.code, e.target.unwrap_or_default()))
        .collect()
}

fn set(body: &mut Value, path: &str, value: Value) {
    let mut cur = body;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        cur = if let Ok(i) = part.parse::<usize>() {
            &mut cur[i]
        } else {
            &mut cur[*part]
        };
    }
    cur[parts[parts.len() - 1]] = value;
}

#[test]
fn valid_body_passes_in_every_version() {
    for version in ApiVersion::ALL {
        assert_eq!(errors_for(version, valid_body()), vec![], "{version}");
    }
}

/// One test per rule: mutate the valid body and expect exactly this code at this path.
#[test]
fn each_rule_reports_its_code_and_path() {
    let v = ApiVersion::V2023_11_22;
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "id",
            json!(
                "/subscriptions/x/resourceGroups/rg/providers/Microsoft.RedHatOpenShift/openShiftClusters/other"
            ),
            "MismatchingResourceID",
            "id",
        ),
        ("name", json!("other"), "MismatchingResourceName", "name"),
        (
            "type",
            json!("Microsoft.Compute/virtualMachines"),
            "MismatchingResourceType",
            "type",
        ),
        ("location", json!("westus"), "InvalidParameter", "location"),
        (
            "properties.provisioningState",
            json!("Bogus"),
            "InvalidParameter",
            "properties.provisioningState",
        ),
        (
            "properties.clusterProfile.pullSecret",
            json!("not json"),
            "InvalidParameter",
            "properties.clusterProfile.pullSecret",
        ),
        (
            "properties.clusterProfile.domain",
            json!("-bad"),
            "InvalidParameter",
            "properties.clusterProfile.domain",
        ),
        (
            "properties.clusterProfile.domain",
            json!("x.westus.aroapp.io"),
            "InvalidParameter",
            "properties.clusterProfile.domain",
        ),
        (
            "properties.clusterProfile.version",
            json!("4.x"),
            "InvalidParameter",
            "properties.clusterProfile.version",
        ),
        (
            "properties.clusterProfile.resourceGroupId",
            json!("/subscriptions/x/resourceGroups/y"),
            "InvalidParameter",
            "properties.clusterProfile.resourceGroupId",
        ),
        (
            "properties.clusterProfile.resourceGroupId",
            json!("/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/y"),
            "InvalidParameter",
            "properties.clusterProfile.resourceGroupId",
        ),
        (
            "properties.clusterProfile.resourceGroupId",
            json!(format!("/subscriptions/{SUB}/resourceGroups/RG")),
            "InvalidParameter",
            "properties.clusterProfile.resourceGroupId",
        ),
        (
            "properties.clusterProfile.fipsValidatedModules",
            json!("Maybe"),
            "InvalidParameter",
            "properties.clusterProfile.fipsValidatedModules",
        ),
        (
            "properties.consoleProfile",
            json!({"url": "::"}),
            "InvalidParameter",
            "properties.consoleProfile.url",
        ),
        (
            "properties.servicePrincipalProfile.clientId",
            json!("nope"),
            "InvalidParameter",
            "properties.servicePrincipalProfile.clientId",
        ),
        (
            "properties.servicePrincipalProfile.clientSecret",
            json!(""),
            "InvalidParameter",
            "properties.servicePrincipalProfile.clientSecret",
        ),
        (
            "properties.networkProfile.podCidr",
            json!("10.128.0.0/20"),
            "InvalidParameter",
            "properties.networkProfile.podCidr",
        ),
        (
            "properties.networkProfile.podCidr",
            json!("10.128.0.1/14"),
            "InvalidNetworkAddress",
            "properties.networkProfile.podCidr",
        ),
        (
            "properties.networkProfile.podCidr",
            json!("fd00::/48"),
            "InvalidParameter",
            "properties.networkProfile.podCidr",
        ),
        (
            "properties.networkProfile.podCidr",
            json!("100.64.0.0/16"),
            "InvalidCIDRRange",
            "properties.networkProfile.podCidr",
        ),
        (
            "properties.networkProfile.serviceCidr",
            json!("172.30.0.0/24"),
            "InvalidParameter",
            "properties.networkProfile.serviceCidr",
        ),
        (
            "properties.networkProfile.outboundType",
            json!("Magic"),
            "InvalidParameter",
            "properties.networkProfile.outboundType",
        ),
        (
            "properties.networkProfile.outboundType",
            json!("UserDefinedRouting"),
            "InvalidParameter",
            "properties.networkProfile.outboundType",
        ),
        (
            "properties.networkProfile.preconfiguredNSG",
            json!("Yes"),
            "InvalidParameter",
            "properties.networkProfile.preconfiguredNSG",
        ),
        (
            "properties.networkProfile.loadBalancerProfile",
            json!({"managedOutboundIps": {"count": 21}}),
            "InvalidParameter",
            "properties.networkProfile.loadBalancerProfile.managedOutboundIps.count",
        ),
        (
            "properties.networkProfile.loadBalancerProfile",
            json!({"managedOutboundIps": {"count": 1}, "effectiveOutboundIps": [{"id": "x"}]}),
            "InvalidParameter",
            "properties.networkProfile.loadBalancerProfile.effectiveOutboundIps",
        ),
        (
            "properties.masterProfile.vmSize",
            json!("Standard_D2s_v3"),
            "InvalidParameter",
            "properties.masterProfile.vmSize",
        ),
        (
            "properties.masterProfile.vmSize",
            json!("Standard_D8s_v6"),
            "InvalidParameter",
            "properties.masterProfile.vmSize",
        ),
        (
            "properties.masterProfile.subnetId",
            json!("/bad"),
            "InvalidParameter",
            "properties.masterProfile.subnetId",
        ),
        (
            "properties.masterProfile.encryptionAtHost",
            json!("On"),
            "InvalidParameter",
            "properties.masterProfile.encryptionAtHost",
        ),
        (
            "properties.masterProfile.diskEncryptionSetId",
            json!("/bad"),
            "InvalidParameter",
            "properties.masterProfile.diskEncryptionSetId",
        ),
        (
            "properties.workerProfiles",
            json!([]),
            "InvalidParameter",
            "properties.workerProfiles",
        ),
        (
            "properties.workerProfiles.0.name",
            json!("w"),
            "InvalidParameter",
            "properties.workerProfiles[0].name",
        ),
        (
            "properties.workerProfiles.0.vmSize",
            json!("Standard_A1"),
            "InvalidParameter",
            "properties.workerProfiles[0].vmSize",
        ),
        (
            "properties.workerProfiles.0.diskSizeGB",
            json!(64),
            "InvalidParameter",
            "properties.workerProfiles[0].diskSizeGB",
        ),
        (
            "properties.workerProfiles.0.count",
            json!(1),
            "InvalidParameter",
            "properties.workerProfiles[0].count",
        ),
        (
            "properties.workerProfiles.0.count",
            json!(51),
            "InvalidParameter",
            "properties.workerProfiles[0].count",
        ),
        (
            "properties.workerProfiles.0.subnetId",
            json!(subnet("master")),
            "InvalidParameter",
            "properties.workerProfiles[0].subnetId",
        ),
        (
            "properties.workerProfiles.0.subnetId",
            json!(format!(
                "/subscriptions/{SUB}/resourceGroups/vnet-rg/providers/Microsoft.Network/virtualNetworks/other/subnets/worker"
            )),
            "InvalidParameter",
            "properties.workerProfiles[0].subnetId",
        ),
        (
            "properties.workerProfiles.0.diskEncryptionSetId",
            json!(format!(
                "/subscriptions/{SUB}/resourceGroups/r/providers/Microsoft.Compute/diskEncryptionSets/d"
            )),
            "InvalidParameter",
            "properties.workerProfiles[0].diskEncryptionSetId",
        ),
        (
            "properties.apiserverProfile.visibility",
            json!("Hidden"),
            "InvalidParameter",
            "properties.apiserverProfile.visibility",
        ),
        (
            "properties.apiserverProfile.ip",
            json!("::1"),
            "InvalidParameter",
            "properties.apiserverProfile.ip",
        ),
        (
            "properties.apiserverProfile.url",
            json!("nope"),
            "InvalidParameter",
            "properties.apiserverProfile.url",
        ),
        (
            "properties.ingressProfiles",
            json!([]),
            "InvalidParameter",
            "properties.ingressProfiles",
        ),
        (
            "properties.ingressProfiles.0.name",
            json!("other"),
            "InvalidParameter",
            "properties.ingressProfiles[0].name",
        ),
        (
            "properties.ingressProfiles.0.visibility",
            json!("Hidden"),
            "InvalidParameter",
            "properties.ingressProfiles[0].visibility",
        ),
        (
            "properties.ingressProfiles.0.ip",
            json!("300.1.1.1"),
            "InvalidParameter",
            "properties.ingressProfiles[0].ip",
        ),
        (
            "properties.workerProfilesStatus",
            json!([{"name": "w"}]),
            "InvalidParameter",
            "properties.workerProfilesStatus",
        ),
    ];
    for (path, value, code, target) in cases {
        let mut body = valid_body();
        set(&mut body, path, value.clone());
        let errors = errors_for(v, body);
        assert!(
            errors.contains(&(code.to_string(), target.to_string())),
            "{path}={value}: expected {code} at {target}, got {errors:?}"
        );
    }
}

#[test]
fn workload_identity_rules() {
    let v = ApiVersion::V2024_08_12Preview;
    let msi = |n: &str| {
        format!(
            "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{n}"
        )
    };
    let mut wi = valid_body();
    wi["properties"]
        .as_object_mut()
        .unwrap()
        .remove("servicePrincipalProfile");
    wi["properties"]["platformWorkloadIdentityProfile"] = json!({"platformWorkloadIdentities": {"CloudControllerManager": {"resourceId": msi("ccm")}}});
    wi["identity"] =
        json!({"type": "UserAssigned", "userAssignedIdentities": {msi("cluster"): {}}});
    assert_eq!(errors_for(v, wi.clone()), vec![]);

    let mut none = valid_body();
    none["properties"]
        .as_object_mut()
        .unwrap()
        .remove("servicePrincipalProfile");
    assert!(errors_for(v, none).contains(&(
        "InvalidParameter".into(),
        "properties.servicePrincipalProfile".into()
    )));

    let mut both = wi.clone();
    both["properties"]["servicePrincipalProfile"] =
        json!({"clientId": "11111111-1111-1111-1111-111111111111", "clientSecret": "x"});
    assert!(errors_for(v, both).contains(&(
        "InvalidParameter".into(),
        "properties.servicePrincipalProfile".into()
    )));

    let mut no_identity = wi.clone();
    no_identity.as_object_mut().unwrap().remove("identity");
    assert!(errors_for(v, no_identity).contains(&("InvalidParameter".into(), "identity".into())));

    let mut two_uai = wi.clone();
    two_uai["identity"]["userAssignedIdentities"] = json!({msi("a"): {}, msi("b"): {}});
    assert!(errors_for(v, two_uai).contains(&(
        "InvalidParameter".into(),
        "identity.userAssignedIdentities".into()
    )));

    let mut dup = wi.clone();
    dup["properties"]["platformWorkloadIdentityProfile"]["platformWorkloadIdentities"] =
        json!({"A": {"resourceId": msi("x")}, "B": {"resourceId": msi("X")}});
    assert!(
        errors_for(v, dup)
            .iter()
            .any(|(c, t)| c == "InvalidParameter" && t.ends_with("B.resourceId"))
    );

    let mut bad_type = wi.clone();
    bad_type["properties"]["platformWorkloadIdentityProfile"]["platformWorkloadIdentities"] =
        json!({"A": {"resourceId": subnet("x")}});
    assert!(
        errors_for(v, bad_type)
            .iter()
            .any(|(_, t)| t.ends_with("A.resourceId"))
    );

    let mut empty = wi.clone();
    empty["properties"]["platformWorkloadIdentityProfile"]["platformWorkloadIdentities"] =
        json!({});
    assert!(
        errors_for(v, empty)
            .iter()
            .any(|(_, t)| t.ends_with("platformWorkloadIdentities"))
    );

    let mut upgradeable = wi.clone();
    upgradeable["properties"]["platformWorkloadIdentityProfile"]["upgradeableTo"] = json!("4.x");
    assert!(
        errors_for(v, upgradeable)
            .iter()
            .any(|(_, t)| t.ends_with("upgradeableTo"))
    );
}

#[test]
fn several_errors_are_reported_together() {
    let mut body = valid_body();
    set(&mut body, "properties.networkProfile.podCidr", json!("bad"));
    set(&mut body, "properties.masterProfile.vmSize", json!("bad"));
    let doc = parse_cluster(ApiVersion::V2022_04_01, &serde_json::to_vec(&body).unwrap()).unwrap();
    let error = to_arm_error(validate(&doc, &ctx(ApiVersion::V2022_04_01, true))).unwrap();
    assert_eq!(error.code, "MultipleErrorsOccurred");
    assert_eq!(error.details.len(), 2);
}

#[test]
fn a_wrong_json_type_fails_parsing_in_the_version_types() {
    let mut body = valid_body();
    set(
        &mut body,
        "properties.workerProfiles.0.count",
        json!("three"),
    );
    assert!(parse_cluster(ApiVersion::V2020_04_30, &serde_json::to_vec(&body).unwrap()).is_err());
}

#[test]
fn an_old_version_never_erases_fields_it_does_not_know() {
    let new = ApiVersion::V2023_11_22;
    let mut body = valid_body();
    body["properties"]["clusterProfile"]["fipsValidatedModules"] = json!("Enabled");
    body["properties"]["networkProfile"]["outboundType"] = json!("Loadbalancer");
    body["properties"]["networkProfile"]["preconfiguredNSG"] = json!("Enabled");
    body["properties"]["networkProfile"]["loadBalancerProfile"] =
        json!({"managedOutboundIps": {"count": 3}});
    body["properties"]["masterProfile"]["encryptionAtHost"] = json!("Enabled");
    let mut spec = OpenShiftClusterSpec::default();
    apply(
        &parse_cluster(new, &serde_json::to_vec(&body).unwrap()).unwrap(),
        &new.features(),
        &mut spec,
    );

    // A 2020-04-30 client PUTs what it knows, with a new tag.
    let old = ApiVersion::V2020_04_30;
    let mut old_body = valid_body();
    old_body["tags"] = json!({"x": "y"});
    apply(
        &parse_cluster(old, &serde_json::to_vec(&old_body).unwrap()).unwrap(),
        &old.features(),
        &mut spec,
    );
    assert_eq!(spec.tags.get("x").map(String::as_str), Some("y"));
    assert_eq!(spec.cluster_profile.fips_validated_modules, Toggle::Enabled);
    assert_eq!(spec.network_profile.preconfigured_nsg, Toggle::Enabled);
    assert_eq!(spec.master_profile.encryption_at_host, Toggle::Enabled);
    assert_eq!(
        spec.network_profile
            .load_balancer_profile
            .as_ref()
            .unwrap()
            .managed_outbound_ips
            .as_ref()
            .unwrap()
            .count,
        3
    );
    // And the old version's view does not show them.
    let view = render_cluster(old, &to_external(&spec, None, &old.features()));
    assert!(
        view["properties"]["clusterProfile"]
            .get("fipsValidatedModules")
            .is_none()
    );
    assert!(
        view["properties"]["networkProfile"]
            .get("loadBalancerProfile")
            .is_none()
    );
    assert!(view.get("systemData").is_none());
}

#[test]
fn responses_never_carry_secrets() {
    for version in ApiVersion::ALL {
        let doc = parse_cluster(version, &serde_json::to_vec(&valid_body()).unwrap()).unwrap();
        let mut spec = OpenShiftClusterSpec::default();
        let secrets = apply(&doc, &version.features(), &mut spec);
        assert_eq!(
            secrets.client_secret.as_ref().map(|s| s.expose_str()),
            Some("s3cret")
        );
        let text = render_cluster(
            version,
            &to_external(&spec, Some(&Default::default()), &version.features()),
        )
        .to_string();
        assert!(
            !text.contains("s3cret") && !text.contains("auths"),
            "{version}: {text}"
        );
        assert!(!format!("{secrets:?}").contains("s3cret"));
    }
}

#[test]
fn omitted_version_and_secrets_are_kept_on_put() {
    let v = ApiVersion::V2022_04_01;
    let mut spec = OpenShiftClusterSpec::default();
    spec.cluster_profile.version = "4.15.35".into();
    let mut body = valid_body();
    body["properties"]["clusterProfile"]
        .as_object_mut()
        .unwrap()
        .remove("pullSecret");
    body["properties"]["servicePrincipalProfile"]
        .as_object_mut()
        .unwrap()
        .remove("clientSecret");
    let secrets = apply(
        &parse_cluster(v, &serde_json::to_vec(&body).unwrap()).unwrap(),
        &v.features(),
        &mut spec,
    );
    assert_eq!(spec.cluster_profile.version, "4.15.35");
    assert_eq!(secrets.pull_secret, None);
    assert_eq!(secrets.client_secret, None);
}

fn spec_from(version: ApiVersion, body: &Value) -> OpenShiftClusterSpec {
    let mut spec = OpenShiftClusterSpec {
        resource_id: ID.into(),
        name: "c1".into(),
        ..Default::default()
    };
    apply(
        &parse_cluster(version, &serde_json::to_vec(body).unwrap()).unwrap(),
        &version.features(),
        &mut spec,
    );
    spec
}

#[test]
fn immutable_fields_report_their_path() {
    let v = ApiVersion::V2023_11_22;
    let old = spec_from(v, &valid_body());
    let cases = [
        (
            "properties.networkProfile.podCidr",
            json!("10.0.0.0/14"),
            Some("properties.networkProfile.podCidr"),
        ),
        (
            "properties.workerProfiles.0.count",
            json!(5),
            Some("properties.workerProfiles[0].count"),
        ),
        (
            "properties.clusterProfile.domain",
            json!("other"),
            Some("properties.clusterProfile.domain"),
        ),
        ("tags", json!({"new": "tag"}), None),
        (
            "properties.servicePrincipalProfile.clientId",
            json!("22222222-2222-2222-2222-222222222222"),
            None,
        ),
        (
            "properties.networkProfile.loadBalancerProfile",
            json!({"managedOutboundIps": {"count": 5}}),
            None,
        ),
        ("name", json!("C1"), None),
    ];
    for (path, value, expected) in cases {
        let mut body = valid_body();
        set(&mut body, path, value);
        let mut new = old.clone();
        apply(
            &parse_cluster(v, &serde_json::to_vec(&body).unwrap()).unwrap(),
            &v.features(),
            &mut new,
        );
        if path == "name" {
            new.name = "C1".into();
        }
        let got = immutability::check(&old, &new, &v.features());
        assert_eq!(
            got.as_ref().and_then(|e| e.target.as_deref()),
            expected,
            "{path}"
        );
        if let Some(e) = got {
            assert_eq!(e.code, "PropertyChangeNotAllowed");
            assert_eq!(
                e.message,
                format!("Changing property '{}' is not allowed.", expected.unwrap())
            );
        }
    }
}

#[test]
fn an_existing_platform_identity_cannot_be_removed() {
    let v = ApiVersion::V2025_07_25;
    let msi = |n: &str| {
        format!(
            "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{n}"
        )
    };
    let mut body = valid_body();
    body["properties"]
        .as_object_mut()
        .unwrap()
        .remove("servicePrincipalProfile");
    body["properties"]["platformWorkloadIdentityProfile"] =
        json!({"platformWorkloadIdentities": {"A": {"resourceId": msi("a")}}});
    body["identity"] = json!({"type": "UserAssigned", "userAssignedIdentities": {msi("c"): {}}});
    let old = spec_from(v, &body);
    body["properties"]["platformWorkloadIdentityProfile"]["platformWorkloadIdentities"] =
        json!({"A": {"resourceId": msi("a2")}, "B": {"resourceId": msi("b")}});
    let mut added = old.clone();
    apply(
        &serde_json::from_value::<Cluster>(body.clone()).unwrap(),
        &v.features(),
        &mut added,
    );
    assert_eq!(immutability::check(&old, &added, &v.features()), None);
    body["properties"]["platformWorkloadIdentityProfile"]["platformWorkloadIdentities"] =
        json!({"B": {"resourceId": msi("b")}});
    let mut removed = old.clone();
    apply(
        &serde_json::from_value::<Cluster>(body).unwrap(),
        &v.features(),
        &mut removed,
    );
    let e = immutability::check(&old, &removed, &v.features()).unwrap();
    assert!(e.target.unwrap().ends_with("platformWorkloadIdentities.A"));
}

#[test]
fn versions_parse_and_features_grow() {
    assert_eq!(
        ApiVersion::parse("2022-09-04"),
        Some(ApiVersion::V2022_09_04)
    );
    assert_eq!(ApiVersion::parse("2022-09-05"), None);
    assert!(!ApiVersion::V2020_04_30.features().list_admin_credentials);
    assert!(
        ApiVersion::V2021_09_01Preview
            .features()
            .list_admin_credentials
    );
    assert!(!ApiVersion::V2022_04_01.features().openshift_versions);
    assert!(ApiVersion::V2022_09_04.features().openshift_versions);
    assert!(ApiVersion::V2024_08_12Preview.features().role_sets);
    for v in ApiVersion::ALL {
        assert_eq!(ApiVersion::parse(v.as_str()), Some(v));
    }
}

#[test]
fn resource_group_id_case_is_not_a_change() {
    let v = ApiVersion::V2023_11_22;
    let mut old = spec_from(v, &valid_body());
    old.cluster_profile.resource_group_id = old.cluster_profile.resource_group_id.to_lowercase();
    let new = spec_from(v, &valid_body());
    assert_eq!(immutability::check(&old, &new, &v.features()), None);
}
