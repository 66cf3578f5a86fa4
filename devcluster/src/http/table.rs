//! Server-side printing (`as=Table;v=v1;g=meta.k8s.io`): real columns for the built-in kinds and
//! the additionalPrinterColumns of CRDs.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::registry::ResourceType;

/// kube's `duration.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    if s < 120 {
        return format!("{s}s");
    }
    let m = s / 60;
    if m < 10 {
        let rem = s % 60;
        return if rem == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{rem}s")
        };
    }
    if m < 180 {
        return format!("{m}m");
    }
    let h = s / 3600;
    if h < 8 {
        let rem = (s % 3600) / 60;
        return if rem == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{rem}m")
        };
    }
    if h < 48 {
        return format!("{h}h");
    }
    let d = h / 24;
    if h < 24 * 8 {
        let rem = h % 24;
        return if rem == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{rem}h")
        };
    }
    if h < 24 * 365 * 2 {
        return format!("{d}d");
    }
    let y = d / 365;
    if h < 24 * 365 * 8 {
        let rem = d % 365;
        return if rem == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{rem}d")
        };
    }
    format!("{y}y")
}

fn age(ts: &Value) -> String {
    match ts
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        Some(t) => human_duration((Utc::now() - t.with_timezone(&Utc)).num_seconds()),
        None => "<unknown>".into(),
    }
}

/// `-o wide` columns of the workload kinds, as kube-apiserver prints them.
fn containers_col() -> Value {
    col(
        "Containers",
        "string",
        "Names of each container in the template.",
        1,
    )
}

fn images_col() -> Value {
    col(
        "Images",
        "string",
        "Images referenced by each container in the template.",
        1,
    )
}

fn selector_col() -> Value {
    col("Selector", "string", "Label selector for pods.", 1)
}

/// `field` of every container of a workload's pod template, comma-separated.
fn containers_of(spec: &Value, field: &str) -> Value {
    let values: Vec<&str> = spec["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c[field].as_str())
        .collect();
    json!(values.join(","))
}

/// A workload's selector in label-selector syntax (`matchLabels` only, as kubectl shows them).
fn selector_of(spec: &Value) -> Value {
    let labels: Vec<String> = spec["selector"]["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    json!(labels.join(","))
}

fn col(name: &str, ty: &str, description: &str, priority: i32) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": ty, "format": format, "description": description, "priority": priority})
}

fn s(v: &Value) -> Value {
    match v {
        Value::Null => json!("<none>"),
        Value::String(x) if x.is_empty() => json!("<none>"),
        other => other.clone(),
    }
}

fn count(v: &Value) -> i64 {
    v.as_object().map(|m| m.len() as i64).unwrap_or(0)
}

/// Evaluate a simple JSONPath of a printer column (`.status.phase`, `.spec.items[0].name`).
pub fn json_path<'a>(obj: &'a Value, path: &str) -> &'a Value {
    let path = path
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim_start_matches('$');
    let mut cur = obj;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (field, index) = match part.split_once('[') {
            Some((f, rest)) => (f, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        if !field.is_empty() {
            cur = &cur[field];
        }
        if let Some(i) = index {
            cur = &cur[i];
        }
    }
    cur
}

