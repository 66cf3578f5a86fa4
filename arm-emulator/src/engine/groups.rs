//! Subscriptions and resource groups (Microsoft.Resources, ARM's own types): listing, reading,
//! creating, tagging and deleting groups; deleting a group deletes everything in it.

use super::Engine;
use super::operations::Effect;
use crate::error::ApiError;
use crate::path::{self, Route, key, normalize_location};
use crate::request::{ArmRequest, Reply};
use crate::resources::Resource;
use http::Method;
use serde_json::{Value, json};

/// Type key of resource groups.
pub(super) const RESOURCE_GROUP: &str = "microsoft.resources/resourcegroups";

impl Engine {
    pub(super) fn subscription_exists(&self, sub: &str) -> Result<(), ApiError> {
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

    pub(super) fn subscription_body(&self, sub: &str) -> Value {
        json!({
            "id": format!("/subscriptions/{sub}"),
            "subscriptionId": sub,
            "tenantId": self.settings.tenant_id,
            "displayName": format!("Emulated subscription {sub}"),
            "state": "Enabled",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
        })
    }

    /// The configured subscriptions plus those that hold a resource group.
    pub(super) fn list_subscriptions(&self) -> Reply {
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

    pub(super) fn list_groups(&mut self, sub: &str) -> Reply {
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

    /// `/subscriptions/{sub}/resourcegroups/{name}`.
    pub(super) fn group(
        &mut self,
        req: &ArmRequest<'_>,
        sub: &str,
        name: &str,
    ) -> Result<Reply, ApiError> {
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
                let body = req.object_body()?;
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
                let patch = req.object_body()?;
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
            _ => Err(req.method_not_allowed()),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_validated() {
        assert!(validate_group_name("demo-rg_(1).x").is_ok());
        assert!(validate_group_name("bad.").is_err());
        assert!(validate_group_name(&"a".repeat(91)).is_err());
    }
}
