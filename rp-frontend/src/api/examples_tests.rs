//! Contract tests over the official examples of every API version that publishes them
//! (vendored under `testdata/examples/<version>/`, retired child resources left out).

use std::path::PathBuf;

use serde_json::{Value, json};

use super::common::{
    List, OpenShiftClusterAdminKubeconfig, OpenShiftClusterCredentials, OpenShiftVersion,
    Operation, PlatformWorkloadIdentityRoleSet,
};
use super::convert::{apply, to_external};
use super::validate::{ValidationContext, validate};
use super::{
    ApiVersion, VersionTypes, parse_cluster, parse_cluster_update, render_cluster, reshape,
};

const SUB: &str = "00000000-0000-0000-0000-000000000000";

fn examples() -> Vec<(ApiVersion, String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/examples");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("vendored examples") {
        let entry = entry.unwrap();
        let version_name = entry.file_name().to_string_lossy().to_string();
        let version = ApiVersion::parse(&version_name).expect("example directory is a version");
        for file in std::fs::read_dir(entry.path()).unwrap() {
            let file = file.unwrap();
            let name = file.file_name().to_string_lossy().to_string();
            let value: Value =
                serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap();
            out.push((version, name, value));
        }
    }
    assert!(out.len() >= 30, "examples found: {}", out.len());
    out
}

/// Replace the examples' placeholders ("subscriptionId", "clientId", empty identity names) with
/// well-formed values, and keep one credential kind on workload identity examples (they show a
/// service principal and platform identities together, which ARO rejects).
fn substitute(body: &Value) -> Value {
    let text = body
        .to_string()
        .replace(
            "/subscriptions/subscriptionId/",
            &format!("/subscriptions/{SUB}/"),
        )
        .replace(
            "\"clientId\":\"clientId\"",
            "\"clientId\":\"11111111-1111-1111-1111-111111111111\"",
        );
    let mut value: Value = serde_json::from_str(&text).unwrap();
    let msi = format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
    );
    if value["properties"]["platformWorkloadIdentityProfile"].is_object() {
        value["properties"]
            .as_object_mut()
            .unwrap()
            .remove("servicePrincipalProfile");
        value["properties"]["platformWorkloadIdentityProfile"]["platformWorkloadIdentities"] =
            json!({"CloudControllerManager": {"resourceId": format!("{msi}ccm")}});
        value["identity"]["userAssignedIdentities"] = json!({ format!("{msi}cluster"): {} });
    }
    value
}

fn context(version: ApiVersion, is_create: bool) -> ValidationContext<'static> {
    ValidationContext {
        features: version.features(),
        resource_id: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/resourceGroup/providers/Microsoft.RedHatOpenShift/openShiftClusters/resourceName",
        subscription_id: SUB,
        resource_group: "resourceGroup",
        resource_name: "resourceName",
        location: "location",
        is_create,
        parent_domain: Some("aroapp.io"),
        architecture_version: 2,
        require_d2s_workers: true,
    }
}

#[test]
fn every_example_request_is_accepted_by_its_version() {
    let mut checked = 0;
    for (version, name, example) in examples() {
        let is_put = name == "OpenShiftClusters_CreateOrUpdate.json";
        let is_patch = name == "OpenShiftClusters_Update.json";
        if !is_put && !is_patch {
            continue;
        }
        let body = &example["parameters"]["parameters"];
        let bytes = serde_json::to_vec(body).unwrap();
        // Parse: verbatim, in the version's own types.
        let parsed = if is_put {
            parse_cluster(version, &bytes).unwrap_or_else(|e| panic!("{version} {name}: {e}"))
        } else {
            let update = parse_cluster_update(version, &bytes)
                .unwrap_or_else(|e| panic!("{version} {name}: {e}"));
            serde_json::from_value(update).unwrap()
        };
        // Convert: applied onto an empty internal object.
        let mut spec = crds::management::OpenShiftClusterSpec::default();
        let secrets = apply(&parsed, &version.features(), &mut spec);
        assert!(
            secrets.pull_secret.is_some(),
            "{version} {name}: pull secret kept aside"
        );
        assert_eq!(spec.network_profile.pod_cidr, "10.128.0.0/14");
        assert_eq!(spec.tags.get("key").map(String::as_str), Some("value"));
        // Validate: with placeholders made well-formed.
        let mut doc: super::external::Cluster = serde_json::from_value(substitute(body)).unwrap();
        doc.location.get_or_insert_with(|| "location".to_string());
        let errors = validate(&doc, &context(version, true));
        assert!(errors.is_empty(), "{version} {name}: {errors:#?}");
        checked += 1;
    }
    assert_eq!(
        checked, 5,
        "create/update examples of 2023-11-22, 2024-08-12-preview, 2025-07-25"
    );
}

