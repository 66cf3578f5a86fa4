//! The behaviour every provider resource gets: GET, list, PUT, PATCH, DELETE and POST actions, the
//! resource listings of a subscription or group, ARM's conditional requests, locations of tracked
//! resources and long-running writes. Where a provider differs, its rules (`rules::for_type`) are
//! asked.

use super::Engine;
use super::groups::RESOURCE_GROUP;
use super::operations::Effect;
use crate::error::ApiError;
use crate::path::{self, ProviderPath, Route, key, last_segment, normalize_location};
use crate::request::{ArmRequest, Reply};
use crate::resources::{Resource, new_etag};
use crate::rules::{self, Put};
use http::Method;
use serde_json::{Map, Value, json};

impl Engine {
    /// `/subscriptions/{sub}[/resourceGroups/{g}]/resources`: the top-level resources there.
    pub(super) fn generic_list(
        &mut self,
        req: &ArmRequest<'_>,
        sub: &str,
        group: Option<&str>,
    ) -> Result<Reply, ApiError> {
        let scope = match group {
            Some(g) => {
                if !self.resources.group_exists(sub, g) {
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

    /// Checks scope and parent existence for an instance path.
    fn parents_exist(&self, pp: &ProviderPath) -> Result<(), ApiError> {
        self.resources.scope_exists(pp)?;
        if pp.segments.len() > 2 {
            let parent = pp.id_of(pp.segments.len() - 2);
            if !self.resources.contains_key(&key(&parent)) {
                return Err(ApiError::new(
                    404,
                    "ParentResourceNotFound",
                    format!(
                        "Can not perform requested operation on nested resource. Parent resource '{}' not found.",
                        last_segment(&parent)
                    ),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn get_resource(
        &mut self,
        req: &ArmRequest<'_>,
        pp: &ProviderPath,
    ) -> Result<Reply, ApiError> {
        let id = pp.instance_id();
        self.resources.scope_exists(pp)?;
        self.authorize(req.caller, &format!("{}/read", pp.resource_type()), &id)?;
        let expand = req
            .query("$expand")
            .is_some_and(|e| e.eq_ignore_ascii_case("instanceView"));
        match self.render(&key(&id), expand) {
            Some(body) if *req.method == Method::GET => Ok(Reply::json(200, body).with_etag()),
            Some(_) => Ok(Reply::empty(204)),
            None => Err(ApiError::not_found_at(pp, pp.segments.len())),
        }
    }

    pub(super) fn list_collection(
        &mut self,
        req: &ArmRequest<'_>,
        pp: &ProviderPath,
    ) -> Result<Reply, ApiError> {
        self.resources.scope_exists(pp)?;
        let member_type = pp.resource_type().to_ascii_lowercase();
        let parent = if pp.segments.len() > 1 {
            let parent = pp.id_of(pp.segments.len() - 1);
            if !self.resources.contains_key(&key(&parent)) {
                return Err(ApiError::not_found_at(pp, pp.segments.len() - 1));
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

    pub(super) fn put_resource(
        &mut self,
        req: &ArmRequest<'_>,
        pp: &ProviderPath,
    ) -> Result<Reply, ApiError> {
        let id = pp.instance_id();
        let k = key(&id);
        let rtype = pp.resource_type();
        let provider = rules::for_type(&rtype);
        let traits = provider.traits(&rtype.to_ascii_lowercase());
        self.parents_exist(pp)?;
        self.authorize(req.caller, &format!("{rtype}/write"), &id)?;
        self.require_registered(&pp.scope.subscription, &pp.namespace)?;
        let mut body = req.object_body()?;
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
            && traits.tracked;
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

        let put = Put {
            path: pp,
            id: &id,
            resource_type: &rtype,
            existing: existing.as_ref(),
            location: location.as_deref(),
            base_url: req.base_url,
            tenant_id: &self.settings.tenant_id,
        };
        let children = provider.prepare_put(&self.context(req.caller), &put, &mut body)?;

        let state = if !traits.long_running {
            "Succeeded"
        } else if existing.is_some() || traits.updating_on_create {
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
        if traits.etag_per_write {
            stored["etag"] = new_etag().into();
        }
        provider.complete(&put, &mut stored);
        let power_state = existing
            .as_ref()
            .and_then(|e| e.power_state.clone())
            .or_else(|| traits.initial_power_state.map(str::to_string));
        for child in children.removed {
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
        for (child_id, mut child_body) in children.written {
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
        if traits.long_running {
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
            self.async_headers(&mut reply, req, &op);
        }
        Ok(reply)
    }

    /// The location of the nearest enclosing resource (or scope) that has one.
    fn location_of_scope(&self, pp: &ProviderPath) -> Option<String> {
        (1..=pp.segments.len() / 2)
            .map(|n| pp.id_of(n * 2))
            .chain(std::iter::once(pp.scope.path.clone()))
            .find_map(|id| self.resources.get(&key(&id)).and_then(Resource::location))
    }

    pub(super) fn patch_resource(
        &mut self,
        req: &ArmRequest<'_>,
        pp: &ProviderPath,
    ) -> Result<Reply, ApiError> {
        let id = pp.instance_id();
        let k = key(&id);
        let rtype = pp.resource_type();
        let traits = rules::for_type(&rtype).traits(&rtype.to_ascii_lowercase());
        self.resources.scope_exists(pp)?;
        self.authorize(req.caller, &format!("{rtype}/write"), &id)?;
        let patch = req.object_body()?;
        check_preconditions(
            req,
            &id,
            Some(
                self.resources
                    .get(&k)
                    .ok_or_else(|| ApiError::not_found_at(pp, pp.segments.len()))?,
            ),
        )?;
        let mut r = self
            .resources
            .get_mut(&k)
            .ok_or_else(|| ApiError::not_found_at(pp, pp.segments.len()))?;
        for (field, value) in patch.as_object().into_iter().flatten() {
            match field.as_str() {
                "id" | "name" | "type" | "location" | "etag" => {}
                "tags" => r.body["tags"] = value.clone(),
                "properties" => merge_patch(&mut r.body["properties"], value),
                _ => merge_patch(&mut r.body[field.as_str()], value),
            }
        }
        if traits.etag_per_write {
            r.body["etag"] = new_etag().into();
        }
        drop(r);
        Ok(Reply::json(200, self.render(&k, false).unwrap_or_default()))
    }

    pub(super) fn delete_resource(
        &mut self,
        req: &ArmRequest<'_>,
        pp: &ProviderPath,
    ) -> Result<Reply, ApiError> {
        let id = pp.instance_id();
        let k = key(&id);
        let rtype = pp.resource_type();
        let tlower = rtype.to_ascii_lowercase();
        let provider = rules::for_type(&rtype);
        let traits = provider.traits(&tlower);
        if let Some(rg) = &pp.scope.resource_group
            && !self.resources.group_exists(&pp.scope.subscription, rg)
        {
            return Err(ApiError::group_not_found(rg));
        }
        self.authorize(req.caller, &format!("{rtype}/delete"), &id)?;
        let Some(existing) = self.resources.get(&k).cloned() else {
            return Ok(Reply::empty(204));
        };
        check_preconditions(req, &id, Some(&existing))?;
        provider.check_delete(&self.context(req.caller), &tlower, &id)?;
        if !traits.long_running {
            let body = self.render(&k, false);
            self.remove_within(&k);
            return Ok(match body {
                Some(b) if traits.delete_answers_body => Reply::json(200, b),
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
        self.async_headers(&mut reply, req, &op);
        Ok(reply)
    }

    /// POST `…/{instance}/{action}`: the power actions the provider's rules know.
    pub(super) fn action(
        &mut self,
        req: &ArmRequest<'_>,
        pp: &ProviderPath,
    ) -> Result<Reply, ApiError> {
        let target_len = pp.segments.len() - 1;
        let id = pp.id_of(target_len);
        let target_type = pp.type_of(target_len);
        let action = pp.segments[target_len].clone();
        self.resources.scope_exists(pp)?;
        self.authorize(req.caller, &format!("{target_type}/{action}/action"), &id)?;
        let k = key(&id);
        let existing = self
            .resources
            .get(&k)
            .cloned()
            .ok_or_else(|| ApiError::not_found_at(pp, target_len))?;
        let Some(change) = rules::for_type(&target_type).action(
            &target_type.to_ascii_lowercase(),
            &action.to_ascii_lowercase(),
        ) else {
            return Err(ApiError::new(
                404,
                "InvalidResourceType",
                format!("The action '{action}' is not supported on resource type '{target_type}'."),
            ));
        };
        if let Some(mut r) = self.resources.get_mut(&k) {
            r.power_state = Some(change.transient.into());
        }
        let loc = existing.location().unwrap_or_else(|| "global".into());
        let op = self.start_operation(
            req,
            &pp.scope.subscription,
            &pp.namespace,
            &loc,
            Effect::Power {
                key: k,
                state: change.target.into(),
            },
        );
        let mut reply = Reply::empty(202);
        self.async_headers(&mut reply, req, &op);
        Ok(reply)
    }
}

fn precondition_failed(message: String) -> ApiError {
    ApiError::new(412, "PreconditionFailed", message)
}

/// ARM's conditional requests: a PUT with `If-None-Match: *` only creates; an
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc7396() {
        let mut t = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(&mut t, &json!({"a": null, "b": {"c": 5}, "e": [1]}));
        assert_eq!(t, json!({"b": {"c": 5, "d": 3}, "e": [1]}));
    }

    #[test]
    fn resource_names_are_validated() {
        assert!(validate_resource_name("ok-name").is_ok());
        assert!(validate_resource_name("bad%name").is_err());
    }
}
