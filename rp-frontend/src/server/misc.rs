//! Subscription lifecycle, operations list, OpenShift versions, role sets, preflight, OpenAPI and
//! the admin API's global routes.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use crds::management::naming;
use crds::management::{
    OpenShiftCluster, OpenShiftVersion, OpenShiftVersionSpec, PlatformWorkloadIdentityRoleSet,
    PlatformWorkloadIdentityRoleSetSpec, ProvisioningState, RegisteredFeature, Subscription,
    SubscriptionSpec, SubscriptionState, protocol,
};
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};
use serde::Deserialize;
use serde_json::{Value, json};

use super::clusters::{READ_STATES_PUB, require_subscription};
use super::{AppState, Ctx, NAMESPACE, json_response, management};
use crate::api::common::{openshift_version_resource, role_set_resource};
use crate::api::{ApiVersion, admin, openapi};
use crate::error::{Error, Result, is_conflict};

/// GET /providers/Microsoft.RedHatOpenShift/operations.
pub fn operations(_ctx: &Ctx) -> Result<Response> {
    let op = |name: &str, resource: &str, operation: &str, description: &str| {
        json!({
            "name": format!("{NAMESPACE}/{name}"),
            "display": {"provider": "Azure Red Hat OpenShift", "resource": resource, "operation": operation, "description": description},
            "origin": "user,system",
        })
    };
    let value = vec![
        op(
            "openShiftClusters/read",
            "openShiftClusters",
            "Read OpenShift cluster",
            "Reads an OpenShift cluster.",
        ),
        op(
            "openShiftClusters/write",
            "openShiftClusters",
            "Write OpenShift cluster",
            "Creates or updates an OpenShift cluster.",
        ),
        op(
            "openShiftClusters/delete",
            "openShiftClusters",
            "Delete OpenShift cluster",
            "Deletes an OpenShift cluster.",
        ),
        op(
            "openShiftClusters/listCredentials/action",
            "openShiftClusters",
            "List credentials of an OpenShift cluster",
            "Lists credentials of an OpenShift cluster.",
        ),
        op(
            "openShiftClusters/listAdminCredentials/action",
            "openShiftClusters",
            "List Admin Kubeconfig of an OpenShift cluster",
            "Lists the admin kubeconfig of an OpenShift cluster.",
        ),
        op(
            "openShiftClusters/detectors/read",
            "openShiftClusters",
            "Get OpenShift Cluster Detector",
            "Gets the detectors of an OpenShift cluster.",
        ),
        op(
            "operations/read",
            "operations",
            "Read operations",
            "Lists operations available on the Microsoft.RedHatOpenShift resource provider.",
        ),
        op(
            "locations/operationresults/read",
            "locations/operationresults",
            "Read operation results",
            "Reads operation results.",
        ),
        op(
            "locations/operationsstatus/read",
            "locations/operationsstatus",
            "Read operations status",
            "Reads operations status.",
        ),
        op(
            "locations/openShiftVersions/read",
            "locations/openShiftVersions",
            "Lists OpenShift versions",
            "Lists the installable OpenShift versions.",
        ),
        op(
            "locations/platformWorkloadIdentityRoleSets/read",
            "locations/platformWorkloadIdentityRoleSets",
            "Lists role sets",
            "Lists the platform workload identity role sets.",
        ),
        op(
            "register/action",
            "register",
            "Register",
            "Registers the subscription with the resource provider.",
        ),
    ];
    Ok(json_response(StatusCode::OK, &json!({ "value": value })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SubscriptionBody {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    registration_date: Option<String>,
    #[serde(default)]
    properties: Option<SubscriptionProperties>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SubscriptionProperties {
    #[serde(default)]
    tenant_id: Option<String>,
    #[serde(default)]
    registered_features: Option<Vec<RegisteredFeature>>,
}

/// PUT/GET /subscriptions/{id}?api-version=2.0 (ARM subscription lifecycle).
pub async fn subscription(state: &AppState, ctx: &Ctx, sub: &str) -> Result<Response> {
    if ctx.query("api-version") != Some("2.0") {
        return Err(Error::arm(
            StatusCode::BAD_REQUEST,
            "InvalidResourceType",
            format!(
                "The resource type 'subscriptions' could not be found for api version '{}'.",
                ctx.query("api-version").unwrap_or_default()
            ),
        ));
    }
    let api: Api<Subscription> = Api::all(state.client.clone());
    let name = sub.to_lowercase();
    if ctx.method == Method::GET {
        let s = api.get_opt(&name).await?.ok_or_else(|| {
            Error::arm(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("The subscription '{sub}' is not registered."),
            )
        })?;
        return Ok(json_response(StatusCode::OK, &subscription_body(&s.spec)));
    }
    let body: SubscriptionBody = ctx.json()?;
    let new_state = match body.state.as_deref() {
        Some("Registered") => SubscriptionState::Registered,
        Some("Unregistered") => SubscriptionState::Unregistered,
        Some("Warned") => SubscriptionState::Warned,
        Some("Suspended") => SubscriptionState::Suspended,
        Some("Deleted") => SubscriptionState::Deleted,
        other => {
            return Err(Error::arm_target(
                StatusCode::BAD_REQUEST,
                "InvalidParameter",
                "state",
                format!(
                    "The provided state '{}' is invalid.",
                    other.unwrap_or_default()
                ),
            ));
        }
    };
    let props = body.properties.unwrap_or_default();
    for _ in 0..5 {
        let existing = api.get_opt(&name).await?;
        if let Some(e) = &existing
            && e.spec.state == SubscriptionState::Deleted
            && new_state != SubscriptionState::Deleted
        {
            return Err(Error::arm(
                StatusCode::BAD_REQUEST,
                "InvalidSubscriptionState",
                "Request is not allowed in subscription in state 'Deleted'.",
            ));
        }
        let spec = SubscriptionSpec {
            state: new_state,
            tenant_id: props.tenant_id.clone(),
            registration_date: body.registration_date.clone(),
            registered_features: props.registered_features.clone().unwrap_or_default(),
        };
        let result = match existing {
            Some(mut s) => {
                s.spec = spec;
                api.replace(&name, &PostParams::default(), &s).await
            }
            None => {
                api.create(&PostParams::default(), &Subscription::new(&name, spec))
                    .await
            }
        };
        match result {
            Ok(stored) => {
                management::ensure_namespace(&state.client, &naming::subscription_namespace(sub))
                    .await?;
                if new_state == SubscriptionState::Deleted {
                    delete_all_clusters(state, sub).await?;
                }
                return Ok(json_response(
                    StatusCode::OK,
                    &subscription_body(&stored.spec),
                ));
            }
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict)
}

fn subscription_body(spec: &SubscriptionSpec) -> Value {
    json!({
        "state": format!("{:?}", spec.state),
        "registrationDate": spec.registration_date,
        "properties": {"tenantId": spec.tenant_id, "registeredFeatures": spec.registered_features},
    })
}

/// A Deleted subscription: every terminal cluster moves to Deleting (busy ones are left for the
/// controller's subscription reconciler to retry).
async fn delete_all_clusters(state: &AppState, sub: &str) -> Result<()> {
    let api = management::clusters(&state.client, sub);
    for cluster in api.list(&ListParams::default()).await?.items {
        if !protocol::effective_state(&cluster).is_terminal() {
            continue;
        }
        let op = management::operation_spec(
            &cluster,
            &state.config.location,
            ProvisioningState::Deleting,
            None,
        );
        let id = op.operation_id.clone();
        let ns = cluster.namespace().unwrap_or_default();
        management::create_operation(&state.client, &ns, op).await?;
        match management::transition(
            &state.client,
            &state.clusters,
            cluster,
            ProvisioningState::Deleting,
            &id,
            &state.config.rp_version,
            &[],
        )
        .await
        {
            management::Claim::Won(_) => {}
            management::Claim::Lost(error) => {
                tracing::warn!(%error, "could not start deleting a cluster of a deleted subscription");
                management::discard_operation(&state.client, &ns, &id).await;
            }
            // The record stays with a claim that may have landed.
            management::Claim::Unknown(error) => {
                tracing::warn!(%error, "starting to delete a cluster of a deleted subscription: outcome unknown");
            }
        }
    }
    Ok(())
}

fn endpoint_not_in_version(version: ApiVersion) -> Error {
    Error::arm(
        StatusCode::BAD_REQUEST,
        "InvalidResourceType",
        format!(
            "The endpoint could not be found in the namespace '{NAMESPACE}' for api version '{version}'."
        ),
    )
}

/// GET locations/{l}/openShiftVersions[/{v}].
pub async fn versions(
    state: &AppState,
    ctx: &Ctx,
    sub: &str,
    one: Option<&str>,
) -> Result<Response> {
    let version = ctx.api_version()?;
    let f = version.features();
    if !f.openshift_versions || (one.is_some() && !f.openshift_version_get) {
        return Err(endpoint_not_in_version(version));
    }
    require_subscription(state, sub, READ_STATES_PUB).await?;
    let mut enabled: Vec<OpenShiftVersionSpec> = management::openshift_versions(&state.client)
        .await?
        .into_iter()
        .filter(|v| v.enabled)
        .collect();
    enabled.sort_by(|a, b| a.version.cmp(&b.version));
    let location = &state.config.location;
    match one {
        None => {
            let value: Vec<_> = enabled
                .iter()
                .map(|v| openshift_version_resource(sub, location, v))
                .collect();
            Ok(json_response(StatusCode::OK, &json!({ "value": value })))
        }
        Some(wanted) => {
            let v = enabled
                .iter()
                .find(|v| v.version == *wanted)
                .ok_or_else(|| {
                    Error::arm_target(
                        StatusCode::BAD_REQUEST,
                        "ResourceNotFound",
                        "openShiftVersion",
                        format!("The requested OpenShift version '{wanted}' is not available."),
                    )
                })?;
            Ok(json_response(
                StatusCode::OK,
                &openshift_version_resource(sub, location, v),
            ))
        }
    }
}

/// GET locations/{l}/platformWorkloadIdentityRoleSets[/{minor}].
pub async fn role_sets(
    state: &AppState,
    ctx: &Ctx,
    sub: &str,
    one: Option<&str>,
) -> Result<Response> {
    let version = ctx.api_version()?;
    if !version.features().role_sets {
        return Err(endpoint_not_in_version(version));
    }
    require_subscription(state, sub, READ_STATES_PUB).await?;
    let sets = management::role_sets(&state.client).await?;
    let location = &state.config.location;
    match one {
        None => {
            let value: Vec<_> = sets
                .iter()
                .map(|s| role_set_resource(sub, location, s))
                .collect();
            Ok(json_response(StatusCode::OK, &json!({ "value": value })))
        }
        Some(minor) => {
            let s = sets.iter().find(|s| s.open_shift_version == *minor).ok_or_else(|| {
                Error::arm_target(StatusCode::BAD_REQUEST, "ResourceNotFound", "openShiftMinorVersion",
                    format!("The requested role set for OpenShift version '{minor}' is not available."))
            })?;
            Ok(json_response(
                StatusCode::OK,
                &role_set_resource(sub, location, s),
            ))
        }
    }
}

/// POST deployments/{d}/preflight: always 200 with Succeeded or Failed; static checks of every
/// ARO resource in the deployment.
pub fn preflight(state: &AppState, ctx: &Ctx) -> Result<Response> {
    let body: Value = ctx.json()?;
    let resources = body["resources"].as_array().cloned().unwrap_or_default();
    for resource in resources {
        let type_ = resource["type"].as_str().unwrap_or_default();
        if !type_.eq_ignore_ascii_case("Microsoft.RedHatOpenShift/openShiftClusters") {
            continue;
        }
        let Some(version) = resource["apiVersion"].as_str().and_then(ApiVersion::parse) else {
            return Ok(preflight_failed(
                "InvalidResourceType",
                "The api version of the resource is not supported.",
            ));
        };
        let name = resource["name"].as_str().unwrap_or_default();
        let doc = match crate::api::parse_cluster(version, resource.to_string().as_bytes()) {
            Ok(doc) => doc,
            Err(e) => return Ok(preflight_failed("InvalidRequestContent", &e.to_string())),
        };
        let id = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/{NAMESPACE}/openShiftClusters/{name}",
            ctx.segments[1], ctx.segments[3]
        );
        let vctx = crate::api::validate::ValidationContext {
            features: version.features(),
            resource_id: &id,
            subscription_id: &ctx.lower[1],
            resource_group: &ctx.segments[3],
            resource_name: name,
            location: &state.config.location,
            is_create: true,
            parent_domain: state.config.parent_domain.as_deref(),
            architecture_version: 2,
            require_d2s_workers: state.config.require_d2s_workers,
        };
        let mut doc = doc;
        doc.id = None;
        doc.type_ = None;
        if let Some(error) =
            crate::api::validate::to_arm_error(crate::api::validate::validate(&doc, &vctx))
        {
            return Ok(json_response(
                StatusCode::OK,
                &json!({"status": "Failed", "error": error}),
            ));
        }
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({"status": "Succeeded"}),
    ))
}

fn preflight_failed(code: &str, message: &str) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"status": "Failed", "error": {"code": code, "message": message}}),
    )
}

