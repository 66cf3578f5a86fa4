//! The OpenAPI (swagger 2.0) document of each API version, generated from that version's types.

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use super::common::{
    List, OpenShiftClusterAdminKubeconfig, OpenShiftClusterCredentials, OpenShiftVersion,
    Operation, PlatformWorkloadIdentityRoleSet,
};
use super::{ApiVersion, VersionTypes};

/// Remove what swagger 2.0 does not know (`nullable`, `$schema`) from generated schemas.
fn swaggerize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("nullable");
            map.remove("$schema");
            for v in map.values_mut() {
                swaggerize(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(swaggerize),
        _ => {}
    }
}

fn op(id: &str, params: &[&str], ok: Value, extra: Value) -> Value {
    let mut parameters: Vec<Value> = params
        .iter()
        .map(|p| json!({"name": p, "in": "path", "required": true, "type": "string"}))
        .collect();
    parameters
        .push(json!({"name": "api-version", "in": "query", "required": true, "type": "string"}));
    let mut responses = json!({
        "default": {"description": "Error response describing why the operation failed.", "schema": {"$ref": "#/definitions/CloudError"}}
    });
    if let (Value::Object(r), Value::Object(more)) = (&mut responses, ok) {
        r.extend(more);
    }
    let mut o = json!({"operationId": id, "parameters": parameters, "responses": responses});
    if let (Value::Object(o), Value::Object(extra)) = (&mut o, extra) {
        o.extend(extra);
    }
    o
}

