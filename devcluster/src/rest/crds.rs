//! CRD registration: the resources a CustomResourceDefinition defines are served as soon as it is
//! written (the after-write step of a client's write), from the stored CRDs at startup, and by
//! the controllers when they establish it.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

use super::Rest;
use crate::registry::crd_resource_types;

/// Storage key prefix of the CustomResourceDefinitions.
pub const CRD_PREFIX: &str = "apiextensions.k8s.io/customresourcedefinitions/";

impl Rest {
    /// Serve (or stop serving) the resources of a CRD object right away.
    pub fn register_crd(&self, crd: &Value) {
        let name = crd["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match serde_json::from_value::<CustomResourceDefinition>(crd.clone()) {
            Ok(typed) => self.registry.set_crd(&name, crd_resource_types(&typed)),
            Err(e) => tracing::warn!(crd = %name, error = %e, "cannot serve CRD"),
        }
    }

    /// Register every stored CRD (at startup).
    pub fn register_stored_crds(&self) {
        let (crds, _, _) = self.store.list(CRD_PREFIX, None, |_| true, None);
        for crd in crds {
            self.register_crd(&crd.value());
        }
    }
}
