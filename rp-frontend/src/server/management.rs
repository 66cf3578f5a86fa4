//! The frontend's access to the management cluster (the Kubernetes cluster that holds the RP's
//! records, as in [`crds::management`]): clusters, their customer Secret, async operation records,
//! subscriptions, unique keys, OpenShift versions and role sets, with the optimistic-concurrency
//! protocol of a state transition.
//!
//! A transition (PUT, PATCH, DELETE, admin update) is claimed atomically with the spec write: the
//! main object gets the claim annotations ([`protocol::set_claim`]) under a resourceVersion
//! precondition, so two racing requests cannot both win. Its operation record and staged secrets
//! are written before the claim; once the claim is written the transition is committed and only
//! completes (promote the secrets, write the status, release the claim: [`complete_claim`]),
//! never rolls back. While the claim's status is unwritten the cluster counts as in the pending
//! state ([`protocol::effective_state`]), so a GET right after a PUT sees the PUT. The protocol:
//! [`crds::management::claim`]; the status a claim writes: [`provisioning::claimed_status`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::Utc;
use crds::management::naming::{
    self, LABEL_CLUSTER_NAME, LABEL_RESOURCE_ID_HASH, LABEL_SUBSCRIPTION,
};
use crds::management::protocol::{self, customer_secret_name};
use crds::management::{
    AsyncOperation, AsyncOperationSpec, ClusterUniqueKey, ClusterUniqueKeySpec, OpenShiftCluster,
    OpenShiftVersion, OpenShiftVersionSpec, PlatformWorkloadIdentityRoleSet,
    PlatformWorkloadIdentityRoleSetSpec, ProvisioningState, Subscription, SubscriptionState,
};
use crds::management::{claim, provisioning};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tokio_util::task::AbortOnDropHandle;

use super::availability;
use crate::error::{Error, Result, is_conflict};
use aro_common::merge_patch;

/// Clusters of a subscription namespace.
pub fn clusters(client: &kube::Client, subscription: &str) -> Api<OpenShiftCluster> {
    Api::namespaced(
        client.clone(),
        &naming::subscription_namespace(subscription),
    )
}

/// Subscriptions as a watch of the management cluster last saw them (see
/// [`availability::watch_store`]), kept by a task that ends with the cache.
pub struct SubscriptionCache {
    store: reflector::Store<Subscription>,
    health: Arc<availability::WatchHealth>,
    _task: AbortOnDropHandle<()>,
}

impl SubscriptionCache {
    /// Start watching the Subscriptions of the management cluster.
    pub fn start(client: kube::Client) -> Self {
        let (store, health, task) =
            availability::watch_store(Api::all(client), watcher::Config::default(), |_| {});
        Self {
            store,
            health,
            _task: task,
        }
    }

    /// The state of a subscription the watch has seen (`None`: not seen, not yet synced, or the
    /// watch broken for more than [`availability::STALE_AFTER`]).
    pub fn state(&self, subscription: &str) -> Option<SubscriptionState> {
        if !self.health.is_usable() {
            return None;
        }
        self.store
            .get(&ObjectRef::new(&subscription.to_lowercase()))
            .map(|s| s.spec.state)
    }

    /// Whether the watch is synced and unbroken.
    pub fn health(&self) -> &Arc<availability::WatchHealth> {
        &self.health
    }
}

/// OpenShiftClusters as a watch of the management cluster last saw them, so a GET costs no
/// round trip to the management cluster.
///
/// Read-your-writes: every cluster write of this frontend raises a watermark to the
/// resourceVersion it produced, and the cache answers only once its watch has delivered an event
/// at or past the watermark (watch events come in resourceVersion order). Until then, and when a
/// resourceVersion is not a number (Kubernetes calls them opaque; etcd's and devcluster's are
/// revision numbers), readers fall back to a direct read.
pub struct ClusterCache {
    store: reflector::Store<OpenShiftCluster>,
    health: Arc<availability::WatchHealth>,
    observed: tokio::sync::watch::Receiver<Option<u64>>,
    written: AtomicU64,
    opaque_versions: AtomicBool,
    _task: AbortOnDropHandle<()>,
}

