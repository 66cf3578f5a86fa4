//! Management-cluster access: clusters, their customer Secret, async operation records and
//! subscriptions, with the optimistic-concurrency protocol of a state transition.
//!
//! A transition (PUT, PATCH, DELETE, admin update) is claimed atomically with the spec write: the
//! main object gets the annotations `pending-operation`/`pending-state` under a resourceVersion
//! precondition, so two racing requests cannot both win. The status write (provisioningState,
//! asyncOperationId) follows, then the annotations are removed. While the annotations exist the
//! cluster counts as in the pending state, so a GET right after a PUT sees the PUT.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::Utc;
use crds::management::naming::{
    self, LABEL_CLUSTER_NAME, LABEL_RESOURCE_ID_HASH, LABEL_SUBSCRIPTION,
};
use crds::management::{
    AsyncOperation, AsyncOperationSpec, ClusterUniqueKey, ClusterUniqueKeySpec, OpenShiftCluster,
    OpenShiftVersion, OpenShiftVersionSpec, PlatformWorkloadIdentityRoleSet,
    PlatformWorkloadIdentityRoleSetSpec, ProvisioningState, Subscription, SubscriptionState,
};
use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, ObjectRef, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use tokio_util::task::AbortOnDropHandle;

use crate::error::{Error, Result, is_conflict};

/// Annotation: id of the operation that claimed the cluster and whose status write is pending.
pub const PENDING_OPERATION: &str = "rp.aro.openshift.io/pending-operation";
/// Annotation: provisioning state of that operation.
pub const PENDING_STATE: &str = "rp.aro.openshift.io/pending-state";
/// Key of the pull secret in the customer Secret.
pub const PULL_SECRET_KEY: &str = "pullSecret";
/// Key of the service principal secret in the customer Secret.
pub const CLIENT_SECRET_KEY: &str = "servicePrincipalClientSecret";

/// Parse a provisioning state name.
pub fn parse_state(value: &str) -> Option<ProvisioningState> {
    use ProvisioningState::*;
    [
        Creating,
        Updating,
        AdminUpdating,
        Deleting,
        Succeeded,
        Failed,
        Canceled,
    ]
    .into_iter()
    .find(|s| s.as_str() == value)
}

/// The provisioning state a cluster is in, counting a claimed-but-unwritten transition.
pub fn effective_state(cluster: &OpenShiftCluster) -> ProvisioningState {
    if let Some(state) = cluster
        .annotations()
        .get(PENDING_STATE)
        .and_then(|s| parse_state(s))
    {
        return state;
    }
    cluster
        .status
        .as_ref()
        .and_then(|s| s.provisioning_state)
        .unwrap_or(ProvisioningState::Succeeded)
}

/// Clusters of a subscription namespace.
pub fn clusters(client: &kube::Client, subscription: &str) -> Api<OpenShiftCluster> {
    Api::namespaced(
        client.clone(),
        &naming::subscription_namespace(subscription),
    )
}

/// Subscriptions as a watch of the management cluster last saw them (a kube-runtime reflector),
/// kept by a task that ends with the cache.
pub struct SubscriptionCache {
    store: reflector::Store<Subscription>,
    _task: AbortOnDropHandle<()>,
}

impl SubscriptionCache {
    /// Start watching the Subscriptions of the management cluster.
    pub fn start(client: kube::Client) -> Self {
        let (store, writer) = reflector::store();
        let api: Api<Subscription> = Api::all(client);
        let events = reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
        let task = tokio::spawn(async move {
            events.for_each(|_| futures::future::ready(())).await;
        });
        Self {
            store,
            _task: AbortOnDropHandle::new(task),
        }
    }

