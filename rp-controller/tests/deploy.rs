//! `deploy/`: the kustomization that runs rp-frontend and rp-controller on a management cluster.
//!
//! * `kubectl apply -k deploy/` (the machine's kubectl, its built-in kustomize) against a
//!   devcluster in this process succeeds, creates every object and the CRDs become Established;
//!   a second apply and a server-side apply succeed too (idempotent).
//! * Without a server, the manifests are checked against the code: the Deployments' flags and
//!   environment variables are ones `aro frontend` / `aro controller` really read, the probes hit
//!   the paths the health listener serves, every CRD file is part of the kustomization, and the
//!   RBAC is least privilege (no wildcards, no listing of Secrets, only resources that exist).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use devcluster::{Devcluster, DevclusterConfig};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Namespace, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Api;
use kube::runtime::wait::{await_condition, conditions};
use serde::Deserialize;
use serde_yaml::Value;

const NAMESPACE: &str = "aro-rp";
const IMAGE: &str = "ghcr.io/aro-rs/aro:latest";
const GROUP: &str = "rp.aro.openshift.io";

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

// ------------------------------------------------------------------------------- manifest reading

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every YAML document of a file.
fn documents(path: &Path) -> Vec<Value> {
    let text = read(path);
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

/// The `resources:` of a kustomization folder.
fn kustomization_resources(dir: &Path) -> Vec<String> {
    let docs = documents(&dir.join("kustomization.yaml"));
    docs[0]["resources"]
        .as_sequence()
        .expect("resources list")
        .iter()
        .map(|r| r.as_str().expect("resource path").to_string())
        .collect()
}

/// Every object of deploy/rp, as its kustomization lists it, by kind.
fn rp_objects() -> BTreeMap<String, Vec<Value>> {
    let dir = deploy_dir().join("rp");
    let mut by_kind: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for file in kustomization_resources(&dir) {
        for doc in documents(&dir.join(&file)) {
            let kind = doc["kind"].as_str().expect("kind").to_string();
            by_kind.entry(kind).or_default().push(doc);
        }
    }
    by_kind
}

fn typed<T: serde::de::DeserializeOwned>(
    objects: &BTreeMap<String, Vec<Value>>,
    kind: &str,
) -> Vec<T> {
    objects
        .get(kind)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|v| serde_yaml::from_value(v.clone()).unwrap_or_else(|e| panic!("{kind} {v:?}: {e}")))
        .collect()
}

/// CRD plural -> whether it has the status subresource, from deploy/crds.
/// Hive's API group (the hive cluster runtime's ClusterDeployments and what goes with them).
const HIVE_GROUP: &str = "hive.openshift.io";

/// Plural names of the Hive kinds the hive runtime uses (deploy/hive/crds/).
fn hive_plurals() -> BTreeSet<String> {
    rp_controller::cluster_runtime::hive::hive_crds()
        .unwrap()
        .into_iter()
        .inspect(|crd| assert_eq!(crd.spec.group, HIVE_GROUP))
        .map(|crd| crd.spec.names.plural)
        .collect()
}

fn crd_plurals() -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(deploy_dir().join("crds")).unwrap() {
        let path = entry.unwrap().path();
        for doc in documents(&path) {
            let crd: CustomResourceDefinition = serde_yaml::from_value(doc).unwrap();
            assert_eq!(crd.spec.group, GROUP, "{}", path.display());
            let status = crd
                .spec
                .versions
                .iter()
                .any(|v| v.subresources.as_ref().is_some_and(|s| s.status.is_some()));
            out.insert(crd.spec.names.plural.clone(), status);
        }
    }
    out
}

// ------------------------------------------------------------------------------ the code's flags

#[derive(Parser, Debug)]
#[command(name = "aro")]
struct Aro {
    #[command(flatten)]
    _log: aro_common::telemetry::LogArgs,
    #[command(subcommand)]
    command: Component,
}

#[derive(Subcommand, Debug)]
enum Component {
    Frontend(Box<rp_frontend::FrontendArgs>),
    Controller(Box<rp_controller::ControllerArgs>),
}

/// The environment variables a subcommand reads (its flags' and the global logging flags').
fn env_vars_of(subcommand: &str) -> BTreeSet<String> {
    let mut command = Aro::command();
    command.build();
    let global: Vec<_> = command
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    let sub = command
        .find_subcommand(subcommand)
        .unwrap_or_else(|| panic!("no subcommand {subcommand}"));
    sub.get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .chain(global)
        .collect()
}

fn deployment<'a>(deployments: &'a [Deployment], name: &str) -> &'a Deployment {
    deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no Deployment {name}"))
}