fn revision_of(cluster: &OpenShiftCluster) -> Option<u64> {
    cluster.metadata.resource_version.as_deref()?.parse().ok()
}

impl ClusterCache {
    /// Start watching every OpenShiftCluster of the management cluster.
    pub fn start(client: kube::Client) -> Self {
        let (observed_tx, observed) = tokio::sync::watch::channel(None);
        let mut tracker = RevisionTracker::default();
        let (store, health, task) = availability::watch_store(
            Api::<OpenShiftCluster>::all(client),
            watcher::Config::default(),
            move |event| {
                if let Some(revision) = tracker.observe(event) {
                    observed_tx.send_replace(Some(revision));
                }
            },
        );
        Self {
            store,
            health,
            observed,
            written: AtomicU64::new(0),
            opaque_versions: AtomicBool::new(false),
            _task: task,
        }
    }

    /// Whether the watch is synced and unbroken.
    pub fn health(&self) -> &Arc<availability::WatchHealth> {
        &self.health
    }

    /// Note a cluster this frontend just wrote (the object the management cluster returned).
    pub fn wrote(&self, cluster: &OpenShiftCluster) {
        match revision_of(cluster) {
            Some(revision) => {
                self.written.fetch_max(revision, Ordering::AcqRel);
            }
            None => self.opaque_versions.store(true, Ordering::Release),
        }
    }

    /// The cluster as cached: `Some(None)` when the cache knows it does not exist, `None` when
    /// the cache cannot answer (not synced yet, behind this frontend's last write, or its watch
    /// broken for more than [`availability::STALE_AFTER`]).
    pub fn get(&self, namespace: &str, name: &str) -> Option<Option<Arc<OpenShiftCluster>>> {
        if self.opaque_versions.load(Ordering::Acquire) || !self.health.is_usable() {
            return None;
        }
        let written = self.written.load(Ordering::Acquire);
        let observed = (*self.observed.borrow())?;
        (observed >= written).then(|| self.store.get(&ObjectRef::new(name).within(namespace)))
    }
}

/// The newest revision a reflector's store reflects, from the events it applied. A relist
/// (`Init` .. `InitDone`) replaces the store only at `InitDone`, so its objects count only then.
#[derive(Default)]
struct RevisionTracker {
    applied: Option<u64>,
    relisting: Option<u64>,
}

impl RevisionTracker {
    /// Account for `event`; returns the revision the store now reflects when it changed.
    fn observe(&mut self, event: &watcher::Event<OpenShiftCluster>) -> Option<u64> {
        use watcher::Event;
        let before = self.applied;
        match event {
            Event::Init => self.relisting = Some(0),
            Event::InitApply(object) => {
                let listed = revision_of(object).unwrap_or(0);
                self.relisting = Some(self.relisting.unwrap_or(0).max(listed));
            }
            Event::InitDone => {
                let listed = self.relisting.take().unwrap_or(0);
                self.applied = Some(self.applied.unwrap_or(0).max(listed));
            }
            Event::Apply(object) | Event::Delete(object) => {
                // Before the first InitDone the store is not ready; count it then.
                let revision = revision_of(object).unwrap_or(0);
                match (&mut self.applied, &mut self.relisting) {
                    (_, Some(pending)) => *pending = (*pending).max(revision),
                    (Some(applied), None) => *applied = (*applied).max(revision),
                    (None, None) => self.relisting = Some(revision),
                }
            }
        }
        (self.applied != before).then_some(self.applied).flatten()
    }
}

