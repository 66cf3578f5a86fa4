//! What each user was allowed and denied, recorded when a test asks for it: the least-privilege
//! tests compare a component's recorded accesses with its RBAC grants (no grant unused) and name
//! every denied request (a missing grant). Off unless
//! [`crate::DevclusterConfig::record_access`] is set; in-process only.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

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
    /// A resource request's record (what tests expect to find).
    pub fn resource(
        verb: &str,
        group: &str,
        resource: &str,
        subresource: &str,
        namespace: &str,
        name: &str,
    ) -> Self {
        AccessRecord {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: namespace.into(),
            name: name.into(),
            path: String::new(),
        }
    }

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

type ByUser = Arc<Mutex<BTreeMap<String, BTreeSet<AccessRecord>>>>;

/// The recorded accesses by user name. Cheap when off (one branch per request). A clone reads
/// the same log (a test keeps one after handing the server on).
#[derive(Default, Clone)]
pub struct AccessLog {
    allowed: Option<ByUser>,
    denied: Option<ByUser>,
}

impl AccessLog {
    pub fn new(enabled: bool) -> Self {
        AccessLog {
            allowed: enabled.then(Default::default),
            denied: enabled.then(Default::default),
        }
    }

    pub(crate) fn record(&self, user: &UserInfo, attributes: &Attributes) {
        insert(&self.allowed, user, attributes);
    }

    pub(crate) fn record_denied(&self, user: &UserInfo, attributes: &Attributes) {
        insert(&self.denied, user, attributes);
    }

    /// What `user` was allowed to do so far (empty when recording is off).
    pub fn of_user(&self, user: &str) -> BTreeSet<AccessRecord> {
        of(&self.allowed, user)
    }

    /// What `user` was denied so far (empty when recording is off).
    pub fn denied_to(&self, user: &str) -> BTreeSet<AccessRecord> {
        of(&self.denied, user)
    }

    /// Every user that made a request so far (allowed or denied).
    pub fn users(&self) -> Vec<String> {
        let mut users = BTreeSet::new();
        for log in [&self.allowed, &self.denied].into_iter().flatten() {
            users.extend(
                log.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .keys()
                    .cloned(),
            );
        }
        users.into_iter().collect()
    }
}

fn insert(log: &Option<ByUser>, user: &UserInfo, attributes: &Attributes) {
    if let Some(log) = log {
        log.lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(user.name.clone())
            .or_default()
            .insert(AccessRecord::of(attributes));
    }
}

fn of(log: &Option<ByUser>, user: &str) -> BTreeSet<AccessRecord> {
    log.as_ref()
        .and_then(|r| {
            r.lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(user)
                .cloned()
        })
        .unwrap_or_default()
}

impl std::fmt::Display for AccessRecord {
    /// `verb resource[/subresource][ "name"] in API group "g" [in namespace ns]`, or `verb path`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.resource.is_empty() {
            return write!(f, "{} path {}", self.verb, self.path);
        }
        write!(f, "{} {}", self.verb, self.resource)?;
        if !self.subresource.is_empty() {
            write!(f, "/{}", self.subresource)?;
        }
        if !self.name.is_empty() {
            write!(f, " {:?}", self.name)?;
        }
        write!(f, " in API group {:?}", self.group)?;
        if !self.namespace.is_empty() {
            write!(f, " in namespace {}", self.namespace)?;
        }
        Ok(())
    }
}
