//! Least privilege, proven: a component's RBAC grants compared with what it did against the
//! API server in a run (devcluster's access log). Every grant must have been used at least once
//! (none unused), and nothing the component did may have needed more (none missing: a denied
//! request is named, and an allowed one no grant of its own covers is reported).
//!
//! Grants are expanded from the rules into single permissions (verb, group, resource with its
//! subresource, and the resource name when the rule lists names); the rules under test use no
//! wildcards (rp-controller/tests/deploy.rs and aro-operator's manifests tests check that).

use std::collections::BTreeSet;
use std::fmt;

use devcluster::AccessRecord;
use k8s_openapi::api::rbac::v1::PolicyRule;

/// One permission a rule grants.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub verb: String,
    pub group: String,
    /// `resource` or `resource/subresource`.
    pub resource: String,
    /// Set when the rule lists resourceNames.
    pub name: Option<String>,
    /// Set for a namespaced Role's rules: the grant holds there only.
    pub namespace: Option<String>,
}

impl Grant {
    /// A cluster-wide permission without a resource name; `resource` may name a subresource
    /// (`resource/sub`).
    pub fn new(verb: &str, group: &str, resource: &str) -> Self {
        Grant {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            name: None,
            namespace: None,
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb, self.resource)?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        write!(f, " in API group {:?}", self.group)?;
        if let Some(namespace) = &self.namespace {
            write!(f, " in namespace {namespace}")?;
        }
        Ok(())
    }
}

/// The single permissions of `rules`; `namespace` is the Role's (`None` for a ClusterRole).
pub fn grants(rules: &[PolicyRule], namespace: Option<&str>) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for rule in rules {
        let names: Vec<Option<String>> = match &rule.resource_names {
            Some(names) if !names.is_empty() => names.iter().cloned().map(Some).collect(),
            _ => vec![None],
        };
        for verb in &rule.verbs {
            for group in rule.api_groups.iter().flatten() {
                for resource in rule.resources.iter().flatten() {
                    for name in &names {
                        out.insert(Grant {
                            verb: verb.clone(),
                            group: group.clone(),
                            resource: resource.clone(),
                            name: name.clone(),
                            namespace: namespace.map(str::to_string),
                        });
                    }
                }
            }
        }
    }
    out
}

fn resource_of(record: &AccessRecord) -> String {
    if record.subresource.is_empty() {
        record.resource.clone()
    } else {
        format!("{}/{}", record.resource, record.subresource)
    }
}

/// Whether `grant` allows what `record` did.
pub fn covers(grant: &Grant, record: &AccessRecord) -> bool {
    !record.resource.is_empty()
        && grant.verb == record.verb
        && grant.group == record.group
        && grant.resource == resource_of(record)
        && grant.name.as_deref().is_none_or(|n| n == record.name)
        && grant
            .namespace
            .as_deref()
            .is_none_or(|n| n == record.namespace)
}

/// What every authenticated user may do through kube-apiserver's default roles
/// (system:discovery, system:basic-user, system:public-info-viewer): discovery and version
/// paths, and reviews of oneself. Not the component's own grants, so never "missing".
pub fn allowed_to_everyone(record: &AccessRecord) -> bool {
    if record.resource.is_empty() {
        let path = record.path.as_str();
        return record.verb == "get"
            && ([
                "/api", "/apis", "/version", "/healthz", "/livez", "/readyz", "/openapi",
            ]
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/"))));
    }
    record.verb == "create"
        && matches!(
            (record.group.as_str(), record.resource.as_str()),
            ("authentication.k8s.io", "selfsubjectreviews")
                | ("authorization.k8s.io", "selfsubjectaccessreviews")
                | ("authorization.k8s.io", "selfsubjectrulesreviews")
        )
}

/// The outcome of a comparison.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Grants nothing used.
    pub unused: Vec<Grant>,
    /// Requests allowed although no grant of the component covers them (another binding, or a
    /// superuser identity: the component did not run under its own RBAC).
    pub uncovered: Vec<AccessRecord>,
    /// Requests denied: the grants lack them.
    pub denied: Vec<AccessRecord>,
}

impl Comparison {
    pub fn is_clean(&self) -> bool {
        self.unused.is_empty() && self.uncovered.is_empty() && self.denied.is_empty()
    }

