//! The emulated Resource Manager: a pure state machine over JSON that answers one ARM request at a
//! time (the HTTP layer lives in `server`). This module dispatches requests by URL shape; its
//! submodules hold subscriptions and resource groups (`groups`), provider registration and the
//! provider routes (`providers`), the generic resource behaviour every type gets (`generic`), and
//! long-running operations (`operations`). What differs between providers is asked of their rules
//! (`rules`). Long-running operations complete lazily: every request first advances the operations
//! whose delay has passed, so there are no background tasks and no timing races.

mod generic;
mod groups;
mod operations;
mod providers;

use crate::authz;
use crate::config::Seed;
use crate::error::ApiError;
use crate::path::{self, Route};
use crate::request::{ArmRequest, Caller, Reply};
use crate::resources::Resources;
use crate::rules::{self, Capacity, Context};
use http::Method;
use operations::Operation;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

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

/// The emulated ARM state.
pub struct Engine {
    settings: EngineSettings,
    resources: Resources,
    operations: HashMap<String, Operation>,
    /// In-progress operations by due time, so `advance` looks only at those that are due.
    pending: BTreeSet<(Instant, String)>,
    /// Registration state by `subscription/namespace` (lowercase); absent means registered.
    providers: HashMap<String, String>,
    capacity: Capacity,
}

impl Engine {
    /// An empty ARM.
    pub fn new(settings: EngineSettings) -> Self {
        let capacity = Capacity {
            locations: settings.locations.clone(),
            ..Capacity::default()
        };
        Self {
            settings,
            resources: Resources::default(),
            operations: HashMap::new(),
            pending: BTreeSet::new(),
            providers: HashMap::new(),
            capacity,
        }
    }

    /// Forgets every resource, operation, registration, restriction and quota.
    pub fn reset(&mut self) {
        self.resources.clear();
        self.operations.clear();
        self.pending.clear();
        self.providers.clear();
        self.capacity.sku_restrictions.clear();
        self.capacity.quotas.clear();
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
        self.capacity
            .sku_restrictions
            .extend(seed.sku_restrictions.iter().cloned());
        self.capacity.quotas.extend(seed.quotas.clone());
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
                req.only(&[Method::GET])?;
                Ok(Reply::json(200, self.subscription_body(&subscription)))
            }
            Route::ResourceGroups { subscription } => {
                self.subscription_exists(&subscription)?;
                req.only(&[Method::GET])?;
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
                req.only(&[Method::GET])?;
                self.generic_list(req, &subscription, resource_group.as_deref())
            }
            Route::Providers { subscription } => {
                self.subscription_exists(&subscription)?;
                req.only(&[Method::GET])?;
                Ok(self.list_providers(&subscription))
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

    /// Whether a storage account of this name exists (and finished creating), in any
    /// subscription: account names are global, as Azure's are.
    pub fn storage_account_exists(&mut self, account: &str) -> bool {
        self.advance();
        self.resources
            .of_type(rules::storage::STORAGE_ACCOUNT)
            .any(|(_, r)| {
                path::last_segment(&r.id).eq_ignore_ascii_case(account)
                    && r.provisioning_state() == "Succeeded"
            })
    }

    /// What the providers' rules see, for a request by `caller`.
    fn context<'a>(&'a self, caller: &'a Caller) -> Context<'a> {
        Context {
            resources: &self.resources,
            caller,
            capacity: &self.capacity,
        }
    }

    fn authorize(&self, caller: &Caller, action: &str, scope: &str) -> Result<(), ApiError> {
        authz::authorize(&self.resources, caller, action, scope)
    }

    fn render(&self, k: &str, expand_instance_view: bool) -> Option<Value> {
        rules::render(&self.resources, k, expand_instance_view)
    }

    fn remove_within(&mut self, outer: &str) {
        let keys: Vec<String> = self
            .resources
            .within(&path::key(outer))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            self.resources.remove(&k);
        }
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
