//! What delete removes from the management cluster once the Azure resources are gone: the
//! cluster's Secrets and its unique-key claims.

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams};

use super::{StepEnv, credentials_secret_name, customer_secret_name, kube_outcome};
use crate::azure::StepResult;

pub(super) async fn remove_secrets(env: &mut StepEnv<'_>) -> StepResult<()> {
    let api: Api<Secret> = Api::namespaced(env.ctx.client.clone(), &env.namespace());
    let object = env.cluster.name_any();
    for name in [
        credentials_secret_name(&object),
        customer_secret_name(&object),
    ] {
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(kube_outcome(&e)),
        }
    }
    env.status.credentials_ref = None;
    Ok(())
}

/// Delete: the cluster's unique-key claims (its cluster resource group, client ids and managed
/// domain label), so a new cluster may use them at once. A claim taken over meanwhile is not ours to delete: the delete
/// carries the resourceVersion we listed.
pub(super) async fn release_unique_keys(env: &mut StepEnv<'_>) -> StepResult<()> {
    use crds::management::ClusterUniqueKey;
    use crds::management::naming::{LABEL_RESOURCE_ID_HASH, short_hash};
    use kube::api::{ListParams, Preconditions};
    let api: Api<ClusterUniqueKey> = Api::all(env.ctx.client.clone());
    let holder = env.cluster.spec.resource_id.to_lowercase();
    let selector = format!("{LABEL_RESOURCE_ID_HASH}={}", short_hash(&holder));
    let claims = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| kube_outcome(&e))?;
    for claim in claims
        .items
        .iter()
        .filter(|c| c.spec.cluster_resource_id == holder)
    {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: claim.resource_version(),
                uid: None,
            }),
            ..Default::default()
        };
        match api.delete(&claim.name_any(), &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => return Err(kube_outcome(&e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::{Harness, NAMESPACE, cluster, installing};
    use crate::steps::{Outcome, StepId};
    use crds::SecretReference;
    use crds::management::naming::{LABEL_RESOURCE_ID_HASH, short_hash};
    use crds::management::{ClusterUniqueKey, ClusterUniqueKeySpec};
    use kube::api::{ListParams, ObjectMeta, PostParams};

    #[tokio::test]
    async fn the_clusters_secrets_go_and_a_second_run_finds_them_gone() {
        let h = Harness::with_kube().await;
        h.put_customer_secret(&[("pullSecret", "{}")]).await;
        let api: Api<Secret> = Api::namespaced(h.kube(), NAMESPACE);
        let credentials = Secret {
            metadata: ObjectMeta {
                name: Some(credentials_secret_name("demo")),
                ..Default::default()
            },
            ..Default::default()
        };
        api.create(&PostParams::default(), &credentials)
            .await
            .unwrap();
        let cluster = cluster();
        let mut status = installing();
        status.credentials_ref = Some(SecretReference {
            name: credentials_secret_name("demo"),
        });
        for _ in 0..2 {
            assert_eq!(
                h.run(StepId::RemoveSecrets, &cluster, &mut status).await,
                Outcome::Done
            );
            assert_eq!(status.credentials_ref, None);
            for name in [
                credentials_secret_name("demo"),
                customer_secret_name("demo"),
            ] {
                assert_eq!(h.secret_data(NAMESPACE, &name).await, None, "{name}");
            }
        }
    }

    #[tokio::test]
    async fn only_the_clusters_own_unique_key_claims_are_released() {
        let h = Harness::with_kube().await;
        h.install_crd::<ClusterUniqueKey>().await;
        let api: Api<ClusterUniqueKey> = Api::all(h.kube());
        let cluster = cluster();
        let ours = cluster.spec.resource_id.to_lowercase();
        let theirs = ours.replace("/demo", "/other");
        for (name, holder) in [
            ("ours-rg", &ours),
            ("ours-domain", &ours),
            ("theirs", &theirs),
        ] {
            let mut claim = ClusterUniqueKey::new(
                name,
                ClusterUniqueKeySpec {
                    kind: "domain".into(),
                    cluster_resource_id: holder.clone(),
                    claimed_at: "2026-01-01T00:00:00Z".into(),
                },
            );
            claim.metadata.labels = Some(
                [(LABEL_RESOURCE_ID_HASH.to_string(), short_hash(holder))]
                    .into_iter()
                    .collect(),
            );
            api.create(&PostParams::default(), &claim).await.unwrap();
        }
        assert_eq!(
            h.run(StepId::ReleaseUniqueKeys, &cluster, &mut installing())
                .await,
            Outcome::Done
        );
        let left: Vec<_> = api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .map(|c| c.name_any())
            .collect();
        assert_eq!(left, vec!["theirs"]);
    }
}