    /// The state of a subscription the watch has seen (`None`: not seen, or not yet synced).
    pub fn state(&self, subscription: &str) -> Option<SubscriptionState> {
        self.store
            .get(&ObjectRef::new(&subscription.to_lowercase()))
            .map(|s| s.spec.state)
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
        let (store, writer) = reflector::store();
        let (observed_tx, observed) = tokio::sync::watch::channel(None);
        let api: Api<OpenShiftCluster> = Api::all(client);
        let events = reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
        let task = tokio::spawn(async move {
            futures::pin_mut!(events);
            let mut tracker = RevisionTracker::default();
            while let Some(event) = events.next().await {
                // The reflector applied the event to the store before yielding it.
                if let Ok(event) = event
                    && let Some(revision) = tracker.observe(&event)
                {
                    observed_tx.send_replace(Some(revision));
                }
            }
        });
        Self {
            store,
            observed,
            written: AtomicU64::new(0),
            opaque_versions: AtomicBool::new(false),
            _task: AbortOnDropHandle::new(task),
        }
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
    /// the cache cannot answer (not synced yet, or behind this frontend's last write).
    pub fn get(&self, namespace: &str, name: &str) -> Option<Option<Arc<OpenShiftCluster>>> {
        if self.opaque_versions.load(Ordering::Acquire) {
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

/// Claim the unique key `{kind}-{hash}` for the cluster `holder` (its lowercase ARM id): created if
/// absent (atomic: the object name is the key), kept if `holder` has it, taken over if its holder
/// has not used it (no cluster carries `label={hash}`) for [`UNIQUE_KEY_GRACE`]. `false`: another
/// cluster holds it.
pub async fn claim_unique_key(
    client: &kube::Client,
    kind: &str,
    label: &str,
    hash: &str,
    holder: &str,
) -> Result<bool> {
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
                Ok(_) => return Ok(true),
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if existing.spec.cluster_resource_id == holder {
            return Ok(true);
        }
        let recent = chrono::DateTime::parse_from_rfc3339(&existing.spec.claimed_at)
            .is_ok_and(|t| now.signed_duration_since(t) < UNIQUE_KEY_GRACE);
        if recent {
            return Ok(false);
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
            return Ok(false);
        }
        hold(&mut existing, spec);
        match api.replace(&name, &PostParams::default(), &existing).await {
            Ok(_) => return Ok(true),
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict)
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

/// Name of a cluster's customer Secret.
pub fn customer_secret_name(object_name: &str) -> String {
    format!("{object_name}-customer")
}

fn owner(cluster: &OpenShiftCluster) -> Option<OwnerReference> {
    cluster.controller_owner_ref(&())
}

/// Store the given secrets in the cluster's customer Secret, keeping keys not given.
pub async fn store_customer_secrets(
    client: &kube::Client,
    cluster: &OpenShiftCluster,
    values: &[(&str, Option<aro_common::Secret>)],
) -> Result<()> {
    if values.iter().all(|(_, v)| v.is_none()) {
        return Ok(());
    }
    let ns = cluster.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let name = customer_secret_name(&cluster.name_any());
    for _ in 0..5 {
        let existing = api.get_opt(&name).await?;
        let mut secret = existing.clone().unwrap_or_else(|| Secret {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                owner_references: owner(cluster).map(|o| vec![o]),
                labels: Some(cluster.labels().clone()),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            ..Default::default()
        });
        let data = secret.data.get_or_insert_with(BTreeMap::new);
        for (key, value) in values {
            if let Some(value) = value {
                data.insert(
                    key.to_string(),
                    ByteString(value.expose().clone().into_bytes()),
                );
            }
        }
        let result = if existing.is_some() {
            api.replace(&name, &PostParams::default(), &secret).await
        } else {
            api.create(&PostParams::default(), &secret).await
        };
        match result {
            Ok(_) => return Ok(()),
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict)
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

/// Claim and write a transition. `cluster` is the desired object: for an update it carries the
/// resourceVersion it was read at (the precondition); without one it is created. Returns the
/// stored object with its new status, or `Err(Kube(409))` when another writer won the race.
pub async fn transition(
    client: &kube::Client,
    cache: &ClusterCache,
    mut cluster: OpenShiftCluster,
    state: ProvisioningState,
    operation_id: &str,
    rp_version: &str,
    secrets: &[(&str, Option<aro_common::Secret>)],
) -> Result<OpenShiftCluster> {
    let ns = cluster.namespace().unwrap_or_default();
    let api: Api<OpenShiftCluster> = Api::namespaced(client.clone(), &ns);
    let name = cluster.name_any();
    let annotations = cluster.annotations_mut();
    annotations.insert(PENDING_OPERATION.into(), operation_id.into());
    annotations.insert(PENDING_STATE.into(), state.as_str().into());
    let previous_status = cluster.status.clone().unwrap_or_default();
    let is_create = cluster.metadata.resource_version.is_none();
    let mut stored = if is_create {
        api.create(&PostParams::default(), &cluster).await?
    } else {
        api.replace(&name, &PostParams::default(), &cluster).await?
    };
    cache.wrote(&stored);
    // The secrets land before the status names the operation: the controller starts work only
    // then, and its first step reads them.
    store_customer_secrets(client, &stored, secrets).await?;

    // The claim is ours; write the status, retrying conflicts with the controller.
    for _ in 0..10 {
        let mut status = stored
            .status
            .clone()
            .unwrap_or_else(|| previous_status.clone());
        let old_state = status.provisioning_state;
        if let Some(old) = old_state.filter(|s| s.is_terminal()) {
            status.last_provisioning_state = Some(old);
        }
        status.provisioning_state = Some(state);
        status.async_operation_id = Some(operation_id.to_string());
        status.failed_provisioning_state = None;
        if state != ProvisioningState::AdminUpdating {
            status.error = None;
        }
        if is_create {
            status
                .created_at
                .get_or_insert_with(|| Utc::now().to_rfc3339());
            status
                .created_by
                .get_or_insert_with(|| rp_version.to_string());
        }
        stored.status = Some(status);
        match api
            .replace_status(&name, &PostParams::default(), &stored)
            .await
        {
            Ok(written) => {
                cache.wrote(&written);
                stored = written;
                break;
            }
            Err(e) if is_conflict(&e) => {
                stored = api.get(&name).await?;
                if stored
                    .annotations()
                    .get(PENDING_OPERATION)
                    .map(String::as_str)
                    != Some(operation_id)
                {
                    return Err(Error::Conflict);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Release the claim only if it is still ours.
    let patch = serde_json::json!([
        {"op": "test", "path": "/metadata/annotations/rp.aro.openshift.io~1pending-operation", "value": operation_id},
        {"op": "remove", "path": "/metadata/annotations/rp.aro.openshift.io~1pending-operation"},
        {"op": "remove", "path": "/metadata/annotations/rp.aro.openshift.io~1pending-state"},
    ]);
    let patch: json_patch::Patch = serde_json::from_value(patch)?;
    match api
        .patch(&name, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
    {
        Ok(released) => {
            cache.wrote(&released);
            Ok(released)
        }
        Err(error) => {
            tracing::warn!(%error, name, "could not release the operation claim");
            Ok(stored)
        }
    }
}

/// Finish a transition whose status write never happened (the writer died between its two
/// writes): write the pending state into the status and release the claim.
pub async fn repair_claim(
    client: &kube::Client,
    cache: &ClusterCache,
    cluster: &OpenShiftCluster,
    rp_version: &str,
) -> Result<()> {
    let annotations = cluster.annotations();
    let (Some(op), Some(state)) = (
        annotations.get(PENDING_OPERATION),
        annotations.get(PENDING_STATE).and_then(|s| parse_state(s)),
    ) else {
        return Ok(());
    };
    if cluster
        .status
        .as_ref()
        .and_then(|s| s.async_operation_id.as_deref())
        == Some(op.as_str())
    {
        return Ok(());
    }
    transition(client, cache, cluster.clone(), state, op, rp_version, &[])
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
