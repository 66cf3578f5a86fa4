//! The cluster resource group: created managed by the cluster at install (one that exists and is
//! not the cluster's fails the install), deleted at delete only when the cluster manages it.

use aro_common::ResourceId;
use crds::ArmError;
use serde_json::json;

use super::StepEnv;
use crate::azure::{self, RESOURCES_API, StepResult};
use crate::steps::Outcome;

pub(super) async fn ensure_resource_group(env: &mut StepEnv<'_>) -> StepResult<()> {
    let rg_id = env.cluster.spec.cluster_profile.resource_group_id.clone();
    env.names()?;
    let arm = env.arm();
    azure::poll_pending(&arm, env.pending).await?;
    let cluster_id = env.cluster.spec.resource_id.clone();
    if let Some(existing) = azure::get(&arm, &rg_id, RESOURCES_API).await? {
        let managed_by = existing["managedBy"].as_str().unwrap_or_default();
        if !managed_by.eq_ignore_ascii_case(&cluster_id) {
            return Err(Outcome::Failed(ArmError::new(
                "ClusterResourceGroupAlreadyExists",
                format!("Resource group {rg_id} must not already exist."),
            )));
        }
        return Ok(());
    }
    let body = json!({
        "location": env.cluster.spec.location,
        "managedBy": cluster_id,
        "tags": env.cluster.spec.tags,
    });
    azure::put(&arm, &rg_id, RESOURCES_API, &body)
        .await
        .map(|_| ())
}

pub(super) async fn delete_resource_group(env: &mut StepEnv<'_>) -> StepResult<()> {
    let rg_id = env.cluster.spec.cluster_profile.resource_group_id.clone();
    if ResourceId::parse_resource_group(&rg_id).is_err() {
        return Ok(());
    }
    let arm = env.arm();
    azure::poll_pending(&arm, env.pending).await?;
    let Some(existing) = azure::get(&arm, &rg_id, RESOURCES_API).await? else {
        return Ok(());
    };
    // Only a group this cluster manages is deleted: a foreign group that failed the install stays.
    let managed_by = existing["managedBy"].as_str().unwrap_or_default();
    if !managed_by.eq_ignore_ascii_case(&env.cluster.spec.resource_id) {
        return Ok(());
    }
    azure::ensure_deleted(&arm, &rg_id, RESOURCES_API).await
}

#[cfg(test)]
mod tests {
    use crate::actions::testing::{Harness, cluster, cluster_resource_group_id, installing};
    use crate::steps::{Outcome, StepId};
    use arm_emulator::demo;

    #[tokio::test]
    async fn the_cluster_resource_group_is_created_managed_by_the_cluster_then_deleted() {
        let h = Harness::arm_only().await;
        let cluster = cluster();
        let mut status = installing();
        let outcome = h
            .run(StepId::EnsureResourceGroup, &cluster, &mut status)
            .await;
        assert_eq!(outcome, Outcome::Done);
        let group = h.resource(&cluster_resource_group_id()).unwrap();
        assert_eq!(group["managedBy"], cluster.spec.resource_id.as_str());
        assert_eq!(group["location"], demo::LOCATION);

        // A second run finds it and writes nothing.
        h.emulator.clear_requests();
        let outcome = h
            .run(StepId::EnsureResourceGroup, &cluster, &mut status)
            .await;
        assert_eq!((outcome, h.writes()), (Outcome::Done, Vec::new()));

        let outcome = h
            .run(StepId::DeleteResourceGroup, &cluster, &mut status)
            .await;
        assert_eq!(outcome, Outcome::Done);
        assert!(h.resource(&cluster_resource_group_id()).is_none());
        // Gone already: done without a write.
        h.emulator.clear_requests();
        let outcome = h
            .run(StepId::DeleteResourceGroup, &cluster, &mut status)
            .await;
        assert_eq!((outcome, h.writes()), (Outcome::Done, Vec::new()));
    }

    #[tokio::test]
    async fn a_group_the_cluster_does_not_manage_fails_the_install_and_survives_the_delete() {
        let h = Harness::arm_only().await;
        let mut cluster = cluster();
        // The customer's own group (the demo seed's, managed by nobody).
        cluster.spec.cluster_profile.resource_group_id = demo::resource_group_id();
        let mut status = installing();
        let Outcome::Failed(e) = h
            .run(StepId::EnsureResourceGroup, &cluster, &mut status)
            .await
        else {
            panic!("a foreign group fails the step");
        };
        assert_eq!(e.code, "ClusterResourceGroupAlreadyExists");
        let outcome = h
            .run(StepId::DeleteResourceGroup, &cluster, &mut status)
            .await;
        assert_eq!((outcome, h.writes()), (Outcome::Done, Vec::new()));
        assert!(h.resource(&demo::resource_group_id()).is_some());
    }

    #[tokio::test]
    async fn an_invalid_group_id_fails_the_install_and_is_skipped_by_the_delete() {
        let h = Harness::arm_only().await;
        let mut cluster = cluster();
        cluster.spec.cluster_profile.resource_group_id = "/subscriptions/s".into();
        let mut status = installing();
        let Outcome::Failed(e) = h
            .run(StepId::EnsureResourceGroup, &cluster, &mut status)
            .await
        else {
            panic!("an invalid id fails the step");
        };
        assert_eq!(
            (e.code.as_str(), e.target.as_deref()),
            (
                "InvalidParameter",
                Some("properties.clusterProfile.resourceGroupId")
            )
        );
        let outcome = h
            .run(StepId::DeleteResourceGroup, &cluster, &mut status)
            .await;
        assert_eq!(outcome, Outcome::Done);
        assert!(h.emulator.requests().is_empty());
    }
}