    /// A report naming every finding, for a test's failure message.
    pub fn report(&self, component: &str) -> String {
        let mut out = String::new();
        for record in &self.denied {
            out.push_str(&format!(
                "{component} was denied (a grant is missing): {record}\n"
            ));
        }
        for grant in &self.unused {
            out.push_str(&format!("{component} never used its grant: {grant}\n"));
        }
        for record in &self.uncovered {
            out.push_str(&format!(
                "{component} did what none of its grants allows: {record}\n"
            ));
        }
        out
    }
}

/// Compare `grants` with what the component was `allowed` and `denied`; grants in `exempt` (used
/// only on paths this run does not take, each with the reason in the caller) are not required
/// to be used.
pub fn compare(
    grants: &BTreeSet<Grant>,
    allowed: &BTreeSet<AccessRecord>,
    denied: &BTreeSet<AccessRecord>,
    exempt: &[Grant],
) -> Comparison {
    Comparison {
        unused: grants
            .iter()
            // An exemption names the permission wherever it is bound.
            .filter(|g| {
                !exempt.iter().any(|e| {
                    (&e.verb, &e.group, &e.resource, &e.name)
                        == (&g.verb, &g.group, &g.resource, &g.name)
                })
            })
            .filter(|g| !allowed.iter().any(|r| covers(g, r)))
            .cloned()
            .collect(),
        uncovered: allowed
            .iter()
            .filter(|r| !allowed_to_everyone(r))
            .filter(|r| !grants.iter().any(|g| covers(g, r)))
            .cloned()
            .collect(),
        denied: denied.iter().cloned().collect(),
    }
}

/// The user name kube-apiserver gives ServiceAccount `namespace/name`.
pub fn service_account_user(namespace: &str, name: &str) -> String {
    devcluster::UserInfo::service_account(namespace, name).name
}

/// Every permission bound to ServiceAccount `namespace/name` in a cluster, read from its live
/// RBAC objects (what is really in force: the applied manifests and the bindings components made
/// at run time): ClusterRoles bound cluster-wide, and ClusterRoles and Roles bound in a namespace
/// (those grants hold there only). Bindings to groups (kube-apiserver's defaults for every
/// authenticated user) are not the component's own and are left out.
pub async fn service_account_grants(
    admin: &kube::Client,
    namespace: &str,
    name: &str,
) -> kube::Result<BTreeSet<Grant>> {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding, Subject};
    use kube::Api;
    let is_account = |subjects: &Option<Vec<Subject>>, binding_namespace: Option<&str>| {
        subjects.iter().flatten().any(|s| {
            s.kind == "ServiceAccount"
                && s.name == name
                && s.namespace.as_deref().or(binding_namespace) == Some(namespace)
        })
    };
    let cluster_roles = Api::<ClusterRole>::all(admin.clone())
        .list(&Default::default())
        .await?
        .items;
    let cluster_role = |role: &str| {
        cluster_roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(role))
            .and_then(|r| r.rules.clone())
            .unwrap_or_default()
    };
    let mut out = BTreeSet::new();
    for binding in Api::<ClusterRoleBinding>::all(admin.clone())
        .list(&Default::default())
        .await?
        .items
    {
        if is_account(&binding.subjects, None) {
            out.extend(grants(&cluster_role(&binding.role_ref.name), None));
        }
    }
    let roles = Api::<Role>::all(admin.clone())
        .list(&Default::default())
        .await?
        .items;
    for binding in Api::<RoleBinding>::all(admin.clone())
        .list(&Default::default())
        .await?
        .items
    {
        let binding_namespace = binding.metadata.namespace.clone().unwrap_or_default();
        if !is_account(&binding.subjects, Some(&binding_namespace)) {
            continue;
        }
        let rules = match binding.role_ref.kind.as_str() {
            "ClusterRole" => cluster_role(&binding.role_ref.name),
            _ => roles
                .iter()
                .find(|r| {
                    r.metadata.name.as_deref() == Some(binding.role_ref.name.as_str())
                        && r.metadata.namespace.as_deref() == Some(binding_namespace.as_str())
                })
                .and_then(|r| r.rules.clone())
                .unwrap_or_default(),
        };
        out.extend(grants(&rules, Some(&binding_namespace)));
    }
    Ok(out)
}

