//! The ARM subscription lifecycle (`PUT`/`GET /subscriptions/{id}?api-version=2.0`): ARM tells
//! the RP a subscription's state; a Deleted subscription starts deleting its clusters.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use crds::management::naming;
use crds::management::provisioning::{self, Request, Standing};
use crds::management::{RegisteredFeature, Subscription, SubscriptionSpec, SubscriptionState};
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, Ctx, json_response, management};
use crate::error::{Error, Result, is_conflict};

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
pub async fn put_or_get(state: &AppState, ctx: &Ctx, sub: &str) -> Result<Response> {
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
            Some(read) => {
                let mut s = read.clone();
                s.spec = spec;
                aro_common::merge_patch::write(&api, &read, &s, aro_common::merge_patch::Part::Main)
                    .await
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
        if provisioning::admit(Request::Delete, Standing::of(&cluster)).is_err() {
            continue;
        }
        let deleting = provisioning::started_state(Request::Delete);
        let op = management::operation_spec(&cluster, &state.config.location, deleting, None);
        let id = op.operation_id.clone();
        let ns = cluster.namespace().unwrap_or_default();
        management::create_operation(&state.client, &ns, op).await?;
        let read = cluster.clone();
        match management::transition(
            &state.client,
            &state.clusters,
            Some(&read),
            cluster,
            deleting,
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
