//! Cluster handlers: GET, list, PUT, PATCH, DELETE, credentials and async operations.

use std::collections::BTreeMap;
use std::sync::Arc;

use aro_common::merge_patch;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use crds::management::naming::{
    self, LABEL_CLIENT_ID_HASH, LABEL_CLUSTER_RESOURCE_GROUP_HASH, LABEL_DOMAIN_HASH,
    LABEL_RESOURCE_GROUP_HASH, LABEL_RESOURCE_ID_HASH, LABEL_SUBSCRIPTION,
};
use crds::management::provisioning::{self, Refusal, Request, Standing};
use crds::management::{
    AsyncOperation, MaintenanceState, OpenShiftCluster, OpenShiftClusterSpec, ProvisioningState,
    SubscriptionState, protocol,
};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

use super::{
    AppState, Ctx, NAMESPACE, endpoint_not_in_version, error_response, invalid_request_content,
    json_response, management, paging, workload_identity,
};
use crate::api::convert::{CustomerSecrets, apply, to_external};
use crate::api::validate::{ValidationContext, to_arm_error, validate};
use crate::api::{
    ApiVersion, admin, external, immutability, parse_cluster, parse_cluster_update, render_cluster,
};
use crate::error::{Error, Result, is_conflict};

/// A cluster's identity from the URL.
pub struct ResourceKey {
    /// Subscription (lowercase).
    pub subscription: String,
    /// Resource group (URL case).
    pub resource_group: String,
    /// Name (URL case).
    pub name: String,
    /// ARM id in the URL's case.
    pub resource_id: String,
    /// Kubernetes namespace.
    pub namespace: String,
    /// Kubernetes object name.
    pub object_name: String,
}

impl ResourceKey {
    /// From `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}`.
    pub fn from_ctx(ctx: &Ctx) -> Self {
        let subscription = ctx.lower[1].clone();
        let resource_group = ctx.segments[3].clone();
        let name = ctx.segments[7].clone();
        ResourceKey {
            resource_id: format!(
                "/subscriptions/{}/resourceGroups/{}/providers/{}/{}/{}",
                ctx.segments[1], resource_group, ctx.segments[5], ctx.segments[6], name
            ),
            namespace: naming::subscription_namespace(&subscription),
            object_name: naming::cluster_object_name(&resource_group, &name),
            subscription,
            resource_group,
            name,
        }
    }
}

fn resource_not_found(key: &ResourceKey) -> Error {
    Error::arm(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!(
            "The Resource '{NAMESPACE}/openShiftClusters/{}' under resource group '{}' was not found.",
            key.name, key.resource_group
        ),
    )
}

/// 400 InvalidSubscriptionState unless the subscription is in one of `allowed`.
pub async fn require_subscription(
    state: &AppState,
    subscription: &str,
    allowed: &[SubscriptionState],
) -> Result<()> {
    // Reads may trust the watch cache: it sees a subscription's change of state milliseconds
    // later, so a read may still be served in that window after Unregistered or Deleted. Writes,
    // and anything the cache does not allow, read the Subscription itself.
    if allowed == READ_STATES
        && state
            .subscriptions
            .state(subscription)
            .is_some_and(|s| allowed.contains(&s))
    {
        return Ok(());
    }
    let current = management::subscription_state(&state.client, subscription).await?;
    if current.is_some_and(|s| allowed.contains(&s)) {
        return Ok(());
    }
    let message = match current {
        None => format!("Request is not allowed in unregistered subscription '{subscription}'."),
        Some(s) => format!("Request is not allowed in subscription in state '{s:?}'."),
    };
    Err(Error::arm(
        StatusCode::BAD_REQUEST,
        "InvalidSubscriptionState",
        message,
    ))
}

/// Subscription states that allow reads.
pub const READ_STATES: &[SubscriptionState] = &[
    SubscriptionState::Registered,
    SubscriptionState::Warned,
    SubscriptionState::Suspended,
];

/// The version's view of a stored cluster (the effective provisioning state included).
pub fn render(version: ApiVersion, cluster: &OpenShiftCluster) -> Value {
    let mut status = cluster.status.clone().unwrap_or_default();
    status.provisioning_state = Some(protocol::effective_state(cluster));
    render_cluster(
        version,
        &to_external(&cluster.spec, Some(&status), &version.features()),
    )
}