/// Grants bound in several namespaces count as used when used in any of them: a component
/// uses a subscription namespace's binding only in the subscriptions a run touches. Keyed
/// without the namespace, a grant is used when a request in one of its namespaces matches it.
pub fn merge_namespaces(grants: &BTreeSet<Grant>) -> BTreeSet<Grant> {
    let mut by_permission: std::collections::BTreeMap<Grant, Vec<String>> = Default::default();
    let mut cluster_wide = BTreeSet::new();
    for grant in grants {
        match &grant.namespace {
            None => {
                cluster_wide.insert(grant.clone());
            }
            Some(namespace) => by_permission
                .entry(Grant {
                    namespace: None,
                    ..grant.clone()
                })
                .or_default()
                .push(namespace.clone()),
        }
    }
    let mut out = cluster_wide.clone();
    for (permission, namespaces) in by_permission {
        if cluster_wide.contains(&permission) {
            continue;
        }
        if namespaces.len() == 1 {
            out.insert(Grant {
                namespace: Some(namespaces[0].clone()),
                ..permission
            });
        } else {
            out.insert(permission);
        }
    }
    out
}

/// A grant a run is excused from using (cluster-wide, no resource name): `resource` may name a
/// subresource (`resource/sub`).
pub fn exempt(verb: &str, group: &str, resource: &str) -> Grant {
    Grant::new(verb, group, resource)
}

/// The deploy/rp grants of paths e2e/tests/grants.rs takes (and asserts used), which the
/// lifecycle and hive runs do not take and so exempt: one list for both sides.
pub mod paths {
    use super::Grant;

    fn rp(verb: &str, resource: &str) -> Grant {
        Grant::new(verb, "rp.aro.openshift.io", resource)
    }

    /// rp-controller: a Deleted subscription's busy cluster deleted with an operation of its
    /// own, the subscription's status, and the operation-record collector.
    pub fn deleted_subscription() -> Vec<Grant> {
        vec![
            rp("create", "asyncoperations"),
            rp("delete", "asyncoperations"),
            rp("patch", "subscriptions/status"),
        ]
    }

    /// rp-frontend: ARM's subscription lifecycle PUT (a new subscription, then a state change).
    pub fn subscription_lifecycle() -> Vec<Grant> {
        vec![rp("create", "subscriptions"), rp("patch", "subscriptions")]
    }

    /// rp-frontend: the admin API's upserts of versions and role sets, and the role-set list.
    pub fn admin_catalogue() -> Vec<Grant> {
        let mut grants = vec![
            rp("get", "openshiftversions"),
            rp("create", "openshiftversions"),
            rp("patch", "openshiftversions"),
        ];
        for verb in ["get", "list", "create", "patch"] {
            grants.push(rp(verb, "platformworkloadidentityrolesets"));
        }
        grants
    }
}

/// Every request devcluster denied, by user, one per line after a newline (empty when none):
/// what a failing test shows first, the missing grant rather than only its consequence.
pub fn denials(log: &devcluster::AccessLog) -> String {
    let mut out = String::new();
    for user in log.users() {
        for denied in log.denied_to(&user) {
            out.push_str(&format!("\ndenied to {user}: {denied}"));
        }
    }
    out
}

/// Print [`denials`].
pub fn print_denials(log: &devcluster::AccessLog) {
    let denials = denials(log);
    if !denials.is_empty() {
        eprintln!("{}", denials.trim_start());
    }
}

/// Assert that ServiceAccount `aro-rp/<account>` of `system`'s embedded management cluster was
/// denied nothing, did nothing its grants do not cover, and used every grant but `exempt` ones
/// (compared without namespace: a grant bound in several namespaces is used when used in one).
pub async fn assert_least_privilege(
    system: &aro_local::LocalSystem,
    account: &str,
    exempt: &[Grant],
) {
    let log = system
        .devcluster
        .as_ref()
        .expect("an embedded management cluster")
        .access_log();
    assert_account_least_privilege(
        &system.client,
        log,
        aro_local::identity::RP_NAMESPACE,
        account,
        exempt,
    )
    .await;
}

/// Assert that ServiceAccount `aro-rp/<account>` of `system`'s embedded management cluster was
/// denied nothing and used each of `needed` (a path's own grants, proven on that path while
/// another test's full comparison exempts them).
pub fn assert_used(system: &aro_local::LocalSystem, account: &str, needed: &[Grant]) {
    let log = system
        .devcluster
        .as_ref()
        .expect("an embedded management cluster")
        .access_log();
    let user = service_account_user(aro_local::identity::RP_NAMESPACE, account);
    let denied = log.denied_to(&user);
    assert!(
        denied.is_empty(),
        "{account} was denied (a grant is missing):{}",
        denials(log)
    );
    let allowed = log.of_user(&user);
    for grant in needed {
        assert!(
            allowed.iter().any(|r| covers(grant, r)),
            "{account} never used {grant}"
        );
    }
}

