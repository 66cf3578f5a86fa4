//! The frontend's transition claim, shared by rp-frontend (which writes it) and rp-controller
//! (which completes a claim whose writer died).
//!
//! A transition (PUT, PATCH, DELETE, admin update) is committed by one write of the
//! OpenShiftCluster: the spec together with the claim annotations ([`super::protocol::set_claim`]),
//! under a resourceVersion precondition. Its AsyncOperation record exists before that write, and
//! the customer secrets it carries are *staged* in the cluster's customer Secret under keys of the
//! operation ([`staged_secret_key`]) before it too. Whoever completes the claim (the writer itself,
//! the next write request, or the controller) promotes the staged values onto their keys
//! ([`promotion_patch`]), writes the status the operation starts with
//! ([`super::provisioning::claimed_status`]) and removes the annotations
//! ([`super::protocol::release_claim_patch`]); every step is idempotent, so a repaired claim never
//! runs without its secrets, and a racing writer that lost never touches the secrets the winner
//! runs with.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;

/// Promote the customer secrets operation `op` staged in the Secret `secret_name` (in the
/// cluster's namespace) with [`promotion_patch`], and give a new cluster's Secret its owner (the
/// cluster has no uid before its claim). Idempotent: a failed `test` means they were promoted
/// already. The one completion path of the frontend (its own claim) and the controller (a claim
/// whose writer died).
pub async fn promote_staged_secrets(
    client: &kube::Client,
    cluster: &super::OpenShiftCluster,
    secret_name: &str,
    op: &str,
) -> Result<(), kube::Error> {
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Api, Patch, PatchParams};
    use kube::{Resource, ResourceExt};

    let api: Api<Secret> =
        Api::namespaced(client.clone(), &cluster.namespace().unwrap_or_default());
    let Some(secret) = api.get_opt(secret_name).await? else {
        return Ok(());
    };
    if let Some(patch) = promotion_patch(secret.data.as_ref().unwrap_or(&BTreeMap::new()), op) {
        let patch = serde_json::from_value(patch).map_err(kube::Error::SerdeError)?;
        match api
            .patch(
                secret_name,
                &PatchParams::default(),
                &Patch::<()>::Json(patch),
            )
            .await
        {
            Ok(_) => {}
            // A failed test: promoted already.
            Err(kube::Error::Api(e)) if e.code == 422 || e.code == 400 => {}
            Err(e) => return Err(e),
        }
    }
    let owned = secret
        .owner_references()
        .iter()
        .any(|o| Some(&o.uid) == cluster.uid().as_ref());
    if !owned && let Some(owner) = cluster.controller_owner_ref(&()) {
        let patch = serde_json::json!({"metadata": {"ownerReferences": [owner]}});
        api.patch(secret_name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    Ok(())
}

const STAGED_PREFIX: &str = "pending.";

/// Key of the customer Secret under which operation `op` stages the value of `key`.
pub fn staged_secret_key(op: &str, key: &str) -> String {
    format!("{STAGED_PREFIX}{op}.{key}")
}

/// The JSON patch that moves the values operation `op` staged in a Secret's `data` onto their
/// keys, each guarded by a `test` of the staged value: applied once, whoever applies it (no
/// resourceVersion needed, so concurrent repairs do not conflict); a failed test means it was
/// applied already. `None` when `op` staged nothing.
pub fn promotion_patch(data: &BTreeMap<String, ByteString>, op: &str) -> Option<serde_json::Value> {
    let prefix = format!("{STAGED_PREFIX}{op}.");
    let mut ops = Vec::new();
    for (staged, value) in data.iter().filter(|(k, _)| k.starts_with(&prefix)) {
        let value = serde_json::to_value(value).ok()?;
        let key = &staged[prefix.len()..];
        ops.push(
            serde_json::json!({"op": "test", "path": format!("/data/{staged}"), "value": value}),
        );
        ops.push(serde_json::json!({"op": "add", "path": format!("/data/{key}"), "value": value}));
        ops.push(serde_json::json!({"op": "remove", "path": format!("/data/{staged}")}));
    }
    (!ops.is_empty()).then_some(serde_json::Value::Array(ops))
}

/// The JSON merge patch that drops the values operation `op` staged (its claim lost). `None` when
/// it staged nothing.
pub fn unstage_patch(data: &BTreeMap<String, ByteString>, op: &str) -> Option<serde_json::Value> {
    let prefix = format!("{STAGED_PREFIX}{op}.");
    let dropped: serde_json::Map<String, serde_json::Value> = data
        .keys()
        .filter(|k| k.starts_with(&prefix))
        .map(|k| (k.clone(), serde_json::Value::Null))
        .collect();
    (!dropped.is_empty()).then(|| serde_json::json!({"data": dropped}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect()
    }

    #[test]
    fn promotion_moves_only_the_operations_values_under_a_test() {
        let d = data(&[
            ("pullSecret", "old"),
            (&staged_secret_key("op1", "pullSecret"), "new"),
            (&staged_secret_key("op2", "pullSecret"), "loser"),
        ]);
        // "new" in base64.
        assert_eq!(
            promotion_patch(&d, "op1"),
            Some(json!([
                {"op": "test", "path": "/data/pending.op1.pullSecret", "value": "bmV3"},
                {"op": "add", "path": "/data/pullSecret", "value": "bmV3"},
                {"op": "remove", "path": "/data/pending.op1.pullSecret"},
            ]))
        );
        assert_eq!(promotion_patch(&d, "op3"), None);
    }

    #[test]
    fn unstaging_drops_only_the_operations_values() {
        let d = data(&[
            ("pullSecret", "old"),
            (&staged_secret_key("op1", "pullSecret"), "new"),
            (
                &staged_secret_key("op1", "servicePrincipalClientSecret"),
                "s",
            ),
            (&staged_secret_key("op2", "pullSecret"), "other"),
        ]);
        assert_eq!(
            unstage_patch(&d, "op1"),
            Some(json!({"data": {
                "pending.op1.pullSecret": null,
                "pending.op1.servicePrincipalClientSecret": null,
            }}))
        );
        assert_eq!(unstage_patch(&d, "op3"), None);
    }
}
