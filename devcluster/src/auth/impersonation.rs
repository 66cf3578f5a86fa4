//! Impersonation headers, as kube-apiserver's impersonation filter (apiserver's
//! pkg/endpoints/filters/impersonation.go): `Impersonate-User`, `Impersonate-Group`,
//! `Impersonate-Uid` and `Impersonate-Extra-<key>` make the request run as that user, once the
//! requester is allowed the `impersonate` verb on each (users, groups, serviceaccounts, uids,
//! userextras/<key>).

use std::collections::BTreeMap;

use axum::http::HeaderMap;

use super::rbac::SERVICE_ACCOUNT_PREFIX;
use super::{Attributes, Authorizer, Decision, ResourceAttributes, SYSTEM_AUTHENTICATED, UserInfo};
use crate::error::ApiError;

const USER_HEADER: &str = "impersonate-user";
const GROUP_HEADER: &str = "impersonate-group";
const UID_HEADER: &str = "impersonate-uid";
const EXTRA_HEADER_PREFIX: &str = "impersonate-extra-";
const ANONYMOUS: &str = "system:anonymous";
const UNAUTHENTICATED: &str = "system:unauthenticated";

fn values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

/// What one header asks to act as: the attributes the requester must be allowed.
fn acting_as(resource: &str, group: &str, namespace: &str, name: &str, sub: &str) -> Attributes {
    Attributes {
        verb: "impersonate".into(),
        resource: Some(ResourceAttributes {
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: namespace.into(),
            name: name.into(),
        }),
        path: String::new(),
    }
}

/// The user the request runs as: `requester` without impersonation headers, else the
/// impersonated user once every part of it is allowed (kube's 403 otherwise).
pub fn impersonate(
    authorizer: &Authorizer,
    requester: UserInfo,
    headers: &HeaderMap,
) -> Result<UserInfo, ApiError> {
    let user = values(headers, USER_HEADER)
        .first()
        .copied()
        .unwrap_or_default();
    let groups = values(headers, GROUP_HEADER);
    let uid = values(headers, UID_HEADER)
        .first()
        .copied()
        .unwrap_or_default();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(EXTRA_HEADER_PREFIX)
            && let Ok(value) = value.to_str()
        {
            let key = percent_encoding::percent_decode_str(key)
                .decode_utf8_lossy()
                .into_owned();
            extra.entry(key).or_default().push(value.to_string());
        }
    }
    if user.is_empty() {
        if groups.is_empty() && extra.is_empty() && uid.is_empty() {
            return Ok(requester);
        }
        return Err(ApiError::internal(format!(
            "Internal error occurred: requested {} without impersonating a user",
            describe(&groups, &extra, uid)
        )));
    }
    let mut checks = Vec::new();
    let groups_specified = !groups.is_empty();
    let mut impersonated_groups: Vec<String> = Vec::new();
    match user
        .strip_prefix(SERVICE_ACCOUNT_PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains(':'))
    {
        Some((ns, name)) => {
            checks.push(acting_as("serviceaccounts", "", ns, name, ""));
            if !groups_specified {
                impersonated_groups = vec![
                    "system:serviceaccounts".into(),
                    format!("system:serviceaccounts:{ns}"),
                ];
            }
        }
        None => checks.push(acting_as("users", "", "", user, "")),
    }
    for g in &groups {
        checks.push(acting_as("groups", "", "", g, ""));
        impersonated_groups.push(g.to_string());
    }
    for (key, vals) in &extra {
        for v in vals {
            checks.push(acting_as("userextras", "authentication.k8s.io", "", v, key));
        }
    }
    if !uid.is_empty() {
        checks.push(acting_as("uids", "authentication.k8s.io", "", uid, ""));
    }
    for attributes in &checks {
        if let Decision::Deny { reason } = authorizer.authorize(&requester, attributes) {
            return Err(super::forbidden(&requester, attributes, &reason));
        }
    }
    if user != ANONYMOUS {
        if !impersonated_groups
            .iter()
            .any(|g| g == SYSTEM_AUTHENTICATED || g == UNAUTHENTICATED)
        {
            impersonated_groups.push(SYSTEM_AUTHENTICATED.into());
        }
    } else if !impersonated_groups.iter().any(|g| g == UNAUTHENTICATED) {
        impersonated_groups.push(UNAUTHENTICATED.into());
    }
    Ok(UserInfo {
        name: user.to_string(),
        uid: uid.to_string(),
        groups: impersonated_groups,
        extra,
    })
}

fn describe(groups: &[&str], extra: &BTreeMap<String, Vec<String>>, uid: &str) -> String {
    let mut parts: Vec<String> = groups.iter().map(|g| format!("Group {g}")).collect();
    for (k, vs) in extra {
        parts.extend(vs.iter().map(|v| format!("UserExtra {k}={v}")));
    }
    if !uid.is_empty() {
        parts.push(format!("UID {uid}"));
    }
    format!("[{}]", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_superuser_becomes_the_impersonated_user_with_kubes_groups() {
        let authorizer = Authorizer::new(crate::storage::Store::in_memory(Default::default()));
        let admin = UserInfo::admin();
        let none = impersonate(&authorizer, admin.clone(), &HeaderMap::new()).unwrap();
        assert_eq!(none, admin);
        let sa = impersonate(
            &authorizer,
            admin.clone(),
            &headers(&[("impersonate-user", "system:serviceaccount:ns:sa")]),
        )
        .unwrap();
        assert_eq!(
            sa.groups,
            vec![
                "system:serviceaccounts",
                "system:serviceaccounts:ns",
                "system:authenticated"
            ]
        );
        let bob = impersonate(
            &authorizer,
            admin.clone(),
            &headers(&[
                ("impersonate-user", "bob"),
                ("impersonate-group", "devs"),
                ("impersonate-group", "ops"),
                ("impersonate-uid", "1234"),
                ("impersonate-extra-scopes%2fa", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(bob.name, "bob");
        assert_eq!(bob.uid, "1234");
        assert_eq!(bob.groups, vec!["devs", "ops", "system:authenticated"]);
        assert_eq!(bob.extra["scopes/a"], vec!["x"]);
        let anonymous = impersonate(
            &authorizer,
            admin.clone(),
            &headers(&[("impersonate-user", "system:anonymous")]),
        )
        .unwrap();
        assert_eq!(anonymous.groups, vec!["system:unauthenticated"]);
        let e = impersonate(
            &authorizer,
            admin,
            &headers(&[("impersonate-group", "devs")]),
        )
        .unwrap_err();
        assert_eq!(e.code, 500);
    }

    #[test]
    fn impersonating_without_the_verb_is_kubes_403() {
        let authorizer = Authorizer::new(crate::storage::Store::in_memory(Default::default()));
        let carol = UserInfo::new("carol", vec!["system:authenticated".into()]);
        let e = impersonate(
            &authorizer,
            carol.clone(),
            &headers(&[("impersonate-user", "bob")]),
        )
        .unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "users \"bob\" is forbidden: User \"carol\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        );
        let e = impersonate(
            &authorizer,
            carol,
            &headers(&[("impersonate-user", "system:serviceaccount:ns:sa")]),
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "serviceaccounts \"sa\" is forbidden: User \"carol\" cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"ns\""
        );
    }
}