/// The swagger 2.0 document of `version`.
pub fn document(version: ApiVersion) -> Value {
    let f = version.features();
    let mut generator = SchemaSettings::openapi3()
        .with(|s| {
            s.definitions_path = "/definitions".into();
            s.meta_schema = None;
        })
        .into_generator();
    let (cluster, update) = crate::with_version_types!(version, T => (
        generator.subschema_for::<<T as VersionTypes>::Cluster>(),
        generator.subschema_for::<<T as VersionTypes>::ClusterUpdate>(),
    ));
    let list = generator.subschema_for::<List<Value>>();
    let _ = list;
    let credentials = generator.subschema_for::<OpenShiftClusterCredentials>();
    let admin_kubeconfig = generator.subschema_for::<OpenShiftClusterAdminKubeconfig>();
    let operations = generator.subschema_for::<List<Operation>>();
    let versions = generator.subschema_for::<List<OpenShiftVersion>>();
    let version_schema = generator.subschema_for::<OpenShiftVersion>();
    let role_sets = generator.subschema_for::<List<PlatformWorkloadIdentityRoleSet>>();
    let role_set = generator.subschema_for::<PlatformWorkloadIdentityRoleSet>();
    let cloud_error = generator.subschema_for::<crds::ArmError>();
    let mut definitions = Value::Object(generator.take_definitions(true));
    definitions["CloudError"] = json!({"type": "object", "properties": {"error": cloud_error}});
    definitions["OpenShiftClusterList"] = json!({
        "type": "object",
        "properties": {"value": {"type": "array", "items": cluster.clone()}, "nextLink": {"type": "string"}}
    });

    let ns = "/providers/Microsoft.RedHatOpenShift";
    let sub = "/subscriptions/{subscriptionId}";
    let rg = format!("{sub}/resourceGroups/{{resourceGroupName}}");
    let item = format!("{rg}{ns}/openShiftClusters/{{resourceName}}");
    let item_params = ["subscriptionId", "resourceGroupName", "resourceName"];
    let cluster_v = serde_json::to_value(&cluster).unwrap_or(Value::Null);
    let update_v = serde_json::to_value(&update).unwrap_or(Value::Null);
    let body = |schema: &Value| json!({"parameters": [{"name": "parameters", "in": "body", "required": true, "schema": schema}]});
    let mut paths = serde_json::Map::new();
    paths.insert(
        format!("{ns}/operations"),
        json!({"get": op("Operations_List", &[], json!({"200": {"description": "OK", "schema": operations}}), json!({}))}),
    );
    paths.insert(
        format!("{sub}{ns}/openShiftClusters"),
        json!({"get": op("OpenShiftClusters_List", &["subscriptionId"], json!({"200": {"description": "OK", "schema": {"$ref": "#/definitions/OpenShiftClusterList"}}}), json!({"x-ms-pageable": {"nextLinkName": "nextLink"}}))}),
    );
    paths.insert(
        format!("{rg}{ns}/openShiftClusters"),
        json!({"get": op("OpenShiftClusters_ListByResourceGroup", &["subscriptionId", "resourceGroupName"], json!({"200": {"description": "OK", "schema": {"$ref": "#/definitions/OpenShiftClusterList"}}}), json!({"x-ms-pageable": {"nextLinkName": "nextLink"}}))}),
    );
    paths.insert(item.clone(), json!({
        "get": op("OpenShiftClusters_Get", &item_params, json!({"200": {"description": "OK", "schema": cluster_v}}), json!({})),
        "put": op("OpenShiftClusters_CreateOrUpdate", &item_params, json!({"200": {"description": "OK", "schema": cluster_v}, "201": {"description": "Created", "schema": cluster_v}}), json!({"x-ms-long-running-operation": true}).as_object().cloned().map(|mut m| { m.extend(body(&cluster_v).as_object().cloned().unwrap_or_default()); Value::Object(m) }).unwrap_or_default()),
        "patch": op("OpenShiftClusters_Update", &item_params, json!({"200": {"description": "OK", "schema": cluster_v}, "201": {"description": "Created", "schema": cluster_v}}), json!({"x-ms-long-running-operation": true}).as_object().cloned().map(|mut m| { m.extend(body(&update_v).as_object().cloned().unwrap_or_default()); Value::Object(m) }).unwrap_or_default()),
        "delete": op("OpenShiftClusters_Delete", &item_params, json!({"202": {"description": "Accepted"}, "204": {"description": "No Content"}}), json!({"x-ms-long-running-operation": true})),
    }));
    paths.insert(
        format!("{item}/listCredentials"),
        json!({"post": op("OpenShiftClusters_ListCredentials", &item_params, json!({"200": {"description": "OK", "schema": credentials}}), json!({}))}),
    );
    if f.list_admin_credentials {
        paths.insert(
            format!("{item}/listAdminCredentials"),
            json!({"post": op("OpenShiftClusters_ListAdminCredentials", &item_params, json!({"200": {"description": "OK", "schema": admin_kubeconfig}}), json!({}))}),
        );
    }
    let loc = format!("{sub}{ns}/locations/{{location}}");
    if f.openshift_versions {
        paths.insert(
            format!("{loc}/openShiftVersions"),
            json!({"get": op("OpenShiftVersions_List", &["subscriptionId", "location"], json!({"200": {"description": "OK", "schema": versions}}), json!({"x-ms-pageable": {"nextLinkName": "nextLink"}}))}),
        );
    }
    if f.openshift_version_get {
        paths.insert(
            format!("{loc}/openShiftVersions/{{openShiftVersion}}"),
            json!({"get": op("OpenShiftVersions_Get", &["subscriptionId", "location", "openShiftVersion"], json!({"200": {"description": "OK", "schema": version_schema}}), json!({}))}),
        );
    }
    if f.role_sets {
        paths.insert(
            format!("{loc}/platformWorkloadIdentityRoleSets"),
            json!({"get": op("PlatformWorkloadIdentityRoleSets_List", &["subscriptionId", "location"], json!({"200": {"description": "OK", "schema": role_sets}}), json!({"x-ms-pageable": {"nextLinkName": "nextLink"}}))}),
        );
        paths.insert(
            format!("{loc}/platformWorkloadIdentityRoleSets/{{openShiftMinorVersion}}"),
            json!({"get": op("PlatformWorkloadIdentityRoleSet_Get", &["subscriptionId", "location", "openShiftMinorVersion"], json!({"200": {"description": "OK", "schema": role_set}}), json!({}))}),
        );
    }
    let mut doc = json!({
        "swagger": "2.0",
        "info": {"title": "Azure Red Hat OpenShift Client", "description": "Rest API for Azure Red Hat OpenShift 4", "version": version.as_str()},
        "host": "management.azure.com",
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": paths,
        "definitions": definitions,
    });
    swaggerize(&mut doc);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_has_a_document_with_its_paths() {
        for version in ApiVersion::ALL {
            let doc = document(version);
            assert_eq!(doc["info"]["version"], version.as_str());
            let paths = doc["paths"].as_object().unwrap();
            assert!(paths.keys().any(|p| p.ends_with("/listCredentials")));
            assert_eq!(
                paths.keys().any(|p| p.ends_with("/listAdminCredentials")),
                version.features().list_admin_credentials
            );
            assert_eq!(
                paths
                    .keys()
                    .any(|p| p.contains("platformWorkloadIdentityRoleSets")),
                version.features().role_sets
            );
            let text = doc.to_string();
            assert!(!text.contains("nullable"), "{version}");
            assert!(
                doc["definitions"]["OpenShiftClusterProperties"].is_object(),
                "{version}"
            );
        }
    }

    #[test]
    fn definitions_follow_the_version() {
        let old = document(ApiVersion::V2020_04_30);
        let new = document(ApiVersion::V2024_08_12Preview);
        assert!(old["definitions"]["NetworkProfile"]["properties"]["outboundType"].is_null());
        assert!(new["definitions"]["NetworkProfile"]["properties"]["outboundType"].is_object());
        assert!(new["definitions"]["OpenShiftClusterProperties"]["properties"]["platformWorkloadIdentityProfile"].is_object());
    }
}
