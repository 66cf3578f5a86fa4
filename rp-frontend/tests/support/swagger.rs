//! A validator for the Swagger 2.0 schema subset the official ARO specs use: `$ref` (local and to
//! the ARM common types), `allOf`, `type`, `format` (date-time, uuid, int32), `enum`,
//! `properties`/`required`, `additionalProperties`, `items`, `x-nullable`, `minLength`,
//! `maxLength`, `pattern`, `minimum`, `maximum`.
//!
//! Objects are closed: a property the schema does not define is an error unless the schema has
//! `additionalProperties`, so a version serving another version's fields is caught.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The swaggers of testdata/specs, loaded on demand.
pub struct Specs {
    root: PathBuf,
    docs: HashMap<PathBuf, Value>,
}

/// A response schema: the document it lives in and the schema itself.
#[derive(Clone)]
pub struct SchemaRef {
    doc: PathBuf,
    schema: Value,
}

impl Specs {
    /// The specs under `rp-frontend/testdata/specs`.
    pub fn load() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/specs");
        Specs {
            root,
            docs: HashMap::new(),
        }
    }

    fn doc(&mut self, path: &Path) -> &Value {
        self.docs.entry(path.to_path_buf()).or_insert_with(|| {
            let text = std::fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
    }

    /// Path of the swagger of `version`.
    pub fn swagger_path(&self, version: &str) -> PathBuf {
        self.root
            .join("redhatopenshift")
            .join(version)
            .join("redhatopenshift.json")
    }

    /// The schema of the `status` response of `method` on `path` (a concrete request path), or
    /// `None` when the swagger has no such operation. A status the operation does not list
    /// falls back to `default`; `Some(None)` means the response has no body.
    pub fn response_schema(
        &mut self,
        version: &str,
        method: &str,
        path: &str,
        status: u16,
    ) -> Option<Option<SchemaRef>> {
        let doc_path = self.swagger_path(version);
        let doc = self.doc(&doc_path).clone();
        let request: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (_, operations) = doc["paths"].as_object()?.iter().find(|(template, _)| {
            let t: Vec<&str> = template.trim_matches('/').split('/').collect();
            t.len() == request.len()
                && t.iter().zip(&request).all(|(t, r)| {
                    (t.starts_with('{') && t.ends_with('}')) || t.eq_ignore_ascii_case(r)
                })
        })?;
        let operation = operations.get(method.to_lowercase())?;
        let responses = &operation["responses"];
        let response = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"))?;
        Some(response.get("schema").map(|schema| SchemaRef {
            doc: doc_path.clone(),
            schema: schema.clone(),
        }))
    }

    /// Every violation of `schema` by `value` (empty when it validates).
    pub fn validate(&mut self, schema: &SchemaRef, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(&schema.doc, &schema.schema, value, "$", &mut errors);
        errors
    }

    fn resolve(&mut self, doc: &Path, reference: &str) -> (PathBuf, Value) {
        let (file, pointer) = reference.split_once('#').unwrap_or((reference, ""));
        let target = if file.is_empty() {
            doc.to_path_buf()
        } else if let Some(i) = file.find("common-types/") {
            // Upstream-relative paths: any run of ../ before common-types/ maps to the local copy.
            self.root.join(&file[i..])
        } else {
            doc.parent().expect("a parent").join(file)
        };
        let value = self
            .doc(&target)
            .pointer(pointer)
            .unwrap_or_else(|| panic!("unresolved $ref {reference} from {}", doc.display()))
            .clone();
        (target, value)
    }

    fn check(
        &mut self,
        doc: &Path,
        schema: &Value,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let (target, resolved) = self.resolve(doc, reference);
            return self.check(&target, &resolved, value, at, errors);
        }
        if value.is_null() {
            if schema.get("x-nullable").and_then(Value::as_bool) != Some(true) {
                errors.push(format!("{at}: null is not allowed"));
            }
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for part in all {
                // allOf parts are checked for their own constraints; the closed-object check
                // needs the union of every part's properties, done below.
                self.check_open(doc, part, value, at, errors);
            }
        }
        let ty = schema.get("type").and_then(Value::as_str).or_else(|| {
            (schema.get("properties").is_some() || schema.get("allOf").is_some())
                .then_some("object")
        });
        match ty {
            Some("object") => self.check_object(doc, schema, value, at, errors),
            Some("array") => match value.as_array() {
                Some(items) => {
                    if let Some(item_schema) = schema.get("items") {
                        for (i, item) in items.iter().enumerate() {
                            self.check(doc, item_schema, item, &format!("{at}[{i}]"), errors);
                        }
                    }
                }
                None => errors.push(format!("{at}: expected an array, got {value}")),
            },
            Some("string") => match value.as_str() {
                Some(s) => check_string(schema, s, at, errors),
                None => errors.push(format!("{at}: expected a string, got {value}")),
            },
            Some("integer") => {
                if value.as_i64().is_none() {
                    errors.push(format!("{at}: expected an integer, got {value}"));
                } else {
                    check_number(schema, value, at, errors);
                }
            }
            Some("number") => {
                if !value.is_number() {
                    errors.push(format!("{at}: expected a number, got {value}"));
                } else {
                    check_number(schema, value, at, errors);
                }
            }
            Some("boolean") if !value.is_boolean() => {
                errors.push(format!("{at}: expected a boolean, got {value}"));
            }
            _ => {}
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }

    /// Check a schema as one part of an allOf: everything but closedness.
    fn check_open(
        &mut self,
        doc: &Path,
        schema: &Value,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let mut open = schema.clone();
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let (target, resolved) = self.resolve(doc, reference);
            return self.check_open(&target, &resolved, value, at, errors);
        }
        if let Some(o) = open.as_object_mut() {
            o.insert("additionalProperties".into(), Value::Bool(true));
        }
        self.check(doc, &open, value, at, errors);
    }

    /// Every property an object schema defines, through allOf and $ref.
    fn known_properties(&mut self, doc: &Path, schema: &Value, out: &mut Vec<String>) {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let (target, resolved) = self.resolve(doc, reference);
            return self.known_properties(&target, &resolved, out);
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            out.extend(props.keys().cloned());
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for part in all {
                self.known_properties(doc, part, out);
            }
        }
    }

    fn additional_allowed(&mut self, doc: &Path, schema: &Value) -> bool {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let (target, resolved) = self.resolve(doc, reference);
            return self.additional_allowed(&target, &resolved);
        }
        if schema
            .get("additionalProperties")
            .is_some_and(|a| a != &Value::Bool(false))
        {
            return true;
        }
        let parts = schema
            .get("allOf")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        parts.iter().any(|p| self.additional_allowed(doc, p))
    }

    fn check_object(
        &mut self,
        doc: &Path,
        schema: &Value,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let Some(object) = value.as_object() else {
            errors.push(format!("{at}: expected an object, got {value}"));
            return;
        };
        let props = schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (name, sub) in &props {
            if let Some(v) = object.get(name) {
                self.check(doc, sub, v, &format!("{at}.{name}"), errors);
            }
        }
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = name.as_str()
                && !object.contains_key(name)
            {
                errors.push(format!("{at}: required property {name} is missing"));
            }
        }
        if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
            for (name, v) in object {
                if !props.contains_key(name) {
                    self.check(doc, extra, v, &format!("{at}.{name}"), errors);
                }
            }
        }
        if !self.additional_allowed(doc, schema) {
            let mut known = Vec::new();
            self.known_properties(doc, schema, &mut known);
            for name in object.keys() {
                if !known.contains(name) {
                    errors.push(format!("{at}: property {name} is not in the schema"));
                }
            }
        }
    }
}

