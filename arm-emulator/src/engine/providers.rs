//! Resource providers: registration per subscription, the provider documents, and the dispatch of
//! every path under `/providers/{namespace}` (registration actions, operation polling, usages,
//! the provider's own routes, then the generic resource behaviour).

use super::Engine;
use crate::config::ProviderRegistration;
use crate::error::ApiError;
use crate::path::ProviderPath;
use crate::request::{ArmRequest, Reply};
use crate::rules::{self, PROVIDERS};
use http::Method;
use serde_json::{Value, json};

impl Engine {
    pub(super) fn set_provider(&mut self, p: &ProviderRegistration) {
        self.providers.insert(
            format!("{}/{}", p.subscription, p.namespace).to_ascii_lowercase(),
            p.registration_state.clone(),
        );
    }

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
                    .map(|t| json!({"resourceType": t, "locations": self.capacity.locations, "apiVersions": ["2024-03-01", "2022-04-01"]}))
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

    /// `/subscriptions/{sub}/providers`: the namespaces offered.
    pub(super) fn list_providers(&self, sub: &str) -> Reply {
        Reply::list(
            PROVIDERS
                .iter()
                .map(|(ns, _)| self.provider_body(sub, ns))
                .collect(),
        )
    }

    /// 409 MissingSubscriptionRegistration unless the namespace is registered.
    pub(super) fn require_registered(&self, sub: &str, ns: &str) -> Result<(), ApiError> {
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

    /// Everything under `/providers/{namespace}`.
    pub(super) fn provider_route(
        &mut self,
        req: &ArmRequest<'_>,
        pp: &ProviderPath,
    ) -> Result<Reply, ApiError> {
        let sub = pp.scope.subscription.clone();
        let segs: Vec<String> = pp.segments.iter().map(|s| s.to_ascii_lowercase()).collect();

        if pp.segments.is_empty() {
            req.only(&[Method::GET])?;
            return Ok(Reply::json(200, self.provider_body(&sub, &pp.namespace)));
        }
        if pp.at_subscription()
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
        if pp.at_subscription() && segs.len() == 4 && segs[0] == "locations" {
            match segs[2].as_str() {
                "operationstatuses" | "operations" | "asyncoperations" => {
                    req.only(&[Method::GET])?;
                    return self.operation_status(req, &pp.segments[3]);
                }
                "operationresults" => return self.operation_result(req, &pp.segments[3]),
                _ => {}
            }
        }
        let provider = rules::for_type(&pp.resource_type());
        if pp.at_subscription() && segs.len() == 3 && segs[0] == "locations" && segs[2] == "usages"
        {
            req.only(&[Method::GET])?;
            self.authorize(
                req.caller,
                &format!("{}/locations/usages/read", pp.namespace),
                &pp.scope.path,
            )?;
            return match provider.usages(&self.context(req.caller), &sub, &pp.segments[1]) {
                Some(usages) => Ok(Reply::list(usages)),
                None => Err(ApiError::new(
                    404,
                    "InvalidResourceType",
                    format!(
                        "The resource type 'locations/usages' could not be found in the namespace '{}'.",
                        pp.ns()
                    ),
                )),
            };
        }
        if let Some(reply) = provider.route(&self.context(req.caller), req, pp) {
            return reply;
        }
        if pp.is_instance() {
            return match *req.method {
                Method::GET | Method::HEAD => self.get_resource(req, pp),
                Method::PUT => self.put_resource(req, pp),
                Method::PATCH => self.patch_resource(req, pp),
                Method::DELETE => self.delete_resource(req, pp),
                _ => Err(req.method_not_allowed()),
            };
        }
        // Odd number of segments: a collection, or an action on the instance before it.
        match *req.method {
            Method::POST if pp.segments.len() >= 3 => self.action(req, pp),
            Method::GET => self.list_collection(req, pp),
            _ => Err(req.method_not_allowed()),
        }
    }
}