fn only_container(d: &Deployment) -> &Container {
    let containers = &d
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers;
    assert_eq!(containers.len(), 1, "{:?}", d.metadata.name);
    &containers[0]
}

/// The container's args with `$(VAR)` references to its literal or ConfigMap env resolved from
/// the manifests (what the kubelet does), ready for clap.
fn resolved_args(c: &Container, config: &ConfigMap) -> Vec<String> {
    let data = config.data.clone().unwrap_or_default();
    let mut vars = BTreeMap::new();
    for e in c.env.as_deref().unwrap_or_default() {
        let value = match (&e.value, &e.value_from) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(from)) => from
                .config_map_key_ref
                .as_ref()
                .and_then(|r| data.get(&r.key).cloned()),
            _ => None,
        };
        if let Some(value) = value {
            vars.insert(e.name.clone(), value);
        }
    }
    c.args
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|arg| {
            let mut arg = arg;
            for (name, value) in &vars {
                arg = arg.replace(&format!("$({name})"), value);
            }
            assert!(!arg.contains("$("), "unresolved variable in {arg}");
            arg
        })
        .collect()
}

/// The Deployment's container matches the code: subcommand, flags that parse, environment
/// variables the flags read, ConfigMap keys that exist, a listener on the declared port and
/// probes on the health routes of that listener.
fn check_component(
    d: &Deployment,
    subcommand: &str,
    config: &ConfigMap,
    listen_ports: fn(&Component) -> Vec<u16>,
) {
    let name = d.metadata.name.clone().unwrap();
    let spec = d.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(2), "{name}");
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some(name.as_str()));
    let pod_security = pod.security_context.as_ref().expect("pod securityContext");
    assert_eq!(pod_security.run_as_non_root, Some(true), "{name}");
    assert!(pod_security.run_as_user.is_some_and(|u| u != 0), "{name}");
    let c = only_container(d);
    assert_eq!(c.image.as_deref(), Some(IMAGE), "{name}");

    let args = resolved_args(c, config);
    assert_eq!(
        args.first().map(String::as_str),
        Some(subcommand),
        "{name}: {args:?}"
    );
    let parsed = Aro::try_parse_from(std::iter::once("aro".to_string()).chain(args.clone()))
        .unwrap_or_else(|e| panic!("{name}: `aro {}` does not parse: {e}", args.join(" ")));
    let listen = listen_ports(&parsed.command);
    let ports: BTreeMap<String, i32> = c
        .ports
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|p| (p.name.clone().expect("named port"), p.container_port))
        .collect();
    assert_eq!(
        ports.values().copied().collect::<BTreeSet<_>>(),
        listen
            .iter()
            .copied()
            .map(i32::from)
            .collect::<BTreeSet<_>>(),
        "{name}: the container ports are the ports its listeners bind"
    );

    let known = env_vars_of(subcommand);
    let data = config.data.clone().unwrap_or_default();
    let raw_args = c.args.clone().unwrap_or_default();
    for e in c.env.as_deref().unwrap_or_default() {
        let substituted = raw_args
            .iter()
            .any(|a| a.contains(&format!("$({})", e.name)));
        assert!(
            known.contains(&e.name) || substituted,
            "{name}: {} is read by no flag of `aro {subcommand}` nor used in its args ({known:?})",
            e.name
        );
        if let Some(r) = e
            .value_from
            .as_ref()
            .and_then(|f| f.config_map_key_ref.as_ref())
        {
            assert_eq!(r.name, "aro-rp-config");
            assert!(
                r.optional == Some(true) || data.contains_key(&r.key),
                "{name}: ConfigMap key {} is missing",
                r.key
            );
        }
    }

    for (what, probe, paths) in [
        ("readiness", &c.readiness_probe, &["/readyz"][..]),
        ("liveness", &c.liveness_probe, &["/healthz", "/livez"][..]),
    ] {
        let get = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .unwrap_or_else(|| panic!("{name}: no {what} httpGet probe"));
        assert!(
            paths.contains(&get.path.as_deref().unwrap_or_default()),
            "{name}: {what} probe path {:?}",
            get.path
        );
        match &get.port {
            IntOrString::String(port) => assert!(ports.contains_key(port), "{name}: {port}"),
            IntOrString::Int(port) => assert_eq!(*port, i32::from(listen[0])),
        }
    }

    let resources = c.resources.as_ref().expect("resources");
    for (what, map) in [
        ("requests", &resources.requests),
        ("limits", &resources.limits),
    ] {
        let map = map.as_ref().unwrap_or_else(|| panic!("{name}: no {what}"));
        assert!(
            map.contains_key("cpu") && map.contains_key("memory"),
            "{name}: {what}"
        );
    }
    let security = c
        .security_context
        .as_ref()
        .expect("container securityContext");
    assert_eq!(security.run_as_non_root, Some(true), "{name}");
    assert_eq!(security.read_only_root_filesystem, Some(true), "{name}");
    assert_eq!(security.allow_privilege_escalation, Some(false), "{name}");
    assert_eq!(
        security.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_string()]),
        "{name}"
    );
    let seccomp = security
        .seccomp_profile
        .as_ref()
        .or(pod_security.seccomp_profile.as_ref())
        .map(|s| s.type_.clone());
    assert_eq!(seccomp.as_deref(), Some("RuntimeDefault"), "{name}");
}

