//! How an operation ends: the end rules of the provisioning state machine, which live with its
//! start rules in [`crds::management::provisioning`] (ARO-RP's pkg/backend); re-exported for the
//! lifecycle reconciler.

pub use crds::management::provisioning::{Ending, fail, succeed};

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use crds::ArmError;
    use crds::management::ProvisioningState::{self, *};
    use crds::management::{LifecycleProgress, OpenShiftClusterStatus};
    use pretty_assertions::assert_eq;

    fn running(
        state: ProvisioningState,
        last: Option<ProvisioningState>,
    ) -> OpenShiftClusterStatus {
        OpenShiftClusterStatus {
            provisioning_state: Some(state),
            last_provisioning_state: last,
            async_operation_id: Some("op-1".into()),
            progress: Some(LifecycleProgress {
                operation: "X".into(),
                step: "s".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn error() -> ArmError {
        ArmError::new("InvalidLinkedVNet", "The vnet is gone.")
    }

    /// The steps' classification of a management-cluster error meets the end rules: the customer
    /// sees a generic error, SREs the details.
    #[test]
    fn internal_failures_reach_the_customer_as_a_generic_error_with_details_for_sres() {
        // What a failed management-cluster call gives a step after its last attempt.
        let mut status = kube::core::Status::failure(
            "etcdserver: request timed out on 10.1.2.3:2379",
            "InternalError",
        );
        status.code = 500;
        let outcome = crate::actions::kube_outcome(&kube::Error::Api(status.boxed()));
        let crate::steps::Outcome::Retryable {
            error: internal, ..
        } = outcome
        else {
            panic!("a kube error is retryable: {outcome:?}");
        };
        for state in [Creating, Updating, Deleting] {
            let ending = fail(&running(state, None), internal.clone(), now());
            assert_eq!(ending.status.error, Some(ArmError::internal()));
            assert_eq!(ending.operation.error, Some(ArmError::internal()));
            let detail = ending.status.internal_error.unwrap();
            assert!(detail.contains("etcdserver: request timed out"), "{detail}");
            let shown = serde_json::to_string(&ending.operation).unwrap();
            assert!(!shown.contains("10.1.2.3"), "{shown}");
        }
        // A customer-caused failure stays specific and leaves no internal detail.
        let ending = fail(&running(Creating, None), error(), now());
        assert_eq!(ending.operation.error, Some(error()));
        assert_eq!(ending.status.internal_error, None);
        // A later success clears the detail.
        let mut failed = running(Updating, Some(Failed));
        failed.internal_error = Some("x".into());
        assert_eq!(succeed(&failed, now()).status.internal_error, None);
    }
}
