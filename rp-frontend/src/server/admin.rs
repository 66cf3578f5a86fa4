//! The admin API's global routes (`/admin/...`, SREs only): OpenShift versions and role sets
//! (list, upsert) and every cluster's admin view. A cluster's own admin routes are the cluster
//! handlers' ([`super::clusters`]) with `api-version=admin`.

use aro_common::merge_patch;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use crds::management::{
    OpenShiftCluster, OpenShiftVersion, OpenShiftVersionSpec, PlatformWorkloadIdentityRoleSet,
    PlatformWorkloadIdentityRoleSetSpec,
};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

use super::{AppState, Ctx, json_response, management};
use crate::api::admin;
use crate::error::{Error, Result, is_conflict};

/// The admin API's global routes.
pub async fn handle(state: &AppState, ctx: &Ctx) -> Result<Response> {
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
            let clusters = api.list(&ListParams::default()).await?.items;
            let value: Vec<_> = super::clusters::enriched_all(state, clusters)
                .await
                .iter()
                .map(|c| admin::render(c))
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

async fn upsert<K>(api: &Api<K>, name: &str, desired: K) -> Result<()>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    for _ in 0..5 {
        let result = match api.get_opt(name).await? {
            Some(existing) => {
                // The admin's body is the whole spec; the object's other fields stay as stored.
                let mut wanted = serde_json::to_value(&existing)?;
                wanted["spec"] = serde_json::to_value(&desired)?["spec"].take();
                let wanted: K = serde_json::from_value(wanted)?;
                merge_patch::write(api, &existing, &wanted, merge_patch::Part::Main).await
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
