//! Who a request is and whether it may do what it asks, as kube-apiserver decides it:
//! authentication (the verified client certificate or a bearer token) gives a [`UserInfo`];
//! the request's [`Attributes`] (verb, resource or non-resource path) are what authorization
//! judges; [`AccessLog`] records, per user, what was allowed (tests compare it with the grants).
//!
//! Sits after `rest` (it reads RBAC objects through the store) and before `http` (which calls it
//! on every request).

mod access_log;
mod authn;
pub mod bootstrap;
pub mod escalation;
pub mod impersonation;
pub mod rbac;
pub mod reviews;
pub mod service_accounts;
mod token_controller;
mod token_file;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use access_log::{AccessLog, AccessRecord};
pub use authn::{Authenticator, user_json};
pub use service_accounts::{ServiceAccountTokens, SigningKey};
pub use token_controller::ServiceAccountController;
pub use token_file::StaticTokens;

use crate::error::ApiError;
use crate::storage::Store;
use rbac::{Evaluation, PolicyRule, RbacCache, Snapshot};

/// The group of every superuser: kube-apiserver's authorizer allows its members everything.
pub const SYSTEM_MASTERS: &str = "system:masters";
/// The group kube-apiserver adds to every authenticated user.
pub const SYSTEM_AUTHENTICATED: &str = "system:authenticated";
/// The name of the admin bearer token's user.
pub const ADMIN_USER: &str = "devcluster-admin";

/// An authenticated caller, as kube-apiserver's `user.Info`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// A user named `name` in `groups` (no uid, no extra).
    pub fn new(name: impl Into<String>, groups: Vec<String>) -> Self {
        UserInfo {
            name: name.into(),
            groups,
            ..Default::default()
        }
    }

    /// ServiceAccount `namespace/name` as its tokens authenticate it (without the uid and the
    /// credential's extra): what an in-process component running as that account uses.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        service_accounts::service_account_user(namespace, name, "")
    }

    /// The admin token's user.
    pub fn admin() -> Self {
        Self::new(ADMIN_USER, vec![SYSTEM_MASTERS.into()])
    }

    /// The groups with `system:authenticated`, which kube-apiserver adds to every authenticated
    /// user (once).
    pub fn with_authenticated_group(mut self) -> Self {
        if !self.groups.iter().any(|g| g == SYSTEM_AUTHENTICATED) {
            self.groups.push(SYSTEM_AUTHENTICATED.into());
        }
        self
    }

    pub fn is_superuser(&self) -> bool {
        self.groups.iter().any(|g| g == SYSTEM_MASTERS)
    }
}

/// What a resource request acts on (kube-apiserver's `RequestInfo` of a resource request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceAttributes {
    /// The API group (`""` for the core group).
    pub group: String,
    pub version: String,
    /// The resource's plural name.
    pub resource: String,
    /// `""` unless the request is for a subresource (`status`, `scale`, `token`, ...).
    pub subresource: String,
    /// `""` for cluster-scoped resources and requests across all namespaces.
    pub namespace: String,
    /// `""` for collection requests (list, watch, create, deletecollection).
    pub name: String,
}

/// What a request asks to do: kube-apiserver's authorizer attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// kube's verb: get, list, watch, create, update, patch, delete, deletecollection for
    /// resource requests; the lower-case HTTP method for non-resource requests.
    pub verb: String,
    /// `None` for a non-resource request (discovery, `/metrics`, `/openapi/...`).
    pub resource: Option<ResourceAttributes>,
    /// The request path.
    pub path: String,
}

/// The authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not allowed; `reason` is added to the 403 Status message when not empty.
    Deny {
        reason: String,
    },
}

/// Decides requests as kube-apiserver's authorizer chain does: members of `system:masters` may
/// do anything; everyone else what the RBAC objects of the store grant.
pub struct Authorizer {
    rbac: RbacCache,
}

impl Authorizer {
    pub fn new(store: Arc<Store>) -> Self {
        Authorizer {
            rbac: RbacCache::new(store),
        }
    }

    pub fn authorize(&self, user: &UserInfo, attributes: &Attributes) -> Decision {
        if user.is_superuser() {
            return Decision::Allow;
        }
        let snapshot = self.rbac.snapshot();
        if snapshot.allows(user, attributes) {
            return Decision::Allow;
        }
        Decision::Deny {
            reason: snapshot.evaluate(user, attributes).reason,
        }
    }

    /// The decision with kube's reason (what an access review reports). The `system:masters`
    /// authorizer gives no reason.
    pub fn evaluate(&self, user: &UserInfo, attributes: &Attributes) -> Evaluation {
        if user.is_superuser() {
            return Evaluation {
                allowed: true,
                reason: String::new(),
            };
        }
        self.rbac.snapshot().evaluate(user, attributes)
    }