/// GET /openapi/{version}[.json].
pub fn openapi(lower: &[String]) -> Result<Response> {
    let wanted = lower
        .get(1)
        .map(|v| v.trim_end_matches(".json"))
        .unwrap_or_default();
    match ApiVersion::parse(wanted) {
        Some(version) => Ok(json_response(StatusCode::OK, &openapi::document(version))),
        None => Ok(json_response(
            StatusCode::OK,
            &json!({"versions": ApiVersion::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>()}),
        )),
    }
}

/// The admin API's global routes.
pub async fn admin(state: &AppState, ctx: &Ctx) -> Result<Response> {
    let l: Vec<&str> = ctx.lower.iter().map(String::as_str).collect();
    match (l.as_slice(), &ctx.method) {
        (["admin", "versions"], &Method::GET) => {
            let value = management::openshift_versions(&state.client).await?;
            Ok(json_response(StatusCode::OK, &json!({ "value": value })))
        }
        (["admin", "versions"], &Method::PUT) => {
            let spec: OpenShiftVersionSpec = ctx.json()?;
            for (field, value) in [
                ("version", &spec.version),
                ("openShiftPullspec", &spec.open_shift_pullspec),
                ("installerPullspec", &spec.installer_pullspec),
            ] {
                if value.is_empty() {
                    return Err(Error::arm_target(
                        StatusCode::BAD_REQUEST,
                        "InvalidParameter",
                        &format!("properties.{field}"),
                        format!("Must be provided: {field}."),
                    ));
                }
            }
            if semver::Version::parse(&spec.version).is_err() {
                return Err(Error::arm_target(
                    StatusCode::BAD_REQUEST,
                    "InvalidParameter",
                    "properties.version",
                    format!("The provided version '{}' is invalid.", spec.version),
                ));
            }
            let api: Api<OpenShiftVersion> = Api::all(state.client.clone());
            upsert(
                &api,
                &spec.version.clone(),
                OpenShiftVersion::new(&spec.version, spec.clone()),
            )
            .await?;
            Ok(json_response(StatusCode::OK, &spec))
        }
        (["admin", "platformworkloadidentityrolesets"], &Method::GET) => {
            let value = management::role_sets(&state.client).await?;
            Ok(json_response(StatusCode::OK, &json!({ "value": value })))
        }
        (["admin", "platformworkloadidentityrolesets"], &Method::PUT) => {
            let spec: PlatformWorkloadIdentityRoleSetSpec = ctx.json()?;
            let minor_ok = spec.open_shift_version.split('.').count() == 2
                && spec
                    .open_shift_version
                    .split('.')
                    .all(|p| p.parse::<u32>().is_ok());
            if !minor_ok || spec.platform_workload_identity_roles.is_empty() {
                return Err(Error::arm_target(
                    StatusCode::BAD_REQUEST,
                    "InvalidParameter",
                    "properties.openShiftVersion",
                    "The provided role set is invalid: it needs an OpenShift minor version (x.y) and roles.",
                ));
            }
            let api: Api<PlatformWorkloadIdentityRoleSet> = Api::all(state.client.clone());
            let name = spec.open_shift_version.clone();
            upsert(
                &api,
                &name,
                PlatformWorkloadIdentityRoleSet::new(&name, spec.clone()),
            )
            .await?;
            Ok(json_response(StatusCode::OK, &spec))
        }
        (["admin", "clusters"], &Method::GET)
        | (
            [
                "admin",
                "providers",
                "microsoft.redhatopenshift",
                "openshiftclusters",
            ],
            &Method::GET,
        ) => {
            let api: Api<OpenShiftCluster> = Api::all(state.client.clone());
            let value: Vec<_> = api
                .list(&ListParams::default())
                .await?
                .items
                .iter()
                .map(admin::render)
                .collect();
            Ok(json_response(StatusCode::OK, &json!({ "value": value })))
        }
        _ => Err(Error::arm(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "The requested path '/{}' could not be found.",
                ctx.segments.join("/")
            ),
        )),
    }
}

async fn upsert<K>(api: &Api<K>, name: &str, mut desired: K) -> Result<()>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    for _ in 0..5 {
        let result = match api.get_opt(name).await? {
            Some(existing) => {
                desired.meta_mut().resource_version = existing.meta().resource_version.clone();
                api.replace(name, &PostParams::default(), &desired).await
            }
            None => api.create(&PostParams::default(), &desired).await,
        };
        match result {
            Ok(_) => return Ok(()),
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict)
}
