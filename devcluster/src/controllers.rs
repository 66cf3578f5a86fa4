//! The API server's own machinery: CRD establishment (status), CRD cleanup on deletion,
//! namespace deletion, ownerReference garbage collection (background, foreground, orphan), and
//! the ServiceAccount controllers (`auth::ServiceAccountController`).
//! It runs in-process and writes through the same REST layer as clients.

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::auth::ServiceAccountController;
use crate::auth::bootstrap::CLUSTER_ROLES_PREFIX;
use crate::registry::{ResourceType, crd_resource_types};
use crate::rest::{
    CRD_PREFIX, DeleteOptions, FINALIZER_CRD_CLEANUP, FINALIZER_FOREGROUND, FINALIZER_ORPHAN,
    NAMESPACE_FINALIZER, Propagation, Rest,
};
use crate::storage::{Event, EventType, Stored};

const NAMESPACE_PREFIX: &str = "/namespaces/";

/// Run the controllers until `shutdown`.
pub async fn run(
    rest: Arc<Rest>,
    accounts: Arc<ServiceAccountController>,
    shutdown: CancellationToken,
) {
    loop {
        let mut sub = match rest.store.subscribe(None) {
            Ok(s) => s,
            Err(_) => return,
        };
        // A full pass first, then event by event; after falling behind, start over.
        full_pass(&rest, &accounts).await;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                e = sub.recv() => match e {
                    Ok(e) => on_event(&rest, &accounts, &e).await,
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return,
                },
            }
        }
    }
}

async fn full_pass(rest: &Rest, accounts: &ServiceAccountController) {
    let (all, _, _) = rest.store.list("", None, |_| true, None);
    for s in all {
        reconcile_object(rest, &s).await;
        accounts.reconcile(rest, &s).await;
    }
    crate::auth::bootstrap::aggregate(rest).await;
}

async fn on_event(rest: &Rest, accounts: &ServiceAccountController, e: &Event) {
    // The clusterrole-aggregation controller: any ClusterRole change may change what an
    // aggregated one selects.
    if e.object.key.starts_with(CLUSTER_ROLES_PREFIX) {
        crate::auth::bootstrap::aggregate(rest).await;
    }
    match e.kind {
        EventType::Added | EventType::Modified => {
            reconcile_object(rest, &e.object).await;
            accounts.reconcile(rest, &e.object).await;
        }
        EventType::Deleted => {
            accounts.deleted(rest, &e.object).await;
            if e.object.key.starts_with(CRD_PREFIX) {
                rest.registry.set_crd(&e.object.name, Vec::new());
            }
            // Dependents of the deleted object.
            for dep in rest.store.dependents_of(&e.object.uid) {
                collect_dependent(rest, &dep).await;
            }
            // Owners waiting in foreground deletion for this dependent.
            for owner_uid in &e.object.owner_uids {
                if let Some(owner) = rest.store.get_by_uid(owner_uid) {
                    reconcile_object(rest, &owner).await;
                }
            }
            // A namespace waiting for its content.
            if !e.object.namespace.is_empty()
                && let Some(ns) = rest
                    .store
                    .get(&format!("{NAMESPACE_PREFIX}/{}", e.object.namespace))
            {
                reconcile_object(rest, &ns).await;
            }
            // A deleting CRD waiting for its objects. It is no longer in the registry (it stops
            // being served as soon as it is deleted), so look it up among the stored CRDs.
            let (crds, _, _) = rest.store.list(CRD_PREFIX, None, |_| true, None);
            for crd in crds {
                let v = crd.value();
                let prefix = format!(
                    "{}/{}/",
                    v["spec"]["group"].as_str().unwrap_or_default(),
                    v["spec"]["names"]["plural"].as_str().unwrap_or_default()
                );
                if v["metadata"]["deletionTimestamp"].is_string()
                    && e.object.key.starts_with(&prefix)
                {
                    reconcile_object(rest, &crd).await;
                }
            }
        }
    }
}

fn rt_of(rest: &Rest, s: &Stored) -> Option<Arc<ResourceType>> {
    let mut parts = s.key.splitn(3, '/');
    let group = parts.next()?;
    let plural = parts.next()?;
    rest.registry.find_any_version(group, plural)
}