    /// The rules bound to `user` in `namespace` and the resolution error, if any.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<PolicyRule>, Option<String>) {
        self.rbac.snapshot().rules_for(user, namespace)
    }

    /// The compiled RBAC objects now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.rbac.snapshot()
    }
}

/// Whether a presented bearer token is the expected one, in time independent of where they
/// differ: both are hashed (so lengths and common prefixes do not show) and the digests compared
/// without an early exit. An empty expected token matches nothing.
pub fn token_matches(presented: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    let difference = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(difference) == 0 && !expected.is_empty()
}

/// The 403 Status kube-apiserver sends for a denied request, with its message.
pub fn forbidden(user: &UserInfo, attributes: &Attributes, reason: &str) -> ApiError {
    let suffix = if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    };
    let Some(r) = &attributes.resource else {
        return ApiError::forbidden(format!(
            "forbidden: User \"{}\" cannot {} path \"{}\"{suffix}",
            user.name, attributes.verb, attributes.path
        ));
    };
    let resource = if r.subresource.is_empty() {
        r.resource.clone()
    } else {
        format!("{}/{}", r.resource, r.subresource)
    };
    // kube's NewForbidden names the group-qualified resource, without the subresource.
    let qualified = crate::error::qualified(&r.group, &r.resource);
    let subject = if r.name.is_empty() {
        qualified
    } else {
        format!("{qualified} \"{}\"", r.name)
    };
    let scope = if r.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", r.namespace)
    };
    let mut error = ApiError::forbidden(format!(
        "{subject} is forbidden: User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}{suffix}",
        user.name, attributes.verb, r.group
    ));
    error.name = (!r.name.is_empty()).then(|| r.name.clone());
    error.group = Some(r.group.clone());
    error.kind = Some(r.resource.clone());
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_messages_are_kube_apiservers() {
        let bob = UserInfo::new("bob", vec![]);
        let get = Attributes {
            verb: "get".into(),
            resource: Some(ResourceAttributes {
                resource: "configmaps".into(),
                namespace: "default".into(),
                name: "c".into(),
                version: "v1".into(),
                ..Default::default()
            }),
            path: "/api/v1/namespaces/default/configmaps/c".into(),
        };
        assert_eq!(
            forbidden(&bob, &get, "").message,
            "configmaps \"c\" is forbidden: User \"bob\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"default\""
        );
        let list_nodes = Attributes {
            verb: "list".into(),
            resource: Some(ResourceAttributes {
                resource: "nodes".into(),
                version: "v1".into(),
                ..Default::default()
            }),
            path: "/api/v1/nodes".into(),
        };
        assert_eq!(
            forbidden(&bob, &list_nodes, "").message,
            "nodes is forbidden: User \"bob\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
        );
        let metrics = Attributes {
            verb: "get".into(),
            resource: None,
            path: "/metrics".into(),
        };
        assert_eq!(
            forbidden(&bob, &metrics, "").message,
            "forbidden: User \"bob\" cannot get path \"/metrics\""
        );
        let anonymous = UserInfo::new("system:anonymous", vec!["system:unauthenticated".into()]);
        let scale = Attributes {
            verb: "update".into(),
            resource: Some(ResourceAttributes {
                group: "apps".into(),
                resource: "deployments".into(),
                subresource: "scale".into(),
                namespace: "ns".into(),
                name: "d".into(),
                version: "v1".into(),
            }),
            path: "/apis/apps/v1/namespaces/ns/deployments/d/scale".into(),
        };
        let error = forbidden(&anonymous, &scale, "");
        assert_eq!(
            error.message,
            "deployments.apps \"d\" is forbidden: User \"system:anonymous\" cannot update resource \"deployments/scale\" in API group \"apps\" in the namespace \"ns\""
        );
        assert_eq!(error.kind.as_deref(), Some("deployments"));
        assert_eq!(
            forbidden(
                &bob,
                &list_nodes,
                "RBAC: clusterrole.rbac.authorization.k8s.io \"x\" not found"
            )
            .message,
            "nodes is forbidden: User \"bob\" cannot list resource \"nodes\" in API group \"\" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io \"x\" not found"
        );
    }

    #[test]
    fn bearer_tokens_match_only_exactly() {
        let expected = "dG9rZW4tb2YtdGhlLWFkbWlu";
        assert!(token_matches(expected, expected));
        for wrong in [
            "",
            "d",
            "dG9rZW4tb2YtdGhlLWFkbWl",
            "dG9rZW4tb2YtdGhlLWFkbWlux",
            "xG9rZW4tb2YtdGhlLWFkbWlu",
            "DG9RZW4TB2YTDGHLLWFKBWLU",
        ] {
            assert!(!token_matches(wrong, expected), "{wrong:?}");
        }
        // An unset token authenticates nobody, not even an empty header value.
        assert!(!token_matches("", ""));
    }
}