fn strip_nulls(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|_, v| !v.is_null());
        map.values_mut().for_each(strip_nulls);
    } else if let Value::Array(items) = value {
        items.iter_mut().for_each(strip_nulls);
    }
}

fn assert_reshapes<T: serde::Serialize + serde::de::DeserializeOwned>(what: &str, body: &Value) {
    let mut expected = body.clone();
    strip_nulls(&mut expected);
    let got = reshape::<T>(body.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
    pretty_assertions::assert_eq!(got, expected, "{what}: a field is missing from our types");
}

#[test]
fn every_example_response_is_exactly_representable_in_its_version() {
    let mut checked = 0;
    for (version, name, example) in examples() {
        let Some(responses) = example["responses"].as_object() else {
            continue;
        };
        for (code, response) in responses {
            let body = &response["body"];
            if body.is_null() {
                continue;
            }
            let what = format!("{version} {name} {code}");
            let stem = name.trim_end_matches(".json");
            crate::with_version_types!(version, T => match stem {
                "OpenShiftClusters_Get" | "OpenShiftClusters_CreateOrUpdate" | "OpenShiftClusters_Update" =>
                    assert_reshapes::<<T as VersionTypes>::Cluster>(&what, body),
                "OpenShiftClusters_List" | "OpenShiftClusters_ListByResourceGroup" =>
                    assert_reshapes::<List<<T as VersionTypes>::Cluster>>(&what, body),
                "OpenShiftClusters_ListCredentials" => assert_reshapes::<OpenShiftClusterCredentials>(&what, body),
                "OpenShiftClusters_ListAdminCredentials" => assert_reshapes::<OpenShiftClusterAdminKubeconfig>(&what, body),
                "OpenShiftVersions_List" => assert_reshapes::<List<OpenShiftVersion>>(&what, body),
                "OpenShiftVersions_Get" => assert_reshapes::<OpenShiftVersion>(&what, body),
                "PlatformWorkloadIdentityRoleSets_List" => assert_reshapes::<List<PlatformWorkloadIdentityRoleSet>>(&what, body),
                "PlatformWorkloadIdentityRoleSet_Get" => assert_reshapes::<PlatformWorkloadIdentityRoleSet>(&what, body),
                "Operations_List" => assert_reshapes::<List<Operation>>(&what, body),
                other => panic!("unexpected example {other}"),
            });
            checked += 1;
        }
    }
    assert!(checked >= 30, "responses checked: {checked}");
}

#[test]
fn example_requests_round_trip_through_the_internal_model() {
    for (version, name, example) in examples() {
        if name != "OpenShiftClusters_CreateOrUpdate.json" {
            continue;
        }
        let body = &example["parameters"]["parameters"];
        let parsed = parse_cluster(version, &serde_json::to_vec(body).unwrap()).unwrap();
        let mut spec = crds::management::OpenShiftClusterSpec::default();
        apply(&parsed, &version.features(), &mut spec);
        let rendered = render_cluster(version, &to_external(&spec, None, &version.features()));
        // Everything the customer wrote comes back, except the secrets and read-only fields.
        let mut expected = body.clone();
        let props = expected["properties"].as_object_mut().unwrap();
        props["clusterProfile"]
            .as_object_mut()
            .unwrap()
            .remove("pullSecret");
        props.remove("consoleProfile");
        if let Some(sp) = props.get_mut("servicePrincipalProfile") {
            sp.as_object_mut().unwrap().remove("clientSecret");
        }
        for (key, value) in expected.as_object().unwrap() {
            let got = &rendered[key];
            let mut want = value.clone();
            strip_nulls(&mut want);
            assert_subset(&format!("{version} {key}"), &want, got);
        }
    }
}

/// Every field of `want` is in `got` with the same value (`got` may add defaults).
fn assert_subset(path: &str, want: &Value, got: &Value) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, v) in w {
                assert_subset(&format!("{path}.{k}"), v, g.get(k).unwrap_or(&Value::Null));
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            assert_eq!(w.len(), g.len(), "{path}");
            for (i, (a, b)) in w.iter().zip(g).enumerate() {
                assert_subset(&format!("{path}[{i}]"), a, b);
            }
        }
        _ => assert_eq!(want, got, "{path}"),
    }
}