#[test]
fn deployments_match_the_flags_and_listeners_of_the_code() {
    let objects = rp_objects();
    let deployments: Vec<Deployment> = typed(&objects, "Deployment");
    let configs: Vec<ConfigMap> = typed(&objects, "ConfigMap");
    let config = &configs[0];
    check_component(
        deployment(&deployments, "aro-rp-frontend"),
        "frontend",
        config,
        |c| match c {
            Component::Frontend(a) => {
                assert!(
                    a.listen.ip().is_unspecified(),
                    "the kubelet must reach {}",
                    a.listen
                );
                assert!(a.tls_cert.is_some() && a.tls_key.is_some(), "HTTPS");
                assert!(!a.insecure_no_auth);
                assert!(
                    a.metrics_listen.ip().is_unspecified(),
                    "Prometheus must reach {}",
                    a.metrics_listen
                );
                assert_ne!(
                    a.metrics_listen.port(),
                    a.listen.port(),
                    "metrics off the ARM port"
                );
                assert!(
                    a.arm_client_certs_file.is_some(),
                    "reloadable ARM allow-list"
                );
                vec![a.listen.port(), a.metrics_listen.port()]
            }
            other => panic!("{other:?}"),
        },
    );
    check_component(
        deployment(&deployments, "aro-rp-controller"),
        "controller",
        config,
        |c| match c {
            Component::Controller(a) => {
                assert!(
                    a.listen.ip().is_unspecified(),
                    "the kubelet must reach {}",
                    a.listen
                );
                assert!(!a.install_crds, "the CRDs come from the kustomization");
                assert_eq!(
                    a.cluster_runtime,
                    rp_controller::RuntimeKind::Hive,
                    "a deployed RP creates clusters through Hive by default"
                );
                vec![a.listen.port()]
            }
            other => panic!("{other:?}"),
        },
    );

    // The frontend's certificate files come from the TLS Secret's volume.
    let frontend = deployment(&deployments, "aro-rp-frontend");
    let pod = frontend
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let tls = pod
        .volumes
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|v| v.secret.is_some())
        .expect("a Secret volume");
    let mount = only_container(frontend)
        .volume_mounts
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|m| m.name == tls.name)
        .expect("the Secret volume is mounted");
    let args = only_container(frontend).args.clone().unwrap_or_default();
    for file in ["tls.crt", "tls.key"] {
        let path = format!("{}/{file}", mount.mount_path);
        assert!(
            args.iter().any(|a| a.ends_with(&path)),
            "{path} in {args:?}"
        );
    }

    // Services and PDBs select the pods they are for.
    for (service, deployment_name) in [
        ("aro-rp-frontend", "aro-rp-frontend"),
        ("aro-rp-frontend-metrics", "aro-rp-frontend"),
        ("aro-rp-controller-metrics", "aro-rp-controller"),
    ] {
        let services: Vec<Service> = typed(&objects, "Service");
        let s = services
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(service))
            .unwrap_or_else(|| panic!("no Service {service}"));
        let d = deployment(&deployments, deployment_name);
        let labels = d
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .clone()
            .unwrap();
        let selector = s.spec.as_ref().unwrap().selector.clone().unwrap();
        assert!(
            selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
            "{service}"
        );
        let container_ports: BTreeSet<String> = only_container(d)
            .ports
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.name.clone())
            .collect();
        for p in s
            .spec
            .as_ref()
            .unwrap()
            .ports
            .as_deref()
            .unwrap_or_default()
        {
            match &p.target_port {
                Some(IntOrString::String(name)) => assert!(container_ports.contains(name)),
                other => panic!("{service}: target port {other:?} should name a container port"),
            }
        }
    }
    let frontend_service = typed::<Service>(&objects, "Service")
        .into_iter()
        .find(|s| s.metadata.name.as_deref() == Some("aro-rp-frontend"))
        .unwrap();
    assert_eq!(frontend_service.spec.unwrap().ports.unwrap()[0].port, 443);
    let pdbs: Vec<PodDisruptionBudget> = typed(&objects, "PodDisruptionBudget");
    assert_eq!(pdbs.len(), 2);
    for pdb in &pdbs {
        let spec = pdb.spec.as_ref().unwrap();
        assert_eq!(spec.min_available, Some(IntOrString::Int(1)));
        let selector = spec
            .selector
            .as_ref()
            .unwrap()
            .match_labels
            .clone()
            .unwrap();
        assert!(
            deployments.iter().any(|d| {
                let labels = d
                    .spec
                    .as_ref()
                    .unwrap()
                    .template
                    .metadata
                    .as_ref()
                    .unwrap()
                    .labels
                    .clone()
                    .unwrap();
                selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            }),
            "{:?} selects no Deployment's pods",
            pdb.metadata.name
        );
    }
}

