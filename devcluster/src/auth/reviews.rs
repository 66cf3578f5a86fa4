//! authorization.k8s.io/v1: the create-only access reviews kube-apiserver serves.
//! SubjectAccessReview (any user's access, asked by a delegating server),
//! LocalSubjectAccessReview (the same within one namespace), SelfSubjectAccessReview (`kubectl
//! auth can-i`) and SelfSubjectRulesReview (`kubectl auth can-i --list`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::rbac::PolicyRule;
use super::{Attributes, Authorizer, ResourceAttributes, UserInfo};
use crate::error::{ApiError, Cause};

pub const GROUP: &str = "authorization.k8s.io";
pub const VERSION: &str = "v1";

/// The four review resources: plural, singular, kind, namespaced.
const RESOURCES: &[(&str, &str, &str, bool)] = &[
    (
        "localsubjectaccessreviews",
        "localsubjectaccessreview",
        "LocalSubjectAccessReview",
        true,
    ),
    (
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        "SelfSubjectAccessReview",
        false,
    ),
    (
        "selfsubjectrulesreviews",
        "selfsubjectrulesreview",
        "SelfSubjectRulesReview",
        false,
    ),
    (
        "subjectaccessreviews",
        "subjectaccessreview",
        "SubjectAccessReview",
        false,
    ),
];

/// A review request's resource, from the path after `/apis/authorization.k8s.io/v1/`
/// (`None`: not a review path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewTarget {
    pub plural: &'static str,
    pub kind: &'static str,
    /// The URL's namespace (LocalSubjectAccessReview).
    pub namespace: String,
}

impl ReviewTarget {
    pub fn parse(rest: &[String]) -> Option<Self> {
        let (namespace, plural) = match rest {
            [ns_word, ns, plural] if ns_word == "namespaces" => (ns.clone(), plural),
            [plural] => (String::new(), plural),
            _ => return None,
        };
        let (plural, _, kind, namespaced) = RESOURCES.iter().find(|r| r.0 == plural)?;
        (*namespaced != namespace.is_empty()).then_some(ReviewTarget {
            plural,
            kind,
            namespace,
        })
    }

    /// What creating the review asks of the authorizer.
    pub fn attributes(&self, path: &str) -> Attributes {
        Attributes {
            verb: "create".into(),
            resource: Some(ResourceAttributes {
                group: GROUP.into(),
                version: VERSION.into(),
                resource: self.plural.into(),
                namespace: self.namespace.clone(),
                ..Default::default()
            }),
            path: path.into(),
        }
    }
}

