//! The emulated Resource Manager: resources, long-running operations, authorization, and the
//! behaviour of each resource provider. Pure state machine over JSON; the HTTP layer lives in
//! `server`. Long-running operations complete lazily: every request first advances the operations
//! whose delay has passed, so there are no background tasks and no timing races.

use crate::authz::{self, Permission};
use crate::compute::{self, SkuRestriction, normalize_location};
use crate::config::{ProviderRegistration, Seed};
use crate::error::ApiError;
use crate::network;
use crate::path::{self, ProviderPath, Route, is_within, key, last_segment};
use crate::resources::Resources;
use chrono::{DateTime, SecondsFormat, Utc};
use http::Method;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Application id.
    pub client_id: String,
    /// Object id role assignments refer to.
    pub object_id: String,
    /// Whether role assignments limit the caller.
    pub restricted: bool,
}

impl Caller {
    /// The emulator itself (seeding): allowed everything.
    pub fn system() -> Self {
        Self {
            client_id: "arm-emulator".into(),
            object_id: "arm-emulator".into(),
            restricted: false,
        }
    }
}

/// One ARM request, already authenticated.
pub struct ArmRequest<'a> {
    /// HTTP method.
    pub method: &'a Method,
    /// Decoded path.
    pub path: &'a str,
    /// Query pairs.
    pub query: &'a [(String, String)],
    /// JSON body, if any.
    pub body: Option<Value>,
    /// Public base URL (scheme://host:port) for polling URLs.
    pub base_url: &'a str,
    /// The caller.
    pub caller: &'a Caller,
    /// Fault injection: a long-running operation this request starts ends Failed.
    pub fail_operation: bool,
    /// `If-Match` header: the write or delete applies only to the resource with this etag (`*`:
    /// any existing resource).
    pub if_match: Option<String>,
    /// `If-None-Match` header: `*` makes a PUT create-only.
    pub if_none_match: Option<String>,
}

impl ArmRequest<'_> {
    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn api_version(&self) -> &str {
        self.query("api-version").unwrap_or_default()
    }
}

/// An answer: status, optional JSON body, extra headers.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Option<Value>,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    fn empty(status: u16) -> Self {
        Self {
            status,
            body: None,
            headers: Vec::new(),
        }
    }

    fn list(items: Vec<Value>) -> Self {
        Self::json(200, json!({ "value": items }))
    }

    /// A resource's etag is also sent as the `ETag` header (RPC: ETag).
    fn with_etag(mut self) -> Self {
        if let Some(tag) = self
            .body
            .as_ref()
            .and_then(|b| b["etag"].as_str())
            .map(str::to_string)
        {
            self.headers.push(("etag", tag));
        }
        self
    }
}

/// A stored resource.
#[derive(Clone, Debug, Serialize)]
pub struct Resource {
    /// Id with the casing of the last write.
    pub id: String,
    /// Stored body (computed fields are added when rendering).
    pub body: Value,
    /// VM power state (`running`, `deallocated`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power_state: Option<String>,
}