// ---------------------------------------------------------------------------------------- RBAC

fn check_rules(owner: &str, rules: &[PolicyRule], plurals: &BTreeMap<String, bool>) {
    const VERBS: &[&str] = &[
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
    ];
    assert!(!rules.is_empty(), "{owner} grants nothing");
    for rule in rules {
        let groups = rule.api_groups.clone().unwrap_or_default();
        let resources = rule.resources.clone().unwrap_or_default();
        let names = rule.resource_names.clone().unwrap_or_default();
        assert!(
            rule.non_resource_urls.is_none(),
            "{owner}: no non-resource URLs are needed: {rule:?}"
        );
        for (what, values) in [
            ("verbs", &rule.verbs),
            ("apiGroups", &groups),
            ("resources", &resources),
            ("resourceNames", &names),
        ] {
            assert!(
                values.iter().all(|v| !v.contains('*')),
                "{owner}: wildcard in {what}: {rule:?}"
            );
        }
        assert!(
            !groups.is_empty() && !resources.is_empty(),
            "{owner}: {rule:?}"
        );
        for verb in &rule.verbs {
            assert!(VERBS.contains(&verb.as_str()), "{owner}: verb {verb}");
            assert!(
                !["deletecollection", "escalate", "bind", "impersonate"].contains(&verb.as_str()),
                "{owner}: {verb} is never needed"
            );
        }
        for group in &groups {
            for resource in &resources {
                let (base, sub) = match resource.split_once('/') {
                    Some((b, s)) => (b, Some(s)),
                    None => (resource.as_str(), None),
                };
                match group.as_str() {
                    GROUP => {
                        let has_status = plurals
                            .get(base)
                            .unwrap_or_else(|| panic!("{owner}: no CRD {base}.{GROUP}"));
                        match sub {
                            None => {}
                            Some("status") => {
                                assert!(has_status, "{owner}: {base} has no status subresource")
                            }
                            Some(other) => panic!("{owner}: no subresource {other} of {base}"),
                        }
                    }
                    "" => {
                        assert!(
                            ["secrets", "namespaces"].contains(&resource.as_str()),
                            "{owner}: core resource {resource} is not used by the code"
                        );
                        if resource == "secrets" {
                            assert!(
                                !rule.verbs.iter().any(|v| v == "list" || v == "watch"),
                                "{owner}: Secrets are read by name, never listed: {rule:?}"
                            );
                        }
                    }
                    "coordination.k8s.io" => assert_eq!(resource, "leases", "{owner}"),
                    // The controller binds the frontend in subscription namespaces.
                    "rbac.authorization.k8s.io" => {
                        assert_eq!(owner, "aro-rp-controller");
                        assert_eq!(resource, "rolebindings", "{owner}");
                    }
                    // The hive cluster runtime's objects (cluster_runtime/hive.rs): Hive's kinds
                    // it uses, as deploy/hive/crds/ describes them; no subresource.
                    HIVE_GROUP => assert!(
                        hive_plurals().contains(resource),
                        "{owner}: Hive kind {resource} is not used by the hive runtime"
                    ),
                    other => panic!("{owner}: API group {other:?} is not used by the code"),
                }
            }
        }
    }
}