/// The `/apis/authorization.k8s.io/v1` resource list.
pub fn resource_list() -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .map(|(plural, singular, kind, namespaced)| {
            json!({"name": plural, "singularName": singular, "namespaced": namespaced, "kind": kind, "verbs": ["create"]})
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{GROUP}/{VERSION}"), "resources": resources})
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn invalid(kind: &str, field: &str, value: &Value, message: &str) -> ApiError {
    let shown = match value {
        Value::Null => "null".to_string(),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    ApiError::invalid(
        GROUP,
        kind,
        "",
        vec![Cause::new(
            "FieldValueInvalid",
            field,
            format!("Invalid value: {shown}: {message}"),
        )],
    )
}

/// The attributes a review's spec asks about.
fn spec_attributes(kind: &str, spec: &Value) -> Result<Attributes, ApiError> {
    let resource = &spec["resourceAttributes"];
    let non_resource = &spec["nonResourceAttributes"];
    match (resource.is_object(), non_resource.is_object()) {
        (true, true) => Err(invalid(
            kind,
            "spec.nonResourceAttributes",
            non_resource,
            "cannot be specified in combination with resourceAttributes",
        )),
        (false, false) => Err(invalid(
            kind,
            "spec.resourceAttributes",
            non_resource,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        (true, false) => Ok(Attributes {
            verb: text(&resource["verb"]),
            resource: Some(ResourceAttributes {
                group: text(&resource["group"]),
                version: text(&resource["version"]),
                resource: text(&resource["resource"]),
                subresource: text(&resource["subresource"]),
                namespace: text(&resource["namespace"]),
                name: text(&resource["name"]),
            }),
            path: String::new(),
        }),
        (false, true) => Ok(Attributes {
            verb: text(&non_resource["verb"]),
            resource: None,
            path: text(&non_resource["path"]),
        }),
    }
}

/// The user a SubjectAccessReview names.
fn spec_user(spec: &Value) -> UserInfo {
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let extra: BTreeMap<String, Vec<String>> = spec["extra"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), list(v))).collect())
        .unwrap_or_default();
    UserInfo {
        name: text(&spec["user"]),
        uid: text(&spec["uid"]),
        groups: list(&spec["groups"]),
        extra,
    }
}

fn check_type(body: &Value, kind: &str) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    match body["kind"].as_str() {
        Some(k) if !k.is_empty() && k != kind => Err(ApiError::bad_request(format!(
            "the kind of the provided object ({k}) does not match the expected kind ({kind})"
        ))),
        _ => Ok(()),
    }
}

fn resource_rule(rule: &PolicyRule) -> Value {
    let mut out = json!({"verbs": rule.verbs});
    for (field, values) in [
        ("apiGroups", &rule.api_groups),
        ("resources", &rule.resources),
        ("resourceNames", &rule.resource_names),
    ] {
        if !values.is_empty() {
            out[field] = json!(values);
        }
    }
    out
}

/// Answer a review created by `requester`: the submitted object with its `status`.
pub fn review(
    authorizer: &Authorizer,
    requester: &UserInfo,
    target: &ReviewTarget,
    mut body: Value,
) -> Result<Value, ApiError> {
    check_type(&body, target.kind)?;
    body["kind"] = json!(target.kind);
    body["apiVersion"] = json!(format!("{GROUP}/{VERSION}"));
    if !body["metadata"].is_object() {
        body["metadata"] = json!({"creationTimestamp": null});
    }
    let spec = body["spec"].clone();
    let status = match target.plural {
        "selfsubjectrulesreviews" => {
            let namespace = text(&spec["namespace"]);
            if namespace.is_empty() {
                return Err(ApiError::bad_request("no namespace on request"));
            }
            let (rules, error) = authorizer.rules_for(requester, &namespace);
            let resource_rules: Vec<Value> = rules
                .iter()
                .filter(|r| !r.resources.is_empty())
                .map(resource_rule)
                .collect();
            let non_resource_rules: Vec<Value> = rules
                .iter()
                .filter(|r| !r.non_resource_urls.is_empty())
                .map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}))
                .collect();
            let mut status = json!({
                "resourceRules": resource_rules,
                "nonResourceRules": non_resource_rules,
                "incomplete": false,
            });
            if let Some(e) = error {
                status["evaluationError"] = json!(e);
            }
            status
        }
        plural => {
            let attributes = spec_attributes(target.kind, &spec)?;
            let user = if plural == "selfsubjectaccessreviews" {
                requester.clone()
            } else {
                let user = spec_user(&spec);
                if user.name.is_empty() && user.groups.is_empty() {
                    return Err(invalid(
                        target.kind,
                        "spec.user",
                        &json!(""),
                        "at least one of user or group must be specified",
                    ));
                }
                user
            };
            if plural == "localsubjectaccessreviews" {
                let metadata_ns = body["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or(&target.namespace)
                    .to_string();
                if metadata_ns != target.namespace {
                    return Err(ApiError::bad_request(format!(
                        "spec.resourceAttributes.namespace must match namespace: {}",
                        target.namespace
                    )));
                }
                let asked_ns = attributes
                    .resource
                    .as_ref()
                    .map(|r| r.namespace.clone())
                    .unwrap_or_default();
                if attributes.resource.is_none() {
                    return Err(invalid(
                        target.kind,
                        "spec.nonResourceAttributes",
                        &spec["nonResourceAttributes"],
                        "disallowed on this kind of request",
                    ));
                }
                if asked_ns != metadata_ns {
                    return Err(invalid(
                        target.kind,
                        "spec.resourceAttributes.namespace",
                        &json!(asked_ns),
                        "must match metadata.namespace",
                    ));
                }
                body["metadata"]["namespace"] = json!(metadata_ns);
            }
            let evaluation = authorizer.evaluate(&user, &attributes);
            let mut status = json!({"allowed": evaluation.allowed});
            if !evaluation.reason.is_empty() {
                status["reason"] = json!(evaluation.reason);
            }
            status
        }
    };
    body["status"] = status;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn review_paths_are_recognised_with_their_scope() {
        let t = ReviewTarget::parse(&strings(&["selfsubjectaccessreviews"])).unwrap();
        assert_eq!(t.kind, "SelfSubjectAccessReview");
        let t = ReviewTarget::parse(&strings(&["namespaces", "ns", "localsubjectaccessreviews"]))
            .unwrap();
        assert_eq!(t.namespace, "ns");
        assert!(ReviewTarget::parse(&strings(&["localsubjectaccessreviews"])).is_none());
        assert!(
            ReviewTarget::parse(&strings(&["namespaces", "ns", "subjectaccessreviews"])).is_none()
        );
        assert!(ReviewTarget::parse(&strings(&["selfsubjectaccessreviews", "x"])).is_none());
    }

    #[test]
    fn specs_need_exactly_one_kind_of_attributes_and_a_subject() {
        let sar = ReviewTarget::parse(&strings(&["subjectaccessreviews"])).unwrap();
        let authorizer = Authorizer::new(crate::storage::Store::in_memory(Default::default()));
        let ask =
            |spec: Value| review(&authorizer, &UserInfo::admin(), &sar, json!({"spec": spec}));
        let e = ask(json!({"user": "bob"})).unwrap_err();
        assert_eq!(e.code, 422);
        assert!(
            e.message.contains(
                "exactly one of nonResourceAttributes or resourceAttributes must be specified"
            ),
            "{}",
            e.message
        );
        let e = ask(json!({"resourceAttributes": {"verb": "get"}})).unwrap_err();
        assert_eq!(
            e.message,
            "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: Invalid value: \"\": at least one of user or group must be specified"
        );
        // Nothing is bound to bob in an empty store; system:masters needs no binding.
        let bob =
            ask(json!({"user": "bob", "resourceAttributes": {"verb": "get", "resource": "pods"}}))
                .unwrap();
        assert_eq!(bob["status"], json!({"allowed": false}));
        let root = ask(json!({"user": "root", "groups": ["system:masters"], "nonResourceAttributes": {"verb": "get", "path": "/metrics"}})).unwrap();
        assert_eq!(root["status"], json!({"allowed": true}));
        assert_eq!(root["kind"], "SubjectAccessReview");
    }
}