impl Resource {
    pub(crate) fn type_lower(&self) -> String {
        self.body["type"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase()
    }

    fn provisioning_state(&self) -> &str {
        self.body
            .pointer("/properties/provisioningState")
            .and_then(Value::as_str)
            .unwrap_or("Succeeded")
    }

    fn location(&self) -> Option<String> {
        self.body["location"].as_str().map(normalize_location)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
enum OpStatus {
    InProgress,
    Succeeded,
    Failed,
}

#[derive(Clone, Debug)]
enum Effect {
    /// The resource (and children) reach Succeeded.
    Provisioned { key: String },
    /// The resource and everything within it disappear.
    Deleted { key: String },
    /// A VM reaches a power state.
    Power { key: String, state: String },
}

#[derive(Clone, Debug)]
struct Operation {
    id: String,
    subscription: String,
    namespace: String,
    location: String,
    api_version: String,
    status: OpStatus,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    effect: Effect,
    error: Option<ApiError>,
}

/// Settings of the engine.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// Delay of long-running operations.
    pub lro_delay: Duration,
    /// `Retry-After` on in-progress operations.
    pub lro_retry_after_secs: u64,
    /// Offered locations.
    pub locations: Vec<String>,
    /// Known subscriptions (empty = all).
    pub subscriptions: Vec<String>,
    /// Tenant of the subscriptions.
    pub tenant_id: String,
}

/// Namespaces registered by default, with a few of their resource types.
const PROVIDERS: &[(&str, &[&str])] = &[
    (
        "Microsoft.Network",
        &[
            "virtualNetworks",
            "networkSecurityGroups",
            "routeTables",
            "loadBalancers",
            "publicIPAddresses",
            "privateEndpoints",
            "privateLinkServices",
            "natGateways",
            "networkInterfaces",
            "dnszones",
            "privateDnsZones",
        ],
    ),
    ("Microsoft.Compute", &["virtualMachines", "disks", "skus"]),
    ("Microsoft.Storage", &["storageAccounts"]),
    (
        "Microsoft.Authorization",
        &["roleAssignments", "roleDefinitions", "permissions"],
    ),
    ("Microsoft.Resources", &["resourceGroups", "deployments"]),
];

/// Types whose references must exist when another resource links to them.
const VALIDATED_REFERENCES: &[&str] = &[
    "microsoft.network/virtualnetworks",
    "microsoft.network/virtualnetworks/subnets",
    "microsoft.network/networksecuritygroups",
    "microsoft.network/routetables",
    "microsoft.network/natgateways",
    "microsoft.network/publicipaddresses",
    "microsoft.network/networkinterfaces",
    "microsoft.network/loadbalancers",
    "microsoft.network/privatelinkservices",
];

/// Types a linking resource needs `join/action` on.
const JOINABLE: &[&str] = &[
    "microsoft.network/virtualnetworks/subnets",
    "microsoft.network/networksecuritygroups",
    "microsoft.network/routetables",
    "microsoft.network/natgateways",
    "microsoft.network/publicipaddresses",
];

const RESOURCE_GROUP: &str = "microsoft.resources/resourcegroups";
const SUBNET: &str = "microsoft.network/virtualnetworks/subnets";
const ROLE_ASSIGNMENT: &str = "microsoft.authorization/roleassignments";
const ROLE_DEFINITION: &str = "microsoft.authorization/roledefinitions";

const DNS_RECORD_TYPES: &[&str] = &[
    "a", "aaaa", "caa", "cname", "mx", "ns", "ptr", "soa", "srv", "txt",
];

/// The emulated ARM state.
pub struct Engine {
    settings: EngineSettings,
    resources: Resources,
    operations: HashMap<String, Operation>,
    /// In-progress operations by due time, so `advance` looks only at those that are due.
    pending: BTreeSet<(Instant, String)>,
    providers: HashMap<String, String>,
    sku_restrictions: Vec<SkuRestriction>,
    quotas: BTreeMap<String, u64>,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn etag() -> String {
    format!("W/\"{}\"", uuid::Uuid::new_v4())
}

fn precondition_failed(message: String) -> ApiError {
    ApiError::new(412, "PreconditionFailed", message)
}

/// ARM's conditional requests (RPC: ETag): a PUT with `If-None-Match: *` only creates; an
/// `If-Match` PUT, PATCH or DELETE applies only to the resource whose etag it names (`*`: any
/// existing one). A DELETE of an absent resource stays 204 and a PATCH of one 404 (answered by
/// the caller).
fn check_preconditions(
    req: &ArmRequest<'_>,
    id: &str,
    existing: Option<&Resource>,
) -> Result<(), ApiError> {
    let name = last_segment(id);
    if let Some(none_match) = req.if_none_match.as_deref().map(str::trim)
        && *req.method == Method::PUT
        && existing.is_some()
    {
        let current = existing.and_then(|e| e.body["etag"].as_str());
        if none_match == "*" || current == Some(none_match) {
            return Err(precondition_failed(format!(
                "The resource '{name}' already exists and the If-None-Match condition '{none_match}' is not met."
            )));
        }
    }
    if let Some(wanted) = req.if_match.as_deref().map(str::trim) {
        match existing {
            None if *req.method == Method::PUT => {
                return Err(precondition_failed(format!(
                    "The resource '{name}' does not exist and the If-Match condition '{wanted}' is not met."
                )));
            }
            None => {}
            Some(e) => {
                let current = e.body["etag"].as_str().unwrap_or_default();
                if wanted != "*" && wanted != current {
                    return Err(precondition_failed(format!(
                        "The etag '{wanted}' of the If-Match condition does not match the current etag '{current}' of the resource '{name}'."
                    )));
                }
            }
        }
    }
    Ok(())
}

impl Engine {
    /// An empty ARM.
    pub fn new(settings: EngineSettings) -> Self {
        Self {
            settings,
            resources: Resources::default(),
            operations: HashMap::new(),
            pending: BTreeSet::new(),
            providers: HashMap::new(),
            sku_restrictions: Vec::new(),
            quotas: BTreeMap::new(),
        }
    }

    /// Forgets every resource, operation, registration, restriction and quota.
    pub fn reset(&mut self) {
        self.resources.clear();
        self.operations.clear();
        self.pending.clear();
        self.providers.clear();
        self.sku_restrictions.clear();
        self.quotas.clear();
    }

    /// Every stored resource (rendered), for the admin state dump.
    pub fn dump(&mut self) -> Vec<Value> {
        self.advance();
        let keys: Vec<String> = self.resources.keys().cloned().collect();
        keys.iter().filter_map(|k| self.render(k, false)).collect()
    }

    /// Applies a seed's resources, registrations, restrictions and quotas (principals are the
    /// server's business). Resources end Succeeded.
    pub fn apply_seed(&mut self, seed: &Seed) -> Result<(), crate::Error> {
        for p in &seed.providers {
            self.set_provider(p);
        }
        self.sku_restrictions
            .extend(seed.sku_restrictions.iter().cloned());
        self.quotas.extend(seed.quotas.clone());
        let caller = Caller::system();
        for r in &seed.resources {
            let query = vec![("api-version".to_string(), "2024-01-01".to_string())];
            let req = ArmRequest {
                method: &Method::PUT,
                path: &r.id,
                query: &query,
                body: Some(r.body.clone()),
                base_url: "http://seed.invalid",
                caller: &caller,
                fail_operation: false,
                if_match: None,
                if_none_match: None,
            };
            self.handle(&req).map_err(|e| crate::Error::SeedRejected {
                id: r.id.clone(),
                code: e.code,
                message: e.message,
            })?;
            self.complete_all();
        }
        Ok(())
    }

    fn set_provider(&mut self, p: &ProviderRegistration) {
        self.providers.insert(
            format!("{}/{}", p.subscription, p.namespace).to_ascii_lowercase(),
            p.registration_state.clone(),
        );
    }

    /// Finishes every pending operation now.
    fn complete_all(&mut self) {
        while let Some((_, id)) = self.pending.pop_first() {
            self.finish(&id);
        }
    }

    /// Completes the operations whose delay has passed.
    pub fn advance(&mut self) {
        let now = Instant::now();
        while let Some(first) = self.pending.first()
            && first.0 <= now
        {
            if let Some((_, id)) = self.pending.pop_first() {
                self.finish(&id);
            }
        }
    }

    fn finish(&mut self, op_id: &str) {
        let Some(op) = self.operations.get(op_id).cloned() else {
            return;
        };
        if op.error.is_some() {
            // A failed operation leaves its resource in place, Failed.
            let key = match &op.effect {
                Effect::Provisioned { key }
                | Effect::Deleted { key }
                | Effect::Power { key, .. } => key,
            };
            if let Some(mut r) = self.resources.get_mut(key)
                && r.body.get("properties").is_some_and(Value::is_object)
            {
                r.body["properties"]["provisioningState"] = "Failed".into();
            }
        }
        match &op.effect {
            _ if op.error.is_some() => {}
            Effect::Provisioned { key } => {
                let keys: Vec<String> =
                    self.resources.within(key).map(|(k, _)| k.clone()).collect();
                for k in keys {
                    if let Some(mut r) = self.resources.get_mut(&k)
                        && matches!(r.provisioning_state(), "Creating" | "Updating")
                    {
                        r.body["properties"]["provisioningState"] = "Succeeded".into();
                        if r.type_lower() == "microsoft.compute/virtualmachines"
                            && r.power_state.as_deref() == Some("starting")
                        {
                            r.power_state = Some("running".into());
                        }
                    }
                }
            }
            Effect::Deleted { key } => self.remove_within(key),
            Effect::Power { key, state } => {
                if let Some(mut r) = self.resources.get_mut(key) {
                    r.power_state = Some(state.clone());
                }
            }
        }
        if let Some(o) = self.operations.get_mut(op_id) {
            o.status = if o.error.is_some() {
                OpStatus::Failed
            } else {
                OpStatus::Succeeded
            };
            o.end = Some(Utc::now());
        }
    }

    fn remove_within(&mut self, outer: &str) {
        let keys: Vec<String> = self
            .resources
            .within(&key(outer))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            self.resources.remove(&k);
        }
    }

    // ---------------------------------------------------------------- dispatch

    /// Answers one ARM request.
    pub fn handle(&mut self, req: &ArmRequest<'_>) -> Result<Reply, ApiError> {
        self.advance();
        let route = path::parse(req.path).map_err(|_| {
            ApiError::new(
                404,
                "InvalidResourceType",
                format!(
                    "The path '{}' is not an Azure Resource Manager path.",
                    req.path
                ),
            )
        })?;
        check_api_version(req)?;
        match route {
            Route::Subscriptions => Ok(self.list_subscriptions()),
            Route::Subscription { subscription } => {
                self.subscription_exists(&subscription)?;
                only(req, &[Method::GET])?;
                Ok(Reply::json(200, self.subscription_body(&subscription)))
            }
            Route::ResourceGroups { subscription } => {
                self.subscription_exists(&subscription)?;
                only(req, &[Method::GET])?;
                self.authorize(
                    req.caller,
                    "Microsoft.Resources/subscriptions/resourceGroups/read",
                    &format!("/subscriptions/{subscription}"),
                )?;
                Ok(self.list_groups(&subscription))
            }
            Route::ResourceGroup { subscription, name } => {
                self.subscription_exists(&subscription)?;
                self.group(req, &subscription, &name)
            }
            Route::GenericResources {
                subscription,
                resource_group,
            } => {
                self.subscription_exists(&subscription)?;
                only(req, &[Method::GET])?;
                self.generic_list(req, &subscription, resource_group.as_deref())
            }
            Route::Providers { subscription } => {
                self.subscription_exists(&subscription)?;
                only(req, &[Method::GET])?;
                let list = PROVIDERS
                    .iter()
                    .map(|(ns, _)| self.provider_body(&subscription, ns))
                    .collect();
                Ok(Reply::list(list))
            }
            Route::SubscriptionOperationResult { subscription, id } => {
                self.subscription_exists(&subscription)?;
                self.operation_result(req, &id)
            }
            Route::Provider(pp) => {
                self.subscription_exists(&pp.scope.subscription)?;
                self.provider_route(req, &pp)
            }
        }
    }

    fn subscription_exists(&self, sub: &str) -> Result<(), ApiError> {
        let known = &self.settings.subscriptions;
        if known.is_empty() || known.iter().any(|s| s.eq_ignore_ascii_case(sub)) {
            Ok(())
        } else {
            Err(ApiError::new(
                404,
                "SubscriptionNotFound",
                format!("The subscription '{sub}' could not be found."),
            ))
        }
    }

    fn subscription_body(&self, sub: &str) -> Value {
        json!({
            "id": format!("/subscriptions/{sub}"),
            "subscriptionId": sub,
            "tenantId": self.settings.tenant_id,
            "displayName": format!("Emulated subscription {sub}"),
            "state": "Enabled",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
        })
    }

    fn list_subscriptions(&self) -> Reply {
        let mut subs: Vec<String> = self.settings.subscriptions.clone();
        for (_, r) in self.resources.of_type(RESOURCE_GROUP) {
            if let Ok(Route::ResourceGroup { subscription, .. }) = path::parse(&r.id)
                && !subs.iter().any(|s| s.eq_ignore_ascii_case(&subscription))
            {
                subs.push(subscription);
            }
        }
        Reply::list(subs.iter().map(|s| self.subscription_body(s)).collect())
    }

    // ---------------------------------------------------------------- authorization

    /// The permissions a caller holds at a scope.
    pub fn permissions(&self, caller: &Caller, scope: &str) -> Vec<Permission> {
        if !caller.restricted {
            return vec![Permission {
                actions: vec!["*".into()],
                ..Default::default()
            }];
        }
        let mut out = Vec::new();
        for (_, r) in self.resources.of_type(ROLE_ASSIGNMENT) {
            let props = &r.body["properties"];
            let principal = props["principalId"].as_str().unwrap_or_default();
            let assignment_scope = props["scope"].as_str().unwrap_or_default();
            if !principal.eq_ignore_ascii_case(&caller.object_id)
                || !is_within(scope, assignment_scope)
            {
                continue;
            }
            let role = props["roleDefinitionId"].as_str().unwrap_or_default();
            out.extend(self.role_permissions(role));
        }
        out
    }

    fn role_permissions(&self, role_definition_id: &str) -> Vec<Permission> {
        let guid = last_segment(role_definition_id);
        if let Some((_, def)) = self
            .resources
            .of_type(ROLE_DEFINITION)
            .find(|(_, r)| last_segment(&r.id).eq_ignore_ascii_case(guid))
        {
            return authz::definition_permissions(&def.body);
        }
        authz::built_in(guid)
            .map(|r| vec![authz::built_in_permissions(r)])
            .unwrap_or_default()
    }

    fn role_exists(&self, role_definition_id: &str) -> bool {
        let guid = last_segment(role_definition_id);
        authz::built_in(guid).is_some()
            || self
                .resources
                .of_type(ROLE_DEFINITION)
                .any(|(_, r)| last_segment(&r.id).eq_ignore_ascii_case(guid))
    }

    fn authorize(&self, caller: &Caller, action: &str, scope: &str) -> Result<(), ApiError> {
        if authz::allowed(&self.permissions(caller, scope), action) {
            Ok(())
        } else {
            Err(ApiError::new(
                403,
                "AuthorizationFailed",
                format!(
                    "The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
                    caller.client_id, caller.object_id
                ),
            ))
        }
    }

    fn authorize_linked(
        &self,
        caller: &Caller,
        write_action: &str,
        id: &str,
        join_action: &str,
        linked: &str,
    ) -> Result<(), ApiError> {
        if authz::allowed(&self.permissions(caller, linked), join_action) {
            Ok(())
        } else {
            Err(ApiError::new(
                403,
                "LinkedAuthorizationFailed",
                format!(
                    "The client '{}' with object id '{}' has permission to perform action '{write_action}' on scope '{id}'; however, it does not have permission to perform action(s) '{join_action}' on the linked scope(s) '{linked}' (respectively) or the linked scope(s) are invalid.",
                    caller.client_id, caller.object_id
                ),
            ))
        }
    }

    // ---------------------------------------------------------------- resource groups

    fn group_key(sub: &str, name: &str) -> String {
        key(&path::resource_group_id(sub, name))
    }

    fn group_exists(&self, sub: &str, name: &str) -> bool {
        self.resources.contains_key(&Self::group_key(sub, name))
    }

    fn list_groups(&mut self, sub: &str) -> Reply {
        let keys: Vec<String> = self
            .resources
            .of_type(RESOURCE_GROUP)
            .filter(|(_, r)| {
                matches!(path::parse(&r.id), Ok(Route::ResourceGroup { subscription, .. }) if subscription.eq_ignore_ascii_case(sub))
            })
            .map(|(k, _)| k.clone())
            .collect();
        Reply::list(keys.iter().filter_map(|k| self.render(k, false)).collect())
    }

    fn group(&mut self, req: &ArmRequest<'_>, sub: &str, name: &str) -> Result<Reply, ApiError> {
        let id = path::resource_group_id(sub, name);
        let k = key(&id);
        let action =
            |verb: &str| format!("Microsoft.Resources/subscriptions/resourceGroups/{verb}");
        match *req.method {
            Method::GET | Method::HEAD => {
                self.authorize(req.caller, &action("read"), &id)?;
                match self.render(&k, false) {
                    Some(body) if *req.method == Method::GET => Ok(Reply::json(200, body)),
                    Some(_) => Ok(Reply::empty(204)),
                    None => Err(ApiError::group_not_found(name)),
                }
            }
            Method::PUT => {
                self.authorize(req.caller, &action("write"), &id)?;
                validate_group_name(name)?;
                let body = object_body(req)?;
                let location = body["location"]
                    .as_str()
                    .map(normalize_location)
                    .filter(|l| !l.is_empty())
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "LocationRequired",
                            "The location property is required for this definition.",
                        )
                        .with_target("location")
                    })?;
                let existing = self.resources.get(&k);
                if let Some(e) = existing {
                    if e.provisioning_state() == "Deleting" {
                        return Err(ApiError::new(
                            409,
                            "ResourceGroupBeingDeleted",
                            format!(
                                "The resource group '{name}' is in deprovisioning state and cannot perform this operation."
                            ),
                        ));
                    }
                    if e.location().as_deref() != Some(location.as_str()) {
                        return Err(ApiError::new(
                            409,
                            "InvalidResourceGroupLocation",
                            format!(
                                "Invalid resource group location '{location}'. The Resource group already exists in location '{}'.",
                                e.location().unwrap_or_default()
                            ),
                        ));
                    }
                }
                let created = existing.is_none();
                let mut stored = json!({
                    "id": id,
                    "name": name,
                    "type": "Microsoft.Resources/resourceGroups",
                    "location": location,
                    "properties": {"provisioningState": "Succeeded"},
                });
                for field in ["tags", "managedBy"] {
                    if let Some(v) = body.get(field).filter(|v| !v.is_null()) {
                        stored[field] = v.clone();
                    }
                }
                self.resources.insert(
                    k.clone(),
                    Resource {
                        id,
                        body: stored,
                        power_state: None,
                    },
                );
                Ok(Reply::json(
                    if created { 201 } else { 200 },
                    self.render(&k, false).unwrap_or_default(),
                ))
            }
            Method::PATCH => {
                self.authorize(req.caller, &action("write"), &id)?;
                let patch = object_body(req)?;
                let mut r = self
                    .resources
                    .get_mut(&k)
                    .ok_or_else(|| ApiError::group_not_found(name))?;
                for field in ["tags", "managedBy"] {
                    if let Some(v) = patch.get(field) {
                        r.body[field] = v.clone();
                    }
                }
                drop(r);
                Ok(Reply::json(200, self.render(&k, false).unwrap_or_default()))
            }
            Method::DELETE => {
                self.authorize(req.caller, &action("delete"), &id)?;
                let location = match self.resources.get_mut(&k) {
                    Some(mut r) => {
                        r.body["properties"]["provisioningState"] = "Deleting".into();
                        r.location().unwrap_or_default()
                    }
                    None => return Err(ApiError::group_not_found(name)),
                };
                let op = self.start_operation(
                    req,
                    sub,
                    "Microsoft.Resources",
                    &location,
                    Effect::Deleted { key: k },
                );
                let mut reply = Reply::empty(202);
                reply.headers.push((
                    "location",
                    format!(
                        "{}/subscriptions/{sub}/operationresults/{op}?api-version={}",
                        req.base_url,
                        req.api_version()
                    ),
                ));
                reply.headers.push((
                    "retry-after",
                    self.settings.lro_retry_after_secs.to_string(),
                ));
                Ok(reply)
            }
            _ => Err(method_not_allowed(req)),
        }
    }

    fn generic_list(
        &mut self,
        req: &ArmRequest<'_>,
        sub: &str,
        group: Option<&str>,
    ) -> Result<Reply, ApiError> {
        let scope = match group {
            Some(g) => {
                if !self.group_exists(sub, g) {
                    return Err(ApiError::group_not_found(g));
                }
                path::resource_group_id(sub, g)
            }
            None => format!("/subscriptions/{sub}"),
        };
        self.authorize(
            req.caller,
            "Microsoft.Resources/subscriptions/resources/read",
            &scope,
        )?;
        let keys: Vec<String> = self
            .resources
            .within(&key(&scope))
            .filter(|(_, r)| {
                r.type_lower() != RESOURCE_GROUP
                    && matches!(path::parse(&r.id), Ok(Route::Provider(pp)) if pp.segments.len() == 2 && !pp.scope.is_resource)
            })
            .map(|(k, _)| k.clone())
            .collect();
        Ok(Reply::list(
            keys.iter().filter_map(|k| self.render(k, false)).collect(),
        ))
    }

    // ---------------------------------------------------------------- providers

    fn provider_state(&self, sub: &str, ns: &str) -> String {
        self.providers
            .get(&format!("{sub}/{ns}").to_ascii_lowercase())
            .cloned()
            .unwrap_or_else(|| "Registered".into())
    }

    fn provider_body(&self, sub: &str, ns: &str) -> Value {
        let known = PROVIDERS.iter().find(|(n, _)| n.eq_ignore_ascii_case(ns));
        let namespace = known
            .map(|(n, _)| n.to_string())
            .unwrap_or_else(|| ns.to_string());
        let types: Vec<Value> = known
            .map(|(_, types)| {
                types
                    .iter()
                    .map(|t| json!({"resourceType": t, "locations": self.settings.locations, "apiVersions": ["2024-03-01", "2022-04-01"]}))
                    .collect()
            })
            .unwrap_or_default();
        json!({
            "id": format!("/subscriptions/{sub}/providers/{namespace}"),
            "namespace": namespace,
            "registrationState": self.provider_state(sub, ns),
            "registrationPolicy": "RegistrationRequired",
            "resourceTypes": types,
        })
    }

    fn require_registered(&self, sub: &str, ns: &str) -> Result<(), ApiError> {
        if self.provider_state(sub, ns) == "Registered" {
            Ok(())
        } else {
            Err(ApiError::new(
                409,
                "MissingSubscriptionRegistration",
                format!(
                    "The subscription is not registered to use namespace '{ns}'. See https://aka.ms/rps-not-found for how to register subscriptions."
                ),
            ))
        }
    }

    // ---------------------------------------------------------------- provider routes

    fn provider_route(
        &mut self,
        req: &ArmRequest<'_>,
        pp: &ProviderPath,
    ) -> Result<Reply, ApiError> {
        let sub = pp.scope.subscription.clone();
        let at_subscription = pp.scope.resource_group.is_none() && !pp.scope.is_resource;
        let types = pp.type_names();
        let segs: Vec<String> = pp.segments.iter().map(|s| s.to_ascii_lowercase()).collect();
        let ns = pp.ns();

        if pp.segments.is_empty() {
            only(req, &[Method::GET])?;
            return Ok(Reply::json(200, self.provider_body(&sub, &pp.namespace)));
        }
        if at_subscription
            && segs.len() == 1
            && (segs[0] == "register" || segs[0] == "unregister")
            && *req.method == Method::POST
        {
            self.authorize(
                req.caller,
                &format!("{}/{}/action", pp.namespace, segs[0]),
                &pp.scope.path,
            )?;
            let state = if segs[0] == "register" {
                "Registered"
            } else {
                "NotRegistered"
            };
            self.set_provider(&ProviderRegistration {
                subscription: sub.clone(),
                namespace: pp.namespace.clone(),
                registration_state: state.into(),
            });
            return Ok(Reply::json(200, self.provider_body(&sub, &pp.namespace)));
        }
        if at_subscription && segs.len() == 4 && segs[0] == "locations" {
            match segs[2].as_str() {
                "operationstatuses" | "operations" | "asyncoperations" => {
                    only(req, &[Method::GET])?;
                    return self.operation_status(req, &pp.segments[3]);
                }
                "operationresults" => return self.operation_result(req, &pp.segments[3]),
                _ => {}
            }
        }
        if at_subscription && segs.len() == 3 && segs[0] == "locations" && segs[2] == "usages" {
            only(req, &[Method::GET])?;
            self.authorize(
                req.caller,
                &format!("{}/locations/usages/read", pp.namespace),
                &pp.scope.path,
            )?;
            return self.usages(&sub, &ns, &pp.segments[1]);
        }
        if ns == "microsoft.compute" && at_subscription && segs == ["skus"] {
            only(req, &[Method::GET])?;
            self.authorize(req.caller, "Microsoft.Compute/skus/read", &pp.scope.path)?;
            let filter = req.query("$filter").and_then(filter_location);
            return Ok(Reply::list(compute::resource_skus(
                &self.settings.locations,
                &self.sku_restrictions,
                filter.as_deref(),
            )));
        }
        if ns == "microsoft.authorization" && segs == ["permissions"] {
            only(req, &[Method::GET])?;
            self.scope_exists(pp)?;
            let perms = self.permissions(req.caller, &pp.scope.path);
            return Ok(Reply::list(
                perms
                    .into_iter()
                    .map(|p| serde_json::to_value(p).unwrap_or_default())
                    .collect(),
            ));
        }
        if ns == "microsoft.authorization"
            && types.first().map(String::as_str) == Some("roledefinitions")
            && let Some(reply) = self.built_in_role_definitions(req, pp)?
        {
            return Ok(reply);
        }
        if ns == "microsoft.authorization"
            && segs == ["roleassignments"]
            && *req.method == Method::GET
        {
            return self.list_role_assignments(req, pp);
        }
        if pp.is_instance() {
            return match *req.method {
                Method::GET | Method::HEAD => self.get_resource(req, pp),
                Method::PUT => self.put_resource(req, pp),
                Method::PATCH => self.patch_resource(req, pp),
                Method::DELETE => self.delete_resource(req, pp),
                _ => Err(method_not_allowed(req)),
            };
        }
        // Odd number of segments: a collection, or an action on the instance before it.
        match *req.method {
            Method::POST if pp.segments.len() >= 3 => self.action(req, pp),
            Method::GET
                if pp.segments.len() >= 3
                    && ns == "microsoft.compute"
                    && types == ["virtualmachines", "instanceview"] =>
            {
                let vm = pp.id_of(pp.segments.len() - 1);
                self.authorize(
                    req.caller,
                    "Microsoft.Compute/virtualMachines/instanceView/read",
                    &vm,
                )?;
                let r = self
                    .resources
                    .get(&key(&vm))
                    .ok_or_else(|| not_found_for(pp, pp.segments.len() - 1))?;
                Ok(Reply::json(
                    200,
                    compute::instance_view(r.power_state.as_deref().unwrap_or("running")),
                ))
            }
            Method::GET => self.list_collection(req, pp),
            _ => Err(method_not_allowed(req)),
        }
    }

    fn scope_exists(&self, pp: &ProviderPath) -> Result<(), ApiError> {
        if let Some(rg) = &pp.scope.resource_group
            && !self.group_exists(&pp.scope.subscription, rg)
        {
            return Err(ApiError::group_not_found(rg));
        }
        if pp.scope.is_resource && !self.resources.contains_key(&key(&pp.scope.path)) {
            return Err(ApiError::new(
                404,
                "ResourceNotFound",
                format!("The Resource '{}' was not found.", pp.scope.path),
            ));
        }
        Ok(())
    }

    /// Checks scope and parent existence for an instance path.
    fn parents_exist(&self, pp: &ProviderPath) -> Result<(), ApiError> {
        self.scope_exists(pp)?;
        if pp.segments.len() > 2 {
            let parent = pp.id_of(pp.segments.len() - 2);
            if !self.resources.contains_key(&key(&parent)) {
                return Err(ApiError::new(
                    404,
                    "ParentResourceNotFound",
                    format!(
                        "Can not perform requested operation on nested resource. Parent resource '{}' not found.",
                        path::last_segment(&parent)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn get_resource(&mut self, req: &ArmRequest<'_>, pp: &ProviderPath) -> Result<Reply, ApiError> {
        let id = pp.instance_id();
        self.scope_exists(pp)?;
        self.authorize(req.caller, &format!("{}/read", pp.resource_type()), &id)?;
        let expand = req
            .query("$expand")
            .is_some_and(|e| e.eq_ignore_ascii_case("instanceView"));
        match self.render(&key(&id), expand) {
            Some(body) if *req.method == Method::GET => Ok(Reply::json(200, body).with_etag()),
            Some(_) => Ok(Reply::empty(204)),
            None => Err(not_found_for(pp, pp.segments.len())),
        }
    }

    fn list_collection(
        &mut self,
        req: &ArmRequest<'_>,
        pp: &ProviderPath,
    ) -> Result<Reply, ApiError> {
        self.scope_exists(pp)?;
        let member_type = pp.resource_type().to_ascii_lowercase();
        let parent = if pp.segments.len() > 1 {
            let parent = pp.id_of(pp.segments.len() - 1);
            if !self.resources.contains_key(&key(&parent)) {
                return Err(not_found_for(pp, pp.segments.len() - 1));
            }
            parent
        } else {
            pp.scope.path.clone()
        };
        self.authorize(req.caller, &format!("{}/read", pp.resource_type()), &parent)?;
        let depth = pp.segments.len() + 1;
        let keys: Vec<String> = self
            .resources
            .within(&key(&parent))
            .filter(|(_, r)| {
                r.type_lower() == member_type
                    && matches!(path::parse(&r.id), Ok(Route::Provider(p)) if p.segments.len() == depth && (pp.segments.len() > 1 || key(&p.scope.path) == key(&pp.scope.path) || !pp.scope.is_resource))
            })
            .map(|(k, _)| k.clone())
            .collect();
        Ok(Reply::list(
            keys.iter().filter_map(|k| self.render(k, false)).collect(),
        ))
    }

    fn put_resource(&mut self, req: &ArmRequest<'_>, pp: &ProviderPath) -> Result<Reply, ApiError> {
        let id = pp.instance_id();
        let k = key(&id);
        let rtype = pp.resource_type();
        let tlower = rtype.to_ascii_lowercase();
        self.parents_exist(pp)?;
        let write = format!("{rtype}/write");
        self.authorize(req.caller, &write, &id)?;
        self.require_registered(&pp.scope.subscription, &pp.namespace)?;
        let mut body = object_body(req)?;
        validate_resource_name(pp.segments.last().map(String::as_str).unwrap_or_default())?;

        let existing = self.resources.get(&k).cloned();
        if let Some(e) = &existing
            && e.provisioning_state() == "Deleting"
        {
            return Err(ApiError::new(
                409,
                "AnotherOperationInProgress",
                format!(
                    "Resource {id} is being deleted; another operation cannot be performed on it."
                ),
            ));
        }
        check_preconditions(req, &id, existing.as_ref())?;
        let tracked = pp.segments.len() == 2
            && !pp.scope.is_resource
            && pp.scope.resource_group.is_some()
            && pp.ns() != "microsoft.authorization";
        let location = if tracked {
            let loc = body["location"]
                .as_str()
                .map(normalize_location)
                .filter(|l| !l.is_empty())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "LocationRequired",
                        "The location property is required for this definition.",
                    )
                    .with_target("location")
                })?;
            if let Some(old) = existing.as_ref().and_then(Resource::location)
                && old != loc
            {
                return Err(ApiError::bad_request(
                    "InvalidResourceLocation",
                    format!(
                        "The resource '{}' already exists in location '{old}' in resource group '{}'. A resource with the same name cannot be created in location '{loc}'. Please select a new resource name.",
                        last_segment(&id),
                        pp.scope.resource_group.clone().unwrap_or_default()
                    ),
                ));
            }
            Some(loc)
        } else {
            None
        };
        if !body.get("properties").is_some_and(Value::is_object) {
            body["properties"] = json!({});
        }

        // Provider-specific validation; may return child resources to write with the parent.
        let mut children: Vec<(String, Value)> = Vec::new();
        let mut removed_children: Vec<String> = Vec::new();
        match tlower.as_str() {
            "microsoft.network/virtualnetworks" => {
                (children, removed_children) = self.prepare_vnet(req.caller, &id, &mut body)?;
            }
            "microsoft.network/virtualnetworks/subnets" => {
                self.prepare_subnet(req.caller, pp, &id, &mut body)?
            }
            "microsoft.network/privatelinkservices" => self.check_pls_subnets(&body)?,
            "microsoft.compute/virtualmachines" => {
                self.check_vm(pp, &id, &body, existing.is_some(), location.as_deref())?
            }
            "microsoft.authorization/roleassignments" => {
                self.prepare_role_assignment(pp, &id, &mut body)?
            }
            _ => {}
        }
        if matches!(pp.ns().as_str(), "microsoft.network" | "microsoft.compute")
            && tlower != "microsoft.network/virtualnetworks/subnets"
        {
            self.check_references(req.caller, &write, &id, &body)?;
        }

        let lro = is_lro(&tlower);
        // Microsoft.Network reports Updating while creating too; others report Creating.
        let state = if !lro {
            "Succeeded"
        } else if existing.is_some() || pp.ns() == "microsoft.network" {
            "Updating"
        } else {
            "Creating"
        };
        let mut stored = body;
        if let Some(obj) = stored.as_object_mut() {
            obj.remove("etag");
        }
        stored["id"] = id.clone().into();
        stored["name"] = pp.segments.last().cloned().unwrap_or_default().into();
        stored["type"] = rtype.clone().into();
        if let Some(loc) = &location {
            stored["location"] = loc.clone().into();
        }
        stored["properties"]["provisioningState"] = state.into();
        if pp.ns() == "microsoft.network" {
            stored["etag"] = etag().into();
            let keep_guid = existing
                .as_ref()
                .and_then(|e| e.body.pointer("/properties/resourceGuid").cloned());
            if matches!(
                tlower.as_str(),
                "microsoft.network/virtualnetworks"
                    | "microsoft.network/networksecuritygroups"
                    | "microsoft.network/routetables"
                    | "microsoft.network/natgateways"
                    | "microsoft.network/publicipaddresses"
                    | "microsoft.network/loadbalancers"
                    | "microsoft.network/privatelinkservices"
                    | "microsoft.network/privateendpoints"
            ) {
                stored["properties"]["resourceGuid"] =
                    keep_guid.unwrap_or_else(|| uuid::Uuid::new_v4().to_string().into());
            }
        }
        if tlower == "microsoft.compute/virtualmachines" {
            let vm_id = existing
                .as_ref()
                .and_then(|e| e.body.pointer("/properties/vmId").cloned())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string().into());
            stored["properties"]["vmId"] = vm_id;
        }
        if tlower == "microsoft.network/dnszones" {
            stored["properties"]["nameServers"] = json!([
                "ns1-01.azure-dns.com.",
                "ns2-01.azure-dns.net.",
                "ns3-01.azure-dns.org.",
                "ns4-01.azure-dns.info."
            ]);
        }
        let power_state = existing
            .as_ref()
            .and_then(|e| e.power_state.clone())
            .or_else(|| {
                (tlower == "microsoft.compute/virtualmachines").then(|| "starting".to_string())
            });
        for child in removed_children {
            self.remove_within(&child);
        }
        self.resources.insert(
            k.clone(),
            Resource {
                id: id.clone(),
                body: stored,
                power_state,
            },
        );
        for (child_id, mut child_body) in children {
            let child_key = key(&child_id);
            let child_state = if self.resources.contains_key(&child_key) && state == "Creating" {
                "Updating"
            } else {
                state
            };
            child_body["properties"]["provisioningState"] = child_state.into();
            self.resources.insert(
                child_key,
                Resource {
                    id: child_id,
                    body: child_body,
                    power_state: None,
                },
            );
        }

        let status = if existing.is_some() { 200 } else { 201 };
        let mut reply = Reply::json(status, self.render(&k, false).unwrap_or_default()).with_etag();
        if lro {
            let loc = location
                .or_else(|| self.location_of_scope(pp))
                .unwrap_or_else(|| "global".into());
            let op = self.start_operation(
                req,
                &pp.scope.subscription,
                &pp.namespace,
                &loc,
                Effect::Provisioned { key: k },
            );
            self.async_headers(
                &mut reply,
                req,
                &pp.scope.subscription,
                &pp.namespace,
                &loc,
                &op,
            );
        }
        Ok(reply)
    }

    fn location_of_scope(&self, pp: &ProviderPath) -> Option<String> {
        (1..=pp.segments.len() / 2)
            .map(|n| pp.id_of(n * 2))
            .chain(std::iter::once(pp.scope.path.clone()))
            .find_map(|id| self.resources.get(&key(&id)).and_then(Resource::location))
    }

    fn patch_resource(
        &mut self,
        req: &ArmRequest<'_>,
        pp: &ProviderPath,
    ) -> Result<Reply, ApiError> {
        let id = pp.instance_id();
        let k = key(&id);
        self.scope_exists(pp)?;
        self.authorize(req.caller, &format!("{}/write", pp.resource_type()), &id)?;
        let patch = object_body(req)?;
        check_preconditions(
            req,
            &id,
            Some(
                self.resources
                    .get(&k)
                    .ok_or_else(|| not_found_for(pp, pp.segments.len()))?,
            ),
        )?;
        let mut r = self
            .resources
            .get_mut(&k)
            .ok_or_else(|| not_found_for(pp, pp.segments.len()))?;
        for (field, value) in patch.as_object().into_iter().flatten() {
            match field.as_str() {
                "id" | "name" | "type" | "location" | "etag" => {}
                "tags" => r.body["tags"] = value.clone(),
                "properties" => merge_patch(&mut r.body["properties"], value),
                _ => merge_patch(&mut r.body[field.as_str()], value),
            }
        }
        if pp.ns() == "microsoft.network" {
            r.body["etag"] = etag().into();
        }
        drop(r);
        Ok(Reply::json(200, self.render(&k, false).unwrap_or_default()))
    }

    fn delete_resource(
        &mut self,
        req: &ArmRequest<'_>,
        pp: &ProviderPath,
    ) -> Result<Reply, ApiError> {
        let id = pp.instance_id();
        let k = key(&id);
        let tlower = pp.resource_type().to_ascii_lowercase();
        if let Some(rg) = &pp.scope.resource_group
            && !self.group_exists(&pp.scope.subscription, rg)
        {
            return Err(ApiError::group_not_found(rg));
        }
        self.authorize(req.caller, &format!("{}/delete", pp.resource_type()), &id)?;
        let Some(existing) = self.resources.get(&k).cloned() else {
            return Ok(Reply::empty(204));
        };
        check_preconditions(req, &id, Some(&existing))?;
        self.check_not_in_use(&tlower, &id)?;
        if !is_lro(&tlower) {
            let body = self.render(&k, false);
            self.remove_within(&k);
            // Microsoft.Authorization answers a delete with the deleted object; others with nothing.
            return Ok(match body {
                Some(b) if pp.ns() == "microsoft.authorization" => Reply::json(200, b),
                _ => Reply::empty(200),
            });
        }
        if let Some(mut r) = self.resources.get_mut(&k) {
            r.body["properties"]["provisioningState"] = "Deleting".into();
        }
        let loc = existing
            .location()
            .or_else(|| self.location_of_scope(pp))
            .unwrap_or_else(|| "global".into());
        let op = self.start_operation(
            req,
            &pp.scope.subscription,
            &pp.namespace,
            &loc,
            Effect::Deleted { key: k },
        );
        let mut reply = Reply::empty(202);
        self.async_headers(
            &mut reply,
            req,
            &pp.scope.subscription,
            &pp.namespace,
            &loc,
            &op,
        );
        Ok(reply)
    }

    fn action(&mut self, req: &ArmRequest<'_>, pp: &ProviderPath) -> Result<Reply, ApiError> {
        let target_len = pp.segments.len() - 1;
        let id = pp.id_of(target_len);
        let target_type = pp.type_of(target_len);
        let action = pp.segments[target_len].clone();
        self.scope_exists(pp)?;
        self.authorize(req.caller, &format!("{target_type}/{action}/action"), &id)?;
        let k = key(&id);
        let existing = self
            .resources
            .get(&k)
            .cloned()
            .ok_or_else(|| not_found_for(pp, target_len))?;
        if target_type.eq_ignore_ascii_case("Microsoft.Compute/virtualMachines") {
            let (transient, final_state) = match action.to_ascii_lowercase().as_str() {
                "start" => ("starting", "running"),
                "restart" | "redeploy" | "reimage" => ("starting", "running"),
                "deallocate" => ("deallocating", "deallocated"),
                "poweroff" => ("stopping", "stopped"),
                _ => return Err(unknown_action(&action, &target_type)),
            };
            if let Some(mut r) = self.resources.get_mut(&k) {
                r.power_state = Some(transient.into());
            }
            let loc = existing.location().unwrap_or_else(|| "global".into());
            let op = self.start_operation(
                req,
                &pp.scope.subscription,
                &pp.namespace,
                &loc,
                Effect::Power {
                    key: k,
                    state: final_state.into(),
                },
            );
            let mut reply = Reply::empty(202);
            self.async_headers(
                &mut reply,
                req,
                &pp.scope.subscription,
                &pp.namespace,
                &loc,
                &op,
            );
            return Ok(reply);
        }
        Err(unknown_action(&action, &target_type))
    }

    // ---------------------------------------------------------------- operations

    fn start_operation(
        &mut self,
        req: &ArmRequest<'_>,
        sub: &str,
        ns: &str,
        location: &str,
        effect: Effect,
    ) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let due = Instant::now() + self.settings.lro_delay;
        self.pending.insert((due, id.clone()));
        self.operations.insert(
            id.clone(),
            Operation {
                id: id.clone(),
                subscription: sub.to_string(),
                namespace: ns.to_string(),
                location: location.to_string(),
                api_version: req.api_version().to_string(),
                status: OpStatus::InProgress,
                start: Utc::now(),
                end: None,
                effect,
                error: req.fail_operation.then(|| {
                    ApiError::new(
                        500,
                        "InternalServerError",
                        "The operation failed: injected fault.",
                    )
                }),
            },
        );
        id
    }

    fn op_urls(&self, base: &str, op: &Operation) -> (String, String) {
        let prefix = format!(
            "{base}/subscriptions/{}/providers/{}/locations/{}",
            op.subscription, op.namespace, op.location
        );
        (
            format!(
                "{prefix}/operationStatuses/{}?api-version={}",
                op.id, op.api_version
            ),
            format!(
                "{prefix}/operationResults/{}?api-version={}",
                op.id, op.api_version
            ),
        )
    }

    fn async_headers(
        &self,
        reply: &mut Reply,
        req: &ArmRequest<'_>,
        _sub: &str,
        _ns: &str,
        _loc: &str,
        op_id: &str,
    ) {
        if let Some(op) = self.operations.get(op_id) {
            let (status, result) = self.op_urls(req.base_url, op);
            reply.headers.push(("azure-asyncoperation", status));
            reply.headers.push(("location", result));
            reply.headers.push((
                "retry-after",
                self.settings.lro_retry_after_secs.to_string(),
            ));
        }
    }

    fn operation_status(&mut self, req: &ArmRequest<'_>, op_id: &str) -> Result<Reply, ApiError> {
        let op = self.operations.get(op_id).cloned().ok_or_else(|| {
            ApiError::new(
                404,
                "OperationNotFound",
                format!("The operation '{op_id}' could not be found."),
            )
        })?;
        let mut body = json!({
            "id": req.path,
            "name": op.id,
            "status": op.status,
            "startTime": op.start.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        if let Some(end) = op.end {
            body["endTime"] = end.to_rfc3339_opts(SecondsFormat::Millis, true).into();
            body["percentComplete"] = 100.into();
        }
        if let Some(e) = &op.error {
            body["error"] = e.body()["error"].clone();
        }
        let mut reply = Reply::json(200, body);
        if op.status == OpStatus::InProgress {
            reply.headers.push((
                "retry-after",
                self.settings.lro_retry_after_secs.to_string(),
            ));
        }
        Ok(reply)
    }

    fn operation_result(&mut self, req: &ArmRequest<'_>, op_id: &str) -> Result<Reply, ApiError> {
        only(req, &[Method::GET])?;
        let op = self.operations.get(op_id).cloned().ok_or_else(|| {
            ApiError::new(
                404,
                "OperationNotFound",
                format!("The operation '{op_id}' could not be found."),
            )
        })?;
        match op.status {
            OpStatus::InProgress => {
                let mut reply = Reply::empty(202);
                let (_, result) = self.op_urls(req.base_url, &op);
                reply.headers.push(("location", result));
                reply.headers.push((
                    "retry-after",
                    self.settings.lro_retry_after_secs.to_string(),
                ));
                Ok(reply)
            }
            OpStatus::Failed => Err(op.error.unwrap_or_else(|| {
                ApiError::new(500, "InternalServerError", "The operation failed.")
            })),
            OpStatus::Succeeded => match &op.effect {
                Effect::Provisioned { key } => Ok(match self.render(key, false) {
                    Some(body) => Reply::json(200, body),
                    None => Reply::empty(204),
                }),
                Effect::Deleted { .. } => Ok(Reply::empty(204)),
                Effect::Power { .. } => Ok(Reply::empty(200)),
            },
        }
    }

    // ---------------------------------------------------------------- rendering

    fn render(&self, k: &str, expand_instance_view: bool) -> Option<Value> {
        let r = self.resources.get(k)?;
        let mut body = r.body.clone();
        match r.type_lower().as_str() {
            "microsoft.network/virtualnetworks" => {
                let subnets: Vec<Value> = self
                    .resources
                    .within(k)
                    .filter(|(ck, c)| *ck != k && c.type_lower() == SUBNET)
                    .map(|(_, c)| c.body.clone())
                    .collect();
                body["properties"]["subnets"] = Value::Array(subnets);
            }
            "microsoft.network/networksecuritygroups"
            | "microsoft.network/routetables"
            | "microsoft.network/natgateways" => {
                let subnets: Vec<Value> = self
                    .referrers(k)
                    .into_iter()
                    .filter(|rid| {
                        self.resources
                            .get(&key(rid))
                            .is_some_and(|c| c.type_lower() == SUBNET)
                    })
                    .map(|rid| json!({"id": rid}))
                    .collect();
                body["properties"]["subnets"] = Value::Array(subnets);
            }
            "microsoft.network/virtualnetworks/subnets" => {
                let configs: Vec<Value> = self
                    .referrers(k)
                    .into_iter()
                    .map(|rid| json!({"id": rid}))
                    .collect();
                if !configs.is_empty() {
                    body["properties"]["ipConfigurations"] = Value::Array(configs);
                }
            }
            "microsoft.compute/virtualmachines" if expand_instance_view => {
                body["properties"]["instanceView"] =
                    compute::instance_view(r.power_state.as_deref().unwrap_or("running"));
            }
            _ => {}
        }
        Some(body)
    }

    /// Ids of resources (outside `target`) that link to `target` with an `{"id": ...}` reference.
    fn referrers(&self, target: &str) -> Vec<String> {
        let target = key(target);
        self.resources
            .referrers(&target)
            .filter(|k| !is_within(k, &target))
            .filter_map(|k| self.resources.get(k))
            .map(|r| r.id.clone())
            .collect()
    }

    // ---------------------------------------------------------------- network behaviour

    fn check_references(
        &self,
        caller: &Caller,
        write: &str,
        id: &str,
        body: &Value,
    ) -> Result<(), ApiError> {
        for reference in network::references(body) {
            if is_within(&reference, id) {
                continue;
            }
            let Ok(Route::Provider(rp)) = path::parse(&reference) else {
                continue;
            };
            if !rp.is_instance() {
                continue;
            }
            let rtype = rp.resource_type().to_ascii_lowercase();
            if VALIDATED_REFERENCES.contains(&rtype.as_str())
                && !self.resources.contains_key(&key(&reference))
            {
                return Err(ApiError::bad_request(
                    "InvalidResourceReference",
                    format!(
                        "Resource {reference} referenced by resource {id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."
                    ),
                ));
            }
            if JOINABLE.contains(&rtype.as_str()) {
                self.authorize_linked(
                    caller,
                    write,
                    id,
                    &format!("{}/join/action", rp.resource_type()),
                    &reference,
                )?;
            }
        }
        Ok(())
    }

    fn subnet_ranges_of(&self, vnet_key: &str, except: &str) -> Vec<(String, Vec<ipnet::IpNet>)> {
        let except = key(except);
        self.resources
            .within(vnet_key)
            .filter(|(k, r)| r.type_lower() == SUBNET && **k != except)
            .filter_map(|(_, r)| {
                network::subnet_prefixes(&r.body, &r.id)
                    .ok()
                    .map(|p| (r.id.clone(), p))
            })
            .collect()
    }

    fn prepare_subnet(
        &self,
        caller: &Caller,
        pp: &ProviderPath,
        id: &str,
        body: &mut Value,
    ) -> Result<(), ApiError> {
        let vnet_id = pp.id_of(pp.segments.len() - 2);
        let vnet = self
            .resources
            .get(&key(&vnet_id))
            .ok_or_else(|| not_found_for(pp, pp.segments.len() - 2))?;
        let space = network::vnet_prefixes(&vnet.body, &vnet_id)?;
        let prefixes = network::subnet_prefixes(body, id)?;
        network::check_subnet_ranges(
            id,
            &vnet_id,
            &prefixes,
            &space,
            &self.subnet_ranges_of(&key(&vnet_id), id),
        )?;
        network::default_subnet_policies(body);
        self.check_references(
            caller,
            "Microsoft.Network/virtualNetworks/subnets/write",
            id,
            body,
        )?;
        Ok(())
    }

    /// Validates a VNet PUT; returns inline subnets to write and existing subnets to remove.
    #[allow(clippy::type_complexity)]
    fn prepare_vnet(
        &self,
        caller: &Caller,
        id: &str,
        body: &mut Value,
    ) -> Result<(Vec<(String, Value)>, Vec<String>), ApiError> {
        let space = network::vnet_prefixes(body, id)?;
        let inline = body["properties"]
            .as_object_mut()
            .and_then(|p| p.remove("subnets"))
            .and_then(|s| s.as_array().cloned())
            .unwrap_or_default();
        let mut children: Vec<(String, Value)> = Vec::new();
        let mut ranges: Vec<(String, Vec<ipnet::IpNet>)> = Vec::new();
        for s in inline {
            let name = s["name"]
                .as_str()
                .map(str::to_string)
                .or_else(|| s["id"].as_str().map(|i| last_segment(i).to_string()))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "InvalidRequestFormat",
                        "Every subnet in properties.subnets needs a name.",
                    )
                    .with_target("properties.subnets")
                })?;
            let child_id = format!("{id}/subnets/{name}");
            let mut child = json!({
                "id": child_id,
                "name": name,
                "type": "Microsoft.Network/virtualNetworks/subnets",
                "properties": s.get("properties").cloned().filter(Value::is_object).unwrap_or_else(|| json!({})),
                "etag": etag(),
            });
            let prefixes = network::subnet_prefixes(&child, &child_id)?;
            network::check_subnet_ranges(&child_id, id, &prefixes, &space, &ranges)?;
            network::default_subnet_policies(&mut child);
            self.check_references(
                caller,
                "Microsoft.Network/virtualNetworks/subnets/write",
                &child_id,
                &child,
            )?;
            ranges.push((child_id.clone(), prefixes));
            children.push((child_id, child));
        }
        let kept: Vec<String> = children.iter().map(|(c, _)| key(c)).collect();
        let mut removed = Vec::new();
        for (k, r) in self.resources.within(&key(id)) {
            if r.type_lower() == SUBNET && !kept.contains(k) {
                self.check_not_in_use("microsoft.network/virtualnetworks/subnets", &r.id)?;
                removed.push(k.clone());
            }
        }
        Ok((children, removed))
    }

    fn check_pls_subnets(&self, body: &Value) -> Result<(), ApiError> {
        let configs = body
            .pointer("/properties/ipConfigurations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for c in configs {
            let Some(subnet) = c.pointer("/properties/subnet/id").and_then(Value::as_str) else {
                continue;
            };
            if let Some(s) = self.resources.get(&key(subnet))
                && s.body
                    .pointer("/properties/privateLinkServiceNetworkPolicies")
                    .and_then(Value::as_str)
                    != Some("Disabled")
            {
                return Err(ApiError::bad_request(
                    "PrivateLinkServiceNetworkPoliciesCannotBeEnabledOnPrivateLinkServiceSubnet",
                    format!(
                        "Private link service network policies cannot be enabled on private link service subnet {subnet}."
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_not_in_use(&self, tlower: &str, id: &str) -> Result<(), ApiError> {
        let code = match tlower {
            "microsoft.network/virtualnetworks" => {
                for (_, r) in self.resources.within(&key(id)) {
                    if r.type_lower() == SUBNET {
                        self.check_not_in_use("microsoft.network/virtualnetworks/subnets", &r.id)?;
                    }
                }
                return Ok(());
            }
            "microsoft.network/virtualnetworks/subnets" => "InUseSubnetCannotBeDeleted",
            "microsoft.network/networksecuritygroups" => "InUseNetworkSecurityGroupCannotBeDeleted",
            "microsoft.network/routetables" => "InUseRouteTableCannotBeDeleted",
            "microsoft.network/natgateways" => "InUseNatGatewayCannotBeDeleted",
            "microsoft.network/publicipaddresses" => "PublicIPAddressCannotBeDeleted",
            _ => return Ok(()),
        };
        let users = self.referrers(id);
        match users.first() {
            None => Ok(()),
            Some(user) => Err(ApiError::bad_request(
                code,
                format!(
                    "{} {} is in use by {user} and cannot be deleted. In order to delete it, remove all references to it first.",
                    kind_name(tlower),
                    last_segment(id)
                ),
            )),
        }
    }

    // ---------------------------------------------------------------- compute behaviour

    fn vm_sizes_in(&self, sub: &str, location: &str, except: &str) -> Vec<String> {
        let except = key(except);
        let subscription = key(&format!("/subscriptions/{sub}"));
        self.resources
            .of_type("microsoft.compute/virtualmachines")
            .filter(|(k, r)| {
                **k != except
                    && is_within(k, &subscription)
                    && r.location().as_deref() == Some(normalize_location(location).as_str())
            })
            .filter_map(|(_, r)| {
                r.body
                    .pointer("/properties/hardwareProfile/vmSize")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect()
    }

    fn check_vm(
        &self,
        pp: &ProviderPath,
        id: &str,
        body: &Value,
        exists: bool,
        location: Option<&str>,
    ) -> Result<(), ApiError> {
        let location = location.unwrap_or("eastus");
        let size_name = body
            .pointer("/properties/hardwareProfile/vmSize")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "InvalidParameter",
                    "Required parameter 'hardwareProfile.vmSize' is missing (null).",
                )
                .with_target("hardwareProfile.vmSize")
            })?;
        let size = compute::vm_size(size_name).ok_or_else(|| {
            ApiError::bad_request(
                "InvalidParameter",
                format!("The value {size_name} provided for the VM size is not valid."),
            )
            .with_target("vmSize")
        })?;
        if compute::location_restricted(&self.sku_restrictions, size.name, location) {
            return Err(ApiError::new(
                409,
                "SkuNotAvailable",
                format!(
                    "The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: {}' is currently not available in location '{location}'. Please try another size or deploy to a different location or different zone.",
                    size.name
                ),
            ));
        }
        if !exists {
            let existing = self.vm_sizes_in(&pp.scope.subscription, location, id);
            if let Some((name, current, limit)) =
                compute::quota_exceeded(&existing, size, &self.quotas)
            {
                return Err(ApiError::new(
                    409,
                    "OperationNotAllowed",
                    format!(
                        "Operation could not be completed as it results in exceeding approved {name} quota. Location: {location}, Current Limit: {limit}, Current Usage: {current}, Additional Required: {}.",
                        size.vcpus
                    ),
                ));
            }
        }
        Ok(())
    }

    fn usages(&self, sub: &str, ns: &str, location: &str) -> Result<Reply, ApiError> {
        match ns {
            "microsoft.compute" => {
                let vms = self.vm_sizes_in(sub, location, "");
                Ok(Reply::list(compute::compute_usages(
                    sub,
                    location,
                    &vms,
                    &self.quotas,
                )))
            }
            "microsoft.network" => {
                let pips = self
                    .resources
                    .of_type("microsoft.network/publicipaddresses")
                    .filter(|(k, r)| {
                        is_within(k, &format!("/subscriptions/{sub}"))
                            && r.location().as_deref()
                                == Some(normalize_location(location).as_str())
                    })
                    .count() as u64;
                Ok(Reply::list(compute::network_usages(
                    sub,
                    location,
                    pips,
                    &self.quotas,
                )))
            }
            _ => Err(ApiError::new(
                404,
                "InvalidResourceType",
                format!(
                    "The resource type 'locations/usages' could not be found in the namespace '{ns}'."
                ),
            )),
        }
    }

    // ---------------------------------------------------------------- authorization behaviour

    fn prepare_role_assignment(
        &self,
        pp: &ProviderPath,
        id: &str,
        body: &mut Value,
    ) -> Result<(), ApiError> {
        let props = &body["properties"];
        let role = props["roleDefinitionId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let principal = props["principalId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if role.is_empty() || principal.is_empty() {
            return Err(ApiError::bad_request(
                "InvalidRoleAssignmentRequest",
                "A role assignment needs properties.roleDefinitionId and properties.principalId.",
            ));
        }
        if !self.role_exists(&role) {
            return Err(ApiError::bad_request(
                "RoleDefinitionDoesNotExist",
                format!(
                    "The specified role definition with ID '{}' does not exist.",
                    last_segment(&role)
                ),
            ));
        }
        let scope = pp.scope.path.clone();
        let own_key = key(id);
        let duplicate = self.resources.of_type(ROLE_ASSIGNMENT).any(|(k, r)| {
            *k != own_key
                && r.body
                    .pointer("/properties/principalId")
                    .and_then(Value::as_str)
                    .is_some_and(|p| p.eq_ignore_ascii_case(&principal))
                && r.body
                    .pointer("/properties/roleDefinitionId")
                    .and_then(Value::as_str)
                    .is_some_and(|d| last_segment(d).eq_ignore_ascii_case(last_segment(&role)))
                && r.body
                    .pointer("/properties/scope")
                    .and_then(Value::as_str)
                    .is_some_and(|s| key(s) == key(&scope))
        });
        if duplicate {
            return Err(ApiError::new(
                409,
                "RoleAssignmentExists",
                "The role assignment already exists.",
            ));
        }
        let created = now();
        let p = &mut body["properties"];
        p["scope"] = scope.into();
        if p.get("principalType").is_none() {
            p["principalType"] = "ServicePrincipal".into();
        }
        p["createdOn"] = created.clone().into();
        p["updatedOn"] = created.into();
        Ok(())
    }

    fn list_role_assignments(
        &mut self,
        req: &ArmRequest<'_>,
        pp: &ProviderPath,
    ) -> Result<Reply, ApiError> {
        self.scope_exists(pp)?;
        self.authorize(
            req.caller,
            "Microsoft.Authorization/roleAssignments/read",
            &pp.scope.path,
        )?;
        let filter = req.query("$filter").unwrap_or_default().to_string();
        let principal = filter_quoted(&filter, "principalId eq '")
            .or_else(|| filter_quoted(&filter, "assignedTo('"));
        let scope = pp.scope.path.clone();
        let keys: Vec<String> = self
            .resources
            .of_type(ROLE_ASSIGNMENT)
            .filter(|(_, r)| {
                let s = r
                    .body
                    .pointer("/properties/scope")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                is_within(&scope, s) || is_within(s, &scope)
            })
            .filter(|(_, r)| {
                principal.as_ref().is_none_or(|p| {
                    r.body
                        .pointer("/properties/principalId")
                        .and_then(Value::as_str)
                        .is_some_and(|x| x.eq_ignore_ascii_case(p))
                })
            })
            .map(|(k, _)| k.clone())
            .collect();
        Ok(Reply::list(
            keys.iter().filter_map(|k| self.render(k, false)).collect(),
        ))
    }

    fn built_in_role_definitions(
        &mut self,
        req: &ArmRequest<'_>,
        pp: &ProviderPath,
    ) -> Result<Option<Reply>, ApiError> {
        if *req.method != Method::GET {
            return Ok(None);
        }
        if pp.segments.len() == 2 {
            if let Some(role) = authz::built_in(&pp.segments[1]) {
                return Ok(Some(Reply::json(
                    200,
                    authz::built_in_definition_body(role, &pp.scope.path),
                )));
            }
            return Ok(None);
        }
        if pp.segments.len() == 1 {
            let mut list: Vec<Value> = authz::BUILT_IN_ROLES
                .iter()
                .map(|r| authz::built_in_definition_body(r, &pp.scope.path))
                .collect();
            list.extend(
                self.resources
                    .of_type(ROLE_DEFINITION)
                    .map(|(_, r)| r.body.clone()),
            );
            return Ok(Some(Reply::list(list)));
        }
        Ok(None)
    }
}

// -------------------------------------------------------------------- helpers

fn is_lro(type_lower: &str) -> bool {
    if type_lower.starts_with("microsoft.authorization/")
        || type_lower.starts_with("microsoft.network/dnszones")
    {
        return false;
    }
    if let Some(rest) = type_lower.strip_prefix("microsoft.network/privatednszones/") {
        return !DNS_RECORD_TYPES.contains(&rest);
    }
    true
}

fn kind_name(tlower: &str) -> &'static str {
    match tlower {
        "microsoft.network/virtualnetworks/subnets" => "Subnet",
        "microsoft.network/networksecuritygroups" => "Network security group",
        "microsoft.network/routetables" => "Route table",
        "microsoft.network/natgateways" => "NAT gateway",
        "microsoft.network/publicipaddresses" => "Public IP address",
        _ => "Resource",
    }
}

fn check_api_version(req: &ArmRequest<'_>) -> Result<(), ApiError> {
    let Some(v) = req.query("api-version") else {
        return Err(ApiError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    let date = v.split('-').take(3).collect::<Vec<_>>();
    let valid = date.len() == 3
        && date[0].len() == 4
        && date[1].len() == 2
        && date[2].len() == 2
        && date.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
        || v == "2.0";
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{v}' is invalid. The supported versions are 'YYYY-MM-DD' with an optional '-preview' suffix."
            ),
        ))
    }
}

fn only(req: &ArmRequest<'_>, methods: &[Method]) -> Result<(), ApiError> {
    if methods.contains(req.method) {
        Ok(())
    } else {
        Err(method_not_allowed(req))
    }
}

fn method_not_allowed(req: &ArmRequest<'_>) -> ApiError {
    ApiError::new(
        405,
        "MethodNotAllowed",
        format!(
            "The HTTP method '{}' is not supported on '{}'.",
            req.method, req.path
        ),
    )
}

fn unknown_action(action: &str, target_type: &str) -> ApiError {
    ApiError::new(
        404,
        "InvalidResourceType",
        format!("The action '{action}' is not supported on resource type '{target_type}'."),
    )
}

fn not_found_for(pp: &ProviderPath, len: usize) -> ApiError {
    let name: Vec<&str> = pp.segments[..len]
        .iter()
        .skip(1)
        .step_by(2)
        .map(String::as_str)
        .collect();
    ApiError::resource_not_found(
        &pp.type_of(len),
        &name.join("/"),
        pp.scope.resource_group.as_deref(),
    )
}

fn object_body(req: &ArmRequest<'_>) -> Result<Value, ApiError> {
    match &req.body {
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(_) => Err(ApiError::bad_request(
            "InvalidRequestContent",
            "The request content must be a JSON object.",
        )),
        None => Err(ApiError::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: the body is empty.",
        )),
    }
}

fn validate_group_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 90
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_().".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "InvalidResourceGroup",
            format!(
                "The provided resource group name '{name}' has these invalid characters or length: resource group names are 1-90 alphanumerics, '-', '_', '(', ')' or '.', not ending in '.'."
            ),
        ))
    }
}