#[test]
fn rbac_is_least_privilege() {
    let objects = rp_objects();
    let plurals = crd_plurals();
    let cluster_roles: Vec<ClusterRole> = typed(&objects, "ClusterRole");
    let roles: Vec<Role> = typed(&objects, "Role");
    let names: BTreeSet<_> = cluster_roles
        .iter()
        .filter_map(|r| r.metadata.name.clone())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "aro-rp-controller".to_string(),
            "aro-rp-frontend".to_string(),
            rp_controller::subscriptions::FRONTEND_SUBSCRIPTION_ROLE.to_string(),
        ])
    );
    for role in &cluster_roles {
        assert!(role.aggregation_rule.is_none());
        let rules = role.rules.as_deref().unwrap_or_default();
        check_rules(role.metadata.name.as_deref().unwrap(), rules, &plurals);
        // Leases live in the RP's namespace: a Role grants them, never a ClusterRole.
        assert!(
            rules
                .iter()
                .all(|r| !r.resources.iter().flatten().any(|x| x == "leases")),
            "leases cluster-wide"
        );
    }
    for role in &roles {
        assert_eq!(role.metadata.namespace.as_deref(), Some(NAMESPACE));
        check_rules(
            role.metadata.name.as_deref().unwrap(),
            role.rules.as_deref().unwrap_or_default(),
            &plurals,
        );
    }
    // Only the controller elects a leader; only the frontend creates namespaces.
    let rules_of = |name: &str| -> Vec<PolicyRule> {
        cluster_roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
            .and_then(|r| r.rules.clone())
            .unwrap_or_default()
    };
    let grants = |rules: &[PolicyRule], resource: &str, verb: &str| {
        rules.iter().any(|r| {
            r.resources.iter().flatten().any(|x| x == resource) && r.verbs.iter().any(|v| v == verb)
        })
    };
    let frontend = rules_of("aro-rp-frontend");
    let controller = rules_of("aro-rp-controller");
    // The internet-facing frontend has no cluster-wide access to Secrets: only the role the
    // controller binds in each subscription namespace grants them, and it grants nothing else.
    assert!(
        frontend
            .iter()
            .all(|r| !r.resources.iter().flatten().any(|x| x == "secrets")),
        "the frontend's ClusterRole grants Secrets cluster-wide"
    );
    let subscription = rules_of(rp_controller::subscriptions::FRONTEND_SUBSCRIPTION_ROLE);
    assert!(
        subscription
            .iter()
            .all(|r| r.resources.as_deref() == Some(&["secrets".to_string()][..])),
        "{subscription:?}"
    );
    assert!(grants(&subscription, "secrets", "create"));
    assert!(grants(&controller, "rolebindings", "patch"));
    assert!(grants(&frontend, "namespaces", "create"));
    assert!(!grants(&controller, "namespaces", "create"));
    // The controller's namespaces are the hive runtime's, on the Hive cluster: server-side
    // applied, read and deleted, never listed.
    assert!(grants(&controller, "namespaces", "patch"));
    assert!(!grants(&controller, "namespaces", "list"));
    assert!(
        !grants(&frontend, "openshiftclusters", "delete"),
        "the controller deletes clusters"
    );
    // The frontend's read caches watch clusters and subscriptions; it never watches Secrets.
    assert!(grants(&frontend, "openshiftclusters", "watch"));
    assert!(grants(&frontend, "subscriptions", "watch"));
    assert!(!grants(&frontend, "secrets", "watch"));
    assert!(grants(&controller, "openshiftclusters", "watch"));
    // Status and spec writes of RP custom resources are merge patches of the changed fields,
    // never whole-object updates (docs/decisions/0002: fields a newer version wrote stay).
    assert!(grants(&controller, "openshiftclusters/status", "patch"));
    assert!(grants(&frontend, "openshiftclusters/status", "patch"));
    for resource in [
        "openshiftclusters",
        "openshiftclusters/status",
        "subscriptions",
        "clusteruniquekeys",
        "openshiftversions",
        "platformworkloadidentityrolesets",
    ] {
        assert!(
            !grants(&frontend, resource, "update"),
            "frontend {resource}"
        );
        assert!(
            !grants(&controller, resource, "update"),
            "controller {resource}"
        );
    }
    assert_eq!(roles.len(), 1, "one Role: the controller's leader election");
    let lease_rules = roles[0].rules.clone().unwrap_or_default();
    assert!(grants(&lease_rules, "leases", "create"));
    assert!(lease_rules.iter().any(|r| {
        r.resource_names
            .iter()
            .flatten()
            .any(|n| n == "aro-rp-controller")
            && r.verbs.iter().any(|v| v == "update")
    }));

    // Each binding grants its role to its component's ServiceAccount only.
    let bindings: Vec<ClusterRoleBinding> = typed(&objects, "ClusterRoleBinding");
    let role_bindings: Vec<RoleBinding> = typed(&objects, "RoleBinding");
    let accounts: BTreeSet<String> = typed::<ServiceAccount>(&objects, "ServiceAccount")
        .into_iter()
        .filter_map(|s| s.metadata.name)
        .collect();
    // The subscription role is bound by the controller at run time, never cluster-wide.
    assert_eq!(bindings.len(), 2);
    assert!(
        bindings
            .iter()
            .all(|b| b.role_ref.name != rp_controller::subscriptions::FRONTEND_SUBSCRIPTION_ROLE)
    );
    for (role_ref, subjects) in bindings
        .iter()
        .map(|b| (&b.role_ref, b.subjects.clone().unwrap_or_default()))
        .chain(
            role_bindings
                .iter()
                .map(|b| (&b.role_ref, b.subjects.clone().unwrap_or_default())),
        )
    {
        assert_eq!(subjects.len(), 1, "{role_ref:?}");
        let subject = &subjects[0];
        assert_eq!(subject.kind, "ServiceAccount");
        assert_eq!(subject.namespace.as_deref(), Some(NAMESPACE));
        assert!(accounts.contains(&subject.name));
        assert!(
            role_ref.name.starts_with(&subject.name),
            "{} bound to {}",
            role_ref.name,
            subject.name
        );
    }
}