/// Assert least privilege for ServiceAccount `namespace/account` of any cluster: `admin` reads
/// the cluster's live RBAC, `log` is the cluster's access log (recording on).
pub async fn assert_account_least_privilege(
    admin: &kube::Client,
    log: &devcluster::AccessLog,
    namespace: &str,
    account: &str,
    exempt: &[Grant],
) {
    let grants = merge_namespaces(
        &service_account_grants(admin, namespace, account)
            .await
            .expect("the RBAC objects are listed"),
    );
    let user = service_account_user(namespace, account);
    let allowed = log.of_user(&user);
    assert!(
        !allowed.is_empty(),
        "{account} made no request as {user} (is record_access on?)"
    );
    let comparison = compare(&grants, &allowed, &log.denied_to(&user), exempt);
    assert!(
        comparison.is_clean(),
        "least privilege of {account}:\n{}",
        comparison.report(account)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str], names: &[&str]) -> PolicyRule {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        PolicyRule {
            api_groups: Some(strings(groups)),
            resources: Some(strings(resources)),
            verbs: strings(verbs),
            resource_names: (!names.is_empty()).then(|| strings(names)),
            non_resource_urls: None,
        }
    }

    use AccessRecord as Record;
    fn record(verb: &str, group: &str, resource: &str, sub: &str, ns: &str, name: &str) -> Record {
        Record::resource(verb, group, resource, sub, ns, name)
    }

    #[test]
    fn a_grant_is_used_by_a_matching_request_only() {
        let granted = grants(
            &[
                rule(&[""], &["secrets"], &["get", "create"], &[]),
                rule(
                    &["coordination.k8s.io"],
                    &["leases"],
                    &["update"],
                    &["mine"],
                ),
                rule(&["x.io"], &["things/status"], &["update"], &[]),
            ],
            None,
        );
        assert_eq!(granted.len(), 4);
        let allowed = BTreeSet::from([
            record("get", "", "secrets", "", "a", "s"),
            record("update", "coordination.k8s.io", "leases", "", "a", "mine"),
            record("update", "x.io", "things", "status", "a", "t"),
            // Not covered: another lease, the object instead of its status, discovery.
            record("update", "coordination.k8s.io", "leases", "", "a", "theirs"),
            record("update", "x.io", "things", "", "a", "t"),
            AccessRecord {
                verb: "get".into(),
                path: "/apis".into(),
                ..record("", "", "", "", "", "")
            },
        ]);
        let comparison = compare(&granted, &allowed, &BTreeSet::new(), &[]);
        assert_eq!(comparison.unused.len(), 1, "{comparison:?}");
        assert_eq!(comparison.unused[0].verb, "create");
        assert_eq!(comparison.uncovered.len(), 2, "{comparison:?}");
        let report = comparison.report("c");
        assert!(
            report.contains("c never used its grant: create secrets in API group \"\""),
            "{report}"
        );
        assert!(report.contains("update leases \"theirs\""), "{report}");
        // An exemption takes the unused grant out.
        let exempt = granted
            .iter()
            .filter(|g| g.verb == "create")
            .cloned()
            .collect::<Vec<_>>();
        assert!(
            compare(&granted, &allowed, &BTreeSet::new(), &exempt)
                .unused
                .is_empty()
        );
    }

    #[test]
    fn a_role_grant_holds_in_its_namespace_only_and_denials_are_named() {
        let granted = grants(&[rule(&[""], &["configmaps"], &["get"], &[])], Some("a"));
        let elsewhere = BTreeSet::from([record("get", "", "configmaps", "", "b", "c")]);
        let comparison = compare(&granted, &elsewhere, &elsewhere, &[]);
        assert_eq!(comparison.unused.len(), 1);
        assert_eq!(comparison.uncovered.len(), 1);
        assert!(comparison.report("c").contains(
            "c was denied (a grant is missing): get configmaps \"c\" in API group \"\" in namespace b"
        ));
    }
}
