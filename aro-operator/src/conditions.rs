//! Conditions, status and events on the `Cluster` singleton.
//!
//! Controllers built on ARO-RP's base helper report `<Name>ControllerAvailable`,
//! `<Name>ControllerProgressing` and `<Name>ControllerDegraded`: a successful reconcile clears them
//! (Available=True, Progressing=False, Degraded=False); a failed one sets Degraded=True with the
//! error text and leaves the other two as they were.

use crds::operator::{Cluster, ClusterStatus, OperatorCondition, SINGLETON_NAME};
use kube::api::{Api, PostParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource};

use crate::{Error, Result};

/// Reason of conditions in their healthy state.
pub const REASON_AS_EXPECTED: &str = "AsExpected";
/// Reason of a Degraded=True condition.
pub const REASON_RECONCILE_FAILED: &str = "ReconcileFailed";

fn condition(type_: String, status: &str, reason: &str, message: &str) -> OperatorCondition {
    OperatorCondition {
        type_,
        status: status.to_string(),
        last_transition_time: None,
        reason: reason.to_string(),
        message: message.to_string(),
    }
}

/// The conditions a reconcile of controller `name` (e.g. `PullSecret`) reports, without times.
pub fn controller_conditions(name: &str, outcome: Result<(), &str>) -> Vec<OperatorCondition> {
    match outcome {
        Ok(()) => vec![
            condition(
                format!("{name}ControllerAvailable"),
                "True",
                REASON_AS_EXPECTED,
                "",
            ),
            condition(
                format!("{name}ControllerProgressing"),
                "False",
                REASON_AS_EXPECTED,
                "",
            ),
            condition(
                format!("{name}ControllerDegraded"),
                "False",
                REASON_AS_EXPECTED,
                "",
            ),
        ],
        Err(message) => vec![condition(
            format!("{name}ControllerDegraded"),
            "True",
            REASON_RECONCILE_FAILED,
            message,
        )],
    }
}

/// `existing` with `updates` applied: a condition whose status changes gets `now` as its transition
/// time, one whose status stays keeps its time; conditions not in `updates` are kept as they are.
pub fn merge_conditions(
    existing: &[OperatorCondition],
    updates: &[OperatorCondition],
    now: &str,
) -> Vec<OperatorCondition> {
    let mut merged = existing.to_vec();
    for update in updates {
        match merged.iter_mut().find(|c| c.type_ == update.type_) {
            Some(current) => {
                let transition = if current.status == update.status {
                    current
                        .last_transition_time
                        .clone()
                        .or_else(|| Some(now.to_string()))
                } else {
                    Some(now.to_string())
                };
                *current = OperatorCondition {
                    last_transition_time: transition,
                    ..update.clone()
                };
            }
            None => merged.push(OperatorCondition {
                last_transition_time: Some(now.to_string()),
                ..update.clone()
            }),
        }
    }
    merged
}

/// Current time in the RFC 3339 form conditions use.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The Cluster singleton, or `Error::ClusterMissing`.
pub async fn get_cluster(client: &Client) -> Result<Cluster> {
    Api::<Cluster>::all(client.clone())
        .get_opt(SINGLETON_NAME)
        .await?
        .ok_or_else(|| Error::ClusterMissing(SINGLETON_NAME.to_string()))
}

/// Change the Cluster's status with `mutate`, writing only when it changed; retries on conflicts so
/// controllers updating different conditions at once never lose each other's writes.
pub async fn update_status(client: &Client, mutate: impl Fn(&mut ClusterStatus)) -> Result<bool> {
    let api = Api::<Cluster>::all(client.clone());
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut cluster = get_cluster(client).await?;
        let before = cluster.status.clone().unwrap_or_default();
        let mut status = before.clone();
        mutate(&mut status);
        if status == before {
            return Ok(false);
        }
        cluster.status = Some(status);
        match api
            .replace_status(SINGLETON_NAME, &PostParams::default(), &cluster)
            .await
        {
            Ok(_) => return Ok(true),
            Err(e) => {
                let error = Error::from(e);
                if error.is_conflict() && attempts < 5 {
                    continue;
                }
                return Err(error);
            }
        }
    }
}

/// Record the outcome of a reconcile of controller `name` in the Cluster's conditions.
pub async fn report(client: &Client, name: &str, outcome: Result<(), &str>) -> Result<bool> {
    let updates = controller_conditions(name, outcome);
    let now = now_rfc3339();
    update_status(client, |status| {
        status.conditions = merge_conditions(&status.conditions, &updates, &now);
    })
    .await
}

/// Publish an event on the Cluster object; failures are logged, never fatal.
pub async fn event(
    recorder: &Recorder,
    cluster: &Cluster,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let reference = cluster.object_ref(&());
    let ev = Event {
        type_,
        reason: reason.to_string(),
        note: Some(note),
        action: reason.to_string(),
        secondary: None,
    };
    if let Err(error) = recorder.publish(&ev, &reference).await {
        tracing::warn!(%error, reason, "could not publish event on the Cluster");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_clears_all_three_conditions() {
        let c = controller_conditions("PullSecret", Ok(()));
        let pairs: Vec<_> = c
            .iter()
            .map(|c| (c.type_.as_str(), c.status.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("PullSecretControllerAvailable", "True"),
                ("PullSecretControllerProgressing", "False"),
                ("PullSecretControllerDegraded", "False"),
            ]
        );
    }

    #[test]
    fn failure_sets_only_degraded_with_the_error_text() {
        let c = controller_conditions("MachineSet", Err("boom"));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].type_, "MachineSetControllerDegraded");
        assert_eq!(c[0].status, "True");
        assert_eq!(c[0].message, "boom");
        assert_eq!(c[0].reason, REASON_RECONCILE_FAILED);
    }

    #[test]
    fn merge_keeps_transition_time_while_status_is_unchanged() {
        let first = merge_conditions(&[], &controller_conditions("X", Ok(())), "t1");
        assert!(
            first
                .iter()
                .all(|c| c.last_transition_time.as_deref() == Some("t1"))
        );
        let again = merge_conditions(&first, &controller_conditions("X", Ok(())), "t2");
        assert_eq!(again, first);
        let failed = merge_conditions(&again, &controller_conditions("X", Err("e")), "t3");
        let degraded = failed
            .iter()
            .find(|c| c.type_ == "XControllerDegraded")
            .unwrap();
        assert_eq!(degraded.last_transition_time.as_deref(), Some("t3"));
        assert_eq!(degraded.status, "True");
        let available = failed
            .iter()
            .find(|c| c.type_ == "XControllerAvailable")
            .unwrap();
        assert_eq!(available.last_transition_time.as_deref(), Some("t1"));
    }

    #[test]
    fn merge_keeps_other_controllers_conditions() {
        let other = merge_conditions(&[], &controller_conditions("A", Ok(())), "t1");
        let both = merge_conditions(&other, &controller_conditions("B", Err("e")), "t2");
        assert_eq!(both.len(), 4);
        assert_eq!(&both[..3], &other[..]);
    }
}