fn validate_resource_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 260
        && !name
            .chars()
            .any(|c| "<>%&:\\?/".contains(c) || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "InvalidResourceName",
            format!("The resource name '{name}' is invalid."),
        ))
    }
}

/// RFC 7396 merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("made an object above");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn filter_location(filter: &str) -> Option<String> {
    filter_quoted(filter, "location eq '")
}

fn filter_quoted(filter: &str, prefix: &str) -> Option<String> {
    let lower = filter.to_ascii_lowercase();
    let start = lower.find(&prefix.to_ascii_lowercase())? + prefix.len();
    let end = filter[start..].find('\'')?;
    Some(filter[start..start + end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lro_types() {
        assert!(is_lro("microsoft.network/virtualnetworks"));
        assert!(!is_lro("microsoft.authorization/roleassignments"));
        assert!(!is_lro("microsoft.network/dnszones/a"));
        assert!(is_lro("microsoft.network/privatednszones"));
        assert!(!is_lro("microsoft.network/privatednszones/a"));
        assert!(is_lro(
            "microsoft.network/privatednszones/virtualnetworklinks"
        ));
    }

    #[test]
    fn merge_patch_follows_rfc7396() {
        let mut t = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(&mut t, &json!({"a": null, "b": {"c": 5}, "e": [1]}));
        assert_eq!(t, json!({"b": {"c": 5, "d": 3}, "e": [1]}));
    }

    #[test]
    fn filters_are_parsed() {
        assert_eq!(
            filter_location("location eq 'eastus'").as_deref(),
            Some("eastus")
        );
        assert_eq!(
            filter_quoted("assignedTo('abc')", "assignedTo('").as_deref(),
            Some("abc")
        );
        assert_eq!(filter_location("name eq 'x'"), None);
    }

    #[test]
    fn names_are_validated() {
        assert!(validate_group_name("demo-rg_(1).x").is_ok());
        assert!(validate_group_name("bad.").is_err());
        assert!(validate_group_name(&"a".repeat(91)).is_err());
        assert!(validate_resource_name("ok-name").is_ok());
        assert!(validate_resource_name("bad%name").is_err());
    }
}