fn columns_and_cells(rt: &ResourceType, obj: &Value) -> (Vec<Value>, Vec<Value>) {
    let name = obj["metadata"]["name"].clone();
    let created = &obj["metadata"]["creationTimestamp"];
    let name_col = col(
        "Name",
        "string",
        "Name must be unique within a namespace.",
        0,
    );
    let age_col = col(
        "Age",
        "string",
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
        0,
    );
    if let Some(crd) = &rt.crd {
        let mut cols = vec![name_col];
        let mut cells = vec![name];
        let mut has_age = false;
        for c in &crd.printer_columns {
            cols.push(col(
                &c.name,
                &c.type_,
                c.description.as_deref().unwrap_or_default(),
                c.priority.unwrap_or(0),
            ));
            let v = json_path(obj, &c.json_path);
            if c.json_path == ".metadata.creationTimestamp" {
                has_age = true;
            }
            cells.push(match (c.type_.as_str(), v) {
                (_, Value::Null) => Value::Null,
                ("date", v) => json!(age(v)),
                (_, Value::Array(a)) => json!(
                    a.iter()
                        .map(|x| x
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| x.to_string()))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                (_, Value::Object(_)) => json!(v.to_string()),
                (_, v) => v.clone(),
            });
        }
        if crd.printer_columns.is_empty() || !has_age {
            cols.push(age_col);
            cells.push(json!(age(created)));
        }
        return (cols, cells);
    }
    let spec = &obj["spec"];
    let status = &obj["status"];
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "namespaces") => (
            vec![
                name_col,
                col("Status", "string", "The status of the namespace", 0),
                age_col,
            ],
            vec![name, s(&status["phase"]), json!(age(created))],
        ),
        ("", "pods") => {
            let containers = spec["containers"].as_array().map(Vec::len).unwrap_or(0);
            let ready = status["containerStatuses"]
                .as_array()
                .map(|a| a.iter().filter(|c| c["ready"] == true).count())
                .unwrap_or(0);
            let restarts: i64 = status["containerStatuses"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                        .sum()
                })
                .unwrap_or(0);
            (
                vec![
                    name_col,
                    col(
                        "Ready",
                        "string",
                        "The aggregate readiness state of this pod for accepting traffic.",
                        0,
                    ),
                    col(
                        "Status",
                        "string",
                        "The aggregate status of the containers in this pod.",
                        0,
                    ),
                    col(
                        "Restarts",
                        "string",
                        "The number of times the containers in this pod have been restarted.",
                        0,
                    ),
                    age_col,
                    col("IP", "string", "IP address allocated to the pod.", 1),
                    col(
                        "Node",
                        "string",
                        "Name of the node the pod is assigned to.",
                        1,
                    ),
                ],
                vec![
                    name,
                    json!(format!("{ready}/{containers}")),
                    s(&status["phase"]),
                    json!(restarts.to_string()),
                    json!(age(created)),
                    s(&status["podIP"]),
                    s(&spec["nodeName"]),
                ],
            )
        }
        ("apps", "deployments") => (
            vec![
                name_col,
                col("Ready", "string", "Number of the pod with ready state", 0),
                col(
                    "Up-to-date",
                    "integer",
                    "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
                    0,
                ),
                col(
                    "Available",
                    "integer",
                    "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
                    0,
                ),
                age_col,
                containers_col(),
                images_col(),
                selector_col(),
            ],
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    status["readyReplicas"].as_i64().unwrap_or(0),
                    spec["replicas"].as_i64().unwrap_or(0)
                )),
                json!(status["updatedReplicas"].as_i64().unwrap_or(0)),
                json!(status["availableReplicas"].as_i64().unwrap_or(0)),
                json!(age(created)),
                containers_of(spec, "name"),
                containers_of(spec, "image"),
                selector_of(spec),
            ],
        ),
        ("apps", "daemonsets") => (
            vec![
                name_col,
                col(
                    "Desired",
                    "integer",
                    "The number of nodes that should be running the daemon pod.",
                    0,
                ),
                col(
                    "Current",
                    "integer",
                    "The number of nodes running at least one daemon pod.",
                    0,
                ),
                col(
                    "Ready",
                    "integer",
                    "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
                    0,
                ),
                age_col,
            ],
            vec![
                name,
                json!(status["desiredNumberScheduled"].as_i64().unwrap_or(0)),
                json!(status["currentNumberScheduled"].as_i64().unwrap_or(0)),
                json!(status["numberReady"].as_i64().unwrap_or(0)),
                json!(age(created)),
            ],
        ),
        ("apps", "statefulsets") | ("apps", "replicasets") => (
            vec![
                name_col,
                col("Ready", "string", "Number of the pod with ready state", 0),
                age_col,
            ],
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    status["readyReplicas"].as_i64().unwrap_or(0),
                    spec["replicas"].as_i64().unwrap_or(0)
                )),
                json!(age(created)),
            ],
        ),
        ("", "services") => {
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            (
                vec![
                    name_col,
                    col("Type", "string", "The type of service.", 0),
                    col("Cluster-IP", "string", "Internal IP of the service.", 0),
                    col("External-IP", "string", "External IP of the service.", 0),
                    col("Port(s)", "string", "Ports of the service.", 0),
                    age_col,
                ],
                vec![
                    name,
                    s(&spec["type"]),
                    s(&spec["clusterIP"]),
                    s(&Value::Null),
                    json!(if ports.is_empty() {
                        "<none>".to_string()
                    } else {
                        ports.join(",")
                    }),
                    json!(age(created)),
                ],
            )
        }
        ("", "secrets") => (
            vec![
                name_col,
                col("Type", "string", "The type of the secret", 0),
                col("Data", "string", "The number of entries in the secret", 0),
                age_col,
            ],
            vec![
                name,
                s(&obj["type"]),
                json!(count(&obj["data"])),
                json!(age(created)),
            ],
        ),
        ("", "configmaps") => (
            vec![
                name_col,
                col(
                    "Data",
                    "string",
                    "The number of entries in the configmap",
                    0,
                ),
                age_col,
            ],
            vec![
                name,
                json!(count(&obj["data"]) + count(&obj["binaryData"])),
                json!(age(created)),
            ],
        ),
        ("", "nodes") => {
            let ready = status["conditions"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                .map(|c| {
                    if c["status"] == "True" {
                        "Ready"
                    } else {
                        "NotReady"
                    }
                })
                .unwrap_or("Unknown");
            let roles: Vec<String> = obj["metadata"]["labels"]
                .as_object()
                .map(|l| {
                    l.keys()
                        .filter_map(|k| {
                            k.strip_prefix("node-role.kubernetes.io/")
                                .map(str::to_string)
                        })
                        .collect()
                })
                .unwrap_or_default();
            (
                vec![
                    name_col,
                    col("Status", "string", "The status of the node", 0),
                    col("Roles", "string", "The roles of the node", 0),
                    age_col,
                    col(
                        "Version",
                        "string",
                        "Kubelet Version reported by the node.",
                        0,
                    ),
                ],
                vec![
                    name,
                    json!(ready),
                    json!(if roles.is_empty() {
                        "<none>".to_string()
                    } else {
                        roles.join(",")
                    }),
                    json!(age(created)),
                    s(&status["nodeInfo"]["kubeletVersion"]),
                ],
            )
        }
        ("", "events") => (
            vec![
                col("Last Seen", "string", "Time of the last occurrence", 0),
                col("Type", "string", "Type of this event", 0),
                col("Reason", "string", "Reason of this event", 0),
                col("Object", "string", "The object this event is about", 0),
                col("Message", "string", "A human-readable description", 0),
            ],
            vec![
                json!(age(if obj["lastTimestamp"].is_string() {
                    &obj["lastTimestamp"]
                } else {
                    &obj["eventTime"]
                })),
                s(&obj["type"]),
                s(&obj["reason"]),
                json!(format!(
                    "{}/{}",
                    obj["involvedObject"]["kind"]
                        .as_str()
                        .unwrap_or_default()
                        .to_lowercase(),
                    obj["involvedObject"]["name"].as_str().unwrap_or_default()
                )),
                s(&obj["message"]),
            ],
        ),
        ("coordination.k8s.io", "leases") => (
            vec![
                name_col,
                col("Holder", "string", "The holder of the lease", 0),
                age_col,
            ],
            vec![name, s(&spec["holderIdentity"]), json!(age(created))],
        ),
        ("apiextensions.k8s.io", "customresourcedefinitions") => (
            vec![
                name_col,
                col("Created At", "date", "The time the CRD was created", 0),
            ],
            vec![name, created.clone()],
        ),
        _ => (vec![name_col, age_col], vec![name, json!(age(created))]),
    }
}

/// A `meta.k8s.io/v1` Table of `objects`; `include` is `includeObject` (None, Metadata, Object).
pub fn table(rt: &ResourceType, objects: &[Value], include: &str) -> Value {
    let mut columns = None;
    let mut rows = Vec::with_capacity(objects.len());
    for obj in objects {
        let (cols, cells) = columns_and_cells(rt, obj);
        columns.get_or_insert(cols);
        let object = match include {
            "None" => Value::Null,
            "Object" => obj.clone(),
            _ => {
                json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
            }
        };
        let mut row = json!({"cells": cells});
        if !object.is_null() {
            row["object"] = object;
        }
        rows.push(row);
    }
    let columns = columns.unwrap_or_else(|| columns_and_cells(rt, &json!({"metadata": {}})).0);
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": columns, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3 * 3600), "3h");
        assert_eq!(human_duration(50 * 3600), "2d2h");
    }

    #[test]
    fn json_path_walks_fields_and_indexes() {
        let v = json!({"status": {"conditions": [{"type": "Ready"}]}});
        assert_eq!(json_path(&v, ".status.conditions[0].type"), "Ready");
        assert!(json_path(&v, ".status.missing").is_null());
    }
}
