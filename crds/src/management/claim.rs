//! The frontend's transition claim, shared by rp-frontend (which writes it) and rp-controller
//! (which completes a claim whose writer died).
//!
//! A transition (PUT, PATCH, DELETE, admin update) is committed by one write of the
//! OpenShiftCluster: the spec together with the annotations [`PENDING_OPERATION`] and
//! [`PENDING_STATE`], under a resourceVersion precondition. Its AsyncOperation record exists before
//! that write, and the customer secrets it carries are *staged* in the cluster's customer Secret
//! under keys of the operation ([`staged_secret_key`]) before it too. Whoever completes the claim
//! (the writer itself, the next write request, or the controller) promotes the staged values onto
//! their keys ([`promote_staged_secrets`]), writes the status and removes the annotations; every
//! step is idempotent, so a repaired claim never runs without its secrets, and a racing writer
//! that lost never touches the secrets the winner runs with.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;

/// Annotation: id of the operation that claimed the cluster and whose status write is pending.
pub const PENDING_OPERATION: &str = "rp.aro.openshift.io/pending-operation";
/// Annotation: provisioning state of that operation.
pub const PENDING_STATE: &str = "rp.aro.openshift.io/pending-state";

const STAGED_PREFIX: &str = "pending.";

/// Key of the customer Secret under which operation `op` stages the value of `key`.
pub fn staged_secret_key(op: &str, key: &str) -> String {
    format!("{STAGED_PREFIX}{op}.{key}")
}

/// Move the values operation `op` staged onto their keys; `true` when `data` changed. Values
/// staged by other operations stay (their writers may still be deciding their race).
pub fn promote_staged_secrets(data: &mut BTreeMap<String, ByteString>, op: &str) -> bool {
    let prefix = format!("{STAGED_PREFIX}{op}.");
    let staged: Vec<String> = data
        .keys()
        .filter(|k| k.starts_with(&prefix))
        .cloned()
        .collect();
    for key in &staged {
        if let Some(value) = data.remove(key) {
            data.insert(key[prefix.len()..].to_string(), value);
        }
    }
    !staged.is_empty()
}

/// Drop the values operation `op` staged (its claim lost); `true` when `data` changed.
pub fn unstage_secrets(data: &mut BTreeMap<String, ByteString>, op: &str) -> bool {
    let prefix = format!("{STAGED_PREFIX}{op}.");
    let before = data.len();
    data.retain(|k, _| !k.starts_with(&prefix));
    data.len() != before
}

/// Whether `data` holds anything but staged values.
pub fn has_promoted_values(data: &BTreeMap<String, ByteString>) -> bool {
    data.keys().any(|k| !k.starts_with(STAGED_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect()
    }

    #[test]
    fn promotion_moves_only_the_operations_values_and_is_idempotent() {
        let mut d = data(&[
            ("pullSecret", "old"),
            ("servicePrincipalClientSecret", "keep"),
            (&staged_secret_key("op1", "pullSecret"), "new"),
            (&staged_secret_key("op2", "pullSecret"), "loser"),
        ]);
        assert!(promote_staged_secrets(&mut d, "op1"));
        assert_eq!(
            d,
            data(&[
                ("pullSecret", "new"),
                ("servicePrincipalClientSecret", "keep"),
                (&staged_secret_key("op2", "pullSecret"), "loser"),
            ])
        );
        assert!(!promote_staged_secrets(&mut d, "op1"));
        assert!(unstage_secrets(&mut d, "op2"));
        assert!(!unstage_secrets(&mut d, "op2"));
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn a_secret_of_staged_values_only_has_nothing_promoted() {
        let mut d = data(&[(&staged_secret_key("op", "pullSecret"), "v")]);
        assert!(!has_promoted_values(&d));
        promote_staged_secrets(&mut d, "op");
        assert!(has_promoted_values(&d));
    }
}
