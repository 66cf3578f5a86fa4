//! The `scale` subresource: the `autoscaling/v1` Scale view of an object and its updates.

use serde_json::{Value, json};

use super::{Outcome, Rest, WriteOptions, storage_error, str_field};
use crate::error::{ApiError, Cause};
use crate::registry::ResourceType;
use crate::storage::WriteError;

impl Rest {
    /// The `autoscaling/v1` Scale of an object.
    pub fn scale_of(rt: &ResourceType, obj: &Value) -> Result<Value, ApiError> {
        let spec = rt.scale.as_ref().ok_or_else(ApiError::not_found_path)?;
        let get = |path: &str| {
            let mut cur = obj;
            for p in path.trim_start_matches('.').split('.') {
                cur = &cur[p];
            }
            cur.clone()
        };
        let meta = &obj["metadata"];
        let mut status = json!({"replicas": get(&spec.status_replicas_path).as_i64().unwrap_or(0)});
        if let Some(sel) = &spec.label_selector_path {
            let s = get(sel);
            if let Some(s) = s.as_str() {
                status["selector"] = json!(s);
            } else if let Some(labels) = obj["spec"]["selector"]["matchLabels"].as_object() {
                let sel: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect();
                status["selector"] = json!(sel.join(","));
            }
        }
        Ok(json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
            },
            "spec": {"replicas": get(&spec.spec_replicas_path).as_i64().unwrap_or(0)},
            "status": status,
        }))
    }

    pub(super) async fn update_scale(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        scale: Value,
        opts: &WriteOptions,
    ) -> Result<Outcome, ApiError> {
        let spec = rt.scale.clone().ok_or_else(ApiError::not_found_path)?;
        let replicas = scale["spec"]["replicas"].as_i64().ok_or_else(|| {
            ApiError::invalid(
                "autoscaling",
                "Scale",
                name,
                vec![Cause::new(
                    "FieldValueRequired",
                    "spec.replicas",
                    "Required value",
                )],
            )
        })?;
        if replicas < 0 {
            return Err(ApiError::invalid(
                "autoscaling",
                "Scale",
                name,
                vec![Cause::new(
                    "FieldValueInvalid",
                    "spec.replicas",
                    format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                )],
            ));
        }
        let client_rv =
            str_field(&scale, &["metadata", "resourceVersion"]).and_then(|s| s.parse::<u64>().ok());
        for _ in 0..16 {
            let current = self.read(rt, namespace, name)?;
            if client_rv.is_some_and(|rv| rv != current.rev) {
                return Err(storage_error(
                    WriteError::Conflict {
                        current: current.rev,
                    },
                    rt,
                    name,
                ));
            }
            let old = current.value();
            let mut new = old.clone();
            let parts: Vec<&str> = spec
                .spec_replicas_path
                .trim_start_matches('.')
                .split('.')
                .collect();
            let mut cur = &mut new;
            for p in &parts[..parts.len() - 1] {
                if !cur.get(*p).is_some_and(Value::is_object) {
                    cur[*p] = json!({});
                }
                cur = &mut cur[*p];
            }
            cur[parts[parts.len() - 1]] = json!(replicas);
            let new = self.merge_update(rt, &old, new, Some("scale"), opts)?;
            match self
                .commit_update(rt, namespace, name, &current, new, opts)
                .await
            {
                Err(ApiError { code: 409, .. }) if client_rv.is_none() => continue,
                Err(e) => return Err(e),
                Ok((obj, code)) => {
                    return Ok(Outcome::ok(Self::scale_of(rt, &obj)?, code, Vec::new()));
                }
            }
        }
        Err(ApiError::conflict(
            &rt.group,
            &rt.plural,
            name,
            "too many concurrent writers; try again",
        ))
    }
}