async fn reconcile_object(rest: &Rest, s: &Stored) {
    let Some(rt) = rt_of(rest, s) else { return };
    let obj = s.value();
    let deleting = obj["metadata"]["deletionTimestamp"].is_string();
    if s.key.starts_with(CRD_PREFIX) {
        reconcile_crd(rest, &rt, &obj, deleting).await;
    } else if s.key.starts_with(NAMESPACE_PREFIX) && deleting {
        finish_namespace(rest, &rt, &obj).await;
    }
    if !s.owner_uids.is_empty() {
        collect_dependent(rest, s).await;
    }
    if deleting {
        let fins: Vec<String> = obj["metadata"]["finalizers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if fins.iter().any(|f| f == FINALIZER_ORPHAN) {
            for dep in rest.store.dependents_of(&s.uid) {
                orphan(rest, &dep, &s.uid).await;
            }
            remove_finalizer(rest, &rt, s, FINALIZER_ORPHAN).await;
        } else if fins.iter().any(|f| f == FINALIZER_FOREGROUND) {
            let deps = rest.store.dependents_of(&s.uid);
            if deps.is_empty() {
                remove_finalizer(rest, &rt, s, FINALIZER_FOREGROUND).await;
            } else {
                for dep in deps {
                    if dep.value()["metadata"]["deletionTimestamp"].is_null()
                        && let Some(drt) = rt_of(rest, &dep)
                    {
                        let opts = DeleteOptions {
                            propagation: Some(Propagation::Foreground),
                            ..Default::default()
                        };
                        let _ = rest.delete(&drt, &dep.namespace, &dep.name, &opts).await;
                    }
                }
            }
        }
    }
}