/// Whether `selector` (matchLabels only, as deploy/ writes them) selects pods labelled `labels`.
fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    assert!(
        selector.match_expressions.is_none(),
        "deploy/ policies use matchLabels only"
    );
    selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn network_policies_deny_by_default_and_allow_only_each_listener() {
    let objects = rp_objects();
    let policies: Vec<NetworkPolicy> = typed(&objects, "NetworkPolicy");
    let deployments: Vec<Deployment> = typed(&objects, "Deployment");
    // A default deny of both directions for every pod of the namespace.
    let deny = policies
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("default-deny"))
        .expect("a default-deny NetworkPolicy");
    let spec = deny.spec.as_ref().unwrap();
    assert_eq!(spec.pod_selector, Some(LabelSelector::default()));
    assert_eq!(
        spec.policy_types.as_deref(),
        Some(&["Ingress".to_string(), "Egress".to_string()][..])
    );
    assert!(spec.ingress.is_none() && spec.egress.is_none());
    for deployment in &deployments {
        let name = deployment.metadata.name.clone().unwrap();
        let template = deployment.spec.as_ref().unwrap().template.clone();
        let labels = template.metadata.unwrap().labels.unwrap();
        // Exactly one policy names this component, and it opens each of its listeners.
        let own: Vec<&NetworkPolicy> = policies
            .iter()
            .filter(|p| {
                let spec = p.spec.as_ref().unwrap();
                let selector = spec.pod_selector.clone().unwrap_or_default();
                selector.match_labels.is_some() && selects(&selector, &labels)
            })
            .collect();
        assert_eq!(own.len(), 1, "{name}: one NetworkPolicy of its own");
        let spec = own[0].spec.as_ref().unwrap();
        let ingress_ports: BTreeSet<i32> = spec
            .ingress
            .iter()
            .flatten()
            .flat_map(|rule| rule.ports.iter().flatten())
            .filter_map(|p| match &p.port {
                Some(IntOrString::Int(port)) => Some(*port),
                _ => None,
            })
            .collect();
        let container_ports: BTreeSet<i32> = template
            .spec
            .unwrap()
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .map(|p| p.container_port)
            .collect();
        assert_eq!(
            ingress_ports, container_ports,
            "{name}: ingress is allowed on exactly its listeners"
        );
        // Every egress rule names its ports (no open egress), and the API server is reachable.
        let egress: Vec<i32> = spec
            .egress
            .iter()
            .flatten()
            .inspect(|rule| {
                assert!(rule.ports.is_some(), "{name}: an egress rule without ports");
            })
            .flat_map(|rule| rule.ports.iter().flatten())
            .filter_map(|p| match &p.port {
                Some(IntOrString::Int(port)) => Some(*port),
                _ => None,
            })
            .collect();
        assert!(egress.contains(&443), "{name}: the Kubernetes API");
    }
    // DNS for every pod.
    let dns = policies
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("allow-dns"))
        .expect("an allow-dns NetworkPolicy");
    let ports: Vec<i32> = dns
        .spec
        .as_ref()
        .unwrap()
        .egress
        .iter()
        .flatten()
        .flat_map(|rule| rule.ports.iter().flatten())
        .filter_map(|p| match &p.port {
            Some(IntOrString::Int(port)) => Some(*port),
            _ => None,
        })
        .collect();
    assert_eq!(ports, vec![53, 53]);
}