fn check_string(schema: &Value, s: &str, at: &str, errors: &mut Vec<String>) {
    let len = s.chars().count() as u64;
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && len < min
    {
        errors.push(format!("{at}: {s:?} is shorter than {min}"));
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && len > max
    {
        errors.push(format!("{at}: {s:?} is longer than {max}"));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        // ECMA-only syntax (lookaround) is beyond the regex crate: such patterns are skipped.
        && let Ok(re) = regex::Regex::new(pattern)
        && !re.is_match(s)
    {
        errors.push(format!("{at}: {s:?} does not match {pattern}"));
    }
    match schema.get("format").and_then(Value::as_str) {
        Some("date-time") if chrono::DateTime::parse_from_rfc3339(s).is_err() => {
            errors.push(format!("{at}: {s:?} is not an RFC 3339 date-time"));
        }
        Some("uuid") if uuid::Uuid::parse_str(s).is_err() => {
            errors.push(format!("{at}: {s:?} is not a UUID"));
        }
        _ => {}
    }
}

fn check_number(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let n = value.as_f64().unwrap_or_default();
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && n < min
    {
        errors.push(format!("{at}: {n} is below {min}"));
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && n > max
    {
        errors.push(format!("{at}: {n} is above {max}"));
    }
    if schema.get("format").and_then(Value::as_str) == Some("int32")
        && value.as_i64().is_some_and(|i| i32::try_from(i).is_err())
    {
        errors.push(format!("{at}: {n} is not an int32"));
    }
}

#[test]
fn validator_catches_violations() {
    let mut specs = Specs::load();
    let schema = specs
        .response_schema(
            "2020-04-30",
            "GET",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RedHatOpenShift/openShiftClusters/c",
            200,
        )
        .expect("operation")
        .expect("schema");
    let good = serde_json::json!({"id": "x", "name": "c", "type": "t", "location": "eastus",
        "properties": {"provisioningState": "Succeeded", "workerProfiles": [{"name": "worker", "count": 3}]}});
    assert_eq!(specs.validate(&schema, &good), Vec::<String>::new());
    let bad = serde_json::json!({"location": "eastus", "unknown": 1,
        "properties": {"provisioningState": "Sleeping", "workerProfiles": [{"count": "3"}],
            "systemData": {}}});
    let errors = specs.validate(&schema, &bad);
    assert!(errors.iter().any(|e| e.contains("unknown")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("Sleeping")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("expected an integer")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("systemData")),
        "{errors:?}"
    );
}