/// GET a cluster (customer versions and `api-version=admin`).
pub async fn get(state: &AppState, ctx: &Ctx, key: &ResourceKey) -> Result<Response> {
    let admin_view = ctx.query("api-version") == Some("admin");
    let version = if admin_view {
        None
    } else {
        Some(ctx.api_version()?)
    };
    require_subscription(state, &key.subscription, READ_STATES).await?;
    let cluster = read_cluster(state, &key.subscription, &key.object_name)
        .await?
        .ok_or_else(|| resource_not_found(key))?;
    let cluster = state
        .cluster_data
        .enriched(&state.client, cluster, state.cluster_data.deadline())
        .await;
    let body = match version {
        Some(v) => render(v, &cluster),
        None => admin::render(&cluster),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// A cluster as this frontend last wrote or watched it (see [`management::ClusterCache`]), else as
/// the management cluster has it.
async fn read_cluster(
    state: &AppState,
    subscription: &str,
    object_name: &str,
) -> Result<Option<Arc<OpenShiftCluster>>> {
    let namespace = naming::subscription_namespace(subscription);
    if let Some(cached) = state.clusters.get(&namespace, object_name) {
        return Ok(cached);
    }
    Ok(management::clusters(&state.client, subscription)
        .get_opt(object_name)
        .await?
        .map(Arc::new))
}

/// Clusters as GET shows them, every cluster read in parallel under one deadline (as ARO-RP
/// bounds a list's enrichment as a whole).
pub async fn enriched_all(
    state: &AppState,
    clusters: Vec<OpenShiftCluster>,
) -> Vec<Arc<OpenShiftCluster>> {
    let deadline = state.cluster_data.deadline();
    futures::future::join_all(clusters.into_iter().map(|cluster| {
        state
            .cluster_data
            .enriched(&state.client, Arc::new(cluster), deadline)
    }))
    .await
}

/// List clusters of a subscription or resource group, paged.
pub async fn list(
    state: &AppState,
    ctx: &Ctx,
    subscription: &str,
    resource_group: Option<&str>,
) -> Result<Response> {
    let version = ctx.api_version()?;
    require_subscription(state, subscription, READ_STATES).await?;
    let mut selector = format!("{LABEL_SUBSCRIPTION}={subscription}");
    if let Some(rg) = resource_group {
        selector.push_str(&format!(
            ",{LABEL_RESOURCE_GROUP_HASH}={}",
            naming::short_hash(rg)
        ));
    }
    let page_size = ctx
        .query("$top")
        .and_then(|t| t.parse::<u32>().ok())
        .filter(|t| *t > 0)
        .map(|t| t.min(100))
        .unwrap_or(10);
    let mut params = ListParams::default().labels(&selector).limit(page_size);
    if let Some(token) = ctx.query("$skipToken") {
        let token = paging::open(state.config.skip_token_key.expose(), token).ok_or_else(|| {
            Error::arm_target(
                StatusCode::BAD_REQUEST,
                "InvalidParameter",
                "$skipToken",
                "The provided $skipToken is invalid.",
            )
        })?;
        params = params.continue_token(&token);
    }
    let page = management::clusters(&state.client, subscription)
        .list(&params)
        .await?;
    let value: Vec<Value> = enriched_all(state, page.items)
        .await
        .iter()
        .map(|c| render(version, c))
        .collect();
    let next = page.metadata.continue_.filter(|c| !c.is_empty()).map(|c| {
        let mut url = ctx
            .referer
            .parse::<http::Uri>()
            .ok()
            .map(|u| format!("{}{}", ctx.base_url, u.path()))
            .unwrap_or_else(|| format!("{}/{}", ctx.base_url, ctx.segments.join("/")));
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &ctx.query {
            if k != "$skipToken" {
                q.append_pair(k, v);
            }
        }
        q.append_pair(
            "$skipToken",
            &paging::seal(state.config.skip_token_key.expose(), &c),
        );
        url.push('?');
        url.push_str(&q.finish());
        url
    });
    let mut body = json!({ "value": value });
    if let Some(next) = next {
        body["nextLink"] = json!(next);
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// 400 RequestNotAllowed: the provisioning state machine refuses the request.
fn refused(refusal: Refusal) -> Error {
    Error::arm(StatusCode::BAD_REQUEST, Refusal::CODE, refusal.to_string())
}

/// RFC 7396 merge patch, except that `tags` and `identity.userAssignedIdentities` replace.
pub fn merge_patch(target: &mut Value, patch: &Value, path: &str) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let target_map = target.as_object_mut().expect("object");
    for (key, value) in patch_map {
        let child = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        if value.is_null() {
            target_map.remove(key);
        } else if child == "tags" || child == "identity.userAssignedIdentities" {
            target_map.insert(key.clone(), value.clone());
        } else {
            let entry = target_map.entry(key.clone()).or_insert(Value::Null);
            merge_patch(entry, value, &child);
        }
    }
}

fn uniqueness_labels(
    spec: &OpenShiftClusterSpec,
    config: &super::FrontendConfig,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    // Only a managed domain is the RP's to share out: its DNS records live in the RP's zone. A
    // custom domain is served by the customer's DNS; claiming it would let one tenant squat it.
    if let Some(label) = naming::managed_domain_label(
        &spec.cluster_profile.domain,
        &config.location,
        config.parent_domain.as_deref(),
    ) {
        labels.insert(LABEL_DOMAIN_HASH.to_string(), naming::short_hash(&label));
    }
    if !spec.cluster_profile.resource_group_id.is_empty() {
        labels.insert(
            LABEL_CLUSTER_RESOURCE_GROUP_HASH.to_string(),
            naming::short_hash(&spec.cluster_profile.resource_group_id),
        );
    }
    let client = spec
        .service_principal_profile
        .as_ref()
        .map(|sp| sp.client_id.clone())
        .or_else(|| {
            spec.identity
                .as_ref()
                .and_then(|i| i.user_assigned_identities.keys().next().cloned())
        });
    if let Some(client) = client.filter(|c| !c.is_empty()) {
        labels.insert(
            LABEL_CLIENT_ID_HASH.to_string(),
            naming::short_hash(&client),
        );
    }
    labels
}

/// 400 `DuplicateResourceGroup`, `DuplicateClientID` or `DuplicateDomain` when another cluster
/// holds one of the keys in `labels`; else the claims this request made (for
/// [`release_claims`] should the request fail before its cluster uses them).
async fn check_unique(
    state: &AppState,
    key: &ResourceKey,
    spec: &OpenShiftClusterSpec,
    labels: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>> {
    let api: Api<OpenShiftCluster> = Api::all(state.client.clone());
    let holder = naming::cluster_resource_id(&key.subscription, &key.resource_group, &key.name)
        .to_lowercase();
    let mut made = Vec::new();
    for (label, kind, code, target, message) in [
        (
            LABEL_CLUSTER_RESOURCE_GROUP_HASH,
            "clusterresourcegroup",
            "DuplicateResourceGroup",
            "properties.clusterProfile.resourceGroupId",
            "The provided cluster resource group is already used by another cluster.".to_string(),
        ),
        (
            LABEL_CLIENT_ID_HASH,
            "clientid",
            "DuplicateClientID",
            "properties.servicePrincipalProfile.clientId",
            "The provided client ID is already used by another cluster.".to_string(),
        ),
        (
            LABEL_DOMAIN_HASH,
            "domain",
            "DuplicateDomain",
            "properties.clusterProfile.domain",
            format!(
                "The provided domain '{}' is already in use by a cluster.",
                spec.cluster_profile.domain
            ),
        ),
    ] {
        let Some(value) = labels.get(label) else {
            continue;
        };
        let duplicate =
            || Error::arm_target(StatusCode::BAD_REQUEST, code, target, message.clone());
        // The clusters that use it now (the common case, and the answer for clusters created
        // before claims existed) ...
        let others = match api
            .list(&ListParams::default().labels(&format!("{label}={value}")))
            .await
        {
            Ok(others) => others,
            Err(e) => {
                release_claims(state, &made).await;
                return Err(e.into());
            }
        };
        if others.items.iter().any(|c| {
            !(c.namespace().as_deref() == Some(key.namespace.as_str())
                && c.name_any() == key.object_name)
        }) {
            release_claims(state, &made).await;
            return Err(duplicate());
        }
        // ... and the atomic claim, which decides between creates racing with the same key.
        match management::claim_unique_key(&state.client, kind, label, value, &holder).await {
            Ok(management::KeyClaim::Held) => {}
            Ok(management::KeyClaim::Claimed(name, version)) => made.push((name, version)),
            Ok(management::KeyClaim::Refused) => {
                release_claims(state, &made).await;
                return Err(duplicate());
            }
            Err(e) => {
                release_claims(state, &made).await;
                return Err(e);
            }
        }
    }
    Ok(made)
}

/// Give back the unique keys a failed request claimed, so its failure leaves nothing behind.
async fn release_claims(state: &AppState, made: &[(String, String)]) {
    for (name, version) in made {
        management::release_unique_key(&state.client, name, version).await;
    }
}

async fn default_or_enabled_version(state: &AppState, requested: &str) -> Result<String> {
    let versions = management::openshift_versions(&state.client).await?;
    if requested.is_empty() {
        return versions
            .iter()
            .find(|v| v.default && v.enabled)
            .map(|v| v.version.clone())
            .ok_or_else(|| {
                Error::arm(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    "No default OpenShift version is configured.",
                )
            });
    }
    if versions.iter().any(|v| v.enabled && v.version == requested) {
        Ok(requested.to_string())
    } else {
        Err(Error::arm_target(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "properties.clusterProfile.version",
            format!("The requested OpenShift version '{requested}' is invalid."),
        ))
    }
}

fn async_headers(
    ctx: &Ctx,
    key: &ResourceKey,
    op: &str,
    location: &str,
    with_location: bool,
) -> Vec<(header::HeaderName, HeaderValue)> {
    let base = format!(
        "{}/subscriptions/{}/providers/{NAMESPACE}/locations/{location}",
        ctx.base_url, key.subscription
    );
    let api = ctx.query("api-version").unwrap_or_default();
    let mut out = Vec::new();
    // An admin update answers on `/admin/...`; the operation routes are ARM's and refuse an admin
    // certificate, so no polling URL is given: SREs follow the update with the admin GET.
    if api == "admin" {
        return out;
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{base}/operationsStatus/{op}?api-version={api}"))
    {
        out.push((header::HeaderName::from_static("azure-asyncoperation"), v));
    }
    if with_location
        && let Ok(v) =
            HeaderValue::from_str(&format!("{base}/operationResults/{op}?api-version={api}"))
    {
        out.push((header::LOCATION, v));
    }
    out
}

fn with_headers(
    mut response: Response,
    headers: Vec<(header::HeaderName, HeaderValue)>,
) -> Response {
    for (k, v) in headers {
        response.headers_mut().insert(k, v);
    }
    response
}

/// PUT or PATCH a cluster (customer versions), or PATCH with `api-version=admin`.
pub async fn put_or_patch(
    state: &AppState,
    ctx: &Ctx,
    key: &ResourceKey,
    is_patch: bool,
) -> Result<Response> {
    let is_admin = ctx.query("api-version") == Some("admin");
    if is_admin && !is_patch {
        return Err(Error::arm(
            StatusCode::BAD_REQUEST,
            "RequestNotAllowed",
            "Admin API requests can only PATCH an existing cluster.",
        ));
    }
    let version = if is_admin {
        None
    } else {
        Some(ctx.api_version()?)
    };
    require_subscription(state, &key.subscription, &[SubscriptionState::Registered]).await?;
    for _ in 0..5 {
        match try_put_or_patch(state, ctx, key, version, is_patch).await {
            Err(Error::Kube(e)) if is_conflict(&e) => continue,
            other => return other,
        }
    }
    Err(Error::Conflict)
}

async fn try_put_or_patch(
    state: &AppState,
    ctx: &Ctx,
    key: &ResourceKey,
    version: Option<ApiVersion>,
    is_patch: bool,
) -> Result<Response> {
    let api = management::clusters(&state.client, &key.subscription);
    let existing = api.get_opt(&key.object_name).await?;
    if is_patch && existing.is_none() {
        return Err(resource_not_found(key));
    }
    if let Some(c) = &existing {
        management::repair_claim(&state.client, &state.clusters, c, &state.config.rp_version)
            .await?;
        let request = if version.is_none() {
            Request::AdminUpdate
        } else {
            Request::Update
        };
        provisioning::admit(request, Standing::of(c)).map_err(refused)?;
    }
    let is_create = existing.is_none();
    let mut cluster = existing.clone().unwrap_or_else(|| {
        let mut c = OpenShiftCluster::new(&key.object_name, OpenShiftClusterSpec::default());
        c.metadata.namespace = Some(key.namespace.clone());
        c
    });
    // The last write's casing wins.
    cluster.spec.resource_id = key.resource_id.clone();
    cluster.spec.subscription_id = key.subscription.clone();
    cluster.spec.resource_group = key.resource_group.clone();
    cluster.spec.name = key.name.clone();
    let old_spec = existing.as_ref().map(|c| c.spec.clone());

    let (secrets, new_state) = match version {
        None => {
            let update: admin::AdminUpdate = ctx.json()?;
            admin::apply(&update, &mut cluster.spec).map_err(Error::bad_request)?;
            let state = provisioning::admin_update_state(
                cluster.spec.effective_maintenance_task(),
                protocol::effective_state(&cluster),
            );
            (CustomerSecrets::default(), state)
        }
        Some(version) => {
            let f = version.features();
            let doc: external::Cluster = if is_patch {
                let patch = parse_cluster_update(version, &ctx.body)
                    .map_err(|e| invalid_request_content(&e))?;
                let mut current = render_cluster(version, &to_external(&cluster.spec, None, &f));
                merge_patch(&mut current, &patch, "");
                serde_json::from_value(current).map_err(|e| invalid_request_content(&e))?
            } else {
                parse_cluster(version, &ctx.body).map_err(|e| invalid_request_content(&e))?
            };
            let mut doc = doc;
            // A create without a version gets the default one first: rules that depend on the
            // version (VM sizes) judge the version the cluster will run (as ARO-RP's pkg/frontend
            // PUT/PATCH handler).
            let requested_version = doc
                .properties
                .as_ref()
                .and_then(|p| p.cluster_profile.as_ref())
                .and_then(|c| c.version.as_deref())
                .unwrap_or_default();
            if is_create
                && requested_version.is_empty()
                && let Some(profile) = doc
                    .properties
                    .as_mut()
                    .and_then(|p| p.cluster_profile.as_mut())
            {
                profile.version = Some(default_or_enabled_version(state, "").await?);
            }
            let secrets = apply(&doc, &f, &mut cluster.spec);
            if f.system_data
                && let Some(sd) = ctx
                    .headers
                    .get("x-ms-arm-resource-system-data")
                    .and_then(|v| v.to_str().ok())
            {
                match serde_json::from_str::<crds::SystemData>(sd) {
                    Ok(mut new) => {
                        if let Some(old) = &cluster.spec.system_data {
                            new.created_by = new.created_by.or(old.created_by.clone());
                            new.created_by_type =
                                new.created_by_type.or(old.created_by_type.clone());
                            new.created_at = new.created_at.or(old.created_at.clone());
                        }
                        cluster.spec.system_data = Some(new);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "ignoring a malformed x-ms-arm-resource-system-data header")
                    }
                }
            }
            let vctx = ValidationContext {
                features: f,
                resource_id: &key.resource_id,
                subscription_id: &key.subscription,
                resource_group: &key.resource_group,
                resource_name: &key.name,
                location: &state.config.location,
                is_create,
                parent_domain: state.config.parent_domain.as_deref(),
                architecture_version: cluster.spec.architecture_version,
                require_d2s_workers: state.config.require_d2s_workers,
            };
            let mut errors = validate(&doc, &vctx);
            if let Some(old) = &old_spec
                && let Some(e) = immutability::check(old, &cluster.spec, &f)
            {
                errors.push(e);
            }
            if let Some(error) = to_arm_error(errors) {
                return Err(Error::Arm {
                    status: StatusCode::BAD_REQUEST,
                    error,
                });
            }
            if is_create {
                cluster.spec.cluster_profile.version =
                    default_or_enabled_version(state, &cluster.spec.cluster_profile.version)
                        .await?;
                cluster.spec.cluster_profile.resource_group_id = cluster
                    .spec
                    .cluster_profile
                    .resource_group_id
                    .to_lowercase();
            }
            if cluster.spec.platform_workload_identity_profile.is_some() {
                let role_sets = management::role_sets(&state.client).await?;
                workload_identity::check_identities(&cluster.spec, &role_sets)?;
                if let Some(identity) = cluster.spec.identity.as_mut() {
                    workload_identity::record_identity_headers(
                        identity,
                        &ctx.headers,
                        is_create,
                        state.config.mock_msi_headers,
                    )?;
                }
            }
            if is_create {
                super::create_checks::validate_new_cluster(
                    state.config.azure.as_ref(),
                    &key.subscription,
                    &super::create_checks::Demand::of(&cluster.spec, &state.config.location),
                )
                .await?;
            }
            let request = if is_create {
                Request::Create
            } else {
                Request::Update
            };
            (secrets, provisioning::started_state(request))
        }
    };
    cluster.spec.apply_defaults();

    let mut labels = cluster.labels().clone();
    labels.insert(LABEL_SUBSCRIPTION.into(), key.subscription.clone());
    labels.insert(
        LABEL_RESOURCE_GROUP_HASH.into(),
        naming::short_hash(&key.resource_group),
    );
    labels.insert(
        LABEL_RESOURCE_ID_HASH.into(),
        naming::short_hash(&naming::cluster_resource_id(
            &key.subscription,
            &key.resource_group,
            &key.name,
        )),
    );
    labels.remove(LABEL_CLIENT_ID_HASH);
    labels.remove(LABEL_CLUSTER_RESOURCE_GROUP_HASH);
    labels.remove(LABEL_DOMAIN_HASH);
    let unique = uniqueness_labels(&cluster.spec, &state.config);
    let new_claims = check_unique(state, key, &cluster.spec, &unique).await?;
    labels.extend(unique);
    *cluster.labels_mut() = labels;

    // An admin task that only records a maintenance signal runs no work: no operation (nothing
    // would ever end it), no claim; the spec (task cleared, as ARO-RP's frontend does, and any
    // operator flags or version) and then the signal are written as patches.
    let signal = match (version, &existing) {
        (None, Some(read)) => {
            provisioning::maintenance_signal(cluster.spec.effective_maintenance_task())
                .map(|signal| (signal, read))
        }
        _ => None,
    };
    if let Some((signal, read)) = signal {
        cluster.spec.maintenance_task = None;
        let recorded = record_maintenance_signal(&api, read, &cluster, signal).await;
        let stored = match recorded {
            Ok(stored) => stored,
            Err(e) => {
                release_claims(state, &new_claims).await;
                return Err(e);
            }
        };
        state.clusters.wrote(&stored);
        return Ok(json_response(
            StatusCode::OK,
            &admin::render(&without_worker_profiles_status(stored)),
        ));
    }
    let tenant = ctx
        .headers
        .get("x-ms-client-tenant-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let op = management::operation_spec(&cluster, &state.config.location, new_state, tenant);
    let op_id = op.operation_id.clone();
    let recorded = async {
        management::ensure_namespace(&state.client, &key.namespace).await?;
        management::create_operation(&state.client, &key.namespace, op).await
    }
    .await;
    if let Err(e) = recorded {
        release_claims(state, &new_claims).await;
        return Err(e);
    }
    let stored = match management::transition(
        &state.client,
        &state.clusters,
        existing.as_ref(),
        cluster,
        new_state,
        &op_id,
        &state.config.rp_version,
        &[
            (protocol::PULL_SECRET_KEY, secrets.pull_secret.clone()),
            (protocol::CLIENT_SECRET_KEY, secrets.client_secret.clone()),
        ],
    )
    .await
    {
        management::Claim::Won(stored) => *stored,
        management::Claim::Lost(e) => {
            management::discard_operation(&state.client, &key.namespace, &op_id).await;
            release_claims(state, &new_claims).await;
            return Err(e);
        }
        // The record stays: if the claim landed, the transition completes and reports there.
        management::Claim::Unknown(e) => return Err(e),
    };
    let shown = without_worker_profiles_status(stored);
    let body = match version {
        Some(v) => render(v, &shown),
        None => admin::render(&shown),
    };
    let status = if is_create {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let headers = async_headers(ctx, key, &op_id, &state.config.location, false);
    Ok(with_headers(json_response(status, &body), headers))
}

/// Write an admin update that only signals maintenance: the spec as `wanted`, then
/// `status.maintenanceState`, each a guarded patch of what changed since `read`.
async fn record_maintenance_signal(
    api: &Api<OpenShiftCluster>,
    read: &OpenShiftCluster,
    wanted: &OpenShiftCluster,
    signal: MaintenanceState,
) -> Result<OpenShiftCluster> {
    let stored = merge_patch::write(api, read, wanted, merge_patch::Part::Main).await?;
    let mut signalled = stored.clone();
    signalled.status.get_or_insert_default().maintenance_state = Some(signal);
    Ok(merge_patch::write(api, &stored, &signalled, merge_patch::Part::Status).await?)
}

/// The cluster as a PUT or PATCH answers it: as ARO-RP's, without the enriched worker profile
/// data (`workerProfilesStatus`), which GET shows.
fn without_worker_profiles_status(mut cluster: OpenShiftCluster) -> OpenShiftCluster {
    if let Some(status) = cluster.status.as_mut() {
        status.worker_profiles_status.clear();
    }
    cluster
}

/// DELETE a cluster: 202 with polling URLs, 204 when absent.
pub async fn delete(state: &AppState, ctx: &Ctx, key: &ResourceKey) -> Result<Response> {
    ctx.api_version()?;
    require_subscription(state, &key.subscription, READ_STATES).await?;
    for _ in 0..5 {
        let api = management::clusters(&state.client, &key.subscription);
        let Some(cluster) = api.get_opt(&key.object_name).await? else {
            return Ok(StatusCode::NO_CONTENT.into_response());
        };
        management::repair_claim(
            &state.client,
            &state.clusters,
            &cluster,
            &state.config.rp_version,
        )
        .await?;
        provisioning::admit(Request::Delete, Standing::of(&cluster)).map_err(refused)?;
        let deleting = provisioning::started_state(Request::Delete);
        let op = management::operation_spec(&cluster, &state.config.location, deleting, None);
        let op_id = op.operation_id.clone();
        management::create_operation(&state.client, &key.namespace, op).await?;
        let read = cluster.clone();
        match management::transition(
            &state.client,
            &state.clusters,
            Some(&read),
            cluster,
            deleting,
            &op_id,
            &state.config.rp_version,
            &[],
        )
        .await
        {
            management::Claim::Won(_) => {
                let headers = async_headers(ctx, key, &op_id, &state.config.location, true);
                return Ok(with_headers(StatusCode::ACCEPTED.into_response(), headers));
            }
            management::Claim::Lost(Error::Kube(e)) if is_conflict(&e) => {
                management::discard_operation(&state.client, &key.namespace, &op_id).await;
                continue;
            }
            management::Claim::Lost(e) => {
                management::discard_operation(&state.client, &key.namespace, &op_id).await;
                return Err(e);
            }
            // The record stays: if the claim landed, the delete completes and reports there.
            management::Claim::Unknown(e) => return Err(e),
        }
    }
    Err(Error::Conflict)
}

/// POST listCredentials / listAdminCredentials.
pub async fn credentials(
    state: &AppState,
    ctx: &Ctx,
    key: &ResourceKey,
    admin_kubeconfig: bool,
) -> Result<Response> {
    let version = ctx.api_version()?;
    if admin_kubeconfig && !version.features().list_admin_credentials {
        return Err(endpoint_not_in_version(version));
    }
    if !ctx.body.is_empty() {
        ctx.json::<Value>()?;
    }
    require_subscription(state, &key.subscription, &[SubscriptionState::Registered]).await?;
    let cluster = management::clusters(&state.client, &key.subscription)
        .get_opt(&key.object_name)
        .await?
        .ok_or_else(|| resource_not_found(key))?;
    provisioning::credentials_readable(Standing::of(&cluster)).map_err(refused)?;
    let secret_name = cluster
        .status
        .as_ref()
        .and_then(|s| s.credentials_ref.as_ref())
        .map(|r| r.name.clone());
    // The customer gets the user-admin kubeconfig, never the RP's own (ADMIN_KUBECONFIG_KEY).
    let field = if admin_kubeconfig {
        protocol::USER_ADMIN_KUBECONFIG_KEY
    } else {
        protocol::KUBEADMIN_PASSWORD_KEY
    };
    let value = match secret_name {
        Some(name) => {
            management::read_secret_key(&state.client, &key.namespace, &name, field).await?
        }
        None => None,
    };
    let Some(value) = value else {
        return Err(Error::arm(
            StatusCode::BAD_REQUEST,
            "RequestNotAllowed",
            "The cluster's credentials are not available.",
        ));
    };
    let body = if admin_kubeconfig {
        json!({"kubeconfig": base64::engine::general_purpose::STANDARD.encode(value.expose())})
    } else {
        json!({"kubeadminUsername": "kubeadmin", "kubeadminPassword": String::from_utf8_lossy(value.expose())})
    };
    Ok(json_response(StatusCode::OK, &body))
}

async fn get_operation(state: &AppState, sub: &str, id: &str) -> Result<AsyncOperation> {
    let api: Api<AsyncOperation> =
        Api::namespaced(state.client.clone(), &naming::subscription_namespace(sub));
    let op = api
        .get_opt(id)
        .await?
        .filter(|op| op.spec.subscription_id.eq_ignore_ascii_case(sub));
    op.ok_or_else(|| {
        Error::arm(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The entity was not found.",
        )
    })
}

/// The terminal state of an operation, once the cluster shows it too. The controller completes
/// the record before it writes the cluster's own status, and a client that saw the operation end
/// reads the cluster next: until the cluster has left the operation's state, the operation
/// still counts as running.
async fn finished_state(
    state: &AppState,
    sub: &str,
    op: &AsyncOperation,
) -> Result<Option<ProvisioningState>> {
    let Some(finished) = op
        .status
        .as_ref()
        .and_then(|s| s.status)
        .filter(|s| s.is_terminal())
    else {
        return Ok(None);
    };
    let operation_id = op.name_any();
    let cluster_still_busy = read_cluster(state, sub, &op.spec.cluster_name)
        .await?
        .is_some_and(|cluster| {
            cluster
                .status
                .as_ref()
                .and_then(|s| s.async_operation_id.as_deref())
                == Some(operation_id.as_str())
                && !protocol::effective_state(&cluster).is_terminal()
        });
    Ok((!cluster_still_busy).then_some(finished))
}

/// GET operationsstatus/{id}.
pub async fn operation_status(
    state: &AppState,
    ctx: &Ctx,
    sub: &str,
    id: &str,
) -> Result<Response> {
    ctx.api_version()?;
    let op = get_operation(state, sub, id).await?;
    let finished = finished_state(state, sub, &op).await?;
    let path = format!("/{}", ctx.segments.join("/"));
    let mut body = json!({
        "id": path,
        "name": id,
        "status": finished.unwrap_or(op.spec.initial_status).as_str(),
        "startTime": op.spec.start_time,
    });
    if let Some(s) = &op.status {
        if finished.is_some() {
            if let Some(end) = &s.end_time {
                body["endTime"] = json!(end);
            }
            if let Some(error) = &s.error {
                body["error"] = serde_json::to_value(error)?;
            }
            body["percentComplete"] = json!(100);
        } else if let Some(p) = s.percent_complete {
            body["percentComplete"] = json!(p.clamp(0, 100));
        }
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// GET operationresults/{id}.
pub async fn operation_result(
    state: &AppState,
    ctx: &Ctx,
    sub: &str,
    id: &str,
) -> Result<Response> {
    let version = ctx.api_version()?;
    let op = get_operation(state, sub, id).await?;
    let finished = finished_state(state, sub, &op).await?;
    if finished.is_none() {
        let mut response = StatusCode::ACCEPTED.into_response();
        let location = format!(
            "{}{}",
            ctx.base_url,
            ctx.referer
                .parse::<http::Uri>()
                .ok()
                .and_then(|u| u.path_and_query().map(|p| p.to_string()))
                .unwrap_or_default()
        );
        if let Ok(v) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, v);
        }
        return Ok(response);
    }
    let status = op.status.clone().unwrap_or_default();
    if status.resource_deleted {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if finished == Some(ProvisioningState::Failed)
        && let Some(error) = status.error
    {
        return Ok(error_response(&Error::Arm {
            status: StatusCode::BAD_REQUEST,
            error,
        }));
    }
    match read_cluster(state, sub, &op.spec.cluster_name).await? {
        Some(cluster) => Ok(json_response(StatusCode::OK, &render(version, &cluster))),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_replaces_tags_and_merges_properties() {
        let mut doc = json!({"tags": {"a": "1", "b": "2"}, "properties": {"x": {"y": 1, "z": 2}}});
        merge_patch(
            &mut doc,
            &json!({"tags": {"c": "3"}, "properties": {"x": {"y": null, "w": 4}}}),
            "",
        );
        assert_eq!(
            doc,
            json!({"tags": {"c": "3"}, "properties": {"x": {"z": 2, "w": 4}}})
        );
    }
}