async fn remove_finalizer(rest: &Rest, rt: &ResourceType, s: &Stored, finalizer: &str) {
    let result = rest
        .modify(rt, &s.namespace, &s.name, None, |obj| {
            let Some(fins) = obj["metadata"]["finalizers"].as_array_mut() else {
                return false;
            };
            let before = fins.len();
            fins.retain(|f| f != finalizer);
            before != fins.len()
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(key = %s.key, error = %e, "removing finalizer {finalizer}");
    }
}

async fn orphan(rest: &Rest, dep: &Stored, owner_uid: &str) {
    let Some(rt) = rt_of(rest, dep) else { return };
    let result = rest
        .modify(&rt, &dep.namespace, &dep.name, None, |obj| {
            let Some(refs) = obj["metadata"]["ownerReferences"].as_array_mut() else {
                return false;
            };
            let before = refs.len();
            refs.retain(|r| r["uid"] != owner_uid);
            let changed = before != refs.len();
            if refs.is_empty()
                && let Some(m) = obj["metadata"].as_object_mut()
            {
                m.remove("ownerReferences");
            }
            changed
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(key = %dep.key, error = %e, "orphaning dependent");
    }
}

/// Delete a dependent whose owners are all gone; drop references to missing owners otherwise.
async fn collect_dependent(rest: &Rest, dep: &Stored) {
    let missing: Vec<String> = dep
        .owner_uids
        .iter()
        .filter(|uid| {
            rest.store.get_by_uid(uid).is_none_or(|owner| {
                // An owner in foreground deletion counts as gone for its dependents.
                let v = owner.value();
                v["metadata"]["deletionTimestamp"].is_string()
                    && v["metadata"]["finalizers"]
                        .as_array()
                        .is_some_and(|f| f.iter().any(|x| x == FINALIZER_FOREGROUND))
            })
        })
        .cloned()
        .collect();
    if missing.is_empty() {
        return;
    }
    let Some(rt) = rt_of(rest, dep) else { return };
    if missing.len() == dep.owner_uids.len() {
        let obj = dep.value();
        if obj["metadata"]["deletionTimestamp"].is_string() {
            return;
        }
        let foreground = missing
            .iter()
            .any(|uid| rest.store.get_by_uid(uid).is_some());
        let opts = DeleteOptions {
            propagation: Some(if foreground {
                Propagation::Foreground
            } else {
                Propagation::Background
            }),
            precondition_uid: Some(dep.uid.clone()),
            ..Default::default()
        };
        match rest.delete(&rt, &dep.namespace, &dep.name, &opts).await {
            Ok(_) => tracing::debug!(key = %dep.key, "garbage collected"),
            Err(e) if e.code == 404 || e.code == 409 => {}
            Err(e) => tracing::warn!(key = %dep.key, error = %e, "garbage collection failed"),
        }
    } else {
        let gone: BTreeSet<String> = missing
            .into_iter()
            .filter(|uid| rest.store.get_by_uid(uid).is_none())
            .collect();
        if gone.is_empty() {
            return;
        }
        let _ = rest
            .modify(&rt, &dep.namespace, &dep.name, None, |obj| {
                let Some(refs) = obj["metadata"]["ownerReferences"].as_array_mut() else {
                    return false;
                };
                let before = refs.len();
                refs.retain(|r| !r["uid"].as_str().is_some_and(|u| gone.contains(u)));
                before != refs.len()
            })
            .await;
    }
}

async fn finish_namespace(rest: &Rest, rt: &ResourceType, ns: &Value) {
    let name = ns["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut remaining = 0;
    let types: Vec<Arc<ResourceType>> = {
        let mut seen = BTreeSet::new();
        rest.registry
            .all()
            .into_iter()
            .filter(|r| r.namespaced && seen.insert(r.key_prefix()))
            .collect()
    };
    for t in types {
        let (items, _, _) = rest
            .store
            .list(&t.list_prefix(Some(&name)), None, |_| true, None);
        for item in items {
            remaining += 1;
            if item.value()["metadata"]["deletionTimestamp"].is_null() {
                let opts = DeleteOptions {
                    propagation: Some(Propagation::Background),
                    ..Default::default()
                };
                if let Err(e) = rest.delete(&t, &name, &item.name, &opts).await
                    && e.code != 404
                {
                    tracing::warn!(key = %item.key, error = %e, "namespace cleanup");
                }
            }
        }
    }
    let (left, _, _) = rest.store.list(
        "",
        None,
        |s| s.namespace == name && !s.key.starts_with(NAMESPACE_PREFIX),
        Some(1),
    );
    if remaining > 0 && !left.is_empty() {
        return;
    }
    let has_spec_finalizer = ns["spec"]["finalizers"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x == NAMESPACE_FINALIZER));
    if has_spec_finalizer {
        let result = rest
            .modify(rt, "", &name, Some("finalize"), |obj| {
                if let Some(f) = obj["spec"]["finalizers"].as_array_mut() {
                    f.retain(|x| x != NAMESPACE_FINALIZER);
                }
                true
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(namespace = %name, error = %e, "finalizing namespace");
        }
    }
}

async fn reconcile_crd(rest: &Rest, rt: &ResourceType, crd: &Value, deleting: bool) {
    let name = crd["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if deleting {
        rest.registry.set_crd(&name, Vec::new());
        // Delete every object of the CRD, then release it.
        let group = crd["spec"]["group"].as_str().unwrap_or_default();
        let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or_default();
        let prefix = format!("{group}/{plural}/");
        let (items, _, _) = rest.store.list(&prefix, None, |_| true, None);
        if items.is_empty() {
            if let Some(s) = rest.store.get(&rt.key("", &name)) {
                remove_finalizer(rest, rt, &s, FINALIZER_CRD_CLEANUP).await;
            }
            return;
        }
        let typed: Option<CustomResourceDefinition> = serde_json::from_value(crd.clone()).ok();
        let types = typed.map(|t| crd_resource_types(&t)).unwrap_or_default();
        let Some(item_rt) = types.into_iter().next() else {
            return;
        };
        for item in items {
            if item.value()["metadata"]["deletionTimestamp"].is_null() {
                let opts = DeleteOptions::default();
                let _ = rest
                    .delete(&item_rt, &item.namespace, &item.name, &opts)
                    .await;
            }
        }
        // Objects without finalizers are gone now: release the CRD without waiting for an
        // event about them.
        let (left, _, _) = rest.store.list(&prefix, None, |_| true, Some(1));
        if left.is_empty()
            && let Some(s) = rest.store.get(&rt.key("", &name))
        {
            remove_finalizer(rest, rt, &s, FINALIZER_CRD_CLEANUP).await;
        }
        return;
    }
    rest.register_crd(crd);
    let names = crd["spec"]["names"].clone();
    let stored_versions: Vec<Value> = crd["spec"]["versions"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .filter(|v| v["storage"] == true)
                .map(|v| v["name"].clone())
                .collect()
        })
        .unwrap_or_default();
    let status = &crd["status"];
    let established = status["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
    });
    if established && status["acceptedNames"] == names {
        return;
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let result = rest
        .modify(rt, "", &name, Some("status"), |obj| {
            let mut versions: Vec<Value> = obj["status"]["storedVersions"].as_array().cloned().unwrap_or_default();
            for v in &stored_versions {
                if !versions.contains(v) {
                    versions.push(v.clone());
                }
            }
            obj["status"] = json!({
                "acceptedNames": names,
                "storedVersions": versions,
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
                ],
            });
            true
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(crd = %name, error = %e, "updating CRD status");
    }
}