/// How long a unique key stays with a claimant that does not (yet) use it: long enough for the
/// claimant's create to finish writing its cluster.
pub const UNIQUE_KEY_GRACE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The answer of [`claim_unique_key`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyClaim {
    /// `holder` held the key already.
    Held,
    /// `holder` has just claimed it (created, or taken over): the claim object's name and
    /// resourceVersion, for [`release_unique_key`] if the request fails before its cluster uses it.
    Claimed(String, String),
    /// Another cluster holds it.
    Refused,
}

/// Claim the unique key `{kind}-{hash}` for the cluster `holder` (its lowercase ARM id): created if
/// absent (atomic: the object name is the key), kept if `holder` has it, taken over if its holder
/// has not used it (no cluster carries `label={hash}`) for [`UNIQUE_KEY_GRACE`].
pub async fn claim_unique_key(
    client: &kube::Client,
    kind: &str,
    label: &str,
    hash: &str,
    holder: &str,
) -> Result<KeyClaim> {
    let api: Api<ClusterUniqueKey> = Api::all(client.clone());
    let name = format!("{kind}-{hash}");
    // The holder in the spec and in the label the controller releases claims by.
    let hold = |claim: &mut ClusterUniqueKey, spec: ClusterUniqueKeySpec| {
        claim.spec = spec;
        claim.labels_mut().insert(
            LABEL_RESOURCE_ID_HASH.to_string(),
            naming::short_hash(holder),
        );
    };
    for _ in 0..5 {
        let now = Utc::now();
        let spec = ClusterUniqueKeySpec {
            kind: kind.to_string(),
            cluster_resource_id: holder.to_string(),
            claimed_at: now.to_rfc3339(),
        };
        let Some(mut existing) = api.get_opt(&name).await? else {
            let mut claim = ClusterUniqueKey::new(&name, ClusterUniqueKeySpec::default());
            hold(&mut claim, spec);
            match api.create(&PostParams::default(), &claim).await {
                Ok(created) => {
                    return Ok(KeyClaim::Claimed(
                        name,
                        created.resource_version().unwrap_or_default(),
                    ));
                }
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if existing.spec.cluster_resource_id == holder {
            return Ok(KeyClaim::Held);
        }
        let recent = chrono::DateTime::parse_from_rfc3339(&existing.spec.claimed_at)
            .is_ok_and(|t| now.signed_duration_since(t) < UNIQUE_KEY_GRACE);
        if recent {
            return Ok(KeyClaim::Refused);
        }
        let clusters: Api<OpenShiftCluster> = Api::all(client.clone());
        let users = clusters
            .list(&ListParams::default().labels(&format!("{label}={hash}")))
            .await?;
        if users
            .items
            .iter()
            .any(|c| c.spec.resource_id.to_lowercase() != holder)
        {
            return Ok(KeyClaim::Refused);
        }
        let read = existing.clone();
        hold(&mut existing, spec);
        match merge_patch::write(&api, &read, &existing, merge_patch::Part::Main).await {
            Ok(taken) => {
                return Ok(KeyClaim::Claimed(
                    name,
                    taken.resource_version().unwrap_or_default(),
                ));
            }
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict)
}

/// Delete a claim this request made (see [`KeyClaim::Claimed`]) when the request fails before
/// its cluster uses the key; a claim changed since is left alone. Best effort: a claim left
/// behind is taken over once stale and unused.
pub async fn release_unique_key(client: &kube::Client, name: &str, resource_version: &str) {
    let api: Api<ClusterUniqueKey> = Api::all(client.clone());
    let params = kube::api::DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            resource_version: Some(resource_version.to_string()),
            uid: None,
        }),
        ..Default::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
        Err(error) => tracing::warn!(%error, name, "could not release a unique key claim"),
    }
}

/// Every OpenShift version the RP knows (enabled or not).
pub async fn openshift_versions(client: &kube::Client) -> Result<Vec<OpenShiftVersionSpec>> {
    let api: Api<OpenShiftVersion> = Api::all(client.clone());
    let list = api.list(&ListParams::default()).await?;
    Ok(list.items.into_iter().map(|v| v.spec).collect())
}

/// Every platform workload identity role set, by OpenShift minor version.
pub async fn role_sets(client: &kube::Client) -> Result<Vec<PlatformWorkloadIdentityRoleSetSpec>> {
    let api: Api<PlatformWorkloadIdentityRoleSet> = Api::all(client.clone());
    let list = api.list(&ListParams::default()).await?;
    let mut sets: Vec<_> = list.items.into_iter().map(|s| s.spec).collect();
    sets.sort_by(|a, b| a.open_shift_version.cmp(&b.open_shift_version));
    Ok(sets)
}

/// The subscription's state, if ARM registered it.
pub async fn subscription_state(
    client: &kube::Client,
    subscription: &str,
) -> Result<Option<SubscriptionState>> {
    let api: Api<Subscription> = Api::all(client.clone());
    Ok(api
        .get_opt(&subscription.to_lowercase())
        .await?
        .map(|s| s.spec.state))
}

fn owner(cluster: &OpenShiftCluster) -> Option<OwnerReference> {
    cluster.controller_owner_ref(&())
}

/// How long a write to a subscription namespace's Secrets waits for the frontend's access there:
/// rp-controller binds it when the subscription is registered (rp-controller/src/subscriptions.rs),
/// normally well before the first cluster PUT; this covers a PUT right behind the registration.
const SUBSCRIPTION_ACCESS_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Run `attempt` until it does not fail with 403 Forbidden or [`SUBSCRIPTION_ACCESS_WAIT`] ran out
/// (then its last error stands).
async fn with_subscription_access<T, F, Fut>(namespace: &str, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let deadline = tokio::time::Instant::now() + SUBSCRIPTION_ACCESS_WAIT;
    let mut pause = std::time::Duration::from_millis(50);
    loop {
        match attempt().await {
            Err(Error::Kube(kube::Error::Api(status)))
                if status.code == 403 && tokio::time::Instant::now() + pause < deadline =>
            {
                tracing::info!(
                    namespace,
                    "no access to the subscription namespace's Secrets yet; waiting for rp-controller to grant it"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

/// Stage the secrets a transition carries in the cluster's customer Secret under keys of its
/// operation (see [`crds::management::claim`]), before the claim: whoever completes the claim
/// promotes them, so a repaired claim never runs without them, and a writer that loses its race
/// never touches the values the winner runs with. Merge patches of keys of its own, so racing
/// writers do not conflict. A new cluster's Secret gets its owner at promotion (the cluster has
/// no uid before its claim).
async fn stage_customer_secrets(
    client: &kube::Client,
    cluster: &OpenShiftCluster,
    operation_id: &str,
    values: &[(&str, Option<aro_common::Secret>)],
) -> Result<()> {
    let staged: BTreeMap<String, ByteString> = values
        .iter()
        .filter_map(|(key, value)| {
            let value = value.as_ref()?;
            Some((
                claim::staged_secret_key(operation_id, key),
                ByteString(value.expose().clone().into_bytes()),
            ))
        })
        .collect();
    if staged.is_empty() {
        return Ok(());
    }
    let ns = cluster.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let name = customer_secret_name(&cluster.name_any());
    let patch = serde_json::json!({ "data": staged });
    for _ in 0..3 {
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                owner_references: owner(cluster).map(|o| vec![o]),
                labels: Some(cluster.labels().clone()),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: Some(staged.clone()),
            ..Default::default()
        };
        match api.create(&PostParams::default(), &secret).await {
            Ok(_) => return Ok(()),
            // Created meanwhile by a racing writer: patch it.
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict)
}

/// Drop what a transition that did not claim the cluster staged (best effort: staged values are
/// never promoted without their claim). A Secret left with nothing and no owner (a create that
/// lost) is deleted.
async fn unstage_customer_secrets(
    client: &kube::Client,
    cluster: &OpenShiftCluster,
    operation_id: &str,
) {
    let ns = cluster.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let name = customer_secret_name(&cluster.name_any());
    let result: std::result::Result<(), kube::Error> = async {
        let Some(secret) = api.get_opt(&name).await? else {
            return Ok(());
        };
        let Some(patch) = claim::unstage_patch(
            secret.data.as_ref().unwrap_or(&BTreeMap::new()),
            operation_id,
        ) else {
            return Ok(());
        };
        let left = api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        if left.data.as_ref().is_none_or(|d| d.is_empty()) && left.owner_references().is_empty() {
            let params = kube::api::DeleteParams {
                preconditions: Some(kube::api::Preconditions {
                    resource_version: left.resource_version(),
                    uid: left.uid(),
                }),
                ..Default::default()
            };
            match api.delete(&name, &params).await {
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, name, "could not drop the secrets of a transition that lost");
    }
}

/// Read one key of a Secret in the subscription namespace.
pub async fn read_secret_key(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<Option<aro_common::Secret<Vec<u8>>>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    Ok(api
        .get_opt(name)
        .await?
        .and_then(|s| s.data)
        .and_then(|d| d.get(key).map(|v| aro_common::Secret::new(v.0.clone()))))
}

/// Create an async operation record.
pub async fn create_operation(
    client: &kube::Client,
    namespace: &str,
    spec: AsyncOperationSpec,
) -> Result<AsyncOperation> {
    let api: Api<AsyncOperation> = Api::namespaced(client.clone(), namespace);
    let mut op = AsyncOperation::new(&spec.operation_id.clone(), spec);
    op.metadata.namespace = Some(namespace.to_string());
    op.metadata.labels = Some(BTreeMap::from([
        (LABEL_CLUSTER_NAME.to_string(), op.spec.cluster_name.clone()),
        (
            LABEL_SUBSCRIPTION.to_string(),
            op.spec.subscription_id.clone(),
        ),
    ]));
    Ok(api.create(&PostParams::default(), &op).await?)
}

/// Delete an operation record that lost its race (best effort).
pub async fn discard_operation(client: &kube::Client, namespace: &str, id: &str) {
    let api: Api<AsyncOperation> = Api::namespaced(client.clone(), namespace);
    if let Err(error) = api.delete(id, &Default::default()).await {
        tracing::warn!(%error, id, "could not discard an unused operation record");
    }
}

/// A new operation record's spec.
pub fn operation_spec(
    cluster: &OpenShiftCluster,
    location: &str,
    state: ProvisioningState,
    tenant: Option<String>,
) -> AsyncOperationSpec {
    AsyncOperationSpec {
        operation_id: uuid::Uuid::new_v4().to_string(),
        resource_id: cluster.spec.resource_id.clone(),
        cluster_name: cluster.name_any(),
        subscription_id: cluster.spec.subscription_id.clone(),
        location: location.to_string(),
        initial_status: state,
        start_time: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        tenant_id: tenant,
    }
}

/// How a transition's claim write ended.
#[derive(Debug)]
pub enum Claim {
    /// The claim is written: the transition is committed. The object as completed (status
    /// written, claim released), or as claimed when completing failed: then a repair (the next
    /// write request, or the controller after its grace period) completes it.
    Won(Box<OpenShiftCluster>),
    /// The claim was not written: nothing of the transition remains but its operation record,
    /// which the caller deletes. `Kube(409)`: another writer won the race.
    Lost(Error),
    /// The claim write failed and reading the cluster back failed too, so whether it landed is
    /// unknown: the operation record and staged secrets must stay, as a claim that landed
    /// completes with them.
    Unknown(Error),
}

/// Tries of each completion write (status, claim release) against transport errors and
/// conflicts before a repair is left to finish.
const COMPLETION_TRIES: usize = 10;

/// Claim and write a transition. `cluster` is the desired object, `read` the object it was made
/// from (`None`: a create). An update is a merge patch of the fields that differ, under `read`'s
/// resourceVersion (the precondition), so fields this version does not know stay
/// (docs/decisions/0002). The operation record must exist already: once the claim is written, the
/// transition completes (here or by a repair) and that record reports it.
#[allow(clippy::too_many_arguments)]
pub async fn transition(
    client: &kube::Client,
    cache: &ClusterCache,
    read: Option<&OpenShiftCluster>,
    mut cluster: OpenShiftCluster,
    state: ProvisioningState,
    operation_id: &str,
    rp_version: &str,
    secrets: &[(&str, Option<aro_common::Secret>)],
) -> Claim {
    let ns = cluster.namespace().unwrap_or_default();
    let api: Api<OpenShiftCluster> = Api::namespaced(client.clone(), &ns);
    let name = cluster.name_any();
    let staged = with_subscription_access(&ns, || {
        stage_customer_secrets(client, &cluster, operation_id, secrets)
    })
    .await;
    if let Err(error) = staged {
        unstage_customer_secrets(client, &cluster, operation_id).await;
        return Claim::Lost(error);
    }
    protocol::set_claim(&mut cluster, operation_id, state);
    let written = match read {
        None => api.create(&PostParams::default(), &cluster).await,
        Some(read) => merge_patch::write(&api, read, &cluster, merge_patch::Part::Main).await,
    };
    let claimed = match written {
        Ok(claimed) => claimed,
        // Refused by the API server: nothing was written.
        Err(kube::Error::Api(e)) if (400..500).contains(&e.code) => {
            unstage_customer_secrets(client, &cluster, operation_id).await;
            return Claim::Lost(kube::Error::Api(e).into());
        }
        // A transport or server error: the write may have landed; the cluster says.
        Err(error) => match read_back(&api, &name, operation_id).await {
            Ok(Some(claimed)) => claimed,
            Ok(None) => {
                unstage_customer_secrets(client, &cluster, operation_id).await;
                return Claim::Lost(error.into());
            }
            Err(read_error) => {
                tracing::warn!(%error, %read_error, name, operation_id, "a claim write failed and its outcome is unknown");
                return Claim::Unknown(error.into());
            }
        },
    };
    cache.wrote(&claimed);
    match complete_claim(client, cache, &claimed, rp_version).await {
        Ok(completed) => Claim::Won(Box::new(completed)),
        Err(error) => {
            tracing::warn!(%error, name, operation_id, "a claimed transition is left for repair");
            Claim::Won(Box::new(claimed))
        }
    }
}

/// The cluster if it carries the claim of `operation_id` (or its completion); `None` if it does
/// not; an error if it cannot be read.
async fn read_back(
    api: &Api<OpenShiftCluster>,
    name: &str,
    operation_id: &str,
) -> std::result::Result<Option<OpenShiftCluster>, kube::Error> {
    let mut last = None;
    for attempt in 0..3u64 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
        }
        match api.get_opt(name).await {
            Ok(cluster) => {
                return Ok(cluster.filter(|c| {
                    protocol::pending_operation(c) == Some(operation_id)
                        || c.status
                            .as_ref()
                            .and_then(|s| s.async_operation_id.as_deref())
                            == Some(operation_id)
                }));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("at least one read"))
}

/// Complete a claimed transition, idempotently: promote its staged secrets, write its state into
/// the status, release the claim. Whoever finds a claim may run this (its writer, the next write
/// request; the controller does the same after a grace period). Returns the cluster as left.
pub async fn complete_claim(
    client: &kube::Client,
    cache: &ClusterCache,
    cluster: &OpenShiftCluster,
    rp_version: &str,
) -> Result<OpenShiftCluster> {
    let (Some(op), Some(state)) = (
        protocol::pending_operation(cluster).map(str::to_string),
        protocol::pending_state(cluster),
    ) else {
        return Ok(cluster.clone());
    };
    let ns = cluster.namespace().unwrap_or_default();
    let api: Api<OpenShiftCluster> = Api::namespaced(client.clone(), &ns);
    let name = cluster.name_any();
    // The secrets land before the status names the operation: the controller starts work only
    // then, and its first step reads them.
    claim::promote_staged_secrets(
        client,
        cluster,
        &customer_secret_name(&cluster.name_any()),
        &op,
    )
    .await?;

    let mut stored = cluster.clone();
    let mut tries = 0;
    loop {
        if protocol::pending_operation(&stored) != Some(op.as_str()) {
            // Completed (or rolled on) by someone else.
            return Ok(stored);
        }
        if stored
            .status
            .as_ref()
            .and_then(|s| s.async_operation_id.as_deref())
            == Some(op.as_str())
        {
            break;
        }
        let mut desired = stored.clone();
        desired.status = Some(provisioning::claimed_status(
            &stored.status.clone().unwrap_or_default(),
            state,
            &op,
            Utc::now(),
            rp_version,
        ));
        tries += 1;
        match merge_patch::write(&api, &stored, &desired, merge_patch::Part::Status).await {
            Ok(written) => {
                cache.wrote(&written);
                stored = written;
                break;
            }
            Err(e) if tries >= COMPLETION_TRIES => return Err(e.into()),
            // A conflict (the controller, another repair) or a failed write: read and redo.
            Err(_) => match api.get_opt(&name).await? {
                Some(current) => stored = current,
                None => return Ok(stored),
            },
        }
    }
    release_claim(&api, cache, &stored, &op).await
}

/// Remove the claim annotations if they still name `op` (a JSON patch guarded by a `test` op).
async fn release_claim(
    api: &Api<OpenShiftCluster>,
    cache: &ClusterCache,
    stored: &OpenShiftCluster,
    op: &str,
) -> Result<OpenShiftCluster> {
    let name = stored.name_any();
    let patch: json_patch::Patch = serde_json::from_value(protocol::release_claim_patch(op))?;
    let mut last = None;
    for _ in 0..3 {
        match api
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::<()>::Json(patch.clone()),
            )
            .await
        {
            Ok(released) => {
                cache.wrote(&released);
                return Ok(released);
            }
            // The test op failed: released already.
            Err(kube::Error::Api(e)) if (400..500).contains(&e.code) => return Ok(stored.clone()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("at least one try").into())
}

/// Finish a transition whose writer did not (it died, or its completion writes failed): see
/// [`complete_claim`].
pub async fn repair_claim(
    client: &kube::Client,
    cache: &ClusterCache,
    cluster: &OpenShiftCluster,
    rp_version: &str,
) -> Result<()> {
    complete_claim(client, cache, cluster, rp_version)
        .await
        .map(|_| ())
}

/// Create the subscription namespace if it does not exist yet.
pub async fn ensure_namespace(client: &kube::Client, namespace: &str) -> Result<()> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: Api<Namespace> = Api::all(client.clone());
    if api.get_opt(namespace).await?.is_some() {
        return Ok(());
    }
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(namespace.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(()),
        Err(e) if is_conflict(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::management::OpenShiftClusterSpec;
    use kube::runtime::watcher::Event;

    fn at(revision: &str) -> OpenShiftCluster {
        let mut cluster = OpenShiftCluster::new("c", OpenShiftClusterSpec::default());
        cluster.metadata.resource_version = Some(revision.into());
        cluster
    }

    #[test]
    fn revisions_count_once_the_store_holds_them() {
        let mut tracker = RevisionTracker::default();
        assert_eq!(tracker.observe(&Event::Init), None);
        assert_eq!(tracker.observe(&Event::InitApply(at("7"))), None);
        assert_eq!(tracker.observe(&Event::InitApply(at("5"))), None);
        // The listed objects reach the store at InitDone.
        assert_eq!(tracker.observe(&Event::InitDone), Some(7));
        assert_eq!(tracker.observe(&Event::Apply(at("9"))), Some(9));
        assert_eq!(tracker.observe(&Event::Delete(at("12"))), Some(12));
        // A relist: nothing counts until its InitDone, and the revision never goes back.
        assert_eq!(tracker.observe(&Event::Init), None);
        assert_eq!(tracker.observe(&Event::InitApply(at("15"))), None);
        assert_eq!(tracker.observe(&Event::InitDone), Some(15));
        assert_eq!(tracker.observe(&Event::Init), None);
        assert_eq!(tracker.observe(&Event::InitApply(at("3"))), None);
        assert_eq!(tracker.observe(&Event::InitDone), None);
    }

    #[test]
    fn opaque_resource_versions_have_no_revision() {
        assert_eq!(revision_of(&at("42")), Some(42));
        assert_eq!(revision_of(&at("abc")), None);
    }
}