#[test]
fn every_crd_file_is_part_of_the_kustomization() {
    let resources: BTreeSet<String> = kustomization_resources(&deploy_dir()).into_iter().collect();
    let files: BTreeSet<String> = std::fs::read_dir(deploy_dir().join("crds"))
        .unwrap()
        .map(|e| format!("crds/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    assert!(!files.is_empty());
    let missing: Vec<_> = files.difference(&resources).collect();
    assert!(
        missing.is_empty(),
        "deploy/kustomization.yaml lacks {missing:?}"
    );
    assert!(resources.contains("rp"));
}

// --------------------------------------------------------------------------- against a cluster

async fn kubectl(kubeconfig: &Path, cache: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .current_dir(deploy_dir().join(".."))
        .output()
        .await
        .expect("kubectl runs (scripts/prereqs requires it)")
}

async fn apply(kubeconfig: &Path, cache: &Path, extra: &[&str]) -> String {
    let deploy = deploy_dir();
    let deploy = deploy.to_str().unwrap();
    let mut args = vec!["apply", "-k", deploy];
    args.extend_from_slice(extra);
    let output = kubectl(kubeconfig, cache, &args).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "kubectl {} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn kubectl_apply_k_installs_the_rp_and_is_idempotent() {
    let dc = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .expect("devcluster starts");
    let client = dc.client().await.expect("admin client");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, dc.kubeconfig_yaml()).unwrap();
    let cache = dir.path().join("cache");

    let first = apply(&kubeconfig, &cache, &[]).await;
    for line in [
        "namespace/aro-rp created",
        "deployment.apps/aro-rp-frontend created",
        "deployment.apps/aro-rp-controller created",
    ] {
        assert!(first.contains(line), "{line:?} in:\n{first}");
    }

    // The CRDs are served.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for plural in crd_plurals().keys() {
        let name = format!("{plural}.{GROUP}");
        tokio::time::timeout(
            Duration::from_secs(30),
            await_condition(crds.clone(), &name, conditions::is_crd_established()),
        )
        .await
        .unwrap_or_else(|_| panic!("{name} is not Established"))
        .unwrap();
    }

    // Every object of deploy/rp exists.
    let ns = Api::<Namespace>::all(client.clone());
    assert!(ns.get_opt(NAMESPACE).await.unwrap().is_some());
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), NAMESPACE);
    let services: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), NAMESPACE);
    let cluster_roles: Api<ClusterRole> = Api::all(client.clone());
    let cluster_role_bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    let roles: Api<Role> = Api::namespaced(client.clone(), NAMESPACE);
    let role_bindings: Api<RoleBinding> = Api::namespaced(client.clone(), NAMESPACE);
    let configs: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    for (component, subcommand) in [("frontend", "frontend"), ("controller", "controller")] {
        let name = format!("aro-rp-{component}");
        let d = deployments.get(&name).await.unwrap();
        assert_eq!(d.spec.as_ref().unwrap().replicas, Some(2));
        let c = only_container(&d);
        assert_eq!(c.image.as_deref(), Some(IMAGE));
        assert_eq!(c.args.as_ref().unwrap()[0], subcommand);
        accounts.get(&name).await.unwrap();
        let role = cluster_roles.get(&name).await.unwrap();
        assert!(!role.rules.unwrap_or_default().is_empty());
        let binding = cluster_role_bindings.get(&name).await.unwrap();
        assert_eq!(binding.role_ref.name, name);
        let pdb = pdbs.get(&name).await.unwrap();
        assert_eq!(pdb.spec.unwrap().min_available, Some(IntOrString::Int(1)));
    }
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), NAMESPACE);
    for name in [
        "default-deny",
        "allow-dns",
        "aro-rp-frontend",
        "aro-rp-controller",
    ] {
        policies.get(name).await.unwrap();
    }
    let frontend = services.get("aro-rp-frontend").await.unwrap();
    assert_eq!(frontend.spec.unwrap().ports.unwrap()[0].port, 443);
    services.get("aro-rp-controller-metrics").await.unwrap();
    services.get("aro-rp-frontend-metrics").await.unwrap();
    roles
        .get("aro-rp-controller-leader-election")
        .await
        .unwrap();
    role_bindings
        .get("aro-rp-controller-leader-election")
        .await
        .unwrap();
    configs.get("aro-rp-config").await.unwrap();

    // Applying again changes nothing and succeeds; so does a server-side apply over it.
    let objects = first.lines().filter(|l| !l.trim().is_empty()).count();
    let expected = rp_objects().values().map(Vec::len).sum::<usize>() + crd_plurals().len();
    assert_eq!(
        objects, expected,
        "every object of the kustomization:\n{first}"
    );
    let second = apply(&kubeconfig, &cache, &[]).await;
    let unchanged = second.lines().filter(|l| l.ends_with(" unchanged")).count();
    assert_eq!(
        unchanged, objects,
        "the second apply changes nothing:\n{second}"
    );
    for _ in 0..2 {
        let server_side = apply(&kubeconfig, &cache, &["--server-side"]).await;
        let applied = server_side
            .lines()
            .filter(|l| l.ends_with(" serverside-applied"))
            .count();
        assert_eq!(applied, objects, "server-side apply:\n{server_side}");
    }
    let d = deployments.get("aro-rp-controller").await.unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(2));

    // What the ServiceAccounts may do, as `kubectl auth can-i --as` asks the API server (RBAC
    // enforced): the frontend has no Secrets outside a subscription namespace the controller
    // bound it in, and no deletes of clusters; the controller no cluster creates.
    let can_i = |account: &'static str, args: &'static [&'static str]| {
        let (kubeconfig, cache) = (kubeconfig.clone(), cache.clone());
        async move {
            let mut full = vec!["auth", "can-i"];
            full.extend_from_slice(args);
            let who = format!("--as=system:serviceaccount:{NAMESPACE}:{account}");
            full.push(&who);
            let output = kubectl(&kubeconfig, &cache, &full).await;
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        }
    };
    for (account, args, expected) in [
        (
            "aro-rp-frontend",
            &[
                "create",
                "openshiftclusters.rp.aro.openshift.io",
                "-n",
                "aro-x",
            ][..],
            "yes",
        ),
        (
            "aro-rp-frontend",
            &[
                "delete",
                "openshiftclusters.rp.aro.openshift.io",
                "-n",
                "aro-x",
            ][..],
            "no",
        ),
        (
            "aro-rp-frontend",
            &["get", "secrets", "-n", "aro-x"][..],
            "no",
        ),
        (
            "aro-rp-frontend",
            &["get", "secrets", "-n", NAMESPACE][..],
            "no",
        ),
        ("aro-rp-frontend", &["list", "secrets", "-A"][..], "no"),
        (
            "aro-rp-controller",
            &[
                "create",
                "openshiftclusters.rp.aro.openshift.io",
                "-n",
                "aro-x",
            ][..],
            "no",
        ),
        (
            "aro-rp-controller",
            &["patch", "rolebindings", "-n", "aro-x"][..],
            "yes",
        ),
        (
            "aro-rp-controller",
            &["update", "leases/aro-rp-controller", "-n", NAMESPACE][..],
            "yes",
        ),
        (
            "aro-rp-controller",
            &["update", "leases/another", "-n", NAMESPACE][..],
            "no",
        ),
    ] {
        assert_eq!(
            can_i(account, args).await,
            expected,
            "{account} can-i {args:?}"
        );
    }
    // The binding the controller makes in a subscription namespace gives the frontend exactly
    // that namespace's Secrets.
    let access = rp_controller::subscriptions::subscription_access(
        "x",
        rp_controller::subscriptions::DEFAULT_FRONTEND_SERVICE_ACCOUNT,
    )
    .unwrap()
    .unwrap();
    let controller = dc.in_process_client_as(devcluster::UserInfo::service_account(
        NAMESPACE,
        "aro-rp-controller",
    ));
    let params = kube::api::PatchParams::apply("aro-rp-controller").force();
    Api::<Namespace>::all(controller.clone())
        .patch("aro-x", &params, &kube::api::Patch::Apply(&access.0))
        .await
        .expect("the controller makes the subscription namespace");
    Api::<RoleBinding>::namespaced(controller, "aro-x")
        .patch(
            rp_controller::subscriptions::FRONTEND_SUBSCRIPTION_ROLE,
            &params,
            &kube::api::Patch::Apply(&access.1),
        )
        .await
        .expect("the controller may bind the frontend there (it holds every grant of the role)");
    assert_eq!(
        can_i("aro-rp-frontend", &["get", "secrets", "-n", "aro-x"]).await,
        "yes"
    );
    assert_eq!(
        can_i("aro-rp-frontend", &["list", "secrets", "-n", "aro-x"]).await,
        "no"
    );
    assert_eq!(
        can_i("aro-rp-frontend", &["get", "secrets", "-n", "kube-system"]).await,
        "no"
    );

    dc.stop().await;
}
