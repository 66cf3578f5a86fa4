//! The OpenShift kinds the operator reads and writes, as kube `ApiResource`s (they have no typed
//! Rust bindings here), and minimal CRDs for them so an API server without OpenShift (devcluster,
//! kind) can serve them.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::ApiResource;
use serde_json::json;

/// An OpenShift kind: its API resource and whether it is namespaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
}

impl Kind {
    /// `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The kube `ApiResource` of this kind.
    pub fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.to_string(),
            version: self.version.to_string(),
            api_version: self.api_version(),
            kind: self.kind.to_string(),
            plural: self.plural.to_string(),
        }
    }
}

pub const MACHINE_SET: Kind = Kind {
    group: "machine.openshift.io",
    version: "v1beta1",
    kind: "MachineSet",
    plural: "machinesets",
    namespaced: true,
};
pub const MACHINE: Kind = Kind {
    group: "machine.openshift.io",
    version: "v1beta1",
    kind: "Machine",
    plural: "machines",
    namespaced: true,
};
pub const MACHINE_CONFIG: Kind = Kind {
    group: "machineconfiguration.openshift.io",
    version: "v1",
    kind: "MachineConfig",
    plural: "machineconfigs",
    namespaced: false,
};
pub const MACHINE_CONFIG_POOL: Kind = Kind {
    group: "machineconfiguration.openshift.io",
    version: "v1",
    kind: "MachineConfigPool",
    plural: "machineconfigpools",
    namespaced: false,
};
pub const CLUSTER_VERSION: Kind = Kind {
    group: "config.openshift.io",
    version: "v1",
    kind: "ClusterVersion",
    plural: "clusterversions",
    namespaced: false,
};
pub const SECURITY_CONTEXT_CONSTRAINTS: Kind = Kind {
    group: "security.openshift.io",
    version: "v1",
    kind: "SecurityContextConstraints",
    plural: "securitycontextconstraints",
    namespaced: false,
};

/// Built-in Kubernetes kinds the operator applies generically.
const BUILTIN: &[Kind] = &[
    Kind {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        namespaced: false,
    },
    Kind {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        namespaced: true,
    },
    Kind {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        namespaced: true,
    },
    Kind {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        namespaced: true,
    },
    Kind {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        namespaced: true,
    },
    Kind {
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        plural: "daemonsets",
        namespaced: true,
    },
    Kind {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        namespaced: true,
    },
    Kind {
        group: "networking.k8s.io",
        version: "v1",
        kind: "NetworkPolicy",
        plural: "networkpolicies",
        namespaced: true,
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRole",
        plural: "clusterroles",
        namespaced: false,
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRoleBinding",
        plural: "clusterrolebindings",
        namespaced: false,
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "Role",
        plural: "roles",
        namespaced: true,
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        namespaced: true,
    },
    Kind {
        group: "apiextensions.k8s.io",
        version: "v1",
        kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions",
        namespaced: false,
    },
    Kind {
        group: "aro.openshift.io",
        version: "v1alpha1",
        kind: "Cluster",
        plural: "clusters",
        namespaced: false,
    },
];

/// The OpenShift kinds the operator uses.
pub const OPENSHIFT: &[Kind] = &[
    MACHINE_SET,
    MACHINE,
    MACHINE_CONFIG,
    MACHINE_CONFIG_POOL,
    CLUSTER_VERSION,
    SECURITY_CONTEXT_CONSTRAINTS,
];

/// The kind of an object given its `apiVersion` and `kind`, if the operator knows it.
pub fn lookup(api_version: &str, kind: &str) -> Option<Kind> {
    OPENSHIFT
        .iter()
        .chain(BUILTIN.iter())
        .find(|k| k.kind == kind && k.api_version() == api_version)
        .copied()
}

/// Minimal CRDs (schema-less, status subresource where OpenShift has one) for the OpenShift kinds
/// the operator uses, for API servers that are not OpenShift (devcluster in local mode and tests).
pub fn openshift_crds() -> Vec<CustomResourceDefinition> {
    OPENSHIFT
        .iter()
        .map(|k| {
            // SCCs keep their fields at the top level and have no status.
            let has_status = *k != SECURITY_CONTEXT_CONSTRAINTS;
            let mut version = json!({
                "name": k.version,
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
            });
            if has_status {
                version["subresources"] = json!({"status": {}});
            }
            serde_json::from_value(json!({
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": format!("{}.{}", k.plural, k.group)},
                "spec": {
                    "group": k.group,
                    "names": {"kind": k.kind, "plural": k.plural, "singular": k.kind.to_lowercase(), "listKind": format!("{}List", k.kind)},
                    "scope": if k.namespaced { "Namespaced" } else { "Cluster" },
                    "versions": [version],
                }
            }))
            .expect("the CRD literal matches the CustomResourceDefinition type")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_openshift_and_builtin_kinds() {
        assert_eq!(
            lookup("machine.openshift.io/v1beta1", "MachineSet"),
            Some(MACHINE_SET)
        );
        assert_eq!(lookup("v1", "Namespace").unwrap().plural, "namespaces");
        assert!(!lookup("v1", "Namespace").unwrap().namespaced);
        assert!(lookup("apps/v1", "DaemonSet").unwrap().namespaced);
        assert_eq!(lookup("apps/v1beta2", "DaemonSet"), None);
        assert_eq!(lookup("v1", "Pod"), None);
    }

    #[test]
    fn openshift_crds_name_their_group_and_scope() {
        let crds = openshift_crds();
        assert_eq!(crds.len(), OPENSHIFT.len());
        let scc = crds
            .iter()
            .find(|c| c.spec.names.kind == "SecurityContextConstraints")
            .unwrap();
        assert_eq!(
            scc.metadata.name.as_deref(),
            Some("securitycontextconstraints.security.openshift.io")
        );
        assert_eq!(scc.spec.scope, "Cluster");
        assert!(scc.spec.versions[0].subresources.is_none());
        let ms = crds
            .iter()
            .find(|c| c.spec.names.kind == "MachineSet")
            .unwrap();
        assert_eq!(ms.spec.scope, "Namespaced");
        assert!(ms.spec.versions[0].subresources.is_some());
    }
}
