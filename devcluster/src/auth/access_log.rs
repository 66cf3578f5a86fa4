//! What each user was allowed to do, recorded when a test asks for it: the least-privilege tests
//! compare a component's recorded accesses with its RBAC grants (no grant unused, none missing).
//! Off unless [`crate::DevclusterConfig::record_access`] is set; in-process only.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::{Attributes, UserInfo};

/// One allowed access, without the object name unless the request named one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AccessRecord {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    /// The path of a non-resource request (`""` for resource requests).
    pub path: String,
}

impl AccessRecord {
    pub fn of(attributes: &Attributes) -> Self {
        match &attributes.resource {
            Some(r) => AccessRecord {
                verb: attributes.verb.clone(),
                group: r.group.clone(),
                resource: r.resource.clone(),
                subresource: r.subresource.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                path: String::new(),
            },
            None => AccessRecord {
                verb: attributes.verb.clone(),
                group: String::new(),
                resource: String::new(),
                subresource: String::new(),
                namespace: String::new(),
                name: String::new(),
                path: attributes.path.clone(),
            },
        }
    }
}

/// The recorded accesses by user name. Cheap when off (one branch per request).
#[derive(Default)]
pub struct AccessLog {
    records: Option<Mutex<BTreeMap<String, BTreeSet<AccessRecord>>>>,
}

impl AccessLog {
    pub fn new(enabled: bool) -> Self {
        AccessLog {
            records: enabled.then(Default::default),
        }
    }

    pub(crate) fn record(&self, user: &UserInfo, attributes: &Attributes) {
        if let Some(records) = &self.records {
            records
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(user.name.clone())
                .or_default()
                .insert(AccessRecord::of(attributes));
        }
    }

    /// What `user` was allowed to do so far (empty when recording is off).
    pub fn of_user(&self, user: &str) -> BTreeSet<AccessRecord> {
        self.records
            .as_ref()
            .and_then(|r| {
                r.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(user)
                    .cloned()
            })
            .unwrap_or_default()
    }

    /// Every user that made an allowed request so far.
    pub fn users(&self) -> Vec<String> {
        self.records
            .as_ref()
            .map(|r| {
                r.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .keys()
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}
